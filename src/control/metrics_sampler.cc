// control/metrics_sampler.cc: the METRICS tab's sampler (see metrics_sampler.h for the contract).
#include "control/metrics_sampler.h"

#include <chrono>

namespace inferd::control {

namespace {

int64_t WallMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

std::vector<webui::RevisionSnapshot> SnapshotRoutes(const gateway::RoutingTable& table) {
  std::vector<webui::RevisionSnapshot> out;
  for (const auto& svc : table.services) {
    for (const auto& rev : svc.revisions) {
      if (!rev.stats) continue;
      webui::RevisionSnapshot s;
      s.ns = svc.ns;
      s.name = svc.name;
      s.component = svc.component.empty() ? "predictor" : svc.component;
      s.revision = rev.revision;
      const gateway::RevisionStats& st = *rev.stats;
      s.requests = st.requests.load(std::memory_order_relaxed);
      s.errors = st.errors.load(std::memory_order_relaxed);
      s.in_flight = st.in_flight.load(std::memory_order_relaxed);
      for (int i = 0; i < gateway::kLatencyBuckets; ++i) s.latency[i] = st.latency_buckets[i].load(std::memory_order_relaxed);
      s.replicas = static_cast<int>(rev.endpoints.size());
      out.push_back(std::move(s));
    }
  }
  return out;
}

MetricsSampler::MetricsSampler(webui::MetricsLimits limits) : recorder_(limits) {}
MetricsSampler::~MetricsSampler() { Stop(); }

void MetricsSampler::OnRoutes(std::shared_ptr<const gateway::RoutingTable> table) {
  MutexLock lock(mu_);
  routes_ = std::move(table);
}

void MetricsSampler::SampleNow() {
  std::shared_ptr<const gateway::RoutingTable> table;
  {
    MutexLock lock(mu_);
    table = routes_;
  }
  if (!table) return;
  std::vector<webui::RevisionSnapshot> snaps = SnapshotRoutes(*table);
  const int64_t now = WallMs();
  MutexLock lock(mu_);
  recorder_.Record(now, snaps);
}

std::string MetricsSampler::WindowJson(const std::string& ns, const std::string& name, int window_s) {
  const int64_t now = WallMs();
  MutexLock lock(mu_);
  return webui::MetricsJson(now, recorder_.limits().interval_ms,
                            recorder_.Window(ns, name, now - static_cast<int64_t>(window_s) * 1000));
}

void MetricsSampler::Start() {
  thread_ = std::thread([this] { Run(); });
}

void MetricsSampler::Run() {
  int64_t interval_ms;
  {
    MutexLock lock(mu_);
    interval_ms = recorder_.limits().interval_ms;
  }
  while (true) {
    {
      MutexLock lock(stop_mu_);
      stop_cv_.WaitFor(stop_mu_, std::chrono::milliseconds(interval_ms), [this]() REQUIRES(stop_mu_) { return stop_; });
      if (stop_) return;
    }
    SampleNow();
  }
}

void MetricsSampler::Stop() {
  {
    MutexLock lock(stop_mu_);
    stop_ = true;
  }
  stop_cv_.Signal();
  if (thread_.joinable()) thread_.join();
}

}  // namespace inferd::control
