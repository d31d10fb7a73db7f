"""Shared harness for tests that drive `inferd serve`'s Kubernetes-shaped API with the real kubectl binary and
with Debian's python3-kubernetes client (imported by tests/api/*kubectl*_test.py and friends; not a test).

- `KubeServe(tmp)`: `inferd serve` on ephemeral ports (tests/control/serve_test.py's Serve), reached by kubectl
  through the DATA_DIR/kubeconfig serve writes (HTTPS with serve's CA and the bearer token), used as it is.
- `kubectl(*args, stdin=None, timeout=60)` -> CompletedProcess (text), with its own discovery cache dir so that
  tests do not share state through ~/.kube/cache.
- `python_client()` -> a kubernetes.client.ApiClient configured from the same kubeconfig.
"""
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "control"))
import serve_test  # noqa: E402  (Serve: inferd serve on ephemeral ports)

KUBECTL = shutil.which("kubectl") or "/usr/bin/kubectl"


class KubeServe(serve_test.Serve):
    """`inferd serve` in `data_dir`, reachable by kubectl and the python kubernetes client."""

    def __init__(self, data_dir, extra_args=()):
        super().__init__(data_dir, extra_args)
        self.cache_dir = tempfile.mkdtemp(prefix="kubecache-")
        self.kubeconfig = os.path.join(data_dir, "kubeconfig")
        if not os.path.exists(self.kubeconfig):
            raise RuntimeError("inferd serve wrote no kubeconfig in " + data_dir)

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
        shutil.rmtree(self.cache_dir, ignore_errors=True)
