"""KServe's own transformer samples (tests/data/kserve_samples, unchanged) run inside `inferd model-server`
as KServe starts them (`python -m custom_transformer.model` / a file, with --model_name --predictor_host
--http_port [--predictor_protocol]) against real predictors, themselves `inferd model-server` processes
serving TorchScript models made here with torch. Each answer is compared with the same pipeline computed
directly in this test (torchvision + torch.jit, the tokenizer's own functions).

Also the transformer's failures (a program that fails to start, preprocess raising, an answer that is not
JSON, a predictor that is down or answers 4xx) and what crosses the hop (forwarded headers, the
predictor's response headers with return_response_headers), with a real HTTP predictor written here.

Run with Debian's /usr/bin/python3 (torch, torchvision, PIL, grpcio, requests). Environment: INFERD_BIN.
"""
import base64
import http.server
import io
import json
import os
import re
import struct
import subprocess
import sys
import tempfile
import threading
import unittest

import numpy as np
import requests
import torch
from PIL import Image
from torchvision import transforms

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
INFERD_BIN = os.environ.get("INFERD_BIN", os.path.join(ROOT, "build", "inferd"))
SAMPLES = os.path.join(ROOT, "tests", "data", "kserve_samples")
TOKENIZER_DIR = os.path.join(SAMPLES, "custom_tokenizer")

pb = pb_grpc = None


def generate_stubs(out_dir):
    proto_dir = os.path.join(ROOT, "proto")
    subprocess.run([sys.executable, "-m", "grpc_tools.protoc", "-I" + proto_dir, "--python_out=" + out_dir,
                    "--grpc_python_out=" + out_dir, os.path.join(proto_dir, "inference.proto")], check=True)
    sys.path.insert(0, out_dir)
    global pb, pb_grpc
    import inference_pb2
    import inference_pb2_grpc
    pb, pb_grpc = inference_pb2, inference_pb2_grpc


class Server:
    """`inferd model-server` on ephemeral ports; its output collected on a thread."""

    LISTENING = re.compile(r"inferd model-server listening http_port=(\d+) grpc_port=(\d+)")

    def __init__(self, args, cwd=None, env=None, expect_start=True, wait_ready=True):
        self.proc = subprocess.Popen([INFERD_BIN, "model-server", "--http_port", "0", "--grpc_port", "0"] + args,
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=cwd,
                                     env=env)
        self.lines = []
        self.http_port = self.grpc_port = None
        found = threading.Event()

        def reader():
            for line in self.proc.stdout:
                self.lines.append(line)
                m = self.LISTENING.search(line)
                if m and self.http_port is None:
                    self.http_port, self.grpc_port = int(m.group(1)), int(m.group(2))
                    found.set()
            found.set()

        threading.Thread(target=reader, daemon=True).start()
        found.wait(120)
        if expect_start and self.http_port is None:
            self.stop()
            raise RuntimeError("inferd did not start listening:\n" + self.output())
        if expect_start and wait_ready:
            self.wait_ready()

    def wait_ready(self):
        import time
        deadline = time.time() + 120
        while time.time() < deadline:
            try:
                if requests.get(self.url("/v2/health/ready"), timeout=5).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.1)
        raise RuntimeError("inferd did not become ready:\n" + self.output())

    def url(self, path):
        return "http://127.0.0.1:%d%s" % (self.http_port, path)

    @property
    def host(self):
        return "127.0.0.1:%d" % self.http_port

    @property
    def grpc_host(self):
        return "127.0.0.1:%d" % self.grpc_port

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
        if self.proc.stdout:
            self.proc.stdout.close()
        return self.proc.returncode


# ---- the predictors, made here -------------------------------------------------------------------------

class MnistNet(torch.nn.Module):
    def __init__(self):
        super().__init__()
        torch.manual_seed(7)
        self.conv = torch.nn.Conv2d(1, 4, 3)
        self.fc = torch.nn.Linear(4 * 26 * 26, 10)

    def forward(self, x):
        return self.fc(torch.relu(self.conv(x)).reshape(x.shape[0], -1))


class ByData(torch.nn.Module):  # V1 instances {"data": ...} name the input "data"
    def __init__(self, net):
        super().__init__()
        self.net = net

    def forward(self, data):
        return self.net(data)


class ByInput0(torch.nn.Module):  # V2 requests name it INPUT__0 (Triton's convention)
    def __init__(self, net):
        super().__init__()
        self.net = net

    def forward(self, INPUT__0):
        return self.net(INPUT__0)


