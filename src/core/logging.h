// core/logging.h: process-wide logging on spdlog.
//
// Contract: InitLogging() is called once from main before any thread starts; afterwards the INFERD_LOG
// macros may be used from any thread (spdlog's default logger is thread-safe). Request-scoped lines
// carry the request id as "[rid=...]" so one request can be followed across front end and backend.
#pragma once

#include <spdlog/spdlog.h>

#include <string_view>

namespace inferd {

// level: one of trace, debug, info, warn, error, off.
void InitLogging(std::string_view level);

}  // namespace inferd

#define LOG_DEBUG(...) SPDLOG_DEBUG(__VA_ARGS__)
#define LOG_INFO(...) ::spdlog::info(__VA_ARGS__)
#define LOG_WARN(...) ::spdlog::warn(__VA_ARGS__)
#define LOG_ERROR(...) ::spdlog::error(__VA_ARGS__)
