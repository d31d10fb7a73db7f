"""inferd's stand-in for the part of KServe's Python API that custom models and transformers use.

A user's model.py or transformer written for KServe (a kserve.Model subclass started with
kserve.ModelServer().start([model])) runs unchanged inside inferd: ModelServer.start registers the
models with inferd instead of starting a web server, and inferd calls the models' methods for V1 and V2
requests. A model's default predict() calls its predictor (--predictor_host) through inferd's native
client (the builtin module _inferd_native, pipeline/predictor_client.h), or, in-process, the native model
of the same name. When the real kserve package is importable, its classes are used and only
ModelServer.start is redirected. What is and is not covered: docs/pipeline.md.
"""
import argparse
import asyncio
import base64
import enum
import inspect
import json
import logging as _pylogging
import os
import struct
import sys
import threading
import types
import uuid

import numpy as np

registered = []

# ---- errors (kserve.errors) ---------------------------------------------------------------------------


class InferenceError(RuntimeError):
    def __init__(self, reason, status=None, debug_details=None):
        super().__init__(reason)
        self.reason = reason
        self.status = status
        self.debug_details = debug_details

    def __str__(self):
        return self.reason


class InvalidInput(ValueError):
    def __init__(self, reason):
        super().__init__(reason)
        self.reason = reason

    def __str__(self):
        return self.reason


class ModelNotFound(Exception):
    def __init__(self, model_name=None):
        super().__init__("Model with name %s does not exist." % model_name)
        self.reason = str(self)


class ModelNotReady(RuntimeError):
    def __init__(self, model_name, detail=None):
        msg = "Model with name %s is not ready." % model_name
        if detail:
            msg += " " + str(detail)
        super().__init__(msg)
        self.reason = msg


class ServerNotReady(RuntimeError):
    def __init__(self, detail=None):
        super().__init__("Server is not ready. %s" % (detail or ""))
        self.reason = str(self)


class ServerNotLive(RuntimeError):
    def __init__(self, detail=None):
        super().__init__("Server is not live. %s" % (detail or ""))
        self.reason = str(self)


class UnsupportedProtocol(Exception):
    def __init__(self, protocol_version=None):
        super().__init__("Unsupported protocol %s" % protocol_version)
        self.reason = str(self)


class NoModelReady(RuntimeError):
    """KServe's: raised by ModelServer.start when none of the models it is given is ready."""

    def __init__(self, models, detail=None):
        super().__init__()
        self.models = models
        self.detail = detail

    def __str__(self):
        names = [getattr(m, "name", "?") for m in self.models]
        msg = "Model with name %s is not ready." % names[0] if len(names) == 1 else \
            "Models with names %s are not ready." % ",".join(names)
        return msg + " " + self.detail if self.detail else msg

    @property
    def reason(self):
        return str(self)


# The predictor call's failures, named as KServe's httpx / grpc exceptions are (pipeline.md §1.5).
class ModelInferRequest:
    """KServe's gRPC V2 request message type (kserve.model imports it from the generated protobuf module; models
    name it in type hints). inferd hands a model's predict an InferRequest for every V2 request, REST and gRPC
    alike, never this type."""


class HTTPStatusError(Exception):
    pass


class ConnectError(Exception):
    pass


class ReadTimeout(Exception):
    pass


class ResponseTooLarge(Exception):
    pass


class AioRpcError(Exception):
    pass


_PREDICTOR_ERRORS = {c.__name__: c for c in (HTTPStatusError, ConnectError, ReadTimeout, ResponseTooLarge,
                                               AioRpcError)}


def _raise_predictor_error(exc):
    kind, _, detail = str(exc).partition(" : ")
    cls = {"InvalidInput": InvalidInput, "InferenceError": InferenceError}.get(kind) or _PREDICTOR_ERRORS.get(kind)
    if cls is None:
        raise InferenceError(str(exc))
    raise cls(detail) from None


# ---- tensors (kserve.protocol.infer_type) --------------------------------------------------------------

_V2_TO_NP = {"BOOL": np.bool_, "UINT8": np.uint8, "UINT16": np.uint16, "UINT32": np.uint32, "UINT64": np.uint64,
             "INT8": np.int8, "INT16": np.int16, "INT32": np.int32, "INT64": np.int64, "FP16": np.float16,
             "FP32": np.float32, "FP64": np.float64, "BYTES": np.object_}


_NP_TO_V2 = {np.dtype(t): name for name, t in _V2_TO_NP.items() if name != "BYTES"}


def from_np_dtype(dtype):
    dtype = np.dtype(dtype)
    name = _NP_TO_V2.get(dtype)  # one lookup per tensor (a loop building dtypes cost about 4 us)
    if name is not None:
        return name
    if dtype.kind in "OSU":
        return "BYTES"
    return None


def to_np_dtype(datatype):
    return _V2_TO_NP.get(datatype)


def _serialize_bytes(arr):
    """BYTES elements as the V2 binary form: each a 4-byte little-endian length and the bytes."""
    out = []
    for v in np.asarray(arr, dtype=np.object_).reshape(-1):
        b = v.encode("utf-8") if isinstance(v, str) else bytes(v)
        out.append(struct.pack("<I", len(b)))
        out.append(b)
    return b"".join(out)


def _deserialize_bytes(raw):
    items, i, n = [], 0, len(raw)
    while i + 4 <= n:
        (ln,) = struct.unpack_from("<I", raw, i)
        i += 4
        if i + ln > n:
            raise InvalidInput("BYTES tensor: element of %d bytes past the end of the data" % ln)
        items.append(bytes(raw[i:i + ln]))
        i += ln
    return np.array(items, dtype=np.object_)


def _raw_to_numpy(raw, datatype, shape):
    if datatype == "BYTES":
        arr = _deserialize_bytes(raw)
    else:
        dtype = to_np_dtype(datatype)
        if dtype is None:
            raise InvalidInput("invalid datatype %s" % datatype)
        arr = np.frombuffer(raw, dtype=dtype)
    try:
        return arr.reshape(shape)
    except ValueError:
        raise InvalidInput("data of %d elements does not fit shape %s" % (arr.size, list(shape)))


