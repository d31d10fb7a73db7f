"""TorchServe model stores served by a real `inferd model-server` (backends/torchserve/torchserve.h), queried over
HTTP with `requests`, laid out exactly as KServe's TorchServe samples are (docs/samples/v1beta1/torchserve in
kserve/kserve): `<storage>/config/config.properties` + `<storage>/model-store/<name>.mar`.

The archives are built here with Debian's python3-torch (and torchvision, PIL): a TorchScript model with the
standard base_handler, an eager nn.Module (model file + state dict) with a custom ImageClassifier subclass (KServe's
mnist sample's handler shape), a module-level handle() function, the standard image_classifier with
index_to_name.json; and bad ones: path traversal, a truncated zip, a missing handler, a handler raising at load
and at request time.

Run by ctest with Debian's /usr/bin/python3. Environment: INFERD_BIN.
"""
import base64
import io
import json
import os
import shutil
import socket
import subprocess
import tempfile
import time
import unittest
import zipfile

import requests

INFERD_BIN = os.environ.get("INFERD_BIN", "")

try:
    import torch
    from PIL import Image
    HAVE_TORCH = True
except ImportError:  # the test then skips (tests/skip_allowed.txt)
    HAVE_TORCH = False


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def write_mar(path, manifest_model, files, extra_entries=()):
    """A .mar as torch-model-archiver writes it: MAR-INF/MANIFEST.json plus the files at the top level."""
    manifest = {"createdOn": "07/12/2026 21:00:00", "runtime": "python", "archiverVersion": "0.9.0",
                "model": dict(manifest_model)}
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("MAR-INF/MANIFEST.json", json.dumps(manifest))
        for name, data in files.items():
            z.writestr(name, data)
        for name, data in extra_entries:
            z.writestr(name, data)


def torch_bytes(obj, script=False):
    buf = io.BytesIO()
    if script:
        torch.jit.save(obj, buf)
    else:
        torch.save(obj, buf)
    return buf.getvalue()


LINEAR_MODEL_PY = """
import torch


class TinyNet(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = torch.nn.Linear(4, 3)

    def forward(self, x):
        return self.fc(x.flatten(1))
"""

# KServe's mnist sample's handler shape: an ImageClassifier subclass with its own transforms and postprocess.
DIGITS_HANDLER_PY = """
from torchvision import transforms
from ts.torch_handler.image_classifier import ImageClassifier


class TinyDigits(ImageClassifier):
    image_processing = transforms.Compose([transforms.Grayscale(), transforms.Resize((2, 2)), transforms.ToTensor()])

    def postprocess(self, data):
        return data.argmax(1).tolist()
"""

FUNCTION_HANDLER_PY = """
from ts.utils.util import PredictionException

_state = {}


def handle(data, context):
    if data is None:
        return None
    if not _state:
        _state["name"] = context.manifest["model"]["modelName"]
    out = []
    for row in data:
        value = row.get("data") or row.get("body")
        if value == "refuse":
            raise PredictionException("this row is refused", 422)
        if value == "status":
            context.set_response_status(404, "no such thing")
            return [None]
        context.set_response_header(0, "X-Handler", "fn-" + str(len(data)))
        out.append({"model": _state["name"], "sum": sum(value), "tag": context.get_request_header(0, "x-tag")})
    return out
"""

# TorchServe's squeezenet example's model file shape: a torchvision architecture subclassed without arguments.
SQUEEZENET_PY = """
from torchvision.models.squeezenet import SqueezeNet


class ImageClassifier(SqueezeNet):
    def __init__(self):
        super().__init__("1_1")
"""

RAISING_AT_REQUEST_PY = """
from ts.torch_handler.base_handler import BaseHandler


class Boom(BaseHandler):
    def inference(self, data, *args, **kwargs):
        raise RuntimeError("boom at request time")
"""

RAISING_AT_LOAD_PY = """
from ts.torch_handler.base_handler import BaseHandler


class BadInit(BaseHandler):
    def initialize(self, context):
        raise ValueError("cannot initialize: weights missing")
"""


