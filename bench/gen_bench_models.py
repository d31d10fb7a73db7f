#!/usr/bin/python3
"""Iris models for every runtime, for bench/run_runtime_bench.sh.

    /usr/bin/python3 bench/gen_bench_models.py OUT_DIR [LIGHTGBM_MODEL]
    /usr/bin/python3 bench/gen_bench_models.py --tree-engine OUT_DIR

The second form writes the tree-engine matrix for bench/tree_engine_bench (see tree_engine_models below).

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
    if len(sys.argv) == 3 and sys.argv[1] == "--tree-engine":
        return tree_engine_models(sys.argv[2])
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


def xgb_margin_base(config, objective):
    base = float(config["learner"]["learner_model_param"]["base_score"])
    if objective in ("binary:logistic", "reg:logistic"):
        return float(np.log(base / (1.0 - base)))
    return base


def xgb_to_lightgbm(model_json, config, objective, num_features, path):
    """Writes the trees of an XGBoost JSON model as a LightGBM text model with the same answers on float32 rows.

    XGBoost splits go left when float(x) < t; LightGBM's when double(x) <= threshold: for float32 x the two agree
    when threshold is the float just below t. Missing values (NaN) keep XGBoost's default direction
    (decision_type: missing type NaN, bit 1 default_left). XGBoost's base margin is added to the leaves of each
    group's first tree (LightGBM has no base score), so margins agree to rounding (double vs float sums)."""
    booster = model_json["learner"]["gradient_booster"]["model"]
    trees, info = booster["trees"], booster["tree_info"]
    groups = max(info) + 1
    base = xgb_margin_base(config, objective)
    first_of_group = {}
    for i, g in enumerate(info):
        first_of_group.setdefault(g, i)
    if objective.startswith("multi:"):
        header_objective = "multiclass num_class:%d" % groups
    elif objective == "binary:logistic":
        header_objective = "binary sigmoid:1"
    else:
        header_objective = "regression"
    blocks = []
    for i, t in enumerate(trees):
        left, right = t["left_children"], t["right_children"]
        cond, feat, dleft = t["split_conditions"], t["split_indices"], t["default_left"]
        bonus = base if first_of_group[info[i]] == i else 0.0
        split_of, leaf_of, order_s, order_l = {}, {}, [], []
        stack = [0]
        while stack:  # pre-order from the root: LightGBM's root is split 0
            n = stack.pop()
            if left[n] == -1:
                leaf_of[n] = len(order_l)
                order_l.append(n)
            else:
                split_of[n] = len(order_s)
                order_s.append(n)
                stack += [right[n], left[n]]
        ref = lambda c: split_of[c] if c in split_of else ~leaf_of[c]
        leaf_values = " ".join(repr(float(np.float32(cond[n])) + bonus) for n in order_l)
        lines = ["Tree=%d" % i, "num_leaves=%d" % len(order_l), "num_cat=0"]
        if order_s:
            thr = [repr(float(np.nextafter(np.float32(cond[n]), np.float32(-np.inf)))) for n in order_s]
            lines += ["split_feature=" + " ".join(str(feat[n]) for n in order_s),
                      "split_gain=" + " ".join("1" for _ in order_s),
                      "threshold=" + " ".join(thr),
                      "decision_type=" + " ".join(str(8 + (2 if dleft[n] else 0)) for n in order_s),
                      "left_child=" + " ".join(str(ref(left[n])) for n in order_s),
                      "right_child=" + " ".join(str(ref(right[n])) for n in order_s)]
        lines += ["leaf_value=" + leaf_values, "shrinkage=1", "", ""]
        blocks.append("\n".join(lines))
    with open(path, "w") as f:
        f.write("tree\nversion=v3\nnum_class=%d\nnum_tree_per_iteration=%d\nlabel_index=0\nmax_feature_idx=%d\n"
                "objective=%s\nfeature_names=%s\n\n" % (groups if groups > 1 else 1, groups, num_features - 1,
                                                       header_objective,
                                                       " ".join("f%d" % j for j in range(num_features))))
        f.write("".join(blocks))
        f.write("end of trees\n")


