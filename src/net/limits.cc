#include "net/limits.h"

#include <cerrno>

#include <algorithm>

namespace inferd::net {

const char* PhaseName(Phase p) {
  switch (p) {
    case Phase::kHead: return "head";
    case Phase::kBody: return "body";
    case Phase::kIdle: return "keep-alive";
    case Phase::kBusy: return "busy";
    case Phase::kSend: return "send";
    case Phase::kLinger: return "linger";
    case Phase::kDone: return "done";
  }
  return "?";
}

int64_t PhaseLimitNs(Phase p, const Timeouts& t) {
  constexpr int64_t kMs = 1'000'000;
  switch (p) {
    case Phase::kHead: return t.header_ms * kMs;
    case Phase::kBody: return t.body_ms * kMs;
    case Phase::kIdle: return t.keepalive_ms * kMs;
    case Phase::kSend: return t.send_ms * kMs;
    case Phase::kLinger: return kLingerMs * kMs;
    case Phase::kBusy:
    case Phase::kDone: return -1;
  }
  return -1;
}

bool PastDeadline(Phase p, int64_t since_ns, int64_t now_ns, const Timeouts& t) {
  int64_t limit = PhaseLimitNs(p, t);
  return limit >= 0 && now_ns - since_ns >= limit;
}

AcceptErrorKind ClassifyAcceptError(int err) {
  // accept(2), Linux: "should treat [these] like EAGAIN by retrying", plus the plain retry cases.
  switch (err) {
    case EAGAIN:
    case EINTR:
    case ECONNABORTED:
    case EPROTO:
    case EPERM:  // a firewall rule refused this one connection
    case ENETDOWN:
    case ENOPROTOOPT:
    case EHOSTDOWN:
    case ENONET:
    case EHOSTUNREACH:
    case EOPNOTSUPP:
    case ENETUNREACH:
      return AcceptErrorKind::kConnection;
    default:  // EMFILE, ENFILE, ENOBUFS, ENOMEM, and anything unknown: never retry in a tight loop
      return AcceptErrorKind::kResource;
  }
}

int64_t AcceptBackoff::NextMs() {
  int64_t ms = next_ms_;
  next_ms_ = std::min(kMaxMs, next_ms_ * 2);
  return ms;
}

bool LogLimiter::Allow(int64_t now_ns, uint64_t* suppressed) {
  if (any_ && now_ns - last_ns_ < interval_ns_) {
    ++suppressed_;
    return false;
  }
  any_ = true;
  last_ns_ = now_ns;
  *suppressed = suppressed_;
  suppressed_ = 0;
  return true;
}

int64_t DefaultMaxConnections(uint64_t nofile) {
  uint64_t three_quarters = nofile / 4 * 3;
  return static_cast<int64_t>(std::clamp<uint64_t>(three_quarters, 16, kDefaultMaxConnections));
}

}  // namespace inferd::net
