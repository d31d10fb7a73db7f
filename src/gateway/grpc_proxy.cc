#include "gateway/grpc_proxy.h"

#include <grpcpp/create_channel.h>
#include <grpcpp/generic/async_generic_service.h>
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/security/credentials.h>
#include <grpcpp/security/server_credentials.h>
#include <grpcpp/server.h>
#include <grpcpp/server_builder.h>
#include <grpcpp/server_posix.h>
#include <grpcpp/support/channel_arguments.h>
#include <grpcpp/support/stub_options.h>

#include <algorithm>
#include <charconv>
#include <climits>
#include <random>
#include <vector>

#include "core/bearer.h"
#include "core/clock.h"
#include "core/logging.h"
#include "core/mutex.h"
#include "gateway/grpc_scan.h"
#include "inference.pb.h"
#include "net/handoff.h"
#include "net/peer.h"

namespace inferd::gateway {

struct GrpcUpstream {
  std::shared_ptr<grpc::Channel> channel;
  std::unique_ptr<grpc::GenericStub> stub;
};

namespace {

constexpr std::string_view kServicePrefix = "/inference.GRPCInferenceService/";
// TF Serving's gRPC API (KServe's grpc-v1 for the tensorflow runtime; the model server's server/tfserving_grpc.h).
constexpr std::string_view kTfsPredictionPrefix = "/tensorflow.serving.PredictionService/";
constexpr std::string_view kTfsModelPrefix = "/tensorflow.serving.ModelService/";

// Field 1 of a request as bytes (a V2 request's model_name; a TF Serving request's model_spec), without copying
// the request in the usual case (field 1 comes first and lies in the first slice); otherwise the buffer is
// flattened once.
std::optional<std::string> ModelNameOf(const grpc::ByteBuffer& buffer) {
  std::vector<grpc::Slice> slices;
  if (!buffer.Dump(&slices).ok()) return std::nullopt;
  std::string name;
  if (slices.empty()) return name;
  Field1 r = ScanField1(slices[0].begin(), slices[0].size(), &name);
  if (r == Field1::kFound) return name;
  if (slices.size() == 1) return r == Field1::kAbsent ? std::optional<std::string>(std::string()) : std::nullopt;
  std::string flat;
  flat.reserve(buffer.Length());
  for (const auto& s : slices) flat.append(reinterpret_cast<const char*>(s.begin()), s.size());
  name.clear();
  return ReadField1String(flat);
}

// A TF Serving request's model name: model_spec (field 1) .name (its field 1); MultiInference's is in
// tasks[0] (field 1) .model_spec (its field 1) .name. nullopt when the bytes do not parse that far.
std::optional<std::string> TfServingModelNameOf(const grpc::ByteBuffer& buffer, bool multi_inference) {
  std::optional<std::string> spec = ModelNameOf(buffer);
  if (spec && multi_inference) spec = ReadField1String(*spec);
  if (!spec) return std::nullopt;
  return ReadField1String(*spec);
}

// Metadata that gRPC itself manages on each hop.
bool Reserved(std::string_view key) {
  return key.empty() || key[0] == ':' || key.starts_with("grpc-") || key == "user-agent" || key == "te" ||
         key == "content-type" || key == "host";
}

bool IsServerError(grpc::StatusCode c) {
  switch (c) {
    case grpc::StatusCode::UNKNOWN:
    case grpc::StatusCode::INTERNAL:
    case grpc::StatusCode::UNAVAILABLE:
    case grpc::StatusCode::DEADLINE_EXCEEDED:
    case grpc::StatusCode::DATA_LOSS:
    case grpc::StatusCode::UNIMPLEMENTED:
      return true;
    default:
      return false;
  }
}

// A call that failed this way never reached the replica: gRPC found no connection to send it on (refused,
// or the channel is in TRANSIENT_FAILURE after the replica died). The text is gRPC core's own ("failed to
// connect to all addresses; last error: ..."; grpc 1.51); a call cut while in flight says "Socket closed",
// "Connection reset by peer" and the like instead, and fails (the replica may have run it).
bool NeverSent(const grpc::Status& s) {
  return s.error_code() == grpc::StatusCode::UNAVAILABLE &&
         s.error_message().find("failed to connect to all addresses") != std::string::npos;
}

// The peer of a connection net::HandoffListener handed to gRPC, which names it "fd:<descriptor>" (the
// descriptor stays open while a call on it runs): the address is asked of the socket (net/peer.h).
bool ExternalFdPeer(std::string_view fd_text) {
  int fd = -1;
  auto [end, ec] = std::from_chars(fd_text.data(), fd_text.data() + fd_text.size(), fd);
  if (ec != std::errc() || end != fd_text.data() + fd_text.size() || fd < 0) return true;
  return !net::PeerIsLocal(fd);
}

// The peer of a server call is "ipv4:127.0.0.1:5000", "ipv6:[::1]:5000", "unix:..." or "fd:12" (see
// ExternalFdPeer): true unless it is a loopback IP address (a Unix socket peer is local too).
bool ExternalPeer(std::string_view peer) {
  if (peer.starts_with("unix:")) return false;
  if (peer.starts_with("fd:")) return ExternalFdPeer(peer.substr(3));
  if (peer.starts_with("ipv4:")) {
    peer.remove_prefix(5);
    return !IsLoopbackIp(peer.substr(0, peer.rfind(':')));
  }
  if (peer.starts_with("ipv6:[")) {
    peer.remove_prefix(6);
    return !IsLoopbackIp(peer.substr(0, peer.find(']')));
  }
  return true;
}

GrpcUpstream* UpstreamOf(EndpointState* ep) {
  std::call_once(ep->grpc_once, [ep] {
    auto u = std::make_shared<GrpcUpstream>();
    grpc::ChannelArguments args;
    args.SetMaxReceiveMessageSize(-1);
    args.SetMaxSendMessageSize(-1);
    std::string host = ep->host.find(':') != std::string::npos ? "[" + ep->host + "]" : ep->host;
    u->channel = grpc::CreateCustomChannel(host + ":" + std::to_string(ep->grpc_port),
                                           grpc::InsecureChannelCredentials(), args);
    u->stub = std::make_unique<grpc::GenericStub>(u->channel);
    ep->grpc = std::move(u);
  });
  return ep->grpc.get();
}

struct ThreadState {
  FastRng rng{std::random_device{}() ^ (static_cast<uint64_t>(std::random_device{}()) << 32)};
  uint32_t rr = static_cast<uint32_t>(std::random_device{}());
};

ThreadState& Local() {
  thread_local ThreadState s;
  return s;
}

}  // namespace

struct GrpcProxy::Impl {
  GatewayOptions options;
  const TableHolder* holder = nullptr;
  std::unique_ptr<grpc::CallbackGenericService> service;
  std::unique_ptr<grpc::Server> server;
  // Accepts for `server`, which has no listening socket of its own (gRPC 1.51 stops accepting for good after
  // one EMFILE: net/handoff.h). Declared after it: destroyed, so stopped, first.
  std::unique_ptr<net::HandoffListener> listener;
  int port = 0;
};

namespace {

class ProxyReactor final : public grpc::ServerGenericBidiReactor {
 public:
  ProxyReactor(grpc::GenericCallbackServerContext* ctx, const GrpcProxy::Impl* proxy) : ctx_(ctx), p_(proxy) {
    StartRead(&request_);
  }

