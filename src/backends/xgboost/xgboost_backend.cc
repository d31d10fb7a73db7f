#include "backends/xgboost/xgboost_backend.h"

#include <xgboost/c_api.h>

// simdjson's classes change layout with SIMDJSON_THREADS_ENABLED, which its CMake target defines:
// compiling this file without it while the rest of the program has it breaks the one-definition rule
// (crashes in dom::parser). The target must link simdjson::simdjson.
#ifndef SIMDJSON_THREADS_ENABLED
#error "inferd_backend_xgboost must link simdjson::simdjson (it defines SIMDJSON_THREADS_ENABLED)"
#endif
#include <simdjson.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <limits>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "backends/xgboost/xgboost_trees.h"
#include "core/logging.h"
#include "core/mutex.h"
#include "model/format.h"

namespace inferd {

namespace {

namespace fs = std::filesystem;

enum class Objective { kSoftmax, kSoftprob, kBinaryLogistic, kOther };

// XGBoost's last error for this thread (XGBGetLastError is thread-local): its first line, without
// the timestamp and source location (the stack trace and parser context that follow are dropped).
std::string XgbError() {
  std::string_view m = XGBGetLastError();
  if (size_t nl = m.find('\n'); nl != std::string_view::npos) m = m.substr(0, nl);
  if (m.size() > 2 && m.front() == '[') {
    if (size_t close = m.find("] "); close != std::string_view::npos) m.remove_prefix(close + 2);
  }
  // "path/file.cc:123: message" -> "message"
  if (size_t colon = m.find(": "); colon != std::string_view::npos && colon > 0) {
    size_t digits = colon;
    while (digits > 0 && m[digits - 1] >= '0' && m[digits - 1] <= '9') --digits;
    bool location = digits < colon && digits > 0 && m[digits - 1] == ':' &&
                    m.substr(0, digits).find(' ') == std::string_view::npos;
    if (location) m.remove_prefix(colon + 2);
  }
  while (!m.empty() && m.back() == ' ') m.remove_suffix(1);
  return "XGBoost: " + std::string(m.empty() ? "unknown error" : m);
}

struct BoosterConfig {
  std::string objective;
  std::string booster;
  int64_t num_class = 0;
  int64_t num_target = 1;
};

// Reads a decimal integer that XGBoost's configuration stores as a JSON string ("3").
bool ParseIntString(simdjson::dom::element e, int64_t* out) {
  std::string_view s;
  if (e.get_string().get(s) != simdjson::SUCCESS || s.empty()) return false;
  int64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9' || v > (int64_t{1} << 40)) return false;
    v = v * 10 + (c - '0');
  }
  *out = v;
  return true;
}

StatusOr<BoosterConfig> ParseConfig(std::string_view json, const std::string& file) {
  auto bad = [&](const std::string& what) {
    return InvalidArgument("model file '" + file + "': unexpected XGBoost configuration: " + what);
  };
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  if (parser.parse(json.data(), json.size()).get(doc) != simdjson::SUCCESS) return bad("not JSON");
  BoosterConfig c;
  std::string_view s;
  if (doc.at_pointer("/learner/objective/name").get_string().get(s) != simdjson::SUCCESS) {
    return bad("no learner.objective.name");
  }
  c.objective = std::string(s);
  if (doc.at_pointer("/learner/gradient_booster/name").get_string().get(s) != simdjson::SUCCESS) {
    return bad("no learner.gradient_booster.name");
  }
  c.booster = std::string(s);
  simdjson::dom::element e;
  if (doc.at_pointer("/learner/learner_model_param/num_class").get(e) != simdjson::SUCCESS ||
      !ParseIntString(e, &c.num_class)) {
    return bad("no learner.learner_model_param.num_class");
  }
  // num_target appeared in XGBoost 1.6 (multi-target trees); older configurations lack it.
  if (doc.at_pointer("/learner/learner_model_param/num_target").get(e) == simdjson::SUCCESS &&
      !ParseIntString(e, &c.num_target)) {
    return bad("learner.learner_model_param.num_target is not an integer");
  }
  return c;
}

// Replicates XGBoost's softmax (common::Softmax): shift by the max, expf, sum in double, divide.
void Softmax(const float* in, float* out, int64_t k) {
  float wmax = in[0];
  for (int64_t j = 1; j < k; ++j) wmax = std::fmax(in[j], wmax);
  double wsum = 0.0;
  for (int64_t j = 0; j < k; ++j) {
    out[j] = std::exp(in[j] - wmax);
    wsum += out[j];
  }
  float fsum = static_cast<float>(wsum);
  for (int64_t j = 0; j < k; ++j) out[j] /= fsum;
}

// First index of the maximum, as XGBoost's softmax objective picks the class.
int64_t ArgMax(const float* in, int64_t k) {
  int64_t best = 0;
  for (int64_t j = 1; j < k; ++j)
    if (in[j] > in[best]) best = j;
  return best;
}

// Prediction configurations: type 0 is the objective's output (Booster.predict), 1 the raw margin.
// XGBoost 1.7 requires "cache_id":0 here; "missing":NaN treats NaN inputs as missing, as Python does.
constexpr char kValueConfig[] =
    R"({"type":0,"training":false,"iteration_begin":0,"iteration_end":0,)"
    R"("strict_shape":false,"cache_id":0,"missing":NaN})";
constexpr char kMarginConfig[] =
    R"({"type":1,"training":false,"iteration_begin":0,"iteration_end":0,)"
    R"("strict_shape":false,"cache_id":0,"missing":NaN})";

// Proxy DMatrix handles for in-place prediction, lent to one caller at a time. Without one,
// XGBoosterPredictFromDense creates a proxy per call, and each construction reads two cgroup files
// (XGBoost 1.7's Context constructor calls GetCfsCPUCount): that was most of a 1-row prediction's
// time. A proxy is mutated by every call (it points at the caller's rows), hence one per caller.
class ProxyPool {
 public:
  ProxyPool() = default;
  ProxyPool(const ProxyPool&) = delete;
  ProxyPool& operator=(const ProxyPool&) = delete;
  ~ProxyPool() {
    for (DMatrixHandle h : free_) XGDMatrixFree(h);
  }

