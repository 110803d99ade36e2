#!/usr/bin/env bash
# Builds kube-apiserver, kubectl, the node's binaries (kubelet, kube-proxy, kube-scheduler,
# kube-controller-manager), etcd, helm, Pebble, external-dns (its command and a webhook
# server in front of its own providers) and cert-manager's controller from the Go module proxy
# through the wrapper modules in ../go, into a cache keyed by version outside the work tree,
# and takes the Prometheus Operator's, cert-manager's and Gateway API's CRDs from their modules
# there. Idempotent: what is in the cache is not fetched again.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
kube_version="$(awk '$1 == "require" && $2 == "k8s.io/kubernetes" { print $3 }' "$here/go/kube/go.mod")"
etcd_version="$(awk '$1 == "require" && $2 == "go.etcd.io/etcd/server/v3" { print $3 }' "$here/go/etcd/go.mod")"
helm_version="$(awk '$1 == "require" && $2 == "helm.sh/helm/v3" { print $3 }' "$here/go/helm/go.mod")"
pebble_version="$(awk '$1 == "require" && $2 == "github.com/letsencrypt/pebble/v2" { print $3 }' "$here/go/pebble/go.mod")"
external_dns_version="$(awk '$1 == "require" && $2 == "sigs.k8s.io/external-dns" { print $3 }' "$here/go/external-dns/go.mod")"
cm_module=github.com/cert-manager/cert-manager
cert_manager_version="$(awk -v m="$cm_module" '$1 == "require" && $2 == m { print $3 }' "$here/go/cert-manager/go.mod")"
po_module=github.com/prometheus-operator/prometheus-operator
po_version="$(awk -v m="$po_module" '$1 == "require" && $2 == m { print $3 }' "$here/go/prometheus-operator/go.mod")"
gw_module=sigs.k8s.io/gateway-api
gw_version="$(awk -v m="$gw_module" '$1 == "require" && $2 == m { print $3 }' "$here/go/gateway-api/go.mod")"
root="${CHOUSEI_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/chousei}"
cache="$root/controlplane/kube-${kube_version}-etcd-${etcd_version}"
mkdir -p "$cache"

if ! command -v go >/dev/null; then
  echo "error: Go is required to build the control plane (apt-get install golang, or https://go.dev/dl)" >&2
  exit 1
fi

minor="${kube_version#v1.}"; minor="${minor%%.*}"
ldflags="-s -w -X k8s.io/component-base/version.gitVersion=${kube_version} -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=${minor} -X k8s.io/component-base/version.gitTreeState=clean"

build() { # dir package output ldflags [cache dir]
  local out="${5:-$cache}/$3"
  if [ -x "$out" ]; then echo "cached: $out"; return; fi
  echo "building $3 (a few minutes the first time)..."
  (cd "$here/go/$1" && CGO_ENABLED=0 go build -p 2 -trimpath -ldflags "$4" -o "$out.tmp" "$2")
  mv "$out.tmp" "$out"
}
helm_cache="$root/tools/helm-${helm_version}"
mkdir -p "$helm_cache"
build etcd . etcd "-s -w"
build kube k8s.io/kubernetes/cmd/kube-apiserver kube-apiserver "$ldflags"
build kube k8s.io/kubernetes/cmd/kubectl kubectl "$ldflags"
# The node and the controllers a one-node cluster needs (testenv's startNode).
for cmd in kube-scheduler kube-controller-manager kubelet kube-proxy; do
  build kube "k8s.io/kubernetes/cmd/$cmd" "$cmd" "$ldflags"
