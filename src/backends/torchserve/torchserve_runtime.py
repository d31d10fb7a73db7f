"""inferd's TorchServe runtime: serves a TorchServe model store (`*.mar` archives and config.properties) the way
KServe's TorchServe runtime does, inside inferd's embedded Python (backends/torchserve/torchserve.h).

It is a KServe-style program (run as `--python` is): main() reads the configuration, unpacks each archive into a
private directory, loads its handler (TorchServe's standard handlers, provided by the `ts` module surface this file
installs, or the archive's own handler module), and registers one kserve.Model per archive with
kserve.ModelServer().start. inferd then serves them over KServe V1 (`/v1/models/<m>:predict`, the `instances`
handed to the handler as TorchServe's KServe envelope does) and V2 (`/v2/models/<m>/infer`).

Written for inferd from TorchServe's documented behaviour (docs/torchserve.md); no TorchServe code is used.
Tested with python3 by tests/backends/torchserve/torchserve_runtime_test.py and, through a real
`inferd model-server`, by tests/backends/torchserve/torchserve_server_test.py.
"""

import argparse
import base64
import importlib
import importlib.util
import inspect
import io
import json
import logging
import os
import stat
import sys
import time
import types
import zipfile

logger = logging.getLogger("inferd.torchserve")

# ---- limits (docs/torchserve.md) ---------------------------------------------------------------------------
MAX_PROPERTIES_BYTES = 1 << 20        # config.properties
MAX_MANIFEST_BYTES = 1 << 20          # MAR-INF/MANIFEST.json
MAX_ENTRIES = 10000                   # entries of one archive
MAX_ENTRY_NAME = 1024                 # bytes of one entry's name
MAX_UNPACKED_BYTES = int(os.environ.get("INFERD_TORCHSERVE_MAX_UNPACKED_BYTES", str(16 << 30)))  # one archive


class ArchiveError(Exception):
    """A model archive or configuration that cannot be served; the message names the file and the reason."""


# ---- config.properties ---------------------------------------------------------------------------------------

def parse_properties(text):
    """Java .properties as TorchServe reads them: `key=value`, `key: value` or `key value`, `#`/`!` comments,
    a trailing backslash continues a line. Returns {key: value} (later keys win, as in Java)."""
    out = {}
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i].lstrip()
        i += 1
        if not line or line[0] in "#!":
            continue
        while line.endswith("\\") and not line.endswith("\\\\"):
            line = line[:-1] + (lines[i].lstrip() if i < len(lines) else "")
            i += 1
        key, value = _split_property(line)
        out[key] = value
    return out


def _split_property(line):
    for j, c in enumerate(line):
        if c in "=:" or c.isspace():
            key, rest = line[:j], line[j:].lstrip()
            if rest[:1] in ("=", ":") and c not in "=:":
                rest = rest[1:].lstrip()
            elif c in "=:":
                rest = line[j + 1:].lstrip()
            return key, rest.rstrip()
    return line, ""


# What each key of config.properties means here. Keys inferd acts on are "honoured"; every other known key is
# logged by name with the reason it changes nothing (the project's rule: never silently ignored); a key not
# in this table is logged as unknown.
HONOURED = {
    "model_store": "the directory of the .mar archives (--model-store wins)",
    "model_snapshot": "the models to serve: names, versions, marName, defaultVersion",
    "load_models": "the archives to serve without a model_snapshot (`all`, or a comma list of [name=]x.mar)",
}
NOT_USED = {
    "inference_address": "inferd serves KServe's V1 and V2 REST on --http_port, as KServe's TorchServe wrapper does",
    "management_address": "TorchServe's management API is not served (models come from the snapshot)",
    "metrics_address": "metrics are served at /metrics on the REST port",
    "grpc_inference_port": "V2 gRPC is served on --grpc_port",
    "grpc_management_port": "TorchServe's management API is not served",
    "enable_metrics_api": "/metrics is always served on the REST port",
    "metrics_format": "metrics are Prometheus text",
    "metrics_mode": "metrics are Prometheus text",
    "number_of_netty_threads": "inferd's front-end threads are --max_threads",
    "netty_client_threads": "inferd's front-end threads are --max_threads",
    "job_queue_size": "requests queue on inferd's front end",
    "enable_envvars_config": "TS_* environment variables are not read",
    "install_py_dep_per_model": "an archive's requirements file is never installed: packages must be present",
    "service_envelope": "the envelope is always KServe's (V1 instances / V2 inputs), as KServe configures it",
    "default_workers_per_model": "one embedded interpreter runs every handler",
    "default_response_timeout": "requests are bounded by inferd's own timeouts",
    "max_request_size": "the request size limit is --max_request_bytes",
    "max_response_size": "responses are not limited",
    "number_of_gpu": "inferd runs handlers on the CPU",
    "async_logging": "logging is inferd's own",
    "disable_token_authorization": "TorchServe's token authorization is not implemented (no tokens are required)",
    "enable_token_authorization": "TorchServe's token authorization is not implemented (no tokens are required)",
    "allowed_urls": "models are never downloaded; only the local model store is read",
    "model_server_home": "not used",
    "workflow_store": "TorchServe workflows are not served",
    "cors_allowed_origin": "no CORS headers are added",
    "cors_allowed_methods": "no CORS headers are added",
    "cors_allowed_headers": "no CORS headers are added",
    "default_service_handler": "each archive names its handler",
    "use_env_allowed_urls": "models are never downloaded",
}
# Per-model snapshot fields that change nothing here, and why.
SNAPSHOT_NOT_USED = {
    "minWorkers": "one embedded interpreter runs every handler",
    "maxWorkers": "one embedded interpreter runs every handler",
    "batchSize": "each request's instances reach the handler together, one request at a time",
    "maxBatchDelay": "requests are not batched across clients",
    "responseTimeout": "requests are bounded by inferd's own timeouts",
    "startupTimeout": "loads are not timed out",
    "runtimeType": "handlers run in the embedded CPython",
}


