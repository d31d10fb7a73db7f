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

#include "core/clock.h"
#include "core/logging.h"
#include "gateway/http_scan.h"

namespace inferd::gateway {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

namespace {

constexpr size_t kHeaderLimit = 64 * 1024;
constexpr auto kLingerTime = std::chrono::seconds(2);
constexpr int64_t kPeekAfterIdleNs = 1'000'000'000;  // see Worker::TakeIdle

using Request = http::request<http::string_body>;
using Response = http::response<http::string_body>;

// An upstream connection: TCP, or a Unix stream socket for endpoints with a uds_path. Asio's generic stream
// socket holds either (its protocol is the family/protocol pair the connect endpoint gives), so the relay
// code is one, with no dispatch per read or write: reads and writes do not depend on the protocol.
using UpstreamSocket = asio::generic::stream_protocol::socket;

struct UpstreamConn {
  explicit UpstreamConn(asio::io_context& ctx) : socket(ctx) {}
  UpstreamSocket socket;
  beast::flat_buffer buffer;
  int64_t idle_since_ns = 0;  // when it went back to the pool
};

// True when an idle pooled connection still looks usable: the peer has not closed it and sent nothing.
bool StillOpen(UpstreamConn& c) {
  if (c.buffer.size() != 0 || !c.socket.is_open()) return false;
  char b;
  ssize_t r = ::recv(c.socket.native_handle(), &b, 1, MSG_PEEK | MSG_DONTWAIT);
  return r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
}

// Removes the hop-by-hop headers (RFC 7230 6.1), including those named by Connection.
template <class Fields>
void StripHopByHop(Fields& f) {
  auto conn = f[http::field::connection];
  if (!conn.empty()) {
    std::vector<std::string> named;
    for (auto token : http::token_list(conn)) named.emplace_back(token);
    for (const auto& n : named) f.erase(n);
  }
  f.erase(http::field::connection);
  f.erase(http::field::keep_alive);
  f.erase(http::field::proxy_connection);
  f.erase(http::field::proxy_authorization);
  f.erase(http::field::proxy_authenticate);
  f.erase(http::field::te);
  f.erase(http::field::trailer);
  f.erase(http::field::transfer_encoding);
  f.erase(http::field::upgrade);
}

std::string_view SV(beast::string_view s) { return {s.data(), s.size()}; }

constexpr size_t kReadChunk = 16 * 1024;

struct Pool {
  std::vector<std::unique_ptr<UpstreamConn>> idle;
};

struct Worker {
  asio::io_context ctx{1};  // first member: destroyed last, after every socket below
  std::optional<tcp::acceptor> acceptor;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work;
  const GatewayOptions* options = nullptr;
  const TableHolder* holder = nullptr;
  std::shared_ptr<const CompiledTable> table;
  uint64_t table_version = 0;
  FastRng rng{0};
  uint32_t rr = 0;
  std::unordered_map<uint64_t, Pool> pools;

  const std::shared_ptr<const CompiledTable>& Table() {
    uint64_t v = holder->version();
    if (v != table_version) {
      table = holder->Load();
      table_version = v;
      // Idle connections to replicas that left the table are closed.
      for (auto it = pools.begin(); it != pools.end();) {
        if (!std::binary_search(table->endpoint_ids.begin(), table->endpoint_ids.end(), it->first)) {
          it = pools.erase(it);
        } else {
          ++it;
        }
      }
    }
    return table;
  }

  // An idle connection is checked with a non-blocking peek (a syscall) only when it has been idle for a
  // while; one that was answering a moment ago is used as is, and should the replica have closed it anyway,
  // the first use fails with nothing answered and the request is sent once more on a new connection.
  std::unique_ptr<UpstreamConn> TakeIdle(uint64_t id, int64_t now_ns) {
    auto it = pools.find(id);
    if (it == pools.end()) return nullptr;
    auto& idle = it->second.idle;
    while (!idle.empty()) {
      auto c = std::move(idle.back());
      idle.pop_back();
      if (c->buffer.size() != 0 || !c->socket.is_open()) continue;
      if (now_ns - c->idle_since_ns < kPeekAfterIdleNs || StillOpen(*c)) return c;
    }
    return nullptr;
  }

  void PutIdle(uint64_t id, std::unique_ptr<UpstreamConn> c, int64_t now_ns) {
    const auto& t = Table();
    if (!std::binary_search(t->endpoint_ids.begin(), t->endpoint_ids.end(), id)) return;
    auto& idle = pools[id].idle;
    if (idle.size() < options->max_idle_per_endpoint) {
      c->idle_since_ns = now_ns;
      idle.push_back(std::move(c));
    }
  }
};

class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket socket, Worker* w, const std::string* bearer)
      : socket_(std::move(socket)), w_(w), bearer_(bearer), timer_(w->ctx) {}

