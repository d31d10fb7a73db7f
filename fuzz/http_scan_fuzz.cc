// fuzz/http_scan_fuzz.cc: the gateway's HTTP/1.1 head scanner (gateway/http_scan.h), which decides what a
// client's request and a replica's answer are before the gateway forwards their bytes unparsed.
// Invariants:
// - FindHeadEnd finds the first blank line, also when the head arrives in two reads (the proxy's scan_from).
// - Offsets in a RequestHead lie inside the head; Host, Authorization and the target hold no CR, LF or NUL.
// - Whatever the scanner accepts, Beast's parser (what the model server and the gateway's slow path use)
//   reads the same way: same method, target, Host and Content-Length for a request, same status and
//   Content-Length for an answer. A disagreement on framing would let a request smuggle another.
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>

#include <limits>

#include "fuzz_check.h"
#include "gateway/http_scan.h"

namespace http = boost::beast::http;
using namespace inferd::gateway;

namespace {

std::string_view SV(boost::beast::string_view s) { return {s.data(), s.size()}; }

bool Clean(std::string_view s) { return s.find_first_of(std::string_view("\r\n\0", 3)) == std::string_view::npos; }

void CheckRequest(const char* p, size_t end) {
  RequestHead h;
  if (!ParseRequestHead(p, end, &h)) return;
  FUZZ_CHECK(h.has_host, "accepted without Host");
  FUZZ_CHECK(h.line_end <= end && h.target_off + h.target_len <= h.line_end, "target outside the head");
  FUZZ_CHECK(h.host_off + h.host_len <= end, "Host outside the head");
  FUZZ_CHECK(!h.has_auth || h.auth_off + h.auth_len <= end, "Authorization outside the head");
  std::string_view target(p + h.target_off, h.target_len), host(p + h.host_off, h.host_len);
  FUZZ_CHECK(Clean(target) && Clean(host), "CR/LF/NUL in target or Host");
  FUZZ_CHECK(!h.has_auth || Clean(std::string_view(p + h.auth_off, h.auth_len)), "CR/LF/NUL in Authorization");

  http::request_parser<http::empty_body> parser;
  parser.eager(false);
  parser.header_limit(64 * 1024);
  parser.body_limit(std::numeric_limits<std::uint64_t>::max());  // the replica bounds bodies, not the scanner
  boost::beast::error_code ec;
  size_t used = parser.put(boost::asio::buffer(p, end), ec);
  FUZZ_CHECK(!ec && parser.is_header_done(), "Beast refuses a head the scanner accepted: " + ec.message());
  FUZZ_CHECK(used == end, "Beast ends the head elsewhere");
  const auto& req = parser.get();
  std::string_view method(p, static_cast<size_t>(std::string_view(p, end).find(' ')));
  FUZZ_CHECK(SV(req.method_string()) == method, "method differs");
  FUZZ_CHECK(SV(req.target()) == target, "target differs");
  FUZZ_CHECK(SV(req[http::field::host]) == host, "Host differs");
  FUZZ_CHECK(req.version() == 11, "version differs");
  FUZZ_CHECK(!parser.chunked(), "Beast reads a chunked body");
  uint64_t beast_length = parser.content_length().value_or(0);
  FUZZ_CHECK(beast_length == h.content_length, "Content-Length differs: scanner " +
                                                   std::to_string(h.content_length) + ", Beast " +
                                                   std::to_string(beast_length));
  if (h.has_auth) {
    FUZZ_CHECK(SV(req[http::field::authorization]) == std::string_view(p + h.auth_off, h.auth_len),
               "Authorization differs");
  }
}

void CheckResponse(const char* p, size_t end) {
  unsigned status = 0;
  uint64_t length = 0;
  if (!ParseResponseHead(p, end, &status, &length)) return;
  FUZZ_CHECK(status >= 200 && status <= 999 && status != 204 && status != 304, "status without a body");
  // The one leniency the scanner has over Beast: a status line that ends at the code ("HTTP/1.1 200\r\n", no
  // SP before an empty reason phrase), which nginx and llhttp accept too. Beast reads it with the SP added.
  std::string head(p, end);
  if (head[12] == '\r') head.insert(12, " ");
  http::response_parser<http::empty_body> parser;
  parser.eager(false);
  parser.header_limit(64 * 1024);
  parser.body_limit(std::numeric_limits<std::uint64_t>::max());
  boost::beast::error_code ec;
  size_t used = parser.put(boost::asio::buffer(head), ec);
  FUZZ_CHECK(!ec && parser.is_header_done(), "Beast refuses an answer the scanner accepted: " + ec.message());
  FUZZ_CHECK(used == head.size(), "Beast ends the answer's head elsewhere");
  FUZZ_CHECK(parser.get().result_int() == status, "status differs");
  FUZZ_CHECK(!parser.chunked(), "Beast reads a chunked answer");
  FUZZ_CHECK(parser.content_length() && *parser.content_length() == length, "Content-Length differs");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const char* p = reinterpret_cast<const char*>(data);
  size_t end = FindHeadEnd(p, size, 0);
  // The proxy scans again from 3 bytes before the end of what it had when the head was not complete yet.
  size_t half = size / 2;
  if (FindHeadEnd(p, half, 0) == 0) {
    FUZZ_CHECK(FindHeadEnd(p, size, half >= 3 ? half - 3 : 0) == end, "a head split across reads is missed");
  }
  if (end == 0) {
    FUZZ_CHECK(std::string_view(p, size).find("\r\n\r\n") == std::string_view::npos, "blank line missed");
    return 0;
  }
  FUZZ_CHECK(end >= 4 && end <= size && std::string_view(p + end - 4, 4) == "\r\n\r\n", "bad head end");
  CheckRequest(p, end);
  CheckResponse(p, end);
  return 0;
}
