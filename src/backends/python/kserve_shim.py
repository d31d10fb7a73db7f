"""inferd's stand-in for the part of KServe's Python API that a custom model uses.

A user's model.py written for KServe (a kserve.Model subclass started with
kserve.ModelServer().start([model])) runs unchanged inside inferd: ModelServer.start registers the
models with inferd instead of starting a web server, and inferd calls the models' methods for V1 and V2
requests. When the real kserve package is importable, its classes are used and only
ModelServer.start is redirected.
"""
import argparse
import asyncio
import inspect
import json
import logging
import sys
import threading
import types
import uuid

import numpy as np

registered = []

# ---- errors ----------------------------------------------------------------------------------------


class InferenceError(RuntimeError):
    def __init__(self, reason, status=None, debug_details=None):
        super().__init__(reason)
        self.reason = reason
        self.status = status
        self.debug_details = debug_details


class InvalidInput(ValueError):
    def __init__(self, reason):
        super().__init__(reason)
        self.reason = reason


class ModelNotFound(Exception):
    def __init__(self, model_name=None):
        super().__init__("Model with name %s does not exist." % model_name)
        self.reason = str(self)


class ModelNotReady(RuntimeError):
    def __init__(self, model_name, detail=None):
        super().__init__("Model with name %s is not ready." % model_name)
        self.reason = str(self)


class UnsupportedProtocol(Exception):
    def __init__(self, protocol_version=None):
        super().__init__("Unsupported protocol %s" % protocol_version)
        self.reason = str(self)


# ---- tensors -------------------------------------------------------------------------------------

_V2_TO_NP = {"BOOL": np.bool_, "UINT8": np.uint8, "UINT16": np.uint16, "UINT32": np.uint32, "UINT64": np.uint64,
             "INT8": np.int8, "INT16": np.int16, "INT32": np.int32, "INT64": np.int64, "FP16": np.float16,
             "FP32": np.float32, "FP64": np.float64, "BYTES": np.object_}


def from_np_dtype(dtype):
    dtype = np.dtype(dtype)
    for name, t in _V2_TO_NP.items():
        if name != "BYTES" and np.dtype(t) == dtype:
            return name
    if dtype.kind in "OSU":
        return "BYTES"
    return None


def to_np_dtype(datatype):
    return _V2_TO_NP.get(datatype)


class _Tensor:
    def __init__(self, name, shape, datatype, data=None, parameters=None):
        self._name = name
        self._shape = list(shape)
        self._datatype = datatype
        self._data = data
        self._parameters = parameters if parameters is not None else {}

    @property
    def name(self):
        return self._name

    @property
    def shape(self):
        return self._shape

    @shape.setter
    def shape(self, value):
        self._shape = list(value)

    @property
    def datatype(self):
        return self._datatype

    @property
    def data(self):
        return self._data

    @property
    def parameters(self):
        return self._parameters

    def set_shape(self, shape):
        self._shape = list(shape)

    def as_numpy(self):
        if isinstance(self._data, np.ndarray):
            return self._data
        dtype = to_np_dtype(self._datatype)
        if dtype is None:
            raise InvalidInput("invalid datatype %s in the input %s" % (self._datatype, self._name))
        return np.array(self._data, dtype=dtype).reshape(self._shape)

    def set_data_from_numpy(self, input_tensor, binary_data=True):
        if not isinstance(input_tensor, np.ndarray):
            raise InferenceError("input_tensor must be a numpy array")
        dt = from_np_dtype(input_tensor.dtype)
        if dt is None:
            raise InferenceError("cannot map numpy dtype %s to a V2 datatype" % input_tensor.dtype)
        self._datatype = dt
        self._shape = list(input_tensor.shape)
        self._data = input_tensor

    def __repr__(self):
        return "%s(name=%r, shape=%r, datatype=%r)" % (type(self).__name__, self._name, self._shape, self._datatype)


class InferInput(_Tensor):
    pass


class InferOutput(_Tensor):
    pass


class InferRequest:
    def __init__(self, model_name, infer_inputs, request_id=None, raw_inputs=None, from_grpc=False,
                 parameters=None, request_output=None, model_version=None):
        self.id = request_id
        self.model_name = model_name
        self.model_version = model_version
        self.inputs = infer_inputs
        self.parameters = parameters if parameters is not None else {}
        self.from_grpc = from_grpc
        self.request_outputs = request_output

    def get_input_by_name(self, name):
        for i in self.inputs:
            if i.name == name:
                return i
        return None

    def __repr__(self):
        return "InferRequest(model_name=%r, id=%r, inputs=%r)" % (self.model_name, self.id, self.inputs)


