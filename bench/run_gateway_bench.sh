#!/usr/bin/env bash
# bench/run_gateway_bench.sh: `inferd serve`'s figures (docs/benchmarks.md, control plane).
#
#   bash bench/run_gateway_bench.sh
#
# In one run, against one `inferd serve` on ephemeral ports (KServe's iris samples, local storageUri):
#   apply->Ready  TRIALS times per model (the bundled iris scikit-learn LogisticRegression and XGBoost
#                 models): `inferd apply` of a fresh InferenceService, then the API polled every 2 ms until
#                 its Ready condition is True; then deleted. Reported: first, median and worst.
#   overhead      wrk POST :predict with KServe's iris body, alternating, ROUNDS rounds: straight to the
#                 replica (its own port, from the service's status) and through the gateway (path route
#                 /v1/models/sklearn-iris:predict, which the gateway proxies over pooled keep-alive
#                 connections). Throughput with 64 connections (-t1 -c64) and latency with one connection
#                 (-t1 -c1: the added p50 is the gateway's own cost, not queueing).
# Targets (issue 4): gateway >= 70% of direct throughput; <= 150 us added at p50; apply->Ready < 1 s.
# Environment: DURATION (5), ROUNDS (3), TRIALS (10), BUILD_DIR (build-release), SKIP_BUILD=1, KEEP_WORK=1.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${BUILD_DIR:-$ROOT/build-release}
DURATION=${DURATION:-5}
ROUNDS=${ROUNDS:-3}
TRIALS=${TRIALS:-10}

die() { echo "run_gateway_bench: $*" >&2; exit 1; }
log() { echo "[$(date +%H:%M:%S)] $*" >&2; }

for tool in cmake ninja wrk curl; do command -v "$tool" >/dev/null || die "$tool is missing (scripts/setup.sh)"; done
if [[ "${SKIP_BUILD:-0}" != 1 ]]; then
  log "building Release into $BUILD"
  cmake -S "$ROOT" -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release -DPython3_EXECUTABLE=/usr/bin/python3 \
    -DINFERD_BUILD_TESTS=OFF -DINFERD_WERROR=OFF >/dev/null
  ninja -C "$BUILD" -j2 inferd
fi

WORK=$(mktemp -d /tmp/inferd-gateway-bench.XXXXXX)
PIDS=()
PORTS=()
source "$ROOT/bench/bench_lib.sh"
trap cleanup EXIT
trap 'exit 130' INT TERM

INFERD=$BUILD/inferd
MODEL=$ROOT/examples/models/iris-sklearn
start_server serve 'listening http_port=([0-9]+) grpc_port=([0-9]+) api_port=([0-9]+)' \
  "$INFERD" serve --data_dir "$WORK/data" --http_port 0 --grpc_port 0 --api_port 0 --host 127.0.0.1
GW=${PORTS[0]}
API=${PORTS[2]}
TOKEN=$(cat "$WORK/data/token")
cli() { "$INFERD" "$@" --data_dir "$WORK/data"; }
isvc_yaml() {
  printf 'apiVersion: serving.kserve.io/v1beta1\nkind: InferenceService\nmetadata:\n  name: %s\nspec:\n  predictor:\n    model:\n      modelFormat:\n        name: sklearn\n      storageUri: file://%s\n' "$1" "$MODEL"
}

# ---- apply -> Ready ----------------------------------------------------------------------------------
# Each trial applies a new InferenceService (its own name) for the same model files, so the first
# scikit-learn trial compiles the model in Python and later ones load the compiled record (the storage and
# compiled caches are what a user gets from the second apply of a model on).
log "apply -> Ready, $TRIALS trials per model"
/usr/bin/python3 - "$INFERD" "$WORK/data" "$API" "$TOKEN" "$TRIALS" \
  "sklearn=$ROOT/examples/models/iris-sklearn" "xgboost=$ROOT/examples/models/iris-xgboost" >"$WORK/ready.txt" <<'EOF2'
import json, statistics, subprocess, sys, time, urllib.request
inferd, data, api, token, trials = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], int(sys.argv[5])
def get(name):
    req = urllib.request.Request("http://127.0.0.1:%d/apis/serving.kserve.io/v1beta1/namespaces/default/inferenceservices/%s" % (api, name),
                                 headers={"Authorization": "Bearer " + token})
    try:
        return json.load(urllib.request.urlopen(req, timeout=5))
    except Exception:
        return None
def ready(o):
    return o and any(c.get("type") == "Ready" and c.get("status") == "True" for c in o.get("status", {}).get("conditions", []))
for spec in sys.argv[6:]:
    fmt, model = spec.split("=", 1)
    times = []
    for i in range(trials):
        name = "ready-%s-%d" % (fmt, i)
        y = ("apiVersion: serving.kserve.io/v1beta1\nkind: InferenceService\nmetadata:\n  name: %s\nspec:\n  predictor:\n"
             "    model:\n      modelFormat:\n        name: %s\n      storageUri: file://%s\n") % (name, fmt, model)
        t0 = time.perf_counter()
        subprocess.run([inferd, "apply", "-f", "-", "--data_dir", data], input=y, text=True, check=True, capture_output=True)
        while not ready(get(name)):
            if time.perf_counter() - t0 > 60:
                sys.exit("not ready in 60 s")
            time.sleep(0.002)
        times.append(time.perf_counter() - t0)
        subprocess.run([inferd, "delete", "isvc", name, "--data_dir", data], check=True, capture_output=True)
        time.sleep(0.3)
    print("READY %s first_ms=%.0f median_ms=%.0f max_ms=%.0f all_ms=%s" % (fmt, times[0] * 1e3,
          statistics.median(times) * 1e3, max(times) * 1e3, ",".join("%.0f" % (t * 1e3) for t in times)))
