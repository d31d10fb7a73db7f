"""src/backends/sklearn/sklearn_python.py (the scikit-learn runtime's Python half) run by python3 directly:
load, describe, and compile_native, whose JSON (sklearn_native.h) is replayed here in numpy for linear
models and trees and checked against scikit-learn's own answers. The same file is compiled into inferd
(tests/backends/sklearn_backend_test.cc runs it there)."""
import importlib.util
import json
import os
import pickle
import tempfile
import unittest

import joblib
import numpy as np
from sklearn.datasets import load_iris
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from sklearn.svm import SVC
from sklearn.tree import DecisionTreeClassifier

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
_spec = importlib.util.spec_from_file_location(
    "_inferd_sklearn_test", os.path.join(ROOT, "src", "backends", "sklearn", "sklearn_python.py"))
sk = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(sk)

X, Y = load_iris(return_X_y=True)


def tree_value(tree, row):
    """One compiled tree (sklearn_native.h's layout) evaluated on one row: left when x <= threshold."""
    node = 0
    while tree["left"][node] >= 0:
        go_left = np.float32(row[tree["feature"][node]]) <= np.float32(tree["threshold"][node])
        node = tree["left"][node] if go_left else tree["right"][node]
    return tree["value"][node]


class LoadAndDescribe(unittest.TestCase):
    def test_joblib_and_pickle_load_the_same_model(self):
        model = LogisticRegression(max_iter=500).fit(X, Y)
        with tempfile.TemporaryDirectory() as d:
            joblib.dump(model, os.path.join(d, "model.joblib"))
            with open(os.path.join(d, "model.pkl"), "wb") as f:
                pickle.dump(model, f)
            for name in ("model.joblib", "model.pkl"):
                loaded = sk.load(os.path.join(d, name))
                np.testing.assert_array_equal(loaded.predict(X[:5]), model.predict(X[:5]), name)

    def test_describe_classifier_and_pipeline(self):
        info = sk.describe(LogisticRegression(max_iter=500).fit(X, Y))
        self.assertEqual(info, {"n_features": 4, "has_proba": True, "n_classes": 3,
                                "label_kind": np.asarray(Y).dtype.kind + str(np.asarray(Y).dtype.itemsize),
                                "type": "LogisticRegression"})
        info = sk.describe(make_pipeline(StandardScaler(), LinearRegression()).fit(X, X[:, 0]))
        self.assertEqual((info["n_classes"], info["has_proba"], info["label_kind"]), (-1, False, ""))
        self.assertEqual(info["type"], "Pipeline(StandardScaler, LinearRegression)")

    def test_describe_refuses_what_cannot_predict(self):
        with self.assertRaises(TypeError) as cm:
            sk.describe(StandardScaler().fit(X))
        self.assertIn("StandardScaler has no predict() method", str(cm.exception))


class CompileNative(unittest.TestCase):
    def compiled(self, model):
        return json.loads(sk.compile_native(model, int(model.n_features_in_)))

    def test_linear_regression_replays_its_probe(self):
        model = make_pipeline(StandardScaler(), LinearRegression()).fit(X, X[:, 0] * 2 + X[:, 3])
        d = self.compiled(model)
        self.assertEqual(d["steps"][0]["op"], "standard")
        self.assertEqual(d["head"]["kind"], "linear")
        x = np.asarray(d["probe"]["x"], dtype=np.float64)
        z = (x - d["steps"][0]["mean"]) / d["steps"][0]["scale"]
        y = z @ np.asarray(d["head"]["coef"][0]) + d["head"]["intercept"][0]
        np.testing.assert_allclose(y, d["probe"]["value"], rtol=1e-9, atol=1e-9)
        np.testing.assert_allclose(d["probe"]["value"], model.predict(x), rtol=1e-12)

    def test_decision_tree_replays_its_probe(self):
        model = DecisionTreeClassifier(max_depth=3, random_state=0).fit(X, Y)
        d = self.compiled(model)
        head = d["head"]
        self.assertEqual((head["kind"], head["task"], head["classes"]), ("trees", "classification", [0.0, 1.0, 2.0]))
        self.assertEqual(len(head["trees"]), 3)  # one per class
        for row, want in zip(d["probe"]["x"], d["probe"]["label_index"]):
            proba = [tree_value(t, row) for t in head["trees"]]
            self.assertEqual(int(np.argmax(proba)), want)
        # The probe rows hit split thresholds exactly, not only random values.
        thresholds = {np.float32(t) for tr in head["trees"] for t, l in zip(tr["threshold"], tr["left"]) if l >= 0}
        self.assertTrue(any(np.float32(v) in thresholds for row in d["probe"]["x"] for v in row))

    def test_probe_is_deterministic(self):
        model = LogisticRegression(max_iter=500).fit(X, Y)
        self.assertEqual(sk.compile_native(model, 4), sk.compile_native(model, 4))

    def test_unsupported_models_say_why(self):
        cases = [
            (SVC().fit(X, Y), 4, "SVC has no native form"),
            (LogisticRegression(max_iter=500).fit(X, Y), 0, "does not record n_features_in_"),
            (make_pipeline(SimpleImputer(missing_values=0.0), LinearRegression()).fit(X, X[:, 0]), 4,
             "only NaN is compiled"),
            (make_pipeline(OneHotEncoder(), LinearRegression()).fit(X[:, :1], X[:, 0]), 1, "sparse output"),
        ]
        for model, n, reason in cases:
            with self.assertRaises(sk.Unsupported) as cm:
                sk.compile_native(model, n)
            self.assertIn(reason, str(cm.exception))


if __name__ == "__main__":
    unittest.main()
