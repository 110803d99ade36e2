// Wrapper module pinning the Prometheus Operator, whose CRDs (ServiceMonitor, PrometheusRule)
// ../../scripts/build-controlplane.sh takes from the Go module proxy for the charts' dry runs.
module chousei.dev/testenv/prometheus-operator

go 1.25.0

require github.com/prometheus-operator/prometheus-operator v0.85.0
