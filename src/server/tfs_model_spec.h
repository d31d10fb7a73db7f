// server/tfs_model_spec.h: the routing fields of a TF Serving gRPC request (its ModelSpec's name, version and
// version_label), read from the serialized message without TF Serving's generated code (server/tfserving_grpc.h
// routes calls as bytes; the model's backend parses the whole message).
//
// Contract: pure functions over bytes; no state, any thread; nothing throws. Fields are walked with protobuf's
// CodedInputStream (lengths bounded by the input, unknown fields skipped unread, groups nested at most protobuf's
// default recursion limit deep); a repeated model_spec merges as protobuf merges it (the last name, version or
// label wins; version and label are a oneof). Malformed bytes are InvalidArgument.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/status.h"

namespace inferd {

// The routing fields of a TF Serving request's ModelSpec.
struct TfsModelSpec {
  bool present = false;               // the request has a model_spec
  std::string name;
  std::optional<int64_t> version;     // model_spec.version (Int64Value)
  std::optional<std::string> label;   // model_spec.version_label
};

// Reads field 1 (model_spec) of a serialized request; with `in_first_task` (MultiInferenceRequest) the ModelSpec
// of its first task (field 1, then its field 1). Other fields are skipped unread. InvalidArgument when the bytes
// are not a protobuf message. Pure; any thread.
StatusOr<TfsModelSpec> ReadTfsModelSpec(std::string_view request, bool in_first_task);

}  // namespace inferd
