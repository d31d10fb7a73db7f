// gateway/graph_calls.cc: InferenceGraph runs and their step calls on the gateway's workers (see the header).
#include "gateway/graph_calls.h"

#include <boost/asio/connect.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

#include <algorithm>
#include <optional>

#include "core/clock.h"
#include "core/logging.h"
#include "gateway/http_worker.h"

namespace inferd::gateway::http_internal {

namespace {

using Ms = std::chrono::milliseconds;

std::string Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return std::string(s);
}

// A propagated header the step request may carry: not its framing or its Host, which the call sets itself (a
// pattern such as `.*` would otherwise duplicate them).
bool Propagable(const std::string& name) {
  return !beast::iequals(name, "host") && !beast::iequals(name, "content-length") &&
         !beast::iequals(name, "transfer-encoding");
}

// One call to a service of this gateway, through the worker's machinery (the client session's upstream half,
// for a request the gateway makes itself: Beast serializes it and parses the answer; there is no client byte
// buffer to forward as is).
class StepCall : public std::enable_shared_from_this<StepCall> {
 public:
  StepCall(Worker* w, std::string host, std::string target, std::string body, graph::Headers headers,
           Ms step_timeout, size_t max_answer, std::function<void(graph::CallOutcome)> done)
      : w_(w),
        host_(std::move(host)),
        target_(std::move(target)),
        body_(std::move(body)),
        headers_(std::move(headers)),
        step_timeout_(step_timeout),
        max_answer_(max_answer),
        done_(std::move(done)),
        timer_(w->ctx) {}

  ~StepCall() {
    if (held_) NoteUnheld(*stats_);
    if (ep_ != nullptr || stats_open_) EndUpstream(true);
  }

  void Start() {
    start_ns_ = NowNs();
    Dispatch();
  }

 private:
  // The binding deadline of this call from its start: the service's timeout, or the step's when shorter.
  Ms Limit() const { return step_timeout_.count() > 0 ? std::min(step_timeout_, svc_->timeout) : svc_->timeout; }
  bool StepBinds() const { return step_timeout_.count() > 0 && step_timeout_ < svc_->timeout; }

  void Dispatch() {
    table_ = w_->Table();
    routed_version_ = w_->table_version;
    RouteMatch m = Route(*table_, host_, target_);
    if (m.service == nullptr) {
      return Fail(stats_open_ ? 503 : 404,
                  stats_open_ ? "the service was removed while the request waited for a replica"
                              : "no route for host '" + host_ + "' path '" + target_ + "'");
    }
    svc_ = m.service;
    path_ = std::string(m.path());
    rev_ = PickRevision(*svc_, m.tag, w_->rng.Next());
    if (rev_ == nullptr) return Fail(503, svc_->unavailable);
    if (!stats_open_) {
      stats_ = rev_->stats.get();
      StatsBegin(*stats_, start_ns_);
      stats_open_ = true;
    }
    if (EndpointState* ep = AcquireEndpoint(*rev_, w_->rr++)) return SendTo(ep);
    Hold();
  }

  // The activator, as for a client's request (http_proxy.cc's Session::Hold).
  void Hold() {
    const bool none = !HasLiveEndpoint(*rev_);
    if (none && !rev_->unavailable.empty()) return Fail(503, rev_->unavailable);
    if (!held_stats_) held_stats_ = rev_->stats;
    HoldQueue& q = *rev_->stats->queue;
    EndpointState* ep = nullptr;
    const int64_t deadline = start_ns_ + std::chrono::duration_cast<std::chrono::nanoseconds>(Limit()).count();
    HoldQueue::Waiter waiter{deadline, [self = shared_from_this(), ctx = &w_->ctx](HoldEnd why) mutable {
                               asio::post(*ctx, [self = std::move(self), why] { self->OnHoldEnd(why); });
                             }};
    switch (HoldOrGo(q, w_->options->max_held_per_revision, *w_->holder, routed_version_,
                     [&] { return (ep = AcquireEndpoint(*rev_, w_->rr++)) != nullptr; }, std::move(waiter), woken_)) {
      case HoldResult::kGo:
        return SendTo(ep);
      case HoldResult::kStale:
        return Dispatch();
      case HoldResult::kFull:
        return Fail(503, QueueFullMessage(rev_->revision, w_->options->max_held_per_revision));
      case HoldResult::kHeld:
        break;
    }
    held_ = true;
    NoteHeld(*stats_, none, *w_->options);
  }

