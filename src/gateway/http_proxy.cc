#include "gateway/http_proxy.h"

#include <sys/socket.h>

#include <boost/asio/generic/stream_protocol.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <algorithm>
#include <array>
#include <cerrno>
#include <limits>
#include <optional>
#include <random>
#include <thread>
#include <unordered_map>
#include <vector>

#include "core/bearer.h"
#include "core/clock.h"
#include "core/logging.h"
#include "gateway/graph_calls.h"
#include "gateway/http_scan.h"
#include "gateway/http_worker.h"
#include "net/http_answers.h"
#include "net/http_io.h"
#include "net/limits.h"
#include "net/listener.h"
#include "net/peer.h"

namespace inferd::gateway {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

namespace {

using namespace http_internal;  // NOLINT: the worker, its pools and the shared helpers (http_worker.h)

// A client connection. Its phases (net/conn.h): kHead from the accept or the next request's first byte, kBody
// while a request's body arrives, kBusy from a complete request until its answer is ready (activator hold and
// replica time are bounded by the service's `timeout`, not by the client timeouts), kSend while the answer is
// written, kIdle between requests, kLinger when closing after an error answer.
class Session : public net::TrackedConn, public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket socket, Worker* w, const std::string* token)
      : net::TrackedConn(&*w->conns),
        socket_(std::move(socket)),
        w_(w),
        token_(token),
        timer_(w->ctx),
        connect_retry_(w->ctx) {}

  ~Session() {
    if (held_) NoteUnheld(*stats_);  // dropped from a queue at shutdown
    if (ep_ != nullptr || stats_open_) EndUpstream(true);  // shutdown with a request still at a replica
  }

  void Start() { Read(); }

 private:
  static const char* Bytes(const beast::flat_buffer& b) { return static_cast<const char*>(b.data().data()); }

  void OnExpired(net::Phase) override { Close(); }

  // ---- client side ---------------------------------------------------------------------------------------
  // Requests are read as raw bytes into buffer_ and scanned (ScanRequest); one the fast path cannot take is
  // handed, still unconsumed, to Beast's parser (SlowRead).
  void Read() {
    if (buffer_.size() != 0) return ScanRequest();  // pipelined: already here
    ReadMore(kReadChunk);
  }

  // The next request on a keep-alive connection, after an answer was sent.
  void Next() {
    SetPhase(buffer_.size() != 0 ? net::Phase::kHead : net::Phase::kIdle);
    Read();
  }

  // Bytes go to the scanner, or to Beast's parser once the request took the slow path.
  void ReadMore(size_t want) {
    socket_.async_read_some(buffer_.prepare(std::max(want, kReadChunk)),
                            [self = shared_from_this()](beast::error_code ec, size_t n) {
                              if (ec) return self->Close();  // EOF/reset/deadline, also in the middle of a request
                              self->buffer_.commit(n);
                              if (self->phase() == net::Phase::kIdle) {
                                self->SetPhase(net::Phase::kHead);
                              } else if (self->phase() == net::Phase::kBody) {
                                self->Progress();
                              }
                              if (self->parser_) return self->SlowParse();
                              self->ScanRequest();
                            });
  }

  void ScanRequest() {
    const char* p = Bytes(buffer_);
    const size_t n = buffer_.size();
    if (req_len_ == 0) {
      size_t end = FindHeadEnd(p, n, scan_from_);
      if (end == 0) {
        if (n > kHeaderLimit) return SlowRead();
        scan_from_ = n >= 3 ? n - 3 : 0;
        return ReadMore(kReadChunk);
      }
      scan_from_ = 0;
      if (end > kHeaderLimit || !ParseRequestHead(p, end, &rh_) ||
          rh_.content_length > w_->options->max_body_bytes) {
        return SlowRead();
      }
      req_len_ = end + static_cast<size_t>(rh_.content_length);
      if (rh_.content_length > 0 &&
          !Authorized(rh_.has_auth ? std::string_view(p + rh_.auth_off, rh_.auth_len) : std::string_view())) {
        version_ = 11;
        return SendUnauthorizedBody();
      }
      // The body's bytes are counted before any is read: past the process's budget, 503 without reading it.
      if (!ReserveBody(rh_.content_length)) {
        version_ = 11;
        return SendBusy();
      }
      if (n < req_len_) SetPhase(net::Phase::kBody);
    }
    if (n < req_len_) return ReadMore(req_len_ - n);
    SetPhase(net::Phase::kBusy);
    fast_ = true;
    start_ns_ = NowNs();
    keep_alive_ = true;
    version_ = 11;
    head_ = false;
    std::string_view host(p + rh_.host_off, rh_.host_len);
    std::string_view auth = rh_.has_auth ? std::string_view(p + rh_.auth_off, rh_.auth_len) : std::string_view();
    Dispatch(host, std::string_view(p + rh_.target_off, rh_.target_len), auth);
  }

