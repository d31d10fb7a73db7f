// operator/health.h: `inferd operator --health_port`: GET /healthz (200 while the process runs) and GET
// /readyz (200 once the caches are filled, else 503) for the kubelet's probes.
//
// Contract: served by inferd's connection manager (net/listener.h, net/http_session.h) on one event loop of its
// own: keep-alive, deadlines on every phase (kProbeTimeoutMs), a connection cap (kMaxConnections, refused
// at once beyond it), bodies of at most 4 KiB; so a client that holds connections open cannot stall the
// kubelet's probes. GET/HEAD only. Bound to `host` (default all addresses, since the kubelet probes the pod IP).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "core/status.h"

namespace inferd::op {

class HealthServer {
 public:
  static constexpr int64_t kProbeTimeoutMs = 5000;
  static constexpr int64_t kMaxConnections = 64;
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
