// autoscaler/hpa.cc: the raw-mode (HPA class) decision on cpu / memory: Kubernetes' HorizontalPodAutoscaler
// algorithm (replica calculator, scale-down stabilization, default scale-up policy, min/max bounds) as a pure
// function of its inputs and the revision's HpaState.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <string>

#include "autoscaler/autoscaler.h"

namespace inferd::autoscaler {
namespace {

constexpr int64_t kIntMax = std::numeric_limits<int>::max();

int ApplyHpaBounds(const RevisionScalingSpec& spec, int64_t desired) {
  desired = std::max<int64_t>(desired, std::max(1, spec.min_scale));  // raw mode never scales to zero
  if (spec.max_scale > 0) desired = std::min<int64_t>(desired, spec.max_scale);
  return static_cast<int>(std::min(desired, kIntMax));
}

std::string Num(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.3g", v);
  return buf;
}

}  // namespace

HpaDecision DecideHpa(const RevisionScalingSpec& spec, double current_per_replica, double target_per_replica,
                      int ready_replicas, bool has_data, int64_t now_ns, HpaState& state) {
  HpaDecision d;
  const std::string metric(ScaleMetricName(spec.metric));
  const bool usable = has_data && std::isfinite(current_per_replica) && current_per_replica >= 0 &&
                      std::isfinite(target_per_replica) && target_per_replica > 0;
  if (!usable) {
    const int previous = state.last_desired >= 0 ? state.last_desired : std::max(1, spec.initial_scale);
    d.desired = ApplyHpaBounds(spec, previous);
    d.reason = (has_data ? "target " + Num(target_per_replica) + " is not positive" : "no " + metric + " data") +
               ", keeping " + std::to_string(d.desired);
    state.last_desired = d.desired;
    return d;
  }

  const int64_t replicas = std::max(1, ready_replicas);
  d.ratio = current_per_replica / target_per_replica;
  d.within_tolerance = std::fabs(d.ratio - 1.0) <= kHpaTolerance;
  int recommendation = static_cast<int>(replicas);
  if (!d.within_tolerance) {
    const double wanted = std::ceil(static_cast<double>(replicas) * d.ratio);
    recommendation = static_cast<int>(std::min(wanted, static_cast<double>(kIntMax)));
  }
  d.reason = metric + " " + Num(current_per_replica) + "/" + Num(target_per_replica) + " per replica (ratio " +
             Num(d.ratio) + ") x " + std::to_string(replicas) + " -> " + std::to_string(recommendation) +
             (d.within_tolerance ? " (within tolerance)" : "");

  // Scale-down stabilization: the highest recommendation of the last stable window, this one included.
  const int64_t cutoff = now_ns - spec.stable_window.count();
  while (!state.recommendations.empty() && state.recommendations.front().first <= cutoff) {
    state.recommendations.pop_front();
  }
  state.recommendations.emplace_back(now_ns, recommendation);
  int64_t desired = recommendation;
  for (const auto& [at, r] : state.recommendations) desired = std::max<int64_t>(desired, r);
  if (desired > recommendation) {
    d.reason += "; stabilization window holds " + std::to_string(desired);
  }

  // HPA's default scale-up policy: at most 100% more or 4 more replicas per decision, whichever is larger.
  const int64_t up_limit = std::max(2 * replicas, replicas + 4);
  if (desired > up_limit) {
    desired = up_limit;
    d.reason += "; scale-up limited to " + std::to_string(up_limit);
  }

  d.desired = ApplyHpaBounds(spec, desired);
  if (d.desired != desired) d.reason += "; bounds -> " + std::to_string(d.desired);
  state.last_desired = d.desired;
  return d;
}

}  // namespace inferd::autoscaler
