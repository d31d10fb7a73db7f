#include "server/http_server.h"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/post.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <unistd.h>

#include <atomic>
#include <optional>
#include <thread>
#include <vector>

#include "core/logging.h"
#include "net/http_io.h"
#include "net/listener.h"
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
// its own socket type (no indirection on the TCP path). Phases and deadlines: net/conn.h.
template <class Socket>
class Session : public net::TrackedConn, public std::enable_shared_from_this<Session<Socket>> {
 public:
  Session(Socket socket, net::LoopConns* loop, RestHandler* handler, ServerState* state, const ServerOptions* options)
      : net::TrackedConn(loop), socket_(std::move(socket)), handler_(handler), state_(state), options_(options) {}

  void Start() {
    NewParser();
    ReadSome();  // kHead since the accept
  }

 private:
  void OnExpired(net::Phase) override { Close(); }

  void NewParser() {
    parser_.emplace();
    parser_->header_limit(kHeaderLimit);
    parser_->body_limit(options_->max_request_bytes);
  }

  // The next request on a keep-alive connection: already (partly) here when pipelined, else kIdle.
  void Next() {
    NewParser();
    if (buffer_.size() != 0) {
      SetPhase(net::Phase::kHead);
      return Parse();
    }
    SetPhase(net::Phase::kIdle);
    ReadSome();
  }

  void ReadSome() {
    socket_.async_read_some(buffer_.prepare(net::ReadSize(buffer_)),
                            [self = this->shared_from_this()](beast::error_code ec, size_t n) {
                              self->OnBytes(ec, n);
                            });
  }

  void OnBytes(beast::error_code ec, size_t n) {
    if (ec) return Close();  // EOF, reset, closed by the sweep; also in the middle of a request
    buffer_.commit(n);
    if (phase() == net::Phase::kIdle) {
      SetPhase(net::Phase::kHead);
    } else if (phase() == net::Phase::kBody) {
      Progress();
    }
    Parse();
  }

  void Parse() {
    beast::error_code ec;
    for (;;) {
      switch (net::Feed(*parser_, buffer_, ec)) {
        case net::Fed::kNeedMore:
          if (parser_->chunked() && !ReserveChunked()) return;
          return ReadSome();
        case net::Fed::kError:
          return OnParseError(ec);
        case net::Fed::kHeader:
          // The body's bytes are counted before any is read: past the budget, 503 without reading it.
          if (auto len = parser_->content_length(); len && !ReserveBody(*len)) return SendBusy();
          SetPhase(net::Phase::kBody);
          continue;
        case net::Fed::kDone:
          return OnRequest();
      }
    }
  }

  // A chunked body has no length up front: it reserves as it grows.
  bool ReserveChunked() {
    if (ReserveGrowth(parser_->get().body().size())) return true;
    SendBusy();
    return false;
  }

  void OnParseError(beast::error_code ec) {
    if (ec == http::error::body_limit) {
      return SendError(413, "request body is larger than the limit of " +
                                std::to_string(options_->max_request_bytes) + " bytes (--max_request_bytes)");
    }
    if (ec == http::error::header_limit) {
      return SendError(431, "request headers are larger than " + std::to_string(kHeaderLimit) + " bytes");
    }
    SendError(400, std::string("malformed HTTP request: ") + ec.message());
  }

  void OnRequest() {
    SetPhase(net::Phase::kBusy);
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
    // Called once. From another thread, `self` moves into the posted handler: the session must end on its
    // loop's thread (net::TrackedConn), not where the handler's callback object happens to be destroyed.
    handler_->Handle(std::move(req), [self, executor, io_thread](RestResponse&& r) mutable {
      if (std::this_thread::get_id() == io_thread) {
        self->Write(std::move(r));
      } else {
        asio::post(executor, [self = std::move(self), r = std::move(r)]() mutable { self->Write(std::move(r)); });
      }
    });
  }

  void SendBusy() {
    RestResponse r;
    r.status = 503;
    r.body = ErrorJson("the server is busy: request bodies in flight would exceed " +
                       std::to_string(body_budget()) +
                       " bytes (--max_body_bytes_in_flight); retry later");
    r.headers.emplace_back("Retry-After", "1");
    SendError(std::move(r));
  }

  void SendError(int status, const std::string& message) {
    RestResponse r;
    r.status = status;
    r.body = ErrorJson(message);
    SendError(std::move(r));
  }

  // An answer after which the connection closes, the rest of the request (if any) unread.
  void SendError(RestResponse&& r) {
    keep_alive_ = false;
    linger_ = true;
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
    sr_.emplace(*res_);
    SetPhase(net::Phase::kSend);
    net::WriteMessage(socket_, *sr_, [this] { Progress(); },
                      [self = this->shared_from_this(), keep](beast::error_code ec) {
                        self->sr_.reset();
                        self->ReleaseBody();
                        self->inflight_.reset();
                        if (ec) return self->Close();
                        if (self->linger_) return self->Linger();
                        if (!keep) return self->Close();
                        self->Next();
                      });
  }

