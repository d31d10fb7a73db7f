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


class TransformerApi(unittest.TestCase):
    """What KServe's transformers use beyond a custom predictor (shared/reference/pipeline.md §1)."""

    def test_parser_has_every_flag_of_kserve(self):
        a, rest = shim.parser.parse_known_args([
            "--predictor_host", "p:80", "--predictor_protocol", "grpc-v2", "--predictor_use_ssl", "true",
            "--predictor_request_timeout_seconds", "7", "--predictor_request_retries", "2",
            "--enable_predictor_health_check", "--enable_grpc", "false", "--timeout-keep-alive", "5",
            "--event-loop", "asyncio", "--unknown", "x"])
        self.assertEqual((a.predictor_host, a.predictor_protocol, a.predictor_use_ssl), ("p:80", "grpc-v2", True))
        self.assertEqual((a.predictor_request_timeout_seconds, a.predictor_request_retries), (7, 2))
        self.assertTrue(a.enable_predictor_health_check)
        self.assertFalse(a.enable_grpc)
        self.assertEqual(rest, ["--unknown", "x"])
        import argparse
        with self.assertRaises(argparse.ArgumentError):  # as on KServe: a child may not re-add a parent's flag
            p = argparse.ArgumentParser(parents=[shim.parser])
            p.add_argument("--predictor_host")

    def test_protocol_precedence(self):
        def proto(argv, env):
            a, _ = shim.parser.parse_known_args(argv)
            return shim.predictor_protocol_from(a, argv, env)
        self.assertEqual(proto([], {}), "v1")
        self.assertEqual(proto([], {"PROTOCOL": "v2"}), "v2")
        self.assertEqual(proto([], {"PROTOCOL": "bogus"}), "v1")
        self.assertEqual(proto(["--protocol", "grpc-v2"], {"PROTOCOL": "v2"}), "grpc-v2")
        self.assertEqual(proto(["--protocol=v2", "--predictor_protocol", "v1"], {"PROTOCOL": "grpc-v2"}), "v1")

    def test_predictor_config_and_protocol_enum(self):
        c = shim.PredictorConfig("h:1", "v2", True, 9, 1, True)
        self.assertEqual((c.protocol, c.timeout, c.retries, c.use_ssl), ("v2", 9, 1, True))
        self.assertEqual(c.predictor_base_url, "https://h:1")
        self.assertEqual(shim.PredictorProtocol.REST_V1.value, "v1")
        m = shim.Model("m", predictor_config=c)
        self.assertIs(m.predictor_config, c)

    def test_to_rest_json_and_binary(self):
        x = np.arange(6, dtype=np.float32).reshape(2, 3)
        req = shim.InferRequest("m", [shim.InferInput("x", [2, 3], "FP32", data=x)], request_id="r1",
                                parameters={"p": 1})
        body, n = req.to_rest()
        self.assertIsNone(n)
        self.assertEqual(body, {"id": "r1", "parameters": {"p": 1},
                                "inputs": [{"name": "x", "shape": [2, 3], "datatype": "FP32",
                                            "data": [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]}]})
        t = shim.InferInput("x", [2, 3], "FP32")
        t.set_data_from_numpy(x, binary_data=True)
        s = shim.InferInput("s", [2], "BYTES")
        s.set_data_from_numpy(np.array([b"ab", b"c"], dtype=np.object_), binary_data=True)
        raw, n = shim.InferRequest("m", [t, s]).to_rest()
        self.assertIsInstance(raw, bytes)
        back = shim.InferRequest.from_bytes(raw, n, "m")
        np.testing.assert_array_equal(back.inputs[0].as_numpy(), x)
        self.assertEqual(back.inputs[1].as_string(), ["ab", "c"])
        self.assertEqual(back.get_input_by_name("s").shape, [2])

    def test_fp16_cannot_be_json(self):
        req = shim.InferRequest("m", [shim.InferInput("x", [1], "FP16", data=np.ones(1, dtype=np.float16))])
        with self.assertRaises(shim.InvalidInput):
            req.to_rest()

    def test_infer_response_rest_and_bytes(self):
        r = shim.InferResponse.from_rest({"id": "1", "model_name": "m", "outputs": [
            {"name": "y", "shape": [2], "datatype": "INT32", "data": [1, 2]}]})
        np.testing.assert_array_equal(r.outputs[0].as_numpy(), np.array([1, 2], dtype=np.int32))
        self.assertEqual(r.to_rest()["outputs"][0]["data"], [1, 2])
        with self.assertRaises(shim.InvalidInput):
            shim.InferResponse.from_rest({"outputs": [{"name": "y", "shape": [1], "datatype": "FP32"}]})
        head = json.dumps({"id": "1", "model_name": "m", "outputs": [
            {"name": "y", "shape": [2], "datatype": "FP32", "parameters": {"binary_data_size": 8}}]}).encode()
        r = shim.InferResponse.from_bytes(head + np.array([1.5, 2.5], dtype=np.float32).tobytes(), len(head))
        np.testing.assert_array_equal(r.get_output_by_name("y").as_numpy(), [1.5, 2.5])
        with self.assertRaises(shim.InvalidInput):  # binary_data_size past the end
            shim.InferResponse.from_bytes(head + b"\0", len(head))

    def test_validate_as_kserve(self):
        m = shim.Model("m", predictor_config=shim.PredictorConfig("h", "v1"))
        with self.assertRaises(shim.InvalidInput):
            m.validate({"instances": "x"})
        m2 = shim.Model("m", predictor_config=shim.PredictorConfig("h", "v2"))
        with self.assertRaises(shim.InvalidInput):
            m2.validate({"inputs": {}})
        self.assertEqual(m2.validate({"instances": "x"}), {"instances": "x"})

    def test_default_methods_are_awaitable_and_headers_flow(self):
        class T(shim.Model):
            def __init__(self):
                super().__init__("t", return_response_headers=True)
                self.ready = True

            async def preprocess(self, payload, headers=None):
                headers["request-type"] = "v1"  # the image sample writes into headers
                return await super().preprocess(payload, headers)

            def predict(self, payload, headers=None, response_headers=None):
                response_headers["x-a"] = "1"
                return {"seen": headers["request-type"], "x": payload["x"]}

        text, hs = shim.predict_v1_h(T(), '{"x": 3}', {"x-request-id": "r"})
        self.assertEqual(json.loads(text), {"seen": "v1", "x": 3})
        self.assertEqual(hs, [("x-a", "1")])

    def test_no_predictor_host_is_unimplemented(self):
        m = shim.Model("m", predictor_config=shim.PredictorConfig(None))
        m.ready = True
        with self.assertRaises(NotImplementedError) as cm:
            shim.predict_v1(m, "{}", {})
        self.assertEqual(shim.error_kind(cm.exception), "unimplemented")

    def test_old_style_attributes_are_honoured(self):
        class Old(shim.Model):
            def __init__(self, name, predictor_host, protocol):
                super().__init__(name)
                self.predictor_host = predictor_host  # KServe <= 0.10 transformers do this
                self.protocol = protocol

        m = Old("m", "h:9", "v2")
        self.assertEqual((m.predictor_host, m.protocol), ("h:9", "v2"))
        self.assertEqual(shim.Model("n", predictor_config=shim.PredictorConfig("c:1", "v1")).predictor_host, "c:1")

    def test_unserializable_answer_names_the_reason(self):
        class M(shim.Model):
            def predict(self, payload, headers=None):
                return {"x": object()}
        m = M("m")
        m.ready = True
        with self.assertRaises(shim.InferenceError) as cm:
            shim.predict_v1(m, "{}", {})
        self.assertIn("cannot be serialized", str(cm.exception))

    def test_explain_is_registered_only_when_defined(self):
        class E(shim.Model):
            def explain(self, payload, headers=None):
                return {"explanations": payload["instances"]}
        self.assertTrue(shim.has_own_explain(E("e")))
        self.assertFalse(shim.has_own_explain(shim.Model("m")))
        e = E("e")
        e.ready = True
        self.assertEqual(json.loads(shim.explain_v1(e, '{"instances": [1]}', {})[0]), {"explanations": [1]})


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

    def test_start_registers_ready_models_and_raises_no_model_ready_as_kserve(self):
        started = []

        class NotReady(shim.Model):
            def start(self):
                started.append(self.name)

        del shim.registered[:]
        shim.ModelServer().start([Doubler("ok"), NotReady("late")])  # KServe leaves the one not ready out
        self.assertEqual([m.name for m in shim.registered], ["ok"])
        self.assertEqual(started, ["late"])  # start() is called on every model, as KServe does
        with self.assertRaises(shim.NoModelReady) as cm:
            shim.ModelServer().start([NotReady("m1")])
        self.assertEqual(str(cm.exception), "Model with name m1 is not ready.")
        self.assertEqual([m.name for m in cm.exception.models], ["m1"])
        with self.assertRaises(shim.NoModelReady) as cm:
            shim.ModelServer().start([NotReady("m1"), NotReady("m2")])
        self.assertEqual(str(cm.exception), "Models with names m1,m2 are not ready.")
        self.assertEqual(str(shim.NoModelReady([NotReady("x")], "the weights are missing")),
                         "Model with name x is not ready. the weights are missing")
        self.assertEqual([m.name for m in shim.registered], ["ok"])
        shim.ModelServer().start([])  # an empty list is not an error (KServe: `if ... and models`)


if __name__ == "__main__":
    unittest.main()
