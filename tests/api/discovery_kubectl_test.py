"""kubectl 1.32 and python-kubernetes against `inferd serve`: discovery (aggregated and legacy, short names),
/version, server-side Table printing with KServe's printer columns, watches (Tables, bookmarks, field
selectors), InferenceGraph served (issue 17: its URL and Ready) and TrainedModel reported not Ready (issue 14,
section 1).

Run with Debian's /usr/bin/python3 (requests, python3-kubernetes); needs INFERD_BIN, INFERD_TEST_MODELS and
kubectl (tests/util/kube_fixture.py). Objects are created through the API (requests).
"""
import json
import os
import queue
import subprocess
import sys
import shutil
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "util"))
import kube_fixture  # noqa: E402
from serve_test import MODELS, is_ready  # noqa: E402  (kube_fixture put tests/control on the path)

ISVCS = "/apis/serving.kserve.io/v1beta1/namespaces/default/inferenceservices"
ALPHA = "/apis/serving.kserve.io/v1alpha1/namespaces/default"
TABLE = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json"
DISCOVERY = ("application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,"
             "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json")


def lines(text):
    return [l for l in text.splitlines() if l.strip()]


@unittest.skipUnless(os.path.exists(kube_fixture.KUBECTL), "kubectl not installed")
class DiscoveryKubectlTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="inferd-disco-test-")
        cls.serve = kube_fixture.KubeServe(os.path.join(cls.tmp, "data"))
        model = os.path.join(MODELS, "sklearn", "sklearn-iris-logreg")
        r = cls.serve.api("POST", ISVCS, json={
            "apiVersion": "serving.kserve.io/v1beta1", "kind": "InferenceService",
            "metadata": {"name": "sklearn-iris", "labels": {"app": "iris"}},
            "spec": {"predictor": {"model": {"modelFormat": {"name": "sklearn"}, "storageUri": "file://" + model}}}})
        assert r.status_code == 201, r.text
        cls.serve.wait_ready("sklearn-iris", timeout=120)

    @classmethod
    def tearDownClass(cls):
        cls.serve.stop()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def kubectl(self, *args, ok=True):
        p = self.serve.kubectl(*args)
        if ok:
            self.assertEqual(p.returncode, 0, "kubectl %s:\n%s%s" % (" ".join(args), p.stdout, p.stderr))
        return p

    # ---- discovery and /version ----------------------------------------------------------------------
    def test_api_resources_shows_short_names_scope_and_kind(self):
        out = self.kubectl("api-resources").stdout
        rows = {l.split()[0]: l.split() for l in lines(out)[1:]}
        self.assertEqual(lines(out)[0].split(), ["NAME", "SHORTNAMES", "APIVERSION", "NAMESPACED", "KIND"])
        want = {"inferenceservices": ["isvc", "serving.kserve.io/v1beta1", "true", "InferenceService"],
                "inferencegraphs": ["ig", "serving.kserve.io/v1alpha1", "true", "InferenceGraph"],
                "trainedmodels": ["tm", "serving.kserve.io/v1alpha1", "true", "TrainedModel"],
                "servingruntimes": ["serving.kserve.io/v1alpha1", "true", "ServingRuntime"],
                "clusterservingruntimes": ["serving.kserve.io/v1alpha1", "false", "ClusterServingRuntime"],
                "events": ["ev", "v1", "true", "Event"],
                "serviceaccounts": ["sa", "v1", "true", "ServiceAccount"],
                "secrets": ["v1", "true", "Secret"]}
        for name, cols in want.items():
            self.assertIn(name, rows, out)
            self.assertEqual(rows[name][1:], cols, out)

    def test_version_is_semver_without_skew_warning(self):
        p = self.kubectl("version")
        self.assertRegex(p.stdout, r"Server Version: v1\.32\.0-inferd\.")
        self.assertNotIn("WARNING", p.stdout + p.stderr)
        v = self.serve.api("GET", "/version/").json()
        self.assertEqual(sorted(v), sorted(["major", "minor", "gitVersion", "gitCommit", "gitTreeState", "buildDate",
                                            "goVersion", "compiler", "platform"]))
        self.assertTrue(all(isinstance(x, str) for x in v.values()), v)

    def test_discovery_forms_follow_the_accept_header(self):
        agg = self.serve.api("GET", "/apis", headers={"Accept": DISCOVERY})
        self.assertEqual(agg.headers["Content-Type"],
                         "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList")
        self.assertEqual(agg.json()["kind"], "APIGroupDiscoveryList")
        core = self.serve.api("GET", "/api", headers={"Accept": DISCOVERY}).json()
        self.assertEqual(core["items"][0]["metadata"]["name"], "")
        legacy = self.serve.api("GET", "/apis", headers={"Accept": "application/json"})
        self.assertEqual(legacy.headers["Content-Type"], "application/json")
        self.assertEqual(legacy.json()["kind"], "APIGroupList")
        res = self.serve.api("GET", "/apis/serving.kserve.io/v1alpha1").json()
        self.assertIn("trainedmodels", [r["name"] for r in res["resources"]])

    def test_python_dynamic_client_resolves_inferenceservices(self):
        from kubernetes.dynamic import DynamicClient
        dc = DynamicClient(self.serve.python_client())
        res = dc.resources.get(api_version="serving.kserve.io/v1beta1", kind="InferenceService")
        self.assertEqual(res.name, "inferenceservices")
        self.assertEqual(res.short_names, ["isvc"])
        obj = res.get(namespace="default", name="sklearn-iris")
        self.assertEqual(obj.metadata.name, "sklearn-iris")
        tm = dc.resources.get(api_version="serving.kserve.io/v1alpha1", kind="TrainedModel")
        self.assertTrue(tm.namespaced)

    # ---- kubectl get ---------------------------------------------------------------------------------
    def test_get_isvc_prints_kserve_columns(self):
        out = self.kubectl("get", "isvc").stdout
        head, row = lines(out)[0].split(), lines(out)[1].split()
        self.assertEqual(head, ["NAME", "URL", "READY", "PREV", "LATEST", "PREVROLLEDOUTREVISION",
                                "LATESTREADYREVISION", "AGE"])
        # inferd fills status.components.predictor.traffic as KServe's Knative mode does: all traffic on the
        # latest revision, no previous one (PREV and PREVROLLEDOUTREVISION empty outside a canary rollout).
        self.assertEqual(row[:5], ["sklearn-iris", "http://sklearn-iris.default.example.com", "True", "100",
                                   "sklearn-iris-predictor-00001"], out)
        self.assertRegex(row[-1], r"^\d+[smhdy]")
        self.assertEqual(lines(self.kubectl("get", "inferenceservice", "sklearn-iris").stdout)[1].split()[0],
                         "sklearn-iris")
        self.assertIn("sklearn-iris", self.kubectl("get", "inferenceservices.serving.kserve.io").stdout)

    def test_describe_shows_the_object_and_its_events(self):
        # kubectl describe lists the object's events with a field selector on involvedObject.{name,namespace,
        # kind,uid}; an API that refuses those fields makes it print "Events: <none>" with no error.
        out = self.kubectl("describe", "isvc", "sklearn-iris").stdout
        self.assertRegex(out, r"(?m)^Name:\s+sklearn-iris$")
        self.assertRegex(out, r"(?m)^Namespace:\s+default$")
        self.assertRegex(out, r"(?m)^Labels:\s+app=iris$")
        self.assertIn("Type:                  Ready", out)
        events = out[out.index("\nEvents:"):]
        self.assertNotIn("<none>", events.splitlines()[0], out)
        self.assertRegex(events, r"Normal\s+RevisionReady\s+\S+\s+inferd-controller\s+"
                                 r"revision sklearn-iris-predictor-00001 is ready")
        # The selectors it sends, by hand: other objects' events are filtered out, unknown fields refused.
        uid = self.serve.isvc("sklearn-iris")["metadata"]["uid"]
        sel = ("involvedObject.name=sklearn-iris,involvedObject.namespace=default,"
               "involvedObject.kind=InferenceService,involvedObject.uid=")
        r = self.serve.api("GET", "/api/v1/namespaces/default/events", params={"fieldSelector": sel + uid})
        self.assertEqual(r.status_code, 200, r.text)
        self.assertTrue(r.json()["items"])
        r = self.serve.api("GET", "/api/v1/namespaces/default/events", params={"fieldSelector": sel + "other"})
        self.assertEqual(r.json()["items"], [])
        r = self.serve.api("GET", ISVCS, params={"fieldSelector": "spec.predictor=x"})
        self.assertEqual((r.status_code, r.json()["message"]), (400, "field label not supported: spec.predictor"))

    def test_get_isvc_output_formats(self):
        obj = json.loads(self.kubectl("get", "isvc", "sklearn-iris", "-o", "json").stdout)
        self.assertEqual(obj["kind"], "InferenceService")
        self.assertTrue(is_ready(obj))
        lst = json.loads(self.kubectl("get", "isvc", "-o", "json").stdout)
        self.assertEqual([i["metadata"]["name"] for i in lst["items"]], ["sklearn-iris"])
        self.assertIn("kind: InferenceService", self.kubectl("get", "isvc", "sklearn-iris", "-o", "yaml").stdout)
        self.assertEqual(self.kubectl("get", "isvc", "-o", "name").stdout.strip(),
                         "inferenceservice.serving.kserve.io/sklearn-iris")
        self.assertIn("LATESTREADYREVISION", self.kubectl("get", "isvc", "-o", "wide").stdout)

    def test_get_all_namespaces_and_labels(self):
        out = lines(self.kubectl("get", "isvc", "-A").stdout)
        self.assertEqual(out[0].split()[:2], ["NAMESPACE", "NAME"])
        self.assertEqual(out[1].split()[:2], ["default", "sklearn-iris"])
        out = lines(self.kubectl("get", "isvc", "--show-labels").stdout)
        self.assertEqual(out[0].split()[-1], "LABELS")
        self.assertEqual(out[1].split()[-1], "app=iris")
        out = lines(self.kubectl("get", "isvc", "-L", "app").stdout)
        self.assertEqual(out[0].split()[-1], "APP")
        self.assertEqual(out[1].split()[-1], "iris")
        out = lines(self.kubectl("get", "isvc", "-l", "app=nothing").stdout + "")
        self.assertEqual(out, [])

    def test_get_watch_prints_a_change(self):
        for args in (["sklearn-iris"], []):  # a single name (kubectl drops the first event), then the collection
            p = subprocess.Popen([kube_fixture.KUBECTL, "--kubeconfig", self.serve.kubeconfig, "--cache-dir",
                                  self.serve.cache_dir, "get", "isvc"] + args + ["-w", "--output-watch-events"],
                                 stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            out = queue.Queue()
            threading.Thread(target=lambda: [out.put(l) for l in p.stdout], daemon=True).start()
            try:
                self.assertIn("EVENT", out.get(timeout=30))
                self.assertIn("sklearn-iris", out.get(timeout=30))
                # kubectl starts its watch after printing the row; a change made before that is part of the
                # watch's first (dropped) event, as with Kubernetes. So change the object until a change shows.
                got, deadline, n = [], time.time() + 60, 0
                while time.time() < deadline and not any(l.startswith("MODIFIED") for l in got):
                    n += 1
                    r = self.serve.api("PATCH", ISVCS + "/sklearn-iris",
                                       json={"metadata": {"labels": {"watched": "w%d-%d" % (len(args), n)}}},
                                       headers={"Content-Type": "application/merge-patch+json"})
                    self.assertEqual(r.status_code, 200, r.text)
                    try:
                        got.append(out.get(timeout=3))
                    except queue.Empty:
                        pass
                self.assertTrue(any(l.startswith("MODIFIED") and "sklearn-iris" in l for l in got), got)
            finally:
                p.kill()
                p.wait()

    def test_get_runtimes_graphs_and_trained_models(self):
        out = lines(self.kubectl("get", "clusterservingruntimes").stdout)
        self.assertEqual(out[0].split(), ["NAME", "DISABLED", "MODELTYPE", "CONTAINERS", "AGE"])
        sk = [l.split() for l in out if l.startswith("kserve-sklearnserver ")]
        self.assertEqual(sk[0][1:3], ["sklearn", "kserve-container"], out)
        r = self.serve.api("POST", ALPHA + "/servingruntimes", json={
            "metadata": {"name": "my-runtime"},
            "spec": {"disabled": True, "supportedModelFormats": [{"name": "sklearn", "version": "1"}],
                     "containers": [{"name": "kserve-container", "image": "x"}]}})
        self.assertEqual(r.status_code, 201, r.text)
        out = lines(self.kubectl("get", "servingruntimes").stdout)
        self.assertEqual(out[1].split()[:4], ["my-runtime", "true", "sklearn", "kserve-container"])
        r = self.serve.api("POST", ALPHA + "/inferencegraphs", json={
            "metadata": {"name": "chain"},
            "spec": {"nodes": {"root": {"routerType": "Sequence", "steps": [{"serviceName": "sklearn-iris"}]}}}})
        self.assertEqual(r.status_code, 201, r.text)
        r = self.serve.api("POST", ALPHA + "/trainedmodels", json={
            "metadata": {"name": "extra-model"},
            "spec": {"inferenceService": "sklearn-iris",
                     "model": {"storageUri": "gs://b/m", "framework": "sklearn", "memory": "256Mi"}}})
        self.assertEqual(r.status_code, 201, r.text)
        # The graph is served (issue 17): its URL, and Ready once sklearn-iris is. The TrainedModel's URL is its
        # service's (KServe's printer columns); it is not Ready: sklearn-iris has a storageUri, so it is a
        # single-model service, which takes no TrainedModel (KServe's rule).
        for short, want in (("ig", ["chain", "http://chain.default.example.com", "True"]),
                            ("tm", ["extra-model", "http://sklearn-iris.default.example.com/v1/models/"
                                                   "extra-model:predict", "False"])):
            deadline = time.time() + 30
            while time.time() < deadline:
                out = lines(self.kubectl("get", short).stdout)
                if len(out) > 1 and out[1].split()[:len(want)] == want:
                    break
                time.sleep(0.2)
            self.assertEqual(out[0].split(), ["NAME", "URL", "READY", "AGE"])
            self.assertEqual(out[1].split()[:len(want)], want, out)
        tm = self.serve.api("GET", ALPHA + "/trainedmodels/extra-model").json()
        conds = {c["type"]: c for c in tm["status"]["conditions"]}
        self.assertEqual(conds["Ready"]["reason"], "IsNotMMSPredictor")
        self.assertIn("spec.inferenceService", conds["Ready"]["message"])
        self.assertEqual(conds["IsMMSPredictor"]["status"], "False")
        self.assertEqual(conds["InferenceServiceReady"]["status"], "True")
        # KServe's rules: a splitter's weights must sum to 100 (422 with the field path).
        r = self.serve.api("POST", ALPHA + "/inferencegraphs", json={
            "metadata": {"name": "split"},
            "spec": {"nodes": {"root": {"routerType": "Splitter", "steps": [{"serviceName": "a", "weight": 5}]}}}})
        self.assertEqual(r.status_code, 422, r.text)
        self.assertIn("spec.nodes.root.steps", r.json()["message"])
        p = self.kubectl("get", "isvc", "-n", "empty-ns", ok=False)
        self.assertIn("No resources found in empty-ns namespace.", p.stderr)

    # ---- Tables and watches over raw HTTP -------------------------------------------------------------
    def test_table_list_and_include_object(self):
        t = self.serve.api("GET", ISVCS, headers={"Accept": TABLE}).json()
        self.assertEqual((t["kind"], t["apiVersion"]), ("Table", "meta.k8s.io/v1"))
        self.assertTrue(t["metadata"]["resourceVersion"])
        self.assertEqual(t["rows"][0]["object"]["kind"], "PartialObjectMetadata")
        full = self.serve.api("GET", ISVCS + "/sklearn-iris?includeObject=Object", headers={"Accept": TABLE}).json()
        self.assertEqual(full["rows"][0]["object"]["kind"], "InferenceService")
        none = self.serve.api("GET", ISVCS + "?includeObject=None", headers={"Accept": TABLE}).json()
        self.assertIsNone(none["rows"][0]["object"])
        bad = self.serve.api("GET", ISVCS + "?includeObject=All", headers={"Accept": TABLE})
        self.assertEqual(bad.status_code, 400)

    def watch(self, query, accept="application/json"):
        r = self.serve.api("GET", ISVCS.replace("/namespaces/default", "") + "?watch=true&" + query,
                           headers={"Accept": accept}, stream=True)
        self.assertEqual(r.status_code, 200)
        return [json.loads(l) for l in r.iter_lines() if l]

    def test_watch_bookmarks_selectors_and_tables(self):
        events = self.watch("allowWatchBookmarks=true&timeoutSeconds=2")
        self.assertEqual([e["type"] for e in events], ["ADDED", "BOOKMARK"])
        bm = events[-1]["object"]
        self.assertEqual((bm["kind"], bm["apiVersion"]), ("InferenceService", "serving.kserve.io/v1beta1"))
        self.assertTrue(bm["metadata"]["resourceVersion"])
        self.assertEqual(self.watch("timeoutSeconds=1&fieldSelector=metadata.namespace%3Dother"), [])
        self.assertEqual(len(self.watch("timeoutSeconds=1&fieldSelector=metadata.namespace%3Ddefault")), 1)
        self.assertEqual(len(self.watch("timeoutSeconds=1&resourceVersion=0&fieldSelector=metadata.name%3Dsklearn-iris")), 1)
        # resourceVersion=N: only changes after N (none here) and the bookmark at the end.
        rv = bm["metadata"]["resourceVersion"]
        self.assertEqual([e["type"] for e in self.watch("timeoutSeconds=1&allowWatchBookmarks=1&resourceVersion=" + rv)],
                         ["BOOKMARK"])
        tables = self.watch("timeoutSeconds=1", accept=TABLE)
        self.assertEqual(tables[0]["object"]["kind"], "Table")
        self.assertIn("columnDefinitions", tables[0]["object"])
        self.assertEqual(tables[0]["object"]["rows"][0]["cells"][0], "sklearn-iris")


if __name__ == "__main__":
    unittest.main()
