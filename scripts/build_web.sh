#!/usr/bin/env bash
# Builds the models web app's bundle (web/src -> web/dist) with the pinned npm packages (web/package-lock.json).
# web/dist is committed, so building inferd never needs node; run this after changing web/src and commit dist.
#   bash scripts/build_web.sh           npm ci (when node_modules is missing or older than the lockfile), build into web/dist
#   bash scripts/build_web.sh --check   build into a temporary directory and fail if it differs from web/dist
# The output is deterministic (esbuild, content-hashed names), so --check passes on a clean tree.
set -euo pipefail
cd "$(dirname "$0")/../web"
for tool in node npm; do
  command -v "$tool" >/dev/null || { echo "build_web: $tool is not installed (scripts/setup.sh installs it)" >&2; exit 1; }
done
if [[ ! -d node_modules || package-lock.json -nt node_modules/.package-lock.json ]]; then
  npm ci --no-audit --no-fund --loglevel=error
fi
case "${1:-}" in
  "") node build.mjs dist ;;
  --check)
    tmp=$(mktemp -d)
    trap 'rm -rf "$tmp"' EXIT
    node build.mjs "$tmp/dist"
    if ! diff -r "$tmp/dist" dist; then
      echo "build_web: web/dist differs from a fresh build of web/src: run bash scripts/build_web.sh and commit web/dist" >&2
      exit 1
    fi
    echo "build_web: web/dist matches web/src"
    ;;
  *) echo "usage: build_web.sh [--check]" >&2; exit 2 ;;
esac
