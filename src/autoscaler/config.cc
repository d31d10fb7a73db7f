// autoscaler/config.cc: config-autoscaler parsing, value parsers, and the per-revision spec resolution.
#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <string>
#include <string_view>
#include <vector>

#include "autoscaler/autoscaler.h"

namespace inferd::autoscaler {
namespace {

using Map = std::map<std::string, std::string>;

// Knative requires stable-window (and the `window` annotation) >= 6s and scale-to-zero-grace-period >= 6s.
// inferd accepts down to 1s so that tests and benchmarks can use short windows; every value Knative accepts
// is still accepted (a superset), and the defaults are Knative's.
constexpr nanoseconds kWindowMin = std::chrono::seconds(1);
constexpr nanoseconds kWindowMax = std::chrono::hours(1);
constexpr nanoseconds kGracePeriodMin = std::chrono::seconds(1);
constexpr int64_t kNsPerSecond = 1'000'000'000;

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\n' || s.front() == '\r')) {
    s.remove_prefix(1);
  }
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\n' || s.back() == '\r')) {
    s.remove_suffix(1);
  }
  return s;
}

Status Invalid(std::string_view key, std::string_view value, std::string_view rule) {
  std::string m(key);
  m += ": \"";
  m += value;
  m += "\" ";
  m += rule;
  return InvalidArgument(std::move(m));
}

StatusOr<double> ToFloat(std::string_view key, std::string_view raw) {
  std::string_view v = Trim(raw);
  if (!v.empty() && v.front() == '+') v.remove_prefix(1);
  double out = 0;
  auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), out);
  if (v.empty() || ec != std::errc() || p != v.data() + v.size() || !std::isfinite(out)) {
    return Invalid(key, raw, "is not a number");
  }
  return out;
}

StatusOr<int> ToInt(std::string_view key, std::string_view raw) {
  std::string_view v = Trim(raw);
  if (!v.empty() && v.front() == '+') v.remove_prefix(1);
  int64_t out = 0;
  auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), out);
  if (v.empty() || ec != std::errc() || p != v.data() + v.size()) return Invalid(key, raw, "is not an integer");
  if (out < std::numeric_limits<int32_t>::min() || out > std::numeric_limits<int32_t>::max()) {
    return Invalid(key, raw, "is out of the 32-bit integer range");
  }
  return static_cast<int>(out);
}

// strconv.ParseBool's spellings.
StatusOr<bool> ToBool(std::string_view key, std::string_view raw) {
  std::string_view v = Trim(raw);
  for (std::string_view t : {"1", "t", "T", "true", "TRUE", "True"}) {
    if (v == t) return true;
  }
  for (std::string_view f : {"0", "f", "F", "false", "FALSE", "False"}) {
    if (v == f) return false;
  }
  return Invalid(key, raw, "is not a boolean (true or false)");
}

StatusOr<nanoseconds> ToDuration(std::string_view key, std::string_view raw) {
  auto d = ParseGoDuration(Trim(raw));
  if (!d.ok()) return Invalid(key, raw, "is not a duration (" + d.status().message() + ")");
  return *d;
}

bool WholeSeconds(nanoseconds d) { return d.count() % kNsPerSecond == 0; }

const std::string* Find(const Map& m, std::string_view key) {
  auto it = m.find(std::string(key));
  return it == m.end() ? nullptr : &it->second;
}

// Reads `key` into *out with `conv` when present; returns the raw value (or nullptr) through *raw.
template <typename T, typename Conv>
Status Read(const Map& m, std::string_view key, Conv conv, T* out, const std::string** raw = nullptr) {
  const std::string* v = Find(m, key);
  if (raw) *raw = v;
  if (!v) return Status::Ok();
  auto r = conv(key, *v);
  if (!r.ok()) return r.status();
  *out = *r;
  return Status::Ok();
}

std::string Shown(const std::string* raw, std::string fallback) { return raw ? *raw : fallback; }

std::string Num(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}

}  // namespace

std::string_view ScaleMetricName(ScaleMetric m) {
  switch (m) {
    case ScaleMetric::kConcurrency: return "concurrency";
    case ScaleMetric::kRps: return "rps";
    case ScaleMetric::kCpu: return "cpu";
    case ScaleMetric::kMemory: return "memory";
  }
  return "concurrency";
}

