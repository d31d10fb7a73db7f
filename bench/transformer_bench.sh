#!/usr/bin/env bash
# bench/transformer_bench.sh: a KServe transformer with trivial pre/post-processing, three ways, same run
# (docs/benchmarks.md, issue 15's transformer figure):
#   predictor    `inferd model-server` serving a TorchScript image model (mnist-sized CNN, V1 :predict);
#   separate     a second `inferd model-server --python tests/data/passthrough_transformer.py` whose default
#                predict forwards over REST v1 to the predictor (KServe's layout: transformer and predictor are
#                two servers);
#   in-process   one `inferd model-server --python tests/data/passthrough_transformer.py --model_dir ...`: the
#                Python model wraps the native model of the same name and calls it directly (docs/pipeline.md).
# The transformer is a kserve.Model whose preprocess and postprocess return their argument; every request
# is the same V1 body (one 1x28x28 image). wrk -t1 -cCONNS -dDURATION per run, ROUNDS rounds with the
# three interleaved; req/s and p50 are medians over the rounds, ratios medians of per-round ratios.
# The same for V2 REST (a JSON body with FP32 data; the separate transformer calls the predictor over REST v2).
# Targets: in-process adds <= 15% over the predictor alone (p50, and req/s >= 0.85x), and its req/s is
# >= 2x the separate transformer's.
#
#   bash bench/transformer_bench.sh
#
# Environment: BUILD_DIR (build-release; SKIP_BUILD=1 uses it as it is, e.g. BUILD_DIR=build), DURATION (5),
# ROUNDS (3), CONNS (8), KEEP_WORK=1, WIDTH (16): the channels of the CNN's first convolution (the second has
# twice as many), i.e. the model's cost: 16 is the ~1.2 ms model of the figures, 8 about a third of it, 4
# about a tenth (the targets' ratios depend on it: docs/benchmarks.md).
# SERVE=1: also both through `inferd serve`'s gateway (what a KServe user runs): an InferenceService whose
# predictor is the model alone (gw-predictor), and one with the same transformer and the annotation
# `inferd.io/transformer: in-process` (gw-inprocess), whose predictor replica runs as `--processes N`, and the same
# with `inferd.io/processes: "1"` (gw-inprocess-1p: one process, as before `--processes`; both on the Unix socket)
# (docs/pipeline.md#processes-under-inferd-serve; SERVE_PROCESSES sets the annotation inferd.io/processes, default:
# none, i.e. one per CPU up to 4). One replica each (min = max = 1); the CPU per request is the replica's processes'
# and inferd serve's (the gateway), the same for both. V1 only.
# Needs /usr/bin/python3 with torch (the model is made here), wrk, curl.
# Exit status: 0 when it ran (whatever the targets say), 1 when something could not run.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${BUILD_DIR:-$ROOT/build-release}
DURATION=${DURATION:-5}
ROUNDS=${ROUNDS:-3}
CONNS=${CONNS:-8}
WIDTH=${WIDTH:-16}

die() { echo "transformer_bench: $*" >&2; exit 1; }
log() { echo "[$(date +%H:%M:%S)] $*" >&2; }
[[ $WIDTH =~ ^[1-9][0-9]?$ ]] || die "WIDTH must be 1..99"

for tool in cmake ninja wrk curl; do command -v "$tool" >/dev/null || die "$tool is missing (scripts/setup.sh)"; done
if [[ "${SKIP_BUILD:-0}" != 1 ]]; then
  log "building Release into $BUILD"
  cmake -S "$ROOT" -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release -DPython3_EXECUTABLE=/usr/bin/python3 \
    -DINFERD_BUILD_TESTS=OFF -DINFERD_WERROR=OFF >/dev/null
  ninja -C "$BUILD" -j2 inferd
fi
INFERD=$BUILD/inferd
[[ -x $INFERD ]] || die "$INFERD is missing"

WORK=$(mktemp -d)
PIDS=()
# shellcheck source=bench/bench_lib.sh
source "$ROOT/bench/bench_lib.sh"
trap cleanup EXIT
trap 'exit 130' INT TERM

log "making the model and the request"
/usr/bin/python3 - "$WORK" "$WIDTH" <<'EOF'
import json, os, random, sys
import torch
work, width = sys.argv[1], int(sys.argv[2])

