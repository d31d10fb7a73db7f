#!/usr/bin/python3
"""Lists every field of KServe's InferenceService (v1beta1) and ServingRuntime / ClusterServingRuntime
(v1alpha1) specs, walked from KServe's Go types, plus the annotation and label keys users set.

Usage:
  /usr/bin/python3 scripts/kserve_fields.py /work/.mirror/kserve+kserve/repo > tests/resources/kserve_fields.txt
  /usr/bin/python3 scripts/kserve_fields.py --component-rows docs/kserve-fields.md tests/resources/kserve_fields.txt

The second form prints the rows of docs/kserve-fields.md's "transformer and explainer" section: every field of
spec.transformer and spec.explainer that the predictor shares (the ComponentExtensionSpec, the PodSpec, the
containers' fields, and art's inline container fields as the predictor implementations') takes the predictor's
row, its outcome and example; the fields only these components have are written here (COMPONENT_ROWS).

The mirror is a bare git repository (read with `git show HEAD:path`). The output is checked in, so that
tests/control/kserve_fields_test.cc (which checks that docs/kserve-fields.md has a row for every field)
does not need the mirror; regenerate it when moving to a newer KServe.

Paths: `spec.predictor.minReplicas`; a list element is `[]` (`spec.predictor.containers[].env`); an
annotation or label key is `metadata.annotations[KEY]` / `metadata.labels[KEY]`. KServe's own structs are
walked to their leaves, inline (embedded) structs flattened as JSON flattens them. Kubernetes' types
(corev1, appsv1, autoscalingv2, metav1, resource) are leaves, except corev1.Container, whose top-level fields
are listed (its field names are read from KServe's CRD, which embeds the Kubernetes schema KServe builds
against), because KServe users write container fields inside `model:` and in `containers:`.
"""

import re
import subprocess
import sys

import yaml

V1BETA1 = "pkg/apis/serving/v1beta1/"
V1ALPHA1 = "pkg/apis/serving/v1alpha1/"
ISVC_CRD = "config/crd/full/serving.kserve.io_inferenceservices.yaml"
CONSTANTS = "pkg/constants/constants.go"

# Types with their own JSON form (a quantity written as a string or number): leaves.
LEAF_TYPES = {"MetricQuantity"}

# Annotation keys KServe defines outside the "InferenceService Annotations" block that users set.
EXTRA_ANNOTATIONS = ["CustomGPUResourceTypesAnnotationKey"]
RUNTIME_ANNOTATIONS = ["ServerTypeAnnotationKey"]
LABELS = ["NetworkVisibility"]


def git(repo, *args):
    return subprocess.run(["git", "-C", repo] + list(args), check=True, capture_output=True, text=True).stdout


def parse_structs(source):
    """{type name: [(field name, go type, json name or "" for inline)]} of the Go source's structs."""
    structs = {}
    for m in re.finditer(r"^type (\w+) struct \{\n(.*?)^\}", source, re.S | re.M):
        fields = []
        for line in m.group(2).splitlines():
            line = line.strip()
            if not line or line.startswith("//"):
                continue
            embedded = re.match(r"^([\*\w\.]+)\s+`json:\"([^\"]*)\"", line)  # `PodSpec `json:",inline"``
            f = embedded or re.match(r"^(\w+)\s+([\*\[\]\w\.]+)\s+`json:\"([^\"]*)\"", line)
            if not f:
                continue
            gotype, tag = (f.group(1), f.group(2)) if embedded else (f.group(2), f.group(3))
            name = gotype if embedded else f.group(1)
            json_name = tag.split(",")[0]
            if json_name == "-":
                continue
            inline = ",inline" in tag or (embedded and json_name == "")
            fields.append((name, gotype, "" if inline else json_name))
        structs[m.group(1)] = fields
    return structs


def container_fields(repo):
    crd = yaml.safe_load(git(repo, "show", "HEAD:" + ISVC_CRD))
    for v in crd["spec"]["versions"]:
        if v["name"] == "v1beta1":
            spec = v["schema"]["openAPIV3Schema"]["properties"]["spec"]
            props = spec["properties"]["predictor"]["properties"]["containers"]["items"]["properties"]
            return sorted(props)
    raise SystemExit("no v1beta1 in " + ISVC_CRD)


