"""End-to-end tests of model storage in `inferd serve`: KServe's credentials (Secret, ServiceAccount,
serviceAccountName, the serving.kserve.io/s3-* annotations, a GCS service-account key, the storage spec
with its storage-config Secret) against a local fake object store that checks SigV4 signatures and
service-account JWTs; a failed download's condition; a gzip bomb; the cache collected after deletes.

Run by ctest with Debian's /usr/bin/python3 (requests, cryptography). Environment as serve_test.py.
"""

import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import serve_test as st  # noqa: E402  (Serve, helpers)

ACCESS_KEY = "AKIDSTORAGETEST"
SECRET_KEY = "s3cr3t/Value+Never-Logged"
REGION = "eu-west-1"
GCS_TOKEN = "ya29.e2e-service-account-token"
IRIS = [[6.8, 2.8, 4.8, 1.4], [6.0, 3.4, 4.5, 1.6]]


def condition(obj, ctype):
    for c in obj.get("status", {}).get("conditions", []):
        if c.get("type") == ctype:
            return c
    return {}


class Zeros:
    """A file object of `n` zero bytes (a gzip bomb's content, never held in memory)."""

    def __init__(self, n):
        self.left = n

    def read(self, size=-1):
        size = self.left if size < 0 else min(size, self.left)
        self.left -= size
        return b"\0" * size


def start_store(tmp):
    """The fake object store (tests/storage/fake_object_store.py) with an xgboost model in an S3 bucket and a
    GCS bucket, a gzip bomb over plain HTTP, and a service-account key whose public half its /token checks.
    Returns (process, "127.0.0.1:port", the key's private PEM)."""
    root = os.path.join(tmp, "store")
    model = os.path.join(st.MODELS, "xgb_iris_softprob", "model.json")
    for rel in ("s3/models/xgb/model.json", "gcs/saprivbucket/xgb/model.json"):
        os.makedirs(os.path.dirname(os.path.join(root, rel)), exist_ok=True)
        shutil.copy(model, os.path.join(root, rel))
    os.makedirs(os.path.join(root, "http"))
    with tarfile.open(os.path.join(root, "http", "bomb.tar.gz"), "w:gz") as t:
        info = tarfile.TarInfo("model.json")
        info.size = 64 << 20
        t.addfile(info, Zeros(info.size))
    os.makedirs(os.path.join(root, "gcs-sa"))
    key_pem = os.path.join(tmp, "sa.pem")
    subprocess.run(["openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", key_pem],
                   check=True, capture_output=True)
    subprocess.run(["openssl", "pkey", "-in", key_pem, "-pubout", "-out", os.path.join(root, "gcs-sa", "pubkey.pem")],
                   check=True, capture_output=True)
    with open(key_pem) as f:
        private_pem = f.read()
    proc = subprocess.Popen(
        ["/usr/bin/python3", os.path.join(st.g.SOURCE_DIR, "tests", "storage", "fake_object_store.py"),
         "--root", root, "--access-key", ACCESS_KEY, "--secret", SECRET_KEY, "--region", REGION,
         "--gcs-private", "saprivbucket=" + GCS_TOKEN, "--gcs-sa-token", GCS_TOKEN],
        stdout=subprocess.PIPE, text=True)
    port = int(proc.stdout.readline())
    return proc, "127.0.0.1:%d" % port, private_pem


def start_serve(data_dir, env, args):
    """inferd serve with `env` added to its environment."""
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        return st.Serve(data_dir, args)
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def cache_entries(data_dir):
    return [e for e in os.listdir(os.path.join(data_dir, "models")) if not e.startswith(".")]


