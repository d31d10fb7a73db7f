#!/usr/bin/env bash
# Size figures of the source tree, as issue 13 asks for them before and after a restructuring:
#   bash scripts/code_metrics.sh [DIR=src]
# - the longest functions under src/control and under DIR (universal-ctags: a function runs from its tag line to
#   its `end:` line; lambdas count inside the function that holds them);
# - the largest files under DIR;
# - the number of HTTP session classes (Beast parsers driven by a class of their own);
# - the number of duplicated blocks (pairs of six or more lines of the same shape, as `duplicates` counts them),
#   when the `duplicates` tool is installed.
set -eu
cd "$(dirname "$0")/.."
dir=${1:-src}
command -v ctags >/dev/null || { echo "needs universal-ctags (apt install universal-ctags)" >&2; exit 2; }

functions() {  # lines file:line name, longest first
  ctags -R --languages=C++ --kinds-C++=f --fields=+ne -x --_xformat='%{end} %{line} %F %N' "$1" 2>/dev/null |
    awk '$1 ~ /^[0-9]+$/ { print $1 - $2 + 1, $3 ":" $2, $4 }' | sort -rn
}
echo "== longest functions in src/control"
functions src/control | head -5
echo "== longest functions in $dir"
functions "$dir" | head -5
echo "== functions over 150 lines in $dir: $(functions "$dir" | awk '$1 > 150' | wc -l)"
echo "== largest files in $dir"
find "$dir" -name '*.cc' -o -name '*.h' | xargs wc -l | grep -v ' total$' | sort -rn | head -5
echo "== HTTP session classes (a class that owns a beast http parser or reads with http::async_read)"
grep -rlE 'http::request_parser|http::response_parser|http::async_read\(' "$dir" | sort
if command -v duplicates >/dev/null; then
  echo "== duplicated blocks in $dir (pairs of 6+ lines of the same shape)"
  duplicates --repo "$dir" --most 1 --seconds 120 | head -1
fi
