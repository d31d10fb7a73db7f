#!/usr/bin/env bash
# Assembles an ONNX Runtime install (include/ + lib/, the layout of ONNX Runtime's release archives) for the
# onnx backend; bookworm has no ONNX Runtime package. Called by scripts/setup.sh; idempotent, and a quick
# no-op (no network) when the pinned versions are already in place.
#
#   lib/libonnxruntime.so.1   from the npm package onnxruntime-node (installed with --ignore-scripts into a
#                             scratch directory: its install script would download more; only the Linux x64
#                             library is kept). It needs only libc/libstdc++.
#   include/*.h               the C/C++ API headers from Debian trixie's libonnxruntime-dev .deb, downloaded
#                             with private apt sources/lists/cache directories (the system's apt sources are
#                             never touched) and unpacked with dpkg-deb -x. Headers of an older API version
#                             work against a newer library (ORT's C API is versioned and backward compatible).
#
# Usage: scripts/fetch_onnxruntime.sh [DEST]   (default: <repo>/.deps/onnxruntime, gitignored)
# Point the build at another install with -DONNXRUNTIME_ROOT=... or the ONNXRUNTIME_ROOT environment variable.
set -euo pipefail

ORT_NPM_VERSION=1.30.0
# sha256 of bin/napi-v6/linux/x64/libonnxruntime.so.1 in onnxruntime-node@1.30.0
ORT_LIB_SHA256=ffb75a925ba05e47b235bb66e3e3911714a80b328a9c9425539feb204aa32a23
# npm's dist.integrity of the tarball (checked on the fallback path that fetches it without npm)
ORT_NPM_INTEGRITY=sha512-twhs1C2C/BFkz1yc5OY0KIU2GUq6DURO7hD4bx5Q2Qy3nAMJwRXW8xU3NVczE29VA9lolLOYepoD8fjTGOfIqw==
ORT_DEB_VERSION=1.21.0+dfsg-1
ORT_DEB_SHA256=14f7d959d5deacbcf1504830d4189f91fc67382b399ed9ae9d3aa9c4050ced08

ROOT=$(cd "$(dirname "$0")/.." && pwd)
DEST=${1:-$ROOT/.deps/onnxruntime}
STAMP="$DEST/.inferd-stamp"
WANT="onnxruntime-node@$ORT_NPM_VERSION lib:$ORT_LIB_SHA256 libonnxruntime-dev=$ORT_DEB_VERSION"

if [[ -f "$STAMP" && "$(cat "$STAMP")" == "$WANT" && -f "$DEST/lib/libonnxruntime.so.1" &&
      -f "$DEST/include/onnxruntime_cxx_api.h" ]]; then
  echo "fetch_onnxruntime: $DEST present (ONNX Runtime $ORT_NPM_VERSION, headers $ORT_DEB_VERSION)"
  exit 0
fi

for tool in dpkg-deb apt-get sha256sum; do
  command -v "$tool" >/dev/null || { echo "fetch_onnxruntime: $tool is required" >&2; exit 1; }
done

SCRATCH=$(mktemp -d)
trap 'rm -rf "$SCRATCH"' EXIT
echo "fetch_onnxruntime: assembling ONNX Runtime $ORT_NPM_VERSION (headers from libonnxruntime-dev $ORT_DEB_VERSION) in $DEST"

# ---- the library, from npm -------------------------------------------------------------------------------
if command -v npm >/dev/null; then
  npm install --prefix "$SCRATCH/npm" --ignore-scripts --no-save --no-audit --no-fund --no-update-notifier --loglevel=error \
    "onnxruntime-node@$ORT_NPM_VERSION" >/dev/null
  PKG="$SCRATCH/npm/node_modules/onnxruntime-node"
