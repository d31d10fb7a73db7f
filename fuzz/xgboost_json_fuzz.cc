// fuzz/xgboost_json_fuzz.cc: XGBoost models as inferd reads their trees (backends/xgboost/xgboost_trees.h):
// the JSON libxgboost writes for any model it loaded (.json, .ubj and .bst alike are parsed by libxgboost
// first; inferd parses only this JSON), then the forest built from it and evaluated (forest_check.h).
#include "backends/xgboost/xgboost_trees.h"
#include "forest_check.h"

using namespace inferd;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view json = inferd::fuzz::AsText(data, size);
  for (int64_t groups : {1, 3}) {
    auto trees = XgboostTreeSpecs(json, groups);
    if (!trees.ok()) continue;
    int64_t max_feature = 0;
    for (const auto& t : *trees) {
      for (const auto& node : t.nodes) {
        if (!node.is_leaf && node.feature > max_feature) max_feature = node.feature;
      }
    }
    for (int64_t num_features : {int64_t{4}, max_feature + 1}) {
      auto f = XgboostForest(*trees, num_features, groups, 0.5);
      if (f.ok()) inferd::fuzz::EvaluateForest(*f);
    }
  }
  return 0;
}
