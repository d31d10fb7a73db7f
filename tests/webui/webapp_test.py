"""The models web app in a real browser: Debian's chromium, headless, driven by playwright-core (npm, in web/;
scripts/setup.sh runs `npm ci` there) from tests/webui/webapp_e2e.mjs, against a real `inferd serve` started
through tests/util/kube_fixture.py. The script logs in, creates sklearn and xgboost services from YAML, sees them
go Ready without reloading, tries predictions, moves the canary slider and sees the split, reads logs, triggers a
validation error, deletes, runs axe-core on each page, and measures the first page load and the list with 500
services (printed, not asserted).

Screenshots: $INFERD_BUILD_DIR/test-output/webapp/*.png; with WEBAPP_DOCS_IMG=1 they are also copied to
docs/img/webapp/ (how the docs' pictures are made). Node, npm, chromium or web/node_modules missing is a failure,
not a skip: the web app is part of inferd.
"""
import glob
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "util"))
import kube_fixture  # noqa: E402  (KubeServe: inferd serve on ephemeral ports)

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE = os.environ.get("INFERD_SOURCE_DIR", os.path.abspath(os.path.join(HERE, "..", "..")))
MODELS = os.environ.get("INFERD_TEST_MODELS", "")
BUILD = os.environ.get("INFERD_BUILD_DIR", os.path.join(SOURCE, "build"))
CHROMIUM = os.environ.get("WEBAPP_CHROMIUM", "/usr/bin/chromium")
WEB = os.path.join(SOURCE, "web")


class WebAppTest(unittest.TestCase):
    def test_browser_end_to_end(self):
        node = shutil.which("node")
        self.assertTrue(node and shutil.which("npm"), "node and npm are needed (scripts/setup.sh installs them)")
        self.assertTrue(os.access(CHROMIUM, os.X_OK), CHROMIUM + " is missing (scripts/setup.sh installs chromium)")
        for pkg in ("playwright-core", "axe-core"):
            self.assertTrue(os.path.isdir(os.path.join(WEB, "node_modules", pkg)),
                            "web/node_modules/%s is missing: run bash scripts/setup.sh (npm ci in web/)" % pkg)
        self.assertTrue(os.path.isdir(MODELS), "INFERD_TEST_MODELS is not set (ctest sets it)")
        out = os.path.join(BUILD, "test-output", "webapp")
        shutil.rmtree(out, ignore_errors=True)
        tmp = tempfile.mkdtemp(prefix="inferd-webapp-test-")
        serve = kube_fixture.KubeServe(os.path.join(tmp, "data"))
        try:
            env = dict(os.environ,
                       WEBAPP_BASE="http://127.0.0.1:%d" % serve.api_port, WEBAPP_TOKEN=serve.token,
                       WEBAPP_WEB_DIR=WEB, WEBAPP_OUT=out, WEBAPP_CHROMIUM=CHROMIUM,
                       WEBAPP_SKLEARN="file://" + os.path.join(MODELS, "sklearn", "sklearn-iris-logreg"),
                       WEBAPP_SKLEARN2="file://" + os.path.join(MODELS, "sklearn", "sklearn-iris-rf"),
                       WEBAPP_XGBOOST="file://" + os.path.join(MODELS, "xgb_iris_softprob", "model.json"),
                       WEBAPP_LOAD_N=os.environ.get("WEBAPP_LOAD_N", "500"))
            p = subprocess.run([node, os.path.join(HERE, "webapp_e2e.mjs")], env=env, capture_output=True,
                               text=True, timeout=540)
            sys.stdout.write(p.stdout)
            sys.stdout.write(p.stderr)
            self.assertEqual(p.returncode, 0, "the browser test failed (screenshots in %s); serve's output:\n%s" %
                             (out, serve.output()))
            self.assertIn("webapp e2e: all steps passed", p.stdout)
            shots = sorted(glob.glob(os.path.join(out, "*.png")))
            self.assertGreaterEqual(len(shots), 10, "screenshots written: %s" % shots)
            if os.environ.get("WEBAPP_DOCS_IMG") == "1":
                dest = os.path.join(SOURCE, "docs", "img", "webapp")
                os.makedirs(dest, exist_ok=True)
                for f in shots:
                    shutil.copy(f, dest)
        finally:
            serve.stop()
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    unittest.main()
