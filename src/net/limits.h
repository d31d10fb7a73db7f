// net/limits.h: the limits every HTTP/1.1 listener of inferd applies (the model server's, the gateway's and
// the API's), and the pure decisions behind them.
//
// Contract:
// - A connection is always in one Phase and records when it entered it (or, for kBody and kSend, when it last
//   made progress). PastDeadline decides from those two numbers, the time now and the Timeouts whether it has
//   to be closed; nothing else is consulted (time is passed in, no clock is read here).
//   kHead     from the connection's accept, or from the first byte of a later request, until its head is
//             complete: `header` (nginx client_header_timeout: the whole head, so a client sending one byte
//             at a time is cut off too).
//   kBody     between two reads that brought body bytes: `body` (nginx client_body_timeout).
//   kIdle     keep-alive, from an answer sent to the next request's first byte: `keepalive`.
//   kSend     between two writes that moved answer bytes: `send` (nginx send_timeout).
//   kLinger   a connection closing after an error answer (its unread input is discarded): kLingerMs.
//   kBusy     the request is being answered (model, replica, the gateway's activator): no client deadline;
//             what bounds it is the request's own (the gateway's per-service `timeout`).
//   kDone     expired already: never again.
//   A connection past its deadline is closed without an answer (as nginx does for these timeouts).
// - AcceptBackoff: an acceptor that fails with a resource error (EMFILE, ENFILE, ENOBUFS, ENOMEM, and any
//   errno it does not know) pauses 10 ms, doubling per further failure up to 1 s; a success resets it.
//   ClassifyAcceptError lists the errors that concern one connection only (retried at once).
// - LogLimiter: at most one line per interval for a repeated event; the line carries how many were
//   suppressed since the previous one.
// - DefaultMaxConnections: 10000, or 3/4 of the open-file limit when that is lower (the rest stays for
//   upstream connections, model files, logs and the listeners).
#pragma once

#include <cstdint>

namespace inferd::net {

enum class Phase : uint8_t { kHead, kBody, kIdle, kBusy, kSend, kLinger, kDone };

const char* PhaseName(Phase p);

struct Timeouts {  // milliseconds, each > 0
  int64_t header_ms = 60000;
  int64_t body_ms = 60000;
  int64_t keepalive_ms = 75000;
  int64_t send_ms = 60000;
};

constexpr int64_t kLingerMs = 2000;
constexpr int64_t kDefaultMaxConnections = 10000;

struct Limits {
  Timeouts timeouts;
  int64_t max_connections = 0;  // open connections per listener; 0 = DefaultMaxConnections(open-file limit)
  // Bytes of request bodies in flight per process (reserved from the Content-Length before the body is read,
  // released when its answer is sent); 0 = 4 x the listener's body limit. Past it: 503 + Retry-After, close.
  uint64_t max_body_bytes_in_flight = 0;
};

// How long a connection may stay in `p` (from the time it recorded); -1 when there is no limit.
int64_t PhaseLimitNs(Phase p, const Timeouts& t);

// True when a connection that has been in `p` since `since_ns` is past its deadline at `now_ns`.
bool PastDeadline(Phase p, int64_t since_ns, int64_t now_ns, const Timeouts& t);

enum class AcceptErrorKind { kConnection, kResource };
// errno of a failed accept(2): kConnection for the errors Linux reports about one pending connection (the
// next accept may succeed at once), kResource for everything else.
AcceptErrorKind ClassifyAcceptError(int err);

class AcceptBackoff {
 public:
  static constexpr int64_t kFirstMs = 10;
  static constexpr int64_t kMaxMs = 1000;
  // The pause after one more consecutive failure: 10, 20, 40, ... ms, at most 1 s.
  int64_t NextMs();
  void Reset() { next_ms_ = kFirstMs; }

 private:
  int64_t next_ms_ = kFirstMs;
};

class LogLimiter {
 public:
  explicit LogLimiter(int64_t interval_ns) : interval_ns_(interval_ns) {}
  // One occurrence at now_ns. True when a line is to be written now; *suppressed is then the number of
  // occurrences left unwritten since the previous line.
  bool Allow(int64_t now_ns, uint64_t* suppressed);

 private:
  int64_t interval_ns_;
  int64_t last_ns_ = 0;
  bool any_ = false;
  uint64_t suppressed_ = 0;
};

// The connection cap per listener when none is configured, for a soft open-file limit of `nofile`.
int64_t DefaultMaxConnections(uint64_t nofile);

}  // namespace inferd::net
