#include "operator/health.h"

#include <sys/socket.h>
#include <sys/time.h>

#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>

namespace inferd::op {

namespace asio = boost::asio;
namespace http = boost::beast::http;
using tcp = asio::ip::tcp;

struct HealthServer::Impl {
  asio::io_context io;
  tcp::acceptor acceptor{io};
  std::function<bool()> ready;
  std::atomic<bool> stop{false};
  std::thread thread;

  void Serve() {
    while (!stop.load()) {
      boost::system::error_code ec;
      tcp::socket sock(io);
      acceptor.accept(sock, ec);
      if (ec || stop.load()) continue;
      timeval tv{5, 0};
      setsockopt(sock.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
      setsockopt(sock.native_handle(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
      boost::beast::flat_buffer buf(8192);
      http::request_parser<http::empty_body> parser;
      parser.header_limit(8192);
      http::read(sock, buf, parser, ec);
      if (ec) continue;
      const auto& req = parser.get();
      http::response<http::string_body> res;
      res.version(11);
      res.keep_alive(false);
      res.set(http::field::content_type, "text/plain");
      const std::string target(req.target());
      if (req.method() != http::verb::get) {
        res.result(http::status::method_not_allowed);
        res.body() = "GET only\n";
      } else if (target == "/healthz" || target == "/livez") {
        res.result(http::status::ok);
        res.body() = "ok\n";
      } else if (target == "/readyz") {
        const bool ok = ready && ready();
        res.result(ok ? http::status::ok : http::status::service_unavailable);
        res.body() = ok ? "ok\n" : "caches not synced yet\n";
      } else {
        res.result(http::status::not_found);
        res.body() = "not found\n";
      }
      res.prepare_payload();
      http::write(sock, res, ec);
      sock.shutdown(tcp::socket::shutdown_both, ec);
    }
  }
};

StatusOr<std::unique_ptr<HealthServer>> HealthServer::Start(const std::string& host, int port, std::function<bool()> ready) {
  std::unique_ptr<HealthServer> s(new HealthServer());
  s->impl_ = std::make_unique<Impl>();
  Impl& i = *s->impl_;
  boost::system::error_code ec;
  auto addr = asio::ip::make_address(host, ec);
  if (ec) return InvalidArgument("--health_host: " + host + " is not an IP address");
  tcp::endpoint ep(addr, static_cast<unsigned short>(port));
  i.acceptor.open(ep.protocol(), ec);
  if (!ec) i.acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) i.acceptor.bind(ep, ec);
  if (!ec) i.acceptor.listen(16, ec);
  if (ec) return Unavailable("health port " + std::to_string(port) + ": " + ec.message());
  s->port_ = i.acceptor.local_endpoint().port();
  i.ready = std::move(ready);
  i.thread = std::thread([&i] { i.Serve(); });
  return s;
}

HealthServer::~HealthServer() {
  if (!impl_) return;
  impl_->stop = true;
  boost::system::error_code ec;
  // Wake the blocking accept with a connection of our own, then close.
  tcp::socket poke(impl_->io);
  auto ep = impl_->acceptor.local_endpoint(ec);
  if (!ec) {
    if (ep.address().is_unspecified()) ep.address(asio::ip::make_address("127.0.0.1"));
    poke.connect(ep, ec);
  }
  if (impl_->thread.joinable()) impl_->thread.join();
  impl_->acceptor.close(ec);
}

}  // namespace inferd::op
