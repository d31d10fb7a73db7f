"""End-to-end tests of `inferd serve`: KServe YAMLs applied with the CLI, replicas started by the control
plane, predictions through the gateway by host and by path over REST and over gRPC.

Run by ctest with Debian's /usr/bin/python3 (requests, grpcio). Environment: INFERD_BIN, INFERD_TEST_MODELS,
INFERD_SOURCE_DIR, INFERD_BUILD_DIR (PyTorch/ONNX models under dl-test-models; those tests skip without them).
Model files are served to `storageUri` over file:// and over http:// by a local http.server.
"""

import functools
import http.server
import io
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
import unittest

import requests

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "server"))
import grpc_python_test as g  # noqa: E402  (stub generation)

INFERD_BIN = os.environ.get("INFERD_BIN", "inferd")
MODELS = os.environ.get("INFERD_TEST_MODELS", "")
BUILD_DIR = os.environ.get("INFERD_BUILD_DIR", "")
DL_MODELS = os.path.join(BUILD_DIR, "dl-test-models")
LGBM_DATA = os.path.join(g.SOURCE_DIR, "tests", "data", "lightgbm")
IRIS = [[6.8, 2.8, 4.8, 1.4], [6.0, 3.4, 4.5, 1.6]]


def expected(path):
    with open(path) as f:
        return json.load(f)


