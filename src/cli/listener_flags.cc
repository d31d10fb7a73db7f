#include "cli/listener_flags.h"

#include <cmath>

namespace inferd::cli {

namespace {

void AddSeconds(CLI::App* cmd, const std::string& name, int64_t* ms, const std::string& help) {
  cmd->add_option_function<double>(
         name, [ms](double s) { *ms = static_cast<int64_t>(std::llround(s * 1000)); }, help)
      ->default_str(std::to_string(*ms / 1000))
      ->check(CLI::Range(0.001, 86400.0));
}

}  // namespace

void AddListenerFlags(CLI::App* cmd, net::Limits* limits) {
  auto& t = limits->timeouts;
  AddSeconds(cmd, "--client_header_timeout", &t.header_ms,
             "Seconds a client has to send a complete request head (from the connection's accept or the first "
             "byte of a request); then the connection is closed");
  AddSeconds(cmd, "--client_body_timeout", &t.body_ms,
             "Seconds a request body may pause between two reads before the connection is closed");
  AddSeconds(cmd, "--keepalive_timeout", &t.keepalive_ms,
             "Seconds an idle keep-alive connection is kept open between requests");
  AddSeconds(cmd, "--send_timeout", &t.send_ms,
             "Seconds a client may take, between two writes, to read an answer before the connection is closed");
  cmd->add_option("--max_connections", limits->max_connections,
                  "Open client connections per listener; past it new connections are closed at once "
                  "(0 = 10000, or 3/4 of the open-file limit when lower)")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--max_body_bytes_in_flight", limits->max_body_bytes_in_flight,
                  "Request-body bytes the process holds at once, reserved from Content-Length before a body is "
                  "read; past it 503 + Retry-After (0 = 4 x the body limit)")
      ->capture_default_str();
}

}  // namespace inferd::cli
