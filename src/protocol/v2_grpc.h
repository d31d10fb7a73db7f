// protocol/v2_grpc.h: Open Inference Protocol (V2) protobuf messages <-> inferd's request types.
//
// Contract:
// - Pure functions over the generated messages of proto/inference.proto; nothing here knows gRPC's
//   server, channels or threads. Callable from any thread; no state.
// - DecodeModelInferRequest: `raw_input_contents` become views into the proto's strings (zero copy),
//   so the ModelInferRequest must outlive the InferRequest (and every Tensor moved out of it) until
//   the response has been encoded. Typed `contents` are copied into owned tensor bytes in the
//   canonical layout of tensor/tensor.h (little-endian, row-major; BYTES as uint32-LE-length-prefixed
//   elements). A request uses either typed contents or raw_input_contents, never both.
//   Every error is InvalidArgument and names the field, e.g. "inputs[0].contents: ...".
// - EncodeModelInferResponse: with raw_outputs, every output goes to `raw_output_contents` (one blob
//   per output, same order). Otherwise outputs go to their typed `contents` field (BYTES ->
//   bytes_contents). FP16 and BF16 have no typed field in the protocol: when any output has one of
//   these datatypes the whole response is encoded raw (raw_output_contents has an entry for every
//   output, so the "one blob per output, same order" rule always holds and clients never have to
//   guess which outputs are raw). An output whose bytes disagree with its shape is a model bug and
//   yields Internal.
// - Parameters: bool, int64, double and string map 1:1; uint64 becomes int64 when it fits and its
//   decimal string otherwise. A parameter with no value set is InvalidArgument.
#pragma once

#include <string_view>

#include "core/status.h"
#include "inference.pb.h"
#include "tensor/infer_types.h"

namespace inferd {

using ProtoParameters = google::protobuf::Map<std::string, inference::InferParameter>;

Status DecodeModelInferRequest(const inference::ModelInferRequest& in, InferRequest* out);

Status EncodeModelInferResponse(const InferResponse& in, bool raw_outputs, inference::ModelInferResponse* out);

// `field` prefixes errors ("parameters", "inputs[0].parameters"...).
Status DecodeParameters(const ProtoParameters& in, std::string_view field, Parameters* out);
void EncodeParameters(const Parameters& in, ProtoParameters* out);

// Fills name, versions, platform, inputs and outputs (variable dims stay -1).
void FillModelMetadataResponse(const ModelMetadata& in, inference::ModelMetadataResponse* out);

}  // namespace inferd
