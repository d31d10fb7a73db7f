// backends/lightgbm/lightgbm_model.h: reads LightGBM's text model format (what Booster.save_model writes,
// and what KServe's lgbserver loads as model.bst) into the shared forest engine.
//
// Contract:
// - ParseLightgbmModel is a pure function of the text: no I/O, no state, safe from any thread. It accepts
//   format versions v2, v3 and v4 ("version=" header line), reads the header (num_class,
//   num_tree_per_iteration, max_feature_idx, objective, average_output, feature_names), then the
//   "Tree=N" blocks up to the "end of trees" line; what follows (feature importances, parameters) is
//   ignored. Every malformed, missing or out-of-range value is a Status (kInvalidArgument) naming the
//   line or the tree and field ("tree 3: field 'threshold': ..."); nothing throws, nothing is trusted
//   (the forest builder re-checks the tree structure). Unsupported features (linear trees) are
//   kUnimplemented.
// - Tree semantics (LightGBM's Tree::Decision): decision_type bit 0 = categorical, bit 1 = default_left,
//   bits 2-3 = missing type (0 None: NaN counts as 0; 1 Zero: 0 and NaN take the default direction;
//   2 NaN: NaN takes the default direction). Numerical splits go left when x <= threshold (double).
//   Categorical splits: threshold is an index into cat_boundaries, whose range of cat_threshold is a
//   bitset of the categories that go left; NaN, negative and unlisted categories go right.
//   left_child/right_child >= 0 are split nodes, negative values are ~leaf. A tree with num_leaves=1 is
//   one leaf. Leaf ids reported by the forest are LightGBM's leaf indices (pred_leaf).
// - Output (LightGBM's Booster.predict): margins are the per-class sums of leaf values (tree i adds to
//   class i % num_tree_per_iteration); average_output (boosting=rf) divides by the number of
//   iterations. `transform` is the objective's ConvertOutput. Files written by LightGBM 2.x for rf
//   stored leaf values that are already outputs and LightGBM 2.x did not transform averaged output
//   (LightGBM issue #1843, fixed later): a version=v2 rf model whose leaf values all lie in the
//   transform's output range is read with that rule (legacy_rf_output, transform identity).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "backends/forest/forest.h"
#include "backends/forest/transforms.h"
#include "core/status.h"

namespace inferd::lightgbm {

struct LightgbmModel {
  std::string version;                // "v2", "v3" or "v4"
  int32_t num_class = 1;
  int32_t num_tree_per_iteration = 1;  // outputs per row (the forest's groups)
  int32_t num_features = 0;            // max_feature_idx + 1
  std::string objective;               // the header's objective line, e.g. "binary sigmoid:1" ("" if none)
  std::string objective_name;          // its first word, e.g. "binary"
  forest::OutputTransform transform;   // margins -> Booster.predict values
  bool average_output = false;         // boosting=rf
  bool legacy_rf_output = false;       // see the contract; transform is then identity
  std::vector<std::string> feature_names;
  forest::Forest forest;
};

StatusOr<LightgbmModel> ParseLightgbmModel(std::string_view text);

// Reads `path` and parses it; errors are prefixed with "model file '<path>'".
StatusOr<LightgbmModel> LoadLightgbmModel(const std::string& path);

}  // namespace inferd::lightgbm
