// control/scaling.cc: see scaling.h.
#include "control/scaling.h"

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>

namespace inferd::control {

namespace {

using resources::Json;

// requests.<name> of the predictor's (pod-level) resources, or of its implementation / first container.
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
  for (const auto& impl : resources::PredictorImplementations()) {  // model:, sklearn:, ...
    if (predictor.contains(impl)) {
      if (std::string v = from(predictor[impl]); !v.empty()) return v;
    }
  }
  if (predictor.contains("containers") && predictor["containers"].is_array() && !predictor["containers"].empty()) {
    return from(predictor["containers"][0]);
  }
  return "";
}

// A replica's processes: `pid` and its children (`inferd model-server --processes` copies, forked by its main
// thread; what a pod's cgroup would count), from /proc/<pid>/task/<pid>/children (just `pid` without it).
std::vector<int> ReplicaProcesses(int pid) {
  std::vector<int> pids = {pid};
  const std::string p = std::to_string(pid);
  std::ifstream in("/proc/" + p + "/task/" + p + "/children");
  int child = 0;
  while (pids.size() < 4096 && in >> child) pids.push_back(child);
  return pids;
}

// Cumulative CPU seconds (user + system) of one process, from /proc/<pid>/stat.
std::optional<double> ProcessCpuSeconds(int pid) {
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

// Resident set size in bytes of one process, from /proc/<pid>/statm.
std::optional<double> ProcessRssBytes(int pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/statm");
  unsigned long long size = 0, resident = 0;
  if (!(in >> size >> resident)) return std::nullopt;
  static const long page = sysconf(_SC_PAGESIZE);
  return static_cast<double>(resident) * static_cast<double>(page > 0 ? page : 4096);
}

// The sum of `f` over a replica's processes; nullopt when its first process cannot be read.
std::optional<double> SumOverReplica(int pid, std::optional<double> (*f)(int)) {
  std::optional<double> total;
  for (int p : ReplicaProcesses(pid)) {
    auto v = f(p);
    if (!v && p == pid) return std::nullopt;
    if (v) total = total.value_or(0) + *v;
  }
  return total;
}

std::optional<double> CpuSeconds(int pid) { return SumOverReplica(pid, ProcessCpuSeconds); }

constexpr int64_t kSlackNs = 50'000'000;  // a pass a little early still counts as on time
constexpr int64_t kResourceWindowNs = 15'000'000'000;  // raw mode: average usage over 15 s (metrics-server's)

// KServe's autoScaling block, one Resource metric (validated at apply: External/PodMetric and several metrics
// are refused there). It wins over scaleMetric/scaleTarget, as in KServe's HPA reconciler. A Utilization
// target sets the percent of the request; an AverageValue target the absolute per-replica cores or bytes.
struct AutoScalingMetric {
  std::string resource;           // cpu | memory
  std::optional<double> percent;  // Utilization
  std::optional<double> average;  // AverageValue (cores or bytes)
};
StatusOr<std::optional<AutoScalingMetric>> AutoScalingOf(const Json& predictor) {
  if (!predictor.is_object() || !predictor.contains("autoScaling") || !predictor["autoScaling"].is_object()) {
    return std::optional<AutoScalingMetric>();
  }
  const Json& as = predictor["autoScaling"];
  if (!as.contains("metrics") || !as["metrics"].is_array() || as["metrics"].empty())
    return std::optional<AutoScalingMetric>();
  const Json& m = as["metrics"][0];
  if (!m.is_object() || m.value("type", "") != "Resource" || !m.contains("resource") || !m["resource"].is_object()) {
    return InvalidArgument("autoScaling.metrics[0]: only a Resource metric (cpu or memory) is supported");
  }
  const Json& r = m["resource"];
  AutoScalingMetric out;
  out.resource = r.value("name", "");
  if (out.resource != "cpu" && out.resource != "memory") {
    return InvalidArgument("autoScaling.metrics[0].resource.name: must be cpu or memory");
  }
  const Json target = r.contains("target") && r["target"].is_object() ? r["target"] : Json::object();
  if (target.value("type", "Utilization") == "AverageValue") {
    const Json& v = target.contains("averageValue") ? target["averageValue"] : Json();
    const std::string q = v.is_string() ? v.get<std::string>() : (v.is_number() ? v.dump() : "");
    out.average = out.resource == "cpu" ? resources::ParseCpuQuantity(q) : resources::ParseMemoryQuantity(q);
    if (!out.average || *out.average <= 0) {
      return InvalidArgument("autoScaling.metrics[0].resource.target.averageValue: '" + q + "' is not a quantity");
    }
  } else if (target.contains("averageUtilization") && target["averageUtilization"].is_number()) {
    out.percent = target["averageUtilization"].get<double>();
  }
  return std::optional<AutoScalingMetric>(std::move(out));
}

}  // namespace

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
  ASSIGN_OR_RETURN(std::optional<AutoScalingMetric> metric, AutoScalingOf(predictor));
  if (metric) {
    f.scale_metric = metric->resource;
    f.scale_target = metric->percent;  // unset for AverageValue (and for a cpu Utilization without a value: 80)
  }
  // KServe's Standard (RawDeployment) mode: an HPA on cpu at 80% unless a metric is given; the autoscaler
  // classes none and external create no autoscaler there: the replica count stays at minReplicas.
  auto annotation = [&](const char* key) {
    auto it = annotations.find(key);
    return it == annotations.end() ? std::string() : it->second;
  };
  const std::string mode = annotation("serving.kserve.io/deploymentMode");
  if (mode == "RawDeployment" || mode == "Standard") {
    const std::string cls = annotation("serving.kserve.io/autoscalerClass");
    if (cls == "none" || cls == "external") {
      const int fixed = std::max(1, f.min_replicas.value_or(1));
      f.min_replicas = fixed;
      f.max_replicas = fixed;
    } else if (!f.scale_metric) {
      f.scale_metric = "cpu";
    }
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
      auto parsed = cpu ? resources::ParseCpuQuantity(req) : resources::ParseMemoryQuantity(req);
      if (!parsed || *parsed <= 0) {
        return InvalidArgument(std::string("resources.requests.") + (cpu ? "cpu" : "memory") + ": '" + req +
                               "' is not a quantity");
      }
      request = *parsed;
    }
    out.resource_target = request * percent / 100;
    if (metric && metric->average) out.resource_target = *metric->average;
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
      sum += std::max(0.0, *s - prev->second.first) / (static_cast<double>(in.now_ns - prev->second.second) / 1e9);
      ++n;
    } else if (auto r = ReplicaRssBytes(pid)) {
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

std::optional<double> ReplicaRssBytes(int pid) { return SumOverReplica(pid, ProcessRssBytes); }

}  // namespace inferd::control