  void OnReadDone(bool ok) override {
    if (!ok) return Finish(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "gateway: no request message"));
    Dispatch();
  }

  // Before the upstream call started: cancels it on start. The lock: a retry (EndpointGone) may be swapping
  // the client context on another thread.
  void OnCancel() override {
    MutexLock lock(cancel_mu_);
    cancelled_ = true;
    call_ctx_->TryCancel();
  }

  void OnDone() override {
    EndUpstream(true);  // only when the call ended without an upstream answer
    delete this;
  }

 private:
  template <class M>
  void Reply(const M& message) {
    std::string bytes = message.SerializeAsString();
    grpc::Slice slice(bytes);
    response_ = grpc::ByteBuffer(&slice, 1);
    StartWriteAndFinish(&response_, grpc::WriteOptions(), grpc::Status::OK);
  }

  bool Authorized() const {
    const std::string& token = p_->options.token;
    if (token.empty()) return true;
    const auto& md = ctx_->client_metadata();
    auto it = md.find("authorization");
    return it != md.end() && BearerTokenMatches(std::string_view(it->second.data(), it->second.size()), token);
  }

  void Dispatch() {
    const std::string& method = ctx_->method();
    const bool tfs = method.starts_with(kTfsPredictionPrefix) || method.starts_with(kTfsModelPrefix);
    if (!method.starts_with(kServicePrefix) && !tfs) {
      return Finish(grpc::Status(grpc::StatusCode::UNIMPLEMENTED,
                                 "gateway: only inference.GRPCInferenceService and TF Serving's "
                                 "tensorflow.serving.PredictionService/ModelService are proxied, not " + method));
    }
    std::string_view rpc = RpcName();
    // The gateway's own health, unless the :authority names a service: then that service's (proxied).
    std::string_view label, ns;
    bool cluster_host = false;
    if (!tfs && (rpc == "ServerLive" || rpc == "ServerReady") &&
        !SplitAnyServiceHost(ctx_->host(), p_->holder->Load()->domain, &label, &ns, &cluster_host)) {
      if (rpc == "ServerLive") {
        inference::ServerLiveResponse r;
        r.set_live(true);
        return Reply(r);
      }
      inference::ServerReadyResponse r;
      r.set_ready(true);
      return Reply(r);
    }
    if (!Authorized()) {
      return Finish(grpc::Status(grpc::StatusCode::UNAUTHENTICATED, "gateway: missing or invalid bearer token"));
    }
    by_model_ = tfs || rpc == "ModelInfer" || rpc == "ModelReady" || rpc == "ModelMetadata" ||
                rpc == "RepositoryModelLoad" || rpc == "RepositoryModelUnload";
    if (by_model_) {
      auto name = tfs ? TfServingModelNameOf(request_, rpc == "MultiInference") : ModelNameOf(request_);
      if (!name) {
        return Finish(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "gateway: request message does not parse"));
      }
      model_ = std::move(*name);
    }
    start_ns_ = NowNs();
    Route();
  }

