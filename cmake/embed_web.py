#!/usr/bin/env python3
# Run at build time by CMakeLists.txt (target inferd_webui): writes one C++ source that holds every file under
# web/dist/ (the web app's bundle, committed so that the C++ build never needs node) as webui::Asset rows:
# the path, the content type, the bytes, the gzip-compressed bytes (zlib through Python's gzip module, mtime 0
# so the output is the same for the same input) and a strong ETag (SHA-256 of the bytes). The binary then
# serves the app with no file beside it (src/webui/assets.h).
#   embed_web.py DIST_DIR OUTPUT.cc
import gzip
import hashlib
import os
import re
import sys

# What a browser needs told; anything else is served as bytes.
CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".json": "application/json",
    ".map": "application/json",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".ico": "image/x-icon",
    ".woff2": "font/woff2",
    ".woff": "font/woff",
    ".ttf": "font/ttf",
    ".txt": "text/plain; charset=utf-8",
    ".webmanifest": "application/manifest+json",
}
# Already compressed: gzip would only cost time.
NO_GZIP = {".png", ".jpg", ".woff2", ".woff"}
# esbuild's [name]-[hash] (8 characters of A-Z and 0-9): such a file never changes under its name.
HASHED = re.compile(r"-[A-Z0-9]{8}\.[A-Za-z0-9]+$")


def literal(data: bytes) -> str:
    """A C++ string literal of `data`: printable ASCII as is, the rest as 3-digit octal escapes (which cannot
    swallow a following digit), cut into lines of about 100 characters."""
    lines, cur = [], []
    width = 0
    for b in data:
        c = chr(b)
        if c in '"\\?':
            piece = "\\" + c
        elif 0x20 <= b < 0x7F:
            piece = c
        else:
            piece = "\\%03o" % b
        cur.append(piece)
        width += len(piece)
        if width >= 100 or c == "\n":
            lines.append('"' + "".join(cur) + '"')
            cur, width = [], 0
    if cur or not lines:
        lines.append('"' + "".join(cur) + '"')
    return "\n    ".join(lines)


def main() -> int:
    dist, output = sys.argv[1], sys.argv[2]
    files = []
    for root, dirs, names in os.walk(dist):
        dirs.sort()
        for n in sorted(names):
            full = os.path.join(root, n)
            rel = os.path.relpath(full, dist).replace(os.sep, "/")
            if rel.startswith(".") or "/." in rel:
                continue  # .gitkeep and the like
            files.append((rel, full))
    files.sort()
    out = [
        "// Generated at build time by cmake/embed_web.py from web/dist/: edit the web app, not this file.",
        '#include "webui/assets.h"',
        "",
        "namespace inferd::webui {",
        "namespace {",
    ]
    rows = []
    for i, (rel, full) in enumerate(files):
        with open(full, "rb") as f:
            data = f.read()
        ext = os.path.splitext(rel)[1].lower()
        ctype = CONTENT_TYPES.get(ext, "application/octet-stream")
        packed = b""
        if ext not in NO_GZIP:
            packed = gzip.compress(data, compresslevel=9, mtime=0)
            if len(packed) >= len(data):
                packed = b""  # served as is
        etag = '"' + hashlib.sha256(data).hexdigest()[:32] + '"'
        out.append("constexpr char kBytes%d[] =\n    %s;" % (i, literal(data)))
        out.append("constexpr char kGzip%d[] =\n    %s;" % (i, literal(packed)))
        rows.append(
            '    {"%s", "%s", %s, std::string_view(kBytes%d, sizeof kBytes%d - 1), '
            "std::string_view(kGzip%d, sizeof kGzip%d - 1), %s},"
            % (rel, ctype, literal(etag.encode()), i, i, i, i, "true" if HASHED.search(rel) else "false"))
    out.append("const Asset kAssets[] = {")
    out.extend(rows if rows else ['    {"", "", "", "", "", false},'])
    out.append("};")
    out.append("}  // namespace")
    out.append("")
    out.append("std::span<const Asset> EmbeddedAssets() {")
    out.append("  return std::span<const Asset>(kAssets, %d);" % len(files))
    out.append("}")
    out.append("")
    out.append("}  // namespace inferd::webui")
    text = "\n".join(out) + "\n"
    os.makedirs(os.path.dirname(output) or ".", exist_ok=True)
    with open(output, "w", encoding="utf-8") as f:
        f.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
