#!/usr/bin/python3
"""Writes the XGBoost models that inferd's tests and examples use.

Usage (Debian's Python: it has python3-xgboost and numpy; nothing else is needed):
  /usr/bin/python3 scripts/gen_test_models.py OUTDIR              test models (see below)
  /usr/bin/python3 scripts/gen_test_models.py --examples DIR      only the bundled example models

OUTDIR receives:
  xgb_iris_softmax/model.bst   iris, multi:softmax, old binary format (KServe's sample parameters)
  xgb_iris_softprob/model.json iris, multi:softprob
  xgb_iris_ubj/model.ubj       iris, multi:softmax, UBJSON
  xgb_regressor/model.json     reg:squarederror, 8 features, synthetic data
  xgb_binary/model.json        binary:logistic, 5 features, synthetic data
  xgb_linear/model.json        reg:squarederror with the gblinear booster (no in-place prediction)
  and beside each of those directories NAME.expected.json (outside the model directory, because
  KServe's file conventions would take a *.json inside it for a second model file):
    {"objective", "num_class", "num_features", "instances", "predict" (Booster.predict),
     "margin" (output_margin=True), "probabilities" (multiclass: XGBoost's softprob; binary: [1-p, p])}
  errors/empty/                (no files)
  errors/two_files/            model.bst and model.json
  errors/corrupt/model.json    garbage bytes
  errors/corrupt_bst/model.bst garbage bytes
  repo/{iris/model.bst, iris_json/model.json, regressor/model.json, broken/model.json (garbage)}

Deterministic: fixed data (the iris set is embedded below, random data comes from seeded generators),
nthread 1, fixed seed. Only the directories listed above are replaced; other files in OUTDIR are kept.
"""
import json
import os
import shutil
import sys

import numpy as np
import xgboost as xgb

# Fisher's iris data (public domain), in the usual order: 50 setosa, 50 versicolor, 50 virginica.
# Values are in millimetres (cm * 10). Rows 35 and 38 carry the corrections that UCI documents and
# scikit-learn's load_iris applies, so the models match ones trained on load_iris(). The data is
# embedded (not loaded from sklearn) so that every machine trains on exactly the same bytes.
IRIS_MM = (
    "51 35 14 2, 49 30 14 2, 47 32 13 2, 46 31 15 2, 50 36 14 2, 54 39 17 4,"
    "46 34 14 3, 50 34 15 2, 44 29 14 2, 49 31 15 1, 54 37 15 2, 48 34 16 2,"
    "48 30 14 1, 43 30 11 1, 58 40 12 2, 57 44 15 4, 54 39 13 4, 51 35 14 3,"
    "57 38 17 3, 51 38 15 3, 54 34 17 2, 51 37 15 4, 46 36 10 2, 51 33 17 5,"
    "48 34 19 2, 50 30 16 2, 50 34 16 4, 52 35 15 2, 52 34 14 2, 47 32 16 2,"
    "48 31 16 2, 54 34 15 4, 52 41 15 1, 55 42 14 2, 49 31 15 2, 50 32 12 2,"
    "55 35 13 2, 49 36 14 1, 44 30 13 2, 51 34 15 2, 50 35 13 3, 45 23 13 3,"
    "44 32 13 2, 50 35 16 6, 51 38 19 4, 48 30 14 3, 51 38 16 2, 46 32 14 2,"
    "53 37 15 2, 50 33 14 2, 70 32 47 14, 64 32 45 15, 69 31 49 15, 55 23 40 13,"
    "65 28 46 15, 57 28 45 13, 63 33 47 16, 49 24 33 10, 66 29 46 13, 52 27 39 14,"
    "50 20 35 10, 59 30 42 15, 60 22 40 10, 61 29 47 14, 56 29 36 13, 67 31 44 14,"
    "56 30 45 15, 58 27 41 10, 62 22 45 15, 56 25 39 11, 59 32 48 18, 61 28 40 13,"
    "63 25 49 15, 61 28 47 12, 64 29 43 13, 66 30 44 14, 68 28 48 14, 67 30 50 17,"
    "60 29 45 15, 57 26 35 10, 55 24 38 11, 55 24 37 10, 58 27 39 12, 60 27 51 16,"
    "54 30 45 15, 60 34 45 16, 67 31 47 15, 63 23 44 13, 56 30 41 13, 55 25 40 13,"
    "55 26 44 12, 61 30 46 14, 58 26 40 12, 50 23 33 10, 56 27 42 13, 57 30 42 12,"
    "57 29 42 13, 62 29 43 13, 51 25 30 11, 57 28 41 13, 63 33 60 25, 58 27 51 19,"
    "71 30 59 21, 63 29 56 18, 65 30 58 22, 76 30 66 21, 49 25 45 17, 73 29 63 18,"
    "67 25 58 18, 72 36 61 25, 65 32 51 20, 64 27 53 19, 68 30 55 21, 57 25 50 20,"
    "58 28 51 24, 64 32 53 23, 65 30 55 18, 77 38 67 22, 77 26 69 23, 60 22 50 15,"
    "69 32 57 23, 56 28 49 20, 77 28 67 20, 63 27 49 18, 67 33 57 21, 72 32 60 18,"
    "62 28 48 18, 61 30 49 18, 64 28 56 21, 72 30 58 16, 74 28 61 19, 79 38 64 20,"
    "64 28 56 22, 63 28 51 15, 61 26 56 14, 77 30 61 23, 63 34 56 24, 64 31 55 18,"
    "60 30 48 18, 69 31 54 21, 67 31 56 24, 69 31 51 23, 58 27 51 19, 68 32 59 23,"
    "67 33 57 25, 67 30 52 23, 63 25 50 19, 65 30 52 20, 62 34 54 23, 59 30 51 18"
)

