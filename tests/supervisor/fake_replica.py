#!/usr/bin/python3
"""A stand-in for `inferd model-server` used by supervisor_test.cc.

Serves GET /v2/health/ready on 127.0.0.1 (port 0 unless --http_port) and prints
"inferd model-server listening http_port=N grpc_port=0" once listening. Options shape its behaviour:
readiness delays and flaps, exits, extra output, ignoring SIGTERM, a grandchild in its process group.
"""
import argparse
import http.server
import os
import signal
import subprocess
import sys
import threading
import time

p = argparse.ArgumentParser()
p.add_argument("--http_port", type=int, default=0)
p.add_argument("--ready_after_ms", type=int, default=0)
p.add_argument("--never_ready", action="store_true")
p.add_argument("--unready_after_ms", type=int, default=-1, help="/ready fails from then on ...")
p.add_argument("--unready_for_ms", type=int, default=-1, help="... for this long (-1: forever)")
p.add_argument("--exit_after_ms", type=int, default=-1)
p.add_argument("--exit_code", type=int, default=1)
p.add_argument("--exit_signal", type=int, default=0, help="kill itself with this signal instead of exiting")
p.add_argument("--print", type=int, default=0, help="print N lines before listening")
p.add_argument("--stderr", action="store_true", help="print the --print lines to stderr")
p.add_argument("--tick_ms", type=int, default=0, help="print 'tick K' every this many ms")
p.add_argument("--ignore_sigterm", action="store_true")
p.add_argument("--grandchild", action="store_true", help="spawn `sleep 1000` in the same process group")
p.add_argument("--no_listen_line", action="store_true")
p.add_argument("--announce_ready", action="store_true",
               help="print 'inferd model-server ready' when --ready_after_ms has passed (as the real one does)")
p.add_argument("--print_env", default="", help="print 'env NAME=value' and 'cwd=...'")
p.add_argument("--index", default="[]", help="the body of POST /v2/repository/index (its requests are printed)")
args = p.parse_args()

sys.stdout.reconfigure(line_buffering=True)
sys.stderr.reconfigure(line_buffering=True)
t0 = time.monotonic()


def ms_since_start():
    return (time.monotonic() - t0) * 1000


if args.ignore_sigterm:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)

out = sys.stderr if args.stderr else sys.stdout
for i in range(args.print):
    print(f"line {i}", file=out, flush=True)
if args.print_env:
    print(f"env {args.print_env}={os.environ.get(args.print_env, '<unset>')}", flush=True)
    print(f"cwd={os.getcwd()}", flush=True)
if args.grandchild:
    gc = subprocess.Popen(["sleep", "1000"])
    print(f"grandchild pid={gc.pid}", flush=True)


def ready():
    t = ms_since_start()
    if args.never_ready or t < args.ready_after_ms:
        return False
    if args.unready_after_ms >= 0 and t >= args.unready_after_ms:
        if args.unready_for_ms < 0 or t < args.unready_after_ms + args.unready_for_ms:
            return False
    return True


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path == "/v2/health/ready":
            code = 200 if ready() else 503
        elif self.path == "/v2/health/live":
            code = 200
        else:
            code = 404
        body = b"{}"
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0"))
        sent = self.rfile.read(n).decode()
        code, body = (200, args.index.encode()) if self.path == "/v2/repository/index" else (404, b"{}")
        print(f"POST {self.path} {sent}", flush=True)
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *a):  # no access log: probes run every few ms
        pass


srv = http.server.HTTPServer(("127.0.0.1", args.http_port), Handler)
if not args.no_listen_line:
    print(f"inferd model-server listening http_port={srv.server_address[1]} grpc_port=0", flush=True)


def die():
    print(f"exiting (code {args.exit_code}, signal {args.exit_signal})", flush=True)
    if args.exit_signal:
        os.kill(os.getpid(), args.exit_signal)
    os._exit(args.exit_code)


if args.announce_ready:
    threading.Timer(max(0, args.ready_after_ms - ms_since_start()) / 1000.0,
                    lambda: print("inferd model-server ready", flush=True)).start()

if args.exit_after_ms >= 0:
    threading.Timer(args.exit_after_ms / 1000.0, die).start()


def tick():
    k = 0
    while True:
        time.sleep(args.tick_ms / 1000.0)
        print(f"tick {k}", flush=True)
        k += 1


if args.tick_ms > 0:
    threading.Thread(target=tick, daemon=True).start()

srv.serve_forever()
