"""End-to-end tests of InferenceGraphs through a real `inferd serve` (issue 17): the graph runs in the gateway
(no router process), each step goes to its InferenceService through the gateway's own upstream machinery.

- KServe's ten e2e graph scenarios (test/e2e/graph/test_inference_graph.py, /work/shared/reference/graph.md
  section 6) rebuilt with local services: "success" answers {"predictions":[{"message":"SUCCESS"}]}, "error"
  answers 404 {"detail":"Intentional 404 code"} (custom containers, as KServe's test images are).
- test_inference_graph: sklearn -> xgboost -> sklearn, all Hard, on iris: predictions [1, 1].
- A Switch on the path form /graph/{ns}/{graph}; status Ready / not Ready naming the missing service; a bad
  condition shown as InvalidGraph; header propagation per the serve config's router.headers.propagate (KServe's
  configmap key); a step whose service is at zero replicas is activated; `inferd get ig`, `describe`, `delete`;
  serviceUrl to one of the gateway's own hosts and to a server outside inferd (and an unreachable one: 500);
  routerTimeouts.serviceClient (500 naming it) and serverWrite (the connection closes with no answer).

Run by ctest with Debian's /usr/bin/python3; environment as for serve_test.py. Generous timeouts; nothing here
is about speed.
"""

import http.server
import json
import os
import shutil
import sys
import tempfile
import threading
import time
import unittest

import requests

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import serve_test as st  # noqa: E402  (Serve, helpers)

MODELS = st.MODELS
IRIS = st.IRIS
SUCCESS = {"predictions": [{"message": "SUCCESS"}]}
ERROR = {"detail": "Intentional 404 code"}
NO_MATCH = {"error": "Failed to process request", "cause": "None of the routes matched with the switch condition"}

CONFIG = """
autoscaler:
  stable-window: 2s
  panic-window-percentage: 50
  scale-to-zero-grace-period: 1s
  enable-scale-to-zero: true
router:
  headers:
    propagate: ["Test-Header-*", "Auth*", "Test-Header-[0-9"]
"""

# The test images of KServe's graph e2e tests, as a local command: success, error, or echo (answers what it got).
SERVER = r'''
import http.server, json, os, sys
mode = sys.argv[1]
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *a): pass
    def send(self, code, obj):
        b = json.dumps(obj).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(b)))
        self.end_headers()
        self.wfile.write(b)
    def do_GET(self): self.send(200, {"ready": True})
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        if mode == "slow":
            import time
            time.sleep(3)
            self.send(200, {"predictions": [{"message": "SUCCESS"}]})
        elif mode == "success":
            self.send(200, {"predictions": [{"message": "SUCCESS"}]})
        elif mode == "error":
            self.send(404, {"detail": "Intentional 404 code"})
        else:
            self.send(200, {"path": self.path, "headers": dict(self.headers.items()), "body": json.loads(body or b"null")})
http.server.ThreadingHTTPServer(("127.0.0.1", int(os.environ["PORT"])), H).serve_forever()
'''


def isvc_yaml(name, mode, script, extra=""):
    return """
apiVersion: serving.kserve.io/v1beta1
kind: InferenceService
metadata:
  name: %s
spec:
  predictor:
%s    containers:
      - name: kserve-container
        image: kserve/%s-isvc
        command: [/usr/bin/python3, %s, %s]
""" % (name, extra, mode, script, mode)


def graph_yaml(name, nodes, spec_extra=""):
    return """
apiVersion: serving.kserve.io/v1alpha1
kind: InferenceGraph
metadata:
  name: %s
spec:
%s  nodes:
%s""" % (name, spec_extra, nodes)


def cond(obj, type_):
    for c in obj.get("status", {}).get("conditions", []):
        if c.get("type") == type_:
            return c
    return {}


