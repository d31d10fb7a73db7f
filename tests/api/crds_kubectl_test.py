"""The real kubectl against `inferd serve`: plain `kubectl apply -f` (validation "strict", no --validate=false)
finds /openapi/v3, sends fieldValidation=Strict, and the API answers as a cluster with inferd's CRDs would:
KServe's samples apply, a typo'd field is a strict-decoding error naming its path, a wrong type/enum/bound is
`The InferenceService "x" is invalid: <field>: ...`, and with --validate=false an unknown field is pruned and
reported as a Warning when the request asks for warnings (--validate=warn; --validate=false sends
fieldValidation=Ignore: pruned silently, as on a cluster).

The InferenceService samples are KServe's docs/samples/v1beta1/sklearn/v1/sklearn.yaml,
docs/samples/v1beta1/xgboost/xgboost.yaml and docs/samples/v1beta1/sklearn/v2/sklearn.yaml (kserve/kserve), as
they are; the ClusterServingRuntime is shaped like KServe's
config/runtimes/kserve-sklearnserver.yaml. Run by ctest with /usr/bin/python3 (needs kubectl; skips without).
"""
import os
import shutil
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "util"))
import kube_fixture  # noqa: E402

SKLEARN = """\
apiVersion: "serving.kserve.io/v1beta1"
kind: "InferenceService"
metadata:
  name: "sklearn-iris"
spec:
  predictor:
    sklearn:
      storageUri: "gs://kfserving-examples/models/sklearn/1.0/model"
"""

XGBOOST = """\
apiVersion: "serving.kserve.io/v1beta1"
kind: "InferenceService"
metadata:
  name: "xgboost-iris"
spec:
  predictor:
    xgboost:
      protocolVersion: "v2"
      storageUri: "gs://kfserving-examples/models/xgboost/iris"
"""

SKLEARN_V2 = """\
apiVersion: "serving.kserve.io/v1beta1"
kind: "InferenceService"
metadata:
  name: "sklearn-irisv2"
spec:
  predictor:
    sklearn:
      protocolVersion: v2
      storageUri: "gs://seldon-models/sklearn/iris"
"""

RUNTIME = """\
apiVersion: serving.kserve.io/v1alpha1
kind: ClusterServingRuntime
metadata:
  name: inferd-sklearn-test
spec:
  annotations:
    prometheus.kserve.io/port: '8080'
  supportedModelFormats:
    - name: sklearn
      version: "1"
      autoSelect: false
      priority: 1
  protocolVersions: [v1, v2]
  containers:
    - name: kserve-container
      image: inferd:latest
      args: ["--model_name={{.Name}}", "--model_dir=/mnt/models", "--http_port=8080"]
      securityContext:
        runAsNonRoot: true
      resources:
        requests: {cpu: "1", memory: 2Gi}
        limits: {cpu: "1", memory: 2Gi}
"""


def isvc(name, predictor_yaml):
    return ("apiVersion: serving.kserve.io/v1beta1\nkind: InferenceService\nmetadata:\n  name: %s\n"
            "spec:\n  predictor:\n%s" % (name, predictor_yaml))


