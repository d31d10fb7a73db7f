"""HTTPS on `inferd serve`'s API and DATA_DIR/kubeconfig, driven by the real kubectl and by the Kubernetes
Python client the way KServe's SDK drives it; plus hostile connections against the one port that serves
TLS and (loopback-only) plain HTTP.

Run by ctest with Debian's /usr/bin/python3 (python3-kubernetes). Environment as tests/control/serve_test.py.
"""
import base64
import json
import os
import re
import shutil
import socket
import ssl
import stat
import subprocess
import sys
import tempfile
import threading
import time
import unittest

import requests

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "util"))
import kube_fixture  # noqa: E402
from kube_fixture import KubeServe  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "control"))
import serve_test  # noqa: E402

MODELS = serve_test.MODELS
IRIS_MODEL = os.path.join(MODELS, "sklearn", "sklearn-iris-logreg")
HEADER_TIMEOUT_S = 3  # --client_header_timeout: the deadline of the TLS handshake too


def isvc_manifest(name):
    # KServe's sklearn sample (docs' first InferenceService), with a local storageUri.
    return {
        "apiVersion": "serving.kserve.io/v1beta1",
        "kind": "InferenceService",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {"predictor": {"model": {"modelFormat": {"name": "sklearn"},
                                         "storageUri": "file://" + IRIS_MODEL}}},
    }


def isvc_yaml(name):
    return """apiVersion: serving.kserve.io/v1beta1
kind: InferenceService
metadata:
  name: %s
spec:
  predictor:
    model:
      modelFormat:
        name: sklearn
      storageUri: file://%s
""" % (name, IRIS_MODEL)


def client_hello():
    """The bytes of a real TLS ClientHello (Python's ssl over memory BIOs)."""
    ctx = ssl.create_default_context()
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = ctx.wrap_bio(incoming, outgoing, server_hostname="localhost")
    try:
        obj.do_handshake()
    except ssl.SSLWantReadError:
        pass
    return outgoing.read()


def closed_after(sock, limit_s):
    """Reads until the server closes the connection; returns (seconds it took, bytes read)."""
    sock.settimeout(limit_s)
    start, data = time.time(), b""
    try:
        while True:
            chunk = sock.recv(4096)
            if not chunk:
                break
            data += chunk
    except ConnectionResetError:
        pass
    return time.time() - start, data


class TlsKubectlTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="inferd-tls-")
        cls.data_dir = os.path.join(cls.tmp, "data")
        cls.serve = KubeServe(cls.data_dir, ["--client_header_timeout", str(HEADER_TIMEOUT_S)])
        cls.ca_file = os.path.join(cls.data_dir, "pki", "ca.crt")
        cls.https = "https://127.0.0.1:%d" % cls.serve.api_port

    @classmethod
    def tearDownClass(cls):
        cls.serve.stop()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def kubectl(self, *args, **kw):
        return self.serve.kubectl(*args, **kw)

    def healthy(self):
        r = requests.get(self.https + "/healthz", verify=self.ca_file, timeout=30)
        self.assertEqual(r.status_code, 200)

    # ---- the kubeconfig ----------------------------------------------------------------------------
    def test_kubeconfig_written_private_and_used_by_the_fixture(self):
        path = os.path.join(self.data_dir, "kubeconfig")
        self.assertEqual(self.serve.kubeconfig, path)  # what the fixture's kubectl and python client use
        self.assertEqual(stat.S_IMODE(os.stat(path).st_mode), 0o600)
        for key in ("ca.key", "apiserver.key"):
            self.assertEqual(stat.S_IMODE(os.stat(os.path.join(self.data_dir, "pki", key)).st_mode), 0o600)
        import yaml
        with open(path) as f:
            kc = yaml.safe_load(f)
        self.assertEqual(kc["current-context"], "inferd")
        cluster = kc["clusters"][0]
        self.assertEqual(cluster["name"], "inferd")
        self.assertEqual(cluster["cluster"]["server"], self.https)
        with open(self.ca_file, "rb") as f:
            self.assertEqual(base64.b64decode(cluster["cluster"]["certificate-authority-data"]), f.read())
        self.assertEqual(kc["users"][0], {"name": "inferd", "user": {"token": self.serve.token}})
        self.assertEqual(kc["contexts"][0]["context"], {"cluster": "inferd", "user": "inferd", "namespace": "default"})
        self.assertIn("kubeconfig %s" % path, self.serve.output())
        with open(os.path.join(self.data_dir, "serve.json")) as f:
            sj = json.load(f)
        self.assertEqual(sj["api"], "http://127.0.0.1:%d" % self.serve.api_port)  # the CLI's, plain on loopback
        self.assertEqual(sj["api_https"], self.https)
        self.assertEqual(sj["kubeconfig"], path)

    def test_certificates_reused_and_kubeconfig_rewritten_on_restart(self):
        d = os.path.join(self.tmp, "restart")
        first = serve_test.Serve(d)
        try:
            with open(os.path.join(d, "pki", "ca.crt")) as f:
                ca = f.read()
            with open(os.path.join(d, "pki", "apiserver.crt")) as f:
                cert = f.read()
            port1 = first.api_port
        finally:
            first.stop()
        second = serve_test.Serve(d)
        try:
            with open(os.path.join(d, "pki", "ca.crt")) as f:
                self.assertEqual(f.read(), ca)
            with open(os.path.join(d, "pki", "apiserver.crt")) as f:
                self.assertEqual(f.read(), cert)
            with open(os.path.join(d, "kubeconfig")) as f:
                text = f.read()
            self.assertIn("server: https://127.0.0.1:%d\n" % second.api_port, text)
            if second.api_port != port1:
                self.assertNotIn(":%d\n" % port1, text)
            self.assertNotIn("generating a new CA", second.output())
            # A corrupt server certificate is replaced (log line), the CA kept.
        finally:
            second.stop()
        with open(os.path.join(d, "pki", "apiserver.crt"), "w") as f:
            f.write("-----BEGIN CERTIFICATE-----\ngarbage\n")
        third = serve_test.Serve(d)
        try:
            self.assertIn("apiserver.crt: unparsable: issuing a new server certificate", third.output())
            with open(os.path.join(d, "pki", "ca.crt")) as f:
                self.assertEqual(f.read(), ca)
            r = requests.get("https://127.0.0.1:%d/healthz" % third.api_port,
                             verify=os.path.join(d, "pki", "ca.crt"), timeout=30)
            self.assertEqual(r.status_code, 200)
        finally:
            third.stop()

    def test_flag_given_certificate_and_its_chain_ca_in_the_kubeconfig(self):
        # A certificate chain (server certificate, then its CA) made by another serve's generator.
        src = os.path.join(self.data_dir, "pki")
        chain = os.path.join(self.tmp, "chain.crt")
        with open(chain, "w") as out:
            for name in ("apiserver.crt", "ca.crt"):
                with open(os.path.join(src, name)) as f:
                    out.write(f.read())
        d = os.path.join(self.tmp, "own-cert")
        serve = serve_test.Serve(d, ["--tls_cert_file", chain, "--tls_private_key_file",
                                     os.path.join(src, "apiserver.key")])
        try:
            self.assertFalse(os.path.exists(os.path.join(d, "pki")))  # nothing generated
            import yaml
            with open(os.path.join(d, "kubeconfig")) as f:
                kc = yaml.safe_load(f)
            with open(self.ca_file, "rb") as f:
                self.assertEqual(base64.b64decode(kc["clusters"][0]["cluster"]["certificate-authority-data"]), f.read())
            p = subprocess.run([kube_fixture.KUBECTL, "--kubeconfig", os.path.join(d, "kubeconfig"), "--cache-dir",
                                os.path.join(self.tmp, "own-cache"), "get", "inferenceservices"],
                               capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
            self.assertEqual(p.returncode, 0, p.stderr)
        finally:
            serve.stop()
        # A key that does not belong to the certificate stops serve, naming the flag.
        p = subprocess.run([serve_test.INFERD_BIN, "serve", "--data_dir", os.path.join(self.tmp, "bad-key"),
                            "--http_port", "0", "--grpc_port", "0", "--api_port", "0", "--tls_cert_file", chain,
                            "--tls_private_key_file", os.path.join(src, "ca.key")],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(p.returncode, 1)
        self.assertIn("--tls_private_key_file", p.stderr)
        self.assertIn("does not match", p.stderr)

    # ---- kubectl over HTTPS ------------------------------------------------------------------------
    def test_kubectl_apply_get_delete_over_https(self):
        p = self.kubectl("apply", "-f", "-", stdin=isvc_yaml("kc-https"))
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("inferenceservice.serving.kserve.io/kc-https created", p.stdout)
        p = self.kubectl("get", "inferenceservices", "kc-https", "-o", "json")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(json.loads(p.stdout)["metadata"]["name"], "kc-https")
        p = self.kubectl("get", "inferenceservices")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertRegex(p.stdout, r"(?m)^kc-https\s")
        p = self.kubectl("delete", "inferenceservices", "kc-https")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("kc-https", p.stdout)
        self.assertIsNone(self.serve.isvc("kc-https"))

    def run_kubectl_with(self, kc, tag, *args):
        """kubectl with a modified copy of the kubeconfig, stdin closed (kubectl prompts for a user name when a
        kubeconfig has no credentials for an https server)."""
        import yaml
        path = os.path.join(self.tmp, tag + ".kubeconfig")
        with open(path, "w") as f:
            yaml.safe_dump(kc, f)
        return subprocess.run([kube_fixture.KUBECTL, "--kubeconfig", path, "--cache-dir", self.serve.cache_dir + tag]
                              + list(args), capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)

    def kubeconfig_dict(self):
        import yaml
        with open(self.serve.kubeconfig) as f:
            return yaml.safe_load(f)

    def test_kubectl_without_the_token_must_log_in(self):
        # A wrong token: 401 -> kubectl's "You must be logged in to the server (...)".
        kc = self.kubeconfig_dict()
        kc["users"][0]["user"]["token"] = "not-the-token"
        p = self.run_kubectl_with(kc, "wrong", "get", "inferenceservices")
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("You must be logged in to the server", p.stderr)
        # No user at all: kubectl asks for a user name (stdin closed: it fails); given one, still 401.
        kc = self.kubeconfig_dict()
        del kc["users"]
        del kc["contexts"][0]["context"]["user"]
        p = self.run_kubectl_with(kc, "nouser", "get", "inferenceservices")
        self.assertNotEqual(p.returncode, 0)
        self.assertNotIn("No resources found", p.stdout + p.stderr)
        p = self.run_kubectl_with(kc, "basic", "get", "inferenceservices", "--username", "u", "--password", "p")
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("You must be logged in to the server", p.stderr)
        # A CA that did not sign the server's certificate: kubectl refuses the server.
        kc = self.kubeconfig_dict()
        kc["clusters"][0]["cluster"]["certificate-authority-data"] = base64.b64encode(self.other_ca_pem()).decode()
        p = self.run_kubectl_with(kc, "badca", "get", "inferenceservices")
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("certificate", p.stderr)

    def other_ca_pem(self):
        d = os.path.join(self.tmp, "other")
        s = serve_test.Serve(d)
        s.stop()
        with open(os.path.join(d, "pki", "ca.crt"), "rb") as f:
            return f.read()

    def test_plain_http_cli_still_works_on_loopback(self):
        rc, out, err = self.serve.cli("get", "isvc")
        self.assertEqual(rc, 0, err)
        r = self.serve.api("GET", "/apis/serving.kserve.io/v1beta1/namespaces/default/inferenceservices")
        self.assertEqual(r.status_code, 200)
        r = requests.get("http://127.0.0.1:%d/apis/serving.kserve.io/v1beta1/namespaces/default/inferenceservices" %
                         self.serve.api_port, timeout=30)
        self.assertEqual(r.status_code, 401)  # the token is still required on plain HTTP

    def test_kubectl_get_watch_over_tls(self):
        proc = subprocess.Popen(
            [kube_fixture.KUBECTL, "--kubeconfig", self.serve.kubeconfig, "--cache-dir", self.serve.cache_dir,
             "get", "inferenceservices", "-w", "--output-watch-events", "-o", "json"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        lines = []
        threading.Thread(target=lambda: [lines.append(l) for l in proc.stdout], daemon=True).start()
        try:
            time.sleep(1)  # let the watch open (a missed ADDED would show up in its initial list anyway)
            p = self.kubectl("apply", "-f", "-", stdin=isvc_yaml("kc-watch"))
            self.assertEqual(p.returncode, 0, p.stderr)
            deadline = time.time() + 60
            while time.time() < deadline and not any("kc-watch" in l for l in lines):
                time.sleep(0.1)
            self.assertTrue(any("kc-watch" in l for l in lines), (lines, proc.poll()))
            self.assertIsNone(proc.poll(), "the watch over TLS ended")
            self.kubectl("delete", "inferenceservices", "kc-watch")
            def deleted():  # kubectl prints one watch event per line ({"type", "object"})
                events = [json.loads(l) for l in list(lines) if l.strip()]
                return any(e["type"] == "DELETED" and e["object"]["metadata"]["name"] == "kc-watch" for e in events)
            deadline = time.time() + 60
            while time.time() < deadline and not deleted():
                time.sleep(0.1)
            self.assertTrue(deleted(), lines)
        finally:
            proc.kill()
            proc.wait()
            proc.stdout.close()
            proc.stderr.close()

    # ---- KServe's SDK calls (KServeClient), with python3-kubernetes -------------------------------
    def test_kserve_client_create_get_wait_ready_delete(self):
        from kubernetes import client, config, watch
        kubeconfig = os.path.join(self.data_dir, "kubeconfig")
        # kserve/kserve python/kserve/kserve/api/kserve_client.py KServeClient.__init__: load_kube_config(config_file,
        # context, client_configuration=None, persist_config) then client.CustomObjectsApi() on the default config.
        config.load_kube_config(config_file=kubeconfig, context=None, client_configuration=None, persist_config=True)
        api = client.CustomObjectsApi()
        group, version, plural, ns, name = "serving.kserve.io", "v1beta1", "inferenceservices", "default", "sdk-iris"

        events = []
        def watch_it():
            # python/kserve/kserve/api/watch.py isvc_watch: Watch().stream(list_namespaced_custom_object, ...).
            for ev in watch.Watch().stream(client.CustomObjectsApi().list_namespaced_custom_object, group, version,
                                           ns, plural, timeout_seconds=120):
                events.append((ev["type"], ev["object"]["metadata"]["name"], ev["object"].get("status", {})))
                if ev["type"] == "DELETED" and ev["object"]["metadata"]["name"] == name:
                    return
        watcher = threading.Thread(target=watch_it, daemon=True)
        watcher.start()

        # KServeClient.create: version = api_version.split("/")[1]; create_namespaced_custom_object(group,
        # version, namespace, plural, body).
        manifest = isvc_manifest(name)
        out = api.create_namespaced_custom_object(group, manifest["apiVersion"].split("/")[1], ns, plural, manifest)
        self.assertEqual(out["metadata"]["name"], name)

        # KServeClient.get(name): get_namespaced_custom_object(group, version, namespace, plural, name).
        got = api.get_namespaced_custom_object(group, version, ns, plural, name)
        self.assertEqual(got["spec"]["predictor"]["model"]["storageUri"], "file://" + IRIS_MODEL)

        # KServeClient.wait_isvc_ready(name, polling_interval=1) -> is_isvc_ready: "status" in the object,
        # the Ready condition's status lower-cased == "true" (expected_generation None).
        def is_isvc_ready():
            isvc = api.get_namespaced_custom_object(group, version, ns, plural, name)
            if "status" not in isvc:
                return False
            for condition in isvc["status"].get("conditions", []):
                if condition.get("type", "") == "Ready":
                    return condition.get("status", "Unknown").lower() == "true"
            return False
        timeout_seconds, polling_interval = 120, 1
        for _ in range(round(timeout_seconds / polling_interval)):
            time.sleep(polling_interval)
            if is_isvc_ready():
                break
        else:
            self.fail("Timeout to start the InferenceService %s: %s\n%s" % (
                name, api.get_namespaced_custom_object(group, version, ns, plural, name), self.serve.output()))

        # The model answers through the gateway.
        r = self.serve.gw("POST", "/v1/models/%s:predict" % name, host="%s.default.example.com" % name,
                          json={"instances": serve_test.IRIS})
        self.assertEqual(r.status_code, 200, r.text)
        self.assertEqual(len(r.json()["predictions"]), 2)

        # Logs follow (an extension stream, on a stream thread) over TLS.
        with requests.get(self.https + "/inferd/v1/namespaces/default/inferenceservices/%s/logs?follow=1" % name,
                          headers={"Authorization": "Bearer " + self.serve.token}, verify=self.ca_file,
                          stream=True, timeout=30) as resp:
            self.assertEqual(resp.status_code, 200)
            seen = b""
            for chunk in resp.iter_content(chunk_size=None):
                seen += chunk
                if b"listening" in seen:
                    break
            self.assertIn(b"listening", seen)

        # KServeClient.delete: delete_namespaced_custom_object(group, version, namespace, plural, name).
        api.delete_namespaced_custom_object(group, version, ns, plural, name)
        watcher.join(60)
        self.assertFalse(watcher.is_alive(), events)
        types = [t for t, n, _ in events if n == name]
        self.assertIn("ADDED", types)
        self.assertIn("DELETED", types)
        self.assertTrue(any(n == name and any(c.get("type") == "Ready" and c.get("status") == "True"
                                              for c in st.get("conditions", [])) for _, n, st in events),
                        "the watch over TLS delivered the Ready transition")
        with self.assertRaises(client.exceptions.ApiException) as e:
            api.get_namespaced_custom_object(group, version, ns, plural, name)
        self.assertEqual(e.exception.status, 404)

    # ---- hostile connections -----------------------------------------------------------------------
    def connect(self):
        return socket.create_connection(("127.0.0.1", self.serve.api_port), timeout=30)

    def test_garbage_first_byte_is_a_plain_http_400(self):
        with self.connect() as s:
            s.sendall(b"\x00\xffgarbage\r\n\r\n")
            _, data = closed_after(s, 30)
        self.assertTrue(data.startswith(b"HTTP/1.1 400"), data[:200])
        self.healthy()

    def test_tls_record_then_garbage_fails_the_handshake(self):
        with self.connect() as s:
            s.sendall(b"\x16\x03\x01\x00\x10" + b"\xee" * 16)
            took, data = closed_after(s, 30)
        self.assertLess(took, 30)
        self.assertFalse(data.startswith(b"HTTP"), data[:100])  # an alert (0x15) or nothing
        self.healthy()

    def test_truncated_client_hello_then_eof(self):
        hello = client_hello()
        self.assertEqual(hello[0], 0x16)
        with self.connect() as s:
            s.sendall(hello[: len(hello) // 2])
            s.shutdown(socket.SHUT_WR)
            took, _ = closed_after(s, 30)
        self.assertLess(took, 30)
        self.healthy()

    def test_stalled_handshake_closed_at_the_deadline(self):
        hello = client_hello()
        for sent in (b"\x16", hello[: len(hello) // 2]):
            with self.connect() as s:
                s.sendall(sent)
                took, data = closed_after(s, 60)
            # Closed by the server at --client_header_timeout (within the sweep's slack), not by the client.
            self.assertGreaterEqual(took, HEADER_TIMEOUT_S - 1.5, (sent[:8], data[:50]))
            self.assertLess(took, 45, sent[:8])
        self.healthy()


def external_ip():
    """A non-loopback IPv4 address of this machine, or None."""
    try:
        out = subprocess.run(["hostname", "-I"], capture_output=True, text=True, timeout=10).stdout.split()
    except (OSError, subprocess.SubprocessError):
        out = []
    for ip in out:
        if "." in ip and not ip.startswith("127."):
            return ip
    return None


class NonLoopbackApiTest(unittest.TestCase):
    """--api_host 0.0.0.0: HTTPS for everyone (the certificate names this machine's addresses), plain HTTP only
    for loopback peers."""

    def test_plain_http_from_a_remote_address_is_refused(self):
        ip = external_ip()
        if ip is None:
            self.skipTest("no non-loopback IPv4 address on this machine")
        tmp = tempfile.mkdtemp(prefix="inferd-tls-ext-")
        serve = serve_test.Serve(os.path.join(tmp, "d"), ["--api_host", "0.0.0.0"])
        try:
            ca = os.path.join(tmp, "d", "pki", "ca.crt")
            # Plain from the machine's own non-loopback address: the peer is not loopback.
            with socket.create_connection((ip, serve.api_port), timeout=30) as s:
                s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
                _, data = closed_after(s, 30)
            self.assertTrue(data.startswith(b"HTTP/1.1 400"), data[:200])
            self.assertIn(b"HTTPS", data)
            # HTTPS from that address verifies (the address is a SAN) and answers.
            r = requests.get("https://%s:%d/healthz" % (ip, serve.api_port), verify=ca, timeout=30)
            self.assertEqual(r.status_code, 200)
            # Plain from loopback still works (the CLI).
            r = requests.get("http://127.0.0.1:%d/healthz" % serve.api_port, timeout=30)
            self.assertEqual(r.status_code, 200)
            rc, out, err = serve.cli("get", "isvc")
            self.assertEqual(rc, 0, err)
        finally:
            serve.stop()
            shutil.rmtree(tmp, ignore_errors=True)

    def test_cli_uses_https_when_the_api_binds_a_non_loopback_address(self):
        ip = external_ip()
        if ip is None:
            self.skipTest("no non-loopback IPv4 address on this machine")
        tmp = tempfile.mkdtemp(prefix="inferd-tls-ip-")
        d = os.path.join(tmp, "d")
        serve = serve_test.Serve(d, ["--api_host", ip])
        try:
            with open(os.path.join(d, "serve.json")) as f:
                sj = json.load(f)
            self.assertEqual(sj["api"], "https://%s:%d" % (ip, serve.api_port))
            self.assertEqual(sj["ca_file"], os.path.join(d, "pki", "ca.crt"))
            rc, out, err = serve.cli("get", "isvc")  # over HTTPS, trusting serve's CA from serve.json
            self.assertEqual(rc, 0, err)
            with open(os.path.join(d, "kubeconfig")) as f:
                self.assertIn("server: https://%s:%d\n" % (ip, serve.api_port), f.read())
            p = subprocess.run([kube_fixture.KUBECTL, "--kubeconfig", os.path.join(d, "kubeconfig"), "--cache-dir",
                                os.path.join(tmp, "cache"), "get", "inferenceservices"],
                               capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
            self.assertEqual(p.returncode, 0, p.stderr)
        finally:
            serve.stop()
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    unittest.main()
