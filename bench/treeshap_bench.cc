// bench/treeshap_bench.cc: inferd's TreeSHAP (explain/tree_shap.h) against libxgboost's pred_contribs on the
// same XGBoost model and the same rows, in one run.
//
//   treeshap_bench [--trees 100] [--depth 6] [--features 20] [--rounds 7] [--min_ms 300]
//
// The model is trained here with libxgboost's C API (binary:logistic, max_depth --depth, --trees rounds, on
// 5000 random rows with an interaction-rich label), saved as JSON and loaded through inferd's XGBoost
// backend, whose native forest (with the trees' sum_hessian covers) TreeSHAP explains. For one row per call
// it times, interleaved round by round (median of the rounds):
//   libxgboost:     XGBoosterPredictFromDMatrix with type 2 (pred_contribs), nthread 1, on one-row DMatrix
//                   handles created beforehand (their creation is not timed: the fairest case for libxgboost);
//   inferd:         TreeShap::Contributions on a TreeShap created once (what a server keeps per model);
//   inferd+create:  TreeShap::Create + Contributions (what inferd's :explain does per request today);
// and prints the time per row and the ratio libxgboost / inferd (target: > 1, inferd faster). The answers are
// compared (1e-5) before timing, so a fast wrong answer cannot pass.
// A hand-written timing loop as in tree_engine_bench.cc: each ratio pairs measurements taken side by side in
// every round, which keeps it meaningful on a noisy shared machine.
#include <xgboost/c_api.h>

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "backends/xgboost/xgboost_backend.h"
#include "explain/tree_shap.h"

namespace {

using Clock = std::chrono::steady_clock;

struct Options {
  int trees = 100, depth = 6, features = 20, rounds = 7;
  double min_ms = 300;
};

[[noreturn]] void Die(const std::string& why) {
  std::fprintf(stderr, "treeshap_bench: %s\n", why.c_str());
  std::exit(1);
}

void Check(int rc, const char* what) {
  if (rc != 0) Die(std::string(what) + ": " + XGBGetLastError());
}

// Nanoseconds per call of f, timed for at least min_ms.
double TimePerCall(const std::function<void()>& f, double min_ms) {
  f();
  int64_t calls = 0, batch = 1;
  const auto start = Clock::now();
  double elapsed_ms = 0;
  while (elapsed_ms < min_ms) {
    for (int64_t i = 0; i < batch; ++i) f();
    calls += batch;
    batch *= 2;
    elapsed_ms = std::chrono::duration<double, std::milli>(Clock::now() - start).count();
  }
  return elapsed_ms * 1e6 / static_cast<double>(calls);
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

Options Parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string k = argv[i];
    const double v = std::atof(argv[i + 1]);
    if (k == "--trees") o.trees = static_cast<int>(v);
    else if (k == "--depth") o.depth = static_cast<int>(v);
    else if (k == "--features") o.features = static_cast<int>(v);
    else if (k == "--rounds") o.rounds = static_cast<int>(v);
    else if (k == "--min_ms") o.min_ms = v;
    else Die("unknown flag " + k);
  }
  if (o.trees < 1 || o.depth < 1 || o.features < 2 || o.rounds < 1) Die("bad flags");
  return o;
}

// Trains the model and saves it as JSON in a fresh directory; returns the file.
std::string TrainModel(const Options& o, const std::vector<float>& x, size_t n) {
  std::vector<float> y(n);
  for (size_t r = 0; r < n; ++r) {
    const float* v = x.data() + r * static_cast<size_t>(o.features);
    y[r] = (v[0] * v[1] + std::sin(v[2]) - v[3] * v[4] + 0.5f * v[5] > 0) ? 1.f : 0.f;
  }
  DMatrixHandle m = nullptr;
  BoosterHandle h = nullptr;
  Check(XGDMatrixCreateFromMat(x.data(), n, static_cast<bst_ulong>(o.features), NAN, &m), "DMatrix");
  Check(XGDMatrixSetFloatInfo(m, "label", y.data(), n), "labels");
  Check(XGBoosterCreate(&m, 1, &h), "booster");
  for (auto [k, v] : {std::pair{"objective", "binary:logistic"}, {"eta", "0.1"}, {"nthread", "1"}, {"seed", "1"}}) {
    XGBoosterSetParam(h, k, v);
  }
  XGBoosterSetParam(h, "max_depth", std::to_string(o.depth).c_str());
  for (int i = 0; i < o.trees; ++i) Check(XGBoosterUpdateOneIter(h, i, m), "training");
  const auto dir = std::filesystem::temp_directory_path() / ("inferd-treeshap-bench-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const std::string file = (dir / "model.json").string();
  Check(XGBoosterSaveModel(h, file.c_str()), "save");
  XGBoosterFree(h);
  XGDMatrixFree(m);
  return file;
}

}  // namespace

