// fuzz/v2_binary_fuzz.cc: V2 requests with Triton's binary tensor data extension (protocol/v2_json.h): a JSON
// header of Inference-Header-Content-Length bytes, then the inputs' raw bytes, split by each input's
// parameters.binary_data_size. Input layout: 2 bytes little-endian = the header length, then the body.
// Invariants: every tensor agrees with its shape and datatype, a binary input is a view inside the body, and
// the views of the inputs follow each other without overlap.
#include "fuzz_json.h"
#include "protocol/v2_json.h"

using namespace inferd;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  size_t header_length = data[0] | (static_cast<size_t>(data[1]) << 8);
  std::string_view body = inferd::fuzz::AsText(data + 2, size - 2);
  InferRequest req;
  if (!ParseV2InferRequest(body, header_length, &req).ok()) return 0;
  FUZZ_CHECK(header_length <= body.size(), "header length past the body accepted");
  const char* next = body.data() + header_length;
  for (const Tensor& t : req.inputs) {
    Status v = t.Validate(t.name());
    FUZZ_CHECK(v.ok(), v.message());
    std::string_view b = t.bytes();
    bool inside = b.data() >= body.data() && b.data() + b.size() <= body.data() + body.size();
    if (inside && b.data() >= body.data() + header_length) {  // a binary input
      FUZZ_CHECK(b.data() == next, "binary inputs are not consecutive");
      next += b.size();
    }
  }
  FUZZ_CHECK(next == body.data() + body.size(), "binary bytes left unclaimed");
  InferResponse resp;
  resp.outputs = req.inputs;
  std::string out;
  std::optional<size_t> header = WriteV2InferResponse(resp, true, &out);
  FUZZ_CHECK(header && *header <= out.size(), "binary answer without a header length");
  return 0;
}