  // nullptr when XGBoost cannot create one (the caller then lets XGBoost make its own).
  DMatrixHandle Acquire() {
    {
      MutexLock lock(mu_);
      if (!free_.empty()) {
        DMatrixHandle h = free_.back();
        free_.pop_back();
        return h;
      }
    }
    DMatrixHandle h = nullptr;
    return XGProxyDMatrixCreate(&h) == 0 ? h : nullptr;
  }
  void Release(DMatrixHandle h) {
    if (h == nullptr) return;
    MutexLock lock(mu_);
    free_.push_back(h);
  }

 private:
  Mutex mu_;
  std::vector<DMatrixHandle> free_ GUARDED_BY(mu_);
};

class XgboostBackend final : public Backend {
 public:
  XgboostBackend(BoosterHandle h, std::string file) : h_(h), file_(std::move(file)) {}
  ~XgboostBackend() override { XGBoosterFree(h_); }
  XgboostBackend(const XgboostBackend&) = delete;
  XgboostBackend& operator=(const XgboostBackend&) = delete;

  // nthread: measured on the 2-core dev box, 1-row iris predictions through Execute (20k calls,
  // p50 / p99): nthread 1 -> 12.9 us / 23 us; XGBoost's default (all cores) -> 14.8-17.2 us / 0.15-12 ms.
  // OpenMP fan-out only adds team start-up and wake-ups for small batches and competes with the
  // server's own threads, so LoadOptions.intra_op_threads defaults to 1 (<= 0 keeps XGBoost's default).
  Status Init(int threads) {
    if (threads > 0 && XGBoosterSetParam(h_, "nthread", std::to_string(threads).c_str()) != 0) {
      return Fail("cannot set nthread");
    }
    bst_ulong len = 0;
    const char* cfg = nullptr;
    if (XGBoosterSaveJsonConfig(h_, &len, &cfg) != 0) return Fail("cannot read the model's configuration");
    // Copied: the buffer belongs to XGBoost and later calls on the booster may reuse it.
    const std::string config_json(cfg, len);
    ASSIGN_OR_RETURN(BoosterConfig c, ParseConfig(config_json, file_));
    bst_ulong nf = 0;
    if (XGBoosterGetNumFeature(h_, &nf) != 0) return Fail("cannot read the number of features");
    if (nf == 0) return InvalidArgument("model file '" + file_ + "': the model has no features");
    num_features_ = static_cast<int64_t>(nf);
    linear_ = c.booster == "gblinear";

    if (c.objective == "multi:softmax") objective_ = Objective::kSoftmax;
    else if (c.objective == "multi:softprob") objective_ = Objective::kSoftprob;
    else if (c.objective == "binary:logistic") objective_ = Objective::kBinaryLogistic;
    else objective_ = Objective::kOther;
    if (multiclass()) {
      if (c.num_class < 2) {
        return InvalidArgument("model file '" + file_ + "': objective " + c.objective + " with num_class " +
                               std::to_string(c.num_class));
      }
      width_ = c.num_class;
    } else {
      width_ = std::max<int64_t>(1, c.num_target);
    }
    BuildMetadata();

    // Probe: one row of zeros. Completes XGBoost's lazy configuration now, on this thread, and checks
    // that the prediction has the width the configuration promised.
    std::vector<float> zeros(static_cast<size_t>(num_features_), 0.0f);
    std::vector<float> out;
    RETURN_IF_ERROR(PredictXgb(zeros.data(), 1, /*margin=*/true, &out).WithPrefix("model file '" + file_ + "'"));
    if (static_cast<int64_t>(out.size()) != width_) {
      return InvalidArgument("model file '" + file_ + "': a one-row prediction has " + std::to_string(out.size()) +
                             " values, expected " + std::to_string(width_));
    }
    TryNative(c, config_json);
    // Values of objectives without a known transform still come from libxgboost.
    metadata_.execution = native_ && (value_transform_ != Transform::kNone || multiclass()) ? "native" : "libxgboost";
    return Status::Ok();
  }