def read_config(path):
    """config.properties as {key: value}, with each key the runtime does not act on logged by name."""
    try:
        if os.path.getsize(path) > MAX_PROPERTIES_BYTES:
            raise ArchiveError("%s: larger than %d bytes" % (path, MAX_PROPERTIES_BYTES))
        with open(path, encoding="utf-8") as f:
            props = parse_properties(f.read())
    except (OSError, UnicodeDecodeError) as e:
        raise ArchiveError("--ts-config %s: %s" % (path, e))
    for key, value in props.items():
        if key in HONOURED:
            continue
        reason = NOT_USED.get(key)
        if reason:
            logger.warning("config.properties %s=%s: not used: %s", key, value, reason)
        else:
            logger.warning("config.properties %s: not a key inferd knows; ignored", key)
    return props


def models_to_serve(props, store):
    """[(name, version, mar path)] from model_snapshot, load_models, or every .mar in the store (TorchServe's
    --models all), names from the snapshot (or `name=` in load_models; else the manifest's modelName)."""
    snapshot = props.get("model_snapshot")
    if snapshot:
        return _from_snapshot(snapshot, store)
    load = props.get("load_models", "all").strip()
    if load in ("", "all", "ALL"):
        names = sorted(f for f in os.listdir(store) if f.endswith(".mar"))
        return [(None, None, os.path.join(store, f)) for f in names]
    out = []
    for item in load.split(","):
        item = item.strip()
        name, _, mar = item.rpartition("=")
        out.append((name or None, None, _in_store(store, mar, "load_models")))
    return out


def _in_store(store, mar, where):
    if not mar or "/" in mar or "\\" in mar or mar in (".", ".."):
        raise ArchiveError("%s: '%s' is not an archive name in the model store" % (where, mar))
    return os.path.join(store, mar)


def _from_snapshot(text, store):
    try:
        snap = json.loads(text)
    except ValueError as e:
        raise ArchiveError("config.properties model_snapshot: not JSON: %s" % e)
    models = snap.get("models") if isinstance(snap, dict) else None
    if not isinstance(models, dict) or not models:
        raise ArchiveError("config.properties model_snapshot: no \"models\" object")
    out = []
    for name, versions in models.items():
        if not isinstance(versions, dict) or not versions:
            raise ArchiveError("model_snapshot model '%s': no versions" % name)
        version, entry = _default_version(name, versions)
        for key, value in entry.items():
            if key in SNAPSHOT_NOT_USED:
                logger.warning("model_snapshot %s/%s %s=%s: not used: %s", name, version, key, value,
                               SNAPSHOT_NOT_USED[key])
            elif key not in ("marName", "defaultVersion"):
                logger.warning("model_snapshot %s/%s %s: not a field inferd knows; ignored", name, version, key)
        if len(versions) > 1:
            logger.warning("model_snapshot model '%s': %d versions; only the default %s is served", name,
                           len(versions), version)
        out.append((name, version, _in_store(store, entry.get("marName", ""), "model_snapshot %s" % name)))
    return out


def _default_version(name, versions):
    chosen = [(v, e) for v, e in versions.items() if isinstance(e, dict) and e.get("defaultVersion")]
    if not chosen:
        chosen = [(v, e) for v, e in versions.items() if isinstance(e, dict)]
    if not chosen:
        raise ArchiveError("model_snapshot model '%s': versions are not objects" % name)
    return chosen[0]


# ---- .mar archives ----------------------------------------------------------------------------------------------
# Python's zipfile (the standard library of the embedded interpreter) reads the archives: inferd links no zip
# library, unpacking runs once per load, and zipfile checks every entry's CRC. Its sizes are bounded here before
# anything is written.

def _safe_member(name):
    """The relative path of an archive entry, or None when it could escape the directory or is not a file name."""
    if not name or len(name.encode("utf-8", "replace")) > MAX_ENTRY_NAME or "\x00" in name or "\\" in name:
        return None
    if name.startswith("/") or (len(name) > 1 and name[1] == ":"):
        return None
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if not parts or any(p == ".." for p in parts):
        return None
    return os.path.join(*parts)


def unpack(mar, dest):
    """Extracts `mar` into the new directory `dest`, bounded (entry count, sizes, names). Raises ArchiveError
    naming the archive and the entry."""
    try:
        zf = zipfile.ZipFile(mar)
    except (OSError, zipfile.BadZipFile, zipfile.LargeZipFile, ValueError) as e:
        raise ArchiveError("%s: not a readable .mar (zip) archive: %s" % (mar, e))
    with zf:
        infos = zf.infolist()
        if len(infos) > MAX_ENTRIES:
            raise ArchiveError("%s: %d entries (at most %d)" % (mar, len(infos), MAX_ENTRIES))
        total = sum(i.file_size for i in infos)
        if total > MAX_UNPACKED_BYTES:
            raise ArchiveError("%s: unpacks to %d bytes (at most %d)" % (mar, total, MAX_UNPACKED_BYTES))
        os.makedirs(dest, mode=0o700)
        for info in infos:
            _extract(zf, info, mar, dest)


