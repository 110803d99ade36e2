//go:build tools

// Pins external-dns's own command (the anchor run as a webhook client in tests) built by
// ../../scripts/build-external-dns.sh.
package tools

import _ "sigs.k8s.io/external-dns"
