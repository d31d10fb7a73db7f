#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include "backends/python/python_model_backend.h"

#include <chrono>
#include <filesystem>
#include <type_traits>
#include <utility>
#include <variant>

#include "backends/python/kserve_shim.h"
#include "backends/python/native_module.h"
#include "core/logging.h"
#include "core/mutex.h"
#include "model/request_context.h"
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
  if (kind == "not_found") return NotFound(st.message());
  if (kind == "unimplemented") return Unimplemented(st.message());
  return st;
}

// A dict of the request's headers (names lower case), empty when there are none. Null with the exception set.
PyRef HeadersDict(const HeaderList* headers) {
  PyRef dict(PyDict_New());
  if (!dict || !headers) return dict;
  for (const auto& [k, v] : *headers) {
    PyRef value(PyUnicode_DecodeUTF8(v.data(), static_cast<Py_ssize_t>(v.size()), "replace"));
    if (!value || PyDict_SetItemString(dict.get(), k.c_str(), value.get()) != 0) return PyRef();
  }
  return dict;
}

// A V2 request's parameters as a dict (bool, int, float, str values). Null with the exception set.
PyRef ParametersDict(const Parameters* params) {
  PyRef dict(PyDict_New());
  if (!dict || !params) return dict;
  for (const auto& [k, v] : *params) {
    PyRef value(std::visit(
        [](const auto& x) -> PyObject* {
          using T = std::decay_t<decltype(x)>;
          if constexpr (std::is_same_v<T, bool>) return PyBool_FromLong(x);
          if constexpr (std::is_same_v<T, int64_t>) return PyLong_FromLongLong(x);
          if constexpr (std::is_same_v<T, double>) return PyFloat_FromDouble(x);
          if constexpr (std::is_same_v<T, std::string>) {
            return PyUnicode_DecodeUTF8(x.data(), static_cast<Py_ssize_t>(x.size()), "replace");
          }
        },
        v));
    if (!value || PyDict_SetItemString(dict.get(), k.c_str(), value.get()) != 0) return PyRef();
  }
  return dict;
}

// The (name, value) pairs the shim returns as response headers, less those that would break the response
// head (a header the model sets must not) and content-length.
void AppendResponseHeaders(PyObject* pairs, HeaderList* out) {
  for (Py_ssize_t i = 0; PyList_Check(pairs) && i < PyList_GET_SIZE(pairs); ++i) {
    PyObject* kv = PyList_GET_ITEM(pairs, i);
    if (!PyTuple_Check(kv) || PyTuple_GET_SIZE(kv) != 2) continue;
    std::string k = PyToString(PyTuple_GET_ITEM(kv, 0)), v = PyToString(PyTuple_GET_ITEM(kv, 1));
    if (k.empty() || k.find_first_of("\r\n:") != std::string::npos || v.find_first_of("\r\n") != std::string::npos) {
      continue;
    }
    out->emplace_back(std::move(k), std::move(v));
  }
}