def _to_raw(arr, datatype):
    if datatype == "BYTES":
        return _serialize_bytes(arr)
    dtype = to_np_dtype(datatype)
    return np.ascontiguousarray(np.asarray(arr, dtype=dtype)).tobytes()


def _json_data(data, datatype):
    """Tensor data as JSON-ready flat list (KServe writes ndarray data with tolist())."""
    if isinstance(data, np.ndarray):
        if datatype == "FP16":
            raise InvalidInput("FP16 data cannot be sent as JSON; use binary data")
        if data.dtype == np.object_ or datatype == "BYTES":
            return [v.decode("utf-8", "replace") if isinstance(v, (bytes, np.bytes_)) else v
                    for v in data.reshape(-1).tolist()]
        return data.reshape(-1).tolist()
    if isinstance(data, (list, tuple)):
        if datatype == "BYTES":
            return [v.decode("utf-8", "replace") if isinstance(v, bytes) else v for v in data]
        return list(data)
    return data


class _Tensor:
    def __init__(self, name, shape, datatype, data=None, parameters=None):
        self._name = name
        self._shape = list(shape) if shape is not None else []
        self._datatype = datatype.upper() if isinstance(datatype, str) else datatype
        self._parameters = parameters if parameters is not None else {}
        self._raw_data = None
        self._data = data

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

    @data.setter
    def data(self, value):
        self._data = value
        self._raw_data = None

    @property
    def parameters(self):
        return self._parameters

    @parameters.setter
    def parameters(self, value):
        self._parameters = value if value is not None else {}

    def set_shape(self, shape):
        self._shape = list(shape)

    def as_numpy(self):
        if self._raw_data is not None:
            return _raw_to_numpy(self._raw_data, self._datatype, self._shape)
        if isinstance(self._data, np.ndarray):
            if self._shape and list(self._data.shape) != list(self._shape):
                try:
                    return self._data.reshape(self._shape)
                except ValueError:
                    pass
            return self._data
        dtype = to_np_dtype(self._datatype)
        if dtype is None:
            raise InvalidInput("invalid datatype %s in the input %s" % (self._datatype, self._name))
        try:
            return np.array(self._data, dtype=dtype).reshape(self._shape)
        except ValueError as e:
            raise InvalidInput("tensor %s: %s" % (self._name, e))

    def as_string(self):
        if self._datatype != "BYTES":
            raise InvalidInput("as_string: tensor %s has datatype %s, not BYTES" % (self._name, self._datatype))
        return [v.decode("utf-8") if isinstance(v, (bytes, np.bytes_)) else str(v)
                for v in np.asarray(self.as_numpy(), dtype=np.object_).reshape(-1)]

    def set_data_from_numpy(self, input_tensor, binary_data=True):
        if not isinstance(input_tensor, np.ndarray):
            raise InferenceError("input_tensor must be a numpy array")
        dt = from_np_dtype(input_tensor.dtype)
        if dt is None:
            raise InferenceError("cannot map numpy dtype %s to a V2 datatype" % input_tensor.dtype)
        self._datatype = dt
        self._shape = list(input_tensor.shape)
        self._data = input_tensor
        self._raw_data = None
        if binary_data:
            self._parameters = dict(self._parameters or {})
            self._parameters["binary_data_size"] = len(_to_raw(input_tensor, dt))
        elif self._parameters:
            self._parameters.pop("binary_data_size", None)

    def _binary(self):
        return self._raw_data is not None or (self._parameters or {}).get("binary_data_size") is not None

    def _raw(self):
        if self._raw_data is not None:
            return bytes(self._raw_data)
        return _to_raw(self.as_numpy(), self._datatype)

    def to_dict(self):
        d = {"name": self._name, "shape": list(self._shape), "datatype": self._datatype}
        params = dict(self._parameters or {})
        if self._binary():
            params.pop("binary_data_size", None)
        else:
            d["data"] = _json_data(self._data, self._datatype)
        if params:
            d["parameters"] = params
        return d

    def __eq__(self, other):
        if not isinstance(other, _Tensor):
            return NotImplemented
        return (self._name, self._shape, self._datatype) == (other._name, other._shape, other._datatype) and \
            np.array_equal(self.as_numpy(), other.as_numpy())

    __hash__ = None

    def __repr__(self):
        return "%s(name=%r, shape=%r, datatype=%r)" % (type(self).__name__, self._name, self._shape, self._datatype)


class InferInput(_Tensor):
    pass


class InferOutput(_Tensor):
    pass


class RequestedOutput:
    def __init__(self, name, parameters=None):
        self.name = name
        self.parameters = parameters if parameters is not None else {}

    @property
    def binary_data(self):
        return bool(self.parameters.get("binary_data", False))

    def to_dict(self):
        d = {"name": self.name}
        if self.parameters:
            d["parameters"] = dict(self.parameters)
        return d


def _tensors_from_json(items, cls, raw, offset):
    """Tensors of a V2 JSON head; binary data (parameters.binary_data_size) read from `raw` at `offset`."""
    out = []
    for item in items or []:
        if not isinstance(item, dict) or "name" not in item:
            raise InvalidInput("every tensor needs a name")
        params = dict(item.get("parameters") or {})
        t = cls(item["name"], item.get("shape", []), item.get("datatype", ""), item.get("data"), params)
        size = params.get("binary_data_size")
        if size is not None:
            size = int(size)
            if offset + size > len(raw):
                raise InvalidInput("tensor %s: binary_data_size %d past the end of the body" % (t.name, size))
            t._raw_data = raw[offset:offset + size]
            t._data = None
            offset += size
        elif "data" not in item:
            raise InvalidInput("tensor %s has no data" % t.name)
        out.append(t)
    return out, offset


