// backends/tensorflow/tfserving_examples.h: TF Serving's classifier and regressor over a SavedModel, shared by its
// REST API (:classify / :regress, tfserving_json.h) and its gRPC API (Classify / Regress / MultiInference,
// tfserving_grpc.h): one signature check, one run, one reading of the outputs; each front end only parses its
// request into serialized tf.Examples (tf/example.h, which bounds them) and writes ExamplesResult in its format.
//
// A classify signature (method_name "tensorflow/serving/classify") or regress signature
// ("tensorflow/serving/regress") takes one DT_STRING input "inputs" (the serialized Examples, one per example) and
// answers "classes" ([n, k] DT_STRING) and/or "scores" ([n, k] DT_FLOAT), or "outputs" ([n] or [n, 1] DT_FLOAT).
// Errors keep TF Serving's texts ("Expected classification signature method_name to be ... Was: ...").
//
// Contract: pure functions over a borrowed model (TfModel::Run is thread-safe), safe from any thread. Every error
// is an InvalidArgument naming the signature or output, except the model's own run errors (passed through).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "tf/model.h"
#include "tf/tensor.h"

namespace inferd::tfserving {

// The checked outputs of one classify or regress run over n examples.
struct ExamplesResult {
  std::string signature;  // the signature that ran (its key, "" resolved to serving_default)
  int64_t n = 0;          // examples
  int64_t k = 0;          // classes per example (classify)
  std::optional<tf::Tensor> classes;  // classify: [n, k] DT_STRING, or absent (labels "")
  std::optional<tf::Tensor> scores;   // classify: [n, k] DT_FLOAT, or absent (scores 0)
  std::optional<tf::Tensor> values;   // regress: n DT_FLOAT values

  const std::string& Label(int64_t i, int64_t j) const {
    static const std::string kNone;
    return classes ? classes->strings()[static_cast<size_t>(i * k + j)] : kNone;
  }
  float Score(int64_t i, int64_t j) const { return scores ? scores->data<float>()[i * k + j] : 0.0f; }
  float Value(int64_t i) const { return values->data<float>()[i]; }
};

// Checks that `sig` (named `name`) is a classify (`classify`) or regress signature as described above.
Status CheckExamplesSignature(const tf::SignatureDef& sig, std::string_view name, bool classify);

// Runs `signature_name` ("" = the default signature; an unknown one is an InvalidArgument) over `serialized`
// (at least one example) and checks its outputs' dtypes and shapes.
StatusOr<ExamplesResult> RunExamples(tf::TfModel* model, std::string_view signature_name,
                                     std::vector<std::string> serialized, bool classify, int64_t deadline_ns);

}  // namespace inferd::tfserving
