"""End-to-end tests of inferd's serverless behaviour (issue 5) through `inferd serve`: autoscaling on the
gateway's measurements, scale to zero and the activator, containerConcurrency, raw-mode cpu scaling, and
rollouts (promotion, rollback, a revision that fails to load) while a client keeps sending.

`inferd serve` runs with `--config` giving short autoscaler windows (2 s stable window, 1 s panic window,
1 s scale-to-zero grace period), so what takes Knative minutes takes seconds here. Timeouts are generous:
ctest runs this beside other tests on a 2-core machine. No assertion is about speed.

A "slow runtime" (a user ServingRuntime whose container is a small threaded Python HTTP server) answers
every POST after sleeping for the body's "sleep" seconds and reports its pid and the most requests it ever
had in flight at once: what the replicas actually saw, independent of the gateway's own counters.

Run by ctest with Debian's /usr/bin/python3; environment as for serve_test.py.
"""

import json
import os
import re
import shutil
import sys
import tempfile
import threading
import time
import unittest

import requests

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import serve_test as st  # noqa: E402  (Serve, helpers, gRPC stubs)

g = st.g
MODELS = st.MODELS
IRIS = st.IRIS

CONFIG = """
autoscaler:
  stable-window: 2s
  panic-window-percentage: 50
  scale-to-zero-grace-period: 1s
  enable-scale-to-zero: true
"""

SLOW_SERVER = r'''
import http.server, json, os, sys, threading, time
lock = threading.Lock()
state = {"now": 0, "max": 0, "n": 0}
burn = float(os.environ.get("BURN", "0"))  # fraction of a core to keep busy (the cpu-scaling test)
def burner():
    while True:
        t = time.monotonic()
        while time.monotonic() - t < burn * 0.01:
            pass
        time.sleep((1 - burn) * 0.01)
if burn > 0:
    threading.Thread(target=burner, daemon=True).start()
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *a):
        pass
    def reply(self, obj):
        b = json.dumps(obj).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(b)))
        self.end_headers()
        self.wfile.write(b)
    def do_GET(self):
        self.reply({"pid": os.getpid()})
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        req = json.loads(body or b"{}")
        with lock:
            state["now"] += 1
            state["n"] += 1
            state["max"] = max(state["max"], state["now"])
        time.sleep(float(req.get("sleep", 0)))
        with lock:
            state["now"] -= 1
            out = {"pid": os.getpid(), "max": state["max"], "n": state["n"]}
        self.reply(out)
port = int(sys.argv[sys.argv.index("--http_port") + 1])
srv = http.server.ThreadingHTTPServer(("127.0.0.1", port), H)
srv.daemon_threads = True
srv.serve_forever()
'''


def revision_status(obj, name=None):
    revs = obj.get("status", {}).get("inferd", {}).get("revisions", [])
    if name is None:
        return revs
    return [r for r in revs if r["name"] == name]


def replica_count(obj):
    return len(obj.get("status", {}).get("inferd", {}).get("replicas", []))


def ready_replicas(obj):
    return sum(1 for r in obj.get("status", {}).get("inferd", {}).get("replicas", []) if r.get("phase") == "Ready")


def traffic(obj):
    t = obj.get("status", {}).get("components", {}).get("predictor", {}).get("traffic", [])
    return {x["revisionName"]: x["percent"] for x in t}


class Load:
    """Clients sending `send()` in a loop on threads until stopped; every answer is kept for the asserts."""

    def __init__(self, send, clients=1):
        self.send = send
        self.stop_flag = threading.Event()
        self.lock = threading.Lock()
        self.results = []  # (status code or exception text, parsed body or None, time sent)
        self.threads = [threading.Thread(target=self._run, daemon=True) for _ in range(clients)]
        for t in self.threads:
            t.start()

    def _run(self):
        with requests.Session() as session:
            self._loop(session)

    def _loop(self, session):
        while not self.stop_flag.is_set():
            t = time.time()
            try:
                r = self.send(session)
                body = r.json() if r.status_code == 200 else r.text
                item = (r.status_code, body, t)
            except Exception as e:  # a broken connection is a failed request too
                item = ("%s: %s" % (type(e).__name__, e), None, t)
            with self.lock:
                self.results.append(item)

    def count(self):
        with self.lock:
            return len(self.results)

    def stop(self):
        self.stop_flag.set()
        for t in self.threads:
            t.join(60)
        return self.results

    @staticmethod
    def failures(results):
        return [(code, body) for code, body, _ in results if code != 200]