  const ModelMetadata& metadata() const override { return metadata_; }
  TreeEnsembleView tree_ensemble() const override { return {native_.get(), true}; }
  bool thread_safe() const override { return !linear_; }
  std::vector<int> default_outputs() const override { return {0}; }

  Status Execute(std::span<const Tensor> inputs, std::span<const int> requested,
                 std::vector<Tensor>* outputs) override {
    if (inputs.size() != 1) return Internal("expected 1 input, got " + std::to_string(inputs.size()));
    const Tensor& x = inputs[0];
    if (x.dtype() != DataType::kFp32 || x.shape().size() != 2 || x.shape()[0] < 0 ||
        x.shape()[1] != num_features_ ||
        x.byte_size() != static_cast<size_t>(x.shape()[0] * num_features_) * sizeof(float)) {
      return InvalidArgument("inputs[0].shape: expected FP32 [-1, " + std::to_string(num_features_) + "], got " +
                             std::string(DataTypeName(x.dtype())) + " " + ShapeToString(x.shape()) + " (" +
                             std::to_string(x.byte_size()) + " bytes)");
    }
    const int64_t n = x.shape()[0];
    const float* data = x.data<float>();

    bool need_value = false, need_margin = false;
    for (int idx : requested) {
      if (idx < 0 || idx >= static_cast<int>(kinds_.size())) return Internal("bad output index " + std::to_string(idx));
      if (multiclass() || kinds_[idx] == Kind::kMargin) need_margin = true;
      else need_value = true;
    }
    std::vector<float> value, margin;
    if (n > 0) {
      if (need_value) RETURN_IF_ERROR(Predict(data, n, /*margin=*/false, &value));
      if (need_margin) RETURN_IF_ERROR(Predict(data, n, /*margin=*/true, &margin));
    }
    const size_t expect = static_cast<size_t>(n * width_);
    if ((need_value && n > 0 && value.size() != expect) || (need_margin && n > 0 && margin.size() != expect)) {
      return Internal("XGBoost returned " + std::to_string(std::max(value.size(), margin.size())) +
                      " values for " + std::to_string(n) + " rows, expected " + std::to_string(expect));
    }

    for (int idx : requested) {
      const TensorSpec& spec = metadata_.outputs[idx];
      Shape shape = spec.shape;
      shape[0] = n;
      Tensor t(spec.name, spec.dtype, shape);
      switch (kinds_[idx]) {
        case Kind::kPredict:
          if (objective_ == Objective::kSoftmax) {
            float* out = reinterpret_cast<float*>(t.Allocate(static_cast<size_t>(n) * sizeof(float)));
            for (int64_t i = 0; i < n; ++i) out[i] = static_cast<float>(ArgMax(&margin[i * width_], width_));
          } else if (objective_ == Objective::kSoftprob) {
            float* out = reinterpret_cast<float*>(t.Allocate(expect * sizeof(float)));
            for (int64_t i = 0; i < n; ++i) Softmax(&margin[i * width_], out + i * width_, width_);
          } else {
            t.SetOwned(std::string(reinterpret_cast<const char*>(value.data()), value.size() * sizeof(float)));
          }
          break;
        case Kind::kProbabilities:
          if (multiclass()) {
            float* out = reinterpret_cast<float*>(t.Allocate(expect * sizeof(float)));
            for (int64_t i = 0; i < n; ++i) Softmax(&margin[i * width_], out + i * width_, width_);
          } else {  // binary:logistic
            float* out = reinterpret_cast<float*>(t.Allocate(static_cast<size_t>(n) * 2 * sizeof(float)));
            for (int64_t i = 0; i < n; ++i) {
              out[2 * i] = 1.0f - value[i];
              out[2 * i + 1] = value[i];
            }
          }
          break;
        case Kind::kMargin:
          t.SetOwned(std::string(reinterpret_cast<const char*>(margin.data()), margin.size() * sizeof(float)));
          break;
      }
      outputs->push_back(std::move(t));
    }
    return Status::Ok();
  }