def walk(structs, container, type_name, path, out, seen=()):
    for name, gotype, json_name in structs[type_name]:
        base = gotype.lstrip("*")
        is_list = base.startswith("[]")
        base = base.lstrip("[]*")
        if json_name == "":  # inline
            if base == "corev1.Container":
                for f in container:
                    out.append(path + "." + f)
            elif base in structs:
                walk(structs, container, base, path, out, seen)
            # metav1.TypeMeta / ObjectMeta appear only at the top level, which is not walked.
            continue
        p = path + "." + json_name
        out.append(p)
        elem = p + "[]" if is_list else p
        if base == "corev1.Container":
            for f in container:
                out.append(elem + "." + f)
        elif base in structs and base not in LEAF_TYPES and base not in seen:
            walk(structs, container, base, elem, out, seen + (base,))


def go_files(repo, prefix):
    names = git(repo, "ls-tree", "--name-only", "HEAD", prefix).split()
    return [n for n in names if n.endswith(".go") and not n.endswith("_test.go") and "zz_generated" not in n]


def annotation_keys(repo):
    src = git(repo, "show", "HEAD:" + CONSTANTS)
    consts = {}
    for m in re.finditer(r"^\s*(?:var\s+|const\s+)?(\w+)\s*=\s*(.+)$", src, re.M):
        consts.setdefault(m.group(1), m.group(2).strip())

    def value(expr, depth=0):
        if depth > 5:
            return None
        parts = [p.strip() for p in expr.split("+")]
        s = ""
        for p in parts:
            if p.startswith('"') and p.endswith('"'):
                s += p[1:-1]
            elif p in consts:
                v = value(consts[p], depth + 1)
                if v is None:
                    return None
                s += v
            else:
                return None
        return s

    block = re.search(r"// InferenceService Annotations\nvar \((.*?)^\)", src, re.S | re.M).group(1)
    names = [m.group(1) for m in re.finditer(r"^\s*(\w+)\s*=", block, re.M)] + EXTRA_ANNOTATIONS
    keys = []
    for n in names:
        v = value(consts[n])
        if v and "/" in v and not v.startswith("/"):  # keys only (the block also holds default values)
            keys.append("metadata.annotations[%s]" % v)
    labels = ["metadata.labels[%s]" % value(consts[n]) for n in LABELS]
    runtime = ["metadata.annotations[%s]" % value(consts[n]) for n in RUNTIME_ANNOTATIONS]
    return keys, labels, runtime


def main():
    if len(sys.argv) != 2:
        raise SystemExit(__doc__)
    repo = sys.argv[1]
    commit = git(repo, "rev-parse", "HEAD").strip()
    structs = {}
    for f in go_files(repo, V1BETA1):
        structs.update(parse_structs(git(repo, "show", "HEAD:" + f)))
    alpha = {}
    alpha.update(parse_structs(git(repo, "show", "HEAD:" + V1ALPHA1 + "servingruntime_types.go")))
    container = container_fields(repo)

    isvc = []
    walk(structs, container, "InferenceServiceSpec", "spec", isvc)
    runtime = []
    walk(alpha, container, "ServingRuntimeSpec", "spec", runtime)
    annotations, labels, runtime_annotations = annotation_keys(repo)

    print("# KServe's InferenceService / ServingRuntime fields, from KServe's Go types (scripts/kserve_fields.py).")
    print("# kserve commit " + commit)
    print("# Format: KIND PATH (KIND: InferenceService or ServingRuntime; ClusterServingRuntime has the same spec).")
    for p in isvc + annotations + labels:
        print("InferenceService " + p)
    for p in runtime + runtime_annotations:
        print("ServingRuntime " + p)


