// control/metrics_sampler.h: `inferd serve`'s sampler for the web app's METRICS tab (webui/metrics.h): every
// interval (2 s) it reads the counters of every revision in the routing table last published to the gateway
// (requests, errors, in flight, the latency histogram: gateway/gateway.h RevisionStats; ready replicas: the
// route's endpoints) into a bounded ring per revision.
//
// Contract: OnRoutes(table) is called with every table published (any thread, cheap: it keeps the pointer).
// Start() starts the sampling thread; Stop() ends it (idempotent; the destructor stops). Window(ns, name,
// window_s) answers the endpoint's JSON (any thread). SnapshotRoutes is the pure read of a table.
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "core/mutex.h"
#include "core/thread_annotations.h"
#include "gateway/gateway.h"
#include "webui/metrics.h"

namespace inferd::control {

std::vector<webui::RevisionSnapshot> SnapshotRoutes(const gateway::RoutingTable& table);

class MetricsSampler {
 public:
  explicit MetricsSampler(webui::MetricsLimits limits = {});
  ~MetricsSampler();
  void OnRoutes(std::shared_ptr<const gateway::RoutingTable> table);
  void Start();
  void Stop();
  std::string WindowJson(const std::string& ns, const std::string& name, int window_s);
  void SampleNow();  // one pass (the thread's; tests call it)

 private:
  void Run();
  Mutex mu_;
  std::shared_ptr<const gateway::RoutingTable> routes_ GUARDED_BY(mu_);
  webui::MetricsRecorder recorder_ GUARDED_BY(mu_);
  Mutex stop_mu_;
  CondVar stop_cv_;
  bool stop_ GUARDED_BY(stop_mu_) = false;
  std::thread thread_;
};

}  // namespace inferd::control
