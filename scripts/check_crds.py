#!/usr/bin/env python3
"""Checks CustomResourceDefinition files offline against the rules an apiextensions.k8s.io/v1 API server
applies when they are created (so `kubectl apply -f config/crd/` is not refused on a cluster):

CRD level: apiVersion/kind, metadata.name == <plural>.<group>, names (lowercase plural/singular, kind,
listKind), scope Namespaced|Cluster, at least one version and exactly one storage version, each version with a
schema, subresources only status/scale, printer columns of a known type with a jsonPath starting with '.'.

Structural schema (Kubernetes' "Specifying a structural schema" rules):
1. every node has a non-empty `type` (one of object, array, string, integer, number, boolean), except a node
   with x-kubernetes-int-or-string: true (which must not have one) or x-kubernetes-preserve-unknown-fields;
2. inside allOf/anyOf/oneOf/not: no type, description, default, additionalProperties or nullable, except the
   int-or-string pattern anyOf: [{type: integer}, {type: string}]; a field named there is also named outside;
3. metadata at the root is `type: object`, restricted at most in its name/generateName;
4. the root is an object; arrays have one `items` schema; properties and additionalProperties exclude each
   other; additionalProperties is a schema, not a boolean; x-kubernetes-preserve-unknown-fields is only true;
plus lint that catches mistakes in a hand-made source: every `required` name is a property, enum values match
the node's type, minimum <= maximum, keys are known OpenAPI v3 / Kubernetes extension keys.

    python3 scripts/check_crds.py [FILE...]     (default: config/crd/serving.kserve.io_*.yaml)
Exit 0 when every file passes; otherwise each problem is printed as FILE: PATH: MESSAGE and the exit is 1.
"""
import glob
import os
import sys

import yaml

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
TYPES = {"object", "array", "string", "integer", "number", "boolean"}
KNOWN_KEYS = {
    "type", "format", "description", "properties", "additionalProperties", "items", "required", "enum",
    "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "minLength", "maxLength", "pattern",
    "minItems", "maxItems", "uniqueItems", "minProperties", "maxProperties", "multipleOf", "default",
    "nullable", "allOf", "anyOf", "oneOf", "not", "title", "example", "externalDocs",
    "x-kubernetes-preserve-unknown-fields", "x-kubernetes-int-or-string", "x-kubernetes-embedded-resource",
    "x-kubernetes-list-type", "x-kubernetes-list-map-keys", "x-kubernetes-map-type", "x-kubernetes-validations",
}
COLUMN_TYPES = {"string", "integer", "number", "boolean", "date"}
INT_OR_STRING_ANYOF = [{"type": "integer"}, {"type": "string"}]


def _matches_type(value, t):
    return {
        "string": isinstance(value, str),
        "integer": isinstance(value, int) and not isinstance(value, bool),
        "number": isinstance(value, (int, float)) and not isinstance(value, bool),
        "boolean": isinstance(value, bool),
    }.get(t, True)


def check_junction(node, path, errs):
    """Rule 2: what may appear inside allOf/anyOf/oneOf/not."""
    for key in ("allOf", "anyOf", "oneOf", "not"):
        if key not in node:
            continue
        subs = node[key] if key != "not" else [node[key]]
        if key == "anyOf" and subs == INT_OR_STRING_ANYOF and node.get("x-kubernetes-int-or-string"):
            continue
        for i, sub in enumerate(subs):
            for bad in ("type", "description", "default", "additionalProperties", "nullable"):
                if bad in sub:
                    errs.append("%s.%s[%d].%s: must not be set inside %s" % (path, key, i, bad, key))
            for prop in sub.get("properties", {}):
                if prop not in node.get("properties", {}):
                    errs.append("%s.%s[%d].properties.%s: must also be specified outside %s" %
                                (path, key, i, prop, key))