class ImageNetLike(torch.nn.Module):
    """For model_grpc.py, which always applies ImageNet's transform (3 x 224 x 224)."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(5)
        self.pool = torch.nn.AdaptiveAvgPool2d(4)
        self.fc = torch.nn.Linear(3 * 16, 10)

    def forward(self, x):
        return self.fc(self.pool(x).reshape(x.shape[0], -1))


def write_torch_model(directory, module, input_name, example):
    os.makedirs(directory, exist_ok=True)
    torch.jit.trace(module.eval(), example).save(os.path.join(directory, "model.pt"))
    dims = ", ".join(str(d) for d in [-1] + list(example.shape[1:]))
    with open(os.path.join(directory, "config.pbtxt"), "w") as f:
        f.write('platform: "pytorch_libtorch"\nmax_batch_size: 0\n'
                'input [ { name: "%s" data_type: TYPE_FP32 dims: [ %s ] } ]\n'
                'output [ { name: "output-0" data_type: TYPE_FP32 dims: [ -1, 10 ] } ]\n' % (input_name, dims))


class QaNet(torch.nn.Module):
    """A BERT-shaped question-answering head: 4 INT32 inputs, (end_logits, start_logits) FP32 [1, 128]."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(11)
        self.emb = torch.nn.Embedding(30522, 8)
        self.seg = torch.nn.Embedding(2, 8)
        self.out = torch.nn.Linear(8, 2)

    def forward(self, unique_ids, segment_ids, input_ids, input_mask):
        h = self.emb(input_ids.long()) + self.seg(segment_ids.long())
        logits = self.out(h) + (input_mask.float().unsqueeze(-1) - 1.0) * 10000.0
        return logits[:, :, 1], logits[:, :, 0]


def write_qa_model(directory):
    os.makedirs(directory, exist_ok=True)
    ex = (torch.zeros(1, 1, dtype=torch.int32), torch.zeros(1, 128, dtype=torch.int32),
          torch.zeros(1, 128, dtype=torch.int32), torch.ones(1, 128, dtype=torch.int32))
    torch.jit.trace(QaNet().eval(), ex).save(os.path.join(directory, "model.pt"))
    inputs = ",".join('{ name: "%s" data_type: TYPE_INT32 dims: [ 1, %d ] }' % (n, 1 if n == "unique_ids" else 128)
                      for n in ("unique_ids", "segment_ids", "input_ids", "input_mask"))
    with open(os.path.join(directory, "config.pbtxt"), "w") as f:
        f.write('platform: "pytorch_libtorch"\nmax_batch_size: 0\ninput [ %s ]\n'
                'output [ { name: "end_logits" data_type: TYPE_FP32 dims: [ 1, 128 ] },'
                ' { name: "start_logits" data_type: TYPE_FP32 dims: [ 1, 128 ] } ]\n' % inputs)


def digit_png(seed, rgb=False):
    rng = np.random.default_rng(seed)
    img = (rng.random((28, 28, 3) if rgb else (28, 28)) * 255).astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(img, mode="RGB" if rgb else "L").save(buf, format="PNG")
    return buf.getvalue()


def expected_logits(net, pngs):
    """The pipeline computed directly: the sample's mnist transform, then the TorchScript model."""
    tf = transforms.Compose([transforms.ToTensor(), transforms.Normalize((0.1307,), (0.3081,))])
    x = torch.stack([tf(Image.open(io.BytesIO(p))) for p in pngs])
    with torch.no_grad():
        return net(x).numpy()


# ---- the tests -----------------------------------------------------------------------------------------

