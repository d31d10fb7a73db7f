// fuzz/v2_json_fuzz.cc: Open Inference Protocol (V2) JSON request bodies (protocol/v2_json.h), without the
// binary extension (see v2_binary_fuzz). Invariants: every input tensor handed out agrees with its shape
// and datatype, and a V2 answer carrying those tensors (JSON and binary outputs) is well formed.
#include "fuzz_json.h"
#include "protocol/v2_json.h"

using namespace inferd;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  InferRequest req;
  if (!ParseV2InferRequest(inferd::fuzz::AsText(data, size), std::nullopt, &req).ok()) return 0;
  FUZZ_CHECK(!req.inputs.empty(), "a V2 request was accepted without inputs");
  InferResponse resp;
  resp.model_name = "m";
  resp.id = req.id;
  resp.parameters = req.parameters;
  for (const Tensor& t : req.inputs) {
    Status v = t.Validate(t.name());
    FUZZ_CHECK(v.ok(), v.message());
    resp.outputs.push_back(t);
  }
  std::string out;
  std::optional<size_t> header = WriteV2InferResponse(resp, false, &out);
  if (header) {
    FUZZ_CHECK(*header <= out.size(), "binary header length past the answer");
    out.resize(*header);  // FP16/BF16 outputs always go binary
  }
  FUZZ_CHECK(inferd::fuzz::JsonAnswerParses(out), "V2 answer is not JSON: " + out);
  std::string binary;
  header = WriteV2InferResponse(resp, true, &binary);
  FUZZ_CHECK(header && *header <= binary.size(), "binary answer without a header length");
  FUZZ_CHECK(inferd::fuzz::JsonAnswerParses(binary.substr(0, *header)), "V2 binary answer's header is not JSON");
  return 0;
}
