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

#include "core/ascii.h"
#include "core/http_status.h"
#include "core/logging.h"
#include "net/http_session.h"
#include "net/listener.h"

namespace inferd {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using unix_stream = asio::local::stream_protocol;

namespace {

using Request = http::request<http::string_body>;

// The model server's side of net::HttpSession: a request becomes a RestRequest for the RestHandler, whose
// answer (from any thread) is written back on the connection's loop.
struct RestApp {
  using Reply = RestResponse;
  struct Scope {  // the request counts as in flight (SIGTERM drain) until its answer is written
    explicit Scope(RestApp& app) : guard(app.state) {}
    InflightGuard guard;
  };

  RestHandler* handler;
  ServerState* state;
  const ServerOptions* options;

  uint64_t body_limit() const { return options->max_request_bytes; }
  std::string_view body_limit_flag() const { return "--max_request_bytes"; }
  const char* busy_name() const { return "server"; }
  bool keep_alive() const { return !state->draining.load(std::memory_order_relaxed); }

  template <class Session>
  std::optional<Reply> OnHead(Session&, const Request&) {
    return std::nullopt;
  }

  Reply Answer(const net::HttpAnswer& a) {
    RestResponse r;
    r.status = a.status;
    r.body = ErrorJson(a.message);
    return r;
  }

  template <class Session>
  void Handle(const std::shared_ptr<Session>& session, Request& msg) {
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
    if (options->collect_headers) {
      for (const auto& f : msg) {
        std::string name(f.name_string());
        for (char& c : name) c = AsciiLower(c);
        req.headers.emplace_back(std::move(name), std::string(f.value()));
      }
    }
    // Called once, from any thread (net::HttpSession::Responder posts it to the loop).
    handler->Handle(std::move(req), session->Responder());
  }

  void Fill(RestResponse&& r, http::response<http::string_body>& res) {
    if (r.inference_header_content_length) {
      res.set("Inference-Header-Content-Length", std::to_string(*r.inference_header_content_length));
    }
    net::FillResponse(std::move(r), res);
  }
};

// Socket: tcp::socket (the port) or unix_stream::socket (--uds); the same code for both, each compiled for
// its own socket type (no indirection on the TCP path).
template <class Socket>
using Session = net::HttpSession<Socket, RestApp>;

}  // namespace

struct HttpServer::Impl {
  ServerOptions options;
  RestApp app{nullptr, nullptr, &options};
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
          std::make_shared<Session<tcp::socket>>(std::move(socket), &*loop->conns, &app)->Start();
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
            std::make_shared<Session<unix_stream::socket>>(std::move(s), &*target->conns, &app)->Start();
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
  impl_->options = options;
  impl_->app.handler = handler;
  impl_->app.state = state;
}

HttpServer::~HttpServer() { Stop(); }

Status HttpServer::Start() {
  auto& o = impl_->options;
  RETURN_IF_ERROR(net::ResolveLimits(&o.limits, o.max_request_bytes));
  impl_->gate = std::make_shared<net::ConnGate>(o.limits.max_connections);
  impl_->budget = std::make_shared<net::BodyBudget>(o.limits.max_body_bytes_in_flight);
  ASSIGN_OR_RETURN(auto address, net::ListenAddress(o.host, "host"));
  std::vector<asio::io_context*> contexts;
  for (int i = 0; i < net::EventLoops(o.workers); ++i) {
    auto loop = std::make_unique<Impl::Loop>();
    loop->conns.emplace(loop->ctx, "http", o.limits.timeouts, impl_->gate, impl_->budget);
    contexts.push_back(&loop->ctx);
    impl_->loops.push_back(std::move(loop));
  }
  std::vector<tcp::acceptor> acceptors;
  RETURN_IF_ERROR(net::ListenTcpEach(contexts, address, o.http_port, "http", &acceptors, &impl_->port));
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
