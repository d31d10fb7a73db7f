#!/usr/bin/python3
"""Builds the seed corpora fuzz/corpus/<target>/ from the tests' inputs and the test models.

usage: /usr/bin/python3 fuzz/make_corpus.py BUILD_DIR

BUILD_DIR is a normal (g++) build whose test models exist (BUILD_DIR/test-models, made by
scripts/gen_test_models.py). Debian's Python is needed (numpy, scikit-learn, xgboost, grpc_tools).

Where the seeds come from (docs/fuzzing.md):
- the string literals of the tests of each parser (tests/**/*_test.cc: every literal, adjacent literals
  joined, that looks like the parser's input), and the YAML under examples/;
- the test models: XGBoost models as libxgboost writes them in JSON (the text inferd parses), the native
  descriptions scikit-learn's test models compile to (the same Python code the runtime runs), LightGBM's
  models from the shared test data cut to their first trees;
- small messages built here the way the tests build them (gRPC requests, binary-extension bodies, bucket
  listings as tests/storage/fake_object_store.py writes them, archives with the hostile entries of the
  storage tests, HTTP heads as the gateway tests send them).
The corpus directory of each target is rewritten; files are named by the SHA-1 of their content. Seeds over
64 KiB are left out so that the committed corpus stays small.
"""
import base64
import hashlib
import importlib
import io
import json
import os
import re
import shutil
import struct
import subprocess
import sys
import tarfile
import tempfile
import zipfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CORPUS = os.path.join(ROOT, "fuzz", "corpus")
MAX_SEED = 64 * 1024


# ---- C++ string literals of the tests ----------------------------------------------------------------------
ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "0": "\0", "\\": "\\", '"': '"', "'": "'", "a": "\a", "b": "\b",
           "f": "\f", "v": "\v", "?": "?"}


def _unescape(body):
    out = bytearray()
    i = 0
    while i < len(body):
        c = body[i]
        if c != "\\":
            out += c.encode()
            i += 1
            continue
        n = body[i + 1]
        if n == "x":
            m = re.match(r"[0-9a-fA-F]+", body[i + 2:])
            out.append(int(m.group(0), 16) & 0xFF)
            i += 2 + len(m.group(0))
        elif n in "01234567" and re.match(r"[0-7]{1,3}", body[i + 1:]).group(0) != "0":
            m = re.match(r"[0-7]{1,3}", body[i + 1:])
            out.append(int(m.group(0), 8) & 0xFF)
            i += 1 + len(m.group(0))
        else:
            out += ESCAPES.get(n, n).encode()
            i += 2
    return bytes(out)


def literals(path):
    """Every string literal of a C++ file, adjacent literals joined (bytes)."""
    src = open(path, encoding="utf-8").read()
    out, cur, i = [], None, 0
    token = re.compile(r'//[^\n]*|/\*.*?\*/|(?:u8|u|U|L)?R"([^(\s]*)\(|(?:u8|u|U|L)?"|\'(?:\\.|[^\\\'])*\'|\s+|.',
                       re.S)
    while i < len(src):
        if src[i] == "'" and i > 0 and src[i - 1].isalnum():  # a digit separator (1'000), not a char literal
            i += 1
            continue
        m = token.match(src, i)
        t = m.group(0)
        if t.startswith(("//", "/*")):
            i = m.end()
            continue
        if t.endswith('R"' + (m.group(1) or "") + "("):
            end = src.index(")" + m.group(1) + '"', m.end())
            piece = src[m.end():end].encode()
            i = end + len(m.group(1)) + 2
        elif t.endswith('"') and not t.startswith("'"):
            j = m.end()
            while src[j] != '"':
                j += 2 if src[j] == "\\" else 1
            piece = _unescape(src[m.end():j])
            i = j + 1
        else:
            i = m.end()
            if t.strip():
                if cur is not None:
                    out.append(cur)
                cur = None
            continue
        cur = piece if cur is None else cur + piece
    if cur is not None:
        out.append(cur)
    return out