# The rows of KServe's iris example first, then one of each class and two borderline ones.
IRIS_ROWS = [
    [6.8, 2.8, 4.8, 1.4],
    [6.0, 3.4, 4.5, 1.6],
    [5.1, 3.5, 1.4, 0.2],
    [7.7, 3.0, 6.1, 2.3],
    [5.9, 3.0, 5.1, 1.8],
    [4.9, 2.5, 4.5, 1.7],
]


def iris():
    values = [int(v) for row in IRIS_MM.split(",") for v in row.split()]
    assert len(values) == 600
    x = np.array(values, dtype=np.float32).reshape(150, 4) / np.float32(10)
    y = np.repeat(np.arange(3, dtype=np.float32), 50)
    return x, y


def regression_data():
    rng = np.random.default_rng(20240611)
    x = rng.normal(size=(400, 8)).astype(np.float32)
    w = np.array([1.5, -2.0, 0.7, 0.0, 3.1, -0.4, 0.9, 2.2], dtype=np.float32)
    y = x @ w + 2.0 * np.sin(3.0 * x[:, 0]) + 0.1 * rng.normal(size=400)
    return x, y.astype(np.float32)


def binary_data():
    rng = np.random.default_rng(7)
    x = rng.normal(size=(400, 5)).astype(np.float32)
    score = 1.2 * x[:, 0] - 0.8 * x[:, 1] + x[:, 2] * x[:, 3] + 0.3 * rng.normal(size=400)
    return x, (score > 0).astype(np.float32)


def train(x, y, params, rounds):
    full = {"nthread": 1, "seed": 1}
    full.update(params)
    return xgb.train(full, xgb.DMatrix(x, label=y), num_boost_round=rounds)


def train_iris(objective):
    x, y = iris()
    # KServe's sample: max_depth 6, eta 0.1, 10 rounds (xgb.train's default).
    return train(x, y, {"max_depth": 6, "eta": 0.1, "objective": objective, "num_class": 3}, 10)


def v2_datatype(dtype):
    """The V2 datatype KServe's servers give a numpy array of this dtype (kserve.utils.numpy_codec)."""
    dtype = np.dtype(dtype)
    if dtype.kind in "OSU":
        return "BYTES"
    names = {"b": "BOOL", "i": "INT", "u": "UINT", "f": "FP"}
    return names[dtype.kind] + ("" if dtype.kind == "b" else str(dtype.itemsize * 8))


def expected(bst, rows, num_class):
    dm = xgb.DMatrix(np.asarray(rows, dtype=np.float32))
    objective = json.loads(bst.save_config())["learner"]["objective"]["name"]
    out = {
        "objective": objective,
        "num_class": num_class,
        "num_features": bst.num_features(),
        "instances": rows,
        "predict": bst.predict(dm).tolist(),
        # What KServe's xgbserver answers in V2: Booster.predict's numpy dtype, as its encoder maps it.
        "predict_datatype": v2_datatype(bst.predict(dm).dtype),
        "margin": bst.predict(dm, output_margin=True).tolist(),
    }
    if objective.startswith("multi:"):
        # XGBoost's own softmax transform, as the reference for the backend's probabilities.
        softprob = bst.copy()
        softprob.set_param({"objective": "multi:softprob"})
        out["probabilities"] = softprob.predict(dm).tolist()
    elif objective == "binary:logistic":
        p = bst.predict(dm)
        out["probabilities"] = np.stack([np.float32(1) - p, p], axis=1).tolist()
    return out


def fresh_dir(path):
    if os.path.isdir(path):
        shutil.rmtree(path)
    os.makedirs(path)
    return path


def save(bst, directory, filename, rows=None, num_class=0):
    fresh_dir(directory)
    bst.save_model(os.path.join(directory, filename))
    if rows is not None:
        with open(directory.rstrip("/") + ".expected.json", "w") as f:
            json.dump(expected(bst, rows, num_class), f, indent=1)
            f.write("\n")


