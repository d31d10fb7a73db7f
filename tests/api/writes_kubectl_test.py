"""Every write kubectl 1.32 and the python kubernetes client make, against `inferd serve` (issue 14, part
`writes`): namespaces (`kubectl create namespace` sends protobuf), client-side apply (create, update, a field
removed from the file is removed from the object), server-side apply (create, update, a conflict and
--force-conflicts), `kubectl patch --type=merge|json`, an `edit`-style PATCH through KUBE_EDITOR, `kubectl
replace` of a stale copy (409), `kubectl create` twice (409 AlreadyExists), 404 NotFound, 422 Invalid with
causes, 415 for an unknown patch type, `kubectl delete` and `kubectl wait`, and CustomObjectsApi patch/delete.

Run by ctest with Debian's /usr/bin/python3 (tests/util/kube_fixture.py: the real kubectl, python3-kubernetes).
kubectl validates as it does against a cluster (`--validate=strict`: /openapi/v3 is served, branch crds), so
every write here also carries fieldValidation=Strict.
"""
import json
import os
import shutil
import sys
import subprocess
import tempfile
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "util"))
import kube_fixture  # noqa: E402

MODELS = os.environ.get("INFERD_TEST_MODELS", "")
VALIDATE = "--validate=strict"  # /openapi/v3 is served (branch crds merged): kubectl validates as on a cluster
NS = "kserve-test"


def isvc_yaml(name, min_replicas=None, labels=None, ns=NS):
    model = os.path.join(MODELS, "sklearn", "sklearn-iris-logreg")
    meta = {"name": name, "namespace": ns}
    if labels:
        meta["labels"] = labels
    pred = {"model": {"modelFormat": {"name": "sklearn"}, "storageUri": "file://" + model}}
    if min_replicas is not None:
        pred["minReplicas"] = min_replicas
    return json.dumps({"apiVersion": "serving.kserve.io/v1beta1", "kind": "InferenceService",
                       "metadata": meta, "spec": {"predictor": pred}})