class ServeGraphTest(st.ApplyMixin, unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="inferd-graph-test-")
        cls.script = os.path.join(cls.tmp, "server.py")
        with open(cls.script, "w") as f:
            f.write(SERVER)
        config = os.path.join(cls.tmp, "serve.yaml")
        with open(config, "w") as f:
            f.write(CONFIG)
        cls.serve = st.Serve(os.path.join(cls.tmp, "data"), ["--config", config])
        docs = [isvc_yaml("success-isvc", "success", cls.script), isvc_yaml("error-isvc", "error", cls.script),
                isvc_yaml("echo-isvc", "echo", cls.script),
                isvc_yaml("zero-isvc", "success", cls.script, "    minReplicas: 0\n"),
                isvc_yaml("slow-isvc", "slow", cls.script)]
        rc, out, err = cls.serve.cli("apply", "-f", "-", stdin="---".join(docs))
        if rc != 0:
            raise RuntimeError(out + err)
        for name in ("success-isvc", "error-isvc", "echo-isvc", "zero-isvc", "slow-isvc"):
            cls.serve.wait_ready(name, timeout=120)

    @classmethod
    def tearDownClass(cls):
        cls.serve.stop()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    # ---- helpers ------------------------------------------------------------------------------------
    def graph(self, name):
        r = self.serve.api("GET", "/apis/serving.kserve.io/v1alpha1/namespaces/default/inferencegraphs/" + name)
        return r.json() if r.status_code == 200 else None

    def wait_graph(self, name, pred, what, timeout=60):
        deadline = time.time() + timeout
        obj = None
        while time.time() < deadline:
            obj = self.graph(name)
            if obj is not None and pred(obj):
                return obj
            time.sleep(0.05)
        self.fail("%s: timed out waiting for %s; last:\n%s\n%s" % (name, what, json.dumps(obj, indent=1),
                                                                    self.serve.output()))

    def ready_graph(self, name, nodes, spec_extra=""):
        self.apply(graph_yaml(name, nodes, spec_extra))
        return self.wait_graph(name, lambda o: cond(o, "Ready").get("status") == "True", "Ready")

    def post(self, name, body, headers=None, path="/"):
        h = {"Host": "%s.default.example.com" % name}
        h.update(headers or {})
        return self.serve.gw("POST", path, headers=h, data=json.dumps(body))

    # ---- KServe's e2e scenarios ---------------------------------------------------------------------
    def test_01_sequences_soft_and_hard(self):
        def seq(first, first_dep, second, second_dep):
            steps = ""
            for i, (svc, dep) in enumerate(((first, first_dep), (second, second_dep))):
                steps += "        - name: step%d\n          serviceName: %s\n" % (i + 1, svc)
                if i:
                    steps += "          data: $request\n"
                if dep:
                    steps += "          dependency: %s\n" % dep
            return "    root:\n      routerType: Sequence\n      steps:\n" + steps
        picker = {"decision_picker": "SUCCESS", "key1": {"name": "abc"}}
        cases = [("scenario1", seq("success-isvc", "", "error-isvc", ""), 404, ERROR),
                 ("scenario2", seq("error-isvc", "", "success-isvc", ""), 200, SUCCESS),
                 ("scenario3", seq("error-isvc", "Hard", "success-isvc", "Soft"), 404, ERROR)]
        for name, nodes, status, body in cases:
            obj = self.ready_graph(name, nodes)
            self.assertEqual(obj["status"]["url"], "http://%s.default.example.com" % name)
            r = self.post(name, picker)
            self.assertEqual((r.status_code, r.json()), (status, body), name)
            self.assertEqual(r.headers["Content-Type"], "application/json")

    def test_02_switch_scenario4_host_and_path_form(self):
        nodes = """    root:
      routerType: Switch
      steps:
        - serviceName: error-isvc
          condition: "[@this].#(decision_picker==ERROR)"
        - serviceName: success-isvc
          condition: "[@this].#(decision_picker==SUCCESS)"
"""
        self.ready_graph("scenario4", nodes)
        for picker, status, body in (("ERROR", 404, ERROR), ("SUCCESS", 200, SUCCESS), ("NO_MATCH", 404, NO_MATCH)):
            r = self.post("scenario4", {"decision_picker": picker, "key1": {"name": "abc"}})
            self.assertEqual((r.status_code, r.json()), (status, body), picker)
            # The path form on the gateway's own address: the same answers.
            r = self.serve.gw("POST", "/graph/default/scenario4", data=json.dumps({"decision_picker": picker}))
            self.assertEqual((r.status_code, r.json()), (status, body), picker)
        r = self.serve.gw("POST", "/graph/default/no-such-graph", json={})
        self.assertEqual(r.status_code, 404)

    def test_03_nested_switch_scenarios_5_6(self):
        def nodes(dep):
            d = "          dependency: Hard\n" if dep else ""
            return """    root:
      routerType: Sequence
      steps:
        - name: node1
          nodeName: node1
%s        - name: success
          serviceName: success-isvc
    node1:
      routerType: Switch
      steps:
        - serviceName: error-isvc
          condition: "[@this].#(decision_picker==ERROR)"
%s""" % (d, d)
        self.ready_graph("scenario5", nodes(False))
        self.ready_graph("scenario6", nodes(True))
        picker = {"decision_picker": "ERROR", "key1": {"name": "abc"}}
        r = self.post("scenario5", picker)
        self.assertEqual((r.status_code, r.json()), (200, SUCCESS))
        r = self.post("scenario6", picker)
        self.assertEqual((r.status_code, r.json()), (404, ERROR))

    def test_04_ensembles_scenarios_7_8(self):
        self.ready_graph("scenario7", """    root:
      routerType: Ensemble
      steps:
        - name: rootStep1
          serviceName: success-isvc
        - name: rootStep2
          serviceName: error-isvc
""")
        self.ready_graph("scenario8", """    root:
      routerType: Ensemble
      steps:
        - name: rootStep1
          serviceName: error-isvc
          dependency: Hard
        - name: rootStep2
          serviceName: success-isvc
        - name: rootStep3
          serviceName: success-isvc
""")
        picker = {"decision_picker": "SUCCESS", "key1": {"name": "abc"}}
        r = self.post("scenario7", picker)
        self.assertEqual((r.status_code, r.json()), (200, {"rootStep1": SUCCESS, "rootStep2": ERROR}))
        r = self.post("scenario8", picker)
        self.assertEqual((r.status_code, r.json()), (404, ERROR))

    def test_05_splitters_scenarios_9_10(self):
        def nodes(dep):
            d = "          dependency: Hard\n" if dep else ""
            return """    root:
      routerType: Sequence
      steps:
        - name: node1
          nodeName: node1
%s        - name: success
          serviceName: success-isvc
          data: $request
    node1:
      routerType: Splitter
      steps:
        - serviceName: error-isvc
          weight: 100
          condition: "[@this].#(decision_picker==ERROR)"
%s""" % (d, d)
        self.ready_graph("scenario9", nodes(False))
        self.ready_graph("scenario10", nodes(True))
        r = self.post("scenario9", {"instances": IRIS})
        self.assertEqual((r.status_code, r.json()), (200, SUCCESS))
        r = self.post("scenario10", {"instances": IRIS})
        self.assertEqual((r.status_code, r.json()), (404, ERROR))

    def test_06_sklearn_xgboost_sequence(self):
        sk = os.path.join(MODELS, "sklearn", "sklearn-iris-logreg")
        xgb = os.path.join(MODELS, "xgb_iris_softmax")
        self.apply("""
apiVersion: serving.kserve.io/v1beta1
kind: InferenceService
metadata:
  name: sklearn
spec:
  predictor:
    model:
      modelFormat:
        name: sklearn
      storageUri: file://%s
---
apiVersion: serving.kserve.io/v1beta1
kind: InferenceService
metadata:
  name: xgboost
spec:
  predictor:
    model:
      modelFormat:
        name: xgboost
      storageUri: file://%s
""" % (sk, xgb))
        nodes = """    root:
      routerType: Sequence
      steps:
        - serviceName: sklearn
          name: sklearn
          dependency: Hard
        - serviceName: xgboost
          name: xgboost
          data: $request
          dependency: Hard
        - serviceName: sklearn
          name: sklearn-again
          data: $request
          dependency: Hard
"""
        self.apply(graph_yaml("model-chainer", nodes))
        self.serve.wait_ready("sklearn", timeout=120)
        self.serve.wait_ready("xgboost", timeout=120)
        self.wait_graph("model-chainer", lambda o: cond(o, "Ready").get("status") == "True", "Ready")
        r = self.post("model-chainer", {"instances": IRIS})
        self.assertEqual(r.status_code, 200, r.text)
        self.assertEqual(r.json()["predictions"], [1, 1])

    def test_06b_v1_and_v2_services_mixed(self):
        # A V2 service beside test_06's V1 ones: serviceName resolves to /v2/models/<m>/infer by its protocol, and
        # a Switch sends V1-shaped bodies to a V1 service and V2-shaped ones to the V2 service.
        xgb = os.path.join(MODELS, "xgb_iris_softmax")
        self.apply("""
apiVersion: serving.kserve.io/v1beta1
kind: InferenceService
metadata:
  name: xgboost-v2
spec:
  predictor:
    model:
      modelFormat:
        name: xgboost
      protocolVersion: v2
      storageUri: file://%s
""" % xgb)
        nodes = """    root:
      routerType: Switch
      steps:
        - serviceName: xgboost-v2
          condition: "inputs"
        - serviceName: sklearn
          condition: "instances"
"""
        self.serve.wait_ready("xgboost-v2", timeout=120)
        self.serve.wait_ready("sklearn", timeout=120)
        self.ready_graph("mixed", nodes)
        v2 = {"inputs": [{"name": "input-0", "shape": [2, 4], "datatype": "FP32",
                          "data": [x for row in IRIS for x in row]}]}
        r = self.post("mixed", v2)
        self.assertEqual(r.status_code, 200, r.text)
        self.assertEqual(r.json()["model_name"], "xgboost-v2")
        self.assertEqual([round(x) for x in r.json()["outputs"][0]["data"]], [1, 1])
        r = self.post("mixed", {"instances": IRIS})
        self.assertEqual(r.status_code, 200, r.text)
        self.assertEqual(r.json()["predictions"], [1, 1])

    # ---- status, headers, activation, CLI ------------------------------------------------------------
    def test_07_status_names_the_missing_service_then_ready(self):
        nodes = """    root:
      routerType: Sequence
      steps:
        - serviceName: success-isvc
        - serviceName: late-isvc
"""
        self.apply(graph_yaml("waits-for-late", nodes))
        obj = self.wait_graph("waits-for-late", lambda o: cond(o, "Ready").get("status") == "False", "not Ready")
        c = cond(obj, "Ready")
        self.assertEqual(c["reason"], "InferenceServiceNotFound")
        self.assertIn('"late-isvc"', c["message"])
        r = self.post("waits-for-late", {})
        self.assertEqual(r.status_code, 503, r.text)
        self.assertIn("late-isvc", r.json()["error"])
        self.apply(isvc_yaml("late-isvc", "success", self.script))
        self.wait_graph("waits-for-late", lambda o: cond(o, "Ready").get("status") == "True", "Ready", timeout=120)
        r = self.post("waits-for-late", {})
        self.assertEqual((r.status_code, r.json()), (200, SUCCESS))

    def test_08_invalid_condition_and_router_pod_fields(self):
        nodes = """    root:
      routerType: Switch
      steps:
        - serviceName: success-isvc
          condition: "a.#(b=="
"""
        self.apply(graph_yaml("bad-condition", nodes))
        obj = self.wait_graph("bad-condition", lambda o: cond(o, "Ready").get("status") == "False", "not Ready")
        self.assertEqual(cond(obj, "Ready")["reason"], "InvalidGraph")
        self.assertIn("condition", cond(obj, "Ready")["message"])
        nodes = "    root:\n      routerType: Sequence\n      steps:\n        - serviceName: success-isvc\n"
        obj = self.ready_graph("sized", nodes, "  minReplicas: 2\n  resources:\n    limits:\n      cpu: 100m\n")
        c = cond(obj, "RouterInGateway")
        self.assertIn("spec.minReplicas", c["message"])
        self.assertIn("spec.resources", c["message"])

    def test_09_header_propagation(self):
        nodes = """    root:
      routerType: Sequence
      steps:
        - serviceName: echo-isvc
"""
        self.ready_graph("echo-graph", nodes)
        r = self.post("echo-graph", {"instances": [1]},
                      headers={"Test-Header-Key": "k1", "Authorization": "Bearer x", "X-Other": "no"})
        self.assertEqual(r.status_code, 200, r.text)
        got = r.json()
        headers = {k.lower(): v for k, v in got["headers"].items()}
        self.assertEqual(headers.get("test-header-key"), "k1")
        self.assertEqual(headers.get("authorization"), "Bearer x")
        self.assertNotIn("x-other", headers)
        self.assertEqual(got["body"], {"instances": [1]})
        self.assertEqual(got["path"], "/v1/models/echo-isvc:predict")  # KServe's predict path by protocol
        # The serve config's invalid pattern (Test-Header-[0-9) is skipped, as KServe's router does: the valid
        # ones still apply (asserted above).

    def test_10_step_at_zero_is_activated(self):
        nodes = """    root:
      routerType: Sequence
      steps:
        - serviceName: zero-isvc
"""
        self.ready_graph("to-zero", nodes)
        obj = self.serve.wait("zero-isvc", lambda o: not st.pids(o), timeout=120, what="scaled to zero")
        self.assertFalse(st.pids(obj))
        r = self.post("to-zero", {"instances": [1]})
        self.assertEqual((r.status_code, r.json()), (200, SUCCESS))
        self.assertTrue(st.pids(self.serve.isvc("zero-isvc")))

    def test_11_cli_get_describe_delete(self):
        nodes = "    root:\n      routerType: Sequence\n      steps:\n        - serviceName: success-isvc\n"
        self.ready_graph("cli-graph", nodes)
        rc, out, err = self.serve.cli("get", "ig")
        self.assertEqual(rc, 0, err)
        header = out.splitlines()[0].split()
        self.assertEqual(header, ["NAME", "URL", "READY", "AGE"])
        line = [l for l in out.splitlines() if l.startswith("cli-graph ")][0].split()
        self.assertEqual(line[1:3], ["http://cli-graph.default.example.com", "True"])
        rc, out, err = self.serve.cli("describe", "ig", "cli-graph")
        self.assertEqual(rc, 0, err)
        self.assertIn("cli-graph", out)
        self.assertIn("Ready", out)
        self.assertEqual(self.serve.cli("delete", "ig", "cli-graph")[0], 0)
        deadline = time.time() + 30
        while time.time() < deadline and self.post("cli-graph", {}).status_code != 404:
            time.sleep(0.1)
        self.assertEqual(self.post("cli-graph", {}).status_code, 404)

    def test_12_service_urls(self):
        # A server outside inferd: called over plain HTTP from the gateway's worker.
        class External(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def do_POST(self):
                got = json.loads(self.rfile.read(int(self.headers.get("Content-Length", "0"))))
                b = json.dumps({"predictions": [{"message": "EXTERNAL", "path": self.path, "got": got}]}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(b)))
                self.end_headers()
                self.wfile.write(b)
        httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), External)
        threading.Thread(target=httpd.serve_forever, daemon=True).start()
        try:
            port = httpd.server_address[1]
            nodes = """    root:
      routerType: Sequence
      steps:
        - serviceUrl: http://success-isvc.default.svc.cluster.local/v1/models/success-isvc:predict
        - serviceUrl: http://127.0.0.1:%d/v1/models/ext:predict
          data: $response
""" % port
            self.ready_graph("urls", nodes)
            r = self.post("urls", {"instances": [1]})
            self.assertEqual(r.status_code, 200, r.text)
            p = r.json()["predictions"][0]
            self.assertEqual((p["message"], p["path"], p["got"]), ("EXTERNAL", "/v1/models/ext:predict", SUCCESS))
        finally:
            httpd.shutdown()
        nodes = "    root:\n      routerType: Sequence\n      steps:\n        - serviceUrl: http://127.0.0.1:1/x\n"
        self.ready_graph("unreachable", nodes)
        r = self.post("unreachable", {})
        self.assertEqual(r.status_code, 500, r.text)
        self.assertEqual(r.json()["error"], "Failed to process request")
        self.assertIn("127.0.0.1:1", r.json()["cause"])

    def test_13_router_timeouts(self):
        nodes = "    root:\n      routerType: Sequence\n      steps:\n        - serviceName: slow-isvc\n"
        self.ready_graph("step-timeout", nodes, "  routerTimeouts:\n    serviceClient: 1\n")
        t0 = time.time()
        r = self.post("step-timeout", {})
        self.assertEqual(r.status_code, 500, r.text)
        self.assertIn("serviceClient", r.json()["cause"])
        self.assertLess(time.time() - t0, 2.9)  # the slow service takes 3 s: the step's 1 s ended it
        self.ready_graph("run-timeout", nodes, "  routerTimeouts:\n    serverWrite: 1\n")
        with self.assertRaises(requests.exceptions.ConnectionError):  # closed with no answer, as KServe's
            self.post("run-timeout", {})
        r = self.post("step-timeout", {})  # the gateway goes on
        self.assertEqual(r.status_code, 500)
        # spec.timeout (KServe: the router's Knative revision timeout): 504 when the graph takes longer.
        self.ready_graph("request-timeout", nodes, "  timeout: 1\n")
        t0 = time.time()
        r = self.post("request-timeout", {})
        self.assertEqual(r.status_code, 504, r.text)
        self.assertIn("spec.timeout", r.json()["error"])
        self.assertLess(time.time() - t0, 2.9)


if __name__ == "__main__":
    unittest.main()