def test_literals(files, keep):
    seeds = []
    for f in files:
        for lit in literals(os.path.join(ROOT, f)):
            if keep(lit):
                seeds.append(lit)
    return seeds


# ---- helpers ------------------------------------------------------------------------------------------------
def write(target, seeds):
    d = os.path.join(CORPUS, target)
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    n = total = 0
    for s in seeds:
        if isinstance(s, str):
            s = s.encode()
        if not s or len(s) > MAX_SEED:
            continue
        name = hashlib.sha1(s).hexdigest()[:16]
        path = os.path.join(d, name)
        if not os.path.exists(path):
            open(path, "wb").write(s)
            n += 1
            total += len(s)
    print("%-20s %4d seeds %8d bytes" % (target, n, total))


def is_json_object(b, *keys):
    s = b.strip()
    return s.startswith(b"{") and all(k.encode() in s for k in keys)


# ---- targets ------------------------------------------------------------------------------------------------
def protocol_seeds():
    rest = ["tests/protocol/v1_json_test.cc", "tests/server/rest_test.cc", "tests/server/sklearn_rest_test.cc",
            "tests/server/batching_rest_test.cc", "tests/server/lightgbm_rest_test.cc"]
    v1 = test_literals(rest, lambda b: is_json_object(b) and (b'"instances"' in b or b'"inputs"' in b))
    write("v1_json_fuzz", v1)
    v2 = test_literals(["tests/protocol/v2_json_test.cc"] + rest[1:],
                       lambda b: is_json_object(b, '"inputs"'))
    write("v2_json_fuzz", v2)

    # Binary extension bodies: 2 bytes of header length, then the header and the tensors' bytes.
    def binary(inputs, outputs=None):
        header, blob = {"inputs": []}, b""
        for name, dtype, shape, raw in inputs:
            header["inputs"].append({"name": name, "datatype": dtype, "shape": shape,
                                     "parameters": {"binary_data_size": len(raw)}})
            blob += raw
        if outputs:
            header["outputs"] = outputs
        h = json.dumps(header).encode()
        return struct.pack("<H", len(h)) + h + blob

    def bytes_elems(*elems):
        return b"".join(struct.pack("<I", len(e)) + e for e in elems)

    iris = struct.pack("<8f", 6.8, 2.8, 4.8, 1.4, 6.0, 3.4, 4.5, 1.6)
    bodies = [
        binary([("input-0", "FP32", [2, 4], iris)]),
        binary([("input-0", "FP32", [2, 4], iris)], [{"name": "output-0", "parameters": {"binary_data": True}}]),
        binary([("a", "INT64", [2], struct.pack("<2q", 1, -2)), ("b", "BYTES", [2], bytes_elems(b"ab", b"cde"))]),
        binary([("h", "FP16", [2], struct.pack("<2e", 1.5, -0.25)), ("b", "BF16", [1], b"\x80\x3f")]),
        binary([("x", "BOOL", [3], b"\x01\x00\x01"), ("y", "UINT8", [2], b"\xff\x00")]),
        binary([("d", "FP64", [1, 1], struct.pack("<d", 3.25))]),
    ]
    # A JSON input beside a binary one, and the JSON bodies of the tests with a header length.
    mixed = json.dumps({"inputs": [{"name": "j", "datatype": "INT32", "shape": [2], "data": [1, 2]},
                                   {"name": "b", "datatype": "INT32", "shape": [1],
                                    "parameters": {"binary_data_size": 4}}]}).encode()
    bodies.append(struct.pack("<H", len(mixed)) + mixed + struct.pack("<i", 7))
    bodies += [struct.pack("<H", len(b)) + b for b in v2[:20]]
    write("v2_binary_fuzz", bodies)


def proto_module(tmp):
    subprocess.check_call([sys.executable, "-m", "grpc_tools.protoc", "-I", os.path.join(ROOT, "proto"),
                           "--python_out=" + tmp, os.path.join(ROOT, "proto", "inference.proto")])
    sys.path.insert(0, tmp)
    return importlib.import_module("inference_pb2")


