// supervisor/probe.cc: see probe.h.
#include "supervisor/probe.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

namespace inferd::supervisor::internal {
namespace {

constexpr size_t kMaxResponse = 64 * 1024;

std::string Lower(std::string s) {
  for (auto& c : s)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return s;
}

// Parses "HTTP/1.x NNN ..." from the first line; 0 if it is not one.
int ParseStatus(const std::string& resp) {
  size_t eol = resp.find('\n');
  if (eol == std::string::npos) return 0;
  if (resp.compare(0, 5, "HTTP/") != 0) return -1;
  size_t sp = resp.find(' ');
  if (sp == std::string::npos || sp > eol || sp + 4 > resp.size()) return -1;
  int code = 0;
  for (size_t i = sp + 1; i < sp + 4; ++i) {
    if (resp[i] < '0' || resp[i] > '9') return -1;
    code = code * 10 + (resp[i] - '0');
  }
  return code;
}

}  // namespace

short HttpProbe::events() const {
  switch (state_) {
    case State::kConnecting:
    case State::kSending:
      return POLLOUT;
    case State::kReading:
      return POLLIN;
  }
  return POLLIN;
}

void HttpProbe::Reset() {
  if (fd_ >= 0) close(fd_);
  fd_ = -1;
  request_.clear();
  response_.clear();
  sent_ = 0;
}

HttpProbe::Result HttpProbe::Finish(Result r) {
  Reset();
  return r;
}

std::optional<HttpProbe::Result> HttpProbe::Begin(int port, const std::string& path, TimePoint deadline,
                                                  const std::string& post_json) {
  Reset();
  deadline_ = deadline;
  timeout_ = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
  fd_ = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd_ < 0) return Finish({false, 0, std::string("socket: ") + strerror(errno)});
  request_ = (post_json.empty() ? "GET " : "POST ") + path + " HTTP/1.1\r\nHost: 127.0.0.1:" + std::to_string(port) +
             "\r\nUser-Agent: inferd-supervisor\r\nConnection: close\r\n";
  if (!post_json.empty()) {
    request_ += "Content-Type: application/json\r\nContent-Length: " + std::to_string(post_json.size()) + "\r\n";
  }
  request_ += "\r\n" + post_json;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) {
    state_ = State::kSending;
  } else if (errno == EINPROGRESS || errno == EINTR) {
    state_ = State::kConnecting;
  } else {
    return Finish({false, 0, std::string("connect: ") + strerror(errno)});
  }
  return Advance(state_ == State::kSending ? POLLOUT : 0, std::chrono::steady_clock::now());
}

std::optional<HttpProbe::Result> HttpProbe::Done(bool eof) {
  int status = ParseStatus(response_);
  if (status < 0) return Finish({false, 0, "not an HTTP response"});
  if (status == 0) {
    if (eof) return Finish({false, 0, "connection closed before the status line"});
    if (response_.size() >= kMaxResponse) return Finish({false, 0, "status line too long"});
    return std::nullopt;
  }
  // The status is known; read the rest so the server is not cut off mid-write (it would log a broken
  // pipe), unless the response is complete already or too large.
  size_t hdr_end = response_.find("\r\n\r\n");
  bool complete = eof || response_.size() >= kMaxResponse;
  if (!complete && hdr_end != std::string::npos) {
    std::string headers = Lower(response_.substr(0, hdr_end));
    size_t cl = headers.find("\ncontent-length:");
    if (cl != std::string::npos) {
      size_t len = strtoul(headers.c_str() + cl + 16, nullptr, 10);
      complete = response_.size() >= hdr_end + 4 + len;
    }
  }
  if (!complete) return std::nullopt;
  std::string body = hdr_end == std::string::npos ? std::string() : response_.substr(hdr_end + 4);
  if (status == 200) return Finish({true, status, "", std::move(body)});
  return Finish({false, status, "HTTP " + std::to_string(status), std::move(body)});
}

std::optional<HttpProbe::Result> HttpProbe::Advance(short revents, TimePoint now) {
  if (fd_ < 0) return std::nullopt;
  if (state_ == State::kConnecting && (revents & (POLLOUT | POLLERR | POLLHUP)) != 0) {
    int err = 0;
    socklen_t len = sizeof err;
    if (getsockopt(fd_, SOL_SOCKET, SO_ERROR, &err, &len) != 0) err = errno;
    if (err != 0) return Finish({false, 0, std::string("connect: ") + strerror(err)});
    state_ = State::kSending;
  }
  if (state_ == State::kSending) {
    while (sent_ < request_.size()) {
      ssize_t n = send(fd_, request_.data() + sent_, request_.size() - sent_, MSG_NOSIGNAL);
      if (n > 0) {
        sent_ += static_cast<size_t>(n);
      } else if (n < 0 && errno == EINTR) {
        continue;
      } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        break;
      } else {
        return Finish({false, 0, std::string("send: ") + strerror(errno)});
      }
    }
    if (sent_ == request_.size()) state_ = State::kReading;
  }
  if (state_ == State::kReading) {
    char buf[4096];
    for (;;) {
      ssize_t n = recv(fd_, buf, sizeof buf, 0);
      if (n > 0) {
        response_.append(buf, static_cast<size_t>(n));
        if (auto r = Done(false)) return r;
        continue;
      }
      if (n == 0) return Done(true);
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) break;
      // A reset after the status line arrived still counts as that status.
      if (ParseStatus(response_) > 0) return Done(true);
      return Finish({false, 0, std::string("recv: ") + strerror(errno)});
    }
  }
  if (now >= deadline_) {
    if (ParseStatus(response_) > 0) return Done(true);
    return Finish({false, 0, "timed out after " + std::to_string(timeout_.count()) + " ms"});
  }
  return std::nullopt;
}

}  // namespace inferd::supervisor::internal