class ServeStorageTest(st.ApplyMixin, unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="inferd-serve-storage-")
        cls.store, cls.endpoint, cls.private_pem = start_store(cls.tmp)
        # inferd serve's own environment points at the store with a WRONG secret: only a service's own
        # Secrets can make its S3 download work.
        env = {"S3_ENDPOINT": cls.endpoint, "S3_USE_HTTPS": "0", "AWS_ACCESS_KEY_ID": ACCESS_KEY,
               "AWS_SECRET_ACCESS_KEY": "wrong-secret", "AWS_REGION": REGION,
               "GCS_ENDPOINT": "http://" + cls.endpoint}
        cls.data_dir = os.path.join(cls.tmp, "data")
        cls.serve = start_serve(cls.data_dir, env, ["--storage_max_unpacked_bytes", "4MiB",
                                                    "--storage_gc_interval_s", "1"])

    @classmethod
    def tearDownClass(cls):
        cls.serve.stop()
        cls.store.terminate()
        cls.store.wait()
        cls.store.stdout.close()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def predict(self, name):
        r = self.serve.gw("POST", "/v1/models/%s:predict" % name, json={"instances": IRIS})
        self.assertEqual(r.status_code, 200, r.text)
        self.assertEqual(len(r.json()["predictions"]), 2)

    def wait_condition(self, name, reason, timeout=60):
        return self.serve.wait(name, lambda o: condition(o, "PredictorReady").get("reason") == reason, timeout,
                               "PredictorReady reason " + reason)

    def s3_secret_yaml(self, name):
        return """
apiVersion: v1
kind: Secret
metadata:
  name: %s
  annotations:
    serving.kserve.io/s3-endpoint: %s
    serving.kserve.io/s3-usehttps: "0"
    serving.kserve.io/s3-region: %s
type: Opaque
stringData:
  AWS_ACCESS_KEY_ID: %s
  AWS_SECRET_ACCESS_KEY: %s
""" % (name, self.endpoint, REGION, ACCESS_KEY, SECRET_KEY)

    # ---- S3 with KServe's Secret + ServiceAccount ------------------------------------------------
    def test_01_s3_credentials_from_a_service_account(self):
        out = self.apply(self.s3_secret_yaml("s3creds") + """
---
apiVersion: v1
kind: ServiceAccount
metadata:
  name: loader
secrets:
- name: s3creds
---
apiVersion: serving.kserve.io/v1beta1
kind: InferenceService
metadata:
  name: s3-xgb
spec:
  predictor:
    serviceAccountName: loader
    xgboost:
      storageUri: s3://models/xgb
""")
        self.assertIn("secret/s3creds created", out)
        self.assertIn("serviceaccount/loader created", out)
        self.serve.wait_ready("s3-xgb")
        self.predict("s3-xgb")
        # The CLI shows Secrets as kubectl does: never the values.
        rc, out, err = self.serve.cli("get", "secrets")
        self.assertEqual(rc, 0, err)
        self.assertRegex(out, r"s3creds\s+Opaque\s+2")
        rc, out, err = self.serve.cli("describe", "secret", "s3creds")
        self.assertEqual(rc, 0, err)
        self.assertIn("AWS_SECRET_ACCESS_KEY:  %d bytes" % len(SECRET_KEY), out)
        self.assertNotIn(SECRET_KEY, out)
        rc, out, err = self.serve.cli("get", "sa")
        self.assertRegex(out, r"loader\s+1")
        # Applying the same Secret again changes nothing (stringData compares as the stored data).
        self.assertIn("unchanged", self.apply(self.s3_secret_yaml("s3creds")))

    def test_02_missing_service_account_is_a_condition_until_it_exists(self):
        self.apply("""
apiVersion: serving.kserve.io/v1beta1
kind: InferenceService
metadata:
  name: s3-late
spec:
  predictor:
    serviceAccountName: late-sa
    xgboost:
      storageUri: s3://models/xgb
""")
        obj = self.wait_condition("s3-late", "StorageCredentialsNotFound")
        self.assertIn('serviceaccount "late-sa"', condition(obj, "PredictorReady")["message"])
        self.assertEqual(condition(obj, "Ready")["status"], "False")
        # A ServiceAccount naming a Secret that is not there yet: the Secret is named.
        self.apply("""
apiVersion: v1
kind: ServiceAccount
metadata:
  name: late-sa
secrets:
- name: late-secret
""")
        obj = self.serve.wait("s3-late", lambda o: 'secret "late-secret"' in condition(o, "PredictorReady").get(
            "message", ""), 30, "the missing Secret named")
        self.assertEqual(condition(obj, "PredictorReady")["reason"], "StorageCredentialsNotFound")
        self.apply(self.s3_secret_yaml("late-secret"))
        self.serve.wait_ready("s3-late")
        self.predict("s3-late")

    def test_03_failed_download_says_failed(self):
        # No ServiceAccount: inferd serve's environment, whose secret is wrong.
        self.apply("""
apiVersion: serving.kserve.io/v1beta1
kind: InferenceService
metadata:
  name: s3-denied
spec:
  predictor:
    xgboost:
      storageUri: s3://models/xgb
""")
        obj = self.wait_condition("s3-denied", "DownloadFailed")
        c = condition(obj, "PredictorReady")
        self.assertEqual(c["status"], "False")
        self.assertIn("SignatureDoesNotMatch", c["message"])
        self.assertRegex(c["message"], r"attempt \d+ failed")
        self.assertEqual(condition(obj, "Ready")["reason"], "DownloadFailed")
        self.assertEqual(obj["status"]["inferd"]["storage"]["state"], "Failed")
        self.assertEqual(obj["status"]["modelStatus"]["lastFailureInfo"]["reason"], "ModelLoadFailed")
        self.assertEqual(self.serve.cli("delete", "isvc", "s3-denied")[0], 0)

    def test_04_gzip_bomb_is_refused_naming_the_flag(self):
        self.apply("""
apiVersion: serving.kserve.io/v1beta1
kind: InferenceService
metadata:
  name: bomb
spec:
  predictor:
    xgboost:
      storageUri: http://%s/http/bomb.tar.gz
""" % self.endpoint)
        obj = self.wait_condition("bomb", "DownloadFailed")
        msg = condition(obj, "PredictorReady")["message"]
        self.assertIn("--storage_max_unpacked_bytes", msg)
        self.assertIn("4.0 MiB", msg)
        models = os.path.join(self.data_dir, "models")
        self.assertEqual([e for e in os.listdir(models) if e.startswith(".tmp-")], [])
        self.assertEqual(self.serve.cli("delete", "isvc", "bomb")[0], 0)

    def test_05_gcs_service_account_key(self):
        key = json.dumps({"type": "service_account", "project_id": "p", "private_key_id": "k1",
                          "private_key": self.private_pem, "client_email": "loader@p.iam.gserviceaccount.com",
                          "token_uri": "http://%s/token" % self.endpoint})
        r = self.serve.api("POST", "/api/v1/namespaces/default/secrets",
                           json={"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "gcs-key"},
                                 "stringData": {"gcloud-application-credentials.json": key}})
        self.assertEqual(r.status_code, 201, r.text)
        self.apply("""
apiVersion: v1
kind: ServiceAccount
metadata:
  name: gcs-loader
secrets:
- name: gcs-key
---
apiVersion: serving.kserve.io/v1beta1
kind: InferenceService
metadata:
  name: gcs-xgb
spec:
  predictor:
    serviceAccountName: gcs-loader
    xgboost:
      storageUri: gs://saprivbucket/xgb
""")
        self.serve.wait_ready("gcs-xgb")
        self.predict("gcs-xgb")

    def test_06_storage_spec_with_storage_config(self):
        entry = json.dumps({"type": "s3", "access_key_id": ACCESS_KEY, "secret_access_key": SECRET_KEY,
                            "endpoint_url": "http://" + self.endpoint, "bucket": "models", "region": REGION})
        r = self.serve.api("POST", "/api/v1/namespaces/default/secrets",
                           json={"metadata": {"name": "storage-config"}, "stringData": {"localMinIO": entry}})
        self.assertEqual(r.status_code, 201, r.text)
        self.apply("""
apiVersion: serving.kserve.io/v1beta1
kind: InferenceService
metadata:
  name: spec-xgb
spec:
  predictor:
    model:
      modelFormat:
        name: xgboost
      storage:
        key: localMinIO
        path: xgb
""")
        obj = self.serve.wait_ready("spec-xgb")
        self.assertEqual(obj["status"]["inferd"]["storage"]["uri"], "s3://models/xgb")
        self.predict("spec-xgb")
        # What inferd cannot do with a storage spec is refused at apply, naming the field.
        rc, out, err = self.serve.cli("apply", "-f", "-", stdin="""
apiVersion: serving.kserve.io/v1beta1
kind: InferenceService
metadata:
  name: spec-hdfs
spec:
  predictor:
    model:
      modelFormat:
        name: xgboost
      storage:
        path: m
        parameters:
          type: hdfs
""")
        self.assertNotEqual(rc, 0)
        self.assertIn("spec.predictor.model.storage.parameters.type", err)

    def test_90_secret_values_never_in_logs_events_or_status(self):
        events = self.serve.api("GET", "/api/v1/namespaces/default/events").text
        statuses = self.serve.api("GET", "/apis/serving.kserve.io/v1beta1/namespaces/default/inferenceservices").text
        for where, text in (("serve output", "".join(self.serve.lines)), ("events", events), ("status", statuses)):
            self.assertNotIn(SECRET_KEY, text, where)
            self.assertNotIn("PRIVATE KEY", text, where)
            self.assertNotIn(GCS_TOKEN, text, where)

    def test_99_cache_collected_after_the_services_go(self):
        models = os.path.join(self.data_dir, "models")
        entries = cache_entries(self.data_dir)
        self.assertGreaterEqual(len(entries), 3, entries)  # s3 via the account, gcs, storage spec
        for name in ("s3-xgb", "s3-late", "gcs-xgb", "spec-xgb"):
            self.assertEqual(self.serve.cli("delete", "isvc", name)[0], 0)
        deadline = time.time() + 30
        left = entries
        while time.time() < deadline:
            left = [e for e in os.listdir(models) if not e.startswith(".tmp-")]
            if not left:
                break
            time.sleep(0.1)
        self.assertEqual(left, [], "cache entries (or trash) left after every service was deleted:\n" +
                         self.serve.output())
        self.assertIn("storage: cache: removed", self.serve.output())
        rc, out, err = self.serve.cli("delete", "secret", "s3creds", "late-secret")
        self.assertEqual(rc, 0, err)
        self.assertIn('secret "s3creds" deleted', out)
        rc, out, err = self.serve.cli("delete", "sa", "loader")
        self.assertEqual(rc, 0, err)
        self.assertIn('serviceaccount "loader" deleted', out)
        self.assertEqual(self.serve.api("GET", "/api/v1/namespaces/default/secrets/s3creds").status_code, 404)


