#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include "backends/sklearn/sklearn_backend.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <utility>

#include <nlohmann/json.hpp>

#include "backends/sklearn/sklearn_native.h"
#include "backends/sklearn/sklearn_python.h"
#include "core/logging.h"
#include "python/python_runtime.h"

namespace inferd {

namespace {


bool PredictProbaFromEnv() {
  const char* v = std::getenv("PREDICT_PROBA");
  if (!v) return false;
  std::string s(v);
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s == "true" || s == "1" || s == "yes";
}

// The datatype of predict()'s answers from the fitted classes' numpy dtype, written as kind and item size
// ("i8", "u1", "f4", "b1", "U6"; a bare kind from an older compiled record means 8 bytes): the one
// KServe's sklearnserver answers, whose V2 encoder maps numpy dtypes one to one (int32 is INT32).
DataType LabelType(const std::string& kind) {
  if (kind.empty()) return DataType::kFp64;  // a regressor: predict() answers float64
  const std::string size = kind.substr(1);
  switch (kind[0]) {
    case 'b': return DataType::kBool;
    case 'i':
      if (size == "1") return DataType::kInt8;
      if (size == "2") return DataType::kInt16;
      if (size == "4") return DataType::kInt32;
      return DataType::kInt64;
    case 'u':
      if (size == "1") return DataType::kUint8;
      if (size == "2") return DataType::kUint16;
      if (size == "4") return DataType::kUint32;
      return DataType::kUint64;
    case 'f':
      if (size == "2") return DataType::kFp16;
      if (size == "4") return DataType::kFp32;
      return DataType::kFp64;
    default: return DataType::kBytes;  // strings and objects
  }
}

int64_t DictInt(PyObject* d, const char* key) {
  PyObject* v = PyDict_GetItemString(d, key);  // borrowed
  return v ? PyLong_AsLongLong(v) : -1;
}

// ---- compiled-model cache --------------------------------------------------------------------------
// Loading a joblib file needs the embedded interpreter (about a second to start with numpy and
// scikit-learn), which would dominate a replica's start. When INFERD_COMPILED_CACHE names a directory
// (`inferd serve` sets it to DATA_DIR/compiled for its replicas), a model that compiled natively leaves
// a record there: its native description (with the probe rows and scikit-learn's answers to them, which
// FromJson checks again) and what the Python half reported (type, feature and class counts, the fitted
// classes). A later load of the same file takes the record and never starts Python. The record's name
// hashes the file's path, size, mtime and the compiler's source; inside, a hash of the file's bytes must
// match too. Anything unexpected (unreadable, stale, malformed) is a miss: the normal path runs.
std::string CompiledCacheDir() {
  const char* d = std::getenv("INFERD_COMPILED_CACHE");
  return d && *d ? d : "";
}

std::string Hex64(uint64_t v) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(v));
  return buf;
}

struct CacheKey {
  std::string record_path;
  std::string content_hash;
};

// `with_content`: false leaves content_hash empty (the file is not read: a cheap look-up of the record's name).
std::optional<CacheKey> CompiledCacheKey(const std::string& model_file, const std::string& dir = CompiledCacheDir(),
                                         bool with_content = true) {
  if (dir.empty()) return std::nullopt;
  struct stat st {};
  if (::stat(model_file.c_str(), &st) != 0) return std::nullopt;
  std::ifstream in;
  if (with_content) in.open(model_file, std::ios::binary);
  if (!in) return std::nullopt;
  std::stringstream ss;
  if (with_content) ss << in.rdbuf();
  std::string content = ss.str();
  std::error_code ec;
  std::string real = std::filesystem::weakly_canonical(model_file, ec).string();
  std::string id = real + "|" + std::to_string(st.st_size) + "|" + std::to_string(st.st_mtim.tv_sec) + "." +
                   std::to_string(st.st_mtim.tv_nsec) + "|" +
                   Hex64(std::hash<std::string_view>{}(sklearn::kPythonSource));
  CacheKey k;
  k.record_path = dir + "/sklearn-" + Hex64(std::hash<std::string>{}(id)) + ".json";
  if (with_content) k.content_hash = Hex64(std::hash<std::string>{}(content)) + "-" + std::to_string(content.size());
  return k;
}

