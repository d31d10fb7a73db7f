"""The models web app's server side on a real `inferd serve` (docs/webapp.md), with python requests as the
browser: the redirect and embedded files (gzip, ETag/304, CSP), login with the API token and the session
cookie's flags, CSRF refusal and acceptance on a real create/delete, the cross-site refusal, bearer clients
unaffected, the "try it" proxy on a real sklearn model, the METRICS endpoint after predictions, the logs
endpoint's component=/replica= selection, and logout.

Run by ctest with Debian's /usr/bin/python3. Environment: INFERD_BIN, INFERD_TEST_MODELS (serve_test.Serve).
"""
import json
import os
import shutil
import sys
import tempfile
import time
import unittest

import requests

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "control"))
import serve_test as st  # noqa: E402  (Serve: inferd serve on ephemeral ports)

ISVCS = "/apis/serving.kserve.io/v1beta1/namespaces/default/inferenceservices"
INFERD = "/inferd/v1/namespaces/default/inferenceservices"


def sklearn_isvc(name):
    model = os.path.join(st.MODELS, "sklearn", "sklearn-iris-logreg")
    return {"apiVersion": "serving.kserve.io/v1beta1", "kind": "InferenceService",
            "metadata": {"name": name, "namespace": "default"},
            "spec": {"predictor": {"model": {"modelFormat": {"name": "sklearn"}, "storageUri": "file://" + model}}}}


class WebAppServeTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="inferd-webapp-test-")
        cls.serve = st.Serve(os.path.join(cls.tmp, "data"))
        cls.base = "http://127.0.0.1:%d" % cls.serve.api_port

    @classmethod
    def tearDownClass(cls):
        cls.serve.stop()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def browser(self):
        """A logged-in requests.Session (the cookie jar is the browser's) and its CSRF token."""
        s = requests.Session()
        self.addCleanup(s.close)
        r = s.post(self.base + "/ui/login", json={"token": self.serve.token}, timeout=30)
        self.assertEqual(r.status_code, 200, r.text)
        return s, r.json()["csrf"]

    def test_01_redirect_and_assets(self):
        r = requests.get(self.base + "/", allow_redirects=False, timeout=30)
        self.assertEqual(r.status_code, 302)
        self.assertEqual(r.headers["Location"], "/ui/")
        r = requests.get(self.base + "/ui/", headers={"Accept-Encoding": "gzip"}, timeout=30)
        self.assertEqual(r.status_code, 200)
        self.assertIn("<html", r.text.lower())  # requests undid the gzip
        self.assertEqual(r.headers.get("Content-Encoding"), "gzip")
        self.assertTrue(r.headers["Content-Type"].startswith("text/html"))
        self.assertEqual(r.headers["Cache-Control"], "no-cache")
        csp = r.headers["Content-Security-Policy"]
        self.assertIn("default-src 'self'", csp)
        self.assertIn("frame-ancestors 'none'", csp)
        self.assertNotIn("unsafe-eval", csp)
        self.assertEqual(r.headers["X-Content-Type-Options"], "nosniff")
        self.assertEqual(r.headers["Referrer-Policy"], "no-referrer")
        etag = r.headers["ETag"]
        r = requests.get(self.base + "/ui/", headers={"Accept-Encoding": "identity"}, timeout=30)
        self.assertNotIn("Content-Encoding", r.headers)
        self.assertEqual(r.headers["ETag"], etag)
        r = requests.get(self.base + "/ui/ns/default/isvc/x/overview", headers={"If-None-Match": etag}, timeout=30)
        self.assertEqual(r.status_code, 304)
        self.assertEqual(r.content, b"")
        self.assertEqual(requests.get(self.base + "/ui/nope.js", timeout=30).status_code, 404)

    def test_02_login_and_cookie_flags(self):
        r = requests.get(self.base + "/ui/session", timeout=30)
        self.assertEqual(r.json(), {"authenticated": False, "tokenRequired": True})
        r = requests.post(self.base + "/ui/login", json={"token": "wrong"}, timeout=30)
        self.assertEqual(r.status_code, 401)
        self.assertEqual(r.json()["kind"], "Status")
        self.assertNotIn("Set-Cookie", r.headers)
        r = requests.post(self.base + "/ui/login", json={"token": self.serve.token}, timeout=30)
        self.assertEqual(r.status_code, 200, r.text)
        cookie = r.headers["Set-Cookie"]
        self.assertRegex(cookie, r"^inferd_session=[A-Za-z0-9_-]{43}; Path=/; HttpOnly; SameSite=Strict$")
        self.assertEqual(len(r.json()["csrf"]), 43)
        self.assertNotIn(self.serve.token, r.text + cookie)  # the token is never echoed
        s, csrf = self.browser()
        r = s.get(self.base + "/ui/session", timeout=30)
        self.assertEqual(r.json(), {"authenticated": True, "tokenRequired": True, "csrf": csrf})

    def test_03_csrf_cross_site_and_bearer(self):
        s, csrf = self.browser()
        self.assertEqual(s.get(self.base + ISVCS, timeout=30).status_code, 200)
        r = s.post(self.base + ISVCS, json=sklearn_isvc("csrf-test"), timeout=30)
        self.assertEqual(r.status_code, 403)
        self.assertIn("CSRF token missing or wrong", r.json()["message"])
        r = s.post(self.base + ISVCS, json=sklearn_isvc("csrf-test"), headers={"X-CSRF-Token": "x" * 43}, timeout=30)
        self.assertEqual(r.status_code, 403)
        self.assertIsNone(self.serve.isvc("csrf-test"))
        # Cross-site: refused with the cookie and CSRF token, and with the bearer token too.
        r = s.post(self.base + ISVCS, json=sklearn_isvc("csrf-test"),
                   headers={"X-CSRF-Token": csrf, "Origin": "https://evil.example"}, timeout=30)
        self.assertEqual(r.status_code, 403)
        r = self.serve.api("POST", ISVCS, json=sklearn_isvc("csrf-test"), headers={"Sec-Fetch-Site": "cross-site"})
        self.assertEqual(r.status_code, 403)
        self.assertIsNone(self.serve.isvc("csrf-test"))
        # Same origin, right token: a real create and delete.
        r = s.post(self.base + ISVCS, json=sklearn_isvc("csrf-test"),
                   headers={"X-CSRF-Token": csrf, "Origin": self.base, "Sec-Fetch-Site": "same-origin"}, timeout=30)
        self.assertEqual(r.status_code, 201, r.text)
        r = s.delete(self.base + ISVCS + "/csrf-test", timeout=30)
        self.assertEqual(r.status_code, 403)
        r = s.delete(self.base + ISVCS + "/csrf-test", headers={"X-CSRF-Token": csrf}, timeout=30)
        self.assertEqual(r.status_code, 200, r.text)
        # Bearer clients (kubectl, the CLI) are unaffected.
        self.assertEqual(self.serve.api("GET", ISVCS).status_code, 200)
        rc, out, err = self.serve.cli("get", "isvc")
        self.assertEqual(rc, 0, err)
        self.assertEqual(requests.get(self.base + ISVCS, timeout=30).status_code, 401)
        self.assertEqual(requests.get(self.base + ISVCS, cookies={"inferd_session": "forged"}, timeout=30).status_code,
                         401)

    def test_04_proxy_metrics_logs_on_a_real_model(self):
        s, csrf = self.browser()
        r = s.post(self.base + ISVCS, json=sklearn_isvc("web-iris"), headers={"X-CSRF-Token": csrf}, timeout=30)
        self.assertEqual(r.status_code, 201, r.text)
        self.serve.wait_ready("web-iris")
        proxy = self.base + INFERD + "/web-iris/proxy/"
        body = {"instances": st.IRIS}
        # "Try it" is a write: CSRF rules apply.
        self.assertEqual(s.post(proxy + "v1/models/web-iris:predict", json=body, timeout=30).status_code, 403)
        r = s.post(proxy + "v1/models/web-iris:predict", json=body, headers={"X-CSRF-Token": csrf}, timeout=30)
        self.assertEqual(r.status_code, 200, r.text)
        self.assertTrue(r.headers["Content-Type"].startswith("application/json"))
        self.assertEqual(r.headers.get("X-Content-Type-Options"), "nosniff")  # a model's answer is never a page
        self.assertIn("sandbox", r.headers.get("Content-Security-Policy", ""))
        direct = self.serve.gw("POST", "/v1/models/web-iris:predict", host="web-iris.default.example.com", json=body)
        self.assertEqual(r.json(), direct.json())
        r = s.get(proxy + "v2/models/web-iris", timeout=30)  # metadata: GET
        self.assertEqual(r.status_code, 200, r.text)
        self.assertEqual(r.json()["name"], "web-iris")
        r = s.post(proxy + "v1/models/nope:predict", json=body, headers={"X-CSRF-Token": csrf}, timeout=30)
        self.assertEqual(r.status_code, 404)  # the model server's own answer, passed back
        for bad in ["v1/../../healthz", "metrics", "v1/models/x%2F..:predict"]:
            r = s.post(proxy + bad, json=body, headers={"X-CSRF-Token": csrf}, timeout=30)
            self.assertIn(r.status_code, (400, 404), bad)
        r = s.post(self.base + INFERD + "/no-such/proxy/v1/models/x:predict", json=body,
                   headers={"X-CSRF-Token": csrf}, timeout=30)
        self.assertEqual(r.status_code, 404)
        # Metrics: predictions through the gateway show up within a few 2 s samples.
        for _ in range(20):
            self.serve.gw("POST", "/v1/models/web-iris:predict", host="web-iris.default.example.com", json=body)
        deadline = time.time() + 30
        seen = []
        while time.time() < deadline:
            r = s.get(self.base + INFERD + "/web-iris/metrics?windowS=120", timeout=30)
            self.assertEqual(r.status_code, 200, r.text)
            m = r.json()
            seen = [x for x in m["series"] if x["requests"] > 0]
            if sum(x["requests"] for x in m["series"]) >= 20:
                break
            time.sleep(0.5)
        self.assertGreaterEqual(sum(x["requests"] for x in m["series"]), 20, m)
        self.assertEqual(m["intervalMs"], 2000)
        x = seen[0]
        self.assertEqual(x["component"], "predictor")
        self.assertEqual(x["revision"], "web-iris-predictor-00001")
        self.assertEqual(x["errors"], 0)
        self.assertGreater(x["rps"], 0)
        self.assertGreater(x["p50Ms"], 0)
        self.assertGreaterEqual(x["p99Ms"], x["p50Ms"])
        self.assertEqual(x["replicas"], 1)
        self.assertGreaterEqual(x["inFlight"], 0)
        self.assertLessEqual(x["t"], m["now"])
        self.assertEqual(s.get(self.base + INFERD + "/web-iris/metrics?windowS=0", timeout=30).status_code, 400)
        self.assertEqual(s.get(self.base + INFERD + "/no-such/metrics", timeout=30).status_code, 404)
        # Logs: every replica, one component, one replica by name.
        r = s.get(self.base + INFERD + "/web-iris/logs?component=predictor", timeout=30)
        self.assertEqual(r.status_code, 200, r.text)
        self.assertIn("listening", r.text)
        replica = self.serve.isvc("web-iris")["status"]["inferd"]["replicas"][0]["name"]
        r = s.get(self.base + INFERD + "/web-iris/logs", params={"replica": replica}, timeout=30)
        self.assertEqual(r.status_code, 200, r.text)
        self.assertIn("listening", r.text)
        r = s.get(self.base + INFERD + "/web-iris/logs", params={"replica": replica + "x"}, timeout=30)
        self.assertEqual(r.status_code, 404)
        r = s.get(self.base + INFERD + "/web-iris/logs?component=transformer", timeout=30)
        self.assertEqual(r.status_code, 404)
        r = s.delete(self.base + ISVCS + "/web-iris", headers={"X-CSRF-Token": csrf}, timeout=30)
        self.assertEqual(r.status_code, 200, r.text)

    def test_05_logout(self):
        s, csrf = self.browser()
        self.assertEqual(s.post(self.base + "/ui/logout", timeout=30).status_code, 403)
        r = s.post(self.base + "/ui/logout", headers={"X-CSRF-Token": csrf}, timeout=30)
        self.assertEqual(r.status_code, 204)
        self.assertEqual(s.get(self.base + ISVCS, timeout=30).status_code, 401)
        self.assertEqual(s.get(self.base + "/ui/session", timeout=30).json()["authenticated"], False)


if __name__ == "__main__":
    unittest.main(verbosity=2)