 private:
  enum class Kind { kPredict, kProbabilities, kMargin };

  bool multiclass() const { return objective_ == Objective::kSoftmax || objective_ == Objective::kSoftprob; }

  Status Fail(const std::string& what) const {
    return InvalidArgument("model file '" + file_ + "': " + what + ": " + XgbError());
  }

  void BuildMetadata() {
    metadata_.platform = "xgboost";
    metadata_.inputs = {{"input-0", DataType::kFp32, {-1, num_features_}}};
    Shape scores = width_ == 1 ? Shape{-1} : Shape{-1, width_};
    if (objective_ == Objective::kSoftmax) {
      // Booster.predict answers class ids as float32 (and KServe's xgbserver encodes float32 as FP32).
      metadata_.outputs.push_back({"output-0", DataType::kFp32, {-1}});
    } else {
      metadata_.outputs.push_back({"output-0", DataType::kFp32, scores});
    }
    kinds_.push_back(Kind::kPredict);
    if (multiclass()) {
      metadata_.outputs.push_back({"probabilities", DataType::kFp32, {-1, width_}});
      kinds_.push_back(Kind::kProbabilities);
    } else if (objective_ == Objective::kBinaryLogistic && width_ == 1) {
      metadata_.outputs.push_back({"probabilities", DataType::kFp32, {-1, 2}});
      kinds_.push_back(Kind::kProbabilities);
    }
    metadata_.outputs.push_back({"margin", DataType::kFp32, scores});
    kinds_.push_back(Kind::kMargin);
  }

  // One prediction of `n` rows into `out`. Tree boosters use in-place prediction on the caller's
  // buffer (no copy into a DMatrix); gblinear, which lacks it in XGBoost 1.7, goes through a DMatrix.
  Status Predict(const float* data, int64_t n, bool margin, std::vector<float>* out) const {
    if (native_ && (margin || value_transform_ != Transform::kNone)) {
      size_t count = static_cast<size_t>(n * width_);
      double small[64];  // a request of a few rows (the common case) allocates nothing here
      std::vector<double> big;
      double* margins = small;
      if (count > std::size(small)) {
        big.resize(count);
        margins = big.data();
      }
      native_->Margins(data, static_cast<size_t>(n), margins);
      out->resize(count);
      for (size_t i = 0; i < count; ++i) (*out)[i] = static_cast<float>(margins[i]);  // summed in float
      if (!margin) ApplyTransform(value_transform_, out);
      return Status::Ok();
    }
    return PredictXgb(data, n, margin, out);
  }

