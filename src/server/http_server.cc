#include "server/http_server.h"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/post.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <future>
#include <optional>
#include <thread>
#include <vector>

#include "core/ascii.h"
#include "core/http_status.h"
#include "core/logging.h"
#include "net/conn_handoff.h"
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
  // --processes (the contract): a copy of this server, reached over a channel (first loop's thread only).
  // Never erased, so that a pick made before an accept completes stays valid.
  struct Copy {
    explicit Copy(asio::io_context& ctx) : watch(ctx) {}
    asio::posix::stream_descriptor watch;  // owns the channel
    bool ready = false;                    // it said it serves
    bool gone = false;                     // its channel failed: skipped for good
  };
  std::vector<std::unique_ptr<Copy>> copies;
  std::optional<asio::posix::stream_descriptor> incoming;  // a copy's side: where its connections arrive

  // Where a listener's next connection goes: every listener accepts on the first loop and hands each
  // connection to the next loop (or ready copy) in turn. Why not one SO_REUSEPORT acceptor per loop (as
  // before): the kernel hashes connections onto the acceptors, so 8 connections split 6/2 or 7/1 about as
  // often as 4/4, and one loop saturates while the other idles (docs/benchmarks.md, "Connections in turn").
  // First loop's thread only.
  struct Spread {
    size_t next = 0;
    Loop* target = nullptr;  // the loop the pending accept's socket belongs to
    Copy* copy = nullptr;    // or the copy it is passed to
  };
  Spread tcp_spread;
  Spread uds_spread;

  std::function<asio::io_context&()> Picker(Spread* spread) {
    return [this, spread]() -> asio::io_context& {
      const size_t i = spread->next++ % (loops.size() + copies.size());
      spread->copy = i >= loops.size() && copies[i - loops.size()]->ready ? copies[i - loops.size()].get() : nullptr;
      spread->target = loops[i % loops.size()].get();
      return spread->target->ctx;
    };
  }

  template <class Socket>
  void StartSession(Loop* first, Loop* target, Socket socket) {
    if (target == first) {
      std::make_shared<Session<Socket>>(std::move(socket), &*target->conns, &app)->Start();
      return;
    }
    asio::post(target->ctx, [this, target, s = std::move(socket)]() mutable {
      std::make_shared<Session<Socket>>(std::move(s), &*target->conns, &app)->Start();
    });
  }

  // Passes the accepted socket to `copy` (which then owns the connection); false: serve it here.
  template <class Socket>
  bool PassToCopy(Copy* copy, Socket& socket, char kind) {
    if (copy == nullptr || !copy->ready) return false;
    if (!net::SendConn(copy->watch.native_handle(), socket.native_handle(), kind)) {
      if (errno != EAGAIN && errno != EWOULDBLOCK) {
        LOG_WARN("--processes: a copy's channel failed ({}); its connections are served here", std::strerror(errno));
        copy->gone = true;
        copy->ready = false;
      }
      return false;
    }
    beast::error_code ec;
    socket.close(ec);
    gate->Leave();  // the copy counts the connection against its own cap
    return true;
  }

  void StartTcp(Loop* loop, tcp::acceptor acc) {
    loop->acceptor.emplace(std::move(acc), "http", gate, Picker(&tcp_spread), [this, loop](tcp::socket socket) {
      if (PassToCopy(tcp_spread.copy, socket, net::kConnTcp)) return;
      beast::error_code ec;
      socket.set_option(tcp::no_delay(true), ec);
      StartSession(loop, tcp_spread.target, std::move(socket));
    });
    loop->acceptor->Start();
  }

  void StartUds(Loop* loop, unix_stream::acceptor acc) {
    loop->uds_acceptor.emplace(std::move(acc), "http (" + options.uds_path + ")", gate, Picker(&uds_spread),
                               [this, loop](unix_stream::socket socket) {
                                 if (PassToCopy(uds_spread.copy, socket, net::kConnUnix)) return;
                                 StartSession(loop, uds_spread.target, std::move(socket));
                               });
    loop->uds_acceptor->Start();
  }

  // The first process: reads the copy's channel ('R': it serves; end: it is gone).
  void WatchCopy(Copy* copy) {
    copy->watch.async_wait(asio::posix::stream_descriptor::wait_read, [this, copy](const beast::error_code& ec) {
      if (ec || copy->gone) return;
      for (net::Received r = net::Receive(copy->watch.native_handle()); r.what != net::Received::kEmpty;
           r = net::Receive(copy->watch.native_handle())) {
        if (r.what == net::Received::kReady) copy->ready = true;
        if (r.what == net::Received::kConn) ::close(r.fd);  // copies send no connections back
        if (r.what == net::Received::kClosed) {
          copy->gone = true;
          copy->ready = false;
          return;
        }
      }
      WatchCopy(copy);
    });
  }

  // A copy: takes the connections the first process passes, spread over this process's loops in turn.
  void ReceiveConns() {
    incoming->async_wait(asio::posix::stream_descriptor::wait_read, [this](const beast::error_code& ec) {
      if (ec || !incoming->is_open()) return;
      for (net::Received r = net::Receive(incoming->native_handle()); r.what != net::Received::kEmpty;
           r = net::Receive(incoming->native_handle())) {
        if (r.what == net::Received::kClosed) {
          LOG_WARN("--processes: the first process closed the connection channel; no new connections");
          return;
        }
        if (r.what == net::Received::kConn) Adopt(r.fd, r.kind);
      }
      ReceiveConns();
    });
  }

  void Adopt(int fd, char kind) {
    if (!gate->TryEnter()) {
      ::close(fd);  // at the cap, as the acceptor does
      return;
    }
    Loop* first = loops.front().get();
    Loop* target = loops[tcp_spread.next++ % loops.size()].get();
    beast::error_code ec;
    if (kind == net::kConnUnix) {
      unix_stream::socket s(target->ctx);
      s.assign(unix_stream(), fd, ec);
      if (!ec) return StartSession(first, target, std::move(s));
    } else {
      sockaddr_storage addr{};
      socklen_t len = sizeof addr;
      const bool v6 = ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0 && addr.ss_family == AF_INET6;
      tcp::socket s(target->ctx);
      s.assign(v6 ? tcp::v6() : tcp::v4(), fd, ec);
      if (!ec) {
        s.set_option(tcp::no_delay(true), ec);
        return StartSession(first, target, std::move(s));
      }
    }
    ::close(fd);
    gate->Leave();
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
  for (int i = 0; i < net::EventLoops(o.workers); ++i) {
    auto loop = std::make_unique<Impl::Loop>();
    loop->conns.emplace(loop->ctx, "http", o.limits.timeouts, impl_->gate, impl_->budget);
    impl_->loops.push_back(std::move(loop));
  }
  tcp::acceptor acceptor(impl_->loops.front()->ctx);
  if (o.handoff_fd >= 0) {
    boost::system::error_code ec;
    impl_->incoming.emplace(impl_->loops.front()->ctx);
    impl_->incoming->assign(o.handoff_fd, ec);
    if (ec) return InvalidArgument("--handoff_fd " + std::to_string(o.handoff_fd) + ": " + ec.message());
    impl_->port = o.http_port;
  } else {
    RETURN_IF_ERROR(net::ListenTcp(acceptor, address, o.http_port, /*reuse_port=*/false, "http"));
    boost::system::error_code ec;
    impl_->port = acceptor.local_endpoint(ec).port();
    if (ec) return Internal("http: the listening socket has no address: " + ec.message());
  }
  std::optional<unix_stream::acceptor> uds;
  if (!o.uds_path.empty()) {
    uds.emplace(impl_->loops.front()->ctx);
    RETURN_IF_ERROR(net::ListenUnix(*uds, o.uds_path, &impl_->uds_bound, "--uds"));
  }
  for (size_t i = 0; i < impl_->loops.size(); ++i) {
    Impl::Loop* loop = impl_->loops[i].get();
    loop->work.emplace(loop->ctx.get_executor());
    if (i == 0 && acceptor.is_open()) impl_->StartTcp(loop, std::move(acceptor));
    if (i == 0 && uds) impl_->StartUds(loop, std::move(*uds));
  }
  if (impl_->incoming) impl_->ReceiveConns();
  for (auto& loop : impl_->loops) impl_->threads.emplace_back([l = loop.get()] { l->ctx.run(); });
  if (impl_->incoming && !net::SendReady(o.handoff_fd)) {
    return Internal("--processes: cannot tell the first process that this copy serves");
  }
  return Status::Ok();
}

