// core/clock.h: monotonic time for latency measurement. Thread-safe, no state.
#pragma once

#include <chrono>
#include <cstdint>

namespace inferd {

// Nanoseconds on the steady clock (only differences are meaningful).
inline int64_t NowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace inferd
