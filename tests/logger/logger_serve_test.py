"""The payload logger and batcher through a real `inferd serve`: an InferenceService's `logger:` reaches its
`inferd model-server` replica (events at a real python sink carry the service's name, namespace and component,
the metadata headers and annotations), `inferd describe` shows the batcher and the logger, and a logger on a
replica that is not inferd model-server leaves the service not Ready with a reason naming the field.

Run by ctest with Debian's /usr/bin/python3. Environment: INFERD_BIN, INFERD_TEST_MODELS.
"""

import json
import os
import shutil
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "control"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from logger_sink_test import Sink  # noqa: E402
from serve_test import ApplyMixin, Serve  # noqa: E402

MODELS = os.environ.get("INFERD_TEST_MODELS", "")
IRIS = os.path.join(MODELS, "xgb_iris_softprob")


@unittest.skipUnless(os.path.isdir(IRIS), "test models not built")
class LoggerThroughServe(ApplyMixin, unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="inferd-logger-serve-")
        cls.sink = Sink()
        cls.serve = Serve(os.path.join(cls.tmp, "data"))

    @classmethod
    def tearDownClass(cls):
        cls.serve.stop()
        cls.sink.close()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def test_logger_reaches_the_replica(self):
        self.apply("""
apiVersion: serving.kserve.io/v1beta1
kind: InferenceService
metadata:
  name: logged
  annotations: {team: vision}
spec:
  predictor:
    logger:
      mode: all
      url: %s
      metadataHeaders: [X-Tenant]
      metadataAnnotations: [team]
    batcher: {maxBatchSize: 8, maxLatency: 2}
    model:
      modelFormat: {name: xgboost}
      storageUri: file://%s
""" % (self.sink.url, IRIS))
        self.serve.wait_ready("logged")
        r = self.serve.gw("POST", "/v1/models/logged:predict", host="logged.default.example.com",
                          data=json.dumps({"instances": [[6.8, 2.8, 4.8, 1.4]]}),
                          headers={"Content-Type": "application/json", "X-Tenant": "acme", "Ce-Id": "e2e-1"})
        self.assertEqual(r.status_code, 200, r.text)
        events = [e for e in self.sink.wait(2) if e[0].get("ce-id") == "e2e-1"]
        deadline = time.time() + 30
        while len(events) < 2 and time.time() < deadline:
            time.sleep(0.1)
            events = [e for e in self.sink.events if e[0].get("ce-id") == "e2e-1"]
        self.assertEqual(sorted(h["ce-type"] for h, _ in events),
                         ["org.kubeflow.serving.inference.request", "org.kubeflow.serving.inference.response"])
        for h, _ in events:
            self.assertEqual(h["ce-inferenceservicename"], "logged")
            self.assertEqual(h["ce-namespace"], "default")
            self.assertEqual(h["ce-component"], "predictor")
            self.assertEqual(json.loads(h["ce-metadata"]), {"X-Tenant": ["acme"]})
            self.assertEqual(json.loads(h["ce-annotations"]), {"team": "vision"})
        resp = [b for h, b in events if h["ce-type"].endswith("response")][0]
        self.assertEqual(json.loads(resp), r.json())
        rc, out, err = self.serve.cli("describe", "isvc", "logged")
        self.assertEqual(rc, 0, err)
        self.assertIn("maxBatchSize 8, maxLatency 2 ms", out)
        self.assertIn("mode all to " + self.sink.url + " (metadataHeaders: X-Tenant)", out)

    def test_logger_on_a_custom_command_is_not_ready(self):
        self.apply("""
apiVersion: serving.kserve.io/v1beta1
kind: InferenceService
metadata:
  name: custom-logged
spec:
  predictor:
    logger: {mode: all, url: %s}
    containers:
      - name: kserve-container
        command: ["/usr/bin/python3", "-c", "import time; time.sleep(600)"]
""" % self.sink.url)

        def refused(o):
            return any("predictor.logger" in c.get("message", "") and c.get("status") == "False"
                       for c in o.get("status", {}).get("conditions", []))

        obj = self.serve.wait("custom-logged", refused, what="a condition naming predictor.logger")
        self.assertFalse(any(c["type"] == "Ready" and c["status"] == "True" for c in obj["status"]["conditions"]))


if __name__ == "__main__":
    unittest.main()
