#include "backends/tensorflow/tfserving_examples.h"

#include <utility>

namespace inferd::tfserving {

namespace {

using tf::DType;

// `t` must be `want` of shape [n, k] (classify) or [n] / [n, 1] (regress).
Status CheckOutput(const tf::Tensor& t, DType want, const char* alias, int64_t n, bool regress) {
  const bool rows = t.rank() >= 1 && t.dim(0) == n;
  const bool shape_ok = rows && (regress ? (t.rank() == 1 || (t.rank() == 2 && t.dim(1) == 1)) : t.rank() == 2);
  if (t.dtype() == want && shape_ok) return Status::Ok();
  const std::string shape = regress ? "[" + std::to_string(n) + "] or [" + std::to_string(n) + ", 1]"
                                    : "[" + std::to_string(n) + ", classes]";
  return InvalidArgument(std::string("Expected output tensor '") + alias + "' of shape " + shape + " and type " +
                         std::string(tf::DTypeName(want)) + ", got " + std::string(tf::DTypeName(t.dtype())) + " " +
                         tf::ShapeString(t.shape()));
}

}  // namespace

Status CheckExamplesSignature(const tf::SignatureDef& sig, std::string_view name, bool classify) {
  const std::string method = classify ? "tensorflow/serving/classify" : "tensorflow/serving/regress";
  if (sig.method_name != method) {
    return InvalidArgument(std::string("Expected ") + (classify ? "classification" : "regression") +
                           " signature method_name to be " + method + ". Was: " + sig.method_name + " (signature '" +
                           std::string(name) + "')");
  }
  auto in = sig.inputs.find("inputs");
  if (sig.inputs.size() != 1 || in == sig.inputs.end() || in->second.dtype != DType::kString) {
    return InvalidArgument("signature '" + std::string(name) + "' must have one DT_STRING input named 'inputs'");
  }
  const char* need = classify ? "classes or scores" : "outputs";
  const bool has = classify ? (sig.outputs.contains("classes") || sig.outputs.contains("scores"))
                            : sig.outputs.contains("outputs");
  if (!has) return InvalidArgument("signature '" + std::string(name) + "' has no output " + need);
  return Status::Ok();
}

StatusOr<ExamplesResult> RunExamples(tf::TfModel* model, std::string_view signature_name,
                                     std::vector<std::string> serialized, bool classify, int64_t deadline_ns) {
  auto found = model->FindSignature(signature_name);
  // TF Serving answers an unknown signature with INVALID_ARGUMENT (400), not NOT_FOUND (the model exists).
  if (!found.ok()) return InvalidArgument(std::string(found.status().message()));
  const auto& [name, sig] = *found;
  RETURN_IF_ERROR(CheckExamplesSignature(*sig, name, classify));
  if (serialized.empty()) return InvalidArgument("Input is empty");
  ExamplesResult out;
  out.signature = name;
  out.n = static_cast<int64_t>(serialized.size());
  ASSIGN_OR_RETURN(tf::Tensor examples, tf::Tensor::Make(DType::kString, {out.n}));
  examples.strings() = std::move(serialized);
  std::vector<std::pair<std::string, tf::Tensor>> inputs;
  inputs.emplace_back("inputs", std::move(examples));
  std::vector<std::string> aliases;
  for (const char* a : classify ? std::vector<const char*>{"classes", "scores"} : std::vector<const char*>{"outputs"}) {
    if (sig->outputs.contains(a)) aliases.push_back(a);
  }
  std::vector<tf::Tensor> results;
  RETURN_IF_ERROR(model->Run(name, inputs, aliases, &results, deadline_ns));
  if (results.size() != aliases.size()) return Internal("the executor returned a wrong number of outputs");
  for (size_t i = 0; i < aliases.size(); ++i) {
    if (aliases[i] == "outputs") {
      RETURN_IF_ERROR(CheckOutput(results[i], DType::kFloat, "outputs", out.n, true));
      out.values = std::move(results[i]);
      continue;
    }
    const bool is_classes = aliases[i] == "classes";
    RETURN_IF_ERROR(CheckOutput(results[i], is_classes ? DType::kString : DType::kFloat, aliases[i].c_str(), out.n,
                                false));
    if (out.classes && results[i].dim(1) != out.k) {
      return InvalidArgument("tensors classes and scores should match in shape");
    }
    out.k = results[i].dim(1);
    (is_classes ? out.classes : out.scores) = std::move(results[i]);
  }
  return out;
}

}  // namespace inferd::tfserving
