// explain/explainer.h: inferd's built-in explainer: answers `POST /v1/models/<m>:explain` for any model
// the model server loaded (docs/protocols.md "Explanations").
//
// Contract:
// - ExplainModel parses the body (explain_request.h), picks the method and answers JSON:
//   * tree (TreeSHAP, tree_shap.h) for models whose backend exposes a natively evaluated tree ensemble
//     with training covers (Backend::tree_ensemble: XGBoost gbtree, LightGBM, scikit-learn trees without
//     preprocessing steps); values explain the raw margin (what pred_contribs explains).
//   * kernel (KernelSHAP, kernel_shap.h) for every other model with one numeric input: the model is
//     called as a black box through Model::Infer in batches (what V1 :predict returns, its
//     metadata().v1_output); background rows from the request, else from `read_background`.
//   "method": "auto" (default) takes tree when it applies, else kernel.
// - A model that cannot be explained is an error naming the reason: kUnimplemented (501) for the model
//   (several inputs, non-numeric input or output, a custom Python model without explain()), kInvalidArgument
//   (400) naming the request field for the request (wrong row width, too many samples, no background).
//   Nothing throws; any thread (the model is shared, each call has its own state).
// - Response: {"explanations": [one per instance], "method": "tree"|"kernel", "output": "margin"|"prediction"}
//   where each explanation is {"shap_values", "expected_value", "margin" (tree) or "prediction" (kernel),
//   "shap_interaction_values" (tree, with "interactions": true)}: for a model with one output per row
//   shap_values is [M] and the others are numbers; with K outputs (classes) they are [K][M] and [K].
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "core/status.h"
#include "model/model.h"
#include "model/passthrough.h"

namespace inferd::explain {

// The background file's text for a model (explainer_background.json beside its files), nullopt when there is
// none, or an error when it cannot be read.
using BackgroundReader = std::function<StatusOr<std::optional<std::string>>(const Model& model)>;

inline constexpr const char* kBackgroundFile = "explainer_background.json";

StatusOr<std::string> ExplainModel(Model& model, std::string_view body, const BackgroundReader& read_background);

// Reads kBackgroundFile from the served version's directory (<dir>/<version>/, Triton layout) or else from
// <dir>, where `model_dir(name)` is the directory the model was loaded from. Files above kMaxBackgroundBytes
// are an error. The file is read at each KernelSHAP call (explanations are not a hot path).
using ModelDirLookup = std::function<StatusOr<std::string>(const std::string& model_name)>;
inline constexpr size_t kMaxBackgroundBytes = size_t{64} << 20;
BackgroundReader FileBackground(ModelDirLookup model_dir);

// ExplainModel as the model server's default :explain (server/v1_passthrough.h SetDefaultExplainer).
std::function<StatusOr<PassThroughAnswer>(Model&, const PassThroughCall&)> NewDefaultExplainer(
    ModelDirLookup model_dir);

}  // namespace inferd::explain
