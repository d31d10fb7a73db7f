#!/usr/bin/env bash
# bench/graph_bench.sh: what an InferenceGraph adds (issue 17's figure, docs/benchmarks.md "InferenceGraph"):
# a two-step Sequence (sklearn iris -> sklearn iris again, both `data: $request`) run by `inferd serve`'s
# gateway, against the same two calls made directly by the client through the same gateway (Host of each
# service), in the same run, in interleaved blocks (bench/graph_latency.cc: one request in flight, keep-alive).
# Prints the p50 of each, the p50 the graph adds in microseconds (target: <= 100 us) and the ratio.
#
#   bash bench/graph_bench.sh
#
# Environment: BUILD_DIR (build-release; SKIP_BUILD=1 uses it as it is, e.g. BUILD_DIR=build), ROUNDS (5),
# REQUESTS (2000 per block), KEEP_WORK=1. Needs /usr/bin/python3 with scikit-learn (the model), curl.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${BUILD_DIR:-$ROOT/build-release}
ROUNDS=${ROUNDS:-5}
REQUESTS=${REQUESTS:-2000}

die() { echo "graph_bench: $*" >&2; exit 1; }
log() { echo "[$(date +%H:%M:%S)] $*" >&2; }
for tool in cmake ninja curl; do command -v "$tool" >/dev/null || die "$tool is missing (scripts/setup.sh)"; done
if [[ "${SKIP_BUILD:-0}" != 1 ]]; then
  log "building Release into $BUILD"
  cmake -S "$ROOT" -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release -DPython3_EXECUTABLE=/usr/bin/python3 \
    -DINFERD_BUILD_TESTS=OFF -DINFERD_WERROR=OFF >/dev/null
  ninja -C "$BUILD" -j2 inferd graph_latency
fi
INFERD=$BUILD/inferd
LAT=$BUILD/bench/graph_latency
[[ -x $INFERD && -x $LAT ]] || die "$INFERD or $LAT is missing"

WORK=$(mktemp -d)
PIDS=()
# shellcheck source=bench/bench_lib.sh
source "$ROOT/bench/bench_lib.sh"
trap cleanup EXIT
trap 'exit 130' INT TERM

log "making the model"
/usr/bin/python3 "$ROOT/scripts/gen_sklearn_test_models.py" "$WORK/models" >/dev/null
MODEL=$WORK/models/sklearn-iris-logreg
[[ -d $MODEL ]] || die "no iris model in $WORK/models"
echo '{"instances": [[6.8, 2.8, 4.8, 1.4], [6.0, 3.4, 4.5, 1.6]]}' >"$WORK/body.json"

start_server serve 'inferd serve listening http_port=([0-9]+) grpc_port=[0-9]+ api_port=([0-9]+)' \
  "$INFERD" serve --data_dir "$WORK/data" --http_port 0 --grpc_port 0 --api_port 0
HTTP=${PORTS[0]}
cli() { "$INFERD" "$@" --data_dir "$WORK/data"; }
cli apply -f - >/dev/null <<YAML
apiVersion: serving.kserve.io/v1beta1
kind: InferenceService
metadata:
  name: step-a
spec:
  predictor:
    model:
      modelFormat:
        name: sklearn
      storageUri: file://$MODEL
---
apiVersion: serving.kserve.io/v1beta1
kind: InferenceService
metadata:
  name: step-b
spec:
  predictor:
    model:
      modelFormat:
        name: sklearn
      storageUri: file://$MODEL
---
apiVersion: serving.kserve.io/v1alpha1
kind: InferenceGraph
metadata:
  name: two-steps
spec:
  nodes:
    root:
      routerType: Sequence
      steps:
        - serviceName: step-a
        - serviceName: step-b
          data: \$request
YAML
# Ready: both services answer (the graph alone could answer 200 with a Soft first step failing).
answers() {  # HOST PATH: the status code
  curl -s -o /dev/null -w '%{http_code}' -H "Host: $1" -d @"$WORK/body.json" "http://127.0.0.1:$HTTP$2" || true
}
for ((i = 0; i < 600; i++)); do
  codes="$(answers step-a.default.example.com /v1/models/step-a:predict)$(answers step-b.default.example.com \
           /v1/models/step-b:predict)$(answers two-steps.default.example.com /)"
  [[ $codes == 200200200 ]] && break
  sleep 0.2
done
[[ $codes == 200200200 ]] || die "the services and the graph did not all answer 200 within 120 s (last: $codes)"

log "measuring: $ROUNDS rounds of $REQUESTS graph requests, then $REQUESTS direct pairs"
"$LAT" --port "$HTTP" --body_file "$WORK/body.json" --graph_host two-steps.default.example.com \
  --step_host step-a.default.example.com --step_path /v1/models/step-a:predict \
  --step_host step-b.default.example.com --step_path /v1/models/step-b:predict \
  --rounds "$ROUNDS" --requests "$REQUESTS"
echo "graph_bench: $(nproc) cores, load average $(cut -d' ' -f1 /proc/loadavg); target: added_p50_us <= 100"
