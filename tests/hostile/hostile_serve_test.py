"""The hostile suite against ONE long-lived `inferd serve` deployment (issue 12): an xgboost and a scikit-learn
service, each with a real `inferd model-server` replica, attacked class after class the way an attacker and bad
luck would, while a trickle client sends predictions through the gateway for the whole run (V1 and V2 REST and
V2 gRPC) and keeps every outcome.

After every class (harness.py): serve and every replica are the same processes unless the class killed them on
purpose, every service answers a correct prediction over V1 REST, V2 REST and V2 gRPC through the gateway, no
process's peak RSS passed its bound, no process holds more fds than before the class (within a small slack for
pooled upstream connections) once the attack's sockets are closed, and no trickle request failed that was not
in flight on a process a class killed at that instant.

Classes: 01 deep nesting at every entry point, 02 slow clients, 03 fd exhaustion, 04 big bodies, 05
unauthenticated bodies, 06 hostile names, 07 hostile archives, 08 corrupt model file healed, 09 SIGKILL of the
only replica under load, 10 SIGKILL of serve under load and a restart on the same data dir, 99 the trickle's
ledger. Disk full and the bare model server: hostile_disk_test.py, hostile_model_server_test.py.

serve runs with a gateway token, 2 s header and body timeouts (its replicas too, through the service's args),
archive bounds of 16 MiB / 500 entries and a short restart backoff. No assertion is about speed: deadlines of
2 s are asserted to hold within 12 s, and timings are only reported.

Run by ctest with Debian's /usr/bin/python3; environment as for tests/control/serve_test.py.
"""

import functools
import http.server
import io
import json
import os
import resource
import shutil
import signal
import struct
import subprocess
import tarfile
import tempfile
import threading
import time
import unittest
import urllib.parse
import zipfile

import requests

import harness as h

st = h.st
g = st.g
MODELS = st.MODELS
ISVCS = "/apis/serving.kserve.io/v1beta1/namespaces/default/inferenceservices"
GW_TOKEN = "hostile-gateway-token"
GW_AUTH = "Bearer " + GW_TOKEN
XGB = st.expected(os.path.join(MODELS, "xgb_iris_softprob.expected.json"))
SKL = st.expected(os.path.join(MODELS, "sklearn", "sklearn-iris-logreg.expected.json"))
# Per service: rows sent, answers expected (V1 `predictions`; V2 and gRPC: the same numbers flattened).
SERVICES = {"xgb": (XGB["instances"][:2], XGB["predict"][:2]), "skl": (SKL["instances"][:2], SKL["predict"][:2])}


def isvc_yaml(name, fmt, path, extra=""):
    return """apiVersion: serving.kserve.io/v1beta1
kind: InferenceService
metadata:
  name: %s
spec:
  predictor:
    minReplicas: 1
    model:
      modelFormat:
        name: %s
      storageUri: %s
%s""" % (name, fmt, path if "://" in path else "file://" + path, extra)


def condition(obj, ctype):
    for c in (obj or {}).get("status", {}).get("conditions", []):
        if c.get("type") == ctype:
            return c
    return {}


def not_ready_message(obj):
    c = condition(obj, "Ready")
    return c.get("message", "") if c.get("status") == "False" else ""


