"""Every kind the API serves survives a restart of `inferd serve` (regression: Secrets and ServiceAccounts were
quarantined at start as 'no resource type is served' because the quarantine check had its own, shorter list of
kinds; it now reads api/kinds.h's table). Run with /usr/bin/python3; needs INFERD_BIN.
"""
import os
import shutil
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import serve_test  # noqa: E402

OBJECTS = [
    ("/api/v1/namespaces/default/secrets", {"metadata": {"name": "s"}, "stringData": {"a": "b"}}),
    ("/api/v1/namespaces/default/serviceaccounts", {"metadata": {"name": "sa"}}),
    ("/apis/serving.kserve.io/v1alpha1/namespaces/default/servingruntimes",
     {"metadata": {"name": "rt"}, "spec": {"supportedModelFormats": [{"name": "sklearn"}],
                                           "containers": [{"name": "kserve-container", "image": "x"}]}}),
    ("/apis/serving.kserve.io/v1alpha1/namespaces/default/inferencegraphs",
     {"metadata": {"name": "g"}, "spec": {"nodes": {"root": {"routerType": "Sequence",
                                                             "steps": [{"serviceName": "x"}]}}}}),
    ("/apis/serving.kserve.io/v1alpha1/namespaces/default/trainedmodels",
     {"metadata": {"name": "tm"}, "spec": {"inferenceService": "x", "model": {
         "storageUri": "s3://b/m", "framework": "sklearn", "memory": "1Gi"}}}),
]


class RestartKeepsEveryKind(unittest.TestCase):
    def test_objects_survive_a_restart(self):
        tmp = tempfile.mkdtemp(prefix="inferd-restart-kinds-")
        data = os.path.join(tmp, "data")
        try:
            serve = serve_test.Serve(data)
            try:
                for path, obj in OBJECTS:
                    r = serve.api("POST", path, json=obj)
                    self.assertEqual(r.status_code, 201, r.text)
            finally:
                serve.stop()
            serve = serve_test.Serve(data)
            try:
                for path, obj in OBJECTS:
                    r = serve.api("GET", path + "/" + obj["metadata"]["name"])
                    self.assertEqual(r.status_code, 200, "%s after a restart: %s" % (path, r.text))
                self.assertEqual(serve.api("GET", "/inferd/v1/quarantine").json()["items"], [])
            finally:
                serve.stop()
        finally:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    unittest.main()
