"""End-to-end tests of multi-model serving (KServe's TrainedModel, inferd issue 17) through a real `inferd serve`.

- A multi-model InferenceService (a sklearn predictor without storageUri, KServe's rule) and 14 TrainedModels
  applied with `inferd apply`: each Ready with KServe's url, each answering its own model's predictions at that
  url through the gateway (the service's host); `inferd get tm`, `describe tm`, and kubectl's `get tm` with
  KServe's printer columns.
- TrainedModels that cannot serve: a framework the runtime does not list, a missing InferenceService, a
  single-model InferenceService, a model file that does not load: each not Ready with its reason, the others
  unaffected.
- A storageUri changed while requests run: the new model answers, and no request fails.
- Delete: the model is unloaded (404 at its url).
- A killed replica: its replacement loads every TrainedModel before it takes requests.
- A V2 multi-model service at zero replicas: a request at a TrainedModel's url wakes it (the activator).
- `inferd serve` restarted: every TrainedModel answers again.
- KServe's own sample (docs/samples/multimodelserving/sklearn), storageUri changed to a local one, when the model
  server has --memory_budget (the sample's predictor sets a memory limit).

Models are served over http:// by a local http.server (KServe allows only remote storageUri prefixes for
TrainedModels). Timeouts are generous; nothing here is about speed. Environment as for serve_test.py.
"""

import functools
import http.server
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import serve_test as st  # noqa: E402  (Serve, helpers)

MODELS = st.MODELS
SKLEARN = os.path.join(MODELS, "sklearn")
ALPHA = "/apis/serving.kserve.io/v1alpha1/namespaces/default"
HOST = "mm.default.example.com"

CONFIG = """
autoscaler:
  stable-window: 2s
  panic-window-percentage: 50
  scale-to-zero-grace-period: 1s
  enable-scale-to-zero: true
"""

# Models with numeric answers (labels or values), each its own TrainedModel.
NAMES = ["sklearn-iris-logreg", "sklearn-iris-knn", "sklearn-iris-et", "sklearn-iris-gbc", "sklearn-iris-hgbc",
         "sklearn-iris-linearsvc", "sklearn-iris-rf", "sklearn-iris-pipeline", "sklearn-diabetes-linear",
         "sklearn-diabetes-ridge", "sklearn-diabetes-lasso", "sklearn-diabetes-dtr", "sklearn-diabetes-rfr",
         "sklearn-binary-logreg"]


def tm_name(model):
    return model.replace("sklearn-", "")


def expected(model):
    return st.expected(os.path.join(SKLEARN, model + ".expected.json"))


def close(got, want):
    if len(got) != len(want):
        return False
    for g, w in zip(got, want):
        if isinstance(w, float) or isinstance(g, float):
            if abs(float(g) - float(w)) > 1e-3 * max(1.0, abs(float(w))):
                return False
        elif g != w:
            return False
    return True


def condition(obj, type_):
    for c in (obj or {}).get("status", {}).get("conditions", []):
        if c.get("type") == type_:
            return c
    return {}


