#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include "backends/python/native_module.h"

#include <memory>
#include <string>
#include <utility>

#include "inference.pb.h"
#include "pipeline/predictor_client.h"
#include "protocol/json_tensor.h"

namespace inferd {

namespace {

using pipeline::PredictorClient;

PyObject* g_error = nullptr;  // _inferd_native.PredictorError
NativeModelCalls g_native;    // the in-process predictor (empty when none)

constexpr const char* kCapsule = "inferd.PredictorClient";

PyObject* RaiseStatus(const Status& st) {
  PyErr_SetString(g_error, st.message().c_str());
  return nullptr;
}

const PredictorClient* ClientOf(PyObject* capsule) {
  return static_cast<const PredictorClient*>(PyCapsule_GetPointer(capsule, kCapsule));
}

void DeleteClient(PyObject* capsule) { delete static_cast<PredictorClient*>(PyCapsule_GetPointer(capsule, kCapsule)); }

// The str -> str items of a dict (or nothing for None); false with an exception set otherwise.
bool HeadersOf(PyObject* obj, HeaderList* out) {
  if (obj == Py_None) return true;
  if (!PyDict_Check(obj)) {
    PyErr_SetString(PyExc_TypeError, "headers must be a dict");
    return false;
  }
  PyObject *k, *v;
  Py_ssize_t pos = 0;
  while (PyDict_Next(obj, &pos, &k, &v)) {
    if (!PyUnicode_Check(k) || !PyUnicode_Check(v)) continue;
    const char* ks = PyUnicode_AsUTF8(k);
    const char* vs = PyUnicode_AsUTF8(v);
    if (!ks || !vs) return false;
    std::string key(ks);
    for (char& c : key) c = static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
    out->emplace_back(std::move(key), vs);
  }
  return true;
}

PyObject* HeaderListToPy(const HeaderList& headers) {
  PyObject* list = PyList_New(0);
  for (const auto& [k, v] : headers) {
    PyObject* item = Py_BuildValue("(s#s#)", k.data(), static_cast<Py_ssize_t>(k.size()), v.data(),
                                   static_cast<Py_ssize_t>(v.size()));
    if (!item) {
      PyErr_Clear();  // a header value that is not UTF-8 is left out
      continue;
    }
    PyList_Append(list, item);
    Py_DECREF(item);
  }
  return list;
}

PyObject* ReplyToPy(StatusOr<pipeline::PredictorReply>& r) {
  if (!r.ok()) return RaiseStatus(r.status());
  PyObject* headers = HeaderListToPy(r->headers);
  return Py_BuildValue("(y#LN)", r->body.data(), static_cast<Py_ssize_t>(r->body.size()),
                       static_cast<long long>(r->json_length), headers);
}

// client(host, protocol, use_ssl, timeout_s, retries) -> capsule
PyObject* NewClient(PyObject*, PyObject* args) {
  const char *host, *protocol;
  int use_ssl = 0, retries = 0;
  double timeout = 600;
  if (!PyArg_ParseTuple(args, "ssp|di", &host, &protocol, &use_ssl, &timeout, &retries)) return nullptr;
  auto proto = pipeline::ParsePredictorProtocol(protocol);
  if (!proto.ok()) return RaiseStatus(proto.status());
  pipeline::PredictorConfig c;
  c.host = host;
  c.protocol = *proto;
  c.use_ssl = use_ssl != 0;
  c.timeout_s = timeout;
  c.retries = retries;
  auto* client = new PredictorClient(c.WithGatewayFromEnv());
  return PyCapsule_New(client, kCapsule, DeleteClient);
}

// predict_v1(client, model, body: bytes, headers) -> (body, json_length, [(k, v)])
PyObject* PredictV1(PyObject*, PyObject* args) {
  PyObject *cap, *hdr;
  const char* model;
  const char* body;
  Py_ssize_t n;
  if (!PyArg_ParseTuple(args, "Osy#O", &cap, &model, &body, &n, &hdr)) return nullptr;
  const PredictorClient* c = ClientOf(cap);
  HeaderList headers;
  if (!c || !HeadersOf(hdr, &headers)) return nullptr;
  std::string m(model);
  StatusOr<pipeline::PredictorReply> r = Internal("not called");
  Py_BEGIN_ALLOW_THREADS r = c->PredictV1(m, std::string_view(body, static_cast<size_t>(n)), &headers);
  Py_END_ALLOW_THREADS return ReplyToPy(r);
}

// infer_v2(client, model, body: bytes, json_length, headers) -> (body, json_length, [(k, v)])
PyObject* InferV2(PyObject*, PyObject* args) {
  PyObject *cap, *hdr;
  const char* model;
  const char* body;
  Py_ssize_t n, json_length;
  if (!PyArg_ParseTuple(args, "Osy#nO", &cap, &model, &body, &n, &json_length, &hdr)) return nullptr;
  const PredictorClient* c = ClientOf(cap);
  HeaderList headers;
  if (!c || !HeadersOf(hdr, &headers)) return nullptr;
  std::string m(model);
  StatusOr<pipeline::PredictorReply> r = Internal("not called");
  Py_BEGIN_ALLOW_THREADS r = c->InferV2(m, std::string_view(body, static_cast<size_t>(n)),
                                        static_cast<size_t>(json_length), &headers);
  Py_END_ALLOW_THREADS return ReplyToPy(r);
}

// (name, datatype, shape, raw bytes) -> a ModelInferRequest input; false with an exception set otherwise.
bool AddGrpcInput(PyObject* item, inference::ModelInferRequest* req) {
  const char *name, *datatype, *raw;
  Py_ssize_t n;
  PyObject* shape;
  if (!PyArg_ParseTuple(item, "ssOy#", &name, &datatype, &shape, &raw, &n)) return false;
  auto* in = req->add_inputs();
  in->set_name(name);
  in->set_datatype(datatype);
  PyObject* seq = PySequence_Fast(shape, "shape must be a sequence");
  if (!seq) return false;
  for (Py_ssize_t i = 0; i < PySequence_Fast_GET_SIZE(seq); ++i) {
    in->add_shape(PyLong_AsLongLong(PySequence_Fast_GET_ITEM(seq, i)));
  }
  Py_DECREF(seq);
  if (PyErr_Occurred()) return false;
  req->add_raw_input_contents(raw, static_cast<size_t>(n));
  return true;
}

// One output of a ModelInferResponse as (name, datatype, shape, raw bytes or None, typed contents or None).
PyObject* GrpcOutputToPy(const inference::ModelInferResponse& resp, int i) {
  const auto& out = resp.outputs(i);
  PyObject* shape = PyList_New(0);
  for (int64_t d : out.shape()) {
    PyObject* v = PyLong_FromLongLong(d);
    PyList_Append(shape, v);
    Py_DECREF(v);
  }
  if (i < resp.raw_output_contents_size()) {
    const std::string& raw = resp.raw_output_contents(i);
    return Py_BuildValue("(ssNy#)", out.name().c_str(), out.datatype().c_str(), shape, raw.data(),
                         static_cast<Py_ssize_t>(raw.size()));
  }
  // Typed contents: serialized as the message so that Python decodes what it needs (rare: inferd and Triton
  // answer with raw contents).
  std::string bytes;
  out.contents().SerializeToString(&bytes);
  return Py_BuildValue("(ssNOy#)", out.name().c_str(), out.datatype().c_str(), shape, Py_None, bytes.data(),
                       static_cast<Py_ssize_t>(bytes.size()));
}

// infer_grpc(client, model, request_id, inputs [(name, datatype, shape, raw)], outputs [names], headers)
//   -> (model_name, model_version, id, [(name, datatype, shape, raw)])
PyObject* InferGrpc(PyObject*, PyObject* args) {
  PyObject *cap, *inputs, *outputs, *hdr;
  const char *model, *request_id;
  if (!PyArg_ParseTuple(args, "OssOOO", &cap, &model, &request_id, &inputs, &outputs, &hdr)) return nullptr;
  const PredictorClient* c = ClientOf(cap);
  HeaderList headers;
  if (!c || !HeadersOf(hdr, &headers)) return nullptr;
  inference::ModelInferRequest req;
  req.set_model_name(model);
  req.set_id(request_id);
  PyObject* seq = PySequence_Fast(inputs, "inputs must be a sequence");
  if (!seq) return nullptr;
  for (Py_ssize_t i = 0; i < PySequence_Fast_GET_SIZE(seq); ++i) {
    if (!AddGrpcInput(PySequence_Fast_GET_ITEM(seq, i), &req)) {
      Py_DECREF(seq);
      return nullptr;
    }
  }
  Py_DECREF(seq);
  if (outputs != Py_None) {
    PyObject* names = PySequence_Fast(outputs, "outputs must be a sequence");
    if (!names) return nullptr;
    for (Py_ssize_t i = 0; i < PySequence_Fast_GET_SIZE(names); ++i) {
      const char* s = PyUnicode_AsUTF8(PySequence_Fast_GET_ITEM(names, i));
      if (s) req.add_outputs()->set_name(s);
    }
    Py_DECREF(names);
    if (PyErr_Occurred()) return nullptr;
  }
  inference::ModelInferResponse resp;
  Status st;
  Py_BEGIN_ALLOW_THREADS st = c->InferGrpc(req, &resp, &headers);
  Py_END_ALLOW_THREADS if (!st.ok()) return RaiseStatus(st);
  PyObject* outs = PyList_New(0);
  for (int i = 0; i < resp.outputs_size(); ++i) {
    PyObject* o = GrpcOutputToPy(resp, i);
    if (!o) {
      Py_DECREF(outs);
      return nullptr;
    }
    PyList_Append(outs, o);
    Py_DECREF(o);
  }
  return Py_BuildValue("(sssN)", resp.model_name().c_str(), resp.model_version().c_str(), resp.id().c_str(), outs);
}

// server_ready(client) / model_ready(client, model) -> bool
PyObject* ServerReady(PyObject*, PyObject* args) {
  PyObject* cap;
  if (!PyArg_ParseTuple(args, "O", &cap)) return nullptr;
  const PredictorClient* c = ClientOf(cap);
  if (!c) return nullptr;
  Status st;
  Py_BEGIN_ALLOW_THREADS st = c->ServerReady();
  Py_END_ALLOW_THREADS return PyBool_FromLong(st.ok());
}

PyObject* ModelReady(PyObject*, PyObject* args) {
  PyObject* cap;
  const char* model;
  if (!PyArg_ParseTuple(args, "Os", &cap, &model)) return nullptr;
  const PredictorClient* c = ClientOf(cap);
  if (!c) return nullptr;
  std::string m(model);
  Status st;
  Py_BEGIN_ALLOW_THREADS st = c->ModelReady(m);
  Py_END_ALLOW_THREADS return PyBool_FromLong(st.ok());
}

// native_v1(model, body: bytes, headers) -> body bytes (the in-process predictor's V1 answer)
PyObject* NativeV1(PyObject*, PyObject* args) {
  const char *model, *body;
  Py_ssize_t n;
  PyObject* hdr;
  if (!PyArg_ParseTuple(args, "sy#O", &model, &body, &n, &hdr)) return nullptr;
  HeaderList headers;
  if (!HeadersOf(hdr, &headers)) return nullptr;
  if (!g_native.v1) return RaiseStatus(Unimplemented("no in-process model"));
  std::string m(model);
  StatusOr<std::string> r = Internal("not called");
  Py_BEGIN_ALLOW_THREADS r = g_native.v1(m, std::string_view(body, static_cast<size_t>(n)), headers);
  Py_END_ALLOW_THREADS if (!r.ok()) return RaiseStatus(r.status());
  return PyBytes_FromStringAndSize(r->data(), static_cast<Py_ssize_t>(r->size()));
}

// native_infer(model, [(name, array)]) -> [(name, datatype, shape, array)] (the in-process predictor's tensors)
PyObject* NativeInfer(PyObject*, PyObject* args) {
  const char* model;
  PyObject* inputs;
  if (!PyArg_ParseTuple(args, "sO", &model, &inputs)) return nullptr;
  if (!g_native.infer) return RaiseStatus(Unimplemented("no in-process model"));
  return g_native.infer(model, inputs);
}

// native_v1_array(model, array) -> V1 answer bytes, or None
PyObject* NativeV1Array(PyObject*, PyObject* args) {
  const char* model;
  PyObject* array;
  if (!PyArg_ParseTuple(args, "sO", &model, &array)) return nullptr;
  if (!g_native.v1_array) return RaiseStatus(Unimplemented("no in-process model"));
  return g_native.v1_array(model, array);
}

PyObject* HasNative(PyObject*, PyObject* args) {
  const char* model;
  if (!PyArg_ParseTuple(args, "s", &model)) return nullptr;
  return PyBool_FromLong(g_native.has && g_native.has(model));
}

// JSON text -> Python objects with simdjson, for the V1 bodies the shim hands to preprocess. Why not
// json.loads: on a body of 784 numbers (an mnist image) json.loads took 50 us and this 19 us, same process
// (tests/pipeline/kserve_samples_test.py prints the figure; KServe's server uses orjson for the same reason). It gives what json.loads gives (dict, list, str, int,
// float, bool, None; the last of duplicate keys); whatever simdjson refuses (NaN/Infinity literals, numbers
// out of range, lone surrogates, too deep) makes `loads` return None and the shim falls back to json.loads,
// which then decides. Recursion is bounded by the parser's depth limit (core/json_depth.h).
PyObject* ToPython(simdjson::dom::element e) {
  using simdjson::dom::element_type;
  switch (e.type()) {
    case element_type::OBJECT: {
      PyObject* d = PyDict_New();
      simdjson::dom::object obj = e.get_object().value_unsafe();
      for (auto [key, value] : obj) {
        PyObject* k = PyUnicode_DecodeUTF8(key.data(), static_cast<Py_ssize_t>(key.size()), nullptr);
        PyObject* v = k ? ToPython(value) : nullptr;
        if (!v || PyDict_SetItem(d, k, v) != 0) {
          Py_XDECREF(k);
          Py_XDECREF(v);
          Py_DECREF(d);
          return nullptr;
        }
        Py_DECREF(k);
        Py_DECREF(v);
      }
      return d;
    }
    case element_type::ARRAY: {
      simdjson::dom::array arr = e.get_array().value_unsafe();
      // The list made at its final size and filled in place: appending (and the reallocations it brings)
      // cost about a fifth of the parse of an mnist image. simdjson's count saturates at 0xFFFFFF; a
      // larger array is appended to.
      const size_t size = arr.size();
      const bool sized = size < 0xFFFFFF;
      PyObject* l = PyList_New(sized ? static_cast<Py_ssize_t>(size) : 0);
      if (!l) return nullptr;
      Py_ssize_t i = 0;
      for (simdjson::dom::element item : arr) {
        PyObject* v = ToPython(item);
        if (v && sized) {
          PyList_SET_ITEM(l, i++, v);  // steals v
          continue;
        }
        if (!v || PyList_Append(l, v) != 0) {
          Py_XDECREF(v);
          Py_DECREF(l);  // a sized list's unset items are NULL, which list_dealloc skips
          return nullptr;
        }
        Py_DECREF(v);
      }
      return l;
    }
    case element_type::STRING: {
      std::string_view sv = e.get_string().value_unsafe();
      return PyUnicode_DecodeUTF8(sv.data(), static_cast<Py_ssize_t>(sv.size()), nullptr);
    }
    case element_type::INT64: return PyLong_FromLongLong(e.get_int64().value_unsafe());
    case element_type::UINT64: return PyLong_FromUnsignedLongLong(e.get_uint64().value_unsafe());
    case element_type::DOUBLE: return PyFloat_FromDouble(e.get_double().value_unsafe());
    case element_type::BOOL: return PyBool_FromLong(e.get_bool().value_unsafe());
    case element_type::NULL_VALUE: Py_RETURN_NONE;
  }
  Py_RETURN_NONE;
}

// loads(bytes | str) -> the value, or None when simdjson refuses the text (the caller then uses json.loads).
// A document whose top level is `null` also gives None: the caller's json.loads gives the same.
PyObject* Loads(PyObject*, PyObject* arg) {
  const char* data;
  Py_ssize_t n;
  if (PyBytes_Check(arg)) {
    data = PyBytes_AS_STRING(arg);
    n = PyBytes_GET_SIZE(arg);
  } else if (PyUnicode_Check(arg)) {
    data = PyUnicode_AsUTF8AndSize(arg, &n);
    if (!data) return nullptr;
  } else {
    PyErr_SetString(PyExc_TypeError, "loads: bytes or str");
    return nullptr;
  }
  PyObject* v = JsonToPython(std::string_view(data, static_cast<size_t>(n)));
  if (!v && !PyErr_Occurred()) Py_RETURN_NONE;
  return v;
}

}  // namespace

PyObject* JsonToPython(std::string_view text) {
  simdjson::dom::element doc;
  if (!ParseJson(text, &doc, "body").ok()) return nullptr;
  PyObject* v = ToPython(doc);
  if (!v && PyErr_ExceptionMatches(PyExc_UnicodeDecodeError)) PyErr_Clear();
  return v;
}

namespace {

PyMethodDef kMethods[] = {
    {"loads", Loads, METH_O, "loads(bytes|str) -> value, or None to fall back to json.loads"},
    {"client", NewClient, METH_VARARGS, "client(host, protocol, use_ssl, timeout_s, retries)"},
    {"predict_v1", PredictV1, METH_VARARGS, "predict_v1(client, model, body, headers)"},
    {"infer_v2", InferV2, METH_VARARGS, "infer_v2(client, model, body, json_length, headers)"},
    {"infer_grpc", InferGrpc, METH_VARARGS, "infer_grpc(client, model, id, inputs, outputs, headers)"},
    {"server_ready", ServerReady, METH_VARARGS, "server_ready(client)"},
    {"model_ready", ModelReady, METH_VARARGS, "model_ready(client, model)"},
    {"native_v1", NativeV1, METH_VARARGS, "native_v1(model, body, headers)"},
    {"native_v1_array", NativeV1Array, METH_VARARGS, "native_v1_array(model, array)"},
    {"native_infer", NativeInfer, METH_VARARGS, "native_infer(model, [(name, array)])"},
    {"has_native", HasNative, METH_VARARGS, "has_native(model)"},
    {nullptr, nullptr, 0, nullptr}};

PyModuleDef kModule = {PyModuleDef_HEAD_INIT, "_inferd_native", nullptr, -1, kMethods,
                       nullptr, nullptr, nullptr, nullptr};

}  // namespace

void SetNativeModelCalls(NativeModelCalls calls) { g_native = std::move(calls); }

Status InstallNativeModule() {
  PyObject* modules = PyImport_GetModuleDict();
  if (PyDict_GetItemString(modules, "_inferd_native")) return Status::Ok();
  PyObject* m = PyModule_Create(&kModule);
  if (!m) return Internal("creating module _inferd_native failed");
  g_error = PyErr_NewException("_inferd_native.PredictorError", PyExc_RuntimeError, nullptr);
  Py_INCREF(g_error);
  PyModule_AddObject(m, "PredictorError", g_error);
  int rc = PyDict_SetItemString(modules, "_inferd_native", m);
  Py_DECREF(m);
  if (rc != 0) return Internal("registering module _inferd_native failed");
  return Status::Ok();
}

}  // namespace inferd
