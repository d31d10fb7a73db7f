// tf/tensor_proto.h: TensorFlow's TensorProto (inferd's wire-compatible subset, proto/tf/tensor.proto) to and
// from Tensors: the one conversion both the SavedModel reader (Const values in attrs) and TF Serving's gRPC API
// (PredictRequest inputs, PredictResponse outputs: backends/tensorflow/tfserving_grpc.h) use.
//
// Contract:
// - TensorFromProto follows TensorFlow's Tensor::FromProto: `tensor_content` holds the raw little-endian elements
//   (DT_STRING: n varint lengths, then the bytes; DT_BOOL: any non-zero byte is true), and its length must match the
//   shape exactly; otherwise the typed
//   `*_val` field of the dtype is read: no values means zeros, fewer values than elements repeat the last one,
//   more values are an error. The bytes that repetition creates are charged to `*expand_budget` (the call fails
//   when they exceed it), so a few bytes on the wire cannot claim gigabytes; the rest is bounded by the message.
//   A shape may have at most 254 dimensions and 2^31 elements (tf::Tensor::Make); unknown dtypes, unknown rank,
//   negative dimensions, DT_VARIANT and DT_RESOURCE are refused. Errors are InvalidArgument saying what is wrong
//   (the caller names the tensor).
// - TensorToProto writes dtype, shape and the typed `*_val` field (TensorFlow's AsProtoField, what TF Serving's
//   Predict answers with, so clients that read `float_val` directly work); dtypes without a typed field
//   (DT_VARIANT, DT_RESOURCE) are Unimplemented.
// - Pure functions: no state, safe from any thread.
#pragma once

#include <cstdint>

#include "core/status.h"
#include "tf/tensor.h"

namespace inferd::tfproto {
class TensorProto;
class TensorShapeProto;
}  // namespace inferd::tfproto

namespace inferd::tf {

// A DataType number, range-checked; 0 (DT_INVALID: "given by an attr" in ArgDefs) is kInvalid, not an error.
StatusOr<DType> DTypeFromProtoChecked(int32_t v);

// The dimensions of `s` (at most 254); -1 (unknown) only when `allow_unknown`.
StatusOr<Shape> ShapeFromProto(const tfproto::TensorShapeProto& s, bool allow_unknown);

StatusOr<Tensor> TensorFromProto(const tfproto::TensorProto& p, uint64_t* expand_budget);

Status TensorToProto(const Tensor& t, tfproto::TensorProto* out);

}  // namespace inferd::tf