class ImageTransformerTest(unittest.TestCase):
    """python/custom_transformer/model.py and model_grpc.py, model name "mnist" (the sample's mnist branch)."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        generate_stubs(cls.tmp.name)
        cls.net = MnistNet().eval()
        example = torch.zeros(1, 1, 28, 28)
        v1_dir = os.path.join(cls.tmp.name, "mnist_v1")
        v2_dir = os.path.join(cls.tmp.name, "mnist_v2")
        grpc_dir = os.path.join(cls.tmp.name, "mnist_grpc")
        write_torch_model(v1_dir, ByData(cls.net), "data", example)
        write_torch_model(v2_dir, ByInput0(cls.net), "INPUT__0", example)
        cls.grpc_net = ImageNetLike().eval()
        write_torch_model(grpc_dir, ByInput0(cls.grpc_net), "INPUT__0", torch.zeros(1, 3, 224, 224))
        cls.servers = []
        cls.pred_v1 = cls.start(["--model_name", "mnist", "--model_dir", v1_dir])
        cls.pred_v2 = cls.start(["--model_name", "mnist", "--model_dir", v2_dir])
        cls.pred_grpc = cls.start(["--model_name", "mnist", "--model_dir", grpc_dir])
        sample = ["--python_module", "custom_transformer.model", "--model_name", "mnist"]
        cls.tr_v1 = cls.start(sample + ["--python_arg=--predictor_host=" + cls.pred_v1.host], cwd=SAMPLES)
        cls.tr_v2 = cls.start(sample + ["--python_arg=--predictor_host=" + cls.pred_v2.host,
                                        "--python_arg=--predictor_protocol=v2"], cwd=SAMPLES)
        cls.tr_grpc = cls.start(["--python", os.path.join(SAMPLES, "custom_transformer", "model_grpc.py"),
                                 "--model_name", "mnist", "--python_arg=--predictor_host=" + cls.pred_grpc.grpc_host,
                                 "--python_arg=--predictor_protocol=grpc-v2"])
        # The in-process transformer: the same sample wrapping the native model in one process.
        cls.tr_inproc = cls.start(["--python_module", "custom_transformer.model", "--model_name", "mnist",
                                   "--model_dir", v2_dir, "--python_arg=--predictor_host=unused.invalid:1",
                                   "--python_arg=--predictor_protocol=v2"], cwd=SAMPLES)
        # KServe's collocation sample: TorchServe's --model-store (a repository) holding the model the
        # transformer-container names, the transformer's args as the sample writes them.
        store = os.path.join(cls.tmp.name, "model-store")
        write_torch_model(os.path.join(store, "mnist"), ByData(cls.net), "data", example)
        cls.tr_colloc = cls.start(["torchserve", "--start", "--model-store=" + store, "--python_module",
                                   "custom_transformer.model", "--python_arg=--model_name=mnist",
                                   "--python_arg=--protocol=v1", "--python_arg=--http_port=8080",
                                   "--python_arg=--predictor_host=localhost:8085"], cwd=SAMPLES)
        cls.pngs = [digit_png(1), digit_png(2)]
        cls.want = expected_logits(cls.net, cls.pngs)

    @classmethod
    def start(cls, args, cwd=None):
        s = Server(args, cwd=cwd)
        cls.servers.append(s)
        return s

    @classmethod
    def tearDownClass(cls):
        for s in cls.servers:
            s.stop()
        cls.tmp.cleanup()

    def v1_body(self):
        return {"instances": [{"image": {"b64": base64.b64encode(p).decode()}} for p in self.pngs]}

    def test_v1_request_v1_predictor(self):
        r = requests.post(self.tr_v1.url("/v1/models/mnist:predict"), json=self.v1_body(), timeout=60)
        self.assertEqual(r.status_code, 200, r.text)
        np.testing.assert_allclose(np.array(r.json()["predictions"]), self.want, rtol=1e-4, atol=1e-4)

    def test_v1_request_v2_predictor(self):
        r = requests.post(self.tr_v2.url("/v1/models/mnist:predict"), json=self.v1_body(), timeout=60)
        self.assertEqual(r.status_code, 200, r.text)
        np.testing.assert_allclose(np.array(r.json()["predictions"]), self.want, rtol=1e-4, atol=1e-4)

    def v2_body(self):
        return {"inputs": [{"name": "image", "shape": [len(self.pngs)], "datatype": "BYTES",
                            "data": [base64.b64encode(p).decode() for p in self.pngs]}]}

    def test_v2_request_v2_predictor(self):
        r = requests.post(self.tr_v2.url("/v2/models/mnist/infer"), json=self.v2_body(), timeout=60)
        self.assertEqual(r.status_code, 200, r.text)
        out = r.json()["outputs"][0]
        self.assertEqual(out["shape"], [2, 10])
        np.testing.assert_allclose(np.array(out["data"]).reshape(2, 10), self.want, rtol=1e-4, atol=1e-4)

    def test_grpc_sample_grpc_predictor(self):
        import grpc
        pngs = [digit_png(3, rgb=True), digit_png(4, rgb=True)]
        req = pb.ModelInferRequest(model_name="mnist")
        req.inputs.add(name="image", datatype="BYTES", shape=[len(pngs)])
        req.raw_input_contents.append(b"".join(struct.pack("<I", len(p)) + p for p in pngs))
        with grpc.insecure_channel(self.tr_grpc.grpc_host) as ch:
            resp = pb_grpc.GRPCInferenceServiceStub(ch).ModelInfer(req, timeout=60)
        self.assertEqual(list(resp.outputs[0].shape), [2, 10])
        got = np.frombuffer(resp.raw_output_contents[0], dtype=np.float32).reshape(2, 10)
        # model_grpc.py applies ImageNet's Resize/CenterCrop/Normalize (3 mean values: 3 channels) whatever
        # the model's name.
        tf = transforms.Compose([transforms.Resize(256), transforms.CenterCrop(224), transforms.ToTensor(),
                                 transforms.Normalize(mean=[0.485, 0.456, 0.406], std=[0.229, 0.224, 0.225])])
        x = torch.stack([tf(Image.open(io.BytesIO(p))) for p in pngs])
        with torch.no_grad():
            want = self.grpc_net(x).numpy()
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)

    def test_in_process_v1_and_v2(self):
        r = requests.post(self.tr_inproc.url("/v1/models/mnist:predict"), json=self.v1_body(), timeout=60)
        self.assertEqual(r.status_code, 200, r.text)
        np.testing.assert_allclose(np.array(r.json()["predictions"]), self.want, rtol=1e-4, atol=1e-4)
        r = requests.post(self.tr_inproc.url("/v2/models/mnist/infer"), json=self.v2_body(), timeout=60)
        self.assertEqual(r.status_code, 200, r.text)
        np.testing.assert_allclose(np.array(r.json()["outputs"][0]["data"]).reshape(2, 10), self.want,
                                   rtol=1e-4, atol=1e-4)


    def test_collocation_wraps_the_repository_model(self):
        # The wrapped model answers only through the transformer: a raw instance is the transformer's input now.
        r = requests.post(self.tr_colloc.url("/v1/models/mnist:predict"), json=self.v1_body(), timeout=60)
        self.assertEqual(r.status_code, 200, r.text)
        np.testing.assert_allclose(np.array(r.json()["predictions"]), self.want, rtol=1e-4, atol=1e-4)


class TokenizerTest(unittest.TestCase):
    """python/custom_tokenizer/transformer.py (run as a file: it imports its siblings) against a
    BERT-shaped TorchScript question-answering model over REST v2."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        model_dir = os.path.join(cls.tmp.name, "bert")
        write_qa_model(model_dir)
        cls.pred = Server(["--model_name", "bert", "--model_dir", model_dir])
        cls.tr = Server(["--python", os.path.join(TOKENIZER_DIR, "transformer.py"), "--model_name", "bert",
                         "--python_arg=--predictor_host=" + cls.pred.host, "--python_arg=--predictor_protocol=v2",
                         "--python_arg=--vocab_file=" + os.path.join(TOKENIZER_DIR, "vocab.txt")])
        cls.qa = torch.jit.load(os.path.join(model_dir, "model.pt"))

    @classmethod
    def tearDownClass(cls):
        cls.tr.stop()
        cls.pred.stop()
        cls.tmp.cleanup()

    def expected(self, question):
        sys.path.insert(0, TOKENIZER_DIR)
        try:
            import data_processing
            import tokenization
        finally:
            sys.path.remove(TOKENIZER_DIR)
        text = ("The Apollo program was the third United States human spaceflight program. "
                "First conceived as a three-man spacecraft to follow the one-man Project Mercury "
                "which put the first Americans in space, Apollo was dedicated to President"
                " John F. Kennedy's national goal of landing a man on the Moon. The first manned "
                "flight of Apollo was in 1968. Apollo ran from 1961 to 1972 followed by "
                "the Apollo-Soyuz Test Project a joint Earth orbit mission with "
                "the Soviet Union in 1975.")
        tok = tokenization.FullTokenizer(vocab_file=os.path.join(TOKENIZER_DIR, "vocab.txt"), do_lower_case=True)
        doc_tokens = data_processing.convert_doc_tokens(text)
        f = data_processing.convert_examples_to_features(doc_tokens, question, tok, 128, 128, 64)
        args = [torch.zeros(1, 1, dtype=torch.int32)] + [
            torch.from_numpy(np.asarray(f[k], dtype=np.int32).reshape(1, 128))
            for k in ("segment_ids", "input_ids", "input_mask")]
        with torch.no_grad():
            end, start = self.qa(*args)
        pred, nbest, _ = data_processing.get_predictions(doc_tokens, f, start.numpy().reshape(-1).tolist(),
                                                         end.numpy().reshape(-1).tolist(), 20, 30)
        return pred, nbest[0]["probability"] * 100.0

    def test_question_answer(self):
        q = "What President is credited with the original notion of putting Americans in space?"
        r = requests.post(self.tr.url("/v1/models/bert:predict"), json={"instances": [q]}, timeout=60)
        self.assertEqual(r.status_code, 200, r.text)
        pred, prob = self.expected(q)
        self.assertTrue(pred)  # a non-empty span of the paragraph
        self.assertEqual(r.json()["predictions"], pred)
        self.assertAlmostEqual(r.json()["prob"], prob, places=3)


