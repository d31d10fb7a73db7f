#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include "backends/python/python_model_backend.h"

#include <utility>

#include "backends/python/kserve_shim.h"
#include "core/logging.h"
#include "python/python_runtime.h"

namespace inferd {

namespace {

// The pending exception as a Status whose code follows the shim's error_kind().
Status ModelError(PyObject* shim, const std::string& context) {
  PyObject *type = nullptr, *value = nullptr, *tb = nullptr;
  PyErr_Fetch(&type, &value, &tb);
  PyErr_NormalizeException(&type, &value, &tb);
  std::string kind = "internal";
  if (value) {
    PyRef fn(PyObject_GetAttrString(shim, "error_kind"));
    PyRef k(fn ? PyObject_CallFunctionObjArgs(fn.get(), value, nullptr) : nullptr);
    if (k) kind = PyToString(k.get());
    PyErr_Clear();
  }
  PyErr_Restore(type, value, tb);
  Status st = PythonError(context);
  if (kind == "invalid") return InvalidArgument(st.message());
  if (kind == "not_ready") return Unavailable(st.message());
  if (kind == "unimplemented") return Unimplemented(st.message());
  return st;
}

class PythonModelBackend final : public Backend {
 public:
  PythonModelBackend(std::string name, PyRef shim, PyRef model)
      : shim_(std::move(shim)), model_(std::move(model)) {
    metadata_.name = std::move(name);
    metadata_.platform = "python";
    metadata_.execution = "python";
    metadata_.v1_passthrough = true;  // PythonV1PassThrough below
  }
  ~PythonModelBackend() override {
    GilLock gil;
    model_.reset();
    shim_.reset();
  }

  const ModelMetadata& metadata() const override { return metadata_; }
  bool dynamic_io() const override { return true; }

  // For dynamic models the model layer passes every output the model returns when none was requested;
  // `requested` is ignored here and filtering by name happens in the model layer.
  Status Execute(std::span<const Tensor> inputs, std::span<const int> /*requested*/,
                 std::vector<Tensor>* outputs) override {
    GilLock gil;
    PyRef names(PyList_New(0)), arrays(PyList_New(0));
    for (const Tensor& t : inputs) {
      ASSIGN_OR_RETURN(PyRef arr, TensorToNumpy(t));
      PyRef name(PyUnicode_FromString(t.name().c_str()));
      PyList_Append(names.get(), name.get());
      PyList_Append(arrays.get(), arr.get());
    }
    PyRef fn(PyObject_GetAttrString(shim_.get(), "predict_v2"));
    PyRef rid(PyUnicode_FromString(""));
    PyRef mname(PyUnicode_FromString(metadata_.name.c_str()));
    PyRef params(PyDict_New());
    PyRef headers(PyDict_New());
    if (!fn) return ModelError(shim_.get(), "model '" + metadata_.name + "'");
    PyRef result(PyObject_CallFunctionObjArgs(fn.get(), model_.get(), rid.get(), mname.get(), names.get(),
                                              arrays.get(), params.get(), headers.get(), nullptr));
    if (!result) return ModelError(shim_.get(), "model '" + metadata_.name + "'");
    Py_ssize_t n = PyList_Size(result.get());
    for (Py_ssize_t i = 0; i < n; ++i) {
      PyObject* pair = PyList_GET_ITEM(result.get(), i);  // (name, array)
      std::string name = PyToString(PyTuple_GetItem(pair, 0));
      ASSIGN_OR_RETURN(Tensor t, NumpyToTensor(PyTuple_GetItem(pair, 1), std::move(name)));
      outputs->push_back(std::move(t));
    }
    if (PyErr_Occurred()) return PythonError("model '" + metadata_.name + "': outputs");
    return Status::Ok();
  }

 private:
  ModelMetadata metadata_;
  PyRef shim_;
  PyRef model_;
};

// The V1 pass-through of one model (server/v1_passthrough.h): the body, as text, goes to the shim's
// predict_v1, which runs KServe's preprocess -> predict -> postprocess on json.loads(body).
class PythonV1PassThrough {
 public:
  PythonV1PassThrough(std::string name, PyRef shim, PyRef model)
      : name_(std::move(name)), shim_(std::move(shim)), model_(std::move(model)) {}
  ~PythonV1PassThrough() {
    GilLock gil;
    model_.reset();
    shim_.reset();
  }
  PythonV1PassThrough(const PythonV1PassThrough&) = delete;
  PythonV1PassThrough& operator=(const PythonV1PassThrough&) = delete;

