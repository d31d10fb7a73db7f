// core/http_status.h: how an error value becomes an HTTP answer, once for every HTTP listener (the model
// server's REST front end, the API, the gateway).
//
// Contract:
// - HttpStatusFor maps each StatusCode onto its HTTP status (200, 400, 404, 409, 413, 401, 500, 501, 503,
//   504); HttpReasonFor onto the Kubernetes Status `reason` the API writes next to it ("NotFound",
//   "AlreadyExists", ...). A code added to StatusCode without a case here is a compile warning (-Wswitch).
// - ErrorJson(message) is KServe's error body, {"error":"<message>"} (core/json_string.h escaping: always
//   valid JSON). JsonSpacing::kSpaced writes {"error": "<message>"} instead (the gateway's own answers keep
//   that byte form).
// Pure functions.
#pragma once

#include <string>
#include <string_view>

#include "core/status.h"

namespace inferd {

int HttpStatusFor(StatusCode code);
const char* HttpReasonFor(StatusCode code);

enum class JsonSpacing { kCompact, kSpaced };
std::string ErrorJson(std::string_view message, JsonSpacing spacing = JsonSpacing::kCompact);

}  // namespace inferd
