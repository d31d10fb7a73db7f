#!/usr/bin/env bash
# bench/run_serverless_bench.sh: `inferd serve`'s serverless figures (docs/benchmarks.md, issue 5).
#
#   bash bench/run_serverless_bench.sh
#
# Builds Release into build-release (inferd, bench/http_rate), writes the iris models of every runtime
# (bench/gen_bench_models.py), then runs bench/serverless_bench.py against one `inferd serve` with short
# autoscaler windows:
#   cold      request at zero replicas -> answer, TRIALS times for the iris scikit-learn, XGBoost and TorchScript
#             models (p50, p99, worst), against a bare `inferd model-server` start measured in the same run;
#   step      0 -> 64 wrk connections -> 0 from zero replicas (containerConcurrency 8, Knative's 60 s stable
#             window unless STEP_WINDOW says otherwise): failed requests, the
#             steady replica count and the time to reach it, the time back to zero; reference: the same load
#             on one warm replica;
#   rollout   canary 20%, rollback, promotion and a plain rollout under an open-loop 1000 req/s: errors and
#             unanswered requests, p99 against the same rate with no rollout.
# Targets (issue 5): cold-start p50 < 150 ms for the tree models; no failed request under the step load and
# during promotion and rollback at 1000 req/s.
# Environment: TRIALS (20), STEP_S (30), STEP_WINDOW (60s), PARTS (cold,step,rollout), BUILD_DIR (build-release), SKIP_BUILD=1,
# KEEP_WORK=1, COMPARE_EXEC=1 (cold: also a serve with --replica_templates none, interleaved: replica templates A/B),
# SVC=1 (cold: also an iris SVC, served through the embedded Python).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${BUILD_DIR:-$ROOT/build-release}
SHARED_LGBM=${SHARED_LGBM:-$ROOT/tests/data/lightgbm/lg_rf_iris.model}

die() { echo "run_serverless_bench: $*" >&2; exit 1; }
log() { echo "[$(date +%H:%M:%S)] $*" >&2; }

for tool in cmake ninja wrk; do command -v "$tool" >/dev/null || die "$tool is missing (scripts/setup.sh)"; done
if [[ "${SKIP_BUILD:-0}" != 1 ]]; then
  log "building Release into $BUILD"
  cmake -S "$ROOT" -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release -DPython3_EXECUTABLE=/usr/bin/python3 \
    -DINFERD_BUILD_TESTS=OFF -DINFERD_WERROR=OFF >/dev/null
  ninja -C "$BUILD" -j2 inferd http_rate
fi
[[ -x "$BUILD/inferd" && -x "$BUILD/bench/http_rate" ]] || die "no inferd / bench/http_rate in $BUILD"

WORK=$(mktemp -d /tmp/inferd-serverless-bench.XXXXXX)
cleanup() {
  if [[ "${KEEP_WORK:-0}" == 1 ]]; then echo "run_serverless_bench: scratch kept in $WORK" >&2; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

log "writing the iris models"
/usr/bin/python3 "$ROOT/bench/gen_bench_models.py" "$WORK/models" "$SHARED_LGBM" >/dev/null
/usr/bin/python3 "$ROOT/bench/serverless_bench.py" --inferd "$BUILD/inferd" --http_rate "$BUILD/bench/http_rate" \
  --models "$WORK/models/repo" --work "$WORK" --wrk_lua "$ROOT/bench/wrk_post.lua" \
  --trials "${TRIALS:-20}" --step_s "${STEP_S:-30}" --step_window "${STEP_WINDOW:-60s}" --parts "${PARTS:-cold,step,rollout}" \
  ${COMPARE_EXEC:+--compare_exec} ${SVC:+--svc}
