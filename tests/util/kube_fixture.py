"""Shared harness for tests that drive `inferd serve`'s Kubernetes-shaped API with the real kubectl binary and
with Debian's python3-kubernetes client (imported by tests/api/*kubectl*_test.py and friends; not a test).

- `KubeServe(tmp)`: `inferd serve` on ephemeral ports (tests/control/serve_test.py's Serve) plus a way in for
  kubectl:
  * when serve wrote DATA_DIR/kubeconfig (the API serves HTTPS), kubectl uses it as it is;
  * otherwise kubectl talks plain HTTP to a token-adding proxy started here (kubectl never sends a bearer
    token over http). The proxy is a test double for what TLS provides, nothing more: it copies requests and
    streamed answers byte for byte and adds `Authorization`.
- `kubectl(*args, stdin=None, timeout=60)` -> CompletedProcess (text), with its own discovery cache dir so that
  tests do not share state through ~/.kube/cache.
- `python_client()` -> a kubernetes.client.ApiClient configured from the same kubeconfig (or the proxy URL
  with the token, which python does send over http).
"""
import http.client
import os
import shutil
import socketserver
import subprocess
import sys
import tempfile
import threading
import http.server

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "control"))
import serve_test  # noqa: E402  (Serve: inferd serve on ephemeral ports)

KUBECTL = shutil.which("kubectl") or "/usr/bin/kubectl"


class _TokenProxy:
    """Plain-HTTP proxy on 127.0.0.1 that adds `Authorization: Bearer <token>` (see the module comment)."""

    def __init__(self, target_port, token):
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def _forward(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                conn = http.client.HTTPConnection("127.0.0.1", outer.target_port, timeout=900)
                headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "connection")}
                headers["Authorization"] = "Bearer " + outer.token
                conn.request(self.command, self.path, body=body, headers=headers)
                resp = conn.getresponse()
                self.send_response(resp.status)
                chunked = resp.getheader("Transfer-Encoding", "").lower() == "chunked"
                for k, v in resp.getheaders():
                    if k.lower() in ("transfer-encoding", "content-length", "connection"):
                        continue
                    self.send_header(k, v)
                if chunked:
                    self.send_header("Transfer-Encoding", "chunked")
                    self.end_headers()
                    while True:
                        data = resp.read1(65536) if hasattr(resp, "read1") else resp.read(65536)
                        if not data:
                            break
                        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
                        self.wfile.flush()
                    self.wfile.write(b"0\r\n\r\n")
                else:
                    data = resp.read()
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                conn.close()

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _forward

        class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
            daemon_threads = True

        self.target_port, self.token = target_port, token
        self.server = Server(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


class KubeServe(serve_test.Serve):
    """`inferd serve` in `data_dir`, reachable by kubectl and the python kubernetes client."""

    def __init__(self, data_dir, extra_args=()):
        super().__init__(data_dir, extra_args)
        self.cache_dir = tempfile.mkdtemp(prefix="kubecache-")
        self.proxy = None
        native = os.path.join(data_dir, "kubeconfig")
        if os.path.exists(native):
            self.kubeconfig = native
        else:
            self.proxy = _TokenProxy(self.api_port, self.token)
            self.kubeconfig = os.path.join(self.cache_dir, "kubeconfig")
            with open(self.kubeconfig, "w") as f:
                f.write(
                    "apiVersion: v1\nkind: Config\n"
                    "clusters:\n- name: inferd\n  cluster:\n    server: http://127.0.0.1:%d\n"
                    "users:\n- name: inferd\n  user:\n    token: %s\n"
                    "contexts:\n- name: inferd\n  context:\n    cluster: inferd\n    user: inferd\n"
                    "current-context: inferd\n" % (self.proxy.port, self.token))

    def kubectl(self, *args, stdin=None, timeout=60):
        cmd = [KUBECTL, "--kubeconfig", self.kubeconfig, "--cache-dir", self.cache_dir] + list(args)
        return subprocess.run(cmd, input=stdin, capture_output=True, text=True, timeout=timeout)

    def python_client(self):
        from kubernetes import client, config  # Debian's python3-kubernetes
        cfg = client.Configuration()
        config.load_kube_config(config_file=self.kubeconfig, client_configuration=cfg)
        return client.ApiClient(cfg)

    def stop(self):
        super().stop()
        if self.proxy:
            self.proxy.close()
        shutil.rmtree(self.cache_dir, ignore_errors=True)