done
build helm helm.sh/helm/v3/cmd/helm helm "-s -w -X helm.sh/helm/v3/internal/version.version=${helm_version}" "$helm_cache"
pebble_cache="$root/tools/pebble-${pebble_version}"
mkdir -p "$pebble_cache"
build pebble github.com/letsencrypt/pebble/v2/cmd/pebble pebble "-s -w" "$pebble_cache"
# Keyed by our wrapper's sources too: a changed webhook/main.go must not find an old build.
external_dns_hash="$(cat "$here/go/external-dns/go.mod" "$here/go/external-dns/go.sum" "$here/go/external-dns/webhook/main.go" | sha256sum | cut -c1-8)"
external_dns_cache="$root/tools/external-dns-${external_dns_version}-${external_dns_hash}"
mkdir -p "$external_dns_cache"
build external-dns ./webhook external-dns-webhook "-s -w" "$external_dns_cache"
build external-dns sigs.k8s.io/external-dns external-dns "-s -w -X sigs.k8s.io/external-dns/pkg/apis/externaldns.Version=${external_dns_version}" "$external_dns_cache"
# Its DNSEndpoint CRD (--source=crd), from the module it is built from.
if [ ! -f "$external_dns_cache/dnsendpoints.yaml" ]; then
  ed_dir="$(cd "$here/go/external-dns" && go mod download -json sigs.k8s.io/external-dns | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')"
  install -m 0644 "$ed_dir/config/crd/standard/dnsendpoints.externaldns.k8s.io.yaml" "$external_dns_cache/dnsendpoints.yaml.tmp"
  mv "$external_dns_cache/dnsendpoints.yaml.tmp" "$external_dns_cache/dnsendpoints.yaml"
fi

# cert-manager's controller (the peer of the migration tests), keyed by our main.go too, with
# its CRDs from the module it is built from.
cert_manager_hash="$(cat "$here/go/cert-manager/go.mod" "$here/go/cert-manager/go.sum" "$here/go/cert-manager/main.go" | sha256sum | cut -c1-8)"
cert_manager_cache="$root/tools/cert-manager-${cert_manager_version}-${cert_manager_hash}"
mkdir -p "$cert_manager_cache"
build cert-manager . cert-manager-controller "-s -w" "$cert_manager_cache"
if [ ! -f "$cert_manager_cache/crds.yaml" ]; then
  cm_dir="$(cd "$here/go/cert-manager" && go mod download -json "$cm_module" | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')"
  cat "$cm_dir"/deploy/crds/*.yaml > "$cert_manager_cache/crds.yaml.tmp"
  mv "$cert_manager_cache/crds.yaml.tmp" "$cert_manager_cache/crds.yaml"
  echo "took cert-manager ${cert_manager_version}'s CRDs into $cert_manager_cache"
fi

# The monitoring.coreos.com CRDs the charts' ServiceMonitor and PrometheusRule dry-run against:
# the module's own files, checked against go.sum by `go mod download`.
crds_cache="$root/tools/prometheus-operator-crds-${po_version}"
crds=(servicemonitors prometheusrules)
if [ ! -f "$crds_cache/${crds[-1]}.yaml" ]; then
  module_dir="$(cd "$here/go/prometheus-operator" && go mod download -json "$po_module" | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')"
  mkdir -p "$crds_cache"
  for crd in "${crds[@]}"; do
    install -m 0644 "$module_dir/example/prometheus-operator-crd/monitoring.coreos.com_${crd}.yaml" "$crds_cache/${crd}.yaml.tmp"
    mv "$crds_cache/${crd}.yaml.tmp" "$crds_cache/${crd}.yaml"
  done
  echo "fetched the Prometheus Operator ${po_version} CRDs into $crds_cache"
else
  echo "cached: $crds_cache"
fi

# Gateway API's CRDs, both channels, for the operators' Gateway sources and shims: the module's
# own files (config/crd/<channel>), checked against go.sum. Its ValidatingAdmissionPolicy (which
# refuses switching channels) is left out: tests install either channel on one cluster.
gw_cache="$root/tools/gateway-api-crds-${gw_version}"
if [ ! -f "$gw_cache/complete" ]; then
  module_dir="$(cd "$here/go/gateway-api" && go mod download -json "$gw_module" | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')"
  for channel in standard experimental; do
    mkdir -p "$gw_cache/$channel"
    for f in "$module_dir/config/crd/$channel"/*.yaml; do
      case "$(basename "$f")" in kustomization.yaml | *_vap_*) continue ;; esac
      install -m 0644 "$f" "$gw_cache/$channel/$(basename "$f")"
    done
  done
  touch "$gw_cache/complete"
  echo "fetched the Gateway API ${gw_version} CRDs into $gw_cache"
else
  echo "cached: $gw_cache"
fi
echo "$cache"
