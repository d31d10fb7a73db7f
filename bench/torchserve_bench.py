#!/usr/bin/python3
"""A TorchServe archive (base_handler + TorchScript, served by inferd's TorchServe runtime in the embedded Python)
against the same TorchScript model served natively (format pytorch, libtorch), in the same run
(docs/torchserve.md, "Cost").

Usage: INFERD_BIN=build/inferd /usr/bin/python3 bench/torchserve_bench.py [--requests 400] [--rounds 3] [--batch 1]

Method: one Linear(64, 10) + ReLU + Linear(10, 10) model, scripted; server A: `model-server --model_dir` holding it
as model.pt; server B: `model-server --model-store` holding it in a .mar with the standard base_handler. Each
round sends --requests sequential V1 `:predict` requests of --batch instances over one keep-alive connection to A,
then to B (interleaved rounds, so that the box's load falls on both alike). Per server: wall p50/p90 of the
requests (the Python client's own time included in both) and the server's CPU time per request (utime + stime
of the process from /proc, over all rounds). Prints the ratio B/A of each.
"""
import argparse
import io
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time

import requests
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "backends", "torchserve"))
from torchserve_server_test import write_mar  # noqa: E402

INFERD_BIN = os.environ.get("INFERD_BIN", os.path.join(HERE, "..", "build", "inferd"))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def start(args, tmp):
    port = free_port()
    proc = subprocess.Popen([INFERD_BIN, "model-server", "--http_port", str(port), "--grpc_port", str(free_port())]
                            + args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env=dict(os.environ, TMPDIR=tmp))
    url = "http://127.0.0.1:%d" % port
    deadline = time.time() + 120
    while time.time() < deadline:
        try:
            if requests.get(url + "/v2/health/ready", timeout=1).status_code == 200:
                return proc, url
        except requests.RequestException:
            time.sleep(0.2)
    proc.kill()
    raise SystemExit("server %s never became ready" % args)


def run(session, url, body, n):
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        r = session.post(url, json=body, timeout=30)
        times.append(time.perf_counter() - t0)
        if r.status_code != 200:
            raise SystemExit("%s: %d %s" % (url, r.status_code, r.text))
    return times


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--requests", type=int, default=400)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--batch", type=int, default=1)
    a = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="ts-bench-")
    try:
        torch.manual_seed(0)
        model = torch.jit.script(torch.nn.Sequential(torch.nn.Linear(64, 10), torch.nn.ReLU(),
                                                     torch.nn.Linear(10, 10)).eval())
        buf = io.BytesIO()
        torch.jit.save(model, buf)
        os.makedirs(os.path.join(tmp, "native"))
        with open(os.path.join(tmp, "native", "model.pt"), "wb") as f:
            f.write(buf.getvalue())
        os.makedirs(os.path.join(tmp, "ts", "model-store"))
        write_mar(os.path.join(tmp, "ts", "model-store", "m.mar"),
                  {"modelName": "m", "serializedFile": "model.pt", "handler": "base_handler"},
                  {"model.pt": buf.getvalue()})
        a_proc, a_url = start(["--model_dir", os.path.join(tmp, "native"), "--model_name", "m"], tmp)
        b_proc, b_url = start(["--model-store", os.path.join(tmp, "ts", "model-store")], tmp)
        body = {"instances": [[0.01 * i for i in range(64)]] * a.batch}
        sa, sb = requests.Session(), requests.Session()
        want = sa.post(a_url + "/v1/models/m:predict", json=body).json()
        got = sb.post(b_url + "/v1/models/m:predict", json=body).json()
        for x, y in zip(want["predictions"][0], got["predictions"][0]):
            assert abs(x - y) < 1e-4, (want, got)
        run(sa, a_url + "/v1/models/m:predict", body, 50)
        run(sb, b_url + "/v1/models/m:predict", body, 50)
        ta, tb, ca, cb = [], [], 0.0, 0.0
        for _ in range(a.rounds):
            c0 = cpu_seconds(a_proc.pid)
            ta += run(sa, a_url + "/v1/models/m:predict", body, a.requests)
            ca += cpu_seconds(a_proc.pid) - c0
            c0 = cpu_seconds(b_proc.pid)
            tb += run(sb, b_url + "/v1/models/m:predict", body, a.requests)
            cb += cpu_seconds(b_proc.pid) - c0
        n = a.requests * a.rounds

        def q(v, p):
            return sorted(v)[int(p * (len(v) - 1))] * 1e6
        print("batch %d, %d requests each, load average %s" % (a.batch, n, os.getloadavg()))
        print("%-28s %10s %10s %14s" % ("", "p50 us", "p90 us", "server CPU us"))
        print("%-28s %10.0f %10.0f %14.0f" % ("native TorchScript (A)", statistics.median(ta) * 1e6, q(ta, 0.9),
                                               ca / n * 1e6))
        print("%-28s %10.0f %10.0f %14.0f" % ("TorchServe .mar (B)", statistics.median(tb) * 1e6, q(tb, 0.9),
                                               cb / n * 1e6))
        print("ratio B/A: p50 %.2f, p90 %.2f, server CPU %.2f" % (statistics.median(tb) / statistics.median(ta),
                                                                    q(tb, 0.9) / q(ta, 0.9), cb / ca if ca else 0))
        for p in (a_proc, b_proc):
            p.terminate()
            p.wait(30)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
