"""scripts/check_paths.py on small made-up repositories (each rule of its docstring), and on this one.

Run by ctest with /usr/bin/python3.
"""
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

SOURCE_DIR = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
SCRIPT = os.path.join(SOURCE_DIR, "scripts", "check_paths.py")


def write(root, rel, text=""):
    path = os.path.join(root, rel)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)


class CheckPathsTest(unittest.TestCase):
    def setUp(self):
        self.root = tempfile.mkdtemp(prefix="check_paths_test.")
        subprocess.run(["git", "init", "-q", self.root], check=True)
        write(self.root, ".gitignore", "/build*/\n/fuzz/fuzz-out/\n")
        write(self.root, "README.md", "See [the docs](docs/a.md).\n")
        write(self.root, "docs/a.md", "Intro.\n")
        write(self.root, "src/core/status.h", "// core/status.h: errors as values.\n")
        write(self.root, "src/backends/forest/forest.h", "// the engine\n")
        write(self.root, "bench/http_rate.cc", "")
        write(self.root, "scripts/dev.sh", "")

    def tearDown(self):
        shutil.rmtree(self.root)

    def run_check(self):
        p = subprocess.run([sys.executable, SCRIPT, self.root], capture_output=True, text=True)
        return p.returncode, p.stdout + p.stderr

    def test_existing_names_pass(self):
        write(self.root, "src/model/model.h",
              "// Uses core/status.h, forest/forest.h and status.h; see docs/a.md, scripts/dev.sh, src/core/,\n"
              "// bench/http_rate (built from bench/http_rate.cc), tests/<module>/<name>_test.cc (a pattern),\n"
              "// <torch/script.h>, gtest/gtest.h, KServe's python/kserve/model.py, Python.h,\n"
              "// https://example.com/src/missing.h, build/src/missing.h and fuzz/fuzz-out/x (ignored).\n"
              "int x = 1;  // src/*/*.h\n")
        write(self.root, "docs/b.md", "[back](../README.md#top), [anchor](#here), [web](https://x.y/z.md)\n")
        rc, out = self.run_check()
        self.assertEqual(rc, 0, out)
        self.assertIn("exist", out)

    def test_each_kind_of_missing_name_fails(self):
        write(self.root, "src/model/model.h",
              "// Rooted: src/model/gone.h. Module-relative: core/gone.h. Bare: gone_too.cc.\n"
              "// A program without a source: bench/no_such_tool.\n")
        write(self.root, "docs/b.md", "Read tests/core/gone_test.cc and [this](c.md).\n")
        rc, out = self.run_check()
        self.assertEqual(rc, 1, out)
        for name in ("src/model/gone.h", "core/gone.h", "gone_too.cc", "bench/no_such_tool",
                     "tests/core/gone_test.cc", "c.md"):
            self.assertIn(f"names {name},", out)
        self.assertIn("src/model/model.h names src/model/gone.h", out)

    def test_only_comments_of_sources_are_read(self):
        write(self.root, "src/model/model.cc", '#include "core/gone.h"\nconst char* k = "src/x/gone.h";\n')
        rc, out = self.run_check()
        self.assertEqual(rc, 0, out)


if __name__ == "__main__":
    unittest.main()
