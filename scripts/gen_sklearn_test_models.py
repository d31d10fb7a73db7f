#!/usr/bin/python3
"""Writes small scikit-learn test models, each with scikit-learn's own answers beside it.

    /usr/bin/python3 scripts/gen_sklearn_test_models.py OUT_DIR

Run with Debian's Python (python3-sklearn 1.2, python3-joblib). For every model OUT_DIR/<name>/ holds
the model file (model.joblib, or model.pkl written with pickle), and OUT_DIR/<name>.expected.json (beside
the directory, so that the directory holds exactly one model file):
    {"type": "...", "instances": [[...], ...], "predict": [...], "predict_proba": [[...]] or null,
     "predict_datatype": "INT64", "predict_proba_datatype": "FP64" or null,
     tree models only: "threshold_instances" (rows on the model's own split thresholds, NaN as null),
     "threshold_predict", "threshold_proba" (classifiers)}
where instances are rows from the model's test split and the answers are what the fitted estimator's
own predict / predict_proba return for them; the datatypes are what KServe's sklearnserver answers in V2
for those numpy arrays (its encoder maps numpy dtypes one to one: int32 is INT32, strings BYTES). Seeded: the same files every run. Takes about 2 s.
"""
import json
import os
import pickle
import sys

import joblib
import numpy as np
from sklearn.datasets import load_diabetes, load_iris
from sklearn.ensemble import (ExtraTreesClassifier, ExtraTreesRegressor, GradientBoostingClassifier,
                              GradientBoostingRegressor, HistGradientBoostingClassifier,
                              HistGradientBoostingRegressor, RandomForestClassifier, RandomForestRegressor)
from sklearn.impute import SimpleImputer
from sklearn.linear_model import ElasticNet, Lasso, LinearRegression, LogisticRegression, Ridge
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import MinMaxScaler, OneHotEncoder, StandardScaler
from sklearn.compose import ColumnTransformer
from sklearn.svm import LinearSVC, LinearSVR
from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor


def split(x, y, n_test):
    rng = np.random.RandomState(0)
    idx = rng.permutation(len(x))
    test, train = idx[:n_test], idx[n_test:]
    return x[train], y[train], x[test], y[test]


def tolist(a):
    a = np.asarray(a)
    if a.dtype.kind in "US O":
        return [str(v) for v in a.tolist()]
    return a.tolist()


def v2_datatype(a):
    """The V2 datatype KServe's servers give a numpy array (kserve.utils.numpy_codec.from_np_dtype)."""
    dtype = np.asarray(a).dtype
    if dtype.kind in "OSU":
        return "BYTES"
    names = {"b": "BOOL", "i": "INT", "u": "UINT", "f": "FP"}
    return names[dtype.kind] + ("" if dtype.kind == "b" else str(dtype.itemsize * 8))


def tree_splits(model):
    """(feature, threshold) of every split of a tree model's own trees, [] for other estimators."""
    trees = []
    if hasattr(model, "tree_"):
        trees = [model.tree_]
    elif hasattr(model, "estimators_"):
        trees = [e.tree_ for e in np.ravel(model.estimators_) if hasattr(e, "tree_")]
    splits = [(int(f), float(t)) for tr in trees for f, t in zip(tr.feature, tr.threshold) if f >= 0]
    for predictors in getattr(model, "_predictors", []):  # HistGradientBoosting
        for p in predictors:
            splits += [(int(n["feature_idx"]), float(n["num_threshold"])) for n in p.nodes if not n["is_leaf"]]
    return splits


