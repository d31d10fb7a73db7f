// autoscaler/decider.cc: the KPA decision (Knative's autoscaler.Scale plus the scaler's scale-to-zero and
// bounds), as a pure function of its inputs and the revision's DeciderState.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>

#include "autoscaler/autoscaler.h"

namespace inferd::autoscaler {
namespace {

std::string Fmt(const char* fmt, double a, double b, int c) {
  char buf[128];
  std::snprintf(buf, sizeof buf, fmt, a, b, c);
  return buf;
}

void Append(std::string* reason, const std::string& part) {
  if (!reason->empty()) *reason += "; ";
  *reason += part;
}

int ApplyBounds(const RevisionScalingSpec& spec, int desired) {
  desired = std::max(desired, spec.min_scale);
  if (spec.max_scale > 0) desired = std::min(desired, spec.max_scale);
  return desired;
}

void BecomeActive(DeciderState& state, int64_t now_ns) {
  state.inactive = false;
  state.zero_allowed = false;
  state.active_since_ns = now_ns;
}

// Startup, initial-scale and activation bookkeeping at the start of each decision.
void NoteReadiness(const RevisionScalingSpec& spec, int ready_replicas, int64_t now_ns, DeciderState& state,
                   bool activation, Decision& d) {
  if (!state.started) {
    state.started = true;
    state.active_since_ns = now_ns;
  }
  if (ready_replicas >= spec.initial_scale) state.initialized = true;
  if (state.activating_since_ns && ready_replicas > 0) {  // the activation is served: active from now
    state.activating_since_ns.reset();
    BecomeActive(state, now_ns);
  }
  if (activation) {
    if (ready_replicas == 0 && !state.activating_since_ns) state.activating_since_ns = now_ns;
    if (state.inactive || ready_replicas == 0) BecomeActive(state, now_ns);
    Append(&d.reason, "activation");
  }
}

// Keeps the last decision (or the initial scale) when there is nothing to decide on.
Decision Hold(const RevisionScalingSpec& spec, int64_t now_ns, DeciderState& state, Decision& d,
              const std::string& why) {
  int desired = state.last_desired >= 0 ? state.last_desired : spec.initial_scale;
  if (!state.initialized) desired = std::max(desired, spec.initial_scale);
  desired = ApplyBounds(spec, desired);
  if (desired == 0 && !state.inactive) {
    state.inactive = true;
    state.inactive_since_ns = now_ns;
  }
  d.desired = desired;
  d.panicking = state.panicking;
  d.inactive = state.inactive;
  Append(&d.reason, why + ", keeping " + std::to_string(desired));
  state.last_desired = desired;
  return d;
}

// Enters panic mode when the panic window asks for panic_threshold times the ready pods, and leaves it after
// a whole stable window below that; returns the desired count (the panic maximum while panicking).
int PanicDesired(const RevisionScalingSpec& spec, double dppc, double ready, int64_t now_ns, DeciderState& state,
                 Decision& d) {
  const bool over = dppc / ready >= spec.panic_threshold;
  if (over) {
    if (!state.panicking) Append(&d.reason, "entering panic");
    state.panicking = true;
    state.panic_last_over_ns = now_ns;
  } else if (state.panicking && now_ns - state.panic_last_over_ns >= spec.stable_window.count()) {
    state.panicking = false;
    state.max_panic_pods = 0;
    Append(&d.reason, "leaving panic");
  }
  int desired = d.stable_pods;
  if (state.panicking) {
    desired = std::max({state.max_panic_pods, d.stable_pods, d.panic_pods});
    state.max_panic_pods = desired;
    Append(&d.reason, "panicking: " + std::to_string(desired));
  }
  return desired;
}

// The scale-down delay: the highest desired count seen within the delay.
int ScaleDownDelay(const RevisionScalingSpec& spec, int desired, int64_t now_ns, DeciderState& state, Decision& d) {
  if (spec.scale_down_delay.count() <= 0) {
    state.delay_window.clear();
    return desired;
  }
  state.delay_window.emplace_back(now_ns, desired);
  while (!state.delay_window.empty() && state.delay_window.front().first <= now_ns - spec.scale_down_delay.count()) {
    state.delay_window.pop_front();
  }
  int held = desired;
  for (const auto& [t, v] : state.delay_window) held = std::max(held, v);
  if (held > desired) Append(&d.reason, "scale-down delay holds " + std::to_string(held));
  return held;
}

// desired == 0: whether the revision may really go to zero now (scale to zero enabled, the activation timed
// out or the revision has been idle for a stable window and then the grace period), else 1.
int ZeroOrOne(const RevisionScalingSpec& spec, int64_t now_ns, DeciderState& state, Decision& d) {
  if (!spec.enable_scale_to_zero || spec.min_scale > 0) {
    Append(&d.reason, spec.enable_scale_to_zero ? "min-scale > 0" : "scale to zero disabled");
    return 1;
  }
  if (state.activating_since_ns) {
    if (now_ns - *state.activating_since_ns >= spec.activation_timeout.count()) {
      state.activating_since_ns.reset();
      state.inactive = true;
      state.inactive_since_ns = now_ns;
      state.zero_allowed = true;
      state.initialized = true;  // give up on initial-scale too
      Append(&d.reason, "activation timed out: back to zero");
      return 0;
    }
    Append(&d.reason, "activating: holding 1");
    return 1;
  }
  int desired = 0;
  if (!state.inactive) {
    if (now_ns - state.active_since_ns >= spec.stable_window.count()) {
      state.inactive = true;
      state.inactive_since_ns = now_ns;
      Append(&d.reason, "idle: inactive");
    } else {
      desired = 1;
      Append(&d.reason, "idle, active for less than a stable window: holding 1");
    }
  }
  if (state.inactive) {
    const int64_t last_pod = std::max(spec.scale_to_zero_grace_period, spec.scale_to_zero_pod_retention_period).count();
    if (state.zero_allowed || now_ns - state.inactive_since_ns >= last_pod) {
      state.zero_allowed = true;
      Append(&d.reason, "scale to zero");
    } else {
      desired = 1;
      Append(&d.reason, "inactive: keeping 1 for the grace period");
    }
  }
  return desired;
}

double ExcessBurstCapacity(const RevisionScalingSpec& spec, int ready_replicas, double panic_avg) {
  if (spec.target_burst_capacity == 0) return 0;
  if (spec.target_burst_capacity > 0) {
    return std::floor(ready_replicas * spec.total_target - spec.target_burst_capacity - panic_avg);
  }
  return -1;
}

}  // namespace

Decision Decide(const RevisionScalingSpec& spec, const MetricWindow& window, int ready_replicas, int64_t now_ns,
                DeciderState& state, bool activation) {
  Decision d;
  ready_replicas = std::max(0, ready_replicas);
  NoteReadiness(spec, ready_replicas, now_ns, state, activation, d);
  if (spec.metric == ScaleMetric::kCpu || spec.metric == ScaleMetric::kMemory) {
    return Hold(spec, now_ns, state, d,
                "metric " + std::string(ScaleMetricName(spec.metric)) + " is scaled by the HPA class, not the KPA");
  }

  const MetricWindow::Average stable_w = window.AverageOver(now_ns, spec.stable_window);
  // While activating (a request arrived at zero and nothing is ready yet), no data counts as no load so that
  // the activation timeout can take the revision back to zero (as Knative's scaler does).
  if (!stable_w.has_data && !activation && !state.activating_since_ns) {
    d.no_data = true;
    return Hold(spec, now_ns, state, d, "no data for a whole stable window");
  }
  const MetricWindow::Average panic_w = window.AverageOver(now_ns, spec.panic_window);
  const bool rps = spec.metric == ScaleMetric::kRps;
  d.stable_avg = rps ? stable_w.rps : stable_w.concurrency;
  d.panic_avg = rps ? panic_w.rps : panic_w.concurrency;

  const double ready = std::max(1, ready_replicas);
  const double max_up = std::ceil(spec.max_scale_up_rate * ready);
  const double max_down = std::floor(ready / spec.max_scale_down_rate);
  const double dspc = std::ceil(d.stable_avg / spec.target);
  const double dppc = std::ceil(d.panic_avg / spec.target);
  d.stable_pods = static_cast<int>(std::min(std::max(dspc, max_down), max_up));
  d.panic_pods = static_cast<int>(std::min(std::max(dppc, max_down), max_up));
  Append(&d.reason, Fmt("stable %.3g/%.3g -> %d", d.stable_avg, spec.target, d.stable_pods));
  Append(&d.reason, Fmt("panic %.3g/%.3g -> %d", d.panic_avg, spec.target, d.panic_pods));

  int desired = PanicDesired(spec, dppc, ready, now_ns, state, d);
  if (activation) desired = std::max(desired, 1);
  desired = ScaleDownDelay(spec, desired, now_ns, state, d);
  if (desired == 0) {
    desired = ZeroOrOne(spec, now_ns, state, d);
  } else if (state.inactive) {
    BecomeActive(state, now_ns);
    Append(&d.reason, "active again");
  }

  if (!state.initialized && desired < spec.initial_scale) {
    desired = spec.initial_scale;
    Append(&d.reason, "initial-scale " + std::to_string(desired));
  }
  const int bounded = ApplyBounds(spec, desired);
  if (bounded != desired) Append(&d.reason, "bounded to " + std::to_string(bounded));
  desired = bounded;

  d.excess_burst_capacity = ExcessBurstCapacity(spec, ready_replicas, d.panic_avg);
  d.desired = desired;
  d.panicking = state.panicking;
  d.inactive = state.inactive;
  state.last_desired = desired;
  return d;
}

}  // namespace inferd::autoscaler
