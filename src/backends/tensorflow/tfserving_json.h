// backends/tensorflow/tfserving_json.h: TF Serving's REST JSON (the API KServe's `tensorflow` runtime serves on
// its V1 paths), read into and written from tf::Tensors.
//
// Request (POST .../:predict), as TF Serving documents it:
//   {"signature_name": "<sig>"?, "instances": [...]}   row format: one element per example; with one input an
//                                                       element is that input's value (or an object naming it),
//                                                       with several an object {alias: value}. The examples are
//                                                       stacked on a new first dimension.
//   {"signature_name": "<sig>"?, "inputs": <v> | {alias: <v>}}   columnar format: each input's whole tensor.
// Values are (nested, rectangular) JSON lists of numbers, booleans or strings; {"b64": "<base64>"} is a binary
// string. Elements are read as the signature's dtype for that input: numbers for float/int types (integers only
// for integer types, range-checked), true/false for DT_BOOL, strings for DT_STRING.
// Response: row format {"predictions": [...]}: one element per example (the output's slice, or with several
// outputs an object {alias: slice}); every output's first dimension must then be the same. Columnar format
// {"outputs": <v> | {alias: <v>}}. Floats are written in their shortest round-trip form (with ".0" when
// integral, as TF Serving writes them), NaN and infinities as NaN / Infinity / -Infinity (TF Serving's
// non-standard JSON). DT_STRING outputs whose alias ends in "_bytes", or that are not well-formed UTF-8, are
// written as {"b64": ...}.
// Status and metadata answers follow TF Serving's GetModelStatus / GetModelMetadata JSON.
//
// Contract: pure functions (no I/O, no state), safe from any thread. Errors are InvalidArgument (400) with a
// message naming the key or input; limits: nesting depth kMaxValueDepth, element counts tf::Tensor::Make's.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "backends/tensorflow/tfserving_examples.h"
#include "core/status.h"
#include "tf/graph_def.h"
#include "tf/tensor.h"

namespace inferd::tfserving {

inline constexpr int kMaxValueDepth = 32;

struct PredictRequest {
  std::string signature_name;  // as sent ("" = the default signature)
  bool row_format = true;      // "instances" (true) or "inputs"
  std::vector<std::pair<std::string, tf::Tensor>> inputs;  // alias -> value, one per signature input
};

// The signature a request's signature_name ("" when absent) selects, or its error (TfModel::FindSignature).
using SignatureLookup = std::function<StatusOr<const tf::SignatureDef*>(std::string_view name)>;

// Reads `body`; `lookup` resolves its signature_name, whose inputs say which aliases and dtypes to read.
StatusOr<PredictRequest> ParsePredictRequest(std::string_view body, const SignatureLookup& lookup);

// The response body for `outputs` (aliases[i] names outputs[i]).
StatusOr<std::string> WritePredictResponse(bool row_format, const std::vector<std::string>& aliases,
                                           const std::vector<tf::Tensor>& outputs);

// POST .../:classify and .../:regress, as TF Serving's REST API documents them:
//   {"signature_name": "<sig>"?, "context": {feature: value}?, "examples": [{feature: value}, ...]}
// A feature value is one element or a list of them: strings and {"b64": ...} make a bytes_list, integers and
// booleans an int64_list, numbers with a fraction or exponent a float_list; mixing kinds in one feature, nulls,
// nested lists and an empty "examples" are 400s naming the feature or key. Each example becomes a serialized
// tf.Example (tf/example.h), with the context's features applied as TF Serving applies them.
struct ExamplesRequest {
  std::string signature_name;           // "" = the default signature
  std::vector<std::string> serialized;  // one tf.Example per example, context applied
};
StatusOr<ExamplesRequest> ParseExamplesRequest(std::string_view body);

// {"results": [[[label, score], ...], ...]}: one list per example (labels "" / scores 0 where the signature has no
// classes / scores output, as in TF Serving). The run and its checks: tfserving_examples.h.
StatusOr<std::string> WriteClassifyResponse(const ExamplesResult& r);
// {"results": [v, ...]}: one value per example.
StatusOr<std::string> WriteRegressResponse(const ExamplesResult& r);

// GET /v1/models/<m>[/versions/<v>]: {"model_version_status": [{"version": v, "state": "AVAILABLE", ...}]}.
std::string StatusJson(std::string_view version);

// GET /v1/models/<m>[/versions/<v>]/metadata: model_spec and every signature_def.
std::string MetadataJson(std::string_view model, std::string_view version, const tf::MetaGraph& meta);

}  // namespace inferd::tfserving
