#!/usr/bin/env bash
# bench/run_bench.sh: inferd against same-run references (see docs/benchmarks.md).
#
#   bash bench/run_bench.sh
#
# Builds Release into build-release, writes the XGBoost iris model, then in one run:
#   REST peak   wrk -t1 -c64 --latency, POST bodies from bench/wrk_post.lua, against
#               inferd V1 (:predict), inferd V2 (/infer), http_hello (bare Beast, same threading model,
#               answering a JSON body of the size of inferd's answer) and nginx (static file of that
#               size), with the servers at --workers 1 and 2 (WORKERS_LIST; the first is the headline);
#   REST half   latency at 50% of inferd's measured peak (headline workers), inferd and http_hello at the
#               same offered rate, 16 connections: bench/http_rate (open loop, decides the p99 target) and
#               hey -c16 -q (closed loop per worker, a cross-check; HEY=0 skips it);
#   gRPC        grpc_load (ModelInfer, one iris row, 64 in flight) against inferd and grpc_echo_server.
# Runs are interleaved (inferd, then its references; the order flips every round) and repeated
# ROUNDS times; the table gives medians, ratios are medians of the per-round ratios, and every run
# also records the server's CPU time per request (the figure the noise on a shared box moves least).
# Every load run lasts DURATION seconds (plus a kill-timeout). Servers listen on 127.0.0.1 only.
#
# Environment: DURATION (10), ROUNDS (3), WORKERS_LIST ("1 2"), BUILD_DIR (build-release), HEY (1),
#              SKIP_BUILD=1 (use the binaries already in BUILD_DIR), RESULTS_DIR (BUILD_DIR/bench-results),
#              KEEP_WORK=1 (keep the scratch directory with the servers' logs).
# Needs: cmake, ninja, wrk, hey, nginx, curl, /usr/bin/python3 with xgboost (scripts/setup.sh).
# Exit status: 0 when it ran (whatever the targets say), 1 when something could not run.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${BUILD_DIR:-$ROOT/build-release}
DURATION=${DURATION:-10}
ROUNDS=${ROUNDS:-3}
read -r -a WORKERS <<<"${WORKERS_LIST:-1 2}"
HEADLINE_W=${WORKERS[0]}
CONNS=64
HALF_CONNS=16
RESULTS_DIR=${RESULTS_DIR:-$BUILD/bench-results}
KILL_AFTER=$((DURATION + 30))

die() { echo "run_bench: $*" >&2; exit 1; }
log() { echo "[$(date +%H:%M:%S)] $*" >&2; }

tools=(cmake ninja wrk nginx curl)
[[ "${HEY:-1}" == 1 ]] && tools+=(hey)
for tool in "${tools[@]}"; do
  command -v "$tool" >/dev/null || die "$tool is missing (bash scripts/setup.sh installs it)"
done
[[ -x /usr/bin/python3 ]] || die "/usr/bin/python3 is missing"

# ---- build ---------------------------------------------------------------------------------------
if [[ "${SKIP_BUILD:-0}" != 1 ]]; then
  log "building Release into $BUILD"
  # INFERD_WERROR=OFF: GCC 12 at -O3 reports false -Wrestrict positives in libstdc++'s string
  # concatenation (GCC PR 105651); warnings are policed by the development builds, not by this one.
  cmake -S "$ROOT" -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release -DPython3_EXECUTABLE=/usr/bin/python3 \
    -DINFERD_BUILD_TESTS=OFF -DINFERD_WERROR=OFF >/dev/null
  ninja -C "$BUILD" -j2 inferd http_hello http_rate
  HAVE_GRPC_BENCH=1
  if ! ninja -C "$BUILD" -j2 grpc_echo_server grpc_load; then
    HAVE_GRPC_BENCH=0
    log "grpc_echo_server / grpc_load did not build: the gRPC part will be skipped"
  fi
fi
[[ -x "$BUILD/inferd" && -x "$BUILD/bench/http_hello" && -x "$BUILD/bench/http_rate" ]] ||
  die "no inferd / bench/http_hello / bench/http_rate in $BUILD"