def _extract(zf, info, mar, dest):
    rel = _safe_member(info.filename)
    if rel is None:
        raise ArchiveError("%s: entry '%s' is not a relative path inside the archive (refused)" % (mar, info.filename))
    mode = (info.external_attr >> 16) & 0o170000
    if mode and mode not in (stat.S_IFREG, stat.S_IFDIR):
        raise ArchiveError("%s: entry '%s' is not a file or directory (refused)" % (mar, info.filename))
    target = os.path.join(dest, rel)
    if info.is_dir():
        os.makedirs(target, mode=0o700, exist_ok=True)
        return
    os.makedirs(os.path.dirname(target), mode=0o700, exist_ok=True)
    try:
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)
    except FileExistsError:
        raise ArchiveError("%s: entry '%s' appears twice" % (mar, info.filename))
    written = 0
    try:
        with os.fdopen(fd, "wb") as out, zf.open(info) as src:
            while True:
                chunk = src.read(1 << 20)
                if not chunk:
                    break
                written += len(chunk)
                if written > info.file_size:
                    raise ArchiveError("%s: entry '%s' is longer than its header says" % (mar, info.filename))
                out.write(chunk)
    except (zipfile.BadZipFile, OSError, EOFError, NotImplementedError, RuntimeError, ValueError) as e:
        raise ArchiveError("%s: entry '%s': %s" % (mar, info.filename, e))


def read_manifest(model_dir, mar):
    path = os.path.join(model_dir, "MAR-INF", "MANIFEST.json")
    try:
        if os.path.getsize(path) > MAX_MANIFEST_BYTES:
            raise ArchiveError("%s: MAR-INF/MANIFEST.json larger than %d bytes" % (mar, MAX_MANIFEST_BYTES))
        with open(path, encoding="utf-8") as f:
            manifest = json.load(f)
    except FileNotFoundError:
        raise ArchiveError("%s: no MAR-INF/MANIFEST.json (not a TorchServe model archive)" % mar)
    except (OSError, ValueError) as e:
        raise ArchiveError("%s: MAR-INF/MANIFEST.json: %s" % (mar, e))
    model = manifest.get("model") if isinstance(manifest, dict) else None
    if not isinstance(model, dict):
        raise ArchiveError("%s: MAR-INF/MANIFEST.json has no \"model\" object" % mar)
    if not model.get("handler"):
        raise ArchiveError("%s: MAR-INF/MANIFEST.json names no handler" % mar)
    return manifest


# ---- handlers ----------------------------------------------------------------------------------------------------

def _import_file(path, name):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(name, None)
        raise
    return module


def load_handler(handler, model_dir, mar):
    """TorchServe's rules: `file.py` or `module` (a file of the archive, else a standard handler of
    ts.torch_handler), with `:function` naming an entry point. A module with exactly one class of its own is
    instantiated (its handle() is the entry point, initialize() called by the caller); with none, its module-level
    `handle(data, context)`. Returns (entry, instance or None)."""
    module_name, _, function = handler.partition(":")
    if module_name.endswith(".py"):
        module_name = module_name[:-3]
    path = os.path.join(model_dir, *module_name.split("/")) + ".py"
    if os.path.isfile(path):
        module = _import_file(path, os.path.basename(module_name))
    elif "/" not in module_name and module_name in _STANDARD_HANDLERS:
        module = sys.modules["ts.torch_handler." + module_name]
    else:
        raise ArchiveError("%s: handler '%s': no %s.py in the archive and not a standard TorchServe handler (%s)" %
                           (mar, handler, module_name, ", ".join(sorted(_STANDARD_HANDLERS))))
    if function:
        entry = getattr(module, function, None)
        if not callable(entry):
            raise ArchiveError("%s: handler '%s': the module has no function '%s'" % (mar, handler, function))
        return entry, None
    classes = [c for _, c in inspect.getmembers(module, inspect.isclass) if c.__module__ == module.__name__]
    if len(classes) > 1:
        # TorchServe's rule too: more than one class of its own and no `:function` is ambiguous.
        raise ArchiveError("%s: handler '%s' defines %d classes (%s); name the entry point as module:function" %
                           (mar, handler, len(classes), ", ".join(c.__name__ for c in classes)))
    if classes:
        instance = classes[0]()
        return instance.handle, instance
    entry = getattr(module, "handle", None)
    if not callable(entry):
        raise ArchiveError("%s: handler '%s' defines no class and no handle(data, context) function" % (mar, handler))
    return entry, None


# ---- the `ts` module surface handlers import -----------------------------------------------------------------------

