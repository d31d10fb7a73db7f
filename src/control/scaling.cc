// control/scaling.cc: see scaling.h.
#include "control/scaling.h"

#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>

namespace inferd::control {

namespace {

using resources::Json;

std::optional<double> ParseNumberWithSuffix(const std::string& q, std::string* suffix) {
  if (q.empty()) return std::nullopt;
  char* end = nullptr;
  double v = std::strtod(q.c_str(), &end);
  if (end == q.c_str() || !std::isfinite(v) || v < 0) return std::nullopt;
  *suffix = std::string(end);
  return v;
}

// requests.<name> of the predictor's resources, or of its model / first container.
std::string RequestOf(const Json& predictor, const char* name) {
  auto from = [name](const Json& holder) -> std::string {
    if (!holder.is_object() || !holder.contains("resources")) return "";
    const Json& r = holder["resources"];
    if (!r.is_object() || !r.contains("requests") || !r["requests"].is_object()) return "";
    const Json& v = r["requests"].contains(name) ? r["requests"][name] : Json();
    if (v.is_string()) return v.get<std::string>();
    if (v.is_number()) return v.dump();
    return "";
  };
  if (std::string v = from(predictor); !v.empty()) return v;
  if (predictor.contains("model")) {
    if (std::string v = from(predictor["model"]); !v.empty()) return v;
  }
  if (predictor.contains("containers") && predictor["containers"].is_array() && !predictor["containers"].empty()) {
    return from(predictor["containers"][0]);
  }
  return "";
}

// Cumulative CPU seconds (user + system) of a process, from /proc/<pid>/stat.
std::optional<double> CpuSeconds(int pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(in, line)) return std::nullopt;
  size_t paren = line.rfind(')');  // the command name may hold spaces and parentheses
  if (paren == std::string::npos) return std::nullopt;
  std::istringstream rest(line.substr(paren + 2));
  std::string field;
  unsigned long long utime = 0, stime = 0;
  // Fields after the name: state(3) ppid pgrp session tty_nr tpgid flags minflt cminflt majflt cmajflt utime(14)
  for (int i = 3; i <= 15 && rest >> field; ++i) {
    if (i == 14) utime = std::strtoull(field.c_str(), nullptr, 10);
    if (i == 15) stime = std::strtoull(field.c_str(), nullptr, 10);
  }
  static const long ticks = sysconf(_SC_CLK_TCK);
  return static_cast<double>(utime + stime) / static_cast<double>(ticks > 0 ? ticks : 100);
}

// Resident set size in bytes, from /proc/<pid>/statm.
std::optional<double> RssBytes(int pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/statm");
  unsigned long long size = 0, resident = 0;
  if (!(in >> size >> resident)) return std::nullopt;
  static const long page = sysconf(_SC_PAGESIZE);
  return static_cast<double>(resident) * static_cast<double>(page > 0 ? page : 4096);
}

constexpr int64_t kSlackNs = 50'000'000;  // a pass a little early still counts as on time
constexpr int64_t kResourceWindowNs = 15'000'000'000;  // raw mode: average usage over 15 s (metrics-server's)

}  // namespace

std::optional<double> ParseCpuQuantity(const std::string& q) {
  std::string suffix;
  auto v = ParseNumberWithSuffix(q, &suffix);
  if (!v) return std::nullopt;
  if (suffix.empty()) return *v;
  if (suffix == "m") return *v / 1000;
  return std::nullopt;
}

std::optional<double> ParseMemoryQuantity(const std::string& q) {
  std::string suffix;
  auto v = ParseNumberWithSuffix(q, &suffix);
  if (!v) return std::nullopt;
  static const std::map<std::string, double> kUnits = {
      {"", 1},           {"k", 1e3},          {"M", 1e6},          {"G", 1e9},          {"T", 1e12},
      {"Ki", 1024.0},    {"Mi", 1048576.0},   {"Gi", 1073741824.0}, {"Ti", 1099511627776.0}, {"m", 1e-3}};
  auto it = kUnits.find(suffix);
  if (it == kUnits.end()) return std::nullopt;
  return *v * it->second;
}