StatusOr<nanoseconds> ParseGoDuration(std::string_view s) {
  std::string_view in = s;
  if (s.empty()) return InvalidArgument("empty duration");
  bool neg = false;
  if (s.front() == '-' || s.front() == '+') {
    neg = s.front() == '-';
    s.remove_prefix(1);
  }
  if (s == "0") return nanoseconds(0);
  if (s.empty()) return InvalidArgument("invalid duration \"" + std::string(in) + "\"");
  long double total = 0;
  while (!s.empty()) {
    // number: digits, optionally '.' digits
    size_t i = 0;
    size_t digits = 0;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i, ++digits;
    if (i < s.size() && s[i] == '.') {
      ++i;
      while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i, ++digits;
    }
    if (digits == 0) return InvalidArgument("invalid duration \"" + std::string(in) + "\"");
    long double number = std::strtold(std::string(s.substr(0, i)).c_str(), nullptr);
    s.remove_prefix(i);
    size_t u = 0;
    while (u < s.size() && s[u] != '.' && !(s[u] >= '0' && s[u] <= '9')) ++u;
    std::string_view unit = s.substr(0, u);
    s.remove_prefix(u);
    long double scale = 0;
    if (unit == "ns") scale = 1;
    else if (unit == "us" || unit == "\xC2\xB5s" || unit == "\xCE\xBCs") scale = 1e3L;
    else if (unit == "ms") scale = 1e6L;
    else if (unit == "s") scale = 1e9L;
    else if (unit == "m") scale = 60e9L;
    else if (unit == "h") scale = 3600e9L;
    else if (unit.empty()) return InvalidArgument("missing unit in duration \"" + std::string(in) + "\"");
    else return InvalidArgument("unknown unit \"" + std::string(unit) + "\" in duration \"" + std::string(in) + "\"");
    total += number * scale;
    if (total > static_cast<long double>(std::numeric_limits<int64_t>::max())) {
      return InvalidArgument("invalid duration \"" + std::string(in) + "\" (overflow)");
    }
  }
  int64_t ns = static_cast<int64_t>(std::llround(total));
  return nanoseconds(neg ? -ns : ns);
}