class _Metrics:
    """ts.metrics' cache as handlers use it (context.metrics.add_time / add_counter / ...): values are kept on the
    object (the last of each name) and logged at debug level; they are not exported to /metrics."""

    def __init__(self):
        self.values = {}

    def _add(self, name, value, *args, **kwargs):
        self.values[name] = value
        logger.debug("handler metric %s=%s", name, value)

    add_time = add_counter = add_size = add_percent = add_error = add_metric = _add

    def add_metric_to_cache(self, name, *args, **kwargs):
        return types.SimpleNamespace(add_or_update=lambda value, *a, **k: self._add(name, value),
                                     update=lambda value, *a, **k: self._add(name, value))

    get_metric = add_metric_to_cache


class RequestProcessor:
    def __init__(self, request_header):
        self._status_code = 200
        self._reason_phrase = None
        self._response_header = {}
        self._request_header = request_header

    def get_request_property(self, key):
        return self._request_header.get(key.lower()) if key else None

    def report_status(self, code, reason_phrase=None):
        self._status_code = code
        self._reason_phrase = reason_phrase

    def get_response_status_code(self):
        return self._status_code

    def get_response_status_phrase(self):
        return self._reason_phrase

    def add_response_property(self, key, value):
        self._response_header[key] = value

    def get_response_headers(self):
        return self._response_header

    def get_response_header(self, key):
        return self._response_header.get(key)

    def get_request_properties(self):
        return self._request_header


class Context:
    """ts.context.Context: what a handler's initialize() and handle() are given."""

    def __init__(self, model_name, model_dir, manifest, batch_size, gpu, mms_version, limit_max_image_pixels=True,
                 metrics=None, model_yaml_config=None):
        self.model_name = model_name
        self.manifest = manifest
        self._system_properties = {
            "model_dir": model_dir, "gpu_id": gpu, "batch_size": batch_size, "server_name": "MMS",
            "server_version": mms_version, "limit_max_image_pixels": limit_max_image_pixels,
        }
        self.request_ids = None
        self.request_processor = None
        self._metrics = metrics if metrics is not None else _Metrics()
        self.model_yaml_config = model_yaml_config or {}
        self.stopping_criteria = None
        self.cl_socket = None

    @property
    def system_properties(self):
        return self._system_properties

    @property
    def metrics(self):
        return self._metrics

    @metrics.setter
    def metrics(self, value):
        self._metrics = value

    def get_request_id(self, idx=0):
        return self.request_ids.get(idx) if self.request_ids else None

    def get_request_header(self, idx, key):
        return self.request_processor[idx].get_request_property(key) if self.request_processor else None

    def get_all_request_header(self, idx):
        return self.request_processor[idx].get_request_properties() if self.request_processor else {}

    def set_response_content_type(self, idx, value):
        self.set_response_header(idx, "content-type", value)

    def get_response_content_type(self, idx):
        return self.get_response_headers(idx).get("content-type")

    def get_response_status(self, idx):
        p = self.request_processor[idx]
        return p.get_response_status_code(), p.get_response_status_phrase()

    def set_response_status(self, code=200, phrase="", idx=0):
        if self.request_processor is not None and self.request_processor[idx] is not None:
            self.request_processor[idx].report_status(code, phrase)

    def set_all_response_status(self, code=200, phrase=""):
        for idx, _ in enumerate(self.request_processor or []):
            self.set_response_status(code, phrase, idx)

    def get_response_headers(self, idx):
        return self.request_processor[idx].get_response_headers()

    def set_response_header(self, idx, key, value):
        self.request_processor[idx].add_response_property(key, value)

    def get_sequence_id(self, idx):
        return self.get_request_header(idx, "ts_request_sequence_id")


class PredictionException(Exception):
    """ts.utils.util.PredictionException: a handler's error with the HTTP status it wants. A 4xx becomes KServe's
    InvalidInput (400: the shim answers 4xx errors as 400), anything else InferenceError (500); the message is kept."""

    def __init__(self, message, error_code=500):
        super().__init__(message)
        self.message = message
        self.error_code = error_code

    def __str__(self):
        return "%s : %s" % (self.message, self.error_code)


def list_classes_from_module(module, parent_class=None):
    """ts.utils.util: the classes defined in `module` (not imported into it), optionally subclasses of one."""
    classes = [c for _, c in inspect.getmembers(module, inspect.isclass) if c.__module__ == module.__name__]
    if parent_class is not None:
        classes = [c for c in classes if issubclass(c, parent_class)]
    return classes


def load_label_mapping(mapping_file_path):
    """ts.utils.util: index_to_name.json as {"0": "label", ...}; a list value (ImageNet's ["n01440764", "tench"])
    becomes its last element. None (and a warning) when the file is absent."""
    if not os.path.isfile(mapping_file_path):
        logger.warning("%s is missing: inference output will not include class names", mapping_file_path)
        return None
    with open(mapping_file_path, encoding="utf-8") as f:
        mapping = json.load(f)
    if not isinstance(mapping, dict):
        raise Exception("index -> name JSON mapping should be in \"class\": \"label\" format.")
    out = {}
    for key, value in mapping.items():
        if isinstance(value, list):
            value = value[-1]
        if not isinstance(value, str):
            raise Exception("labels in index -> name mapping must be either string or list of strings")
        out[str(key)] = value
    return out