std::string ToHex(std::string_view bytes) {
  static const char* digits = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) {
    out += digits[c >> 4];
    out += digits[c & 15];
  }
  return out;
}

bool FromHex(std::string_view hex, std::string* out) {
  if (hex.size() % 2) return false;
  auto val = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
  };
  out->clear();
  for (size_t i = 0; i < hex.size(); i += 2) {
    int hi = val(hex[i]), lo = val(hex[i + 1]);
    if (hi < 0 || lo < 0) return false;
    out->push_back(static_cast<char>(hi * 16 + lo));
  }
  return true;
}

class SklearnBackend final : public Backend {
 public:
  ~SklearnBackend() override {
    if (model_ || predict_ || proba_) {
      GilLock gil;
      model_.reset();
      predict_.reset();
      proba_.reset();
    }
  }

  Status Load(const LoadOptions& o) {
    std::optional<CacheKey> cache_key;
    if (!o.force_python) {
      cache_key = CompiledCacheKey(o.model_file);
      if (cache_key && LoadCompiled(o, *cache_key)) return Status::Ok();
    }
    RETURN_IF_ERROR(EnsurePython());
    GilLock gil;
    const std::string where = "model file '" + o.model_file + "'";
    ASSIGN_OR_RETURN(PyRef mod, ModuleFromSource("_inferd_sklearn", sklearn::kPythonSource));
    PyRef load(PyObject_GetAttrString(mod.get(), "load"));
    PyRef describe(PyObject_GetAttrString(mod.get(), "describe"));
    if (!load || !describe) return PythonError("sklearn runtime");
    PyRef path(PyUnicode_FromString(o.model_file.c_str()));
    model_ = PyRef(PyObject_CallFunctionObjArgs(load.get(), path.get(), nullptr));
    if (!model_) return PythonError(where + " does not load");
    PyRef info(PyObject_CallFunctionObjArgs(describe.get(), model_.get(), nullptr));
    if (!info || !PyDict_Check(info.get())) return PythonError(where + " is not a scikit-learn estimator");
    int64_t n_features = DictInt(info.get(), "n_features");
    int64_t n_classes = DictInt(info.get(), "n_classes");
    bool has_proba = PyObject_IsTrue(PyDict_GetItemString(info.get(), "has_proba")) == 1;
    std::string kind = PyToString(PyDict_GetItemString(info.get(), "label_kind"));
    type_name_ = PyToString(PyDict_GetItemString(info.get(), "type"));
    if (PyErr_Occurred()) return PythonError(where);

    predict_ = PyRef(PyObject_GetAttrString(model_.get(), "predict"));
    if (!predict_) return PythonError(where);
    if (has_proba) {
      proba_ = PyRef(PyObject_GetAttrString(model_.get(), "predict_proba"));
      if (!proba_) return PythonError(where);
    }
    bool proba_first = has_proba && PredictProbaFromEnv();
    DataType label_type = LabelType(kind);
    if (n_classes > 0) {
      // The fitted classes, in the label output's datatype: native answers index into them.
      PyRef classes(PyObject_GetAttrString(model_.get(), "classes_"));
      if (!classes) return PythonError(where + ": classes_");
      ASSIGN_OR_RETURN(classes_, NumpyToTensor(classes.get(), "classes"));
      if (classes_.dtype() != label_type && classes_.dtype() != DataType::kBytes && label_type != DataType::kBytes) {
        ASSIGN_OR_RETURN(classes_, ConvertTensor(classes_, label_type));
      }
      if (classes_.dtype() != label_type) return Internal(where + ": classes_ of an unexpected datatype");
      if (label_type == DataType::kBytes) {
        ForEachBytesElement(classes_.bytes(), [&](std::string_view c) { class_names_.emplace_back(c); });
      }
    }

    if (o.force_python) {
      LOG_INFO("model '{}': {} runs in Python (--force_python)", o.model_name, type_name_);
    } else {
      std::string description = CompileNative(mod.get(), o.model_name, n_features, has_proba, n_classes);
      if (native_ && cache_key) SaveCompiled(*cache_key, description, n_features, n_classes, has_proba, kind);
    }
    BuildMetadata(o, n_features, n_classes, has_proba, label_type, proba_first);
    return Status::Ok();
  }

