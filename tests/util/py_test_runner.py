"""Runs one tests/**/*_test.py as its __main__ (ctest's command for every Python test, tests/CMakeLists.txt)
and prints one line per skipped test on stderr (where unittest reports):

    INFERD-SKIPPED <file stem>:<Class.test>: <reason>

scripts/check_skips.py finds these lines in ctest's JUnit report: a skipped Python test is otherwise
invisible to ctest (the file passes). Nothing else changes: same argv, same exit status.
"""
import os
import runpy
import sys
import unittest

_add_skip = unittest.TextTestResult.addSkip


def _add_skip_marked(self, test, reason):
    test_id = test.id()
    if test_id.startswith("__main__."):
        test_id = test_id[len("__main__."):]
    # On the runner's own stream (stderr), on a line of its own: the runner has just written "name ... ".
    sys.stderr.write("\nINFERD-SKIPPED %s:%s: %s\n" % (_STEM, test_id, reason))
    sys.stderr.flush()
    _add_skip(self, test, reason)


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit("usage: py_test_runner.py TEST_FILE [ARGS...]")
    path = os.path.abspath(sys.argv[1])
    _STEM = os.path.splitext(os.path.basename(path))[0]
    sys.argv = sys.argv[1:]
    sys.path[0] = os.path.dirname(path)  # as when the file is run directly
    unittest.TextTestResult.addSkip = _add_skip_marked
    runpy.run_path(path, run_name="__main__")
