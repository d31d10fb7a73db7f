// explain/tree_shap.h: exact SHAP values of a tree ensemble (backends/forest/forest.h) for one row,
// Lundberg et al.'s path-dependent TreeSHAP ("Consistent Individualized Feature Attribution for Tree
// Ensembles", Algorithm 2), and SHAP interaction values (the same recursion conditioned on each feature
// being present / absent, as XGBoost's pred_interactions does).
//
// Contract:
// - Create checks that the forest can be explained: every node carries a finite, non-negative training
//   cover (Forest::cover: hessian sums for XGBoost, data counts for LightGBM, weighted samples for
//   scikit-learn) and no tree is deeper than kMaxDepth; otherwise Unimplemented naming the reason.
//   It precomputes each node's cover-weighted mean leaf value and the expected value of each group, so
//   Contributions costs only the recursion. A TreeShap keeps a pointer to the forest: the forest must
//   outlive it.
// - Semantics (what libxgboost's pred_contribs computes): for group g, phi[g][0..F-1] are the features'
//   contributions and phi[g][F] is the bias = base_score[g] + sum over g's trees of the tree's mean
//   value; contributions plus bias equal the row's margin (Forest::Margins) up to rounding. Splits are
//   decided exactly as Margins decides them (Forest::Child), missing values and categories included.
//   Aggregation::kAverage scales each tree by 1 / (trees of its group). Arithmetic is in double.
// - Interactions: out[g][i][j] for i, j in 0..F (F+1 square per group, the last row and column are the
//   bias: zero except [F][F] = bias). Row i sums to phi[g][i]; off-diagonal entries are symmetric.
// - Rows are num_features() doubles; the caller rounds them as the model does (to float32 for models
//   evaluated on float32 rows). Const members may be called from any number of threads at once; each
//   call uses its own scratch space.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "backends/forest/forest.h"
#include "core/status.h"

namespace inferd::explain {

class TreeShap {
 public:
  // Deeper trees are refused (the recursion and its path storage grow with the depth).
  static constexpr int32_t kMaxDepth = 256;

  static StatusOr<TreeShap> Create(const forest::Forest& forest);

  int32_t num_features() const { return forest_->num_features(); }
  int32_t num_groups() const { return forest_->num_groups(); }
  // Per group: base_score + the sum of the group's trees' mean values (scaled for kAverage).
  std::span<const double> expected_value() const { return expected_; }

  // phi[num_groups() * (num_features() + 1)], overwritten.
  void Contributions(const double* row, double* phi) const;
  // out[num_groups() * (F + 1) * (F + 1)], overwritten.
  void Interactions(const double* row, double* out) const;

 private:
  struct PathElement {
    int32_t feature;
    double zero_fraction;
    double one_fraction;
    double pweight;
  };
  struct Walk;  // the per-call state of the recursion (tree_shap.cc)

  explicit TreeShap(const forest::Forest& forest) : forest_(&forest) {}
  // One pass over every tree; condition 0: plain contributions (bias added), +1 / -1: feature
  // `condition_feature` held present / absent (no bias), as in XGBoost's PredictContribution.
  void Pass(const double* row, double* phi, int condition, int32_t condition_feature,
            std::vector<PathElement>* path) const;

  const forest::Forest* forest_;
  std::vector<double> mean_;       // per node: cover-weighted mean leaf value of its subtree
  std::vector<double> expected_;   // per group
  std::vector<double> scale_;      // per tree: 1, or 1 / trees of its group (kAverage)
  std::vector<int32_t> used_;      // features some split tests, ascending
  int32_t max_depth_ = 0;
};

}  // namespace inferd::explain