StatusOr<AutoscalerConfig> ParseAutoscalerConfig(const Map& data) {
  AutoscalerConfig c;
  const std::string* raw = nullptr;

  RETURN_IF_ERROR(Read(data, "pod-autoscaler-class",
                       [](std::string_view, const std::string& v) -> StatusOr<std::string> { return std::string(Trim(v)); },
                       &c.pod_autoscaler_class, &raw));
  if (c.pod_autoscaler_class != kKpaClass && c.pod_autoscaler_class != kHpaClass) {
    return Invalid("pod-autoscaler-class", c.pod_autoscaler_class,
                   "must be " + std::string(kKpaClass) + " or " + std::string(kHpaClass));
  }
  RETURN_IF_ERROR(Read(data, "enable-scale-to-zero", ToBool, &c.enable_scale_to_zero));
  RETURN_IF_ERROR(Read(data, "allow-zero-initial-scale", ToBool, &c.allow_zero_initial_scale));

  RETURN_IF_ERROR(Read(data, "container-concurrency-target-percentage", ToFloat,
                       &c.container_concurrency_target_fraction, &raw));
  if (c.container_concurrency_target_fraction > 1.0) c.container_concurrency_target_fraction /= 100.0;
  if (c.container_concurrency_target_fraction <= 0 || c.container_concurrency_target_fraction > 1.0) {
    return Invalid("container-concurrency-target-percentage", Shown(raw, "70"), "must be in (0, 100]");
  }
  RETURN_IF_ERROR(Read(data, "container-concurrency-target-default", ToFloat,
                       &c.container_concurrency_target_default, &raw));
  if (c.container_concurrency_target_default * c.container_concurrency_target_fraction < kTargetMin) {
    return Invalid("container-concurrency-target-default", Shown(raw, "100"),
                   "times container-concurrency-target-percentage must be at least 0.01");
  }
  RETURN_IF_ERROR(Read(data, "requests-per-second-target-default", ToFloat, &c.rps_target_default, &raw));
  if (c.rps_target_default < kTargetMin) {
    return Invalid("requests-per-second-target-default", Shown(raw, ""), "must be at least 0.01");
  }
  RETURN_IF_ERROR(Read(data, "target-burst-capacity", ToFloat, &c.target_burst_capacity, &raw));
  if (c.target_burst_capacity < 0 && c.target_burst_capacity != -1) {
    return Invalid("target-burst-capacity", Shown(raw, ""), "must be non-negative or -1 (unlimited)");
  }
  RETURN_IF_ERROR(Read(data, "stable-window", ToDuration, &c.stable_window, &raw));
  if (c.stable_window < kWindowMin || c.stable_window > kWindowMax) {
    return Invalid("stable-window", Shown(raw, ""), "must be in [1s, 1h]");
  }
  if (!WholeSeconds(c.stable_window)) {
    return Invalid("stable-window", Shown(raw, ""), "must be a whole number of seconds");
  }
  RETURN_IF_ERROR(Read(data, "panic-window-percentage", ToFloat, &c.panic_window_percentage, &raw));
  if (c.panic_window_percentage < 1 || c.panic_window_percentage > 100) {
    return Invalid("panic-window-percentage", Shown(raw, ""), "must be in [1, 100]");
  }
  RETURN_IF_ERROR(Read(data, "panic-threshold-percentage", ToFloat, &c.panic_threshold_percentage, &raw));
  if (c.panic_threshold_percentage < 110 || c.panic_threshold_percentage > 1000) {
    return Invalid("panic-threshold-percentage", Shown(raw, ""), "must be in [110, 1000]");
  }
  RETURN_IF_ERROR(Read(data, "max-scale-up-rate", ToFloat, &c.max_scale_up_rate, &raw));
  if (c.max_scale_up_rate <= 1.0) return Invalid("max-scale-up-rate", Shown(raw, ""), "must be greater than 1");
  RETURN_IF_ERROR(Read(data, "max-scale-down-rate", ToFloat, &c.max_scale_down_rate, &raw));
  if (c.max_scale_down_rate <= 1.0) return Invalid("max-scale-down-rate", Shown(raw, ""), "must be greater than 1");
  RETURN_IF_ERROR(Read(data, "scale-to-zero-grace-period", ToDuration, &c.scale_to_zero_grace_period, &raw));
  if (c.scale_to_zero_grace_period < kGracePeriodMin) {
    return Invalid("scale-to-zero-grace-period", Shown(raw, ""), "must be at least 1s");
  }
  RETURN_IF_ERROR(Read(data, "scale-to-zero-pod-retention-period", ToDuration,
                       &c.scale_to_zero_pod_retention_period, &raw));
  if (c.scale_to_zero_pod_retention_period < nanoseconds(0)) {
    return Invalid("scale-to-zero-pod-retention-period", Shown(raw, ""), "cannot be negative");
  }
  RETURN_IF_ERROR(Read(data, "scale-down-delay", ToDuration, &c.scale_down_delay, &raw));
  if (c.scale_down_delay < nanoseconds(0)) return Invalid("scale-down-delay", Shown(raw, ""), "cannot be negative");
  if (!WholeSeconds(c.scale_down_delay)) {
    return Invalid("scale-down-delay", Shown(raw, ""), "must be a whole number of seconds");
  }
  RETURN_IF_ERROR(Read(data, "initial-scale", ToInt, &c.initial_scale, &raw));
  if (c.initial_scale < 0 || (c.initial_scale == 0 && !c.allow_zero_initial_scale)) {
    return Invalid("initial-scale", Shown(raw, ""),
                   "must be at least 1 (0 only with allow-zero-initial-scale: \"true\")");
  }
  RETURN_IF_ERROR(Read(data, "min-scale", ToInt, &c.min_scale, &raw));
  if (c.min_scale < 0) return Invalid("min-scale", Shown(raw, ""), "must be at least 0");
  const std::string* raw_min = raw;
  RETURN_IF_ERROR(Read(data, "max-scale", ToInt, &c.max_scale, &raw));
  if (c.max_scale < 0) return Invalid("max-scale", Shown(raw, ""), "must be at least 0 (0 = unbounded)");
  if (c.max_scale > 0 && c.min_scale > c.max_scale) {
    return Invalid("min-scale", Shown(raw_min, std::to_string(c.min_scale)),
                   "is greater than max-scale (" + std::to_string(c.max_scale) + ")");
  }
  RETURN_IF_ERROR(Read(data, "activation-timeout", ToDuration, &c.activation_timeout, &raw));
  if (c.activation_timeout <= nanoseconds(0)) {
    return Invalid("activation-timeout", Shown(raw, ""), "must be positive");
  }
  return c;
}