void HttpServer::AddCopy(int channel) {
  if (impl_->loops.empty()) {
    ::close(channel);
    return;
  }
  Impl* impl = impl_.get();
  asio::post(impl->loops.front()->ctx, [impl, channel] {
    auto copy = std::make_unique<Impl::Copy>(impl->loops.front()->ctx);
    boost::system::error_code ec;
    copy->watch.assign(channel, ec);
    if (ec) {
      LOG_WARN("--processes: a copy's channel cannot be watched ({}); it gets no connections", ec.message());
      ::close(channel);
      return;
    }
    impl->copies.push_back(std::move(copy));
    impl->WatchCopy(impl->copies.back().get());
  });
}

std::vector<size_t> HttpServer::OpenConnectionsPerLoop() {
  std::vector<size_t> out;
  for (auto& loop : impl_->loops) {
    std::promise<size_t> open;
    asio::post(loop->ctx, [&open, l = loop.get()] { open.set_value(l->conns->open()); });
    out.push_back(open.get_future().get());
  }
  return out;
}

int HttpServer::port() const { return impl_->port; }

void HttpServer::StopAccepting() {
  for (auto& loop : impl_->loops) {
    asio::post(loop->ctx, [this, l = loop.get()] {
      if (l->acceptor) l->acceptor->Close();
      if (l->uds_acceptor) l->uds_acceptor->Close();
      if (l == impl_->loops.front().get() && impl_->incoming) {
        boost::system::error_code ec;
        impl_->incoming->close(ec);
      }
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