def grpc_seeds(pb):
    reqs = []

    def req(name, inputs, raw=None, outputs=(), params=None):
        r = pb.ModelInferRequest(model_name=name, id="42")
        for n, dt, shape, field, values in inputs:
            t = r.inputs.add(name=n, datatype=dt, shape=shape)
            if field:
                getattr(t.contents, field).extend(values)
        for blob in raw or []:
            r.raw_input_contents.append(blob)
        for o in outputs:
            r.outputs.add(name=o)
        for k, v in (params or {}).items():
            if isinstance(v, bool):
                r.parameters[k].bool_param = v
            elif isinstance(v, int):
                r.parameters[k].int64_param = v
            else:
                r.parameters[k].string_param = v
        return r.SerializeToString()

    # The shapes of tests/protocol/v2_grpc_test.cc and tests/server/grpc_server_test.cc.
    reqs.append(req("iris", [("input-0", "FP32", [2, 4], "fp32_contents", [6.8, 2.8, 4.8, 1.4, 6.0, 3.4, 4.5, 1.6])],
                    outputs=["output-0"]))
    reqs.append(req("iris", [("input-0", "FP32", [1, 4], None, [])], raw=[struct.pack("<4f", 1, 2, 3, 4)]))
    reqs.append(req("m", [("a", "INT64", [2], "int64_contents", [1, -2]), ("b", "BYTES", [2], "bytes_contents",
                                                                          [b"ab", b"cde"])]))
    reqs.append(req("m", [("a", "BYTES", [2], None, [])], raw=[b"\x02\x00\x00\x00ab\x03\x00\x00\x00cde"]))
    reqs.append(req("m", [("u", "UINT32", [3], "uint_contents", [1, 2, 3]), ("i", "INT8", [2], "int_contents", [-1, 1]),
                          ("f", "FP64", [1], "fp64_contents", [0.5]), ("t", "BOOL", [2], "bool_contents", [True, False]),
                          ("w", "UINT64", [1], "uint64_contents", [2 ** 63])],
                    params={"binary_data_output": True, "n": 3, "s": "x"}))
    reqs.append(req("m", [("h", "FP16", [2], None, [])], raw=[struct.pack("<2e", 1.0, 2.0)]))
    write("v2_grpc_fuzz", reqs)
    ready = pb.ModelReadyRequest(name="flowers", version="2").SerializeToString()
    meta = pb.ModelMetadataRequest(name="flowers").SerializeToString()
    # Field 1 after other fields, twice, and cut off (tests/gateway/grpc_scan_test.cc).
    odd = [b"\x12\x013\x0a\x03abc", b"\x0a\x01a\x0a\x01b", b"\x0a\x09abc", b"\x08\x05\x0a\x04iris",
           b"\x1b\x0a\x05inner\x1c\x0a\x05outer"]
    write("grpc_scan_fuzz", reqs + [ready, meta] + odd)


def http_seeds():
    lits = test_literals(["tests/gateway/gateway_http_test.cc", "tests/util/test_util.cc"],
                         lambda b: b"HTTP/1." in b and b"\r\n" in b)
    heads = [
        b"POST /v1/models/sklearn-iris:predict HTTP/1.1\r\nHost: sklearn-iris.default.example.com\r\n"
        b"Content-Type: application/json\r\nContent-Length: 42\r\n\r\n",
        b"GET /v2/health/ready HTTP/1.1\r\nHost: gw\r\nAuthorization: Bearer abc\r\n\r\n",
        b"POST /v2/models/m/infer HTTP/1.1\r\nHost: gw\r\nTransfer-Encoding: chunked\r\n\r\n",
        b"POST /v2/models/m/infer HTTP/1.1\r\nHost: gw\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n",
        b"GET / HTTP/1.0\r\nHost: gw\r\nConnection: keep-alive\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: a\r\n folded\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 17\r\n\r\n",
        b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
        b"HTTP/1.1 204 No Content\r\n\r\n",
    ]
    write("http_scan_fuzz", lits + heads)


