// fuzz/tfserving_json_fuzz.cc: TF Serving's REST JSON as a KServe user sends it to a tensorflow model
// (backends/tensorflow/tfserving_json.h). The body is read against three signatures, chosen by its signature_name:
// one float input (the default), one string input ("text") and two inputs of integer and bool dtype ("multi").
// Checks, beyond "no crash": a parsed request has exactly the signature's inputs, each of its dtype; writing those
// tensors back as a response (both formats) never fails for the row format's reasons unless the batch sizes
// differ or an input is a scalar. The body is also read as a :classify/:regress request, whose tf.Examples must
// parse back.
#include <string>

#include "backends/tensorflow/tfserving_json.h"
#include "fuzz_check.h"
#include "tf/example.h"

using namespace inferd;
using namespace inferd::tf;

namespace {

SignatureDef Sig(std::initializer_list<std::pair<const char*, DType>> inputs) {
  SignatureDef s;
  s.method_name = "tensorflow/serving/predict";
  for (const auto& [alias, dtype] : inputs) s.inputs[alias] = TensorInfo{std::string(alias) + ":0", dtype, {}};
  return s;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const SignatureDef kDefault = Sig({{"x", DType::kFloat}});
  static const SignatureDef kText = Sig({{"text", DType::kString}});
  static const SignatureDef kMulti = Sig({{"ids", DType::kInt64}, {"mask", DType::kBool}});
  auto lookup = [](std::string_view name) -> StatusOr<const SignatureDef*> {
    if (name.empty()) return &kDefault;
    if (name == "text") return &kText;
    if (name == "multi") return &kMulti;
    return InvalidArgument("no signature");
  };
  // The same body as a :classify/:regress request: every example it accepts is a tf.Example that parses back.
  auto examples = tfserving::ParseExamplesRequest(inferd::fuzz::AsText(data, size));
  if (examples.ok()) {
    FUZZ_CHECK(!examples->serialized.empty(), "a classify/regress request without examples");
    for (size_t i = 0; i < examples->serialized.size(); ++i) {
      FUZZ_CHECK(ParseExampleProto(examples->serialized[i], i).ok(), "a built tf.Example does not parse");
    }
  }
  auto req = tfserving::ParsePredictRequest(inferd::fuzz::AsText(data, size), lookup);
  if (!req.ok()) {
    FUZZ_CHECK(!req.status().message().empty(), "an error without a message");
    return 0;
  }
  const SignatureDef& sig = **lookup(req->signature_name);
  FUZZ_CHECK(req->inputs.size() == sig.inputs.size(), "inputs missing or extra");
  std::vector<std::string> aliases;
  std::vector<Tensor> tensors;
  for (const auto& [alias, t] : req->inputs) {
    auto it = sig.inputs.find(alias);
    FUZZ_CHECK(it != sig.inputs.end(), "an input the signature lacks");
    FUZZ_CHECK(t.dtype() == it->second.dtype, "an input of the wrong dtype");
    if (req->row_format) FUZZ_CHECK(t.rank() >= 1, "a row-format input without its batch dimension");
    aliases.push_back(alias);
    tensors.push_back(t);
  }
  auto cols = tfserving::WritePredictResponse(false, aliases, tensors);
  FUZZ_CHECK(cols.ok(), "the columnar response of parsed inputs failed");
  if (req->row_format) {
    bool same_batch = true;
    for (const Tensor& t : tensors) same_batch &= t.dim(0) == tensors[0].dim(0);
    auto rows = tfserving::WritePredictResponse(true, aliases, tensors);
    FUZZ_CHECK(rows.ok() == same_batch, "the row response of parsed row-format inputs");
  }
  return 0;
}
