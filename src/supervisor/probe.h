// supervisor/probe.h (internal): a readiness probe as a tiny non-blocking HTTP/1.1 GET over loopback.
//
// Hand-written rather than libcurl/Boost.Beast because it has to live inside the supervisor's single
// poll loop (one socket per in-flight probe, driven by poll events and a deadline) without a thread per
// probe. It sends "GET <path> HTTP/1.1" (or a POST with a small JSON body) with "Connection: close" and
// reads until the response is complete (Content-Length), EOF, or the deadline; the result has the status
// code and the body (the response is bounded at 64 KiB).
#pragma once

#include <chrono>
#include <optional>
#include <string>

namespace inferd::supervisor::internal {

class HttpProbe {
 public:
  using TimePoint = std::chrono::steady_clock::time_point;
  struct Result {
    bool ok = false;  // HTTP 200
    int status = 0;   // 0: no HTTP status (connect error, timeout, garbage)
    std::string error;
    std::string body = {};  // what followed the headers (a complete response's, or what came before EOF)
  };

  HttpProbe() = default;
  HttpProbe(const HttpProbe&) = delete;
  HttpProbe& operator=(const HttpProbe&) = delete;
  ~HttpProbe() { Reset(); }

  // Starts a probe of http://127.0.0.1:<port><path>: a GET, or a POST of `post_json` when it is not empty.
  // Returns the result when it finished at once (e.g. connection refused); otherwise the probe is active
  // and Advance drives it.
  std::optional<Result> Begin(int port, const std::string& path, TimePoint deadline, const std::string& post_json = "");
  // Feeds poll's revents for fd() (0 when only time passed). Returns the result once finished.
  std::optional<Result> Advance(short revents, TimePoint now);
  void Reset();  // aborts an active probe

  bool active() const { return fd_ >= 0; }
  int fd() const { return fd_; }
  short events() const;  // for poll
  TimePoint deadline() const { return deadline_; }

 private:
  enum class State { kConnecting, kSending, kReading };
  Result Finish(Result r);
  std::optional<Result> Done(bool eof);  // decides once enough of the response is in

  int fd_ = -1;
  State state_ = State::kConnecting;
  std::string request_;
  size_t sent_ = 0;
  std::string response_;
  TimePoint deadline_{};
  std::chrono::milliseconds timeout_{0};
};

}  // namespace inferd::supervisor::internal