def resources_seeds():
    lits = test_literals(["tests/resources/resources_yaml_test.cc", "tests/resources/resources_isvc_test.cc",
                          "tests/resources/resources_runtimes_test.cc", "tests/resources/resources_objects_test.cc",
                          "tests/api/api_server_test.cc"],
                         lambda b: len(b) > 8 and (b":" in b) and (b"\n" in b or b.strip().startswith(b"{")))
    files = []
    for d in ["examples/isvc"]:
        for f in sorted(os.listdir(os.path.join(ROOT, d))):
            files.append(open(os.path.join(ROOT, d, f), "rb").read())
    write("resources_fuzz", lits + files)
    sc = test_literals(["tests/control/serve_config_test.cc"], lambda b: b":" in b or b"#" in b)
    write("serve_config_fuzz", sc + [open(os.path.join(ROOT, "examples/serve-config.yaml"), "rb").read()])


def model_config_seeds():
    files = ["tests/model/model_config_test.cc", "tests/backends/torch_io_config_test.cc"]
    write("model_settings_fuzz", test_literals(files, lambda b: b.strip().startswith((b"{", b"["))))
    write("config_pbtxt_fuzz", test_literals(["tests/backends/torch_io_config_test.cc"],
                                             lambda b: re.search(rb"\b(input|output|max_batch_size)\b", b) is not None
                                             and not b.strip().startswith(b"{")))


def listing_seeds():
    def s3(keys, truncated=False, token=None, extra=""):
        xml = ['<?xml version="1.0" encoding="UTF-8"?>',
               '<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">',
               "<Name>models</Name><Prefix>model</Prefix><KeyCount>%d</KeyCount><MaxKeys>1000</MaxKeys>" % len(keys),
               "<IsTruncated>%s</IsTruncated>" % ("true" if truncated else "false")]
        if token:
            xml.append("<NextContinuationToken>%s</NextContinuationToken>" % token)
        for k, size in keys:
            xml.append("<Contents><Key>%s</Key><LastModified>2024-01-01T00:00:00.000Z</LastModified>"
                       "<ETag>&quot;0&quot;</ETag><Size>%d</Size><StorageClass>STANDARD</StorageClass></Contents>"
                       % (k, size))
        return "".join(xml) + extra + "</ListBucketResult>"

    tok = base64.b64encode(b"page+/:2:x").decode()
    write("s3_list_fuzz", [
        s3([("model/model.joblib", 1234), ("model/sub/config.json", 10)]),
        s3([("model", 5)]),
        s3([("model/", 0), ("model/a&amp;b.txt", 3), ("model/&#x41;&#66;", 4)], True, tok),
        s3([("model/../evil", 1), ("model//x", 1), ("model/./y", 1)]),
        s3([("a/b", 18446744073709551615)]),
    ])

    def gcs(names, token=None):
        out = {"kind": "storage#objects",
               "items": [{"kind": "storage#object", "name": n, "bucket": "b", "size": str(s)} for n, s in names]}
        if token:
            out["nextPageToken"] = token
        return json.dumps(out)

    write("gcs_list_fuzz", [
        gcs([("model/model.bst", 2048), ("model/nested/x.json", 3)]),
        gcs([("model", 5)], token="2"),
        gcs([("model/", 0), ("model/../../etc/passwd", 1), ("model/\u00e9", 2)]),
        gcs([("a/b", 18446744073709551615)]),
        '{"kind": "storage#objects"}',
    ])


