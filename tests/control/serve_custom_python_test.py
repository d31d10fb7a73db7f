"""`inferd serve` runs a custom predictor container whose command is a Python program importing `kserve` (KServe's
custom-model contract: a kserve.Model subclass passed to kserve.ModelServer().start, run as `python model.py
--model_name m`, or `python -m pkg`): the plain interpreter finds inferd's kserve stub package
(control/kserve_stub.py), which runs the program again inside `inferd model-server`, where `import kserve` is
inferd's module. A Python program that does not import kserve (any HTTP server) keeps running as written.

Run by ctest with Debian's /usr/bin/python3; environment as for serve_test.py. Generous timeouts.
"""

import os
import shutil
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import serve_test as st  # noqa: E402

# A custom model in the shape of KServe's test images and custom-model sample (written for this test).
MODEL = r'''
import argparse
from typing import Dict, Union

import kserve
from kserve.model import InferRequest, ModelInferRequest


class Echo(kserve.Model):
    def __init__(self, name):
        super().__init__(name)
        self.load()

    def load(self):
        self.ready = True

    def predict(self, payload: Union[Dict, InferRequest, ModelInferRequest], headers: Dict[str, str] = None):
        return {"predictions": [{"message": "SUCCESS", "model": self.name,
                                 "rows": len(payload.get("instances", []))}]}


parser = argparse.ArgumentParser(parents=[kserve.model_server.parser])
args, _ = parser.parse_known_args()
if __name__ == "__main__":
    kserve.ModelServer(workers=1).start([Echo(args.model_name)])
'''

# A model that answers with FastAPI's HTTPException, as KServe's graph test image error-404-isvc does: FastAPI's
# answer (status, {"detail": ...}) comes back.
ERROR_MODEL = r'''
import argparse
import kserve
from fastapi import HTTPException


class Refuse(kserve.Model):
    def __init__(self, name):
        super().__init__(name)
        self.ready = True

    def predict(self, payload, headers=None):
        raise HTTPException(status_code=404, detail="Intentional 404 code")


parser = argparse.ArgumentParser(parents=[kserve.model_server.parser])
args, _ = parser.parse_known_args()
kserve.ModelServer().start([Refuse(args.model_name)])
'''

# A Python HTTP server that does not use kserve: it must run as written (its own port from PORT).
PLAIN = r'''
import http.server, json, os
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *a): pass
    def answer(self):
        b = json.dumps({"plain": True, "path": self.path}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(b)))
        self.end_headers()
        self.wfile.write(b)
    def do_GET(self): self.answer()
    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self.answer()
http.server.ThreadingHTTPServer(("127.0.0.1", int(os.environ["PORT"])), H).serve_forever()
'''


def isvc(name, command, workdir):
    cmd = ", ".join('"%s"' % c for c in command)
    return ("apiVersion: serving.kserve.io/v1beta1\nkind: InferenceService\nmetadata:\n  name: %s\nspec:\n"
            "  predictor:\n    containers:\n    - name: kserve-container\n      image: example/custom:v1\n"
            "      command: [%s]\n      workingDir: %s\n" % (name, cmd, workdir))


class CustomPythonPredictorTest(st.ApplyMixin, unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="inferd-custom-py-test-")
        cls.code = os.path.join(cls.tmp, "code")
        os.makedirs(os.path.join(cls.code, "echopkg"))
        with open(os.path.join(cls.code, "model.py"), "w") as f:
            f.write(MODEL)
        with open(os.path.join(cls.code, "echopkg", "__main__.py"), "w") as f:
            f.write(MODEL)
        with open(os.path.join(cls.code, "echopkg", "__init__.py"), "w") as f:
            f.write("")
        with open(os.path.join(cls.code, "refuse.py"), "w") as f:
            f.write(ERROR_MODEL)
        with open(os.path.join(cls.code, "plain.py"), "w") as f:
            f.write(PLAIN)
        cls.serve = st.Serve(os.path.join(cls.tmp, "data"))

    @classmethod
    def tearDownClass(cls):
        cls.serve.stop()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def predict(self, name, model):
        r = self.serve.gw("POST", "/v1/models/%s:predict" % model, host="%s.default.example.com" % name,
                          json={"instances": [[1, 2], [3, 4]]})
        self.assertEqual(r.status_code, 200, r.text + self.serve.output())
        return r.json()

    def test_script_importing_kserve_runs_in_inferd(self):
        self.apply(isvc("echo-script", ["/usr/bin/python3", "model.py", "--model_name", "echo-script"], self.code))
        self.serve.wait_ready("echo-script", timeout=120)
        self.assertEqual(self.predict("echo-script", "echo-script"),
                         {"predictions": [{"message": "SUCCESS", "model": "echo-script", "rows": 2}]})
        # V2 metadata of the model comes from inferd's model server (the program now runs inside it).
        r = self.serve.gw("GET", "/v2/models/echo-script", host="echo-script.default.example.com")
        self.assertEqual(r.status_code, 200, r.text)
        self.assertEqual(r.json()["name"], "echo-script")

    def test_module_importing_kserve_runs_in_inferd(self):
        self.apply(isvc("echo-module", ["python3", "-m", "echopkg", "--model_name", "m1"], self.code))
        self.serve.wait_ready("echo-module", timeout=120)
        self.assertEqual(self.predict("echo-module", "m1"),
                         {"predictions": [{"message": "SUCCESS", "model": "m1", "rows": 2}]})

    def test_fastapi_http_exception_is_answered_as_fastapi(self):
        self.apply(isvc("refuse", ["/usr/bin/python3", "refuse.py", "--model_name", "refuse"], self.code))
        self.serve.wait_ready("refuse", timeout=120)
        r = self.serve.gw("POST", "/v1/models/refuse:predict", host="refuse.default.example.com",
                          json={"instances": [[1]]})
        self.assertEqual(r.status_code, 404, r.text)
        self.assertEqual(r.json(), {"detail": "Intentional 404 code"})

    def test_plain_python_server_runs_as_written(self):
        self.apply(isvc("plain-py", ["/usr/bin/python3", "plain.py"], self.code))
        self.serve.wait_ready("plain-py", timeout=120)
        self.assertEqual(self.predict("plain-py", "anything"), {"plain": True, "path": "/v1/models/anything:predict"})


if __name__ == "__main__":
    unittest.main()
