// gateway/http_proxy.h: the gateway's HTTP/1.1 reverse proxy (Boost.Beast; internal to the gateway module).
//
// `workers` threads, each with its own io_context and SO_REUSEPORT acceptor, its own random generator and
// round-robin counter, its own keep-alive connection pools (one per endpoint, at most max_idle_per_endpoint
// idle each) and its own reference to the routing table (reloaded only when TableHolder's version moves).
// Nothing on the request path takes a lock; shared state is the per-endpoint in-flight atomics and the
// revision stats.
#pragma once

#include <memory>

#include "core/status.h"
#include "gateway/gateway.h"
#include "gateway/routing.h"

namespace inferd::gateway {

class HttpProxy {
 public:
  HttpProxy(const GatewayOptions& options, const TableHolder* table);
  ~HttpProxy();
  Status Start();
  int port() const;
  void Stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace inferd::gateway