def archive_seeds():
    tarfile.RECORDSIZE = 512  # no padding to 10 KiB records: the end-of-archive blocks are enough

    def tar(entries, mode="w"):
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode=mode, format=tarfile.GNU_FORMAT) as t:
            for name, kind, data in entries:
                info = tarfile.TarInfo(name)
                info.mtime = 1700000000
                if kind == "file":
                    info.size = len(data)
                    t.addfile(info, io.BytesIO(data))
                    continue
                info.type = {"dir": tarfile.DIRTYPE, "sym": tarfile.SYMTYPE, "hard": tarfile.LNKTYPE,
                             "chr": tarfile.CHRTYPE, "fifo": tarfile.FIFOTYPE}[kind]
                if kind in ("sym", "hard"):
                    info.linkname = data
                t.addfile(info)
        return buf.getvalue()

    def zipped(entries):
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
            for name, kind, data in entries:
                info = zipfile.ZipInfo(name, (2024, 1, 1, 0, 0, 0))
                if kind == "sym":
                    info.external_attr = (0o120777 << 16)
                z.writestr(info, data)
        return buf.getvalue()

    good = [("model", "dir", None), ("model/model.joblib", "file", b"\x80\x04joblib"),
            ("model/config.json", "file", b'{"a": 1}'), ("model/link", "sym", "model.joblib")]
    hostile = [  # the classes of tests/storage/storage_test.cc
        [("../evil", "file", b"x")], [("/abs", "file", b"x")], [("a/../../x", "file", b"x")],
        [("up", "sym", "../../x")], [("abs", "sym", "/etc/passwd")], [("d", "sym", ".."), ("d/x", "file", b"x")],
        [("a", "sym", "b"), ("b", "sym", "../..")], [("h", "hard", "../x")], [("h", "hard", "/etc/passwd")],
        [("f", "file", b"x"), ("h", "hard", "f")], [("dev", "chr", None)], [("p", "fifo", None)],
        [("./", "dir", None), ("./ok", "file", b"y")],
    ]
    seeds = [tar(good), tar(good, "w:gz"), zipped([e for e in good if e[1] in ("file", "sym")])]
    seeds += [tar(h) for h in hostile]
    seeds += [zipped([("../evil", "file", b"x")]), zipped([("s", "sym", "../../x")])]
    seeds.append(tar([("zeros", "file", b"\0" * (2 << 20))], "w:gz"))  # unpacks past max_bytes
    # A sparse entry: little data, a large apparent size (GNU tar writes it).
    with tempfile.TemporaryDirectory() as d:
        with open(os.path.join(d, "sparse"), "wb") as f:
            f.seek(8 << 20)
            f.write(b"end")
        subprocess.check_call(["tar", "-C", d, "-S", "-czf", os.path.join(d, "s.tgz"), "sparse"])
        seeds.append(open(os.path.join(d, "s.tgz"), "rb").read())
    write("archive_fuzz", seeds)


def xgboost_seeds(build):
    import numpy as np
    import xgboost as xgb
    seeds = []
    models = os.path.join(build, "test-models")
    for d in sorted(os.listdir(models)):
        p = os.path.join(models, d)
        if not d.startswith("xgb_") or not os.path.isdir(p):
            continue
        for f in os.listdir(p):
            b = xgb.Booster()
            b.load_model(os.path.join(p, f))
            doc = json.loads(bytes(b.save_raw("json")))
            gb = doc["learner"]["gradient_booster"]
            if "model" in gb and "trees" in gb["model"]:  # keep the first trees (seeds stay small)
                m = gb["model"]
                keep = max(1, int(doc["learner"]["learner_model_param"].get("num_class", "0") or 0))
                keep = min(len(m["trees"]), max(keep, 3))
                m["trees"], m["tree_info"] = m["trees"][:keep], m["tree_info"][:keep]
                m["gbtree_model_param"]["num_trees"] = str(keep)
            seeds.append(json.dumps(doc, separators=(",", ":")))
    # A categorical model (the XGBoost path's categories_* arrays).
    rng = np.random.RandomState(0)
    x = rng.randint(0, 5, size=(200, 2)).astype(np.float32)
    y = (x[:, 0] == 3).astype(np.float32)
    dm = xgb.DMatrix(x, label=y, feature_types=["c", "q"], enable_categorical=True)
    b = xgb.train({"max_depth": 2, "tree_method": "hist", "max_cat_to_onehot": 1}, dm, num_boost_round=2)
    seeds.append(bytes(b.save_raw("json")))
    write("xgboost_json_fuzz", seeds)


