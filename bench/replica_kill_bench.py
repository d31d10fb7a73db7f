#!/usr/bin/python3
"""Failed requests and recovery time when the only replica of a service is SIGKILLed under load (issue 12).

    replica_kill_bench.py --inferd BIN --model DIR [--format sklearn] [--conns 16] [--kills 3] [--every 12]

Starts `inferd serve` on ephemeral ports (its default restart backoff), applies one InferenceService with one
replica (minReplicas = maxReplicas = 1), and runs wrk (--conns connections, V1 :predict with the iris rows,
through the gateway by Host) for warm-up + kills x every seconds. Every `every` seconds the script SIGKILLs the
service's replica process (its pid from status.inferd.replicas). Beside wrk, a probe client sends the same request
back to back on its own keep-alive connection and records, for every request, when it was sent, when it was
answered and how.

Printed:
- failed/total: wrk's non-2xx answers and socket errors over its requests, plus the probe's; and the bound the
  gateway promises: only requests in flight on the dead replica may fail, so at most conns + 1 per kill;
- recovery per kill: from the kill to the first 200 answer to a probe request sent after the killed process was
  gone (which only a replacement can have answered), and the replacement's pid.
`every` should exceed the supervisor's backoff reset (10 s): a replica that ran that long is "healthy" and its
restart is not delayed. Nothing here asserts a speed.
"""
import argparse
import http.client
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

IRIS = {"instances": [[6.8, 2.8, 4.8, 1.4], [6.0, 3.4, 4.5, 1.6]]}
BODY = json.dumps(IRIS).encode()
WRK_LUA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "wrk_post.lua")


def log(msg):
    print("[%s] %s" % (time.strftime("%H:%M:%S"), msg), file=sys.stderr, flush=True)


class Serve:
    def __init__(self, inferd, work):
        self.inferd = inferd
        self.data = os.path.join(work, "data")
        self.log = open(os.path.join(work, "serve.log"), "w+")
        self.proc = subprocess.Popen([inferd, "serve", "--data_dir", self.data, "--http_port", "0", "--grpc_port", "0",
                                      "--api_port", "0", "--host", "127.0.0.1", "--log_level", "info"],
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                     start_new_session=True)
        for line in self.proc.stdout:
            self.log.write(line)
            m = re.search(r"listening http_port=(\d+) grpc_port=(\d+) api_port=(\d+)", line)
            if m:
                self.http, _, self.api_port = (int(x) for x in m.groups())
                break
        else:
            sys.exit("inferd serve did not start")
        threading.Thread(target=self._drain, daemon=True).start()
        with open(os.path.join(self.data, "token")) as f:
            self.token = f.read().strip()

    def _drain(self):
        for line in self.proc.stdout:
            self.log.write(line)

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()

    def apply(self, text):
        subprocess.run([self.inferd, "apply", "-f", "-", "--data_dir", self.data], input=text, text=True, check=True,
                       capture_output=True)

    def get(self, name):
        req = urllib.request.Request(
            "http://127.0.0.1:%d/apis/serving.kserve.io/v1beta1/namespaces/default/inferenceservices/%s" %
            (self.api_port, name), headers={"Authorization": "Bearer " + self.token})
        try:
            return json.load(urllib.request.urlopen(req, timeout=10))
        except Exception:
            return None

    def replica_pids(self, name):
        o = self.get(name) or {}
        return [r["pid"] for r in o.get("status", {}).get("inferd", {}).get("replicas", [])
                if r.get("phase") == "Ready" and r.get("pid")]


def gone(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] in ("Z", "X")
    except OSError:
        return True


