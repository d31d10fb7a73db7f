// fuzz/v1_json_fuzz.cc: KServe V1 :predict bodies (protocol/v1_json.h), the model server's REST entry point
// for V1, parsed against the signatures the runtimes declare (one FP32 matrix input as sklearn/xgboost, two
// named inputs of different types, a BYTES input). Invariants: every tensor handed out is consistent with
// its shape and datatype (Tensor::Validate), and written back as a V1 answer it is JSON.
#include "fuzz_json.h"
#include "protocol/v1_json.h"

namespace {

using namespace inferd;

ModelMetadata Model(std::vector<TensorSpec> inputs, std::vector<TensorSpec> outputs) {
  ModelMetadata md;
  md.name = "m";
  md.versions = {"1"};
  md.inputs = std::move(inputs);
  md.outputs = std::move(outputs);
  return md;
}

std::vector<ModelMetadata> Models() {
  return {Model({{"input-0", DataType::kFp32, {-1, 4}}}, {{"output-0", DataType::kInt64, {-1}}}),
          Model({{"a", DataType::kFp64, {-1, 2}}, {"b", DataType::kBytes, {-1}}}, {{"out", DataType::kFp32, {-1}}}),
          Model({{"text", DataType::kBytes, {-1}}}, {{"out", DataType::kBytes, {-1}}})};
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::vector<ModelMetadata> kModels = Models();
  std::string_view body = inferd::fuzz::AsText(data, size);
  for (const ModelMetadata& md : kModels) {
    InferRequest req;
    V1Form form;
    if (!ParseV1PredictRequest(body, md, &req, &form).ok()) continue;
    for (const Tensor& t : req.inputs) {
      Status v = t.Validate(t.name());
      FUZZ_CHECK(v.ok(), v.message());
      std::string out;
      WriteV1PredictResponse(t, form, &out);
      FUZZ_CHECK(inferd::fuzz::JsonAnswerParses(out), "V1 answer is not JSON: " + out);
    }
  }
  return 0;
}
