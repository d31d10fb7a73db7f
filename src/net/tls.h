// net/tls.h: HTTPS and plain HTTP on one port (the API of `inferd serve`): a connection's first byte says
// which, so the CLI keeps http://127.0.0.1:PORT and kubectl uses https://127.0.0.1:PORT.
//
// Contract:
// - MakeServerTlsContext loads a certificate (chain) and its key into an OpenSSL server context: TLS 1.2 and
//   1.3 only; ALPN answers "http/1.1" when the client offers it (kubectl offers h2 too: the server speaks
//   HTTP/1.1 only).
// - SniffedSocket wraps an accepted tcp::socket and is what HttpSession<Socket, App> needs (async_read_some,
//   async_write_some, synchronous write_some for the stream threads, shutdown, close, get_executor). Its
//   first read waits until the client sends a byte and peeks at it (MSG_PEEK: nothing is consumed):
//   * 0x16 (a TLS handshake record, the ClientHello) and a TLS context given: the connection becomes an
//     ssl::stream, the handshake runs, then the read proceeds over TLS. A failed handshake (garbage, a
//     truncated ClientHello, an unknown CA on the client's side) ends the read with its error.
//   * anything else: plain HTTP when the peer is allowed it (PlainHttpAllowed: a loopback address); else
//     the client gets "400 Bad Request: client sent an HTTP request to an HTTPS server" and the read fails
//     (access_denied), and the session closes the connection.
//   No deadline is kept here: the session's phase is kHead from the accept until the request head is
//   complete, so the sniff and the handshake fall under --client_header_timeout (net/limits.h), and an
//   expired connection's close aborts a pending handshake.
// - After the first read, reads and writes go straight to the socket or the ssl::stream (one switch on the
//   mode per call; no allocation). Only the API uses it: the model server and the gateway keep tcp::socket.
// - Thread use is Asio's: one thread at a time, except native_handle()/tcp() for ::shutdown and poll from a
//   stream's Shutdown/ClientGone (net-level calls that do not touch the TLS state).
#pragma once

#include <sys/socket.h>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>

#include <cerrno>
#include <memory>
#include <string>
#include <utility>

#include "core/status.h"

namespace inferd::net {

StatusOr<std::shared_ptr<boost::asio::ssl::context>> MakeServerTlsContext(const std::string& cert_file,
                                                                          const std::string& key_file);

inline constexpr unsigned char kTlsHandshakeByte = 0x16;

// Plain HTTP is accepted from loopback peers only (an IPv4-mapped IPv6 loopback counts).
bool PlainHttpAllowed(const boost::asio::ip::address& peer);

// The answer a plain HTTP client gets where plain HTTP is refused (then the connection closes).
const std::string& PlainRefusedAnswer();

class SniffedSocket {
 public:
  using tcp = boost::asio::ip::tcp;
  using executor_type = tcp::socket::executor_type;
  using TlsStream = boost::asio::ssl::stream<tcp::socket>;
  static constexpr boost::asio::socket_base::shutdown_type shutdown_send = boost::asio::socket_base::shutdown_send;

  // tls: null = plain HTTP only (a ClientHello is then read as a malformed request).
  SniffedSocket(tcp::socket socket, std::shared_ptr<boost::asio::ssl::context> tls, bool plain_allowed)
      : sock_(std::move(socket)), ctx_(std::move(tls)), plain_allowed_(plain_allowed) {}
  SniffedSocket(SniffedSocket&&) = default;
  SniffedSocket& operator=(SniffedSocket&&) = default;

  bool is_tls() const { return mode_ == Mode::kTls; }
  executor_type get_executor() { return tls_ ? tls_->get_executor() : sock_.get_executor(); }
  tcp::socket& tcp_socket() { return tls_ ? tls_->next_layer() : sock_; }
  int native_handle() { return tcp_socket().native_handle(); }

  template <class Buffers, class Handler>
  void async_read_some(const Buffers& b, Handler&& h) {
    switch (mode_) {
      case Mode::kPlain:
        return sock_.async_read_some(b, std::forward<Handler>(h));
      case Mode::kTls:
        return tls_->async_read_some(b, std::forward<Handler>(h));
      case Mode::kUnknown:
        return Sniff(b, std::forward<Handler>(h));
    }
  }

  template <class Buffers, class Handler>
  void async_write_some(const Buffers& b, Handler&& h) {
    if (tls_) return tls_->async_write_some(b, std::forward<Handler>(h));
    sock_.async_write_some(b, std::forward<Handler>(h));
  }

  // Blocking writes (a stream thread's, after TakeSocket).
  template <class Buffers>
  size_t write_some(const Buffers& b, boost::system::error_code& ec) {
    return tls_ ? tls_->write_some(b, ec) : sock_.write_some(b, ec);
  }
  template <class Buffers>
  size_t write_some(const Buffers& b) {
    return tls_ ? tls_->write_some(b) : sock_.write_some(b);
  }

  // TCP-level (a TLS close_notify is not sent: HTTP/1.1 framing tells the client where the answer ends).
  void shutdown(boost::asio::socket_base::shutdown_type what, boost::system::error_code& ec) {
    tcp_socket().shutdown(what, ec);
  }
  void close(boost::system::error_code& ec) { tcp_socket().close(ec); }

 private:
  enum class Mode { kUnknown, kPlain, kTls };

  template <class Buffers, class Handler>
  void Sniff(const Buffers& b, Handler h) {
    sock_.async_wait(tcp::socket::wait_read, [this, b, h = std::move(h)](boost::system::error_code ec) mutable {
      if (ec) return h(ec, size_t{0});
      unsigned char first = 0;
      const ssize_t n = ::recv(sock_.native_handle(), &first, 1, MSG_PEEK | MSG_DONTWAIT);
      if (n == 0) return h(boost::asio::error::eof, size_t{0});
      if (n < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return Sniff(b, std::move(h));
        return h(boost::system::error_code(errno, boost::system::system_category()), size_t{0});
      }
      if (first == kTlsHandshakeByte && ctx_) {
        mode_ = Mode::kTls;
        tls_ = std::make_unique<TlsStream>(std::move(sock_), *ctx_);
        return tls_->async_handshake(TlsStream::server, [this, b, h = std::move(h)](boost::system::error_code e) mutable {
          if (e) return h(e, size_t{0});
          tls_->async_read_some(b, std::move(h));
        });
      }
      if (!plain_allowed_) {
        RefusePlain();
        return h(boost::asio::error::access_denied, size_t{0});
      }
      mode_ = Mode::kPlain;
      sock_.async_read_some(b, std::move(h));
    });
  }

  // Reads what the client already sent (so that the close is a FIN, not a reset that could lose the answer),
  // then answers 400 without blocking; the session closes the connection.
  void RefusePlain();

  tcp::socket sock_;
  std::unique_ptr<TlsStream> tls_;
  std::shared_ptr<boost::asio::ssl::context> ctx_;
  bool plain_allowed_;
  Mode mode_ = Mode::kUnknown;
};

}  // namespace inferd::net
