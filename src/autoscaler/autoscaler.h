// autoscaler/autoscaler.h: Knative's pod autoscaler (KPA) for inferd's revisions: the config-autoscaler
// settings, their per-revision overrides, the per-revision metric windows, and the decider that turns
// them into a desired replica count (the spec is /work/shared/reference/serverless.md); plus the raw-mode
// (HPA class) decider for cpu / memory.
//
// Contract:
// - Owns: nothing shared. AutoscalerConfig / RevisionScalingSpec are plain values; a MetricWindow holds the
//   1-second buckets of one revision; DeciderState is the decider's memory for one revision, owned by the
//   caller and passed in/out of Decide; HpaState likewise for DecideHpa (raw mode, cpu / memory).
// - Time: nothing here reads a clock. Every timestamp is an explicit argument, in nanoseconds on the steady
//   clock (NowNs() in core/clock.h, or a test's fake clock); only differences matter. Durations are
//   std::chrono::nanoseconds.
// - Threads: no internal locking. A MetricWindow and a DeciderState (or HpaState) belong to one revision and
//   must be used from one thread at a time (the caller's control loop); Decide and DecideHpa are pure
//   functions of their inputs (plus the state they are handed), so different revisions may be decided on
//   different threads.
// - Errors: parsing returns InvalidArgument naming the offending key (the config key, the full annotation
//   key, or the KServe field name) and the bad value; nothing throws.
//
// Metrics: one Record per second per revision of (average concurrency over that second, requests in that
// second); values recorded into the same second are added (as Knative adds the reports of several pods).
// SampleCounters turns two readings of the gateway's cumulative RevisionStats counters into one such
// sample. Averages cover the buckets that exist so far: the window (now - W, now] cut at the first
// recorded second, gaps counting as 0; no bucket in the window means "no data".
//
// Decision (Decide): exactly the reference's formulas (see Decide below), then scale-down delay, then
// scale to zero (active -> inactive after a whole stable window at desired 0 -> 0 replicas after the grace
// period), then initial scale, then the [min-scale, max-scale] bounds. DecideHpa: Kubernetes' HPA algorithm
// on cpu / memory (the HPA class), with the stable window as its scale-down stabilization window.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "core/status.h"

