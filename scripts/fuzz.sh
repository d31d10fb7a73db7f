#!/usr/bin/env bash
# Builds the libFuzzer targets (fuzz/, docs/fuzzing.md) in a separate clang build with ASan + UBSan and runs
# each for a bounded time on a scratch copy of its seed corpus (runs never grow the committed corpus).
#
#   bash scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]     (default 60 s, every target; TARGET: v1_json or
#                                                              v1_json_fuzz)
#
# Fails (exit 1) on any crash, leak, sanitizer report, timeout or out-of-memory; the input that did it is kept
# under $FUZZ_OUT (default $FUZZ_BUILD_DIR/fuzz-out) and printed with the command that replays it. Prints the
# executions of every target. Environment: FUZZ_BUILD_DIR (default build-fuzz), JOBS (build, default 2),
# FUZZ_TIMEOUT (seconds one input may take, default 25), FUZZ_RSS_MB (default 2048), FUZZ_KEEP_CORPUS=1 (keep
# the grown scratch corpora under $FUZZ_OUT, e.g. to minimize them into fuzz/corpus/ by hand).
# Started as root, archive_fuzz runs as `nobody`: an extraction bug writes files, and must not be able to write
# outside its scratch directory.
set -euo pipefail
cd "$(dirname "$0")/.."

SECONDS_PER_TARGET=${1:-60}
[[ $# -gt 0 ]] && shift
BUILD=${FUZZ_BUILD_DIR:-build-fuzz}
OUT=${FUZZ_OUT:-$BUILD/fuzz-out}
JOBS=${JOBS:-2}
PER_INPUT_TIMEOUT=${FUZZ_TIMEOUT:-25}
RSS_MB=${FUZZ_RSS_MB:-2048}

if ! command -v clang++ >/dev/null; then
  echo "fuzz: clang++ not found (bash scripts/setup.sh installs clang and libclang-rt-14-dev)" >&2
  exit 2
fi

echo "fuzz: building the fuzz targets in $BUILD (clang, ASan + UBSan + libFuzzer)"
cmake -S . -B "$BUILD" -G Ninja -DINFERD_FUZZ=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_COMPILER=clang++ \
  -DPython3_EXECUTABLE=/usr/bin/python3 >/dev/null
ninja -C "$BUILD" -j"$JOBS" fuzzers

targets=()
if [[ $# -eq 0 ]]; then
  for f in fuzz/*_fuzz.cc; do targets+=("$(basename "$f" .cc)"); done
else
  for t in "$@"; do targets+=("${t%_fuzz}_fuzz"); done
fi

mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
# Scratch on tmpfs when there is one: archive_fuzz writes files for every input.
scratch_root=${TMPDIR:-/tmp}
[[ -z ${TMPDIR:-} && -d /dev/shm && -w /dev/shm ]] && scratch_root=/dev/shm
scratch=$(mktemp -d "$scratch_root/inferd-fuzz.XXXXXX")
trap 'rm -rf "$scratch"' EXIT
chmod 0777 "$scratch"  # archive_fuzz may run as nobody

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:allocator_may_return_null=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

failed=()
summary=()
for t in "${targets[@]}"; do
  bin="$BUILD/fuzz/$t"
  if [[ ! -x "$bin" ]]; then
    echo "fuzz: no target $t (have: $(cd fuzz && ls *_fuzz.cc | sed 's/\.cc//' | tr '\n' ' '))" >&2
    exit 2
  fi
  work="$scratch/$t"
  mkdir -p "$work/corpus" "$work/tmp"
  [[ -d "fuzz/corpus/$t" ]] && cp -r "fuzz/corpus/$t/." "$work/corpus/"
  chmod -R a+rwX "$work"
  log="$OUT/$t.log"
  args=(-max_total_time="$SECONDS_PER_TARGET" -timeout="$PER_INPUT_TIMEOUT" -rss_limit_mb="$RSS_MB"
        -print_final_stats=1 -artifact_prefix="$work/" "$work/corpus")
  run=("$(cd "$(dirname "$bin")" && pwd)/$t")
  if [[ $t == archive_fuzz && $(id -u) -eq 0 ]]; then
    cp "$bin" "$work/$t"  # the checkout may not be readable by nobody (e.g. under /root)
    run=(setpriv --reuid=nobody --regid=nogroup --clear-groups "$work/$t")
  fi
  echo "fuzz: $t for ${SECONDS_PER_TARGET}s ($(ls "$work/corpus" | wc -l) seeds)"
  rc=0
  (cd "$work" && TMPDIR="$work/tmp" "${run[@]}" "${args[@]}") >"$log" 2>&1 || rc=$?
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  execs=${execs:-?}
  # -fno-sanitize-recover makes every report fatal; the grep is a second line in case one is not.
  if [[ $rc -ne 0 ]] || grep -qE "ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)|runtime error:|FUZZ_CHECK failed" "$log"; then
    failed+=("$t")
    summary+=("$(printf '%-22s %12s execs  FAILED (exit %d)' "$t" "$execs" "$rc")")
    rm -rf "$OUT/$t-artifacts"
    mkdir -p "$OUT/$t-artifacts"
    for a in "$work"/crash-* "$work"/leak-* "$work"/timeout-* "$work"/oom-* "$work"/slow-unit-*; do
      [[ -e $a ]] || continue
      cp "$a" "$OUT/$t-artifacts/"
      echo "fuzz: $t: kept $OUT/$t-artifacts/$(basename "$a"); replay: $bin $OUT/$t-artifacts/$(basename "$a")"
    done
    grep -E "ERROR:|runtime error:|FUZZ_CHECK failed|SUMMARY:|^    #[0-9]+ .* in inferd" "$log" | head -30 || true
    echo "fuzz: $t: full log in $log"
  else
    summary+=("$(printf '%-22s %12s execs  ok' "$t" "$execs")")
  fi
  if [[ ${FUZZ_KEEP_CORPUS:-0} == 1 ]]; then
    rm -rf "$OUT/$t-corpus"
    cp -r "$work/corpus" "$OUT/$t-corpus"
  fi
  rm -rf "$work"
done

echo
echo "fuzz: ${SECONDS_PER_TARGET}s per target, $(date -u +%Y-%m-%dT%H:%MZ)"
printf '  %s\n' "${summary[@]}"
if [[ ${#failed[@]} -gt 0 ]]; then
  echo "fuzz: FAILED: ${failed[*]}" >&2
  exit 1
fi
