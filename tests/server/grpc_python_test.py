"""The V2 gRPC API of `inferd model-server` driven by Python's grpcio, as a KServe/Triton user would.

Run by ctest with Debian's /usr/bin/python3 (python3-grpcio, python3-grpc-tools). Environment:
INFERD_BIN (the binary), INFERD_TEST_MODELS (generated models), INFERD_SOURCE_DIR (for the .proto).
Python stubs are generated at test time into a temporary directory.
"""

import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import threading
import time
import unittest

import grpc

SOURCE_DIR = os.environ.get("INFERD_SOURCE_DIR",
                            os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
INFERD_BIN = os.environ.get("INFERD_BIN", "inferd")
MODELS = os.environ.get("INFERD_TEST_MODELS", "")
IRIS_ROWS = [[6.8, 2.8, 4.8, 1.4], [6.0, 3.4, 4.5, 1.6]]

pb = None
pb_grpc = None


def generate_stubs(out_dir):
    proto_dir = os.path.join(SOURCE_DIR, "proto")
    subprocess.run([sys.executable, "-m", "grpc_tools.protoc", "-I" + proto_dir, "--python_out=" + out_dir,
                    "--grpc_python_out=" + out_dir, os.path.join(proto_dir, "inference.proto")], check=True)
    sys.path.insert(0, out_dir)
    global pb, pb_grpc
    import inference_pb2
    import inference_pb2_grpc
    pb, pb_grpc = inference_pb2, inference_pb2_grpc


class Server:
    """`inferd model-server` on ephemeral ports; collects its output on a thread."""

    LISTENING = re.compile(r"inferd model-server listening http_port=(\d+) grpc_port=(\d+)")

    def __init__(self, args):
        self.proc = subprocess.Popen([INFERD_BIN, "model-server"] + args + ["--http_port", "0", "--grpc_port", "0"],
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.lines = []
        self.grpc_port = None
        found = threading.Event()

        def reader():
            for line in self.proc.stdout:
                self.lines.append(line)
                m = self.LISTENING.search(line)
                if m and self.grpc_port is None:
                    self.grpc_port = int(m.group(2))
                    found.set()
            found.set()

        self.thread = threading.Thread(target=reader, daemon=True)
        self.thread.start()
        if not found.wait(30) or self.grpc_port is None:
            self.stop()
            raise RuntimeError("inferd did not start listening:\n" + "".join(self.lines))

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
        return self.proc.returncode


def iris_request(model, rows, raw):
    req = pb.ModelInferRequest(model_name=model)
    inp = req.inputs.add(name="input-0", datatype="FP32", shape=[len(rows), 4])
    flat = [v for row in rows for v in row]
    if raw:
        req.raw_input_contents.append(struct.pack("<%df" % len(flat), *flat))
    else:
        inp.contents.fp32_contents.extend(flat)
    return req


class GrpcPythonTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="inferd_grpc_py_")
        generate_stubs(cls.tmp)
        model_dir = os.path.join(MODELS, "xgb_iris_softmax")
        if not os.path.isdir(model_dir):
            raise RuntimeError(model_dir + " is missing (scripts/gen_test_models.py)")
        cls.server = Server(["--model_name", "iris", "--model_dir", model_dir])
        cls.channel = grpc.insecure_channel("127.0.0.1:%d" % cls.server.grpc_port)
        cls.stub = pb_grpc.GRPCInferenceServiceStub(cls.channel)
        deadline = time.time() + 30
        while time.time() < deadline:
            try:
                if cls.stub.ServerReady(pb.ServerReadyRequest(), timeout=2).ready:
                    break
            except grpc.RpcError:
                pass
            time.sleep(0.05)
        else:
            raise RuntimeError("inferd never became ready:\n" + cls.server.output())

    @classmethod
    def tearDownClass(cls):
        cls.channel.close()
        cls.server.stop()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def test_live_ready_metadata(self):
        self.assertTrue(self.stub.ServerLive(pb.ServerLiveRequest(), timeout=10).live)
        self.assertTrue(self.stub.ServerReady(pb.ServerReadyRequest(), timeout=10).ready)
        self.assertTrue(self.stub.ModelReady(pb.ModelReadyRequest(name="iris"), timeout=10).ready)
        self.assertFalse(self.stub.ModelReady(pb.ModelReadyRequest(name="nope"), timeout=10).ready)
        smd = self.stub.ServerMetadata(pb.ServerMetadataRequest(), timeout=10)
        self.assertTrue(smd.name)
        self.assertIn("model_repository", list(smd.extensions))
        md = self.stub.ModelMetadata(pb.ModelMetadataRequest(name="iris"), timeout=10)
        self.assertEqual(md.name, "iris")
        self.assertEqual(md.platform, "xgboost")
        self.assertEqual(md.inputs[0].name, "input-0")
        self.assertEqual(md.inputs[0].datatype, "FP32")
        self.assertEqual(list(md.inputs[0].shape), [-1, 4])

    def test_infer_typed(self):
        req = iris_request("iris", IRIS_ROWS, raw=False)
        req.id = "py-1"
        resp = self.stub.ModelInfer(req, timeout=10)
        self.assertEqual(resp.model_name, "iris")
        self.assertEqual(resp.id, "py-1")
        self.assertEqual(len(resp.outputs), 1)
        out = resp.outputs[0]
        self.assertEqual(out.name, "output-0")
        self.assertEqual(out.datatype, "FP32")  # as KServe's xgbserver: Booster.predict answers float32
        self.assertEqual(list(out.shape), [2])
        self.assertEqual(list(out.contents.fp32_contents), [1.0, 1.0])
        self.assertEqual(len(resp.raw_output_contents), 0)

    def test_infer_raw(self):
        resp = self.stub.ModelInfer(iris_request("iris", IRIS_ROWS, raw=True), timeout=10)
        self.assertEqual(len(resp.raw_output_contents), 1)
        self.assertEqual(list(struct.unpack("<2f", resp.raw_output_contents[0])), [1.0, 1.0])
        self.assertEqual(len(resp.id), 36)

    def test_errors(self):
        with self.assertRaises(grpc.RpcError) as e:
            self.stub.ModelInfer(iris_request("nope", IRIS_ROWS, raw=False), timeout=10)
        self.assertEqual(e.exception.code(), grpc.StatusCode.NOT_FOUND)

        bad = iris_request("iris", IRIS_ROWS, raw=False)
        bad.inputs[0].shape[:] = [2, 3]
        with self.assertRaises(grpc.RpcError) as e:
            self.stub.ModelInfer(bad, timeout=10)
        self.assertEqual(e.exception.code(), grpc.StatusCode.INVALID_ARGUMENT)
        self.assertIn("inputs[0]", e.exception.details())

        mixed = iris_request("iris", IRIS_ROWS, raw=False)
        mixed.raw_input_contents.append(b"\0" * 32)
        with self.assertRaises(grpc.RpcError) as e:
            self.stub.ModelInfer(mixed, timeout=10)
        self.assertEqual(e.exception.code(), grpc.StatusCode.INVALID_ARGUMENT)

        self.assertIsNone(self.server.proc.poll(), "the server died:\n" + self.server.output())
        self.assertTrue(self.stub.ServerLive(pb.ServerLiveRequest(), timeout=10).live)

    def test_repository_index(self):
        idx = self.stub.RepositoryIndex(pb.RepositoryIndexRequest(), timeout=10)
        states = {m.name: m.state for m in idx.models}
        self.assertEqual(states.get("iris"), "READY")


if __name__ == "__main__":
    result = unittest.main(exit=False, verbosity=2).result
    sys.exit(0 if result.wasSuccessful() else 1)
