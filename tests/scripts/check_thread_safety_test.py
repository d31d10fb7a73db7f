"""scripts/check_thread_safety.sh on a made-up tree: a unit that reads GUARDED_BY state without its mutex fails
the check (naming the unit and the variable), the same unit with the lock passes, a rerun with nothing changed
skips it, and an edit brings it back; a std::mutex (or condition variable, or guard) anywhere in src/ outside
core/mutex.h fails it before clang runs (scripts/check_std_locks.py), unless only a comment names it. Uses this repository's core/mutex.h and clang (scripts/setup.sh installs it).

Run by ctest with /usr/bin/python3.
"""
import json
import os
import shutil
import subprocess
import tempfile
import time
import unittest

SOURCE_DIR = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
SCRIPT = os.path.join(SOURCE_DIR, "scripts", "check_thread_safety.sh")

UNIT = """#include "core/mutex.h"
namespace inferd {
class Counter {
 public:
  int Next() {
    %s
    return ++value_;
  }
 private:
  Mutex mu_;
  int value_ GUARDED_BY(mu_) = 0;
};
int Use() { Counter c; return c.Next(); }
}  // namespace inferd
"""


class CheckThreadSafetyTest(unittest.TestCase):
    def setUp(self):
        self.root = tempfile.mkdtemp(prefix="check_thread_safety_test.")
        for h in ("mutex.h", "thread_annotations.h"):
            os.makedirs(os.path.join(self.root, "src", "core"), exist_ok=True)
            shutil.copy(os.path.join(SOURCE_DIR, "src", "core", h), os.path.join(self.root, "src", "core", h))
        self.unit = os.path.join(self.root, "src", "counter.cc")
        build = os.path.join(self.root, "build")
        os.makedirs(build)
        # A GCC command line as CMake writes it: the script keeps -D/-I/-std and drops the rest.
        command = (f"/usr/bin/c++ -DX=1 -I{self.root}/src -O2 -g -Wall -Wextra -Werror -std=c++20 "
                   f"-o CMakeFiles/x.dir/src/counter.cc.o -c {self.unit}")
        with open(os.path.join(build, "compile_commands.json"), "w") as f:
            json.dump([{"directory": build, "command": command, "file": self.unit}], f)

    def tearDown(self):
        shutil.rmtree(self.root)

    def write_unit(self, lock_line):
        with open(self.unit, "w") as f:
            f.write(UNIT % lock_line)
        time.sleep(0.05)  # past the coarse file clock's tick: a pass that begins now is newer than this edit

    def check(self):
        env = dict(os.environ, SOURCE_DIR=self.root, BUILD_DIR="build", JOBS="1")
        p = subprocess.run(["bash", SCRIPT], env=env, capture_output=True, text=True, timeout=240)
        return p.returncode, p.stdout + p.stderr

    def test_a_violation_fails_and_the_fix_passes(self):
        self.write_unit("")  # no lock
        rc, out = self.check()
        self.assertEqual(rc, 1, out)
        self.assertIn("requires holding mutex 'mu_'", out)
        self.assertIn("FAILED src/counter.cc", out)

        self.write_unit("MutexLock lock(mu_);")
        rc, out = self.check()
        self.assertEqual(rc, 0, out)
        self.assertIn("1 units (0 unchanged since their last pass), 0 failed", out)

        rc, out = self.check()  # nothing changed: not compiled again
        self.assertEqual(rc, 0, out)
        self.assertIn("1 units (1 unchanged since their last pass), 0 failed", out)

        self.write_unit("")  # the violation again: checked again, fails again
        rc, out = self.check()
        self.assertEqual(rc, 1, out)
        self.assertIn("requires holding mutex 'mu_'", out)

    def test_a_std_lock_outside_core_mutex_h_fails(self):
        self.write_unit("MutexLock lock(mu_);")
        legacy = os.path.join(self.root, "src", "legacy", "queue.h")
        os.makedirs(os.path.dirname(legacy))
        with open(legacy, "w") as f:
            f.write("#include <mutex>\nstruct Queue {\n  std::mutex mu;  // guards items\n  int items = 0;\n};\n")
        rc, out = self.check()
        self.assertEqual(rc, 1, out)
        self.assertIn("src/legacy/queue.h:3: std::mutex outside core/mutex.h", out)
        self.assertNotIn("check_thread_safety:", out)  # failed before clang ran

        with open(legacy, "w") as f:  # a guard is refused as well
            f.write("void F(Mutex& m) {\n  std::lock_guard<Mutex> l(m);\n}\n")
        rc, out = self.check()
        self.assertEqual(rc, 1, out)
        self.assertIn("src/legacy/queue.h:2: std::lock_guard outside core/mutex.h", out)

        with open(legacy, "w") as f:  # only a comment names one: fine (core/mutex.h itself is in the tree too)
            f.write('#include "core/mutex.h"\n// was a std::mutex and a std::condition_variable\n'
                    "struct Queue {\n  inferd::Mutex mu;\n  int items GUARDED_BY(mu) = 0;\n};\n")
        rc, out = self.check()
        self.assertEqual(rc, 0, out)
        self.assertIn("check_std_locks: 0 std lock uses outside core/mutex.h", out)
        self.assertIn("1 units", out)


if __name__ == "__main__":
    unittest.main()
