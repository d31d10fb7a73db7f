"""`POST /v1/models/<m>:explain` answered by a real `inferd model-server` process itself (explain/explainer.h):
TreeSHAP on XGBoost (against xgboost's own pred_contribs / pred_interactions), LightGBM and scikit-learn tree
models (contributions + expected value = the raw margin, and the margin agrees with :predict), KernelSHAP on
TorchScript models (a linear model's exact SHAP values; the background from explainer_background.json beside
the model or from the request), a model loaded later through the repository API, and the errors a client can
provoke (each a 4xx/5xx naming the reason; the server keeps serving).

Run by ctest with Debian's /usr/bin/python3 (xgboost, scikit-learn, torch, requests). Environment:
INFERD_BIN, INFERD_SOURCE_DIR.
"""

import json
import math
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import unittest

import numpy as np
import requests

SOURCE_DIR = os.environ.get("INFERD_SOURCE_DIR", os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..")))
INFERD_BIN = os.environ.get("INFERD_BIN", "inferd")
LGBM = os.path.join(SOURCE_DIR, "tests", "data", "lightgbm")


class Server:
    """`inferd model-server` on ephemeral ports; collects its output on a thread."""

    LISTENING = re.compile(r"inferd model-server listening http_port=(\d+)")

    def __init__(self, args):
        self.proc = subprocess.Popen([INFERD_BIN, "model-server"] + args + ["--http_port", "0", "--grpc_port", "0"],
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.lines, self.port = [], None
        listening, ready = threading.Event(), threading.Event()

        def reader():
            for line in self.proc.stdout:
                self.lines.append(line)
                m = self.LISTENING.search(line)
                if m and self.port is None:
                    self.port = int(m.group(1))
                    listening.set()
                if "inferd model-server ready" in line:
                    ready.set()
            listening.set()
            ready.set()

        threading.Thread(target=reader, daemon=True).start()
        if not listening.wait(30) or not ready.wait(120) or self.port is None or self.proc.poll() is not None:
            self.stop()
            raise RuntimeError("inferd did not become ready:\n" + "".join(self.lines))

    def url(self, path):
        return "http://127.0.0.1:%d%s" % (self.port, path)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def build_repo(repo):
    import joblib
    import torch
    import xgboost as xgb
    from sklearn.datasets import load_iris
    from sklearn.ensemble import GradientBoostingRegressor, RandomForestClassifier

    rng = np.random.default_rng(3)
    x = rng.normal(size=(300, 5)).astype(np.float32)
    x[rng.random(x.shape) < 0.1] = np.nan
    s = np.nan_to_num(x[:, 0]) + 0.5 * np.nan_to_num(x[:, 1] * x[:, 2]) - np.nan_to_num(x[:, 3])
    data = {}

    def save_xgb(name, params, label):
        d = os.path.join(repo, name)
        os.makedirs(d)
        bst = xgb.train(dict(params, max_depth=4, eta=0.3, nthread=1, seed=1), xgb.DMatrix(x, label=label), 25)
        bst.save_model(os.path.join(d, "model.json"))
        data[name] = bst

    save_xgb("xgb-binary", {"objective": "binary:logistic"}, (s > 0).astype(np.float32))
    save_xgb("xgb-multi", {"objective": "multi:softprob", "num_class": 3},
             np.digitize(s, [-0.7, 0.7]).astype(np.float32))
    save_xgb("xgb-reg", {"objective": "reg:squarederror"}, s)

    iris = load_iris()
    d = os.path.join(repo, "sklearn-rf")
    os.makedirs(d)
    joblib.dump(RandomForestClassifier(n_estimators=10, max_depth=4, random_state=0).fit(iris.data, iris.target),
                os.path.join(d, "model.joblib"))
    d = os.path.join(repo, "sklearn-gbr")
    os.makedirs(d)
    xs = np.nan_to_num(x).astype(np.float64)
    joblib.dump(GradientBoostingRegressor(n_estimators=20, max_depth=3, random_state=0).fit(xs, s),
                os.path.join(d, "model.joblib"))

    for name, src in (("lgbm-binary", "lg_breast_cancer.txt"), ("lgbm-multi", "lg_kddcup99.model"),
                      ("lgbm-rf", "lg_rf_iris.model")):
        os.makedirs(os.path.join(repo, name))
        shutil.copy(os.path.join(LGBM, src), os.path.join(repo, name, "model.txt"))

    torch.manual_seed(0)
    lin = torch.nn.Linear(4, 1).double().float()
    d = os.path.join(repo, "torch-linear")
    os.makedirs(d)
    torch.jit.trace(lin.eval(), torch.zeros(2, 4)).save(os.path.join(d, "model.pt"))
    background = rng.normal(size=(16, 4)).round(3).tolist()
    with open(os.path.join(d, "explainer_background.json"), "w") as f:
        json.dump({"instances": background}, f)
    data["torch-linear"] = (lin.weight.detach().numpy()[0].astype(np.float64), float(lin.bias.detach()[0]),
                            np.array(background))
    mlp = torch.nn.Sequential(torch.nn.Linear(3, 8), torch.nn.Tanh(), torch.nn.Linear(8, 2))
    d = os.path.join(repo, "torch-mlp")
    os.makedirs(d)
    torch.jit.trace(mlp.eval(), torch.zeros(2, 3)).save(os.path.join(d, "model.pt"))

    class Two(torch.nn.Module):
        def forward(self, a, b):
            return a + b

    d = os.path.join(repo, "torch-two-inputs")
    os.makedirs(d)
    torch.jit.script(Two()).save(os.path.join(d, "model.pt"))
    data["x"] = x
    return data


class ExplainServerTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="inferd-explain-")
        cls.repo = os.path.join(cls.tmp, "repo")
        os.makedirs(cls.repo)
        cls.data = build_repo(cls.repo)
        names = sorted(n for n in os.listdir(cls.repo) if n != "lgbm-rf")  # lgbm-rf: loaded later, by the API
        args = ["--model_repository", cls.repo]
        for n in names:
            args += ["--load_model", n]
        cls.server = Server(args)

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def explain(self, model, body, status=200):
        r = requests.post(self.server.url("/v1/models/%s:explain" % model), json=body, timeout=120)
        self.assertEqual(r.status_code, status, r.text)
        return r.json()

    def predict(self, model, rows):
        r = requests.post(self.server.url("/v1/models/%s:predict" % model), json={"instances": rows}, timeout=30)
        self.assertEqual(r.status_code, 200, r.text)
        return r.json()["predictions"]

    def rows(self, n=8):
        return [[None if math.isnan(v) else float(v) for v in row] for row in self.data["x"][:n]]

    def assert_additive(self, e, k):
        shap = np.array(e["shap_values"], dtype=np.float64).reshape(k, -1)
        total = shap.sum(axis=1) + np.array(e["expected_value"], dtype=np.float64).reshape(k)
        np.testing.assert_allclose(total, np.array(e["margin"], dtype=np.float64).reshape(k), rtol=1e-6, atol=1e-6)

    def test_xgboost_equals_pred_contribs_and_interactions(self):
        import xgboost as xgb
        x = self.data["x"][:8]
        for name, k in (("xgb-binary", 1), ("xgb-multi", 3), ("xgb-reg", 1)):
            with self.subTest(model=name):
                out = self.explain(name, {"instances": self.rows(), "interactions": True})
                self.assertEqual((out["method"], out["output"]), ("tree", "margin"))
                bst = self.data[name]
                contribs = bst.predict(xgb.DMatrix(x), pred_contribs=True).reshape(8, k, 6)
                inter = bst.predict(xgb.DMatrix(x), pred_interactions=True).reshape(8, k, 6, 6)
                margin = bst.predict(xgb.DMatrix(x), output_margin=True).reshape(8, k)
                for i, e in enumerate(out["explanations"]):
                    shap = np.array(e["shap_values"]).reshape(k, 5)
                    np.testing.assert_allclose(shap, contribs[i, :, :5], atol=1e-5, rtol=1e-5)
                    np.testing.assert_allclose(np.array(e["expected_value"]).reshape(k), contribs[i, :, 5], atol=1e-5)
                    np.testing.assert_allclose(np.array(e["margin"]).reshape(k), margin[i], atol=1e-5)
                    iv = np.array(e["shap_interaction_values"]).reshape(k, 5, 5)
                    np.testing.assert_allclose(iv, inter[i, :, :5, :5], atol=1e-5, rtol=1e-5)
                    np.testing.assert_allclose(iv.sum(axis=2), shap, atol=1e-9)
                    self.assert_additive(e, k)

    def test_lightgbm_contributions_sum_to_the_margin_of_predict(self):
        rows = np.loadtxt(os.path.join(LGBM, "lg_breast_cancer_data.txt"))[:5].tolist()
        out = self.explain("lgbm-binary", {"instances": rows})
        probs = self.predict("lgbm-binary", rows)
        for e, p in zip(out["explanations"], probs):
            self.assertEqual(len(e["shap_values"]), 30)
            self.assert_additive(e, 1)
            self.assertAlmostEqual(1 / (1 + math.exp(-e["margin"])), p, places=9)
        rows = np.loadtxt(os.path.join(LGBM, "kddcup99_test.tsv"), delimiter="\t")[:3].tolist()
        out = self.explain("lgbm-multi", {"instances": rows})  # 13 classes, categorical splits
        for e in out["explanations"]:
            self.assertEqual(np.array(e["shap_values"]).shape, (13, 41))
            self.assert_additive(e, 13)

    def test_sklearn_trees(self):
        from sklearn.datasets import load_iris
        rows = load_iris().data[::30].tolist()
        out = self.explain("sklearn-rf", {"instances": rows})
        self.assertEqual(out["method"], "tree")
        r = requests.post(self.server.url("/v2/models/sklearn-rf/infer"), timeout=30, json={
            "inputs": [{"name": "input-0", "datatype": "FP64", "shape": [len(rows), 4],
                        "data": [v for row in rows for v in row]}],
            "outputs": [{"name": "probabilities"}]})
        self.assertEqual(r.status_code, 200, r.text)
        proba = np.array(r.json()["outputs"][0]["data"]).reshape(len(rows), 3)
        for e, p in zip(out["explanations"], proba):
            self.assert_additive(e, 3)  # a random forest's margin is its probability
            np.testing.assert_allclose(e["margin"], p, atol=1e-9)
        rows = np.nan_to_num(self.data["x"][:4]).astype(np.float64).tolist()
        out = self.explain("sklearn-gbr", {"instances": rows})
        for e, p in zip(out["explanations"], self.predict("sklearn-gbr", rows)):
            self.assert_additive(e, 1)
            self.assertAlmostEqual(e["margin"], p, places=9)

    def test_torch_kernel_shap_equals_linear_shap(self):
        w, b, background = self.data["torch-linear"]
        rows = [[0.5, -1.0, 2.0, 0.25], [1.5, 0.0, -0.5, 3.0]]
        out = self.explain("torch-linear", {"instances": rows})  # background: explainer_background.json
        self.assertEqual((out["method"], out["output"], out["background_rows"]), ("kernel", "prediction", 16))
        for e, row in zip(out["explanations"], rows):
            exact = w * (np.array(row) - background.mean(axis=0))
            np.testing.assert_allclose(np.array(e["shap_values"]).reshape(4), exact, atol=1e-5)
            self.assertAlmostEqual(float(np.ravel(e["prediction"])[0]), float(w @ np.array(row) + b), places=5)
        # The background given in the request replaces the file's; the seed makes sampled answers repeatable.
        out = self.explain("torch-linear", {"instances": rows[:1], "background": [[0, 0, 0, 0]]})
        np.testing.assert_allclose(np.array(out["explanations"][0]["shap_values"]).reshape(4), w * np.array(rows[0]),
                                   atol=1e-5)

    def test_torch_mlp_kernel_shap_is_additive_and_deterministic(self):
        body = {"instances": [[0.3, -0.2, 0.9]], "background": [[0, 0, 0], [1, 1, 1], [-1, 0.5, 0]]}
        a = self.explain("torch-mlp", body)
        self.assertEqual(a, self.explain("torch-mlp", body))
        e = a["explanations"][0]
        shap = np.array(e["shap_values"])
        self.assertEqual(shap.shape, (2, 3))  # two outputs
        np.testing.assert_allclose(shap.sum(axis=1) + np.array(e["expected_value"]), np.array(e["prediction"]),
                                   atol=1e-5)

    def test_background_file_is_read_at_each_request(self):
        path = os.path.join(self.repo, "torch-mlp", "explainer_background.json")
        body = {"instances": [[0.3, -0.2, 0.9]]}
        try:
            with open(path, "w") as f:
                json.dump([[0, 0], [1, 1]], f)  # two features: the model's rows have three
            r = requests.post(self.server.url("/v1/models/torch-mlp:explain"), json=body, timeout=60)
            self.assertEqual(r.status_code, 400, r.text)
            self.assertIn("explainer_background.json", r.json()["error"])
            with open(path, "w") as f:
                json.dump({"instances": [[0, 0, 0], [1, 1, 1]]}, f)
            self.assertEqual(self.explain("torch-mlp", body)["background_rows"], 2)
        finally:
            os.remove(path)

    def test_model_loaded_later_through_the_repository_api_is_explained(self):
        r = requests.post(self.server.url("/v2/repository/models/lgbm-rf/load"), timeout=60)
        self.assertEqual(r.status_code, 200, r.text)
        rows = np.loadtxt(os.path.join(LGBM, "lg_rf_iris_test.tsv"), delimiter="\t")[:3].tolist()
        out = self.explain("lgbm-rf", {"instances": rows})
        for e in out["explanations"]:
            self.assert_additive(e, 1)

    def test_errors_name_the_reason_and_the_server_keeps_serving(self):
        cases = [
            ("torch-linear", {"instances": [[1, 2, 3, 4]], "nsamples": 10 ** 7}, 400, "nsamples"),
            ("torch-mlp", {"instances": [[1, 2, 3]]}, 400, "background"),
            ("torch-mlp", {"instances": [[1, 2, 3]], "method": "tree"}, 400, "method"),
            ("torch-mlp", {"instances": [[1, 2, 3]], "background": [[0, 0, 0]], "interactions": True}, 400,
             "interactions"),
            ("xgb-binary", {"instances": [[1, 2]]}, 400, "instances"),
            ("xgb-binary", {"instances": [["a", 1, 2, 3, 4]]}, 400, "instances[0][0]"),
            ("xgb-binary", {"instances": [[1, 2, 3, 4, 5]], "colour": 1}, 400, "colour"),
            ("xgb-binary", {"rows": []}, 400, "instances"),
            ("xgb-reg", {"instances": [[1, 2, 3, 4, 5]], "method": "kernel"}, 400, "background"),
            ("nope", {"instances": [[1]]}, 404, "nope"),
            ("torch-linear", {"instances": [[1, 2, 3, 4]] * 65}, 400, "instances"),
            ("xgb-binary", {"instances": [[1, 2, 3, 4, 5]] * 1024, "interactions": True}, 200, "explanations"),
            ("torch-two-inputs", {"instances": [[1, 2]], "background": [[0, 0]]}, 501, "2 inputs"),
        ]
        for model, body, status, word in cases:
            with self.subTest(model=model, body=body):
                r = requests.post(self.server.url("/v1/models/%s:explain" % model), json=body, timeout=60)
                self.assertEqual(r.status_code, status, r.text)
                self.assertIn(word, r.json()["error"] if status != 200 else r.json())
        r = requests.post(self.server.url("/v1/models/xgb-binary:explain"), data=b"{not json", timeout=30)
        self.assertEqual(r.status_code, 400, r.text)
        self.assertEqual(len(self.predict("xgb-binary", [[0, 0, 0, 0, 0]])), 1)


if __name__ == "__main__":
    unittest.main()