  // Routes against the current table (again, for a request the activator held and woke). The first time,
  // opens the stats of the revision picked; a woken request keeps counting there.
  void Route() {
    version_ = p_->holder->version();
    table_ = p_->holder->Load();
    std::string_view ns = kDefaultNamespace, label, host_ns, host_tag;
    const ServiceState* host_svc = nullptr;
    bool cluster_host = false;
    // Cluster-local services and hosts exist for loopback clients only (the peer is looked at only then).
    const bool has_host = SplitAnyServiceHost(ctx_->host(), table_->domain, &label, &host_ns, &cluster_host);
    const bool external = (cluster_host || table_->any_cluster_local) && ExternalPeer(ctx_->peer());
    if (has_host && !(cluster_host && external)) {
      ns = host_ns;
      bool top_level = false;
      host_svc = ResolveHostLabel(*table_, label, ns, &host_tag, external, &top_level);
      if (host_svc && top_level) host_svc = table_->TopLevel(*host_svc, "");  // the transformer when there is one
    }
    std::string_view tag;
    if (!model_.empty()) {
      svc_ = table_->Find(ns, model_, external);
      if (svc_ == nullptr) {
        return Fail(grpc::StatusCode::NOT_FOUND,
                    "gateway: no InferenceService '" + model_ + "' in namespace '" + std::string(ns) + "'");
      }
      // The :authority's component of this service (e.g. {isvc}-predictor.{ns}, as a transformer calls its
      // predictor), else what the service's own URL routes to.
      if (host_svc && host_svc->ns == svc_->ns && host_svc->name == svc_->name) {
        svc_ = host_svc;
        tag = host_tag;
      } else {
        svc_ = table_->TopLevel(*svc_, "");
      }
    } else {
      svc_ = host_svc;
      tag = host_tag;
      if (svc_ == nullptr) {
        return Fail(grpc::StatusCode::NOT_FOUND,
                    by_model_ ? "gateway: model_name is empty"
                              : "gateway: " + std::string(RpcName()) + " is routed by the :authority host {isvc}.{ns}." +
                                    table_->domain + ", got '" + ctx_->host() + "'");
      }
    }
    ThreadState& ts = Local();
    rev_ = PickRevision(*svc_, tag, ts.rng.Next());
    if (rev_ == nullptr) {  // known, but nothing to send to: not ready yet, failing, or serve just started
      return Fail(grpc::StatusCode::UNAVAILABLE,
                  "gateway: " + (tag.empty() ? svc_->unavailable
                                             : "service " + svc_->ns + "/" + svc_->name + " has no revision tagged " +
                                                   std::string(tag)));
    }
    if (!stats_open_) {
      stats_ = rev_->stats;
      StatsBegin(*stats_, start_ns_);
      stats_open_ = true;
    }
    ep_ = AcquireEndpoint(*rev_, ts.rr++, nullptr, /*need_grpc=*/true);
    if (ep_ == nullptr) return Hold();
    StartUpstream();
  }