@unittest.skipUnless(HAVE_TORCH, "needs python3-torch, python3-torchvision, python3-pil")
@unittest.skipUnless(INFERD_BIN, "needs INFERD_BIN")
class TorchServeStoreTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        torch.manual_seed(0)
        cls.tmp = tempfile.mkdtemp(prefix="ts-test-")
        cls.storage = os.path.join(cls.tmp, "storage")
        store = os.path.join(cls.storage, "model-store")
        os.makedirs(store)
        os.makedirs(os.path.join(cls.storage, "config"))
        # TorchScript + the standard base_handler
        cls.lin = torch.nn.Linear(4, 2).eval()
        write_mar(os.path.join(store, "scripted.mar"),
                  {"modelName": "scripted-from-manifest", "serializedFile": "model.pt", "handler": "base_handler",
                   "modelVersion": "1.0"},
                  {"model.pt": torch_bytes(torch.jit.script(cls.lin), script=True)})
        # eager: model file + state dict, custom ImageClassifier subclass
        ns = {}
        exec(LINEAR_MODEL_PY, ns)
        cls.tiny = ns["TinyNet"]().eval()
        write_mar(os.path.join(store, "digits.mar"),
                  {"modelName": "digits", "serializedFile": "tiny.pth", "modelFile": "tiny_model.py",
                   "handler": "digits_handler.py", "modelVersion": "2.0"},
                  {"tiny.pth": torch_bytes(cls.tiny.state_dict()), "tiny_model.py": LINEAR_MODEL_PY,
                   "digits_handler.py": DIGITS_HANDLER_PY})
        # the standard image_classifier with labels
        write_mar(os.path.join(store, "classes.mar"),
                  {"modelName": "classes", "serializedFile": "tiny.pth", "modelFile": "tiny_model.py",
                   "handler": "image_classifier"},
                  {"tiny.pth": torch_bytes(cls.tiny.state_dict()), "tiny_model.py": LINEAR_MODEL_PY,
                   "index_to_name.json": json.dumps({"0": ["n0", "zero"], "1": "one", "2": "two"})})
        # the standard image_classifier on torchvision's SqueezeNet 1.1 (random weights), ImageNet-style labels
        ns = {}
        exec(SQUEEZENET_PY, ns)
        cls.squeeze = ns["ImageClassifier"]().eval()
        write_mar(os.path.join(store, "squeezenet.mar"),
                  {"modelName": "squeezenet1_1", "serializedFile": "squeezenet.pth", "modelFile": "model.py",
                   "handler": "image_classifier"},
                  {"squeezenet.pth": torch_bytes(cls.squeeze.state_dict()), "model.py": SQUEEZENET_PY,
                   "index_to_name.json": json.dumps({str(i): ["n%08d" % i, "class-%d" % i] for i in range(1000)})})
        # a module-level handle(data, context)
        write_mar(os.path.join(store, "fn.mar"),
                  {"modelName": "fn", "serializedFile": "unused.pt", "handler": "fn_handler.py:handle"},
                  {"unused.pt": b"", "fn_handler.py": FUNCTION_HANDLER_PY})
        write_mar(os.path.join(store, "boom.mar"),
                  {"modelName": "boom", "serializedFile": "model.pt", "handler": "boom.py"},
                  {"model.pt": torch_bytes(torch.jit.script(cls.lin), script=True), "boom.py": RAISING_AT_REQUEST_PY})
        # bad archives: each fails its own load, naming it; the others serve
        write_mar(os.path.join(store, "traversal.mar"),
                  {"modelName": "traversal", "serializedFile": "model.pt", "handler": "base_handler"},
                  {"model.pt": b"x"}, extra_entries=[("../../escaped.py", "print('escaped')")])
        with open(os.path.join(store, "scripted.mar"), "rb") as f:
            whole = f.read()
        with open(os.path.join(store, "truncated.mar"), "wb") as f:
            f.write(whole[: len(whole) // 2])
        write_mar(os.path.join(store, "nohandler.mar"),
                  {"modelName": "nohandler", "serializedFile": "model.pt", "handler": "missing_handler.py"},
                  {"model.pt": b"x"})
        write_mar(os.path.join(store, "badinit.mar"),
                  {"modelName": "badinit", "serializedFile": "model.pt", "handler": "bad_init.py"},
                  {"model.pt": b"x", "bad_init.py": RAISING_AT_LOAD_PY})
        models = {
            "scripted": "scripted.mar", "digits": "digits.mar", "classes": "classes.mar", "fn": "fn.mar",
            "squeezenet1_1": "squeezenet.mar",
            "boom": "boom.mar", "traversal": "traversal.mar", "truncated": "truncated.mar",
            "nohandler": "nohandler.mar", "badinit": "badinit.mar",
        }
        snapshot = {"name": "startup.cfg", "modelCount": len(models),
                    "models": {n: {"1.0": {"defaultVersion": True, "marName": m, "minWorkers": 1, "maxWorkers": 5,
                                           "batchSize": 1, "maxBatchDelay": 5000, "responseTimeout": 120}}
                               for n, m in models.items()}}
        # KServe's sample config.properties, with model_store and model_snapshot for these archives.
        with open(os.path.join(cls.storage, "config", "config.properties"), "w") as f:
            f.write("inference_address=http://0.0.0.0:8085\nmanagement_address=http://0.0.0.0:8085\n"
                    "metrics_address=http://0.0.0.0:8082\ngrpc_inference_port=7070\ngrpc_management_port=7071\n"
                    "enable_metrics_api=true\nmetrics_format=prometheus\nnumber_of_netty_threads=4\n"
                    "job_queue_size=10\nenable_envvars_config=true\ninstall_py_dep_per_model=true\n"
                    "model_store=/mnt/models/model-store\nmodel_snapshot=%s\n" % json.dumps(snapshot))
        cls.port, cls.grpc = free_port(), free_port()
        cls.log = open(os.path.join(cls.tmp, "server.log"), "w+")
        env = dict(os.environ, TMPDIR=cls.tmp)
        # KServe's kserve-torchserve runtime's arguments, with the storage's local path for /mnt/models.
        cls.proc = subprocess.Popen(
            [INFERD_BIN, "model-server", "torchserve", "--start", "--model-store=%s/model-store" % cls.storage,
             "--ts-config=%s/config/config.properties" % cls.storage, "--http_port", str(cls.port),
             "--grpc_port", str(cls.grpc)], stdout=cls.log, stderr=subprocess.STDOUT, env=env)
        cls.url = "http://127.0.0.1:%d" % cls.port
        deadline = time.time() + 120
        while time.time() < deadline:
            if cls.proc.poll() is not None:
                break
            try:
                if requests.get(cls.url + "/v2/health/ready", timeout=1).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.2)
        raise AssertionError("server not ready:\n" + cls.server_log())

    @classmethod
    def server_log(cls):
        cls.log.flush()
        with open(cls.log.name) as f:
            return f.read()

    @classmethod
    def tearDownClass(cls):
        cls.proc.terminate()
        try:
            cls.proc.wait(30)
        except subprocess.TimeoutExpired:
            cls.proc.kill()
            cls.proc.wait()
        cls.log.close()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def predict(self, model, body, **kw):
        return requests.post("%s/v1/models/%s:predict" % (self.url, model), json=body, timeout=60, **kw)

    def test_torchscript_base_handler_v1(self):
        rows = [[1.0, 2.0, 3.0, 4.0], [0.5, -1.0, 0.0, 2.0]]
        r = self.predict("scripted", {"instances": rows})
        self.assertEqual(r.status_code, 200, r.text)
        want = self.lin(torch.tensor(rows)).tolist()
        got = r.json()["predictions"]
        for g, w in zip(got, want):
            for a, b in zip(g, w):
                self.assertAlmostEqual(a, b, places=5)

    def test_snapshot_name_wins_over_manifest(self):
        self.assertEqual(requests.get(self.url + "/v1/models/scripted", timeout=10).status_code, 200)
        self.assertEqual(requests.get(self.url + "/v1/models/scripted-from-manifest", timeout=10).status_code, 404)

    def png(self, pixels):
        img = Image.new("L", (2, 2))
        img.putdata(pixels)
        buf = io.BytesIO()
        img.save(buf, format="PNG")
        return base64.b64encode(buf.getvalue()).decode()

    def expected_digit(self, pixels):
        x = torch.tensor(pixels, dtype=torch.float32).reshape(1, 1, 2, 2) / 255.0
        return int(self.tiny(x).argmax(1))

    def test_eager_custom_image_handler_v1_like_mnist_sample(self):
        images = [[0, 255, 10, 200], [255, 0, 0, 30], [90, 90, 90, 255]]
        body = {"instances": [{"data": self.png(p)} for p in images]}
        r = self.predict("digits", body)
        self.assertEqual(r.status_code, 200, r.text)
        self.assertEqual(r.json(), {"predictions": [self.expected_digit(p) for p in images]})

    def test_eager_custom_image_handler_v2(self):
        pixels = [0, 255, 10, 200]
        body = {"inputs": [{"name": "input-0", "shape": [1], "datatype": "BYTES", "data": [self.png(pixels)]}]}
        r = requests.post(self.url + "/v2/models/digits/infer", json=body, timeout=60)
        self.assertEqual(r.status_code, 200, r.text)
        out = r.json()
        self.assertEqual(out["model_name"], "digits")
        self.assertEqual(out["outputs"][0]["name"], "predict")
        self.assertEqual(out["outputs"][0]["datatype"], "INT64")
        self.assertEqual(out["outputs"][0]["data"], [self.expected_digit(pixels)])

    def test_v2_float_tensor_rows(self):
        rows = [[1.0, 2.0, 3.0, 4.0]]
        body = {"inputs": [{"name": "input-0", "shape": [1, 4], "datatype": "FP32", "data": [1, 2, 3, 4]}]}
        r = requests.post(self.url + "/v2/models/scripted/infer", json=body, timeout=60)
        self.assertEqual(r.status_code, 200, r.text)
        out = r.json()["outputs"][0]
        self.assertEqual(out["shape"], [1, 2])
        want = self.lin(torch.tensor(rows)).flatten().tolist()
        for a, b in zip(out["data"], want):
            self.assertAlmostEqual(a, b, places=5)

    def test_v2_grpc(self):
        try:
            import grpc
            import grpc_tools  # noqa: F401
        except ImportError:
            self.skipTest("needs python3-grpcio and python3-grpc-tools")
        import struct
        import sys
        stubs = tempfile.mkdtemp(dir=self.tmp)
        proto = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "proto")
        subprocess.run([sys.executable, "-m", "grpc_tools.protoc", "-I" + proto, "--python_out=" + stubs,
                        "--grpc_python_out=" + stubs, os.path.join(proto, "inference.proto")], check=True)
        sys.path.insert(0, stubs)
        import inference_pb2 as pb
        import inference_pb2_grpc as pb_grpc
        row = [1.0, -2.0, 0.5, 3.0]
        req = pb.ModelInferRequest(model_name="scripted")
        inp = req.inputs.add(name="input-0", datatype="FP32", shape=[1, 4])
        req.raw_input_contents.append(struct.pack("<4f", *row))
        with grpc.insecure_channel("127.0.0.1:%d" % self.grpc) as ch:
            resp = pb_grpc.GRPCInferenceServiceStub(ch).ModelInfer(req, timeout=30)
        self.assertEqual(inp.name, "input-0")
        self.assertEqual(resp.outputs[0].name, "predict")
        self.assertEqual(list(resp.outputs[0].shape), [1, 2])
        dt = {"FP32": "f", "FP64": "d"}[resp.outputs[0].datatype]
        got = struct.unpack("<2" + dt, resp.raw_output_contents[0])
        for a, b in zip(got, self.lin(torch.tensor([row]))[0].tolist()):
            self.assertAlmostEqual(a, b, places=5)

    def test_standard_image_classifier_with_labels(self):
        # image_classifier's ImageNet transforms make 3x224x224: TinyNet takes 4 features, so the handler's
        # preprocess is given float rows (VisionHandler: a list of numbers is a tensor as it is).
        rows = [[[0.1, 0.2], [0.3, 0.4]], [[1.0, -1.0], [0.0, 2.0]]]
        r = self.predict("classes", {"instances": rows})
        self.assertEqual(r.status_code, 200, r.text)
        preds = r.json()["predictions"]
        probs = torch.softmax(self.tiny(torch.tensor(rows)), 1)
        labels = {0: "zero", 1: "one", 2: "two"}
        for row, p in zip(preds, probs):
            self.assertEqual(set(row), {"zero", "one", "two"})
            top = int(p.argmax())
            self.assertEqual(max(row, key=row.get), labels[top])
            self.assertAlmostEqual(row[labels[top]], float(p[top]), places=5)

    def test_standard_image_classifier_on_torchvision_squeezenet(self):
        from torchvision import transforms
        rng = torch.Generator().manual_seed(3)
        pixels = (torch.rand(40, 50, 3, generator=rng) * 255).to(torch.uint8).numpy()
        img = Image.fromarray(pixels, "RGB")
        buf = io.BytesIO()
        img.save(buf, format="PNG")
        r = self.predict("squeezenet1_1", {"instances": [{"data": base64.b64encode(buf.getvalue()).decode()}]})
        self.assertEqual(r.status_code, 200, r.text)
        pred = r.json()["predictions"][0]
        t = transforms.Compose([transforms.Resize(256), transforms.CenterCrop(224), transforms.ToTensor(),
                                transforms.Normalize(mean=[0.485, 0.456, 0.406], std=[0.229, 0.224, 0.225])])
        with torch.no_grad():
            probs = torch.softmax(self.squeeze(t(Image.open(io.BytesIO(buf.getvalue()))).unsqueeze(0)), 1)[0]
        top = torch.topk(probs, 5)
        self.assertEqual(list(pred), ["class-%d" % int(i) for i in top.indices])
        for i, p in zip(top.indices, top.values):
            self.assertAlmostEqual(pred["class-%d" % int(i)], float(p), places=5)

    def test_module_function_handler_sees_headers(self):
        r = self.predict("fn", {"instances": [[1, 2, 3], [10, 20]]}, headers={"X-Tag": "hello"})
        self.assertEqual(r.status_code, 200, r.text)
        self.assertEqual(r.json(), {"predictions": [{"model": "fn", "sum": 6, "tag": "hello"},
                                                    {"model": "fn", "sum": 30, "tag": "hello"}]})

    def test_handler_status_and_headers(self):
        r = self.predict("fn", {"instances": [[1]]})
        self.assertEqual(r.headers.get("x-handler"), "fn-1")
        r = self.predict("fn", {"instances": ["status"]})
        self.assertEqual(r.status_code, 400, r.text)
        self.assertIn("the handler set status 404: no such thing", r.text)

    def test_prediction_exception_4xx_is_400_with_its_message(self):
        r = self.predict("fn", {"instances": ["refuse"]})
        self.assertEqual(r.status_code, 400, r.text)
        self.assertIn("this row is refused", r.text)

    def test_handler_raising_at_request_is_500_naming_it(self):
        r = self.predict("boom", {"instances": [[1, 2, 3, 4]]})
        self.assertEqual(r.status_code, 500, r.text)
        self.assertIn("boom at request time", r.text)
        # the server still serves
        self.assertEqual(self.predict("scripted", {"instances": [[1.0, 2.0, 3.0, 4.0]]}).status_code, 200)

    def test_bad_requests_are_4xx(self):
        self.assertEqual(self.predict("scripted", {"rows": [1]}).status_code, 400)
        self.assertEqual(self.predict("scripted", {"instances": []}).status_code, 400)
        r = requests.post(self.url + "/v1/models/scripted:predict", data=b"{not json", timeout=10)
        self.assertEqual(r.status_code, 400, r.text)

    def test_bad_archives_fail_their_load_by_name(self):
        log = self.server_log()
        for name, why in (("traversal.mar", "entry '../../escaped.py' is not a relative path"),
                          ("truncated.mar", "not a readable .mar (zip) archive"),
                          ("nohandler.mar", "no missing_handler.py in the archive"),
                          ("badinit.mar", "cannot initialize: weights missing")):
            self.assertRegex(log, r"%s[^\n]*%s" % (name.replace(".", r"\."), __import__("re").escape(why)))
        for model in ("traversal", "truncated", "nohandler", "badinit"):
            self.assertEqual(self.predict(model, {"instances": [[1]]}).status_code, 404)
        self.assertFalse(os.path.exists(os.path.join(self.tmp, "escaped.py")))

    def test_unused_config_keys_are_logged_by_name(self):
        log = self.server_log()
        for key in ("inference_address", "grpc_inference_port", "install_py_dep_per_model", "maxWorkers",
                    "batchSize"):
            self.assertIn(key, log)


