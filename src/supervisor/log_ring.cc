// supervisor/log_ring.cc: see log_ring.h.
#include "supervisor/log_ring.h"

#include <algorithm>

namespace inferd::supervisor::internal {

void LogRing::Append(std::string_view data) {
  if (data.empty()) return;
  buf_.append(data);
  size_t slack = std::max<size_t>(cap_ / 4, 4096);
  if (buf_.size() > cap_ + slack) {
    size_t drop = buf_.size() - cap_;
    front_at_line_start_ = buf_[drop - 1] == '\n';
    buf_.erase(0, drop);
    start_ += drop;
  }
}

std::string LogRing::Tail(size_t max_bytes) const {
  size_t n = std::min(max_bytes, Visible());
  size_t from = buf_.size() - n;
  bool mid_line = from > 0 ? buf_[from - 1] != '\n' : !front_at_line_start_;
  if (mid_line) {
    size_t nl = buf_.find('\n', from);
    if (nl != std::string::npos) from = nl + 1;  // else: one huge line, return its tail
  }
  return buf_.substr(from);
}

std::string LogRing::Since(uint64_t from) const {
  uint64_t b = begin();
  if (from < b) from = b;
  if (from >= end()) return "";
  return buf_.substr(static_cast<size_t>(from - start_));
}

std::vector<std::string> LogRing::LastLines(size_t n, size_t max_line) const {
  std::vector<std::string> out;
  size_t lo = buf_.size() - Visible();
  size_t e = buf_.size();
  if (e > lo && buf_[e - 1] == '\n') --e;
  while (out.size() < n && e > lo) {
    size_t nl = buf_.rfind('\n', e - 1);
    size_t s = (nl == std::string::npos || nl < lo) ? lo : nl + 1;
    std::string line = buf_.substr(s, e - s);
    if (line.size() > max_line) line = line.substr(0, max_line) + "...";
    out.push_back(std::move(line));
    if (s == lo) break;
    e = s - 1;
  }
  std::reverse(out.begin(), out.end());
  return out;
}

}  // namespace inferd::supervisor::internal