int main(int argc, char** argv) {
  const Options o = Parse(argc, argv);
  const size_t f = static_cast<size_t>(o.features), train_rows = 5000, rows = 256;
  std::mt19937 gen(42);
  std::normal_distribution<float> d(0.f, 1.5f);
  std::vector<float> x((train_rows + rows) * f);
  for (float& v : x) v = d(gen);
  const std::string file = TrainModel(o, x, train_rows);
  const float* test = x.data() + train_rows * f;

  inferd::LoadOptions lo;
  lo.model_name = "bench";
  lo.model_dir = std::filesystem::path(file).parent_path().string();
  lo.model_file = file;
  auto backend = inferd::NewXgboostBackendFactory()->Load(lo);
  if (!backend.ok()) Die(backend.status().ToString());
  const inferd::forest::Forest* forest = (*backend)->tree_ensemble().forest;
  if (!forest) Die("the XGBoost backend kept no native forest");
  auto shap = inferd::explain::TreeShap::Create(*forest);
  if (!shap.ok()) Die(shap.status().ToString());

  BoosterHandle h = nullptr;
  Check(XGBoosterCreate(nullptr, 0, &h), "booster");
  Check(XGBoosterLoadModel(h, file.c_str()), "load");
  XGBoosterSetParam(h, "nthread", "1");
  std::vector<DMatrixHandle> one_row(rows);
  std::vector<double> row_d(rows * f);
  for (size_t r = 0; r < rows; ++r) {
    Check(XGDMatrixCreateFromMat(test + r * f, 1, f, NAN, &one_row[r]), "DMatrix");
    for (size_t j = 0; j < f; ++j) row_d[r * f + j] = test[r * f + j];
  }
  const char* config = R"({"type":2,"training":false,"iteration_begin":0,"iteration_end":0,"strict_shape":false})";
  auto contribs = [&](size_t r) {
    const bst_ulong* shape = nullptr;
    bst_ulong dim = 0;
    const float* out = nullptr;
    Check(XGBoosterPredictFromDMatrix(h, one_row[r], config, &shape, &dim, &out), "pred_contribs");
    return out;
  };
  std::vector<double> phi(f + 1);
  double worst = 0;
  for (size_t r = 0; r < rows; ++r) {
    const float* ref = contribs(r);
    shap->Contributions(row_d.data() + r * f, phi.data());
    for (size_t j = 0; j <= f; ++j) worst = std::max(worst, std::fabs(phi[j] - ref[j]) / std::max(1.0, std::fabs(double(ref[j]))));
  }
  if (worst > 1e-5) Die("answers differ from libxgboost's pred_contribs by " + std::to_string(worst));

  size_t a = 0, b = 0, c = 0;
  volatile double sink = 0;
  auto theirs = [&] { sink = sink + contribs(a++ % rows)[0]; };
  auto ours = [&] {
    shap->Contributions(row_d.data() + (b++ % rows) * f, phi.data());
    sink = sink + phi[0];
  };
  auto ours_create = [&] {
    auto s = inferd::explain::TreeShap::Create(*forest);
    s->Contributions(row_d.data() + (c++ % rows) * f, phi.data());
    sink = sink + phi[0];
  };
  std::vector<double> t, i, ic;
  for (int round = 0; round < o.rounds; ++round) {
    if (round % 2 == 0) {
      t.push_back(TimePerCall(theirs, o.min_ms));
      i.push_back(TimePerCall(ours, o.min_ms));
      ic.push_back(TimePerCall(ours_create, o.min_ms));
    } else {
      ic.push_back(TimePerCall(ours_create, o.min_ms));
      i.push_back(TimePerCall(ours, o.min_ms));
      t.push_back(TimePerCall(theirs, o.min_ms));
    }
  }
  const double tm = Median(t), im = Median(i), icm = Median(ic);
  std::printf("TreeSHAP, one row, XGBoost binary:logistic, %d trees, max_depth %d, %d features (%d nodes); "
              "answers agree to %.2g\n", o.trees, o.depth, o.features, static_cast<int>(forest->nodes().size()), worst);
  std::printf("  libxgboost pred_contribs   %10.1f us/row\n", tm / 1e3);
  std::printf("  inferd TreeShap            %10.1f us/row   libxgboost/inferd = %.2fx%s\n", im / 1e3, tm / im,
              tm / im > 1 ? "" : "   (target: > 1)");
  std::printf("  inferd Create+TreeShap     %10.1f us/row   libxgboost/inferd = %.2fx\n", icm / 1e3, tm / icm);
  for (DMatrixHandle m : one_row) XGDMatrixFree(m);
  XGBoosterFree(h);
  std::filesystem::remove_all(std::filesystem::path(file).parent_path());
  return 0;
}