  // The record of an earlier native compile of this very file (see CompiledCacheKey): true when the model
  // is now fully loaded from it, without Python.
  bool LoadCompiled(const LoadOptions& o, const CacheKey& key) {
    std::ifstream in(key.record_path);
    if (!in) return false;
    std::stringstream ss;
    ss << in.rdbuf();
    nlohmann::json r = nlohmann::json::parse(ss.str(), nullptr, false);
    if (!r.is_object() || r.value("version", 0) != 1 || r.value("content", "") != key.content_hash) return false;
    auto native = sklearn::NativeModel::FromJson(r.value("native", ""));
    if (!native.ok()) {
      LOG_WARN("model '{}': ignoring compiled record {}: {}", o.model_name, key.record_path,
               native.status().message());
      return false;
    }
    int64_t n_features = r.value("n_features", int64_t{-1});
    int64_t n_classes = r.value("n_classes", int64_t{-1});
    bool has_proba = r.value("has_proba", false);
    std::string kind = r.value("label_kind", "");
    DataType label_type = LabelType(kind);
    Tensor classes;
    std::vector<std::string> names;
    if (n_classes > 0) {
      if (!r.contains("classes") || !r["classes"].is_array() ||
          static_cast<int64_t>(r["classes"].size()) != n_classes) {
        return false;
      }
      std::string raw;
      for (const auto& c : r["classes"]) {
        if (!c.is_string()) return false;
        if (label_type == DataType::kBytes) {
          names.push_back(c.get<std::string>());
          AppendBytesElement(&raw, names.back());
        } else {
          std::string one;
          if (!FromHex(c.get<std::string>(), &one) || one.size() != DataTypeSize(label_type)) return false;
          raw += one;
        }
      }
      classes = Tensor("classes", label_type, {n_classes});
      classes.SetOwned(std::move(raw));
    }
    if ((*native)->has_proba() != has_proba || ((*native)->classifier() && (*native)->num_classes() != n_classes)) {
      return false;
    }
    native_ = std::move(*native);
    classes_ = std::move(classes);
    class_names_ = std::move(names);
    type_name_ = r.value("type", "");
    BuildMetadata(o, n_features, n_classes, has_proba, label_type, has_proba && PredictProbaFromEnv());
    LOG_INFO("model '{}': {} compiled natively (record {}; Python not started)", o.model_name, type_name_,
             key.record_path);
    return true;
  }

  void SaveCompiled(const CacheKey& key, const std::string& description, int64_t n_features, int64_t n_classes,
                    bool has_proba, const std::string& kind) {
    nlohmann::json r = {{"version", 1},
                        {"content", key.content_hash},
                        {"type", type_name_},
                        {"n_features", n_features},
                        {"n_classes", n_classes},
                        {"has_proba", has_proba},
                        {"label_kind", kind},
                        {"native", description}};
    nlohmann::json classes = nlohmann::json::array();
    if (n_classes > 0) {
      if (classes_.dtype() == DataType::kBytes) {
        for (const auto& c : class_names_) classes.push_back(c);
      } else {
        size_t es = DataTypeSize(classes_.dtype());
        for (int64_t i = 0; i < n_classes; ++i) {
          classes.push_back(ToHex(std::string_view(classes_.raw() + static_cast<size_t>(i) * es, es)));
        }
      }
    }
    r["classes"] = classes;
    std::string text;
    try {
      text = r.dump();
    } catch (...) {  // class names that are not UTF-8: no record; the next load compiles again
      return;
    }
    std::error_code ec;
    std::filesystem::create_directories(std::filesystem::path(key.record_path).parent_path(), ec);
    std::string tmp = key.record_path + ".tmp." + std::to_string(::getpid());
    {
      std::ofstream out(tmp, std::ios::trunc);
      out << text;
      if (!out) return;
    }
    std::filesystem::rename(tmp, key.record_path, ec);  // atomic: a reader sees all of it or nothing
    if (ec) std::filesystem::remove(tmp, ec);
  }