  void SlowRead() {
    fast_ = false;
    req_len_ = 0;
    scan_from_ = 0;
    parser_.emplace();
    parser_->header_limit(kHeaderLimit);
    parser_->body_limit(w_->options->max_body_bytes);
    SlowParse();
  }

  // Beast's parser takes what buffer_ holds (the same bytes the scanner looked at), then what ReadMore brings.
  void SlowParse() {
    beast::error_code ec;
    switch (net::Feed(*parser_, buffer_, ec)) {
      case net::Fed::kNeedMore:
        if (parser_->chunked() && !ReserveGrowth(parser_->get().body().size())) return SendBusy();
        return ReadMore(kReadChunk);
      case net::Fed::kError:
        return OnRead(ec);
      case net::Fed::kHeader:
        return OnHeader();
      case net::Fed::kDone:
        return OnRead({});
    }
  }

  void OnHeader() {
    const auto& head = parser_->get();
    if ((parser_->chunked() || parser_->content_length().value_or(0) > 0) &&
        !Authorized(SV(head[http::field::authorization]))) {
      version_ = head.version() ? head.version() : 11;
      return SendUnauthorizedBody();
    }
    if (auto len = parser_->content_length(); len && !ReserveBody(*len)) return SendBusy();
    SetPhase(net::Phase::kBody);
    auto expect = parser_->get()[http::field::expect];
    if (!expect.empty() && IEqualsPrefix(SV(expect), "100-continue")) {
      static constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
      return asio::async_write(socket_, asio::buffer(kContinue.data(), kContinue.size()),
                               [self = shared_from_this()](beast::error_code ec, size_t) {
                                 if (ec) return self->Close();
                                 self->SlowParse();
                               });
    }
    SlowParse();
  }

  void OnRead(beast::error_code ec) {
    if (ec == http::error::end_of_stream || ec == asio::error::eof || ec == asio::error::connection_reset ||
        ec == asio::error::operation_aborted) {
      return Close();
    }
    if (ec) {  // 413, 431 or 400 (net/http_answers.h); the connection closes
      keep_alive_ = false;
      net::HttpAnswer a = net::ParseErrorAnswer(ec, w_->options->max_body_bytes);
      return Local(static_cast<http::status>(a.status), ErrorJson(a.message));
    }
    req_ = parser_->release();
    parser_.reset();
    SetPhase(net::Phase::kBusy);
    start_ns_ = NowNs();
    keep_alive_ = req_.keep_alive();
    version_ = req_.version() ? req_.version() : 11;
    head_ = req_.method() == http::verb::head;
    Dispatch(SV(req_[http::field::host]), SV(req_.target()), SV(req_[http::field::authorization]));
  }

  bool Authorized(std::string_view got) const { return token_->empty() || BearerTokenMatches(got, *token_); }

  // host/target/auth: views into buffer_ (fast path) or req_ (slow path). Also called again for a request
  // the activator held, once woken (stats_open_ is then already set: it keeps counting where it began).
  void Dispatch(std::string_view host, std::string_view target, std::string_view auth) {
    const auto& table = w_->Table();
    table_ = table;
    routed_version_ = w_->table_version;
    if (!table->graphs.empty() && !stats_open_) {  // no graph: one test, the rest of the path is unchanged
      bool internal = false;
      const GraphState* g = RouteGraph(*table, host, target, false, &internal);
      if (internal && PeerIsExternal()) g = RouteGraph(*table, host, target, true);
      if (g != nullptr) return RunGraphRequest(*g, auth);
    }
    RouteMatch m = Route(*table, host, target);
    if (m.internal && PeerIsExternal()) m = Route(*table, host, target, /*external=*/true);
    if (m.service == nullptr && stats_open_) {
      return UpstreamFailed(http::status::service_unavailable,
                            "the service was removed while the request waited for a replica");
    }
    if (m.service == nullptr) return NoRoute(*table, host, target);
    if (!stats_open_ && !Authorized(auth)) {
      return Local(http::status::unauthorized, ErrorJson("missing or invalid bearer token"), "Bearer");
    }
    svc_ = m.service;
    rev_ = PickRevision(*svc_, m.tag, w_->rng.Next());
    if (rev_ == nullptr) {
      // Known, but nothing to send to (not ready yet, failing, or serve just started): 503, never 404.
      if (stats_open_) return UpstreamFailed(http::status::service_unavailable, svc_->unavailable);
      if (!m.tag.empty()) {
        return Local(http::status::service_unavailable,
                     ErrorJson("service " + svc_->ns + "/" + svc_->name + " has no revision tagged " +
                               std::string(m.tag)));
      }
      return Local(http::status::service_unavailable, ErrorJson(svc_->unavailable));
    }
    if (!stats_open_) {
      stats_ = rev_->stats.get();
      StatsBegin(*stats_, start_ns_);
      stats_open_ = true;
    }
    EndpointState* ep = AcquireEndpoint(*rev_, w_->rr++);
    if (ep == nullptr) return Hold(&m);
    Proceed(m, ep);
  }

