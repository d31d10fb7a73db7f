#include "net/http_answers.h"

#include <boost/beast/http/error.hpp>

namespace inferd::net {

HttpAnswer ParseErrorAnswer(boost::beast::error_code ec, uint64_t body_limit, std::string_view limit_flag) {
  namespace http = boost::beast::http;
  if (ec == http::error::body_limit) {
    std::string m = "request body is larger than the limit of " + std::to_string(body_limit) + " bytes";
    if (!limit_flag.empty()) m += " (" + std::string(limit_flag) + ")";
    return {413, "RequestEntityTooLarge", std::move(m)};
  }
  if (ec == http::error::header_limit) {
    return {431, "BadRequest", "request headers are larger than " + std::to_string(kHeaderLimit) + " bytes"};
  }
  return {400, "BadRequest", "malformed HTTP request: " + ec.message()};
}

HttpAnswer BusyAnswer(std::string_view who, uint64_t budget) {
  return {503, "ServiceUnavailable",
          "the " + std::string(who) + " is busy: request bodies in flight would exceed " + std::to_string(budget) +
              " bytes (--max_body_bytes_in_flight); retry later",
          true};
}

}  // namespace inferd::net
