#!/usr/bin/env bash
# The README's two commands:
#   bash scripts/dev.sh run    install what is missing, build, serve the bundled example models
#   bash scripts/dev.sh test   install what is missing, build, run the whole test suite
set -euo pipefail
cd "$(dirname "$0")/.."

BUILD_DIR=${BUILD_DIR:-build}
BUILD_TYPE=${BUILD_TYPE:-RelWithDebInfo}
JOBS=${JOBS:-2}

build() {
  bash scripts/setup.sh
  cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE="$BUILD_TYPE" -DPython3_EXECUTABLE=/usr/bin/python3 >/dev/null
  ninja -C "$BUILD_DIR" -j"$JOBS"
}

case "${1:-}" in
  run)
    build
    shift
    exec "$BUILD_DIR/inferd" model-server --model_repository examples/models "$@"
    ;;
  test)
    build
    cd "$BUILD_DIR"
    ctest --output-on-failure -j"$JOBS" --timeout 300
    ;;
  build)
    build
    ;;
  *)
    echo "usage: $0 run|test|build" >&2
    exit 2
    ;;
esac
