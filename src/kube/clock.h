// kube/clock.h: the monotonic clock the kube module reads (work queue delays, leader election's local
// observation time, the token file's refresh), behind an interface so that tests move time by hand.
//
// Contract: NowNs() is monotonic nanoseconds (only differences matter). RealClock reads core/clock.h's
// NowNs(); ManualClock returns what the test set (thread-safe).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>

#include "core/clock.h"

namespace inferd::kube {

class Clock {
 public:
  virtual ~Clock() = default;
  virtual int64_t NowNs() const = 0;
};

class RealClock final : public Clock {
 public:
  int64_t NowNs() const override { return inferd::NowNs(); }
  static const RealClock* Get() {
    static const RealClock clock;
    return &clock;
  }
};

// A clock tests move by hand.
class ManualClock final : public Clock {
 public:
  explicit ManualClock(int64_t start_ns = 1'000'000'000) : now_(start_ns) {}
  int64_t NowNs() const override { return now_.load(); }
  void Advance(std::chrono::nanoseconds d) { now_ += d.count(); }
  void Set(int64_t ns) { now_ = ns; }

 private:
  std::atomic<int64_t> now_;
};

}  // namespace inferd::kube
