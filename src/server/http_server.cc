#include "server/http_server.h"

#include <boost/asio/bind_executor.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/post.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <optional>
#include <thread>
#include <vector>

#include "core/logging.h"
#include "protocol/json_writer.h"

namespace inferd {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using unix_stream = asio::local::stream_protocol;

namespace {

constexpr size_t kHeaderLimit = 64 * 1024;

// Socket: tcp::socket (the port) or unix_stream::socket (--uds); the same code for both, each compiled for
// its own socket type (no indirection on the TCP path).
template <class Socket>
class Session : public std::enable_shared_from_this<Session<Socket>> {
 public:
  Session(Socket socket, RestHandler* handler, ServerState* state, const ServerOptions* options)
      : socket_(std::move(socket)), handler_(handler), state_(state), options_(options) {}

  void Start() { Read(); }

 private:
  void Read() {
    parser_.emplace();
    parser_->header_limit(kHeaderLimit);
    parser_->body_limit(options_->max_request_bytes);
    http::async_read(socket_, buffer_, *parser_,
                     [self = this->shared_from_this()](beast::error_code ec, size_t) { self->OnRead(ec); });
  }

  void OnRead(beast::error_code ec) {
    if (ec == http::error::end_of_stream || ec == asio::error::eof || ec == asio::error::connection_reset ||
        ec == asio::error::operation_aborted) {
      return Close();
    }
    if (ec == http::error::body_limit) {
      return SendError(413, "request body is larger than the limit of " +
                                std::to_string(options_->max_request_bytes) + " bytes (--max_request_bytes)");
    }
    if (ec == http::error::header_limit) {
      return SendError(431, "request headers are larger than " + std::to_string(kHeaderLimit) + " bytes");
    }
    if (ec) return SendError(400, std::string("malformed HTTP request: ") + ec.message());

    auto& msg = parser_->get();
    keep_alive_ = msg.keep_alive();
    RestRequest req;
    req.method = std::string(msg.method_string());
    req.target = std::string(msg.target());
    req.body = std::move(msg.body());
    if (auto it = msg.find(http::field::content_type); it != msg.end()) req.content_type = std::string(it->value());
    if (auto it = msg.find("Inference-Header-Content-Length"); it != msg.end()) {
      req.inference_header_content_length = std::string(it->value());
    }
    if (auto it = msg.find("x-request-id"); it != msg.end()) req.request_id = std::string(it->value());
    if (req.target.starts_with("/v2/repository/")) {  // the repository API's token check (rest_handler.h)
      if (auto it = msg.find(http::field::authorization); it != msg.end()) req.authorization = std::string(it->value());
    }
    req.cloudevent_binary = msg.find("ce-specversion") != msg.end();
    version_ = msg.version();

    inflight_.emplace(state_);
    auto self = this->shared_from_this();
    auto executor = socket_.get_executor();
    std::thread::id io_thread = std::this_thread::get_id();
    handler_->Handle(std::move(req), [self, executor, io_thread](RestResponse&& r) {
      if (std::this_thread::get_id() == io_thread) {
        self->Write(std::move(r));
      } else {
        asio::post(executor, [self, r = std::move(r)]() mutable { self->Write(std::move(r)); });
      }
    });
  }

  void SendError(int status, const std::string& message) {
    keep_alive_ = false;
    RestResponse r;
    r.status = status;
    r.body = ErrorJson(message);
    inflight_.emplace(state_);
    Write(std::move(r));
  }

  void Write(RestResponse&& r) {
    res_.emplace();
    res_->version(version_ ? version_ : 11);
    res_->result(static_cast<unsigned>(r.status));
    res_->set(http::field::content_type, r.content_type);
    if (r.inference_header_content_length) {
      res_->set("Inference-Header-Content-Length", std::to_string(*r.inference_header_content_length));
    }
    for (auto& [k, v] : r.headers) res_->set(k, v);
    bool keep = keep_alive_ && !state_->draining.load(std::memory_order_relaxed);
    res_->keep_alive(keep);
    res_->body() = std::move(r.body);
    res_->prepare_payload();
    http::async_write(socket_, *res_, [self = this->shared_from_this(), keep](beast::error_code ec, size_t) {
      self->inflight_.reset();
      if (ec || !keep) return self->Close();
      self->Read();
    });
  }

  void Close() {
    beast::error_code ec;
    socket_.shutdown(Socket::shutdown_send, ec);
    socket_.close(ec);
  }

  Socket socket_;
  RestHandler* handler_;
  ServerState* state_;
  const ServerOptions* options_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  std::optional<http::response<http::string_body>> res_;
  std::optional<InflightGuard> inflight_;
  bool keep_alive_ = true;
  unsigned version_ = 11;
};

}  // namespace

struct HttpServer::Impl {
  RestHandler* handler;
  ServerState* state;
  ServerOptions options;
  struct Loop {
    asio::io_context ctx{1};
    std::optional<tcp::acceptor> acceptor;
    std::optional<unix_stream::acceptor> uds_acceptor;  // --uds: on the first loop only
    std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work;
  };
  std::vector<std::unique_ptr<Loop>> loops;
  std::vector<std::thread> threads;
  int port = 0;
  bool uds_bound = false;  // the socket file is ours to remove
  size_t uds_next = 0;     // round robin of UDS connections over the loops (the accepting loop's thread only)

