// operator/health.h: `inferd operator --health_port`: GET /healthz (200 while the process runs) and GET
// /readyz (200 once the caches are filled, else 503) for the kubelet's probes.
//
// Contract: one thread serving one connection at a time, blocking Boost.Beast with 5 s socket timeouts and
// an 8 KiB request head limit; one request per connection. Not the project's HttpSession (net/http_session.h):
// two probes every few seconds need none of its keep-alive, budgets or event loops, and a plain loop is
// easier to stop. Bound to `host` (default all addresses, since the kubelet probes the pod IP).
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "core/status.h"

namespace inferd::op {

class HealthServer {
 public:
  // ready() is called per /readyz request from the server's thread.
  static StatusOr<std::unique_ptr<HealthServer>> Start(const std::string& host, int port, std::function<bool()> ready);
  ~HealthServer();  // stops
  int port() const { return port_; }

 private:
  struct Impl;
  HealthServer() = default;
  std::unique_ptr<Impl> impl_;
  int port_ = 0;
};

}  // namespace inferd::op
