// Wrapper module pinning Gateway API, whose CRDs (standard and experimental channels)
// ../../scripts/build-controlplane.sh takes from the Go module proxy for tests of the
// operators' Gateway API sources and shims (no Gateway controller runs in tests).
module chousei.dev/testenv/gateway-api

go 1.25.0

require sigs.k8s.io/gateway-api v1.6.3
