#!/usr/bin/env bash
# bench/logger_bench.sh: REST throughput of `inferd model-server` with the payload logger on vs off, same run
# (docs/benchmarks.md#payload-logger; target: on >= 0.80 x off).
#
#   bash bench/logger_bench.sh
#
# Two model servers (the XGBoost iris model, --workers W), one with --log_url pointing at a local sink that
# accepts everything, mode all (two events per request). The sink (SINK) is bench/event_sink by default: a
# hand-written counting sink that costs the two shared cores about as little as a sink on another machine
# would (the figure is about the logger); SINK=http_hello uses bare Beast instead (about 4.6 us of CPU per
# event, taken from the measured server on this 2-core machine). wrk -t1 -cCONNS POSTs V1 :predict bodies to each in turn for DURATION seconds, the order flipping
# every round, ROUNDS rounds. Prints each run (for "on": the events delivered per second and the fraction of
# the run's events dropped, from the logger's /metrics counters, and the CPU of the logger's own threads per event
# sent, from /proc/PID/task/*), the median of the per-round ratios on/off,
# and the counters' totals: a ratio bought with drops shows beside it.
# Then below saturation: bench/http_rate (open loop, 16 connections) at RATE req/s (default: half the median
# "off" throughput of the first part) against each server in turn, ROUNDS rounds: p50/p99 with the logger
# off and on, and the events dropped during the "on" runs (the goal there: none, and a small latency cost).
#
# Environment: BUILD_DIR (build: a development build is fine; it needs inferd and bench/http_hello),
#              DURATION (10), ROUNDS (3), CONNS (32), WORKERS (1), LOG_FLAGS (more flags for the logged
#              server, e.g. "--log_workers 1 --log_sender_nice 10"), RATE (req/s of the open-loop part; 0
#              skips it), SINK (event_sink | http_hello), KEEP_WORK=1.
# Needs: wrk, curl, /usr/bin/python3 with xgboost (scripts/gen_test_models.py).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${BUILD_DIR:-$ROOT/build}
DURATION=${DURATION:-10}
ROUNDS=${ROUNDS:-3}
CONNS=${CONNS:-32}
W=${WORKERS:-1}
KILL_AFTER=$((DURATION + 30))
die() { echo "logger_bench: $*" >&2; exit 1; }
log() { echo "[$(date +%H:%M:%S)] $*" >&2; }
for tool in wrk curl; do command -v "$tool" >/dev/null || die "$tool is missing (bash scripts/setup.sh)"; done
SINK_KIND=${SINK:-event_sink}
[[ $SINK_KIND == event_sink || $SINK_KIND == http_hello ]] || die "SINK must be event_sink or http_hello, not '$SINK_KIND'"
[[ -x "$BUILD/inferd" && -x "$BUILD/bench/$SINK_KIND" && -x "$BUILD/bench/http_rate" ]] ||
  die "no inferd / bench/$SINK_KIND / bench/http_rate in $BUILD (ninja -C $BUILD inferd $SINK_KIND http_rate)"

WORK=$(mktemp -d /tmp/inferd-logger-bench.XXXXXX)
PIDS=()
# shellcheck source=bench/bench_lib.sh
source "$ROOT/bench/bench_lib.sh"
trap cleanup EXIT
trap 'exit 130' INT TERM

/usr/bin/python3 "$ROOT/scripts/gen_test_models.py" --examples "$WORK/gen" >/dev/null
mkdir -p "$WORK/model"
cp "$WORK/gen/iris-xgboost/model.bst" "$WORK/model/model.bst"
printf '%s' '{"instances":[[6.8,2.8,4.8,1.4],[6.0,3.4,4.5,1.6]]}' >"$WORK/v1.json"

if [[ $SINK_KIND == event_sink ]]; then
  start_server sink 'listening port=([0-9]+)' "$BUILD/bench/event_sink" --host 127.0.0.1 --port 0
else
  start_server sink 'listening port=([0-9]+)' "$BUILD/bench/http_hello" --host 127.0.0.1 --port 0 --workers 1
fi
SINK=${PORTS[0]}
SINK_PID=${PIDS[-1]}
serve() {  # NAME EXTRA_FLAGS...
  local name=$1
  shift
  start_server "$name" 'listening http_port=([0-9]+)' "$BUILD/inferd" model-server --model_name iris \
    --model_dir "$WORK/model" --host 127.0.0.1 --http_port 0 --grpc_port 0 --enable_grpc false --workers "$W" \
    --log_level warn "$@"
  wait_ready "http://127.0.0.1:${PORTS[0]}/v2/health/ready"
}
serve off
OFF=${PORTS[0]}
OFF_PID=${PIDS[-1]}
serve on --log_url "http://127.0.0.1:$SINK/events" --log_mode all --inference_service iris --namespace bench \
  --component predictor ${LOG_FLAGS:-}