@unittest.skipUnless(HAVE_TORCH, "needs python3-torch")
@unittest.skipUnless(INFERD_BIN, "needs INFERD_BIN")
class TorchServeLayoutTest(unittest.TestCase):
    def run_server(self, args, storage):
        port = free_port()
        proc = subprocess.Popen([INFERD_BIN, "model-server", "--http_port", str(port), "--grpc_port",
                                 str(free_port())] + args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                env=dict(os.environ, TMPDIR=storage))
        return proc, "http://127.0.0.1:%d" % port

    def test_model_dir_with_kserve_layout_and_no_snapshot(self):
        """`inferd serve` passes the storageUri as --model_dir: model-store/*.mar, names from the manifests."""
        tmp = tempfile.mkdtemp(prefix="ts-layout-")
        self.addCleanup(shutil.rmtree, tmp, True)
        os.makedirs(os.path.join(tmp, "model-store"))
        lin = torch.nn.Linear(2, 1).eval()
        write_mar(os.path.join(tmp, "model-store", "a.mar"),
                  {"modelName": "alpha", "serializedFile": "m.pt", "handler": "base_handler"},
                  {"m.pt": torch_bytes(torch.jit.script(lin), script=True)})
        proc, url = self.run_server(["--model_dir", tmp, "--model_name", "isvc-name"], tmp)
        try:
            deadline = time.time() + 60
            while time.time() < deadline and proc.poll() is None:
                try:
                    if requests.get(url + "/v2/health/ready", timeout=1).status_code == 200:
                        break
                except requests.RequestException:
                    time.sleep(0.2)
            r = requests.post(url + "/v1/models/alpha:predict", json={"instances": [[1.0, 2.0]]}, timeout=30)
            self.assertEqual(r.status_code, 200, r.text)
            self.assertAlmostEqual(r.json()["predictions"][0][0], float(lin(torch.tensor([[1.0, 2.0]]))[0, 0]), 5)
            dirs = [d for d in os.listdir(tmp) if d.startswith("inferd-torchserve-")]
            self.assertEqual(len(dirs), 1)
        finally:
            proc.terminate()
            proc.wait(30)
        # the private directory (program and unpacked archives) is removed when the server stops
        self.assertEqual([d for d in os.listdir(tmp) if d.startswith("inferd-torchserve-")], [])

    def test_no_loadable_archive_stops_the_server_naming_each(self):
        tmp = tempfile.mkdtemp(prefix="ts-bad-")
        self.addCleanup(shutil.rmtree, tmp, True)
        os.makedirs(os.path.join(tmp, "model-store"))
        with open(os.path.join(tmp, "model-store", "junk.mar"), "wb") as f:
            f.write(b"PK\x03\x04 not really a zip")
        proc, _ = self.run_server(["--model-store", os.path.join(tmp, "model-store")], tmp)
        out, _ = proc.communicate(timeout=60)
        self.assertNotEqual(proc.returncode, 0)
        self.assertIn(b"junk.mar: not a readable .mar (zip) archive", out)
        self.assertNotIn(b"Segmentation", out)