def map_class_to_label(probs, mapping=None, lbl_classes=None):
    """ts.utils.util: one {label: probability} dict per row; labels through `mapping` when given."""
    if not isinstance(probs, list) or not all(isinstance(p, list) for p in probs):
        raise Exception("Convert classes to list before doing mapping")
    if mapping is not None and not isinstance(mapping, dict):
        raise Exception("Mapping must be a dict")
    if lbl_classes is None:
        lbl_classes = [list(range(len(p))) for p in probs]
    return [{(mapping[str(c)] if mapping is not None else str(c)): p for c, p in zip(classes, row)}
            for classes, row in zip(lbl_classes, probs)]


def _row_value(row):
    """A request row's payload, as TorchServe's handlers find it: row["data"], else row["body"]; a row that is not a
    dict is its own payload."""
    if isinstance(row, dict):
        value = row.get("data")
        return row.get("body") if value is None else value
    return row


class BaseHandler:
    """ts.torch_handler.base_handler.BaseHandler: loads the archive's serialized model (TorchScript, or an eager
    nn.Module from the model file and a state dict), runs preprocess -> inference -> postprocess."""

    def __init__(self):
        self.model = None
        self.mapping = None
        self.device = None
        self.initialized = False
        self.context = None
        self.model_pt_path = None
        self.manifest = None
        self.map_location = None
        self.explain = False
        self.target = 0
        self.profiler_args = {}

    def initialize(self, context):
        import torch
        properties = context.system_properties
        self.map_location = "cpu"
        self.device = torch.device("cpu")
        self.manifest = context.manifest
        model_dir = properties.get("model_dir")
        serialized = self.manifest["model"].get("serializedFile")
        if not serialized:
            raise RuntimeError("the manifest names no serializedFile for the model")
        self.model_pt_path = os.path.join(model_dir, serialized)
        if not os.path.isfile(self.model_pt_path):
            raise RuntimeError("Missing the model.pt file (%s)" % serialized)
        model_file = self.manifest["model"].get("modelFile")
        if model_file:
            self.model = self._load_pickled_model(model_dir, model_file, self.model_pt_path)
        elif serialized.endswith((".onnx", ".engine", ".so")):
            raise NotImplementedError("serialized file %s: only TorchScript and eager models are served" % serialized)
        else:
            self.model = self._load_torchscript_model(self.model_pt_path)
        self.model.eval()
        self.mapping = load_label_mapping(os.path.join(model_dir, "index_to_name.json"))
        self.initialized = True

    def _load_torchscript_model(self, model_pt_path):
        import torch
        return torch.jit.load(model_pt_path, map_location=self.device)

    def _load_pickled_model(self, model_dir, model_file, model_pt_path):
        """The one nn.Module class defined in the model file, built without arguments, with the state dict."""
        import torch
        path = os.path.join(model_dir, model_file)
        if not os.path.isfile(path):
            raise RuntimeError("Missing the model.py file (%s)" % model_file)
        module = _import_file(path, os.path.splitext(os.path.basename(model_file))[0])
        classes = list_classes_from_module(module, torch.nn.Module)
        if len(classes) != 1:
            raise ValueError("Expected only one class as model definition in %s, found %d" % (model_file, len(classes)))
        model = classes[0]()
        state_dict = torch.load(model_pt_path, map_location=self.device)
        model.load_state_dict(state_dict)
        return model.to(self.device)

    def preprocess(self, data):
        import torch
        rows = []
        for row in data:
            value = _row_value(row)
            if isinstance(value, (bytes, bytearray)):
                value = json.loads(bytes(value).decode("utf-8"))
            rows.append(value)
        return torch.as_tensor(rows, device=self.device)

    def inference(self, data, *args, **kwargs):
        import torch
        with torch.no_grad():
            return self.model(data.to(self.device), *args, **kwargs)

    def postprocess(self, data):
        return data.tolist()

    def handle(self, data, context):
        start = time.time()
        self.context = context
        x = self.preprocess(data)
        y = self.inference(x)
        out = self.postprocess(y)
        context.metrics.add_time("HandlerTime", round((time.time() - start) * 1000, 2), None, "ms")
        return out

    def explain_handle(self, data_preprocess, raw_data):
        raise NotImplementedError("explanations (Captum) are not served by inferd's TorchServe runtime")

    def describe_handle(self):
        raise NotImplementedError("describe is not served")


class VisionHandler(BaseHandler):
    """ts.torch_handler.vision_handler.VisionHandler: rows are images (base64 text, or bytes) made tensors by the
    class's `image_processing`, or numbers (a float tensor as they are)."""

    image_processing = None

    def preprocess(self, data):
        import torch
        from PIL import Image
        images = []
        for row in data:
            image = _row_value(row)
            if isinstance(image, str):
                image = base64.b64decode(image)
            if isinstance(image, (bytearray, bytes)):
                image = Image.open(io.BytesIO(image))
                image = self.image_processing(image)
            else:
                image = torch.FloatTensor(image)
            images.append(image)
        return torch.stack(images).to(self.device)


def _imagenet_transforms():
    from torchvision import transforms
    return transforms.Compose([
        transforms.Resize(256), transforms.CenterCrop(224), transforms.ToTensor(),
        transforms.Normalize(mean=[0.485, 0.456, 0.406], std=[0.229, 0.224, 0.225])])


class _LazyTransforms:
    """A class attribute that builds torchvision's transforms on first use (torchvision imports only then)."""

    def __init__(self, make):
        self._make = make
        self._value = None

    def __get__(self, obj, owner):
        if self._value is None:
            self._value = self._make()
        return self._value


