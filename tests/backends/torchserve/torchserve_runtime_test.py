"""inferd's TorchServe runtime (src/backends/torchserve/torchserve_runtime.py) tested with python3 directly: the
config.properties reader, the model list from model_snapshot / load_models, the bounded .mar unpacking, the handler
loading rules and the ts.utils helpers. The served paths are tested through a real server by
torchserve_server_test.py.
"""
import json
import os
import shutil
import sys
import tempfile
import unittest
import zipfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "..", "src", "backends", "torchserve"))
import torchserve_runtime as rt  # noqa: E402


class PropertiesTest(unittest.TestCase):
    def test_java_properties_forms(self):
        text = ("# comment\n! also a comment\n\ninference_address=http://0.0.0.0:8085\n"
                "metrics_address : http://0.0.0.0:8082\nnumber_of_netty_threads 4\n"
                "model_snapshot={\"a\":\\\n  1}\nempty=\nkey=first\nkey=second\n")
        p = rt.parse_properties(text)
        self.assertEqual(p["inference_address"], "http://0.0.0.0:8085")
        self.assertEqual(p["metrics_address"], "http://0.0.0.0:8082")
        self.assertEqual(p["number_of_netty_threads"], "4")
        self.assertEqual(p["model_snapshot"], "{\"a\":1}")
        self.assertEqual(p["empty"], "")
        self.assertEqual(p["key"], "second")
        self.assertNotIn("# comment", p)

    def test_every_unused_key_is_logged_by_name(self):
        tmp = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, tmp)
        path = os.path.join(tmp, "config.properties")
        with open(path, "w") as f:
            f.write("job_queue_size=10\nmodel_store=/x\nsomething_new=1\n")
        with self.assertLogs("inferd.torchserve", "WARNING") as logs:
            rt.read_config(path)
        text = "\n".join(logs.output)
        self.assertIn("job_queue_size=10: not used", text)
        self.assertIn("something_new: not a key inferd knows", text)
        self.assertNotIn("model_store", text)

    def test_oversized_config_is_refused(self):
        tmp = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, tmp)
        path = os.path.join(tmp, "config.properties")
        with open(path, "w") as f:
            f.write("a=" + "x" * (rt.MAX_PROPERTIES_BYTES + 1))
        with self.assertRaisesRegex(rt.ArchiveError, "larger than"):
            rt.read_config(path)


class ModelListTest(unittest.TestCase):
    def test_snapshot_default_version_and_unused_fields(self):
        snap = {"models": {"mnist": {"1.0": {"marName": "old.mar"},
                                     "2.0": {"defaultVersion": True, "marName": "mnist.mar", "maxWorkers": 5}}}}
        with self.assertLogs("inferd.torchserve", "WARNING") as logs:
            got = rt.models_to_serve({"model_snapshot": json.dumps(snap)}, "/store")
        self.assertEqual(got, [("mnist", "2.0", "/store/mnist.mar")])
        self.assertTrue(any("maxWorkers=5: not used" in line for line in logs.output))
        self.assertTrue(any("2 versions" in line for line in logs.output))

    def test_snapshot_errors_name_the_problem(self):
        for text, why in (("{", "not JSON"), ("{}", "no \"models\""), ('{"models":{"m":{}}}', "no versions"),
                          ('{"models":{"m":{"1":{"marName":"../x.mar"}}}}', "not an archive name")):
            with self.assertRaisesRegex(rt.ArchiveError, why):
                rt.models_to_serve({"model_snapshot": text}, "/store")

    def test_load_models(self):
        self.assertEqual(rt.models_to_serve({"load_models": "a=x.mar, y.mar"}, "/s"),
                         [("a", None, "/s/x.mar"), (None, None, "/s/y.mar")])
        tmp = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, tmp)
        for n in ("b.mar", "a.mar", "notes.txt"):
            open(os.path.join(tmp, n), "w").close()
        self.assertEqual([m for _, _, m in rt.models_to_serve({}, tmp)],
                         [os.path.join(tmp, "a.mar"), os.path.join(tmp, "b.mar")])


class UnpackTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, self.tmp)
        self.mar = os.path.join(self.tmp, "m.mar")

    def zip(self, entries):
        with zipfile.ZipFile(self.mar, "w") as z:
            for name, data in entries:
                if isinstance(name, zipfile.ZipInfo):
                    z.writestr(name, data)
                else:
                    z.writestr(name, data)

    def test_safe_member(self):
        for bad in ("../x", "a/../../x", "/etc/passwd", "C:/x", "a\\..\\x", "", "a\x00b", ".", "x" * 2000):
            self.assertIsNone(rt._safe_member(bad), bad)
        self.assertEqual(rt._safe_member("./a//b.py"), os.path.join("a", "b.py"))

    def test_unpacks_files_and_directories(self):
        self.zip([("MAR-INF/MANIFEST.json", "{}"), ("sub/", ""), ("sub/x.py", "pass")])
        rt.unpack(self.mar, os.path.join(self.tmp, "out"))
        with open(os.path.join(self.tmp, "out", "sub", "x.py")) as f:
            self.assertEqual(f.read(), "pass")

    def test_traversal_symlink_duplicate_are_refused(self):
        link = zipfile.ZipInfo("evil")
        link.external_attr = (0o120777) << 16
        cases = [([("../escape.py", "x")], "not a relative path"), ([(link, "/etc/passwd")], "not a file or directory"),
                 ([("a.py", "1"), ("./a.py", "2")], "appears twice")]
        for i, (entries, why) in enumerate(cases):
            self.zip(entries)
            with self.assertRaisesRegex(rt.ArchiveError, why):
                rt.unpack(self.mar, os.path.join(self.tmp, "out%d" % i))
        self.assertFalse(os.path.exists(os.path.join(self.tmp, "escape.py")))

    def test_bounds(self):
        self.zip([("a", "x" * 100), ("b", "y")])
        old = rt.MAX_UNPACKED_BYTES, rt.MAX_ENTRIES
        try:
            rt.MAX_UNPACKED_BYTES = 100
            with self.assertRaisesRegex(rt.ArchiveError, "unpacks to 101 bytes"):
                rt.unpack(self.mar, os.path.join(self.tmp, "o1"))
            rt.MAX_UNPACKED_BYTES, rt.MAX_ENTRIES = old[0], 1
            with self.assertRaisesRegex(rt.ArchiveError, "2 entries"):
                rt.unpack(self.mar, os.path.join(self.tmp, "o2"))
        finally:
            rt.MAX_UNPACKED_BYTES, rt.MAX_ENTRIES = old

    def test_truncated_and_corrupt(self):
        self.zip([("a.py", "print(1)" * 1000)])
        with open(self.mar, "rb") as f:
            data = f.read()
        with open(self.mar, "wb") as f:
            f.write(data[:40])
        with self.assertRaisesRegex(rt.ArchiveError, "not a readable"):
            rt.unpack(self.mar, os.path.join(self.tmp, "o1"))
        # a flipped byte in the compressed data: the CRC check names the entry
        with zipfile.ZipFile(self.mar, "w", zipfile.ZIP_STORED) as z:
            z.writestr("a.py", "print(1)" * 100)
        with open(self.mar, "r+b") as f:
            f.seek(60)
            f.write(b"#")
        with self.assertRaisesRegex(rt.ArchiveError, "entry 'a.py'"):
            rt.unpack(self.mar, os.path.join(self.tmp, "o2"))

    def test_mutated_archives_fail_only_as_archive_errors(self):
        """Random byte changes, truncations and insertions of a valid archive: unpack either succeeds or raises
        ArchiveError naming the archive, never another exception (the runtime would stop instead of leaving the
        one archive out)."""
        import random
        rng = random.Random(18)
        self.zip([("MAR-INF/MANIFEST.json", json.dumps({"model": {"handler": "h.py"}})), ("h.py", "x = 1\n" * 50),
                  ("sub/w.bin", bytes(range(256)) * 4)])
        with open(self.mar, "rb") as f:
            good = f.read()
        failures = 0
        for i in range(400):
            data = bytearray(good)
            for _ in range(rng.randint(1, 6)):
                op = rng.random()
                pos = rng.randrange(len(data))
                if op < 0.6:
                    data[pos] = rng.randrange(256)
                elif op < 0.8:
                    del data[pos:pos + rng.randint(1, 64)]
                else:
                    data[pos:pos] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 16)))
            with open(self.mar, "wb") as f:
                f.write(data)
            try:
                rt.unpack(self.mar, os.path.join(self.tmp, "f%d" % i))
            except rt.ArchiveError as e:
                self.assertIn(self.mar, str(e))
                failures += 1
        self.assertGreater(failures, 100)

    def test_manifest(self):
        os.makedirs(os.path.join(self.tmp, "d", "MAR-INF"))
        with self.assertRaisesRegex(rt.ArchiveError, "no MAR-INF/MANIFEST.json"):
            rt.read_manifest(os.path.join(self.tmp, "x"), "x.mar")
        path = os.path.join(self.tmp, "d", "MAR-INF", "MANIFEST.json")
        for text, why in (("[", "MANIFEST.json"), ("{}", "no \"model\""), ('{"model":{}}', "names no handler")):
            with open(path, "w") as f:
                f.write(text)
            with self.assertRaisesRegex(rt.ArchiveError, why):
                rt.read_manifest(os.path.join(self.tmp, "d"), "x.mar")


class HandlerTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        rt.install_ts()

    def setUp(self):
        self.tmp = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, self.tmp)

    def write(self, name, text):
        with open(os.path.join(self.tmp, name), "w") as f:
            f.write(text)

    def test_rules(self):
        entry, inst = rt.load_handler("image_classifier", self.tmp, "x.mar")
        self.assertIsInstance(inst, sys.modules["ts.torch_handler.image_classifier"].ImageClassifier)
        self.write("two.py", "from ts.torch_handler.base_handler import BaseHandler\n"
                             "class A(BaseHandler): pass\nclass B(BaseHandler): pass\ndef go(d, c): return d\n")
        with self.assertRaisesRegex(rt.ArchiveError, "defines 2 classes"):
            rt.load_handler("two.py", self.tmp, "x.mar")
        entry, inst = rt.load_handler("two:go", self.tmp, "x.mar")
        self.assertIsNone(inst)
        self.assertEqual(entry([1], None), [1])
        self.write("nothing.py", "X = 1\n")
        with self.assertRaisesRegex(rt.ArchiveError, "no class and no handle"):
            rt.load_handler("nothing.py", self.tmp, "x.mar")
        with self.assertRaisesRegex(rt.ArchiveError, "not a standard TorchServe handler"):
            rt.load_handler("missing.py", self.tmp, "x.mar")

    def test_ts_surface(self):
        from ts.context import Context
        from ts.utils.util import load_label_mapping, map_class_to_label
        self.assertEqual(map_class_to_label([[0.9, 0.1]], {"0": "cat", "1": "dog"}, [[1, 0]]),
                         [{"dog": 0.9, "cat": 0.1}])
        self.assertEqual(map_class_to_label([[0.5, 0.5]]), [{"0": 0.5, "1": 0.5}])
        with self.assertRaises(Exception):
            map_class_to_label([0.5])
        self.write("index_to_name.json", json.dumps({"0": ["n01", "tench"], "1": "goldfish"}))
        self.assertEqual(load_label_mapping(os.path.join(self.tmp, "index_to_name.json")),
                         {"0": "tench", "1": "goldfish"})
        self.assertIsNone(load_label_mapping(os.path.join(self.tmp, "absent.json")))
        ctx = Context("m", self.tmp, {"model": {}}, 1, None, "inferd")
        self.assertEqual(ctx.system_properties["model_dir"], self.tmp)
        ctx.request_processor = [rt.RequestProcessor({"x-a": "1"})]
        self.assertEqual(ctx.get_request_header(0, "X-A"), "1")
        ctx.set_response_content_type(0, "text/plain")
        self.assertEqual(ctx.get_response_content_type(0), "text/plain")
        ctx.metrics.add_time("HandlerTime", 1.5, None, "ms")


try:
    import torch
    HAVE_TORCH = True
except ImportError:
    HAVE_TORCH = False

DETECTOR_PY = """
import torch


class Detector(torch.nn.Module):
    def forward(self, images):
        out = []
        for img in images:
            m = float(img.mean())
            out.append({"boxes": torch.tensor([[0.0, 0.0, 1.0, 1.0], [1.0, 1.0, 2.0, 2.0]]),
                        "labels": torch.tensor([1, 2]), "scores": torch.tensor([0.9, m])})
        return out
"""