def write_garbage(path):
    # Deterministic bytes that are neither JSON, UBJSON nor XGBoost's binary format.
    data = bytes((i * 97 + 13) % 256 for i in range(512))
    with open(path, "wb") as f:
        f.write(b"\x00garbage\xff" + data)


def write_examples(out):
    softmax = train_iris("multi:softmax")
    save(softmax, os.path.join(out, "iris-xgboost"), "model.bst")
    save(softmax, os.path.join(out, "iris-xgboost-json"), "model.json")
    # KServe's sklearn-iris sample: a LogisticRegression on iris, as joblib (Debian's scikit-learn 1.2).
    import joblib
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression
    x, y = load_iris(return_X_y=True)
    os.makedirs(os.path.join(out, "iris-sklearn"), exist_ok=True)
    joblib.dump(LogisticRegression(max_iter=1000).fit(x, y), os.path.join(out, "iris-sklearn", "model.joblib"))


def write_test_models(out):
    os.makedirs(out, exist_ok=True)
    softmax = train_iris("multi:softmax")
    softprob = train_iris("multi:softprob")
    x, y = regression_data()
    regressor = train(x, y, {"max_depth": 4, "eta": 0.3, "objective": "reg:squarederror"}, 20)
    reg_rows = [[round(float(v), 3) for v in row] for row in x[:5]]
    x, y = binary_data()
    binary = train(x, y, {"max_depth": 3, "eta": 0.3, "objective": "binary:logistic"}, 15)
    bin_rows = [[round(float(v), 3) for v in row] for row in x[:6]]
    x, y = regression_data()
    linear = train(x, y, {"booster": "gblinear", "eta": 0.5, "objective": "reg:squarederror"}, 10)

    save(softmax, os.path.join(out, "xgb_iris_softmax"), "model.bst", IRIS_ROWS, 3)
    save(softprob, os.path.join(out, "xgb_iris_softprob"), "model.json", IRIS_ROWS, 3)
    save(softmax, os.path.join(out, "xgb_iris_ubj"), "model.ubj", IRIS_ROWS, 3)
    save(regressor, os.path.join(out, "xgb_regressor"), "model.json", reg_rows)
    save(binary, os.path.join(out, "xgb_binary"), "model.json", bin_rows)
    save(linear, os.path.join(out, "xgb_linear"), "model.json", reg_rows)

    # The other common objectives of the native engine's list.
    x, y = binary_data()
    save(train(x, y, {"max_depth": 3, "eta": 0.3, "objective": "reg:logistic"}, 10),
         os.path.join(out, "xgb_reg_logistic"), "model.json", bin_rows)
    save(train(x, y, {"max_depth": 3, "eta": 0.3, "objective": "binary:logitraw"}, 10),
         os.path.join(out, "xgb_logitraw"), "model.ubj", bin_rows)
    x, y = regression_data()
    counts = np.floor(np.exp(np.clip(y / 4.0, -3, 3))).astype(np.float32)
    save(train(x, counts, {"max_depth": 3, "eta": 0.3, "objective": "count:poisson"}, 10),
         os.path.join(out, "xgb_poisson"), "model.json", reg_rows)
    ranker = xgb.DMatrix(x, label=(counts > 1).astype(np.float32))
    ranker.set_group([40] * 10)
    rank = xgb.train({"nthread": 1, "seed": 1, "max_depth": 3, "eta": 0.3, "objective": "rank:pairwise"}, ranker, 10)
    save(rank, os.path.join(out, "xgb_rank"), "model.json", reg_rows)

    errors = fresh_dir(os.path.join(out, "errors"))
    os.makedirs(os.path.join(errors, "empty"))
    two = fresh_dir(os.path.join(errors, "two_files"))
    softmax.save_model(os.path.join(two, "model.bst"))
    softmax.save_model(os.path.join(two, "model.json"))
    write_garbage(os.path.join(fresh_dir(os.path.join(errors, "corrupt")), "model.json"))
    write_garbage(os.path.join(fresh_dir(os.path.join(errors, "corrupt_bst")), "model.bst"))

    repo = fresh_dir(os.path.join(out, "repo"))
    save(softmax, os.path.join(repo, "iris"), "model.bst")
    save(softmax, os.path.join(repo, "iris_json"), "model.json")
    save(regressor, os.path.join(repo, "regressor"), "model.json")
    write_garbage(os.path.join(fresh_dir(os.path.join(repo, "broken")), "model.json"))


def main(argv):
    if len(argv) == 3 and argv[1] == "--examples":
        write_examples(argv[2])
    elif len(argv) == 2 and not argv[1].startswith("-"):
        write_test_models(argv[1])
    else:
        sys.stderr.write(__doc__)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
