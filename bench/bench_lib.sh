# bench/bench_lib.sh: shell helpers shared by the benchmark scripts (sourced, not run).
# Expects: WORK (scratch directory), PIDS (array of started server pids) and
# die/log functions.

# start_server NAME REGEX CMD...: starts CMD in the background (stdout+stderr to $WORK/NAME.log), waits for
# a line matching REGEX and leaves its capture groups (the ports) in the array PORTS. Not to be called in
# a subshell: the server's pid must reach PIDS for the clean-up.
start_server() {
  local name=$1 regex=$2
  shift 2
  : >"$WORK/$name.log"
  "$@" >"$WORK/$name.log" 2>&1 &
  local pid=$! i line
  PIDS+=("$pid")
  for ((i = 0; i < 300; i++)); do
    if ! kill -0 "$pid" 2>/dev/null; then
      cat "$WORK/$name.log" >&2
      die "$name exited during start-up"
    fi
    line=$(grep -E -m1 "$regex" "$WORK/$name.log" || true)
    if [[ -n "$line" ]]; then
      [[ "$line" =~ $regex ]]
      PORTS=("${BASH_REMATCH[@]:1}")
      return 0
    fi
    sleep 0.1
  done
  die "$name did not report its port within 30 s"
}

wait_ready() {  # URL
  local i
  for ((i = 0; i < 300; i++)); do
    [[ $(curl -s -o /dev/null -w '%{http_code}' "$1" || true) == 200 ]] && return 0
    sleep 0.1
  done
  die "$1 did not become ready within 30 s"
}


# cleanup: stops every server in PIDS, then removes WORK unless KEEP_WORK=1. Scripts install it with
#   trap cleanup EXIT; trap 'exit 130' INT TERM
cleanup() {
  local p
  for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  if [[ "${KEEP_WORK:-0}" == 1 ]]; then echo "$(basename "$0"): scratch kept in $WORK" >&2; else rm -rf "$WORK"; fi
}