class Net(torch.nn.Module):
    def __init__(self):
        super().__init__()
        torch.manual_seed(1)
        self.conv1 = torch.nn.Conv2d(1, width, 3)
        self.conv2 = torch.nn.Conv2d(width, 2 * width, 3)
        self.fc = torch.nn.Linear(2 * width * 12 * 12, 10)

    def forward(self, data):
        x = torch.relu(self.conv1(data))
        x = torch.max_pool2d(torch.relu(self.conv2(x)), 2)
        return self.fc(x.reshape(x.shape[0], -1))

model = os.path.join(work, "mnist")
os.makedirs(model)
torch.jit.trace(Net().eval(), torch.zeros(1, 1, 28, 28)).save(os.path.join(model, "model.pt"))
with open(os.path.join(model, "config.pbtxt"), "w") as f:
    f.write('platform: "pytorch_libtorch"\nmax_batch_size: 0\n'
            'input [ { name: "data" data_type: TYPE_FP32 dims: [ -1, 1, 28, 28 ] } ]\n'
            'output [ { name: "output-0" data_type: TYPE_FP32 dims: [ -1, 10 ] } ]\n')
random.seed(0)
img = [[[round(random.random(), 4) for _ in range(28)] for _ in range(28)]]
with open(os.path.join(work, "body.json"), "w") as f:
    json.dump({"instances": [img]}, f)
with open(os.path.join(work, "body_v2.json"), "w") as f:
    json.dump({"inputs": [{"name": "data", "shape": [1, 1, 28, 28], "datatype": "FP32",
                           "data": [v for row in img[0] for v in row]}]}, f)
EOF

LISTEN='listening http_port=([0-9]+)'
start_server predictor "$LISTEN" "$INFERD" model-server --model_dir "$WORK/mnist" --model_name mnist \
  --http_port 0 --grpc_port 0
P_PRED=${PORTS[0]}
PID_PRED=${PIDS[-1]}
start_server separate "$LISTEN" "$INFERD" model-server --python "$ROOT/tests/data/passthrough_transformer.py" --model_name mnist \
  --http_port 0 --grpc_port 0 --python_arg=--predictor_host=127.0.0.1:$P_PRED
P_SEP=${PORTS[0]}
PID_SEP=${PIDS[-1]}
start_server separate_v2 "$LISTEN" "$INFERD" model-server --python "$ROOT/tests/data/passthrough_transformer.py" --model_name mnist \
  --http_port 0 --grpc_port 0 --python_arg=--predictor_host=127.0.0.1:$P_PRED --python_arg=--predictor_protocol=v2
P_SEP2=${PORTS[0]}
PID_SEP2=${PIDS[-1]}
start_server inprocess "$LISTEN" "$INFERD" model-server --python "$ROOT/tests/data/passthrough_transformer.py" --model_name mnist \
  --model_dir "$WORK/mnist" --http_port 0 --grpc_port 0 --python_arg=--predictor_host=127.0.0.1:$P_PRED
P_IN=${PORTS[0]}
PID_IN=${PIDS[-1]}
# PAIR=1: also the in-process server with --processes 2 (cli/worker_processes.h): two processes with one
# front-end thread each share the port, one interpreter and one GIL per process, so Python never changes threads
# (docs/benchmarks.md: the GIL hand-offs of the two-thread form). Its CPU is both processes'.
if [[ ${PAIR:-0} == 1 ]]; then
  start_server pair "$LISTEN" "$INFERD" model-server --python "$ROOT/tests/data/passthrough_transformer.py" --model_name mnist \
    --model_dir "$WORK/mnist" --http_port 0 --grpc_port 0 --processes 2 --python_arg=--predictor_host=127.0.0.1:$P_PRED
  P_PAIR=${PORTS[0]}
  PID_PAIR_A=${PIDS[-1]}
  PID_PAIR_B=""
  for _ in $(seq 200); do
    PID_PAIR_B=$(cat "/proc/$PID_PAIR_A/task/$PID_PAIR_A/children" 2>/dev/null | awk '{print $1}')
    [[ -n $PID_PAIR_B ]] && break
    sleep 0.05
  done
  [[ -n $PID_PAIR_B ]] || die "--processes 2 started no second process"
  for _ in $(seq 300); do  # the second process listens (and says so) once its models are loaded
    (($(grep -c 'inferd model-server listening' "$WORK/pair.log") >= 2)) && break
    sleep 0.1
  done
  (($(grep -c 'inferd model-server listening' "$WORK/pair.log") >= 2)) || die "the second process did not listen"
