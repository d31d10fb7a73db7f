"""Hostile nesting and damaged stores against a real `inferd serve` (issue 12).

Every JSON and YAML entry point refuses documents nested deeper than 64 levels with a 4xx or an error naming
the file (core/json_depth.h), and serve keeps answering; a store holding rows serve cannot use (invalid JSON,
50,000-deep JSON, unknown or wrong kinds) starts, serves the good objects and reports the bad ones.

Run by ctest with Debian's /usr/bin/python3. Environment: INFERD_BIN, INFERD_TEST_MODELS.
"""

import json
import os
import shutil
import sqlite3
import struct
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from serve_test import INFERD_BIN, IRIS, MODELS, ApplyMixin, Serve, is_ready  # noqa: E402

ISVCS = "/apis/serving.kserve.io/v1beta1/namespaces/default/inferenceservices"
ISVC_KEY = "inferenceservices.serving.kserve.io"
DEEP = 100000
TOO_DEEP = "nested deeper than 64 levels"


def nested(depth, inner=""):
    return "[" * depth + inner + "]" * depth


def deep_isvc_json(name, where):
    """An InferenceService with an array nested DEEP levels at `where`."""
    d = nested(DEEP)
    md = '{"name":"%s"%s}' % (name, ',"x":' + d if where == "metadata" else "")
    model = '{"modelFormat":{"name":"sklearn"},"storageUri":"file:///nowhere"%s}' % (
        ',"x":' + d if where == "spec" else "")
    return ('{"apiVersion":"serving.kserve.io/v1beta1","kind":"InferenceService","metadata":%s,'
            '"spec":{"predictor":{"model":%s}}%s}' % (md, model, ',"status":' + d if where == "status" else ""))


def deep_isvc_yaml(name, block):
    head = ("apiVersion: serving.kserve.io/v1beta1\nkind: InferenceService\nmetadata:\n  name: %s\n"
            "spec:\n  predictor:\n" % name)
    if block:
        return head + "    x:\n" + "    " + "- " * DEEP + "1\n"
    return head + "    x: " + nested(DEEP) + "\n"


