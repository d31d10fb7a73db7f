// model/native_rest.h: a framework's own REST dialect on KServe's V1 paths, answered by the backend itself.
//
// KServe serves some formats with the framework's own server behind its V1 URL: `tensorflow` is TF Serving, so a
// KServe user's `POST /v1/models/<m>:predict` body is TF Serving's (row `instances` or columnar `inputs`, named
// inputs, `signature_name`, {"b64": ...} strings) and `GET /v1/models/<m>` answers TF Serving's version status.
// The tensor seam (model/backend.h) cannot carry signatures or that JSON, so a backend that speaks such a dialect
// returns a NativeRestApi from Backend::native_rest(), and the REST front end (server/rest_handler.cc) sends
// these paths to it instead of KServe's V1 codec:
//   POST /v1/models/<m>[/versions/<v>]:predict   -> Predict (run as the model's work: server/v1_passthrough.h)
//   GET  /v1/models/<m>[/versions/<v>]           -> ModelStatus
//   GET  /v1/models/<m>[/versions/<v>]/metadata  -> Metadata
//   POST /v1/models/<m>[/versions/<v>]:classify  -> Classify, :regress -> Regress (run as Predict is; a dialect
//                                                    without them answers 501)
// V2 REST and gRPC still go through Backend::Execute.
//
// Contract:
// - The object belongs to its Backend and lives as long as it. Every method may be called from any number of
//   threads at once. Failures are Status values (the front end maps codes to HTTP as for Infer, with the body
//   {"error": "<message>"}, which is also TF Serving's error body); nothing throws.
// - `dialect()` names the API ("tfserving"), for logs and docs.
#pragma once

#include <string>
#include <string_view>

#include "core/status.h"
#include "model/passthrough.h"

namespace inferd {

class NativeRestApi {
 public:
  virtual ~NativeRestApi() = default;
  virtual std::string_view dialect() const = 0;
  // `call.body` is the request body as received (its JSON nesting already checked by the front end).
  virtual StatusOr<PassThroughAnswer> Predict(const PassThroughCall& call) = 0;
  // `model` is the name the request used; `version` the loaded version ("" when the model has none).
  virtual StatusOr<PassThroughAnswer> ModelStatus(std::string_view model, std::string_view version) const = 0;
  virtual StatusOr<PassThroughAnswer> Metadata(std::string_view model, std::string_view version) const = 0;
  virtual StatusOr<PassThroughAnswer> Classify(const PassThroughCall&) {
    return Unimplemented(":classify is not implemented; use :predict");
  }
  virtual StatusOr<PassThroughAnswer> Regress(const PassThroughCall&) {
    return Unimplemented(":regress is not implemented; use :predict");
  }
};

}  // namespace inferd
