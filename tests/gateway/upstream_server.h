// tests/gateway/upstream_server.h: a small blocking Beast HTTP server standing in for a model replica.
//
// Every answer's body is "{id}|{method}|{target}|{body}" with headers X-Upstream-Id and X-Seen-* (what the
// gateway sent). A target containing "/sleep/{ms}" waits that long first; "/status/{code}" answers that code;
// "/drop" closes the connection after answering (without announcing it). One thread per connection.
// Listens on 127.0.0.1:ephemeral, or on a Unix stream socket when given a path (port() is then 0).
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/asio/basic_socket_acceptor.hpp>
#include <boost/asio/generic/stream_protocol.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <atomic>
#include <chrono>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace inferd::testing {

class UpstreamServer {
  using Socket = boost::asio::generic::stream_protocol::socket;

 public:
  explicit UpstreamServer(std::string id, std::string uds_path = "")
      : id_(std::move(id)), uds_path_(std::move(uds_path)), acceptor_(ctx_) {
    namespace asio = boost::asio;
    asio::generic::stream_protocol::endpoint ep;
    if (uds_path_.empty()) {
      ep = asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0);
    } else {
      ::unlink(uds_path_.c_str());
      ep = asio::local::stream_protocol::endpoint(uds_path_);
    }
    acceptor_.open(ep.protocol());
    if (uds_path_.empty()) acceptor_.set_option(asio::socket_base::reuse_address(true));
    acceptor_.bind(ep);
    acceptor_.listen();
    if (uds_path_.empty()) {
      sockaddr_in a{};
      socklen_t len = sizeof a;
      ::getsockname(acceptor_.native_handle(), reinterpret_cast<sockaddr*>(&a), &len);
      port_ = ntohs(a.sin_port);
    }
    accept_thread_ = std::thread([this] { AcceptLoop(); });
  }
  ~UpstreamServer() { Stop(); }

  int port() const { return port_; }
  const std::string& id() const { return id_; }
  int connections() const { return connections_.load(); }
  int requests() const { return requests_.load(); }
  int active() const { return active_.load(); }
  int max_active() const { return max_active_.load(); }  // the most requests it ever worked on at once

  void Stop() {
    if (stopped_.exchange(true)) return;
    ::shutdown(acceptor_.native_handle(), SHUT_RDWR);
    if (accept_thread_.joinable()) accept_thread_.join();
    {
      std::lock_guard<std::mutex> lock(mu_);
      for (int fd : fds_) ::shutdown(fd, SHUT_RDWR);
    }
    for (auto& t : threads_) {
      if (t.joinable()) t.join();
    }
    boost::system::error_code ec;
    acceptor_.close(ec);
    if (!uds_path_.empty()) ::unlink(uds_path_.c_str());
  }

 private:
  void AcceptLoop() {
    for (;;) {
      Socket sock(ctx_);
      boost::system::error_code ec;
      acceptor_.accept(sock, ec);
      if (ec || stopped_.load()) return;
      connections_.fetch_add(1);
      std::lock_guard<std::mutex> lock(mu_);
      fds_.push_back(sock.native_handle());
      threads_.emplace_back([this, s = std::move(sock)]() mutable { Serve(std::move(s)); });
    }
  }

  static int NumberAfter(const std::string& target, const std::string& key) {
    auto p = target.find(key);
    if (p == std::string::npos) return -1;
    return std::atoi(target.c_str() + p + key.size());
  }

  void Serve(Socket sock) {
    namespace beast = boost::beast;
    namespace http = beast::http;
    beast::flat_buffer buf;
    for (;;) {
      http::request<http::string_body> req;
      beast::error_code ec;
      http::read(sock, buf, req, ec);
      if (ec) break;
      requests_.fetch_add(1);
      int now_active = active_.fetch_add(1) + 1;
      for (int m = max_active_.load(); now_active > m && !max_active_.compare_exchange_weak(m, now_active);) {
      }
      std::string target(req.target());
      int sleep_ms = NumberAfter(target, "/sleep/");
      if (sleep_ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(sleep_ms));
      int status = NumberAfter(target, "/status/");
      http::response<http::string_body> res;
      res.version(11);
      res.result(status > 0 ? static_cast<unsigned>(status) : 200u);
      res.set(http::field::content_type, "text/plain");
      res.set("X-Upstream-Id", id_);
      res.set("X-Seen-Host", req[http::field::host]);
      res.set("X-Seen-Connection", req[http::field::connection]);
      res.set("X-Seen-Hop", req["X-Hop"]);
      res.set("X-Seen-Request-Id", req["x-request-id"]);
      res.set("X-Seen-Authorization", req[http::field::authorization]);
      res.set("X-Extra", "kept");
      res.body() = id_ + "|" + std::string(req.method_string()) + "|" + target + "|" + req.body();
      res.keep_alive(req.keep_alive());
      res.prepare_payload();
      active_.fetch_sub(1);
      http::write(sock, res, ec);
      if (ec || !req.keep_alive() || target.find("/drop") != std::string::npos) break;
    }
    boost::system::error_code ec;
    sock.shutdown(Socket::shutdown_both, ec);
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& fd : fds_) {
      if (fd == sock.native_handle()) fd = -1;
    }
    sock.close(ec);
  }

  std::string id_;
  std::string uds_path_;
  boost::asio::io_context ctx_;
  boost::asio::basic_socket_acceptor<boost::asio::generic::stream_protocol> acceptor_;
  int port_ = 0;
  std::thread accept_thread_;
  std::mutex mu_;
  std::vector<int> fds_;
  std::vector<std::thread> threads_;
  std::atomic<int> connections_{0}, requests_{0}, active_{0}, max_active_{0};
  std::atomic<bool> stopped_{false};
};

}  // namespace inferd::testing