if [[ -x "$BUILD/bench/grpc_echo_server" && -x "$BUILD/bench/grpc_load" && "${HAVE_GRPC_BENCH:-1}" == 1 ]]; then
  HAVE_GRPC_BENCH=1
else
  HAVE_GRPC_BENCH=0
fi

# ---- scratch, process bookkeeping ----------------------------------------------------------------
WORK=$(mktemp -d /tmp/inferd-bench.XXXXXX)
chmod 755 "$WORK"  # nginx workers run as nobody and read the static files from here
RESULTS=$WORK/results.tsv
: >"$RESULTS"
PIDS=()
PORTS=()
source "$ROOT/bench/bench_lib.sh"  # start_server, wait_ready, cleanup
trap cleanup EXIT
trap 'exit 130' INT TERM

# The server processes behind a run name (inferd-v1/w1@50% -> inferd with 1 worker, ...), for CPU accounting.
declare -A SERVER_PIDS
pids_for() {
  local name=${1%%@50%*} w
  w=${name##*/w}
  case $name in
    inferd-grpc) echo "${SERVER_PIDS[inferd-w$HEADLINE_W]}" ;;
    echo-grpc) echo "${SERVER_PIDS[grpc-echo]}" ;;
    inferd-*) echo "${SERVER_PIDS[inferd-w$w]}" ;;
    hello-v1/*) echo "${SERVER_PIDS[hello-v1-w$w]}" ;;
    hello-v2/*) echo "${SERVER_PIDS[hello-v2-w$w]}" ;;
    nginx-*) echo "${SERVER_PIDS[nginx-w$w]}" ;;
  esac
}
# CPU time (user + system, in clock ticks) used so far by the server processes of run NAME.
cpu_ticks() {
  local total=0 p t
  for p in $(pids_for "$1"); do
    t=$(awk '{print $14 + $15}' "/proc/$p/stat" 2>/dev/null || echo 0)
    total=$((total + t))
  done
  echo "$total"
}
CLK_TCK=$(getconf CLK_TCK)
# cpu_us_per_req TICKS_BEFORE TICKS_AFTER REQUESTS: server CPU microseconds per request.
cpu_us_per_req() {
  /usr/bin/python3 -c "import sys; b, a, n = map(float, sys.argv[1:]); print(f'{(a - b) * 1e6 / $CLK_TCK / n:.1f}' if n else 'nan')" "$@"
}

# record NAME ROUND RPS P50_US P99_US ERRORS CPU_US_PER_REQ [EXTRA]
record() {
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" "$5" "$6" "$7" "${8:-}" >>"$RESULTS"
}

# run_wrk NAME ROUND URL BODY_FILE [DURATION]
run_wrk() {
  local name=$1 round=$2 url=$3 body=$4 d=${5:-$DURATION} out c0 c1
  c0=$(cpu_ticks "$name")
  out=$(WRK_BODY_FILE=$body timeout -k 5 "$KILL_AFTER" wrk -t1 -c"$CONNS" -d"${d}s" --latency \
          -s "$ROOT/bench/wrk_post.lua" "$url" 2>&1) || die "wrk against $name failed: $out"
  c1=$(cpu_ticks "$name")
  [[ "$round" == warmup ]] && return 0
  local line
  line=$(grep -m1 '^WRK_RESULT' <<<"$out") || die "no WRK_RESULT from wrk against $name: $out"
  local rps p50 p99 non2xx sock n cpu
  rps=$(sed -E 's/.* rps=([0-9.]+).*/\1/' <<<"$line")
  p50=$(sed -E 's/.* p50_us=([0-9]+).*/\1/' <<<"$line")
  p99=$(sed -E 's/.* p99_us=([0-9]+).*/\1/' <<<"$line")
  non2xx=$(sed -E 's/.* non2xx=([0-9]+).*/\1/' <<<"$line")
  sock=$(sed -E 's/.* socket_errors=([0-9]+).*/\1/' <<<"$line")
  n=$(sed -E 's/.*requests=([0-9]+).*/\1/' <<<"$line")
  cpu=$(cpu_us_per_req "$c0" "$c1" "$n")
  record "$name" "$round" "$rps" "$p50" "$p99" $((non2xx + sock)) "$cpu"
  log "  $name: ${rps} req/s p50=${p50}us p99=${p99}us errors=$((non2xx + sock)) server_cpu=${cpu}us/req"
}