# A predictor written here: answers V1 :predict with what it saw (headers included), or an error on demand.
class EchoPredictor(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("content-length", 0)))
        if self.path.endswith("/fail:predict"):
            return self.answer(400, {"error": "no such input"})
        if self.path.endswith("/slow:predict"):
            import time
            time.sleep(4)
        seen = {k.lower(): v for k, v in self.headers.items()}
        self.answer(200, {"predictions": [1], "path": self.path, "headers": seen, "body": json.loads(body)},
                    extra={"x-predictor": "echo"})

    def do_GET(self):
        self.answer(200, {})

    def answer(self, status, obj, extra=None):
        data = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *a):
        pass


TRANSFORMER = """
import argparse, kserve
from kserve import Model, ModelServer, model_server

class T(Model):
    def __init__(self, name, mode):
        super().__init__(name, return_response_headers=(mode == "headers"))
        self.mode = mode
        self.ready = mode != "not_ready"

    async def preprocess(self, payload, headers=None):
        if self.mode == "raise":
            raise ValueError("cannot read the image")
        return {"instances": payload["instances"], "seen": sorted(headers)}

    def explain(self, payload, headers=None):
        return {"explanations": payload["instances"], "seen": payload["seen"]}

    def postprocess(self, result, headers=None, response_headers=None):
        if self.mode == "unserialisable":
            return {"x": object()}
        if response_headers is not None:
            response_headers["x-transformer"] = "yes"
        return result

parser = argparse.ArgumentParser(parents=[model_server.parser])
parser.add_argument("--mode", default="ok")
args, _ = parser.parse_known_args()
if args.mode == "fail_start":
    raise RuntimeError("the tokenizer file is missing")
ModelServer().start([T(args.model_name, args.mode), T("fail", args.mode), T("slow", args.mode)])
"""