def tree_engine_models(out):
    """The model matrix of issue 19's batch-path figure, in OUT_DIR (seeded; Debian's python3-xgboost, -sklearn).

    Data: make_classification / make_regression, 20 features; rows.f32 holds 10000 held-out float32 rows
    (row-major) from the same distributions for the benchmark, so splits see realistic values.
      xgb_binary_d3.json    binary:logistic, 20 rounds, depth 3
      xgb_softprob_d3.json  multi:softprob, 3 classes, 20 rounds, depth 3 (issue 19's model: 60 trees)
      xgb_reg_d3.json       reg:squarederror, 20 rounds, depth 3
      xgb_binary_d6.json    binary:logistic, 100 rounds, depth 6
      xgb_softprob_d6.json  multi:softprob, 3 classes, 34 rounds, depth 6 (102 trees)
      xgb_reg_d8.json       reg:squarederror, 100 rounds, depth 8
      lgb_<same>.txt        each XGBoost model's trees written as a LightGBM text model (xgb_to_lightgbm)
      skl_rf.joblib         RandomForestClassifier, 100 trees, max_depth 8
      skl_rf_full.joblib    RandomForestClassifier, 50 trees, unlimited depth (KServe's usual, deep sparse trees)
      skl_et_reg.joblib     ExtraTreesRegressor, 100 trees, max_depth 8
      skl_gbr.joblib        GradientBoostingRegressor, 100 trees, depth 3
      skl_gbc3.joblib       GradientBoostingClassifier, 3 classes, 20 rounds, depth 3
    """
    import joblib
    import xgboost as xgb
    from sklearn.datasets import make_classification, make_regression
    from sklearn.ensemble import (ExtraTreesRegressor, GradientBoostingClassifier, GradientBoostingRegressor,
                                  RandomForestClassifier)
    os.makedirs(out, exist_ok=True)
    n_train, n_rows, nf = 4000, 10000, 20
    xb, yb = make_classification(n_samples=n_train + n_rows, n_features=nf, n_informative=10, random_state=1)
    xm, ym = make_classification(n_samples=n_train, n_features=nf, n_informative=10, n_classes=3, random_state=2)
    xr, yr = make_regression(n_samples=n_train, n_features=nf, n_informative=10, noise=5.0, random_state=3)
    xb, xm, xr = xb.astype(np.float32), xm.astype(np.float32), xr.astype(np.float32)
    xb[n_train:].tofile(os.path.join(out, "rows.f32"))
    xb = xb[:n_train]
    yb = yb[:n_train]
    specs = [("binary_d3", "binary:logistic", xb, yb, 3, 20), ("softprob_d3", "multi:softprob", xm, ym, 3, 20),
             ("reg_d3", "reg:squarederror", xr, yr, 3, 20), ("binary_d6", "binary:logistic", xb, yb, 6, 100),
             ("softprob_d6", "multi:softprob", xm, ym, 6, 34), ("reg_d8", "reg:squarederror", xr, yr, 8, 100)]
    for name, objective, x, y, depth, rounds in specs:
        params = {"objective": objective, "max_depth": depth, "eta": 0.3, "nthread": 1, "seed": 1}
        if objective.startswith("multi:"):
            params["num_class"] = 3
        bst = xgb.train(params, xgb.DMatrix(x, label=y), num_boost_round=rounds)
        path = os.path.join(out, "xgb_%s.json" % name)
        bst.save_model(path)
        with open(path) as f:
            model_json = json.load(f)
        xgb_to_lightgbm(model_json, json.loads(bst.save_config()), objective, nf,
                        os.path.join(out, "lgb_%s.txt" % name))
    skl = [("skl_rf", RandomForestClassifier(n_estimators=100, max_depth=8, random_state=4), xb, yb),
           ("skl_rf_full", RandomForestClassifier(n_estimators=50, random_state=8), xb, yb),
           ("skl_et_reg", ExtraTreesRegressor(n_estimators=100, max_depth=8, random_state=5), xr, yr),
           ("skl_gbr", GradientBoostingRegressor(n_estimators=100, max_depth=3, random_state=6), xr, yr),
           ("skl_gbc3", GradientBoostingClassifier(n_estimators=20, max_depth=3, random_state=7), xm, ym)]
    for name, est, x, y in skl:
        est.fit(x, y)
        joblib.dump(est, os.path.join(out, name + ".joblib"))


if __name__ == "__main__":
    main()