def lightgbm_seeds():
    seeds = test_literals(["tests/backends/lightgbm_test.cc"], lambda b: b"Tree=" in b or b"version=" in b)
    # The LightGBM test data beside the checkout (tests/backends/lightgbm_test.cc: ../shared/testdata), found
    # from a worktree one level further down too.
    shared = next((d for d in (os.path.join(ROOT, "..", "shared", "testdata", "lightgbm"),
                               os.path.join(ROOT, "..", "..", "shared", "testdata", "lightgbm")) if os.path.isdir(d)),
                  "")
    for f in ["lg_rf_iris.model", "lg_dart_breast_cancer.model", "lg_kddcup99.model", "lg_breast_cancer.txt"]:
        p = os.path.join(shared, f)
        if not os.path.exists(p):
            continue
        text = open(p, "rb").read()
        head, _, rest = text.partition(b"\nTree=")
        trees = (b"Tree=" + rest).split(b"\n\n\n")
        kept = [t for t in trees if t.startswith(b"Tree=")][:3]
        lines = []
        for line in head.split(b"\n"):  # tree_sizes lists one size per tree: the first ones stay
            if line.startswith(b"tree_sizes="):
                line = b"tree_sizes=" + b" ".join(line[len(b"tree_sizes="):].split()[:len(kept)])
            lines.append(line)
        seeds.append(b"\n".join(lines) + b"\n\n" + b"\n\n\n".join(kept) + b"\n\n\nend of trees\n")
    write("lightgbm_fuzz", seeds)


def sklearn_seeds(build):
    import joblib
    path = os.path.join(ROOT, "src", "backends", "sklearn", "sklearn_python.py")
    ns = {}
    with open(path, encoding="utf-8") as f:
        exec(compile(f.read(), path, "exec"), ns)
    seeds = []
    base = os.path.join(build, "test-models", "sklearn")
    for d in sorted(os.listdir(base)):
        p = os.path.join(base, d, "model.joblib")
        if not os.path.exists(p):
            continue
        model = joblib.load(p)
        try:
            desc = json.loads(ns["compile_native"](model, int(getattr(model, "n_features_in_", 0))))
        except Exception:  # noqa: BLE001  (a model that stays on Python: no native description)
            continue
        desc["probe"] = {k: v[:4] for k, v in desc["probe"].items()}  # a few probe rows keep it small
        seeds.append(json.dumps(desc, separators=(",", ":")))
    write("sklearn_native_fuzz", seeds)


def explain_seeds():
    bodies = [
        {"instances": [[0.1, 2.0, -3.0]]},
        {"instances": [[None, 0, 1e-40], [1e308, -1e308, 0.5]], "method": "tree", "interactions": True},
        {"instances": [[1, 2, 3]], "method": "kernel", "nsamples": 100, "seed": 7, "background": [[0, 0, 0]]},
        {"instances": [[[1, 2], [3, 4]]], "background": [[[0, 0], [0, 0]]]},
        {"instances": [1, 2, 3]},
        [[1, 2, 3], [4, 5, 6]],
    ]
    write("explain_request_fuzz", [json.dumps(b) for b in bodies] + ['{"instances": [[1, [2]]]}', "{"])


