#!/usr/bin/python3
"""Renders every kustomization under config/ with `kubectl kustomize` and checks the objects it gives.

What is checked (each failure is printed with the kustomization and the object; exit 1 when any):
  1. Every directory under config/ that holds a kustomization.yaml renders (bases and overlays) with
     `kubectl kustomize` (kustomize v4.1 or later: kubectl 1.22+; else `kustomize build` from PATH).
  2. Objects: apiVersion/kind is one this install uses (KINDS); names are DNS-1123 (RBAC names may hold ':');
     no two objects share kind, namespace and name; cluster-scoped kinds (ClusterServingRuntime, CRDs, RBAC
     cluster roles) carry no namespace; namespaced ones all share one namespace, which a Namespace object of
     the same rendering creates when there is one; every object of an overlay (config/overlays/*) and of
     config/default has the labels app.kubernetes.io/part-of: inferd and app.kubernetes.io/name.
  3. CRDs: an overlay that installs the operator (config/overlays/standalone) holds all of KServe's five
     (CRDS), each apiextensions.k8s.io/v1 with its group, plural and kind, a served and a storage version
     with a schema.
  4. ClusterServingRuntimes: each passes `inferd serve`'s own validation (a `?dryRun=All` POST to an `inferd
     serve` started here on ephemeral ports; skipped with --no-serve); its kserve-container runs inferd's
     image with args `model-server --model_name={{.Name}} --model_dir=/mnt/models --http_port=8080
     --grpc_port=9000` (RUNTIME_ARGS); every format names a version; where autoSelect is on, the priority is
     above every priority KServe's own runtimes give that format (KSERVE_PRIORITIES: KServe's validating
     webhook refuses two runtimes that give one format the same priority); overlay kserve-runtimes has
     autoSelect off everywhere, kserve-runtimes-preferred on everywhere.
  5. The operator: its Deployment's service account exists; bindings point at roles and service accounts of
     the rendering; the selector matches the pod labels; probe ports are declared; the first arg is
     `operator` and, when `inferd operator --help` runs, every --flag of the args is in its help text. The
     Roles and ClusterRoles bound to its service account cover every (apiGroup, resource, verb) the operator
     uses: `inferd operator --print-rbac` ({"rules": [{apiGroups, resources, verbs}...]}, or a bare list) when
     that command runs, else scripts/operator_rbac.json, in the same form (--rbac FILE to use another).
Usage: scripts/check_config.py [--inferd build/inferd] [--no-serve] [--rbac FILE] [repository root]
Run by tests/scripts/check_config_test.py (ctest; about two seconds).
"""
import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

import yaml

KINDS = {  # (apiVersion, kind) -> cluster-scoped?
    ("v1", "Namespace"): True,
    ("v1", "ServiceAccount"): False,
    ("v1", "Service"): False,
    ("apps/v1", "Deployment"): False,
    ("rbac.authorization.k8s.io/v1", "ClusterRole"): True,
    ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding"): True,
    ("rbac.authorization.k8s.io/v1", "Role"): False,
    ("rbac.authorization.k8s.io/v1", "RoleBinding"): False,
    ("apiextensions.k8s.io/v1", "CustomResourceDefinition"): True,
    ("serving.kserve.io/v1alpha1", "ClusterServingRuntime"): True,
}
CRDS = {  # plural -> (kind, scope)
    "inferenceservices": ("InferenceService", "Namespaced"),
    "servingruntimes": ("ServingRuntime", "Namespaced"),
    "clusterservingruntimes": ("ClusterServingRuntime", "Cluster"),
    "inferencegraphs": ("InferenceGraph", "Namespaced"),
    "trainedmodels": ("TrainedModel", "Namespaced"),
}
RUNTIME_ARGS = ["model-server", "--model_name={{.Name}}", "--model_dir=/mnt/models", "--http_port=8080",
                "--grpc_port=9000"]