  // An InferenceGraph's request (gateway.h, InferenceGraphs): run on this worker (graph_calls.h); the session
  // answers when the run ends, or closes when its serverWrite deadline passes first.
  void RunGraphRequest(const GraphState& g, std::string_view auth) {
    if (!Authorized(auth)) return Local(http::status::unauthorized, ErrorJson("missing or invalid bearer token"), "Bearer");
    if (!g.graph) return Local(http::status::service_unavailable, ErrorJson(g.unavailable));
    GraphRequest req;
    if (fast_) {
      const char* p = Bytes(buffer_);
      const size_t head_end = req_len_ - static_cast<size_t>(rh_.content_length);
      req.body.assign(p + head_end, static_cast<size_t>(rh_.content_length));
      if (!g.graph->propagate.empty()) req.headers = HeaderLines(std::string_view(p + rh_.line_end, head_end - 2 - rh_.line_end));
    } else {
      req.body = std::move(req_.body());
      if (!g.graph->propagate.empty()) {
        for (const auto& f : req_) req.headers.push_back({std::string(SV(f.name_string())), std::string(SV(f.value()))});
      }
    }
    req.answer = [self = shared_from_this()](graph::Answer a) { self->GraphAnswer(std::move(a)); };
    req.abort = [self = shared_from_this()] { self->Close(); };
    StartGraphRun(w_, g, std::move(req));
  }

  void GraphAnswer(graph::Answer a) {
    res_.emplace();
    res_->version(version_);
    res_->result(static_cast<unsigned>(a.status));
    // KServe's router sets application/json only for a JSON body; Go then sniffs the rest (text/plain for text).
    res_->set(http::field::content_type, a.json ? "application/json" : "text/plain; charset=utf-8");
    res_->keep_alive(keep_alive_);
    res_->body() = std::move(a.body);
    res_->prepare_payload();
    Send();
  }

  // No service matched. The gateway's own health answers are for requests that name no service: a host of
  // the service form that names none (a typo, or a cluster-local name asked from outside) is 404 like any
  // other path.
  void NoRoute(const CompiledTable& table, std::string_view host, std::string_view target) {
    std::string_view path = target.substr(0, target.find('?'));
    std::string_view label, ns;
    bool cluster_host = false;
    if (!SplitAnyServiceHost(host, table.domain, &label, &ns, &cluster_host)) {
      if (path == "/v2/health/live") return Local(http::status::ok, "{\"live\": true}");
      if (path == "/v2/health/ready") return Local(http::status::ok, "{\"ready\": true}");
      if (path == "/") return Local(http::status::ok, "{\"status\": \"alive\"}");
    }
    Local(http::status::not_found,
          ErrorJson("no route for host '" + std::string(host) + "' path '" + std::string(path) + "'"));
  }

  // Whether the client is outside this machine (net/peer.h), asked of the socket once per connection and only
  // when a route depends on it (a cluster-local service).
  bool PeerIsExternal() {
    if (peer_external_ < 0) peer_external_ = net::PeerIsLocal(socket_.native_handle()) ? 0 : 1;
    return peer_external_ == 1;
  }

  // The activator: no endpoint of rev_ can take the request now. Hold it in the revision's queue until a
  // route update or a freed slot wakes it (then Dispatch again), or its deadline passes. Also where a
  // request goes whose replica turned out to be gone before it was written (EndpointGone).
  void Hold(const RouteMatch* m) {
    const bool none = !HasLiveEndpoint(*rev_);
    if (none && !rev_->unavailable.empty()) {
      return UpstreamFailed(http::status::service_unavailable, rev_->unavailable);
    }
    if (!held_stats_) held_stats_ = rev_->stats;  // stats_ stays alive whatever the table does
    HoldQueue& q = *rev_->stats->queue;
    EndpointState* ep = nullptr;
    const int64_t deadline = start_ns_ + std::chrono::duration_cast<std::chrono::nanoseconds>(svc_->timeout).count();
    // Fired once, often from another thread: `self` moves into the posted handler, so the session ends on its
    // own loop's thread (net::TrackedConn), not where the waiter is destroyed.
    HoldQueue::Waiter waiter{deadline, [self = shared_from_this(), ctx = &w_->ctx](HoldEnd why) mutable {
                               asio::post(*ctx, [self = std::move(self), why] { self->OnHoldEnd(why); });
                             }};
    switch (HoldOrGo(q, w_->options->max_held_per_revision, *w_->holder, routed_version_,
                     [&] { return (ep = AcquireEndpoint(*rev_, w_->rr++)) != nullptr; }, std::move(waiter), woken_)) {
      case HoldResult::kGo:
        if (m == nullptr) return SendTo(ep);  // the request is prepared already
        return Proceed(*m, ep);
      case HoldResult::kStale:
        return Redispatch();
      case HoldResult::kFull:
        return UpstreamFailed(http::status::service_unavailable,
                              QueueFullMessage(rev_->revision, w_->options->max_held_per_revision));
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
      return Redispatch();
    }
    if (why == HoldEnd::kShutdown) {
      return UpstreamFailed(http::status::service_unavailable, "the gateway is shutting down");
    }
    UpstreamFailed(http::status::service_unavailable,
                   HoldTimeoutMessage(rev_ ? std::string_view(rev_->revision) : std::string_view("?"), svc_->timeout));
  }