class Probe:
    """One client on one keep-alive connection, request after request: (sent, answered, status or error)."""

    def __init__(self, port, host, path):
        self.port, self.host, self.path = port, host, path
        self.results = []
        self.stop_flag = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        conn = None
        while not self.stop_flag.is_set():
            if conn is None:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
            t0 = time.monotonic()
            try:
                conn.request("POST", self.path, BODY, {"Host": self.host, "Content-Type": "application/json"})
                r = conn.getresponse()
                r.read()
                outcome = r.status
            except Exception as e:  # a broken connection is a failed request too
                outcome = type(e).__name__
                conn.close()
                conn = None
            self.results.append((t0, time.monotonic(), outcome))

    def stop(self):
        self.stop_flag.set()
        self.thread.join(90)
        return self.results


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--inferd", required=True)
    ap.add_argument("--model", required=True, help="a model directory or file (storageUri)")
    ap.add_argument("--format", default="sklearn")
    ap.add_argument("--conns", type=int, default=16)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--kills", type=int, default=3)
    ap.add_argument("--every", type=float, default=12.0, help="seconds between kills (and before the first)")
    ap.add_argument("--keep", action="store_true", help="keep the scratch directory (serve.log)")
    args = ap.parse_args()
    if not shutil.which("wrk"):
        sys.exit("wrk is missing")

    work = tempfile.mkdtemp(prefix="inferd-kill-bench-")
    serve = Serve(args.inferd, work)
    name = "killme"
    host = "%s.default.example.com" % name
    path = "/v1/models/%s:predict" % name
    try:
        serve.apply("""apiVersion: serving.kserve.io/v1beta1
kind: InferenceService
metadata:
  name: %s
spec:
  predictor:
    minReplicas: 1
    maxReplicas: 1
    model:
      modelFormat:
        name: %s
      storageUri: file://%s
""" % (name, args.format, os.path.abspath(args.model)))
        deadline = time.time() + 120
        while not serve.replica_pids(name):
            if time.time() > deadline:
                sys.exit("the service never became ready; see " + serve.log.name)
            time.sleep(0.05)
        body_file = os.path.join(work, "body.json")
        with open(body_file, "wb") as f:
            f.write(BODY)
        seconds = int(args.every * (args.kills + 1)) + 1
        log("wrk -c%d for %d s; %d kills, one every %.0f s" % (args.conns, seconds, args.kills, args.every))
        env = dict(os.environ, WRK_BODY_FILE=body_file)
        wrk = subprocess.Popen(["wrk", "-t%d" % args.threads, "-c%d" % args.conns, "-d%ds" % seconds, "--timeout",
                                "60s", "-s", WRK_LUA, "-H", "Host: " + host,
                                "http://127.0.0.1:%d%s" % (serve.http, path)],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
        probe = Probe(serve.http, host, path)
        kills = []  # (kill time, time the process was seen gone, pid)
        for _ in range(args.kills):
            time.sleep(args.every)
            pids = serve.replica_pids(name)
            if len(pids) != 1:
                log("expected one ready replica, found %s; skipping this kill" % pids)
                continue
            t_kill = time.monotonic()
            os.kill(pids[0], signal.SIGKILL)
            while not gone(pids[0]):
                time.sleep(0.0005)
            kills.append((t_kill, time.monotonic(), pids[0]))
            log("killed replica pid %d" % pids[0])
        out, _ = wrk.communicate(timeout=seconds + 120)
        results = probe.stop()
        m = re.search(r"WRK_RESULT (.*)", out)
        if not m:
            sys.exit("wrk failed:\n" + out)
        w = {k: float(v) for k, v in re.findall(r"(\w+)=([\d.]+)", m.group(1))}
        probe_failed = sum(1 for _, _, o in results if o != 200)
        failed = int(w["non2xx"] + w["socket_errors"]) + probe_failed
        total = int(w["requests"]) + len(results)
        print("replica kill under load: %s model, wrk -c%d -t%d, %d kills" % (args.format, args.conns, args.threads,
                                                                                len(kills)))
        print("  failed/total: %d/%d (wrk: %d non-2xx, %d socket errors of %d; probe: %d of %d); "
              "bound (in flight at the kills): %d" %
              (failed, total, w["non2xx"], w["socket_errors"], w["requests"], probe_failed, len(results),
               len(kills) * (args.conns + 1)))
        print("  throughput %.0f req/s, p50 %.2f ms, p99 %.2f ms (wrk, whole run)" %
              (w["rps"], w["p50_us"] / 1000, w["p99_us"] / 1000))
        for t_kill, t_gone, pid in kills:
            first = next(((sent, done) for sent, done, o in results if sent >= t_gone and o == 200), None)
            failed_after = sum(1 for sent, _, o in results if sent >= t_kill and o != 200 and
                               (first is None or sent <= first[0]))
            if first is None:
                print("  kill of pid %d: no 200 answer after it" % pid)
            else:
                print("  kill of pid %d: recovery %.0f ms (kill -> first 200 to a request sent after the process "
                      "was gone); probe requests failed meanwhile: %d" %
                      (pid, (first[1] - t_kill) * 1000, failed_after))
        codes = {}
        for _, _, o in results:
            codes[o] = codes.get(o, 0) + 1
        print("  probe outcomes: %s" % ", ".join("%s=%d" % (k, v) for k, v in sorted(codes.items(), key=str)))
    finally:
        serve.stop()
        if args.keep:
            log("scratch kept in " + work)
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