class CacheBudgetTest(st.ApplyMixin, unittest.TestCase):
    """A cache budget smaller than one model: the entry of a revision at zero is collected, and a request
    that wakes the revision fetches it again before the replica starts (the request is answered)."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="inferd-serve-cache-budget-")
        cls.store, cls.endpoint, _ = start_store(cls.tmp)
        config = os.path.join(cls.tmp, "serve.yaml")
        with open(config, "w") as f:
            f.write("autoscaler:\n  stable-window: 2s\n  scale-to-zero-grace-period: 1s\n"
                    "  enable-scale-to-zero: true\n")
        env = {"S3_ENDPOINT": cls.endpoint, "S3_USE_HTTPS": "0", "AWS_ACCESS_KEY_ID": ACCESS_KEY,
               "AWS_SECRET_ACCESS_KEY": SECRET_KEY, "AWS_REGION": REGION}
        cls.data_dir = os.path.join(cls.tmp, "data")
        cls.serve = start_serve(cls.data_dir, env, ["--config", config, "--storage_cache_budget", "1KiB",
                                                    "--storage_gc_interval_s", "1"])

    @classmethod
    def tearDownClass(cls):
        cls.serve.stop()
        cls.store.terminate()
        cls.store.wait()
        cls.store.stdout.close()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def test_idle_entry_collected_then_fetched_again_on_wake(self):
        self.apply("""
