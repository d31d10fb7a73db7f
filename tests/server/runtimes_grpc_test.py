"""The scikit-learn and LightGBM runtimes over V2 gRPC, driven by Python's grpcio as a Triton/KServe
client would, compared with the frameworks' own saved answers.

Run by ctest with Debian's /usr/bin/python3. Environment as for grpc_python_test.py (whose stub
generation and server wrapper this reuses); the LightGBM model and its expected answers come from
tests/data/lightgbm (see its README), the scikit-learn ones from scripts/gen_sklearn_test_models.py.
"""

import json
import os
import shutil
import sys
import tempfile
import time
import unittest

import grpc

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import grpc_python_test as g  # noqa: E402

LGBM_DATA = os.path.join(g.SOURCE_DIR, "tests", "data", "lightgbm")
SKLEARN = os.path.join(g.MODELS, "sklearn")


def expected(name):
    with open(os.path.join(SKLEARN, name + ".expected.json")) as f:
        return json.load(f)


class RuntimesGrpcTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="inferd-runtimes-grpc-")
        g.generate_stubs(cls.tmp)
        repo = os.path.join(cls.tmp, "repo")
        for name in ("sklearn-iris-rf", "sklearn-diabetes-gbr", "sklearn-iris-pipeline", "sklearn-iris-knn",
                     "sklearn-iris-strlabels"):
            shutil.copytree(os.path.join(SKLEARN, name), os.path.join(repo, name))
        os.makedirs(os.path.join(repo, "lightgbm-iris"))
        # Named model.bst on purpose: the server must tell LightGBM's text from XGBoost's binary by content.
        shutil.copy(os.path.join(LGBM_DATA, "lg_rf_iris.model"), os.path.join(repo, "lightgbm-iris", "model.bst"))
        cls.server = g.Server(["--model_repository", repo])
        cls.channel = grpc.insecure_channel("127.0.0.1:%d" % cls.server.grpc_port)
        cls.stub = g.pb_grpc.GRPCInferenceServiceStub(cls.channel)
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                if cls.stub.ServerReady(g.pb.ServerReadyRequest(), timeout=5).ready:
                    break
            except grpc.RpcError:
                pass
            time.sleep(0.1)
        else:
            output = cls.server.output()
            cls.tearDownClass()  # unittest skips it when setUpClass raises: no server may outlive the test
            raise RuntimeError("not ready:\n" + output)

    @classmethod
    def tearDownClass(cls):
        cls.channel.close()
        cls.server.stop()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def infer(self, model, rows, datatype="FP64", outputs=()):
        req = g.pb.ModelInferRequest(model_name=model, id="t")
        inp = req.inputs.add(name="input-0", datatype=datatype, shape=[len(rows), len(rows[0])])
        flat = [float(v) for row in rows for v in row]
        (inp.contents.fp64_contents if datatype == "FP64" else inp.contents.fp32_contents).extend(flat)
        for name in outputs:
            req.outputs.add(name=name)
        return self.stub.ModelInfer(req, timeout=10)

    def test_sklearn_classifiers_answer_labels_and_probabilities(self):
        for name in ("sklearn-iris-rf", "sklearn-iris-pipeline", "sklearn-iris-knn"):
            with self.subTest(model=name):
                e = expected(name)
                resp = self.infer(name, e["instances"], outputs=("output-0", "probabilities"))
                self.assertEqual([o.name for o in resp.outputs], ["output-0", "probabilities"])
                self.assertEqual(resp.outputs[0].datatype, "INT64")
                self.assertEqual(list(resp.outputs[0].contents.int64_contents), e["predict"])
                got = list(resp.outputs[1].contents.fp64_contents)
                want = [v for row in e["predict_proba"] for v in row]
                self.assertEqual(len(got), len(want))
                for a, b in zip(got, want):
                    self.assertAlmostEqual(a, b, delta=1e-9)

    def test_sklearn_string_labels_are_bytes(self):
        e = expected("sklearn-iris-strlabels")
        resp = self.infer("sklearn-iris-strlabels", e["instances"], datatype="FP32")
        self.assertEqual(resp.outputs[0].datatype, "BYTES")
        self.assertEqual([b.decode() for b in resp.outputs[0].contents.bytes_contents], e["predict"])

    def test_sklearn_regressor(self):
        e = expected("sklearn-diabetes-gbr")
        resp = self.infer("sklearn-diabetes-gbr", e["instances"])
        got = list(resp.outputs[0].contents.fp64_contents)
        self.assertEqual(len(got), len(e["predict"]))
        for a, b in zip(got, e["predict"]):
            self.assertAlmostEqual(a, b, delta=1e-9 * max(1.0, abs(b)))

    def test_lightgbm_matches_lightgbm(self):
        rows = []
        with open(os.path.join(LGBM_DATA, "lg_rf_iris_test.tsv")) as f:
            for line in f:
                if line.strip() and not line.startswith("#"):
                    rows.append([float(v) for v in line.split("\t")])
        with open(os.path.join(LGBM_DATA, "lg_rf_iris_true_predictions.txt")) as f:
            want = [float(line) for line in f if line.strip()]
        self.assertEqual(len(rows), len(want))
        resp = self.infer("lightgbm-iris", rows, datatype="FP32")
        got = list(resp.outputs[0].contents.fp64_contents)
        self.assertEqual(len(got), len(want))
        for a, b in zip(got, want):
            self.assertAlmostEqual(a, b, delta=1e-6 * max(1.0, abs(b)))

    def test_wrong_feature_count_is_invalid_argument(self):
        with self.assertRaises(grpc.RpcError) as cm:
            self.infer("sklearn-iris-rf", [[1.0, 2.0, 3.0]])
        self.assertEqual(cm.exception.code(), grpc.StatusCode.INVALID_ARGUMENT)
        self.assertIn("input-0", cm.exception.details())


if __name__ == "__main__":
    if not g.MODELS:
        sys.exit("INFERD_TEST_MODELS is not set")
    unittest.main(verbosity=2)