  void OnHoldEnd(HoldEnd why) {
    held_ = false;
    NoteUnheld(*stats_);
    if (why == HoldEnd::kWoken) {
      woken_ = true;
      return Dispatch();
    }
    if (why == HoldEnd::kShutdown) return Fail(503, "the gateway is shutting down");
    if (StepBinds()) return StepExpired();
    Fail(503, HoldTimeoutMessage(rev_ ? std::string_view(rev_->revision) : std::string_view("?"), svc_->timeout));
  }

  void SendTo(EndpointState* ep) {
    ep_ = ep;
    upstream_active_ = true;
    const Ms waited = std::chrono::duration_cast<Ms>(std::chrono::nanoseconds(NowNs() - start_ns_));
    timer_.expires_after(std::max(Ms(1), Limit() - waited));
    timer_.async_wait([self = shared_from_this()](beast::error_code ec) { self->OnTimer(ec); });
    req_ = {};
    req_.method(http::verb::post);
    req_.target(path_);
    req_.version(11);
    req_.set(http::field::host, host_);
    bool typed = false;
    for (const auto& h : headers_) {
      if (!Propagable(h.name)) continue;
      typed |= beast::iequals(h.name, "content-type");
      req_.insert(h.name, h.value);
    }
    if (!typed) req_.set(http::field::content_type, "application/json");
    StripHopByHop(req_);
    req_.keep_alive(true);
    req_.body() = body_;
    req_.prepare_payload();
    up_ = w_->TakeIdle(ep_->id, NowNs());
    reused_ = up_ != nullptr;
    if (up_) return Write();
    Connect();
  }

  void Connect() {
    reused_ = false;
    asio::generic::stream_protocol::endpoint target;
    if (!ep_->uds_path.empty()) {
      target = asio::local::stream_protocol::endpoint(ep_->uds_path);
    } else {
      beast::error_code ec;
      auto addr = asio::ip::make_address(ep_->resolved_ip, ec);
      if (ec) return Fail(502, "cannot resolve replica host '" + ep_->host + "'");
      target = tcp::endpoint(addr, static_cast<unsigned short>(ep_->http_port));
    }
    up_ = std::make_unique<UpstreamConn>(w_->ctx);
    up_->socket.async_connect(target, [self = shared_from_this()](beast::error_code ec) { self->OnConnect(ec); });
  }