  void Redispatch() {
    if (fast_) {
      const char* p = Bytes(buffer_);
      std::string_view auth = rh_.has_auth ? std::string_view(p + rh_.auth_off, rh_.auth_len) : std::string_view();
      return Dispatch(std::string_view(p + rh_.host_off, rh_.host_len),
                      std::string_view(p + rh_.target_off, rh_.target_len), auth);
    }
    // A request held after it was prepared routes by the target it came with, not the rewritten one.
    std::string_view target = orig_target_.empty() ? SV(req_.target()) : std::string_view(orig_target_);
    Dispatch(SV(req_[http::field::host]), target, SV(req_[http::field::authorization]));
  }

  // ep: a slot already taken (AcquireEndpoint). Prepares the request for the upstream hop (again, for a
  // request routed again after a hold: the same result), then sends it.
  void Proceed(const RouteMatch& m, EndpointState* ep) {
    if (fast_) {
      if (m.rewritten) {  // new request line, then the rest of the head and the body as received
        std::string_view method(Bytes(buffer_), rh_.target_off - 1);
        std::string_view path = m.path();
        line_.clear();
        line_.reserve(method.size() + path.size() + 12);
        line_.append(method).append(" ").append(path).append(" HTTP/1.1\r\n");
      }
    } else {
      if (m.rewritten) {
        std::string rewritten(m.path());  // path() may point into the target being replaced
        if (orig_target_.empty()) orig_target_ = SV(req_.target());
        req_.target(rewritten);
      }
      StripHopByHop(req_);
      req_.erase(http::field::expect);
      if (req_.find(http::field::host) == req_.end()) req_.set(http::field::host, ep->http_authority);
      req_.version(11);
      req_.keep_alive(true);
      req_.prepare_payload();
    }
    SendTo(ep);
  }

