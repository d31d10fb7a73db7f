"""The web app's pure JavaScript parts (web/test/*.test.mjs: status derivation, field path -> YAML line, the
"try it" request, the watch's resume from a resourceVersion) under node's test runner. node or web/node_modules
missing is a failure (scripts/setup.sh installs both), not a skip."""
import os
import shutil
import subprocess
import unittest

SOURCE = os.environ.get("INFERD_SOURCE_DIR", os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..")))
WEB = os.path.join(SOURCE, "web")


class WebAppUnitTest(unittest.TestCase):
    def test_node_unit_tests(self):
        node = shutil.which("node")
        self.assertTrue(node, "node is needed (scripts/setup.sh installs nodejs)")
        self.assertTrue(os.path.isdir(os.path.join(WEB, "node_modules", "yaml")),
                        "web/node_modules is missing: run bash scripts/setup.sh (npm ci in web/)")
        p = subprocess.run([node, "--test", "test/"], cwd=WEB, capture_output=True, text=True, timeout=120)
        print(p.stdout[-3000:], p.stderr[-3000:])
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertRegex(p.stdout, r"# pass [1-9]")
        self.assertIn("# fail 0", p.stdout)

    def test_committed_bundle_matches_its_sources(self):
        # scripts/build_web.sh --check: web/dist is what esbuild makes of web/src with the pinned packages.
        p = subprocess.run(["bash", os.path.join(SOURCE, "scripts", "build_web.sh"), "--check"], capture_output=True,
                           text=True, timeout=240)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertIn("web/dist matches web/src", p.stdout)


if __name__ == "__main__":
    unittest.main()