class PythonModelBackend final : public Backend {
 public:
  // Built with the GIL held; the function and the name it passes are made once here, not at each request.
  PythonModelBackend(std::string name, PyRef shim, PyRef model)
      : shim_(std::move(shim)),
        model_(std::move(model)),
        predict_(PyObject_GetAttrString(shim_.get(), "predict_v2_h")),
        py_name_(PyUnicode_FromString(name.c_str())) {
    if (!predict_ || !py_name_) PyErr_Clear();  // Execute answers that they are missing
    metadata_.name = std::move(name);
    metadata_.platform = "python";
    metadata_.execution = "python";
    metadata_.v1_passthrough = true;  // PythonV1PassThrough below
  }
  ~PythonModelBackend() override {
    GilLock gil;
    py_name_.reset();
    predict_.reset();
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
    PyRef names(PyList_New(0)), arrays(PyList_New(0)), datatypes(PyList_New(0));
    if (!names || !arrays || !datatypes) return PythonError("model '" + metadata_.name + "': inputs");
    for (const Tensor& t : inputs) {
      ASSIGN_OR_RETURN(PyRef arr, TensorToNumpy(t));
      PyRef name(PyUnicode_FromString(t.name().c_str()));
      PyRef datatype(PyUnicode_FromString(NumpyDatatypeName(t.dtype())));
      if (!name || !datatype) return PythonError("model '" + metadata_.name + "': inputs");
      PyList_Append(names.get(), name.get());
      PyList_Append(arrays.get(), arr.get());
      PyList_Append(datatypes.get(), datatype.get());
    }
    // The request's id, parameters and headers when the front end gave them (model/request_context.h).
    const RequestContext* ctx = CurrentRequestContext();
    const std::string_view id = ctx ? ctx->id : std::string_view();
    if (!predict_ || !py_name_) return Internal("model '" + metadata_.name + "': the kserve shim has no predict_v2_h");
    PyRef rid(PyUnicode_DecodeUTF8(id.data(), static_cast<Py_ssize_t>(id.size()), "replace"));
    PyRef params = ParametersDict(ctx ? ctx->parameters : nullptr);
    PyRef headers = HeadersDict(ctx ? ctx->headers : nullptr);
    if (!rid || !params || !headers) return ModelError(shim_.get(), "model '" + metadata_.name + "'");
    PyRef out(PyObject_CallFunctionObjArgs(predict_.get(), model_.get(), rid.get(), py_name_.get(), names.get(),
                                           arrays.get(), params.get(), headers.get(), datatypes.get(), nullptr));
    if (!out) return ModelError(shim_.get(), "model '" + metadata_.name + "'");
    // (outputs, response headers): [(name, array)], [(name, value)]
    if (!PyTuple_Check(out.get()) || PyTuple_GET_SIZE(out.get()) != 2 || !PyList_Check(PyTuple_GET_ITEM(out.get(), 0))) {
      return Internal("model '" + metadata_.name + "': predict_v2_h contract");
    }
    if (ctx && ctx->response_headers) AppendResponseHeaders(PyTuple_GET_ITEM(out.get(), 1), ctx->response_headers);
    PyObject* result = PyTuple_GET_ITEM(out.get(), 0);
    Py_ssize_t n = PyList_GET_SIZE(result);
    for (Py_ssize_t i = 0; i < n; ++i) {
      PyObject* pair = PyList_GET_ITEM(result, i);  // (name, array)
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
  PyRef predict_;  // the shim's predict_v2_h
  PyRef py_name_;  // metadata_.name as a str
};

// The V1 pass-through of one model (server/v1_passthrough.h) for :predict or :explain: the body (parsed here,
// or as bytes when simdjson refuses it) and the request's headers go to the shim's `fn` (predict_v1_h /
// explain_v1), which runs KServe's preprocess -> predict (or explain) -> postprocess on the value and returns
// (JSON text, headers).
class PythonV1PassThrough {
 public:
  // Built with the GIL held. `fn` is looked up once here, not at each request.
  PythonV1PassThrough(std::string name, const char* fn, PyRef shim, PyRef model)
      : name_(std::move(name)),
        fn_name_(fn),
        shim_(std::move(shim)),
        model_(std::move(model)),
        fn_(PyObject_GetAttrString(shim_.get(), fn)) {
    if (!fn_) PyErr_Clear();  // Call answers that the shim lacks it
  }
  ~PythonV1PassThrough() {
    GilLock gil;
    fn_.reset();
    model_.reset();
    shim_.reset();
  }
  PythonV1PassThrough(const PythonV1PassThrough&) = delete;
  PythonV1PassThrough& operator=(const PythonV1PassThrough&) = delete;

  StatusOr<PassThroughAnswer> Call(const PassThroughCall& call) const {
    GilLock gil;
    const std::string where = "model '" + name_ + "'";
    if (!fn_) return Internal(where + ": the kserve shim has no " + fn_name_);
    // The body parsed here (simdjson), so that Python gets the value without a bytes copy of the body and
    // another call; text that simdjson refuses goes to the shim as bytes, for json.loads to decide.
    PyRef value(JsonToPython(call.body));
    if (!value && PyErr_Occurred()) return ModelError(shim_.get(), where);
    PyRef text(value ? Py_NewRef(Py_None)
                     : PyBytes_FromStringAndSize(call.body.data(), static_cast<Py_ssize_t>(call.body.size())));
    PyRef headers = HeadersDict(call.headers);
    if (!text || !headers) return ModelError(shim_.get(), where);
    PyRef out(value ? PyObject_CallFunctionObjArgs(fn_.get(), model_.get(), text.get(), headers.get(), value.get(),
                                                   nullptr)
                    : PyObject_CallFunctionObjArgs(fn_.get(), model_.get(), text.get(), headers.get(), nullptr));
    if (!out) return ModelError(shim_.get(), where);
    PassThroughAnswer answer;
    Py_ssize_t n = 0;
    // (text, headers) or (text, headers, status): the shim's answer to FastAPI's HTTPException.
    const Py_ssize_t size = PyTuple_Check(out.get()) ? PyTuple_GET_SIZE(out.get()) : 0;
    PyObject* body = size == 2 || size == 3 ? PyTuple_GET_ITEM(out.get(), 0) : nullptr;
    const char* s = body ? PyUnicode_AsUTF8AndSize(body, &n) : nullptr;
    if (!s) return ModelError(shim_.get(), where + ": the answer");
    answer.body.assign(s, static_cast<size_t>(n));
    AppendResponseHeaders(PyTuple_GET_ITEM(out.get(), 1), &answer.headers);
    if (size == 3) {
      const long status = PyLong_AsLong(PyTuple_GET_ITEM(out.get(), 2));
      if (status == -1 && PyErr_Occurred()) return ModelError(shim_.get(), where + ": the answer's status");
      // What an HTTP status can be (FastAPI passes any int through; an HTTP answer cannot carry it).
      if (status < 200 || status > 599) {
        return Internal(where + ": HTTPException status_code " + std::to_string(status) + " is not 200-599");
      }
      answer.status = static_cast<int>(status);
    }
    return answer;
  }

 private:
  std::string name_;
  const char* fn_name_;
  PyRef shim_;
  PyRef model_;
  PyRef fn_;
};

V1PassThrough MakePassThrough(const std::string& name, const char* fn, PyObject* shim, PyObject* model) {
  Py_INCREF(model);
  Py_INCREF(shim);
  auto p = std::make_shared<const PythonV1PassThrough>(name, fn, PyRef(shim), PyRef(model));
  return [p](const PassThroughCall& call) { return p->Call(call); };
}

// sys.argv = [program, argv...]; sys.path[0] = the script's directory (python file.py) or the working
// directory (python -m), as the python command sets them.
Status SetArgvAndPath(const PythonProgram& program, const std::vector<std::string>& argv, const std::string& where) {
  PyRef sys_argv(PyList_New(0));
  PyRef s0(PyUnicode_FromString(program.module.empty() ? program.script.c_str() : "-m"));
  PyList_Append(sys_argv.get(), s0.get());
  for (const auto& a : argv) {
    PyRef s(PyUnicode_FromString(a.c_str()));
    if (!s) return PythonError(where + ": sys.argv");
    PyList_Append(sys_argv.get(), s.get());
  }
  if (PySys_SetObject("argv", sys_argv.get()) != 0) return PythonError(where + ": sys.argv");
  std::error_code ec;
  std::filesystem::path dir = program.module.empty()
                                  ? std::filesystem::absolute(program.script, ec).parent_path()
                                  : std::filesystem::current_path(ec);
  PyObject* path = PySys_GetObject("path");  // borrowed
  PyRef d(PyUnicode_FromString(dir.string().c_str()));
  if (!path || !d || PyList_Insert(path, 0, d.get()) != 0) return PythonError(where + ": sys.path");
  return Status::Ok();
}

// Runs the program as __main__. A program that ends with sys.exit(0) after registering is fine.
Status RunProgram(const PythonProgram& program, const std::string& where) {
  PyRef runpy(PyImport_ImportModule("runpy"));
  const bool module = !program.module.empty();
  PyRef run(runpy ? PyObject_GetAttrString(runpy.get(), module ? "run_module" : "run_path") : nullptr);
  if (!run) return PythonError(where + ": runpy");
  PyRef kwargs(PyDict_New());
  PyRef main_name(PyUnicode_FromString("__main__"));
  PyDict_SetItemString(kwargs.get(), "run_name", main_name.get());
  if (module) PyDict_SetItemString(kwargs.get(), "alter_sys", Py_True);
  PyRef target(PyUnicode_FromString(module ? program.module.c_str() : program.script.c_str()));
  PyRef args(PyTuple_Pack(1, target.get()));
  PyRef globals(PyObject_Call(run.get(), args.get(), kwargs.get()));
  if (globals) return Status::Ok();
  if (PyErr_ExceptionMatches(PyExc_SystemExit)) {
    PyObject *type = nullptr, *value = nullptr, *tb = nullptr;
    PyErr_Fetch(&type, &value, &tb);
    PyErr_NormalizeException(&type, &value, &tb);
    PyRef t(type), v(value), trace(tb);
    PyRef code(value ? PyObject_GetAttrString(value, "code") : nullptr);
    PyErr_Clear();
    if (!code || code.get() == Py_None || (PyLong_Check(code.get()) && PyLong_AsLong(code.get()) == 0)) {
      return Status::Ok();
    }
    return InvalidArgument(where + " exited with " + PyToString(code.get()));
  }
  return PythonError(where + " failed");
}

}  // namespace

StatusOr<std::vector<PythonModel>> LoadPythonModels(const PythonProgram& program, const std::vector<std::string>& argv) {
  RETURN_IF_ERROR(EnsurePython());
  GilLock gil;
  const std::string where =
      program.module.empty() ? "--python '" + program.script + "'" : "--python_module '" + program.module + "'";
  // argv first: the shim parses KServe's flags when it is imported (kserve.model_server.args).
  RETURN_IF_ERROR(SetArgvAndPath(program, argv, where));
  RETURN_IF_ERROR(InstallNativeModule().WithPrefix(where));
  ASSIGN_OR_RETURN(PyRef shim, ModuleFromSource("_inferd_kserve", kKserveShimSource));
  PyRef install(PyObject_GetAttrString(shim.get(), "install"));
  PyRef how(install ? PyObject_CallNoArgs(install.get()) : nullptr);
  if (!how) return PythonError(where + ": installing the kserve module");
  LOG_INFO("python model program {} with {}", where, PyToString(how.get()));
  RETURN_IF_ERROR(RunProgram(program, where));

  PyRef registered(PyObject_GetAttrString(shim.get(), "registered"));
  if (!registered || !PyList_Check(registered.get())) return PythonError(where + ": registered models");
  PyRef has_explain(PyObject_GetAttrString(shim.get(), "has_own_explain"));
  if (!has_explain) return PythonError(where + ": has_own_explain");
  std::vector<PythonModel> out;
  for (Py_ssize_t i = 0; i < PyList_GET_SIZE(registered.get()); ++i) {
    PyObject* m = PyList_GET_ITEM(registered.get(), i);
    PyRef name_obj(PyObject_GetAttrString(m, "name"));
    if (!name_obj) return PythonError(where + ": a registered model has no name");
    std::string name = PyToString(name_obj.get());
    Py_INCREF(m);
    Py_INCREF(shim.get());
    PythonModel pm;
    pm.name = name;
    pm.backend = std::make_unique<PythonModelBackend>(name, PyRef(shim.get()), PyRef(m));
    pm.v1 = MakePassThrough(name, "predict_v1_h", shim.get(), m);
    PyRef own(PyObject_CallFunctionObjArgs(has_explain.get(), m, nullptr));
    if (!own) return PythonError(where + ": has_own_explain");
    if (PyObject_IsTrue(own.get()) == 1) pm.explain = MakePassThrough(name, "explain_v1", shim.get(), m);
    out.push_back(std::move(pm));
  }
  if (out.empty()) {
    return InvalidArgument(where + " registered no model: it must call kserve.ModelServer().start([model])");
  }
  return out;
}

std::function<bool()> PythonPredictorReadiness(const std::vector<std::string>& model_names) {
  if (!EnsurePython().ok()) return nullptr;
  GilLock gil;
  auto shim = ModuleFromSource("_inferd_kserve", kKserveShimSource);
  if (!shim.ok()) return nullptr;
  PyRef names(PyList_New(0));
  for (const auto& n : model_names) {
    PyRef s(PyUnicode_FromString(n.c_str()));
    if (s) PyList_Append(names.get(), s.get());
  }
  PyRef enabled_fn(PyObject_GetAttrString(shim->get(), "predictor_health_check_enabled"));
  PyRef enabled(enabled_fn ? PyObject_CallFunctionObjArgs(enabled_fn.get(), names.get(), nullptr) : nullptr);
  if (!enabled || PyObject_IsTrue(enabled.get()) != 1) {
    PyErr_Clear();
    return nullptr;
  }
  auto fn = std::make_shared<PyRef>(PyObject_GetAttrString(shim->get(), "predictor_ready"));
  if (!*fn) {
    PyErr_Clear();
    return nullptr;
  }
  // Probes come often and from several front ends: one answer serves every probe for a second.
  struct Cache {
    Mutex mu;
    std::chrono::steady_clock::time_point at GUARDED_BY(mu){};
    bool ready GUARDED_BY(mu) = false;
  };
  auto cache = std::make_shared<Cache>();
  return [fn, cache] {
    MutexLock lock(cache->mu);
    auto now = std::chrono::steady_clock::now();
    if (now - cache->at < std::chrono::seconds(1)) return cache->ready;
    GilLock gil;
    PyRef r(PyObject_CallNoArgs(fn->get()));
    cache->ready = r && PyObject_IsTrue(r.get()) == 1;
    PyErr_Clear();
    cache->at = std::chrono::steady_clock::now();
    return cache->ready;
  };
}

}  // namespace inferd