else
  # Without npm: the same tarball from the npm registry, checked against npm's own integrity hash.
  curl -fsSL -o "$SCRATCH/ort.tgz" "https://registry.npmjs.org/onnxruntime-node/-/onnxruntime-node-$ORT_NPM_VERSION.tgz"
  got="sha512-$(openssl dgst -sha512 -binary "$SCRATCH/ort.tgz" | base64 -w0)"
  [[ "$got" == "$ORT_NPM_INTEGRITY" ]] || { echo "fetch_onnxruntime: tarball integrity mismatch: $got" >&2; exit 1; }
  mkdir -p "$SCRATCH/tgz"
  tar -xzf "$SCRATCH/ort.tgz" -C "$SCRATCH/tgz"
  PKG="$SCRATCH/tgz/package"
fi
LIB="$PKG/bin/napi-v6/linux/x64/libonnxruntime.so.1"
[[ -f "$LIB" ]] || { echo "fetch_onnxruntime: $LIB missing from onnxruntime-node" >&2; exit 1; }
echo "$ORT_LIB_SHA256  $LIB" | sha256sum -c --quiet - || { echo "fetch_onnxruntime: library checksum mismatch" >&2; exit 1; }

# ---- the headers, from Debian trixie (private apt state) -------------------------------------------------
APT_DIR="$SCRATCH/apt"
mkdir -p "$APT_DIR/sources" "$APT_DIR/lists/partial" "$APT_DIR/cache/archives/partial" "$APT_DIR/deb"
# Same mirror and keyring as the system's own Debian sources, suite trixie.
URIS=http://deb.debian.org/debian
KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg
if [[ -f /etc/apt/sources.list.d/debian.sources ]]; then
  u=$(awk '/^URIs:/ && $2 !~ /security/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources)
  k=$(awk '/^Signed-By:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources)
  [[ -n "$u" ]] && URIS=$u
  [[ -n "$k" && -f "$k" ]] && KEYRING=$k
fi
cat >"$APT_DIR/sources/trixie.sources" <<EOF
Types: deb
URIs: $URIS
Suites: trixie
Components: main
Signed-By: $KEYRING
EOF
APT_OPTS=(-o Dir::Etc::SourceList=/dev/null -o "Dir::Etc::SourceParts=$APT_DIR/sources"
          -o "Dir::State::Lists=$APT_DIR/lists" -o "Dir::Cache=$APT_DIR/cache")
# Root: apt's download sandbox user (_apt) cannot write into this private scratch directory.
if [[ $(id -u) -eq 0 ]]; then APT_OPTS+=(-o APT::Sandbox::User=root); fi
apt-get "${APT_OPTS[@]}" update -qq
(cd "$APT_DIR/deb" && apt-get "${APT_OPTS[@]}" download -qq "libonnxruntime-dev=$ORT_DEB_VERSION")
DEB=$(ls "$APT_DIR"/deb/libonnxruntime-dev_*.deb)
echo "$ORT_DEB_SHA256  $DEB" | sha256sum -c --quiet - || { echo "fetch_onnxruntime: .deb checksum mismatch" >&2; exit 1; }
dpkg-deb -x "$DEB" "$APT_DIR/x"

# ---- assemble (into a temporary sibling, then swapped in) ------------------------------------------------
NEW="$DEST.new.$$"
rm -rf "$NEW"
mkdir -p "$NEW/lib" "$NEW/include"
cp "$LIB" "$NEW/lib/libonnxruntime.so.1"
ln -s libonnxruntime.so.1 "$NEW/lib/libonnxruntime.so"
cp -r "$APT_DIR"/x/usr/include/onnxruntime/. "$NEW/include/"
for f in LICENSE ThirdPartyNotices.txt README.md; do
  [[ -f "$PKG/$f" ]] && cp "$PKG/$f" "$NEW/" || true
done
[[ -f "$APT_DIR/x/usr/share/doc/libonnxruntime-dev/copyright" ]] &&
  cp "$APT_DIR/x/usr/share/doc/libonnxruntime-dev/copyright" "$NEW/copyright.debian" || true
echo "$WANT" >"$NEW/.inferd-stamp"
mkdir -p "$(dirname "$DEST")"
rm -rf "$DEST"
mv "$NEW" "$DEST"
echo "fetch_onnxruntime: done ($(du -sh "$DEST" | cut -f1))"