# The priorities KServe's config/runtimes give each format with autoSelect (sklearnserver 1, mlserver 2,
# xgbserver 1, lgbserver 1, torchserve 2, tritonserver 1 for onnx).
KSERVE_PRIORITIES = {"sklearn": {1, 2}, "xgboost": {1, 2}, "lightgbm": {1, 2}, "pytorch": {2}, "onnx": {1}}
AUTOSELECT = {"kserve-runtimes": False, "kserve-runtimes-preferred": True}
DNS1123 = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
KUBECTL = shutil.which("kubectl") or "/usr/bin/kubectl"
LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml: the CRDs are large


def kustomizations(config_dir):
    out = []
    for root, _dirs, files in os.walk(config_dir):
        if "kustomization.yaml" in files:
            out.append(root)
    return sorted(out)


def kustomize_command():
    """`kubectl kustomize`, when its kustomize is v4.1 or later (the `labels` field; kubectl 1.22+), else a
    `kustomize build` on PATH. Returns (argv prefix, None) or (None, why not)."""
    try:
        r = subprocess.run([KUBECTL, "version", "--client"], capture_output=True, text=True, timeout=60)
        m = re.search(r"Kustomize Version: v(\d+)\.(\d+)", r.stdout)
        if m and (int(m.group(1)), int(m.group(2))) >= (4, 1):
            return [KUBECTL, "kustomize"], None
    except OSError:
        pass
    if shutil.which("kustomize"):
        return [shutil.which("kustomize"), "build"], None
    return None, ("config/ needs kustomize v4.1 or later: kubectl 1.22+ (`kubectl version --client` names its "
                  "Kustomize Version) or a `kustomize` on PATH")


def render_all(directories, command):
    """{directory: (objects or None, error)}: all renders at once (each is mostly waiting)."""
    procs = {d: subprocess.Popen(command + [d], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                 text=True) for d in directories}
    out = {}
    for d, p in procs.items():
        stdout, stderr = p.communicate(timeout=120)
        if p.returncode != 0:
            out[d] = (None, stderr.strip())
        else:
            out[d] = ([o for o in yaml.load_all(stdout, Loader=LOADER) if o], "")
    return out


def key(obj):
    md = obj.get("metadata") or {}
    return "%s %s%s" % (obj.get("kind"), (md.get("namespace") + "/") if md.get("namespace") else "", md.get("name"))


def check_objects(where, objs, errors, require_labels):
    seen = set()
    namespaces = set()
    created_ns = [o["metadata"]["name"] for o in objs if o.get("kind") == "Namespace"]
    for o in objs:
        av, kind, md = o.get("apiVersion"), o.get("kind"), o.get("metadata") or {}
        name, ns = md.get("name") or "", md.get("namespace")
        if (av, kind) not in KINDS:
            errors.append("%s: %s: apiVersion/kind %s %s is not one this install uses" % (where, key(o), av, kind))
            continue
        ok_name = DNS1123.match(name.replace(":", "-") if kind.startswith(("Cluster", "Role")) else name)
        if not ok_name or len(name) > 253:
            errors.append("%s: %s: name is not a DNS-1123 subdomain" % (where, key(o)))
        ident = (kind, ns, name)
        if ident in seen:
            errors.append("%s: %s: defined twice" % (where, key(o)))
        seen.add(ident)
        if KINDS[(av, kind)]:
            if ns:
                errors.append("%s: %s: cluster-scoped, must have no namespace" % (where, key(o)))
        else:
            namespaces.add(ns)
        if require_labels:
            labels = md.get("labels") or {}
            if labels.get("app.kubernetes.io/part-of") != "inferd" or not labels.get("app.kubernetes.io/name"):
                errors.append("%s: %s: labels app.kubernetes.io/part-of=inferd and app.kubernetes.io/name missing"
                              % (where, key(o)))
    if len(namespaces) > 1:
        errors.append("%s: namespaced objects are spread over %s" % (where, sorted(map(str, namespaces))))
    if created_ns and namespaces and namespaces != set(created_ns[:1]):
        errors.append("%s: namespaced objects are in %s, the Namespace created is %s"
                      % (where, sorted(map(str, namespaces)), created_ns[0]))