ON=${PORTS[0]}
ON_PID=${PIDS[-1]}
for p in $OFF $ON; do
  a=$(curl -sf -H 'Content-Type: application/json' --data-binary @"$WORK/v1.json" \
        "http://127.0.0.1:$p/v1/models/iris:predict") || die "predict on port $p failed"
  [[ "$a" == *predictions* ]] || die "unexpected answer: $a"
done

run_wrk() {  # PORT -> "rps non2xx socket_errors"
  local out
  out=$(WRK_BODY_FILE=$WORK/v1.json timeout -k 5 "$KILL_AFTER" wrk -t1 -c"$CONNS" -d"${DURATION}s" --latency \
          -s "$ROOT/bench/wrk_post.lua" "http://127.0.0.1:$1/v1/models/iris:predict" 2>&1) || die "wrk failed: $out"
  local line
  line=$(grep WRK_RESULT <<<"$out")
  [[ "$line" =~ rps=([0-9.]+).*non2xx=([0-9]+)\ socket_errors=([0-9]+) ]] || die "no WRK_RESULT: $out"
  echo "${BASH_REMATCH[1]} ${BASH_REMATCH[2]} ${BASH_REMATCH[3]}"
}
cpu_ticks() {  # PID -> utime + stime of all its threads, in clock ticks
  awk '{print $14 + $15}' "/proc/$1/stat"
}
logger_ticks() {  # PID -> utime + stime of its payload logger threads (named inferd-logger), in clock ticks
  local t sum=0
  for t in /proc/"$1"/task/*; do
    [[ $(cat "$t/comm" 2>/dev/null) == inferd-logger ]] && sum=$((sum + $(awk '{print $14 + $15}' "$t/stat")))
  done
  echo "$sum"
}
TICK_US=$((1000000 / $(getconf CLK_TCK)))
metric() {  # PORT NAME
  curl -sf "http://127.0.0.1:$1/metrics" | awk -v n="$2" '$1 == n {printf "%d", $2}'
}
events() {  # -> "sent dropped failed" of the logged server
  echo "$(metric "$ON" 'inferd_logger_events_total{result="sent"}') \
$(metric "$ON" 'inferd_logger_events_total{result="dropped"}') $(metric "$ON" 'inferd_logger_events_total{result="failed"}')"
}

ratios=()
offs=()
for ((r = 1; r <= ROUNDS; r++)); do
  if ((r % 2)); then order=(off on); else order=(on off); fi
  declare -A rps=()
  for name in "${order[@]}"; do
    port=$OFF
    [[ $name == on ]] && port=$ON
    pid=$OFF_PID
    [[ $name == on ]] && pid=$ON_PID
    read -r e0 d0 f0 < <(events)
    c0=$(cpu_ticks "$pid")
    l0=$(logger_ticks "$pid")
    s0=$(cpu_ticks "$SINK_PID")
    read -r x non2xx errs < <(run_wrk "$port")
    c1=$(cpu_ticks "$pid")
    s1=$(cpu_ticks "$SINK_PID")
    sleep 1  # the queue drains (at most --log_queue_size events) before the counters are read
    read -r e1 d1 f1 < <(events)
    l1=$(logger_ticks "$pid")  # after the drain, as the events counted
    ((non2xx == 0 && errs == 0)) || die "$name: $non2xx non-2xx answers, $errs socket errors"
    rps[$name]=$x
    # CPU per request: the server's (its logger threads included) and the sink's, in µs.
    cpu=$(awk -v t=$((c1 - c0)) -v us="$TICK_US" -v r="$x" -v d="$DURATION" 'BEGIN {printf "%.1f", t * us / (r * d)}')
    scpu=$(awk -v t=$((s1 - s0)) -v us="$TICK_US" -v r="$x" -v d="$DURATION" 'BEGIN {printf "%.1f", t * us / (r * d)}')
    extra=""
    if [[ $name == on ]]; then
      extra=$(awk -v s=$((e1 - e0)) -v d=$((d1 - d0)) -v f=$((f1 - f0)) -v t="$DURATION" -v l=$((l1 - l0)) \
        -v us="$TICK_US" 'BEGIN {n = s + d + f; printf ", events delivered %.1fk/s, dropped %.1f%% of %d, logger threads %.2f us/event",
          s / t / 1000, n ? 100 * d / n : 0, n, s + f ? l * us / (s + f) : 0}')
    fi
    log "round $r: logger $name: $x req/s, server cpu ${cpu} us/req, sink cpu ${scpu} us/req$extra"
    if [[ $name == off ]]; then offs+=("$x"); fi
  done
  ratio=$(awk -v a="${rps[on]}" -v b="${rps[off]}" 'BEGIN {printf "%.3f", a / b}')
  ratios+=("$ratio")
  log "round $r: on/off = $ratio"
done
sleep 2  # let the queue drain
sent=$(metric "$ON" 'inferd_logger_events_total{result="sent"}')
dropped=$(metric "$ON" 'inferd_logger_events_total{result="dropped"}')
failed=$(metric "$ON" 'inferd_logger_events_total{result="failed"}')
median_of() { printf '%s\n' "$@" | grep . | sort -n | awk '{a[NR]=$1} END {print a[int((NR + 1) / 2)]}'; }
median=$(median_of "${ratios[@]}")
echo "logger_bench: sink=$SINK_KIND workers=$W conns=$CONNS duration=${DURATION}s rounds=$ROUNDS ratios=${ratios[*]}"
echo "logger_bench: on/off median = $median (target >= 0.80); events sent=$sent dropped=$dropped failed=$failed" \
  "(dropped $(awk -v s="$sent" -v d="$dropped" -v f="$failed" 'BEGIN {n = s + d + f; printf "%.1f", n ? 100 * d / n : 0}')%)"

# Below saturation: open loop at a fixed rate, latency and drops.
off_median=$(median_of "${offs[@]}")
RATE=${RATE:-$(awk -v o="$off_median" 'BEGIN {printf "%d", o / 2}')}
((RATE > 0)) || exit 0
run_rate() {  # PORT -> "achieved p50 p99 errors"
  local out line
  out=$(timeout -k 5 "$KILL_AFTER" "$BUILD/bench/http_rate" --port "$1" --path /v1/models/iris:predict \
          --body_file "$WORK/v1.json" --rate "$RATE" --connections 16 --duration_s "$DURATION" --warmup_s 1 2>&1) ||
    die "http_rate failed: $out"
  line=$(grep -m1 '^offered_rps=' <<<"$out") || die "no result from http_rate: $out"
  [[ "$line" =~ achieved_rps=([0-9.]+).*p50_us=([0-9]+).*p99_us=([0-9]+).*errors=([0-9]+).*unanswered=([0-9]+) ]] ||
    die "unexpected http_rate line: $line"
  echo "${BASH_REMATCH[1]} ${BASH_REMATCH[2]} ${BASH_REMATCH[3]} $((BASH_REMATCH[4] + BASH_REMATCH[5]))"
}
declare -A p50s=() p99s=()
open_dropped=0
open_events=0
for ((r = 1; r <= ROUNDS; r++)); do
  if ((r % 2)); then order=(off on); else order=(on off); fi
  for name in "${order[@]}"; do
    port=$OFF
    [[ $name == on ]] && port=$ON
    read -r e0 d0 f0 < <(events)
    read -r got p50 p99 errs < <(run_rate "$port")
    sleep 1
    read -r e1 d1 f1 < <(events)
    p50s[$name]+="$p50 "
    p99s[$name]+="$p99 "
    extra=""
    if [[ $name == on ]]; then
      open_dropped=$((open_dropped + d1 - d0))
      open_events=$((open_events + e1 - e0 + d1 - d0 + f1 - f0))
      extra=", events sent $((e1 - e0)) dropped $((d1 - d0)) failed $((f1 - f0))"
    fi
    # errors: non-200 answers, broken connections and requests unanswered 2 s after the window (the server or
    # http_rate could not keep up: then the percentiles miss them and mean little).
    log "open loop round $r: logger $name: ${got} req/s (offered $RATE) p50=${p50}us p99=${p99}us errors=$errs$extra"
  done
done
# shellcheck disable=SC2086
echo "logger_bench: open loop at $RATE req/s: p50 off/on = $(median_of ${p50s[off]})/$(median_of ${p50s[on]}) us," \
  "p99 off/on = $(median_of ${p99s[off]})/$(median_of ${p99s[on]}) us (medians of $ROUNDS); events dropped" \
  "$open_dropped of $open_events"
