#!/usr/bin/python3
"""Fails when src/ uses the standard library's mutexes, condition variables or their guards outside
src/core/mutex.h and the allowlist below.

    check_std_locks.py [SOURCE_DIR]

Clang's thread-safety analysis (scripts/check_thread_safety.sh) only sees locks it knows as capabilities:
std::mutex carries no annotation in libstdc++, so state guarded by one is never checked. Hence every lock in
src/ is an inferd::Mutex / SharedMutex / CondVar (core/mutex.h), except where ALLOWED says why not. Lines are
matched after their // comment is cut off; a use in a string or a /* */ comment also counts (none exist).
An allowlisted file that exists but no longer uses any std lock is an error too (the entry is stale: delete
it); entries for files that are absent are ignored (so the check runs on partial trees, as in its test).
Exit status 0 when clean, 1 otherwise (each use printed as file:line), 2 on bad input. Reads src/ only:
milliseconds, no build needed.
"""
import os
import re
import sys

STD_LOCK = re.compile(r"\bstd::(mutex|shared_mutex|recursive_mutex|timed_mutex|recursive_timed_mutex|"
                      r"shared_timed_mutex|condition_variable(_any)?|lock_guard|unique_lock|scoped_lock|"
                      r"shared_lock)\b")

# Where the std types are (only) the wrappers themselves.
HOME = "src/core/mutex.h"

# File (relative to SOURCE_DIR) -> why a std lock stays there. Every entry needs a reason.
ALLOWED = {
    "src/model/model.cc":
        "exec_mu_ is locked only when the backend is not thread-safe (a std::unique_lock with defer_lock, on "
        "the inference path); the analysis cannot follow a conditional lock, and what it serialises is the "
        "backend's own state, not members a GUARDED_BY could name",
    "src/model/model.h": "declares exec_mu_ (see src/model/model.cc)",
    "src/storage/storage.cc":
        "the per-entry locks guard cache directories, not memory (nothing to declare GUARDED_BY); they live "
        "in shared_ptrs made on demand and Remove try-locks them with std::unique_lock(std::try_to_lock), "
        "which core/mutex.h has no scoped form of",
}


def uses(path):
    found = []
    with open(path, encoding="utf-8", errors="replace") as f:
        for n, line in enumerate(f, 1):
            m = STD_LOCK.search(line.split("//", 1)[0])
            if m:
                found.append((n, m.group(0), line.strip()))
    return found


def main(argv):
    root = argv[1] if len(argv) > 1 else os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
    src = os.path.join(root, "src")
    if not os.path.isdir(src):
        print(f"check_std_locks: no src/ under {root}", file=sys.stderr)
        return 2
    for rel, why in ALLOWED.items():
        if not why.strip():
            print(f"check_std_locks: allowlist entry {rel} has no reason", file=sys.stderr)
            return 2
    bad, used_allowed = [], set()
    for dirpath, _, files in os.walk(src):
        for name in sorted(files):
            if not name.endswith((".h", ".cc", ".hpp", ".cpp")):
                continue
            path = os.path.join(dirpath, name)
            rel = os.path.relpath(path, root).replace(os.sep, "/")
            if rel == HOME:
                continue
            found = uses(path)
            if not found:
                continue
            if rel in ALLOWED:
                used_allowed.add(rel)
                continue
            bad += [(rel, n, what, text) for n, what, text in found]
    stale = sorted(rel for rel in set(ALLOWED) - used_allowed if os.path.exists(os.path.join(root, rel)))
    for rel, n, what, text in bad:
        print(f"{rel}:{n}: {what} outside core/mutex.h: use inferd::Mutex / SharedMutex / CondVar "
              f"(or add the file to ALLOWED in scripts/check_std_locks.py with a reason)\n    {text}",
              file=sys.stderr)
    for rel in stale:
        print(f"{rel}: allowlisted in scripts/check_std_locks.py but uses no std lock any more: delete the entry",
              file=sys.stderr)
    print(f"check_std_locks: {len(bad)} std lock uses outside core/mutex.h, {len(stale)} stale allowlist "
          f"entries, {len(ALLOWED)} allowlisted files")
    return 1 if bad or stale else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
