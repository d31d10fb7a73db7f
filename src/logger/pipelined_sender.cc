#include "logger/pipelined_sender.h"

#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <boost/asio/buffer.hpp>
#include <boost/beast/http/basic_parser.hpp>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstring>
#include <optional>

#include "logger/sink_url.h"

namespace inferd::logger {

namespace {

namespace http = boost::beast::http;
using Clock = std::chrono::steady_clock;

constexpr size_t kMaxAnswerHead = 16 * 1024;
constexpr size_t kMaxAnswerBody = 64 * 1024;

net::ClientResult Failed(std::string why) {
  net::ClientResult r;
  r.transport = net::Transport::kFailed;
  r.error = std::move(why);
  return r;
}

// Beast's parser for the sink's answers, keeping only what the sender needs: the status (keep-alive and the body's
// framing are basic_parser's own). response_parser<string_body> built a field container and a body string for
// each answer, two allocations or more per event for values nobody reads.
class AnswerParser : public http::basic_parser<false> {
 public:
  int status() const { return status_; }

 private:
  using string_view = boost::beast::string_view;
  using error_code = boost::beast::error_code;
  void on_request_impl(http::verb, string_view, string_view, int, error_code&) override {}
  void on_response_impl(int code, string_view, int, error_code&) override { status_ = code; }
  void on_field_impl(http::field, string_view, string_view, error_code&) override {}
  void on_header_impl(error_code&) override {}
  void on_body_init_impl(const boost::optional<std::uint64_t>&, error_code&) override {}
  size_t on_body_impl(string_view body, error_code&) override { return body.size(); }  // read and discarded
  void on_chunk_header_impl(std::uint64_t, string_view, error_code&) override {}
  size_t on_chunk_body_impl(std::uint64_t, string_view body, error_code&) override { return body.size(); }
  void on_finish_impl(error_code&) override {}
  int status_ = 0;
};

// The socket I/O is plain POSIX (non-blocking, poll with a deadline) rather than Asio's synchronous calls: those
// have no timeout, and an io_context per sender thread for async calls costs more than these few syscalls.
class PipelinedSender : public EventSender {
 public:
  ~PipelinedSender() override { Close(); }

  net::ClientResult Send(const LoggerConfig& c, const std::vector<std::string>& headers,
                         std::string_view body) override {
    // Only through SendBatch: the logger hands records, and this sender builds their heads itself.
    (void)headers;
    (void)body;
    net::ClientResult r = Failed("the pipelined sender sends records only (SendBatch)");
    r.transport = net::Transport::kBadRequest;
    return r;
  }

  size_t MaxBatch(const LoggerConfig&) override { return kMaxPipeline; }

  void SendBatch(const LoggerConfig& c, std::span<const OutgoingEvent> events,
                 std::vector<net::ClientResult>* results) override {
    results->assign(events.size(), net::ClientResult{});
    if (c.url != url_) {
      Close();
      url_ = c.url;
      parts_ = SplitSinkUrl(url_);
      request_line_ = "POST " + parts_.target + " HTTP/1.1\r\nHost: " + parts_.host_header +
                      "\r\nUser-Agent: inferd-logger\r\n";
    }
    if (!lines_ || !lines_->Matches(c)) lines_.emplace(c);
    size_t done = 0;
    while (done < events.size()) {
      const size_t n = pipelining_ ? std::min(kMaxPipeline, events.size() - done) : 1;
      done += Exchange(c, events.subspan(done, n), results->data() + done, /*may_reopen=*/true);
    }
  }

 private:
  // Sends `events` on the connection (opened if needed) and reads their answers. Returns how many of them have
  // their result (at least one): the rest were refused unprocessed by a `Connection: close` and go again.
  size_t Exchange(const LoggerConfig& c, std::span<const OutgoingEvent> events, net::ClientResult* results,
                  bool may_reopen) {
    const Clock::time_point deadline = Clock::now() + std::chrono::seconds(c.timeout_s);
    const bool reused = fd_ >= 0;
    if (!reused) {
      if (std::string err = Connect(deadline); !err.empty()) {
        for (size_t i = 0; i < events.size(); ++i) results[i] = Failed(err);
        return events.size();
      }
    }
    BuildRequests(events);
    size_t answered = 0;
    bool close_after = false;
    std::string err = Run(deadline, events.size(), results, &answered, &close_after);
    if (err.empty() && !close_after) return events.size();
    Close();
    if (err.empty()) {  // the sink said Connection: close after answer `answered`
      if (answered < events.size()) pipelining_ = false;
      return answered;
    }
    if (answered == 0 && reused && !got_bytes_ && may_reopen && err != kTimedOut) {
      return Exchange(c, events, results, /*may_reopen=*/false);  // a stale kept connection
    }
    if (answered > 0) pipelining_ = false;
    for (size_t i = answered; i < events.size(); ++i) results[i] = Failed(err);
    return events.size();
  }

