#!/usr/bin/env bash
# Assembles an operator's production bundle: its dist, a package.json and a node_modules
# holding only its production dependencies, with the workspace packages it depends on
# (@chousei/runtime, @chousei/dns) copied in as built dist. No devDependency, no link back
# into the workspace: OUTDIR runs anywhere with `node OUTDIR/dist/main.js`.
#
#   scripts/bundle.sh OPERATOR OUTDIR     e.g. scripts/bundle.sh dns-operator /tmp/bundle
#
# The one source for these steps: each operator's Dockerfile RUNs it, and the operator's
# test/image-bundle.test.ts runs it too, so what CI checks is what the image ships.
# Expects an installed workspace (`pnpm install --frozen-lockfile`) and pnpm on PATH.
set -euo pipefail

if [ $# -ne 2 ]; then
  echo "usage: $0 OPERATOR OUTDIR   (OPERATOR: a folder of operators/, e.g. dns-operator)" >&2
  exit 2
fi
operator="$1"
out="$2"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

if [ ! -f "operators/$operator/package.json" ]; then
  echo "bundle.sh: no operator at operators/$operator" >&2
  exit 2
fi
if [ -e "$out" ] && [ -n "$(ls -A "$out")" ]; then
  echo "bundle.sh: $out is not empty" >&2
  exit 2
fi
if [ ! -d node_modules ]; then
  echo "bundle.sh: the workspace is not installed; run pnpm install --frozen-lockfile first" >&2
  exit 2
fi
pkg="$(node -p "require('./operators/$operator/package.json').name")"

# The operator and the workspace packages it depends on, from the turbo cache when unchanged.
pnpm exec turbo run build --filter="$pkg" --output-logs=errors-only

# A production-only install from the shared lockfile (frozen: the versions CI tested).
# inject-workspace-packages copies workspace dependencies in as packed packages (their
# "files": dist) instead of symlinks into the workspace; it is set for this command only,
# so the workspace itself keeps its symlinked layout.
pnpm --filter "$pkg" --config.inject-workspace-packages=true deploy --prod "$out"
