#include "gateway/gateway.h"

#include <thread>

#include "core/clock.h"
#include "core/logging.h"
#include "gateway/grpc_proxy.h"
#include "gateway/http_proxy.h"
#include "gateway/routing.h"

namespace inferd::gateway {

struct Gateway::Impl {
  GatewayOptions options;
  EndpointRegistry registry;
  TableHolder table;
  Mutex update_mu;  // serializes UpdateRoutes (compiling), never taken by the request path
  std::unique_ptr<HttpProxy> http;
  std::unique_ptr<GrpcProxy> grpc;
  bool started = false;

  // Expires held requests past their deadline (every 20 ms: the precision of hold timeouts).
  std::thread sweeper;
  Mutex sweep_mu;
  CondVar sweep_cv;
  bool sweep_stop GUARDED_BY(sweep_mu) = false;

  void Sweep() {
    MutexLock lock(sweep_mu);
    auto stop = [this]() REQUIRES(sweep_mu) { return sweep_stop; };
    while (!sweep_cv.WaitFor(sweep_mu, std::chrono::milliseconds(20), stop)) {
      auto t = table.Load();
      const int64_t now = NowNs();
      ForEachQueue(*t, [now](HoldQueue& q) {
        if (q.size.load(std::memory_order_relaxed) > 0) q.Expire(now);
      });
    }
  }
};

Gateway::Gateway(GatewayOptions options) : impl_(std::make_unique<Impl>()) { impl_->options = std::move(options); }

Gateway::~Gateway() { Stop(); }

Status Gateway::Start() {
  if (impl_->started) return Status::Ok();
  impl_->http = std::make_unique<HttpProxy>(impl_->options, &impl_->table);
  Status st = impl_->http->Start();
  if (!st.ok()) {
    impl_->http->Stop();
    impl_->http.reset();
    return st;
  }
  if (impl_->options.grpc_port >= 0) {
    impl_->grpc = std::make_unique<GrpcProxy>(impl_->options, &impl_->table);
    st = impl_->grpc->Start();
    if (!st.ok()) {
      impl_->grpc.reset();
      impl_->http->Stop();
      impl_->http.reset();
      return st;
    }
  }
  {
    MutexLock lock(impl_->sweep_mu);  // before the sweeper exists: for the analysis only
    impl_->sweep_stop = false;
  }
  impl_->sweeper = std::thread([impl = impl_.get()] { impl->Sweep(); });
  impl_->started = true;
  LOG_INFO("gateway listening http_port={} grpc_port={}", http_port(), grpc_port());
  return Status::Ok();
}

int Gateway::http_port() const { return impl_->http ? impl_->http->port() : 0; }

int Gateway::grpc_port() const { return impl_->grpc ? impl_->grpc->port() : 0; }

void Gateway::UpdateRoutes(std::shared_ptr<const RoutingTable> table) {
  MutexLock lock(impl_->update_mu);
  if (!table) table = std::make_shared<RoutingTable>();
  auto old = impl_->table.Load();
  auto compiled = Compile(*table, impl_->options.domain, &impl_->registry);
  impl_->table.Store(compiled);
  // Held requests route again against the new table (an endpoint may have come, or their revision gone).
  ForEachQueue(*old, [](HoldQueue& q) { q.WakeAll(); });
  ForEachQueue(*compiled, [](HoldQueue& q) { q.WakeAll(); });
}

void Gateway::Stop() {
  if (!impl_) return;
  if (impl_->sweeper.joinable()) {
    {
      MutexLock lock(impl_->sweep_mu);
      impl_->sweep_stop = true;
    }
    impl_->sweep_cv.SignalAll();
    impl_->sweeper.join();
  }
  // Held requests are answered 503 while the proxies still run (their answers need the I/O threads).
  ForEachQueue(*impl_->table.Load(), [](HoldQueue& q) { q.WakeAll(HoldEnd::kShutdown); });
  if (impl_->grpc) impl_->grpc->Stop();
  if (impl_->http) impl_->http->Stop();
  impl_->grpc.reset();
  impl_->http.reset();
  impl_->started = false;
}

}  // namespace inferd::gateway
