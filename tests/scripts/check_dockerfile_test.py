"""scripts/check_dockerfile.py on docker/Dockerfile (it must pass and print the size estimates), and on copies
of it with one fault of each kind its docstring names.

Run by ctest with /usr/bin/python3. Environment: INFERD_BIN (the built binary; its plugins beside it).
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest

SOURCE_DIR = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
SCRIPT = os.path.join(SOURCE_DIR, "scripts", "check_dockerfile.py")
INFERD_BIN = os.environ.get("INFERD_BIN", os.path.join(SOURCE_DIR, "build", "inferd"))
with open(os.path.join(SOURCE_DIR, "docker", "Dockerfile")) as _f:
    DOCKERFILE = _f.read()


def replace(text, old, new):
    if old not in text:
        raise AssertionError("docker/Dockerfile does not hold %r" % old)
    return text.replace(old, new, 1)


class CheckDockerfileTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="check_dockerfile_test.")

    def tearDown(self):
        shutil.rmtree(self.tmp)

    def run_check(self, text=None, *extra):
        args = [sys.executable, SCRIPT, "--binary", INFERD_BIN] + list(extra)
        if text is not None:
            path = os.path.join(self.tmp, "Dockerfile")
            with open(path, "w") as f:
                f.write(text)
            args += ["--dockerfile", path]
        p = subprocess.run(args + [SOURCE_DIR], capture_output=True, text=True, timeout=300)
        return p.returncode, p.stdout + p.stderr

    def test_the_dockerfile_passes_and_sizes_are_estimated(self):
        rc, out = self.run_check(None, "--size")
        self.assertEqual(rc, 0, out)
        self.assertIn("all checks pass", out)
        sizes = {m.group(1): int(m.group(2)) for m in re.finditer(r"estimated size of (\S+): (\d+) MB", out)}
        self.assertEqual(set(sizes), {"operator", "model-server"}, out)
        self.assertLess(sizes["operator"], sizes["model-server"], out)

    def test_library_and_runtime_faults(self):
        text = replace(DOCKERFILE, "libxgboost0 libyaml-cpp0.7", "libyaml-cpp0.7 curl")
        text = replace(text, "install -y --no-install-recommends libtorch1.13 ", "install -y --no-install-recommends ")
        text = replace(text, "COPY . .", "COPY . .\nCOPY no/such/dir /x\nCOPY .git /y")
        text = replace(text, "FROM runtime-base AS operator\nCOPY --from=build /opt/inferd/bin/inferd",
                       "FROM runtime-base AS operator\nCOPY --from=build /usr/bin/inferd")
        text = replace(text, "EXPOSE 8081", "EXPOSE 8081\nUSER root")
        text = replace(text, "FROM debian:bookworm-slim AS runtime-base", "FROM ubuntu:22.04 AS runtime-base")
        text = replace(text, 'CMD ["model-server", "--model_dir=/mnt/models"]',
                       'CMD ["model-server", "--model_dir=/mnt/models"]\nENTRYPOINT ["/bin/sh"]')
        rc, out = self.run_check(text)
        self.assertEqual(rc, 1, out)
        for want in [
            "model-server: bin/inferd needs libxgboost.so.0 directly: install libxgboost0 by name",
            "model-server: bin/inferd loads libraries of 1 packages the stage does not install: libdmlc0 "
            "(libdmlc.so.0)",
            "model-server: lib/inferd/libinferd_backend_torch.so needs libtorch_cpu.so.1.13 directly: install "
            "libtorch1.13 by name",
            "model-server: installs curl, which no copied binary loads",
            "no/such/dir does not exist in the build context",
            ".dockerignore leaves .git out",
            "COPY --from=build /usr/bin/inferd /usr/local/bin/inferd: /usr/bin/inferd is not under /opt/inferd",
            "operator: USER must be a numeric non-root uid, got ['10001:10001', 'root']",
            "runtime-base: FROM ubuntu:22.04 is neither Debian bookworm nor an earlier stage",
            "model-server: ENTRYPOINT must be [\"inferd\"]",
        ]:
            self.assertIn(want, out)

    def test_build_stage_faults(self):
        text = replace(DOCKERFILE, "RUN SETUP_PROFILE=image bash scripts/setup.sh",
                       "RUN apt-get update && apt-get install -y g++")
        text = replace(text, "bash scripts/dev.sh release /opt/inferd", "bash scripts/dev.sh relase /opt/inferd")
        rc, out = self.run_check(text)
        self.assertEqual(rc, 1, out)
        self.assertIn("build stage: RUN `apt-get update && apt-get install -y g++` is not a call of a repository "
                      "script", out)
        self.assertIn("build stage: `DRY_RUN=1 JOBS=4 bash scripts/dev.sh relase /opt/inferd` fails", out)
        self.assertIn("build stage: no `bash scripts/dev.sh release PREFIX`", out)
        # setup.sh asked for a profile it does not have.
        text = replace(DOCKERFILE, "SETUP_PROFILE=image bash", "SETUP_PROFILE=imag bash")
        rc, out = self.run_check(text)
        self.assertEqual(rc, 1, out)
        self.assertIn("SETUP_PROFILE must be dev or image", out)


class InstallLayoutTest(unittest.TestCase):
    """The install step of `dev.sh release` (cmake --install --strip) on this build: the stripped binary under
    PREFIX/bin still serves, and loads a backend plugin from PREFIX/lib/inferd (the model-server image's
    layout; ONNX Runtime through the plugin's install RUNPATH)."""

    def test_installed_binary_loads_its_plugins(self):
        build = os.environ.get("INFERD_BUILD_DIR", os.path.dirname(INFERD_BIN))
        prefix = tempfile.mkdtemp(prefix="inferd-install-")
        try:
            p = subprocess.run(["cmake", "--install", build, "--prefix", prefix, "--strip"], capture_output=True,
                               text=True, timeout=300)
            self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
            binary = os.path.join(prefix, "bin", "inferd")
            self.assertTrue(os.access(binary, os.X_OK))
            onnx_model = os.path.join(build, "dl-test-models", "repo", "onnx-mlp")
            plugin = os.path.join(prefix, "lib", "inferd", "libinferd_backend_onnx.so")
            if os.path.isdir(onnx_model) and os.path.exists(plugin):
                model, want = onnx_model, "loaded the onnx backend plugin " + plugin
            else:  # no ONNX here: the binary itself still serves
                model = os.path.join(os.environ.get("INFERD_TEST_MODELS", ""), "xgb_iris_softprob")
                want = "model 'm' is ready"
            proc = subprocess.Popen([binary, "model-server", "--model_name", "m", "--model_dir", model,
                                     "--http_port", "0", "--grpc_port", "0"], stdout=subprocess.PIPE,
                                    stderr=subprocess.STDOUT, text=True)
            lines = []
            try:
                for line in proc.stdout:
                    lines.append(line)
                    if want in line or "failed" in line or len(lines) > 200:
                        break
            finally:
                proc.terminate()
                proc.communicate(timeout=30)
            self.assertTrue(any(want in l for l in lines), "".join(lines))
        finally:
            shutil.rmtree(prefix, ignore_errors=True)


if __name__ == "__main__":
    unittest.main()