class InferResponse:
    def __init__(self, response_id, model_name, infer_outputs, model_version=None, raw_outputs=None,
                 from_grpc=False, parameters=None):
        self.id = response_id
        self.model_name = model_name
        self.model_version = model_version
        self.outputs = infer_outputs
        self.parameters = parameters if parameters is not None else {}
        self.from_grpc = from_grpc

    def get_output_by_name(self, name):
        for o in self.outputs:
            if o.name == name:
                return o
        return None


# ---- models and the server ---------------------------------------------------------------------------


class PredictorConfig:
    def __init__(self, predictor_host=None, predictor_protocol="v1", predictor_use_ssl=False,
                 predictor_request_timeout_seconds=600, **kwargs):
        self.predictor_host = predictor_host
        self.predictor_protocol = predictor_protocol
        self.predictor_use_ssl = predictor_use_ssl
        self.predictor_request_timeout_seconds = predictor_request_timeout_seconds


class BaseKServeModel:
    def __init__(self, name):
        self.name = name
        self.ready = False

    def load(self):
        self.ready = True
        return self.ready

    def start(self):
        pass

    def stop(self):
        pass

    def healthy(self):
        return self.ready


class Model(BaseKServeModel):
    def __init__(self, name, predictor_config=None, return_response_headers=False):
        super().__init__(name)
        self.protocol = getattr(predictor_config, "predictor_protocol", "v1") or "v1"
        self.predictor_host = getattr(predictor_config, "predictor_host", None)
        self.timeout = getattr(predictor_config, "predictor_request_timeout_seconds", 600)
        self.explainer_host = None
        self.return_response_headers = return_response_headers

    def get_input_types(self):
        return []

    def get_output_types(self):
        return []

    def preprocess(self, payload, headers=None):
        return payload

    def predict(self, payload, headers=None):
        raise NotImplementedError("predict is not implemented")

    def postprocess(self, result, headers=None, response_headers=None):
        return result

    def explain(self, payload, headers=None):
        raise NotImplementedError("explain is not implemented")


class ModelRepository:
    def __init__(self, models_dir=None):
        self.models = {}

    def update(self, model):
        self.models[model.name] = model

    def get_model(self, name):
        return self.models.get(name)


class ModelServer:
    """Registers models with inferd; inferd's own front ends serve them."""

    def __init__(self, http_port=8080, grpc_port=8081, workers=1, max_threads=None, max_asyncio_workers=None,
                 registered_models=None, enable_grpc=True, enable_docs_url=False, enable_latency_logging=True,
                 access_log_format=None, grace_period=30, **kwargs):
        self.registered_models = registered_models if registered_models is not None else ModelRepository()

    def register_model(self, model):
        if not getattr(model, "name", None):
            raise Exception("Failed to register model, model.name must be provided.")
        self.registered_models.update(model)
        register(model)

    def start(self, models, **kwargs):
        for m in models:
            self.register_model(m)


def register(model):
    for i, m in enumerate(registered):
        if m.name == model.name:
            registered[i] = model
            return
    registered.append(model)


def _make_parser():
    p = argparse.ArgumentParser(add_help=False)
    p.add_argument("--http_port", default=8080, type=int)
    p.add_argument("--grpc_port", default=8081, type=int)
    p.add_argument("--workers", default=1, type=int)
    p.add_argument("--max_threads", default=4, type=int)
    p.add_argument("--max_asyncio_workers", default=None, type=int)
    p.add_argument("--enable_grpc", default=True, type=lambda v: str(v).lower() in ("1", "true", "yes"))
    p.add_argument("--enable_docs_url", default=False, type=lambda v: str(v).lower() in ("1", "true", "yes"))
    p.add_argument("--enable_latency_logging", default=True, type=lambda v: str(v).lower() in ("1", "true", "yes"))
    p.add_argument("--configure_logging", default=True, type=lambda v: str(v).lower() in ("1", "true", "yes"))
    p.add_argument("--log_config_file", default=None, type=str)
    p.add_argument("--access_log_format", default=None, type=str)
    p.add_argument("--model_name", default="model", type=str)
    p.add_argument("--model_dir", default="/mnt/models", type=str)
    p.add_argument("--predictor_host", default=None, type=str)
    p.add_argument("--protocol", "--predictor_protocol", default="v1", type=str)
    return p


parser = _make_parser()
logger = logging.getLogger("kserve")


# ---- what inferd calls --------------------------------------------------------------------------------

_local = threading.local()


def _await(value):
    if not inspect.isawaitable(value):
        return value
    loop = getattr(_local, "loop", None)
    if loop is None:
        loop = _local.loop = asyncio.new_event_loop()
    return loop.run_until_complete(value)


def _call(method, arg, headers):
    try:
        n = len([p for p in inspect.signature(method).parameters.values()
                 if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD, p.VAR_POSITIONAL)])
    except (TypeError, ValueError):
        n = 2
    return _await(method(arg, headers) if n >= 2 else method(arg))