  // After an error answer: half-close, then drop what the client still sends (for at most kLingerMs, the
  // sweep's deadline), so the close does not turn into a reset that loses the answer.
  void Linger() {
    beast::error_code ec;
    socket_.shutdown(Socket::shutdown_send, ec);
    if (ec) return Close();
    SetPhase(net::Phase::kLinger);
    buffer_.clear();
    net::Discard(socket_, buffer_, net::kLingerMaxBytes, [self = this->shared_from_this()] { self->Close(); });
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
  std::optional<http::response_serializer<http::string_body>> sr_;
  std::optional<InflightGuard> inflight_;
  bool keep_alive_ = true;
  bool linger_ = false;
  unsigned version_ = 11;
};

}  // namespace

struct HttpServer::Impl {
  RestHandler* handler;
  ServerState* state;
  ServerOptions options;
  // Shared by every loop (the TCP port and the Unix socket count as one listener).
  std::shared_ptr<net::ConnGate> gate;
  std::shared_ptr<net::BodyBudget> budget;
  struct Loop {
    asio::io_context ctx{1};
    std::optional<net::LoopConns> conns;  // after ctx: destroyed first (it detaches what ctx still holds)
    std::optional<net::AcceptLoop<tcp>> acceptor;
    std::optional<net::AcceptLoop<unix_stream>> uds_acceptor;  // --uds: on the first loop only
    std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work;
  };
  std::vector<std::unique_ptr<Loop>> loops;
  std::vector<std::thread> threads;
  int port = 0;
  bool uds_bound = false;  // the socket file is ours to remove
  size_t uds_next = 0;     // round robin of UDS connections over the loops (the accepting loop's thread only)
  Loop* uds_target = nullptr;  // the loop the pending UDS accept's socket belongs to

  void StartTcp(Loop* loop, tcp::acceptor acc) {
    loop->acceptor.emplace(
        std::move(acc), "http", gate, [loop]() -> asio::io_context& { return loop->ctx; },
        [this, loop](tcp::socket socket) {
          beast::error_code ec;
          socket.set_option(tcp::no_delay(true), ec);
          std::make_shared<Session<tcp::socket>>(std::move(socket), &*loop->conns, handler, state, &options)->Start();
        });
    loop->acceptor->Start();
  }

  // One listening Unix socket; each accepted connection goes to the next loop (its io_context), where its
  // session is created and runs like a TCP one.
  void StartUds(Loop* loop, unix_stream::acceptor acc) {
    loop->uds_acceptor.emplace(
        std::move(acc), "http (" + options.uds_path + ")", gate,
        [this]() -> asio::io_context& {
          uds_target = loops[uds_next++ % loops.size()].get();
          return uds_target->ctx;
        },
        [this](unix_stream::socket socket) {
          Loop* target = uds_target;  // picked for this accept
          asio::post(target->ctx, [this, target, s = std::move(socket)]() mutable {
            std::make_shared<Session<unix_stream::socket>>(std::move(s), &*target->conns, handler, state, &options)
                ->Start();
          });
        });
    loop->uds_acceptor->Start();
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
  auto& o = impl_->options;
  RETURN_IF_ERROR(net::ResolveLimits(&o.limits, o.max_request_bytes));
  impl_->gate = std::make_shared<net::ConnGate>(o.limits.max_connections);
  impl_->budget = std::make_shared<net::BodyBudget>(o.limits.max_body_bytes_in_flight);
  int workers = o.workers > 0 ? o.workers : std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
  beast::error_code ec;
  auto address = asio::ip::make_address(o.host, ec);
  if (ec) return InvalidArgument("host: '" + o.host + "' is not an IP address");
  int port = o.http_port;
  std::vector<tcp::acceptor> acceptors;
  for (int i = 0; i < workers; ++i) {
    auto loop = std::make_unique<Impl::Loop>();
    loop->conns.emplace(loop->ctx, "http", o.limits.timeouts, impl_->gate, impl_->budget);
    tcp::acceptor acc(loop->ctx);
    RETURN_IF_ERROR(net::ListenTcp(acc, address, port, /*reuse_port=*/true, "http"));
    if (i == 0) port = acc.local_endpoint().port();
    acceptors.push_back(std::move(acc));
    impl_->loops.push_back(std::move(loop));
  }
  impl_->port = port;
  std::optional<unix_stream::acceptor> uds;
  if (!o.uds_path.empty()) {
    uds.emplace(impl_->loops.front()->ctx);
    RETURN_IF_ERROR(net::ListenUnix(*uds, o.uds_path, &impl_->uds_bound, "--uds"));
  }
  for (size_t i = 0; i < impl_->loops.size(); ++i) {
    Impl::Loop* loop = impl_->loops[i].get();
    loop->work.emplace(loop->ctx.get_executor());
    impl_->StartTcp(loop, std::move(acceptors[i]));
    if (i == 0 && uds) impl_->StartUds(loop, std::move(*uds));
    impl_->threads.emplace_back([loop] { loop->ctx.run(); });
  }
  return Status::Ok();
}

int HttpServer::port() const { return impl_->port; }

void HttpServer::StopAccepting() {
  for (auto& loop : impl_->loops) {
    asio::post(loop->ctx, [l = loop.get()] {
      if (l->acceptor) l->acceptor->Close();
      if (l->uds_acceptor) l->uds_acceptor->Close();
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