namespace inferd::autoscaler {

using std::chrono::nanoseconds;

inline constexpr std::string_view kKpaClass = "kpa.autoscaling.knative.dev";
inline constexpr std::string_view kHpaClass = "hpa.autoscaling.knative.dev";
inline constexpr std::string_view kAnnotationPrefix = "autoscaling.knative.dev/";
inline constexpr double kTargetMin = 0.01;  // the smallest per-replica target (Knative's TargetMin)

enum class ScaleMetric { kConcurrency, kRps, kCpu, kMemory };
std::string_view ScaleMetricName(ScaleMetric m);  // "concurrency", "rps", "cpu", "memory"

// ---- cluster-wide settings: Knative's config-autoscaler ConfigMap ------------------------------------------
struct AutoscalerConfig {
  double container_concurrency_target_fraction = 0.7;  // container-concurrency-target-percentage (70)
  double container_concurrency_target_default = 100;   // container-concurrency-target-default
  double target_utilization = 0.7;                     // for rps (not a key in Knative either)
  double rps_target_default = 200;                     // requests-per-second-target-default
  double target_burst_capacity = 211;                  // target-burst-capacity (-1: activator always in path)
  nanoseconds stable_window = std::chrono::seconds(60);  // stable-window
  double panic_window_percentage = 10;                   // panic-window-percentage
  double panic_threshold_percentage = 200;               // panic-threshold-percentage
  double max_scale_up_rate = 1000;                       // max-scale-up-rate
  double max_scale_down_rate = 2;                        // max-scale-down-rate
  nanoseconds scale_to_zero_grace_period = std::chrono::seconds(30);     // scale-to-zero-grace-period
  nanoseconds scale_to_zero_pod_retention_period = nanoseconds(0);        // scale-to-zero-pod-retention-period
  nanoseconds scale_down_delay = nanoseconds(0);                          // scale-down-delay
  int initial_scale = 1;                                                  // initial-scale
  bool allow_zero_initial_scale = false;                                  // allow-zero-initial-scale
  int min_scale = 0;                                                      // min-scale
  int max_scale = 0;                                                      // max-scale (0 = unbounded)
  bool enable_scale_to_zero = true;                                       // enable-scale-to-zero
  std::string pod_autoscaler_class = std::string(kKpaClass);              // pod-autoscaler-class
  // activation-timeout: a revision activated from zero that has no ready replica after this long may go
  // back to zero (Knative: progress deadline 600 s + a buffer; the reference says 600 s + 30 s).
  nanoseconds activation_timeout = std::chrono::seconds(630);
};

// Parses a config-autoscaler data map (values as strings: "70", "6s", "2m", "1h", "true"). Keys not listed
// in AutoscalerConfig are ignored (as Knative does: "_example", "activator-capacity", ...). Percentages may
// be given as fractions in (0, 1] for container-concurrency-target-percentage (Knative's legacy form).
// Ranges: stable-window 1s..1h in whole seconds; panic-window-percentage 1..100; panic-threshold-percentage
// 110..1000; max-scale-up-rate and max-scale-down-rate > 1; container-concurrency-target-percentage (0,100];
// targets >= 0.01; target-burst-capacity >= 0 or -1; scale-to-zero-grace-period >= 1s; scale-down-delay
// >= 0 in whole seconds; retention >= 0; initial-scale >= 0 (0 only with allow-zero-initial-scale);
// min-scale, max-scale >= 0 and min <= max when max > 0; activation-timeout > 0.
// Knative's lower bound for stable-window and scale-to-zero-grace-period is 6s; inferd relaxes both to 1s
// so tests and benchmarks can use short windows (every value Knative accepts is still accepted).
StatusOr<AutoscalerConfig> ParseAutoscalerConfig(const std::map<std::string, std::string>& data);

// Value parsers shared with the annotations (exposed for tests and for other modules' flags).
// Go time.ParseDuration syntax: "300ms", "1.5h", "2h45m", "-1s", units ns us µs ms s m h; "0" alone is 0.
StatusOr<nanoseconds> ParseGoDuration(std::string_view s);

// ---- per revision ---------------------------------------------------------------------------------------
// Everything the decider needs for one revision, resolved from the config, the revision's annotations and
// (for KServe components) the component's scaling fields.
struct RevisionScalingSpec {
  std::string scaling_class = std::string(kKpaClass);
  ScaleMetric metric = ScaleMetric::kConcurrency;
  int container_concurrency = 0;   // hard limit per replica (0 = unlimited)
  double total_target = 100;       // per replica before utilization ("total" in the reference)
  double target_utilization = 0.7;  // fraction
  double target = 70;              // max(0.01, total_target * target_utilization)
  double target_burst_capacity = 211;
  nanoseconds stable_window = std::chrono::seconds(60);
  nanoseconds panic_window = std::chrono::seconds(6);  // stable * panic-window-percentage / 100, >= 1 s
  double panic_threshold = 2.0;                        // fraction (panic-threshold-percentage / 100)
  double max_scale_up_rate = 1000;
  double max_scale_down_rate = 2;
  int min_scale = 0;
  int max_scale = 0;  // 0 = unbounded
  int initial_scale = 1;
  nanoseconds scale_down_delay = nanoseconds(0);
  nanoseconds scale_to_zero_grace_period = std::chrono::seconds(30);
  nanoseconds scale_to_zero_pod_retention_period = nanoseconds(0);
  bool enable_scale_to_zero = true;
  nanoseconds activation_timeout = std::chrono::seconds(630);
};

using Annotations = std::map<std::string, std::string>;

// Knative: the revision's `autoscaling.knative.dev/<key>` annotations over the config defaults. Keys:
// target, target-utilization-percentage, window, panic-window-percentage, panic-threshold-percentage,
// target-burst-capacity, min-scale, max-scale, initial-scale, scale-down-delay,
// scale-to-zero-pod-retention-period, metric (concurrency|rps|cpu|memory), class (kpa|hpa); the legacy
// camelCase spellings (minScale, maxScale, initialScale, targetUtilizationPercentage, window...) are
// accepted too (both spellings with different values: InvalidArgument). Other annotations are ignored.
// metric: KPA takes concurrency|rps (default concurrency), HPA takes cpu|memory (default cpu).
// Target: total = containerConcurrency, or container-concurrency-target-default when it is 0 (rps:
// requests-per-second-target-default); a `target` annotation replaces total, capped at containerConcurrency
// when set (concurrency only); target = max(0.01, total * utilization).
StatusOr<RevisionScalingSpec> ResolveRevisionSpec(const AutoscalerConfig& config, const Annotations& annotations,
                                                  int container_concurrency);

// KServe's component fields (predictor/transformer/explainer spec).
struct KServeScaling {
  std::optional<int> min_replicas;  // minReplicas -> min-scale; absent: the annotation, else 1 (KServe default)
  std::optional<int> max_replicas;  // maxReplicas -> max-scale (0 = unbounded)
  std::optional<double> scale_target;        // scaleTarget -> target
  std::optional<std::string> scale_metric;   // scaleMetric -> metric (cpu|memory pick the HPA class unless
                                             // a class annotation says otherwise)
  int container_concurrency = 0;             // containerConcurrency: hard limit, 0..1000
};

// KServe: the fields, when set, override the matching annotations (KServe's controller writes them into
// the revision's annotations), then ResolveRevisionSpec. Errors name the KServe field ("minReplicas", ...).
StatusOr<RevisionScalingSpec> ResolveKServeSpec(const AutoscalerConfig& config, const Annotations& annotations,
                                                const KServeScaling& fields);

// ---- metrics -------------------------------------------------------------------------------------------
struct MetricSample {
  double concurrency = 0;  // time-weighted average of requests in flight over the interval
  double rps = 0;          // requests per second over the interval
};

// One reading of the gateway's cumulative per-revision counters (gateway::RevisionStats) at `at_ns`.
struct CounterReading {
  int64_t at_ns = 0;
  uint64_t requests = 0;
  int64_t in_flight = 0;
  uint64_t in_flight_ns = 0;          // integral up to in_flight_changed_ns
  int64_t in_flight_changed_ns = 0;
};
// The sample between two readings (prev.at_ns < cur.at_ns): the in-flight integral extended to each
// reading's time (in_flight * (at - changed)), differenced, over the interval; requests differenced over the
// interval in seconds. A non-increasing interval yields zeros.
MetricSample SampleCounters(const CounterReading& prev, const CounterReading& cur);

class MetricWindow {
 public:
  // Keeps the buckets of the last `retention` (the revision's stable window; at least 1 s).
  explicit MetricWindow(nanoseconds retention = std::chrono::seconds(60));