  // Sends the prepared request to `ep` (a slot taken) within what is left of the service's timeout.
  void SendTo(EndpointState* ep) {
    ep_ = ep;
    upstream_active_ = true;
    // The service's timeout covers the whole request, time held by the activator included.
    auto left = svc_->timeout;
    if (woken_ || rerouted_) {
      auto waited = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::nanoseconds(NowNs() - start_ns_));
      left = std::max(std::chrono::milliseconds(1), svc_->timeout - waited);
    }
    timer_.expires_after(left);
    timer_.async_wait([self = shared_from_this()](beast::error_code ec) { self->OnTimer(ec); });
    Acquire();
  }

  void ReleaseSlot() {
    if (ep_ != nullptr) ReleaseEndpoint(*rev_, ep_);
    ep_ = nullptr;
  }

  // ---- upstream side -------------------------------------------------------------------------------------
  void Acquire() {
    up_ = w_->TakeIdle(ep_->id, start_ns_);
    reused_ = up_ != nullptr;
    if (up_) return WriteUpstream();
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
      if (ec) return UpstreamFailed(http::status::bad_gateway, "cannot resolve replica host '" + ep_->host + "'");
      target = tcp::endpoint(addr, static_cast<unsigned short>(ep_->http_port));
    }
    up_ = std::make_unique<UpstreamConn>(w_->ctx);
    up_->socket.async_connect(target, [self = shared_from_this()](beast::error_code ec) { self->OnConnect(ec); });
  }

  void OnConnect(beast::error_code ec) {
    if (timed_out_) return Timeout();
    if (ec) {
      // Nothing listens there any more (refused; the Unix socket file is gone): the replica is gone.
      if (ec == asio::error::connection_refused || ec == boost::system::errc::no_such_file_or_directory) {
        return EndpointGone("cannot connect: " + ec.message());
      }
      if (OutOfLocalResources(ec)) return ConnectLater();
      return UpstreamFailed(http::status::bad_gateway,
                            "cannot connect to replica " + ep_->http_name + ": " + ec.message());
    }
    if (ep_->uds_path.empty()) {
      up_->socket.set_option(tcp::no_delay(true), ec);
    } else if (ep_->pid > 0) {
      // A replica restarted in place binds the same socket path: a connection reaching another process
      // reached a replica that is not ready yet (its route is not published), not the one routed to.
      ucred cred{};
      socklen_t len = sizeof cred;
      if (::getsockopt(up_->socket.native_handle(), SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0 &&
          cred.pid != ep_->pid) {
        return EndpointGone("another process (pid " + std::to_string(cred.pid) + ") listens on its socket");
      }
    }
    WriteUpstream();
  }

  // This process is out of file descriptors (or socket memory): the replica is fine, but no new connection to it
  // can be opened now. The request waits and tries again, 10 ms doubling to 1 s as the acceptors pause at the
  // same limit, within the service's timeout (timer_ still runs; OnTimer cancels the wait).
  void ConnectLater() {
    up_.reset();
    connect_retry_.expires_after(std::chrono::milliseconds(connect_backoff_.NextMs()));
    connect_retry_.async_wait([self = shared_from_this()](beast::error_code ec) {
      if (self->timed_out_) return self->Timeout();
      if (!ec) self->Connect();
    });
  }

  // The replica behind ep_ is gone and never saw this request (see gateway.h, Proxying): it leaves every
  // worker's picks, and the request goes to another replica of the revision or waits for one.
  void EndpointGone(const std::string& why) {
    if (MarkGone(*ep_)) {
      LOG_INFO("gateway: replica {} of revision {} is gone ({}); its requests go elsewhere or wait", ep_->http_name,
               rev_->revision, why);
    }
    w_->pools.erase(ep_->id);
    up_.reset();
    ReleaseSlot();
    rerouted_ = true;
    if (EndpointState* other = AcquireEndpoint(*rev_, w_->rr++)) {
      ep_ = other;
      return Acquire();
    }
    upstream_active_ = false;
    timer_.cancel();
    Hold(nullptr);
  }

  // One write of the whole request (a gather write when the request line was rewritten).
  void WriteUpstream() {
    auto done = [self = shared_from_this()](beast::error_code ec, size_t) { self->OnUpstreamWrite(ec); };
    if (!fast_) return http::async_write(up_->socket, req_, std::move(done));
    const char* p = Bytes(buffer_);
    if (line_.empty()) return asio::async_write(up_->socket, asio::buffer(p, req_len_), std::move(done));
    std::array<asio::const_buffer, 2> bufs{asio::buffer(line_), asio::buffer(p + rh_.line_end, req_len_ - rh_.line_end)};
    asio::async_write(up_->socket, bufs, std::move(done));
  }

  // A pooled connection the replica closed while idle fails on first use: such a request is sent again once
  // on a new connection (the replica never read it).
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

  void OnUpstreamWrite(beast::error_code ec) {
    if (timed_out_) return Timeout();
    if (ec) {
      if (StaleRetry(ec, false)) return;
      // A fresh connection reset before the request was written: the replica went away after accepting.
      if (!reused_ && (ec == asio::error::connection_reset || ec == asio::error::broken_pipe)) {
        return EndpointGone("connection reset before the request was written: " + ec.message());
      }
      return UpstreamFailed(http::status::bad_gateway,
                            "writing to replica " + ep_->http_name + " failed: " + ec.message());
    }
    res_len_ = 0;
    up_scan_from_ = 0;
    ReadUpstream(kReadChunk);
  }

  // The answer is read as raw bytes into the connection's buffer and relayed as received when the client
  // speaks keep-alive HTTP/1.1 and the head scans clean (ScanResponse); otherwise Beast parses it
  // (SlowResponse) from the same, still unconsumed bytes.
  void ReadUpstream(size_t want) {
    up_->socket.async_read_some(up_->buffer.prepare(std::max(want, kReadChunk)),
                                [self = shared_from_this()](beast::error_code ec, size_t n) {
                                  self->OnUpstreamData(ec, n);
                                });
  }

  void OnUpstreamData(beast::error_code ec, size_t n) {
    if (timed_out_) return Timeout();
    if (ec) {
      if (StaleRetry(ec, up_->buffer.size() != 0)) return;
      return UpstreamFailed(http::status::bad_gateway,
                            "reading from replica " + ep_->http_name + " failed: " + ec.message());
    }
    up_->buffer.commit(n);
    ScanResponse();
  }

  void ScanResponse() {
    const char* p = Bytes(up_->buffer);
    const size_t n = up_->buffer.size();
    if (res_len_ == 0) {
      size_t end = FindHeadEnd(p, n, up_scan_from_);
      if (end == 0) {
        if (n > kHeaderLimit) return SlowResponse();
        up_scan_from_ = n >= 3 ? n - 3 : 0;
        return ReadUpstream(kReadChunk);
      }
      uint64_t length = 0;
      if (head_ || !keep_alive_ || version_ != 11 || end > kHeaderLimit ||
          !ParseResponseHead(p, end, &res_status_, &length)) {
        return SlowResponse();
      }
      res_len_ = end + static_cast<size_t>(length);
    }
    if (n < res_len_) return ReadUpstream(res_len_ - n);
    // The whole answer is here: the session takes the bytes (buffer swap, no copy), the connection goes back
    // to the pool before the client write.
    upstream_active_ = false;
    timer_.cancel();
    std::swap(out_, up_->buffer);
    if (out_.size() == res_len_) w_->PutIdle(ep_->id, std::move(up_), start_ns_);
    up_.reset();
    EndUpstream(res_status_ >= 500);
    SetPhase(net::Phase::kSend);
    net::WriteBytes(socket_, asio::buffer(out_.data().data(), res_len_), [this] { Progress(); },
                    [self = shared_from_this()](beast::error_code ec) {
                      self->out_.consume(self->out_.size());
                      if (ec) return self->Close();
                      self->Reset();
                      self->Next();
                    });
  }

  void SlowResponse() {
    up_parser_.emplace();
    up_parser_->header_limit(kHeaderLimit);
    up_parser_->body_limit(std::numeric_limits<std::uint64_t>::max());
    if (head_) up_parser_->skip(true);
    http::async_read(up_->socket, up_->buffer, *up_parser_,
                     [self = shared_from_this()](beast::error_code ec, size_t) { self->OnUpstreamRead(ec); });
  }

  void OnUpstreamRead(beast::error_code ec) {
    if (timed_out_) return Timeout();
    if (ec) {
      if (StaleRetry(ec, up_parser_->got_some())) return;
      return UpstreamFailed(http::status::bad_gateway,
                            "reading from replica " + ep_->http_name + " failed: " + ec.message());
    }
    upstream_active_ = false;
    timer_.cancel();
    Response res = up_parser_->release();
    up_parser_.reset();
    if (res.keep_alive() && up_->buffer.size() == 0) {
      w_->PutIdle(ep_->id, std::move(up_), start_ns_);
    }
    up_.reset();
    unsigned code = res.result_int();
    EndUpstream(code >= 500);
    StripHopByHop(res);
    res.version(version_);
    res.keep_alive(keep_alive_);
    bool no_body = head_ || code / 100 == 1 || code == 204 || code == 304;
    if (!no_body) res.prepare_payload();
    res_.emplace(std::move(res));
    Send();
  }

  void OnTimer(beast::error_code ec) {
    if (ec || !upstream_active_) return;
    timed_out_ = true;
    connect_retry_.cancel();  // a request waiting to connect (ConnectLater) ends now
    if (up_) {
      beast::error_code ignored;
      up_->socket.cancel(ignored);
      up_->socket.close(ignored);
    }
  }

  void Timeout() {
    up_.reset();  // discarded: a late answer must not reach the next request
    UpstreamFailed(http::status::gateway_timeout,
                   "replica " + (ep_ ? ep_->http_name : std::string("?")) + " did not answer within " +
                       std::to_string(svc_->timeout.count()) + " ms");
  }

  void EndUpstream(bool error) {
    ReleaseSlot();
    if (stats_open_) {
      stats_open_ = false;
      int64_t now = NowNs();
      StatsEnd(*stats_, now, now - start_ns_, error);
    }
  }

  void UpstreamFailed(http::status status, const std::string& message) {
    upstream_active_ = false;
    timer_.cancel();
    up_.reset();
    EndUpstream(true);
    Local(status, ErrorJson(message));
  }

  // ---- answers -------------------------------------------------------------------------------------------
  void Local(http::status status, std::string body, const char* www_authenticate = nullptr) {
    res_.emplace();
    res_->version(version_);
    res_->result(status);
    res_->set(http::field::content_type, "application/json");
    if (www_authenticate) res_->set(http::field::www_authenticate, www_authenticate);
    if (status == http::status::service_unavailable) res_->set(http::field::retry_after, "1");
    res_->keep_alive(keep_alive_);
    res_->body() = std::move(body);
    res_->prepare_payload();
    Send();
  }

  // With --gateway_token: a request with a body and no valid token is answered 401 from its head, and the
  // connection closes without reading the body (an unauthenticated client cannot make the gateway buffer it).
  // Bodiless requests are decided in Dispatch (health checks of the gateway itself need no token).
  void SendUnauthorizedBody() {
    keep_alive_ = false;
    Local(http::status::unauthorized, ErrorJson("missing or invalid bearer token"), "Bearer");
  }

  // Past the process's budget of request bytes in flight: 503 + Retry-After, and the connection closes without
  // reading the body.
  void SendBusy() {
    keep_alive_ = false;
    res_.emplace();
    res_->version(version_);
    res_->result(http::status::service_unavailable);
    res_->set(http::field::content_type, "application/json");
    res_->set(http::field::retry_after, "1");
    res_->keep_alive(false);
    res_->body() = ErrorJson(net::BusyAnswer("gateway", body_budget()).message);
    res_->prepare_payload();
    Send();
  }

  void Send() {
    sr_.emplace(*res_);
    SetPhase(net::Phase::kSend);
    net::WriteMessage(socket_, *sr_, [this] { Progress(); }, [self = shared_from_this()](beast::error_code ec) {
      self->sr_.reset();
      if (ec) return self->Close();
      if (!self->keep_alive_) return self->Linger();
      self->Reset();
      self->Next();
    });
  }

  void Reset() {
    ReleaseBody();
    res_.reset();
    if (fast_) {
      buffer_.consume(req_len_);  // the request stayed in buffer_ until answered (retries send it again)
      line_.clear();
    } else {
      req_ = {};
    }
    fast_ = false;
    req_len_ = 0;
    svc_ = nullptr;
    rev_ = nullptr;
    stats_ = nullptr;
    held_stats_.reset();
    orig_target_.clear();
    stale_retried_ = timed_out_ = upstream_active_ = woken_ = rerouted_ = false;
    connect_backoff_.Reset();
  }

  // Closes after the answer was sent: half-close, then drop what the client still sends (e.g. the rest of a
  // body over the limit) for at most net::kLingerMs (the sweep's deadline), so the close does not turn into a
  // reset that eats the answer.
  void Linger() {
    ReleaseBody();
    beast::error_code ec;
    socket_.shutdown(tcp::socket::shutdown_send, ec);
    if (ec) return Close();
    SetPhase(net::Phase::kLinger);
    buffer_.clear();
    net::Discard(socket_, buffer_, net::kLingerMaxBytes, [self = shared_from_this()] { self->Close(); });
  }

  void Close() {
    beast::error_code ec;
    socket_.shutdown(tcp::socket::shutdown_both, ec);
    socket_.close(ec);
  }

  tcp::socket socket_;
  Worker* w_;
  const std::string* token_;  // --gateway_token ("" = open)
  asio::steady_timer timer_;
  asio::steady_timer connect_retry_;   // ConnectLater's pause
  net::AcceptBackoff connect_backoff_;  // its length (the acceptors' backoff: same limit, same pauses)
  beast::flat_buffer buffer_;  // client bytes; a fast-path request stays here until answered
  bool keep_alive_ = true;
  bool head_ = false;
  unsigned version_ = 11;
  int64_t start_ns_ = 0;

  // Fast path: the request is buffer_[0, req_len_), described by rh_; line_ is a rewritten request line.
  bool fast_ = false;
  RequestHead rh_;
  size_t req_len_ = 0;  // 0 while the head is incomplete
  size_t scan_from_ = 0;
  std::string line_;
  // Slow path.
  std::optional<http::request_parser<http::string_body>> parser_;
  Request req_;
  std::optional<Response> res_;
  std::optional<http::response_serializer<http::string_body>> sr_;

  std::shared_ptr<const CompiledTable> table_;  // keeps svc_/rev_/ep_ alive
  uint64_t routed_version_ = 0;                 // the table version table_ was loaded at
  const ServiceState* svc_ = nullptr;
  const RevisionState* rev_ = nullptr;
  EndpointState* ep_ = nullptr;  // a slot taken (AcquireEndpoint) while set
  RevisionStats* stats_ = nullptr;  // where the request is counted (the revision first picked)
  std::shared_ptr<RevisionStats> held_stats_;  // keeps stats_ alive once the activator held the request
  bool stats_open_ = false;
  bool held_ = false;   // in a hold queue now (counted in stats_->held)
  bool woken_ = false;  // was held and woken at least once
  std::unique_ptr<UpstreamConn> up_;
  std::optional<http::response_parser<http::string_body>> up_parser_;
  size_t res_len_ = 0;  // relayed answer's size; 0 while its head is incomplete
  size_t up_scan_from_ = 0;
  unsigned res_status_ = 0;
  beast::flat_buffer out_;  // a relayed answer, swapped out of the connection's buffer
  bool reused_ = false;
  bool stale_retried_ = false;
  bool rerouted_ = false;  // sent elsewhere (or held) after its replica was gone: the timer counts from arrival
  int8_t peer_external_ = -1;  // PeerIsExternal's answer for this connection (-1: not asked yet)
  std::string orig_target_;    // slow path: the client's target, once Proceed rewrote req_'s
  bool timed_out_ = false;
  bool upstream_active_ = false;
};

}  // namespace

