//go:build tools

// Wrapper module that pins the helm CLI, built from the Go module proxy by
// ../../scripts/build-controlplane.sh so chart lint and template run without a download site.
package tools

import _ "helm.sh/helm/v3/cmd/helm"
