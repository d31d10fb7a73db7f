// core/clock.h: monotonic time for latency measurement, and wall-clock timestamps for resources and
// events. Thread-safe, no state.
#pragma once

#include <chrono>
#include <cstdint>
#include <ctime>
#include <string>

namespace inferd {

// Nanoseconds on the steady clock (only differences are meaningful).
inline int64_t NowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// The current UTC time as RFC 3339 with seconds ("2026-11-25T03:14:20Z"), as Kubernetes writes timestamps.
inline std::string NowRfc3339() {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

}  // namespace inferd