# run_rate NAME ROUND PORT PATH BODY_FILE RATE: open-loop latency at a fixed offered rate (bench/http_rate.cc).
run_rate() {
  local name=$1 round=$2 port=$3 path=$4 body=$5 rate=$6 out c0 c1 line
  c0=$(cpu_ticks "$name")
  out=$(timeout -k 5 "$KILL_AFTER" "$BUILD/bench/http_rate" --port "$port" --path "$path" --body_file "$body" \
          --rate "$rate" --connections "$HALF_CONNS" --duration_s "$DURATION" --warmup_s 1 2>&1) ||
    die "http_rate against $name failed: $out"
  c1=$(cpu_ticks "$name")
  line=$(grep -m1 '^offered_rps=' <<<"$out") || die "no result line from http_rate against $name: $out"
  local rps p50 p99 err lost cpu
  rps=$(sed -E 's/.*achieved_rps=([0-9.]+).*/\1/' <<<"$line")
  p50=$(sed -E 's/.*p50_us=([0-9]+).*/\1/' <<<"$line")
  p99=$(sed -E 's/.*p99_us=([0-9]+).*/\1/' <<<"$line")
  err=$(sed -E 's/.*errors=([0-9]+).*/\1/' <<<"$line")
  lost=$(sed -E 's/.*unanswered=([0-9]+).*/\1/' <<<"$line")
  # http_rate's 1 s warm-up runs at the same rate as the measured window.
  cpu=$(cpu_us_per_req "$c0" "$c1" "$(/usr/bin/python3 -c "print($rate * ($DURATION + 1))")")
  record "$name" "$round" "$rps" "$p50" "$p99" $((err + lost)) "$cpu" "target_rps=$rate"
  log "  $name: ${rps} req/s (offered $rate) p50=${p50}us p99=${p99}us errors=$((err + lost)) server_cpu=${cpu}us/req"
}

# run_hey NAME ROUND PORT PATH BODY_FILE TOTAL_RATE (hey: closed loop per worker, see docs/benchmarks.md)
run_hey() {
  local name=$1 round=$2 url=http://127.0.0.1:$3$4 body=$5 rate=$6 out q c0 c1
  q=$(/usr/bin/python3 -c "print(f'{$rate / $HALF_CONNS:.2f}')")
  c0=$(cpu_ticks "$name")
  out=$(timeout -k 5 "$KILL_AFTER" hey -z "${DURATION}s" -c "$HALF_CONNS" -q "$q" -m POST -T application/json \
          -D "$body" "$url" 2>&1) || die "hey against $name failed: $out"
  c1=$(cpu_ticks "$name")
  local rps p50 p99 ok total
  rps=$(awk '/Requests\/sec:/ {print $2; exit}' <<<"$out")
  p50=$(awk '$1 == "50%" && $2 == "in" {printf "%d", $3 * 1e6; exit}' <<<"$out")
  p99=$(awk '$1 == "99%" && $2 == "in" {printf "%d", $3 * 1e6; exit}' <<<"$out")
  ok=$(awk '$1 == "[200]" {print $2; exit}' <<<"$out")
  total=$(awk '/^ +\[[0-9]+\]/ {n += $2} END {print n + 0}' <<<"$out")
  [[ -n "$rps" && -n "$p50" && -n "$p99" ]] || die "cannot parse hey's output against $name: $out"
  local cpu
  cpu=$(cpu_us_per_req "$c0" "$c1" "$total")
  record "$name" "$round" "$rps" "$p50" "$p99" $((total - ${ok:-0})) "$cpu" "target_rps=$rate"
  log "  $name: ${rps} req/s (target $rate) p50=${p50}us p99=${p99}us errors=$((total - ${ok:-0})) server_cpu=${cpu}us/req"
}

