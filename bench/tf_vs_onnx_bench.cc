// bench/tf_vs_onnx_bench.cc: inferd's TensorFlow executor (tf/model.h TfModel::Run) against ONNX Runtime running
// the same model, converted op by op by bench/tf_to_onnx.py (CMake runs it into the build tree). Issue 18's
// figure: latency at batch 1 and throughput at batch 32, target within 1.5x of ONNX Runtime on CPU.
//
// For each model both engines first get the same random inputs at batch 1 and 32 and must agree to 1e-4
// (|tf - ort| <= 1e-4 * max(1, |ort|)); then rounds alternate the engines (the order flips every round), each
// engine timing batch-1 calls for --ms milliseconds (p50 of wall time per call, and process CPU time per call)
// and batch-32 calls for as long (rows per second). Medians over the rounds are printed with the tf/ort ratios
// of time per call (> 1: the executor is slower). CPU time per call is the figure to trust on a loaded machine:
// other processes inflate wall times, not the CPU time this process spends.
//
//   tf_vs_onnx_bench [--onnx_dir=DIR] [--rounds=7] [--ms=400] [--ort_threads=1] [--model=NAME] [--only=tf|ort]
//
// Both engines use one thread: the executor runs a request on its caller's thread (OpenBLAS set to one
// thread), and the ONNX session gets intra_op_threads=1 (src/backends/onnx/onnx_backend.cc's options).
// --ort_threads=2 shows what ONNX Runtime gains from a second core (the executor has no intra-op threads).
#include <onnxruntime_cxx_api.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "tf/model.h"

#ifndef TF_VS_ONNX_DEFAULT_DIR
#define TF_VS_ONNX_DEFAULT_DIR "."
#endif
#ifndef TF_VS_ONNX_SOURCE_DIR
#define TF_VS_ONNX_SOURCE_DIR "."
#endif

namespace {

using inferd::tf::DType;
using inferd::tf::Tensor;
using inferd::tf::TfModel;

struct Case {
  const char* name;
  const char* tf_path;  // relative to the source tree
  bool tfjs;
  const char* onnx_file;
  std::vector<int64_t> row_shape;  // one input row, without the batch dim
};

const std::vector<Case>& Cases() {
  static const std::vector<Case> cases = {
      {"keras_mlp", "tests/data/tf/tf_rust_keras_single_input", false, "keras_mlp.onnx", {5}},
      {"facemesh_detection_short", "tests/data/tfjs/human_facemesh_detection_short/facemesh-detection-short.json",
       true, "facemesh_detection_short.onnx", {128, 128, 3}},
  };
  return cases;
}

double Now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

double CpuNow() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

double Median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

Tensor RandomInput(const std::vector<int64_t>& row, int64_t batch, uint32_t seed) {
  std::vector<int64_t> shape = {batch};
  shape.insert(shape.end(), row.begin(), row.end());
  Tensor t = *Tensor::Make(DType::kFloat, shape);
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> d(-1.0f, 1.0f);
  for (int64_t i = 0; i < t.num_elements(); ++i) t.data<float>()[i] = d(rng);
  return t;
}

// One engine: runs the model on one input tensor, keeping its outputs (float) for the comparison.
class Engine {
 public:
  virtual ~Engine() = default;
  virtual bool Run(const Tensor& in) = 0;
  virtual std::vector<std::vector<float>> Outputs() = 0;
};

class TfEngine final : public Engine {
 public:
  TfEngine(std::unique_ptr<TfModel> m, std::string input) : model_(std::move(m)), input_(std::move(input)) {}
  bool Run(const Tensor& in) override {
    inputs_.clear();
    inputs_.emplace_back(input_, in);
    auto st = model_->Run("", inputs_, {}, &results_);
    if (!st.ok()) std::fprintf(stderr, "tf: %s\n", st.ToString().c_str());
    return st.ok();
  }
  std::vector<std::vector<float>> Outputs() override {
    std::vector<std::vector<float>> out;
    for (const Tensor& t : results_) out.emplace_back(t.data<float>(), t.data<float>() + t.num_elements());
    return out;
  }

