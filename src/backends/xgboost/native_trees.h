// backends/xgboost/native_trees.h: evaluates XGBoost gbtree ensembles without calling libxgboost.
//
// Why hand-written: libxgboost's in-place prediction spends ~24 us per 1-row request on parsing its
// JSON arguments and entering an OpenMP region, while walking iris's trees takes well under 1 us
// (measured in bench/, see docs/benchmarks.md). The forest engine of the framework-runtimes issue will
// generalize this to LightGBM and scikit-learn.
//
// Contract: built once at load from the model's JSON (XGBoosterSaveModelToBuffer, format json);
// immutable afterwards, so Margins may be called from any number of threads at once. Numerical
// semantics follow XGBoost's CPU predictor: a row goes left when `x < split_condition` (float
// compare), a missing value (NaN) follows default_left, leaf values are added in tree order in float
// onto the per-group base margin. Only numerical splits of plain gbtree models are supported;
// FromModelJson returns an error for anything else (dart, gblinear, categorical splits,
// multi-target), and the caller keeps using libxgboost.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace inferd {

class NativeTrees {
 public:
  static StatusOr<NativeTrees> FromModelJson(std::string_view json, int64_t num_features, int64_t groups);

  // Sets the per-group base margin (what XGBoost adds before the first tree).
  void set_base_margin(std::vector<float> base) { base_ = std::move(base); }
  int64_t groups() const { return groups_; }

  // Margins for `n` rows of `num_features` floats: out[n * groups].
  void Margins(const float* x, int64_t n, float* out) const;

 private:
  struct Node {
    int32_t left;   // -1 for a leaf
    int32_t right;
    uint32_t feature;
    float value;    // split condition, or the leaf value
    bool default_left;
  };
  std::vector<Node> nodes_;
  std::vector<int32_t> roots_;   // index of each tree's root in nodes_
  std::vector<int32_t> groups_of_tree_;
  std::vector<float> base_;
  int64_t num_features_ = 0;
  int64_t groups_ = 1;
};

}  // namespace inferd