fi
# SERVE=1: the same two through inferd serve's gateway (see the top).
if [[ ${SERVE:-0} == 1 ]]; then
  start_server serve 'inferd serve listening http_port=([0-9]+) grpc_port=[0-9]+ api_port=([0-9]+)' \
    "$INFERD" serve --data_dir "$WORK/data" --http_port 0 --grpc_port 0 --api_port 0
  P_GW=${PORTS[0]}
  PID_SERVE=${PIDS[-1]}
  cli() { "$INFERD" "$@" --data_dir "$WORK/data"; }
  isvc() {  # NAME ANNOTATIONS TRANSFORMER
    cat <<YAML
apiVersion: serving.kserve.io/v1beta1
kind: InferenceService
metadata:
  name: $1
  annotations: {$2}
spec:
  predictor:
    minReplicas: 1
    maxReplicas: 1
    containers:
      - name: kserve-container
        image: inferd
        command: ["inferd", "model-server"]
        args: ["--model_dir=$WORK/mnist", "--model_name={{.Name}}"]
$3
---
YAML
  }
  procs=""
  [[ -n ${SERVE_PROCESSES:-} ]] && procs=", \"inferd.io/processes\": \"$SERVE_PROCESSES\""
  transformer="  transformer:
    containers:
      - name: kserve-container
        image: example/passthrough:1
        command: [\"/usr/bin/python3\", \"$ROOT/tests/data/passthrough_transformer.py\"]"
  { isvc gw-predictor "" ""
    isvc gw-inprocess "\"inferd.io/transformer\": \"in-process\"$procs" "$transformer"
    isvc gw-inprocess-1p "\"inferd.io/transformer\": \"in-process\", \"inferd.io/processes\": \"1\"" "$transformer"
  } | cli apply -f - >/dev/null || die "inferd apply failed"
  # gw_pids NAME: the pids of the service's replica (its first process, then the copies), once it answers.
  gw_pids() {
    local code="" pid="" i
    for ((i = 0; i < 900; i++)); do
      code=$(curl -s -o /dev/null -w '%{http_code}' -H "Host: $1.default.example.com" -d @"$WORK/body.json" \
               "http://127.0.0.1:$P_GW/v1/models/$1:predict" || true)
      [[ $code == 200 ]] && break
      sleep 0.2
    done
    [[ $code == 200 ]] || die "$1 did not answer through the gateway within 180 s (last: $code)"
    pid=$(cli get isvc "$1" -o json | /usr/bin/python3 -c \
            'import json,sys; print(json.load(sys.stdin)["status"]["inferd"]["replicas"][0]["pid"])') ||
      die "no replica pid for $1"
    echo "$pid $(cat "/proc/$pid/task/$pid/children" 2>/dev/null || true)"
  }
  read -ra PIDS_GW_PRED <<<"$(gw_pids gw-predictor)"
  read -ra PIDS_GW_IN1 <<<"$(gw_pids gw-inprocess-1p)"
  gw_pids gw-inprocess >/dev/null
  sleep 3  # the copies listen once their models are loaded
  read -ra PIDS_GW_IN <<<"$(gw_pids gw-inprocess)"
  log "gw-predictor: ${#PIDS_GW_PRED[@]} process(es); gw-inprocess: ${#PIDS_GW_IN[@]} process(es);" \
    "gw-inprocess-1p: ${#PIDS_GW_IN1[@]} process(es)"
fi
for p in $P_PRED $P_SEP $P_SEP2 $P_IN; do wait_ready "http://127.0.0.1:$p/v2/health/ready"; done
want=$(curl -sf -XPOST "http://127.0.0.1:$P_PRED/v1/models/mnist:predict" -d @"$WORK/body.json")
for p in $P_SEP $P_IN; do
  got=$(curl -sf -XPOST "http://127.0.0.1:$p/v1/models/mnist:predict" -d @"$WORK/body.json") || die "port $p failed"
  /usr/bin/python3 -c 'import json,sys; a=json.loads(sys.argv[1]); b=json.loads(sys.argv[2]); import numpy as np; np.testing.assert_allclose(a["predictions"], b["predictions"], rtol=1e-5)' "$want" "$got" \
    || die "the transformer on port $p answers differently from the predictor"
done
if [[ ${SERVE:-0} == 1 ]]; then
  for n in gw-predictor gw-inprocess gw-inprocess-1p; do
    got=$(curl -sf -XPOST -H "Host: $n.default.example.com" "http://127.0.0.1:$P_GW/v1/models/$n:predict" \
            -d @"$WORK/body.json") || die "$n failed through the gateway"
    /usr/bin/python3 -c 'import json,sys; a=json.loads(sys.argv[1]); b=json.loads(sys.argv[2]); import numpy as np; np.testing.assert_allclose(a["predictions"], b["predictions"], rtol=1e-5)' "$want" "$got" \
      || die "$n answers differently from the predictor"
  done
fi

# cpu_ticks PID...: user+system clock ticks the processes have used so far.
cpu_ticks() {
  local t=0 p f
  for p in "$@"; do
    read -ra f <"/proc/$p/stat"
    t=$((t + f[13] + f[14]))
  done
  echo "$t"
}
TCK=$(getconf CLK_TCK)

# run PATH PORT PID...: "rps p50_us cpu_us_per_request" of one wrk run (with HOST set, that Host header) (errors make the run fail); the CPU is
# what the serving processes PID... used during the run, per request: the cost a loaded machine cannot
# blur (req/s and p50 depend on what else runs).
run() {
  local out line path=$1 port=$2 c0 c1 body=$WORK/body.json
  shift 2
  [[ $path == /v2/* ]] && body=$WORK/body_v2.json
  c0=$(cpu_ticks "$@")
  local host=()
  [[ -n ${HOST:-} ]] && host=(-H "Host: $HOST")
  out=$(WRK_BODY_FILE="$body" timeout -k 5 $((DURATION + 30)) wrk -t1 -c"$CONNS" -d"${DURATION}s" "${host[@]}" \
          -s "$ROOT/bench/wrk_post.lua" "http://127.0.0.1:$port$path" 2>&1) || die "wrk failed: $out"
  c1=$(cpu_ticks "$@")
  line=$(grep -m1 '^WRK_RESULT' <<<"$out") || die "no WRK_RESULT: $out"
  [[ $line =~ non2xx=0\ socket_errors=0 ]] || die "errors: $line"
  [[ $line =~ requests=([0-9]+).*rps=([0-9.]+)\ p50_us=([0-9]+) ]]
  echo "${BASH_REMATCH[2]} ${BASH_REMATCH[3]} $(((c1 - c0) * 1000000 / TCK / BASH_REMATCH[1]))"
}

results=$WORK/results.txt
LOAD0=$(cut -d' ' -f1 /proc/loadavg)
: >"$results"
for ((r = 1; r <= ROUNDS; r++)); do
  log "round $r/$ROUNDS (wrk -t1 -c$CONNS -d${DURATION}s)"
  V1=/v1/models/mnist:predict V2=/v2/models/mnist/infer
  echo "$r v1 predictor $(run $V1 "$P_PRED" "$PID_PRED")" >>"$results"
  echo "$r v1 separate $(run $V1 "$P_SEP" "$PID_SEP" "$PID_PRED")" >>"$results"
  echo "$r v1 inprocess $(run $V1 "$P_IN" "$PID_IN")" >>"$results"
  [[ ${PAIR:-0} == 1 ]] && echo "$r v1 pair $(run $V1 "$P_PAIR" "$PID_PAIR_A" "$PID_PAIR_B")" >>"$results"
  if [[ ${SERVE:-0} == 1 ]]; then
    echo "$r v1 gw-predictor $(HOST=gw-predictor.default.example.com run /v1/models/gw-predictor:predict "$P_GW" \
                                 "$PID_SERVE" "${PIDS_GW_PRED[@]}")" >>"$results"
    echo "$r v1 gw-inprocess $(HOST=gw-inprocess.default.example.com run /v1/models/gw-inprocess:predict "$P_GW" \
                                 "$PID_SERVE" "${PIDS_GW_IN[@]}")" >>"$results"
    echo "$r v1 gw-inprocess-1p $(HOST=gw-inprocess-1p.default.example.com run \
                                    /v1/models/gw-inprocess-1p:predict "$P_GW" "$PID_SERVE" "${PIDS_GW_IN1[@]}")" \
      >>"$results"
  fi
  echo "$r v2 predictor $(run $V2 "$P_PRED" "$PID_PRED")" >>"$results"
  echo "$r v2 separate $(run $V2 "$P_SEP2" "$PID_SEP2" "$PID_PRED")" >>"$results"
  echo "$r v2 inprocess $(run $V2 "$P_IN" "$PID_IN")" >>"$results"
  [[ ${PAIR:-0} == 1 ]] && echo "$r v2 pair $(run $V2 "$P_PAIR" "$PID_PAIR_A" "$PID_PAIR_B")" >>"$results"
done

/usr/bin/python3 - "$results" "$(nproc)" "$(cut -d' ' -f1 /proc/loadavg)" "$WIDTH" "$LOAD0" <<'EOF'
import statistics, sys
by = {}
for line in open(sys.argv[1]):
    r, proto, name, rps, p50, cpu = line.split()
    by.setdefault((proto, name), {})[int(r)] = (float(rps), int(p50), int(cpu))
med = statistics.median
rounds = sorted(by[("v1", "predictor")])
print("transformer_bench: CNN width %s, %d rounds, %s cores, load average %s at the start, %s at the end" % (
    sys.argv[4], len(rounds), sys.argv[2], sys.argv[5], sys.argv[3]))
for proto in ("v1", "v2"):
    for name in ("predictor", "separate", "inprocess", "pair", "gw-predictor", "gw-inprocess", "gw-inprocess-1p"):
        if (proto, name) not in by:
            continue
        v = by[(proto, name)].values()
        print("  %s %-15s %8.0f req/s   p50 %6.2f ms   CPU %5d us/request" % (
            proto, name, med([x[0] for x in v]), med([x[1] for x in v]) / 1000, med([x[2] for x in v])))
    ratio = lambda a, b, i: med([by[(proto, a)][r][i] / by[(proto, b)][r][i] for r in rounds])
    print("  %s in-process over the predictor alone: %+.1f%% req/s, %+.1f%% p50, %+.1f%% CPU per request "
          "(target: <= 15%% added)" % (proto, 100 * (ratio("inprocess", "predictor", 0) - 1),
                                       100 * (ratio("inprocess", "predictor", 1) - 1),
                                       100 * (ratio("inprocess", "predictor", 2) - 1)))
    print("  %s in-process vs separate transformer: %.2fx req/s, %.2fx less CPU per request (target: >= 2x)"
          % (proto, ratio("inprocess", "separate", 0), ratio("separate", "inprocess", 2)))
    if (proto, "gw-inprocess") in by:
        print("  %s through inferd serve's gateway, in-process (--processes) over the predictor alone: %+.1f%% req/s, "
              "%+.1f%% p50, %+.1f%% CPU per request (gateway's CPU included; target: <= 15%% added)" % (
                  proto, 100 * (ratio("gw-inprocess", "gw-predictor", 0) - 1),
                  100 * (ratio("gw-inprocess", "gw-predictor", 1) - 1),
                  100 * (ratio("gw-inprocess", "gw-predictor", 2) - 1)))
        print("  %s through the gateway, in-process as one process (inferd.io/processes: 1) over "
              "the predictor alone: %+.1f%% req/s, %+.1f%% p50, %+.1f%% CPU per request" % (
                  proto, 100 * (ratio("gw-inprocess-1p", "gw-predictor", 0) - 1),
                  100 * (ratio("gw-inprocess-1p", "gw-predictor", 1) - 1),
                  100 * (ratio("gw-inprocess-1p", "gw-predictor", 2) - 1)))
    if (proto, "pair") in by:
        print("  %s in-process --processes 2 over the predictor alone: %+.1f%% req/s, %+.1f%% p50, "
              "%+.1f%% CPU per request; vs separate: %.2fx req/s, %.2fx less CPU" % (
                  proto, 100 * (ratio("pair", "predictor", 0) - 1), 100 * (ratio("pair", "predictor", 1) - 1),
                  100 * (ratio("pair", "predictor", 2) - 1), ratio("pair", "separate", 0), ratio("separate", "pair", 2)))
EOF