// ---- per-revision spec ----------------------------------------------------------------------------------
namespace {

// Finds `autoscaling.knative.dev/<key>` or its legacy camelCase spelling; sets *full_key to the one found.
StatusOr<const std::string*> FindAnnotation(const Annotations& a, std::string_view key, std::string_view legacy,
                                            std::string* full_key) {
  std::string k1 = std::string(kAnnotationPrefix) + std::string(key);
  *full_key = k1;
  const std::string* v1 = Find(a, k1);
  if (legacy.empty()) return v1;
  std::string k2 = std::string(kAnnotationPrefix) + std::string(legacy);
  const std::string* v2 = Find(a, k2);
  if (v1 && v2 && Trim(*v1) != Trim(*v2)) {
    return InvalidArgument(k1 + ": \"" + *v1 + "\" conflicts with " + k2 + ": \"" + *v2 + "\"");
  }
  if (!v1 && v2) {
    *full_key = k2;
    return v2;
  }
  return v1;
}

template <typename T, typename Conv>
Status ReadAnnotation(const Annotations& a, std::string_view key, std::string_view legacy, Conv conv, T* out,
                      std::string* full_key, const std::string** raw) {
  ASSIGN_OR_RETURN(const std::string* v, FindAnnotation(a, key, legacy, full_key));
  *raw = v;
  if (!v) return Status::Ok();
  auto r = conv(*full_key, *v);
  if (!r.ok()) return r.status();
  *out = *r;
  return Status::Ok();
}

}  // namespace

