// control/scaling.h: one revision's autoscaler as the reconciler drives it, and what it reads from the
// InferenceService to configure it.
//
// Contract:
// - RevisionScaler owns one revision's KPA metric window and decider state (autoscaler/autoscaler.h), or,
//   for scaleMetric cpu|memory (KServe's raw mode, HPA class), its HPA state and resource samples. It reads
//   the gateway's per-revision counters (gateway::RevisionStats, shared with the gateway) and, in raw mode,
//   /proc/<pid>/stat and /proc/<pid>/statm of the ready replicas, summed over each replica's process and its
//   children (a model server's --processes copies, as a pod's cgroup counts them).
// - Update samples at most once per kSampleEvery (the KPA's 1-second buckets) and decides every kDecideEvery,
//   or at once when `activation` (a request is held with no ready replica); between decisions it returns the
//   last one. Time comes from the caller (steady-clock ns): the class reads no clock itself.
// - Threads: none of its own; used by the reconciler thread only. Not copyable state is not shared.
// - Errors: ScalingFor returns InvalidArgument naming the KServe field or the annotation.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "autoscaler/autoscaler.h"
#include "core/status.h"
#include "gateway/gateway.h"
#include "resources/resources.h"

namespace inferd::control {

inline constexpr std::chrono::milliseconds kSampleEvery{1000};
inline constexpr std::chrono::milliseconds kDecideEvery{2000};

// How a revision scales: the resolved KPA/HPA spec and, for raw mode, the per-replica resource target
// (cpu: cores; memory: bytes).
struct RevisionScaling {
  autoscaler::RevisionScalingSpec spec;
  double resource_target = 0;
};

// Resolves the revision's scaling from the cluster defaults, the component's annotations (the
// InferenceService's and the predictor's: `autoscaling.knative.dev/*`) and the predictor's KServe fields
// (`predictor` is spec.predictor as written: minReplicas absent means KServe's default 1 unless a min-scale
// annotation says otherwise). Raw mode targets: scaleTarget (default 80) percent of resources.requests.cpu
// (default one core) or resources.requests.memory (default 1 GiB), read from the predictor or its model.
// KServe's `autoScaling: {metrics: [{type: Resource, resource: {name: cpu|memory, target: ...}}]}` selects
// the same raw mode and wins over scaleMetric/scaleTarget (as KServe's HPA reconciler): a Utilization target's
// averageUtilization is the percent (cpu default 80), an AverageValue target the per-replica cores or bytes.
// With `serving.kserve.io/deploymentMode: RawDeployment|Standard` the default metric is cpu (KServe's HPA), and
// `serving.kserve.io/autoscalerClass: none|external` fixes the replicas at minReplicas (at least 1).
StatusOr<RevisionScaling> ScalingFor(const autoscaler::AutoscalerConfig& config, const resources::Json& predictor,
                                     const std::map<std::string, std::string>& annotations);

class RevisionScaler {
 public:
  explicit RevisionScaler(RevisionScaling scaling);

  struct Inputs {
    int64_t now_ns = 0;
    const gateway::RevisionStats* stats = nullptr;  // required
    int ready = 0;                                    // ready replicas now
    std::vector<int> ready_pids;                      // raw mode: their pids
    bool activation = false;                          // a request is held and nothing is ready
  };
  // Returns the desired replica count.
  int Update(const Inputs& in);

  int desired() const { return desired_; }
  const RevisionScaling& scaling() const { return scaling_; }
  // For status: the metric's stable average (concurrency, rps, cores or bytes per replica), panic flag,
  // and the last decision's reason.
  double observed() const { return observed_; }
  bool panicking() const { return panicking_; }
  const std::string& reason() const { return reason_; }

 private:
  bool raw() const;
  void SampleResources(const Inputs& in);

  RevisionScaling scaling_;
  autoscaler::MetricWindow window_;
  autoscaler::DeciderState kpa_;
  autoscaler::HpaState hpa_;
  std::optional<autoscaler::CounterReading> last_reading_;
  int64_t last_sample_ns_ = 0;
  int64_t last_decide_ns_ = 0;
  int desired_ = -1;
  double observed_ = 0;
  bool panicking_ = false;
  std::string reason_;
  // Raw mode: per pid the last cumulative CPU seconds and when they were read; recent per-replica averages.
  std::map<int, std::pair<double, int64_t>> cpu_seen_;
  std::deque<std::pair<int64_t, double>> resource_samples_;
};

// Resident bytes of a replica (raw memory mode): its process and its children, the copies of a model server's
// --processes (from /proc/<pid>/statm and /proc/<pid>/task/<pid>/children); nullopt when `pid` cannot be read.
std::optional<double> ReplicaRssBytes(int pid);

}  // namespace inferd::control