class TrainedModelTest(st.ApplyMixin, unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="inferd-tm-test-")
        cls.files = os.path.join(cls.tmp, "files")
        cls.model_file = {}
        for m in NAMES:  # one file each (model.joblib or model.pkl)
            shutil.copytree(os.path.join(SKLEARN, m), os.path.join(cls.files, m))
            cls.model_file[m] = sorted(os.listdir(os.path.join(cls.files, m)))[0]
        os.makedirs(os.path.join(cls.files, "broken"))
        with open(os.path.join(cls.files, "broken", "model.joblib"), "wb") as f:
            f.write(b"this is not a joblib file\n" * 10)
        os.makedirs(os.path.join(cls.files, "xgb"))
        shutil.copy(os.path.join(MODELS, "xgb_iris_softprob", "model.json"), os.path.join(cls.files, "xgb", "model.json"))
        handler = functools.partial(st.QuietHandler, directory=cls.files)
        cls.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        cls.http_url = "http://127.0.0.1:%d" % cls.httpd.server_address[1]
        threading.Thread(target=cls.httpd.serve_forever, daemon=True).start()
        config = os.path.join(cls.tmp, "config.yaml")
        with open(config, "w") as f:
            f.write(CONFIG)
        cls.data_dir = os.path.join(cls.tmp, "data")
        cls.serve = st.Serve(cls.data_dir, ["--config", config])
        cls.serve_up = True

    @classmethod
    def tearDownClass(cls):
        cls.serve.stop()
        cls.httpd.shutdown()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    # ---- helpers ---------------------------------------------------------------------------------------
    def uri(self, model, file=None):
        return "%s/%s/%s" % (self.http_url, model, file or self.model_file.get(model, "model.joblib"))

    def tm(self, name):
        r = self.serve.api("GET", ALPHA + "/trainedmodels/" + name)
        return r.json() if r.status_code == 200 else None

    def wait_tm(self, name, pred, what, timeout=120):
        deadline = time.time() + timeout
        obj = None
        while time.time() < deadline:
            obj = self.tm(name)
            if obj is not None and pred(obj):
                return obj
            time.sleep(0.1)
        raise AssertionError("trainedmodel %s: timed out waiting for %s; last object:\n%s\nserve output:\n%s" %
                             (name, what, json.dumps(obj, indent=1), self.serve.output()))

    def wait_tm_ready(self, name, timeout=120):
        return self.wait_tm(name, lambda o: condition(o, "Ready").get("status") == "True", "Ready", timeout)

    def tm_yaml(self, name, isvc, uri, framework="sklearn", memory="64Mi"):
        return ("apiVersion: serving.kserve.io/v1alpha1\nkind: TrainedModel\nmetadata:\n  name: %s\nspec:\n"
                "  inferenceService: %s\n  model:\n    storageUri: %s\n    framework: %s\n    memory: %s\n" %
                (name, isvc, uri, framework, memory))

    def predict(self, name, model, host=HOST):
        exp = expected(model)
        return self.serve.gw("POST", "/v1/models/%s:predict" % name, host=host, json={"instances": exp["instances"]})

    def assert_answers(self, name, model):
        r = self.predict(name, model)
        self.assertEqual(r.status_code, 200, "%s: %s" % (name, r.text))
        self.assertTrue(close(r.json()["predictions"], expected(model)["predict"]), "%s: %s" % (name, r.text))

    # ---- tests -----------------------------------------------------------------------------------------
    def test_01_many_trained_models_each_at_its_url(self):
        self.apply("""
apiVersion: serving.kserve.io/v1beta1
kind: InferenceService
metadata:
  name: mm
spec:
  predictor:
    minReplicas: 1
    model:
      modelFormat:
        name: sklearn
""")
        self.serve.wait_ready("mm", timeout=120)
        docs = "---\n".join(self.tm_yaml(tm_name(m), "mm", self.uri(m)) for m in NAMES)
        self.apply(docs)
        for m in NAMES:
            obj = self.wait_tm_ready(tm_name(m))
            self.assertEqual(obj["status"]["url"], "http://%s/v1/models/%s:predict" % (HOST, tm_name(m)))
            for c in ("InferenceServiceReady", "IsMMSPredictor", "MemoryResourceAvailable"):
                self.assertEqual(condition(obj, c).get("status"), "True", c)
        for m in NAMES:
            self.assert_answers(tm_name(m), m)
        # The path form of the service reaches them too.
        exp = expected(NAMES[0])
        r = self.serve.gw("POST", "/serving/default/mm/v1/models/%s:predict" % tm_name(NAMES[0]),
                          json={"instances": exp["instances"]})
        self.assertEqual(r.status_code, 200, r.text)
        # inferd get / describe; kubectl's printer columns.
        rc, out, err = self.serve.cli("get", "tm")
        self.assertEqual(rc, 0, err)
        lines = out.strip().splitlines()
        self.assertEqual(lines[0].split(), ["NAME", "URL", "READY", "AGE"])
        row = [l.split() for l in lines if l.startswith("iris-logreg ")][0]
        self.assertEqual(row[1:3], ["http://%s/v1/models/iris-logreg:predict" % HOST, "True"])
        rc, out, err = self.serve.cli("describe", "tm", "iris-logreg")
        self.assertEqual(rc, 0, err)
        self.assertIn("MemoryResourceAvailable", out)
        self.assertIn("inferenceService: mm", out)
        if shutil.which("kubectl"):
            p = subprocess.run(["kubectl", "--kubeconfig", os.path.join(self.data_dir, "kubeconfig"), "get", "tm"],
                               capture_output=True, text=True, timeout=60)
            self.assertEqual(p.returncode, 0, p.stderr)
            klines = p.stdout.strip().splitlines()
            self.assertEqual(klines[0].split(), ["NAME", "URL", "READY", "AGE"])
            self.assertEqual(len(klines), 1 + len(NAMES), p.stdout)

    def test_02_trained_models_that_cannot_serve(self):
        self.apply("""
apiVersion: serving.kserve.io/v1beta1
kind: InferenceService
metadata:
  name: single
spec:
  predictor:
    model:
      modelFormat:
        name: sklearn
      storageUri: file://%s
""" % os.path.join(SKLEARN, "sklearn-iris-logreg"))
        self.apply("---\n".join([
            self.tm_yaml("wrong-framework", "mm", self.uri("xgb", "model.json"), framework="xgboost"),
            self.tm_yaml("no-service", "nope", self.uri(NAMES[0])),
            self.tm_yaml("on-single", "single", self.uri(NAMES[0])),
            self.tm_yaml("broken", "mm", self.uri("broken")),
        ]))
        reasons = {"wrong-framework": "FrameworkNotSupported", "no-service": "InferenceServiceNotFound",
                   "on-single": "IsNotMMSPredictor", "broken": "ModelLoadFailed"}
        for name, reason in reasons.items():
            obj = self.wait_tm(name, lambda o, r=reason: condition(o, "Ready").get("reason") == r, reason)
            self.assertEqual(condition(obj, "Ready")["status"], "False")
        self.assertIn("spec.model.framework", condition(self.tm("wrong-framework"), "Ready")["message"])
        self.assertIn("spec.inferenceService", condition(self.tm("no-service"), "Ready")["message"])
        self.assertIn("spec.inferenceService", condition(self.tm("on-single"), "Ready")["message"])
        self.assertEqual(condition(self.tm("on-single"), "IsMMSPredictor")["status"], "False")
        self.assertIn("broken", condition(self.tm("broken"), "Ready")["message"])
        self.assertEqual(self.predict("broken", NAMES[0]).status_code, 404)
        # Nothing else affected: the service stays Ready and every model still answers.
        self.assertTrue(st.is_ready(self.serve.isvc("mm")))
        for m in NAMES:
            self.assert_answers(tm_name(m), m)

    def test_03_storage_uri_update_under_load_drops_nothing(self):
        old, new = "sklearn-diabetes-linear", "sklearn-diabetes-ridge"
        self.apply(self.tm_yaml("swap", "mm", self.uri(old)))
        self.wait_tm_ready("swap")
        self.assert_answers("swap", old)
        exp_new = expected(new)["predict"]
        failures, answers, stop = [], [], threading.Event()

        def load():
            while not stop.is_set():
                r = self.predict("swap", old)
                if r.status_code != 200:
                    failures.append("%d %s" % (r.status_code, r.text))
                else:
                    answers.append(r.json()["predictions"])

        threads = [threading.Thread(target=load) for _ in range(4)]
        for t in threads:
            t.start()
        try:
            time.sleep(0.5)
            self.apply(self.tm_yaml("swap", "mm", self.uri(new)))
            deadline = time.time() + 120
            while time.time() < deadline and not (answers and close(answers[-1], exp_new)):
                time.sleep(0.1)
            time.sleep(0.5)
        finally:
            stop.set()
            for t in threads:
                t.join()
        self.assertEqual(failures, [])
        self.assertTrue(close(answers[-1], exp_new), "the new model never answered: %s" % answers[-1:])
        self.assertTrue(close(answers[0], expected(old)["predict"]))
        self.wait_tm(
            "swap", lambda o: condition(o, "Ready").get("status") == "True" and
            o["status"].get("observedGeneration") == o["metadata"]["generation"], "Ready at the new generation")

    def test_04_delete_unloads(self):
        self.apply(self.tm_yaml("gone", "mm", self.uri(NAMES[1])))
        self.wait_tm_ready("gone")
        self.assert_answers("gone", NAMES[1])
        rc, out, err = self.serve.cli("delete", "tm", "gone")
        self.assertEqual(rc, 0, out + err)
        deadline = time.time() + 60
        while time.time() < deadline and self.predict("gone", NAMES[1]).status_code != 404:
            time.sleep(0.1)
        self.assertEqual(self.predict("gone", NAMES[1]).status_code, 404)
        self.assertIsNone(self.tm("gone"))
        self.assert_answers(tm_name(NAMES[0]), NAMES[0])
        if shutil.which("kubectl"):  # kubectl's describe and delete of a TrainedModel
            kubectl = ["kubectl", "--kubeconfig", os.path.join(self.serve.data_dir, "kubeconfig")]
            p = subprocess.run(kubectl + ["describe", "tm", tm_name(NAMES[0])], capture_output=True, text=True,
                               timeout=60)
            self.assertEqual(p.returncode, 0, p.stderr)
            self.assertIn("MemoryResourceAvailable", p.stdout)
            self.apply(self.tm_yaml("gone2", "mm", self.uri(NAMES[2])))
            self.wait_tm_ready("gone2")
            p = subprocess.run(kubectl + ["delete", "tm", "gone2"], capture_output=True, text=True, timeout=60)
            self.assertEqual(p.returncode, 0, p.stderr)
            deadline = time.time() + 60
            while time.time() < deadline and self.predict("gone2", NAMES[2]).status_code != 404:
                time.sleep(0.1)
            self.assertEqual(self.predict("gone2", NAMES[2]).status_code, 404)

    def test_05_killed_replica_loads_every_model_again(self):
        before = st.pids(self.serve.isvc("mm"))
        self.assertEqual(len(before), 1)
        os.kill(before[0], signal.SIGKILL)
        self.serve.wait("mm", lambda o: st.pids(o) and st.pids(o)[0] != before[0] and st.is_ready(o),
                        timeout=120, what="a new replica")
        # Every request after the replacement is routed finds every model (it is routed only once loaded).
        for m in NAMES:
            self.assert_answers(tm_name(m), m)
        self.assert_answers("swap", "sklearn-diabetes-ridge")

    def test_06_v2_service_at_zero_wakes_for_a_trained_model(self):
        self.apply("""
apiVersion: serving.kserve.io/v1beta1
kind: InferenceService
metadata:
  name: mmz
spec:
  predictor:
    minReplicas: 0
    model:
      modelFormat:
        name: xgboost
      protocolVersion: v2
""")
        self.apply(self.tm_yaml("xgb-iris", "mmz", self.uri("xgb", "model.json"), framework="xgboost"))
        obj = self.wait_tm_ready("xgb-iris")
        self.assertEqual(obj["status"]["url"], "http://mmz.default.example.com/v2/models/xgb-iris/infer")
        self.serve.wait("mmz", lambda o: st.is_ready(o) and not st.pids(o), timeout=120, what="scaled to zero")
        exp = st.expected(os.path.join(MODELS, "xgb_iris_softprob.expected.json"))
        rows = exp["instances"] if "instances" in exp else exp["inputs"]
        body = {"inputs": [{"name": "input-0", "shape": [len(rows), len(rows[0])], "datatype": "FP32",
                            "data": [v for row in rows for v in row]}]}
        r = self.serve.gw("POST", "/v2/models/xgb-iris/infer", host="mmz.default.example.com", json=body)
        self.assertEqual(r.status_code, 200, r.text)
        self.assertEqual(r.json()["model_name"], "xgb-iris")
        self.assertEqual(r.json()["outputs"][0]["shape"][0], len(rows))

    def test_06b_serve_restart_keeps_every_model(self):
        # inferd serve stops (its replicas with it) and starts again on the same data dir: the repository's links
        # are still there, the new replicas load them at start-up, and every TrainedModel answers again.
        self.serve.stop()
        config = os.path.join(self.tmp, "config.yaml")
        type(self).serve = st.Serve(self.data_dir, ["--config", config])
        self.serve.wait_ready("mm", timeout=120)
        for m in NAMES:
            self.wait_tm_ready(tm_name(m))
            self.assert_answers(tm_name(m), m)
        self.assertEqual(condition(self.tm("broken"), "Ready")["reason"], "ModelLoadFailed")

    def test_07_kserve_sample(self):
        # docs/samples/multimodelserving/sklearn of KServe, unchanged but for storageUri.
        self.apply("""
apiVersion: "serving.kserve.io/v1beta1"
kind: "InferenceService"
metadata:
  name: "sklearn-iris-example"
spec:
  predictor:
    minReplicas: 1
    sklearn:
      protocolVersion: v1
      name: "sklearn-iris-predictor"
      resources:
        limits:
          cpu: 100m
          memory: 512Mi
        requests:
          cpu: 100m
          memory: 512Mi
""")
        self.apply("""
apiVersion: "serving.kserve.io/v1alpha1"
kind: "TrainedModel"
metadata:
  name: "model1-sklearn"
spec:
  inferenceService: "sklearn-iris-example"
  model:
    storageUri: "%s"
    framework: "sklearn"
    memory: "256Mi"
---
apiVersion: "serving.kserve.io/v1alpha1"
kind: "TrainedModel"
metadata:
  name: "model2-sklearn"
spec:
  inferenceService: "sklearn-iris-example"
  model:
    storageUri: "%s"
    framework: "sklearn"
    memory: "256Mi"
""" % (self.uri("sklearn-iris-logreg"), self.uri("sklearn-iris-knn")))
        host = "sklearn-iris-example.default.example.com"
        for name, model in (("model1-sklearn", "sklearn-iris-logreg"), ("model2-sklearn", "sklearn-iris-knn")):
            self.wait_tm_ready(name)
            r = self.predict(name, model, host=host)
            self.assertEqual(r.status_code, 200, r.text)
            self.assertTrue(close(r.json()["predictions"], expected(model)["predict"]), r.text)
        # A third one exceeds the 512Mi limit (KServe's MemoryResourceAvailable).
        self.apply(self.tm_yaml("model3-sklearn", "sklearn-iris-example", self.uri("sklearn-iris-rf"),
                                memory="256Mi"))
        obj = self.wait_tm(
            "model3-sklearn", lambda o: condition(o, "MemoryResourceAvailable").get("status") == "False",
            "MemoryResourceAvailable False")
        self.assertEqual(condition(obj, "MemoryResourceAvailable")["reason"], "MemoryResourceNotAvailable")


if __name__ == "__main__":
    unittest.main()
