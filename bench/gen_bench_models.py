#!/usr/bin/python3
"""Iris models for every runtime, for bench/run_runtime_bench.sh.

    /usr/bin/python3 bench/gen_bench_models.py OUT_DIR [LIGHTGBM_MODEL]

Writes OUT_DIR/repo/<name>/ (one model each) for the model repository the benchmark serves:
  iris-sklearn    LogisticRegression (model.joblib; compiled natively by inferd)
  iris-xgboost    XGBoost multi:softmax, KServe's sample settings (model.bst)
  iris-lightgbm   LIGHTGBM_MODEL copied as model.bst (LightGBM writes text; none can be trained here)
  iris-torch      a 4-16-3 MLP, TorchScript (model.pt) with a model-settings.json naming input-0 [-1, 4]
  iris-onnx       the same MLP exported to ONNX (model.onnx, opset 13, dynamic batch)
and OUT_DIR/wide/iris-torch-wide (a 4-256-256-3 MLP, untrained: only its cost matters) for the batching runs,
and OUT_DIR/custom/model.py, a KServe-style custom model (kserve.Model) answering with the same
LogisticRegression, for the Python path. Seeded; needs Debian's python3-sklearn, -xgboost, -torch.
"""
import json
import os
import shutil
import sys

import numpy as np


def fresh(path):
    if os.path.isdir(path):
        shutil.rmtree(path)
    os.makedirs(path)
    return path


def main():
    if len(sys.argv) not in (2, 3):
        sys.exit(__doc__)
    out = sys.argv[1]
    repo = os.path.join(out, "repo")
    os.makedirs(repo, exist_ok=True)
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression
    import joblib

    iris = load_iris()
    x, y = iris.data.astype(np.float32), iris.target
    clf = LogisticRegression(max_iter=1000).fit(x, y)
    joblib.dump(clf, os.path.join(fresh(os.path.join(repo, "iris-sklearn")), "model.joblib"))

    import xgboost as xgb
    bst = xgb.train({"max_depth": 6, "eta": 0.1, "objective": "multi:softmax", "num_class": 3, "nthread": 1,
                     "seed": 1}, xgb.DMatrix(x, label=y), num_boost_round=10)
    bst.save_model(os.path.join(fresh(os.path.join(repo, "iris-xgboost")), "model.bst"))

    if len(sys.argv) == 3 and os.path.exists(sys.argv[2]):
        shutil.copy(sys.argv[2], os.path.join(fresh(os.path.join(repo, "iris-lightgbm")), "model.bst"))

    try:
        import torch
    except ImportError:
        torch = None
    if torch is not None:
        torch.manual_seed(0)
        mlp = torch.nn.Sequential(torch.nn.Linear(4, 16), torch.nn.ReLU(), torch.nn.Linear(16, 3))
        opt = torch.optim.Adam(mlp.parameters(), lr=0.05)
        xt, yt = torch.from_numpy(x), torch.from_numpy(y.astype(np.int64))
        for _ in range(200):
            opt.zero_grad()
            loss = torch.nn.functional.cross_entropy(mlp(xt), yt)
            loss.backward()
            opt.step()
        mlp.eval()
        d = fresh(os.path.join(repo, "iris-torch"))
        torch.jit.trace(mlp, xt[:2]).save(os.path.join(d, "model.pt"))
        with open(os.path.join(d, "model-settings.json"), "w") as f:
            json.dump({"inputs": [{"name": "input-0", "datatype": "FP32", "shape": [-1, 4]}],
                       "outputs": [{"name": "output-0", "datatype": "FP32", "shape": [-1, 3]}]}, f)
        # A wider MLP (4-256-256-3) for the batching comparison, where the model's own cost matters.
        wide = torch.nn.Sequential(torch.nn.Linear(4, 256), torch.nn.ReLU(), torch.nn.Linear(256, 256),
                                   torch.nn.ReLU(), torch.nn.Linear(256, 3)).eval()
        d = fresh(os.path.join(out, "wide", "iris-torch-wide"))
        torch.jit.trace(wide, xt[:2]).save(os.path.join(d, "model.pt"))
        with open(os.path.join(d, "model-settings.json"), "w") as f:
            json.dump({"inputs": [{"name": "input-0", "datatype": "FP32", "shape": [-1, 4]}],
                       "outputs": [{"name": "output-0", "datatype": "FP32", "shape": [-1, 3]}]}, f)
        d = fresh(os.path.join(repo, "iris-onnx"))
        torch.onnx.export(mlp, xt[:2], os.path.join(d, "model.onnx"), input_names=["input-0"],
                          output_names=["output-0"], dynamic_axes={"input-0": {0: "batch"}, "output-0": {0: "batch"}},
                          opset_version=13)

    custom = fresh(os.path.join(out, "custom"))
    joblib.dump(clf, os.path.join(custom, "model.joblib"))
    with open(os.path.join(custom, "model.py"), "w") as f:
        f.write('''import os
import joblib
import numpy as np
import kserve


class IrisModel(kserve.Model):
    def __init__(self, name):
        super().__init__(name)
        self.clf = None
        self.load()

    def load(self):
        self.clf = joblib.load(os.path.join(os.path.dirname(__file__), "model.joblib"))
        self.ready = True

    def predict(self, payload, headers=None):
        x = np.asarray(payload["instances"], dtype=np.float64)
        return {"predictions": self.clf.predict(x).tolist()}


if __name__ == "__main__":
    kserve.ModelServer().start([IrisModel("iris-custom")])
''')


if __name__ == "__main__":
    main()
