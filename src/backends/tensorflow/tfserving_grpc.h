// backends/tensorflow/tfserving_grpc.h: TF Serving's gRPC API (KServe's `grpc-v1` for the tensorflow runtime)
// over one loaded SavedModel: the backend's NativeGrpcApi (model/native_grpc.h).
//
// Methods (the messages of proto/tensorflow_serving/apis/, TF Serving's wire format):
// - PredictionService/Predict: model_spec.signature_name picks the signature (TfModel::FindSignature, the same
//   lookup as the REST :predict: "" = serving_default or the only one); `inputs` are read with
//   tf::TensorFromProto (typed `*_val` fields or `tensor_content`; repetition may add at most kMaxExpandedBytes
//   per request) and must name exactly the signature's inputs; `output_filter` picks outputs (default: all).
//   The answer's outputs are written with tf::TensorToProto (typed fields, as TF Serving does) and its
//   model_spec names the model, the served version and the signature that ran.
// - PredictionService/GetModelMetadata: metadata_field must be ["signature_def"]; the answer's
//   metadata["signature_def"] is a SignatureDefMap of every signature, packed in an Any.
// - ModelService/GetModelStatus: the served version, AVAILABLE (a model the front end found is loaded).
// - PredictionService/Classify, Regress: `input` (example_list or example_list_with_context) becomes serialized
//   tf.Examples (tf::SerializedExamplesFromInput: context applied, bounded by tf::kMaxExamples/kMaxExamplesBytes)
//   run through model_spec.signature_name's classify/regress signature (tfserving_examples.h, shared with the REST
//   :classify/:regress); the answer's model_spec names the signature that ran.
// - PredictionService/MultiInference: every task names the served model, a distinct signature and method_name
//   tensorflow/serving/classify or .../regress (TF Serving's texts: "Tasks is empty", "All ModelSpecs in a
//   MultiInferenceRequest must access the same model name", "Duplicate evaluation of signature: s",
//   "Unsupported signature method_name: m"); one InferenceResult per task, in the tasks' order.
// Errors keep TF Serving's texts where it has one ("Missing ModelSpec", "Serving signature key \"s\" not
// found.", "output tensor alias not found in signature: ..."); every input error names the input alias.
// Unknown fields in a request (TF Serving's streaming and decoding options) are refused naming their number.
//
// Contract: the object borrows the model, which outlives it; Call is thread-safe (TfModel::Run is).
#pragma once

#include <cstdint>
#include <string>

#include "model/native_grpc.h"
#include "tf/model.h"

namespace inferd::tfserving {

// Bytes that TensorFlow's repetition rule (fewer values than elements) may add to one Predict request.
inline constexpr uint64_t kMaxExpandedBytes = uint64_t{64} << 20;

class GrpcApi final : public NativeGrpcApi {
 public:
  explicit GrpcApi(tf::TfModel* model) : model_(model) {}
  std::string_view dialect() const override { return "tfserving"; }
  StatusOr<std::string> Call(const NativeGrpcCall& call) override;

 private:
  StatusOr<std::string> Predict(const NativeGrpcCall& call);
  StatusOr<std::string> Classify(const NativeGrpcCall& call);
  StatusOr<std::string> Regress(const NativeGrpcCall& call);
  StatusOr<std::string> MultiInference(const NativeGrpcCall& call);
  StatusOr<std::string> Metadata(const NativeGrpcCall& call) const;
  StatusOr<std::string> ModelStatus(const NativeGrpcCall& call) const;

  tf::TfModel* model_;
};

}  // namespace inferd::tfserving