StatusOr<RevisionScalingSpec> ResolveRevisionSpec(const AutoscalerConfig& config, const Annotations& annotations,
                                                  int container_concurrency) {
  RevisionScalingSpec s;
  std::string key;
  const std::string* raw = nullptr;
  if (container_concurrency < 0) {
    return Invalid("containerConcurrency", std::to_string(container_concurrency), "must be at least 0");
  }
  s.container_concurrency = container_concurrency;

  // class, then metric (its default and its allowed values depend on the class).
  s.scaling_class = config.pod_autoscaler_class;
  {
    std::string cls;
    RETURN_IF_ERROR(ReadAnnotation(
        annotations, "class", "",
        [](std::string_view, const std::string& v) -> StatusOr<std::string> { return std::string(Trim(v)); }, &cls,
        &key, &raw));
    if (raw) {
      if (cls != kKpaClass && cls != kHpaClass) {
        return Invalid(key, *raw, "must be " + std::string(kKpaClass) + " or " + std::string(kHpaClass));
      }
      s.scaling_class = cls;
    }
  }
  const bool hpa = s.scaling_class == kHpaClass;
  s.metric = hpa ? ScaleMetric::kCpu : ScaleMetric::kConcurrency;
  {
    std::string m;
    RETURN_IF_ERROR(ReadAnnotation(
        annotations, "metric", "",
        [](std::string_view, const std::string& v) -> StatusOr<std::string> { return std::string(Trim(v)); }, &m,
        &key, &raw));
    if (raw) {
      if (m == "concurrency" && !hpa) s.metric = ScaleMetric::kConcurrency;
      else if (m == "rps" && !hpa) s.metric = ScaleMetric::kRps;
      else if (m == "cpu" && hpa) s.metric = ScaleMetric::kCpu;
      else if (m == "memory" && hpa) s.metric = ScaleMetric::kMemory;
      else if (hpa) return Invalid(key, *raw, "must be cpu or memory with class " + std::string(kHpaClass));
      else return Invalid(key, *raw, "must be concurrency or rps with class " + std::string(kKpaClass));
    }
  }

  // Target (Knative's ResolveMetricTarget).
  if (s.metric == ScaleMetric::kRps) {
    s.total_target = config.rps_target_default;
    s.target_utilization = config.target_utilization;
  } else {
    s.total_target = container_concurrency > 0 ? static_cast<double>(container_concurrency)
                                               : config.container_concurrency_target_default;
    s.target_utilization = config.container_concurrency_target_fraction;
  }
  {
    double t = 0;
    RETURN_IF_ERROR(ReadAnnotation(annotations, "target", "", ToFloat, &t, &key, &raw));
    if (raw) {
      if (t < kTargetMin) return Invalid(key, *raw, "must be at least 0.01");
      s.total_target = t;
      if (s.metric == ScaleMetric::kConcurrency && container_concurrency > 0) {
        s.total_target = std::min(t, static_cast<double>(container_concurrency));
      }
    }
  }
  {
    double pct = 0;
    RETURN_IF_ERROR(ReadAnnotation(annotations, "target-utilization-percentage", "targetUtilizationPercentage",
                                   ToFloat, &pct, &key, &raw));
    if (raw) {
      if (pct < 1 || pct > 100) return Invalid(key, *raw, "must be in [1, 100]");
      s.target_utilization = pct / 100.0;
    }
  }
  s.target = std::max(kTargetMin, s.total_target * s.target_utilization);

  s.target_burst_capacity = config.target_burst_capacity;
  RETURN_IF_ERROR(ReadAnnotation(annotations, "target-burst-capacity", "targetBurstCapacity", ToFloat,
                                 &s.target_burst_capacity, &key, &raw));
  if (raw && s.target_burst_capacity < 0 && s.target_burst_capacity != -1) {
    return Invalid(key, *raw, "must be non-negative or -1 (unlimited)");
  }

  s.stable_window = config.stable_window;
  RETURN_IF_ERROR(ReadAnnotation(annotations, "window", "", ToDuration, &s.stable_window, &key, &raw));
  if (raw) {
    if (s.stable_window < kWindowMin || s.stable_window > kWindowMax) return Invalid(key, *raw, "must be in [1s, 1h]");
    if (!WholeSeconds(s.stable_window)) return Invalid(key, *raw, "must be a whole number of seconds");
  }
  double panic_pct = config.panic_window_percentage;
  RETURN_IF_ERROR(ReadAnnotation(annotations, "panic-window-percentage", "panicWindowPercentage", ToFloat,
                                 &panic_pct, &key, &raw));
  if (raw && (panic_pct < 1 || panic_pct > 100)) return Invalid(key, *raw, "must be in [1, 100]");
  {
    const double stable_s = static_cast<double>(s.stable_window.count()) / kNsPerSecond;
    const int64_t panic_s = std::max<int64_t>(1, std::llround(stable_s * panic_pct / 100.0));
    s.panic_window = std::chrono::seconds(panic_s);
  }
  double threshold_pct = config.panic_threshold_percentage;
  RETURN_IF_ERROR(ReadAnnotation(annotations, "panic-threshold-percentage", "panicThresholdPercentage", ToFloat,
                                 &threshold_pct, &key, &raw));
  if (raw && (threshold_pct < 110 || threshold_pct > 1000)) return Invalid(key, *raw, "must be in [110, 1000]");
  s.panic_threshold = threshold_pct / 100.0;

  s.max_scale_up_rate = config.max_scale_up_rate;
  s.max_scale_down_rate = config.max_scale_down_rate;

  s.min_scale = config.min_scale;
  RETURN_IF_ERROR(ReadAnnotation(annotations, "min-scale", "minScale", ToInt, &s.min_scale, &key, &raw));
  if (raw && s.min_scale < 0) return Invalid(key, *raw, "must be at least 0");
  std::string min_key = key;
  const std::string* min_raw = raw;
  s.max_scale = config.max_scale;
  RETURN_IF_ERROR(ReadAnnotation(annotations, "max-scale", "maxScale", ToInt, &s.max_scale, &key, &raw));
  if (raw && s.max_scale < 0) return Invalid(key, *raw, "must be at least 0 (0 = unbounded)");
  if (s.max_scale > 0 && s.min_scale > s.max_scale) {
    return Invalid(min_raw ? min_key : std::string("min-scale"), min_raw ? *min_raw : std::to_string(s.min_scale),
                   "is greater than max-scale (" + std::to_string(s.max_scale) + ")");
  }
  s.initial_scale = config.initial_scale;
  RETURN_IF_ERROR(ReadAnnotation(annotations, "initial-scale", "initialScale", ToInt, &s.initial_scale, &key, &raw));
  if (raw) {
    if (s.initial_scale < 0) return Invalid(key, *raw, "must be at least 0");
    if (s.initial_scale == 0 && !config.allow_zero_initial_scale) {
      return Invalid(key, *raw, "is not allowed: the cluster sets allow-zero-initial-scale to false");
    }
  }

  s.scale_down_delay = config.scale_down_delay;
  RETURN_IF_ERROR(ReadAnnotation(annotations, "scale-down-delay", "scaleDownDelay", ToDuration, &s.scale_down_delay,
                                 &key, &raw));
  if (raw) {
    if (s.scale_down_delay < nanoseconds(0) || s.scale_down_delay > kWindowMax) {
      return Invalid(key, *raw, "must be in [0s, 1h]");
    }
    if (!WholeSeconds(s.scale_down_delay)) return Invalid(key, *raw, "must be a whole number of seconds");
  }
  s.scale_to_zero_pod_retention_period = config.scale_to_zero_pod_retention_period;
  RETURN_IF_ERROR(ReadAnnotation(annotations, "scale-to-zero-pod-retention-period", "", ToDuration,
                                 &s.scale_to_zero_pod_retention_period, &key, &raw));
  if (raw && s.scale_to_zero_pod_retention_period < nanoseconds(0)) return Invalid(key, *raw, "cannot be negative");

  s.scale_to_zero_grace_period = config.scale_to_zero_grace_period;
  s.enable_scale_to_zero = config.enable_scale_to_zero;
  s.activation_timeout = config.activation_timeout;
  return s;
}