class InferRequest:
    def __init__(self, model_name, infer_inputs, request_id=None, raw_inputs=None, from_grpc=False,
                 parameters=None, request_outputs=None, model_version=None, request_output=None):
        self.id = request_id
        self.model_name = model_name
        self.model_version = model_version
        self.inputs = infer_inputs if infer_inputs is not None else []
        self.parameters = parameters if parameters is not None else {}
        self.from_grpc = from_grpc
        self.request_outputs = request_outputs if request_outputs is not None else request_output
        if raw_inputs:
            for t, raw in zip(self.inputs, raw_inputs):
                t._raw_data = raw
        self._use_binary_outputs = bool(self.parameters.get("binary_data_output", False)) or bool(
            self.request_outputs) and any(o.binary_data for o in self.request_outputs if isinstance(o, RequestedOutput))

    @property
    def use_binary_outputs(self):
        return self._use_binary_outputs

    def get_input_by_name(self, name):
        for i in self.inputs:
            if i.name == name:
                return i
        return None

    @classmethod
    def from_bytes(cls, req_bytes, json_length, model_name):
        try:
            head = json.loads(req_bytes[:json_length])
        except ValueError as e:
            raise InvalidInput("Unrecognized request format: %s" % e)
        if not isinstance(head, dict):
            raise InvalidInput("Unrecognized request format: the request is not a JSON object")
        inputs, _ = _tensors_from_json(head.get("inputs"), InferInput, req_bytes, json_length)
        outs = [RequestedOutput(o.get("name"), o.get("parameters")) for o in head.get("outputs") or []]
        return cls(model_name, inputs, request_id=head.get("id"), parameters=head.get("parameters"),
                   request_outputs=outs or None)

    @classmethod
    def from_inference_request(cls, request, model_name):
        inputs = [InferInput(i.name, i.shape, i.datatype, i.data, getattr(i, "parameters", None))
                  for i in request.inputs]
        return cls(model_name, inputs, request_id=getattr(request, "id", None),
                   parameters=getattr(request, "parameters", None))

    def to_rest(self):
        """(dict, None), or (bytes, json_length) when any input carries binary data."""
        binary = any(t._binary() for t in self.inputs)
        head = {"id": self.id if self.id else str(uuid.uuid4()), "inputs": [t.to_dict() for t in self.inputs]}
        if self.parameters:
            head["parameters"] = dict(self.parameters)
        if self.request_outputs:
            head["outputs"] = [o.to_dict() if isinstance(o, RequestedOutput) else o for o in self.request_outputs]
        if not binary:
            return head, None
        raws = []
        for t, d in zip(self.inputs, head["inputs"]):
            if t._binary():
                raw = t._raw()
                d.setdefault("parameters", {})["binary_data_size"] = len(raw)
                raws.append(raw)
        js = _ENCODER.encode(head).encode()
        return js + b"".join(raws), len(js)

    def as_dataframe(self):
        import pandas as pd
        cols = {}
        for t in self.inputs:
            a = t.as_numpy()
            cols[t.name] = a.reshape(-1) if a.ndim <= 1 or a.shape[-1] == 1 else list(a.reshape(a.shape[0], -1))
        return pd.DataFrame(cols)

    def __eq__(self, other):
        if not isinstance(other, InferRequest):
            return NotImplemented
        return (self.model_name, self.id, self.parameters) == (other.model_name, other.id, other.parameters) and \
            self.inputs == other.inputs

    __hash__ = None

    def __repr__(self):
        return "InferRequest(model_name=%r, id=%r, inputs=%r)" % (self.model_name, self.id, self.inputs)


class InferResponse:
    def __init__(self, response_id, model_name, infer_outputs, model_version=None, raw_outputs=None,
                 from_grpc=False, parameters=None, use_binary_outputs=False, requested_outputs=None):
        self.id = response_id
        self.model_name = model_name
        self.model_version = model_version
        self.outputs = infer_outputs if infer_outputs is not None else []
        self.parameters = parameters if parameters is not None else {}
        self.from_grpc = from_grpc
        self.use_binary_outputs = use_binary_outputs
        self.requested_outputs = requested_outputs
        if raw_outputs:
            for t, raw in zip(self.outputs, raw_outputs):
                t._raw_data = raw

    def get_output_by_name(self, name):
        for o in self.outputs:
            if o.name == name:
                return o
        return None

    @classmethod
    def from_rest(cls, response):
        if not isinstance(response, dict):
            raise InvalidInput("InferResponse.from_rest: expected a dict")
        outs = []
        for o in response.get("outputs") or []:
            if "data" not in o:
                raise InvalidInput("output %s has no data" % o.get("name"))
            outs.append(InferOutput(o["name"], o.get("shape", []), o.get("datatype", ""), o["data"],
                                    o.get("parameters")))
        return cls(response.get("id"), response.get("model_name"), outs, model_version=response.get("model_version"),
                   parameters=response.get("parameters"))

    @classmethod
    def from_bytes(cls, response, json_length):
        try:
            head = json.loads(response[:json_length])
        except ValueError as e:
            raise InferenceError("the predictor's answer is not JSON: %s" % e)
        if not isinstance(head, dict):
            raise InferenceError("the predictor's answer is not a JSON object")
        outs, _ = _tensors_from_json(head.get("outputs"), InferOutput, response, json_length)
        return cls(head.get("id"), head.get("model_name"), outs, model_version=head.get("model_version"),
                   parameters=head.get("parameters"))

    def to_rest(self):
        d = {"id": self.id, "model_name": self.model_name, "model_version": self.model_version,
             "outputs": [o.to_dict() for o in self.outputs]}
        if self.parameters:
            d["parameters"] = dict(self.parameters)
        return d

    def __eq__(self, other):
        if not isinstance(other, InferResponse):
            return NotImplemented
        return (self.id, self.model_name) == (other.id, other.model_name) and self.outputs == other.outputs

    __hash__ = None

    def __repr__(self):
        return "InferResponse(model_name=%r, id=%r, outputs=%r)" % (self.model_name, self.id, self.outputs)


# ---- configuration (kserve.model_server.parser, PredictorConfig) ----------------------------------------


class PredictorProtocol(enum.Enum):
    REST_V1 = "v1"
    REST_V2 = "v2"
    GRPC_V2 = "grpc-v2"


class InferenceVerb(enum.Enum):
    EXPLAIN = 1
    PREDICT = 2


