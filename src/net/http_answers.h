// net/http_answers.h: the answers every HTTP/1.1 listener of inferd (model server, gateway, API) gives
// itself, before a request reaches its handler, and the head size they all accept.
//
// Contract:
// - kHeaderLimit: the largest request head (request line + headers) a listener reads, 64 KiB (nginx's
//   large_client_header_buffers order of size). The gateway applies it to replica answers' heads too.
// - ParseErrorAnswer: the answer to a request Beast could not parse (net::Feed's kError, or an
//   http::async_read error): 413 for a body over `body_limit` (naming the limit, and `limit_flag` when the
//   limit is a flag), 431 for a head over kHeaderLimit, 400 "malformed HTTP request: ..." for anything else.
// - BusyAnswer: 503 with Retry-After: 1 when a body would take the process's bytes in flight past the
//   budget (net/budget.h); `who` names the listener ("server", "gateway").
// - None of these has a 408: a connection past a deadline (net/limits.h) is closed without an answer, as
//   nginx does. After any of these answers the connection closes (the listener lingers: net/http_io.h).
// Each listener writes the answer in its own error format (KServe's {"error": ...}; the API's Kubernetes
// Status with `reason`). Pure functions.
#pragma once

#include <boost/beast/core/error.hpp>

#include <cstdint>
#include <string>
#include <string_view>

namespace inferd::net {

inline constexpr size_t kHeaderLimit = 64 * 1024;

struct HttpAnswer {
  int status = 400;
  const char* reason = "BadRequest";  // Kubernetes Status reason (the API's error objects)
  std::string message;
  bool retry_after = false;  // send Retry-After: 1
};

HttpAnswer ParseErrorAnswer(boost::beast::error_code ec, uint64_t body_limit, std::string_view limit_flag = {});
HttpAnswer BusyAnswer(std::string_view who, uint64_t budget);

}  // namespace inferd::net
