#!/usr/bin/python3
"""Lists every field of KServe's InferenceService (v1beta1) and ServingRuntime / ClusterServingRuntime
(v1alpha1) specs, walked from KServe's Go types, plus the annotation and label keys users set.

Usage:
  /usr/bin/python3 scripts/kserve_fields.py /work/.mirror/kserve+kserve/repo > tests/resources/kserve_fields.txt

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


if __name__ == "__main__":
    main()