def _strtobool(v):
    s = str(v).strip().lower()
    if s in ("y", "yes", "t", "true", "on", "1"):
        return True
    if s in ("n", "no", "f", "false", "off", "0"):
        return False
    raise argparse.ArgumentTypeError("invalid truth value %r" % (v,))


def _make_parser():
    """KServe's parent parser (python/kserve/kserve/model_server.py), flag for flag."""
    p = argparse.ArgumentParser(add_help=False)
    p.add_argument("--http_port", default=8080, type=int, help="The HTTP Port listened to by the model server.")
    p.add_argument("--grpc_port", default=8081, type=int, help="The GRPC Port listened to by the model server.")
    p.add_argument("--workers", default=1, type=int)
    p.add_argument("--max_threads", default=4, type=int)
    p.add_argument("--max_asyncio_workers", default=None, type=int)
    p.add_argument("--enable_grpc", default=True, type=_strtobool)
    p.add_argument("--enable_docs_url", default=False, type=_strtobool)
    p.add_argument("--enable_latency_logging", default=True, type=_strtobool)
    p.add_argument("--configure_logging", default=True, type=_strtobool)
    p.add_argument("--log_config_file", default=None, type=str)
    p.add_argument("--access_log_format", default=None, type=str)
    p.add_argument("--event-loop", default="auto")
    p.add_argument("--timeout-keep-alive", default=65, type=int)
    p.add_argument("--model_name", default="model", type=str)
    p.add_argument("--predictor_host", default=None, type=str)
    p.add_argument("--protocol", default="v1", type=str)
    p.add_argument("--predictor_protocol", default="v1", type=str)
    p.add_argument("--predictor_use_ssl", default=False, type=_strtobool)
    p.add_argument("--predictor_request_timeout_seconds", default=600, type=int)
    p.add_argument("--grpc_max_send_message_length", default=8388608, type=int)
    p.add_argument("--grpc_max_receive_message_length", default=8388608, type=int)
    p.add_argument("--predictor_request_retries", default=0, type=int)
    p.add_argument("--enable_predictor_health_check", action="store_true")
    return p


parser = _make_parser()
args, _unknown = parser.parse_known_args()


def _given(flag, argv=None):
    argv = sys.argv[1:] if argv is None else argv
    return any(a == flag or a.startswith(flag + "=") for a in argv)


def predictor_protocol_from(parsed, argv=None, environ=None):
    """inferd's precedence (docs/pipeline.md): --predictor_protocol when given, else --protocol when given,
    else a PROTOCOL env of v1 / v2 / grpc-v2, else v1. (KServe itself reads only --predictor_protocol.)"""
    environ = os.environ if environ is None else environ
    if _given("--predictor_protocol", argv):
        return parsed.predictor_protocol
    if _given("--protocol", argv):
        return parsed.protocol
    env = environ.get("PROTOCOL", "")
    if env in ("v1", "v2", "grpc-v2"):
        return env
    return getattr(parsed, "predictor_protocol", "v1") or "v1"


class PredictorConfig:
    def __init__(self, predictor_host=None, predictor_protocol="v1", predictor_use_ssl=False,
                 predictor_request_timeout_seconds=600, predictor_request_retries=0, predictor_health_check=False):
        self._predictor_host = predictor_host
        self._predictor_protocol = predictor_protocol
        self._predictor_use_ssl = predictor_use_ssl
        self._predictor_request_timeout_seconds = predictor_request_timeout_seconds
        self._predictor_request_retries = predictor_request_retries
        self._predictor_health_check = predictor_health_check

    predictor_host = property(lambda self: self._predictor_host)
    predictor_protocol = property(lambda self: self._predictor_protocol)
    predictor_use_ssl = property(lambda self: self._predictor_use_ssl)
    predictor_request_timeout_seconds = property(lambda self: self._predictor_request_timeout_seconds)
    predictor_request_retries = property(lambda self: self._predictor_request_retries)
    predictor_health_check = property(lambda self: self._predictor_health_check)
    protocol = property(lambda self: self._predictor_protocol)
    use_ssl = property(lambda self: self._predictor_use_ssl)
    timeout = property(lambda self: self._predictor_request_timeout_seconds)
    retries = property(lambda self: self._predictor_request_retries)

    @property
    def predictor_base_url(self):
        return "%s://%s" % ("https" if self._predictor_use_ssl else "http", self._predictor_host)


def _config_from_args(parsed=None):
    parsed = args if parsed is None else parsed
    return PredictorConfig(parsed.predictor_host, predictor_protocol_from(parsed), parsed.predictor_use_ssl,
                           parsed.predictor_request_timeout_seconds, parsed.predictor_request_retries,
                           parsed.enable_predictor_health_check)


class _Context:
    """kserve.context: the process-wide PredictorConfig (ModelServer sets it; built from the flags
    when nothing did)."""

    def __init__(self):
        self._config = None

    def get_predictor_config(self):
        if self._config is None:
            self._config = _config_from_args()
        return self._config

    def set_predictor_config(self, config):
        self._config = config


context = _Context()


# ---- logging (kserve.logging) --------------------------------------------------------------------------

KSERVE_LOGGER_NAME = "kserve"
KSERVE_TRACE_LOGGER_NAME = "kserve.trace"
logger = _pylogging.getLogger(KSERVE_LOGGER_NAME)
trace_logger = _pylogging.getLogger(KSERVE_TRACE_LOGGER_NAME)


def configure_logging(log_config=None):
    """KServe's configure_logging: a dict or a JSON/YAML file for logging.config, else a plain handler on
    the kserve loggers (inferd's own log stays on stderr)."""
    import logging.config as _cfg
    if isinstance(log_config, dict):
        _cfg.dictConfig(log_config)
        return
    if log_config:
        with open(log_config) as f:
            text = f.read()
        if log_config.endswith((".yaml", ".yml")):
            import yaml
            _cfg.dictConfig(yaml.safe_load(text))
        else:
            _cfg.dictConfig(json.loads(text))
        return
    if not logger.handlers:
        h = _pylogging.StreamHandler()
        h.setFormatter(_pylogging.Formatter("%(asctime)s.%(msecs)03d %(process)s %(name)s %(levelname)s "
                                            "[%(funcName)s():%(lineno)s] %(message)s", "%Y-%m-%d %H:%M:%S"))
        logger.addHandler(h)
        logger.setLevel(_pylogging.INFO)


