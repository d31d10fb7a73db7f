#!/usr/bin/env bash
# The README's two commands:
#   bash scripts/dev.sh run    install what is missing, build, serve the bundled example models
#   bash scripts/dev.sh test   install what is missing, build, run the whole test suite
# and, for docker/Dockerfile: bash scripts/dev.sh release PREFIX (the inferd target alone, installed stripped)
set -euo pipefail
cd "$(dirname "$0")/.."

BUILD_DIR_SET=${BUILD_DIR:-}
BUILD_DIR=${BUILD_DIR:-build}
BUILD_TYPE=${BUILD_TYPE:-RelWithDebInfo}
JOBS=${JOBS:-2}

# The one CMake/Ninja configuration; extra arguments are more cache settings.
configure() {
  local cmd=(cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE="$BUILD_TYPE" -DPython3_EXECUTABLE=/usr/bin/python3 "$@")
  if [[ ${DRY_RUN:-0} == 1 ]]; then echo "${cmd[*]}"; else "${cmd[@]}" >/dev/null; fi
}

# Runs a command, or with DRY_RUN=1 prints it.
run() {
  if [[ ${DRY_RUN:-0} == 1 ]]; then echo "$*"; else "$@"; fi
}

build() {
  bash scripts/setup.sh
  configure
  ninja -C "$BUILD_DIR" -j"$JOBS"
}

# `dev.sh release PREFIX` (docker/Dockerfile's build stage): the build packages only (setup.sh's image profile),
# then the same configuration (build type RelWithDebInfo, -O2, as the tests and benchmarks use, so that the image
# runs the tested code) without tests and
# benchmarks, only the inferd target (which builds its backend plugins), installed stripped under PREFIX:
# bin/inferd, lib/inferd/libinferd_backend_*.so, and lib/libonnxruntime.so.1 beside them when the onnx plugin
# was built (it is no Debian package). DRY_RUN=1 prints the commands instead (scripts/check_dockerfile.py
# reads them).
release() {
  local prefix=${1:?usage: dev.sh release PREFIX}
  BUILD_DIR=${BUILD_DIR_SET:-build-release}
  run env SETUP_PROFILE=image bash scripts/setup.sh
  configure -DINFERD_BUILD_TESTS=OFF -DINFERD_BUILD_BENCH=OFF
  run ninja -C "$BUILD_DIR" -j"$JOBS" inferd
  run cmake --install "$BUILD_DIR" --prefix "$prefix" --strip
  local ort
  ort=$(sed -n 's/^ONNXRUNTIME_LIBRARY:FILEPATH=//p' "$BUILD_DIR/CMakeCache.txt" 2>/dev/null || true)
  if [[ ${DRY_RUN:-0} == 1 ]]; then
    echo "install -m 0644 <ONNXRUNTIME_LIBRARY> $prefix/lib/libonnxruntime.so.1"
  elif [[ -f "$BUILD_DIR/libinferd_backend_onnx.so" && -n "$ort" ]]; then
    install -D -m 0644 "$(readlink -f "$ort")" "$prefix/lib/libonnxruntime.so.1"
  fi
}

# Clang's thread-safety analysis of every src/ unit (scripts/check_thread_safety.sh: clang -fsyntax-only
# -Wthread-safety with the main build's flags; units unchanged since their last pass are skipped).
# THREAD_SAFETY=0 leaves the step out.
thread_safety_step() {
  [[ ${THREAD_SAFETY:-1} == 0 ]] && return 0
  BUILD_DIR="$BUILD_DIR" JOBS="$JOBS" bash scripts/check_thread_safety.sh
}

# The fuzz targets (docs/fuzzing.md) for a bounded time each, in their own sanitizer build (build-fuzz, clang):
# any crash, leak or sanitizer report fails the step. FUZZ_SECONDS=0 leaves the step out.
fuzz_step() {
  local seconds=${FUZZ_SECONDS:-10}
  [[ $seconds == 0 ]] && return 0
  bash scripts/fuzz.sh "$seconds"
}

case "${1:-}" in
  run)
    build
    shift
    # inferd serve on its defaults (gateway :8080/:8081, API 127.0.0.1:8090), then the bundled examples.
    "$BUILD_DIR/inferd" serve "$@" &
    SERVE=$!
    trap 'kill $SERVE 2>/dev/null; wait $SERVE' INT TERM EXIT
    for _ in $(seq 100); do
      "$BUILD_DIR/inferd" get isvc >/dev/null 2>&1 && break
      kill -0 $SERVE 2>/dev/null || exit 1
      sleep 0.1
    done
    for f in examples/isvc/*.yaml; do echo ---; sed "s#@EXAMPLES@#$PWD/examples/models#" "$f"; done |
      "$BUILD_DIR/inferd" apply -f -
    for _ in $(seq 600); do  # up to a minute for both to report READY True
      [[ $("$BUILD_DIR/inferd" get isvc | awk 'NR>1 && $3=="True"' | wc -l) -ge 2 ]] && break
      sleep 0.1
    done
    "$BUILD_DIR/inferd" get isvc
    cat <<'CURLS'

Try them (KServe's V1 and V2 requests, routed by Host like KServe's ingress, or by path):
  curl -s -H 'Host: sklearn-iris.default.example.com' localhost:8080/v1/models/sklearn-iris:predict -d '{"instances":[[6.8,2.8,4.8,1.4],[6.0,3.4,4.5,1.6]]}'
  curl -s localhost:8080/v2/models/xgboost-iris/infer -H 'Content-Type: application/json' -d '{"inputs":[{"name":"input-0","shape":[2,4],"datatype":"FP32","data":[6.8,2.8,4.8,1.4,6.0,3.4,4.5,1.6]}]}'
  build/inferd describe isvc sklearn-iris
  KUBECONFIG=<the kubeconfig path inferd serve printed above> kubectl get isvc   # kubectl works too
Or open the web app printed above (http://127.0.0.1:8090/) and log in with the token in the data dir's token file.
CURLS
    wait $SERVE
    ;;
  test)
    build
    # Every file a header comment or a document names exists (scripts/check_paths.py; well under a second).
    /usr/bin/python3 scripts/check_paths.py
    # A skipped test did not run: the run fails unless tests/skip_allowed.txt lists it with a reason
    # (scripts/check_skips.py reads ctest's JUnit report, which also carries the Python tests' skips).
    junit="$(cd "$BUILD_DIR" && pwd)/ctest-results.xml"
    rm -f "$junit"
    rc=0
    (cd "$BUILD_DIR" && ctest --output-on-failure -j"$JOBS" --timeout 300 --output-junit "$junit") || rc=$?
    if ! /usr/bin/python3 scripts/check_skips.py "$junit" tests/skip_allowed.txt && [[ $rc -eq 0 ]]; then rc=1; fi
    [[ $rc -eq 0 ]] || exit "$rc"
    thread_safety_step
    fuzz_step
    ;;
  build)
    build
    ;;
  release)
    release "${2:-}"
    ;;
  *)
    echo "usage: $0 run|test|build|release PREFIX" >&2
    exit 2
    ;;
esac