  ~Session() {
    if (held_) NoteUnheld(*stats_);  // dropped from a queue at shutdown
    if (ep_ != nullptr || stats_open_) EndUpstream(true);  // shutdown with a request still at a replica
  }

  void Start() { Read(); }

 private:
  static const char* Bytes(const beast::flat_buffer& b) { return static_cast<const char*>(b.data().data()); }

  // ---- client side ---------------------------------------------------------------------------------------
  // Requests are read as raw bytes into buffer_ and scanned (ScanRequest); one the fast path cannot take is
  // handed, still unconsumed, to Beast's parser (SlowRead).
  void Read() {
    if (buffer_.size() != 0) return ScanRequest();  // pipelined: already here
    ReadMore(kReadChunk);
  }

  void ReadMore(size_t want) {
    socket_.async_read_some(buffer_.prepare(std::max(want, kReadChunk)),
                            [self = shared_from_this()](beast::error_code ec, size_t n) {
                              if (ec) return self->Close();  // EOF/reset, also in the middle of a request
                              self->buffer_.commit(n);
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
    }
    if (n < req_len_) return ReadMore(req_len_ - n);
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
    http::async_read_header(socket_, buffer_, *parser_,
                            [self = shared_from_this()](beast::error_code ec, size_t) { self->OnHeader(ec); });
  }

  void OnHeader(beast::error_code ec) {
    if (ec) return OnRead(ec);
    auto expect = parser_->get()[http::field::expect];
    if (!expect.empty() && IEqualsPrefix(SV(expect), "100-continue")) {
      static constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
      return asio::async_write(socket_, asio::buffer(kContinue.data(), kContinue.size()),
                               [self = shared_from_this()](beast::error_code ec, size_t) {
                                 if (ec) return self->Close();
                                 self->ReadBody();
                               });
    }
    if (parser_->is_done()) return OnRead({});
    ReadBody();
  }

  void ReadBody() {
    http::async_read(socket_, buffer_, *parser_,
                     [self = shared_from_this()](beast::error_code ec, size_t) { self->OnRead(ec); });
  }

  void OnRead(beast::error_code ec) {
    if (ec == http::error::end_of_stream || ec == asio::error::eof || ec == asio::error::connection_reset ||
        ec == asio::error::operation_aborted) {
      return Close();
    }
    if (ec == http::error::body_limit) {
      keep_alive_ = false;
      return Local(http::status::payload_too_large,
                   ErrorJson("request body is larger than the gateway's limit of " +
                             std::to_string(w_->options->max_body_bytes) + " bytes"));
    }
    if (ec == http::error::header_limit) {
      keep_alive_ = false;
      return Local(http::status::request_header_fields_too_large,
                   ErrorJson("request headers are larger than " + std::to_string(kHeaderLimit) + " bytes"));
    }
    if (ec) {
      keep_alive_ = false;
      return Local(http::status::bad_request, ErrorJson("malformed HTTP request: " + ec.message()));
    }
    req_ = parser_->release();
    parser_.reset();
    start_ns_ = NowNs();
    keep_alive_ = req_.keep_alive();
    version_ = req_.version() ? req_.version() : 11;
    head_ = req_.method() == http::verb::head;
    Dispatch(SV(req_[http::field::host]), SV(req_.target()), SV(req_[http::field::authorization]));
  }

  bool Authorized(std::string_view got) const {
    if (bearer_->empty()) return true;
    std::string_view want = *bearer_;  // "bearer <token>"
    if (got.size() != want.size() || !IEqualsPrefix(got, "bearer ")) return false;
    unsigned diff = 0;
    for (size_t i = 7; i < want.size(); ++i) diff |= static_cast<unsigned>(got[i] ^ want[i]);
    return diff == 0;
  }

  // host/target/auth: views into buffer_ (fast path) or req_ (slow path). Also called again for a request
  // the activator held, once woken (stats_open_ is then already set: it keeps counting where it began).
  void Dispatch(std::string_view host, std::string_view target, std::string_view auth) {
    const auto& table = w_->Table();
    table_ = table;
    routed_version_ = w_->table_version;
    RouteMatch m = Route(*table, host, target);
    if (m.service == nullptr && stats_open_) {
      return UpstreamFailed(http::status::service_unavailable,
                            "the service was removed while the request waited for a replica");
    }
    if (m.service == nullptr) {
      std::string_view path = target.substr(0, target.find('?'));
      if (path == "/v2/health/live") return Local(http::status::ok, "{\"live\": true}");
      if (path == "/v2/health/ready") return Local(http::status::ok, "{\"ready\": true}");
      if (path == "/") return Local(http::status::ok, "{\"status\": \"alive\"}");
      return Local(http::status::not_found, ErrorJson("no route for host '" + std::string(host) + "' path '" +
                                                      std::string(path) + "'"));
    }
    if (!stats_open_ && !Authorized(auth)) {
      return Local(http::status::unauthorized, ErrorJson("missing or invalid bearer token"), "Bearer");
    }
    svc_ = m.service;
    rev_ = PickRevision(*svc_, m.tag, w_->rng.Next());
    if (rev_ == nullptr) {
      std::string msg = "service " + svc_->ns + "/" + svc_->name + " has no revision";
      if (stats_open_) return UpstreamFailed(http::status::service_unavailable, msg);
      return Local(http::status::not_found, ErrorJson(msg));
    }
    if (!stats_open_) {
      stats_ = rev_->stats.get();
      StatsBegin(*stats_, start_ns_);
      stats_open_ = true;
    }
    EndpointState* ep = AcquireEndpoint(*rev_, w_->rr++);
    if (ep == nullptr) return Hold(m);
    Proceed(m, ep);
  }

  // The activator: no endpoint of rev_ can take the request now. Hold it in the revision's queue until a
  // route update or a freed slot wakes it (then Dispatch again), or its deadline passes.
  void Hold(const RouteMatch& m) {
    const bool none = rev_->endpoints.empty();
    if (none && !rev_->unavailable.empty()) {
      return UpstreamFailed(http::status::service_unavailable, rev_->unavailable);
    }
    if (!held_stats_) held_stats_ = rev_->stats;  // stats_ stays alive whatever the table does
    HoldQueue& q = *rev_->stats->queue;
    EndpointState* ep = nullptr;
    const int64_t deadline = start_ns_ + std::chrono::duration_cast<std::chrono::nanoseconds>(svc_->timeout).count();
    HoldQueue::Waiter waiter{deadline, [self = shared_from_this(), ctx = &w_->ctx](HoldEnd why) {
                               asio::post(*ctx, [self, why] { self->OnHoldEnd(why); });
                             }};
    switch (HoldOrGo(q, w_->options->max_held_per_revision, *w_->holder, routed_version_,
                     [&] { return (ep = AcquireEndpoint(*rev_, w_->rr++)) != nullptr; }, std::move(waiter), woken_)) {
      case HoldResult::kGo:
        return Proceed(m, ep);
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
    Dispatch(SV(req_[http::field::host]), SV(req_.target()), SV(req_[http::field::authorization]));
  }

  // ep: a slot already taken (AcquireEndpoint).
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
        req_.target(rewritten);
      }
      StripHopByHop(req_);
      req_.erase(http::field::expect);
      if (req_.find(http::field::host) == req_.end()) req_.set(http::field::host, ep->http_authority);
      req_.version(11);
      req_.keep_alive(true);
      req_.prepare_payload();
    }
    ep_ = ep;
    upstream_active_ = true;
    // The service's timeout covers the whole request, time held by the activator included.
    auto left = svc_->timeout;
    if (woken_) {
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
      if (ec == asio::error::connection_refused && !retried_) {
        retried_ = true;
        if (EndpointState* other = AcquireEndpoint(*rev_, w_->rr++, ep_)) {
          ReleaseSlot();
          ep_ = other;
          return Acquire();
        }
      }
      return UpstreamFailed(http::status::bad_gateway,
                            "cannot connect to replica " + ep_->http_name + ": " + ec.message());
    }
    if (ep_->uds_path.empty()) up_->socket.set_option(tcp::no_delay(true), ec);
    WriteUpstream();
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
    asio::async_write(socket_, asio::buffer(out_.data().data(), res_len_),
                      [self = shared_from_this()](beast::error_code ec, size_t) {
                        self->out_.consume(self->out_.size());
                        if (ec) return self->Close();
                        self->Reset();
                        self->Read();
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
    res_->keep_alive(keep_alive_);
    res_->body() = std::move(body);
    res_->prepare_payload();
    Send();
  }

  void Send() {
    http::async_write(socket_, *res_, [self = shared_from_this()](beast::error_code ec, size_t) {
      if (ec) return self->Close();
      if (!self->keep_alive_) return self->Linger();
      self->Reset();
      self->Read();
    });
  }

  void Reset() {
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
    retried_ = stale_retried_ = timed_out_ = upstream_active_ = woken_ = false;
  }

  // Closes after the answer was sent: half-close, then drain what the client still sends (e.g. the rest of a
  // body over the limit) for a little while, so the close does not turn into a reset that eats the answer.
  void Linger() {
    beast::error_code ec;
    socket_.shutdown(tcp::socket::shutdown_send, ec);
    if (ec) return Close();
    timer_.expires_after(kLingerTime);
    timer_.async_wait([self = shared_from_this()](beast::error_code ec) {
      if (!ec) self->Close();
    });
    Drain();
  }

  void Drain() {
    drain_.resize(16 * 1024);
    socket_.async_read_some(asio::buffer(drain_), [self = shared_from_this()](beast::error_code ec, size_t) {
      if (ec) {
        self->timer_.cancel();
        return self->Close();
      }
      self->Drain();
    });
  }

  void Close() {
    beast::error_code ec;
    socket_.shutdown(tcp::socket::shutdown_both, ec);
    socket_.close(ec);
  }

  tcp::socket socket_;
  Worker* w_;
  const std::string* bearer_;
  asio::steady_timer timer_;
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
  bool retried_ = false;
  bool stale_retried_ = false;
  bool timed_out_ = false;
  bool upstream_active_ = false;
  std::vector<char> drain_;
};

}  // namespace