class TransformerBehaviourTest(unittest.TestCase):
    """Headers across the hop, response headers, KServe's error answers; the server stays up."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.script = os.path.join(cls.tmp.name, "transformer.py")
        with open(cls.script, "w") as f:
            f.write(TRANSFORMER)
        cls.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), EchoPredictor)
        threading.Thread(target=cls.httpd.serve_forever, daemon=True).start()
        cls.pred_host = "127.0.0.1:%d" % cls.httpd.server_address[1]
        cls.servers = {}
        for mode in ("ok", "headers", "raise", "unserialisable"):
            cls.servers[mode] = Server(["--python", cls.script, "--model_name", "m",
                                        "--python_arg=--predictor_host=" + cls.pred_host, "--python_arg=--mode=" + mode])

    @classmethod
    def tearDownClass(cls):
        for s in cls.servers.values():
            s.stop()
        cls.httpd.shutdown()
        cls.httpd.server_close()
        cls.tmp.cleanup()

    def post(self, mode, model="m", headers=None):
        return requests.post(self.servers[mode].url("/v1/models/%s:predict" % model), json={"instances": [[1, 2]]},
                             headers=headers or {}, timeout=60)

    def test_forwards_three_headers_only_and_calls_its_own_name(self):
        r = self.post("ok", headers={"x-request-id": "rid-1", "x-b3-traceid": "t-1", "authorization": "Bearer z",
                                     "x-other": "dropped"})
        self.assertEqual(r.status_code, 200, r.text)
        got = r.json()
        self.assertEqual(got["path"], "/v1/models/m:predict")
        self.assertEqual(got["headers"]["x-request-id"], "rid-1")
        self.assertEqual(got["headers"]["x-b3-traceid"], "t-1")
        self.assertEqual(got["headers"]["authorization"], "Bearer z")
        self.assertNotIn("x-other", got["headers"])
        # preprocess saw every request header (lower-case names), as KServe gives them.
        self.assertIn("x-other", got["body"]["seen"])
        self.assertNotIn("x-predictor", r.headers)  # return_response_headers is off

    def test_explain_goes_to_the_models_explain(self):
        r = requests.post(self.servers["ok"].url("/v1/models/m:explain"), json={"instances": [[1, 2]]},
                          headers={"x-request-id": "e1"}, timeout=60)
        self.assertEqual(r.status_code, 200, r.text)
        self.assertEqual(r.json()["explanations"], [[1, 2]])
        self.assertIn("x-request-id", r.json()["seen"])  # preprocess ran first, with the headers

    def test_return_response_headers(self):
        r = self.post("headers")
        self.assertEqual(r.status_code, 200, r.text)
        self.assertEqual(r.headers.get("x-predictor"), "echo")
        self.assertEqual(r.headers.get("x-transformer"), "yes")

    def test_predictor_error_is_kserves_500(self):
        r = self.post("ok", model="fail")
        self.assertEqual(r.status_code, 500, r.text)
        self.assertIn("HTTPStatusError", r.json()["error"])
        self.assertIn("no such input", r.json()["error"])
        self.assertIn("400", r.json()["error"])
        self.assertEqual(self.post("ok").status_code, 200)

    def test_preprocess_raising_is_500_naming_model_and_reason(self):
        r = self.post("raise")
        self.assertEqual(r.status_code, 500, r.text)
        self.assertIn("ValueError", r.json()["error"])
        self.assertIn("cannot read the image", r.json()["error"])
        self.assertIn("'m'", r.json()["error"])
        self.assertEqual(requests.get(self.servers["raise"].url("/v2/health/live"), timeout=10).status_code, 200)

    def test_unserialisable_answer_is_500(self):
        r = self.post("unserialisable")
        self.assertEqual(r.status_code, 500, r.text)
        self.assertIn("cannot be serialized", r.json()["error"])
        self.assertEqual(requests.get(self.servers["unserialisable"].url("/v2/health/live"), timeout=10).status_code,
                         200)

    def test_predictor_down_is_500_connect_error(self):
        s = Server(["--python", self.script, "--model_name", "m", "--python_arg=--predictor_host=127.0.0.1:1"])
        try:
            r = requests.post(s.url("/v1/models/m:predict"), json={"instances": [[1]]}, timeout=60)
            self.assertEqual(r.status_code, 500, r.text)
            self.assertIn("ConnectError", r.json()["error"])
            self.assertIn("127.0.0.1:1", r.json()["error"])
        finally:
            s.stop()

    def test_predictor_request_timeout(self):
        s = Server(["--python", self.script, "--model_name", "m", "--python_arg=--predictor_host=" + self.pred_host,
                    "--python_arg=--predictor_request_timeout_seconds=1"])
        try:
            r = requests.post(s.url("/v1/models/slow:predict"), json={"instances": [[1]]}, timeout=60)
            self.assertEqual(r.status_code, 500, r.text)
            self.assertIn("ReadTimeout", r.json()["error"])
        finally:
            s.stop()

    def test_no_predictor_host_is_501(self):
        s = Server(["--python", self.script, "--model_name", "m"])
        try:
            r = requests.post(s.url("/v1/models/m:predict"), json={"instances": [[1]]}, timeout=60)
            self.assertEqual(r.status_code, 501, r.text)
            self.assertIn("predictor_host", r.json()["error"])
        finally:
            s.stop()

    def test_predictor_health_check(self):
        import time
        down = Server(["--python", self.script, "--model_name", "m", "--python_arg=--predictor_host=127.0.0.1:1",
                       "--python_arg=--enable_predictor_health_check"], wait_ready=False)
        up = Server(["--python", self.script, "--model_name", "m", "--python_arg=--predictor_host=" + self.pred_host,
                     "--python_arg=--enable_predictor_health_check"], wait_ready=False)
        try:
            time.sleep(1.5)  # past the one-second cache of the first probe
            self.assertEqual(requests.get(down.url("/v2/health/ready"), timeout=30).status_code, 503)
            self.assertEqual(requests.get(up.url("/v2/health/ready"), timeout=30).status_code, 200)
            self.assertEqual(requests.get(down.url("/v2/health/live"), timeout=30).status_code, 200)
        finally:
            down.stop()
            up.stop()

    def test_a_transformer_that_fails_to_start(self):
        s = Server(["--python", self.script, "--model_name", "m", "--python_arg=--mode=fail_start"],
                   expect_start=False)
        rc = s.proc.wait(60)
        self.assertNotEqual(rc, 0)
        self.assertIn("the tokenizer file is missing", s.output())
        self.assertIn("transformer.py", s.output())

    def test_no_model_ready_stops_the_server_as_in_kserve(self):
        s = Server(["--python", self.script, "--model_name", "m", "--python_arg=--mode=not_ready"],
                   expect_start=False)
        rc = s.proc.wait(60)
        self.assertNotEqual(rc, 0)
        self.assertIn("NoModelReady", s.output())
        self.assertIn("Models with names m,fail,slow are not ready.", s.output())


ECHO_MODEL = """
import time, json
from kserve import Model, ModelServer