# ---- models --------------------------------------------------------------------------------------------

_FORWARDABLE_HEADERS = frozenset({"x-request-id", "x-b3-traceid", "authorization"})


class _Done:
    """An awaitable that is already done: the defaults below return it, so that both `await
    super().predict(...)` (KServe's methods are coroutines) and inferd's synchronous caller work without
    an event loop on the fast path."""
    __slots__ = ("value",)

    def __init__(self, value):
        self.value = value

    def __await__(self):
        return self.value
        yield  # noqa: makes __await__ a generator


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
        return _Done(self.ready)


class InferenceModel(BaseKServeModel):
    pass


_clients_lock = threading.Lock()
_clients = {}


_native_module = []


def _native():
    """The builtin module _inferd_native inside inferd; None under a plain python3 (the shim's tests)."""
    if not _native_module:
        try:
            import _inferd_native
            _native_module.append(_inferd_native)
        except ImportError:
            return None
    return _native_module[0]


def _predictor_client(cfg):
    key = (cfg.predictor_host, cfg.protocol, bool(cfg.use_ssl), float(cfg.timeout), int(cfg.retries or 0))
    c = _clients.get(key)
    if c is None:
        native = _native()
        if native is None:
            raise NotImplementedError("the predictor client needs inferd (module _inferd_native)")
        with _clients_lock:
            c = _clients.get(key)
            if c is None:
                try:
                    c = native.client(*key)
                except native.PredictorError as e:
                    raise InvalidInput(str(e))
                _clients[key] = c
    return c


def _forwardable(headers):
    if not headers:
        return None
    return {k: headers[k] for k in _FORWARDABLE_HEADERS if k in headers}


def _copy_response_headers(response_headers, pairs):
    if response_headers is None:
        return
    for k, v in pairs:
        if k != "content-length":
            response_headers[k] = v


_NO_VALUE = object()
_LIST_OR_ABSENT = frozenset({list, object})  # type(_NO_VALUE) is object


class Model(InferenceModel):
    def __init__(self, name, predictor_config=None, return_response_headers=False):
        super().__init__(name)
        self._predictor_config = predictor_config
        self.explainer_host = None
        self.enable_latency_logging = False
        self.required_response_headers = return_response_headers

    @property
    def return_response_headers(self):
        return self.required_response_headers

    @property
    def predictor_config(self):
        return self._predictor_config if self._predictor_config is not None else context.get_predictor_config()

    # Older transformers (KServe <= 0.10) assign self.predictor_host / self.protocol in __init__; KServe's
    # current Model ignores such attributes, inferd's default predict honours them.
    @property
    def predictor_host(self):
        if getattr(self, "_predictor_host_set", None) is not None:
            return self._predictor_host_set
        cfg = self.predictor_config
        return cfg.predictor_host if cfg is not None else None

    @predictor_host.setter
    def predictor_host(self, value):
        self._predictor_host_set = value

    @property
    def protocol(self):
        if getattr(self, "_protocol_set", None) is not None:
            return self._protocol_set
        cfg = self.predictor_config
        return cfg.protocol if cfg is not None else "v1"

    @protocol.setter
    def protocol(self, value):
        self._protocol_set = value

    def get_input_types(self):
        return []

    def get_output_types(self):
        return []

    def validate(self, payload):
        if isinstance(payload, InferRequest) or not isinstance(payload, dict):
            return payload
        # Only a non-list "inputs" / "instances" can fail; checked first, so that the usual payload does not
        # pay for the configuration lookups below.
        if type(payload.get("instances", _NO_VALUE)) in _LIST_OR_ABSENT and \
                type(payload.get("inputs", _NO_VALUE)) in _LIST_OR_ABSENT:
            return payload
        if self.predictor_config is None:
            return payload
        protocol = self.protocol
        if protocol == PredictorProtocol.REST_V2.value and "inputs" in payload and \
                not isinstance(payload["inputs"], list):
            raise InvalidInput('Expected "inputs" to be a list')
        if protocol == PredictorProtocol.REST_V1.value and "instances" in payload and \
                not isinstance(payload["instances"], list):
            raise InvalidInput('Expected "instances" to be a list')
        return payload

    def preprocess(self, payload, headers=None):
        return _Done(payload)

    def postprocess(self, result, headers=None, response_headers=None):
        return _Done(result)

    def predict(self, payload, headers=None, response_headers=None):
        return _Done(self._default_predict(payload, headers, response_headers))

    def explain(self, payload, headers=None):
        raise NotImplementedError("Could not find explainer_host.")

    # The default predict: the native model of the same name in this process, else the predictor.
    def _default_predict(self, payload, headers, response_headers):
        native = _native()
        if native is not None and native.has_native(self.name):
            return _native_predict(native, self.name, payload, headers)
        cfg = self.predictor_config
        if cfg is None:
            raise NotImplementedError("Could not find PredictorConfig.")
        if getattr(self, "_predictor_host_set", None) is not None or getattr(self, "_protocol_set", None) is not None:
            cfg = PredictorConfig(self.predictor_host, self.protocol, cfg.use_ssl, cfg.timeout, cfg.retries,
                                  cfg.predictor_health_check)
        if not cfg.predictor_host:
            raise NotImplementedError("Could not find predictor_host.")
        client = _predictor_client(cfg)
        try:
            if cfg.protocol == PredictorProtocol.GRPC_V2.value:
                return _grpc_predict(native, client, self.name, payload, headers)
            if cfg.protocol == PredictorProtocol.REST_V2.value:
                return _v2_predict(native, client, self.name, payload, headers, response_headers)
            return _v1_predict(native, client, self.name, payload, headers, response_headers)
        except native.PredictorError as e:
            _raise_predictor_error(e)


def _dumps(obj):
    return _ENCODER.encode(obj).encode()


