#!/usr/bin/env bash
# Installs everything the tests need on a fresh Debian machine: Debian packages (bind9,
# bind9-dnsutils, PowerDNS with its sqlite3 backend, prometheus; containerd, runc, the CNI
# plugins, iptables and catatonit for testenv's node; buildah for the operator images), moto
# in a virtualenv, Node 24 when the found Node is older, pnpm and the workspace dependencies,
# and the Go-built binaries (kube-apiserver, etcd, kubectl, kubelet, kube-proxy,
# kube-scheduler, kube-controller-manager, helm, Pebble, external-dns and its webhook server).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=toolchain.sh
. "$root/scripts/toolchain.sh"

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

packages=(bind9 bind9-dnsutils pdns-server pdns-backend-sqlite3 python3-venv
  containerd runc containernetworking-plugins iptables catatonit buildah)
# promtool checks the charts' alert rules; the e2e suite starts a Prometheus server of its own.
packages+=(prometheus)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "installing Debian packages: ${missing[*]}"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# named, pdns and prometheus must not run as system services: tests start their own on free ports.
for service in named pdns prometheus; do
  if command -v systemctl >/dev/null && systemctl is-active --quiet "$service" 2>/dev/null; then
    as_root systemctl disable --now "$service" >/dev/null 2>&1 || true
  fi
done

moto="$CHOUSEI_CACHE/moto-$MOTO_VERSION"
if [ ! -x "$moto/bin/moto_server" ]; then
  echo "installing moto $MOTO_VERSION into $moto"
  python3 -m venv "$moto"
  "$moto/bin/pip" install --quiet --disable-pip-version-check "moto[server]==$MOTO_VERSION"
fi

ensure_node
ensure_pnpm
echo "node $(node --version), pnpm $(pnpm --version)"
npm_dir="$CHOUSEI_CACHE/npm-$NPM_VERSION"
if [ ! -f "$npm_dir/node_modules/npm/package.json" ]; then
  echo "installing npm $NPM_VERSION into $npm_dir (for the image builds' local base)"
  mkdir -p "$npm_dir"
  npm install --silent --no-audit --no-fund --prefix "$npm_dir" "npm@$NPM_VERSION"
fi
(cd "$root" && pnpm install --frozen-lockfile)

bash "$root/packages/testenv/scripts/build-controlplane.sh"
echo "setup done: run ./pnpmw test"