class Serve:
    """`inferd serve` on ephemeral ports with its own data dir."""

    def __init__(self, data_dir, extra_args=()):
        self.data_dir = data_dir
        self.proc = subprocess.Popen(
            [INFERD_BIN, "serve", "--data_dir", data_dir, "--http_port", "0", "--grpc_port", "0", "--api_port", "0",
             "--restart_backoff_ms", "200", "--max_restart_backoff_ms", "1000"] + list(extra_args),
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
        self.lines = []
        ports = None
        deadline = time.time() + 60
        while time.time() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                break
            self.lines.append(line)
            m = re.search(r"inferd serve listening http_port=(\d+) grpc_port=(\d+) api_port=(\d+)", line)
            if m:
                ports = [int(x) for x in m.groups()]
                break
        if not ports:
            raise RuntimeError("inferd serve did not start:\n" + "".join(self.lines))
        self.http_port, self.grpc_port, self.api_port = ports
        threading.Thread(target=self._drain, daemon=True).start()
        with open(os.path.join(data_dir, "token")) as f:
            self.token = f.read().strip()

    def _drain(self):
        for line in self.proc.stdout:
            self.lines.append(line)

    def output(self):
        return "".join(self.lines[-200:])

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.proc.stdout.close()

    def api(self, method, path, **kw):
        headers = kw.pop("headers", {})
        headers.setdefault("Authorization", "Bearer " + self.token)
        return requests.request(method, "http://127.0.0.1:%d%s" % (self.api_port, path), headers=headers,
                                timeout=30, **kw)

    def cli(self, *args, stdin=None):
        p = subprocess.run([INFERD_BIN] + list(args) + ["--data_dir", self.data_dir], input=stdin,
                           capture_output=True, text=True, timeout=120)
        return p.returncode, p.stdout, p.stderr

    def isvc(self, name, ns="default"):
        r = self.api("GET", "/apis/serving.kserve.io/v1beta1/namespaces/%s/inferenceservices/%s" % (ns, name))
        return r.json() if r.status_code == 200 else None

    def wait(self, name, pred, timeout=90, what="condition"):
        deadline = time.time() + timeout
        obj = None
        while time.time() < deadline:
            obj = self.isvc(name)
            if obj is not None and pred(obj):
                return obj
            time.sleep(0.05)
        raise AssertionError("%s: timed out waiting for %s; last object:\n%s\nserve output:\n%s" %
                             (name, what, json.dumps(obj, indent=1), self.output()))

    def wait_ready(self, name, timeout=90):
        return self.wait(name, is_ready, timeout, "Ready")

    def gw(self, method, path, host=None, **kw):
        headers = kw.pop("headers", {})
        if host:
            headers["Host"] = host
        return requests.request(method, "http://127.0.0.1:%d%s" % (self.http_port, path), headers=headers,
                                timeout=30, **kw)


def is_ready(obj):
    for c in obj.get("status", {}).get("conditions", []):
        if c.get("type") == "Ready":
            return c.get("status") == "True"
    return False


def pids(obj):
    return [r["pid"] for r in obj.get("status", {}).get("inferd", {}).get("replicas", []) if r.get("pid")]


def alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie counts as gone.
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


class ApplyMixin:
    """`self.apply(yaml)` for a TestCase with a `serve` (Serve): `inferd apply -f -`, which must succeed."""

    def apply(self, yaml_text):
        rc, out, err = self.serve.cli("apply", "-f", "-", stdin=yaml_text)
        self.assertEqual(rc, 0, out + err)
        return out


class ServeTest(ApplyMixin, unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="inferd-serve-test-")
        g.generate_stubs(cls.tmp)
        cls.files = os.path.join(cls.tmp, "files")
        os.makedirs(cls.files)
        # What the local "model store" serves over http://.
        shutil.copy(os.path.join(MODELS, "xgb_iris_softprob", "model.json"), os.path.join(cls.files, "model.json"))
        with tarfile.open(os.path.join(cls.files, "lightgbm.tar.gz"), "w:gz") as t:
            t.add(os.path.join(LGBM_DATA, "lg_rf_iris.model"), arcname="model.bst")
        with tarfile.open(os.path.join(cls.files, "evil.tar.gz"), "w:gz") as t:
            data = b"owned"
            info = tarfile.TarInfo("../escaped.txt")
            info.size = len(data)
            t.addfile(info, io.BytesIO(data))
        handler = functools.partial(QuietHandler, directory=cls.files)
        cls.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        cls.http_url = "http://127.0.0.1:%d" % cls.httpd.server_address[1]
        threading.Thread(target=cls.httpd.serve_forever, daemon=True).start()
        cls.data_dir = os.path.join(cls.tmp, "data")
        cls.serve = Serve(cls.data_dir)

    @classmethod
    def tearDownClass(cls):
        cls.serve.stop()
        cls.httpd.shutdown()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    # ---- the KServe samples ----------------------------------------------------------------------
    def test_01_sklearn_iris_v1_file_uri(self):
        model = os.path.join(MODELS, "sklearn", "sklearn-iris-logreg")
        out = self.apply("""
apiVersion: serving.kserve.io/v1beta1
kind: InferenceService
metadata:
  name: sklearn-iris
spec:
  predictor:
    model:
      modelFormat:
        name: sklearn
      storageUri: file://%s
""" % model)
        self.assertIn("inferenceservice.serving.kserve.io/sklearn-iris created", out)
        obj = self.serve.wait_ready("sklearn-iris")
        st = obj["status"]
        self.assertEqual(st["url"], "http://sklearn-iris.default.example.com")
        self.assertEqual(st["components"]["predictor"]["latestReadyRevision"], "sklearn-iris-predictor-00001")
        self.assertEqual(st["components"]["predictor"]["traffic"][0]["percent"], 100)
        self.assertEqual(st["modelStatus"]["states"]["activeModelState"], "Loaded")
        self.assertEqual(st["observedGeneration"], obj["metadata"]["generation"])
        want = expected(model + ".expected.json")
        body = {"instances": want["instances"]}
        for host, path in [("sklearn-iris.default.example.com", "/v1/models/sklearn-iris:predict"),
                           ("sklearn-iris-predictor.default.example.com", "/v1/models/sklearn-iris:predict"),
                           (None, "/v1/models/sklearn-iris:predict"),
                           (None, "/serving/default/sklearn-iris/v1/models/sklearn-iris:predict")]:
            r = self.serve.gw("POST", path, host=host, json=body)
            self.assertEqual(r.status_code, 200, (host, path, r.text))
            self.assertEqual(r.json()["predictions"], want["predict"], (host, path))
        # The CLI's predict picks V1 from the service's protocol.
        direct = self.serve.gw("POST", "/v1/models/sklearn-iris:predict", json={"instances": IRIS}).json()
        rc, out, err = self.serve.cli("predict", "sklearn-iris", "-d", json.dumps({"instances": IRIS}))
        self.assertEqual(rc, 0, err)
        self.assertEqual(json.loads(out), direct)
        # kubectl-style listing.
        rc, out, err = self.serve.cli("get", "isvc")
        self.assertEqual(rc, 0, err)
        self.assertRegex(out, r"NAME\s+URL\s+READY\s+PREV\s+LATEST")
        self.assertRegex(out, r"sklearn-iris\s+http://sklearn-iris.default.example.com\s+True\s+100")
        rc, out, err = self.serve.cli("describe", "isvc", "sklearn-iris")
        self.assertEqual(rc, 0, err)
        self.assertIn("PredictorReady", out)
        self.assertIn("RevisionReady", out)
        rc, out, err = self.serve.cli("logs", "isvc", "sklearn-iris")
        self.assertEqual(rc, 0, err)
        self.assertIn("listening", out)
        # Applying the same YAML again changes nothing.
        out = self.apply("""
apiVersion: serving.kserve.io/v1beta1
kind: InferenceService
metadata:
  name: sklearn-iris
spec:
  predictor:
    model:
      modelFormat:
        name: sklearn
      storageUri: file://%s
""" % model)
        self.assertIn("unchanged", out)

    def test_02_xgboost_v2_http_uri_rest_and_grpc(self):
        self.apply("""
apiVersion: serving.kserve.io/v1beta1
kind: InferenceService
metadata:
  name: xgboost-iris
spec:
  predictor:
    model:
      modelFormat:
        name: xgboost
      protocolVersion: v2
      runtime: kserve-xgbserver
      storageUri: %s/model.json
""" % self.http_url)
        self.serve.wait_ready("xgboost-iris")
        want = expected(os.path.join(MODELS, "xgb_iris_softprob.expected.json"))
        rows = want["instances"]
        req = {"inputs": [{"name": "input-0", "shape": [len(rows), 4], "datatype": "FP32",
                           "data": [x for r in rows for x in r]}]}
        r = self.serve.gw("POST", "/v2/models/xgboost-iris/infer", host="xgboost-iris.default.example.com", json=req)
        self.assertEqual(r.status_code, 200, r.text)
        got = r.json()["outputs"][0]["data"]
        flat = [x for row in want["predict"] for x in row]
        self.assertEqual(len(got), len(flat))
        for a, b in zip(got, flat):
            self.assertAlmostEqual(a, b, places=5)
        # gRPC through the gateway, routed by model_name.
        import grpc
        pb, pb_grpc = g.pb, g.pb_grpc
        with grpc.insecure_channel("127.0.0.1:%d" % self.serve.grpc_port) as ch:
            stub = pb_grpc.GRPCInferenceServiceStub(ch)
            self.assertTrue(stub.ModelReady(pb.ModelReadyRequest(name="xgboost-iris"), timeout=10).ready)
            inp = pb.ModelInferRequest.InferInputTensor(name="input-0", datatype="FP32", shape=[len(rows), 4])
            inp.contents.fp32_contents.extend([x for r in rows for x in r])
            resp = stub.ModelInfer(pb.ModelInferRequest(model_name="xgboost-iris", inputs=[inp]), timeout=10)
            got = list(resp.outputs[0].contents.fp32_contents)
            if not got:
                import struct
                got = list(struct.unpack("<%df" % len(flat), resp.raw_output_contents[0]))
            for a, b in zip(got, flat):
                self.assertAlmostEqual(a, b, places=5)
            with self.assertRaises(grpc.RpcError) as cm:
                stub.ModelInfer(pb.ModelInferRequest(model_name="no-such-model", inputs=[inp]), timeout=10)
            self.assertEqual(cm.exception.code(), grpc.StatusCode.NOT_FOUND)

    def test_03_lightgbm_archive_over_http(self):
        self.apply("""
apiVersion: serving.kserve.io/v1beta1
kind: InferenceService
metadata:
  name: lightgbm-iris
spec:
  predictor:
    lightgbm:
      storageUri: %s/lightgbm.tar.gz
""" % self.http_url)
        obj = self.serve.wait_ready("lightgbm-iris")
        self.assertEqual(obj["status"]["inferd"]["runtime"], "kserve-lgbserver")
        r = self.serve.gw("POST", "/v1/models/lightgbm-iris:predict", json={"instances": IRIS})
        self.assertEqual(r.status_code, 200, r.text)
        self.assertEqual(len(r.json()["predictions"]), 2)

    def test_04_pytorch_and_onnx(self):
        torch_dir = os.path.join(DL_MODELS, "repo", "torch-mlp2")
        onnx_dir = os.path.join(DL_MODELS, "repo", "onnx-mlp")
        if not os.path.isdir(torch_dir) or not os.path.isdir(onnx_dir):
            self.skipTest("no PyTorch/ONNX test models")
        self.apply("""
apiVersion: serving.kserve.io/v1beta1
kind: InferenceService
metadata:
  name: torch-mlp
spec:
  predictor:
    model:
      modelFormat:
        name: pytorch
      protocolVersion: v2
      storageUri: %s
---
apiVersion: serving.kserve.io/v1beta1
kind: InferenceService
metadata:
  name: onnx-mlp
spec:
  predictor:
    onnx:
      protocolVersion: v2
      storageUri: file://%s
""" % (torch_dir, onnx_dir))
        for name, exp in [("torch-mlp", "torch-mlp2"), ("onnx-mlp", "onnx-mlp")]:
            self.serve.wait_ready(name)
            want = expected(os.path.join(DL_MODELS, exp + ".expected.json"))
            inputs = []
            for iname, rows in want["inputs"].items():
                inputs.append({"name": iname, "shape": [len(rows), len(rows[0])], "datatype": "FP32",
                               "data": [x for r in rows for x in r]})
            r = self.serve.gw("POST", "/v2/models/%s/infer" % name, json={"inputs": inputs})
            self.assertEqual(r.status_code, 200, r.text)
            outs = {o["name"]: o["data"] for o in r.json()["outputs"]}
            for oname, rows in want["outputs"].items():
                flat = [x for row in rows for x in row]
                self.assertIn(oname, outs)
                for a, b in zip(outs[oname], flat):
                    self.assertAlmostEqual(a, b, places=4)

    def test_04b_tensorflow_kserve_samples(self):
        # KServe's docs/samples/v1beta1/tensorflow/tensorflow.yaml and canary.yaml as published, but for storageUri
        # (the flowers models are on GCS): TF Serving's half_plus_two, then half_plus_three as the canary.
        tf_data = os.path.join(g.SOURCE_DIR, "tests", "data", "tf")
        sample = """
apiVersion: "serving.kserve.io/v1beta1"
kind: "InferenceService"
metadata:
  name: "flower-sample"
  annotations:
    serving.kserve.io/enable-metric-aggregation:  "true"
    serving.kserve.io/enable-prometheus-scraping: "true"
spec:
  predictor:
    tensorflow:
      storageUri: "file://%s"
""" % os.path.join(tf_data, "saved_model_half_plus_two_cpu")
        self.apply(sample)
        obj = self.serve.wait_ready("flower-sample")
        self.assertEqual(obj["status"]["inferd"]["runtime"], "kserve-tensorflow-serving")
        # TF Serving's REST API, as KServe users call it through the service's host.
        r = self.serve.gw("POST", "/v1/models/flower-sample:predict", host="flower-sample.default.example.com",
                          json={"instances": [1.0, 2.0, 5.0]})
        self.assertEqual(r.status_code, 200, r.text)
        self.assertEqual(r.json(), {"predictions": [2.5, 3.0, 4.5]})
        r = self.serve.gw("GET", "/v1/models/flower-sample", host="flower-sample.default.example.com")
        self.assertEqual(r.status_code, 200, r.text)
        self.assertEqual(r.json()["model_version_status"][0]["state"], "AVAILABLE")
        r = self.serve.gw("GET", "/v1/models/flower-sample/metadata", host="flower-sample.default.example.com")
        self.assertEqual(r.status_code, 200, r.text)
        self.assertIn("serving_default", r.json()["metadata"]["signature_def"]["signature_def"])
        # canary.yaml: 20% to the new model.
        canary = """
apiVersion: "serving.kserve.io/v1beta1"
kind: "InferenceService"
metadata:
  name: "flower-sample"
spec:
  predictor:
    canaryTrafficPercent: 20
    tensorflow:
      storageUri: "file://%s"
""" % os.path.join(tf_data, "saved_model_half_plus_three")
        self.apply(canary)

        def split(o):
            t = o.get("status", {}).get("components", {}).get("predictor", {}).get("traffic", [])
            return is_ready(o) and sorted(x["percent"] for x in t) == [20, 80]
        self.serve.wait("flower-sample", split, what="a 20/80 split")
        seen = {}
        for _ in range(60):
            r = self.serve.gw("POST", "/v1/models/flower-sample:predict", host="flower-sample.default.example.com",
                              json={"instances": [1.0]})
            self.assertEqual(r.status_code, 200, r.text)
            y = r.json()["predictions"][0]
            seen[y] = seen.get(y, 0) + 1
        self.assertEqual(set(seen), {2.5, 3.5}, seen)  # half plus two (old) and half plus three (canary)
        self.assertGreater(seen[2.5], seen[3.5], seen)
        self.assertEqual(self.serve.cli("delete", "isvc", "flower-sample")[0], 0)

    def test_04c_kserve_tensorflow_runtime_yaml_and_grpc_v1(self):
        # KServe's config/runtimes/kserve-tensorflow-serving.yaml as KServe ships it (TF Serving's image placeholder,
        # /usr/bin/tensorflow_model_server and its flags): applied unchanged, it replaces the built-in of that name
        # and runs as inferd model-server with the flags mapped (control/replica_command.h). An InferenceService
        # asking for grpc-v1 (TF Serving's gRPC API) selects it and is Ready; TF Serving's stubs call it through the
        # gateway's gRPC port, routed by model_spec.name.
        runtime = """
apiVersion: serving.kserve.io/v1alpha1
kind: ClusterServingRuntime
metadata:
  name: kserve-tensorflow-serving
  annotations:
    serving.kserve.io/server-type: tensorflow-serving
spec:
  annotations:
    prometheus.kserve.io/port: '8080'
    prometheus.kserve.io/path: "/metrics"
  supportedModelFormats:
    - name: tensorflow
      version: "1"
      autoSelect: true
      priority: 2
    - name: tensorflow
      version: "2"
      autoSelect: true
      priority: 2
  protocolVersions:
    - v1
    - grpc-v1
  containers:
    - name: kserve-container
      image: tensorflow-serving:replace
      command: [/usr/bin/tensorflow_model_server]
      args:
        - --model_name={{.Name}}
        - --port=9000
        - --rest_api_port=8080
        - --model_base_path=/mnt/models
        - --rest_api_timeout_in_ms=60000
      securityContext:
        runAsUser: 1000    # User is not defined in the Dockerfile, so we need to set it here to run as non-root
        allowPrivilegeEscalation: false
        privileged: false
        runAsNonRoot: true
        capabilities:
          drop:
            - ALL
      resources:
        requests:
          cpu: "1"
          memory: 2Gi
        limits:
          cpu: "1"
          memory: 2Gi
"""
        isvc = """
apiVersion: serving.kserve.io/v1beta1
kind: InferenceService
metadata:
  name: tf-grpc
spec:
  predictor:
    model:
      modelFormat:
        name: tensorflow
      protocolVersion: grpc-v1
      storageUri: "file://%s"
""" % os.path.join(g.SOURCE_DIR, "tests", "data", "tf", "saved_model_half_plus_two_cpu")
        self.apply(runtime + "---" + isvc)
        obj = self.serve.wait_ready("tf-grpc")
        self.assertEqual(obj["status"]["inferd"]["runtime"], "kserve-tensorflow-serving")
        import grpc
        import tfserving_grpc_python_test as tfs
        tmp = tempfile.mkdtemp(prefix="inferd_tfs_stubs_")
        try:
            if not tfs.apis:
                tfs.generate_stubs(tmp)
            with grpc.insecure_channel("127.0.0.1:%d" % self.serve.grpc_port) as ch:
                stub = tfs.apis["service"].PredictionServiceStub(ch)
                req = tfs.apis["predict"].PredictRequest()
                req.model_spec.name = "tf-grpc"
                req.inputs["x"].CopyFrom(tfs.float_tensor([3], [1.0, 2.0, 5.0]))
                resp = stub.Predict(req, timeout=30)
                self.assertEqual(list(resp.outputs["y"].float_val), [2.5, 3.0, 4.5])
                self.assertEqual(resp.model_spec.version.value, 123)
                status = tfs.apis["model_service"].ModelServiceStub(ch).GetModelStatus(
                    tfs.apis["status"].GetModelStatusRequest(model_spec={"name": "tf-grpc"}), timeout=30)
                self.assertEqual(status.model_version_status[0].state, tfs.apis["status"].ModelVersionStatus.AVAILABLE)
                req.model_spec.name = "nope"
                with self.assertRaises(grpc.RpcError) as ctx:
                    stub.Predict(req, timeout=30)
                self.assertEqual(ctx.exception.code(), grpc.StatusCode.NOT_FOUND)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        # TF Serving's REST API on the same replica (the runtime's v1).
        r = self.serve.gw("POST", "/v1/models/tf-grpc:predict", host="tf-grpc.default.example.com",
                          json={"instances": [1.0]})
        self.assertEqual(r.status_code, 200, r.text)
        self.assertEqual(r.json(), {"predictions": [2.5]})
        self.assertEqual(self.serve.cli("delete", "isvc", "tf-grpc")[0], 0)
        # A tensorflow_model_server flag inferd has no counterpart for keeps the service from running, named.
        self.apply(runtime.replace("name: kserve-tensorflow-serving", "name: tfs-batching").replace(
            "--rest_api_timeout_in_ms=60000", "--enable_batching=true").replace(
            "autoSelect: true", "autoSelect: false") + "---" +
            isvc.replace("name: tf-grpc", "name: tf-batching").replace(
                "      protocolVersion: grpc-v1", "      protocolVersion: grpc-v1\n      runtime: tfs-batching"))
        obj = self.serve.wait("tf-batching", lambda o: "--enable_batching" in json.dumps(o.get("status", {})),
                              what="a status naming --enable_batching")
        self.assertFalse(is_ready(obj))
        self.assertEqual(self.serve.cli("delete", "isvc", "tf-batching")[0], 0)

    # ---- failures ---------------------------------------------------------------------------------
    def test_05_model_that_fails_to_load(self):
        self.apply("""
apiVersion: serving.kserve.io/v1beta1
kind: InferenceService
metadata:
  name: broken
spec:
  predictor:
    xgboost:
      storageUri: file://%s
""" % os.path.join(MODELS, "errors", "corrupt"))
        obj = self.serve.wait(
            "broken", lambda o: o.get("status", {}).get("modelStatus", {}).get("states", {})
            .get("activeModelState") == "FailedToLoad", what="FailedToLoad")
        lfi = obj["status"]["modelStatus"]["lastFailureInfo"]
        self.assertEqual(lfi["reason"], "ModelLoadFailed")
        self.assertTrue(lfi["message"], lfi)
        self.assertFalse(is_ready(obj))
        self.assertEqual(self.serve.cli("delete", "isvc", "broken")[0], 0)

    def test_06_unsafe_archive_refused(self):
        self.apply("""
apiVersion: serving.kserve.io/v1beta1
kind: InferenceService
metadata:
  name: evil
spec:
  predictor:
    sklearn:
      storageUri: %s/evil.tar.gz
""" % self.http_url)
        obj = self.serve.wait("evil", lambda o: "lastFailureInfo" in o.get("status", {}).get("modelStatus", {}),
                              what="a failure")
        self.assertIn("..", obj["status"]["modelStatus"]["lastFailureInfo"]["message"])
        self.assertFalse(os.path.exists(os.path.join(self.data_dir, "models", "escaped.txt")))
        self.assertFalse(os.path.exists(os.path.join(self.data_dir, "escaped.txt")))
        self.serve.cli("delete", "isvc", "evil")

    def test_07_no_supporting_runtime(self):
        self.apply("""
apiVersion: serving.kserve.io/v1beta1
kind: InferenceService
metadata:
  name: pmml-model
spec:
  predictor:
    model:
      modelFormat:
        name: pmml
      storageUri: file:///tmp
""")
        obj = self.serve.wait("pmml-model", lambda o: "lastFailureInfo" in o.get("status", {}).get("modelStatus", {}),
                              what="NoSupportingRuntime")
        self.assertEqual(obj["status"]["modelStatus"]["lastFailureInfo"]["reason"], "NoSupportingRuntime")
        self.serve.cli("delete", "isvc", "pmml-model")

    def test_08_invalid_specs_refused_with_the_field(self):
        rc, out, err = self.serve.cli("apply", "-f", "-", stdin="""
apiVersion: serving.kserve.io/v1beta1
kind: InferenceService
metadata:
  name: bad-replicas
spec:
  predictor:
    minReplicas: 3
    maxReplicas: 1
    sklearn:
      storageUri: file:///tmp
""")
        self.assertNotEqual(rc, 0)
        self.assertIn("MinReplicas", err)
        r = self.serve.api("POST", "/apis/serving.kserve.io/v1beta1/namespaces/default/inferenceservices", json={
            "apiVersion": "serving.kserve.io/v1beta1", "kind": "InferenceService",
            "metadata": {"name": "two-impls"},
            "spec": {"predictor": {"sklearn": {"storageUri": "file:///tmp"},
                                   "xgboost": {"storageUri": "file:///tmp"}}}})
        self.assertEqual(r.status_code, 422, r.text)
        self.assertIn("exactly one of", r.json()["message"])
        self.assertIsNone(self.serve.isvc("two-impls"))
        self.assertIsNone(self.serve.isvc("bad-replicas"))
        rc, out, err = self.serve.cli("apply", "-f", "-", stdin="apiVersion: v1\nkind: a: b\nmetadata: {}\n")
        self.assertNotEqual(rc, 0)
        self.assertIn(":2", err)  # the line of the YAML error

    def test_08b_garbage_gets_4xx_and_everything_stays_up(self):
        import socket

        def raw(port, data):
            with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
                sock.sendall(data)
                sock.settimeout(10)
                return sock.recv(200).decode("latin-1")

        for port in (self.serve.http_port, self.serve.api_port):
            self.assertRegex(raw(port, b"\x00\xff garbage \r\n\r\n"), r"^HTTP/1\.1 4\d\d")
            self.assertRegex(raw(port, b"POST /v1/models/x:predict HTTP/1.1\r\nHost: a\r\n"
                                       b"Content-Length: 99999999999\r\n\r\n"), r"^HTTP/1\.1 4\d\d")
        # Bad bodies through the gateway reach the model server, which answers 400 naming the problem.
        r = self.serve.gw("POST", "/v1/models/sklearn-iris:predict", data=b'{"instances":[[1,2,')
        self.assertEqual(r.status_code, 400, r.text)
        r = self.serve.gw("POST", "/v1/models/sklearn-iris:predict", json={"instances": [["a", "b", "c", "d"]]})
        self.assertEqual(r.status_code, 400, r.text)
        r = self.serve.gw("POST", "/v1/models/no-such-service:predict", json={"instances": IRIS})
        self.assertEqual(r.status_code, 404, r.text)
        # The API: bad JSON, a body that is not an object, an unknown resource.
        base = "/apis/serving.kserve.io/v1beta1/namespaces/default/inferenceservices"
        self.assertEqual(self.serve.api("POST", base, data=b"{nope").status_code, 400)
        self.assertEqual(self.serve.api("POST", base, data=b"[1,2]").status_code, 400)
        self.assertEqual(self.serve.api("GET", "/apis/serving.kserve.io/v1beta1/namespaces/default/widgets")
                         .status_code, 404)
        # Everything still answers.
        r = self.serve.gw("POST", "/v1/models/sklearn-iris:predict", json={"instances": IRIS})
        self.assertEqual(r.status_code, 200, r.text)
        self.assertEqual(self.serve.api("GET", base).status_code, 200)
        self.assertIsNone(self.serve.proc.poll())

    def test_09_stale_write_conflict_and_auth(self):
        path = "/apis/serving.kserve.io/v1beta1/namespaces/default/inferenceservices/sklearn-iris"
        obj = self.serve.api("GET", path).json()
        stale = json.loads(json.dumps(obj))
        obj["metadata"].setdefault("labels", {})["team"] = "a"
        r = self.serve.api("PUT", path, json=obj)
        self.assertEqual(r.status_code, 200, r.text)
        stale["metadata"].setdefault("labels", {})["team"] = "b"
        r = self.serve.api("PUT", path, json=stale)
        self.assertEqual(r.status_code, 409, r.text)
        r = self.serve.api("GET", path, headers={"Authorization": "Bearer wrong"})
        self.assertEqual(r.status_code, 401)
        self.assertEqual(os.stat(os.path.join(self.data_dir, "token")).st_mode & 0o777, 0o600)

    def test_09b_watch_follow_and_runtimes(self):
        # get -w prints the current rows, then one per change.
        w = subprocess.Popen([INFERD_BIN, "get", "isvc", "-w", "--data_dir", self.data_dir], stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True)
        try:
            header = w.stdout.readline()
            self.assertRegex(header, r"NAME\s+URL\s+READY")
            first = w.stdout.readline()
            self.assertIn("http://", first)
            path = "/apis/serving.kserve.io/v1beta1/namespaces/default/inferenceservices/sklearn-iris"
            r = self.serve.api("PATCH", path, data=json.dumps({"metadata": {"annotations": {"watched": "yes"}}}),
                               headers={"Content-Type": "application/merge-patch+json"})
            self.assertEqual(r.status_code, 200, r.text)
            deadline = time.time() + 20
            seen = False
            while time.time() < deadline and not seen:
                line = w.stdout.readline()
                seen = line.startswith("sklearn-iris ")
            self.assertTrue(seen, "no watch line for the change")
        finally:
            w.kill()
            w.wait()
            w.stdout.close()
        # logs -f prints what the replica wrote and keeps following.
        f = subprocess.Popen([INFERD_BIN, "logs", "isvc", "sklearn-iris", "-f", "--data_dir", self.data_dir],
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        try:
            deadline = time.time() + 20
            text = ""
            while time.time() < deadline and "listening" not in text:
                text += f.stdout.readline()
            self.assertIn("listening", text)
            time.sleep(0.5)
            self.assertIsNone(f.poll(), "logs -f returned instead of following")
        finally:
            f.kill()
            f.wait()
            f.stdout.close()
        rc, out, err = self.serve.cli("get", "clusterservingruntimes")
        self.assertEqual(rc, 0, err)
        for name in ("kserve-sklearnserver", "kserve-xgbserver", "kserve-lgbserver", "kserve-torchserve",
                     "kserve-onnxserver"):
            self.assertIn(name, out)

    def test_10_killed_replica_comes_back(self):
        obj = self.serve.wait_ready("sklearn-iris")
        old = pids(obj)
        self.assertEqual(len(old), 1)
        os.kill(old[0], signal.SIGKILL)
        obj = self.serve.wait("sklearn-iris", lambda o: is_ready(o) and pids(o) and pids(o) != old,
                              what="a new ready replica")
        self.assertGreaterEqual(obj["status"]["inferd"]["replicas"][0]["restarts"], 1)
        r = self.serve.gw("POST", "/v1/models/sklearn-iris:predict", json={"instances": IRIS})
        self.assertEqual(r.status_code, 200, r.text)

    def test_10a_replicas_are_forked_from_templates_without_python_once_compiled(self):
        # serve starts replica templates (supervisor/zygote.h); a model-server replica is forked by one, not
        # exec'd. sklearn-iris compiled natively on its first start (a record in the compiled cache), so the
        # replica test_10 started again comes from the native template and never imports numpy.
        obj = self.serve.wait_ready("sklearn-iris")
        pid = pids(obj)[0]
        with open("/proc/%d/stat" % pid) as f:
            ppid = int(f.read().split(")")[-1].split()[1])
        self.assertNotEqual(ppid, self.serve.proc.pid)
        with open("/proc/%d/cmdline" % ppid, "rb") as f:
            parent = f.read().split(b"\0")
        self.assertIn(b"__replica_template", parent)
        self.assertFalse(any(a.startswith(b"--preload_python") for a in parent), parent)
        with open("/proc/%d/maps" % pid) as f:
            self.assertNotIn("_multiarray_umath", f.read())
        r = self.serve.gw("POST", "/v1/models/sklearn-iris:predict", json={"instances": IRIS})
        self.assertEqual(r.status_code, 200, r.text)
        # The template's replicas stop and restart like exec'd ones: kill it and its replica comes back (by exec).
        os.kill(ppid, signal.SIGKILL)
        obj = self.serve.wait("sklearn-iris", lambda o: is_ready(o) and pids(o) and pids(o) != [pid],
                              what="a new ready replica after its template died")
        self.assertFalse(alive(pid))
        r = self.serve.gw("POST", "/v1/models/sklearn-iris:predict", json={"instances": IRIS})
        self.assertEqual(r.status_code, 200, r.text)

    def test_10b_user_runtimes(self):
        # A ServingRuntime whose container is a local command: KServe's template variables, /mnt/models and
        # the port inferd chose ($PORT and --http_port) reach it; the gateway routes to it.
        server = ("import http.server,json,os,sys\n"
                  "class H(http.server.BaseHTTPRequestHandler):\n"
                  "  def log_message(self,*a): pass\n"
                  "  def answer(self):\n"
                  "    b=json.dumps({'argv':sys.argv[1:],'path':self.path,'port':os.environ['PORT']}).encode()\n"
                  "    self.send_response(200); self.send_header('Content-Length',str(len(b))); self.end_headers()\n"
                  "    self.wfile.write(b)\n"
                  "  do_GET=answer\n"
                  "  def do_POST(self): self.rfile.read(int(self.headers.get('Content-Length','0'))); self.answer()\n"
                  "port=int(sys.argv[sys.argv.index('--http_port')+1])\n"
                  "print('custom runtime on', port, flush=True)\n"
                  "http.server.HTTPServer(('127.0.0.1',port),H).serve_forever()\n")
        with open(os.path.join(self.tmp, "custom_server.py"), "w") as f:
            f.write(server)
        self.apply("""
apiVersion: serving.kserve.io/v1alpha1
kind: ServingRuntime
metadata:
  name: my-runtime
spec:
  supportedModelFormats:
    - name: my-format
      autoSelect: true
  protocolVersions: [v1]
  containers:
    - name: kserve-container
      image: example/custom:latest
      command: [/usr/bin/python3, %s]
      args:
        - --model_name={{.Name}}
        - --model_dir=/mnt/models
        - --http_port
        - "8080"
---
apiVersion: serving.kserve.io/v1alpha1
kind: ServingRuntime
metadata:
  name: crasher
spec:
  supportedModelFormats:
    - name: crash-format
      autoSelect: true
  containers:
    - name: kserve-container
      command: [/bin/sh, -c, "echo starting {{.Name}}; exit 3"]
---
apiVersion: serving.kserve.io/v1alpha1
kind: ServingRuntime
metadata:
  name: tfserving-like
spec:
  supportedModelFormats:
    - name: image-format
      autoSelect: true
  containers:
    - name: kserve-container
      image: tensorflow/serving:2.6.2
---
apiVersion: serving.kserve.io/v1beta1
kind: InferenceService
metadata:
  name: custom-rt
spec:
  predictor:
    model:
      modelFormat:
        name: my-format
      storageUri: file://%s
---
apiVersion: serving.kserve.io/v1beta1
kind: InferenceService
metadata:
  name: crashy
spec:
  predictor:
    model:
      modelFormat:
        name: crash-format
---
apiVersion: serving.kserve.io/v1beta1
kind: InferenceService
metadata:
  name: image-only
spec:
  predictor:
    model:
      modelFormat:
        name: image-format
""" % (os.path.join(self.tmp, "custom_server.py"), self.files))
        obj = self.serve.wait_ready("custom-rt")
        self.assertEqual(obj["status"]["inferd"]["runtime"], "my-runtime")
        r = self.serve.gw("POST", "/v1/models/custom-rt:predict", json={"instances": IRIS})
        self.assertEqual(r.status_code, 200, r.text)
        got = r.json()
        self.assertIn("--model_name=custom-rt", got["argv"])
        self.assertIn("--model_dir=" + self.files, got["argv"])
        self.assertEqual(got["argv"][-1], got["port"])
        self.assertEqual(got["path"], "/v1/models/custom-rt:predict")

        def crash_looping(o):
            for c in o.get("status", {}).get("conditions", []):
                if c["type"] == "PredictorReady" and c.get("reason") == "CrashLoopBackOff":
                    return True
            return False
        obj = self.serve.wait("crashy", crash_looping, what="CrashLoopBackOff")
        cond = [c for c in obj["status"]["conditions"] if c["type"] == "PredictorReady"][0]
        self.assertIn("exit code 3", cond["message"])
        self.assertIn("starting crashy", cond["message"])  # the last log lines, templates expanded
        obj = self.serve.wait("image-only", lambda o: "lastFailureInfo" in o.get("status", {}).get("modelStatus", {}),
                              what="RuntimeNotRunnable")
        lfi = obj["status"]["modelStatus"]["lastFailureInfo"]
        self.assertEqual(lfi["reason"], "RuntimeNotRunnable")
        self.assertIn("tensorflow/serving", lfi["message"])
        rc, out, err = self.serve.cli("get", "isvc", "image-only", "-o", "yaml")
        self.assertEqual(rc, 0, err)
        self.assertIn("kind: InferenceService", out)
        self.assertIn("RuntimeNotRunnable", out)
        for name in ("custom-rt", "crashy", "image-only"):
            self.assertEqual(self.serve.cli("delete", "isvc", name)[0], 0)

    def test_10c_canary_rollout_tags_and_promotion(self):
        v1 = """
apiVersion: serving.kserve.io/v1beta1
kind: InferenceService
metadata:
  name: canary-svc
  annotations:
    serving.kserve.io/enable-tag-routing: "true"
spec:
  predictor:
    %s
    sklearn:
      storageUri: file://""" + os.path.join(MODELS, "sklearn", "sklearn-iris-logreg") + "\n"
        v2 = v1.replace("sklearn:", "xgboost:").replace(os.path.join(MODELS, "sklearn", "sklearn-iris-logreg"),
                                                         os.path.join(self.files, "model.json"))
        self.apply(v1 % "")
        self.serve.wait_ready("canary-svc")

        def is_v2(r):  # the XGBoost softprob model answers probability lists, the LogisticRegression labels
            self.assertEqual(r.status_code, 200, r.text)
            return isinstance(r.json()["predictions"][0], list)

        self.apply(v2 % "canaryTrafficPercent: 20")

        def split(o):
            t = o.get("status", {}).get("components", {}).get("predictor", {}).get("traffic", [])
            return is_ready(o) and sorted(x["percent"] for x in t) == [20, 80]
        obj = self.serve.wait("canary-svc", split, what="a 20/80 split")
        pred = obj["status"]["components"]["predictor"]
        self.assertEqual(pred["latestCreatedRevision"], "canary-svc-predictor-00002")
        self.assertEqual(pred["latestRolledoutRevision"], "canary-svc-predictor-00001")
        tags = {t["tag"]: t for t in pred["traffic"]}
        self.assertEqual(tags["latest"]["revisionName"], "canary-svc-predictor-00002")
        self.assertEqual(tags["latest"]["percent"], 20)
        self.assertEqual(tags["prev"]["revisionName"], "canary-svc-predictor-00001")
        n = 500
        hits = sum(is_v2(self.serve.gw("POST", "/v1/models/canary-svc:predict", json={"instances": IRIS}))
                   for _ in range(n))
        # Binomial(500, 0.2): mean 100, standard deviation 8.9; five deviations either side.
        self.assertTrue(55 <= hits <= 145, "canary got %d of %d" % (hits, n))
        for _ in range(10):
            self.assertTrue(is_v2(self.serve.gw("POST", "/v1/models/canary-svc:predict",
                                                host="latest-canary-svc-predictor.default.example.com",
                                                json={"instances": IRIS})))
            self.assertFalse(is_v2(self.serve.gw("POST", "/v1/models/canary-svc:predict",
                                                 host="prev-canary-svc-predictor.default.example.com",
                                                 json={"instances": IRIS})))
        rc, out, err = self.serve.cli("get", "revisions")
        self.assertEqual(rc, 0, err)
        self.assertRegex(out, r"canary-svc-predictor-00001\s+canary-svc\s+kserve-sklearnserver\s+80%\s+prev\s+false\s+1\s+1")
        self.assertRegex(out, r"canary-svc-predictor-00002\s+canary-svc\s+kserve-xgbserver\s+20%\s+latest\s+true\s+1\s+1")
        rc, out, err = self.serve.cli("get", "isvc", "canary-svc")
        self.assertEqual(rc, 0, err)
        self.assertRegex(out, r"canary-svc\s+\S+\s+True\s+80\s+20\s+canary-svc-predictor-00001")

        # Rollback: canaryTrafficPercent 0 pins all traffic to the last rolled-out revision.
        self.apply(v2 % "canaryTrafficPercent: 0")

        def rolled_back(o):
            t = o.get("status", {}).get("components", {}).get("predictor", {}).get("traffic", [])
            return {x["revisionName"]: x["percent"] for x in t} == {"canary-svc-predictor-00001": 100,
                                                                      "canary-svc-predictor-00002": 0}
        obj = self.serve.wait("canary-svc", rolled_back, what="rollback")
        self.assertEqual(obj["status"]["components"]["predictor"]["latestCreatedRevision"],
                         "canary-svc-predictor-00002")
        self.assertFalse(any(is_v2(self.serve.gw("POST", "/v1/models/canary-svc:predict", json={"instances": IRIS}))
                             for _ in range(50)))

        # Promotion: without canaryTrafficPercent the newest takes everything, with no new revision.
        self.apply(v2 % "")

        def promoted(o):
            p = o.get("status", {}).get("components", {}).get("predictor", {})
            t = p.get("traffic", [])
            return len(t) == 1 and t[0]["revisionName"] == "canary-svc-predictor-00002" and t[0]["percent"] == 100
        obj = self.serve.wait("canary-svc", promoted, what="promotion")
        pred = obj["status"]["components"]["predictor"]
        self.assertEqual(pred["latestCreatedRevision"], "canary-svc-predictor-00002")
        self.assertEqual(pred["previousRolledoutRevision"], "canary-svc-predictor-00001")
        self.assertTrue(all(is_v2(self.serve.gw("POST", "/v1/models/canary-svc:predict", json={"instances": IRIS}))
                            for _ in range(20)))
        obj = self.serve.wait("canary-svc", lambda o: all(r["revision"].endswith("00002") for r in
                                                          o["status"]["inferd"]["replicas"]),
                              what="the old revision stopped")
        self.assertEqual(self.serve.cli("delete", "isvc", "canary-svc")[0], 0)

    def test_11_restart_keeps_every_service_then_delete(self):
        before = {n: pids(self.serve.wait_ready(n)) for n in ("sklearn-iris", "xgboost-iris", "lightgbm-iris")}
        # SIGKILL: nothing runs in inferd serve to stop the replicas; the parent-death signal must.
        os.kill(self.serve.proc.pid, signal.SIGKILL)
        self.serve.stop()
        for ps in before.values():
            for pid in ps:
                deadline = time.time() + 10
                while alive(pid) and time.time() < deadline:
                    time.sleep(0.05)
                self.assertFalse(alive(pid), "replica %d outlived inferd serve" % pid)
        type(self).serve = Serve(self.data_dir)
        for name in before:
            self.serve.wait_ready(name)
        r = self.serve.gw("POST", "/v1/models/sklearn-iris:predict", json={"instances": IRIS})
        self.assertEqual(r.status_code, 200, r.text)
        # delete: the replicas go away.
        running = pids(self.serve.isvc("sklearn-iris"))
        self.assertTrue(running)
        rc, out, err = self.serve.cli("delete", "isvc", "sklearn-iris")
        self.assertEqual(rc, 0, err)
        self.assertIn('"sklearn-iris" deleted', out)
        deadline = time.time() + 15
        while any(alive(p) for p in running) and time.time() < deadline:
            time.sleep(0.05)
        self.assertFalse(any(alive(p) for p in running))
        r = self.serve.gw("POST", "/v1/models/sklearn-iris:predict", json={"instances": IRIS})
        self.assertEqual(r.status_code, 404, r.text)


if __name__ == "__main__":
    unittest.main(verbosity=2)