struct HttpProxy::Impl {
  GatewayOptions options;
  const TableHolder* holder;
  std::string bearer;  // "bearer <token>" or empty
  std::vector<std::unique_ptr<Worker>> workers;
  std::vector<std::thread> threads;
  int port = 0;

  void Accept(Worker* w) {
    w->acceptor->async_accept([this, w](beast::error_code ec, tcp::socket socket) {
      if (ec == asio::error::operation_aborted || !w->acceptor->is_open()) return;
      if (!ec) {
        socket.set_option(tcp::no_delay(true), ec);
        std::make_shared<Session>(std::move(socket), w, &bearer)->Start();
      } else {
        LOG_WARN("gateway: accept failed: {}", ec.message());
      }
      Accept(w);
    });
  }
};

HttpProxy::HttpProxy(const GatewayOptions& options, const TableHolder* table) : impl_(std::make_unique<Impl>()) {
  impl_->options = options;
  impl_->holder = table;
  if (!options.token.empty()) impl_->bearer = "bearer " + options.token;
}

HttpProxy::~HttpProxy() { Stop(); }

Status HttpProxy::Start() {
  int workers = impl_->options.workers > 0 ? impl_->options.workers
                                           : std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
  beast::error_code ec;
  auto address = asio::ip::make_address(impl_->options.host, ec);
  if (ec) return InvalidArgument("gateway host: '" + impl_->options.host + "' is not an IP address");
  int port = impl_->options.http_port;
  std::random_device rd;
  for (int i = 0; i < workers; ++i) {
    auto w = std::make_unique<Worker>();
    w->options = &impl_->options;
    w->holder = impl_->holder;
    w->rng = FastRng((static_cast<uint64_t>(rd()) << 32) ^ rd() ^ static_cast<uint64_t>(i));
    w->rr = static_cast<uint32_t>(i);
    w->acceptor.emplace(w->ctx);
    tcp::endpoint ep(address, static_cast<unsigned short>(port));
    auto& acc = *w->acceptor;
    acc.open(ep.protocol(), ec);
    if (!ec) acc.set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) {
      int one = 1;
      if (setsockopt(acc.native_handle(), SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0) {
        return Internal("gateway http: cannot set SO_REUSEPORT");
      }
    }
    if (!ec) acc.bind(ep, ec);
    if (!ec) acc.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) {
      return Unavailable("gateway http: cannot listen on " + impl_->options.host + ":" + std::to_string(port) +
                         ": " + ec.message());
    }
    if (i == 0) port = acc.local_endpoint().port();
    impl_->workers.push_back(std::move(w));
  }
  impl_->port = port;
  for (auto& w : impl_->workers) {
    w->work.emplace(w->ctx.get_executor());
    impl_->Accept(w.get());
    impl_->threads.emplace_back([w = w.get()] { w->ctx.run(); });
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
      std::lock_guard<std::mutex> lock(q.mu);
      dropped.swap(q.waiters);
      q.size.fetch_sub(static_cast<int64_t>(dropped.size()));
    }
  });
  impl_->workers.clear();  // sessions still queued on a loop are destroyed with it
}

}  // namespace inferd::gateway