class ImageClassifier(VisionHandler):
    """ts.torch_handler.image_classifier.ImageClassifier: ImageNet transforms; the top `topk` classes (softmax) of
    each image as {label: probability}."""

    topk = 5
    image_processing = _LazyTransforms(_imagenet_transforms)

    def set_max_result_classes(self, topk):
        self.topk = topk

    def get_max_result_classes(self):
        return self.topk

    def postprocess(self, data):
        import torch
        import torch.nn.functional as F
        ps = F.softmax(data, dim=1)
        probs, classes = torch.topk(ps, min(self.topk, ps.shape[1]), dim=1)
        return map_class_to_label(probs.tolist(), self.mapping, classes.tolist())


class ImageSegmenter(VisionHandler):
    """ts.torch_handler.image_segmenter.ImageSegmenter: per image, each pixel's [class, probability] (the model's
    output, or its "out" entry for torchvision's segmentation models)."""

    image_processing = _LazyTransforms(_imagenet_transforms)

    def postprocess(self, data):
        import torch
        import torch.nn.functional as F
        if isinstance(data, dict):
            data = data["out"]
        ps = F.softmax(data, dim=1)
        probs, classes = torch.max(ps, dim=1)
        return torch.stack([classes.to(probs.dtype), probs], dim=-1).tolist()


class ObjectDetector(VisionHandler):
    """ts.torch_handler.object_detector.ObjectDetector: torchvision detection models; per image the detections
    scoring at least `threshold`, each {label: [x1, y1, x2, y2], "score": s}."""

    threshold = 0.5

    @staticmethod
    def _to_tensor():
        from torchvision import transforms
        return transforms.Compose([transforms.ToTensor()])

    image_processing = _LazyTransforms(lambda: ObjectDetector._to_tensor())

    def postprocess(self, data):
        result = []
        for row in data:
            keep = row["scores"] >= self.threshold
            boxes, labels, scores = (row[k][keep].tolist() for k in ("boxes", "labels", "scores"))
            names = [self.mapping[str(i)] if self.mapping else str(i) for i in labels]
            result.append([{n: b, "score": s} for n, b, s in zip(names, boxes, scores)])
        return result


class TextHandler(BaseHandler):
    """ts.torch_handler.text_handler.TextHandler, without torchtext (not packaged for Debian): text is lower-cased,
    split into words and punctuation (torchtext's basic_english), and looked up in the archive's `source_vocab.pt`
    (a dict word -> index, or an object with a `stoi` dict or `get_stoi()`), unknown words -> index of "<unk>" or 0."""

    def initialize(self, context):
        import torch
        super().initialize(context)
        vocab_path = os.path.join(context.system_properties["model_dir"], "source_vocab.pt")
        self.source_vocab = torch.load(vocab_path) if os.path.isfile(vocab_path) else None

    def _tokenize(self, text):
        import re
        text = text.lower()
        for pat, rep in ((r"\'", " '  "), (r"\"", ""), (r"\.", " . "), (r"<br \/>", " "), (r",", " , "),
                         (r"\(", " ( "), (r"\)", " ) "), (r"\!", " ! "), (r"\?", " ? "), (r"\;", " "),
                         (r"\:", " "), (r"\s+", " ")):
            text = re.sub(pat, rep, text)
        return text.split()

    def _stoi(self):
        v = self.source_vocab
        if v is None:
            raise RuntimeError("the archive has no source_vocab.pt for the text handler")
        if isinstance(v, dict):
            return v
        if hasattr(v, "get_stoi"):
            return v.get_stoi()
        return v.stoi


class TextClassifier(TextHandler):
    """ts.torch_handler.text_classifier.TextClassifier: an EmbeddingBag-style model called as model(text, offsets)
    on the tokens (and bigrams, `ngrams`) of each text; the softmax of each row as {label: probability}."""

    ngrams = 2

    def preprocess(self, data):
        import torch
        stoi = self._stoi()
        unk = stoi.get("<unk>", 0)
        texts, offsets = [], [0]
        for row in data:
            text = _row_value(row)
            if isinstance(text, (bytes, bytearray)):
                text = bytes(text).decode("utf-8")
            tokens = self._tokenize(str(text))
            grams = list(tokens)
            for n in range(2, self.ngrams + 1):
                grams += [" ".join(tokens[i:i + n]) for i in range(len(tokens) - n + 1)]
            ids = [stoi.get(g, unk) for g in grams]
            texts.append(torch.tensor(ids, dtype=torch.int64))
            offsets.append(offsets[-1] + len(ids))
        return torch.cat(texts), torch.tensor(offsets[:-1], dtype=torch.int64)

    def inference(self, data, *args, **kwargs):
        import torch
        text, offsets = data
        with torch.no_grad():
            return self.model(text.to(self.device), offsets.to(self.device))

    def postprocess(self, data):
        import torch.nn.functional as F
        return map_class_to_label(F.softmax(data, dim=1).tolist(), self.mapping)


_STANDARD_HANDLERS = {
    "base_handler": BaseHandler, "vision_handler": VisionHandler, "image_classifier": ImageClassifier,
    "image_segmenter": ImageSegmenter, "object_detector": ObjectDetector, "text_handler": TextHandler,
    "text_classifier": TextClassifier,
}