  void OnConnect(beast::error_code ec) {
    if (timed_out_) return Timeout();
    if (ec) {
      if (ec == asio::error::connection_refused || ec == boost::system::errc::no_such_file_or_directory) {
        return EndpointGone("cannot connect: " + ec.message());
      }
      return Fail(502, "cannot connect to replica " + ep_->http_name + ": " + ec.message());
    }
    if (ep_->uds_path.empty()) {
      up_->socket.set_option(tcp::no_delay(true), ec);
    } else if (ep_->pid > 0) {  // a replica restarted on the same socket path (http_proxy.cc's OnConnect)
      ucred cred{};
      socklen_t len = sizeof cred;
      if (::getsockopt(up_->socket.native_handle(), SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0 &&
          cred.pid != ep_->pid) {
        return EndpointGone("another process (pid " + std::to_string(cred.pid) + ") listens on its socket");
      }
    }
    Write();
  }

  // The replica never saw the request: another one of the revision takes it, or the activator holds it.
  void EndpointGone(const std::string& why) {
    if (MarkGone(*ep_)) {
      LOG_INFO("gateway: replica {} of revision {} is gone ({}); its requests go elsewhere or wait", ep_->http_name,
               rev_->revision, why);
    }
    w_->pools.erase(ep_->id);
    up_.reset();
    ReleaseSlot();
    if (EndpointState* other = AcquireEndpoint(*rev_, w_->rr++)) {
      ep_ = other;
      return Connect();
    }
    upstream_active_ = false;
    timer_.cancel();
    Hold();
  }

  void Write() {
    http::async_write(up_->socket, req_,
                      [self = shared_from_this()](beast::error_code ec, size_t) { self->OnWrite(ec); });
  }

  bool StaleRetry(beast::error_code ec, bool got_some) {
    if (!reused_ || stale_retried_ || got_some) return false;
    if (ec != http::error::end_of_stream && ec != asio::error::eof && ec != asio::error::connection_reset &&
        ec != asio::error::broken_pipe) {
      return false;
    }
    stale_retried_ = true;
    up_.reset();
    Connect();
    return true;
  }

  void OnWrite(beast::error_code ec) {
    if (timed_out_) return Timeout();
    if (ec) {
      if (StaleRetry(ec, false)) return;
      if (!reused_ && (ec == asio::error::connection_reset || ec == asio::error::broken_pipe)) {
        return EndpointGone("connection reset before the request was written: " + ec.message());
      }
      return Fail(502, "writing to replica " + ep_->http_name + " failed: " + ec.message());
    }
    parser_.emplace();
    parser_->header_limit(net::kHeaderLimit);
    parser_->body_limit(max_answer_);
    http::async_read(up_->socket, up_->buffer, *parser_,
                     [self = shared_from_this()](beast::error_code ec, size_t) { self->OnRead(ec); });
  }

  void OnRead(beast::error_code ec) {
    if (timed_out_) return Timeout();
    if (ec) {
      if (StaleRetry(ec, parser_->got_some())) return;
      return Fail(502, "reading from replica " + ep_->http_name + " failed: " + ec.message());
    }
    upstream_active_ = false;
    timer_.cancel();
    auto res = parser_->release();
    parser_.reset();
    if (res.keep_alive() && up_->buffer.size() == 0) w_->PutIdle(ep_->id, std::move(up_), NowNs());
    up_.reset();
    const int code = static_cast<int>(res.result_int());
    EndUpstream(code >= 500);
    Finish({Status::Ok(), code, std::move(res.body())});
  }

  void OnTimer(beast::error_code ec) {
    if (ec || !upstream_active_) return;
    timed_out_ = true;
    if (up_) {
      beast::error_code ignored;
      up_->socket.cancel(ignored);
      up_->socket.close(ignored);
    }
  }

  void Timeout() {
    up_.reset();
    if (StepBinds()) return StepExpired();
    Fail(504, "replica " + (ep_ ? ep_->http_name : std::string("?")) + " did not answer within " +
                  std::to_string(svc_->timeout.count()) + " ms");
  }

  // routerTimeouts.serviceClient passed: a transport error for the graph (KServe's http.Client timeout).
  void StepExpired() {
    Cleanup(true);
    Finish({DeadlineExceeded("Post \"http://" + host_ + target_ + "\": the step did not answer within " +
                             std::to_string(step_timeout_.count()) + " ms (routerTimeouts.serviceClient)"),
            0, {}});
  }

  void ReleaseSlot() {
    if (ep_ != nullptr) ReleaseEndpoint(*rev_, ep_);
    ep_ = nullptr;
  }

  void EndUpstream(bool error) {
    ReleaseSlot();
    if (stats_open_) {
      stats_open_ = false;
      const int64_t now = NowNs();
      StatsEnd(*stats_, now, now - start_ns_, error);
    }
  }

  void Cleanup(bool error) {
    upstream_active_ = false;
    timer_.cancel();
    up_.reset();
    EndUpstream(error);
  }

  // An answer the gateway makes itself, as a client of the service would get it.
  void Fail(int status, const std::string& message) {
    Cleanup(true);
    Finish({Status::Ok(), status, ErrorJson(message)});
  }

  void Finish(graph::CallOutcome outcome) {
    if (!done_) return;
    auto done = std::move(done_);
    done_ = nullptr;
    done(std::move(outcome));
  }

  Worker* w_;
  const std::string host_, target_, body_;
  const graph::Headers headers_;
  const Ms step_timeout_;
  const size_t max_answer_;
  std::function<void(graph::CallOutcome)> done_;
  asio::steady_timer timer_;
  int64_t start_ns_ = 0;
  std::shared_ptr<const CompiledTable> table_;  // keeps svc_/rev_/ep_ alive
  uint64_t routed_version_ = 0;
  const ServiceState* svc_ = nullptr;
  const RevisionState* rev_ = nullptr;
  EndpointState* ep_ = nullptr;
  RevisionStats* stats_ = nullptr;
  std::shared_ptr<RevisionStats> held_stats_;
  std::string path_;
  bool stats_open_ = false, held_ = false, woken_ = false;
  bool upstream_active_ = false, timed_out_ = false, reused_ = false, stale_retried_ = false;
  Request req_;
  std::unique_ptr<UpstreamConn> up_;
  std::optional<http::response_parser<http::string_body>> parser_;
};

// A serviceUrl outside this gateway: one plain-HTTP/1.1 exchange (resolve, connect, write, read), bounded by
// `deadline` and the answer's bytes; no pooling (such steps leave inferd anyway).
class ExternalCall : public std::enable_shared_from_this<ExternalCall> {
 public:
  ExternalCall(Worker* w, std::string host, std::string port, std::string authority, std::string target, std::string url,
               std::string body, graph::Headers headers, Ms deadline, size_t max_answer,
               std::function<void(graph::CallOutcome)> done)
      : resolver_(w->ctx),
        socket_(w->ctx),
        timer_(w->ctx),
        port_(std::move(port)),
        url_(std::move(url)),
        deadline_(deadline),
        done_(std::move(done)) {
    req_.method(http::verb::post);
    req_.target(target);
    req_.version(11);
    req_.set(http::field::host, authority);  // as Go's client: the URL's host[:port]
    bool typed = false;
    for (const auto& h : headers) {
      if (!Propagable(h.name)) continue;
      typed |= beast::iequals(h.name, "content-type");
      req_.insert(h.name, h.value);
    }
    if (!typed) req_.set(http::field::content_type, "application/json");
    StripHopByHop(req_);
    req_.keep_alive(false);
    req_.body() = std::move(body);
    req_.prepare_payload();
    parser_.header_limit(net::kHeaderLimit);
    parser_.body_limit(max_answer);
    host_ = std::move(host);
  }