  static constexpr const char* kTimedOut = "timed out waiting for the sink";

  std::string Connect(Clock::time_point deadline) {
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* list = nullptr;
    if (int rc = getaddrinfo(parts_.host.c_str(), parts_.port.c_str(), &hints, &list); rc != 0) {
      return "could not resolve " + parts_.host + ": " + gai_strerror(rc);
    }
    std::string err = "no address for " + parts_.host;
    for (addrinfo* a = list; a && fd_ < 0; a = a->ai_next) {
      int fd = socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, a->ai_protocol);
      if (fd < 0) {
        err = std::string("socket: ") + std::strerror(errno);
        continue;
      }
      int rc = connect(fd, a->ai_addr, a->ai_addrlen);
      if (rc != 0 && errno == EINPROGRESS) {
        if (!Wait(fd, POLLOUT, deadline)) {
          err = "timed out connecting to " + parts_.host_header;
          close(fd);
          continue;
        }
        int so = 0;
        socklen_t len = sizeof so;
        getsockopt(fd, SOL_SOCKET, SO_ERROR, &so, &len);
        rc = so == 0 ? 0 : -1;
        errno = so;
      }
      if (rc != 0) {
        err = "could not connect to " + parts_.host_header + ": " + std::strerror(errno);
        close(fd);
        continue;
      }
      int one = 1;
      setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      fd_ = fd;
    }
    freeaddrinfo(list);
    return fd_ >= 0 ? "" : err;
  }