  void BuildMetadata(const LoadOptions& o, int64_t n_features, int64_t n_classes, bool has_proba,
                     DataType label_type, bool proba_first) {
    metadata_.name = o.model_name;
    metadata_.platform = "sklearn";
    metadata_.execution = native_ ? "native" : "python";
    metadata_.inputs = {{"input-0", DataType::kFp64, {-1, n_features > 0 ? n_features : -1}}};
    Shape proba_shape = {-1, n_classes > 0 ? n_classes : -1};
    if (proba_first) {
      metadata_.outputs.push_back({"output-0", DataType::kFp64, proba_shape});
      kinds_.push_back(Kind::kProba);
    } else {
      metadata_.outputs.push_back({"output-0", label_type, {-1}});
      kinds_.push_back(Kind::kPredict);
      if (has_proba) {
        metadata_.outputs.push_back({"probabilities", DataType::kFp64, proba_shape});
        kinds_.push_back(Kind::kProba);
      }
    }
  }

  const ModelMetadata& metadata() const override { return metadata_; }
  std::vector<int> default_outputs() const override { return {0}; }
  TreeEnsembleView tree_ensemble() const override {
    if (!native_ || !native_->tree_head()) return {};
    return {native_->tree_head(), native_->float32_input()};
  }

  Status Execute(std::span<const Tensor> inputs, std::span<const int> requested,
                 std::vector<Tensor>* outputs) override {
    if (native_) return ExecuteNative(inputs[0], requested, outputs);
    GilLock gil;
    ASSIGN_OR_RETURN(PyRef x, TensorToNumpy(inputs[0]));
    for (int idx : requested) {
      const TensorSpec& spec = metadata_.outputs[static_cast<size_t>(idx)];
      PyObject* fn = kinds_[static_cast<size_t>(idx)] == Kind::kProba ? proba_.get() : predict_.get();
      PyRef result(PyObject_CallFunctionObjArgs(fn, x.get(), nullptr));
      if (!result) return PythonError(type_name_ + (fn == proba_.get() ? ".predict_proba" : ".predict"));
      ASSIGN_OR_RETURN(Tensor t, NumpyToTensor(result.get(), spec.name));
      if (t.dtype() != spec.dtype) {
        if (!IsNumeric(t.dtype()) && t.dtype() != DataType::kBool) {
          return Internal(type_name_ + " returned " + std::string(DataTypeName(t.dtype())) + " for output '" +
                          spec.name + "', declared " + std::string(DataTypeName(spec.dtype)));
        }
        ASSIGN_OR_RETURN(t, ConvertTensor(t, spec.dtype));
        t.set_name(spec.name);
      }
      outputs->push_back(std::move(t));
    }
    return Status::Ok();
  }

 private:
  // Compiles the estimator into native code when it has a native form and the result agrees with
  // scikit-learn on probe rows; otherwise logs why and leaves native_ empty (the Python path serves).
  // Returns the native description that was accepted ("" when the model stays on Python).
  std::string CompileNative(PyObject* mod, const std::string& model_name, int64_t n_features, bool has_proba,
                            int64_t n_classes) {
    PyRef compile(PyObject_GetAttrString(mod, "compile_native"));
    PyRef nf(PyLong_FromLongLong(n_features));
    PyRef json(compile ? PyObject_CallFunctionObjArgs(compile.get(), model_.get(), nf.get(), nullptr) : nullptr);
    if (!json) {
      Status why = PythonError("no native form");
      LOG_INFO("model '{}': {} runs in Python: {}", model_name, type_name_, why.message());
      return "";
    }
    Py_ssize_t len = 0;
    const char* text = PyUnicode_AsUTF8AndSize(json.get(), &len);
    if (!text) {
      LOG_WARN("model '{}': {}", model_name, PythonError("native form").message());
      return "";
    }
    auto native = sklearn::NativeModel::FromJson(std::string_view(text, static_cast<size_t>(len)));
    if (!native.ok()) {
      LOG_WARN("model '{}': {} runs in Python: the native form does not match scikit-learn: {}", model_name,
               type_name_, native.status().message());
      return "";
    }
    if ((*native)->has_proba() != has_proba || ((*native)->classifier() && (*native)->num_classes() != n_classes)) {
      LOG_WARN("model '{}': {} runs in Python: the native form disagrees on its outputs", model_name, type_name_);
      return "";
    }
    native_ = std::move(*native);
    LOG_INFO("model '{}': {} compiled natively", model_name, type_name_);
    return std::string(text, static_cast<size_t>(len));
  }