struct HttpProxy::Impl {
  GatewayOptions options;
  const TableHolder* holder;
  std::vector<std::unique_ptr<Worker>> workers;
  std::vector<std::thread> threads;
  int port = 0;
  std::shared_ptr<net::ConnGate> gate;  // --max_connections over all workers
  std::shared_ptr<net::BodyBudget> budget;

  // The gateway's port accepts on the first worker, which hands each connection to the next worker in turn
  // (as the model server's listener: server/http_server.cc says why not one SO_REUSEPORT acceptor per worker).
  // First worker's thread only.
  size_t next = 0;
  Worker* target = nullptr;  // the worker the pending accept's socket belongs to

  void StartAccepting(Worker* first, tcp::acceptor acc) {
    first->acceptor.emplace(
        std::move(acc), "gateway", gate,
        [this]() -> asio::io_context& {
          target = workers[next++ % workers.size()].get();
          return target->ctx;
        },
        [this, first](tcp::socket socket) {
          beast::error_code ec;
          socket.set_option(tcp::no_delay(true), ec);
          Worker* w = target;
          if (w == first) {
            std::make_shared<Session>(std::move(socket), w, &options.token)->Start();
            return;
          }
          asio::post(w->ctx, [this, w, s = std::move(socket)]() mutable {
            std::make_shared<Session>(std::move(s), w, &options.token)->Start();
          });
        });
    first->acceptor->Start();
  }
};

