"""The payload logger end to end: a real `inferd model-server` with --log_url pointing at a real HTTP sink (a
python http.server in this process), driven by real HTTP clients.

Covered: the CloudEvent headers and bodies of a request and its response (KServe's names, Ce-Id shared and taken
from the request, Content-Type the request's, Ce-Metadata from --log_metadata_headers), ordering and pairing over
many requests, modes request/response, no response event for a non-200 answer, probes and /metrics not logged,
a dead sink (connection refused) and a slow sink under concurrent load (every inference still answers 200; drops
and failures are counted in /metrics), and a malformed --log_url refused at start.

Run by ctest with Debian's /usr/bin/python3. Environment: INFERD_BIN, INFERD_TEST_MODELS. No timing assertions
beyond generous waits.
"""

import http.server
import json
import os
import re
import socket
import subprocess
import threading
import time
import unittest
from concurrent.futures import ThreadPoolExecutor

import requests

INFERD_BIN = os.environ.get("INFERD_BIN", "inferd")
MODELS = os.environ.get("INFERD_TEST_MODELS", "")
IRIS_DIR = os.path.join(MODELS, "xgb_iris_softprob")
ROWS = [[6.8, 2.8, 4.8, 1.4]]


class Sink:
    """A CloudEvents sink: records (headers, body) of every POST, answering `status` after `delay` seconds."""

    def __init__(self, delay=0.0, status=200):
        self.events = []
        self.lock = threading.Lock()
        self.delay = delay
        self.status = status
        sink = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):
                n = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(n)
                if sink.delay:
                    time.sleep(sink.delay)
                with sink.lock:
                    sink.events.append(({k.lower(): v for k, v in self.headers.items()}, body))
                self.send_response(sink.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = "http://127.0.0.1:%d/events" % self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def wait(self, n, timeout=30):
        deadline = time.time() + timeout
        while time.time() < deadline:
            with self.lock:
                if len(self.events) >= n:
                    return list(self.events)
            time.sleep(0.02)
        with self.lock:
            return list(self.events)

    def close(self):
        self.server.shutdown()
        self.server.server_close()


class ModelServer:
    def __init__(self, *flags):
        argv = [INFERD_BIN, "model-server", "--model_dir", IRIS_DIR, "--model_name", "iris", "--http_port", "0",
                "--grpc_port", "0", "--host", "127.0.0.1", "--workers", "2"] + list(flags)
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.lines = []
        ready = threading.Event()
        self.port = None

        def reader():
            for line in self.proc.stdout:
                self.lines.append(line)
                m = re.search(r"listening http_port=(\d+)", line)
                if m:
                    self.port = int(m.group(1))
                if "model-server ready" in line:
                    ready.set()
            ready.set()

        threading.Thread(target=reader, daemon=True).start()
        if not ready.wait(60) or self.port is None or self.proc.poll() is not None:
            self.stop()
            raise RuntimeError("model server did not start:\n" + "".join(self.lines))
        self.base = "http://127.0.0.1:%d" % self.port

    def predict(self, headers=None, session=None, rows=ROWS):
        h = {"Content-Type": "application/json"}
        h.update(headers or {})
        return (session or requests).post(self.base + "/v1/models/iris:predict", data=json.dumps({"instances": rows}),
                                          headers=h, timeout=30)

    def metric(self, name):
        text = requests.get(self.base + "/metrics", timeout=10).text
        m = re.search(r"^" + re.escape(name) + r" ([0-9.e+]+)$", text, re.M)
        return float(m.group(1)) if m else None

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc.stdout:
            self.proc.stdout.close()


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


@unittest.skipUnless(os.path.isdir(IRIS_DIR), "test models not built")
class LoggerEvents(unittest.TestCase):
    def setUp(self):
        self.sink = Sink()

    def tearDown(self):
        self.sink.close()

    def test_request_and_response_events(self):
        srv = ModelServer("--log_url", self.sink.url, "--log_mode", "all", "--log_metadata_headers",
                          "X-Tenant,X-Request-Id", "--inference_service", "iris", "--namespace", "ns1",
                          "--component", "predictor", "--log_metadata_annotations", "team=vision")
        try:
            r = srv.predict({"Ce-Id": "req-42", "X-Tenant": "acme", "X-Request-Id": "rid-1", "X-Other": "no"})
            self.assertEqual(r.status_code, 200, r.text)
            events = self.sink.wait(2)
            self.assertEqual(len(events), 2, events)
            by_type = {h["ce-type"]: (h, b) for h, b in events}
            req_h, req_b = by_type["org.kubeflow.serving.inference.request"]
            resp_h, resp_b = by_type["org.kubeflow.serving.inference.response"]
            self.assertEqual(json.loads(req_b), {"instances": ROWS})
            self.assertEqual(resp_b, r.content)  # the bytes the client got
            for h in (req_h, resp_h):
                self.assertEqual(h["ce-specversion"], "1.0")
                self.assertEqual(h["ce-id"], "req-42")  # the request's Ce-Id, shared
                self.assertEqual(h["ce-source"], "http://localhost:9081/")
                self.assertEqual(h["ce-inferenceservicename"], "iris")
                self.assertEqual(h["ce-namespace"], "ns1")
                self.assertEqual(h["ce-component"], "predictor")
                self.assertEqual(h.get("ce-endpoint"), "")
                self.assertEqual(h["content-type"], "application/json")
                self.assertEqual(json.loads(h["ce-metadata"]), {"X-Tenant": ["acme"], "X-Request-Id": ["rid-1"]})
                self.assertEqual(json.loads(h["ce-annotations"]), {"team": "vision"})
                self.assertRegex(h["ce-time"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z$")
                self.assertGreaterEqual(h["ce-recordedtime"], h["ce-time"])
            self.assertLessEqual(req_h["ce-time"], resp_h["ce-time"])
            # Probes and scrapes are not logged; a request without Ce-Id gets a fresh UUID.
            requests.get(srv.base + "/v2/health/ready", headers={"User-Agent": "kube-probe/1.30"}, timeout=10)
            requests.get(srv.base + "/metrics", timeout=10)
            srv.predict()
            events = self.sink.wait(4)
            self.assertEqual(len(events), 4)
            new_ids = {h["ce-id"] for h, _ in events[2:]}
            self.assertEqual(len(new_ids), 1)
            self.assertRegex(new_ids.pop(), r"^[0-9a-f-]{36}$")
            time.sleep(0.3)
            self.assertEqual(len(self.sink.events), 4)  # nothing for the probe or /metrics
            self.assertEqual(srv.metric('inferd_logger_events_total{result="sent"}'), 4)
        finally:
            srv.stop()

    def test_pairing_and_order_over_many_requests(self):
        srv = ModelServer("--log_url", self.sink.url, "--log_workers", "1")
        try:
            s = requests.Session()
            n = 60
            for i in range(n):
                rows = [[6.8, 2.8, 4.8, float(i)]]
                self.assertEqual(srv.predict({"Ce-Id": "id-%d" % i}, session=s, rows=rows).status_code, 200)
            events = self.sink.wait(2 * n)
            self.assertEqual(len(events), 2 * n)
            # One worker: the sink sees them in the order they happened.
            for i in range(n):
                (qh, qb), (ph, pb) = events[2 * i], events[2 * i + 1]
                self.assertEqual(qh["ce-id"], "id-%d" % i)
                self.assertEqual(ph["ce-id"], "id-%d" % i)
                self.assertEqual(qh["ce-type"], "org.kubeflow.serving.inference.request")
                self.assertEqual(ph["ce-type"], "org.kubeflow.serving.inference.response")
                self.assertEqual(json.loads(qb)["instances"][0][3], float(i))
                self.assertIn("predictions", json.loads(pb))
        finally:
            srv.stop()

    def test_modes_and_non_200(self):
        srv = ModelServer("--log_url", self.sink.url, "--log_mode", "request")
        try:
            srv.predict({"Ce-Id": "a"})
            bad = requests.post(srv.base + "/v1/models/iris:predict", data="{not json",
                                headers={"Content-Type": "application/json", "Ce-Id": "b"}, timeout=10)
            self.assertEqual(bad.status_code, 400)
            events = self.sink.wait(2)
            time.sleep(0.3)
            self.assertEqual([h["ce-type"].rsplit(".", 1)[1] for h, _ in self.sink.events], ["request", "request"])
        finally:
            srv.stop()
        self.sink.events.clear()
        srv = ModelServer("--log_url", self.sink.url, "--log_mode", "response")
        try:
            srv.predict({"Ce-Id": "c"})
            bad = requests.post(srv.base + "/v1/models/iris:predict", data="{not json",
                                headers={"Content-Type": "application/json", "Ce-Id": "d"}, timeout=10)
            self.assertEqual(bad.status_code, 400)
            missing = requests.post(srv.base + "/v1/models/nope:predict", data="{}", timeout=10)
            self.assertEqual(missing.status_code, 404)
            events = self.sink.wait(1)
            time.sleep(0.3)
            self.assertEqual([(h["ce-type"].rsplit(".", 1)[1], h["ce-id"]) for h, _ in self.sink.events],
                             [("response", "c")])  # only the 200
        finally:
            srv.stop()


def hammer(srv, total, threads=8):
    """`total` predicts from `threads` clients; returns the status codes."""
    def one(_):
        try:
            return srv.predict().status_code
        except requests.RequestException as e:
            return str(e)

    with ThreadPoolExecutor(threads) as pool:
        return list(pool.map(one, range(total)))


@unittest.skipUnless(os.path.isdir(IRIS_DIR), "test models not built")
class DeadAndSlowSinks(unittest.TestCase):
    def test_dead_sink_costs_no_inference(self):
        url = "http://127.0.0.1:%d/" % free_port()  # nothing listens: connection refused
        srv = ModelServer("--log_url", url, "--log_queue_size", "32", "--log_retries", "1")
        try:
            codes = hammer(srv, 600)
            self.assertEqual(codes, [200] * 600)
            deadline = time.time() + 30
            while time.time() < deadline:
                failed = srv.metric('inferd_logger_events_total{result="failed"}') or 0
                dropped = srv.metric('inferd_logger_events_total{result="dropped"}') or 0
                queued = srv.metric("inferd_logger_queue_depth") or 0
                if queued == 0 and failed + dropped >= 1200 - 4:
                    break
                time.sleep(0.2)
            self.assertGreater(failed, 0)
            self.assertGreater(dropped, 0)  # 1200 events through a 32-event queue to a dead sink
            self.assertEqual(srv.metric('inferd_logger_events_total{result="sent"}'), 0)
            self.assertGreater(srv.metric("inferd_logger_retries_total"), 0)
            out = "".join(srv.lines)
            self.assertIn("could not deliver event", out)
            # Rate-limited: far fewer warning lines than failures.
            self.assertLess(out.count("payload logger:"), 100)
        finally:
            srv.stop()

    def test_slow_sink_under_load(self):
        sink = Sink(delay=0.5)
        srv = ModelServer("--log_url", sink.url, "--log_queue_size", "16", "--log_workers", "2")
        try:
            codes = hammer(srv, 600)
            self.assertEqual(codes, [200] * 600)
            self.assertGreater(srv.metric('inferd_logger_events_total{result="dropped"}'), 0)
            self.assertGreaterEqual(len(sink.wait(2, timeout=10)), 2)  # the sink still gets events
        finally:
            srv.stop()
            sink.close()

    def test_malformed_url_refused_at_start(self):
        for bad in ["not-a-url", "ftp://host/x", "http://host:99999/", "s3://bucket/logs"]:
            p = subprocess.run([INFERD_BIN, "model-server", "--model_dir", IRIS_DIR, "--http_port", "0",
                                "--grpc_port", "0", "--log_url", bad], capture_output=True, text=True, timeout=60)
            self.assertEqual(p.returncode, 2, bad + ": " + p.stdout + p.stderr)
            self.assertIn("--log_url", p.stderr)
        p = subprocess.run([INFERD_BIN, "model-server", "--model_dir", IRIS_DIR, "--http_port", "0", "--grpc_port",
                            "0", "--log_url", "http://sink", "--log_mode", "both"], capture_output=True, text=True,
                           timeout=60)
        self.assertEqual(p.returncode, 2)
        self.assertIn("invalid logger type", p.stderr)


if __name__ == "__main__":
    unittest.main()
