"""End-to-end part of the KServe field table (docs/kserve-fields.md) against a real `inferd serve`:

- every row's example goes through the API (`?dryRun=All`, so nothing is stored): refused rows get 422 naming
  the field, every other row is accepted (tests/control/kserve_fields_test.cc walks the same rows through the
  resource functions and the reconciler's steps, and checks that every KServe field has a row);
- every not-ready row is created for real and must end not Ready with the documented reason;
- `inferd apply -f` of a file with invalid documents applies nothing and reports each error with its
  document number and field;
- a `triton` predictor (the built-in kserve-tritonserver) serves a Triton-layout repository of the TorchScript
  and ONNX test models and answers V2 requests.

Run by ctest with /usr/bin/python3; environment as serve_test.py.
"""

import copy
import json
import os
import re
import shutil
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from serve_test import Serve, is_ready, expected, DL_MODELS  # noqa: E402

SOURCE_DIR = os.environ.get("INFERD_SOURCE_DIR", os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
IMPLS = ["model", "sklearn", "xgboost", "tensorflow", "pytorch", "triton", "onnx", "pmml", "lightgbm", "paddle",
         "huggingface"]
ISVC_API = "/apis/serving.kserve.io/v1beta1/namespaces/default/inferenceservices"
SR_API = "/apis/serving.kserve.io/v1alpha1/namespaces/default/servingruntimes"
CSR_API = "/apis/serving.kserve.io/v1alpha1/clusterservingruntimes"


def parse_table(path):
    rows, kind = [], None
    with open(path) as f:
        for n, line in enumerate(f, 1):
            if line.startswith("## "):
                kind = ("ServingRuntime" if "ServingRuntime" in line else
                        "InferenceService" if "InferenceService" in line else None)
                continue
            if not line.startswith("| `") or not kind:
                continue
            cells = [c.strip().strip("`") for c in line.strip().strip("|").split("|")]
            behaviour, reason = cells[1], ""
            if behaviour.startswith("not-ready:"):
                behaviour, reason = "not-ready", behaviour.split(":", 1)[1].strip()
            rows.append({"kind": kind, "path": cells[0], "behaviour": behaviour, "reason": reason,
                         "example": json.loads(cells[2]), "line": n})
    return rows


def expand(path):
    return [path.replace("<impl>", i) for i in IMPLS] if "<impl>" in path else [path]


def indexed(path):
    return path.replace("[]", "[0]")


def new_element(name):
    return {
        "containers": {"name": "kserve-container", "command": ["/bin/sh", "-c", "exec true"]},
        "env": {"name": "E"},
        "supportedModelFormats": {"name": "sklearn", "autoSelect": True},
        "storageUris": {"uri": "/tmp/model"},
        "metrics": {"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization",
                                                                              "averageUtilization": 80}}},
    }.get(name, {})


def split_path(path):
    segs, seg, depth = [], "", 0
    for c in path:
        depth += c == "["
        depth -= c == "]"
        if c == "." and depth == 0:
            segs.append(seg)
            seg = ""
        else:
            seg += c
    return segs + [seg]


def set_path(obj, path, value):
    segs = split_path(path)
    cur = obj
    for i, s in enumerate(segs):
        last = i + 1 == len(segs)
        m = re.match(r"^(\w+)\[(.+)\]$", s)
        if m:  # name[KEY]
            cur.setdefault(m.group(1), {})[m.group(2)] = value
            return
        if s.endswith("[]"):
            name = s[:-2]
            if not isinstance(cur.get(name), list) or not cur[name]:
                cur[name] = [new_element(name)]
            if last:
                cur[name][0] = value
                return
            cur = cur[name][0]
            continue
        if last:
            cur[s] = value
            return
        if not isinstance(cur.get(s), dict):
            cur[s] = {}
        cur = cur[s]


def base_isvc(path, model_dir, name="f"):
    pred = {}
    second = ""
    if path.startswith("spec.predictor."):
        second = re.split(r"[.\[]", path[len("spec.predictor."):])[0]
    if second == "containers":
        pred["containers"] = [new_element("containers")]
    elif second in IMPLS:
        pred[second] = {"storageUri": model_dir}
        if second == "model":
            pred[second]["modelFormat"] = {"name": "sklearn"}
    else:
        pred["model"] = {"modelFormat": {"name": "sklearn"}, "storageUri": model_dir}
        if second == "storageUris":
            del pred["model"]["storageUri"]
    if second and path.endswith(".storage") and second in pred:  # an implementation's storage names the object
        pred[second].pop("storageUri", None)  # itself; only s3:// URIs beside it (logger.storage is another thing)
    spec = {"predictor": pred}
    # A transformer's or explainer's field sits in a minimal component of that kind (art for art's fields).
    for component in ("transformer", "explainer"):
        if path.startswith("spec.%s." % component):
            spec[component] = ({"art": {"type": "SquareAttack"}} if path.startswith("spec.%s.art" % component)
                               else {"containers": [new_element("containers")]})
    return {"apiVersion": "serving.kserve.io/v1beta1", "kind": "InferenceService",
            "metadata": {"name": name, "namespace": "default"}, "spec": spec}