def _v1_predict(native, client, name, payload, headers, response_headers):
    if isinstance(payload, InferRequest):
        payload = payload.to_rest()[0]
    elif isinstance(payload, (bytes, bytearray)):
        payload = json.loads(payload)
    body, _, pairs = native.predict_v1(client, name, _dumps(payload), _forwardable(headers))
    _copy_response_headers(response_headers, pairs)
    value = native.loads(body)
    if value is not None:
        return value
    try:
        return json.loads(body)
    except ValueError as e:
        raise InferenceError("the predictor's answer is not JSON: %s" % e)


def _v2_predict(native, client, name, payload, headers, response_headers):
    if isinstance(payload, InferRequest):
        body, json_length = payload.to_rest()
        if json_length is None:
            body = _dumps(body)
            json_length = len(body)
    else:
        body = _dumps(payload)
        json_length = len(body)
    out, out_json_length, pairs = native.infer_v2(client, name, body, json_length, _forwardable(headers))
    _copy_response_headers(response_headers, pairs)
    return InferResponse.from_bytes(out, out_json_length if out_json_length >= 0 else len(out))


def _grpc_predict(native, client, name, payload, headers):
    if not isinstance(payload, InferRequest):
        raise InvalidInput("Invalid input format: a gRPC v2 predictor takes an InferRequest")
    inputs = [(t.name, t.datatype, [int(d) for d in t.shape], t._raw()) for t in payload.inputs]
    outs = [o.name if isinstance(o, RequestedOutput) else o["name"] for o in payload.request_outputs or []] or None
    model_name, version, rid, outputs = native.infer_grpc(client, name, payload.id or "", inputs, outs,
                                                          _forwardable(headers))
    infer_outputs = []
    for item in outputs:
        oname, datatype, shape, raw = item[0], item[1], item[2], item[3]
        if raw is None:
            raise InferenceError("the predictor answered output %s with typed contents; inferd reads raw "
                                 "contents only" % oname)
        t = InferOutput(oname, shape, datatype)
        t._raw_data = raw
        infer_outputs.append(t)
    return InferResponse(rid, model_name, infer_outputs, model_version=version or None, from_grpc=True)


def _native_predict(native, name, payload, headers):
    """The in-process predictor: a V1 dict through the native V1 codec, an InferRequest as tensors."""
    if isinstance(payload, InferRequest):
        # native_infer copies any layout into its tensors and answers each output with its datatype and shape.
        outs = native.native_infer(name, [(t.name, t.as_numpy()) for t in payload.inputs])
        return InferResponse(payload.id, name, [InferOutput(n, s, d, a) for n, d, s, a in outs])
    try:
        # Fast path: {"instances": [rows of numbers]} goes as one array, not as JSON text to parse again.
        if type(payload) is dict and len(payload) == 1:
            rows = payload.get("instances")
            if type(rows) is list and rows and type(rows[0]) is not dict:
                # Nested lists of numbers, walked natively; None for anything else (ragged rows, strings,
                # numpy values...), which goes as JSON through the codec below, as to the predictor alone.
                out = native.native_v1_array(name, rows)
                if out is not None:
                    value = native.loads(out)  # None when simdjson refuses it (NaN, Infinity): json.loads
                    return value if value is not None else json.loads(out)
        return json.loads(native.native_v1(name, _dumps(payload), _forwardable(headers) or {}))
    except native.PredictorError as e:
        _raise_predictor_error(e)


class ModelRepository:
    def __init__(self, models_dir=None):
        self.models = {}

    def update(self, model, name=None):
        self.models[name or model.name] = model

    def get_model(self, name):
        return self.models.get(name)

    def get_models(self):
        return self.models

    def is_model_ready(self, name):
        m = self.models.get(name)
        return bool(m is not None and m.ready)


class ModelServer:
    """Registers models with inferd; inferd's own front ends serve them."""

    def __init__(self, http_port=None, grpc_port=None, workers=None, max_threads=None, max_asyncio_workers=None,
                 registered_models=None, enable_grpc=None, enable_docs_url=None, enable_latency_logging=None,
                 access_log_format=None, event_loop=None, timeout_keep_alive=None, grace_period=30,
                 predictor_config=None, **kwargs):
        self.registered_models = registered_models if registered_models is not None else ModelRepository()
        context.set_predictor_config(predictor_config if predictor_config is not None else _config_from_args())
        self.enable_latency_logging = args.enable_latency_logging if enable_latency_logging is None \
            else enable_latency_logging

    def register_model(self, model, name=None):
        if not getattr(model, "name", None):
            raise Exception("Failed to register model, model.name must be provided.")
        self.registered_models.update(model, name)
        register(model)

    def start(self, models, **kwargs):
        _start_models(models, self.register_model, NoModelReady, self.enable_latency_logging)


def _start_models(models, register_model, no_model_ready, enable_latency_logging):
    """KServe's ModelServer.start (model_server.py, _register_and_check_atleast_one_model_is_ready): only
    the models that are ready are registered (one that is not is left out: requests for it are 404), each
    model's start() is called, and NoModelReady is raised when none is ready."""
    if not isinstance(models, list):
        raise RuntimeError("Unknown model collection type")
    any_ready = False
    for m in models:
        if not isinstance(m, BaseKServeModel) and not hasattr(m, "predict"):
            raise RuntimeError("Model type should be 'BaseKServeModel'")
        if getattr(m, "ready", False):
            any_ready = True
            register_model(m)
            m.enable_latency_logging = enable_latency_logging
        start = getattr(m, "start", None)
        if start is not None:
            start()
    if not any_ready and models:
        raise no_model_ready(models)


def register(model):
    for i, m in enumerate(registered):
        if m.name == model.name:
            registered[i] = model
            return
    registered.append(model)


# ---- what inferd calls --------------------------------------------------------------------------------

_local = threading.local()


# What preprocess / predict / postprocess return most often and is never awaitable: the check below skips
# inspect.isawaitable (an ABC isinstance) for these exact types.
_NOT_AWAITABLE = frozenset({dict, list, tuple, str, bytes, type(None), np.ndarray, InferRequest, InferResponse})