  // The activator (see gateway.h): wait for an endpoint or a free slot, up to the service's timeout.
  void Hold() {
    const bool none = !HasLiveEndpoint(*rev_, /*need_grpc=*/true);
    if (none && !rev_->unavailable.empty()) return Fail(grpc::StatusCode::UNAVAILABLE, "gateway: " + rev_->unavailable);
    bool grpc_capable = rev_->endpoints.empty();
    for (const auto& e : rev_->endpoints) grpc_capable |= e->grpc_port > 0;
    if (!grpc_capable) {  // replicas that serve REST only: waiting would not help
      return Fail(grpc::StatusCode::UNAVAILABLE,
                  "gateway: service " + svc_->ns + "/" + svc_->name + " has no ready gRPC replica");
    }
    const int64_t deadline = start_ns_ + std::chrono::duration_cast<std::chrono::nanoseconds>(svc_->timeout).count();
    // The waiter runs on whichever thread wakes it; nothing else touches this reactor while it is held.
    HoldQueue::Waiter waiter{deadline, [this](HoldEnd why) { OnHoldEnd(why); }};
    HoldQueue& q = *rev_->stats->queue;
    auto r = HoldOrGo(q, p_->options.max_held_per_revision, *p_->holder, version_,
                      [&] { return (ep_ = AcquireEndpoint(*rev_, Local().rr++, nullptr, true)) != nullptr; },
                      std::move(waiter), woken_);
    switch (r) {
      case HoldResult::kGo:
        return StartUpstream();
      case HoldResult::kStale:
        return Route();
      case HoldResult::kFull:
        return Fail(grpc::StatusCode::UNAVAILABLE,
                    "gateway: " + QueueFullMessage(rev_->revision, p_->options.max_held_per_revision));
      case HoldResult::kHeld:
        break;
    }
    held_ = true;
    NoteHeld(*stats_, none, p_->options);
  }

  void OnHoldEnd(HoldEnd why) {
    held_ = false;
    NoteUnheld(*stats_);
    if (why == HoldEnd::kWoken) {
      woken_ = true;
      return Route();
    }
    if (why == HoldEnd::kShutdown) return Fail(grpc::StatusCode::UNAVAILABLE, "gateway: shutting down");
    Fail(grpc::StatusCode::UNAVAILABLE, "gateway: " + HoldTimeoutMessage(rev_->revision, svc_->timeout));
  }