def check_crds(where, objs, errors):
    got = {}
    for o in objs:
        if o.get("kind") != "CustomResourceDefinition":
            continue
        spec = o.get("spec") or {}
        names = spec.get("names") or {}
        plural = names.get("plural")
        got[plural] = o
        if plural not in CRDS:
            errors.append("%s: %s: not one of KServe's five CRDs" % (where, key(o)))
            continue
        kind, scope = CRDS[plural]
        if spec.get("group") != "serving.kserve.io" or names.get("kind") != kind or spec.get("scope") != scope:
            errors.append("%s: %s: want group serving.kserve.io, kind %s, scope %s" % (where, key(o), kind, scope))
        if o["metadata"].get("name") != plural + ".serving.kserve.io":
            errors.append("%s: %s: must be named %s.serving.kserve.io" % (where, key(o), plural))
        versions = spec.get("versions") or []
        if not any(v.get("served") for v in versions) or sum(bool(v.get("storage")) for v in versions) != 1:
            errors.append("%s: %s: needs a served version and exactly one storage version" % (where, key(o)))
        if not all((v.get("schema") or {}).get("openAPIV3Schema") for v in versions):
            errors.append("%s: %s: every version needs an openAPIV3Schema" % (where, key(o)))
    for plural in CRDS:
        if plural not in got:
            errors.append("%s: CRD %s.serving.kserve.io missing" % (where, plural))


def image_repository(image):
    image = image.split("@")[0]
    last = image.rsplit("/", 1)[-1]
    return last.split(":")[0]


def check_runtime(where, overlay, o, errors):
    spec = o.get("spec") or {}
    containers = spec.get("containers") or []
    c = next((c for c in containers if c.get("name") == "kserve-container"), None)
    if c is None:
        errors.append("%s: %s: no container named kserve-container" % (where, key(o)))
        return
    if image_repository(c.get("image", "")) != "inferd" or c.get("command"):
        errors.append("%s: %s: kserve-container must run inferd's image with its entrypoint (no command)"
                      % (where, key(o)))
    if c.get("args") != RUNTIME_ARGS:
        errors.append("%s: %s: args %s, want %s" % (where, key(o), c.get("args"), RUNTIME_ARGS))
    want_auto = AUTOSELECT.get(overlay)
    for f in spec.get("supportedModelFormats") or []:
        name = f.get("name")
        if not f.get("version"):
            errors.append("%s: %s: format %s names no version" % (where, key(o), name))
        if want_auto is not None and bool(f.get("autoSelect")) != want_auto:
            errors.append("%s: %s: format %s must have autoSelect %s in this overlay" % (where, key(o), name,
                                                                                        want_auto))
        if f.get("autoSelect"):
            p = f.get("priority")
            taken = KSERVE_PRIORITIES.get(name, set())
            if not isinstance(p, int) or p in taken or (taken and p < max(taken)):
                errors.append("%s: %s: format %s priority %s must be above KServe's %s" % (where, key(o), name, p,
                                                                                          sorted(taken)))


def rule_grants(rules):
    granted = set()
    for r in rules:
        for g in r.get("apiGroups") or []:
            for res in r.get("resources") or []:
                for v in r.get("verbs") or []:
                    granted.add((g, res, v))
    return granted


def covered(granted, g, res, verb):
    return any(gg in (g, "*") and rr in (res, "*") and vv in (verb, "*") for gg, rr, vv in granted)