apiVersion: serving.kserve.io/v1beta1
kind: InferenceService
metadata:
  name: zero-s3
spec:
  predictor:
    minReplicas: 0
    xgboost:
      storageUri: s3://models/xgb
""")
        self.serve.wait_ready("zero-s3")
        self.assertEqual(len(cache_entries(self.data_dir)), 1)
        # While its replica runs the entry is in use, over budget or not; at zero it is idle and goes.
        self.serve.wait("zero-s3", lambda o: not o["status"]["inferd"].get("replicas"), 60, "scale to zero")
        deadline = time.time() + 30
        while cache_entries(self.data_dir) and time.time() < deadline:
            time.sleep(0.1)
        self.assertEqual(cache_entries(self.data_dir), [], self.serve.output())
        self.assertIn("over budget", self.serve.output())
        # A request at zero: held, the model fetched again, a replica started, the request answered.
        r = self.serve.gw("POST", "/v1/models/zero-s3:predict", json={"instances": IRIS})
        self.assertEqual(r.status_code, 200, r.text + self.serve.output())
        self.assertEqual(len(r.json()["predictions"]), 2)
        self.assertIn("fetches its model again", self.serve.output())
        # The request is answered as soon as the replica is; the status says Ready at the reconciler's next pass.
        self.serve.wait_ready("zero-s3", 30)


if __name__ == "__main__":
    unittest.main()
