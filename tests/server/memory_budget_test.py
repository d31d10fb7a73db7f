"""The model server's memory budget (--memory_budget, model/repository.h), on a real `inferd model-server`:
200 small XGBoost models in one --model_repository with a budget that holds about 50 of them.

- every model answers correctly (compared with XGBoost's own prediction) in a random order, evicted ones
  loaded again on their request;
- eviction order: least recently used first;
- a model larger than the whole budget is refused with 507 and {"error": ...memory budget...};
- a model file that fails to load is reported in the index and by its load, the others unaffected;
- concurrent first requests to an evicted model cause one load (inferd_model_loads_total);
- an explicit unload of an evicted model removes it for real (404 afterwards, not loaded on demand).

Run by ctest with Debian's /usr/bin/python3 (numpy, xgboost, requests). Models are generated here: one tiny
booster trained once, written 200 times with a different base_score (so each model has its own answer); that
takes about a second.
"""

import concurrent.futures
import json
import os
import random
import re
import shutil
import sys
import tempfile
import time
import unittest

import numpy as np
import requests
import xgboost as xgb

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import grpc_python_test as g  # noqa: E402  (the model-server process wrapper)

N_MODELS = 200
ROW = [0.25, 0.5, 0.75, 1.0]


def write_models(repo, count):
    """m000..m{count-1}: the same two trees, base_score 0.5 + i. Returns {name: expected prediction}."""
    rng = np.random.default_rng(7)
    x = rng.random((64, 4)).astype(np.float32)
    booster = xgb.train({"max_depth": 2, "nthread": 1, "eta": 1.0, "base_score": 0.5, "seed": 1},
                        xgb.DMatrix(x, label=x[:, 0] * 3 + x[:, 1]), num_boost_round=2)
    tmp = os.path.join(repo, "..", "base.json")
    booster.save_model(tmp)
    with open(tmp) as f:
        model = json.load(f)
    expected = {}
    row = xgb.DMatrix(np.array([ROW], dtype=np.float32))
    for i in range(count):
        name = "m%03d" % i
        model["learner"]["learner_model_param"]["base_score"] = "%.6E" % (0.5 + i)
        os.makedirs(os.path.join(repo, name))
        path = os.path.join(repo, name, "model.json")
        with open(path, "w") as f:
            json.dump(model, f)
        expected[name] = float(xgb.Booster(model_file=path).predict(row)[0])
    return expected


def write_big_model(path):
    """A model whose trees hold far more than the small ones (hundreds of deep trees)."""
    rng = np.random.default_rng(3)
    x = rng.random((4096, 4)).astype(np.float32)
    booster = xgb.train({"max_depth": 10, "nthread": 2, "eta": 0.1, "seed": 1, "tree_method": "hist"},
                        xgb.DMatrix(x, label=rng.random(4096)), num_boost_round=400)
    os.makedirs(path)
    booster.save_model(os.path.join(path, "model.json"))


class Client:
    def __init__(self, server):
        m = g.Server.LISTENING.search(server.output())
        self.base = "http://127.0.0.1:%s" % m.group(1)
        self.session = requests.Session()

    def infer(self, name, session=None):
        body = {"inputs": [{"name": "input-0", "shape": [1, 4], "datatype": "FP32", "data": ROW}]}
        return (session or self.session).post("%s/v2/models/%s/infer" % (self.base, name), json=body, timeout=90)

    def post(self, path):
        return self.session.post(self.base + path, timeout=90)

    def index(self):
        r = self.post("/v2/repository/index")
        r.raise_for_status()
        return {e["name"]: e for e in r.json()}

    def metrics(self):
        text = self.session.get(self.base + "/metrics", timeout=30).text
        out = {}
        for line in text.splitlines():
            m = re.match(r'^(inferd_model[a-z_]*)(?:\{(.*)\})? ([0-9.e+-]+)$', line)
            if m:
                out[(m.group(1), m.group(2) or "")] = float(m.group(3))
        return out

    def wait_ready(self, server, seconds=120):
        deadline = time.time() + seconds
        while time.time() < deadline:
            try:
                if self.session.get(self.base + "/v2/health/ready", timeout=5).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.1)
        raise RuntimeError("not ready:\n" + server.output()[-5000:])


def loaded_set(index):
    return {n for n, e in index.items() if e.get("state") == "READY"}


class MemoryBudgetTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="inferd-memory-budget-")
        cls.repo = os.path.join(cls.tmp, "repo")
        os.makedirs(cls.repo)
        t0 = time.time()
        cls.expected = write_models(cls.repo, N_MODELS)
        cls.generation_s = time.time() - t0
        # One model's measured size sets the budget: about 50 models. Measured with a budget that holds all
        # (loads then run one at a time, so one load's figure does not count another's allocations); the median
        # smallest of three: a load's figure varies with the heap's noise (model/memory_budget.h), upwards from the
        # 16 KiB floor these tiny models sit on.
        probe_repo = os.path.join(cls.tmp, "probe")
        os.makedirs(probe_repo)
        for n in ("m000", "m001", "m002"):
            shutil.copytree(os.path.join(cls.repo, n), os.path.join(probe_repo, n))
        probe = g.Server(["--model_repository", probe_repo, "--memory_budget", "1Ti"])
        try:
            c = Client(probe)
            c.wait_ready(probe)
            sizes = [v for (k, l), v in c.metrics().items() if k == "inferd_model_memory_bytes"]
            c.session.close()
        finally:
            probe.stop()
        assert len(sizes) == 3, sizes
        cls.model_bytes = min(sizes)
        cls.budget = int(cls.model_bytes * 50)
        cls.server = g.Server(["--model_repository", cls.repo, "--memory_budget", str(cls.budget),
                               "--reload_timeout", "60"])
        cls.client = Client(cls.server)
        try:
            cls.client.wait_ready(cls.server)
        except Exception:
            cls.tearDownClass()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.client.session.close()
        cls.server.stop()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def assertAnswers(self, name, r):
        self.assertEqual(r.status_code, 200, "%s: %s" % (name, r.text))
        got = r.json()["outputs"][0]["data"][0]
        self.assertAlmostEqual(got, self.expected[name], places=3, msg=name)

    def assertWithinBudget(self):
        m = self.client.metrics()
        resident = m[("inferd_model_memory_resident_bytes", 'kind="loaded"')]
        self.assertEqual(m[("inferd_model_memory_resident_bytes", 'kind="budget"')], self.budget)
        self.assertLessEqual(resident, self.budget)
        return m

    def test_0_generation_is_fast(self):
        self.assertLess(self.generation_s, 60, "generating %d models" % N_MODELS)

    def test_1_startup_holds_about_fifty_and_the_rest_are_evicted(self):
        index = self.client.index()
        self.assertEqual(len([n for n in index if n.startswith("m")]), N_MODELS)
        loaded = loaded_set(index)
        self.assertGreaterEqual(len(loaded), 20, loaded)
        self.assertLessEqual(len(loaded), 100, loaded)  # about 50: some loads measure above the floor
        for n, e in index.items():
            if n not in loaded:
                self.assertEqual(e["state"], "UNAVAILABLE", e)
                self.assertIn("evicted: memory budget", e["reason"])
        m = self.assertWithinBudget()
        self.assertEqual(m[("inferd_models_loaded", "")], len(loaded))
        # An evicted model is ready for inference (its next request loads it), and the server is ready.
        evicted = sorted(set(self.expected) - loaded)[0]
        r = self.client.session.get("%s/v2/models/%s/ready" % (self.client.base, evicted), timeout=30)
        self.assertEqual(r.status_code, 200, r.text)
        self.assertTrue(r.json()["ready"])
        self.assertNotIn(evicted, loaded_set(self.client.index()))  # asking did not load it

    def test_2_every_model_answers_in_a_random_order(self):
        names = sorted(self.expected)
        random.Random(17).shuffle(names)
        for name in names:
            self.assertAnswers(name, self.client.infer(name))
        m = self.assertWithinBudget()
        evictions = sum(v for (k, _), v in m.items() if k == "inferd_model_evictions_total")
        self.assertGreaterEqual(evictions, N_MODELS - 100)
        buckets = [v for (k, _), v in m.items() if k == "inferd_model_load_seconds_count"]
        self.assertTrue(buckets and buckets[0] >= N_MODELS, buckets)

    def test_3_least_recently_used_is_evicted_first(self):
        loaded = sorted(loaded_set(self.client.index()))
        order = loaded[:]
        random.Random(5).shuffle(order)
        for name in order:  # order[0] is now the least recently used
            self.assertAnswers(name, self.client.infer(name))
        evicted = sorted(set(self.expected) - set(loaded))
        self.assertAnswers(evicted[0], self.client.infer(evicted[0]))  # loads: someone must go
        after = loaded_set(self.client.index())
        gone = [n for n in order if n not in after]
        self.assertGreaterEqual(len(gone), 1)
        self.assertEqual(gone, order[:len(gone)], "evicted %s, LRU order was %s" % (gone, order))
        self.assertIn(evicted[0], after)

    def test_4_model_larger_than_the_budget_is_refused_with_507(self):
        write_big_model(os.path.join(self.repo, "big"))
        r = self.client.post("/v2/repository/models/big/load")
        self.assertEqual(r.status_code, 507, r.text)
        err = r.json()["error"]
        self.assertIn("memory budget", err)
        self.assertIn("'big'", err)
        self.assertIn(str(self.budget), err)
        self.assertIsNotNone(re.search(r"needs (\d+) bytes", err), err)
        self.assertGreater(int(re.search(r"needs (\d+) bytes", err).group(1)), self.budget)
        e = self.client.index()["big"]
        self.assertEqual(e["state"], "UNAVAILABLE")
        self.assertIn("memory budget", e["reason"])
        r = self.client.infer("big")
        self.assertEqual(r.status_code, 503, r.text)  # not loaded on demand: it can never fit
        self.assertAnswers("m010", self.client.infer("m010"))
        self.assertWithinBudget()

    def test_5_model_file_that_fails_to_load_affects_nothing_else(self):
        os.makedirs(os.path.join(self.repo, "broken"))
        with open(os.path.join(self.repo, "broken", "model.json"), "w") as f:
            f.write("{ this is not a model")
        before = loaded_set(self.client.index())
        r = self.client.post("/v2/repository/models/broken/load")
        self.assertGreaterEqual(r.status_code, 400, r.text)
        self.assertIn("broken", r.json()["error"])
        index = self.client.index()
        self.assertEqual(index["broken"]["state"], "UNAVAILABLE")
        self.assertTrue(index["broken"]["reason"])
        self.assertEqual(loaded_set(index), before)  # nothing evicted for it
        self.assertEqual(self.client.infer("broken").status_code, 503)
        for name in sorted(before)[:5]:
            self.assertAnswers(name, self.client.infer(name))

    def test_6_concurrent_first_requests_to_an_evicted_model_cause_one_load(self):
        evicted = sorted(set(self.expected) - loaded_set(self.client.index()))
        name = evicted[len(evicted) // 2]
        key = ("inferd_model_loads_total", 'model="%s"' % name)
        loads_before = self.client.metrics()[key]
        def first_request(_):
            with requests.Session() as s:
                return self.client.infer(name, s)

        with concurrent.futures.ThreadPoolExecutor(16) as pool:
            answers = list(pool.map(first_request, range(16)))
        for r in answers:
            self.assertAnswers(name, r)
        self.assertEqual(self.client.metrics()[key], loads_before + 1)

    def test_6b_metadata_of_an_evicted_model_loads_it(self):
        name = sorted(set(self.expected) - loaded_set(self.client.index()))[0]
        r = self.client.session.get("%s/v2/models/%s" % (self.client.base, name), timeout=90)
        self.assertEqual(r.status_code, 200, r.text)
        self.assertEqual(r.json()["name"], name)
        self.assertIn(name, loaded_set(self.client.index()))

    def test_7_explicit_unload_of_an_evicted_model_is_for_real(self):
        evicted = sorted(set(self.expected) - loaded_set(self.client.index()))
        name = evicted[-1]
        r = self.client.post("/v2/repository/models/%s/unload" % name)
        self.assertEqual(r.status_code, 200, r.text)
        self.assertEqual(self.client.infer(name).status_code, 404)
        self.assertNotEqual(self.client.index()[name].get("state"), "UNAVAILABLE")
        r = self.client.post("/v2/repository/models/%s/load" % name)  # an explicit load brings it back
        self.assertEqual(r.status_code, 200, r.text)
        self.assertAnswers(name, self.client.infer(name))

    def test_8_grpc_reloads_an_evicted_model_and_refuses_a_too_large_one(self):
        import grpc
        g.generate_stubs(self.tmp)
        if not os.path.isdir(os.path.join(self.repo, "big")):
            write_big_model(os.path.join(self.repo, "big"))
        with grpc.insecure_channel("127.0.0.1:%d" % self.server.grpc_port) as channel:
            stub = g.pb_grpc.GRPCInferenceServiceStub(channel)
            with self.assertRaises(grpc.RpcError) as cm:
                stub.RepositoryModelLoad(g.pb.RepositoryModelLoadRequest(model_name="big"), timeout=90)
            self.assertEqual(cm.exception.code(), grpc.StatusCode.RESOURCE_EXHAUSTED)
            self.assertIn("memory budget", cm.exception.details())
            name = sorted(set(self.expected) - loaded_set(self.client.index()))[0]
            req = g.pb.ModelInferRequest(model_name=name)
            inp = req.inputs.add(name="input-0", datatype="FP32", shape=[1, 4])
            inp.contents.fp32_contents.extend(ROW)
            resp = stub.ModelInfer(req, timeout=90)
            self.assertAlmostEqual(resp.outputs[0].contents.fp32_contents[0] if resp.outputs[0].contents.fp32_contents
                                   else np.frombuffer(resp.raw_output_contents[0], dtype=np.float32)[0],
                                   self.expected[name], places=3)
        self.assertIn(name, loaded_set(self.client.index()))


if __name__ == "__main__":
    unittest.main()