def check_operator(where, objs, expected_rules, operator_help, errors):
    deps = [o for o in objs if o.get("kind") == "Deployment"]
    if not deps:
        return
    by = {}
    for o in objs:
        by[(o.get("kind"), o["metadata"].get("namespace"), o["metadata"].get("name"))] = o
    for d in deps:
        ns = d["metadata"].get("namespace")
        tmpl = d["spec"]["template"]
        pod = tmpl.get("spec") or {}
        sel = (d["spec"].get("selector") or {}).get("matchLabels") or {}
        labels = (tmpl.get("metadata") or {}).get("labels") or {}
        if not sel or any(labels.get(k) != v for k, v in sel.items()):
            errors.append("%s: %s: selector %s does not match the pod labels" % (where, key(d), sel))
        sa = pod.get("serviceAccountName")
        if ("ServiceAccount", ns, sa) not in by:
            errors.append("%s: %s: service account %s is not in the rendering" % (where, key(d), sa))
        c = (pod.get("containers") or [{}])[0]
        args = c.get("args") or []
        if not args or args[0] != "operator":
            errors.append("%s: %s: args must start with `operator`, got %s" % (where, key(d), args))
        if operator_help is not None:
            for a in args[1:]:
                flag = a.split("=")[0]
                if flag.startswith("-") and not re.search(r"(^|[\s,])%s\b" % re.escape(flag), operator_help):
                    errors.append("%s: %s: `inferd operator` has no flag %s" % (where, key(d), flag))
        ports = {p.get("name") for p in c.get("ports") or []} | {p.get("containerPort") for p in c.get("ports") or []}
        for probe in ("livenessProbe", "readinessProbe"):
            port = ((c.get(probe) or {}).get("httpGet") or {}).get("port")
            if port is None or port not in ports:
                errors.append("%s: %s: %s port %s is not a declared container port" % (where, key(d), probe, port))
        # The rules bound to the operator's service account.
        rules = []
        for b in objs:
            if b.get("kind") not in ("ClusterRoleBinding", "RoleBinding"):
                continue
            if not any(s.get("kind") == "ServiceAccount" and s.get("name") == sa and s.get("namespace") == ns
                       for s in b.get("subjects") or []):
                continue
            ref = b.get("roleRef") or {}
            role_ns = None if ref.get("kind") == "ClusterRole" else b["metadata"].get("namespace")
            role = by.get((ref.get("kind"), role_ns, ref.get("name")))
            if role is None:
                errors.append("%s: %s: roleRef %s %s is not in the rendering" % (where, key(b), ref.get("kind"),
                                                                               ref.get("name")))
                continue
            rules += role.get("rules") or []
        granted = rule_grants(rules)
        for r in expected_rules:
            for g in r.get("apiGroups") or []:
                for res in r.get("resources") or []:
                    for v in r.get("verbs") or []:
                        if not covered(granted, g, res, v):
                            errors.append("%s: the operator's roles do not grant %s %s on %s" %
                                          (where, v, res, g or "core"))