def _await(value):
    t = type(value)
    if t is _Done:
        return value.value
    if t in _NOT_AWAITABLE or not inspect.isawaitable(value):
        return value
    loop = getattr(_local, "loop", None)
    if loop is None:
        loop = _local.loop = asyncio.new_event_loop()
    return loop.run_until_complete(value)


_arity_cache = {}


def _arity(method):
    fn = getattr(method, "__func__", method)
    n = _arity_cache.get(fn)
    if n is None:
        try:
            params = inspect.signature(method).parameters.values()
            n = 99 if any(p.kind == p.VAR_POSITIONAL for p in params) else \
                len([p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)])
        except (TypeError, ValueError):
            n = 3
        _arity_cache[fn] = n
    return n


def _call(method, arg, headers, response_headers=None, with_response_headers=False):
    n = _arity_cache.get(getattr(method, "__func__", method))
    if n is None:
        n = _arity(method)
    if with_response_headers and n >= 3:
        value = method(arg, headers, response_headers)
    else:
        value = method(arg, headers) if n >= 2 else method(arg)
    t = type(value)  # _await's checks, inline: this runs three times per request
    if t is _Done:
        return value.value
    if t in _NOT_AWAITABLE:
        return value
    return _await(value)


def run_model(model, payload, headers, response_headers=None):
    """KServe's order: preprocess, validate, predict, postprocess (each may be a coroutine)."""
    headers = headers if headers is not None else {}
    if not getattr(model, "ready", False):
        raise ModelNotReady(model.name)
    rh = bool(getattr(model, "required_response_headers", False))
    if rh and response_headers is None:
        response_headers = {}
    x = _call(model.preprocess, payload, headers)
    validate = getattr(model, "validate", None)
    if validate is not None:
        x = validate(x)
    y = _call(model.predict, x, headers, response_headers, rh)
    return _call(model.postprocess, y, headers, response_headers, rh)


def run_explain(model, payload, headers):
    headers = headers if headers is not None else {}
    if not getattr(model, "ready", False):
        raise ModelNotReady(model.name)
    x = _call(model.preprocess, payload, headers)
    validate = getattr(model, "validate", None)
    if validate is not None:
        x = validate(x)
    y = _call(model.explain, x, headers)
    return _call(model.postprocess, y, headers, {}, bool(getattr(model, "required_response_headers", False)))


def predictor_health_check_enabled(model_names):
    """--enable_predictor_health_check with a predictor to check (not the in-process one)."""
    cfg = context.get_predictor_config()
    native = _native()
    if native is not None and any(native.has_native(n) for n in model_names):
        return False
    return bool(cfg is not None and cfg.predictor_health_check and cfg.predictor_host)


def predictor_ready():
    """KServe's dataplane readiness with --enable_predictor_health_check: the predictor answers GET / (v1),
    GET /v2/health/ready (v2) or ServerReady (grpc-v2); any failure is not ready."""
    try:
        return bool(_native().server_ready(_predictor_client(context.get_predictor_config())))
    except Exception:  # noqa: BLE001 - not ready, whatever the reason
        return False


def has_own_explain(model):
    """True when the model's class overrides explain() (then inferd registers it for :explain)."""
    fn = getattr(type(model), "explain", None)
    return fn is not None and fn is not Model.explain


def _json_default(o):
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, bytes):
        return o.decode("utf-8", "replace")
    if isinstance(o, InferResponse):
        return o.to_rest()
    raise TypeError("%s is not JSON serializable" % type(o).__name__)


# json.dumps(obj, default=..., separators=...) builds a JSONEncoder at every call; one serves them all (its
# encode() keeps no state between calls).
_ENCODER = json.JSONEncoder(default=_json_default, separators=(",", ":"))


def _answer_json(result, what):
    if isinstance(result, InferRequest):
        raise InferenceError("%s returned an InferRequest to a V1 request" % what)
    try:
        return _ENCODER.encode(result)
    except (TypeError, ValueError) as e:
        raise InferenceError("%s returned an answer that cannot be serialized to JSON: %s" % (what, e))


def _parse_v1(body):
    native = _native()
    if native is not None:
        value = native.loads(body)  # simdjson; None when it refuses the text or the text is `null`
        if value is not None:
            return value
    try:
        return json.loads(body)
    except ValueError as e:
        raise InvalidInput("request body: malformed JSON: %s" % e)


def predict_v1(model, body, headers):
    """A V1 body (JSON text) in, the JSON text of the model's answer out."""
    result = run_model(model, _parse_v1(body), headers)
    if isinstance(result, InferResponse):
        raise InferenceError("the model returned an InferResponse to a V1 request")
    return _answer_json(result, "the model")


_UNPARSED = object()


def _http_exception(exc):
    """FastAPI's (Starlette's) HTTPException, which KServe's models raise to choose their answer's status: True
    for an instance of a class named HTTPException from starlette or fastapi (neither needs to be imported here)."""
    for cls in type(exc).__mro__:
        if cls.__name__ == "HTTPException" and cls.__module__.split(".")[0] in ("starlette", "fastapi"):
            return isinstance(getattr(exc, "status_code", None), int)
    return False


def _http_exception_answer(exc):
    """What FastAPI answers for an HTTPException: its status, {"detail": detail}, its headers; as the V1 path's
    (JSON text, [(name, value)], status)."""
    headers = [(str(k), str(v)) for k, v in (getattr(exc, "headers", None) or {}).items()]
    return _answer_json({"detail": getattr(exc, "detail", None)}, "HTTPException"), headers, exc.status_code


def predict_v1_h(model, body, headers, value=_UNPARSED):
    """predict_v1 with the response headers: (JSON text, [(name, value)]), or (JSON text, headers, status) when
    the model raised FastAPI's HTTPException. inferd passes the body already parsed as `value` (body None) when
    simdjson takes it."""
    response_headers = {}
    try:
        result = run_model(model, _parse_v1(body) if value is _UNPARSED else value, headers, response_headers)
    except Exception as exc:
        if _http_exception(exc):
            return _http_exception_answer(exc)
        raise
    if isinstance(result, InferResponse):
        result = result.to_rest()
    text = _answer_json(result, "the model")
    return text, _response_header_pairs(response_headers)


