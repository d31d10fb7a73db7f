#!/usr/bin/python3
"""Latency of a request to a tree model the memory budget evicted (its reload included) against a request to
a loaded one, in the same run of one `inferd model-server` (docs/benchmarks.md, "Memory budget").

Usage: INFERD_BIN=build/inferd /usr/bin/python3 bench/memory_budget_bench.py [--models 120] [--hold 20]
       [--requests 400]

Method: --models small XGBoost models (tests/server/memory_budget_test.py's generator: two depth-2 trees each,
JSON) in one --model_repository, with a --memory_budget that holds about --hold of them. Loaded: one model
requested --requests times in a row over one keep-alive connection. Evicted: the models requested round robin,
so that with more models than the budget holds every request finds its model evicted and waits for its reload
(file read, XGBoost parse, native forest compilation, warm-up, and the eviction of the least recently used).
Both series are V2 REST infer requests from Python `requests`, sequential; the client's own overhead is in
both. Prints p50/p90/p99 of each and the ratio, and the server's load-latency histogram sum/count.
"""
import argparse
import os
import re
import shutil
import statistics
import sys
import tempfile
import time

import requests

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "server"))
import grpc_python_test as g  # noqa: E402
import memory_budget_test as t  # noqa: E402


def percentile(values, p):
    s = sorted(values)
    return s[min(len(s) - 1, int(round(p / 100.0 * (len(s) - 1))))]


def timed(client, session, name, expected):
    t0 = time.perf_counter()
    r = client.infer(name, session)
    dt = time.perf_counter() - t0
    if r.status_code != 200 or abs(r.json()["outputs"][0]["data"][0] - expected[name]) > 1e-3:
        raise RuntimeError("%s answered %d %s" % (name, r.status_code, r.text))
    return dt * 1000.0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--models", type=int, default=120)
    ap.add_argument("--hold", type=int, default=20)
    ap.add_argument("--requests", type=int, default=400)
    args = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="inferd-budget-bench-")
    try:
        repo = os.path.join(tmp, "repo")
        os.makedirs(repo)
        expected = t.write_models(repo, args.models)
        probe = g.Server(["--model_repository", repo, "--load_model", "m000", "--memory_budget", "1Ti"])
        try:
            c = t.Client(probe)
            c.wait_ready(probe)
            size = c.metrics()[("inferd_model_memory_bytes", 'model="m000"')]
        finally:
            probe.stop()
        budget = int(size * args.hold)
        server = g.Server(["--model_repository", repo, "--memory_budget", str(budget)])
        try:
            c = t.Client(server)
            c.wait_ready(server)
            s = requests.Session()
            names = sorted(expected)
            for _ in range(50):  # warm the connection and the hot model
                timed(c, s, names[0], expected)
            loaded = [timed(c, s, names[0], expected) for _ in range(args.requests)]
            before = c.metrics()
            evicted, i = [], 0
            while len(evicted) < args.requests:
                evicted.append(timed(c, s, names[1 + i % (len(names) - 1)], expected))
                i += 1
            after = c.metrics()
            loads = sum(v for (k, _), v in after.items() if k == "inferd_model_loads_total") - \
                sum(v for (k, _), v in before.items() if k == "inferd_model_loads_total")
            load_sum = after[("inferd_model_load_seconds_sum", "")] - before[("inferd_model_load_seconds_sum", "")]
        finally:
            server.stop()
        print("model bytes (measured): %d; budget %d bytes (holds ~%d of %d models)" %
              (size, budget, args.hold, args.models))
        for label, v in (("loaded", loaded), ("evicted (reload included)", evicted)):
            print("%-26s p50 %.3f ms  p90 %.3f ms  p99 %.3f ms  mean %.3f ms  (n=%d)" %
                  (label, percentile(v, 50), percentile(v, 90), percentile(v, 99), statistics.mean(v), len(v)))
        print("reloads during the evicted series: %d of %d requests; server-side load mean %.3f ms" %
              (loads, len(evicted), 1000.0 * load_sum / max(loads, 1)))
        print("evicted p50 / loaded p50: %.1fx" % (percentile(evicted, 50) / percentile(loaded, 50)))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