class Echo(Model):
    def __init__(self):
        super().__init__("echo")
        self.ready = True

    def predict(self, payload, headers=None):
        return {"repr": repr(payload)}

class Timing(Model):
    def __init__(self):
        super().__init__("timing")
        self.ready = True

    def predict(self, payload, headers=None):
        import _inferd_native
        body = json.dumps(payload).encode()
        t0 = time.perf_counter()
        for _ in range(200):
            json.loads(body)
        t1 = time.perf_counter()
        for _ in range(200):
            _inferd_native.loads(body)
        t2 = time.perf_counter()
        return {"json_us": (t1 - t0) / 200 * 1e6, "native_us": (t2 - t1) / 200 * 1e6}

ModelServer().start([Echo(), Timing()])
"""


class V1BodyParsingTest(unittest.TestCase):
    """A Python model's V1 body is parsed natively (simdjson) into what json.loads gives, falling back to
    json.loads for what simdjson refuses."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        script = os.path.join(cls.tmp.name, "echo.py")
        with open(script, "w") as f:
            f.write(ECHO_MODEL)
        cls.server = Server(["--python", script])

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()
        cls.tmp.cleanup()

    def test_same_values_as_json_loads(self):
        bodies = [
            b'{"instances": [[1, 2.5, -0.0, 1e2, 18446744073709551615, -9223372036854775808]]}',
            b'{"a": 1, "a": 2, "s": "caf\\u00e9 \\ud83d\\ude00 \xe2\x82\xac", "t": true, "n": null, "f": false}',
            b'{"big": 123456789012345678901234567890, "x": NaN, "inf": Infinity}',  # simdjson refuses: fallback
            b'{"deep": [[[[{"k": [0.1, 0.2, 0.30000000000000004]}]]]], "e": {}, "l": []}',
            b'{"lone": "\\ud800", "n": [1.5]}',  # a lone surrogate: not simdjson's to decide, json.loads gives it
            b'null',  # simdjson's value is None itself (not a refusal)
        ]
        for body in bodies:
            r = requests.post(self.server.url("/v1/models/echo:predict"), data=body,
                              headers={"content-type": "application/json"}, timeout=30)
            self.assertEqual(r.status_code, 200, r.text)
            self.assertEqual(r.json()["repr"], repr(json.loads(body)), body)

    def test_malformed_is_400(self):
        r = requests.post(self.server.url("/v1/models/echo:predict"), data=b'{"a": [1, 2', timeout=30)
        self.assertEqual(r.status_code, 400, r.text)
        self.assertIn("malformed JSON", r.json()["error"])

    def test_native_parse_timing_is_reported(self):
        img = [[[round((i * 28 + j) / 784.0, 4) for j in range(28)] for i in range(28)]]
        r = requests.post(self.server.url("/v1/models/timing:predict"), json={"instances": [img]}, timeout=60)
        self.assertEqual(r.status_code, 200, r.text)
        t = r.json()
        print("V1 body of 784 numbers: json.loads %.1f us, native loads %.1f us" % (t["json_us"], t["native_us"]))
        self.assertGreater(t["native_us"], 0)  # no timing assertion (a loaded machine); the figure is printed