def explain_v1(model, body, headers, value=_UNPARSED):
    try:
        result = run_explain(model, _parse_v1(body) if value is _UNPARSED else value, headers)
    except Exception as exc:
        if _http_exception(exc):
            return _http_exception_answer(exc)
        raise
    if isinstance(result, InferResponse):
        result = result.to_rest()
    return _answer_json(result, "explain"), []


def predict_v2(model, request_id, model_name, names, arrays, parameters, headers):
    """V2 inputs (numpy arrays) in; [(name, array)] out."""
    return predict_v2_h(model, request_id, model_name, names, arrays, parameters, headers)[0]


def predict_v2_h(model, request_id, model_name, names, arrays, parameters, headers, datatypes=None):
    """predict_v2 with the response headers: ([(name, array)], [(name, value)]). The InferRequest carries the
    request's id (None when it has none) and parameters, `headers` are the request's (KServe's dataplane).
    `datatypes`, when given, are the inputs' V2 datatypes (inferd passes them: no lookup per array)."""
    if datatypes is None:
        datatypes = [from_np_dtype(arr.dtype) or "BYTES" for arr in arrays]
    inputs = [InferInput(name, list(arr.shape), dt, arr) for name, arr, dt in zip(names, arrays, datatypes)]
    req = InferRequest(model_name, inputs, request_id=request_id or None, parameters=parameters)
    response_headers = {}
    result = run_model(model, req, headers, response_headers)
    if isinstance(result, InferResponse):
        outs = result.outputs
    elif isinstance(result, (list, tuple)) and all(isinstance(o, _Tensor) for o in result):
        outs = result
    elif isinstance(result, np.ndarray):
        outs = [InferOutput("output-0", list(result.shape), from_np_dtype(result.dtype), result)]
    else:
        raise InferenceError("predict returned %s to a V2 request; return an InferResponse" % type(result).__name__)
    return [(o.name, o.as_numpy()) for o in outs], _response_header_pairs(response_headers)


def _response_header_pairs(response_headers):
    if not response_headers:
        return []
    return [(str(k).lower(), str(v)) for k, v in response_headers.items() if str(k).lower() != "content-length"]


def error_kind(exc):
    """How inferd maps a model's exception to a status: 'invalid' (400), 'not_found' (404), 'not_ready'
    (503), 'unimplemented' (501), or 'internal' (500) (KServe's errors.py and rest/server.py)."""
    if isinstance(exc, InvalidInput):
        return "invalid"
    if isinstance(exc, ModelNotFound):
        return "not_found"
    if isinstance(exc, (ModelNotReady, ServerNotReady, ServerNotLive)):
        return "not_ready"
    if isinstance(exc, (NotImplementedError, UnsupportedProtocol)):
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

        from kserve.errors import NoModelReady as real_no_model_ready

        def start(self, models, **kwargs):
            _start_models(models, register, real_no_model_ready, getattr(self, "enable_latency_logging", False))

        real.ModelServer.start = start
        return "kserve (installed), ModelServer.start served by inferd"
    pkg = types.ModuleType("kserve")
    pkg.__inferd_shim__ = True
    pkg.__path__ = []
    subs = {}
    for sub in ("model", "model_server", "errors", "protocol", "protocol.infer_type", "logging", "model_repository",
                "context", "constants", "constants.constants", "predictor_config"):
        m = types.ModuleType("kserve." + sub)
        subs[sub] = m
        sys.modules["kserve." + sub] = m
    errors = dict(InvalidInput=InvalidInput, InferenceError=InferenceError, ModelNotFound=ModelNotFound,
                  ModelNotReady=ModelNotReady, UnsupportedProtocol=UnsupportedProtocol, ServerNotReady=ServerNotReady,
                  ServerNotLive=ServerNotLive, NoModelReady=NoModelReady)
    tensors = dict(InferRequest=InferRequest, InferResponse=InferResponse, InferInput=InferInput,
                   InferOutput=InferOutput, RequestedOutput=RequestedOutput)
    names = dict(Model=Model, BaseKServeModel=BaseKServeModel, InferenceModel=InferenceModel,
                 PredictorConfig=PredictorConfig, PredictorProtocol=PredictorProtocol, ModelServer=ModelServer,
                 ModelRepository=ModelRepository, parser=parser, logger=logger, **errors, **tensors)
    for k, v in names.items():
        setattr(pkg, k, v)
    for k in ("Model", "BaseKServeModel", "InferenceModel", "PredictorConfig", "PredictorProtocol"):
        setattr(subs["model"], k, names[k])
    subs["model"].InferenceVerb = InferenceVerb
    subs["model"].ModelInferRequest = ModelInferRequest
    subs["model"].InferRequest, subs["model"].InferResponse = InferRequest, InferResponse
    for k in ("ModelServer", "parser", "PredictorConfig"):
        setattr(subs["model_server"], k, names[k])
    subs["model_server"].args = args
    for k, v in errors.items():
        setattr(subs["errors"], k, v)
    for k, v in tensors.items():
        setattr(subs["protocol.infer_type"], k, v)
        setattr(subs["protocol"], k, v)
    subs["protocol"].infer_type = subs["protocol.infer_type"]
    for k in ("logger", "trace_logger", "configure_logging", "KSERVE_LOGGER_NAME", "KSERVE_TRACE_LOGGER_NAME"):
        setattr(subs["logging"], k, globals()[k])
    subs["model_repository"].ModelRepository = ModelRepository
    subs["context"].get_predictor_config = context.get_predictor_config
    subs["context"].set_predictor_config = context.set_predictor_config
    subs["constants.constants"].PredictorProtocol = PredictorProtocol
    subs["constants"].constants = subs["constants.constants"]
    subs["predictor_config"].PredictorConfig = PredictorConfig
    for sub, m in subs.items():
        if "." not in sub:
            setattr(pkg, sub, m)
    sys.modules["kserve"] = pkg
    return "kserve (inferd's stand-in)"