def install_ts():
    """Registers the `ts` package surface in sys.modules (the real TorchServe, when installed, is left alone)."""
    if "ts" in sys.modules and not getattr(sys.modules["ts"], "__inferd_shim__", False):
        return "ts (installed)"
    mods = {}
    for name in ("ts", "ts.context", "ts.torch_handler", "ts.utils", "ts.utils.util", "ts.metrics",
                 *("ts.torch_handler." + h for h in _STANDARD_HANDLERS)):
        m = types.ModuleType(name)
        if name.count(".") < 2 and name not in ("ts.context", "ts.utils.util", "ts.metrics"):
            m.__path__ = []
        mods[name] = m
    mods["ts"].__inferd_shim__ = True
    mods["ts.context"].Context = Context
    mods["ts.context"].RequestProcessor = RequestProcessor
    mods["ts.utils.util"].PredictionException = PredictionException
    for fn in (load_label_mapping, map_class_to_label, list_classes_from_module):
        setattr(mods["ts.utils.util"], fn.__name__, fn)
    mods["ts.metrics"].MetricsCache = _Metrics
    for h, cls in _STANDARD_HANDLERS.items():
        cls.__module__ = "ts.torch_handler." + h
        setattr(mods["ts.torch_handler." + h], cls.__name__, cls)
        mods["ts.torch_handler." + h].logger = logging.getLogger("ts.torch_handler." + h)
    # The modules handlers import from each other's (vision_handler imports base_handler's names, ...).
    for h in _STANDARD_HANDLERS:
        mods["ts.torch_handler." + h].BaseHandler = BaseHandler
    for name, m in mods.items():
        parent, _, leaf = name.rpartition(".")
        if parent:
            setattr(mods[parent], leaf, m)
        sys.modules[name] = m
    return "ts (inferd's stand-in)"


# ---- one served archive --------------------------------------------------------------------------------------------

def _headers_processors(headers, n):
    lowered = {str(k).lower(): v for k, v in (headers or {}).items()}
    return [RequestProcessor(lowered) for _ in range(n)]


def _v2_rows(request):
    """One row per V2 input, as TorchServe's KServe V2 envelope gives them: {"name", "shape", "datatype", "data"},
    the data in its shape (a nested list), a single BYTES element as its text."""
    rows = []
    for inp in request.inputs:
        arr = inp.as_numpy()
        if inp.datatype == "BYTES":
            items = [x.decode("utf-8", "replace") if isinstance(x, (bytes, bytearray)) else x for x in arr.ravel()]
            data = items[0] if len(items) == 1 else items
        else:
            data = arr.tolist()
        rows.append({"name": inp.name, "shape": list(inp.shape), "datatype": inp.datatype, "data": data})
    return rows


def _v2_output(name, value):
    import numpy as np
    try:
        arr = np.asarray(value)
        if arr.dtype == object or arr.dtype.kind in "USV":
            raise ValueError
    except ValueError:
        arr = np.asarray([json.dumps(value, default=_jsonable).encode("utf-8")], dtype=object)
    return name, arr


def _jsonable(o):
    if hasattr(o, "tolist"):
        return o.tolist()
    if isinstance(o, bytes):
        return o.decode("utf-8", "replace")
    raise TypeError("%s is not JSON serializable" % type(o).__name__)


def make_model_class(kserve):
    class TorchServeModel(kserve.Model):
        """One archive: V1 `instances` (or V2 inputs) become the handler's request rows."""

        def __init__(self, name, version, entry, context):
            super().__init__(name, return_response_headers=True)
            self.version = version
            self.entry = entry
            self.context = context
            self.ready = True

        def _answer_status(self, response_headers):
            """What the handler set through the context: its response headers (but content-type and -length: the
            answer is KServe's JSON) and a status other than 200, which fails the request (4xx: 400, else 500)."""
            for processor in self.context.request_processor[:1]:
                for k, v in processor.get_response_headers().items():
                    if str(k).lower() not in ("content-type", "content-length") and response_headers is not None:
                        response_headers[str(k)] = str(v)
                code, phrase = processor.get_response_status_code(), processor.get_response_status_phrase()
                if code != 200:
                    err = kserve.errors.InvalidInput if isinstance(code, int) and 400 <= code < 500 else \
                        kserve.errors.InferenceError
                    raise err("model '%s': the handler set status %s: %s" % (self.name, code, phrase or ""))

        def _handle(self, rows, headers, response_headers=None):
            self.context.request_processor = _headers_processors(headers, len(rows))
            self.context.request_ids = {i: (headers or {}).get("x-request-id") for i in range(len(rows))}
            try:
                out = self.entry(rows, self.context)
            except PredictionException as e:
                code = e.error_code if isinstance(e.error_code, int) else 500
                err = kserve.errors.InvalidInput if 400 <= code < 500 else kserve.errors.InferenceError
                raise err("model '%s': %s (the handler's error_code %s)" % (self.name, e.message, e.error_code))
            self._answer_status(response_headers)
            if not isinstance(out, list):
                raise kserve.errors.InferenceError(
                    "model '%s': the handler returned %s, not a list" % (self.name, type(out).__name__))
            if len(out) != len(rows):
                raise kserve.errors.InferenceError(
                    "model '%s': the handler returned %d results for %d inputs (number of batch response "
                    "mismatched)" % (self.name, len(out), len(rows)))
            return out

        def predict(self, payload, headers=None, response_headers=None):
            if isinstance(payload, kserve.InferRequest):
                rows = _v2_rows(payload)
                if not rows:
                    raise kserve.errors.InvalidInput("no inputs")
                out = self._handle(rows, headers, response_headers)
                outputs = []
                for i, value in enumerate(out):
                    name, arr = _v2_output("predict" if i == 0 else "predict_%d" % i, value)
                    outputs.append(kserve.InferOutput(name, list(arr.shape), _datatype(arr), arr))
                return kserve.InferResponse(payload.id, self.name, outputs, model_version=self.version)
            instances = payload.get("instances") if isinstance(payload, dict) else None
            if not isinstance(instances, list) or not instances:
                raise kserve.errors.InvalidInput("expected a JSON object with a non-empty \"instances\" list")
            rows = [i if isinstance(i, dict) and ("data" in i or "body" in i) else {"data": i} for i in instances]
            return {"predictions": self._handle(rows, headers, response_headers)}

    return TorchServeModel