  Status PredictXgb(const float* data, int64_t n, bool margin, std::vector<float>* out) const {
    std::string array = R"({"data":[)" + std::to_string(reinterpret_cast<uintptr_t>(data)) + R"(,true],"shape":[)" +
                        std::to_string(n) + "," + std::to_string(num_features_) +
                        R"(],"typestr":"<f4","version":3})";
    const char* config = margin ? kMarginConfig : kValueConfig;
    const bst_ulong* shape = nullptr;
    bst_ulong dim = 0;
    const float* result = nullptr;
    if (!linear_) {
      DMatrixHandle proxy = proxies_.Acquire();
      int rc = XGBoosterPredictFromDense(h_, array.c_str(), config, proxy, &shape, &dim, &result);
      proxies_.Release(proxy);  // the result lives in the booster's per-thread store, not in the proxy
      if (rc != 0) return Internal("prediction failed: " + XgbError());
    } else {
      DMatrixHandle m = nullptr;
      if (XGDMatrixCreateFromDense(array.c_str(), R"({"missing":NaN,"nthread":1})", &m) != 0) {
        return Internal("cannot build a DMatrix: " + XgbError());
      }
      int rc = XGBoosterPredictFromDMatrix(h_, m, config, &shape, &dim, &result);
      XGDMatrixFree(m);  // the result lives in the booster's per-thread store, not in the DMatrix
      if (rc != 0) return Internal("prediction failed: " + XgbError());
    }
    size_t count = 1;
    for (bst_ulong i = 0; i < dim; ++i) count *= static_cast<size_t>(shape[i]);
    out->assign(result, result + count);
    return Status::Ok();
  }

  // The objective's transform from margin to Booster.predict's value, where the native path knows it.
  enum class Transform { kNone, kIdentity, kSigmoid, kExp };
  static Transform TransformFor(const std::string& objective) {
    if (objective == "reg:squarederror" || objective == "reg:linear" || objective == "reg:absoluteerror" ||
        objective == "reg:pseudohubererror" || objective == "binary:logitraw" || objective == "reg:squaredlogerror" ||
        objective == "rank:pairwise" || objective == "rank:ndcg" || objective == "rank:map") {
      return Transform::kIdentity;
    }
    if (objective == "binary:logistic" || objective == "reg:logistic") return Transform::kSigmoid;
    if (objective == "count:poisson" || objective == "reg:gamma" || objective == "reg:tweedie") return Transform::kExp;
    return Transform::kNone;
  }
  static void ApplyTransform(Transform t, std::vector<float>* v) {
    if (t == Transform::kSigmoid) {
      for (float& x : *v) x = 1.0f / (1.0f + std::exp(-x));
    } else if (t == Transform::kExp) {
      for (float& x : *v) x = std::exp(x);
    }
  }