 private:
  std::unique_ptr<TfModel> model_;
  std::string input_;
  std::vector<std::pair<std::string, Tensor>> inputs_;
  std::vector<Tensor> results_;
};

class OrtEngine final : public Engine {
 public:
  OrtEngine(Ort::Env& env, const std::string& file, int threads) : session_(nullptr) {
    Ort::SessionOptions so;
    so.SetIntraOpNumThreads(threads);
    if (threads != 1) so.AddConfigEntry("session.intra_op.allow_spinning", "0");
    so.SetInterOpNumThreads(1);
    so.SetExecutionMode(ORT_SEQUENTIAL);
    so.SetGraphOptimizationLevel(GraphOptimizationLevel::ORT_ENABLE_ALL);
    session_ = Ort::Session(env, file.c_str(), so);
    Ort::AllocatorWithDefaultOptions alloc;
    in_name_ = session_.GetInputNameAllocated(0, alloc).get();
    for (size_t i = 0; i < session_.GetOutputCount(); ++i) {
      out_names_.push_back(session_.GetOutputNameAllocated(i, alloc).get());
    }
    for (const std::string& n : out_names_) out_ptrs_.push_back(n.c_str());
  }
  bool Run(const Tensor& in) override {
    static const Ort::MemoryInfo mem = Ort::MemoryInfo::CreateCpu(OrtDeviceAllocator, OrtMemTypeDefault);
    Ort::Value v = Ort::Value::CreateTensor(mem, const_cast<char*>(in.raw()), in.byte_size(), in.shape().data(),
                                            in.shape().size(), ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT);
    const char* name = in_name_.c_str();
    results_ = session_.Run(Ort::RunOptions{nullptr}, &name, &v, 1, out_ptrs_.data(), out_ptrs_.size());
    return true;
  }
  std::vector<std::vector<float>> Outputs() override {
    std::vector<std::vector<float>> out;
    for (Ort::Value& v : results_) {
      size_t n = v.GetTensorTypeAndShapeInfo().GetElementCount();
      const float* p = v.GetTensorData<float>();
      out.emplace_back(p, p + n);
    }
    return out;
  }

 private:
  Ort::Session session_;
  std::string in_name_;
  std::vector<std::string> out_names_;
  std::vector<const char*> out_ptrs_;
  std::vector<Ort::Value> results_;
};

// Largest |tf - ort| / max(1, |ort|) over all outputs; +inf when the outputs' sizes differ. *scale gets the
// largest |ort| (so the report shows the outputs are not all zero).
double Compare(Engine& tf, Engine& ort, const Tensor& in, double* scale) {
  if (!tf.Run(in) || !ort.Run(in)) return INFINITY;
  auto a = tf.Outputs(), b = ort.Outputs();
  if (a.size() != b.size()) return INFINITY;
  double worst = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    if (a[i].size() != b[i].size()) return INFINITY;
    for (size_t k = 0; k < a[i].size(); ++k) {
      *scale = std::max(*scale, std::fabs(double{b[i][k]}));
      double e = std::fabs(double{a[i][k]} - b[i][k]) / std::max(1.0, std::fabs(double{b[i][k]}));
      if (!(e <= worst)) worst = std::isnan(e) ? INFINITY : e;
    }
  }
  return worst;
}

struct Sample {
  double p50_us = 0, cpu_us = 0;  // batch 1: wall p50 and CPU time per call
  double rows_per_s = 0, cpu_per_row_us = 0;  // batch 32
};

Sample Measure(Engine& e, const Tensor& one, const Tensor& batch, double ms) {
  Sample s;
  std::vector<double> lat;
  double c0 = CpuNow(), t0 = Now(), end = t0 + ms / 1e3;
  while (Now() < end || lat.size() < 5) {
    double t = Now();
    e.Run(one);
    lat.push_back((Now() - t) * 1e6);
  }
  s.cpu_us = (CpuNow() - c0) * 1e6 / static_cast<double>(lat.size());
  s.p50_us = Median(lat);
  int64_t calls = 0;
  c0 = CpuNow();
  t0 = Now();
  end = t0 + ms / 1e3;
  while (Now() < end || calls < 3) {
    e.Run(batch);
    ++calls;
  }
  double rows = static_cast<double>(calls * batch.dim(0));
  s.rows_per_s = rows / (Now() - t0);
  s.cpu_per_row_us = (CpuNow() - c0) * 1e6 / rows;
  return s;
}

struct Flags {
  std::string onnx_dir = TF_VS_ONNX_DEFAULT_DIR;
  int rounds = 7;
  double ms = 400;
  int ort_threads = 1;
  std::string model;
  std::string only;  // "tf" or "ort": time one engine (for perf record); no ratios
};

Flags ParseFlags(int argc, char** argv) {
  Flags f;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto val = [&](const char* k) -> const char* {
      size_t n = std::strlen(k);
      return a.compare(0, n, k) == 0 ? argv[i] + n : nullptr;
    };
    if (const char* v = val("--onnx_dir=")) f.onnx_dir = v;
    else if (const char* v2 = val("--rounds=")) f.rounds = std::max(1, std::atoi(v2));
    else if (const char* v3 = val("--ms=")) f.ms = std::max(1.0, std::atof(v3));
    else if (const char* v4 = val("--ort_threads=")) f.ort_threads = std::max(1, std::atoi(v4));
    else if (const char* v5 = val("--model=")) f.model = v5;
    else if (const char* v6 = val("--only=")) f.only = v6;
    else std::fprintf(stderr, "unknown flag %s\n", argv[i]);
  }
  return f;
}

