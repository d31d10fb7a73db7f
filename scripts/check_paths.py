#!/usr/bin/python3
"""Fails when a header comment or a document names a repository file that does not exist.

Where it looks: the comments (// and /* */) of every src/**/*.h and src/**/*.cc, and all of README.md
and docs/*.md.

What counts as a repository path (the rule):
  1. Rooted names: a token that starts with a top-level directory of the repository (src/, tests/,
     bench/, scripts/, docs/, fuzz/, examples/, proto/, .ci/) and is not itself part of a longer path or a
     URL (not preceded by '/', '.', a letter or a digit; URLs are removed first). It must exist from the
     repository root, as a file or a directory (a name with '*' must match at least one file).
     A rooted name without an extension may also name the program built from `<name>.cc` (`bench/http_rate`,
     `fuzz/archive_fuzz`).
  2. Module-relative names: a token `<module>/<...>.h` or `.cc` whose first part is a directory under src/
     or src/backends/. This is how headers name each other (`model/repository.h`, as in their #include
     lines); it must exist under src/ or src/backends/. Other names with a slash and no such first part
     (`gtest/gtest.h`, `application/json`), with another extension (KServe's `python/kserve/...py`) or in
     angle brackets (`<torch/script.h>`: a library's header) are not ours and are skipped.
  3. Bare source names: a token `<name>.h` or `<name>.cc` without a directory (`native_trees.h`, as headers
     and docs name their neighbours) must be the name of some file under src/, tests/, bench/ or fuzz/,
     unless EXTERNAL lists it (a library's header, such as Python.h).
  4. Markdown links `[text](target)` in README.md and docs/*.md whose target is not a URL or an anchor: the
     target (without its #anchor) must exist relative to the document.
A token next to a placeholder (followed by '<', '{', '$' or '@', or right after '>', as in
`tests/<module>/<name>_test.cc`) is a pattern, not a path, and is skipped. A path that .gitignore covers
names something a build or a run creates (`build/`, `fuzz/fuzz-out/`) and is skipped.

KNOWN_DRIFT lists drifted names that another branch fixes (with who fixes it); the check fails when one of
them exists again, so that the list cannot go stale. Prints each missing name with where it was found.
Usage: scripts/check_paths.py [repository root]   (exit 0: every name exists; 1: some do not)
"""
import glob
import os
import re
import subprocess
import sys

ROOTS = ("src", "tests", "bench", "scripts", "docs", "fuzz", "examples", "proto", ".ci")
SOURCE_EXTS = (".h", ".cc")

# Bare names of other projects' files that comments and docs mention.
EXTERNAL = {"Python.h"}

# (file that names it, name): why it is allowed to be missing for now.
KNOWN_DRIFT = {}

URL = re.compile(r"\b[a-z][a-z0-9+.-]*://[^\s)>\]`'\"]*")
TOKEN = re.compile(r"(?<![\w/.\-<>])(\.?[A-Za-z0-9_][A-Za-z0-9_.\-]*(?:/[A-Za-z0-9_.*\-]*)+)")
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
BARE = re.compile(r"(?<![\w/.\-<>])([A-Za-z0-9_\-]+\.(?:h|cc))\b")
PLACEHOLDER = tuple("<{$@")
COMMENT = re.compile(r"//[^\n]*|/\*.*?\*/", re.S)


def comments(text):
    # String literals may hold "//" (URLs are removed anyway); a rare false match only adds names to check.
    return "\n".join(m.group(0) for m in COMMENT.finditer(text))


def modules(root):
    out = set()
    for base in ("src", os.path.join("src", "backends")):
        d = os.path.join(root, base)
        out |= {n for n in os.listdir(d) if os.path.isdir(os.path.join(d, n))}
    return out


def ignored(root, paths):
    if not paths:
        return set()
    p = subprocess.run(["git", "-C", root, "check-ignore", "--no-index", "--stdin"], input="\n".join(paths),
                       capture_output=True, text=True)
    return set(p.stdout.split())


def basenames(root):
    out = set()
    for top in ("src", "tests", "bench", "fuzz"):
        for _, _, files in os.walk(os.path.join(root, top)):
            out.update(files)
    return out


def candidates(text, mods):
    """Yields (name, candidate paths relative to the root) for every repository name in `text`."""
    text = URL.sub(" ", text)
    for m in TOKEN.finditer(text):
        tok = m.group(1)
        nxt = text[m.end():m.end() + 1]
        if nxt and nxt in PLACEHOLDER:
            continue
        tok = tok.rstrip(".")
        first = tok.split("/", 1)[0]
        if first in ROOTS:
            yield tok, [tok]
        elif first in mods and tok.endswith(SOURCE_EXTS):
            yield tok, [os.path.join("src", tok), os.path.join("src", "backends", tok)]


def bare_names(text):
    text = URL.sub(" ", text)
    return {m.group(1) for m in BARE.finditer(text)} - EXTERNAL


def exists(root, rel):
    full = os.path.join(root, rel)
    if "*" in rel:
        return bool(glob.glob(full))
    if os.path.exists(full):
        return True
    return not os.path.splitext(rel)[1] and os.path.exists(full + ".cc")


def main():
    root = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), ".."))
    mods = modules(root)
    found = []  # (where, name, candidates)
    bare = []  # (where, name)
    for pattern in ("src/**/*.h", "src/**/*.cc"):
        for path in sorted(glob.glob(os.path.join(root, pattern), recursive=True)):
            with open(path, encoding="utf-8", errors="replace") as f:
                text = comments(f.read())
            rel = os.path.relpath(path, root)
            found += [(rel, name, cands) for name, cands in candidates(text, mods)]
            bare += [(rel, name) for name in bare_names(text)]
    docs = [os.path.join(root, "README.md")] + sorted(glob.glob(os.path.join(root, "docs", "*.md")))
    for path in docs:
        with open(path, encoding="utf-8", errors="replace") as f:
            text = f.read()
        rel = os.path.relpath(path, root)
        found += [(rel, name, cands) for name, cands in candidates(text, mods)]
        bare += [(rel, name) for name in bare_names(text)]
        for m in LINK.finditer(text):
            target = m.group(1).split("#", 1)[0]
            if not target or URL.match(target) or target.startswith("mailto:"):
                continue
            found.append((rel, target, [os.path.normpath(os.path.join(os.path.dirname(rel), target))]))

    skip = ignored(root, sorted({c for _, _, cands in found for c in cands}))
    missing, known_seen = [], set()
    for where, name, cands in found:
        if any(c in skip for c in cands) or any(exists(root, c) for c in cands):
            continue
        if (where, name) in KNOWN_DRIFT:
            known_seen.add((where, name))
            continue
        missing.append((where, name))
    known = basenames(root)
    for where, name in bare:
        if name in known:
            continue
        if (where, name) in KNOWN_DRIFT:
            known_seen.add((where, name))
            continue
        missing.append((where, name))
    stale = sorted(set(KNOWN_DRIFT) - known_seen)
    for where, name in sorted(set(missing)):
        print(f"check_paths: {where} names {name}, which does not exist")
    for where, name in stale:
        print(f"check_paths: KNOWN_DRIFT lists {name} in {where}, which no longer drifts: remove it")
    n = len({(w, n) for w, n, _ in found} | set(bare))
    if missing or stale:
        return 1
    print(f"check_paths: all {n} repository names in header comments and docs exist"
          + (f" ({len(known_seen)} known drifts left to fix)" if known_seen else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
