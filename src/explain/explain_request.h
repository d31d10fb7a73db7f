// explain/explain_request.h: the JSON body of `POST /v1/models/<m>:explain` for inferd's own explainers
// (TreeSHAP, KernelSHAP; docs/protocols.md "Explanations").
//
//   {"instances": [row, ...],          required: rows as for V1 :predict (a row is a list of numbers, or a
//                                      nested list for a model whose input has more dimensions; null is a
//                                      missing value, NaN)
//    "method": "auto"|"tree"|"kernel", optional, default auto (tree for natively evaluated tree models)
//    "interactions": bool,             optional, TreeSHAP only: also SHAP interaction values
//    "nsamples": int,                  optional, KernelSHAP coalitions (default 2 * M + 2048)
//    "background": [row, ...],         optional, KernelSHAP background rows (default: the model's
//                                      explainer_background.json)
//    "seed": int}                      optional, KernelSHAP sampling seed (default 0)
//
// Contract: ParseExplainRequest is a pure function of the text; every malformed, unknown or out-of-range
// member is kInvalidArgument naming it ("instances[2][1]: ..."); nothing throws; text nested deeper than
// core/json_depth.h's limit is refused before it is parsed. ParseRows reads a background file's text with the same row rules (a list of rows,
// or an object with "instances").
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "tensor/datatype.h"

namespace inferd::explain {

enum class Method { kAuto, kTree, kKernel };

// Rows of equal shape, flattened row-major.
struct Rows {
  Shape shape;                 // one row's shape, e.g. {M} or {28, 28}
  size_t width = 0;            // elements per row (the product of shape)
  size_t count = 0;
  std::vector<double> values;  // [count * width]
};

struct ExplainRequest {
  Rows instances;
  Method method = Method::kAuto;
  bool interactions = false;
  int64_t nsamples = 0;  // 0: the default
  uint64_t seed = 0;
  bool has_background = false;
  Rows background;
};

constexpr size_t kMaxExplainInstances = 1024;

StatusOr<ExplainRequest> ParseExplainRequest(std::string_view body);
// `what` names the source in errors ("background", or the file).
StatusOr<Rows> ParseRows(std::string_view text, const std::string& what);

}  // namespace inferd::explain