class Serve:
    """`inferd serve` on ephemeral ports in a scratch directory, for dry-run validation."""

    def __init__(self, inferd):
        self.dir = tempfile.mkdtemp(prefix="check_config.")
        self.proc = subprocess.Popen(
            [inferd, "serve", "--data_dir", self.dir, "--http_port", "0", "--grpc_port", "0", "--api_port", "0"],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
        self.port = None

    def wait_started(self):
        deadline, out = time.time() + 60, []
        while time.time() < deadline and self.port is None:
            line = self.proc.stdout.readline()
            if not line:
                break
            out.append(line)
            m = re.search(r"api_port=(\d+)", line)
            if m:
                self.port = int(m.group(1))
        if self.port is None:
            self.stop()
            raise RuntimeError("inferd serve did not start:\n" + "".join(out))
        with open(os.path.join(self.dir, "token")) as f:
            self.token = f.read().strip()

    def dry_run(self, obj):
        req = urllib.request.Request(
            "http://127.0.0.1:%d/apis/serving.kserve.io/v1alpha1/clusterservingruntimes?dryRun=All" % self.port,
            data=json.dumps(obj).encode(), method="POST",
            headers={"Authorization": "Bearer " + self.token, "Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                return r.status, ""
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode(errors="replace")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.proc.stdout.close()
        shutil.rmtree(self.dir, ignore_errors=True)


def operator_facts(inferd, rbac_file):
    """(expected rules, where they came from, `inferd operator --help` text or None)."""
    help_text = None
    if inferd and os.path.exists(inferd):
        p = subprocess.run([inferd, "operator", "--help"], capture_output=True, text=True, timeout=30)
        # Without the subcommand, CLI11 prints the top-level help (also exit 0): its Usage line lacks it.
        if p.returncode == 0 and re.search(r"^Usage: \S+ operator\b", p.stdout, re.M):
            help_text = p.stdout + p.stderr
            q = subprocess.run([inferd, "operator", "--print-rbac"], capture_output=True, text=True, timeout=30)
            if q.returncode == 0:
                return rules_of(json.loads(q.stdout)), "`inferd operator --print-rbac`", help_text
    with open(rbac_file) as f:
        return rules_of(json.load(f)), rbac_file, help_text


def rules_of(doc):
    """The rule list of `--print-rbac`'s answer ({"rules": [...]}) or of a bare list."""
    return doc.get("rules", []) if isinstance(doc, dict) else doc


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("root", nargs="?", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
    ap.add_argument("--inferd", default=None, help="the inferd binary (default: ROOT/build/inferd)")
    ap.add_argument("--no-serve", action="store_true", help="skip the dry-run validation by inferd serve")
    ap.add_argument("--rbac", default=None, help="expected operator rules when --print-rbac is not there")
    a = ap.parse_args()
    root = os.path.abspath(a.root)
    inferd = a.inferd or os.path.join(root, "build", "inferd")
    config = os.path.join(root, "config")
    errors = []
    expected, source, operator_help = operator_facts(inferd, a.rbac or os.path.join(root, "scripts",
                                                                                    "operator_rbac.json"))
    dirs = kustomizations(config)
    if not dirs:
        errors.append("no kustomization.yaml under %s" % config)
    command, why = kustomize_command()
    if command is None:
        print(why)
        return 1
    serve = None
    try:
        if not a.no_serve:
            serve = Serve(inferd)
        rendered = render_all(dirs, command)  # while inferd serve starts
        if serve:
            serve.wait_started()
        runtimes = 0
        for d in dirs:
            where = os.path.relpath(d, root)
            objs, err = rendered[d]
            if objs is None:
                errors.append("%s: %s failed: %s" % (where, " ".join(command[-2:]), err))
                continue
            overlay = os.path.basename(d) if os.path.dirname(where) == os.path.join("config", "overlays") else None
            check_objects(where, objs, errors, overlay is not None or where == os.path.join("config", "default"))
            if overlay and any(o.get("kind") == "Deployment" for o in objs):
                check_crds(where, objs, errors)
            if overlay is not None or where == os.path.join("config", "default"):  # operator with its RBAC
                check_operator(where, objs, expected, operator_help, errors)
            for o in objs:
                if o.get("kind") != "ClusterServingRuntime":
                    continue
                runtimes += 1
                check_runtime(where, overlay, o, errors)
                if serve:
                    code, body = serve.dry_run(o)
                    if code != 201:
                        errors.append("%s: %s: inferd serve refuses it (%d): %s" % (where, key(o), code, body))
        if runtimes == 0:
            errors.append("no ClusterServingRuntime rendered")
    finally:
        if serve:
            serve.stop()
    for e in errors:
        print(e)
    print("check_config: %d kustomizations rendered, operator rules from %s, %s" %
          (len(dirs), source, "%d problems" % len(errors) if errors else "all checks pass"))
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
