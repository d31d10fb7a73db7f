#!/usr/bin/env bash
# Clang's thread-safety analysis (-Wthread-safety, src/core/thread_annotations.h) over every src/ unit of
# the main (GCC) build, without a second build: each unit's command from $BUILD_DIR/compile_commands.json
# is rerun as `clang++ -fsyntax-only` with the same defines, include paths and standard, GCC's warning flags
# replaced by -Wthread-safety -Werror=thread-safety alone (other warnings are GCC's job). Units under tests/
# that include core/mutex.h are checked too. Any violation fails the script, which prints clang's messages.
#
# A unit is checked again only when its command or a file it includes changed since it last passed (clang's
# -MD dependency lists, kept in $BUILD_DIR/thread-safety/), so a rerun with nothing changed costs seconds.
#   BUILD_DIR (build)  JOBS (2)  CLANGXX (clang++-14, else clang++)
#   THREAD_SAFETY_FORCE=1 checks every unit again.
#   SOURCE_DIR (this repository): the tree whose src/ and tests/ units are checked (BUILD_DIR is relative to it).
# Needs clang (scripts/setup.sh installs it); run after a configure of $BUILD_DIR (dev.sh build).
# First, scripts/check_std_locks.py: no std::mutex / condition_variable / lock guard in src/ outside
# core/mutex.h and its allowlist (the analysis cannot see those locks), a grep of src/ in milliseconds.
set -euo pipefail
SCRIPTS=$(cd "$(dirname "$0")" && pwd)
cd "${SOURCE_DIR:-$SCRIPTS/..}"
/usr/bin/python3 "$SCRIPTS/check_std_locks.py" .

BUILD_DIR=${BUILD_DIR:-build}
JOBS=${JOBS:-2}
if [[ -z ${CLANGXX:-} ]]; then
  CLANGXX=$(command -v clang++-14 || command -v clang++ || true)
fi
if [[ -z $CLANGXX ]]; then
  echo "check_thread_safety: no clang++ (run scripts/setup.sh)" >&2
  exit 1
fi
if [[ ! -f $BUILD_DIR/compile_commands.json ]]; then
  echo "check_thread_safety: $BUILD_DIR/compile_commands.json missing (configure with dev.sh build first)" >&2
  exit 1
fi

exec /usr/bin/python3 - "$BUILD_DIR" "$JOBS" "$CLANGXX" "${THREAD_SAFETY_FORCE:-0}" <<'PY'
import concurrent.futures, hashlib, json, os, shlex, subprocess, sys, time

build_dir, jobs, clangxx, force = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4] == "1"
root = os.getcwd()
stamp_dir = os.path.abspath(os.path.join(build_dir, "thread-safety"))
os.makedirs(stamp_dir, exist_ok=True)

# Units clang cannot compile for reasons other than thread safety, with why. They hold no annotated state.
SKIP = {
    "src/backends/torch/torch_backend.cc":
        "libtorch's headers (Debian's libtorch-dev) do not compile with clang 14 and libstdc++ 12 in C++20 "
        "(std::vector<c10::IValue> of an incomplete type)",
}

# Kept from GCC's command: what decides how the code parses. Everything else (warnings, optimisation,
# debug info, output files, GCC-only options) is dropped.
KEEP_PREFIX = ("-D", "-U", "-I", "-std=", "-include", "-isystem", "-iquote", "-idirafter")
KEEP_EXACT = {"-pthread", "-fPIC", "-fpic", "-fno-exceptions", "-fno-rtti", "-fopenmp"}
TAKES_VALUE = {"-o", "-MF", "-MT", "-MQ", "-include", "-isystem", "-iquote", "-idirafter", "-I", "-D", "-U"}


def clang_command(entry):
    args = entry.get("arguments") or shlex.split(entry["command"])
    out = [clangxx, "-fsyntax-only", "-Wno-everything", "-Wthread-safety", "-Werror=thread-safety"]
    i = 1  # args[0] is GCC
    while i < len(args):
        a = args[i]
        value = None
        if a in TAKES_VALUE and i + 1 < len(args):
            value = args[i + 1]
            i += 1
        i += 1
        if a in ("-c", entry["file"]) or a.endswith((".cc", ".cpp")):
            continue
        if a.startswith(KEEP_PREFIX) or a in KEEP_EXACT:
            out += [a] + ([value] if value is not None else [])
    return out + [entry["file"]]


def wanted(path):
    rel = os.path.relpath(path, root)
    if rel in SKIP:
        return False
    if rel.startswith("src" + os.sep):
        return True
    if rel.startswith("tests" + os.sep):
        with open(path, encoding="utf-8", errors="replace") as f:
            return '#include "core/mutex.h"' in f.read()
    return False


def up_to_date(stamp, dep, directory):
    # The stamp is written after a clean pass, dated when that pass began; the dep file lists the unit and
    # every header it read.
    try:
        t = os.path.getmtime(stamp)
        with open(dep) as f:
            text = f.read().replace("\\\n", " ")
        files = shlex.split(text.split(":", 1)[1])
        return all(os.path.getmtime(os.path.join(directory, p)) <= t for p in files)
    except (OSError, IndexError, ValueError):
        return False


def check(entry):
    cmd = clang_command(entry)
    key = hashlib.sha1("\0".join(cmd).encode()).hexdigest()[:16]
    stamp = os.path.join(stamp_dir, key + ".ok")
    dep = os.path.join(stamp_dir, key + ".d")
    if not force and up_to_date(stamp, dep, entry["directory"]):
        return entry["file"], None, True
    if os.path.exists(stamp):
        os.remove(stamp)
    started = time.time()  # the stamp carries this time: a file edited while clang ran is checked again
    p = subprocess.run(cmd + ["-MD", "-MF", dep], cwd=entry["directory"], capture_output=True, text=True)
    if p.returncode != 0:
        return entry["file"], p.stdout + p.stderr, False
    open(stamp, "w").close()
    os.utime(stamp, (started, started))
    return entry["file"], None, False


with open(os.path.join(build_dir, "compile_commands.json")) as f:
    entries = [e for e in json.load(f) if wanted(e["file"])]
seen, units = set(), []
for e in entries:  # a source compiled into two targets is checked once per distinct command
    k = (e["file"], e.get("command") or " ".join(e.get("arguments", [])))
    if k not in seen:
        seen.add(k)
        units.append(e)

t0 = time.monotonic()
failed, cached = [], 0
with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
    for path, output, was_cached in pool.map(check, units):
        cached += was_cached
        if output is not None:
            failed.append(path)
            sys.stderr.write(output)
print(f"check_thread_safety: {len(units)} units ({cached} unchanged since their last pass), "
      f"{len(failed)} failed, {len(SKIP)} skipped (see SKIP), {time.monotonic() - t0:.1f} s with {clangxx}")
for path in failed:
    print(f"  FAILED {os.path.relpath(path, root)}", file=sys.stderr)
sys.exit(1 if failed else 0)
PY
