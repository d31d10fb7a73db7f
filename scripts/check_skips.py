#!/usr/bin/python3
"""Fails a test run that skipped a test not on the list of allowed skips.

    check_skips.py CTEST_JUNIT_XML ALLOWED_LIST

CTEST_JUNIT_XML is ctest's --output-junit report. A skip is
  - a ctest test reported "not run" because its output matched SKIP_REGULAR_EXPRESSION (GoogleTest's
    GTEST_SKIP: gtest_discover_tests sets that property), or disabled;
  - a Python unittest skip, which tests/util/py_test_runner.py prints as "INFERD-SKIPPED <file>:<test>: <reason>"
    (the file itself passes, so ctest alone would not show it).
ALLOWED_LIST (tests/skip_allowed.txt) holds one entry per line, "<name glob> <reason>", where the name is the
ctest test name (GoogleTest: Suite.Test) or <python file stem>:<Class.test>; '#' starts a comment. Every skip
must match an entry; an entry without a reason is an error. Exit status 0 when all skips are allowed, 1
otherwise (each disallowed skip is printed with the output that explains it), 2 on bad input.
"""
import fnmatch
import re
import sys
import xml.etree.ElementTree as ET

MARK = re.compile(r"INFERD-SKIPPED (\S+): (.*)$", re.M)


def read_allowed(path):
    allowed = []
    with open(path) as f:
        for n, line in enumerate(f, 1):
            line = line.split("#", 1)[0].strip()
            if not line:
                continue
            parts = line.split(None, 1)
            if len(parts) < 2:
                sys.exit("%s:%d: '%s' has no reason" % (path, n, parts[0]))
            allowed.append((parts[0], parts[1]))
    return allowed


def skips(junit):
    out = []  # (name, why)
    for case in ET.parse(junit).getroot().iter("testcase"):
        name = case.get("name", "")
        text = case.findtext("system-out") or ""
        status = case.get("status", "")
        skipped = case.find("skipped")
        if status == "disabled" or (skipped is not None and status == "notrun" and
                                    skipped.get("message") == "SKIP_REGULAR_EXPRESSION_MATCHED"):
            lines = [l for l in text.splitlines() if l.strip()]
            # gtest's first "file:line: Failure" (a failed SetUpTestSuite) or "file:line: Skipped" and what follows
            first = next((i for i, l in enumerate(lines) if l.endswith((": Failure", ": Skipped"))), None)
            why = "\n    ".join(lines[first:first + 8] if first is not None else lines[-8:])
            out.append((name, why or status))
        for test, reason in MARK.findall(text):
            out.append((test, reason))
    return out


def main():
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    try:
        allowed = read_allowed(sys.argv[2])
        found = skips(sys.argv[1])
    except (OSError, ET.ParseError) as e:
        print("check_skips: %s" % e, file=sys.stderr)
        return 2
    bad = [(n, why) for n, why in found if not any(fnmatch.fnmatchcase(n, g) for g, _ in allowed)]
    ok = len(found) - len(bad)
    print("check_skips: %d skipped test(s), %d on the allowed list (%s)" % (len(found), ok, sys.argv[2]))
    for n, why in bad:
        print("check_skips: NOT ALLOWED: %s skipped:\n    %s" % (n, why))
    if bad:
        print("check_skips: a skipped test is a test that did not run. Fix its cause, or add it with a reason "
              "to %s when the skip is legitimate on this machine (e.g. a backend not built)." % sys.argv[2])
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