PASSTHROUGH = os.path.join(ROOT, "tests", "data", "passthrough_transformer.py")


class InProcessRowsTest(unittest.TestCase):
    """The in-process transformer's V1 fast path (rows walked natively into one tensor, numpy as the fallback)
    answers every body as the predictor alone answers it: numbers, ints, bools, ragged rows, strings."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        model = os.path.join(cls.tmp.name, "lin")
        torch.manual_seed(5)
        write_torch_model(model, torch.nn.Linear(4, 10), "data", torch.zeros(1, 4))
        script = PASSTHROUGH
        cls.pred = Server(["--model_name", "lin", "--model_dir", model])
        cls.inproc = Server(["--python", script, "--model_name", "lin", "--model_dir", model,
                             "--python_arg=--predictor_host=unused.invalid:1"])

    @classmethod
    def tearDownClass(cls):
        cls.pred.stop()
        cls.inproc.stop()
        cls.tmp.cleanup()

    def test_same_answers_as_the_predictor(self):
        bodies = [
            {"instances": [[0.5, -1.25, 2.0, 3.5], [1, 2, 3, 4]]},  # floats and ints (FP64 as np.asarray)
            {"instances": [[1, 2, 3, 4]]},  # ints only (INT64)
            {"instances": [[True, False, True, 1]]},  # bools among ints
            {"instances": [[True, False, True, False]]},  # bools only
            {"instances": [[9223372036854775807, 0, 0, 0]]},  # the largest int64
            {"instances": [[1, 2, 3]]},  # a wrong width: the model's 400
            {"instances": [[1, 2, 3, 4], [1, 2]]},  # ragged: the codec's 400
            {"instances": [["a", "b", "c", "d"]]},  # strings: the codec's 400
            {"instances": [[1e308, -1e308, 0.0, 1e-308]]},
        ]
        for body in bodies:
            want = requests.post(self.pred.url("/v1/models/lin:predict"), json=body, timeout=30)
            got = requests.post(self.inproc.url("/v1/models/lin:predict"), json=body, timeout=30)
            self.assertEqual(got.status_code, want.status_code, (body, got.text, want.text))
            if want.status_code == 200:
                np.testing.assert_allclose(np.array(got.json()["predictions"]), np.array(want.json()["predictions"]),
                                           rtol=1e-6, err_msg=str(body))

V2_CONTEXT_MODEL = """
import json
import numpy as np
from kserve import InferOutput, InferResponse, Model, ModelServer