class Deployment:
    """The serve under attack, its services and the clients of its gateway (token included)."""

    def __init__(self, tmp, data_dir):
        self.tmp, self.data_dir = tmp, data_dir
        self.serve = None
        self.channel = None
        self.start()

    def start(self):
        if self.channel is not None:
            self.channel.close()
        self.serve = st.Serve(self.data_dir, [
            "--gateway_token", GW_TOKEN, "--client_header_timeout", "2", "--client_body_timeout", "2",
            "--storage_max_unpacked_bytes", "16MiB", "--storage_max_archive_entries", "500",
            "--gateway_workers", "2",
            # Replicas exec'd, not forked from a template: test_06 reads a replica's repository token from
            # /proc/PID/environ, which a forked replica's overrides (set after the fork) do not reach. Templates
            # are covered by tests/supervisor/zygote_test.cc and tests/control/serve_test.py.
            "--replica_templates", "none"])
        import grpc
        self.channel = grpc.insecure_channel("127.0.0.1:%d" % self.serve.grpc_port)
        self.stub = g.pb_grpc.GRPCInferenceServiceStub(self.channel)

    def gw(self, method, path, host=None, auth=True, **kw):
        headers = kw.pop("headers", {})
        if auth:
            headers.setdefault("Authorization", GW_AUTH)
        return self.serve.gw(method, path, host=host, headers=headers, **kw)

    def replicas(self):
        """{service: (pid, http_port, grpc_port)} of the ready replica of each service."""
        out = {}
        for name in SERVICES:
            obj = self.serve.isvc(name) or {}
            for r in obj.get("status", {}).get("inferd", {}).get("replicas", []):
                if r.get("phase") == "Ready" and r.get("pid"):
                    out[name] = (r["pid"], r["httpPort"], r["grpcPort"])
        return out

    def procs(self):
        p = {"serve": self.serve.proc.pid}
        for name, (pid, _, _) in self.replicas().items():
            p["replica:" + name] = pid
        return p

    # One prediction of each kind; None when right, else what went wrong.
    def v1(self, name, session=None):
        rows, want = SERVICES[name]
        r = (session or requests).post("http://127.0.0.1:%d/v1/models/%s:predict" % (self.serve.http_port, name),
                                       json={"instances": rows}, timeout=30,
                                       headers={"Host": "%s.default.example.com" % name, "Authorization": GW_AUTH})
        if r.status_code != 200 or not h.same(r.json()["predictions"], want):
            return "V1 %s: %d %s" % (name, r.status_code, r.text[:200])
        return None

    def v2(self, name, session=None):
        rows, want = SERVICES[name]
        body = {"inputs": [{"name": "input-0", "shape": [len(rows), 4], "datatype": "FP32", "data": h.flat(rows)}]}
        r = (session or requests).post("http://127.0.0.1:%d/v2/models/%s/infer" % (self.serve.http_port, name),
                                       json=body, headers={"Authorization": GW_AUTH}, timeout=30)
        if r.status_code != 200 or not h.same(r.json()["outputs"][0]["data"], want):
            return "V2 %s: %d %s" % (name, r.status_code, r.text[:200])
        return None

    def grpc(self, name, stub=None):
        rows, want = SERVICES[name]
        pb = g.pb
        inp = pb.ModelInferRequest.InferInputTensor(name="input-0", datatype="FP32", shape=[len(rows), 4])
        inp.contents.fp32_contents.extend(h.flat(rows))
        resp = (stub or self.stub).ModelInfer(pb.ModelInferRequest(model_name=name, inputs=[inp]), timeout=30,
                                              metadata=[("authorization", GW_AUTH)])
        out = resp.outputs[0]
        c = out.contents
        got = list(c.fp32_contents) or list(c.int64_contents) or list(c.int32_contents) or list(c.fp64_contents)
        if not got and resp.raw_output_contents:
            fmt = {"FP32": "f", "FP64": "d", "INT64": "q", "INT32": "i"}[out.datatype]
            raw = resp.raw_output_contents[0]
            got = list(struct.unpack("<%d%s" % (len(raw) // struct.calcsize(fmt), fmt), raw))
        if not h.same(got, want):
            return "gRPC %s: %r" % (name, got)
        return None

    def grpc_infer_named(self, stub, model, md):
        pb = g.pb
        inp = pb.ModelInferRequest.InferInputTensor(name="input-0", datatype="FP32", shape=[1, 4])
        inp.contents.fp32_contents.extend([1, 2, 3, 4])
        return stub.ModelInfer(pb.ModelInferRequest(model_name=model, inputs=[inp]), timeout=30, metadata=md)

    def check_predictions(self, tc):
        import grpc
        for name in SERVICES:
            for kind in (self.v1, self.v2, self.grpc):
                tc.assertIsNone(kind(name), "%s %s\n%s" % (kind.__name__, name, self.serve.output()[-3000:]))
        # New gRPC connections too, to the gateway and to each replica (a listener that stopped accepting
        # leaves the open connections working).
        with grpc.insecure_channel("127.0.0.1:%d" % self.serve.grpc_port) as ch:
            stub = g.pb_grpc.GRPCInferenceServiceStub(ch)
            for name in SERVICES:
                tc.assertIsNone(self.grpc(name, stub), "a new gRPC connection to the gateway")
        for name, (_, _, grpc_port) in self.replicas().items():
            with grpc.insecure_channel("127.0.0.1:%d" % grpc_port) as ch:
                stub = g.pb_grpc.GRPCInferenceServiceStub(ch)
                tc.assertTrue(stub.ModelReady(g.pb.ModelReadyRequest(name=name), timeout=10).ready,
                              "a new gRPC connection to the replica of " + name)


def hostile_archives(root):
    """What the local "model store" serves: one hostile archive per name (bounds: 16 MiB, 500 entries)."""
    def tar(name, entries, mode="w:gz"):
        with tarfile.open(os.path.join(root, name), mode) as t:
            for info, data in entries:
                t.addfile(info, data)

    def reg(name, size=0, src=None):
        i = tarfile.TarInfo(name)
        i.size = size
        return i, src if src is not None else io.BytesIO(b"\0" * size)

    def special(name, kind, target=""):
        i = tarfile.TarInfo(name)
        i.type, i.linkname = kind, target
        if kind == tarfile.CHRTYPE:
            i.devmajor, i.devminor = 1, 3  # /dev/null's numbers
        return i, None

    bomb = 64 << 20
    tar("gzip-bomb.tar.gz", [reg("model.json", bomb, zeros(bomb))])
    with zipfile.ZipFile(os.path.join(root, "zip-bomb.zip"), "w", zipfile.ZIP_DEFLATED) as z:
        with z.open("model.json", "w", force_zip64=True) as f:  # streamed: sizes only after the data
            chunk = b"\0" * (1 << 20)
            for _ in range(bomb >> 20):
                f.write(chunk)
    with zipfile.ZipFile(os.path.join(root, "zip-dotdot.zip"), "w") as z:
        z.writestr("../../escaped-zip.json", b"{}")
    tar("dotdot.tar.gz", [reg("model.json", 2, io.BytesIO(b"{}")), reg("../escaped-tar.json", 2, io.BytesIO(b"{}"))])
    tar("absolute.tar.gz", [reg("/tmp/inferd-hostile-absolute.json", 2, io.BytesIO(b"{}"))])
    tar("symlink-out.tar.gz", [special("model.json", tarfile.SYMTYPE, "/etc/passwd")])
    tar("hardlink-out.tar.gz", [special("model.json", tarfile.LNKTYPE, "../../../etc/passwd")])
    tar("device.tar.gz", [special("model.json", tarfile.CHRTYPE)])
    tar("fifo.tar.gz", [special("model.json", tarfile.FIFOTYPE)])
    tar("many-entries.tar.gz", [reg("f%05d" % i, 0) for i in range(2000)])
    return {  # archive -> a piece of the failure message
        "gzip-bomb.tar.gz": "--storage_max_unpacked_bytes",
        "zip-bomb.zip": "--storage_max_unpacked_bytes",
        "zip-dotdot.zip": "'..'",
        "dotdot.tar.gz": "'..'",
        "absolute.tar.gz": "absolute path",
        "symlink-out.tar.gz": "leaves the archive",
        "hardlink-out.tar.gz": "leaves the archive",
        "device.tar.gz": "device files",
        "fifo.tar.gz": "FIFOs",
        "many-entries.tar.gz": "--storage_max_archive_entries",
    }


def zeros(n):
    """A file object of n zero bytes, never held in memory (a bomb's content)."""
    class Zeros:
        left = n

        def read(self, size=-1):
            size = self.left if size < 0 else min(size, self.left)
            self.left -= size
            return b"\0" * size
    return Zeros()


class Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


class HostileServeTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        h.raise_nofile()
        cls.tmp = tempfile.mkdtemp(prefix="inferd-hostile-serve-")
        g.generate_stubs(cls.tmp)
        cls.report = h.Report("serve")
        cls.files = os.path.join(cls.tmp, "files")
        os.makedirs(cls.files)
        cls.archives = hostile_archives(cls.files)
        cls.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=cls.files))
        cls.http_url = "http://127.0.0.1:%d" % cls.httpd.server_address[1]
        threading.Thread(target=cls.httpd.serve_forever, daemon=True).start()
        # The services' model files are copies (class 08 damages one in place).
        cls.models = {}
        for name, src in (("xgb", os.path.join(MODELS, "xgb_iris_softprob")),
                          ("skl", os.path.join(MODELS, "sklearn", "sklearn-iris-logreg")),
                          ("healing", os.path.join(MODELS, "xgb_iris_softprob"))):
            cls.models[name] = os.path.join(cls.tmp, "models", name)
            shutil.copytree(src, cls.models[name])
        cls.dep = Deployment(cls.tmp, os.path.join(cls.tmp, "data"))
        replica_args = '      args: ["--client_header_timeout=2", "--client_body_timeout=2"]\n'
        cls.apply_ok(isvc_yaml("xgb", "xgboost", cls.models["xgb"], replica_args) + "---\n" +
                     isvc_yaml("skl", "sklearn", cls.models["skl"], replica_args))
        for name in SERVICES:
            cls.dep.serve.wait_ready(name)
        cls.sockets = h.Sockets()
        cls.trickle = h.Trickle(cls.trickle_probes())

    @classmethod
    def tearDownClass(cls):
        cls.trickle.stop()
        cls.sockets.close_all()
        cls.dep.serve.stop()
        cls.httpd.shutdown()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    @classmethod
    def apply_ok(cls, text):
        rc, out, err = cls.dep.serve.cli("apply", "-f", "-", stdin=text)
        if rc != 0:
            raise AssertionError("apply failed: " + out + err)

    @classmethod
    def trickle_probes(cls):
        dep = cls.dep
        session = requests.Session()
        return [("rest", lambda: dep.v1("xgb", session) or dep.v2("skl", session)),
                ("grpc", lambda: dep.grpc("xgb"))]

    # ---- the frame of every class -----------------------------------------------------------------
    def attack(self, cls_name):
        return h.Attack(self, cls_name)

    def procs(self):
        return self.dep.procs()

    def check_predictions(self):
        self.dep.check_predictions(self)

    def api(self, method, path, **kw):
        return self.dep.serve.api(method, path, **kw)

    def gw_port(self):
        return self.dep.serve.http_port

    def replica(self, name="xgb"):
        return self.dep.replicas()[name]

    def replica_token(self, pid):
        """The replica's repository token, from its environment (exec'd replicas only: see start())."""
        with open("/proc/%d/environ" % pid, "rb") as f:
            env = dict(kv.split(b"=", 1) for kv in f.read().split(b"\0") if b"=" in kv)
        return env[b"INFERD_REPOSITORY_TOKEN"].decode()

    def cli(self, *args, stdin=None):
        return self.dep.serve.cli(*args, stdin=stdin)

    def wait_isvc(self, name, pred, what, timeout=90):
        return self.dep.serve.wait(name, pred, timeout, what)

    def delete(self, name):
        rc, out, err = self.cli("delete", "isvc", name)
        self.assertEqual(rc, 0, out + err)

    # ---- 01 ---------------------------------------------------------------------------------------
    def test_01_deep_nesting_at_every_entry_point(self):
        import serve_depth_test as sd
        import grpc
        with self.attack("01 deep nesting") as a:
            refused = 0
            merge = {"Content-Type": "application/merge-patch+json"}
            for method, path, headers in (("POST", ISVCS, {}), ("PUT", ISVCS + "/xgb", {}),
                                          ("PATCH", ISVCS + "/xgb", merge)):
                name = "deep" if method == "POST" else "xgb"
                for body, ct in ((sd.deep_isvc_json(name, "spec"), {}),
                                 (sd.deep_isvc_yaml(name, True), {"Content-Type": "application/yaml"}),
                                 (sd.deep_isvc_yaml(name, False), {"Content-Type": "application/yaml"})):
                    r = self.api(method, path, data=body.encode(), headers=dict(headers, **ct))
                    self.assertEqual(r.status_code, 400, (method, path, r.text[:300]))
                    self.assertIn(h.TOO_DEEP, r.text)
                    refused += 1
            # Inference bodies through the gateway and directly on the replica; the binary extension's header.
            _, rport, rgrpc = self.replica("xgb")
            header = ('{"parameters":{"p":%s},"inputs":[{"name":"input-0","shape":[1,4],"datatype":"FP32",'
                      '"parameters":{"binary_data_size":16}}]}' % h.nested(h.DEEP))
            bodies = [("/v1/models/xgb:predict", '{"instances":%s}' % h.nested(h.DEEP, "1"), {}),
                      ("/v2/models/xgb/infer", '{"inputs":[{"name":"input-0","shape":[1,4],"datatype":"FP32",'
                       '"data":%s}]}' % h.nested(h.DEEP, "1"), {}),
                      ("/v2/models/xgb/infer", '{"inputs":[],"parameters":{"p":%s}}' % ('{"a":' * h.DEEP + "1" +
                                                                                       "}" * h.DEEP), {}),
                      ("/v2/models/xgb/infer", header + "\0" * 16,
                       {"Inference-Header-Content-Length": str(len(header)),
                        "Content-Type": "application/octet-stream"})]
            for path, body, headers in bodies:
                for url, extra in (("http://127.0.0.1:%d" % self.gw_port(), {"Authorization": GW_AUTH}),
                                   ("http://127.0.0.1:%d" % rport, {})):
                    r = requests.post(url + path, data=body.encode("latin-1"), headers=dict(headers, **extra),
                                      timeout=30)
                    self.assertEqual(r.status_code, 400, (url, path, r.text[:300]))
                    self.assertIn(h.TOO_DEEP, r.text)
                    refused += 1
            # gRPC: 100,000 nested protobuf groups after the model name, through the gateway and directly.
            for port, md in ((self.dep.serve.grpc_port, [("authorization", GW_AUTH)]), (rgrpc, [])):
                with grpc.insecure_channel("127.0.0.1:%d" % port) as ch:
                    call = ch.unary_unary("/inference.GRPCInferenceService/ModelInfer")
                    with self.assertRaises(grpc.RpcError) as cm:
                        call(h.deep_groups_message("xgb"), timeout=30, metadata=md)
                    # grpc++'s callback API answers a request message that does not parse (protobuf stops at
                    # 100 levels) with UNIMPLEMENTED and no message, before inferd's handler runs.
                    self.assertIn(cm.exception.code(), (grpc.StatusCode.INVALID_ARGUMENT,
                                                        grpc.StatusCode.UNIMPLEMENTED), cm.exception)
                    refused += 1
            # A model directory whose model-settings.json is nested 100,000 deep: the load fails naming the file.
            deep_dir = os.path.join(self.tmp, "models", "deep-settings")
            shutil.copytree(self.models["xgb"], deep_dir)
            with open(os.path.join(deep_dir, "model-settings.json"), "w") as f:
                f.write('{"max_batch_size": 4, "parameters": %s}' % h.nested(h.DEEP))
            self.apply_ok(isvc_yaml("deep-settings", "xgboost", deep_dir))
            obj = self.wait_isvc("deep-settings", lambda o: "lastFailureInfo" in o.get("status", {}).get(
                "modelStatus", {}), "a load failure")
            self.assertIn("model-settings.json: " + h.TOO_DEEP,
                          obj["status"]["modelStatus"]["lastFailureInfo"]["message"])
            self.delete("deep-settings")
            refused += 1
            # Files given to `inferd apply -f` and to `inferd serve --config`.
            for suffix, text in ((".json", sd.deep_isvc_json("deep", "spec")),
                                 (".yaml", sd.deep_isvc_yaml("deep", True))):
                path = os.path.join(self.tmp, "deep" + suffix)
                with open(path, "w") as f:
                    f.write(text)
                rc, out, err = self.cli("apply", "-f", path)
                self.assertEqual(rc, 1, out + err)
                self.assertIn(h.TOO_DEEP, err)
                refused += 1
            config = os.path.join(self.tmp, "deep-config.yaml")
            with open(config, "w") as f:
                f.write("autoscaler:\n  stable-window: %s\n" % h.nested(h.DEEP))
            p = subprocess.run([st.INFERD_BIN, "serve", "--config", config, "--data_dir",
                                os.path.join(self.tmp, "unused"), "--http_port", "0", "--grpc_port", "0",
                                "--api_port", "0"], capture_output=True, text=True, timeout=60)
            self.assertGreater(p.returncode, 0, p.stdout + p.stderr)
            self.assertIn(config + ":", p.stdout + p.stderr)
            refused += 1
            self.assertIsNone(self.dep.serve.isvc("deep"))
            a.detail = "%d documents nested %d deep refused (API JSON/YAML, V1/V2/binary via gateway and replica, " \
                       "gRPC groups, model-settings.json, apply -f, --config)" % (refused, h.DEEP)

    # ---- 02 ---------------------------------------------------------------------------------------
    def test_02_slow_clients(self):
        with self.attack("02 slow clients") as a:
            _, rport, _ = self.replica("xgb")
            ports = [self.gw_port(), self.dep.serve.api_port, rport]
            n = h.scaled(200)
            heads, bodies = [], []
            for i in range(n):
                port = ports[i % 3]
                s = self.sockets.connect(port)
                if i % 2 == 0:
                    s.sendall(b"POST /v1/models/xgb:predict HTTP/1.1\r\nHost: xgb.default.example.com\r\n")
                    heads.append(s)
                else:
                    auth = "Authorization: " + (GW_AUTH if port != self.dep.serve.api_port else
                                                "Bearer " + self.dep.serve.token)
                    s.sendall(h.head("POST", ISVCS if port == self.dep.serve.api_port else "/v1/models/xgb:predict",
                                     1000, (auth,)) + b'{"instances": [[')
                    bodies.append(s)
            t0 = time.time()
            results = h.parallel(h.closed_within, [(heads, 12, b"a"), (bodies, 12)])
            took = time.time() - t0
            self.assertEqual(results, [len(heads), len(bodies)],
                             "slow heads / stalled bodies not closed within 12 s (2 s timeouts)")
            a.detail = "%d partial heads (a byte per 0.5 s) and %d stalled bodies on gateway, API and replica: " \
                       "all closed in %.1f s (2 s timeouts)" % (len(heads), len(bodies), took)

    # ---- 03 ---------------------------------------------------------------------------------------
    def flood_at_fd_limit(self, pid, ports, keep_requests, n, concurrent=4):
        """Opens `concurrent` connections per keep request and answers one request on each; lowers pid's soft
        open-file limit to what it holds + 48 and floods `ports` with n connections each; then sends the keep
        requests again, all at once, measures pid's CPU over 2 s, ends the flood, restores the limit and checks
        that every keep request was answered 200 (those needing a new upstream connection may have to wait for
        the flood's end) and that new connections are served again. Returns (cpu seconds, fds at the limit,
        keep requests answered during the flood, in all)."""
        keeps = []
        for port, req in keep_requests:
            for _ in range(concurrent):
                s = self.sockets.connect(port)
                s.sendall(req)
                self.assertEqual(h.read_response(s)[0], 200)
                keeps.append((s, req))
        limit = h.open_fds(pid) + 48
        old = resource.prlimit(pid, resource.RLIMIT_NOFILE)
        resource.prlimit(pid, resource.RLIMIT_NOFILE, (limit, old[1]))  # the soft limit: restored after
        flood = h.Sockets()
        flood_end = [None]
        answers = []

        def again(s, req):
            s.settimeout(60)
            s.sendall(req)
            status = h.read_response(s)[0]
            answers.append((status, flood_end[0] is None))
            return status
        try:
            for _ in range(n):
                for port in ports:
                    flood.connect(port)  # completed by the kernel; the server runs out of fds accepting them
            time.sleep(1.0)
            at_limit = h.open_fds(pid)
            self.assertGreaterEqual(at_limit, limit - 4, "the flood did not reach the fd limit")
            threads = [threading.Thread(target=again, args=k, daemon=True) for k in keeps]
            for t in threads:
                t.start()
            cpu0 = h.cpu_seconds(pid)
            time.sleep(2.0)
            cpu = h.cpu_seconds(pid) - cpu0
            self.assertLess(cpu, 0.5, "%.2f s of CPU in 2 s at the fd limit: an accept loop spins" % cpu)
        finally:
            flood_end[0] = time.monotonic()
            flood.close_all()
            resource.prlimit(pid, resource.RLIMIT_NOFILE, old)
        for t in threads:
            t.join(60)
        self.assertEqual([a[0] for a in answers], [200] * len(keeps), "requests on connections opened before the "
                                                                      "flood were not all answered 200")
        for port, req in keep_requests:  # served again: new connections are accepted
            deadline = time.time() + 15
            status = None
            while time.time() < deadline and status != 200:
                try:
                    s = self.sockets.connect(port)
                    s.sendall(req)
                    status = h.read_response(s)[0]
                except OSError:
                    time.sleep(0.2)
            self.assertEqual(status, 200, "port %d not served again after the flood" % port)
        return cpu, at_limit, sum(1 for a in answers if a[1]), len(answers)

    def test_03_fd_exhaustion(self):
        with self.attack("03 fd exhaustion") as a:
            n = h.scaled(300)
            a.pooled = {"serve": 4}  # the keep connections' requests at once (flood_at_fd_limit)
            predict = json.dumps({"instances": SERVICES["xgb"][0]}).encode()
            gw_req = h.head("POST", "/v1/models/xgb:predict", len(predict),
                            ("Host: xgb.default.example.com", "Authorization: " + GW_AUTH)) + predict
            api_req = h.head("GET", ISVCS + "/xgb", None, ("Authorization: Bearer " + self.dep.serve.token,))
            cpu_s, fds_s, during_s, all_s = self.flood_at_fd_limit(
                self.dep.serve.proc.pid, [self.gw_port(), self.dep.serve.api_port, self.dep.serve.grpc_port],
                [(self.gw_port(), gw_req), (self.dep.serve.api_port, api_req)], n)
            pid, rport, rgrpc = self.replica("xgb")
            direct = h.head("POST", "/v1/models/xgb:predict", len(predict)) + predict
            cpu_r, fds_r, during_r, all_r = self.flood_at_fd_limit(pid, [rport, rgrpc], [(rport, direct)], n)
            a.detail = ("serve at its fd limit (%d fds; %d connections each to the gateway's REST and gRPC ports "
                        "and the API): %.2f s CPU in 2 s, %d of %d requests on open connections answered during the "
                        "flood, the rest after it; replica at its limit (%d fds; %d connections each to REST and "
                        "gRPC): %.2f s CPU in 2 s, %d of %d answered during the flood; new connections served after"
                        % (fds_s, n, cpu_s, during_s, all_s, fds_r, n, cpu_r, during_r, all_r))

    # ---- 04 ---------------------------------------------------------------------------------------
    def test_04_big_bodies(self):
        with self.attack("04 big bodies") as a:
            n = h.scaled(8)
            a.pooled = {"serve": n}  # bodies the gateway forwarded at once
            size = 60 * 1000 * 1000
            _, rport, _ = self.replica("xgb")
            gw = (self.gw_port(), "/v1/models/xgb:predict", size,
                  ("Host: xgb.default.example.com", "Authorization: " + GW_AUTH))
            api = (self.dep.serve.api_port, ISVCS, size, ("Authorization: Bearer " + self.dep.serve.token,
                                                          "Content-Type: application/json"))
            rep = (rport, "/v1/models/xgb:predict", size, ())
            results = h.parallel(h.send_big, [gw] * n + [api] * n + [rep] * n)
            codes = [r[0] if isinstance(r, tuple) else r for r in results]
            by = {"gateway": codes[:n], "api": codes[n:2 * n], "replica": codes[2 * n:]}
            self.assertTrue(all(c in (400, 503) for c in by["gateway"] + by["replica"]), by)
            self.assertTrue(all(c == 413 for c in by["api"]), by)  # over the API's 8 MiB at the head
            self.assertGreaterEqual(by["gateway"].count(503) + by["replica"].count(503), 1, by)
            a.detail = "%d x 60 MB each to gateway, API, replica: gateway %s, API %s, replica %s" % (
                n, summary(by["gateway"]), summary(by["api"]), summary(by["replica"]))

    # ---- 05 ---------------------------------------------------------------------------------------
    def test_05_unauthenticated_bodies(self):
        with self.attack("05 unauthenticated bodies") as a:
            n = h.scaled(8)
            cases = []
            for auth in ((), ("Authorization: Bearer wrong",)):
                cases += [(self.dep.serve.api_port, ISVCS, 8 * 1000 * 1000, auth + ("Content-Type: application/json",)),
                          (self.gw_port(), "/v1/models/xgb:predict", 60 * 1000 * 1000,
                           auth + ("Host: xgb.default.example.com",))]
            results = h.parallel(h.answer_before_body, cases * n)
            by = {"API": [], "gateway": []}
            for (port, *_), r in zip(cases * n, results):
                by["API" if port == self.dep.serve.api_port else "gateway"].append(r)
            # Refused from the head: 401 while all but 64 KiB of the body is still unsent.
            self.assertEqual(by, {"API": [401] * len(by["API"]), "gateway": [401] * len(by["gateway"])})
            a.detail = "%d unauthenticated bodies (no token, a wrong one) each to the API (8 MB) and the gateway " \
                       "(60 MB, --gateway_token): 401 from the head, with 64 KiB of each body sent" % len(by["API"])

    # ---- 06 ---------------------------------------------------------------------------------------
    def test_06_hostile_names(self):
        import grpc
        with self.attack("06 hostile names") as a:
            bad = ["a\x00b", "../x", "a/b", "x\n", "..", ".", "a%00", "A" * 300, "x\x7f", "\u00e9t\u00e9", "a b"]
            before = sorted(i["metadata"]["name"] for i in self.api("GET", ISVCS).json()["items"])
            checked = 0
            for name in bad:
                obj = json.loads(isvc_json_for(name, self.models["xgb"]))
                r = self.api("POST", ISVCS, json=obj)
                self.assertIn(r.status_code, (400, 422), (name, r.text[:300]))
                # In request paths, sent as they are (a client library would remove the dot segments).
                q = urllib.parse.quote(name, safe=".")
                auth = ("Authorization: Bearer " + self.dep.serve.token, "Content-Type: application/json")
                body = json.dumps(obj).encode()
                for method in ("GET", "DELETE", "PUT"):
                    status, _, text = h.lt.request(self.dep.serve.api_port, method, ISVCS + "/" + q,
                                                   body if method == "PUT" else b"", auth)
                    self.assertIn(status, (400, 404, 422), (method, name, text[:300]))
                status, _, text = h.lt.request(self.dep.serve.api_port, "GET", "/apis/serving.kserve.io/v1beta1/"
                                               "namespaces/%s/inferenceservices" % q, b"", auth)
                # A list in a namespace that cannot exist is empty (Kubernetes lists any namespace).
                self.assertIn(status, (200, 400, 404), (name, text[:300]))
                if status == 200:
                    self.assertEqual(json.loads(text)["items"], [], name)
                checked += 5
            self.assertEqual(sorted(i["metadata"]["name"] for i in self.api("GET", ISVCS).json()["items"]), before)
            for args in (("get", "isvc", "../x"), ("delete", "isvc", "a/b"), ("describe", "isvc", "..")):
                rc, out, err = self.cli(*args)
                self.assertGreater(rc, 0, (args, out, err))  # an error exit, not a signal
                checked += 1
            rc, out, err = self.cli("apply", "-f", "-", stdin=isvc_yaml("../x", "xgboost", self.models["xgb"]))
            self.assertGreater(rc, 0, out + err)
            # The repository API of a replica: its token guards load/unload; names are checked before anything.
            pid, rport, rgrpc = self.replica("xgb")
            token = self.replica_token(pid)
            base = "http://127.0.0.1:%d/v2/repository" % rport
            index = requests.post(base + "/index", timeout=30).json()
            loads = h.scaled(1000)
            for i in range(loads):
                name = urllib.parse.quote("m\x00%d" % i if i % 2 else "../m%d" % i, safe="")
                r = requests.post(base + "/models/%s/load" % name, timeout=30,
                                  headers={"Authorization": "Bearer " + token})
                self.assertEqual(r.status_code, 400, r.text)
            for verb in ("load", "unload"):
                r = requests.post(base + "/models/xgb/" + verb, timeout=30)
                self.assertEqual(r.status_code, 401, r.text)
            self.assertEqual(requests.post(base + "/index", timeout=30).json(), index)
            stubs = {"replica": (rgrpc, []), "gateway": (self.dep.serve.grpc_port, [("authorization", GW_AUTH)])}
            for where, (port, md) in stubs.items():
                with grpc.insecure_channel("127.0.0.1:%d" % port) as ch:
                    stub = g.pb_grpc.GRPCInferenceServiceStub(ch)
                    with self.assertRaises(grpc.RpcError) as cm:
                        stub.RepositoryModelUnload(g.pb.RepositoryModelUnloadRequest(model_name="xgb"), timeout=30,
                                                   metadata=md)
                    self.assertEqual(cm.exception.code(), grpc.StatusCode.UNAUTHENTICATED, (where, cm.exception))
                    if where == "replica":
                        with self.assertRaises(grpc.RpcError) as cm:
                            stub.RepositoryModelLoad(g.pb.RepositoryModelLoadRequest(model_name="m\x00x"), timeout=30,
                                                     metadata=[("authorization", "Bearer " + token)])
                        self.assertEqual(cm.exception.code(), grpc.StatusCode.INVALID_ARGUMENT, cm.exception)
                    for model in ("x\x00y", "../xgb", "a/b"):
                        with self.assertRaises(grpc.RpcError) as cm:
                            self.dep.grpc_infer_named(stub, model, md)
                        self.assertIn(cm.exception.code(),
                                      (grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.NOT_FOUND),
                                      (where, model, cm.exception))
                        checked += 1
            # Through the gateway (which forwards every path): the replica's token is not the gateway's.
            for verb in ("load", "unload"):
                r = self.dep.gw("POST", "/v2/repository/models/xgb/" + verb, host="xgb.default.example.com")
                self.assertEqual(r.status_code, 401, r.text)
            # V2 model names in paths, through the gateway and directly.
            for name in ("x%00y", "..%2Fxgb", "x%0Ay", "%2E%2E"):
                r = self.dep.gw("POST", "/v2/models/%s/infer" % name, json={"inputs": []})
                self.assertIn(r.status_code, (400, 404), (name, r.text))
                r = requests.post("http://127.0.0.1:%d/v2/models/%s/infer" % (rport, name), json={"inputs": []},
                                  timeout=30)
                self.assertEqual(r.status_code, 400, (name, r.text))
                checked += 2
            # storageUris that try to leave their directory.
            escapes = {"esc-pvc": "pvc://claim/../../../etc", "esc-http": self.http_url + "/..%2F..%2Fescaped.json",
                       "esc-dots": self.http_url + "/%2E%2E"}
            for name, uri in escapes.items():
                r = self.api("POST", ISVCS, json=json.loads(isvc_json_for(name, uri)))
                if r.status_code in (400, 422):
                    continue  # refused at apply
                self.assertEqual(r.status_code, 201, r.text)
                obj = self.wait_isvc(name, lambda o: o.get("status", {}).get("inferd", {}).get("storage", {}).get(
                    "state") == "Failed", "storage Failed")
                self.assertFalse(st.is_ready(obj))
                self.assertRegex(not_ready_message(obj), r"'\.\.'|names no file")
                self.delete(name)
            for leftover in ("escaped.json",):
                for d in (self.dep.data_dir, os.path.dirname(self.dep.data_dir)):
                    self.assertFalse(os.path.exists(os.path.join(d, leftover)), os.path.join(d, leftover))
            a.detail = "%d hostile names refused (API, CLI, V2 REST/gRPC via gateway and replica); %d repository " \
                       "loads of NUL/'..' names 400, index unchanged; load/unload 401 without the replica's token " \
                       "(also through the gateway); %d escaping storageUris refused" % (checked, loads, len(escapes))

    # ---- 07 ---------------------------------------------------------------------------------------
    def test_07_hostile_archives(self):
        with self.attack("07 hostile archives") as a:
            cache = os.path.join(self.dep.data_dir, "models")
            before = set(os.listdir(cache)) if os.path.isdir(cache) else set()
            names = {}
            docs = []
            for i, archive in enumerate(sorted(self.archives)):
                names[archive] = "arc-%d" % i
                docs.append(isvc_yaml(names[archive], "xgboost", self.http_url + "/" + archive))
            self.apply_ok("---\n".join(docs))
            seen = []
            for archive, want in sorted(self.archives.items()):
                obj = self.wait_isvc(names[archive], lambda o: want in not_ready_message(o),
                                     "not Ready naming %s" % want)
                self.assertEqual(obj["status"]["inferd"]["storage"]["state"], "Failed")
                seen.append("%s: %s" % (archive, want))
            for name in names.values():
                self.delete(name)
            deadline = time.time() + 20
            left = None
            while time.time() < deadline:
                left = set(os.listdir(cache)) - before if os.path.isdir(cache) else set()
                if not left:
                    break
                time.sleep(0.2)
            self.assertEqual(left, set(), "partial downloads left in DATA_DIR/models")
            for path in ("/tmp/inferd-hostile-absolute.json", os.path.join(self.dep.data_dir, "escaped-tar.json"),
                         os.path.join(self.dep.data_dir, "escaped-zip.json")):
                self.assertFalse(os.path.exists(path), path)
            a.detail = "%d archives refused, nothing left in DATA_DIR/models (%s)" % (len(seen), "; ".join(seen))

    # ---- 08 ---------------------------------------------------------------------------------------
    def test_08_corrupt_model_healed(self):
        with self.attack("08 corrupt model healed") as a:
            path = os.path.join(self.models["healing"], "model.json")
            self.apply_ok(isvc_yaml("healing", "xgboost", self.models["healing"]))
            obj = self.dep.serve.wait_ready("healing")
            generation = obj["metadata"]["generation"]
            pid = [r["pid"] for r in obj["status"]["inferd"]["replicas"] if r.get("phase") == "Ready"][0]
            with open(path, "rb") as f:
                good = f.read()
            with open(path, "r+b") as f:  # damaged in place: the replica's restart reads it
                f.seek(len(good) // 2)
                f.write(b"\xff\x00garbage\x00" * 64)
            t0 = time.monotonic()
            os.kill(pid, signal.SIGKILL)
            obj = self.wait_isvc("healing", lambda o: o["status"].get("modelStatus", {}).get(
                "lastFailureInfo", {}).get("reason") == "ModelLoadFailed", "ModelLoadFailed")
            self.assertFalse(st.is_ready(obj))
            reason = obj["status"]["modelStatus"]["lastFailureInfo"]["message"]
            r = self.dep.gw("POST", "/v1/models/healing:predict", host="healing.default.example.com",
                            json={"instances": SERVICES["xgb"][0]})
            self.assertEqual(r.status_code, 503, r.text)
            tmp = path + ".tmp"
            with open(tmp, "wb") as f:
                f.write(good)
            os.rename(tmp, path)
            t1 = time.monotonic()
            obj = self.dep.serve.wait_ready("healing", timeout=60)
            healed = time.monotonic() - t1
            self.assertEqual(obj["metadata"]["generation"], generation)
            r = self.dep.gw("POST", "/v1/models/healing:predict", host="healing.default.example.com",
                            json={"instances": SERVICES["xgb"][0]})
            self.assertEqual(r.status_code, 200, r.text)
            self.delete("healing")
            a.detail = "damaged file: not Ready (ModelLoadFailed: %s) and 503; restored: Ready %.1f s later, same " \
                       "generation (%.1f s in all)" % (reason[:80], healed, time.monotonic() - t0)

    # ---- 09 ---------------------------------------------------------------------------------------
    def test_09_sigkill_of_the_only_replica_under_load(self):
        with self.attack("09 SIGKILL replica under load") as a:
            a.killed = ("replica:xgb",)
            clients_n, kills = h.scaled(4), h.scaled(2)
            a.pooled = {"serve": clients_n + len(self.trickle.probes)}
            url = "http://127.0.0.1:%d/v1/models/xgb:predict" % self.gw_port()
            load = LoadClients(url, clients_n)
            recover = []
            try:
                pid = self.replica("xgb")[0]
                for _ in range(kills):
                    n = load.count()
                    deadline = time.time() + 30
                    while load.count() < n + 200 and time.time() < deadline:
                        time.sleep(0.01)
                    window = h.sigkill(pid)
                    self.trickle.killed(a.name, ("rest", "grpc"), window)
                    load.killed_at.append(window)
                    new = self.wait_isvc("xgb", lambda o: any(
                        r.get("phase") == "Ready" and r.get("pid") not in (0, pid)
                        for r in o["status"]["inferd"]["replicas"]), "a replacement replica")
                    recover.append(time.monotonic() - window[0])
                    pid = [r["pid"] for r in new["status"]["inferd"]["replicas"] if r.get("phase") == "Ready"][0]
                n = load.count()
                deadline = time.time() + 30
                while load.count() < n + 200 and time.time() < deadline:
                    time.sleep(0.01)
            finally:
                outcomes = load.stop()
            failed = [o for o in outcomes if o[2] != 200]
            in_flight = [o for o in failed if h.in_window(o[0], o[1], load.killed_at)]
            self.assertEqual(failed, in_flight, "failures of requests not in flight at a kill %s" % (load.killed_at,))
            self.assertLessEqual(len(failed), clients_n * kills)
            excused = len(self.trickle.failures_between(load.killed_at[0][0], time.monotonic()))
            a.detail = "%d kills under %d clients (%d requests): %d failed, all in flight at a kill (at most %d); " \
                       "trickle: %d failed in flight; replacement ready after %s s" % (
                           kills, clients_n, len(outcomes), len(failed), clients_n * kills, excused,
                           "/".join("%.1f" % x for x in recover))

    # ---- 10 ---------------------------------------------------------------------------------------
    def test_10_sigkill_of_serve_under_load(self):
        with self.attack("10 SIGKILL serve under load") as a:
            a.killed = ("serve", "replica:xgb", "replica:skl")
            serve = self.dep.serve
            old_replicas = {n: v[0] for n, v in self.dep.replicas().items()}
            # Writes acknowledged before the kill must all be there after it.
            acked = {"n": 0}
            stop = threading.Event()

            def writer():
                i = 0
                while not stop.is_set():
                    i += 1
                    try:
                        r = serve.api("PATCH", ISVCS + "/skl",
                                      json={"metadata": {"annotations": {"hostile/n": str(i)}}},
                                      headers={"Content-Type": "application/merge-patch+json"})
                        if r.status_code == 200:
                            acked["n"] = i
                    except requests.RequestException:
                        return
            w = threading.Thread(target=writer, daemon=True)
            w.start()
            load = LoadClients("http://127.0.0.1:%d/v1/models/xgb:predict" % self.gw_port(), 4)
            time.sleep(1.0)
            stored = self.stored_objects()
            self.trickle.pause()
            self.trickle.killed(a.name, ("rest", "grpc"), h.sigkill(serve.proc.pid, reap=serve.proc))
            stop.set()
            w.join(30)
            load.stop()
            deadline = time.time() + 15
            while time.time() < deadline and any(h.alive(p) for p in old_replicas.values()):
                time.sleep(0.1)
            self.assertFalse(any(h.alive(p) for p in old_replicas.values()), "replicas outlived serve")
            serve.stop()
            # The same data dir: every service comes back; meanwhile the gateway says 503, never 404.
            t_start = time.monotonic()
            self.dep.start()
            codes, back = {}, {}
            while len(back) < len(SERVICES) and time.monotonic() - t_start < 90:
                for name in SERVICES:
                    if name in back:
                        continue
                    try:
                        c = self.dep.gw("POST", "/v1/models/%s:predict" % name, host="%s.default.example.com" % name,
                                        json={"instances": SERVICES[name][0]}).status_code
                    except requests.RequestException as e:
                        c = type(e).__name__
                    codes.setdefault(name, set()).add(c)
                    if c == 200:
                        back[name] = time.monotonic() - t_start
                time.sleep(0.02)
            self.assertEqual(sorted(back), sorted(SERVICES), codes)
            for name, seen in codes.items():
                self.assertEqual(seen - {200, 503}, set(), "%s answered %s while serve started" % (name, seen))
            for name in SERVICES:
                self.dep.serve.wait_ready(name)
            self.trickle.resume()
            after = self.stored_objects()
            self.assertEqual(set(after), set(stored), "objects lost or added by the restart")
            for key, (uid, gen) in stored.items():
                self.assertEqual(after[key][0], uid, key)
                self.assertGreaterEqual(after[key][1], gen, key)
            last = int(self.dep.serve.isvc("skl")["metadata"].get("annotations", {}).get("hostile/n", "0"))
            self.assertGreaterEqual(last, acked["n"], "an acknowledged write was lost")
            a.detail = "%d objects kept, last acknowledged write (#%d) kept (stored #%d); replicas died with serve; " \
                       "while starting the gateway answered only %s; services back after %s s" % (
                           len(stored), acked["n"], last, sorted(set().union(*codes.values()), key=str),
                           "/".join("%s %.1f" % kv for kv in sorted(back.items())))

    def stored_objects(self):
        out = {}
        for path in (ISVCS, "/apis/serving.kserve.io/v1alpha1/namespaces/default/servingruntimes",
                     "/apis/serving.kserve.io/v1alpha1/clusterservingruntimes"):
            r = self.api("GET", path)
            self.assertEqual(r.status_code, 200, r.text)
            for item in r.json()["items"]:
                md = item["metadata"]
                out[(item["kind"], md["name"])] = (md.get("uid"), md.get("generation", 0))
        return out

    # ---- 99 ---------------------------------------------------------------------------------------
    def test_99_nothing_lost(self):
        total = self.trickle.count()
        excused, unexcused = self.trickle.failures()
        self.report.add("99 trickle ledger", "ok" if not unexcused else "FAILED",
                        "%d predictions through the gateway during the suite; %d failed, all in flight at a kill: %s; "
                        "unexcused: %d" % (total, sum(excused.values()), excused or "none", len(unexcused)), 0)
        self.assertEqual(unexcused, [])
        self.assertGreater(total, 100)
        for cls, n in excused.items():
            self.assertLessEqual(n, len(self.trickle.probes) * h.scaled(2), cls)


def summary(codes):
    out = {}
    for c in codes:
        out[c] = out.get(c, 0) + 1
    return " ".join("%s x%d" % (k, v) for k, v in sorted(out.items(), key=lambda kv: str(kv[0])))


def isvc_json_for(name, path):
    uri = path if "://" in path else "file://" + path
    return json.dumps({"apiVersion": "serving.kserve.io/v1beta1", "kind": "InferenceService",
                       "metadata": {"name": name},
                       "spec": {"predictor": {"model": {"modelFormat": {"name": "xgboost"}, "storageUri": uri}}}})


class LoadClients:
    """n clients posting predictions in a loop on keep-alive sessions; every outcome (sent, done, code) kept."""

    def __init__(self, url, n):
        self.url = url
        self.killed_at = []
        self.stop_flag = threading.Event()
        self.lock = threading.Lock()
        self.outcomes = []
        self.threads = [threading.Thread(target=self._run, daemon=True) for _ in range(n)]
        for t in self.threads:
            t.start()

    def _run(self):
        with requests.Session() as s:
            while not self.stop_flag.is_set():
                t = time.monotonic()
                text = ""
                try:
                    r = s.post(self.url, json={"instances": SERVICES["xgb"][0]}, timeout=60,
                               headers={"Host": "xgb.default.example.com", "Authorization": GW_AUTH})
                    code = r.status_code
                    text = r.text[:200] if code != 200 else ""
                except requests.RequestException as e:
                    code, text = type(e).__name__, str(e)[:200]
                with self.lock:
                    self.outcomes.append((t, time.monotonic(), code, text))

    def count(self):
        with self.lock:
            return len(self.outcomes)

    def stop(self):
        self.stop_flag.set()
        for t in self.threads:
            t.join(90)
        return self.outcomes




if __name__ == "__main__":
    unittest.main(verbosity=2)