# run_grpc NAME ROUND TARGET
run_grpc() {
  local name=$1 round=$2 target=$3 out c0 c1
  c0=$(cpu_ticks "$name")
  out=$(timeout -k 5 "$KILL_AFTER" "$BUILD/bench/grpc_load" --target "$target" --concurrency "$CONNS" \
          --duration_s "$DURATION" --warmup_s 1 --model iris 2>&1) || die "grpc_load against $name failed: $out"
  c1=$(cpu_ticks "$name")
  local line
  line=$(grep -m1 '^calls_per_s=' <<<"$out") || die "no result line from grpc_load against $name: $out"
  local rps p50 p99 err cpu
  rps=$(sed -E 's/.*calls_per_s=([0-9.]+).*/\1/' <<<"$line")
  p50=$(sed -E 's/.*p50_us=([0-9.]+).*/\1/' <<<"$line")
  p99=$(sed -E 's/.*p99_us=([0-9.]+).*/\1/' <<<"$line")
  err=$(sed -E 's/.*errors=([0-9]+).*/\1/' <<<"$line")
  # grpc_load's rate covers the measured window only; its 1 s warm-up runs at about the same rate.
  cpu=$(cpu_us_per_req "$c0" "$c1" "$(/usr/bin/python3 -c "print($rps * ($DURATION + 1))")")
  record "$name" "$round" "$rps" "$p50" "$p99" "$err" "$cpu"
  log "  $name: ${rps} calls/s p50=${p50}us p99=${p99}us errors=$err server_cpu=${cpu}us/call"
}

# ---- model, request bodies -----------------------------------------------------------------------
log "writing the iris model"
/usr/bin/python3 "$ROOT/scripts/gen_test_models.py" --examples "$WORK/gen" >/dev/null
mkdir -p "$WORK/model"
cp "$WORK/gen/iris-xgboost/model.bst" "$WORK/model/model.bst"  # alone: other files confuse format detection
printf '%s' '{"instances":[[6.8,2.8,4.8,1.4],[6.0,3.4,4.5,1.6]]}' >"$WORK/v1.json"
printf '%s' '{"inputs":[{"name":"input-0","shape":[1,4],"datatype":"FP32","data":[6.8,2.8,4.8,1.4]}]}' >"$WORK/v2.json"

# ---- servers -------------------------------------------------------------------------------------
declare -A INFERD_HTTP INFERD_GRPC HELLO_V1 HELLO_V2 NGINX NGINX_MASTER
for w in "${WORKERS[@]}"; do
  start_server "inferd-w$w" 'listening http_port=([0-9]+) grpc_port=([0-9]+)' \
    "$BUILD/inferd" model-server --model_name iris --model_dir "$WORK/model" --host 127.0.0.1 \
    --http_port 0 --grpc_port 0 --workers "$w"
  SERVER_PIDS[inferd-w$w]=${PIDS[-1]}
  INFERD_HTTP[$w]=${PORTS[0]}
  INFERD_GRPC[$w]=${PORTS[1]}
  wait_ready "http://127.0.0.1:${INFERD_HTTP[$w]}/v2/health/ready"
done
base=http://127.0.0.1:${INFERD_HTTP[$HEADLINE_W]}
V1_URL_PATH=/v1/models/iris:predict
V2_URL_PATH=/v2/models/iris/infer
v1_answer=$(curl -sf -H 'Content-Type: application/json' --data-binary @"$WORK/v1.json" "$base$V1_URL_PATH") ||
  die "V1 predict failed"
# multi:softmax class ids: FP32 since issue 12, as KServe's xgbserver answers them ([1,1] before).
[[ "$v1_answer" == '{"predictions":[1.0,1.0]}' || "$v1_answer" == '{"predictions":[1,1]}' ]] ||
  die "unexpected V1 answer: $v1_answer"
v2_answer=$(curl -sf -H 'Content-Type: application/json' --data-binary @"$WORK/v2.json" "$base$V2_URL_PATH") ||
  die "V2 infer failed"
