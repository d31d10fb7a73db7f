// protocol/v2_json.h: Open Inference Protocol (V2) REST bodies, including Triton's binary tensor
// data extension.
//
// Contract: pure functions, any thread. ParseV2InferRequest leaves binary inputs as views into `body`,
// so `body` must outlive the request. Every error is InvalidArgument naming the field.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "tensor/infer_types.h"

namespace inferd {

// `header_length`: the Inference-Header-Content-Length header when present. Fills `out` (model name
// and version are left to the caller, who knows them from the path).
Status ParseV2InferRequest(std::string_view body, std::optional<size_t> header_length, InferRequest* out);

// Writes the response. Outputs go binary when their tensor parameter binary_data is true, or, when
// absent, when the request parameter binary_data_output is true; FP16/BF16 outputs always go binary
// (JSON cannot carry them). Returns the JSON header length when some output is binary (the caller
// sends Inference-Header-Content-Length and application/octet-stream), std::nullopt otherwise.
std::optional<size_t> WriteV2InferResponse(const InferResponse& response, bool binary_output_all, std::string* out);

void WriteV2ModelMetadata(const ModelMetadata& md, std::string* out);

}  // namespace inferd
