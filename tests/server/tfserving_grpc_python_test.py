"""TF Serving's gRPC API (KServe's `grpc-v1` for the tensorflow runtime) of `inferd model-server`, called the way
KServe users call TF Serving: Python's grpcio with tensorflow_serving.apis stubs (predict_pb2,
prediction_service_pb2_grpc, get_model_metadata_pb2, model_service_pb2_grpc), generated at test time by
python3-grpc-tools from proto/tensorflow_serving and proto/tf (TF Serving's package, message and field names).

Run by ctest with Debian's /usr/bin/python3. Environment: INFERD_BIN, INFERD_SOURCE_DIR.
"""

import glob
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import time
import unittest

import grpc

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from grpc_python_test import Server  # noqa: E402  (the model server on ephemeral ports)

SOURCE_DIR = os.environ.get("INFERD_SOURCE_DIR",
                            os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
HALF_PLUS_TWO = os.path.join(SOURCE_DIR, "tests", "data", "tf", "saved_model_half_plus_two_cpu")
DT_FLOAT, DT_DOUBLE = 1, 2

apis = {}


def generate_stubs(out_dir):
    proto_dir = os.path.join(SOURCE_DIR, "proto")
    files = sorted(glob.glob(os.path.join(proto_dir, "tensorflow_serving", "apis", "*.proto")))
    files += sorted(glob.glob(os.path.join(proto_dir, "tf", "*.proto")))
    subprocess.run([sys.executable, "-m", "grpc_tools.protoc", "-I" + proto_dir, "--python_out=" + out_dir,
                    "--grpc_python_out=" + out_dir] + files, check=True)
    sys.path.insert(0, out_dir)
    from tensorflow_serving.apis import (get_model_metadata_pb2, get_model_status_pb2, model_service_pb2_grpc,
                                         predict_pb2, prediction_service_pb2_grpc, classification_pb2,
                                         regression_pb2)
    from tf import example_pb2, tensor_pb2
    apis.update(predict=predict_pb2, service=prediction_service_pb2_grpc, metadata=get_model_metadata_pb2,
                status=get_model_status_pb2, model_service=model_service_pb2_grpc, tensor=tensor_pb2,
                classification=classification_pb2, regression=regression_pb2, example=example_pb2)


def example_x(*xs):
    """A serialized tf.Example with float feature "x" (proto/tf/example.proto: tensorflow.Example's wire format,
    which is what tf.train.Example(...).SerializeToString() gives a TF Serving client)."""
    e = apis["example"].Example()
    if xs:
        e.features.feature["x"].float_list.value.extend(xs)
    return e.SerializeToString()


def float_tensor(dims, values=(), content=None, dtype=DT_FLOAT):
    t = apis["tensor"].TensorProto(dtype=dtype)
    for d in dims:
        t.tensor_shape.dim.add(size=d)
    if content is not None:
        t.tensor_content = content
    elif dtype == DT_DOUBLE:
        t.double_val.extend(values)
    else:
        t.float_val.extend(values)
    return t


class TfServingGrpcTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="inferd_tfs_py_")
        generate_stubs(cls.tmp)
        cls.server = Server(["--model_name", "half_plus_two", "--model_dir", HALF_PLUS_TWO])
        cls.channel = grpc.insecure_channel("127.0.0.1:%d" % cls.server.grpc_port)
        cls.stub = apis["service"].PredictionServiceStub(cls.channel)
        cls.models = apis["model_service"].ModelServiceStub(cls.channel)
        # The model loads after the server listens: GetModelStatus answers UNAVAILABLE until it is loaded.
        deadline = time.monotonic() + 60
        while True:
            try:
                cls.models.GetModelStatus(apis["status"].GetModelStatusRequest(model_spec={"name": "half_plus_two"}),
                                          timeout=10)
                break
            except grpc.RpcError as e:
                if e.code() != grpc.StatusCode.UNAVAILABLE or time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    @classmethod
    def tearDownClass(cls):
        cls.channel.close()
        cls.server.stop()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def request(self, x, **spec):
        req = apis["predict"].PredictRequest()
        req.model_spec.name = spec.pop("name", "half_plus_two")
        for k, v in spec.items():
            if k == "version":
                req.model_spec.version.value = v
            else:
                setattr(req.model_spec, k, v)
        if x is not None:
            req.inputs["x"].CopyFrom(x)
        return req

    def error(self, req, code, needle):
        with self.assertRaises(grpc.RpcError) as ctx:
            self.stub.Predict(req, timeout=30)
        self.assertEqual(ctx.exception.code(), code, ctx.exception.details())
        self.assertIn(needle, ctx.exception.details())

    def test_predict_as_the_kserve_sample_calls_it(self):
        # KServe's grpc-v1 sample: inputs["x"] from tf.make_tensor_proto (tensor_content), signature serving_default.
        xs = [1.0, 2.0, 5.0]
        req = self.request(float_tensor([3], content=struct.pack("<3f", *xs)), signature_name="serving_default")
        resp = self.stub.Predict(req, timeout=30)
        self.assertEqual(list(resp.outputs["y"].float_val), [2.5, 3.0, 4.5])
        self.assertEqual([d.size for d in resp.outputs["y"].tensor_shape.dim], [3])
        self.assertEqual(resp.model_spec.name, "half_plus_two")
        self.assertEqual(resp.model_spec.version.value, 123)
        self.assertEqual(resp.model_spec.signature_name, "serving_default")
        # Typed values, version named, output_filter.
        req = self.request(float_tensor([2, 1], [4.0, -2.0]), version=123)
        req.output_filter.append("y")
        resp = self.stub.Predict(req, timeout=30)
        self.assertEqual(list(resp.outputs["y"].float_val), [4.0, 1.0])
        self.assertEqual([d.size for d in resp.outputs["y"].tensor_shape.dim], [2, 1])

    def test_metadata_and_status(self):
        md = apis["metadata"]
        resp = self.stub.GetModelMetadata(md.GetModelMetadataRequest(
            model_spec={"name": "half_plus_two"}, metadata_field=["signature_def"]), timeout=30)
        self.assertEqual(resp.model_spec.version.value, 123)
        sigs = md.SignatureDefMap()
        self.assertTrue(resp.metadata["signature_def"].Unpack(sigs))
        sig = sigs.signature_def["serving_default"]
        self.assertEqual(sig.inputs["x"].dtype, DT_FLOAT)
        self.assertEqual(sig.outputs["y"].name, "y:0")
        st = apis["status"]
        resp = self.models.GetModelStatus(st.GetModelStatusRequest(model_spec={"name": "half_plus_two"}), timeout=30)
        self.assertEqual(len(resp.model_version_status), 1)
        self.assertEqual(resp.model_version_status[0].version, 123)
        self.assertEqual(resp.model_version_status[0].state, st.ModelVersionStatus.AVAILABLE)
        with self.assertRaises(grpc.RpcError) as ctx:
            self.models.GetModelStatus(st.GetModelStatusRequest(model_spec={"name": "nope"}), timeout=30)
        self.assertEqual(ctx.exception.code(), grpc.StatusCode.NOT_FOUND)

    def test_classify_and_regress_on_tf_examples(self):
        # As TF Serving's Python clients call them: tf.Examples in input.example_list(_with_context), y = x/2 + 2.
        req = apis["regression"].RegressionRequest(
            model_spec={"name": "half_plus_two", "signature_name": "regress_x_to_y"})
        req.input.example_list.examples.extend([example_x(1.0), example_x(3.0), example_x(-4.5)])
        resp = self.stub.Regress(req, timeout=30)
        self.assertEqual([r.value for r in resp.result.regressions], [2.5, 3.5, -0.25])
        self.assertEqual(resp.model_spec.signature_name, "regress_x_to_y")
        self.assertEqual(resp.model_spec.version.value, 123)
        req = apis["classification"].ClassificationRequest(
            model_spec={"name": "half_plus_two", "signature_name": "classify_x_to_y"})
        req.input.example_list_with_context.context = example_x(10.0)
        req.input.example_list_with_context.examples.extend([example_x(), example_x(2.0)])
        resp = self.stub.Classify(req, timeout=30)
        self.assertEqual([[(c.label, c.score) for c in cl.classes] for cl in resp.result.classifications],
                         [[("", 7.0)], [("", 3.0)]])

    def test_errors_name_what_is_wrong(self):
        C = grpc.StatusCode
        self.error(self.request(float_tensor([1], [1.0]), name="nope"), C.NOT_FOUND,
                   "Servable not found for request: Latest(nope)")
        req = self.request(None)
        req.inputs["images"].CopyFrom(float_tensor([1], [1.0]))
        self.error(req, C.INVALID_ARGUMENT, "input tensor alias not found in signature: images")
        self.error(self.request(float_tensor([1], [1.0], dtype=DT_DOUBLE)), C.INVALID_ARGUMENT,
                   "input 'x': the signature expects DT_FLOAT, got DT_DOUBLE")
        # Hostile TensorProtos: content shorter than the shape, dimensions past 2^31 elements, repetition past the
        # request's budget.
        self.error(self.request(float_tensor([4], content=b"\0" * 10)), C.INVALID_ARGUMENT, "does not match")
        self.error(self.request(float_tensor([1 << 20, 1 << 20], [1.0])), C.INVALID_ARGUMENT,
                   "more than 2^31 elements")
        self.error(self.request(float_tensor([1 << 30], [1.0])), C.INVALID_ARGUMENT, "expanded bytes")
        self.error(self.request(float_tensor([1], [1.0]), signature_name="classify_x_to_y_nope"),
                   C.INVALID_ARGUMENT, 'Serving signature key "classify_x_to_y_nope" not found.')
        with self.assertRaises(grpc.RpcError) as ctx:
            self.stub.Classify(apis["classification"].ClassificationRequest(model_spec={"name": "half_plus_two"}),
                               timeout=30)
        self.assertEqual(ctx.exception.code(), C.INVALID_ARGUMENT)
        self.assertIn("Input is empty", ctx.exception.details())
        # A regress call on a classify signature names both methods.
        req = apis["regression"].RegressionRequest(
            model_spec={"name": "half_plus_two", "signature_name": "classify_x_to_y"})
        req.input.example_list.examples.append(example_x(1.0))
        with self.assertRaises(grpc.RpcError) as ctx:
            self.stub.Regress(req, timeout=30)
        self.assertEqual(ctx.exception.code(), C.INVALID_ARGUMENT)
        self.assertIn("Expected regression signature method_name to be tensorflow/serving/regress",
                      ctx.exception.details())
        # Still serving.
        resp = self.stub.Predict(self.request(float_tensor([1], [2.0])), timeout=30)
        self.assertEqual(list(resp.outputs["y"].float_val), [3.0])


if __name__ == "__main__":
    unittest.main()
