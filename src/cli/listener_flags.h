// cli/listener_flags.h: the flags of inferd's HTTP/1.1 listeners (net/limits.h), shared by `inferd
// model-server` and `inferd serve` (where they apply to the gateway and to the API).
//
// Contract: AddListenerFlags registers --client_header_timeout, --client_body_timeout, --keepalive_timeout,
// --send_timeout (seconds, fractions allowed, (0, 86400]), --max_connections and --max_body_bytes_in_flight
// on `cmd`, writing into *limits (timeouts converted to milliseconds by the option callbacks). Defaults are
// net::Limits' (nginx's timeouts; 0 = derived caps, see net/listener.h ResolveLimits). docs/configuration.md
// lists them.
#pragma once

#include <CLI/CLI.hpp>

#include "net/limits.h"

namespace inferd::cli {

void AddListenerFlags(CLI::App* cmd, net::Limits* limits);

}  // namespace inferd::cli