HttpProxy::HttpProxy(const GatewayOptions& options, const TableHolder* table) : impl_(std::make_unique<Impl>()) {
  impl_->options = options;
  impl_->holder = table;
}

HttpProxy::~HttpProxy() { Stop(); }

Status HttpProxy::Start() {
  auto& o = impl_->options;
  RETURN_IF_ERROR(net::ResolveLimits(&o.limits, o.max_body_bytes));
  impl_->gate = std::make_shared<net::ConnGate>(o.limits.max_connections);
  impl_->budget = o.body_budget ? o.body_budget : std::make_shared<net::BodyBudget>(o.limits.max_body_bytes_in_flight);
  const int workers = net::EventLoops(o.workers);
  ASSIGN_OR_RETURN(auto address, net::ListenAddress(o.host, "gateway host"));
  std::random_device rd;
  for (int i = 0; i < workers; ++i) {
    auto w = std::make_unique<Worker>();
    w->options = &o;
    w->holder = impl_->holder;
    w->rng = FastRng((static_cast<uint64_t>(rd()) << 32) ^ rd() ^ static_cast<uint64_t>(i));
    w->rr = static_cast<uint32_t>(i);
    w->conns.emplace(w->ctx, "gateway", o.limits.timeouts, impl_->gate, impl_->budget);
    impl_->workers.push_back(std::move(w));
  }
  tcp::acceptor acceptor(impl_->workers.front()->ctx);
  RETURN_IF_ERROR(net::ListenTcp(acceptor, address, o.http_port, /*reuse_port=*/false, "gateway http"));
  boost::system::error_code ec;
  impl_->port = acceptor.local_endpoint(ec).port();
  if (ec) return Internal("gateway http: the listening socket has no address: " + ec.message());
  for (size_t i = 0; i < impl_->workers.size(); ++i) {
    Worker* w = impl_->workers[i].get();
    w->work.emplace(w->ctx.get_executor());
    if (i == 0) impl_->StartAccepting(w, std::move(acceptor));
    impl_->threads.emplace_back([w] { w->ctx.run(); });
  }
  return Status::Ok();
}

int HttpProxy::port() const { return impl_->port; }

void HttpProxy::Stop() {
  if (!impl_) return;
  for (auto& w : impl_->workers) {
    w->work.reset();
    w->ctx.stop();
  }
  for (auto& t : impl_->threads) {
    if (t.joinable()) t.join();
  }
  impl_->threads.clear();
  // Requests still held by the activator (a hold that raced with Gateway::Stop's wake-up) own sessions
  // whose sockets belong to the loops: drop them before the loops go.
  ForEachQueue(*impl_->holder->Load(), [](HoldQueue& q) {
    std::deque<HoldQueue::Waiter> dropped;
    {
      MutexLock lock(q.mu);
      dropped.swap(q.waiters);
      q.size.fetch_sub(static_cast<int64_t>(dropped.size()));
    }
  });
  impl_->workers.clear();  // sessions still queued on a loop are destroyed with it
}

}  // namespace inferd::gateway