int RunCase(const Case& c, const Flags& f, Ort::Env& env) {
  std::string tf_path = std::string(TF_VS_ONNX_SOURCE_DIR) + "/" + c.tf_path;
  auto model = c.tfjs ? TfModel::LoadTfjs(tf_path) : TfModel::LoadSavedModel(tf_path);
  if (!model.ok()) {
    std::fprintf(stderr, "%s: %s\n", c.name, model.status().ToString().c_str());
    return 1;
  }
  auto sig = (*model)->FindSignature("");
  std::string input = sig.ok() ? sig->second->inputs.begin()->first : "";
  TfEngine tf(std::move(*model), input);
  OrtEngine ort(env, f.onnx_dir + "/" + c.onnx_file, f.ort_threads);
  Tensor one = RandomInput(c.row_shape, 1, 1), batch = RandomInput(c.row_shape, 32, 2);
  double scale = 0;
  double e1 = Compare(tf, ort, one, &scale), e32 = Compare(tf, ort, batch, &scale);
  std::printf("%s: outputs (largest |value| %.3g) agree to %.2g (batch 1), %.2g (batch 32)%s\n", c.name, scale, e1, e32,
              e1 <= 1e-4 && e32 <= 1e-4 ? "" : "  ** MISMATCH over 1e-4 **");
  if (!(e1 <= 1e-4 && e32 <= 1e-4)) return 1;
  for (int w = 0; w < 3; ++w) tf.Run(batch), ort.Run(batch);  // warm caches and allocators
  std::vector<Sample> ts, os;
  if (!f.only.empty()) {
    for (int r = 0; r < f.rounds; ++r) {
      Sample s = Measure(f.only == "ort" ? static_cast<Engine&>(ort) : tf, one, batch, f.ms);
      std::printf("  %s round %d: batch 1 p50 %.1f us, cpu %.1f us; batch 32 cpu per row %.2f us\n", f.only.c_str(),
                  r, s.p50_us, s.cpu_us, s.cpu_per_row_us);
    }
    return 0;
  }
  for (int r = 0; r < f.rounds; ++r) {
    if (r % 2 == 0) {
      ts.push_back(Measure(tf, one, batch, f.ms));
      os.push_back(Measure(ort, one, batch, f.ms));
    } else {
      os.push_back(Measure(ort, one, batch, f.ms));
      ts.push_back(Measure(tf, one, batch, f.ms));
    }
  }
  auto med = [](const std::vector<Sample>& v, double Sample::*m) {
    std::vector<double> x;
    for (const Sample& s : v) x.push_back(s.*m);
    return Median(x);
  };
  double tp = med(ts, &Sample::p50_us), op = med(os, &Sample::p50_us);
  double tc = med(ts, &Sample::cpu_us), oc = med(os, &Sample::cpu_us);
  double tr = med(ts, &Sample::rows_per_s), orr = med(os, &Sample::rows_per_s);
  double tcr = med(ts, &Sample::cpu_per_row_us), ocr = med(os, &Sample::cpu_per_row_us);
  std::printf("  batch 1   latency p50   tf %9.1f us   ort %9.1f us   tf/ort %.2f\n", tp, op, tp / op);
  std::printf("  batch 1   cpu per call  tf %9.1f us   ort %9.1f us   tf/ort %.2f\n", tc, oc, tc / oc);
  std::printf("  batch 32  throughput    tf %9.0f r/s  ort %9.0f r/s  tf/ort time %.2f\n", tr, orr, orr / tr);
  std::printf("  batch 32  cpu per row   tf %9.2f us   ort %9.2f us   tf/ort %.2f\n", tcr, ocr, tcr / ocr);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Flags f = ParseFlags(argc, argv);
  std::printf("tf_vs_onnx_bench: %d rounds of %.0f ms per engine and batch, ONNX Runtime %s with %d intra-op "
              "thread(s), the executor on one thread\n",
              f.rounds, f.ms, OrtGetApiBase()->GetVersionString(), f.ort_threads);
  int rc = 0;
  try {
    Ort::Env env(ORT_LOGGING_LEVEL_WARNING, "tf_vs_onnx_bench");
    for (const Case& c : Cases()) {
      if (!f.model.empty() && f.model != c.name) continue;
      rc |= RunCase(c, f, env);
    }
  } catch (const Ort::Exception& e) {
    std::fprintf(stderr, "ONNX Runtime: %s\n", e.what());
    return 1;
  }
  return rc;
}