def threshold_rows(model, x_test):
    """Rows that land on the model's own split thresholds: exactly, as the float32 scikit-learn's trees
    compare in (DecisionTree/forests/GradientBoosting cast X to float32), and one float32 step either side;
    plus 0, -0, large values and, where the model accepts it (HistGradientBoosting), NaN. One feature at a
    time over three test rows. Infinity is left out: scikit-learn 1.2 refuses it."""
    splits = tree_splits(model)
    if not splits:
        return None
    rows = []
    base = x_test[:3]
    def add(b, f, v):
        r = b.copy()
        r[f] = v
        rows.append(r)
    for f, t in splits:
        t32 = np.float32(t)
        for v in (t, float(t32), float(np.nextafter(t32, np.float32(-np.inf))),
                  float(np.nextafter(t32, np.float32(np.inf)))):
            for b in base:
                add(b, f, v)
    specials = [0.0, -0.0, 3e38, -3e38]
    if hasattr(model, "_predictors"):
        specials.append(np.nan)
    for f in range(x_test.shape[1]):
        for v in specials:
            for b in base:
                add(b, f, v)
    return np.array(rows, dtype=np.float64)


def write(out, name, model, x_test, pickled=False):
    d = os.path.join(out, name)
    os.makedirs(d, exist_ok=True)
    for f in os.listdir(d):
        os.remove(os.path.join(d, f))
    if pickled:
        with open(os.path.join(d, "model.pkl"), "wb") as f:
            pickle.dump(model, f)
    else:
        joblib.dump(model, os.path.join(d, "model.joblib"))
    proba = model.predict_proba(x_test) if hasattr(model, "predict_proba") else None
    predict = model.predict(x_test)
    expected = {
        "type": type(model).__name__,
        "instances": x_test.tolist(),
        "predict": tolist(predict),
        "predict_proba": None if proba is None else proba.tolist(),
        "predict_datatype": v2_datatype(predict),
        "predict_proba_datatype": None if proba is None else v2_datatype(proba),
    }
    rows = threshold_rows(model, x_test)
    if rows is not None:
        # NaN as null (JSON has no NaN); the answers are scikit-learn's own.
        expected["threshold_instances"] = [[None if np.isnan(v) else float(v) for v in r] for r in rows]
        with np.errstate(invalid="ignore"):  # NaN rows of HistGradientBoosting
            expected["threshold_predict"] = tolist(model.predict(rows))
            if hasattr(model, "predict_proba"):
                expected["threshold_proba"] = model.predict_proba(rows).tolist()
    with open(d + ".expected.json", "w") as f:
        json.dump(expected, f)


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: gen_sklearn_test_models.py OUT_DIR")
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)

    iris = load_iris()
    xi, yi = iris.data.astype(np.float64), iris.target
    xi_tr, yi_tr, xi_te, _ = split(xi, yi, 12)
    diab = load_diabetes()
    xd, yd = diab.data.astype(np.float64), diab.target
    xd_tr, yd_tr, xd_te, _ = split(xd, yd, 12)

    # The KServe sklearn sample: iris LogisticRegression in model.joblib.
    write(out, "sklearn-iris-logreg", LogisticRegression(max_iter=1000).fit(xi_tr, yi_tr), xi_te)
    # pickle instead of joblib (KServe loads *.pkl with pickle).
    write(out, "sklearn-iris-rf",
          RandomForestClassifier(n_estimators=10, max_depth=4, random_state=0).fit(xi_tr, yi_tr), xi_te,
          pickled=True)
    # String class labels: output-0 is BYTES.
    names = iris.target_names[yi_tr]
    write(out, "sklearn-iris-strlabels", DecisionTreeClassifier(max_depth=3, random_state=0).fit(xi_tr, names), xi_te)
    write(out, "sklearn-iris-gbc",
          GradientBoostingClassifier(n_estimators=15, max_depth=2, random_state=0).fit(xi_tr, yi_tr), xi_te)
    write(out, "sklearn-iris-hgbc",
          HistGradientBoostingClassifier(max_iter=15, random_state=0).fit(xi_tr, yi_tr), xi_te)
    write(out, "sklearn-iris-et",
          ExtraTreesClassifier(n_estimators=8, max_depth=4, random_state=0).fit(xi_tr, yi_tr), xi_te)
    write(out, "sklearn-iris-linearsvc", LinearSVC(max_iter=5000, random_state=0).fit(xi_tr, yi_tr), xi_te)
    write(out, "sklearn-iris-pipeline",
          Pipeline([("impute", SimpleImputer()), ("scale", StandardScaler()),
                    ("clf", LogisticRegression(max_iter=1000))]).fit(xi_tr, yi_tr), xi_te)
    # Labels of a narrower integer type: predict() answers int32, which KServe answers as INT32.
    write(out, "sklearn-iris-int32labels",
          DecisionTreeClassifier(max_depth=3, random_state=0).fit(xi_tr, yi_tr.astype(np.int32)), xi_te)
    # A binary problem (setosa or not) for the two-class code paths.
    yb_tr = (yi_tr == 0).astype(np.int64)
    write(out, "sklearn-binary-logreg", LogisticRegression(max_iter=1000).fit(xi_tr, yb_tr), xi_te)
    # A model with no native form: stays on the Python path.
    write(out, "sklearn-iris-knn", KNeighborsClassifier(n_neighbors=3).fit(xi_tr, yi_tr), xi_te)

    # Regression on sklearn's diabetes set.
    write(out, "sklearn-diabetes-linear", LinearRegression().fit(xd_tr, yd_tr), xd_te)
    write(out, "sklearn-diabetes-ridge", Ridge(alpha=0.5).fit(xd_tr, yd_tr), xd_te)
    write(out, "sklearn-diabetes-lasso", Lasso(alpha=0.1).fit(xd_tr, yd_tr), xd_te)
    write(out, "sklearn-diabetes-elasticnet", ElasticNet(alpha=0.01).fit(xd_tr, yd_tr), xd_te)
    write(out, "sklearn-diabetes-linearsvr", LinearSVR(max_iter=20000, random_state=0).fit(xd_tr, yd_tr), xd_te)
    write(out, "sklearn-diabetes-dtr", DecisionTreeRegressor(max_depth=5, random_state=0).fit(xd_tr, yd_tr), xd_te)
    write(out, "sklearn-diabetes-rfr",
          RandomForestRegressor(n_estimators=10, max_depth=5, random_state=0).fit(xd_tr, yd_tr), xd_te)
    write(out, "sklearn-diabetes-etr",
          ExtraTreesRegressor(n_estimators=8, max_depth=5, random_state=0).fit(xd_tr, yd_tr), xd_te)
    write(out, "sklearn-diabetes-gbr",
          GradientBoostingRegressor(n_estimators=20, max_depth=3, random_state=0).fit(xd_tr, yd_tr), xd_te)
    write(out, "sklearn-diabetes-hgbr",
          HistGradientBoostingRegressor(max_iter=20, random_state=0).fit(xd_tr, yd_tr), xd_te)
    write(out, "sklearn-diabetes-pipeline",
          Pipeline([("scale", MinMaxScaler()), ("reg", Ridge(alpha=1.0))]).fit(xd_tr, yd_tr), xd_te)

    # One-hot encoding of a small-integer column (dense) in front of a linear model: the first iris
    # column rounded to an integer category, the rest scaled.
    xc_tr, xc_te = xi_tr.copy(), xi_te.copy()
    xc_tr[:, 0] = np.round(xc_tr[:, 0])
    xc_te[:, 0] = np.round(xc_te[:, 0])
    onehot = ColumnTransformer([("cat", OneHotEncoder(sparse_output=False, handle_unknown="ignore"), [0]),
                                ("num", StandardScaler(), [1, 2, 3])])
    # The same through a plain OneHotEncoder (dense) over every (rounded) column: compiled natively.
    write(out, "sklearn-iris-onehot-pipeline",
          Pipeline([("onehot", OneHotEncoder(sparse_output=False, handle_unknown="ignore")),
                    ("clf", LogisticRegression(max_iter=1000))]).fit(np.round(xi_tr), yi_tr), np.round(xi_te))
    # A ColumnTransformer has no native form: this one stays on the Python path.
    write(out, "sklearn-iris-onehot",
          Pipeline([("prep", onehot), ("clf", LogisticRegression(max_iter=1000))]).fit(xc_tr, yi_tr), xc_te)


if __name__ == "__main__":
    main()