  void Start() {
    timer_.expires_after(deadline_);
    timer_.async_wait([self = shared_from_this()](beast::error_code ec) {
      if (ec || !self->done_) return;
      self->expired_ = true;
      self->resolver_.cancel();
      beast::error_code ignored;
      self->socket_.close(ignored);
    });
    resolver_.async_resolve(host_, port_, [self = shared_from_this()](beast::error_code ec, tcp::resolver::results_type r) {
      if (ec) return self->Error("resolve", ec);
      asio::async_connect(self->socket_, r, [self](beast::error_code ec, const tcp::endpoint&) {
        if (ec) return self->Error("connect", ec);
        http::async_write(self->socket_, self->req_, [self](beast::error_code ec, size_t) {
          if (ec) return self->Error("write", ec);
          http::async_read(self->socket_, self->buffer_, self->parser_, [self](beast::error_code ec, size_t) {
            if (ec) return self->Error("read", ec);
            auto res = self->parser_.release();
            self->Finish({Status::Ok(), static_cast<int>(res.result_int()), std::move(res.body())});
          });
        });
      });
    });
  }

 private:
  void Error(const char* what, beast::error_code ec) {
    std::string why = expired_ ? "no answer within " + std::to_string(deadline_.count()) + " ms" : ec.message();
    Finish({Unavailable("Post \"" + url_ + "\": " + what + ": " + why), 0, {}});
  }

  void Finish(graph::CallOutcome outcome) {
    if (!done_) return;
    timer_.cancel();
    beast::error_code ignored;
    socket_.close(ignored);
    auto done = std::move(done_);
    done_ = nullptr;
    done(std::move(outcome));
  }