class ServeDepthTest(ApplyMixin, unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="inferd-serve-depth-test-")
        cls.data_dir = os.path.join(cls.tmp, "data")
        cls.serve = Serve(cls.data_dir)
        cls.model = os.path.join(MODELS, "sklearn", "sklearn-iris-logreg")

    @classmethod
    def tearDownClass(cls):
        cls.serve.stop()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def ensure_iris(self):
        if self.serve.isvc("sklearn-iris") is None:
            self.apply("""
apiVersion: serving.kserve.io/v1beta1
kind: InferenceService
metadata:
  name: sklearn-iris
spec:
  predictor:
    model:
      modelFormat:
        name: sklearn
      storageUri: file://%s
""" % self.model)
        self.serve.wait_ready("sklearn-iris")

    def assert_serving(self):
        self.assertIsNone(self.serve.proc.poll(), self.serve.output())
        self.assertEqual(self.serve.api("GET", "/healthz").status_code, 200)
        r = self.serve.gw("POST", "/v1/models/sklearn-iris:predict", json={"instances": IRIS})
        self.assertEqual(r.status_code, 200, r.text)

    def test_01_deep_api_bodies_are_400(self):
        self.ensure_iris()
        api = self.serve.api
        merge = {"Content-Type": "application/merge-patch+json"}
        yaml_ct = {"Content-Type": "application/yaml"}
        for where in ("spec", "metadata", "status"):
            for method, path, headers in (("POST", ISVCS, {}), ("PUT", ISVCS + "/sklearn-iris", {}),
                                          ("PATCH", ISVCS + "/sklearn-iris", merge),
                                          ("PUT", ISVCS + "/sklearn-iris/status", {})):
                name = "deep" if method == "POST" else "sklearn-iris"
                r = api(method, path, data=deep_isvc_json(name, where).encode(), headers=dict(headers))
                self.assertEqual(r.status_code, 400, (where, method, path, r.text[:300]))
                self.assertIn(TOO_DEEP, r.json()["message"])
        for block in (False, True):
            for method, path in (("POST", ISVCS), ("PUT", ISVCS + "/sklearn-iris"), ("PATCH", ISVCS + "/sklearn-iris")):
                name = "deep" if method == "POST" else "sklearn-iris"
                r = api(method, path, data=deep_isvc_yaml(name, block).encode(), headers=dict(yaml_ct))
                self.assertEqual(r.status_code, 400, (block, method, r.text[:300]))
                self.assertIn(TOO_DEEP, r.json()["message"])
        self.assertIsNone(self.serve.isvc("deep"))
        self.assertEqual(self.serve.isvc("sklearn-iris")["metadata"]["generation"], 1)
        # The CLI refuses such files itself, naming the file, and exits with an error, not a signal.
        for suffix, text in ((".json", deep_isvc_json("deep", "spec")), (".yaml", deep_isvc_yaml("deep", True))):
            path = os.path.join(self.tmp, "deep" + suffix)
            with open(path, "w") as f:
                f.write(text)
            rc, out, err = self.serve.cli("apply", "-f", path)
            self.assertEqual(rc, 1, out + err)
            self.assertIn(path, err)
            self.assertIn(TOO_DEEP, err)
        # A merge key that includes itself (used to recurse until the stack ran out).
        rc, out, err = self.serve.cli("apply", "-f", "-", stdin="a: &a {<<: *a}\n")
        self.assertEqual(rc, 1, out + err)
        r = api("POST", ISVCS, data=b"metadata: &a {name: x, <<: *a}\n", headers=dict(yaml_ct))
        self.assertEqual(r.status_code, 400, r.text)
        self.assert_serving()

    def test_02_deep_inference_bodies_are_400(self):
        self.ensure_iris()
        gw = self.serve.gw
        v1 = "/v1/models/sklearn-iris:predict"
        v2 = "/v2/models/sklearn-iris/infer"
        bodies = [
            (v1, '{"instances":%s}' % nested(DEEP, "1"), {}),
            (v1, '{"instances":[{"b64":%s}]}' % nested(DEEP), {}),
            (v2, '{"inputs":[{"name":"input-0","shape":[1,4],"datatype":"FP32","data":%s}]}' % nested(DEEP, "1"), {}),
            (v2, '{"parameters":{"p":%s},"inputs":[]}' % nested(DEEP), {}),
            (v2, '{"inputs":[{"name":"input-0","shape":[1,4],"datatype":"FP32","data":[1,2,3,4],'
                 '"parameters":{"p":%s}}]}' % ('{"a":' * DEEP + "1" + "}" * DEEP), {}),
        ]
        header = ('{"parameters":{"p":%s},"inputs":[{"name":"input-0","shape":[1,4],"datatype":"FP32",'
                  '"parameters":{"binary_data_size":16}}]}' % nested(DEEP))
        bodies.append((v2, header + struct.pack("<4f", 1, 2, 3, 4).decode("latin-1"),
                       {"Inference-Header-Content-Length": str(len(header)),
                        "Content-Type": "application/octet-stream"}))
        for path, body, headers in bodies:
            r = gw("POST", path, data=body.encode("latin-1"), headers=headers)
            self.assertEqual(r.status_code, 400, (path, body[:80], r.text[:300]))
            self.assertIn(TOO_DEEP, r.text)
        self.assert_serving()

    def test_03_deep_model_settings_fail_the_load_with_the_file_named(self):
        model_dir = os.path.join(self.tmp, "deep-settings")
        os.makedirs(model_dir, exist_ok=True)
        shutil.copy(os.path.join(MODELS, "xgb_iris_softprob", "model.json"), model_dir)
        with open(os.path.join(model_dir, "model-settings.json"), "w") as f:
            f.write('{"max_batch_size": 4, "parameters": %s}' % nested(DEEP))
        self.apply("""
apiVersion: serving.kserve.io/v1beta1
kind: InferenceService
metadata:
  name: deep-settings
spec:
  predictor:
    xgboost:
      storageUri: file://%s
""" % model_dir)
        obj = self.serve.wait(
            "deep-settings", lambda o: "lastFailureInfo" in o.get("status", {}).get("modelStatus", {}),
            what="a load failure")
        msg = obj["status"]["modelStatus"]["lastFailureInfo"]["message"]
        self.assertIn("model-settings.json: " + TOO_DEEP, msg)
        self.assertFalse(is_ready(obj))
        self.assertEqual(self.serve.cli("delete", "isvc", "deep-settings")[0], 0)
        self.ensure_iris()
        self.assert_serving()

    def test_04_deep_serve_config_is_a_clear_error(self):
        for i, text in enumerate(("autoscaler:\n  stable-window: %s\n" % nested(DEEP),
                                  "autoscaler:\n" + "  " + "- " * DEEP + "x\n")):
            path = os.path.join(self.tmp, "deep-config-%d.yaml" % i)
            with open(path, "w") as f:
                f.write(text)
            p = subprocess.run([INFERD_BIN, "serve", "--config", path, "--data_dir", os.path.join(self.tmp, "unused"),
                                "--http_port", "0", "--grpc_port", "0", "--api_port", "0"],
                               capture_output=True, text=True, timeout=60)
            self.assertGreater(p.returncode, 0, p.stdout + p.stderr)  # an error exit, not a signal
            self.assertIn(path + ":", p.stdout + p.stderr)
            self.assertIn("nested too deep", p.stdout + p.stderr)

    def test_05_bad_store_rows_are_quarantined_and_the_rest_is_served(self):
        self.ensure_iris()
        self.serve.stop()
        deep_text = json.dumps({"apiVersion": "serving.kserve.io/v1beta1", "kind": "InferenceService",
                                "metadata": {"name": "deep", "namespace": "default", "resourceVersion": "1"},
                                "spec": {"predictor": {"model": {"modelFormat": {"name": "sklearn"}}}}})
        deep_text = deep_text[:-2] + ', "x": ' + nested(50000) + "}}"
        invalid_spec = json.dumps({"apiVersion": "serving.kserve.io/v1beta1", "kind": "InferenceService",
                                   "metadata": {"name": "two-impls", "namespace": "default", "generation": 1},
                                   "spec": {"predictor": {"sklearn": {"storageUri": "file:///a"},
                                                          "xgboost": {"storageUri": "file:///b"}}}})
        rows = [
            (ISVC_KEY, "default", "broken", '{"apiVersion": "serving.kserve.io/v1beta1", "kind": '),
            (ISVC_KEY, "default", "deep", deep_text),
            (ISVC_KEY, "default", "wrong-kind", json.dumps(
                {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "wrong-kind", "namespace": "default"}})),
            ("widgets.example.com", "default", "w", json.dumps(
                {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w", "namespace": "default"}})),
            (ISVC_KEY, "default", "two-impls", invalid_spec),
        ]
        db = sqlite3.connect(os.path.join(self.data_dir, "inferd.db"))
        for resource, ns, name, text in rows:
            db.execute("INSERT OR REPLACE INTO objects (resource, namespace, name, json, resource_version) "
                       "VALUES (?, ?, ?, ?, 1000)", (resource, ns, name, text))
        db.commit()
        db.close()

        for restart in range(2):  # the second start finds the quarantine done and starts as usual
            if restart:
                self.serve.stop()  # else the first restart's serve outlives the test
            type(self).serve = Serve(self.data_dir)
            self.serve.wait_ready("sklearn-iris")
            self.assert_serving()
            q = self.serve.api("GET", "/inferd/v1/quarantine")
            self.assertEqual(q.status_code, 200, q.text)
            reasons = {item["name"]: item["reason"] for item in q.json()["items"]}
            self.assertEqual(sorted(reasons), ["broken", "deep", "w", "wrong-kind"], q.text)
            self.assertIn("not valid JSON", reasons["broken"])
            self.assertIn(TOO_DEEP, reasons["deep"])
            self.assertIn("apiVersion/kind", reasons["wrong-kind"])
            self.assertIn("widgets.example.com", reasons["w"])
            if restart == 0:
                self.assertIn("quarantined", self.serve.output())
            # Reading a quarantined name says why it is gone; the CLI shows it and exits 1.
            r = self.serve.api("GET", ISVCS + "/deep")
            self.assertEqual(r.status_code, 404)
            self.assertIn("quarantined", r.json()["message"])
            rc, out, err = self.serve.cli("get", "isvc", "deep")
            self.assertEqual(rc, 1, out + err)
            self.assertIn("quarantined", err)
            # A spec the validator refuses is no store damage: it stays, not Ready, with the reason.
            obj = self.serve.wait("two-impls", lambda o: any(
                c.get("type") == "Ready" and c.get("status") == "False" for c in o.get("status", {}).get("conditions", [])),
                what="Ready False")
            self.assertIn("InvalidPredictorSpec", json.dumps(obj["status"]))
            rc, out, err = self.serve.cli("describe", "isvc", "two-impls")
            self.assertEqual(rc, 0, out + err)
        # One Warning event per quarantined row, from the first start.
        evs = self.serve.api("GET", "/api/v1/namespaces/default/events").json()["items"]
        quarantined = [e for e in evs if e.get("reason") == "Quarantined"]
        self.assertEqual(sorted(e["involvedObject"]["name"] for e in quarantined), ["broken", "deep", "w", "wrong-kind"])
        self.assertTrue(all(e["type"] == "Warning" for e in quarantined))
        # The names can be used again.
        self.apply("""
apiVersion: serving.kserve.io/v1beta1
kind: InferenceService
metadata:
  name: deep
spec:
  predictor:
    model:
      modelFormat:
        name: sklearn
      storageUri: file://%s
""" % self.model)
        self.serve.wait_ready("deep")
        self.assertEqual(self.serve.cli("delete", "isvc", "deep")[0], 0)
        self.assertEqual(self.serve.cli("delete", "isvc", "two-impls")[0], 0)


if __name__ == "__main__":
    unittest.main(verbosity=2)
