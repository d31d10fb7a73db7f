"""`inferd art-explainer` (KServe's spec.explainer.art, SquareAttack) end to end, as KServe's e2e test
(test/e2e/explainer/test_art_explainer.py) runs it: a real `inferd model-server` serves an MNIST-shaped
scikit-learn classifier on 784 features, `inferd art-explainer` points at it, and KServe's own request
(tests/data/kserve/mnist_input_bw.json) is explained over HTTP with requests.

The classifier is a nearest-centroid linear model (a LogisticRegression whose coef_/intercept_ are set, not
fitted: quick and the same every run): the centroids of scikit-learn's digits upscaled to 28x28 in [-0.5, 0.5],
class 3's moved a tenth of the way to the KServe test image, so that it predicts 3 for it as KServe's MNIST model does.

Also: a TorchScript CNN predictor answering logits (the attack uses them as scores), the predictor down, an
attack past --explain_timeout while health probes keep answering, and the command's flags.

Run by ctest with Debian's /usr/bin/python3 (numpy, scikit-learn, joblib, requests; torch for the TorchScript
case, which skips without it or without inferd's PyTorch backend). Environment: INFERD_BIN, INFERD_SOURCE_DIR.
"""

import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
import unittest

import joblib
import numpy as np
import requests
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression

SOURCE_DIR = os.environ.get("INFERD_SOURCE_DIR",
                            os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
INFERD_BIN = os.environ.get("INFERD_BIN", "inferd")
REQUEST_FILE = os.path.join(SOURCE_DIR, "tests", "data", "kserve", "mnist_input_bw.json")
LISTENING = re.compile(r"listening http_port=(\d+) grpc_port=(\d+)")


class Proc:
    """An inferd process on ephemeral ports; its output is collected on a thread."""

    def __init__(self, args, env=None):
        self.proc = subprocess.Popen([INFERD_BIN] + args + ["--http_port", "0", "--grpc_port", "0"],
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                     env=dict(os.environ, **(env or {})))
        self.lines = []
        self.port = None
        self.ready = threading.Event()
        found = threading.Event()

        def reader():
            for line in self.proc.stdout:
                self.lines.append(line)
                m = LISTENING.search(line)
                if m and self.port is None:
                    self.port = int(m.group(1))
                    found.set()
                if "inferd model-server ready" in line:
                    self.ready.set()
            found.set()

        self.reader = threading.Thread(target=reader, daemon=True)
        self.reader.start()
        if not found.wait(60) or self.port is None:
            self.stop()
            raise RuntimeError("inferd did not start listening:\n" + self.output())
        if not self.ready.wait(60):
            self.stop()
            raise RuntimeError("inferd did not become ready:\n" + self.output())

    def url(self, path):
        return "http://127.0.0.1:%d%s" % (self.port, path)

    def output(self):
        return "".join(self.lines)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.reader.join(10)
        self.proc.stdout.close()


def write_model(path, request_image):
    digits = load_digits()
    x = np.kron(digits.images / 16.0 - 0.5, np.ones((3, 3)))
    x = np.pad(x, ((0, 0), (2, 2), (2, 2)), constant_values=-0.5).reshape(len(x), -1)
    mu = np.stack([x[digits.target == k].mean(0) for k in range(10)])
    mu[3] = 0.9 * mu[3] + 0.1 * request_image.reshape(-1)
    model = LogisticRegression()
    model.classes_ = np.arange(10)
    model.coef_ = mu * 0.4  # scores -0.2 * |x - mu_k|^2 + const: probabilities not saturated
    model.intercept_ = -(mu ** 2).sum(1) * 0.2
    model.n_features_in_ = 784
    os.makedirs(path)
    joblib.dump(model, os.path.join(path, "model.joblib"))
    return model


class ArtExplainerTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        with open(REQUEST_FILE) as f:
            cls.body = json.load(f)
        cls.image = np.array(cls.body["instances"][0])
        cls.tmp = tempfile.TemporaryDirectory()
        model_dir = os.path.join(cls.tmp.name, "mnist")
        cls.model = write_model(model_dir, cls.image)
        cls.predictor = Proc(["model-server", "--model_dir", model_dir, "--model_name", "mnist"])
        # KServe's controller appends these (config: {nb_classes: "10"} becomes --nb_classes 10).
        cls.explainer = Proc(["art-explainer", "--model_name", "mnist", "--predictor_host",
                              "127.0.0.1:%d" % cls.predictor.port, "--adversary_type", "SquareAttack",
                              "--nb_classes", "10", "--workers", "1"])

    @classmethod
    def tearDownClass(cls):
        cls.explainer.stop()
        cls.predictor.stop()
        cls.tmp.cleanup()

    def predict(self, rows):
        r = requests.post(self.predictor.url("/v1/models/mnist:predict"), json={"instances": rows}, timeout=30)
        self.assertEqual(r.status_code, 200, r.text)
        return r.json()["predictions"]

    def explain(self, body=None, data=None):
        return requests.post(self.explainer.url("/v1/models/mnist:explain"), json=body, data=data, timeout=120)

    def test_kserves_request_is_explained_as_kserve_answers(self):
        # As KServe's e2e: the predictor says 3 for the flattened image ...
        self.assertEqual(self.predict(self.image.reshape(1, -1).tolist()), [3])
        r = self.explain(self.body)
        self.assertEqual(r.status_code, 200, r.text)
        self.assertEqual(r.headers["content-type"], "application/json")
        e = r.json()["explanations"]
        self.assertEqual(list(e), ["adversarial_example", "L2 error", "adversarial_prediction", "prediction"])
        self.assertEqual(e["prediction"], 3)
        # ... and the attack finds an image it calls something else.
        self.assertNotEqual(e["adversarial_prediction"], 3)
        adv = np.array(e["adversarial_example"])
        self.assertEqual(adv.shape, (1, 28, 28, 1))
        self.assertLessEqual(np.abs(adv - self.image).max(), 0.3 + 1e-6)  # ART's eps, L-infinity
        self.assertAlmostEqual(e["L2 error"], float(np.linalg.norm((adv - self.image).reshape(-1))), places=9)
        self.assertGreater(e["L2 error"], 0)
        # The predictor itself agrees with the claimed adversarial prediction (and so does scikit-learn).
        self.assertEqual(self.predict(adv.reshape(1, -1).tolist()), [e["adversarial_prediction"]])
        self.assertEqual(int(self.model.predict(adv.reshape(1, -1))[0]), e["adversarial_prediction"])
        # Seeded: the same request gives the same answer, byte for byte.
        self.assertEqual(self.explain(self.body).content, r.content)

    def test_predict_on_the_explainer_goes_to_the_predictor(self):
        rows = self.image.reshape(1, -1).tolist()
        r = requests.post(self.explainer.url("/v1/models/mnist:predict"), json={"instances": rows}, timeout=30)
        self.assertEqual(r.status_code, 200, r.text)
        self.assertEqual(r.json()["predictions"], [3])

    def test_health_and_model_ready(self):
        self.assertEqual(requests.get(self.explainer.url("/v2/health/ready"), timeout=10).status_code, 200)
        r = requests.get(self.explainer.url("/v1/models/mnist"), timeout=10)
        self.assertEqual(r.status_code, 200, r.text)
        self.assertEqual(r.json(), {"name": "mnist", "ready": True})
        self.assertEqual(requests.post(self.explainer.url("/v1/models/other:explain"), json=self.body,
                                       timeout=10).status_code, 404)
        r = requests.post(self.explainer.url("/v2/models/mnist/infer"), timeout=10,
                          json={"inputs": [{"name": "x", "shape": [1], "datatype": "FP32", "data": [1]}]})
        self.assertEqual(r.status_code, 501, r.text)
        self.assertIn("V1 :predict and :explain only", r.json()["error"])

    def test_bad_bodies_are_400_naming_the_field(self):
        cases = [
            ({"instances": [self.body["instances"][0]]}, "instances"),
            ({"instances": [self.image[0].tolist(), [3]]}, "instances[0]"),
            ({"instances": [self.body["instances"][0], [12]]}, "instances[1]"),
            ({"instances": [[[[["x"]]]], [3]]}, "instances[0]"),
        ]
        for body, field in cases:
            r = self.explain(body)
            self.assertEqual(r.status_code, 400, r.text)
            self.assertTrue(r.json()["error"].startswith(field), r.text)
        r = self.explain(data=b"{not json")
        self.assertEqual(r.status_code, 400, r.text)
        self.assertEqual(self.explainer.proc.poll(), None)


class LongExplanationTest(unittest.TestCase):
    """An explanation runs on the slow-work pool: with one HTTP thread, health probes still answer during it, and
    --explain_timeout ends it with 504."""

    def test_probes_answer_while_an_attack_runs_and_the_timeout_is_504(self):
        with open(REQUEST_FILE) as f:
            body = json.load(f)
        with tempfile.TemporaryDirectory() as tmp:
            model_dir = os.path.join(tmp, "mnist")
            write_model(model_dir, np.array(body["instances"][0]))
            predictor = Proc(["model-server", "--model_dir", model_dir, "--model_name", "mnist"])
            # eps 1e-4 cannot fool the model: the attack runs until the 2 s timeout.
            explainer = Proc(["art-explainer", "--model_name", "mnist", "--predictor_host",
                              "127.0.0.1:%d" % predictor.port, "--workers", "1", "--eps", "0.0001",
                              "--max_iter", "100000", "--explain_timeout", "2"])
            try:
                result = {}

                def explain():
                    result["r"] = requests.post(explainer.url("/v1/models/mnist:explain"), json=body, timeout=120)

                t = threading.Thread(target=explain)
                t.start()
                time.sleep(0.3)
                self.assertEqual(requests.get(explainer.url("/v2/health/ready"), timeout=30).status_code, 200)
                self.assertTrue(t.is_alive(), "the probe was answered only after the explanation")
                t.join(60)
                r = result["r"]
                self.assertEqual(r.status_code, 504, r.text)
                self.assertIn("ART explainer (SquareAttack): SquareAttack ran out of time", r.json()["error"])
            finally:
                explainer.stop()
                predictor.stop()


class PredictorProbabilitiesTest(unittest.TestCase):
    """With KServe's PREDICT_PROBA=true the predictor answers probability rows: the attack uses them as scores."""

    def test_probability_rows(self):
        with open(REQUEST_FILE) as f:
            body = json.load(f)
        with tempfile.TemporaryDirectory() as tmp:
            model_dir = os.path.join(tmp, "mnist")
            write_model(model_dir, np.array(body["instances"][0]))
            predictor = Proc(["model-server", "--model_dir", model_dir, "--model_name", "mnist"],
                             env={"PREDICT_PROBA": "true"})
            explainer = Proc(["art-explainer", "--model_name", "mnist", "--predictor_host",
                              "127.0.0.1:%d" % predictor.port, "--max_iter", "200"])
            try:
                r = requests.post(explainer.url("/v1/models/mnist:explain"), json=body, timeout=120)
                self.assertEqual(r.status_code, 200, r.text)
                e = r.json()["explanations"]
                self.assertEqual(e["prediction"], 3)
                self.assertNotEqual(e["adversarial_prediction"], 3)
            finally:
                explainer.stop()
                predictor.stop()


TORCH_MODEL = """
import sys
import torch
from torch import nn, Tensor

torch.manual_seed(0)


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 4, 5, stride=2)
        self.fc = nn.Linear(4 * 12 * 12, 10)

    def forward(self, x: Tensor) -> Tensor:  # rows of 784 -> 10 logits
        h = torch.relu(self.conv(x.reshape(-1, 1, 28, 28)))
        return self.fc(h.flatten(1))


net = Net()
image = torch.tensor(__import__("json").load(open(sys.argv[2]))["instances"][0], dtype=torch.float32)
with torch.no_grad():
    logits = net(image.reshape(1, -1))[0]
    net.fc.bias[3] += float(logits.max() - logits[3]) + 0.5  # the test image is a 3, by 0.5
torch.jit.script(net).save(sys.argv[1])
"""


class TorchScriptPredictorTest(unittest.TestCase):
    """An MNIST-shaped TorchScript CNN (random weights, made here) whose V1 predictions are rows of 10 logits:
    the attack uses them as scores (KServe's explainer fails on such answers)."""

    def test_logits_predictor(self):
        plugin = os.path.join(os.path.dirname(os.path.abspath(INFERD_BIN)), "libinferd_backend_torch.so")
        if not os.path.exists(plugin):
            self.skipTest("the PyTorch backend is not built on this machine")
        try:
            import torch  # noqa: F401
        except ImportError:
            self.skipTest("python3-torch is missing")
        with tempfile.TemporaryDirectory() as tmp:
            model_dir = os.path.join(tmp, "mnist")
            os.makedirs(model_dir)
            script = os.path.join(tmp, "make_model.py")
            with open(script, "w") as f:
                f.write(TORCH_MODEL)
            subprocess.run([sys.executable, script, os.path.join(model_dir, "model.pt"), REQUEST_FILE], check=True)
            predictor = Proc(["model-server", "--model_dir", model_dir, "--model_name", "mnist"])
            explainer = Proc(["art-explainer", "--model_name", "mnist", "--predictor_host",
                              "127.0.0.1:%d" % predictor.port])
            try:
                with open(REQUEST_FILE) as f:
                    body = json.load(f)
                r = requests.post(explainer.url("/v1/models/mnist:explain"), json=body, timeout=120)
                self.assertEqual(r.status_code, 200, r.text)
                e = r.json()["explanations"]
                self.assertEqual(e["prediction"], 3)
                self.assertNotEqual(e["adversarial_prediction"], 3)
                adv = np.array(e["adversarial_example"])
                self.assertLessEqual(np.abs(adv - np.array(body["instances"][0])).max(), 0.3 + 1e-6)
                p = requests.post(predictor.url("/v1/models/mnist:predict"),
                                  json={"instances": adv.reshape(1, -1).tolist()}, timeout=30).json()
                self.assertEqual(int(np.argmax(p["predictions"][0])), e["adversarial_prediction"])
            finally:
                explainer.stop()
                predictor.stop()


class PredictorDownTest(unittest.TestCase):
    def test_predictor_down_is_a_5xx_naming_the_explainer_and_the_process_stays_up(self):
        with open(REQUEST_FILE) as f:
            body = json.load(f)
        # A port nothing listens on: bind one, close it.
        import socket
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        s.close()
        explainer = Proc(["art-explainer", "--model_name", "mnist", "--predictor_host", "127.0.0.1:%d" % port])
        try:
            for _ in range(2):
                r = requests.post(explainer.url("/v1/models/mnist:explain"), json=body, timeout=60)
                self.assertGreaterEqual(r.status_code, 500, r.text)
                self.assertLess(r.status_code, 600, r.text)
                error = r.json()["error"]
                self.assertIn("ART explainer (SquareAttack)", error)
                self.assertIn("127.0.0.1:%d" % port, error)
                self.assertIn("mnist", error)
            self.assertIsNone(explainer.proc.poll())
            self.assertEqual(requests.get(explainer.url("/v2/health/ready"), timeout=10).status_code, 200)
        finally:
            explainer.stop()


class FlagsTest(unittest.TestCase):
    def run_explainer(self, *args):
        return subprocess.run([INFERD_BIN, "art-explainer", "--http_port", "0", "--grpc_port", "0"] + list(args),
                              capture_output=True, text=True, timeout=30)

    def test_other_adversary_types_fail_at_start(self):
        r = self.run_explainer("--predictor_host", "127.0.0.1:1", "--adversary_type", "FastGradientMethod")
        self.assertEqual(r.returncode, 2, r.stdout + r.stderr)
        self.assertIn("FastGradientMethod", r.stderr)
        self.assertIn("SquareAttack", r.stderr)

    def test_predictor_host_is_required_and_v1_only(self):
        r = self.run_explainer()
        self.assertEqual(r.returncode, 2)
        self.assertIn("--predictor_host", r.stderr)
        r = self.run_explainer("--predictor_host", "x:1", "--predictor_protocol", "v2")
        self.assertEqual(r.returncode, 2)
        self.assertIn("--predictor_protocol", r.stderr)
        r = self.run_explainer("--predictor_host", "x:1", "--max_iter", "-3")
        self.assertEqual(r.returncode, 2)
        self.assertIn("--max_iter", r.stderr)

    def test_uds_serves_rest_as_the_gateway_reaches_replicas(self):
        with tempfile.TemporaryDirectory() as tmp:
            sock = os.path.join(tmp, "art.sock")
            p = Proc(["art-explainer", "--model_name", "m", "--predictor_host", "127.0.0.1:1", "--uds", sock])
            try:
                r = subprocess.run(["curl", "-s", "--unix-socket", sock, "http://localhost/v1/models/m"],
                                   capture_output=True, text=True, timeout=30)
                self.assertEqual(json.loads(r.stdout), {"name": "m", "ready": True}, r.stdout + r.stderr)
            finally:
                p.stop()

    def test_kserves_extra_flags_are_warned_about_and_ignored(self):
        # The args KServe's controller gives an ART explainer with storageUri and a config entry it does not know.
        p = Proc(["art-explainer", "--model_name", "m", "--predictor_host", "127.0.0.1:1", "--workers", "1",
                  "--storage_uri", "/mnt/models", "--adversary_type", "SquareAttack", "--enable_docs_url", "false",
                  "--batch_size", "4"])
        try:
            out = p.output()
            self.assertIn("--storage_uri /mnt/models: ignored", out)
            self.assertIn("--enable_docs_url: accepted for KServe compatibility and ignored", out)
            self.assertIn("does not know, ignored", out)
            self.assertIn("--batch_size", out)
        finally:
            p.stop()


if __name__ == "__main__":
    unittest.main()
