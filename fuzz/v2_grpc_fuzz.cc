// fuzz/v2_grpc_fuzz.cc: the gRPC side of V2 (protocol/v2_grpc.h). The input is parsed as a
// ModelInferRequest (protobuf's parser, as the gRPC server does) and converted to an InferRequest.
// Invariants: every tensor agrees with its shape and datatype, and the tensors encode back into a
// ModelInferResponse, typed and raw, whose raw_output_contents has one entry per output.
#include "fuzz_check.h"
#include "protocol/v2_grpc.h"

using namespace inferd;

// protobuf logs every string field with invalid UTF-8 it refuses; the refusal is what matters here.
extern "C" int LLVMFuzzerInitialize(int*, char***) {
  google::protobuf::SetLogHandler([](google::protobuf::LogLevel, const char*, int, const std::string&) {});
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  inference::ModelInferRequest msg;
  if (!msg.ParseFromArray(data, static_cast<int>(size))) return 0;
  InferRequest req;
  if (!DecodeModelInferRequest(msg, &req).ok()) return 0;
  InferResponse resp;
  resp.model_name = req.model_name;
  resp.id = req.id;
  resp.parameters = req.parameters;
  for (const Tensor& t : req.inputs) {
    Status v = t.Validate(t.name());
    FUZZ_CHECK(v.ok(), v.message());
    resp.outputs.push_back(t);
  }
  for (bool raw : {false, true}) {
    inference::ModelInferResponse out;
    Status st = EncodeModelInferResponse(resp, raw, &out);
    FUZZ_CHECK(st.ok(), st.message());
    FUZZ_CHECK(out.outputs_size() == static_cast<int>(resp.outputs.size()), "outputs lost");
    FUZZ_CHECK(out.raw_output_contents_size() == 0 || out.raw_output_contents_size() == out.outputs_size(),
               "raw_output_contents does not have one entry per output");
  }
  return 0;
}
