"""The hostile suite against ONE bare `inferd model-server` (issue 12), the way KServe runs it outside inferd
serve: a Triton-layout repository, a repository token, 2 s header and body timeouts, `--max_models 8`, and
started under a low open-file limit (prlimit 256) so that its default connection cap (3/4 of the limit) is what
meets a flood. A trickle client sends predictions for the whole run (V1 and V2 REST, V2 gRPC) and keeps every
outcome; after every class the checks of harness.py run (same pid, correct predictions over the three, peak
RSS under its bound, no fd left over, no trickle failure).

Classes: 01 deep nesting (REST bodies, the binary extension's header, gRPC groups, model-settings.json and a
TorchScript model's config.pbtxt through the repository API), 02 slow clients, 03 a connection flood on the
REST and gRPC ports, 04 big bodies (REST and gRPC), 05 unauthenticated repository verbs, 06 hostile model names
and the bound on models known, 07 a model file damaged in place and healed by a reload.

Run by ctest with Debian's /usr/bin/python3; environment as for tests/control/serve_test.py (INFERD_BUILD_DIR
for the PyTorch test model: without it, test_01b skips).
"""

import json
import os
import shutil
import struct
import tempfile
import time
import unittest
import urllib.parse

import requests

import harness as h

st = h.st
g = st.g
MODELS = st.MODELS
TOKEN = "hostile-repository-token"
XGB = st.expected(os.path.join(MODELS, "xgb_iris_softprob.expected.json"))
ROWS, WANT = XGB["instances"][:2], XGB["predict"][:2]
TORCH = os.path.join(st.DL_MODELS, "repo", "torch-mlp2")
PLUGIN = os.path.join(st.BUILD_DIR, "libinferd_backend_torch.so")


class HostileModelServerTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        h.raise_nofile()
        cls.tmp = tempfile.mkdtemp(prefix="inferd-hostile-model-server-")
        g.generate_stubs(cls.tmp)
        cls.report = h.Report("model-server")
        cls.repo = os.path.join(cls.tmp, "repo")
        for name in ["iris", "healing", "deep-settings"] + ["m%02d" % i for i in range(10)]:
            shutil.copytree(os.path.join(MODELS, "xgb_iris_softprob"), os.path.join(cls.repo, name))
        with open(os.path.join(cls.repo, "deep-settings", "model-settings.json"), "w") as f:
            f.write('{"max_batch_size": 4, "parameters": %s}' % h.nested(h.DEEP))
        token_file = os.path.join(cls.tmp, "token")
        with open(token_file, "w") as f:
            f.write(TOKEN + "\n")
        cls.server = h.lt.Proc(
            [st.INFERD_BIN, "model-server", "--model_repository", cls.repo, "--load_model", "iris",
             "--load_model", "healing", "--repository_token_file", token_file, "--http_port", "0", "--grpc_port",
             "0", "--workers", "2", "--client_header_timeout", "2", "--client_body_timeout", "2",
             "--max_models", "8"],
            r"inferd model-server listening http_port=(\d+) grpc_port=(\d+)", prefix=["prlimit", "--nofile=256:256",
                                                                                      "--"])
        cls.port, cls.grpc_port = cls.server.ports
        deadline = time.time() + 60
        while time.time() < deadline and requests.get(cls.url("/v2/health/ready"), timeout=10).status_code != 200:
            time.sleep(0.1)
        import grpc
        cls.channel = grpc.insecure_channel("127.0.0.1:%d" % cls.grpc_port)
        cls.stub = g.pb_grpc.GRPCInferenceServiceStub(cls.channel)
        cls.sockets = h.Sockets()
        session = requests.Session()
        cls.trickle = h.Trickle([("rest", lambda: cls.v1(session) or cls.v2(session)), ("grpc", cls.grpc)])

    @classmethod
    def tearDownClass(cls):
        cls.trickle.stop()
        cls.sockets.close_all()
        cls.channel.close()
        cls.server.stop()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    @classmethod
    def url(cls, path):
        return "http://127.0.0.1:%d%s" % (cls.port, path)

    @classmethod
    def v1(cls, session=None, model="iris"):
        r = (session or requests).post(cls.url("/v1/models/%s:predict" % model), json={"instances": ROWS}, timeout=30)
        if r.status_code != 200 or not h.same(r.json()["predictions"], WANT):
            return "V1 %s: %d %s" % (model, r.status_code, r.text[:200])
        return None

    @classmethod
    def v2(cls, session=None, model="iris"):
        body = {"inputs": [{"name": "input-0", "shape": [2, 4], "datatype": "FP32", "data": h.flat(ROWS)}]}
        r = (session or requests).post(cls.url("/v2/models/%s/infer" % model), json=body, timeout=30)
        if r.status_code != 200 or not h.same(r.json()["outputs"][0]["data"], WANT):
            return "V2 %s: %d %s" % (model, r.status_code, r.text[:200])
        return None

    @classmethod
    def grpc(cls, model="iris"):
        pb = g.pb
        inp = pb.ModelInferRequest.InferInputTensor(name="input-0", datatype="FP32", shape=[2, 4])
        inp.contents.fp32_contents.extend(h.flat(ROWS))
        resp = cls.stub.ModelInfer(pb.ModelInferRequest(model_name=model, inputs=[inp]), timeout=30)
        got = list(resp.outputs[0].contents.fp32_contents)
        if not got and resp.raw_output_contents:
            raw = resp.raw_output_contents[0]
            got = list(struct.unpack("<%df" % (len(raw) // 4), raw))
        return None if h.same(got, WANT) else "gRPC %s: %r" % (model, got)

    # harness.Attack's interface
    def procs(self):
        return {"model-server": self.server.proc.pid}

    def check_predictions(self):
        self.assertIsNone(self.server.proc.poll(), self.server.output()[-3000:])
        for model in ("iris", "healing"):
            for kind in (self.v1, self.v2):
                self.assertIsNone(kind(model=model))
            self.assertIsNone(self.grpc(model))
        for _ in range(5):  # new gRPC connections (a listener that stopped accepting keeps the open ones)
            self.assertIsNone(self.grpc_fresh())

    def attack(self, name):
        return h.Attack(self, name)

    def repo_post(self, path, token=TOKEN, **kw):
        headers = {"Authorization": "Bearer " + token} if token else {}
        return requests.post(self.url("/v2/repository" + path), headers=headers, timeout=60, **kw)

    def index(self):
        r = self.repo_post("/index", token=None)
        self.assertEqual(r.status_code, 200, r.text)
        return r.json()

    # ---- 01 ---------------------------------------------------------------------------------------
    def test_01_deep_nesting(self):
        import grpc
        with self.attack("01 deep nesting") as a:
            header = ('{"parameters":{"p":%s},"inputs":[{"name":"input-0","shape":[1,4],"datatype":"FP32",'
                      '"parameters":{"binary_data_size":16}}]}' % h.nested(h.DEEP))
            bodies = [("/v1/models/iris:predict", '{"instances":%s}' % h.nested(h.DEEP, "1"), {}),
                      ("/v1/models/iris:predict", '{"instances":[{"b64":%s}]}' % h.nested(h.DEEP), {}),
                      ("/v2/models/iris/infer", '{"inputs":[],"parameters":{"p":%s}}' % ('{"a":' * h.DEEP + "1" +
                                                                                       "}" * h.DEEP), {}),
                      ("/v2/models/iris/infer", header + "\0" * 16,
                       {"Inference-Header-Content-Length": str(len(header)),
                        "Content-Type": "application/octet-stream"})]
            for path, body, headers in bodies:
                r = requests.post(self.url(path), data=body.encode("latin-1"), headers=headers, timeout=30)
                self.assertEqual(r.status_code, 400, (path, r.text[:300]))
                self.assertIn(h.TOO_DEEP, r.text)
            call = self.channel.unary_unary("/inference.GRPCInferenceService/ModelInfer")
            with self.assertRaises(grpc.RpcError) as cm:
                call(h.deep_groups_message("iris"), timeout=30)
            # grpc++'s callback API answers a message that does not parse with UNIMPLEMENTED, before inferd runs.
            self.assertIn(cm.exception.code(), (grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.UNIMPLEMENTED))
            r = self.repo_post("/models/deep-settings/load")
            self.assertEqual(r.status_code, 503, r.text)
            self.assertIn("model-settings.json: " + h.TOO_DEEP, r.text)
            state = [m for m in self.index() if m["name"] == "deep-settings"]
            self.assertEqual(state[0]["state"], "UNAVAILABLE", state)
            a.detail = "%d REST bodies (V1, V2, binary header) nested %d deep: 400; gRPC groups: " \
                       "%s; model-settings.json: load 503 naming the file" % (len(bodies), h.DEEP,
                                                                              cm.exception.code().name)

    def test_01b_deep_config_pbtxt(self):
        if not (os.path.exists(os.path.join(TORCH, "model.pt")) and os.path.exists(PLUGIN)):
            self.skipTest("no PyTorch test model or backend plugin (python3-torch / libtorch missing)")
        with self.attack("01b deep config.pbtxt") as a:
            model = os.path.join(self.repo, "torch-deep")
            shutil.copytree(TORCH, model)
            with open(os.path.join(model, "config.pbtxt"), "w") as f:
                f.write("input " + "{ a " * h.DEEP + "}" * h.DEEP + "\n")
            r = self.repo_post("/models/torch-deep/load")
            self.assertEqual(r.status_code, 503, r.text)
            self.assertIn("config.pbtxt", r.text)
            shutil.rmtree(model)
            a.detail = "a TorchScript model's config.pbtxt nested %d deep: load 503 (%s)" % (
                h.DEEP, r.json()["error"][-80:])

    # ---- 02 ---------------------------------------------------------------------------------------
    def test_02_slow_clients(self):
        with self.attack("02 slow clients") as a:
            n = h.scaled(150)  # under the connection cap (192): every one is held until its deadline
            heads, bodies = [], []
            for i in range(n):
                s = self.sockets.connect(self.port)
                if i % 2 == 0:
                    s.sendall(b"POST /v1/models/iris:predict HTTP/1.1\r\nHost: x\r\n")
                    heads.append(s)
                else:
                    s.sendall(h.head("POST", "/v1/models/iris:predict", 1000) + b'{"instances": [[')
                    bodies.append(s)
            t0 = time.time()
            results = h.parallel(h.closed_within, [(heads, 12, b"a"), (bodies, 12)])
            self.assertEqual(results, [len(heads), len(bodies)])
            a.detail = "%d partial heads and %d stalled bodies: all closed in %.1f s (2 s timeouts)" % (
                len(heads), len(bodies), time.time() - t0)

    # ---- 03 ---------------------------------------------------------------------------------------
    def test_03_connection_flood(self):
        with self.attack("03 connection flood (fd limit 256)") as a:
            keep = self.sockets.connect(self.port)
            predict = json.dumps({"instances": ROWS}).encode()
            req = h.head("POST", "/v1/models/iris:predict", len(predict)) + predict
            keep.sendall(req)
            self.assertEqual(h.read_response(keep)[0], 200)
            flood = h.Sockets()
            n = h.scaled(300)
            try:
                for _ in range(n):  # past the REST cap (3/4 of 256): closed at once
                    flood.connect(self.port)
                time.sleep(0.3)
                for _ in range(n):  # gRPC has no cap of inferd's: it meets the fd limit itself
                    flood.connect(self.grpc_port)
                time.sleep(0.3)
                pid = self.server.proc.pid
                cpu0 = h.cpu_seconds(pid)
                fds = 0
                for _ in range(20):  # 2 s (the REST connections' 2 s header deadline passes meanwhile)
                    fds = max(fds, h.open_fds(pid))
                    time.sleep(0.1)
                cpu = h.cpu_seconds(pid) - cpu0
                self.assertGreaterEqual(fds, 240, "the flood did not reach the fd limit")
                self.assertLess(cpu, 0.5, "%.2f s of CPU in 2 s under the flood: an accept loop spins" % cpu)
                keep.sendall(req)
                self.assertEqual(h.read_response(keep)[0], 200)
                self.assertIsNone(self.grpc(), "the open gRPC channel stopped answering")
            finally:
                flood.close_all()
            time.sleep(1.5)  # an acceptor's pause at the fd limit is at most 1 s
            for i in range(20):  # each a new connection: none may hang
                self.assertIsNone(self.v1(), "a new REST connection after the flood")
                self.assertIsNone(self.grpc_fresh(), "new gRPC connection %d after the flood" % i)
            self.assertRegex(self.server.output(), r"open connections \(the cap")
            a.detail = "%d connections each to the REST and gRPC ports: up to %d fds held, %.2f s CPU in 2 s, " \
                       "the open REST and gRPC connections answered, 20 new ones of each after" % (n, fds, cpu)

    def grpc_fresh(self):
        import grpc
        with grpc.insecure_channel("127.0.0.1:%d" % self.grpc_port) as ch:
            stub = g.pb_grpc.GRPCInferenceServiceStub(ch)
            try:
                return None if stub.ModelReady(g.pb.ModelReadyRequest(name="iris"), timeout=5).ready else "not ready"
            except grpc.RpcError as e:
                return "a new gRPC connection: %s" % e.code()

    # ---- 04 ---------------------------------------------------------------------------------------
    def test_04_big_bodies(self):
        import grpc
        with self.attack("04 big bodies") as a:
            n = h.scaled(8)
            results = h.parallel(h.send_big, [(self.port, "/v1/models/iris:predict", 60 * 1000 * 1000, ())] * n)
            codes = [r[0] if isinstance(r, tuple) else r for r in results]
            self.assertTrue(all(c in (400, 503) for c in codes), codes)
            self.assertGreaterEqual(codes.count(503), 1, codes)
            call = self.channel.unary_unary("/inference.GRPCInferenceService/ModelInfer")
            name = b"\x0a\x04iris"

            def big_grpc(size):
                try:
                    call(name + b"\x12" + b"\xff" * 4 + b"\x01" + b"x" * size, timeout=60)
                    return "OK"
                except grpc.RpcError as e:
                    return e.code().name
            grpc_codes = h.parallel(big_grpc, [(60 * 1000 * 1000,)] * n + [(7 * 1000 * 1000,)] * n)
            self.assertEqual(set(grpc_codes[:n]), {"RESOURCE_EXHAUSTED"}, grpc_codes)
            self.assertNotIn("OK", grpc_codes[n:])
            a.detail = "%d x 60 MB REST bodies: %s; gRPC %d x 60 MB: RESOURCE_EXHAUSTED, %d x 7 MB garbage: %s" % (
                n, {c: codes.count(c) for c in set(codes)}, n, n, sorted(set(grpc_codes[n:])))

    # ---- 05 ---------------------------------------------------------------------------------------
    def test_05_unauthenticated_repository_verbs(self):
        import grpc
        with self.attack("05 unauthenticated repository verbs") as a:
            n = h.scaled(20)
            codes = []
            for i in range(n):
                verb = ("load", "unload")[i % 2]
                token = (None, "wrong", TOKEN[:-1] + "X")[i % 3]
                codes.append(self.repo_post("/models/iris/" + verb, token=token, data=b"{}").status_code)
            self.assertEqual(set(codes), {401})
            for verb, req in (("RepositoryModelLoad", g.pb.RepositoryModelLoadRequest(model_name="iris")),
                              ("RepositoryModelUnload", g.pb.RepositoryModelUnloadRequest(model_name="iris"))):
                with self.assertRaises(grpc.RpcError) as cm:
                    getattr(self.stub, verb)(req, timeout=30, metadata=[("authorization", "Bearer wrong")])
                self.assertEqual(cm.exception.code(), grpc.StatusCode.UNAUTHENTICATED)
            # With a body: 401 too. (The model server reads a body before it checks the token, unlike the API and
            # the gateway; its inference routes, open to all, take the same bodies, so nothing more is exposed.)
            r = self.repo_post("/models/iris/unload", token=None, data=b"x" * (8 << 20))
            self.assertEqual(r.status_code, 401, r.text)
            a.detail = "%d REST load/unload without the token or with a wrong one: 401; gRPC: UNAUTHENTICATED; " \
                       "iris still served" % n

    # ---- 06 ---------------------------------------------------------------------------------------
    def test_06_hostile_names_and_the_model_bound(self):
        import grpc
        with self.attack("06 hostile names, --max_models") as a:
            before = self.index()
            loads = h.scaled(1000)
            for i in range(loads):
                name = ("m\x00%d" % i, "../m%d" % i, "m%d\n" % i, "m/%d" % i, ".m%d" % i)[i % 5]
                r = self.repo_post("/models/%s/load" % urllib.parse.quote(name, safe=""))
                self.assertIn(r.status_code, (400, 404), (name, r.text))
            for name in ("m\x00x", "../iris", "x" * 300, "a b"):
                for call, req in ((self.stub.RepositoryModelLoad, g.pb.RepositoryModelLoadRequest(model_name=name)),
                                  (self.stub.ModelReady, g.pb.ModelReadyRequest(name=name))):
                    with self.assertRaises(grpc.RpcError) as cm:
                        call(req, timeout=30, metadata=[("authorization", "Bearer " + TOKEN)])
                    self.assertEqual(cm.exception.code(), grpc.StatusCode.INVALID_ARGUMENT, (name, cm.exception))
                r = requests.post(self.url("/v2/models/%s/infer" % urllib.parse.quote(name, safe="")),
                                  json={"inputs": []}, timeout=30)
                self.assertEqual(r.status_code, 400, (name, r.text))
            self.assertEqual(self.index(), before, "hostile names changed the index")
            # --max_models 8: iris, healing, deep-settings are known; five more load, the next is 503 naming it.
            known = {m["name"] for m in before if m.get("state")}
            loaded = []
            for i in range(10):
                r = self.repo_post("/models/m%02d/load" % i)
                if r.status_code != 200:
                    break
                loaded.append(i)
            self.assertEqual(r.status_code, 503, r.text)
            self.assertIn("--max_models", r.text)
            self.assertEqual(len(known) + len(loaded), 8, (known, loaded))
            # The index: at most 8 of the repository's directories, plus the (at most 8) models known.
            self.assertLessEqual(len(self.index()), 16)
            for i in loaded:
                self.assertEqual(self.repo_post("/models/m%02d/unload" % i).status_code, 200)
            a.detail = "%d loads of NUL/'..'/'/'/newline names: 400/404, index unchanged; gRPC and V2 paths: " \
                       "INVALID_ARGUMENT/400; --max_models 8: the 9th model known is 503 naming the flag" % loads

    # ---- 07 ---------------------------------------------------------------------------------------
    def test_07_damaged_model_healed_by_a_reload(self):
        with self.attack("07 damaged model healed") as a:
            path = os.path.join(self.repo, "healing", "model.json")
            with open(path, "rb") as f:
                good = f.read()
            with open(path, "r+b") as f:
                f.seek(len(good) // 2)
                f.write(b"\xff\x00garbage\x00" * 64)
            r = self.repo_post("/models/healing/load")
            self.assertEqual(r.status_code, 503, r.text)
            reason = r.json()["error"]
            # The old instance keeps serving while its reload failed.
            self.assertIsNone(self.v1(model="healing"))
            tmp = path + ".tmp"
            with open(tmp, "wb") as f:
                f.write(good)
            os.rename(tmp, path)
            r = self.repo_post("/models/healing/load")
            self.assertEqual(r.status_code, 200, r.text)
            state = [m for m in self.index() if m["name"] == "healing"]
            self.assertEqual(state[0]["state"], "READY", state)
            a.detail = "damaged in place: reload 503 (%s), the loaded instance kept serving; restored: reload 200, " \
                       "READY" % reason[:90]

    # ---- 99 ---------------------------------------------------------------------------------------
    def test_99_nothing_lost(self):
        total = self.trickle.count()
        excused, unexcused = self.trickle.failures()
        self.report.add("99 trickle ledger", "ok" if not unexcused else "FAILED",
                        "%d predictions (V1/V2 REST, gRPC) during the suite; failed: %d" % (total, len(unexcused)), 0)
        self.assertEqual(unexcused, [])
        self.assertEqual(excused, {})
        self.assertGreater(total, 50)


if __name__ == "__main__":
    unittest.main(verbosity=2)