  Status ExecuteNative(const Tensor& input, std::span<const int> requested, std::vector<Tensor>* outputs) {
    const size_t n = static_cast<size_t>(input.shape()[0]);
    const size_t c = static_cast<size_t>(std::max<int64_t>(native_->num_classes(), 0));
    bool want_label = false, want_proba = false;
    for (int idx : requested) (kinds_[static_cast<size_t>(idx)] == Kind::kProba ? want_proba : want_label) = true;
    std::vector<int64_t> label(native_->classifier() && want_label ? n : 0);
    std::vector<double> value(!native_->classifier() && want_label ? n : 0);
    Tensor proba;
    if (want_proba) proba = Tensor("", DataType::kFp64, {static_cast<int64_t>(n), static_cast<int64_t>(c)});
    double* proba_out = want_proba ? reinterpret_cast<double*>(proba.Allocate(n * c * sizeof(double))) : nullptr;
    RETURN_IF_ERROR(native_->Run(input.data<double>(), n, label.empty() ? nullptr : label.data(), proba_out,
                                 value.empty() ? nullptr : value.data()));
    int proba_uses = 0;
    for (int idx : requested) proba_uses += kinds_[static_cast<size_t>(idx)] == Kind::kProba;
    for (int idx : requested) {
      const TensorSpec& spec = metadata_.outputs[static_cast<size_t>(idx)];
      if (kinds_[static_cast<size_t>(idx)] == Kind::kProba) {
        Tensor t = --proba_uses == 0 ? std::move(proba) : proba;  // copied only if asked for twice
        t.set_name(spec.name);
        outputs->push_back(std::move(t));
        continue;
      }
      Tensor t(spec.name, spec.dtype, {static_cast<int64_t>(n)});
      if (!native_->classifier()) {
        std::memcpy(t.Allocate(n * sizeof(double)), value.data(), n * sizeof(double));
      } else if (spec.dtype == DataType::kBytes) {
        std::string buf;
        for (int64_t i : label) AppendBytesElement(&buf, class_names_[static_cast<size_t>(i)]);
        t.SetOwned(std::move(buf));
      } else {
        size_t es = DataTypeSize(spec.dtype);
        char* out = t.Allocate(n * es);
        for (size_t r = 0; r < n; ++r) std::memcpy(out + r * es, classes_.raw() + static_cast<size_t>(label[r]) * es, es);
      }
      outputs->push_back(std::move(t));
    }
    return Status::Ok();
  }

  enum class Kind { kPredict, kProba };
  ModelMetadata metadata_;
  std::vector<Kind> kinds_;  // parallel to metadata_.outputs
  std::string type_name_;
  PyRef model_, predict_, proba_;
  std::unique_ptr<sklearn::NativeModel> native_;
  Tensor classes_;                        // classifiers: the fitted classes_, in output-0's datatype
  std::vector<std::string> class_names_;  // the same, for string labels
};

class SklearnBackendFactory final : public BackendFactory {
 public:
  std::string_view format() const override { return "sklearn"; }
  StatusOr<std::unique_ptr<Backend>> Load(const LoadOptions& options) override {
    auto b = std::make_unique<SklearnBackend>();
    RETURN_IF_ERROR(b->Load(options));
    return std::unique_ptr<Backend>(std::move(b));
  }
};

}  // namespace

bool HasCompiledSklearnRecord(const std::string& model_dir, const std::string& cache_dir) {
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(model_dir, ec)) {
    const std::string ext = e.path().extension().string();
    if (ext != ".joblib" && ext != ".pkl" && ext != ".pickle") continue;
    auto key = CompiledCacheKey(e.path().string(), cache_dir, /*with_content=*/false);
    if (key && std::filesystem::exists(key->record_path, ec)) return true;
  }
  return false;
}

std::unique_ptr<BackendFactory> NewSklearnBackendFactory() { return std::make_unique<SklearnBackendFactory>(); }

}  // namespace inferd