# The rows of fields only the transformer and explainer have (the rest follow the predictor's rows).
COMPONENT_ROWS = [
    ("spec.transformer", "works", '{"containers":[{"name":"kserve-container","command":["python3","/tmp/transformer.py"]}]}',
     "a component of its own (its revisions, replicas, autoscaler, canary, status and TransformerReady); a Python "
     "command runs in `inferd model-server`'s interpreter with KServe's flags; the service's URL routes to it "
     "([pipeline.md](pipeline.md#components-transformer-and-explainer-in-inferd-serve))"),
    ("spec.transformer", "not-ready: RuntimeNotRunnable",
     '{"containers":[{"name":"kserve-container","image":"kserve/image-transformer:latest"}]}',
     "an image without a command cannot run without Kubernetes: TransformerReady is False with this reason"),
    ("spec.explainer", "works", '{"containers":[{"name":"kserve-container","command":["python3","/tmp/explainer.py"]}]}',
     "a component of its own (as spec.transformer); `:explain` on the service's URL routes to it"),
    ("spec.explainer.art", "works", '{"type":"SquareAttack","config":{"nb_classes":"10"}}',
     "runs `inferd art-explainer` with KServe's art-server flags against the predictor"),
    ("spec.explainer.art.type", "works", '"SquareAttack"', "the only type KServe has; any other is refused"),
    ("spec.explainer.art.type", "refused", '"Anchors"', "`unknown ART explainer type`"),
    ("spec.explainer.art.config", "works", '{"max_iter":"10"}', "one `--<key> <value>` flag per entry, keys sorted"),
    ("spec.explainer.art.config", "refused", '{"max_iter":10}', "values are strings, as KServe's map[string]string"),
    ("spec.transformer.logger", "not-ready: RuntimeNotRunnable", '{"mode":"all","url":"http://logger.default"}',
     "as `spec.predictor.logger` when the transformer runs as `inferd model-server` (a Python command, "
     "docs/pipeline.md); a container running any other command cannot log: not Ready, naming `transformer.logger`"),
    ("spec.transformer.batcher", "not-ready: RuntimeNotRunnable", '{"maxBatchSize":32,"maxLatency":500}',
     "a transformer's container is not Ready naming `transformer.batcher`: a Python transformer takes its bodies "
     "whole (nothing to batch) and any other command is not `inferd model-server`"),
    ("spec.explainer.logger", "not-ready: RuntimeNotRunnable", '{"mode":"all","url":"http://logger.default"}',
     "as `spec.predictor.logger` for `art` and a Python explainer (both run as inferd's model server); a "
     "container running any other command cannot log: not Ready, naming `explainer.logger`"),
    ("spec.explainer.batcher", "not-ready: RuntimeNotRunnable", '{"maxBatchSize":32,"maxLatency":500}',
     "an explainer is not batched: not Ready naming `explainer.batcher` (as KServe's batcher, which batches "
     "`:predict` only)"),
    ("spec.explainer.art.storage", "refused", '{"key":"k","path":"p","parameters":{"type":"s3"}}',
     "`not supported yet: a storage spec for the explainer's model; give art.storageUri`"),
]


def component_rows(table_path, fields_path):
    """Rows for spec.transformer.* and spec.explainer.* from the predictor's rows (see the usage)."""
    rows = {}
    with open(table_path) as f:
        for line in f:
            if not line.startswith("| `spec.predictor"):
                continue
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            rows.setdefault(cells[0].strip("`"), []).append(cells)
    own = {}
    for path, behaviour, example, note in COMPONENT_ROWS:
        own.setdefault(path, []).append(["`%s`" % path, behaviour, "`%s`" % example, note])
    out, missing = [], []
    with open(fields_path) as f:
        fields = [l.split(" ", 1)[1].strip() for l in f if l.startswith("InferenceService spec.transformer") or
                  l.startswith("InferenceService spec.explainer")]
    covering = []  # refused / not-ready rows: they cover their subtree (as the test reads the table)

    def covered(field):
        return any(field.startswith(c) and field[len(c)] in ".[" for c in covering if len(field) > len(c))

    for field in fields:
        if covered(field):
            continue
        if field in own:
            for cells in own.pop(field):
                out.append(cells)
                # (a component's own not-ready example does not stand for its fields: they get rows)
                if (cells[1] == "refused" or cells[1].startswith("not-ready")) and "." in field[len("spec."):]:
                    covering.append(field)
            continue
        comp = "spec.transformer" if field.startswith("spec.transformer") else "spec.explainer"
        rest = field[len(comp):]
        source = "spec.predictor.<impl>" + rest[len(".art"):] if rest.startswith(".art.") else "spec.predictor" + rest
        if source not in rows:
            missing.append(field)
            continue
        for cells in rows[source]:
            note = cells[3]
            note = "as `%s`%s" % (source, ": " + note if note else "")
            out.append(["`%s`" % field, cells[1], cells[2], note])
            if cells[1] == "refused" or cells[1].startswith("not-ready"):
                covering.append(field)
    for path in own:
        out += own[path]
    for r in out:
        print("| " + " | ".join(r) + " |")
    if missing:
        raise SystemExit("no predictor row to follow for: " + ", ".join(missing))


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--component-rows":
        component_rows(sys.argv[2], sys.argv[3])
    else:
        main()
