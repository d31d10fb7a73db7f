"""End-to-end tests of faults in `inferd serve` (issue 12): the only replica SIGKILLed under load, a model
that fails to load and is fixed in place, a restart of serve, health through the gateway, and cluster-local
services.

Run by ctest with Debian's /usr/bin/python3; environment as for serve_test.py. `inferd serve` runs with a short
restart backoff (200 ms doubling to 1 s). No assertion is about speed: counts and status codes only, with
generous waits (ctest runs this beside other tests on a 2-core machine).
"""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest

import requests

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import serve_test as st  # noqa: E402  (Serve, helpers)

MODELS = st.MODELS
IRIS = st.IRIS


def external_ip():
    """A non-loopback IPv4 address of this machine (the gateway binds 0.0.0.0), or None."""
    try:
        out = subprocess.run(["hostname", "-I"], capture_output=True, text=True, timeout=10).stdout.split()
    except (OSError, subprocess.SubprocessError):
        out = []
    for ip in out:
        if "." in ip and not ip.startswith("127."):
            return ip
    return None


def model_status(obj):
    return obj.get("status", {}).get("modelStatus", {})


class Clients:
    """`n` clients posting the iris rows in a loop, each on its own keep-alive session; every outcome kept."""

    def __init__(self, url, host, n):
        self.url, self.host = url, host
        self.stop_flag = threading.Event()
        self.lock = threading.Lock()
        self.outcomes = []  # (time sent, status code or exception name)
        self.threads = [threading.Thread(target=self._run, daemon=True) for _ in range(n)]
        for t in self.threads:
            t.start()

    def _run(self):
        with requests.Session() as s:
            while not self.stop_flag.is_set():
                t = time.monotonic()
                try:
                    code = s.post(self.url, json={"instances": IRIS}, headers={"Host": self.host}, timeout=60).status_code
                except requests.RequestException as e:
                    code = type(e).__name__
                with self.lock:
                    self.outcomes.append((t, code))

    def count(self):
        with self.lock:
            return len(self.outcomes)

    def stop(self):
        self.stop_flag.set()
        for t in self.threads:
            t.join(90)
        return self.outcomes


