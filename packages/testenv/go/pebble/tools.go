//go:build tools

// Wrapper module that pins Pebble, the ACME test server, built from the Go module proxy by
// ../../scripts/build-controlplane.sh: newer than Debian's 2.4, it serves ACME Renewal
// Information (RFC 9773).
package tools

import _ "github.com/letsencrypt/pebble/v2/cmd/pebble"
