#include "operator/health.h"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>

#include <optional>
#include <utility>
#include <vector>

#include "net/http_session.h"
#include "net/listener.h"

namespace inferd::op {

namespace asio = boost::asio;
namespace http = boost::beast::http;
using tcp = asio::ip::tcp;

namespace {

struct Reply {
  int status = 200;
  std::string content_type = "text/plain";
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
};

// The probes' handler for net::HttpSession (net/http_session.h lists what an App provides).
struct HealthApp {
  using Reply = op::Reply;
  struct Scope {
    explicit Scope(HealthApp&) {}
  };
  using Request = http::request<http::string_body>;

  std::function<bool()> ready;

  uint64_t body_limit() const { return kMaxBody; }
  std::string_view body_limit_flag() const { return {}; }
  const char* busy_name() const { return "operator"; }
  bool keep_alive() const { return true; }
  template <class Session>
  std::optional<Reply> OnHead(Session&, const Request&) {
    return std::nullopt;
  }
  Reply Answer(const net::HttpAnswer& a) { return {a.status, "text/plain", {}, a.message + "\n"}; }
  template <class Session>
  void Handle(const std::shared_ptr<Session>& session, Request& msg) {
    session->Respond(Route(msg));
  }
  void Fill(Reply&& r, http::response<http::string_body>& res) { net::FillResponse(std::move(r), res); }

  Reply Route(const Request& msg) const {
    if (msg.method() != http::verb::get && msg.method() != http::verb::head) {
      return {405, "text/plain", {{"Allow", "GET, HEAD"}}, "GET only\n"};
    }
    const std::string_view target(msg.target().data(), msg.target().size());
    if (target == "/healthz" || target == "/livez") return {200, "text/plain", {}, "ok\n"};
    if (target == "/readyz") {
      const bool ok = ready && ready();
      return {ok ? 200 : 503, "text/plain", {}, ok ? "ok\n" : "caches not synced yet\n"};
    }
    return {404, "text/plain", {}, "not found\n"};
  }

  static constexpr uint64_t kMaxBody = 4096;  // probes send none
};

using Session = net::HttpSession<tcp::socket, HealthApp>;

}  // namespace

struct HealthServer::Impl {
  asio::io_context ctx{1};                    // first: destroyed last, after every socket bound to it
  std::optional<net::LoopConns> conns;        // after ctx: destroyed first
  HealthApp app;
  std::optional<net::AcceptLoop<tcp>> acceptor;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work;
  std::thread thread;
};

StatusOr<std::unique_ptr<HealthServer>> HealthServer::Start(const std::string& host, int port, std::function<bool()> ready) {
  ASSIGN_OR_RETURN(auto address, net::ListenAddress(host, "--health_host"));
  std::unique_ptr<HealthServer> s(new HealthServer());
  s->impl_ = std::make_unique<Impl>();
  Impl& i = *s->impl_;
  i.app.ready = std::move(ready);
  tcp::acceptor acc(i.ctx);
  RETURN_IF_ERROR(net::ListenTcp(acc, address, port, /*reuse_port=*/false, "health"));
  s->port_ = acc.local_endpoint().port();
  net::Limits limits;
  limits.timeouts = {kProbeTimeoutMs, kProbeTimeoutMs, kProbeTimeoutMs, kProbeTimeoutMs};
  limits.max_connections = kMaxConnections;
  RETURN_IF_ERROR(net::ResolveLimits(&limits, HealthApp::kMaxBody));
  i.conns.emplace(i.ctx, "health", limits.timeouts, std::make_shared<net::ConnGate>(limits.max_connections),
                  std::make_shared<net::BodyBudget>(limits.max_body_bytes_in_flight));
  i.acceptor.emplace(
      std::move(acc), "health", i.conns->gate_ptr(), [&i]() -> asio::io_context& { return i.ctx; },
      [&i](tcp::socket socket) { std::make_shared<Session>(std::move(socket), &*i.conns, &i.app)->Start(); });
  i.acceptor->Start();
  i.work.emplace(i.ctx.get_executor());
  i.thread = std::thread([&i] { i.ctx.run(); });
  return s;
}

HealthServer::~HealthServer() {
  if (!impl_) return;
  asio::post(impl_->ctx, [i = impl_.get()] { i->acceptor->Close(); });
  impl_->work.reset();
  impl_->ctx.stop();
  if (impl_->thread.joinable()) impl_->thread.join();
  impl_->acceptor->Close();
}

}  // namespace inferd::op