class ServerlessTest(st.ApplyMixin, unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="inferd-serverless-test-")
        g.generate_stubs(cls.tmp)
        config = os.path.join(cls.tmp, "serve.yaml")
        with open(config, "w") as f:
            f.write(CONFIG)
        cls.slow = os.path.join(cls.tmp, "slow_server.py")
        with open(cls.slow, "w") as f:
            f.write(SLOW_SERVER)
        cls.serve = st.Serve(os.path.join(cls.tmp, "data"), ["--config", config])
        cls.sklearn = os.path.join(MODELS, "sklearn", "sklearn-iris-logreg")
        cls.xgboost = os.path.join(MODELS, "xgb_iris_softprob", "model.json")
        rc, out, err = cls.serve.cli("apply", "-f", "-", stdin="""
apiVersion: serving.kserve.io/v1alpha1
kind: ServingRuntime
metadata:
  name: slow-runtime
spec:
  supportedModelFormats:
    - name: slow
      autoSelect: true
  protocolVersions: [v1]
  containers:
    - name: kserve-container
      command: [/usr/bin/python3, %s]
      args:
        - --model_name={{.Name}}
        - --http_port
        - "8080"
      env:
        - name: BURN
          value: "{{.Annotations.test/burn}}"
""" % cls.slow)
        if rc != 0:
            raise RuntimeError(out + err)

    @classmethod
    def tearDownClass(cls):
        cls.serve.stop()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def delete(self, name):
        self.assertEqual(self.serve.cli("delete", "isvc", name)[0], 0)

    def slow_isvc(self, name, predictor_fields="", annotations=""):
        return """
apiVersion: serving.kserve.io/v1beta1
kind: InferenceService
metadata:
  name: %s
  annotations:
    test/burn: "0"
%s
spec:
  predictor:
%s
    model:
      modelFormat:
        name: slow
""" % (name, annotations, predictor_fields)

    def wait_zero(self, name, timeout=60):
        # At zero on purpose: no replica, the revision's autoscaler wants 0, and the service stays Ready (the
        # activator brings it back on the next request).
        return self.serve.wait(name, lambda o: st.is_ready(o) and replica_count(o) == 0 and all(
            r["replicas"] == 0 and r.get("autoscaler", {}).get("desiredReplicas") == 0 for r in revision_status(o)),
            timeout, "scale to zero")

    # ---- scale to zero and the activator ---------------------------------------------------------------
    def test_01_scale_to_zero_then_a_request_is_answered(self):
        self.apply("""
apiVersion: serving.kserve.io/v1beta1
kind: InferenceService
metadata:
  name: zero-iris
spec:
  predictor:
    minReplicas: 0
    sklearn:
      storageUri: file://%s
""" % self.sklearn)
        obj = self.serve.wait_ready("zero-iris")
        auto = revision_status(obj)[0]["autoscaler"]
        self.assertEqual(auto["minScale"], 0)
        self.assertEqual(auto["metric"], "concurrency")
        self.assertAlmostEqual(auto["target"], 70)  # 100 * 70%
        r = self.serve.gw("POST", "/v1/models/zero-iris:predict", json={"instances": IRIS})
        self.assertEqual(r.status_code, 200, r.text)
        first_pids = st.pids(self.serve.isvc("zero-iris"))
        self.assertEqual(len(first_pids), 1)

        # Idle: stable window (2 s) at desired 0 -> inactive, then the grace period (1 s) -> no replica.
        self.wait_zero("zero-iris")
        deadline = time.time() + 15
        while st.alive(first_pids[0]) and time.time() < deadline:
            time.sleep(0.05)
        self.assertFalse(st.alive(first_pids[0]), "the replica of a revision at zero still runs")
        rc, out, err = self.serve.cli("get", "revisions", "zero-iris")
        self.assertEqual(rc, 0, err)
        self.assertRegex(out, r"zero-iris-predictor-00001\s+zero-iris\s+kserve-sklearnserver\s+100%\s+\S*\s*true\s+0\s+0")

        # A request at zero: held by the activator, a replica starts, the request is answered by it, correctly
        # (never a 4xx "model not ready", never a 503).
        t0 = time.time()
        r = self.serve.gw("POST", "/v1/models/zero-iris:predict", host="zero-iris.default.example.com",
                          json={"instances": IRIS})
        cold = time.time() - t0
        self.assertEqual(r.status_code, 200, r.text)
        self.assertEqual(r.json(), {"predictions": [1, 1]})
        # The status catches up with the routes (the reconciler publishes routes before it writes status).
        obj = self.serve.wait("zero-iris", lambda o: ready_replicas(o) == 1, 30, "the replica in the status")
        self.assertNotEqual(st.pids(obj), first_pids)
        print("zero-iris: REST request at zero answered in %.0f ms" % (cold * 1e3), file=sys.stderr)

        # The same over gRPC (V2 ModelInfer routed by model_name): held, activated, answered.
        self.wait_zero("zero-iris")
        import grpc
        pb, pb_grpc = g.pb, g.pb_grpc
        with grpc.insecure_channel("127.0.0.1:%d" % self.serve.grpc_port) as ch:
            stub = pb_grpc.GRPCInferenceServiceStub(ch)
            inp = pb.ModelInferRequest.InferInputTensor(name="input-0", datatype="FP32", shape=[2, 4])
            inp.contents.fp32_contents.extend([x for row in IRIS for x in row])
            t0 = time.time()
            resp = stub.ModelInfer(pb.ModelInferRequest(model_name="zero-iris", inputs=[inp]), timeout=60)
            cold = time.time() - t0
        out = resp.outputs[0]
        got = list(out.contents.int64_contents) or list(out.contents.int_contents)
        if not got and resp.raw_output_contents:
            import struct
            got = list(struct.unpack("<2q", resp.raw_output_contents[0]))
        self.assertEqual(got, [1, 1])
        print("zero-iris: gRPC request at zero answered in %.0f ms" % (cold * 1e3), file=sys.stderr)
        self.delete("zero-iris")

    # ---- request-driven autoscaling ----------------------------------------------------------------------
    def test_02_burst_scales_up_then_down_to_zero(self):
        # target 1 -> 0.7 requests in flight per replica; six clients keep ~6 in flight -> panic, up to maxReplicas.
        self.apply(self.slow_isvc("burst", "    minReplicas: 0\n    maxReplicas: 4",
                                  '    autoscaling.knative.dev/target: "1"'))
        obj = self.serve.wait_ready("burst")
        auto = revision_status(obj)[0]["autoscaler"]
        self.assertAlmostEqual(auto["target"], 0.7)
        self.assertEqual((auto["minScale"], auto["maxScale"]), (0, 4))
        self.assertEqual(replica_count(obj), 1)  # initial-scale 1

        load = Load(lambda s: s.post("http://127.0.0.1:%d/v1/models/burst:predict" % self.serve.http_port,
                                     json={"sleep": 0.05}, timeout=60), clients=6)
        try:
            most = 0
            deadline = time.time() + 60
            while time.time() < deadline and most < 4:
                most = max(most, ready_replicas(self.serve.isvc("burst")))
                time.sleep(0.1)
            t_full = time.time()
            while time.time() - t_full < 1.0:  # let every replica take some requests
                time.sleep(0.1)
        finally:
            results = load.stop()
        self.assertEqual(most, 4, "the burst did not reach maxReplicas 4:\n" + self.serve.output())
        self.assertEqual(Load.failures(results), [])
        answered_by = {body["pid"] for code, body, _ in results if code == 200}
        self.assertGreaterEqual(len(answered_by), 2, "one replica answered everything")
        obj = self.serve.isvc("burst")
        self.assertLessEqual(replica_count(obj), 4)  # maxReplicas bounds it
        # The load is gone: back down, and to zero (minReplicas 0).
        self.wait_zero("burst")
        self.delete("burst")

    def test_03_container_concurrency_1_holds_instead_of_failing(self):
        self.apply(self.slow_isvc("one-at-a-time", "    containerConcurrency: 1\n    minReplicas: 1\n    maxReplicas: 1"))
        self.serve.wait_ready("one-at-a-time")
        n, sleep = 6, 0.3
        answers = [None] * n

        def call(i):
            try:
                answers[i] = self.serve.gw("POST", "/v1/models/one-at-a-time:predict", json={"sleep": sleep})
            except Exception as e:
                answers[i] = e
        t0 = time.time()
        threads = [threading.Thread(target=call, args=(i,)) for i in range(n)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        elapsed = time.time() - t0
        for a in answers:
            self.assertIsInstance(a, requests.Response, a)
            self.assertEqual(a.status_code, 200, a.text)
        # The replica never had two requests at once: the gateway queued them (so they took turns).
        self.assertEqual(max(a.json()["max"] for a in answers), 1)
        self.assertGreaterEqual(elapsed, n * sleep * 0.95)
        self.assertEqual(len({a.json()["pid"] for a in answers}), 1)
        self.delete("one-at-a-time")

    def test_04_cpu_metric_scales_on_measured_cpu(self):
        # KServe's raw mode: scaleMetric cpu, scaleTarget 10 (% of the 1-core request = 0.1 cores per replica).
        # Each replica burns ~0.35 cores with no request at all, so only the CPU measurement can scale it up.
        self.apply(self.slow_isvc("cpu-bound", "    scaleMetric: cpu\n    scaleTarget: 10\n    maxReplicas: 2\n"
                                               "    resources:\n      requests:\n        cpu: \"1\"")
                   .replace('test/burn: "0"', 'test/burn: "0.35"'))
        obj = self.serve.wait_ready("cpu-bound")
        auto = revision_status(obj)[0]["autoscaler"]
        self.assertEqual(auto["metric"], "cpu")
        self.assertAlmostEqual(auto["target"], 0.1)
        obj = self.serve.wait("cpu-bound", lambda o: ready_replicas(o) == 2, 60, "two replicas from cpu usage")
        self.assertGreater(revision_status(obj)[0]["autoscaler"]["observed"], 0.1)
        self.delete("cpu-bound")

    # ---- rollouts while a client keeps sending -----------------------------------------------------------
    def rollout_isvc(self, name, fmt, path, canary=None):
        return """
apiVersion: serving.kserve.io/v1beta1
kind: InferenceService
metadata:
  name: %s
spec:
  predictor:
    %s
    %s:
      storageUri: file://%s
""" % (name, "" if canary is None else "canaryTrafficPercent: %d" % canary, fmt, path)

    @staticmethod
    def is_v2(body):  # the XGBoost softprob model answers probability lists, the LogisticRegression labels
        return isinstance(body["predictions"][0], list)

    def test_05_promotion_and_rollback_with_no_failed_request(self):
        self.apply(self.rollout_isvc("roll", "sklearn", self.sklearn))
        self.serve.wait_ready("roll")
        load = Load(lambda s: s.post("http://127.0.0.1:%d/v1/models/roll:predict" % self.serve.http_port,
                                     json={"instances": IRIS}, timeout=60), clients=2)
        marks = {}
        try:
            def settle(what, pred):
                self.serve.wait("roll", pred, 60, what)
                n = load.count()
                deadline = time.time() + 30
                while load.count() < n + 100 and time.time() < deadline:
                    time.sleep(0.02)
                marks[what] = (n, load.count())

            time.sleep(0.3)
            self.apply(self.rollout_isvc("roll", "xgboost", self.xgboost, canary=20))
            settle("canary", lambda o: traffic(o) == {"roll-predictor-00001": 80, "roll-predictor-00002": 20})
            self.apply(self.rollout_isvc("roll", "xgboost", self.xgboost, canary=0))
            settle("rollback", lambda o: traffic(o) == {"roll-predictor-00001": 100, "roll-predictor-00002": 0})
            self.apply(self.rollout_isvc("roll", "xgboost", self.xgboost))
            settle("promotion", lambda o: traffic(o) == {"roll-predictor-00002": 100} and all(
                r["revision"] == "roll-predictor-00002" for r in o["status"]["inferd"]["replicas"]))
        finally:
            results = load.stop()
        self.assertEqual(Load.failures(results), [])
        self.assertGreater(len(results), 300)

        def window(what):
            a, b = marks[what]
            return [self.is_v2(body) for _, body, _ in results[a:b]]
        canary = window("canary")
        self.assertTrue(0 < sum(canary) < len(canary), "canary share %d of %d" % (sum(canary), len(canary)))
        self.assertFalse(any(window("rollback")))
        self.assertTrue(all(window("promotion")))
        self.delete("roll")

    def test_06_revision_that_fails_to_load_never_gets_traffic(self):
        self.apply(self.rollout_isvc("steady", "sklearn", self.sklearn))
        self.serve.wait_ready("steady")
        load = Load(lambda s: s.post("http://127.0.0.1:%d/v1/models/steady:predict" % self.serve.http_port,
                                     json={"instances": IRIS}, timeout=60))
        try:
            time.sleep(0.3)
            self.apply(self.rollout_isvc("steady", "xgboost", os.path.join(MODELS, "errors", "corrupt")))
            obj = self.serve.wait("steady", lambda o: o.get("status", {}).get("modelStatus", {})
                                  .get("lastFailureInfo", {}).get("reason") == "ModelLoadFailed", 60, "ModelLoadFailed")
            n = load.count()
            deadline = time.time() + 30
            while load.count() < n + 100 and time.time() < deadline:
                time.sleep(0.02)
        finally:
            results = load.stop()
        lfi = obj["status"]["modelStatus"]["lastFailureInfo"]
        self.assertEqual(lfi["modelRevisionName"], "steady-predictor-00002")
        self.assertTrue(st.is_ready(obj))  # the old revision still serves
        self.assertEqual(traffic(obj), {"steady-predictor-00001": 100})
        self.assertEqual(obj["status"]["components"]["predictor"]["latestCreatedRevision"], "steady-predictor-00002")
        self.assertEqual(obj["status"]["components"]["predictor"]["latestReadyRevision"], "steady-predictor-00001")
        self.assertEqual(Load.failures(results), [])
        self.assertGreater(len(results), 100)
        self.assertEqual({json.dumps(body) for _, body, _ in results}, {'{"predictions": [1, 1]}'})
        rc, out, err = self.serve.cli("get", "revisions", "steady")
        self.assertEqual(rc, 0, err)
        self.assertTrue(re.search(r"steady-predictor-00002\s+steady\s+kserve-xgbserver\s+0%", out), out)
        self.delete("steady")

    def test_07_bad_scaling_settings_are_refused_at_apply(self):
        # As Knative's webhook does: a 422 naming the annotation, nothing stored, everything else unaffected.
        for annotation, value, expect in (("autoscaling.knative.dev/target", "abc", "is not a number"),
                                          ("autoscaling.knative.dev/window", "0s", "window"),
                                          ("autoscaling.knative.dev/metric", "latency", "metric")):
            text = self.rollout_isvc("badscale", "sklearn", self.sklearn).replace(
                "  name: badscale\n", '  name: badscale\n  annotations:\n    %s: "%s"\n' % (annotation, value))
            rc, out, err = self.serve.cli("apply", "-f", "-", stdin=text)
            self.assertNotEqual(rc, 0, out)
            self.assertIn(annotation, err)
            self.assertIn(expect, err)
            r = self.serve.api("POST", "/apis/serving.kserve.io/v1beta1/namespaces/default/inferenceservices",
                               data=text, headers={"Content-Type": "application/yaml"})
            self.assertEqual(r.status_code, 422, r.text)
            self.assertEqual(r.json()["reason"], "Invalid")
            self.assertIn(annotation, r.json()["message"])
            self.assertIsNone(self.serve.isvc("badscale"))
        self.assertEqual(self.serve.api("GET", "/healthz").status_code, 200)


if __name__ == "__main__":
    unittest.main(verbosity=2)