def _datatype(arr):
    if arr.dtype == object:
        return "BYTES"
    return {"b": "BOOL", "i": "INT%d" % (arr.dtype.itemsize * 8), "u": "UINT%d" % (arr.dtype.itemsize * 8),
            "f": "FP%d" % (arr.dtype.itemsize * 8)}.get(arr.dtype.kind, "BYTES")


def load_archive(mar, name, version, work_dir, index):
    """Unpacks and loads one archive: (name, version, entry, context). Raises ArchiveError naming the archive."""
    if not os.path.isfile(mar):
        raise ArchiveError("%s: no such archive in the model store" % mar)
    model_dir = os.path.join(work_dir, "%d-%s" % (index, os.path.basename(mar)[:-4] or "model"))
    unpack(mar, model_dir)
    manifest = read_manifest(model_dir, mar)
    model = manifest["model"]
    name = name or model.get("modelName")
    if not name:
        raise ArchiveError("%s: no model name (model_snapshot or the manifest's modelName)" % mar)
    version = version or str(model.get("modelVersion") or "1.0")
    if model.get("requirementsFile"):
        logger.warning("%s: requirementsFile %s is not installed (install_py_dep_per_model is not supported); the "
                       "packages it lists must be present", mar, model["requirementsFile"])
    before = set(sys.modules)
    sys.path.insert(0, model_dir)
    try:
        entry, instance = load_handler(model["handler"], model_dir, mar)
        context = Context(name, model_dir, manifest, 1, None, "inferd")
        if instance is not None:
            instance.initialize(context)  # a module-level handle() initializes itself on its first call
    except ArchiveError:
        raise
    except Exception as e:  # noqa: BLE001 - the handler's own failure, named
        raise ArchiveError("%s: handler '%s' failed to load: %s: %s" % (mar, model["handler"], type(e).__name__, e))
    finally:
        # The archive's directory moves to the end of sys.path (a module the handler imports at request time is
        # still found, after any other of that name), and the modules it loaded from there leave sys.modules (the
        # handler keeps them), so that another archive's module of the same name (handler.py, model.py) is its own.
        if model_dir in sys.path:
            sys.path.remove(model_dir)
        sys.path.append(model_dir)
        for key in set(sys.modules) - before:
            f = getattr(sys.modules[key], "__file__", None) or ""
            if f.startswith(model_dir + os.sep):
                del sys.modules[key]
    return name, version, entry, context


def main(argv=None):
    parser = argparse.ArgumentParser(prog="inferd torchserve", add_help=False)
    parser.add_argument("--model-store", dest="model_store")
    parser.add_argument("--ts-config", dest="ts_config")
    parser.add_argument("--work-dir", dest="work_dir", required=True)
    args, _ = parser.parse_known_args(argv if argv is not None else sys.argv[1:])
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    props = read_config(args.ts_config) if args.ts_config else {}
    store = args.model_store or props.get("model_store")
    if not store or not os.path.isdir(store):
        raise ArchiveError("model store %r is not a directory (--model-store or model_store)" % store)
    logger.info("TorchServe model store %s (config %s), %s", store, args.ts_config or "none", install_ts())
    import kserve
    cls = make_model_class(kserve)
    models, failures = [], []
    for i, (name, version, mar) in enumerate(models_to_serve(props, store)):
        try:
            name, version, entry, context = load_archive(mar, name, version, args.work_dir, i)
        except ArchiveError as e:
            logger.error("%s", e)
            failures.append(str(e))
            continue
        except Exception as e:  # noqa: BLE001 - a reader's failure not foreseen: this archive is left out, named
            logger.exception("%s: cannot be served: %s: %s", mar, type(e).__name__, e)
            failures.append("%s: %s: %s" % (mar, type(e).__name__, e))
            continue
        logger.info("model '%s' version %s from %s (handler %s)", name, version, mar,
                    context.manifest["model"]["handler"])
        models.append(cls(name, version, entry, context))
    if not models:
        raise ArchiveError("no TorchServe model loaded: " + ("; ".join(failures) or "the model store is empty"))
    kserve.ModelServer().start(models)


if __name__ == "__main__":
    main()
