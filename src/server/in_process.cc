#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include "server/in_process.h"

#include <string>
#include <utility>
#include <vector>

#include "protocol/v1_json.h"
#include "python/python_runtime.h"

namespace inferd {

namespace {

Status Prefixed(const Status& st) {
  return Status(st.code(), std::string(st.code() == StatusCode::kInvalidArgument ? "InvalidInput : "
                                                                                   : "InferenceError : ") +
                               st.message());
}

StatusOr<std::string> NativeV1(Model& model, std::string_view body) {
  InferRequest ireq;
  ireq.model_name = model.name();
  ireq.inferred_datatypes = true;
  V1Form form = V1Form::kInstances;
  const ModelMetadata& md = model.metadata();
  Status st = ParseV1PredictRequest(body, md, &ireq, &form);
  if (!st.ok()) return Prefixed(st);
  ireq.outputs.push_back({md.outputs[static_cast<size_t>(md.v1_output)].name, {}});
  InferResponse iresp;
  st = model.Infer(ireq, &iresp);
  if (!st.ok()) return Prefixed(st);
  std::string out;
  WriteV1PredictResponse(iresp.outputs[0], form, &out);
  return out;
}

PyObject* RaisePredictorError(const Status& st) {
  PyObject* mod = PyImport_ImportModule("_inferd_native");
  PyObject* err = mod ? PyObject_GetAttrString(mod, "PredictorError") : nullptr;
  Py_XDECREF(mod);
  if (!err) return nullptr;
  PyErr_SetString(err, Prefixed(st).message().c_str());
  Py_DECREF(err);
  return nullptr;
}

// [(name, array)] -> tensors -> Model::Infer (GIL released) -> [(name, array)].
PyObject* NativeInfer(Model& model, PyObject* inputs) {
  InferRequest ireq;
  ireq.model_name = model.name();
  PyObject* seq = PySequence_Fast(inputs, "inputs must be a list of (name, array)");
  if (!seq) return nullptr;
  for (Py_ssize_t i = 0; i < PySequence_Fast_GET_SIZE(seq); ++i) {
    PyObject* item = PySequence_Fast_GET_ITEM(seq, i);
    PyObject *name, *arr;
    if (!PyArg_ParseTuple(item, "UO", &name, &arr)) {
      Py_DECREF(seq);
      return nullptr;
    }
    auto t = NumpyToTensor(arr, PyUnicode_AsUTF8(name));
    if (!t.ok()) {
      Py_DECREF(seq);
      return RaisePredictorError(t.status());
    }
    ireq.inputs.push_back(std::move(*t));
  }
  Py_DECREF(seq);
  InferResponse iresp;
  Status st;
  Py_BEGIN_ALLOW_THREADS st = model.Infer(ireq, &iresp);
  Py_END_ALLOW_THREADS if (!st.ok()) return RaisePredictorError(st);
  PyObject* out = PyList_New(0);
  for (const Tensor& t : iresp.outputs) {
    auto arr = TensorToNumpy(t);
    if (!arr.ok()) {
      Py_DECREF(out);
      return RaisePredictorError(arr.status());
    }
    PyObject* pair = Py_BuildValue("(sO)", t.name().c_str(), arr->get());
    if (!pair) {
      Py_DECREF(out);
      return nullptr;
    }
    PyList_Append(out, pair);
    Py_DECREF(pair);
  }
  return out;
}

// V1 `instances` rows already as one array (the shim's fast path: no JSON text in between): the same
// request and answer as NativeV1 for a model with one input.
PyObject* NativeV1Array(Model& model, PyObject* array) {
  const ModelMetadata& md = model.metadata();
  if (md.inputs.size() != 1) Py_RETURN_NONE;
  auto t = NumpyToTensor(array, md.inputs[0].name);
  if (!t.ok()) return RaisePredictorError(t.status());
  InferRequest ireq;
  ireq.model_name = model.name();
  ireq.inferred_datatypes = true;  // as the V1 codec: the model layer converts to the declared datatype
  ireq.inputs.push_back(std::move(*t));
  ireq.outputs.push_back({md.outputs[static_cast<size_t>(md.v1_output)].name, {}});
  InferResponse iresp;
  Status st;
  std::string out;
  Py_BEGIN_ALLOW_THREADS st = model.Infer(ireq, &iresp);
  if (st.ok()) WriteV1PredictResponse(iresp.outputs[0], V1Form::kInstances, &out);
  Py_END_ALLOW_THREADS if (!st.ok()) return RaisePredictorError(st);
  return PyBytes_FromStringAndSize(out.data(), static_cast<Py_ssize_t>(out.size()));
}

}  // namespace

NativeModelCalls InProcessCalls(std::shared_ptr<Model> model) {
  NativeModelCalls calls;
  std::string name = model->name();
  calls.has = [name](std::string_view m) { return m == name; };
  calls.v1 = [model](const std::string&, std::string_view body, const HeaderList&) { return NativeV1(*model, body); };
  calls.infer = [model](const char*, PyObject* inputs) { return NativeInfer(*model, inputs); };
  calls.v1_array = [model](const char*, PyObject* array) { return NativeV1Array(*model, array); };
  return calls;
}

}  // namespace inferd
