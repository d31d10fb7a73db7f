// cli/logger_flags.h: the payload logger's flags (logger/payload_logger.h), shared by `inferd model-server` and
// `inferd art-explainer`, so that every component `inferd serve` gives a `logger` logs (control/replica_command
// passes the same flags to both).
//
// Contract: AddLoggerFlags registers KServe's agent's names (--log-url, --log-mode, --metadata-headers,
// --source-uri, --inference-service, --namespace, --component, --endpoint, TLS) in inferd's underscore spelling,
// the dashed ones accepted too, and inferd's delivery bounds, writing into *flags (which must outlive the
// parse). ApplyLoggerFlags, after the parse, completes flags->config and returns an error message, or "".
#pragma once

#include <CLI/CLI.hpp>

#include <string>

#include "logger/event.h"

namespace inferd::cli {

struct LoggerFlags {
  logger::LoggerConfig config;  // the result (url empty = off)
  std::string mode = "all";
  int retries = 2;
  int batch_linger_ms = 2;
  bool tls_skip_verify = false;
};

void AddLoggerFlags(CLI::App* cmd, LoggerFlags* flags);
std::string ApplyLoggerFlags(LoggerFlags* flags);

}  // namespace inferd::cli