  void Accept(Loop* loop) {
    loop->acceptor->async_accept([this, loop](beast::error_code ec, tcp::socket socket) {
      if (ec == asio::error::operation_aborted || !loop->acceptor->is_open()) return;
      if (!ec) {
        socket.set_option(tcp::no_delay(true), ec);
        std::make_shared<Session<tcp::socket>>(std::move(socket), handler, state, &options)->Start();
      } else {
        LOG_WARN("accept failed: {}", ec.message());
      }
      Accept(loop);
    });
  }

  // One listening Unix socket; each accepted connection goes to the next loop (its io_context), where its
  // session runs like a TCP one.
  void AcceptUds(Loop* loop) {
    Loop* target = loops[uds_next++ % loops.size()].get();
    loop->uds_acceptor->async_accept(target->ctx, [this, loop](beast::error_code ec, unix_stream::socket socket) {
      if (ec == asio::error::operation_aborted || !loop->uds_acceptor->is_open()) return;
      if (!ec) {
        std::make_shared<Session<unix_stream::socket>>(std::move(socket), handler, state, &options)->Start();
      } else {
        LOG_WARN("accept failed on {}: {}", options.uds_path, ec.message());
      }
      AcceptUds(loop);
    });
  }

  Status ListenUds() {
    const std::string& path = options.uds_path;
    if (path.size() >= sizeof(sockaddr_un{}.sun_path)) {
      return InvalidArgument("--uds: '" + path + "' is longer than " +
                             std::to_string(sizeof(sockaddr_un{}.sun_path) - 1) + " bytes");
    }
    struct stat st {};
    if (::lstat(path.c_str(), &st) == 0) {
      if (!S_ISSOCK(st.st_mode)) return InvalidArgument("--uds: '" + path + "' exists and is not a socket");
      ::unlink(path.c_str());  // stale, from an earlier run
    }
    beast::error_code ec;
    auto& acc = loops.front()->uds_acceptor.emplace(loops.front()->ctx);
    unix_stream::endpoint ep(path);
    acc.open(ep.protocol(), ec);
    if (!ec) acc.bind(ep, ec);
    if (!ec) {
      uds_bound = true;
      if (::chmod(path.c_str(), 0600) != 0) return Internal("--uds: cannot chmod '" + path + "'");
      acc.listen(asio::socket_base::max_listen_connections, ec);
    }
    if (ec) return Unavailable("http: cannot listen on unix socket " + path + ": " + ec.message());
    return Status::Ok();
  }

  void RemoveUds() {
    if (!uds_bound) return;
    uds_bound = false;
    ::unlink(options.uds_path.c_str());
  }
};

HttpServer::HttpServer(RestHandler* handler, ServerState* state, const ServerOptions& options)
    : impl_(std::make_unique<Impl>()) {
  impl_->handler = handler;
  impl_->state = state;
  impl_->options = options;
}

HttpServer::~HttpServer() { Stop(); }

Status HttpServer::Start() {
  int workers = impl_->options.workers > 0 ? impl_->options.workers
                                           : std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
  beast::error_code ec;
  auto address = asio::ip::make_address(impl_->options.host, ec);
  if (ec) return InvalidArgument("host: '" + impl_->options.host + "' is not an IP address");
  int port = impl_->options.http_port;
  for (int i = 0; i < workers; ++i) {
    auto loop = std::make_unique<Impl::Loop>();
    loop->acceptor.emplace(loop->ctx);
    tcp::endpoint ep(address, static_cast<unsigned short>(port));
    auto& acc = *loop->acceptor;
    acc.open(ep.protocol(), ec);
    if (!ec) acc.set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) {
      int one = 1;
      if (setsockopt(acc.native_handle(), SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0) {
        return Internal("http: cannot set SO_REUSEPORT");
      }
    }
    if (!ec) acc.bind(ep, ec);
    if (!ec) acc.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) return Unavailable("http: cannot listen on " + impl_->options.host + ":" + std::to_string(port) + ": " + ec.message());
    if (i == 0) port = acc.local_endpoint().port();
    impl_->loops.push_back(std::move(loop));
  }
  impl_->port = port;
  if (!impl_->options.uds_path.empty()) RETURN_IF_ERROR(impl_->ListenUds());
  for (auto& loop : impl_->loops) {
    loop->work.emplace(loop->ctx.get_executor());
    impl_->Accept(loop.get());
    if (loop->uds_acceptor) impl_->AcceptUds(loop.get());
    impl_->threads.emplace_back([l = loop.get()] { l->ctx.run(); });
  }
  return Status::Ok();
}

int HttpServer::port() const { return impl_->port; }

void HttpServer::StopAccepting() {
  for (auto& loop : impl_->loops) {
    asio::post(loop->ctx, [l = loop.get()] {
      beast::error_code ec;
      if (l->acceptor) l->acceptor->close(ec);
      if (l->uds_acceptor) l->uds_acceptor->close(ec);
    });
  }
}

void HttpServer::Stop() {
  if (!impl_) return;
  for (auto& loop : impl_->loops) {
    loop->work.reset();
    loop->ctx.stop();
  }
  for (auto& t : impl_->threads)
    if (t.joinable()) t.join();
  impl_->threads.clear();
  impl_->RemoveUds();
}

}  // namespace inferd