  void Fail(grpc::StatusCode code, const std::string& message) {
    EndUpstream(code == grpc::StatusCode::UNAVAILABLE);
    Finish(grpc::Status(code, message));
  }

  // The method's name within its service (after the last '/').
  std::string_view RpcName() const {
    std::string_view m = ctx_->method();
    return m.substr(m.rfind('/') + 1);
  }

  // ep_: a slot already taken.
  void StartUpstream() {
    if (attempts_++ > 0 && !FreshContext()) {  // a ClientContext serves one call
      ReleaseEndpoint(*rev_, ep_);
      ep_ = nullptr;
      return Fail(grpc::StatusCode::CANCELLED, "gateway: the client cancelled the call");
    }
    grpc::ClientContext& cc = *call_ctx_;
    for (const auto& [k, v] : ctx_->client_metadata()) {
      std::string_view key(k.data(), k.size());
      if (Reserved(key)) continue;
      cc.AddMetadata(std::string(key), std::string(v.data(), v.size()));
    }
    // The service's timeout covers the whole request, time held by the activator included.
    auto limit = std::chrono::system_clock::now() + svc_->timeout - std::chrono::nanoseconds(NowNs() - start_ns_);
    cc.set_deadline(std::min(ctx_->deadline(), limit));
    UpstreamOf(ep_)->stub->UnaryCall(&cc, ctx_->method(), grpc::StubOptions(), &request_, &response_,
                                     [this](grpc::Status s) { OnUpstreamDone(std::move(s)); });
  }

  // A new client context for another attempt; false when the client cancelled meanwhile.
  bool FreshContext() {
    MutexLock lock(cancel_mu_);
    if (cancelled_) return false;
    retry_ctx_ = std::make_unique<grpc::ClientContext>();
    call_ctx_ = retry_ctx_.get();
    return true;
  }

  // The replica behind ep_ is gone and never saw the call (see gateway.h, Proxying): it leaves every
  // picker, and the call goes to another replica of the revision or waits for one.
  void EndpointGone(const grpc::Status& s) {
    if (MarkGone(*ep_)) {
      LOG_INFO("gateway: replica {}:{} of revision {} is gone ({}); its calls go elsewhere or wait", ep_->host,
               ep_->grpc_port, rev_->revision, s.error_message());
    }
    ReleaseEndpoint(*rev_, ep_);
    ep_ = AcquireEndpoint(*rev_, Local().rr++, nullptr, /*need_grpc=*/true);
    if (ep_ != nullptr) return StartUpstream();
    Hold();
  }

  void OnUpstreamDone(grpc::Status s) {
    if (NeverSent(s)) return EndpointGone(s);
    const grpc::ClientContext& cc = *call_ctx_;
    for (const auto& [k, v] : cc.GetServerInitialMetadata()) {
      std::string_view key(k.data(), k.size());
      if (!Reserved(key)) ctx_->AddInitialMetadata(std::string(key), std::string(v.data(), v.size()));
    }
    for (const auto& [k, v] : cc.GetServerTrailingMetadata()) {
      std::string_view key(k.data(), k.size());
      if (!Reserved(key)) ctx_->AddTrailingMetadata(std::string(key), std::string(v.data(), v.size()));
    }
    EndUpstream(IsServerError(s.error_code()));
    if (s.ok()) {
      StartWriteAndFinish(&response_, grpc::WriteOptions(), s);
    } else {
      Finish(s);
    }
  }

  void EndUpstream(bool error) {
    if (ep_ != nullptr) {
      ReleaseEndpoint(*rev_, ep_);
      ep_ = nullptr;
    }
    if (stats_open_) {
      stats_open_ = false;
      int64_t now = NowNs();
      StatsEnd(*stats_, now, now - start_ns_, error);
    }
  }