StatusOr<RevisionScalingSpec> ResolveKServeSpec(const AutoscalerConfig& config, const Annotations& annotations,
                                                const KServeScaling& f) {
  if (f.min_replicas && *f.min_replicas < 0) {
    return Invalid("minReplicas", std::to_string(*f.min_replicas), "must be at least 0");
  }
  if (f.max_replicas && *f.max_replicas < 0) {
    return Invalid("maxReplicas", std::to_string(*f.max_replicas), "must be at least 0 (0 = unbounded)");
  }
  if (f.min_replicas && f.max_replicas && *f.max_replicas > 0 && *f.min_replicas > *f.max_replicas) {
    return Invalid("minReplicas", std::to_string(*f.min_replicas),
                   "is greater than maxReplicas (" + std::to_string(*f.max_replicas) + ")");
  }
  if (f.scale_target && !(*f.scale_target >= kTargetMin)) {
    return Invalid("scaleTarget", Num(*f.scale_target), "must be at least 0.01");
  }
  if (f.scale_metric && *f.scale_metric != "concurrency" && *f.scale_metric != "rps" && *f.scale_metric != "cpu" &&
      *f.scale_metric != "memory") {
    return Invalid("scaleMetric", *f.scale_metric, "must be concurrency, rps, cpu or memory");
  }
  if (f.container_concurrency < 0 || f.container_concurrency > 1000) {
    return Invalid("containerConcurrency", std::to_string(f.container_concurrency), "must be in [0, 1000]");
  }

  // What KServe's controller writes into the revision's annotations.
  Annotations a = annotations;
  const std::string p(kAnnotationPrefix);
  auto set = [&](std::string_view key, std::string_view legacy, std::string value) {
    if (!legacy.empty()) a.erase(p + std::string(legacy));
    a[p + std::string(key)] = std::move(value);
  };
  if (f.min_replicas) {
    set("min-scale", "minScale", std::to_string(*f.min_replicas));
  } else if (!Find(a, p + "min-scale") && !Find(a, p + "minScale")) {
    set("min-scale", "", "1");  // KServe's default minReplicas
  }
  if (f.max_replicas) set("max-scale", "maxScale", std::to_string(*f.max_replicas));
  if (f.scale_target) set("target", "", Num(*f.scale_target));
  if (f.scale_metric) {
    set("metric", "", *f.scale_metric);
    if ((*f.scale_metric == "cpu" || *f.scale_metric == "memory") && !Find(a, p + "class")) {
      set("class", "", std::string(kHpaClass));
    }
  }
  auto spec = ResolveRevisionSpec(config, a, f.container_concurrency);
  if (!spec.ok()) {
    // Name the KServe field when the bad value came from one.
    const std::string& m = spec.status().message();
    auto from = [&](std::string_view key) { return m.rfind(p + std::string(key) + ":", 0) == 0; };
    if (f.min_replicas && from("min-scale")) return spec.status().WithPrefix("minReplicas");
    if (f.max_replicas && from("max-scale")) return spec.status().WithPrefix("maxReplicas");
    if (f.scale_target && from("target")) return spec.status().WithPrefix("scaleTarget");
    if (f.scale_metric && from("metric")) return spec.status().WithPrefix("scaleMetric");
  }
  return spec;
}

}  // namespace inferd::autoscaler
