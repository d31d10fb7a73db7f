"""scripts/check_config.py on this repository's config/ (it must pass), and on copies of it with one fault each
(each rule of its docstring that a wrong edit could break), and with a stand-in `inferd` whose `operator
--print-rbac` asks for more than the roles grant.

Run by ctest with /usr/bin/python3. Environment: INFERD_BIN (for inferd serve's dry-run validation).
"""
import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile
import unittest

SOURCE_DIR = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
SCRIPT = os.path.join(SOURCE_DIR, "scripts", "check_config.py")
INFERD_BIN = os.environ.get("INFERD_BIN", os.path.join(SOURCE_DIR, "build", "inferd"))


def edit(path, old, new, count=1):
    with open(path) as f:
        text = f.read()
    if old not in text:
        raise AssertionError("%s does not hold %r" % (path, old))
    with open(path, "w") as f:
        f.write(text.replace(old, new, count))


class CheckConfigTest(unittest.TestCase):
    def setUp(self):
        self.root = tempfile.mkdtemp(prefix="check_config_test.")
        shutil.copytree(os.path.join(SOURCE_DIR, "config"), os.path.join(self.root, "config"))
        os.makedirs(os.path.join(self.root, "scripts"))
        shutil.copy(os.path.join(SOURCE_DIR, "scripts", "operator_rbac.json"), os.path.join(self.root, "scripts"))

    def tearDown(self):
        shutil.rmtree(self.root)

    def run_check(self, *extra, root=None, inferd=INFERD_BIN):
        p = subprocess.run([sys.executable, SCRIPT, "--inferd", inferd] + list(extra) + [root or self.root],
                           capture_output=True, text=True, timeout=300)
        return p.returncode, p.stdout + p.stderr

    def path(self, rel):
        return os.path.join(self.root, rel)

    def test_this_repository_passes(self):
        rc, out = self.run_check(root=SOURCE_DIR)
        self.assertEqual(rc, 0, out)
        self.assertIn("all checks pass", out)
        self.assertRegex(out, r"check_config: \d+ kustomizations rendered")

    def test_each_fault_is_found(self):
        # RBAC: the operator's ClusterRole loses a verb it needs.
        edit(self.path("config/rbac/role.yaml"),
             "resources: [deployments]\n    verbs: [get, list, watch, create, update, patch, delete]",
             "resources: [deployments]\n    verbs: [get, list, watch, create, update, patch]")
        # A runtime with other args, one with a priority KServe's sklearn runtimes already use.
        edit(self.path("config/runtimes/inferd-xgboost.yaml"), "--grpc_port=9000", "--grpc_port=9001")
        edit(self.path("config/runtimes/inferd-sklearn.yaml"), "priority: 3", "priority: 2")
        # A CRD left out of the standalone install.
        edit(self.path("config/crd/kustomization.yaml"), "  - serving.kserve.io_trainedmodels.yaml\n", "")
        # A binding to a role that is not there; the Deployment's selector off its pod labels.
        edit(self.path("config/rbac/leader_election_role_binding.yaml"), "name: inferd-operator-leader-election\n"
             "subjects", "name: no-such-role\nsubjects")
        edit(self.path("config/operator/deployment.yaml"),
             "    matchLabels:\n      app.kubernetes.io/name: inferd-operator",
             "    matchLabels:\n      app.kubernetes.io/name: someone-else")
        # An object of a kind this install does not use, in a base.
        with open(self.path("config/runtimes/extra.yaml"), "w") as f:
            f.write("apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: extra\n")
        edit(self.path("config/runtimes/kustomization.yaml"), "  - inferd-onnx.yaml\n",
             "  - inferd-onnx.yaml\n  - extra.yaml\n")
        # An overlay of the runtimes that gives them a namespace and keeps autoSelect on.
        with open(self.path("config/overlays/kserve-runtimes/kustomization.yaml"), "w") as f:
            f.write("resources:\n  - ../../runtimes\nnamespace: somewhere\n")
        # A runtime inferd serve's own validation refuses (a protocol KServe does not have).
        edit(self.path("config/runtimes/inferd-onnx.yaml"), "    - grpc-v2\n", "    - grpc-v9\n")
        rc, out = self.run_check()
        self.assertEqual(rc, 1, out)
        self.assertRegex(out, r"ClusterServingRuntime inferd-onnx: inferd serve refuses it \(422\):.*"
                              r"spec.protocolVersions\[2\]")
        for want in [
            "ClusterServingRuntime somewhere/inferd-onnx: cluster-scoped, must have no namespace",
            "ClusterServingRuntime somewhere/inferd-onnx: format onnx must have autoSelect False",
            "config/overlays/standalone: the operator's roles do not grant delete deployments on apps",
            "config/default: the operator's roles do not grant delete deployments on apps",
            "ClusterServingRuntime inferd-xgboost: args",
            "ClusterServingRuntime inferd-sklearn: format sklearn priority 2 must be above KServe's [1, 2]",
            "config/overlays/standalone: CRD trainedmodels.serving.kserve.io missing",
            "roleRef Role no-such-role is not in the rendering",
            "Deployment inferd-system/inferd-operator: selector",
            "Job extra: apiVersion/kind batch/v1 Job is not one this install uses",
        ]:
            self.assertIn(want, out)

    def test_print_rbac_and_operator_flags_when_the_command_exists(self):
        # A stand-in inferd with an `operator` command: its help lacks one of the Deployment's flags, and
        # --print-rbac asks for a verb no role grants.
        fake = self.path("fake-inferd")
        rules = [{"apiGroups": ["apps"], "resources": ["deployments"], "verbs": ["get", "deletecollection"]}]
        with open(fake, "w") as f:
            f.write("#!/bin/sh\n"
                    "if [ \"$1 $2\" = 'operator --help' ]; then echo 'Usage: inferd operator [OPTIONS]'; "
                    "echo '  --leader_elect  Reconcile only while holding the Lease'; exit 0; fi\n"
                    "if [ \"$1 $2\" = 'operator --print-rbac' ]; then echo '%s'; exit 0; fi\n"
                    "exit 2\n" % json.dumps({"rules": rules}))
        os.chmod(fake, os.stat(fake).st_mode | stat.S_IEXEC)
        rc, out = self.run_check("--no-serve", inferd=fake)
        self.assertEqual(rc, 1, out)
        self.assertIn("operator rules from `inferd operator --print-rbac`", out)
        self.assertIn("the operator's roles do not grant deletecollection deployments on apps", out)
        self.assertNotIn("grant get deployments", out)
        self.assertIn("`inferd operator` has no flag --health_port", out)
        self.assertNotIn("no flag --leader_elect", out)


if __name__ == "__main__":
    unittest.main()