  grpc::GenericCallbackServerContext* ctx_;
  const GrpcProxy::Impl* p_;
  grpc::ByteBuffer request_;
  grpc::ByteBuffer response_;
  grpc::ClientContext client_ctx_;  // the first attempt's
  std::unique_ptr<grpc::ClientContext> retry_ctx_;  // a later attempt's (after a gone replica)
  // The current attempt's; swapped under cancel_mu_ (not GUARDED_BY: the call's own thread, the only
  // writer, reads it without the lock).
  grpc::ClientContext* call_ctx_ = &client_ctx_;
  Mutex cancel_mu_;  // OnCancel (any gRPC thread) against FreshContext
  bool cancelled_ GUARDED_BY(cancel_mu_) = false;
  int attempts_ = 0;
  std::shared_ptr<const CompiledTable> table_;  // keeps svc_/rev_/ep_ alive
  uint64_t version_ = 0;                        // the table version table_ was loaded at
  std::string model_;
  bool by_model_ = false;
  const ServiceState* svc_ = nullptr;
  const RevisionState* rev_ = nullptr;
  EndpointState* ep_ = nullptr;  // a slot taken (AcquireEndpoint) while set
  std::shared_ptr<RevisionStats> stats_;  // where the request is counted (the revision first picked)
  bool stats_open_ = false;
  bool held_ = false;
  bool woken_ = false;
  int64_t start_ns_ = 0;
};

class ProxyService final : public grpc::CallbackGenericService {
 public:
  explicit ProxyService(const GrpcProxy::Impl* proxy) : p_(proxy) {}
  grpc::ServerGenericBidiReactor* CreateReactor(grpc::GenericCallbackServerContext* ctx) override {
    return new ProxyReactor(ctx, p_);
  }

 private:
  const GrpcProxy::Impl* p_;
};

}  // namespace

GrpcProxy::GrpcProxy(const GatewayOptions& options, const TableHolder* table) : impl_(std::make_unique<Impl>()) {
  impl_->options = options;
  impl_->holder = table;
}

GrpcProxy::~GrpcProxy() { Stop(); }

Status GrpcProxy::Start() {
  impl_->service = std::make_unique<ProxyService>(impl_.get());
  grpc::ServerBuilder builder;  // no listening port: impl_->listener accepts
  size_t max_body = impl_->options.max_body_bytes;
  builder.SetMaxReceiveMessageSize(max_body > static_cast<size_t>(INT_MAX) ? INT_MAX : static_cast<int>(max_body));
  builder.SetMaxSendMessageSize(-1);
  // Bounds in gRPC's terms (net/limits.h): idle connections are closed after the keep-alive timeout, and
  // streams per connection are bounded. (No grpc::ResourceQuota: tried; with gRPC 1.51 a quota too small for
  // its buffers made every call, small ones included, wait until its deadline instead of being refused.)
  const auto& limits = impl_->options.limits;
  builder.AddChannelArgument(GRPC_ARG_MAX_CONNECTION_IDLE_MS,
                             static_cast<int>(std::min<int64_t>(limits.timeouts.keepalive_ms, INT_MAX)));
  builder.AddChannelArgument(GRPC_ARG_MAX_CONCURRENT_STREAMS, 1024);
  builder.RegisterCallbackGenericService(impl_->service.get());
  impl_->server = builder.BuildAndStart();
  if (!impl_->server) return Unavailable("gateway grpc: cannot start");
  grpc::Server* server = impl_->server.get();
  impl_->listener = std::make_unique<net::HandoffListener>("gateway grpc", [server](int fd) {
    grpc::AddInsecureChannelFromFd(server, fd);
  });
  if (Status st = impl_->listener->Start(impl_->options.host, std::max(0, impl_->options.grpc_port)); !st.ok()) {
    impl_->listener.reset();
    Stop();
    return st;
  }
  impl_->port = impl_->listener->port();
  return Status::Ok();
}

int GrpcProxy::port() const { return impl_->port; }

void GrpcProxy::Stop() {
  if (!impl_ || !impl_->server) return;
  if (impl_->listener) impl_->listener->Stop();  // no new connections
  impl_->server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
  impl_->server->Wait();
  impl_->server.reset();
}

}  // namespace inferd::gateway