def run_model(model, payload, headers):
    """KServe's order: preprocess, predict, postprocess (each may be a coroutine)."""
    headers = headers if headers is not None else {}
    if not getattr(model, "ready", False):
        raise ModelNotReady(model.name)
    x = _call(model.preprocess, payload, headers)
    y = _call(model.predict, x, headers)
    return _call(model.postprocess, y, headers)


def _json_default(o):
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, bytes):
        return o.decode("utf-8", "replace")
    raise TypeError("%s is not JSON serializable" % type(o).__name__)


def predict_v1(model, body, headers):
    """A V1 body (JSON text) in, the JSON text of the model's answer out."""
    try:
        payload = json.loads(body)
    except ValueError as e:
        raise InvalidInput("request body: malformed JSON: %s" % e)
    result = run_model(model, payload, headers)
    if isinstance(result, InferResponse):
        raise InferenceError("the model returned an InferResponse to a V1 request")
    return json.dumps(result, default=_json_default, separators=(",", ":"))


def predict_v2(model, request_id, model_name, names, arrays, parameters, headers):
    """V2 inputs (numpy arrays) in; [(name, array)] out."""
    inputs = []
    for name, arr in zip(names, arrays):
        inputs.append(InferInput(name, list(arr.shape), from_np_dtype(arr.dtype) or "BYTES", arr))
    req = InferRequest(model_name, inputs, request_id=request_id, parameters=parameters)
    result = run_model(model, req, headers)
    if isinstance(result, InferResponse):
        outs = result.outputs
    elif isinstance(result, (list, tuple)) and all(isinstance(o, _Tensor) for o in result):
        outs = result
    elif isinstance(result, np.ndarray):
        outs = [InferOutput("output-0", list(result.shape), from_np_dtype(result.dtype), result)]
    else:
        raise InferenceError("predict returned %s to a V2 request; return an InferResponse" % type(result).__name__)
    return [(o.name, o.as_numpy()) for o in outs]


def error_kind(exc):
    """How inferd maps a model's exception to a status: 'invalid' (400), 'not_ready' (503),
    'unimplemented' (501), or 'internal' (500)."""
    if isinstance(exc, InvalidInput):
        return "invalid"
    if isinstance(exc, ModelNotReady):
        return "not_ready"
    if isinstance(exc, NotImplementedError):
        return "unimplemented"
    return "internal"


# ---- the module layout users import ------------------------------------------------------------------

def install():
    """Makes `import kserve` work: this module's classes when KServe is not installed, the real ones
    otherwise, with ModelServer.start redirected to inferd's registration either way."""
    try:
        import kserve as real  # noqa: F401
        have_real = not getattr(real, "__inferd_shim__", False)
    except ImportError:
        have_real = False
    if have_real:
        import kserve as real

        def start(self, models, **kwargs):
            for m in models:
                register(m)

        real.ModelServer.start = start
        return "kserve (installed), ModelServer.start served by inferd"
    pkg = types.ModuleType("kserve")
    pkg.__inferd_shim__ = True
    pkg.__path__ = []
    subs = {}
    for sub in ("model", "model_server", "errors", "protocol", "protocol.infer_type", "logging", "model_repository"):
        m = types.ModuleType("kserve." + sub)
        subs[sub] = m
        sys.modules["kserve." + sub] = m
    names = dict(Model=Model, BaseKServeModel=BaseKServeModel, PredictorConfig=PredictorConfig,
                 ModelServer=ModelServer, ModelRepository=ModelRepository, InferRequest=InferRequest,
                 InferResponse=InferResponse, InferInput=InferInput, InferOutput=InferOutput,
                 InvalidInput=InvalidInput, InferenceError=InferenceError, ModelNotFound=ModelNotFound,
                 ModelNotReady=ModelNotReady, UnsupportedProtocol=UnsupportedProtocol, parser=parser,
                 logger=logger)
    for k, v in names.items():
        setattr(pkg, k, v)
    for k in ("Model", "BaseKServeModel", "PredictorConfig"):
        setattr(subs["model"], k, names[k])
    for k in ("ModelServer", "parser"):
        setattr(subs["model_server"], k, names[k])
    for k in ("InvalidInput", "InferenceError", "ModelNotFound", "ModelNotReady", "UnsupportedProtocol"):
        setattr(subs["errors"], k, names[k])
    for k in ("InferRequest", "InferResponse", "InferInput", "InferOutput"):
        setattr(subs["protocol.infer_type"], k, names[k])
    subs["protocol"].infer_type = subs["protocol.infer_type"]
    subs["logging"].logger = logger
    subs["model_repository"].ModelRepository = ModelRepository
    for sub, m in subs.items():
        if "." not in sub:
            setattr(pkg, sub, m)
    sys.modules["kserve"] = pkg
    return "kserve (inferd's stand-in)"