  // Builds the native evaluator and keeps it only if it reproduces libxgboost on probe rows (zeros,
  // ones, negatives, missing values, large and mixed values) to 1e-6 relative, for margins and, where
  // the objective's transform is known, values. Otherwise every prediction stays on libxgboost.
  void TryNative(const BoosterConfig& c, std::string_view config_json) {
    if (linear_ || c.booster != "gbtree" || c.num_target > 1) return;
    bst_ulong len = 0;
    const char* buf = nullptr;
    if (XGBoosterSaveModelToBuffer(h_, R"({"format":"json"})", &len, &buf) != 0) return;
    auto trees = XgboostTreeSpecs(std::string_view(buf, len), width_);
    if (!trees.ok()) {
      LOG_INFO("model file '{}': predictions stay on libxgboost ({})", file_, trees.status().message());
      return;
    }
    // base_score as configured; XGBoost adds it to margins either as is or through the objective's
    // link (logit, log). Take the candidate that reproduces libxgboost.
    simdjson::dom::parser parser;
    simdjson::dom::element doc;
    std::string_view bs;
    if (parser.parse(config_json.data(), config_json.size(), true).get(doc) ||
        doc.at_pointer("/learner/learner_model_param/base_score").get(bs)) {
      return;
    }
    double base_score = std::strtod(std::string(bs).c_str(), nullptr);
    std::vector<double> candidates = {base_score};
    if (base_score > 0 && base_score < 1) candidates.push_back(-std::log(1.0 / base_score - 1.0));
    if (base_score > 0) candidates.push_back(std::log(base_score));

    const int64_t f = num_features_;
    std::vector<float> rows;
    auto add_row = [&](auto gen) { for (int64_t j = 0; j < f; ++j) rows.push_back(gen(j)); };
    add_row([](int64_t) { return 0.0f; });
    add_row([](int64_t) { return 1.0f; });
    add_row([](int64_t) { return -1.0f; });
    add_row([](int64_t) { return std::numeric_limits<float>::quiet_NaN(); });
    add_row([](int64_t j) { return 1000.0f * static_cast<float>(j + 1); });
    add_row([](int64_t j) { return static_cast<float>(j) * 0.7f - 2.0f; });
    add_row([](int64_t j) { return j % 2 ? std::numeric_limits<float>::quiet_NaN() : 3.3f * static_cast<float>(j); });
    for (int k = 0; k < 40; ++k) add_row([k](int64_t j) { return static_cast<float>((k * 7 + j * 13) % 17) * 0.5f; });
    const int64_t n = static_cast<int64_t>(rows.size()) / f;
    std::vector<float> want_margin, want_value, got;
    if (!PredictXgb(rows.data(), n, true, &want_margin).ok()) return;
    auto close = [](const std::vector<float>& a, const std::vector<float>& b) {
      if (a.size() != b.size()) return false;
      for (size_t i = 0; i < a.size(); ++i)
        if (!(std::fabs(a[i] - b[i]) <= 1e-6 * std::max(1.0f, std::fabs(b[i])))) return false;
      return true;
    };
    got.resize(want_margin.size());
    std::vector<double> margins(want_margin.size());
    std::optional<forest::Forest> found;
    for (double cand : candidates) {
      auto f = XgboostForest(*trees, num_features_, width_, cand);
      if (!f.ok()) {
        LOG_INFO("model file '{}': predictions stay on libxgboost ({})", file_, f.status().message());
        return;
      }
      f->Margins(rows.data(), static_cast<size_t>(n), margins.data());
      for (size_t i = 0; i < got.size(); ++i) got[i] = static_cast<float>(margins[i]);
      if (close(got, want_margin)) {
        found = std::move(f).value();
        break;
      }
    }
    if (!found) {
      LOG_WARN("model file '{}': native tree evaluation disagrees with libxgboost; using libxgboost", file_);
      return;
    }
    Transform tr = multiclass() ? Transform::kNone : TransformFor(c.objective);
    if (tr != Transform::kNone) {
      if (!PredictXgb(rows.data(), n, false, &want_value).ok()) return;
      ApplyTransform(tr, &got);
      if (!close(got, want_value)) tr = Transform::kNone;  // values stay on libxgboost, margins go native
    }
    value_transform_ = tr;
    native_ = std::make_unique<forest::Forest>(std::move(*found));
    LOG_INFO("model file '{}': native tree evaluation ({} values)", file_,
             tr == Transform::kNone && !multiclass() ? "margins only" : "all");
  }

  std::unique_ptr<forest::Forest> native_;
  Transform value_transform_ = Transform::kNone;
  BoosterHandle h_;
  std::string file_;
  int64_t num_features_ = 0;
  int64_t width_ = 1;  // values per row: num_class for multiclass, num_target otherwise
  bool linear_ = false;
  Objective objective_ = Objective::kOther;
  ModelMetadata metadata_;
  std::vector<Kind> kinds_;  // parallel to metadata_.outputs
  mutable ProxyPool proxies_;
};

class XgboostBackendFactory final : public BackendFactory {
 public:
  std::string_view format() const override { return "xgboost"; }

  StatusOr<std::unique_ptr<Backend>> Load(const LoadOptions& options) override {
    std::string file = options.model_file;
    if (file.empty()) {
      ASSIGN_OR_RETURN(DetectedModel d, DetectModel(options.model_dir, "xgboost"));
      file = d.file;
    } else if (fs::path(file).is_relative() && !options.model_dir.empty()) {
      file = (fs::path(options.model_dir) / file).string();
    }
    std::error_code ec;
    if (!fs::is_regular_file(file, ec)) return NotFound("model file '" + file + "' does not exist or is not a file");

    BoosterHandle h = nullptr;
    if (XGBoosterCreate(nullptr, 0, &h) != 0) return Internal("model file '" + file + "': " + XgbError());
    auto backend = std::make_unique<XgboostBackend>(h, file);  // owns h from here on
    if (XGBoosterLoadModel(h, file.c_str()) != 0) {
      return InvalidArgument("model file '" + file + "': cannot load an XGBoost model: " + XgbError());
    }
    RETURN_IF_ERROR(backend->Init(options.intra_op_threads));
    return std::unique_ptr<Backend>(std::move(backend));
  }
};

}  // namespace

std::unique_ptr<BackendFactory> NewXgboostBackendFactory() { return std::make_unique<XgboostBackendFactory>(); }

}  // namespace inferd
