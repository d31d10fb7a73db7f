#include "backends/tensorflow/tfserving_grpc.h"

#include <charconv>
#include <climits>
#include <set>

#include "backends/tensorflow/tfserving_examples.h"
#include "tensorflow_serving/apis/classification.pb.h"
#include "tensorflow_serving/apis/get_model_metadata.pb.h"
#include "tensorflow_serving/apis/get_model_status.pb.h"
#include "tensorflow_serving/apis/inference.pb.h"
#include "tensorflow_serving/apis/predict.pb.h"
#include "tensorflow_serving/apis/regression.pb.h"
#include "tf/example.h"
#include "tf/saved_model.pb.h"
#include "tf/tensor.pb.h"
#include "tf/tensor_proto.h"

namespace inferd::tfserving {

namespace {

namespace tfs = ::tensorflow::serving;
namespace pb = ::inferd::tfproto;

template <typename Message>
Status Parse(const NativeGrpcCall& call, Message* m, const char* type) {
  if (call.request.size() > static_cast<size_t>(INT_MAX) ||
      !m->ParseFromArray(call.request.data(), static_cast<int>(call.request.size()))) {
    return InvalidArgument(std::string("the request is not a valid ") + type);
  }
  // Fields inferd does not declare (TF Serving's streaming and decoding options) would change the answer.
  const auto& unknown = m->GetReflection()->GetUnknownFields(*m);
  if (unknown.field_count() > 0) {
    return InvalidArgument(std::string(type) + " field " + std::to_string(unknown.field(0).number()) +
                           " is not supported by inferd");
  }
  return Status::Ok();
}

std::string Join(const auto& keys) {
  std::string out;
  for (const auto& k : keys) out += (out.empty() ? "" : ",") + std::string(k);
  return out;
}

template <typename Map>
std::set<std::string> Keys(const Map& m) {
  std::set<std::string> out;
  for (const auto& [k, _] : m) out.insert(std::string(k));
  return out;
}

// The served version as ModelSpec.version ("1" when the model has no version directories).
void SetSpec(const NativeGrpcCall& call, std::string_view signature, tfs::ModelSpec* spec) {
  spec->set_name(std::string(call.model));
  int64_t v = 0;
  auto [end, ec] = std::from_chars(call.version.data(), call.version.data() + call.version.size(), v);
  if (ec == std::errc() && end == call.version.data() + call.version.size()) spec->mutable_version()->set_value(v);
  if (!signature.empty()) spec->set_signature_name(std::string(signature));
}

// The request's inputs in the signature's alias order, each converted and checked against its dtype.
Status ReadInputs(const tfs::PredictRequest& req, const tf::SignatureDef& sig,
                  std::vector<std::pair<std::string, tf::Tensor>>* feeds) {
  for (const auto& [alias, _] : req.inputs()) {
    if (!sig.inputs.contains(alias)) {
      return InvalidArgument("input tensor alias not found in signature: " + alias + ". Inputs expected to be in the "
                             "set {" + Join(Keys(sig.inputs)) + "}.");
    }
  }
  if (static_cast<size_t>(req.inputs_size()) != sig.inputs.size()) {
    std::set<std::string> missing = Keys(sig.inputs);
    for (const auto& [alias, _] : req.inputs()) missing.erase(alias);
    return InvalidArgument("input size does not match signature: " + std::to_string(req.inputs_size()) +
                           "!=" + std::to_string(sig.inputs.size()) + ". Missing but required: {" + Join(missing) +
                           "}.");
  }
  uint64_t budget = kMaxExpandedBytes;
  for (const auto& [alias, info] : sig.inputs) {
    const pb::TensorProto& proto = req.inputs().at(alias);
    if (proto.GetReflection()->GetUnknownFields(proto).field_count() > 0) {
      return InvalidArgument("input '" + alias + "': TensorProto field " +
                             std::to_string(proto.GetReflection()->GetUnknownFields(proto).field(0).number()) +
                             " is not supported by inferd");
    }
    auto t = tf::TensorFromProto(proto, &budget);
    if (!t.ok()) return t.status().WithPrefix("input '" + alias + "'");
    if (t->dtype() != info.dtype) {
      return InvalidArgument("input '" + alias + "': the signature expects " + std::string(tf::DTypeName(info.dtype)) +
                             ", got " + std::string(tf::DTypeName(t->dtype())));
    }
    feeds->emplace_back(alias, std::move(*t));
  }
  return Status::Ok();
}

// output_filter's aliases (checked, no duplicates), or every output in alias order.
StatusOr<std::vector<std::string>> OutputAliases(const tfs::PredictRequest& req, const tf::SignatureDef& sig) {
  std::vector<std::string> out;
  std::set<std::string> seen;
  for (const std::string& alias : req.output_filter()) {
    if (!sig.outputs.contains(alias)) {
      return InvalidArgument("output tensor alias not found in signature: " + alias +
                             " Outputs expected to be in the set {" + Join(Keys(sig.outputs)) + "}.");
    }
    if (!seen.insert(alias).second) return InvalidArgument("duplicate output tensor alias: " + alias);
    out.push_back(alias);
  }
  if (out.empty()) {
    for (const auto& [alias, _] : sig.outputs) out.push_back(alias);
  }
  return out;
}

void ToProto(const tf::TensorInfo& info, pb::TensorInfo* out) {
  out->set_name(info.tensor_name);
  out->set_dtype(static_cast<int32_t>(info.dtype));
  pb::TensorShapeProto* shape = out->mutable_tensor_shape();
  if (info.shape.unknown_rank) {
    shape->set_unknown_rank(true);
    return;
  }
  for (int64_t d : info.shape.dims) shape->add_dim()->set_size(d);
}

// The request's Input as serialized Examples (tf/example.h: context applied, bounded).
StatusOr<std::vector<std::string>> ExamplesOf(const auto& req) {
  if (!req.has_input()) return InvalidArgument("Input is empty");
  return tf::SerializedExamplesFromInput(req.input().SerializeAsString());
}

void WriteResult(const ExamplesResult& r, tfs::ClassificationResult* out) {
  for (int64_t i = 0; i < r.n; ++i) {
    tfs::Classifications* c = out->add_classifications();
    for (int64_t j = 0; j < r.k; ++j) {
      tfs::Class* cl = c->add_classes();
      cl->set_label(r.Label(i, j));
      cl->set_score(r.Score(i, j));
    }
  }
}

void WriteResult(const ExamplesResult& r, tfs::RegressionResult* out) {
  for (int64_t i = 0; i < r.n; ++i) out->add_regressions()->set_value(r.Value(i));
}

constexpr std::string_view kClassifyMethod = "tensorflow/serving/classify";
constexpr std::string_view kRegressMethod = "tensorflow/serving/regress";

// MultiInference's tasks, checked as TF Serving checks them: at least one, all on the served model, each a classify
// or regress method on a distinct signature.
Status CheckTasks(const tfs::MultiInferenceRequest& req, std::string_view model) {
  if (req.tasks_size() == 0) return InvalidArgument("Tasks is empty");
  std::set<std::string> signatures;
  for (const tfs::InferenceTask& task : req.tasks()) {
    if (!task.has_model_spec()) return InvalidArgument("Missing ModelSpec");
    if (task.model_spec().name() != model) {
      return InvalidArgument("All ModelSpecs in a MultiInferenceRequest must access the same model name");
    }
    if (!signatures.insert(task.model_spec().signature_name()).second) {
      return InvalidArgument("Duplicate evaluation of signature: " + task.model_spec().signature_name());
    }
    if (task.method_name() != kClassifyMethod && task.method_name() != kRegressMethod) {
      return InvalidArgument("Unsupported signature method_name: " + task.method_name());
    }
  }
  return Status::Ok();
}

}  // namespace

StatusOr<std::string> GrpcApi::Call(const NativeGrpcCall& call) {
  if (call.method == "Predict") return Predict(call);
  if (call.method == "GetModelMetadata") return Metadata(call);
  if (call.method == "GetModelStatus") return ModelStatus(call);
  if (call.method == "Classify") return Classify(call);
  if (call.method == "Regress") return Regress(call);
  if (call.method == "MultiInference") return MultiInference(call);
  return Unimplemented("TF Serving's method " + std::string(call.method) + " is not served by inferd");
}

StatusOr<std::string> GrpcApi::Predict(const NativeGrpcCall& call) {
  tfs::PredictRequest req;
  RETURN_IF_ERROR(Parse(call, &req, "PredictRequest"));
  if (!req.has_model_spec()) return InvalidArgument("Missing ModelSpec");
  const std::string& asked = req.model_spec().signature_name();
  auto found = model_->FindSignature(asked);
  if (!found.ok()) {
    return InvalidArgument("Serving signature key \"" + (asked.empty() ? std::string("serving_default") : asked) +
                           "\" not found. (" + std::string(found.status().message()) + ")");
  }
  const auto& [signature, sig] = *found;
  std::vector<std::pair<std::string, tf::Tensor>> feeds;
  RETURN_IF_ERROR(ReadInputs(req, *sig, &feeds));
  ASSIGN_OR_RETURN(std::vector<std::string> aliases, OutputAliases(req, *sig));
  std::vector<tf::Tensor> results;
  RETURN_IF_ERROR(model_->Run(signature, feeds, aliases, &results, call.deadline_ns));
  if (results.size() != aliases.size()) return Internal("the executor returned a wrong number of outputs");
  tfs::PredictResponse resp;
  SetSpec(call, signature, resp.mutable_model_spec());
  for (size_t i = 0; i < aliases.size(); ++i) {
    Status st = tf::TensorToProto(results[i], &(*resp.mutable_outputs())[aliases[i]]);
    if (!st.ok()) return st.WithPrefix("output '" + aliases[i] + "'");
  }
  return resp.SerializeAsString();
}

StatusOr<std::string> GrpcApi::Classify(const NativeGrpcCall& call) {
  tfs::ClassificationRequest req;
  RETURN_IF_ERROR(Parse(call, &req, "ClassificationRequest"));
  if (!req.has_model_spec()) return InvalidArgument("Missing ModelSpec");
  ASSIGN_OR_RETURN(std::vector<std::string> examples, ExamplesOf(req));
  ASSIGN_OR_RETURN(ExamplesResult r, RunExamples(model_, req.model_spec().signature_name(), std::move(examples),
                                                 /*classify=*/true, call.deadline_ns));
  tfs::ClassificationResponse resp;
  SetSpec(call, r.signature, resp.mutable_model_spec());
  WriteResult(r, resp.mutable_result());
  return resp.SerializeAsString();
}

StatusOr<std::string> GrpcApi::Regress(const NativeGrpcCall& call) {
  tfs::RegressionRequest req;
  RETURN_IF_ERROR(Parse(call, &req, "RegressionRequest"));
  if (!req.has_model_spec()) return InvalidArgument("Missing ModelSpec");
  ASSIGN_OR_RETURN(std::vector<std::string> examples, ExamplesOf(req));
  ASSIGN_OR_RETURN(ExamplesResult r, RunExamples(model_, req.model_spec().signature_name(), std::move(examples),
                                                 /*classify=*/false, call.deadline_ns));
  tfs::RegressionResponse resp;
  SetSpec(call, r.signature, resp.mutable_model_spec());
  WriteResult(r, resp.mutable_result());
  return resp.SerializeAsString();
}

// Each task runs its signature over the same examples (TF Serving runs them in one session; the answers are the same).
StatusOr<std::string> GrpcApi::MultiInference(const NativeGrpcCall& call) {
  tfs::MultiInferenceRequest req;
  RETURN_IF_ERROR(Parse(call, &req, "MultiInferenceRequest"));
  RETURN_IF_ERROR(CheckTasks(req, call.model));
  ASSIGN_OR_RETURN(std::vector<std::string> examples, ExamplesOf(req));
  tfs::MultiInferenceResponse resp;
  for (const tfs::InferenceTask& task : req.tasks()) {
    const bool classify = task.method_name() == kClassifyMethod;
    ASSIGN_OR_RETURN(ExamplesResult r, RunExamples(model_, task.model_spec().signature_name(), examples, classify,
                                                   call.deadline_ns));
    tfs::InferenceResult* out = resp.add_results();
    SetSpec(call, r.signature, out->mutable_model_spec());
    if (classify) {
      WriteResult(r, out->mutable_classification_result());
    } else {
      WriteResult(r, out->mutable_regression_result());
    }
  }
  return resp.SerializeAsString();
}

StatusOr<std::string> GrpcApi::Metadata(const NativeGrpcCall& call) const {
  tfs::GetModelMetadataRequest req;
  RETURN_IF_ERROR(Parse(call, &req, "GetModelMetadataRequest"));
  if (!req.has_model_spec()) return InvalidArgument("Missing ModelSpec");
  if (req.metadata_field_size() == 0) {
    return InvalidArgument("GetModelMetadataRequest must specify at least one metadata_field");
  }
  for (const std::string& f : req.metadata_field()) {
    if (f != "signature_def") return InvalidArgument("Metadata field " + f + " is not supported");
  }
  tfs::SignatureDefMap sigs;
  for (const auto& [name, sig] : model_->meta_graph().signatures) {
    pb::SignatureDef& out = (*sigs.mutable_signature_def())[name];
    out.set_method_name(sig.method_name);
    for (const auto& [alias, info] : sig.inputs) ToProto(info, &(*out.mutable_inputs())[alias]);
    for (const auto& [alias, info] : sig.outputs) ToProto(info, &(*out.mutable_outputs())[alias]);
  }
  tfs::GetModelMetadataResponse resp;
  SetSpec(call, "", resp.mutable_model_spec());
  (*resp.mutable_metadata())["signature_def"].PackFrom(sigs);
  return resp.SerializeAsString();
}

StatusOr<std::string> GrpcApi::ModelStatus(const NativeGrpcCall& call) const {
  tfs::GetModelStatusRequest req;
  RETURN_IF_ERROR(Parse(call, &req, "GetModelStatusRequest"));
  if (!req.has_model_spec()) return InvalidArgument("Missing ModelSpec");
  tfs::GetModelStatusResponse resp;
  tfs::ModelVersionStatus* v = resp.add_model_version_status();
  tfs::ModelSpec spec;
  SetSpec(call, "", &spec);
  v->set_version(spec.has_version() ? spec.version().value() : 0);
  v->set_state(tfs::ModelVersionStatus::AVAILABLE);
  v->mutable_status()->set_error_code(0);
  return resp.SerializeAsString();
}

}  // namespace inferd::tfserving