  // True when `fd` is ready for `events` before the deadline.
  static bool Wait(int fd, short events, Clock::time_point deadline) {
    for (;;) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
      if (left <= 0) return false;
      pollfd p{fd, events, 0};
      int rc = poll(&p, 1, static_cast<int>(std::min<long long>(left, 60'000)));
      if (rc > 0) return true;
      if (rc < 0 && errno != EINTR) return false;
    }
  }

  // The request heads (reused buffers: no allocation once they have grown) and the iovec list head/body/head/...
  // The heads are written here rather than with Beast's serializer: the config's constant header lines are
  // formatted once (EventHeadLines), then a few appends per event into a reused buffer, no field container per
  // request (perf: building the heads was a third of the sender's time when each one went through a vector of
  // header strings).
  void BuildRequests(std::span<const OutgoingEvent> events) {
    if (heads_.size() < events.size()) heads_.resize(events.size());
    iov_.clear();
    for (size_t i = 0; i < events.size(); ++i) {
      const Record& r = *events[i].record;
      if (events[i].recorded_unix_ns != recorded_ns_ || recorded_.empty()) {
        recorded_ns_ = events[i].recorded_unix_ns;
        recorded_ = Rfc3339Nano(recorded_ns_);
      }
      std::string& h = heads_[i];
      h.clear();
      h.append(request_line_);
      lines_->Append(r, recorded_, &h);
      const std::string_view body = r.body();
      char len[24];
      auto [end, ec] = std::to_chars(len, len + sizeof len, body.size());
      h.append("Content-Length: ").append(len, end).append("\r\n\r\n");
      iov_.push_back(iovec{h.data(), h.size()});
      if (!body.empty()) iov_.push_back(iovec{const_cast<char*>(body.data()), body.size()});
    }
  }

  // Writes the requests and reads `n` answers (results[0..*answered)); "" when all came or an answer said close
  // (*close_after), else why the exchange failed.
  std::string Run(Clock::time_point deadline, size_t n, net::ClientResult* results, size_t* answered,
                  bool* close_after) {
    size_t next_iov = 0;
    got_bytes_ = false;
    in_.clear();
    parser_.reset();
    while (*answered < n) {
      if (next_iov < iov_.size()) {
        if (std::string err = WriteSome(&next_iov); !err.empty()) return err;
      }
      short want = POLLIN | (next_iov < iov_.size() ? POLLOUT : 0);
      if (!Wait(fd_, want, deadline)) return kTimedOut;
      ssize_t got = recv(fd_, buf_, sizeof buf_, MSG_DONTWAIT);
      if (got < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) continue;
        return std::string("the sink's connection failed: ") + std::strerror(errno);
      }
      if (got == 0) {
        if (parser_ && parser_->is_header_done()) {
          boost::beast::error_code ec;
          parser_->put_eof(ec);
          if (!ec && parser_->is_done()) {
            results[(*answered)++] = Answer();
            if (*answered == n) return "";
          }
        }
        return "the sink closed the connection before answering";
      }
      got_bytes_ = true;
      in_.append(buf_, static_cast<size_t>(got));
      if (std::string err = Parse(n, results, answered, close_after); !err.empty() || *close_after) return err;
    }
    // Answered before it read everything, or sent more than the answers: the connection is not reusable.
    if (next_iov < iov_.size() || !in_.empty()) *close_after = true;
    return "";
  }

  std::string WriteSome(size_t* next_iov) {
    msghdr m{};
    m.msg_iov = iov_.data() + *next_iov;
    m.msg_iovlen = std::min<size_t>(iov_.size() - *next_iov, IOV_MAX);
    ssize_t wrote = sendmsg(fd_, &m, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (wrote < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return "";
      return std::string("writing to the sink failed: ") + std::strerror(errno);
    }
    auto left = static_cast<size_t>(wrote);
    while (*next_iov < iov_.size() && left >= iov_[*next_iov].iov_len) left -= iov_[(*next_iov)++].iov_len;
    if (left > 0) {
      iov_[*next_iov].iov_base = static_cast<char*>(iov_[*next_iov].iov_base) + left;
      iov_[*next_iov].iov_len -= left;
    }
    return "";
  }

  // Feeds what came to the parser; each complete answer is the next event's result.
  std::string Parse(size_t n, net::ClientResult* results, size_t* answered, bool* close_after) {
    size_t pos = 0;
    while (pos < in_.size() && *answered < n) {
      if (!parser_) {
        parser_.emplace();
        parser_->eager(true);
        parser_->header_limit(kMaxAnswerHead);
        parser_->body_limit(kMaxAnswerBody);
      }
      boost::beast::error_code ec;
      const size_t used = parser_->put(boost::asio::buffer(in_.data() + pos, in_.size() - pos), ec);
      pos += used;
      if (ec == http::error::need_more) break;
      if (ec) return "malformed answer from the sink: " + ec.message();
      if (!parser_->is_done()) {
        if (used == 0) break;
        continue;
      }
      if (parser_->status() < 200) {  // an interim 1xx answer: the final one follows
        parser_.reset();
        continue;
      }
      const bool keep = parser_->keep_alive();
      results[(*answered)++] = Answer();
      if (!keep) {
        *close_after = true;
        break;
      }
    }
    in_.erase(0, pos);
    return "";
  }

  net::ClientResult Answer() {
    net::ClientResult r;
    r.status = parser_->status();
    parser_.reset();
    return r;
  }

  void Close() {
    if (fd_ >= 0) close(fd_);
    fd_ = -1;
  }

  std::string url_;
  SinkUrlParts parts_;
  std::string request_line_;  // "POST target HTTP/1.1", Host and User-Agent lines
  std::optional<EventHeadLines> lines_;  // the config's header lines (rebuilt if another config comes)
  int64_t recorded_ns_ = 0;
  std::string recorded_;  // Rfc3339Nano(recorded_ns_)
  int fd_ = -1;
  bool pipelining_ = true;
  bool got_bytes_ = false;  // this exchange received something
  std::vector<std::string> heads_;
  std::vector<iovec> iov_;
  std::string in_;
  std::optional<AnswerParser> parser_;
  char buf_[16 * 1024];
};

}  // namespace

std::unique_ptr<EventSender> NewPipelinedSender() { return std::make_unique<PipelinedSender>(); }

}  // namespace inferd::logger
