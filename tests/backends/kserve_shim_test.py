"""src/backends/python/kserve_shim.py run by python3 directly: the calls inferd makes into it (predict_v1,
predict_v2, error_kind, install) and the KServe classes a user's model.py uses. The same file is compiled into
inferd (tests/server/python_model_test.cc and grpc_python_test.py run it there)."""
import asyncio
import importlib.util
import json
import os
import sys
import unittest

import numpy as np

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def load_shim():
    path = os.path.join(ROOT, "src", "backends", "python", "kserve_shim.py")
    spec = importlib.util.spec_from_file_location("_inferd_kserve_test", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


shim = load_shim()


class Doubler(shim.Model):
    def __init__(self, name="doubler"):
        super().__init__(name)
        self.load()

    def preprocess(self, payload, headers=None):
        return payload["instances"]

    def predict(self, payload, headers=None):
        return np.asarray(payload, dtype=np.float32) * 2

    def postprocess(self, result, headers=None, response_headers=None):
        return {"predictions": result}


class PredictV1(unittest.TestCase):
    def test_order_and_numpy_answer(self):
        out = shim.predict_v1(Doubler(), '{"instances": [[1, 2], [3, 4]]}', {})
        self.assertEqual(out, '{"predictions":[[2.0,4.0],[6.0,8.0]]}')

    def test_numpy_scalars_and_bytes_serialize(self):
        class M(shim.Model):
            def predict(self, payload, headers=None):
                return {"n": np.int64(3), "f": np.float32(0.5), "b": b"xy"}

        m = M("m")
        m.load()
        self.assertEqual(json.loads(shim.predict_v1(m, "{}", {})), {"n": 3, "f": 0.5, "b": "xy"})

    def test_malformed_body_is_invalid_input(self):
        with self.assertRaises(shim.InvalidInput) as cm:
            shim.predict_v1(Doubler(), '{"instances": [', {})
        self.assertIn("malformed JSON", str(cm.exception))
        self.assertEqual(shim.error_kind(cm.exception), "invalid")

    def test_not_ready(self):
        m = Doubler()
        m.ready = False
        with self.assertRaises(shim.ModelNotReady) as cm:
            shim.predict_v1(m, '{"instances": []}', {})
        self.assertEqual(shim.error_kind(cm.exception), "not_ready")

    def test_infer_response_to_v1_is_an_error(self):
        class M(shim.Model):
            def predict(self, payload, headers=None):
                return shim.InferResponse("1", self.name, [])

        m = M("m")
        m.load()
        with self.assertRaises(shim.InferenceError) as cm:
            shim.predict_v1(m, "{}", {})
        self.assertEqual(shim.error_kind(cm.exception), "internal")

    def test_coroutines_and_one_argument_methods(self):
        class M(shim.Model):
            async def preprocess(self, payload):  # no headers parameter
                await asyncio.sleep(0)
                return payload["x"]

            async def predict(self, payload, headers=None):
                return [v + 1 for v in payload]

        m = M("m")
        m.load()
        self.assertEqual(shim.predict_v1(m, '{"x": [1, 2]}', {}), "[2,3]")

    def test_unimplemented_predict(self):
        m = shim.Model("m")
        m.load()
        with self.assertRaises(NotImplementedError) as cm:
            shim.predict_v1(m, "{}", {})
        self.assertEqual(shim.error_kind(cm.exception), "unimplemented")


class PredictV2(unittest.TestCase):
    def test_infer_response(self):
        class M(shim.Model):
            def predict(self, req, headers=None):
                x = req.get_input_by_name("x").as_numpy()
                out = shim.InferOutput("y", [], "FP32")
                out.set_data_from_numpy(x.sum(axis=1))
                return shim.InferResponse(req.id, req.model_name, [out])

        m = M("m")
        m.load()
        x = np.array([[1, 2], [3, 4]], dtype=np.float32)
        out = shim.predict_v2(m, "", "m", ["x"], [x], {}, {})
        self.assertEqual([name for name, _ in out], ["y"])
        np.testing.assert_array_equal(out[0][1], np.array([3, 7], dtype=np.float32))

    def test_inputs_carry_datatypes(self):
        seen = {}

        class M(shim.Model):
            def predict(self, req, headers=None):
                seen.update({i.name: (i.datatype, i.shape) for i in req.inputs})
                return [shim.InferOutput("o", [1], "INT32", np.array([1], dtype=np.int32))]

        m = M("m")
        m.load()
        out = shim.predict_v2(m, "", "m", ["a", "b"],
                              [np.zeros((2, 3), dtype=np.int64), np.array([b"x"], dtype=object)], {}, {})
        self.assertEqual(seen, {"a": ("INT64", [2, 3]), "b": ("BYTES", [1])})
        self.assertEqual(out[0][0], "o")

    def test_bare_array_becomes_output_0(self):
        class M(shim.Model):
            def predict(self, req, headers=None):
                return np.array([1.5], dtype=np.float64)

        m = M("m")
        m.load()
        out = shim.predict_v2(m, "", "m", [], [], {}, {})
        self.assertEqual(out[0][0], "output-0")
        self.assertEqual(out[0][1].dtype, np.float64)

    def test_other_answers_are_errors(self):
        class M(shim.Model):
            def predict(self, req, headers=None):
                return {"predictions": [1]}

        m = M("m")
        m.load()
        with self.assertRaises(shim.InferenceError) as cm:
            shim.predict_v2(m, "", "m", [], [], {}, {})
        self.assertIn("return an InferResponse", str(cm.exception))


class Tensors(unittest.TestCase):
    def test_datatype_mapping(self):
        self.assertEqual(shim.from_np_dtype(np.float32), "FP32")
        self.assertEqual(shim.from_np_dtype(np.bool_), "BOOL")
        self.assertEqual(shim.from_np_dtype(np.dtype("U3")), "BYTES")
        self.assertIsNone(shim.from_np_dtype(np.complex64))
        self.assertIs(shim.to_np_dtype("INT16"), np.int16)
        self.assertIsNone(shim.to_np_dtype("FP8"))

    def test_as_numpy_from_list(self):
        t = shim.InferInput("x", [2, 2], "INT32", [1, 2, 3, 4])
        a = t.as_numpy()
        self.assertEqual(a.dtype, np.int32)
        self.assertEqual(a.shape, (2, 2))
        with self.assertRaises(shim.InvalidInput):
            shim.InferInput("x", [1], "FP8", [1]).as_numpy()

    def test_set_data_from_numpy(self):
        t = shim.InferOutput("y", [], "FP32")
        t.set_data_from_numpy(np.zeros((3, 1), dtype=np.uint8))
        self.assertEqual((t.datatype, t.shape), ("UINT8", [3, 1]))
        with self.assertRaises(shim.InferenceError):
            t.set_data_from_numpy([1, 2])


class Install(unittest.TestCase):
    def test_stand_in_modules_and_registration(self):
        if "kserve" in sys.modules and not getattr(sys.modules["kserve"], "__inferd_shim__", False):
            self.skipTest("the real kserve package is imported")
        try:
            import kserve as real  # noqa: F401
            if not getattr(real, "__inferd_shim__", False):
                self.skipTest("the real kserve package is installed")
        except ImportError:
            pass
        self.assertEqual(shim.install(), "kserve (inferd's stand-in)")
        import kserve
        from kserve.errors import InvalidInput
        from kserve.protocol.infer_type import InferInput

        self.assertIs(kserve.Model, shim.Model)
        self.assertIs(InvalidInput, shim.InvalidInput)
        self.assertIs(InferInput, shim.InferInput)
        args, _ = kserve.model_server.parser.parse_known_args(["--model_name", "iris", "--other", "1"])
        self.assertEqual(args.model_name, "iris")
        del shim.registered[:]
        first, second = Doubler("a"), Doubler("a")
        kserve.ModelServer().start([first, Doubler("b")])
        kserve.ModelServer().register_model(second)  # the same name again replaces the first
        self.assertEqual([m.name for m in shim.registered], ["a", "b"])
        self.assertIs(shim.registered[0], second)
        with self.assertRaises(Exception):
            kserve.ModelServer().register_model(shim.Model(""))


if __name__ == "__main__":
    unittest.main()