def base_runtime(name="r"):
    return {"apiVersion": "serving.kserve.io/v1alpha1", "kind": "ServingRuntime",
            "metadata": {"name": name, "namespace": "default"},
            "spec": {"supportedModelFormats": [{"name": "sklearn", "version": "1", "autoSelect": True}],
                     "protocolVersions": ["v1", "v2"],
                     "containers": [{"name": "kserve-container", "command": ["inferd", "model-server"],
                                     "args": ["--model_name={{.Name}}", "--model_dir=/mnt/models",
                                              "--http_port=8080"]}]}}


def with_model_dir(value, model_dir):
    """The examples name /tmp/model; the e2e part uses a directory that exists."""
    return json.loads(json.dumps(value).replace('"/tmp/model"', json.dumps(model_dir)))


def reason_of(obj, condition="Ready"):
    for c in obj.get("status", {}).get("conditions", []):
        if c.get("type") == condition and c.get("status") == "False":
            return c.get("reason")
    return None


class KServeFieldsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.rows = parse_table(os.path.join(SOURCE_DIR, "docs", "kserve-fields.md"))
        cls.tmp = tempfile.mkdtemp(prefix="inferd-fields-test-")
        cls.model_dir = os.path.join(cls.tmp, "model")
        os.makedirs(cls.model_dir)
        cls.serve = Serve(os.path.join(cls.tmp, "data"), ["--gpus=none"])  # GPU rows: Unschedulable anywhere
        # The metadata.namespace row's example namespace must exist, as in Kubernetes (issue 14).
        r = cls.serve.api("POST", "/api/v1/namespaces", json={"metadata": {"name": "team-a"}})
        assert r.status_code == 201, r.text

    @classmethod
    def tearDownClass(cls):
        cls.serve.stop()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def dry_run(self, api, obj):
        return self.serve.api("POST", api + "?dryRun=All", json=obj)

    def test_01_every_row_through_the_api(self):
        self.assertGreater(len(self.rows), 200)
        checked = 0
        for row in self.rows:
            for path in expand(row["path"]):
                where = "docs/kserve-fields.md:%d %s" % (row["line"], path)
                value = with_model_dir(row["example"], self.model_dir)
                if row["kind"] == "ServingRuntime":
                    rt = base_runtime()
                    set_path(rt, path, value)
                    csr = copy.deepcopy(rt)
                    csr["kind"] = "ClusterServingRuntime"
                    del csr["metadata"]["namespace"]
                    replies = [self.dry_run(SR_API, rt), self.dry_run(CSR_API, csr)]
                else:
                    isvc = base_isvc(path, self.model_dir)
                    set_path(isvc, path, value)
                    api = ISVC_API.replace("/default/", "/%s/" % isvc["metadata"].get("namespace", "default"))
                    replies = [self.dry_run(api, isvc)]
                for r in replies:
                    checked += 1
                    # Every KServe field is in inferd's CRD schema: none is pruned as unknown.
                    self.assertNotIn("Warning", r.headers, (where, r.headers.get("Warning")))
                    if row["behaviour"] == "refused":
                        self.assertEqual(r.status_code, 422, (where, r.text))
                        self.assertIn(indexed(path), r.json()["message"], where)
                    else:
                        self.assertEqual(r.status_code, 201, (where, r.text))
        self.assertGreater(checked, 300)
        # A dry run stores nothing.
        self.assertEqual(self.serve.api("GET", ISVC_API).json()["items"], [])
        self.assertEqual(self.serve.api("GET", SR_API).json()["items"], [])
        r = self.serve.api("POST", ISVC_API + "?dryRun=Sometimes", json=base_isvc("", self.model_dir))
        self.assertEqual(r.status_code, 400, r.text)

    def test_02_not_ready_rows_end_with_their_reason(self):
        names = []
        n = 0
        # An implementation that is itself not ready (no runtime for its format) fails first.
        impl_reason = {r["path"][len("spec.predictor."):]: r["reason"] for r in self.rows
                       if r["kind"] == "InferenceService" and r["behaviour"] == "not-ready"
                       and r["path"][len("spec.predictor."):] in IMPLS}
        for row in self.rows:
            if row["behaviour"] != "not-ready":
                continue
            for path in expand(row["path"]):
                impl = re.split(r"[.\[]", path[len("spec.predictor."):])[0] if path.startswith("spec.predictor.") else ""
                if impl in impl_reason and path != "spec.predictor." + impl:
                    continue  # covered by the implementation's own row
                n += 1
                name = "nr-%d" % n
                value = with_model_dir(row["example"], self.model_dir)
                if row["kind"] == "ServingRuntime":
                    rt = base_runtime("rt-" + name)
                    set_path(rt, path, value)
                    r = self.serve.api("POST", SR_API, json=rt)
                    self.assertEqual(r.status_code, 201, r.text)
                    isvc = base_isvc("spec.predictor", self.model_dir, name)
                    isvc["spec"]["predictor"]["model"]["runtime"] = "rt-" + name
                else:
                    isvc = base_isvc(path, self.model_dir, name)
                    set_path(isvc, path, value)
                r = self.serve.api("POST", ISVC_API, json=isvc)
                self.assertEqual(r.status_code, 201, r.text)
                names.append((name, row["reason"], "docs/kserve-fields.md:%d %s" % (row["line"], path)))
        self.assertGreaterEqual(len(names), 8)
        for name, reason, where in names:
            # A transformer's or explainer's reason is its own condition's (the predictor runs beside it).
            path = where.split(" ", 1)[1]
            component = path.split(".")[1] if re.match(r"spec\.(transformer|explainer)($|[.\[])", path) else ""
            condition = {"transformer": "TransformerReady", "explainer": "ExplainerReady"}.get(component, "Ready")
            obj = self.serve.wait(name, lambda o, want=reason, c=condition: reason_of(o, c) == want, timeout=60,
                                  what="%s %s" % (condition, reason))
            self.assertFalse(is_ready(obj), where)
            if component:
                continue
            # A storage failure is KServe's storage-initializer failure: lastFailureInfo says ModelLoadFailed.
            lfi_reason = "ModelLoadFailed" if reason.startswith("Storage") else reason
            self.assertEqual(obj["status"]["modelStatus"]["lastFailureInfo"]["reason"], lfi_reason, where)
            self.assertEqual(pids_of(obj), [], where)  # nothing was started for it
        for name, _, _ in names:
            self.assertEqual(self.serve.cli("delete", "isvc", name)[0], 0)

    def test_03_apply_validates_the_whole_file_first(self):
        good = """apiVersion: serving.kserve.io/v1beta1
kind: InferenceService
metadata:
  name: %s
spec:
  predictor:
    model:
      modelFormat: {name: sklearn}
      storageUri: %s
"""
        text = ("---\n".join([
            good % ("multi-a", self.model_dir),
            good.replace("    model:", "    logger: {mode: both}\n    model:") % ("multi-b", self.model_dir),
            """apiVersion: serving.kserve.io/v1alpha1
kind: ServingRuntime
metadata:
  name: multi-rt
spec:
  containers: []
""",
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n",
        ]))
        path = os.path.join(self.tmp, "multi.yaml")
        with open(path, "w") as f:
            f.write(text)
        rc, out, err = self.serve.cli("apply", "-f", path)
        self.assertNotEqual(rc, 0, out + err)
        self.assertIn(path + ": document 2: ", err)
        self.assertIn("spec.predictor.logger.mode: Unsupported value", err)  # the CRD enum (a logger works: issue 15)
        self.assertIn(path + ": document 3: ", err)
        self.assertIn("spec.containers: at least one container is required", err)
        self.assertIn(path + ": document 4: unknown kind \"ConfigMap\"", err)
        self.assertIn("nothing applied: 3 of 4 documents are invalid", err)
        self.assertNotIn("document 1", err)
        self.assertNotIn("created", out)
        self.assertIsNone(self.serve.isvc("multi-a"))  # the valid document was not applied either
        # Fixed, the same file applies whole.
        with open(path, "w") as f:
            f.write(good % ("multi-a", self.model_dir) + "---\n" + good % ("multi-b", self.model_dir))
        rc, out, err = self.serve.cli("apply", "-f", path)
        self.assertEqual(rc, 0, out + err)
        self.assertIn("multi-a created", out)
        self.assertIn("multi-b created", out)
        # The API takes one document per request: several YAML documents are refused, nothing created.
        r = self.serve.api("POST", ISVC_API, data=(good % ("multi-c", self.model_dir) + "---\n" +
                                                   good % ("multi-d", self.model_dir)),
                           headers={"Content-Type": "application/yaml"})
        self.assertIn(r.status_code, (400, 422), r.text)
        self.assertIsNone(self.serve.isvc("multi-c"))
        self.assertIsNone(self.serve.isvc("multi-d"))
        for n in ("multi-a", "multi-b"):
            self.serve.cli("delete", "isvc", n)

    def test_04_triton_repository(self):
        torch_dir = os.path.join(DL_MODELS, "repo", "torch-mlp2")
        onnx_dir = os.path.join(DL_MODELS, "repo", "onnx-mlp")
        if not os.path.isdir(torch_dir) or not os.path.isdir(onnx_dir):
            self.skipTest("no PyTorch/ONNX test models (built without libtorch/ONNX Runtime)")
        # Triton's layout: <repo>/<model>/config.pbtxt and <repo>/<model>/<version>/<file>.
        repo = os.path.join(self.tmp, "triton-repo")
        os.makedirs(os.path.join(repo, "torch-mlp2", "1"))
        os.makedirs(os.path.join(repo, "onnx-mlp", "1"))
        shutil.copy(os.path.join(torch_dir, "config.pbtxt"), os.path.join(repo, "torch-mlp2", "config.pbtxt"))
        shutil.copy(os.path.join(torch_dir, "model.pt"), os.path.join(repo, "torch-mlp2", "1", "model.pt"))
        shutil.copy(os.path.join(onnx_dir, "model.onnx"), os.path.join(repo, "onnx-mlp", "1", "model.onnx"))
        rc, out, err = self.serve.cli("apply", "-f", "-", stdin="""
apiVersion: serving.kserve.io/v1beta1
kind: InferenceService
metadata:
  name: triton-repo
spec:
  predictor:
    triton:
      storageUri: file://%s
""" % repo)
        self.assertEqual(rc, 0, out + err)
        obj = self.serve.wait_ready("triton-repo", timeout=120)
        self.assertEqual(obj["status"]["inferd"]["runtime"], "kserve-tritonserver", obj["status"]["inferd"])
        for model, exp in [("torch-mlp2", "torch-mlp2"), ("onnx-mlp", "onnx-mlp")]:
            want = expected(os.path.join(DL_MODELS, exp + ".expected.json"))
            inputs = [{"name": n, "shape": [len(rows), len(rows[0])], "datatype": "FP32",
                       "data": [x for r in rows for x in r]} for n, rows in want["inputs"].items()]
            r = self.serve.gw("POST", "/v2/models/%s/infer" % model, host="triton-repo.default.example.com",
                              json={"inputs": inputs})
            self.assertEqual(r.status_code, 200, r.text)
            outs = {o["name"]: o["data"] for o in r.json()["outputs"]}
            for oname, rows in want["outputs"].items():
                flat = [x for row in rows for x in row]
                self.assertIn(oname, outs)
                for a, b in zip(outs[oname], flat):
                    self.assertAlmostEqual(a, b, places=4)
            r = self.serve.gw("GET", "/v2/models/%s/ready" % model, host="triton-repo.default.example.com")
            self.assertEqual(r.status_code, 200, r.text)
        # Without an explicit protocol a `triton` predictor is V2 (KServe's default for it); asking for v1
        # finds no runtime, as in KServe (kserve-tritonserver speaks v2 and grpc-v2).
        rc, out, err = self.serve.cli("apply", "-f", "-", stdin="""
apiVersion: serving.kserve.io/v1beta1
kind: InferenceService
metadata:
  name: triton-v1
spec:
  predictor:
    triton:
      protocolVersion: v1
      storageUri: file://%s
""" % repo)
        self.assertEqual(rc, 0, out + err)
        self.serve.wait("triton-v1", lambda o: reason_of(o) == "NoSupportingRuntime", what="NoSupportingRuntime")
        for n in ("triton-repo", "triton-v1"):
            self.serve.cli("delete", "isvc", n)


def pids_of(obj):
    return [r["pid"] for r in obj.get("status", {}).get("inferd", {}).get("replicas", []) if r.get("pid")]


if __name__ == "__main__":
    unittest.main(verbosity=2)
