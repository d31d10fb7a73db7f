// model/passthrough.h: the types of a request body handed whole to a model (server/v1_passthrough.h), kept
// here so that backends (backends/python) can produce pass-throughs without depending on the front ends.
//
// Contract: plain data; a PassThroughCall's views are valid only during the call that receives it.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/status.h"

namespace inferd {

// Header names are lower case; values as received.
using HeaderList = std::vector<std::pair<std::string, std::string>>;

struct PassThroughCall {
  std::string_view body;                // the request body (JSON text for V1)
  std::string_view content_type;        // "" when absent
  std::string_view request_id;          // x-request-id ("" when absent)
  const HeaderList* headers = nullptr;  // every request header, or null when the server does not collect them
  // NowNs() (core/clock.h) by which the model should give up with DeadlineExceeded (0 = none): TF Serving's
  // --rest_api_timeout_in_ms (ServerOptions::rest_api_timeout_ms), honoured by backends whose runs can stop.
  int64_t deadline_ns = 0;
};

struct PassThroughAnswer {
  std::string body;    // JSON text
  HeaderList headers;  // extra response headers (return_response_headers); never content-length
  int status = 200;    // the answer's HTTP status (a Python model's FastAPI HTTPException chooses it)
};

using V1PassThrough = std::function<StatusOr<PassThroughAnswer>(const PassThroughCall&)>;

}  // namespace inferd