@unittest.skipUnless(os.path.exists(kube_fixture.KUBECTL), "kubectl is not installed")
class CrdsKubectlTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="crds-kubectl-test.")
        cls.kube = kube_fixture.KubeServe(os.path.join(cls.tmp, "data"))

    @classmethod
    def tearDownClass(cls):
        cls.kube.stop()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def write(self, name, text):
        path = os.path.join(self.tmp, name)
        with open(path, "w") as f:
            f.write(text)
        return path

    def kubectl(self, *args):
        return self.kube.kubectl(*args)

    def test_plain_apply_of_kserve_samples(self):
        for fname, text, name in (("sklearn.yaml", SKLEARN, "sklearn-iris"), ("xgboost.yaml", XGBOOST, "xgboost-iris"),
                                  ("sklearn-v2.yaml", SKLEARN_V2, "sklearn-irisv2")):
            path = self.write(fname, text)
            r = self.kubectl("apply", "-f", path)
            self.assertEqual(r.returncode, 0, r.stderr + self.kube.output())
            self.assertIn("inferenceservice.serving.kserve.io/%s created" % name, r.stdout)
            self.assertNotIn("Warning", r.stderr)
            self.assertNotIn("validate", r.stderr)
            # The same file again: nothing to change.
            r = self.kubectl("apply", "-f", path)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertIn("unchanged", r.stdout)
        r = self.kubectl("get", "inferenceservices", "sklearn-irisv2", "-o", "jsonpath={.spec.predictor.sklearn.protocolVersion}")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout, "v2")
        r = self.kubectl("apply", "-f", self.write("runtime.yaml", RUNTIME))
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("clusterservingruntime.serving.kserve.io/inferd-sklearn-test created", r.stdout)

    def test_typo_is_a_strict_decoding_error_naming_the_path(self):
        path = self.write("typo.yaml", isvc("typo", "    sklearn:\n      storageUrl: gs://b/m\n"))
        r = self.kubectl("apply", "-f", path)
        self.assertNotEqual(r.returncode, 0, r.stdout)
        self.assertIn('strict decoding error: unknown field "spec.predictor.sklearn.storageUrl"', r.stderr)
        self.assertIn("Error from server (BadRequest)", r.stderr)
        r = self.kubectl("get", "inferenceservices", "typo")
        self.assertEqual(r.returncode, 1, "nothing was created")
        self.assertIn("NotFound", r.stderr)
        # On an existing object the typo arrives in a merge patch, refused the same way.
        ok = self.write("typo2.yaml", isvc("typo2", "    sklearn:\n      storageUri: gs://b/m\n"))
        self.assertEqual(self.kubectl("apply", "-f", ok).returncode, 0)
        bad = self.write("typo2.yaml", isvc("typo2", "    sklearn:\n      storageUri: gs://b/m\n    minReplica: 1\n"))
        r = self.kubectl("apply", "-f", bad)
        self.assertNotEqual(r.returncode, 0, r.stdout)
        self.assertIn('strict decoding error: unknown field "spec.predictor.minReplica"', r.stderr)

    def test_wrong_values_are_invalid_with_field_paths(self):
        cases = [
            ("bad-min", "    minReplicas: -1\n",
             'The InferenceService "bad-min" is invalid: spec.predictor.minReplicas: Invalid value: -1: '
             'spec.predictor.minReplicas in body should be greater than or equal to 0'),
            ("bad-type", "    maxReplicas: lots\n",
             'The InferenceService "bad-type" is invalid: spec.predictor.maxReplicas: Invalid value: "lots": '
             'spec.predictor.maxReplicas in body must be of type integer: "string"'),
            ("bad-enum", "    scaleMetric: gpu\n",
             'The InferenceService "bad-enum" is invalid: spec.predictor.scaleMetric: Unsupported value: "gpu": '
             'supported values: "cpu", "memory", "concurrency", "rps"'),
            ("bad-canary", "    canaryTrafficPercent: 120\n",
             "spec.predictor.canaryTrafficPercent: Invalid value: 120: "
             "spec.predictor.canaryTrafficPercent in body should be less than or equal to 100"),
        ]
        for name, extra, want in cases:
            path = self.write(name + ".yaml", isvc(name, "    sklearn:\n      storageUri: gs://b/m\n" + extra))
            r = self.kubectl("apply", "-f", path)
            self.assertNotEqual(r.returncode, 0, r.stdout)
            self.assertIn(want, r.stderr)
        path = self.write("no-format.yaml", isvc("no-format", "    model:\n      storageUri: gs://b/m\n"
                                                               "      modelFormat: {version: '1'}\n"))
        r = self.kubectl("apply", "-f", path)
        self.assertIn('The InferenceService "no-format" is invalid: spec.predictor.model.modelFormat.name: '
                      'Required value', r.stderr)

    def test_validate_false_prunes_and_warn_warns(self):
        # kubectl sends fieldValidation=Ignore for --validate=false: the field is pruned, nothing is printed.
        path = self.write("extra.yaml", isvc("extra", "    sklearn:\n      storageUri: gs://b/m\n    foo: 1\n"))
        r = self.kubectl("apply", "--validate=false", "-f", path)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertNotIn("Warning", r.stderr)
        self.assertIn("inferenceservice.serving.kserve.io/extra created", r.stdout)
        r = self.kubectl("get", "inferenceservices", "extra", "-o", "json")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertNotIn('"foo"', r.stdout.split('"spec"', 1)[1])
        # --validate=warn sends fieldValidation=Warn: pruned and reported; kubectl prints the Warning header.
        path = self.write("extra2.yaml", isvc("extra2", "    sklearn:\n      storageUri: gs://b/m\n    bar: 1\n"))
        r = self.kubectl("apply", "--validate=warn", "-f", path)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn('Warning: unknown field "spec.predictor.bar"', r.stderr)

    def test_inferd_apply_prints_the_warnings(self):
        # `inferd apply` (Warn by default) prints each pruned field once, as kubectl prints Warning headers;
        # a quote in a field name survives the header's escaping.
        text = isvc("cli-extra", '    sklearn:\n      storageUri: gs://b/m\n    foo: 1\n    \'b"ar\': 2\n')
        rc, out, err = self.kube.cli("apply", "-f", "-", stdin=text)
        self.assertEqual(rc, 0, err)
        self.assertIn("cli-extra created", out)
        self.assertEqual(err.count('Warning: unknown field "spec.predictor.foo"'), 1, err)
        self.assertIn('Warning: unknown field "spec.predictor.b\\"ar"', err)


if __name__ == "__main__":
    unittest.main()