[[ "$v2_answer" == *'"outputs"'* ]] || die "unexpected V2 answer: $v2_answer"
V1_BYTES=${#v1_answer}
V2_BYTES=${#v2_answer}
log "inferd answers: V1 $V1_BYTES bytes, V2 $V2_BYTES bytes ($v2_answer)"

# Static files for nginx, of the same sizes (made by http_hello's rule: {"x":"aaa..."}).
mkbody() { /usr/bin/python3 -c "import sys; n=int(sys.argv[1]); sys.stdout.write('{\"x\":\"' + 'a'*(n-8) + '\"}')" "$1"; }
mkdir -p "$WORK/www"
chmod 755 "$WORK/www"
mkbody "$V1_BYTES" >"$WORK/www/v1.json"
mkbody "$V2_BYTES" >"$WORK/www/v2.json"
chmod 644 "$WORK/www/"*.json

for w in "${WORKERS[@]}"; do
  start_server "hello-v1-w$w" 'http_hello listening port=([0-9]+)' \
    "$BUILD/bench/http_hello" --port 0 --workers "$w" --body_bytes "$V1_BYTES"
  HELLO_V1[$w]=${PORTS[0]}
  SERVER_PIDS[hello-v1-w$w]=${PIDS[-1]}
  start_server "hello-v2-w$w" 'http_hello listening port=([0-9]+)' \
    "$BUILD/bench/http_hello" --port 0 --workers "$w" --body_bytes "$V2_BYTES"
  HELLO_V2[$w]=${PORTS[0]}
  SERVER_PIDS[hello-v2-w$w]=${PIDS[-1]}
  # nginx: a free loopback port picked by the kernel and released just before nginx binds it.
  port=$(/usr/bin/python3 -c "import socket; s=socket.socket(); s.bind(('127.0.0.1',0)); print(s.getsockname()[1])")
  mkdir -p "$WORK/nginx-w$w"
  cat >"$WORK/nginx-w$w/nginx.conf" <<EOF
daemon off;
master_process on;
worker_processes $w;
pid $WORK/nginx-w$w/nginx.pid;
error_log $WORK/nginx-w$w/error.log warn;
events { worker_connections 1024; }
http {
  types { application/json json; }
  default_type application/json;
  access_log off;
  # A small static file is answered fastest from cached metadata with one writev (no sendfile, no
  # open/fstat/close per request); these settings took nginx from ~15k to ~24k POST req/s here.
  sendfile off;
  open_file_cache max=16 inactive=600s;
  open_file_cache_valid 600s;
  etag off;
  tcp_nodelay on;
  keepalive_requests 100000000;
  keepalive_timeout 120s;
  client_body_temp_path $WORK/nginx-w$w/body;
  proxy_temp_path $WORK/nginx-w$w/proxy;
  fastcgi_temp_path $WORK/nginx-w$w/fastcgi;
  uwsgi_temp_path $WORK/nginx-w$w/uwsgi;
  scgi_temp_path $WORK/nginx-w$w/scgi;
  server {
    listen 127.0.0.1:$port;
    root $WORK/www;
    # The static module answers POST with 405; serve the file anyway, as wrk POSTs the same body to
    # every server.
    error_page 405 =200 \$uri;
  }
}
EOF
  nginx -c "$WORK/nginx-w$w/nginx.conf" -p "$WORK/nginx-w$w" >"$WORK/nginx-w$w.log" 2>&1 &
  PIDS+=($!)
  NGINX[$w]=$port
  NGINX_MASTER[$w]=$!
done
for w in "${WORKERS[@]}"; do
  for u in "http://127.0.0.1:${HELLO_V1[$w]}/" "http://127.0.0.1:${NGINX[$w]}/v1.json"; do
    wait_ready "$u"
    got=$(curl -sf -H 'Content-Type: application/json' --data-binary @"$WORK/v1.json" "$u") ||
      die "POST $u failed"
    [[ ${#got} == "$V1_BYTES" ]] || die "$u answered ${#got} bytes, not $V1_BYTES"
  done
  for u in "http://127.0.0.1:${HELLO_V2[$w]}/" "http://127.0.0.1:${NGINX[$w]}/v2.json"; do
    got=$(curl -sf -H 'Content-Type: application/json' --data-binary @"$WORK/v2.json" "$u") ||
      die "POST $u failed"
    [[ ${#got} == "$V2_BYTES" ]] || die "$u answered ${#got} bytes, not $V2_BYTES"
  done
done

for w in "${WORKERS[@]}"; do  # nginx's CPU is its master's and its workers' (up by now: it answered)
  SERVER_PIDS[nginx-w$w]="${NGINX_MASTER[$w]} $(cat /proc/"${NGINX_MASTER[$w]}"/task/*/children)"
done

# ---- REST peak -----------------------------------------------------------------------------------
# One entry per load run: NAME URL BODY_FILE, in the order inferd, same-stack reference, nginx.
rest_runs() {  # API W
  local api=$1 w=$2
  if [[ $api == v1 ]]; then
    echo "inferd-v1/w$w http://127.0.0.1:${INFERD_HTTP[$w]}$V1_URL_PATH $WORK/v1.json"
    echo "hello-v1/w$w http://127.0.0.1:${HELLO_V1[$w]}$V1_URL_PATH $WORK/v1.json"
    echo "nginx-v1/w$w http://127.0.0.1:${NGINX[$w]}/v1.json $WORK/v1.json"
  else
    echo "inferd-v2/w$w http://127.0.0.1:${INFERD_HTTP[$w]}$V2_URL_PATH $WORK/v2.json"
    echo "hello-v2/w$w http://127.0.0.1:${HELLO_V2[$w]}$V2_URL_PATH $WORK/v2.json"
    echo "nginx-v2/w$w http://127.0.0.1:${NGINX[$w]}/v2.json $WORK/v2.json"
  fi
}

log "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), load $(cut -d' ' -f1-3 /proc/loadavg)"
log "warm-up (2 s per server)"
for api in v1 v2; do
  for w in "${WORKERS[@]}"; do
    while read -r name url body; do run_wrk "$name" warmup "$url" "$body" 2; done < <(rest_runs "$api" "$w")
  done
done

for ((r = 1; r <= ROUNDS; r++)); do
  log "REST round $r/$ROUNDS (wrk -t1 -c$CONNS -d${DURATION}s)"
  for api in v1 v2; do
    for w in "${WORKERS[@]}"; do
      if ((r % 2)); then order=cat; else order=tac; fi  # flip inferd / references every round
      while read -r name url body; do run_wrk "$name" "$r" "$url" "$body"; done < <(rest_runs "$api" "$w" | $order)
    done
  done
done

median_rps() {  # NAME
  /usr/bin/python3 - "$RESULTS" "$1" <<'EOF'
import statistics, sys
v = [float(l.split("\t")[2]) for l in open(sys.argv[1]) if l.split("\t")[0] == sys.argv[2]]
print(f"{statistics.median(v):.0f}")
EOF
}

# ---- REST at half of the peak --------------------------------------------------------------------
PEAK_V1=$(median_rps "inferd-v1/w$HEADLINE_W")
PEAK_V2=$(median_rps "inferd-v2/w$HEADLINE_W")
HALF_V1=$((PEAK_V1 / 2))
HALF_V2=$((PEAK_V2 / 2))
for ((r = 1; r <= ROUNDS; r++)); do
  log "half-load round $r/$ROUNDS (http_rate, open loop, $HALF_CONNS connections, ${DURATION}s at 50% of inferd's peak; workers $HEADLINE_W)"
  # hello at the same offered rate: the latency floor of the client, the HTTP stack and this machine.
  if ((r % 2)); then order=cat; else order=tac; fi
  half_runs() {
    printf '%s\n' \
      "inferd-v1/w$HEADLINE_W@50%$1 ${INFERD_HTTP[$HEADLINE_W]} $V1_URL_PATH $WORK/v1.json $HALF_V1" \
      "hello-v1/w$HEADLINE_W@50%$1 ${HELLO_V1[$HEADLINE_W]} $V1_URL_PATH $WORK/v1.json $HALF_V1" \
      "inferd-v2/w$HEADLINE_W@50%$1 ${INFERD_HTTP[$HEADLINE_W]} $V2_URL_PATH $WORK/v2.json $HALF_V2" \
      "hello-v2/w$HEADLINE_W@50%$1 ${HELLO_V2[$HEADLINE_W]} $V2_URL_PATH $WORK/v2.json $HALF_V2" | $order
  }
  while read -r name port path body rate; do run_rate "$name" "$r" "$port" "$path" "$body" "$rate"; done < <(half_runs "")
  if [[ "${HEY:-1}" == 1 ]]; then
    log "half-load round $r/$ROUNDS, the same with hey -c$HALF_CONNS -q (closed loop; a cross-check)"
    while read -r name port path body rate; do run_hey "$name" "$r" "$port" "$path" "$body" "$rate"; done < <(half_runs "/hey")
  fi
done

# ---- gRPC ----------------------------------------------------------------------------------------
if [[ $HAVE_GRPC_BENCH == 1 ]]; then
  start_server grpc-echo 'grpc_echo_server listening port=([0-9]+)' \
    "$BUILD/bench/grpc_echo_server" --host 127.0.0.1 --port 0
  ECHO_PORT=${PORTS[0]}
  SERVER_PIDS[grpc-echo]=${PIDS[-1]}
  for ((r = 1; r <= ROUNDS; r++)); do
    log "gRPC round $r/$ROUNDS (grpc_load ModelInfer, $CONNS in flight, ${DURATION}s)"
    if ((r % 2)); then
      run_grpc "inferd-grpc" "$r" "127.0.0.1:${INFERD_GRPC[$HEADLINE_W]}"
      run_grpc "echo-grpc" "$r" "127.0.0.1:$ECHO_PORT"
    else
      run_grpc "echo-grpc" "$r" "127.0.0.1:$ECHO_PORT"
      run_grpc "inferd-grpc" "$r" "127.0.0.1:${INFERD_GRPC[$HEADLINE_W]}"
    fi
  done
else
  log "SKIPPED gRPC: $BUILD/bench/grpc_echo_server or grpc_load is not built"
fi

# ---- report --------------------------------------------------------------------------------------
stamp=$(date +%Y%m%d-%H%M%S)
mkdir -p "$RESULTS_DIR"
cp "$RESULTS" "$RESULTS_DIR/results-$stamp.tsv"
/usr/bin/python3 - "$RESULTS" "$HEADLINE_W" "${WORKERS[*]}" "$HAVE_GRPC_BENCH" "$V1_BYTES" "$V2_BYTES" \
  "$DURATION" "$ROUNDS" <<'EOF' | tee "$RESULTS_DIR/summary-$stamp.txt"
import collections, statistics, sys
path, head_w, workers, have_grpc, v1_bytes, v2_bytes, duration, rounds = sys.argv[1:]
rows = collections.defaultdict(list)
by_round = collections.defaultdict(dict)
extra = {}
for line in open(path):
    name, rnd, rps, p50, p99, err, cpu, ex = line.rstrip("\n").split("\t")
    rows[name].append((float(rps), float(p50), float(p99), int(err), float(cpu)))
    by_round[name][rnd] = float(rps)
    if ex:
        extra[name] = ex
def ratio(name, ref):
    # Median of the per-round ratios: each round's inferd and reference runs are neighbours in time, so
    # the pairing cancels most of the drift in what else the machine is doing.
    return statistics.median(by_round[name][r] / by_round[ref][r] for r in by_round[name] if r in by_round[ref])
def med(name, i):
    return statistics.median(r[i] for r in rows[name])
def spread(name):
    v = [r[0] for r in rows[name]]
    return (max(v) - min(v)) / statistics.median(v) if len(v) > 1 else 0.0
def errs(name):
    return sum(r[3] for r in rows[name])
def us(v):
    return f"{v / 1000:.2f} ms" if v >= 1000 else f"{v:.0f} us"

print()
print(f"inferd benchmark: {duration} s per run, {rounds} round(s), medians; REST answers V1 {v1_bytes} B, "
      f"V2 {v2_bytes} B;\ncpu = server CPU time per request; spread = (max - min) / median of req/s; "
      f"ratio = median of the per-round ratios of req/s")
print(f"{'name':<22} {'req/s':>8} {'spread':>6} {'p50':>8} {'p99':>8} {'cpu':>7} {'errors':>6}  ratio (inferd / reference)")
refs = {}
for api in ("v1", "v2"):
    for w in workers.split():
        refs[f"inferd-{api}/w{w}"] = [f"hello-{api}/w{w}", f"nginx-{api}/w{w}"]
refs["inferd-grpc"] = ["echo-grpc"]
order = []
for api in ("v1", "v2"):
    for w in workers.split():
        order += [f"inferd-{api}/w{w}", f"hello-{api}/w{w}", f"nginx-{api}/w{w}"]
order += sorted(n for n in rows if "@50%" in n) + ["inferd-grpc", "echo-grpc"]
for name in order:
    if name not in rows:
        continue
    note = ""
    if name in refs:
        note = "  ".join(f"{ratio(name, ref):.2f} vs {ref.split('/')[0].split('-')[0]}"
                         for ref in refs[name] if ref in rows)
    if name in extra:
        note = extra[name].replace("target_rps=", "offered ") + " req/s"
    print(f"{name:<22} {med(name, 0):>8.0f} {spread(name):>6.0%} {us(med(name, 1)):>8} {us(med(name, 2)):>8} "
          f"{med(name, 4):>5.0f}us {errs(name):>6}  {note}")

print()
verdicts = []
def check(label, ok, detail):
    verdicts.append(ok)
    print(f"{'PASS' if ok else 'FAIL'}  {label}: {detail}")
for api, label in (("v1", "V1"), ("v2", "V2")):
    n, ref, ngx = f"inferd-{api}/w{head_w}", f"hello-{api}/w{head_w}", f"nginx-{api}/w{head_w}"
    r = ratio(n, ref)
    check(f"REST {label} req/s >= 60% of the same-stack reference (workers {head_w})", r >= 0.60 and errs(n) == 0,
          f"{r:.1%} ({med(n, 0):.0f} vs {med(ref, 0):.0f} req/s; vs nginx {ratio(n, ngx):.1%})")
for api, label in (("v1", "V1"), ("v2", "V2")):
    n = f"inferd-{api}/w{head_w}@50%"
    target = float(extra[n].split("=")[1])
    reached = med(n, 0) >= 0.9 * target
    note = "" if reached else f"; the client reached only {med(n, 0):.0f} of {target:.0f} req/s"
    floor = f"hello-{api}/w{head_w}@50%"
    if floor in rows:
        note += f"; hello at the same rate: p99 {us(med(floor, 2))}"
    if n + "/hey" in rows:
        note += f"; hey says p99 {us(med(n + '/hey', 2))} (hello {us(med(floor + '/hey', 2))})"
    check(f"REST {label} p99 < 2 ms at 50% of peak (workers {head_w})", med(n, 2) < 2000 and reached and errs(n) == 0,
          f"p99 {us(med(n, 2))} at {med(n, 0):.0f} req/s{note}")
if have_grpc == "1" and "inferd-grpc" in rows:
    r = ratio("inferd-grpc", "echo-grpc")
    check("gRPC ModelInfer calls/s >= 70% of the bare echo service", r >= 0.70 and errs("inferd-grpc") == 0,
          f"{r:.1%} ({med('inferd-grpc', 0):.0f} vs {med('echo-grpc', 0):.0f} calls/s)")
else:
    print("SKIP  gRPC ModelInfer calls/s >= 70% of the bare echo service: grpc_echo_server / grpc_load not built")
print(f"\n{sum(verdicts)}/{len(verdicts)} targets met")
EOF
log "results: $RESULTS_DIR/results-$stamp.tsv, $RESULTS_DIR/summary-$stamp.txt; load at the end $(cut -d' ' -f1-3 /proc/loadavg)"