@unittest.skipUnless(shutil.which(kube_fixture.KUBECTL) or os.path.exists(kube_fixture.KUBECTL), "no kubectl")
class WritesKubectlTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="inferd-writes-kubectl-")
        cls.serve = kube_fixture.KubeServe(os.path.join(cls.tmp, "data"))

    @classmethod
    def tearDownClass(cls):
        cls.serve.stop()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def k(self, *args, stdin=None, ok=True):
        p = self.serve.kubectl(*args, stdin=stdin, timeout=120)
        if ok:
            self.assertEqual(p.returncode, 0, "kubectl %s\nstdout: %s\nstderr: %s\nserve:\n%s" %
                             (" ".join(args), p.stdout, p.stderr, self.serve.output()))
        return p

    def get(self, name, ns=NS):
        p = self.k("get", "inferenceservices", name, "-n", ns, "-o", "json", ok=False)
        return json.loads(p.stdout) if p.returncode == 0 else None

    def api(self, method, path, **kw):
        return self.serve.api(method, path, **kw)

    # ---- the quickstart --------------------------------------------------------------------------------
    def test_01_create_namespace_then_quickstart(self):
        p = self.k("create", "namespace", NS)
        self.assertIn("namespace/%s created" % NS, p.stdout)
        ns = json.loads(self.k("get", "namespace", NS, "-o", "json").stdout)
        self.assertEqual(ns["metadata"]["labels"]["kubernetes.io/metadata.name"], NS)
        self.assertEqual(ns["status"]["phase"], "Active")
        self.assertEqual(ns["spec"]["finalizers"], ["kubernetes"])
        self.assertIn("AlreadyExists", self.k("create", "namespace", NS, ok=False).stderr)
        p = self.k("apply", VALIDATE, "-n", NS, "-f", "-", stdin=isvc_yaml("sklearn-iris"))
        self.assertIn("inferenceservice.serving.kserve.io/sklearn-iris created", p.stdout)
        self.assertIn("sklearn-iris", self.k("get", "inferenceservices", "-n", NS).stdout)
        p = self.k("wait", "--for=condition=Ready", "inferenceservices/sklearn-iris", "-n", NS, "--timeout=120s")
        self.assertIn("condition met", p.stdout)

    def test_02_namespace_must_exist(self):
        p = self.k("apply", VALIDATE, "-f", "-", stdin=isvc_yaml("lost", ns="nowhere"), ok=False)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn('namespaces "nowhere" not found', p.stderr)

    # ---- client-side apply ---------------------------------------------------------------------------------
    def test_03_client_side_apply_create_update_remove(self):
        self.k("create", "namespace", NS, ok=False)
        p = self.k("apply", VALIDATE, "-f", "-", stdin=isvc_yaml("csa", 1, {"team": "a", "tier": "x"}))
        self.assertIn("created", p.stdout)
        obj = self.get("csa")
        self.assertIn("kubectl.kubernetes.io/last-applied-configuration", obj["metadata"]["annotations"])
        p = self.k("apply", VALIDATE, "-f", "-", stdin=isvc_yaml("csa", 1, {"team": "a", "tier": "x"}))
        self.assertIn("inferenceservice.serving.kserve.io/csa unchanged", p.stdout)
        p = self.k("apply", VALIDATE, "-f", "-", stdin=isvc_yaml("csa", 2, {"team": "a"}))
        self.assertIn("inferenceservice.serving.kserve.io/csa configured", p.stdout)
        obj = self.get("csa")
        self.assertEqual(obj["spec"]["predictor"]["minReplicas"], 2)
        self.assertNotIn("tier", obj["metadata"]["labels"])  # removed from the file: removed from the object
        p = self.k("apply", VALIDATE, "-f", "-", stdin=isvc_yaml("csa", None, {"team": "a"}))
        self.assertIn("configured", p.stdout)
        self.assertNotIn("minReplicas", self.get("csa")["spec"]["predictor"])

    # ---- server-side apply ---------------------------------------------------------------------------------
    def test_04_server_side_apply_and_conflicts(self):
        self.k("create", "namespace", NS, ok=False)
        p = self.k("apply", "--server-side", VALIDATE, "-f", "-", stdin=isvc_yaml("ssa", 1, {"a": "1", "b": "2"}))
        self.assertIn("inferenceservice.serving.kserve.io/ssa serverside-applied", p.stdout)
        obj = json.loads(self.k("get", "inferenceservices", "ssa", "-n", NS, "-o", "json", "--show-managed-fields").stdout)
        managers = {(e["manager"], e["operation"]) for e in obj["metadata"]["managedFields"]}
        self.assertIn(("kubectl", "Apply"), managers)
        # Dropping a label this manager applied removes it.
        self.k("apply", "--server-side", VALIDATE, "-f", "-", stdin=isvc_yaml("ssa", 1, {"a": "1"}))
        self.assertNotIn("b", self.get("ssa")["metadata"]["labels"])
        # Another manager changes minReplicas: applying the old value conflicts...
        self.k("patch", "inferenceservices", "ssa", "-n", NS, "--type=merge", "-p", '{"spec":{"predictor":{"minReplicas":3}}}')
        p = self.k("apply", "--server-side", VALIDATE, "-f", "-", stdin=isvc_yaml("ssa", 1, {"a": "1"}), ok=False)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("conflict", p.stderr)
        self.assertIn(".spec.predictor.minReplicas", p.stderr)
        self.assertIn("kubectl-patch", p.stderr)
        self.assertEqual(self.get("ssa")["spec"]["predictor"]["minReplicas"], 3)
        # ...unless forced.
        self.k("apply", "--server-side", "--force-conflicts", VALIDATE, "-f", "-",
               stdin=isvc_yaml("ssa", 1, {"a": "1"}))
        self.assertEqual(self.get("ssa")["spec"]["predictor"]["minReplicas"], 1)

    def test_05_apply_patch_rules_on_the_wire(self):
        base = "/apis/serving.kserve.io/v1beta1/namespaces/default/inferenceservices/wire"
        body = isvc_yaml("wire", ns="default")
        ct = {"Content-Type": "application/apply-patch+yaml"}
        r = self.api("PATCH", base, data=body, headers=ct)
        self.assertEqual(r.status_code, 422, r.text)
        self.assertIn("fieldManager: Required value", r.json()["message"])
        r = self.api("PATCH", base + "?fieldManager=t", data=body, headers=ct)
        self.assertEqual(r.status_code, 201, r.text)
        r = self.api("PATCH", base + "?force=true", data='{"metadata":{}}',
                     headers={"Content-Type": "application/merge-patch+json"})
        self.assertEqual(r.status_code, 422, r.text)
        self.assertIn("force: Forbidden", r.json()["message"])
        for ct in ("application/strategic-merge-patch+json", "text/plain"):
            r = self.api("PATCH", base, data="{}", headers={"Content-Type": ct})
            self.assertEqual(r.status_code, 415, r.text)
            self.assertEqual(r.json()["reason"], "UnsupportedMediaType")
        p = self.k("patch", "inferenceservices", "wire", "--type=strategic", "-p", "{}", ok=False)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("is not supported", p.stderr)
        self.assertIn("unknown format", p.stderr)

    # ---- patch and edit --------------------------------------------------------------------------------------
    def test_06_patch_merge_json_and_edit(self):
        self.k("apply", VALIDATE, "-f", "-", stdin=isvc_yaml("pt", 1, {"x": "1"}, ns="default"))
        p = self.k("patch", "inferenceservices", "pt", "--type=merge", "-p", '{"metadata":{"labels":{"x":null,"y":"2"}}}')
        self.assertIn("inferenceservice.serving.kserve.io/pt patched", p.stdout)
        obj = self.get("pt", "default")
        self.assertEqual(obj["metadata"]["labels"], {"y": "2"})
        p = self.k("patch", "inferenceservices", "pt", "--type=json", "-p",
                   '[{"op":"replace","path":"/spec/predictor/minReplicas","value":4},'
                   '{"op":"add","path":"/metadata/labels/a~1b","value":"s"}]')
        self.assertIn("patched", p.stdout)
        obj = self.get("pt", "default")
        self.assertEqual(obj["spec"]["predictor"]["minReplicas"], 4)
        self.assertEqual(obj["metadata"]["labels"]["a/b"], "s")
        p = self.k("patch", "inferenceservices", "pt", "--type=json", "-p", '[{"op":"test","path":"/spec/predictor/minReplicas","value":9}]',
                   ok=False)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("invalid", p.stderr.lower())
        # kubectl edit: the editor is a script that rewrites minReplicas in the file kubectl hands it.
        editor = os.path.join(self.tmp, "editor.sh")
        with open(editor, "w") as f:
            f.write("#!/bin/sh\nsed -i 's/minReplicas: 4/minReplicas: 6/' \"$1\"\n")
        os.chmod(editor, 0o755)
        env_editor = os.environ.get("KUBE_EDITOR")
        os.environ["KUBE_EDITOR"] = editor
        try:
            p = self.k("edit", VALIDATE, "inferenceservices", "pt")
        finally:
            if env_editor is None:
                os.environ.pop("KUBE_EDITOR")
            else:
                os.environ["KUBE_EDITOR"] = env_editor
        self.assertIn("edited", p.stdout)
        obj = json.loads(self.k("get", "inferenceservices", "pt", "-o", "json", "--show-managed-fields").stdout)
        self.assertEqual(obj["spec"]["predictor"]["minReplicas"], 6)
        self.assertIn("kubectl-edit", [e["manager"] for e in obj["metadata"]["managedFields"]])

    # ---- errors ------------------------------------------------------------------------------------------
    def test_07_errors_print_cleanly(self):
        p = self.k("get", "inferenceservices", "nope", ok=False)
        self.assertIn('Error from server (NotFound): inferenceservices.serving.kserve.io "nope" not found', p.stderr)
        path = os.path.join(self.tmp, "dup.json")
        with open(path, "w") as f:
            f.write(isvc_yaml("dup", ns="default"))
        self.k("create", VALIDATE, "-f", path)
        p = self.k("create", VALIDATE, "-f", path, ok=False)
        self.assertIn('Error from server (AlreadyExists)', p.stderr)
        self.assertIn('"dup" already exists', p.stderr)
        # a stale copy replaced -> 409 Conflict
        old = os.path.join(self.tmp, "old.json")
        with open(old, "w") as f:
            f.write(self.k("get", "inferenceservices", "dup", "-o", "json").stdout)
        self.k("patch", "inferenceservices", "dup", "--type=merge", "-p", '{"metadata":{"labels":{"v":"2"}}}')
        p = self.k("replace", VALIDATE, "-f", old, ok=False)
        self.assertIn("Error from server (Conflict)", p.stderr)
        self.assertIn("the object has been modified", p.stderr)
        # invalid -> 422 with causes
        bad = json.loads(isvc_yaml("bad", ns="default"))
        bad["spec"]["predictor"]["minReplicas"] = -1
        p = self.k("create", VALIDATE, "-f", "-", stdin=json.dumps(bad), ok=False)
        self.assertIn('The InferenceService "bad" is invalid', p.stderr)
        self.assertIn("spec.predictor.minReplicas", p.stderr)
        r = self.api("POST", "/apis/serving.kserve.io/v1beta1/namespaces/default/inferenceservices", json=bad)
        self.assertEqual(r.status_code, 422)
        causes = r.json()["details"]["causes"]
        self.assertEqual(causes[0]["field"], "spec.predictor.minReplicas")
        # PUT without resourceVersion
        cur = self.get("dup", "default")
        del cur["metadata"]["resourceVersion"]
        r = self.api("PUT", "/apis/serving.kserve.io/v1beta1/namespaces/default/inferenceservices/dup", json=cur)
        self.assertEqual(r.status_code, 422, r.text)
        self.assertIn("must be specified for an update", r.json()["message"])

    # ---- delete and wait ---------------------------------------------------------------------------------
    def test_08_delete_and_wait_for_delete(self):
        self.k("apply", VALIDATE, "-f", "-", stdin=isvc_yaml("gone", ns="default"))
        p = self.k("delete", "inferenceservices", "gone")
        self.assertIn('inferenceservice.serving.kserve.io "gone" deleted', p.stdout)
        self.assertIsNone(self.get("gone", "default"))
        p = self.k("delete", "inferenceservices", "gone", ok=False)
        self.assertIn("NotFound", p.stderr)
        # kubectl wait --for=delete, started while the object exists; the delete comes from another client.
        self.k("apply", VALIDATE, "-f", "-", stdin=isvc_yaml("gone2", ns="default"))
        s = self.serve
        waiter = subprocess.Popen([kube_fixture.KUBECTL, "--kubeconfig", s.kubeconfig, "--cache-dir", s.cache_dir,
                                   "wait", "--for=delete", "inferenceservices/gone2", "--timeout=60s"],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        time.sleep(3)  # kubectl's GET and watch are in place (a loaded machine: generous)
        self.assertIsNone(waiter.poll())  # still waiting
        r = self.api("DELETE", "/apis/serving.kserve.io/v1beta1/namespaces/default/inferenceservices/gone2")
        self.assertEqual(r.status_code, 200, r.text)
        out, err = waiter.communicate(timeout=90)
        self.assertEqual(waiter.returncode, 0, err)
        self.assertIn("condition met", out)
        # DeleteOptions: a uid precondition that does not match
        self.k("apply", VALIDATE, "-f", "-", stdin=isvc_yaml("kept", ns="default"))
        r = self.api("DELETE", "/apis/serving.kserve.io/v1beta1/namespaces/default/inferenceservices/kept",
                     json={"preconditions": {"uid": "not-it"}, "propagationPolicy": "Foreground"})
        self.assertEqual(r.status_code, 409, r.text)
        r = self.api("DELETE", "/apis/serving.kserve.io/v1beta1/namespaces/default/inferenceservices/kept",
                     json={"propagationPolicy": "Sideways"})
        self.assertEqual(r.status_code, 422, r.text)
        r = self.api("DELETE", "/apis/serving.kserve.io/v1beta1/namespaces/default/inferenceservices/kept",
                     json={"dryRun": ["All"]})
        self.assertEqual(r.json()["status"], "Success")
        self.assertIsNotNone(self.get("kept", "default"))

    def test_09_delete_namespace_deletes_its_objects(self):
        self.k("create", "namespace", "doomed")
        self.k("apply", VALIDATE, "-f", "-", stdin=isvc_yaml("inside", ns="doomed"))
        p = self.k("delete", "namespace", "doomed")
        self.assertIn('namespace "doomed" deleted', p.stdout)
        self.assertNotEqual(self.k("get", "namespace", "doomed", ok=False).returncode, 0)
        r = self.api("GET", "/apis/serving.kserve.io/v1beta1/namespaces/doomed/inferenceservices/inside")
        self.assertEqual(r.status_code, 404)
        self.assertIn("forbidden", self.k("delete", "namespace", "default", ok=False).stderr.lower())

    # ---- python client ---------------------------------------------------------------------------------------
    def test_10_python_custom_objects_patch_and_delete(self):
        from kubernetes import client
        from kubernetes.client.exceptions import ApiException
        api = client.CustomObjectsApi(self.serve.python_client())
        self.k("apply", VALIDATE, "-f", "-", stdin=isvc_yaml("py", 1, ns="default"))
        out = api.patch_namespaced_custom_object("serving.kserve.io", "v1beta1", "default", "inferenceservices",
                                                 "py", {"spec": {"predictor": {"minReplicas": 2}}})
        self.assertEqual(out["spec"]["predictor"]["minReplicas"], 2)
        st = api.delete_namespaced_custom_object("serving.kserve.io", "v1beta1", "default", "inferenceservices", "py")
        self.assertEqual(st["status"], "Success")
        with self.assertRaises(ApiException) as e:
            api.get_namespaced_custom_object("serving.kserve.io", "v1beta1", "default", "inferenceservices", "py")
        self.assertEqual(e.exception.status, 404)


class RestartKeepsNamespacesAndSecretsTest(unittest.TestCase):
    """A restart of serve keeps created namespaces and core objects (Secrets were quarantined as 'not served'
    on every restart before namespaces came)."""

    def test_restart(self):
        tmp = tempfile.mkdtemp(prefix="inferd-writes-restart-")
        data = os.path.join(tmp, "data")
        try:
            s = kube_fixture.KubeServe(data)
            try:
                self.assertEqual(s.api("POST", "/api/v1/namespaces", json={"metadata": {"name": "kept"}}).status_code, 201)
                r = s.api("POST", "/api/v1/namespaces/kept/secrets", json={"metadata": {"name": "s"}, "stringData": {"a": "b"}})
                self.assertEqual(r.status_code, 201, r.text)
            finally:
                s.stop()
            s = kube_fixture.KubeServe(data)
            try:
                self.assertEqual(s.api("GET", "/api/v1/namespaces/kept").status_code, 200)
                self.assertEqual(s.api("GET", "/api/v1/namespaces/kept/secrets/s").status_code, 200)
            finally:
                s.stop()
        finally:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    unittest.main(verbosity=2)