  void set_retention(nanoseconds retention);
  nanoseconds retention() const { return std::chrono::seconds(retention_s_); }

  // Adds a sample into the bucket of the second containing at_ns. Samples older than the retention (relative
  // to the newest bucket) are dropped.
  void Record(int64_t at_ns, double concurrency, double rps);
  void Record(int64_t at_ns, const MetricSample& s) { Record(at_ns, s.concurrency, s.rps); }

  struct Average {
    double concurrency = 0;
    double rps = 0;
    int buckets = 0;       // seconds averaged over (the denominator)
    bool has_data = false;  // some bucket was recorded in the window
  };
  // Average over the seconds in (now - window, now] not before the first recorded second; gaps count as 0.
  Average AverageOver(int64_t now_ns, nanoseconds window) const;
  // True when nothing was recorded in (now - window, now].
  bool NoDataFor(int64_t now_ns, nanoseconds window) const { return !AverageOver(now_ns, window).has_data; }

  bool empty() const { return buckets_.empty(); }
  void Clear();

 private:
  static int64_t SecondOf(int64_t ns);
  void Prune(int64_t newest_second);

  int64_t retention_s_ = 60;
  std::map<int64_t, MetricSample> buckets_;  // second -> summed sample
  std::optional<int64_t> first_second_;      // the first second ever recorded (since Clear)
};

// ---- the decider ---------------------------------------------------------------------------------------
// The decider's memory for one revision (start with a default-constructed one).
struct DeciderState {
  bool started = false;                  // a Decide ran
  bool panicking = false;
  int64_t panic_last_over_ns = 0;        // the last decision over the panic threshold
  int max_panic_pods = 0;                // the highest desired count of the current panic
  bool inactive = false;                 // turned inactive (activator in the path)
  int64_t active_since_ns = 0;           // when the revision last became active
  int64_t inactive_since_ns = 0;
  bool zero_allowed = false;             // inactive long enough (or activation timed out): 0 may stay 0
  std::optional<int64_t> activating_since_ns;  // an activation at zero not yet served by a ready replica
  bool initialized = false;              // reached initial-scale ready replicas once
  int last_desired = -1;                 // the previous decision (-1: none)
  std::deque<std::pair<int64_t, int>> delay_window;  // (time, desired before the delay) for scale-down-delay
};

struct Decision {
  int desired = 0;              // replicas wanted
  bool panicking = false;
  bool inactive = false;        // the revision is inactive: requests should go through the activator
  bool no_data = false;         // no metrics for a whole stable window: desired is the previous decision
  double stable_avg = 0;        // the metric's averages used (concurrency or rps)
  double panic_avg = 0;
  int stable_pods = 0;          // ceil(avg / target) clamped to [maxDown, maxUp]
  int panic_pods = 0;
  // Knative's excess burst capacity: floor(ready * total - target-burst-capacity - panic_avg); 0 when the
  // capacity is 0, -1 when it is -1 (activator always in the path). Negative: put the activator in the path.
  double excess_burst_capacity = 0;
  std::string reason;           // human-readable, for logs and tests
};

// Decides the desired replica count of one revision at `now_ns` (from the caller's clock):
//   ready = max(1, ready_replicas); maxUp = ceil(maxScaleUpRate * ready); maxDown = floor(ready / maxScaleDownRate)
//   stable = clamp(ceil(stableAvg / target), maxDown, maxUp); panic likewise with panicAvg
//   over = ceil(panicAvg / target) / ready >= panicThreshold: enter or extend panic (remember now)
//   panicking and not over for a whole stable window (now - last over >= stable window): leave panic
//   panicking: desired = max(previous panic desired, stable, panic); otherwise desired = stable
//   activation: desired >= 1
//   scale-down delay: desired = max of the (pre-delay) desired values of the decisions in (now - delay, now]
//   desired 0: scale-to-zero disabled or min-scale > 0 -> 1; activating (activation at zero, nothing ready yet)
//     -> 1 until activation-timeout, then 0; active -> 1 until the revision was active a whole stable window,
//     then inactive (desired 1); inactive -> 1 until max(grace period, pod retention) since it turned
//     inactive, then 0. Desired > 0 makes an inactive revision active again.
//   not initialized (never had initial-scale ready replicas): desired >= initial-scale
//   clamp to [min-scale, max-scale] (max 0 = unbounded)
// No data for a whole stable window (and no activation, and not activating): nothing changes, desired = the
// previous decision (initial-scale for the first one; the [min-scale, max-scale] bounds still apply); while
// activating, no data counts as no load (so the activation timeout can apply).
// `activation`: a request arrived while the revision had no ready replica; decide at once with at least 1 (also
// without data).
// Metrics cpu/memory belong to the HPA class: desired = the previous decision, reason says so (DecideHpa below
// decides them).
Decision Decide(const RevisionScalingSpec& spec, const MetricWindow& window, int ready_replicas, int64_t now_ns,
                DeciderState& state, bool activation = false);

// ---- raw mode (HPA class): cpu / memory ----------------------------------------------------------------
// Kubernetes' HorizontalPodAutoscaler algorithm for revisions of class hpa.autoscaling.knative.dev (metric cpu
// or memory), with HPA's default behaviour except for the scale-down stabilization window, which is the
// revision's stable window (spec.stable_window: stable-window / the `window` annotation, default 60 s) instead
// of HPA's 300 s, so that one setting governs how fast a revision scales down in either class.
inline constexpr double kHpaTolerance = 0.1;  // HPA's --horizontal-pod-autoscaler-tolerance

// The HPA decider's memory for one revision (start with a default-constructed one; owned by the caller).
struct HpaState {
  std::deque<std::pair<int64_t, int>> recommendations;  // (time, recommendation before stabilization)
  int last_desired = -1;                                 // the previous decision (-1: none)
};

struct HpaDecision {
  int desired = 0;                // replicas wanted (always >= 1: raw mode never scales to zero)
  double ratio = 0;               // current / target (0 without data)
  bool within_tolerance = false;  // |ratio - 1| <= kHpaTolerance: the recommendation was the current count
  std::string reason;             // human-readable, for logs and tests
};

// Decides the desired replica count of one HPA-class revision at `now_ns`:
//   current_per_replica: the metric averaged over the ready replicas (cpu: cores in use; memory: bytes);
//   target_per_replica: the same unit (the control plane computes it from scaleTarget and the resource
//   requests).
//   replicas = max(1, ready_replicas); ratio = current / target
//   recommendation = replicas when |ratio - 1| <= 0.1, else ceil(replicas * ratio)
//   scale-down stabilization: desired = max of the recommendations in (now - stable_window, now] (this one
//     included; older ones are dropped from the state)
//   scale-up limit: desired <= max(2 * replicas, replicas + 4) (HPA's default policy: 100% or 4 pods)
//   clamp to [max(1, min-scale), max-scale] (max 0 = unbounded): never 0
// No data (has_data false, or current not a finite value >= 0) or target <= 0: nothing is recorded, desired =
// the previous decision (the first one: max(1, initial-scale)), still clamped to the bounds.
HpaDecision DecideHpa(const RevisionScalingSpec& spec, double current_per_replica, double target_per_replica,
                      int ready_replicas, bool has_data, int64_t now_ns, HpaState& state);

}  // namespace inferd::autoscaler