KSERVE_SAMPLE_ISVC = """apiVersion: "serving.kserve.io/v1beta1"
kind: "InferenceService"
metadata:
  name: "torchserve"
spec:
  predictor:
    model:
      modelFormat:
        name: pytorch
      storageUri: file://%s
"""


@unittest.skipUnless(HAVE_TORCH, "needs python3-torch, python3-torchvision, python3-pil")
@unittest.skipUnless(INFERD_BIN, "needs INFERD_BIN")
class TorchServeServeTest(unittest.TestCase):
    """KServe's TorchServe sample (docs/samples/v1beta1/torchserve/v1/torchserve.yaml, storageUri a local copy of the
    layout) applied to `inferd serve`, queried through its gateway with the sample's Host header and request shape."""

    def test_kserve_sample_applies_and_answers(self):
        import re
        tmp = tempfile.mkdtemp(prefix="ts-serve-")
        self.addCleanup(shutil.rmtree, tmp, True)
        storage = os.path.join(tmp, "storage")
        os.makedirs(os.path.join(storage, "model-store"))
        os.makedirs(os.path.join(storage, "config"))
        torch.manual_seed(1)
        ns = {}
        exec(LINEAR_MODEL_PY, ns)
        tiny = ns["TinyNet"]().eval()
        write_mar(os.path.join(storage, "model-store", "mnist.mar"),
                  {"modelName": "mnist", "serializedFile": "tiny.pth", "modelFile": "tiny_model.py",
                   "handler": "digits_handler.py", "modelVersion": "1.0"},
                  {"tiny.pth": torch_bytes(tiny.state_dict()), "tiny_model.py": LINEAR_MODEL_PY,
                   "digits_handler.py": DIGITS_HANDLER_PY})
        snapshot = ('{"name":"startup.cfg","modelCount":1,"models":{"mnist":{"1.0":{"defaultVersion":true,'
                    '"marName":"mnist.mar","minWorkers":1,"maxWorkers":5,"batchSize":1,"maxBatchDelay":5000,'
                    '"responseTimeout":120}}}}')
        with open(os.path.join(storage, "config", "config.properties"), "w") as f:
            f.write("inference_address=http://0.0.0.0:8085\nmanagement_address=http://0.0.0.0:8085\n"
                    "metrics_address=http://0.0.0.0:8082\ngrpc_inference_port=7070\ngrpc_management_port=7071\n"
                    "enable_metrics_api=true\nmetrics_format=prometheus\nnumber_of_netty_threads=4\n"
                    "job_queue_size=10\nenable_envvars_config=true\ninstall_py_dep_per_model=true\n"
                    "model_store=/mnt/models/model-store\nmodel_snapshot=%s\n" % snapshot)
        data = os.path.join(tmp, "data")
        log = open(os.path.join(tmp, "serve.log"), "w+")
        self.addCleanup(log.close)
        proc = subprocess.Popen([INFERD_BIN, "serve", "--data_dir", data, "--http_port", "0", "--grpc_port", "0",
                                 "--api_port", "0"], stdout=log, stderr=subprocess.STDOUT,
                                env=dict(os.environ, TMPDIR=tmp))

        def stop():
            proc.terminate()
            try:
                proc.wait(60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self.addCleanup(stop)

        def output():
            log.flush()
            with open(log.name) as f:
                return f.read()
        ports = None
        deadline = time.time() + 60
        while ports is None and time.time() < deadline and proc.poll() is None:
            m = re.search(r"inferd serve listening http_port=(\d+) grpc_port=\d+ api_port=(\d+)", output())
            ports = m and (int(m.group(1)), int(m.group(2)))
            time.sleep(0.2)
        self.assertTrue(ports, output())
        with open(os.path.join(data, "token")) as f:
            token = f.read().strip()
        applied = subprocess.run([INFERD_BIN, "apply", "--server", "http://127.0.0.1:%d" % ports[1], "--token", token,
                                  "-f", "-"], input=(KSERVE_SAMPLE_ISVC % storage).encode(), capture_output=True)
        self.assertEqual(applied.returncode, 0, applied.stderr)
        pixels = [0, 255, 10, 200]
        img = Image.new("L", (2, 2))
        img.putdata(pixels)
        buf = io.BytesIO()
        img.save(buf, format="PNG")
        body = {"instances": [{"data": base64.b64encode(buf.getvalue()).decode()}]}
        want = int(tiny(torch.tensor(pixels, dtype=torch.float32).reshape(1, 1, 2, 2) / 255.0).argmax(1))
        url = "http://127.0.0.1:%d/v1/models/mnist:predict" % ports[0]
        r = None
        deadline = time.time() + 120
        while time.time() < deadline:
            try:
                r = requests.post(url, json=body, headers={"Host": "torchserve.default.example.com"}, timeout=30)
                if r.status_code == 200:
                    break
            except requests.RequestException:
                pass
            time.sleep(0.5)
        self.assertIsNotNone(r, output())
        self.assertEqual(r.status_code, 200, r.text + "\n" + output())
        self.assertEqual(r.json(), {"predictions": [want]})


if __name__ == "__main__":
    unittest.main()
