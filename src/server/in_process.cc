#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include "server/in_process.h"

#include <cstring>
#include <optional>
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

// [(name, array)] -> tensors -> Model::Infer (GIL released) -> [(name, datatype, shape, array)].
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
    const char* n = PyUnicode_AsUTF8(name);
    if (!n) {
      Py_DECREF(seq);
      return nullptr;  // not UTF-8 (a lone surrogate): the exception is set
    }
    auto t = NumpyToTensor(arr, n);
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
    PyObject* item = Py_BuildValue("(ssNO)", t.name().c_str(), NumpyDatatypeName(t.dtype()),
                                   ShapeList(t.shape()), arr->get());
    if (!item) {
      Py_DECREF(out);
      return nullptr;
    }
    PyList_Append(out, item);
    Py_DECREF(item);
  }
  return out;
}

// V1 rows as json.loads gives them (nested lists of numbers) -> one tensor, the one np.asarray would make:
// FP64 when any value is a float, else INT64, BOOL when every value is a bool. Why by hand: numpy's
// np.asarray took 24 us for one 1x28x28 image (it discovers the shape and the type through generic
// sequence calls), this walk about 2 us. Anything else (ragged rows, strings, bools mixed with numbers,
// numpy values, ints beyond int64, deeper than kMaxRank) is nullopt: the caller sends the rows as JSON
// through the native V1 codec, which answers them as the predictor alone does.
class RowsWalker {
 public:
  static constexpr size_t kMaxRank = 16;
  std::optional<Tensor> Run(PyObject* rows, std::string name) {
    Shape shape;
    for (PyObject* o = rows; PyList_CheckExact(o); o = PyList_GET_ITEM(o, 0)) {
      if (shape.size() == kMaxRank) return std::nullopt;
      shape.push_back(PyList_GET_SIZE(o));
      if (PyList_GET_SIZE(o) == 0) break;
    }
    shape_ = shape;
    if (!Classify(rows, 0)) return std::nullopt;
    const DataType dtype = count_ == 0 || any_float_ ? DataType::kFp64 : all_bool_ ? DataType::kBool : DataType::kInt64;
    const size_t elem = dtype == DataType::kBool ? 1 : 8;
    Tensor t(std::move(name), dtype, std::move(shape));
    out_ = t.Allocate(count_ * elem);
    dtype_ = dtype;
    Fill(rows, 0);
    return t;
  }

 private:
  // Checks the structure (every list at depth d has shape_[d] items, leaves at the last depth) and the leaves.
  bool Classify(PyObject* o, size_t depth) {
    if (depth == shape_.size()) {
      ++count_;
      if (PyBool_Check(o)) return any_bool_ = true, !any_number_;  // a mix is the codec's 400 (JSON path)
      all_bool_ = false;
      any_number_ = true;
      if (any_bool_) return false;
      if (PyFloat_CheckExact(o)) return any_float_ = true;
      if (!PyLong_CheckExact(o)) return false;
      int overflow = 0;
      PyLong_AsLongLongAndOverflow(o, &overflow);
      return overflow == 0;
    }
    if (!PyList_CheckExact(o) || PyList_GET_SIZE(o) != shape_[depth]) return false;
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(o); ++i) {
      if (!Classify(PyList_GET_ITEM(o, i), depth + 1)) return false;
    }
    return true;
  }
  void Fill(PyObject* o, size_t depth) {
    if (depth < shape_.size()) {
      for (Py_ssize_t i = 0; i < PyList_GET_SIZE(o); ++i) Fill(PyList_GET_ITEM(o, i), depth + 1);
      return;
    }
    if (dtype_ == DataType::kBool) {
      *out_++ = o == Py_True ? 1 : 0;
    } else if (dtype_ == DataType::kFp64) {
      const double v = PyFloat_CheckExact(o) ? PyFloat_AS_DOUBLE(o) : static_cast<double>(PyLong_AsLongLong(o));
      std::memcpy(out_, &v, 8);
      out_ += 8;
    } else {
      const int64_t v = PyLong_AsLongLong(o);  // a bool is 0 or 1, as in numpy
      std::memcpy(out_, &v, 8);
      out_ += 8;
    }
  }

  Shape shape_;
  size_t count_ = 0;
  bool any_float_ = false;
  bool all_bool_ = true;
  bool any_bool_ = false;
  bool any_number_ = false;
  DataType dtype_ = DataType::kFp64;
  char* out_ = nullptr;
};

// V1 `instances` rows already as Python values (the shim's fast path: no JSON text in between), either the
// nested lists json.loads gives (walked here) or one numpy array: the same request and answer as NativeV1
// for a model with one input; None when the model has several inputs or the lists are not plain numbers.
PyObject* NativeV1Array(Model& model, PyObject* array) {
  const ModelMetadata& md = model.metadata();
  if (md.inputs.size() != 1) Py_RETURN_NONE;
  StatusOr<Tensor> t = Internal("unset");
  if (PyList_CheckExact(array)) {
    std::optional<Tensor> walked = RowsWalker().Run(array, md.inputs[0].name);
    if (!walked) Py_RETURN_NONE;
    t = std::move(*walked);
  } else {
    t = NumpyToTensor(array, md.inputs[0].name);
  }
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
