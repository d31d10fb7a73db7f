"""config/runtimes (inferd's ClusterServingRuntimes for a real KServe) checked against inferd itself:

- `inferd serve` accepts them as `kubectl kustomize` renders the two KServe overlays, runs an InferenceService that
  names one (`runtime: inferd-sklearn`) from inferd's image without a command (as Kubernetes runs the image's
  entrypoint), and selects them by priority when the preferred overlay turns autoSelect on;
- `inferd model-server` takes their args exactly as written (no flag it ignores or does not know) and serves;
- `kubectl apply -k` of the overlays (the real kubectl, tests/util/kube_fixture.py) creates, keeps and updates them.

Run by ctest with Debian's /usr/bin/python3. Environment: INFERD_BIN, INFERD_TEST_MODELS, INFERD_SOURCE_DIR,
INFERD_BUILD_DIR (PyTorch/ONNX models under dl-test-models join the selection test when they exist).
"""
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import unittest

import requests
import yaml

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from serve_test import (DL_MODELS, INFERD_BIN, IRIS, LGBM_DATA, MODELS, ApplyMixin, Serve,  # noqa: E402
                        expected)

SOURCE_DIR = os.environ.get("INFERD_SOURCE_DIR",
                            os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")))
KUBECTL = shutil.which("kubectl") or "/usr/bin/kubectl"


def render(overlay):
    p = subprocess.run([KUBECTL, "kustomize", os.path.join(SOURCE_DIR, "config", "overlays", overlay)],
                       capture_output=True, text=True, timeout=60)
    if p.returncode != 0:
        raise AssertionError("kubectl kustomize %s: %s" % (overlay, p.stderr))
    return p.stdout


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cmdline(pid):
    with open("/proc/%d/cmdline" % pid, "rb") as f:
        return [a.decode() for a in f.read().split(b"\0") if a]


ISVC = """
apiVersion: serving.kserve.io/v1beta1
kind: InferenceService
metadata:
  name: %(name)s
spec:
  predictor:
    model:
      modelFormat:
        name: %(format)s
%(runtime)s      storageUri: file://%(dir)s
"""


class ConfigRuntimesTest(ApplyMixin, unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="inferd-config-runtimes-")
        cls.lgbm_dir = os.path.join(cls.tmp, "lgbm")
        os.makedirs(cls.lgbm_dir)
        shutil.copy(os.path.join(LGBM_DATA, "lg_rf_iris.model"), os.path.join(cls.lgbm_dir, "model.bst"))
        cls.serve = Serve(os.path.join(cls.tmp, "data"))

    @classmethod
    def tearDownClass(cls):
        cls.serve.stop()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def runtime(self, name):
        r = self.serve.api("GET", "/apis/serving.kserve.io/v1alpha1/clusterservingruntimes/" + name)
        self.assertEqual(r.status_code, 200, r.text)
        return r.json()

    def chosen_runtime(self, name):
        return self.serve.wait_ready(name)["status"]["inferd"]["runtime"]

    def test_1_named_runtime_serves_and_others_are_not_auto_selected(self):
        out = self.apply(render("kserve-runtimes"))
        for name in ("inferd-sklearn", "inferd-xgboost", "inferd-lightgbm", "inferd-pytorch", "inferd-onnx",
                     "inferd-tensorflow"):
            self.assertIn("clusterservingruntime.serving.kserve.io/%s created" % name, out)
            rt = self.runtime(name)
            self.assertTrue(all(f["autoSelect"] is False for f in rt["spec"]["supportedModelFormats"]), rt)
        model = os.path.join(MODELS, "sklearn", "sklearn-iris-logreg")
        self.apply(ISVC % {"name": "named", "format": "sklearn", "dir": model,
                           "runtime": "      runtime: inferd-sklearn\n"})
        self.apply(ISVC % {"name": "unnamed", "format": "sklearn", "dir": model, "runtime": ""})
        obj = self.serve.wait_ready("named")
        self.assertEqual(obj["status"]["inferd"]["runtime"], "inferd-sklearn")
        # Kubernetes would run the image's entrypoint with the args: here, this binary with them.
        pid = obj["status"]["inferd"]["replicas"][0]["pid"]
        argv = cmdline(pid)
        self.assertEqual(os.path.realpath(argv[0]), os.path.realpath(INFERD_BIN), argv)
        self.assertEqual(argv[1], "model-server", argv)
        self.assertIn("--model_name=named", argv)
        self.assertIn("--grpc_port=0", argv)
        want = expected(model + ".expected.json")
        r = self.serve.gw("POST", "/v1/models/named:predict", host="named.default.example.com",
                          json={"instances": want["instances"]})
        self.assertEqual(r.status_code, 200, r.text)
        self.assertEqual(r.json()["predictions"], want["predict"])
        # autoSelect off: a service naming no runtime keeps the built-in one.
        self.assertEqual(self.chosen_runtime("unnamed"), "kserve-sklearnserver")

    def test_2_preferred_overlay_wins_the_selection(self):
        self.apply(render("kserve-runtimes-preferred"))
        cases = [("pref-xgb", "xgboost", os.path.join(MODELS, "xgb_iris_softprob"), "inferd-xgboost"),
                 ("pref-lgbm", "lightgbm", self.lgbm_dir, "inferd-lightgbm"),
                 ("pref-sk", "sklearn", os.path.join(MODELS, "sklearn", "sklearn-iris-logreg"), "inferd-sklearn"),
                 ("pref-tf", "tensorflow", os.path.join(SOURCE_DIR, "tests", "data", "tf", "saved_model_half_plus_two_cpu"),
                  "inferd-tensorflow")]
        if os.path.isdir(os.path.join(DL_MODELS, "repo", "onnx-mlp")):
            cases.append(("pref-onnx", "onnx", os.path.join(DL_MODELS, "repo", "onnx-mlp"), "inferd-onnx"))
        if os.path.isdir(os.path.join(DL_MODELS, "repo", "torch-mlp2")):
            cases.append(("pref-torch", "pytorch", os.path.join(DL_MODELS, "repo", "torch-mlp2"), "inferd-pytorch"))
        for name, fmt, d, _ in cases:
            self.apply(ISVC % {"name": name, "format": fmt, "dir": d, "runtime": ""})
        for name, fmt, _, runtime in cases:
            self.assertEqual(self.chosen_runtime(name), runtime, name)
        r = self.serve.gw("POST", "/v1/models/pref-xgb:predict", json={"instances": IRIS})
        self.assertEqual(r.status_code, 200, r.text)
        self.assertEqual(len(r.json()["predictions"]), 2)

    def test_3_model_server_takes_the_args_as_written(self):
        docs = [d for d in yaml.safe_load_all(render("kserve-runtimes-preferred")) if d]
        models = {"inferd-sklearn": os.path.join(MODELS, "sklearn", "sklearn-iris-logreg"),
                  "inferd-xgboost": os.path.join(MODELS, "xgb_iris_softprob"),
                  "inferd-lightgbm": self.lgbm_dir,
                  "inferd-tensorflow": os.path.join(SOURCE_DIR, "tests", "data", "tf", "saved_model_half_plus_two_cpu")}
        tried = 0
        for rt in docs:
            name = rt["metadata"]["name"]
            if name not in models:
                continue
            args = rt["spec"]["containers"][0]["args"]
            self.assertEqual(args[0], "model-server")
            http_port, grpc_port = free_port(), free_port()
            argv = [INFERD_BIN] + [a.replace("{{.Name}}", "m").replace("/mnt/models", models[name])
                                   .replace("=8080", "=%d" % http_port).replace("=9000", "=%d" % grpc_port)
                                   for a in args]
            self.assertEqual(sum(a.endswith("=%d" % p) for a in argv for p in (http_port, grpc_port)), 2, argv)
            p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            try:
                deadline, ready = time.time() + 60, False
                while time.time() < deadline and not ready:
                    try:
                        ready = requests.get("http://127.0.0.1:%d/v2/models/m/ready" % http_port,
                                             timeout=5).status_code == 200
                    except requests.ConnectionError:
                        pass
                    if p.poll() is not None:
                        break
                    time.sleep(0.05)
            finally:
                p.terminate()
                out = p.communicate(timeout=30)[0]
            self.assertTrue(ready, "%s: model-server never served model m:\n%s" % (name, out))
            self.assertRegex(out, r"listening http_port=%d grpc_port=%d" % (http_port, grpc_port))
            self.assertNotRegex(out, re.compile("ignored|does not know", re.I), name)
            tried += 1
        self.assertEqual(tried, len(models))


class KubectlApplyKTest(unittest.TestCase):
    """The install command docs/kubernetes.md gives for a cluster with KServe, `kubectl apply -k`, against
    `inferd serve` with the real kubectl (tests/util/kube_fixture.py)."""

    def test_kubectl_apply_k_creates_then_reconfigures(self):
        sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "util"))
        import kube_fixture  # noqa: E402
        tmp = tempfile.mkdtemp(prefix="inferd-config-kubectl-")
        serve = kube_fixture.KubeServe(os.path.join(tmp, "data"))
        try:
            overlays = os.path.join(SOURCE_DIR, "config", "overlays")
            names = ("inferd-lightgbm", "inferd-onnx", "inferd-pytorch", "inferd-sklearn", "inferd-tensorflow",
                     "inferd-xgboost")
            for overlay, verb, auto in [("kserve-runtimes", "created", "false"),
                                        ("kserve-runtimes", "unchanged", "false"),
                                        ("kserve-runtimes-preferred", "configured", "true")]:
                p = serve.kubectl("apply", "-k", os.path.join(overlays, overlay))
                self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
                for name in names:
                    self.assertIn("clusterservingruntime.serving.kserve.io/%s %s" % (name, verb), p.stdout)
                p = serve.kubectl("get", "clusterservingruntime", "inferd-sklearn", "-o",
                                  "jsonpath={.spec.supportedModelFormats[0].autoSelect}")
                self.assertEqual((p.returncode, p.stdout), (0, auto), p.stderr)
        finally:
            serve.stop()
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    unittest.main()