class Seen(Model):
    def __init__(self):
        super().__init__("seen", return_response_headers=True)
        self.ready = True

    def preprocess(self, payload, headers=None):
        payload.seen = {"id": payload.id, "parameters": payload.parameters, "trace": headers.get("x-trace")}
        return payload

    def predict(self, payload, headers=None, response_headers=None):
        response_headers["x-seen"] = json.dumps(payload.seen, sort_keys=True)
        response_headers["x-bad"] = "a\\r\\nb"  # kept out of the answer
        out = InferOutput("n", [1], "INT64")
        out.set_data_from_numpy(np.array([len(payload.inputs)], dtype=np.int64))
        return InferResponse(payload.id, self.name, [out])


ModelServer().start([Seen()])
"""


class V2ContextTest(unittest.TestCase):
    """On V2 a Python model's preprocess gets the request's id, parameters and headers, and the headers it
    puts in response_headers come back, as in KServe's dataplane."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        script = os.path.join(cls.tmp.name, "seen.py")
        with open(script, "w") as f:
            f.write(V2_CONTEXT_MODEL)
        cls.server = Server(["--python", script])

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()
        cls.tmp.cleanup()

    def test_id_parameters_headers_and_response_headers(self):
        body = {"id": "req-7", "parameters": {"p": 1, "s": "x", "b": True, "f": 0.5},
                "inputs": [{"name": "x", "shape": [1], "datatype": "FP32", "data": [1.0]}]}
        r = requests.post(self.server.url("/v2/models/seen/infer"), json=body, headers={"x-trace": "abc"}, timeout=30)
        self.assertEqual(r.status_code, 200, r.text)
        self.assertEqual(json.loads(r.headers["x-seen"]),
                         {"id": "req-7", "parameters": {"p": 1, "s": "x", "b": True, "f": 0.5}, "trace": "abc"})
        self.assertNotIn("x-bad", r.headers)
        self.assertEqual(r.json()["id"], "req-7")
        # No id, no parameters: None and {} (KServe's InferRequest defaults).
        body = {"inputs": [{"name": "x", "shape": [1], "datatype": "FP32", "data": [1.0]}]}
        r = requests.post(self.server.url("/v2/models/seen/infer"), json=body, timeout=30)
        self.assertEqual(r.status_code, 200, r.text)
        self.assertEqual(json.loads(r.headers["x-seen"]), {"id": None, "parameters": {}, "trace": None})

THREAD_LOCAL_MODEL = """
import threading
from kserve import Model, ModelServer

seen = threading.local()


class Count(Model):
    def __init__(self):
        super().__init__("count")
        self.ready = True

    def predict(self, payload, headers=None):
        seen.n = getattr(seen, "n", 0) + 1
        return {"n": seen.n}


ModelServer().start([Count()])
"""


class ThreadStateTest(unittest.TestCase):
    """A front-end thread keeps its Python thread state between requests (python/python_runtime.h): a
    threading.local value set by one request is there for the next on the same thread (a new thread state
    per request lost it, and cost a thread state's creation each time)."""

    def test_threading_local_survives_between_requests(self):
        with tempfile.TemporaryDirectory() as tmp:
            script = os.path.join(tmp, "count.py")
            with open(script, "w") as f:
                f.write(THREAD_LOCAL_MODEL)
            server = Server(["--python", script])
            try:
                with requests.Session() as s:  # one keep-alive connection: served by one thread
                    counts = [s.post(server.url("/v1/models/count:predict"), json={}, timeout=30).json()["n"]
                              for _ in range(20)]
            finally:
                server.stop()
        self.assertGreater(max(counts), 1, counts)

if __name__ == "__main__":
    unittest.main()
