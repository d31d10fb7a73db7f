// supervisor/log_ring.h (internal): bounded byte ring of a replica's output with absolute offsets.
//
// Offsets count every byte ever appended (monotonic across restarts), so a follower can resume from the
// offset it was given even after old output has been dropped. Not thread-safe (the supervisor locks).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace inferd::supervisor::internal {

class LogRing {
 public:
  explicit LogRing(size_t capacity) : cap_(capacity == 0 ? 1 : capacity) {}

  void Append(std::string_view data);
  uint64_t end() const { return start_ + buf_.size(); }
  // Offset of the oldest byte still held.
  uint64_t begin() const { return end() - Visible(); }
  // The last `max_bytes` (at most the capacity), starting at a line boundary when cut.
  std::string Tail(size_t max_bytes) const;
  // Bytes from `from` (clamped into [begin, end]) to the end.
  std::string Since(uint64_t from) const;
  // The last `n` complete or partial lines, each cut to `max_line` bytes.
  std::vector<std::string> LastLines(size_t n, size_t max_line) const;

 private:
  size_t Visible() const { return buf_.size() < cap_ ? buf_.size() : cap_; }

  size_t cap_;
  uint64_t start_ = 0;  // offset of buf_[0]
  std::string buf_;     // grows up to cap_ + slack, then the front is dropped (amortised)
  bool front_at_line_start_ = true;  // buf_[0] starts a line (the dropped part ended with '\n')
};

}  // namespace inferd::supervisor::internal
