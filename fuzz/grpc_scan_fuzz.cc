// fuzz/grpc_scan_fuzz.cc: the gateway's gRPC `model_name` scanner (gateway/grpc_scan.h), which routes a call
// by field 1 of the request bytes without parsing the message.
// Invariants:
// - Any bytes: no crash, and a name found lies inside the input.
// - When protobuf's parser accepts the bytes as a ModelInferRequest, the scanner does not call them
//   malformed (the gateway would refuse a call the replica takes).
// - On the canonical serialization of that message (what client libraries send), the scanner reads exactly
//   the model_name protobuf reads. (On non-canonical bytes with field 1 twice, protobuf keeps the last and the
//   scanner the first: see docs/fuzzing.md.)
#include "fuzz_check.h"
#include "gateway/grpc_scan.h"
#include "inference.pb.h"

using namespace inferd::gateway;

// protobuf logs every string field with invalid UTF-8 it refuses; the refusal is what matters here.
extern "C" int LLVMFuzzerInitialize(int*, char***) {
  google::protobuf::SetLogHandler([](google::protobuf::LogLevel, const char*, int, const std::string&) {});
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view bytes = inferd::fuzz::AsText(data, size);
  std::optional<std::string> name = ReadField1String(bytes);
  if (name) FUZZ_CHECK(name->size() <= size, "name longer than the message");
  inference::ModelInferRequest msg;
  if (!msg.ParseFromArray(data, static_cast<int>(size))) return 0;
  FUZZ_CHECK(name.has_value(), "protobuf parses what the scanner calls malformed");
  std::string canonical = msg.SerializeAsString();
  std::optional<std::string> canonical_name = ReadField1String(canonical);
  FUZZ_CHECK(canonical_name && *canonical_name == msg.model_name(), "scanner and protobuf disagree on model_name");
  return 0;
}