StatusOr<RevisionScaling> ScalingFor(const autoscaler::AutoscalerConfig& config, const Json& predictor,
                                     const std::map<std::string, std::string>& annotations) {
  autoscaler::KServeScaling f;
  auto int_field = [&](const char* name) -> std::optional<int> {
    if (!predictor.is_object() || !predictor.contains(name) || !predictor[name].is_number_integer()) return std::nullopt;
    return predictor[name].get<int>();
  };
  f.min_replicas = int_field("minReplicas");
  f.max_replicas = int_field("maxReplicas");
  f.container_concurrency = int_field("containerConcurrency").value_or(0);
  if (predictor.is_object() && predictor.contains("scaleTarget") && predictor["scaleTarget"].is_number()) {
    f.scale_target = predictor["scaleTarget"].get<double>();
  }
  if (predictor.is_object() && predictor.contains("scaleMetric") && predictor["scaleMetric"].is_string()) {
    f.scale_metric = predictor["scaleMetric"].get<std::string>();
  }
  RevisionScaling out;
  ASSIGN_OR_RETURN(out.spec, autoscaler::ResolveKServeSpec(config, annotations, f));
  using autoscaler::ScaleMetric;
  if (out.spec.metric == ScaleMetric::kCpu || out.spec.metric == ScaleMetric::kMemory) {
    const bool cpu = out.spec.metric == ScaleMetric::kCpu;
    double percent = f.scale_target.value_or(80);
    if (percent <= 0) return InvalidArgument("scaleTarget: must be > 0 for scaleMetric " + std::string(cpu ? "cpu" : "memory"));
    std::string req = RequestOf(predictor, cpu ? "cpu" : "memory");
    double request = cpu ? 1.0 : 1073741824.0;
    if (!req.empty()) {
      auto parsed = cpu ? ParseCpuQuantity(req) : ParseMemoryQuantity(req);
      if (!parsed || *parsed <= 0) {
        return InvalidArgument(std::string("resources.requests.") + (cpu ? "cpu" : "memory") + ": '" + req +
                               "' is not a quantity");
      }
      request = *parsed;
    }
    out.resource_target = request * percent / 100;
  }
  return out;
}

RevisionScaler::RevisionScaler(RevisionScaling scaling)
    : scaling_(std::move(scaling)), window_(scaling_.spec.stable_window) {}

bool RevisionScaler::raw() const {
  return scaling_.spec.metric == autoscaler::ScaleMetric::kCpu ||
         scaling_.spec.metric == autoscaler::ScaleMetric::kMemory;
}

void RevisionScaler::SampleResources(const Inputs& in) {
  const bool cpu = scaling_.spec.metric == autoscaler::ScaleMetric::kCpu;
  double sum = 0;
  int n = 0;
  std::map<int, std::pair<double, int64_t>> seen;
  for (int pid : in.ready_pids) {
    if (cpu) {
      auto s = CpuSeconds(pid);
      if (!s) continue;
      auto prev = cpu_seen_.find(pid);
      seen[pid] = {*s, in.now_ns};
      if (prev == cpu_seen_.end() || in.now_ns <= prev->second.second) continue;  // needs two readings
      sum += (*s - prev->second.first) / (static_cast<double>(in.now_ns - prev->second.second) / 1e9);
      ++n;
    } else if (auto r = RssBytes(pid)) {
      sum += *r;
      ++n;
    }
  }
  if (cpu) cpu_seen_ = std::move(seen);
  if (n > 0) resource_samples_.emplace_back(in.now_ns, sum / n);
  const int64_t keep = std::min<int64_t>(kResourceWindowNs, scaling_.spec.stable_window.count());
  while (!resource_samples_.empty() && resource_samples_.front().first <= in.now_ns - keep) {
    resource_samples_.pop_front();
  }
}

int RevisionScaler::Update(const Inputs& in) {
  const int64_t now = in.now_ns;
  if (last_sample_ns_ == 0 || now - last_sample_ns_ >= kSampleEvery.count() * 1'000'000 - kSlackNs) {
    if (raw()) {
      SampleResources(in);
    } else {
      autoscaler::CounterReading cur;
      cur.at_ns = now;
      cur.requests = in.stats->requests.load(std::memory_order_relaxed);
      cur.in_flight = in.stats->in_flight.load(std::memory_order_relaxed);
      cur.in_flight_ns = in.stats->in_flight_ns.load(std::memory_order_relaxed);
      cur.in_flight_changed_ns = in.stats->in_flight_changed_ns.load(std::memory_order_relaxed);
      if (last_reading_) window_.Record(now, autoscaler::SampleCounters(*last_reading_, cur));
      last_reading_ = cur;
    }
    last_sample_ns_ = now;
  }
  const bool due = desired_ < 0 || in.activation || now - last_decide_ns_ >= kDecideEvery.count() * 1'000'000 - kSlackNs;
  if (!due) return desired_;
  last_decide_ns_ = now;
  if (raw()) {
    double avg = 0;
    for (const auto& [t, v] : resource_samples_) avg += v;
    const bool has_data = !resource_samples_.empty();
    if (has_data) avg /= static_cast<double>(resource_samples_.size());
    auto d = autoscaler::DecideHpa(scaling_.spec, avg, scaling_.resource_target, in.ready, has_data, now, hpa_);
    desired_ = d.desired;
    observed_ = avg;
    panicking_ = false;
    reason_ = d.reason;
    return desired_;
  }
  auto d = autoscaler::Decide(scaling_.spec, window_, in.ready, now, kpa_, in.activation);
  desired_ = d.desired;
  observed_ = d.stable_avg;
  panicking_ = d.panicking;
  reason_ = d.reason;
  return desired_;
}

}  // namespace inferd::control