class ServeFaultsTest(st.ApplyMixin, unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="inferd-serve-faults-test-")
        cls.data_dir = os.path.join(cls.tmp, "data")
        cls.serve = st.Serve(cls.data_dir)
        cls.sklearn = os.path.join(MODELS, "sklearn", "sklearn-iris-logreg")

    @classmethod
    def tearDownClass(cls):
        cls.serve.stop()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def isvc_yaml(self, name, fmt, uri, labels=""):
        return """
apiVersion: serving.kserve.io/v1beta1
kind: InferenceService
metadata:
  name: %s
%s
spec:
  predictor:
    minReplicas: 1
    model:
      modelFormat:
        name: %s
      storageUri: file://%s
""" % (name, labels, fmt, uri)

    def delete(self, name):
        self.assertEqual(self.serve.cli("delete", "isvc", name)[0], 0)

    def ready_pid(self, name):
        obj = self.serve.wait(name, lambda o: st.is_ready(o) and any(
            r.get("phase") == "Ready" for r in o["status"]["inferd"]["replicas"]), what="a ready replica")
        return [r["pid"] for r in obj["status"]["inferd"]["replicas"] if r.get("phase") == "Ready"][0]

    # ---- the only replica killed under load --------------------------------------------------------
    def test_01_killed_replica_fails_at_most_the_requests_in_flight(self):
        self.apply(self.isvc_yaml("victim", "sklearn", self.sklearn))
        pid = self.ready_pid("victim")
        clients_n, kills = 4, 2
        url = "http://127.0.0.1:%d/v1/models/victim:predict" % self.serve.http_port
        load = Clients(url, "victim.default.example.com", clients_n)
        killed_at = []
        try:
            for k in range(kills):
                n = load.count()
                deadline = time.time() + 30
                while load.count() < n + 200 and time.time() < deadline:
                    time.sleep(0.01)
                killed_at.append(time.monotonic())
                os.kill(pid, signal.SIGKILL)
                new = self.serve.wait("victim", lambda o: any(
                    r.get("phase") == "Ready" and r.get("pid") not in (0, pid)
                    for r in o["status"]["inferd"]["replicas"]), what="a replacement replica")
                pid = [r["pid"] for r in new["status"]["inferd"]["replicas"] if r.get("phase") == "Ready"][0]
            n = load.count()
            deadline = time.time() + 30
            while load.count() < n + 200 and time.time() < deadline:
                time.sleep(0.01)
        finally:
            outcomes = load.stop()
        failed = [(t, c) for t, c in outcomes if c != 200]
        # Only requests in flight on the dead replica may fail: at most one per client per kill.
        self.assertLessEqual(len(failed), clients_n * kills, failed[:20])
        served_after = [c for t, c in outcomes if t > killed_at[-1] and c == 200]
        self.assertGreater(len(served_after), 100)
        obj = self.serve.isvc("victim")
        self.assertGreaterEqual(obj["status"]["inferd"]["replicas"][0]["restarts"], kills)
        self.delete("victim")

    # ---- a model that fails to load, fixed in place ---------------------------------------------------
    def test_02_model_fixed_in_place_loads_without_a_spec_change(self):
        model_dir = os.path.join(self.tmp, "healing")
        os.makedirs(model_dir)
        shutil.copy(os.path.join(MODELS, "errors", "corrupt", "model.json"), os.path.join(model_dir, "model.json"))
        self.apply(self.isvc_yaml("healing", "xgboost", model_dir))
        obj = self.serve.wait("healing", lambda o: model_status(o).get("lastFailureInfo", {}).get("reason") ==
                              "ModelLoadFailed" and o["status"].get("inferd", {}).get("modelLoad"),
                              what="ModelLoadFailed with retries")
        self.assertFalse(st.is_ready(obj))
        self.assertEqual(model_status(obj)["states"]["activeModelState"], "FailedToLoad")
        load = obj["status"]["inferd"]["modelLoad"]
        self.assertEqual(load["revision"], "healing-predictor-00001")
        self.assertGreaterEqual(load["failedAttempts"], 1)
        # Known but not ready: 503 with Retry-After, not 404.
        r = self.serve.gw("POST", "/v1/models/healing:predict", host="healing.default.example.com",
                          json={"instances": IRIS})
        self.assertEqual(r.status_code, 503, r.text)
        self.assertEqual(r.headers.get("Retry-After"), "1")
        # It keeps retrying (the attempts grow) while the file is broken.
        self.serve.wait("healing", lambda o: o["status"].get("inferd", {}).get("modelLoad", {})
                        .get("failedAttempts", 0) >= 2, what="a second failed attempt")
        generation = obj["metadata"]["generation"]
        tmp = os.path.join(model_dir, "model.json.tmp")
        shutil.copy(os.path.join(MODELS, "xgb_iris_softprob", "model.json"), tmp)
        os.rename(tmp, os.path.join(model_dir, "model.json"))
        obj = self.serve.wait_ready("healing", timeout=60)
        self.assertEqual(obj["metadata"]["generation"], generation)
        self.assertNotIn("modelLoad", obj["status"]["inferd"])
        self.assertNotIn("lastFailureInfo", model_status(obj))
        self.assertEqual(obj["status"]["components"]["predictor"]["latestCreatedRevision"], "healing-predictor-00001")
        r = self.serve.gw("POST", "/v1/models/healing:predict", host="healing.default.example.com",
                          json={"instances": IRIS})
        self.assertEqual(r.status_code, 200, r.text)
        events = self.serve.api("GET", "/api/v1/namespaces/default/events").json()["items"]
        reasons = [e["reason"] for e in events if e["involvedObject"]["name"] == "healing"]
        self.assertIn("ModelLoadFailed", reasons)
        self.assertIn("ModelLoaded", reasons)
        self.delete("healing")

    # ---- health through the gateway ---------------------------------------------------------------
    def test_03_health_is_the_health_of_the_service_named(self):
        self.apply(self.isvc_yaml("healthy", "sklearn", self.sklearn))
        self.apply(self.isvc_yaml("sick", "xgboost", os.path.join(MODELS, "errors", "corrupt")))
        self.serve.wait_ready("healthy")
        self.serve.wait("sick", lambda o: model_status(o).get("lastFailureInfo", {}).get("reason") ==
                        "ModelLoadFailed", what="ModelLoadFailed")
        for path in ("/v2/health/ready", "/v2/health/live", "/"):
            self.assertEqual(self.serve.gw("GET", path, host="healthy.default.example.com").status_code, 200, path)
            r = self.serve.gw("GET", path, host="sick.default.example.com")
            self.assertEqual(r.status_code, 503, path + " " + r.text)
            r = self.serve.gw("GET", path, host="helthy.default.example.com")
            self.assertEqual(r.status_code, 404, path + " " + r.text)
            # Naming no service: the gateway's own health.
            self.assertEqual(self.serve.gw("GET", path).status_code, 200, path)
        r = self.serve.gw("GET", "/serving/default/healthy/v2/health/ready")
        self.assertEqual(r.status_code, 200, r.text)
        self.assertEqual(self.serve.gw("GET", "/serving/default/sick/v2/health/ready").status_code, 503)
        self.delete("healthy")
        self.delete("sick")

    def test_03b_repository_verbs_through_the_gateway_need_the_replicas_token(self):
        # The gateway forwards every path to the replica; serve gives its replicas a repository token, so a
        # client cannot unload (or load over) the model a service serves. The index stays readable.
        self.apply(self.isvc_yaml("guarded", "sklearn", self.sklearn))
        self.serve.wait_ready("guarded")
        host = "guarded.default.example.com"
        for verb in ("unload", "load"):
            r = self.serve.gw("POST", "/v2/repository/models/guarded/" + verb, host=host)
            self.assertEqual(r.status_code, 401, verb + " " + r.text)
            r = self.serve.gw("POST", "/v2/repository/models/guarded/" + verb, host=host,
                              headers={"Authorization": "Bearer guess"})
            self.assertEqual(r.status_code, 401, verb + " " + r.text)
        self.assertEqual(self.serve.gw("POST", "/v2/repository/index", host=host).status_code, 200)
        r = self.serve.gw("POST", "/v1/models/guarded:predict", host=host, json={"instances": IRIS})
        self.assertEqual(r.status_code, 200, r.text)
        self.delete("guarded")

    def test_04b_knatives_visibility_label_is_cluster_local_too(self):
        # KServe's own docs/samples/v1beta1/advanced/cluster_local.yaml uses Knative's label.
        self.apply(self.isvc_yaml("knative-inside", "sklearn", self.sklearn,
                                  labels="  labels:\n    networking.knative.dev/visibility: cluster-local"))
        obj = self.serve.wait_ready("knative-inside")
        self.assertEqual(obj["status"]["url"], "http://knative-inside.default.svc.cluster.local")
        r = self.serve.gw("POST", "/v1/models/knative-inside:predict", host="knative-inside.default.svc.cluster.local",
                          json={"instances": IRIS})
        self.assertEqual(r.status_code, 200, r.text)
        self.delete("knative-inside")

    # ---- networking.kserve.io/visibility: cluster-local --------------------------------------------
    def test_04_cluster_local_service_is_not_published_outside(self):
        ip = external_ip()
        if ip is None:
            self.skipTest("this machine has no non-loopback IPv4 address to connect from")
        self.apply(self.isvc_yaml("inside", "sklearn", self.sklearn,
                                  labels="  labels:\n    networking.kserve.io/visibility: cluster-local"))
        obj = self.serve.wait_ready("inside")
        self.assertEqual(obj["status"]["url"], "http://inside.default.svc.cluster.local")
        self.assertEqual(obj["status"]["components"]["predictor"]["url"],
                         "http://inside-predictor.default.svc.cluster.local")
        port = self.serve.http_port
        cases = [("inside.default.svc.cluster.local", "/v1/models/inside:predict"),
                 ("inside.default.example.com", "/v1/models/inside:predict"),
                 (None, "/v1/models/inside:predict"),
                 (None, "/serving/default/inside/v1/models/inside:predict")]
        for host, path in cases:
            headers = {"Host": host} if host else {}
            r = requests.post("http://127.0.0.1:%d%s" % (port, path), json={"instances": IRIS}, headers=headers,
                              timeout=30)
            self.assertEqual(r.status_code, 200, "%s %s: %s" % (host, path, r.text))
            r = requests.post("http://%s:%d%s" % (ip, port, path), json={"instances": IRIS}, headers=headers,
                              timeout=30)
            self.assertEqual(r.status_code, 404, "%s %s from %s: %s" % (host, path, ip, r.text))
        # The label removed: published on every address again.
        self.apply(self.isvc_yaml("inside", "sklearn", self.sklearn))
        self.serve.wait("inside", lambda o: o["status"]["url"] == "http://inside.default.example.com",
                        what="the external url")
        deadline = time.time() + 30
        code = None
        while time.time() < deadline and code != 200:
            code = requests.post("http://%s:%d/v1/models/inside:predict" % (ip, port), json={"instances": IRIS},
                                 timeout=30).status_code
            time.sleep(0.05)
        self.assertEqual(code, 200)
        self.delete("inside")

    # ---- restart of serve: known services are 503 until ready, never 404 ----------------------------
    def test_05_restart_answers_503_never_404_until_ready(self):
        self.apply(self.isvc_yaml("survivor", "sklearn", self.sklearn))
        self.serve.wait_ready("survivor")
        self.serve.stop()
        type(self).serve = st.Serve(self.data_dir)
        codes = []
        deadline = time.time() + 90
        while time.time() < deadline:
            try:
                codes.append(self.serve.gw("POST", "/v1/models/survivor:predict", host="survivor.default.example.com",
                                           json={"instances": IRIS}).status_code)
            except requests.RequestException as e:
                codes.append(type(e).__name__)
            if codes[-1] == 200:
                break
        self.assertEqual(codes[-1], 200, codes[-20:])
        self.assertEqual(set(codes) - {200, 503}, set(), codes[:20])
        self.assertEqual(self.serve.gw("GET", "/v1/models/nobody").status_code, 404)
        self.delete("survivor")


if __name__ == "__main__":
    unittest.main(verbosity=2)