EOF2
cat "$WORK/ready.txt"

# ---- gateway overhead ---------------------------------------------------------------------------------
isvc_yaml sklearn-iris | cli apply -f - >/dev/null
for ((i = 0; i < 600; i++)); do
  REPLICA=$(curl -s -H "Authorization: Bearer $TOKEN" \
    "http://127.0.0.1:$API/apis/serving.kserve.io/v1beta1/namespaces/default/inferenceservices/sklearn-iris" |
    /usr/bin/python3 -c 'import json,sys
o=json.load(sys.stdin); ok=any(c.get("type")=="Ready" and c.get("status")=="True" for c in o.get("status",{}).get("conditions",[]))
r=o.get("status",{}).get("inferd",{}).get("replicas",[])
print(r[0]["httpPort"] if ok and r else "")')
  [[ -n "$REPLICA" ]] && break
  sleep 0.1
done
[[ -n "$REPLICA" ]] || die "sklearn-iris did not become ready"
printf '%s' '{"instances":[[6.8,2.8,4.8,1.4],[6.0,3.4,4.5,1.6]]}' >"$WORK/v1.json"
PATH_=/v1/models/sklearn-iris:predict
log "direct: $(curl -s "http://127.0.0.1:$REPLICA$PATH_" -d @"$WORK/v1.json"), gateway: $(curl -s "http://127.0.0.1:$GW$PATH_" -d @"$WORK/v1.json")"

wrk_run() {  # PORT CONNS -> "rps p50 p99"
  local out line
  out=$(WRK_BODY_FILE="$WORK/v1.json" timeout -k 5 $((DURATION + 30)) wrk -t1 -c"$2" -d"${DURATION}s" \
          -s "$ROOT/bench/wrk_post.lua" "http://127.0.0.1:$1$PATH_" 2>&1) || die "wrk failed: $out"
  line=$(grep -m1 '^WRK_RESULT' <<<"$out") || die "no WRK_RESULT: $out"
  [[ "$line" =~ non2xx=0\ socket_errors=0 ]] || die "errors against port $1: $line"
  sed -E 's/.* rps=([0-9.]+) p50_us=([0-9]+) p99_us=([0-9]+).*/\1 \2 \3/' <<<"$line"
}

: >"$WORK/rounds.tsv"
for ((r = 1; r <= ROUNDS; r++)); do
  read -r d_rps d50 d99 <<<"$(wrk_run "$REPLICA" 64)"
  read -r g_rps g50 g99 <<<"$(wrk_run "$GW" 64)"
  read -r _ d50_1 d99_1 <<<"$(wrk_run "$REPLICA" 1)"
  read -r _ g50_1 g99_1 <<<"$(wrk_run "$GW" 1)"
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$d_rps" "$d50" "$d99" "$g_rps" "$g50" "$g99" \
    "$d50_1" "$d99_1" "$g50_1" "$g99_1" >>"$WORK/rounds.tsv"
  log "round $r: 64 conns direct $d_rps req/s (p50 $d50 p99 $d99 us), gateway $g_rps req/s (p50 $g50 p99 $g99 us);" \
      "1 conn p50 direct $d50_1 us, gateway $g50_1 us"
done

/usr/bin/python3 - "$WORK/rounds.tsv" "$WORK/ready.txt" <<'EOF'
import statistics, sys
rows = [list(map(float, l.split())) for l in open(sys.argv[1]) if l.strip()]
med = lambda i: statistics.median(r[i] for r in rows)
ratio = statistics.median(r[3] / r[0] for r in rows)
added = statistics.median(r[8] - r[6] for r in rows)
ready = {}
for line in open(sys.argv[2]):
    f = line.split()
    ready[f[1]] = {k: v for k, v in (x.split("=") for x in f[2:])}
print()
print("%-34s %10s %10s" % ("", "direct", "gateway"))
print("%-34s %10.0f %10.0f" % ("req/s, 64 connections", med(0), med(3)))
print("%-34s %10.0f %10.0f" % ("p50 / p99 us, 64 connections", med(1), med(4)))
print("%-34s %10.0f %10.0f" % ("", med(2), med(5)))
print("%-34s %10.0f %10.0f" % ("p50 / p99 us, 1 connection", med(6), med(8)))
print("%-34s %10.0f %10.0f" % ("", med(7), med(9)))
print()
print("throughput ratio %.3f (target >= 0.70): %s" % (ratio, "PASS" if ratio >= 0.70 else "FAIL"))
print("added p50, 1 connection: %.0f us (target <= 150 us): %s" % (added, "PASS" if added <= 150 else "FAIL"))
for fmt, r in ready.items():
    m = float(r["median_ms"])
    print("apply -> Ready, iris %s: median %.0f ms, first %s ms, max %s ms (target < 1000 ms): %s   [%s]" %
          (fmt, m, r["first_ms"], r["max_ms"], "PASS" if m < 1000 else "FAIL", r["all_ms"]))
EOF
