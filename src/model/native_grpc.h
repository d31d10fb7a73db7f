// model/native_grpc.h: a framework's own gRPC API, answered by the backend itself (the gRPC twin of
// model/native_rest.h).
//
// KServe's `grpc-v1` protocol for the tensorflow runtime is TF Serving's gRPC API
// (tensorflow.serving.PredictionService, tensorflow.serving.ModelService), whose messages carry TensorProtos and
// signature names the tensor seam (model/backend.h) cannot. The model server's gRPC front end
// (server/tfserving_grpc.h) finds the model a call names and hands the serialized request message to the
// backend's NativeGrpcApi (Backend::native_grpc()), which parses it, runs the model and serializes the answer. The
// front end never links the messages: only the backend (a plugin) does, so no protobuf message is registered
// twice in one process.
//
// Contract:
// - The object belongs to its Backend and lives as long as it. Call may be called from any number of threads at
//   once. Failures are Status values, which the front end sends as gRPC status codes (server/grpc_server.h
//   ToGrpcCode); nothing throws.
// - `dialect()` names the API ("tfserving"), for logs and docs.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "core/status.h"

namespace inferd {

struct NativeGrpcCall {
  std::string_view method;   // the RPC's name within its service: "Predict", "GetModelMetadata", "GetModelStatus"...
  std::string_view request;  // the serialized request message, as received
  std::string_view model;    // the model's name (as the request named it)
  std::string_view version;  // the served version ("1" when the model has no version directories)
  int64_t deadline_ns = 0;   // the client's gRPC deadline as NowNs() (core/clock.h); 0 = none
};

class NativeGrpcApi {
 public:
  virtual ~NativeGrpcApi() = default;
  virtual std::string_view dialect() const = 0;
  // The serialized response message, or the call's error.
  virtual StatusOr<std::string> Call(const NativeGrpcCall& call) = 0;
};

}  // namespace inferd
