#!/usr/bin/env bash
# bench/hostile_probe.sh: the hostile suite (tests/hostile/*_test.py, issue 12) run harder and longer, then a
# table of its probe classes and their results (for the issue's closing note: what was tried, what held,
# failed requests when the only replica is SIGKILLed under load, recovery times).
#
#   bash bench/hostile_probe.sh [SCALE]
#
# SCALE (default 4; the tests run at 1) multiplies the connections, bodies, hostile names, load clients and
# kills of every class (tests/hostile/harness.py). The same assertions hold at any scale: a failed assertion
# shows as FAILED in the table and makes the exit status 1. Uses an existing build: BUILD_DIR (default build)
# with inferd and test-models. Environment: BUILD_DIR, KEEP_LOGS=1 (keep the suites' output; its path is
# printed).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=$(cd "${BUILD_DIR:-$ROOT/build}" && pwd)
SCALE=${1:-4}
[[ -x "$BUILD/inferd" && -d "$BUILD/test-models" ]] || {
  echo "hostile_probe: no inferd / test-models in $BUILD (bash scripts/dev.sh build)" >&2
  exit 1
}

WORK=$(mktemp -d /tmp/inferd-hostile-probe.XXXXXX)
[[ "${KEEP_LOGS:-0}" == 1 ]] || trap 'rm -rf "$WORK"' EXIT
export INFERD_BIN=$BUILD/inferd INFERD_TEST_MODELS=$BUILD/test-models INFERD_SOURCE_DIR=$ROOT \
  INFERD_BUILD_DIR=$BUILD INFERD_HOSTILE_SCALE=$SCALE INFERD_HOSTILE_REPORT=$WORK/report.jsonl

rc=0
for t in "$ROOT"/tests/hostile/*_test.py; do
  name=$(basename "$t" .py)
  echo "[$(date +%H:%M:%S)] $name (scale $SCALE)" >&2
  start=$SECONDS
  if ! /usr/bin/python3 "$ROOT/tests/util/py_test_runner.py" "$t" >"$WORK/$name.log" 2>&1; then
    rc=1
    echo "  FAILED: see $WORK/$name.log" >&2
    tail -n 30 "$WORK/$name.log" >&2
  fi
  echo "  $((SECONDS - start)) s" >&2
done
[[ "${KEEP_LOGS:-0}" == 1 ]] && echo "logs: $WORK" >&2

/usr/bin/python3 - "$WORK/report.jsonl" "$SCALE" <<'EOF'
import json
import sys

rows = [json.loads(line) for line in open(sys.argv[1])] if sys.argv[1] else []
print("Hostile probes at scale %s (tests/hostile, bench/hostile_probe.sh)\n" % sys.argv[2])
print("| suite | class | result | what was tried and what happened | s |")
print("|---|---|---|---|---|")
for r in rows:
    detail = r["detail"].replace("|", "/")
    print("| %s | %s | %s | %s | %.1f |" % (r["suite"], r["class"], r["result"], detail, r["seconds"]))
failed = [r for r in rows if r["result"] != "ok"]
print("\n%d classes, %d failed" % (len(rows), len(failed)))
EOF
exit "$rc"
