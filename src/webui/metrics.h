// webui/metrics.h: the METRICS tab's data without Prometheus or Grafana: `inferd serve` samples the gateway's
// per-revision counters every interval into a bounded ring per revision (docs/webapp.md, "Metrics").
//
// Contract:
// - Record(now_ms, snapshots): one sampling pass. For each revision (ns, name, component, revision) the sample
//   is the difference from that revision's previous snapshot: requests and errors in the interval, rps over
//   the time since the previous pass, p50/p99 from the latency histogram's difference (gateway/latency.h;
//   null with no request), and the instantaneous in-flight and ready-replica counts. A revision seen for the
//   first time counts from zero over one interval (its counters are created with its route, which the sampler
//   sees within an interval: requests made before its first pass are not lost). A counter that went
//   backwards (the revision's stats were recreated) counts from zero. Pure: the time is passed in (unix ms,
//   the samples' "t").
// - Bounds: at most `samples_per_revision` samples per revision (oldest dropped; 1800 = one hour at 2 s) and
//   `max_revisions` revisions (the one seen least recently dropped); a revision not seen for longer than a
//   ring's span is forgotten.
// - Window(ns, name, since_ms): the samples of that service newer than since_ms, every component and revision,
//   ordered by time. Json(...) renders the endpoint's answer.
// Not thread-safe: the caller locks (control/control_plane.cc: the sampler thread writes, the API reads).
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "gateway/latency.h"

namespace inferd::webui {

struct RevisionSnapshot {
  std::string ns, name, component, revision;  // component: "predictor", "transformer" or "explainer"
  uint64_t requests = 0, errors = 0;
  int64_t in_flight = 0;
  int replicas = 0;
  gateway::LatencyCounts latency{};
};

struct MetricsSample {
  int64_t t_ms = 0;
  std::string component, revision;
  uint64_t requests = 0, errors = 0;
  double rps = 0;
  std::optional<double> p50_ms, p99_ms;
  int64_t in_flight = 0;
  int replicas = 0;
};

struct MetricsLimits {
  int64_t interval_ms = 2000;
  size_t samples_per_revision = 1800;
  size_t max_revisions = 4096;
};

class MetricsRecorder {
 public:
  explicit MetricsRecorder(MetricsLimits limits = {}) : limits_(limits) {}
  void Record(int64_t now_ms, const std::vector<RevisionSnapshot>& snapshots);
  std::vector<MetricsSample> Window(std::string_view ns, std::string_view name, int64_t since_ms) const;
  const MetricsLimits& limits() const { return limits_; }
  size_t revisions() const { return revs_.size(); }

 private:
  struct Rev {
    RevisionSnapshot last;
    int64_t last_ms = 0;
    std::deque<MetricsSample> ring;
  };
  MetricsLimits limits_;
  std::map<std::string, Rev> revs_;  // "ns/name/component/revision"
};

// {"now", "intervalMs", "series": [{"t", "component", "revision", "requests", "errors", "rps", "p50Ms", "p99Ms",
// "inFlight", "replicas"}...]} (web-contract.md).
std::string MetricsJson(int64_t now_ms, int64_t interval_ms, const std::vector<MetricsSample>& samples);

}  // namespace inferd::webui
