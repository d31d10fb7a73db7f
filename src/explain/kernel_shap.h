// explain/kernel_shap.h: KernelSHAP (Lundberg & Lee 2017) for any model seen as a black box that
// evaluates batches of rows.
//
// Contract:
// - The value of a coalition z (a subset of the M features) is the mean model output over the background
//   rows with the features in z taken from the explained row x ("interventional" SHAP, as shap's
//   KernelExplainer). The SHAP values solve the weighted least-squares problem of KernelSHAP with the
//   Shapley kernel, constrained so that expected + sum(phi) = f(x) exactly (one unknown eliminated).
// - Coalitions: when 2^M - 2 <= nsamples every proper non-empty subset is used once with its kernel
//   weight (the result is then the exact Shapley value of that value function); otherwise nsamples
//   coalitions are drawn (in complementary pairs) with sizes distributed by the kernel and weight 1 each,
//   from std::mt19937_64 seeded with `seed`: the same inputs and seed give the same answer on every run.
// - Cost: (coalitions + 1) x background rows model evaluations (plus the background itself once), fed to
//   `model` in batches of at most kBatchRows rows. Bounds (kMaxFeatures, kMaxBackground,
//   kMaxEvaluations) are checked first; a violation is kInvalidArgument naming the request field
//   ("nsamples", "background", "instances").
// - A model failure is returned as is. Pure otherwise (no I/O, no state); any thread.
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "core/status.h"

namespace inferd::explain {

// Evaluates `n` rows of M values (row-major) and writes n * K outputs to *out (K fixed for a model).
using BatchModel = std::function<Status(const double* rows, size_t n, std::vector<double>* out)>;

struct KernelShapOptions {
  int64_t nsamples = 0;  // coalitions to evaluate; <= 0: 2 * M + 2048 (shap's "auto")
  uint64_t seed = 0;
};

struct KernelShapResult {
  size_t outputs = 0;             // K
  std::vector<double> phi;        // [K * M]
  std::vector<double> expected;   // [K]: mean output over the background
  std::vector<double> fx;         // [K]: the model's output for x
  int64_t coalitions = 0;         // coalitions evaluated
};

constexpr size_t kMaxFeatures = 1024;  // the solve is O(coalitions x M^2)
constexpr size_t kMaxBackground = 1000;
constexpr int64_t kMaxNsamples = 100000;
constexpr int64_t kMaxEvaluations = int64_t{1} << 21;  // model rows per explained row
constexpr size_t kBatchRows = 1024;

// Coalitions that KernelShap would evaluate for M features (for bounding a request before running it).
int64_t KernelShapCoalitions(size_t num_features, int64_t nsamples);

StatusOr<KernelShapResult> KernelShap(const BatchModel& model, const double* x, size_t num_features,
                                      const double* background, size_t background_rows,
                                      const KernelShapOptions& options);

}  // namespace inferd::explain
