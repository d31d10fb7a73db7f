#!/usr/bin/env bash
# Installs every build and test dependency of inferd from Debian bookworm's packages.
# Idempotent and quick when everything is present (one dpkg query, no network).
# SETUP_PROFILE=image: only what the Release build of the inferd target needs (docker/Dockerfile).
# DRY_RUN=1: print the package list instead of installing.
set -euo pipefail

# What the `inferd` target (with its backend plugins) needs to build in Release: SETUP_PROFILE=image installs
# only these (docker/Dockerfile's build stage, through scripts/dev.sh release).
BUILD_PACKAGES=(
  g++ cmake ninja-build pkg-config curl ca-certificates
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  libboost-dev libsimdjson-dev rapidjson-dev libyaml-cpp-dev libsqlite3-dev libcurl4-openssl-dev
  prometheus-cpp-dev libspdlog-dev libcli11-dev libfmt-dev
  nlohmann-json3-dev libarchive-dev libssl-dev  # control plane: objects, archives, sha256
  libxgboost-dev
  libre2-dev  # InferenceGraph header propagation patterns (Go regexp syntax)
  libeigen3-dev libopenblas-dev libsnappy-dev libjpeg62-turbo-dev libpng-dev  # the TensorFlow graph executor (src/tf): kernels, compressed checkpoints, DecodeJpeg/DecodePng
  python3-dev  # embedded CPython for the sklearn runtime
  libtorch-dev  # torch backend; ONNX Runtime: scripts/fetch_onnxruntime.sh
)

# The default profile (dev): the build's packages and everything the repository's tools and tests use.
PACKAGES=(
  "${BUILD_PACKAGES[@]}"
  # toolchain
  ccache git
  clang libclang-rt-14-dev llvm  # fuzz targets (scripts/fuzz.sh): libFuzzer, ASan/UBSan runtimes, llvm-symbolizer;
                                 # clang also runs scripts/check_thread_safety.sh (-Wthread-safety)
  xgboost
  python3-numpy python3-sklearn python3-joblib  # what the embedded CPython imports for the sklearn runtime
  python3-torch python3-onnx  # test models for the torch/onnx backends
  # tests and benchmarks
  libgtest-dev libgmock-dev libbenchmark-dev wrk hey nginx
  python3 python3-xgboost python3-numpy python3-grpcio python3-grpc-tools python3-protobuf python3-requests
  python3-kubernetes  # the Kubernetes python client (KServeClient's transport) in the kubectl/SDK tests
  python3-torchvision python3-pil python3-six  # KServe's transformer samples (tests/data/kserve_samples) import them
  python3-fastapi  # KServe's models raise fastapi.HTTPException (its graph test images do): the shim answers it as FastAPI
  nodejs chromium  # the web app's bundle (scripts/build_web.sh) and its browser test (tests/webui: playwright-core drives chromium)
)

case "${SETUP_PROFILE:-dev}" in
  dev) ;;
  image) PACKAGES=("${BUILD_PACKAGES[@]}") ;;
  *) echo "setup: SETUP_PROFILE must be dev or image, not '${SETUP_PROFILE}'" >&2; exit 2 ;;
esac

# kubectl: the Kubernetes CLI the kubectl tests drive (tests/util/kube_fixture.py). Any kubectl on PATH is used
# as it is (these machines have 1.32 from the Google Cloud SDK); without one, Debian's kubernetes-client.
if [[ ${SETUP_PROFILE:-dev} == dev ]] && ! command -v kubectl >/dev/null 2>&1; then PACKAGES+=(kubernetes-client); fi

# DRY_RUN=1: print the packages of the profile, one a line, and the script run after them; change nothing
# (scripts/check_dockerfile.py reads this).
if [[ ${DRY_RUN:-0} == 1 ]]; then
  printf '%s\n' "${PACKAGES[@]}"
  echo "scripts/fetch_onnxruntime.sh"
  exit 0
fi

# The web app's npm packages (web/package-lock.json: esbuild, playwright-core, axe-core, the bundled libraries)
# for scripts/build_web.sh and tests/webui; the dev profile only (building inferd never needs node: web/dist is
# committed). playwright-core needs node >= 20 (bookworm's nodejs is 18: install NodeSource's 20 there).
web_deps() {
  [[ ${SETUP_PROFILE:-dev} == dev ]] || return 0
  local web
  web="$(dirname "$0")/../web"
  if ! command -v npm >/dev/null 2>&1; then
    echo "setup: installing npm"
    $SUDO apt-get install -y -qq --no-install-recommends npm
  fi
  local major
  major=$(node -p 'process.versions.node.split(".")[0]')
  if (( major < 20 )); then
    echo "setup: node $(node --version) is too old for the web app's browser test (needs >= 20)" >&2
  fi
  if [[ ! -d "$web/node_modules" || "$web/package-lock.json" -nt "$web/node_modules/.package-lock.json" ]]; then
    echo "setup: npm ci in web/"
    (cd "$web" && npm ci --no-audit --no-fund --loglevel=error)
  fi
}

SUDO=""
if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi

missing=()
for p in "${PACKAGES[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [[ "$status" == "install ok installed" ]] || missing+=("$p")
done

if [[ ${#missing[@]} -eq 0 ]]; then
  echo "setup: all ${#PACKAGES[@]} packages present"
  bash "$(dirname "$0")/fetch_onnxruntime.sh"
  web_deps
  exit 0
fi

echo "setup: installing ${missing[*]}"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
bash "$(dirname "$0")/fetch_onnxruntime.sh"
web_deps