def check_node(node, path, errs, root=False):
    if not isinstance(node, dict):
        errs.append("%s: a schema must be an object" % path)
        return
    for k in node:
        if k not in KNOWN_KEYS:
            errs.append("%s: unknown schema key %r" % (path, k))
    t = node.get("type")
    int_or_string = node.get("x-kubernetes-int-or-string") is True
    preserve = node.get("x-kubernetes-preserve-unknown-fields")
    if preserve is not None and preserve is not True:
        errs.append("%s: x-kubernetes-preserve-unknown-fields must be true or absent" % path)
    if int_or_string:
        if t is not None:
            errs.append("%s: type must be empty when x-kubernetes-int-or-string is true" % path)
    elif t is None or t == "":
        if not preserve:
            errs.append("%s: type: Required value: must not be empty for specified object fields" % path)
    elif t not in TYPES:
        errs.append("%s: type: Unsupported value %r" % (path, t))
    if root and t != "object":
        errs.append("%s: the root must be of type object" % path)
    check_junction(node, path, errs)
    if "properties" in node and "additionalProperties" in node:
        errs.append("%s: properties and additionalProperties are mutually exclusive" % path)
    if "additionalProperties" in node and not isinstance(node["additionalProperties"], dict):
        errs.append("%s: additionalProperties must be a schema" % path)
    if ("properties" in node or "additionalProperties" in node) and t != "object":
        errs.append("%s: properties need type: object" % path)
    if t == "array" and not isinstance(node.get("items"), dict):
        errs.append("%s: items: Required value: must be specified (one schema)" % path)
    if "items" in node and t != "array":
        errs.append("%s: items need type: array" % path)
    props = node.get("properties", {})
    for r in node.get("required", []):
        if r not in props:
            errs.append("%s: required field %r is not a property" % (path, r))
    for v in node.get("enum", []):
        if t and not _matches_type(v, t):
            errs.append("%s: enum value %r is not of type %s" % (path, v, t))
    if "minimum" in node and "maximum" in node and node["minimum"] > node["maximum"]:
        errs.append("%s: minimum > maximum" % path)
    for name, sub in props.items():
        if root and name == "metadata":
            check_metadata(sub, path + ".properties.metadata", errs)
        else:
            check_node(sub, "%s.properties.%s" % (path, name), errs)
    if isinstance(node.get("additionalProperties"), dict):
        check_node(node["additionalProperties"], path + ".additionalProperties", errs)
    if isinstance(node.get("items"), dict):
        check_node(node["items"], path + ".items", errs)


def check_metadata(node, path, errs):
    """Rule 3: metadata may only be restricted in name and generateName."""
    if node.get("type") != "object":
        errs.append("%s: must be type: object" % path)
    extra = set(node) - {"type", "properties", "description"}
    if extra:
        errs.append("%s: only type and properties.name/generateName may be specified (got %s)" %
                    (path, sorted(extra)))
    for name, sub in node.get("properties", {}).items():
        if name not in ("name", "generateName"):
            errs.append("%s.properties.%s: only name and generateName may be restricted" % (path, name))
        elif sub.get("type") != "string":
            errs.append("%s.properties.%s: must be type: string" % (path, name))


def check_crd(doc):
    errs = []
    if doc.get("apiVersion") != "apiextensions.k8s.io/v1" or doc.get("kind") != "CustomResourceDefinition":
        errs.append("apiVersion/kind: must be apiextensions.k8s.io/v1 CustomResourceDefinition")
        return errs
    spec = doc.get("spec") or {}
    names = spec.get("names") or {}
    group = spec.get("group", "")
    plural = names.get("plural", "")
    if doc.get("metadata", {}).get("name") != "%s.%s" % (plural, group):
        errs.append("metadata.name: must be spec.names.plural + '.' + spec.group")
    for k in ("plural", "singular"):
        if not names.get(k) or names[k] != names[k].lower():
            errs.append("spec.names.%s: required, lowercase" % k)
    if not names.get("kind") or not names.get("listKind"):
        errs.append("spec.names: kind and listKind are required")
    for s in names.get("shortNames", []):
        if s != s.lower():
            errs.append("spec.names.shortNames: %r must be lowercase" % s)
    if spec.get("scope") not in ("Namespaced", "Cluster"):
        errs.append("spec.scope: must be Namespaced or Cluster")
    versions = spec.get("versions") or []
    if not versions:
        errs.append("spec.versions: at least one version is required")
    if sum(1 for v in versions if v.get("storage")) != 1:
        errs.append("spec.versions: exactly one version must be the storage version")
    for i, v in enumerate(versions):
        p = "spec.versions[%d]" % i
        for k in set(v.get("subresources") or {}) - {"status", "scale"}:
            errs.append("%s.subresources.%s: unknown subresource" % (p, k))
        for j, col in enumerate(v.get("additionalPrinterColumns") or []):
            if col.get("type") not in COLUMN_TYPES or not str(col.get("jsonPath", "")).startswith("."):
                errs.append("%s.additionalPrinterColumns[%d]: bad type or jsonPath" % (p, j))
        schema = (v.get("schema") or {}).get("openAPIV3Schema")
        if schema is None:
            errs.append("%s.schema.openAPIV3Schema: required" % p)
        else:
            check_node(schema, p + ".schema.openAPIV3Schema", errs, root=True)
    return errs


def main(argv):
    files = argv or sorted(glob.glob(os.path.join(ROOT, "config", "crd", "serving.kserve.io_*.yaml")))
    if not files:
        print("check_crds: no files", file=sys.stderr)
        return 1
    bad = 0
    for f in files:
        try:
            with open(f) as fh:
                docs = [d for d in yaml.safe_load_all(fh) if d is not None]
        except yaml.YAMLError as e:
            print("%s: not YAML: %s" % (f, e))
            bad += 1
            continue
        for d in docs:
            for e in check_crd(d):
                print("%s: %s" % (f, e))
                bad += 1
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