  StatusOr<PassThroughAnswer> Predict(const PassThroughCall& call) const {
    GilLock gil;
    PyRef fn(PyObject_GetAttrString(shim_.get(), "predict_v1"));
    PyRef text(PyUnicode_FromStringAndSize(call.body.data(), static_cast<Py_ssize_t>(call.body.size())));
    if (!fn || !text) return ModelError(shim_.get(), "model '" + name_ + "'");
    PyRef headers(PyDict_New());
    if (!headers) return ModelError(shim_.get(), "model '" + name_ + "'");
    if (call.headers) {
      for (const auto& [k, v] : *call.headers) {
        PyRef value(PyUnicode_DecodeUTF8(v.data(), static_cast<Py_ssize_t>(v.size()), "replace"));
        if (!value || PyDict_SetItemString(headers.get(), k.c_str(), value.get()) != 0) {
          return ModelError(shim_.get(), "model '" + name_ + "'");
        }
      }
    }
    PyRef out(PyObject_CallFunctionObjArgs(fn.get(), model_.get(), text.get(), headers.get(), nullptr));
    if (!out) return ModelError(shim_.get(), "model '" + name_ + "'");
    Py_ssize_t n = 0;
    const char* s = PyUnicode_AsUTF8AndSize(out.get(), &n);
    if (!s) return ModelError(shim_.get(), "model '" + name_ + "'");
    return PassThroughAnswer{std::string(s, static_cast<size_t>(n)), {}};
  }

 private:
  std::string name_;
  PyRef shim_;
  PyRef model_;
};

}  // namespace

StatusOr<std::vector<PythonModel>> LoadPythonModels(const std::string& script, const std::vector<std::string>& argv) {
  RETURN_IF_ERROR(EnsurePython());
  GilLock gil;
  const std::string where = "--python '" + script + "'";
  ASSIGN_OR_RETURN(PyRef shim, ModuleFromSource("_inferd_kserve", kKserveShimSource));
  PyRef install(PyObject_GetAttrString(shim.get(), "install"));
  PyRef how(install ? PyObject_CallNoArgs(install.get()) : nullptr);
  if (!how) return PythonError(where + ": installing the kserve module");
  LOG_INFO("python model script '{}' with {}", script, PyToString(how.get()));

  PyRef sys_argv(PyList_New(0));
  PyRef s0(PyUnicode_FromString(script.c_str()));
  PyList_Append(sys_argv.get(), s0.get());
  for (const auto& a : argv) {
    PyRef s(PyUnicode_FromString(a.c_str()));
    PyList_Append(sys_argv.get(), s.get());
  }
  if (PySys_SetObject("argv", sys_argv.get()) != 0) return PythonError(where + ": sys.argv");

  PyRef runpy(PyImport_ImportModule("runpy"));
  PyRef run_path(runpy ? PyObject_GetAttrString(runpy.get(), "run_path") : nullptr);
  if (!run_path) return PythonError(where + ": runpy");
  PyRef kwargs(PyDict_New());
  PyRef main_name(PyUnicode_FromString("__main__"));
  PyDict_SetItemString(kwargs.get(), "run_name", main_name.get());
  PyRef args(PyTuple_Pack(1, s0.get()));
  PyRef globals(PyObject_Call(run_path.get(), args.get(), kwargs.get()));
  if (!globals) {
    // A script that ends with sys.exit(0) after registering is fine.
    if (PyErr_ExceptionMatches(PyExc_SystemExit)) {
      PyErr_Clear();
    } else {
      return PythonError(where + " failed");
    }
  }
  PyRef registered(PyObject_GetAttrString(shim.get(), "registered"));
  if (!registered || !PyList_Check(registered.get())) return PythonError(where + ": registered models");
  std::vector<PythonModel> out;
  for (Py_ssize_t i = 0; i < PyList_GET_SIZE(registered.get()); ++i) {
    PyObject* m = PyList_GET_ITEM(registered.get(), i);
    PyRef name_obj(PyObject_GetAttrString(m, "name"));
    if (!name_obj) return PythonError(where + ": a registered model has no name");
    std::string name = PyToString(name_obj.get());
    Py_INCREF(m);
    Py_INCREF(shim.get());
    auto backend = std::make_unique<PythonModelBackend>(name, PyRef(shim.get()), PyRef(m));
    Py_INCREF(m);
    Py_INCREF(shim.get());
    auto v1 = std::make_shared<const PythonV1PassThrough>(name, PyRef(shim.get()), PyRef(m));
    out.push_back({name, std::move(backend), [v1](const PassThroughCall& call) { return v1->Predict(call); }});
  }
  if (out.empty()) {
    return InvalidArgument(where + " registered no model: it must call kserve.ModelServer().start([model])");
  }
  return out;
}

}  // namespace inferd