SEGMENTER_PY = """
import torch


class Seg(torch.nn.Module):
    def forward(self, x):
        return {"out": torch.cat([x[:, :1], -x[:, :1]], dim=1)}
"""

TEXT_PY = """
import torch


class Bag(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = torch.nn.EmbeddingBag(6, 2, mode="sum")
        with torch.no_grad():
            self.emb.weight.copy_(torch.tensor([[0., 0.], [5., 0.], [0., 5.], [1., 0.], [0., 1.], [0., 0.]]))

    def forward(self, text, offsets):
        return self.emb(text, offsets)
"""


@unittest.skipUnless(HAVE_TORCH, "needs python3-torch")
class StandardHandlersTest(unittest.TestCase):
    """object_detector, image_segmenter and text_classifier with small eager models, called as the runtime calls
    them (initialize with a Context, then handle(rows, context))."""

    @classmethod
    def setUpClass(cls):
        rt.install_ts()

    def load(self, handler, model_py, extra=None):
        tmp = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, tmp)
        with open(os.path.join(tmp, "m.py"), "w") as f:
            f.write(model_py)
        ns = {}
        exec(model_py, ns)
        cls = [v for v in ns.values()
               if isinstance(v, type) and issubclass(v, torch.nn.Module) and v is not torch.nn.Module][0]
        torch.save(cls().state_dict(), os.path.join(tmp, "w.pth"))
        for name, value in (extra or {}).items():
            if isinstance(value, str):
                with open(os.path.join(tmp, name), "w") as f:
                    f.write(value)
            else:
                torch.save(value, os.path.join(tmp, name))
        manifest = {"model": {"modelName": "m", "serializedFile": "w.pth", "modelFile": "m.py", "handler": handler}}
        entry, inst = rt.load_handler(handler, tmp, "m.mar")
        ctx = rt.Context("m", tmp, manifest, 1, None, "inferd")
        inst.initialize(ctx)
        ctx.request_processor = rt._headers_processors({}, 2)
        return entry, ctx

    def test_object_detector_threshold_and_labels(self):
        labels = {"index_to_name.json": json.dumps({"1": "cat", "2": "dog"})}
        entry, ctx = self.load("object_detector", DETECTOR_PY, labels)
        out = entry([{"data": [[[0.2, 0.2], [0.2, 0.2]]]}, {"data": [[[0.8, 0.8], [0.8, 0.8]]]}], ctx)
        self.assertEqual(out[0], [{"cat": [0.0, 0.0, 1.0, 1.0], "score": out[0][0]["score"]}])
        self.assertAlmostEqual(out[0][0]["score"], 0.9, places=6)
        self.assertEqual([list(d)[0] for d in out[1]], ["cat", "dog"])
        self.assertAlmostEqual(out[1][1]["score"], 0.8, places=6)

    def test_image_segmenter_pixels(self):
        entry, ctx = self.load("image_segmenter", SEGMENTER_PY)
        out = entry([{"data": [[[1.0, -1.0]]]}], ctx)
        p = float(torch.softmax(torch.tensor([1.0, -1.0]), 0)[0])
        self.assertEqual(out[0][0][0][0], 0.0)
        self.assertAlmostEqual(out[0][0][0][1], p, places=5)
        self.assertEqual(out[0][0][1][0], 1.0)

    def test_text_classifier_vocab_and_bigrams(self):
        vocab = {"<unk>": 0, "good": 1, "bad": 2, "very good": 3, "not": 4}
        entry, ctx = self.load("text_classifier", TEXT_PY, {"source_vocab.pt": vocab,
                                                          "index_to_name.json": json.dumps({"0": "pos", "1": "neg"})})
        out = entry([{"data": "Very GOOD!"}, {"body": b"bad, bad"}], ctx)
        self.assertGreater(out[0]["pos"], out[0]["neg"])
        self.assertGreater(out[1]["neg"], out[1]["pos"])
        self.assertAlmostEqual(out[0]["pos"] + out[0]["neg"], 1.0, places=5)


if __name__ == "__main__":
    unittest.main()
