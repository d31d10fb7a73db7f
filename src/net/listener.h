// net/listener.h: the accepting half of inferd's connection manager (after Envoy's: one implementation for
// every HTTP/1.1 listener: the model server's TCP port and Unix socket, the gateway's port, the API's port).
//
// Contract:
// - ListenTcp / ListenUnix open, bind and listen a socket (SO_REUSEADDR; SO_REUSEPORT when asked; a Unix
//   socket's stale file is removed first and the new one gets mode 0600). A listener with several event loops
//   accepts on one of them and hands each connection to the loops in turn (`pick`, below): SO_REUSEPORT
//   acceptors per loop left the spread to the kernel's hash, which split few connections unevenly.
// - AcceptLoop accepts on one acceptor, on that acceptor's io_context thread:
//   * under the cap (ConnGate), a connection goes to `on_conn` (which creates its session, a TrackedConn that
//     holds the cap entry); at the cap it is closed at once (the client sees the connection closed, the
//     process does not spin), and a rate-limited line says how many were refused;
//   * a failed accept that concerns one connection is retried at once; a resource error (EMFILE, ENFILE,
//     ENOBUFS, ENOMEM...) pauses this acceptor (AcceptBackoff: 10 ms doubling to 1 s, reset by a success)
//     while the loop goes on serving the connections already open; its log line is written at most once per
//     10 s with the number of failures since the previous one.
//   * Close() (on the loop's thread) closes the acceptor and ends the pause; no handler runs afterwards.
// - ListenAddress parses a listener's host (an IP address; `what` names the listener in the error).
//   EventLoops is the number of loops for a `--workers` value (0: one per hardware thread).
// - RaiseFileLimit raises the soft RLIMIT_NOFILE to the hard limit (for `inferd serve` and `inferd
//   model-server`, at start) and returns the soft limit in force; CurrentFileLimit only reads it.
// - ResolveLimits fills the defaults of Limits (max_connections from the open-file limit,
//   max_body_bytes_in_flight from the listener's body limit) and checks the ranges.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/steady_timer.hpp>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/clock.h"
#include "core/logging.h"
#include "core/status.h"
#include "net/conn.h"
#include "net/limits.h"

namespace inferd::net {

Status ListenTcp(boost::asio::ip::tcp::acceptor& acc, const boost::asio::ip::address& address, int port,
                 bool reuse_port, const std::string& what);
// Sets *bound when the socket file was created (the caller removes it at shutdown).
Status ListenUnix(boost::asio::local::stream_protocol::acceptor& acc, const std::string& path, bool* bound,
                  const std::string& what);

StatusOr<boost::asio::ip::address> ListenAddress(const std::string& host, const std::string& what);
int EventLoops(int workers);

uint64_t RaiseFileLimit();
uint64_t CurrentFileLimit();

// body_limit: the listener's largest accepted body (the default budget is 4 of those).
Status ResolveLimits(Limits* limits, uint64_t body_limit);

inline constexpr int64_t kAcceptLogIntervalNs = 10'000'000'000;

template <class Protocol>
class AcceptLoop {
 public:
  using Acceptor = typename Protocol::acceptor;
  using Socket = typename Protocol::socket;
  // pick: the io_context the next connection's socket belongs to (the acceptor's own, or another loop's).
  // on_conn: called with an accepted socket that holds one entry of `gate` (handed to a TrackedConn).
  AcceptLoop(Acceptor&& acc, std::string name, std::shared_ptr<ConnGate> gate,
             std::function<boost::asio::io_context&()> pick, std::function<void(Socket)> on_conn)
      : acc_(std::move(acc)),
        name_(std::move(name)),
        gate_(std::move(gate)),
        pick_(std::move(pick)),
        on_conn_(std::move(on_conn)),
        pause_(acc_.get_executor()),
        error_log_(kAcceptLogIntervalNs),
        full_log_(kAcceptLogIntervalNs) {}

  void Start() { Accept(); }
  void Close() {
    boost::system::error_code ec;
    acc_.close(ec);
    pause_.cancel();
  }
  Acceptor& acceptor() { return acc_; }

 private:
  void Accept() {
    acc_.async_accept(pick_(), [this](const boost::system::error_code& ec, Socket socket) { OnAccept(ec, std::move(socket)); });
  }

  void OnAccept(const boost::system::error_code& ec, Socket socket) {
    if (ec == boost::asio::error::operation_aborted || !acc_.is_open()) return;
    if (!ec) {
      backoff_.Reset();
      if (gate_->TryEnter()) {
        on_conn_(std::move(socket));
      } else {
        boost::system::error_code ignored;
        socket.close(ignored);  // at the cap: refused at once (a close, not a spin)
        uint64_t suppressed = 0;
        if (full_log_.Allow(NowNs(), &suppressed)) {
          LOG_WARN("{}: {} open connections (the cap, --max_connections): new connections are closed at once "
                   "({} more since the last line)", name_, gate_->max, suppressed);
        }
      }
      return Accept();
    }
    if (ClassifyAcceptError(ec.value()) == AcceptErrorKind::kConnection) return Accept();
    const int64_t pause_ms = backoff_.NextMs();
    uint64_t suppressed = 0;
    if (error_log_.Allow(NowNs(), &suppressed)) {
      LOG_WARN("{}: accept failed: {}; not accepting for {} ms, serving the open connections ({} more failures "
               "since the last line)", name_, ec.message(), pause_ms, suppressed);
    }
    pause_.expires_after(std::chrono::milliseconds(pause_ms));
    pause_.async_wait([this](const boost::system::error_code& e) {
      if (!e && acc_.is_open()) Accept();
    });
  }

  Acceptor acc_;
  std::string name_;
  std::shared_ptr<ConnGate> gate_;
  std::function<boost::asio::io_context&()> pick_;
  std::function<void(Socket)> on_conn_;
  boost::asio::steady_timer pause_;
  AcceptBackoff backoff_;
  LogLimiter error_log_;
  LogLimiter full_log_;
};

}  // namespace inferd::net