  tcp::resolver resolver_;
  tcp::socket socket_;
  asio::steady_timer timer_;
  std::string host_, port_, url_;
  Ms deadline_;
  std::function<void(graph::CallOutcome)> done_;
  Request req_;
  beast::flat_buffer buffer_;
  http::response_parser<http::string_body> parser_;
  bool expired_ = false;
};

struct Url {
  std::string scheme, host, port, authority, target;
};

// scheme://host[:port][/path][?query]; false for anything else.
bool ParseUrl(std::string_view url, Url* out) {
  const size_t sep = url.find("://");
  if (sep == std::string_view::npos || sep == 0) return false;
  out->scheme = std::string(url.substr(0, sep));
  std::transform(out->scheme.begin(), out->scheme.end(), out->scheme.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  std::string_view rest = url.substr(sep + 3);
  const size_t slash = rest.find_first_of("/?");
  std::string_view authority = rest.substr(0, slash);
  out->target = slash == std::string_view::npos ? "/" : std::string(rest.substr(slash));
  if (!out->target.empty() && out->target.front() == '?') out->target.insert(0, "/");
  if (authority.empty() || authority.find('@') != std::string_view::npos) return false;
  out->authority = std::string(authority);
  std::string_view host = authority, port = out->scheme == "https" ? "443" : "80";
  if (authority.front() == '[') {
    const size_t close = authority.find(']');
    if (close == std::string_view::npos) return false;
    host = authority.substr(1, close - 1);
    if (close + 1 < authority.size()) {
      if (authority[close + 1] != ':') return false;
      port = authority.substr(close + 2);
    }
  } else if (const size_t colon = authority.rfind(':'); colon != std::string_view::npos) {
    host = authority.substr(0, colon);
    port = authority.substr(colon + 1);
  }
  if (host.empty() || port.empty() || !std::all_of(port.begin(), port.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return false;
  }
  out->host = std::string(host);
  out->port = std::string(port);
  return true;
}

// One client request's graph run: the graph::StepCaller of its steps, and the serverWrite deadline.
class GraphRun : public graph::StepCaller, public std::enable_shared_from_this<GraphRun> {
 public:
  GraphRun(Worker* w, std::shared_ptr<const graph::Graph> g, GraphRequest req)
      : w_(w), graph_(std::move(g)), req_(std::move(req)), timer_(w->ctx), request_timer_(w->ctx) {}

  void Start() {
    if (graph_->request_timeout.count() > 0) {  // spec.timeout: Knative's answer when a revision's request times out
      request_timer_.expires_after(graph_->request_timeout);
      request_timer_.async_wait([self = shared_from_this()](beast::error_code ec) {
        if (ec || self->finished_) return;
        self->Finish(graph::Answer{504,
                                   "{\"error\":\"the graph did not answer within spec.timeout (" +
                                       std::to_string(self->graph_->request_timeout.count() / 1000) + " s)\"}",
                                   true});
      });
    }
    if (graph_->run_timeout.count() > 0) {
      timer_.expires_after(graph_->run_timeout);
      timer_.async_wait([self = shared_from_this()](beast::error_code ec) {
        if (ec || self->finished_) return;
        self->finished_ = true;  // the answer, should it come, is dropped
        self->req_.abort();
      });
    }
    Worker* w = w_;
    graph::RunGraph(
        graph_, std::move(req_.body), std::move(req_.headers), this,
        [w] { return static_cast<int>(w->rng.Next() % 100); },
        [self = shared_from_this()](graph::Answer a) { self->Finish(std::move(a)); });
  }

  void Call(const graph::ServiceTarget& target, std::string body, graph::Headers headers,
            std::function<void(graph::CallOutcome)> done) override {
    const size_t max = graph_->max_answer_bytes;
    if (!target.service.empty()) {
      const auto& domain = w_->Table()->domain;
      std::string host = target.service + "." + (target.ns.empty() ? std::string(kDefaultNamespace) : target.ns) +
                         "." + domain;
      return std::make_shared<StepCall>(w_, std::move(host), target.path, std::move(body), std::move(headers),
                                        graph_->step_timeout, max, std::move(done))
          ->Start();
    }
    Url u;
    if (!ParseUrl(target.url, &u) || (u.scheme != "http" && u.scheme != "https")) {
      return done({InvalidArgument("serviceUrl \"" + target.url + "\" is not an http(s) URL"), 0, {}});
    }
    // One of this gateway's service hosts: routed like a client's request to it, whatever the scheme (the
    // service is here, no TLS hop is made; KServe's router in a mesh likewise downgrades https to http).
    std::string_view label, ns;
    bool cluster = false;
    if (SplitAnyServiceHost(u.authority, w_->Table()->domain, &label, &ns, &cluster) &&
        Route(*w_->Table(), u.authority, u.target).service != nullptr) {
      return std::make_shared<StepCall>(w_, u.authority, u.target, std::move(body), std::move(headers),
                                        graph_->step_timeout, max, std::move(done))
          ->Start();
    }
    if (u.scheme != "http") {
      return done({Unimplemented("Post \"" + target.url +
                                 "\": https to a host outside inferd is not supported by the gateway's graph router"),
                   0, {}});
    }
    const Ms deadline = graph_->step_timeout.count() > 0 ? graph_->step_timeout
                        : graph_->run_timeout.count() > 0 ? graph_->run_timeout
                                                          : Ms(60000);
    std::make_shared<ExternalCall>(w_, u.host, u.port, u.authority, u.target, target.url, std::move(body),
                                   std::move(headers), deadline, max, std::move(done))
        ->Start();
  }

 private:
  void Finish(graph::Answer a) {
    timer_.cancel();
    request_timer_.cancel();
    if (finished_) return;
    finished_ = true;
    req_.answer(std::move(a));
  }

  Worker* w_;
  std::shared_ptr<const graph::Graph> graph_;
  GraphRequest req_;
  asio::steady_timer timer_;
  asio::steady_timer request_timer_;
  bool finished_ = false;
};

}  // namespace

void StartGraphRun(Worker* w, const GraphState& g, GraphRequest req) {
  std::make_shared<GraphRun>(w, g.graph, std::move(req))->Start();
}

graph::Headers HeaderLines(std::string_view lines) {
  graph::Headers out;
  while (!lines.empty()) {
    const size_t eol = lines.find("\r\n");
    std::string_view line = lines.substr(0, eol);
    lines = eol == std::string_view::npos ? std::string_view() : lines.substr(eol + 2);
    const size_t colon = line.find(':');
    if (colon == std::string_view::npos || colon == 0) continue;
    out.push_back({std::string(line.substr(0, colon)), Trim(line.substr(colon + 1))});
  }
  return out;
}

}  // namespace inferd::gateway::http_internal
