#include "core/http_status.h"

#include "core/json_string.h"

namespace inferd {

int HttpStatusFor(StatusCode code) {
  switch (code) {
    case StatusCode::kOk: return 200;
    case StatusCode::kInvalidArgument: return 400;
    case StatusCode::kNotFound: return 404;
    case StatusCode::kUnavailable: return 503;
    case StatusCode::kUnimplemented: return 501;
    case StatusCode::kPayloadTooLarge: return 413;
    case StatusCode::kAlreadyExists: return 409;
    case StatusCode::kDeadlineExceeded: return 504;
    case StatusCode::kInternal: return 500;
    case StatusCode::kConflict: return 409;
    case StatusCode::kUnauthenticated: return 401;
  }
  return 500;
}

const char* HttpReasonFor(StatusCode code) {
  switch (code) {
    case StatusCode::kOk: return "Success";
    case StatusCode::kInvalidArgument: return "BadRequest";
    case StatusCode::kNotFound: return "NotFound";
    case StatusCode::kUnavailable: return "ServiceUnavailable";
    case StatusCode::kUnimplemented: return "NotImplemented";
    case StatusCode::kPayloadTooLarge: return "RequestEntityTooLarge";
    case StatusCode::kAlreadyExists: return "AlreadyExists";
    case StatusCode::kDeadlineExceeded: return "Timeout";
    case StatusCode::kInternal: return "InternalError";
    case StatusCode::kConflict: return "Conflict";
    case StatusCode::kUnauthenticated: return "Unauthorized";
  }
  return "InternalError";
}

std::string ErrorJson(std::string_view message, JsonSpacing spacing) {
  std::string out = spacing == JsonSpacing::kSpaced ? "{\"error\": " : "{\"error\":";
  out.reserve(out.size() + message.size() + 4);
  AppendJsonString(&out, message);
  out.push_back('}');
  return out;
}

}  // namespace inferd
