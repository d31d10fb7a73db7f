// backends/xgboost/xgboost_trees.h: XGBoost gbtree models on the shared tree engine
// (backends/forest/forest.h).
//
// Why native: libxgboost's in-place prediction spends ~24 us per 1-row request parsing its JSON
// arguments and entering an OpenMP region, while walking iris's trees takes well under 1 us
// (docs/benchmarks.md).
//
// Contract: pure functions. XgboostTreeSpecs reads the trees of a model saved as JSON
// (XGBoosterSaveModelToBuffer, format json: every input format, .json, .ubj or the legacy binary .bst,
// ends up here through libxgboost) into TreeSpecs; XgboostForest builds the Forest with XGBoost's CPU
// predictor semantics: float compare `x < split_condition`, NaN follows default_left, categorical
// splits send the categories listed for the node to the right child (and NaN to the default side),
// leaves are added in float in tree order onto float(base_margin) of the tree's group. Leaf ids are
// XGBoost's node ids (pred_leaf); node covers are the trees' sum_hessian (for TreeSHAP, as pred_contribs). Unimplemented for what the engine does not evaluate (dart, gblinear,
// multi-target trees); the caller then keeps libxgboost.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "backends/forest/forest.h"
#include "core/status.h"

namespace inferd {

StatusOr<std::vector<forest::TreeSpec>> XgboostTreeSpecs(std::string_view model_json, int64_t groups);

StatusOr<forest::Forest> XgboostForest(const std::vector<forest::TreeSpec>& trees, int64_t num_features,
                                       int64_t groups, double base_margin);

}  // namespace inferd