def web_access_seeds():
    # flags byte (1 tls, 2 public path, 4 live session), then method, Cookie, X-CSRF-Token, Origin,
    # Sec-Fetch-Site, Host, Authorization, the session's CSRF token (fuzz/web_access_fuzz.cc).
    def seed(flags, *fields):
        return bytes([flags]) + "\n".join(fields).encode()
    write("web_access_fuzz", [
        seed(4, "POST", "inferd_session=abc; theme=dark", "tok", "", "", "127.0.0.1:8090", "", "tok"),
        seed(4, "DELETE", "a=1;inferd_session=\"abc\"", "wrong", "http://127.0.0.1:8090", "same-origin",
             "127.0.0.1:8090", "", "tok"),
        seed(1, "PATCH", "", "", "https://evil.example", "cross-site", "127.0.0.1:8090", "Bearer secret-token", ""),
        seed(0, "POST", "", "", "null", "", "localhost:8090", "bearer secret-token", ""),
        seed(2, "POST", "inferd_session=", "", "HTTP://LOCALHOST:8090", "", "localhost:8090", "", ""),
        seed(0, "GET", ";;=;inferd_session", "", "https://evil.example", "cross-site", "", "Basic x", ""),
    ])


def graph_condition_seeds():
    # The condition (a gjson path), a newline, then the body it is evaluated on (fuzz/graph_condition_fuzz.cc).
    friends = ('{"friends":[{"first":"Dale","last":"Murphy","age":44,"nets":["ig","fb"]},'
               '{"first":"Roger","last":"Craig","age":68,"nets":["fb","tw"]}],"fav.movie":"x","k":"\\u00e9"}')
    write("graph_condition_fuzz", [
        '[@this].#(decision_picker==ERROR)\n{"decision_picker":"ERROR","key1":{"name":"abc"}}',
        'instances.#(modelId=="2")\n{"instances":[{"modelId":"1"},{"modelId":"2"}]}',
        '[@this].#(instances.0.data>0.5 && instances.0.data<=0.9)\n{"instances":[{"data":0.7}]}',
        'friends.#(nets.#(=="fb"))#.first\n' + friends,
        'friends.#(first%"D*").last\n' + friends,
        'friends.#(age>=60)#.nets.#\n' + friends,
        'fav\\.movie\n' + friends,
        'f?iend*.1.last\n' + friends,
        '{a:friends.0.first,friends.#}\n' + friends,
        'vals.#(b==~false)#.a\n{"vals":[{"a":1,"b":"0"},{"a":2,"b":null},{"a":3}]}',
        '\n{"":1}',
        'predictions\n{"predictions":[[1,2.5e-7,1e21],{"b":"<&>","a":null}],"Predictions":[true]}',
    ])


def image_seeds():
    """tf_image_decode_fuzz: small JPEGs (baseline, progressive, gray, 4:4:4) and PNGs (RGB, RGBA, palette, gray,
    16-bit) written by PIL, each behind option bytes that pick its decoder."""
    import io
    from PIL import Image
    img = Image.frombytes("RGB", (13, 9), bytes((i * 37) % 256 for i in range(13 * 9 * 3)))
    def enc(im, fmt, **kw):
        b = io.BytesIO()
        im.save(b, fmt, **kw)
        return b.getvalue()
    jpegs = [enc(img, "JPEG", quality=80), enc(img, "JPEG", progressive=True), enc(img.convert("L"), "JPEG"),
             enc(img, "JPEG", subsampling=0)]
    pngs = [enc(img, "PNG"), enc(img.convert("RGBA"), "PNG"), enc(img.convert("P"), "PNG"),
            enc(img.convert("L"), "PNG"), enc(img.convert("L").convert("I"), "PNG")]
    write("tf_image_decode_fuzz", [bytes([o]) + j for j in jpegs for o in (0x00, 0x26, 0x98)] +
          [bytes([o]) + p for p in pngs for o in (0x01, 0x07)])


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    build = os.path.abspath(sys.argv[1])
    protocol_seeds()
    with tempfile.TemporaryDirectory() as tmp:
        grpc_seeds(proto_module(tmp))
    http_seeds()
    resources_seeds()
    model_config_seeds()
    listing_seeds()
    archive_seeds()
    xgboost_seeds(build)
    lightgbm_seeds()
    sklearn_seeds(build)
    explain_seeds()
    web_access_seeds()
    graph_condition_seeds()
    image_seeds()


if __name__ == "__main__":
    main()
