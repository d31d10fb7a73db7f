#include "gateway/gateway.h"

#include <mutex>

#include "core/logging.h"
#include "gateway/grpc_proxy.h"
#include "gateway/http_proxy.h"
#include "gateway/routing.h"

namespace inferd::gateway {

struct Gateway::Impl {
  GatewayOptions options;
  EndpointRegistry registry;
  TableHolder table;
  std::mutex update_mu;  // serializes UpdateRoutes (compiling), never taken by the request path
  std::unique_ptr<HttpProxy> http;
  std::unique_ptr<GrpcProxy> grpc;
  bool started = false;
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
  impl_->started = true;
  LOG_INFO("gateway listening http_port={} grpc_port={}", http_port(), grpc_port());
  return Status::Ok();
}

int Gateway::http_port() const { return impl_->http ? impl_->http->port() : 0; }

int Gateway::grpc_port() const { return impl_->grpc ? impl_->grpc->port() : 0; }

void Gateway::UpdateRoutes(std::shared_ptr<const RoutingTable> table) {
  std::lock_guard<std::mutex> lock(impl_->update_mu);
  if (!table) table = std::make_shared<RoutingTable>();
  impl_->table.Store(Compile(*table, impl_->options.domain, &impl_->registry));
}

void Gateway::Stop() {
  if (!impl_) return;
  if (impl_->grpc) impl_->grpc->Stop();
  if (impl_->http) impl_->http->Stop();
  impl_->grpc.reset();
  impl_->http.reset();
  impl_->started = false;
}

}  // namespace inferd::gateway
