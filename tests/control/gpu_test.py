"""End-to-end test of GPUs in `inferd serve --gpus=2` (issue 14): replicas that ask for
resources.limits["nvidia.com/gpu"] get distinct devices in CUDA_VISIBLE_DEVICES (and NVIDIA_VISIBLE_DEVICES), the
replicas beyond the free devices wait with the Kubernetes scheduler's "Insufficient nvidia.com/gpu" in status and
an Event, a service that cannot get any device is not Ready and answers 503 at once naming the shortage, and
it starts once a device is freed.

No GPU exists here: the model is a small Python HTTP server (a custom container) that answers with the
variables it was started with. Run by ctest with Debian's /usr/bin/python3; environment as for serve_test.py.
No assertion is about speed beyond generous bounds (a 503 well before the service's two-minute timeout).
"""

import os
import shutil
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import serve_test as st  # noqa: E402  (Serve, helpers)

SERVER = """import http.server, json, os
class H(http.server.BaseHTTPRequestHandler):
    def log_message(self, *a):
        pass
    def answer(self):
        n = int(self.headers.get('Content-Length', '0') or 0)
        if n:
            self.rfile.read(n)
        b = json.dumps({'cuda': os.environ.get('CUDA_VISIBLE_DEVICES'),
                        'nvidia': os.environ.get('NVIDIA_VISIBLE_DEVICES'), 'pid': os.getpid()}).encode()
        self.send_response(200)
        self.send_header('Content-Type', 'application/json')
        self.send_header('Content-Length', str(len(b)))
        self.end_headers()
        self.wfile.write(b)
    do_GET = answer
    do_POST = answer
http.server.ThreadingHTTPServer(('127.0.0.1', int(os.environ['PORT'])), H).serve_forever()
"""

ISVC = """
apiVersion: serving.kserve.io/v1beta1
kind: InferenceService
metadata:
  name: %(name)s
spec:
  predictor:
    minReplicas: %(replicas)d
    maxReplicas: %(replicas)d
    timeout: 120
    containers:
      - name: kserve-container
        command: [/usr/bin/python3, %(server)s]
        resources:
          limits:
            nvidia.com/gpu: 1
"""

ISVC_PATH = "/apis/serving.kserve.io/v1beta1/namespaces/default/inferenceservices/"


def condition(obj, kind):
    for c in obj.get("status", {}).get("conditions", []):
        if c.get("type") == kind:
            return c
    return {}


def ready_replicas(obj):
    return [r for r in obj.get("status", {}).get("inferd", {}).get("replicas", []) if r.get("phase") == "Ready"]


class GpuTest(st.ApplyMixin, unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="inferd-gpu-")
        cls.server = os.path.join(cls.tmp, "server.py")
        with open(cls.server, "w") as f:
            f.write(SERVER)
        cls.serve = st.Serve(os.path.join(cls.tmp, "data"), ["--gpus=2"])

    @classmethod
    def tearDownClass(cls):
        cls.serve.stop()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def predict(self, name):
        return self.serve.gw("POST", "/v1/models/%s:predict" % name, host="%s.default.example.com" % name,
                             json={"instances": [[1]]})

    def test_gpus_assigned_shortage_reported_and_recovered(self):
        # Three replicas of one GPU each wanted, two GPUs: two run and serve, the third waits.
        self.apply(ISVC % {"name": "gpu-a", "replicas": 3, "server": self.server})
        obj = self.serve.wait("gpu-a", lambda o: len(ready_replicas(o)) == 2 and st.is_ready(o) and
                              condition(o, "ResourcesAvailable").get("status") == "False",
                              what="two ready replicas and ResourcesAvailable False")
        rc = condition(obj, "ResourcesAvailable")
        self.assertEqual(rc["reason"], "Unschedulable")
        self.assertTrue(rc["message"].startswith("0/1 nodes are available: 1 Insufficient nvidia.com/gpu."), rc)
        self.assertEqual(sorted(r["gpus"] for r in ready_replicas(obj)), ["0", "1"])
        self.assertEqual(len(obj["status"]["inferd"]["replicas"]), 2)  # the third was never started

        # Each replica sees its own device, in both variables.
        seen = set()
        deadline = time.time() + 60
        while len(seen) < 2 and time.time() < deadline:
            r = self.predict("gpu-a")
            self.assertEqual(r.status_code, 200, r.text)
            body = r.json()
            self.assertEqual(body["cuda"], body["nvidia"])
            seen.add((body["cuda"], body["pid"]))
        self.assertEqual(sorted(c for c, _ in seen), ["0", "1"], seen)

        events = self.serve.api("GET", "/api/v1/namespaces/default/events").json()["items"]
        failed = [e for e in events if e["reason"] == "FailedScheduling" and e["involvedObject"]["name"] == "gpu-a"]
        self.assertTrue(failed, [e["reason"] for e in events])
        self.assertEqual(failed[0]["type"], "Warning")
        self.assertIn("Insufficient nvidia.com/gpu", failed[0]["message"])

        # A second service gets no device at all: not Ready, and its requests are answered 503 at once.
        self.apply(ISVC % {"name": "gpu-b", "replicas": 1, "server": self.server})
        obj = self.serve.wait("gpu-b", lambda o: condition(o, "Ready").get("reason") == "Unschedulable",
                              what="Ready False with reason Unschedulable")
        self.assertEqual(condition(obj, "Ready")["status"], "False")
        self.assertIn("Insufficient nvidia.com/gpu", condition(obj, "Ready")["message"])
        self.assertEqual(obj["status"]["inferd"]["replicas"], [])  # never started on the CPU
        # (The routes are published before the status is written; the loop only bounds the wait.)
        deadline = time.time() + 30
        while True:
            t = time.monotonic()
            r = self.predict("gpu-b")
            if r.status_code != 404 or time.time() > deadline:
                break
            time.sleep(0.05)
        self.assertEqual(r.status_code, 503, r.text)
        self.assertIn("Insufficient nvidia.com/gpu", r.text)
        self.assertLess(time.monotonic() - t, 60)  # not held until the 120 s timeout

        # gpu-a is deleted: its devices are released once its replicas exited, and gpu-b starts on one.
        self.assertIn(self.serve.api("DELETE", ISVC_PATH + "gpu-a").status_code, (200, 202))
        obj = self.serve.wait("gpu-b", st.is_ready, timeout=120, what="Ready once a GPU was freed")
        self.assertEqual(condition(obj, "ResourcesAvailable").get("status"), "True")
        self.assertIn(ready_replicas(obj)[0]["gpus"], ("0", "1"))
        r = self.predict("gpu-b")
        self.assertEqual(r.status_code, 200, r.text)
        self.assertIn(r.json()["cuda"], ("0", "1"))

    def test_bad_gpu_requests_are_refused(self):
        # Kubernetes' rules for an extended resource: requests without limits, and unequal ones.
        bad = ISVC % {"name": "gpu-bad", "replicas": 1, "server": self.server}
        rc, out, err = self.serve.cli("apply", "-f", "-", stdin=bad.replace("limits:", "requests:"))
        self.assertNotEqual(rc, 0)
        self.assertIn("Limit must be set for non overcommitable resources", out + err)
        rc, out, err = self.serve.cli("apply", "-f", "-", stdin=bad.replace("nvidia.com/gpu: 1", 'nvidia.com/gpu: "1.5"'))
        self.assertNotEqual(rc, 0)
        self.assertIn("limits[nvidia.com/gpu]: Invalid value: \"1.5\": must be an integer", out + err)


if __name__ == "__main__":
    unittest.main()
