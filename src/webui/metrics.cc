// webui/metrics.cc: the per-revision sample rings (see metrics.h for the contract).
#include "webui/metrics.h"

#include <algorithm>

#include <nlohmann/json.hpp>

namespace inferd::webui {

namespace {

uint64_t Delta(uint64_t cur, uint64_t prev) { return cur >= prev ? cur - prev : cur; }

std::string Key(const RevisionSnapshot& s) { return s.ns + "/" + s.name + "/" + s.component + "/" + s.revision; }

}  // namespace

void MetricsRecorder::Record(int64_t now_ms, const std::vector<RevisionSnapshot>& snapshots) {
  for (const RevisionSnapshot& s : snapshots) {
    auto [it, added] = revs_.try_emplace(Key(s));
    Rev& r = it->second;
    if (added) r.last_ms = now_ms - limits_.interval_ms;  // counted from zero: see metrics.h
    if (now_ms > r.last_ms) {
      MetricsSample m;
      m.t_ms = now_ms;
      m.component = s.component;
      m.revision = s.revision;
      m.requests = Delta(s.requests, r.last.requests);
      m.errors = Delta(s.errors, r.last.errors);
      m.rps = static_cast<double>(m.requests) * 1000.0 / static_cast<double>(now_ms - r.last_ms);
      gateway::LatencyCounts d{};
      const bool reset = s.requests < r.last.requests;
      for (int i = 0; i < gateway::kLatencyBuckets; ++i) {
        d[i] = reset ? s.latency[i] : Delta(s.latency[i], r.last.latency[i]);
      }
      m.p50_ms = gateway::LatencyQuantileMs(d, 0.50);
      m.p99_ms = gateway::LatencyQuantileMs(d, 0.99);
      m.in_flight = s.in_flight;
      m.replicas = s.replicas;
      r.ring.push_back(std::move(m));
      while (r.ring.size() > limits_.samples_per_revision) r.ring.pop_front();
    }
    if (now_ms > r.last_ms) {
      r.last = s;
      r.last_ms = now_ms;
    }
  }
  // Forget revisions gone for longer than a ring's span, then the least recently seen beyond the bound.
  const int64_t span_ms = limits_.interval_ms * static_cast<int64_t>(limits_.samples_per_revision);
  std::erase_if(revs_, [&](const auto& kv) { return now_ms - kv.second.last_ms > span_ms; });
  while (revs_.size() > limits_.max_revisions) {
    auto oldest = std::min_element(revs_.begin(), revs_.end(),
                                   [](const auto& a, const auto& b) { return a.second.last_ms < b.second.last_ms; });
    revs_.erase(oldest);
  }
}

std::vector<MetricsSample> MetricsRecorder::Window(std::string_view ns, std::string_view name, int64_t since_ms) const {
  std::vector<MetricsSample> out;
  const std::string prefix = std::string(ns) + "/" + std::string(name) + "/";
  for (auto it = revs_.lower_bound(prefix); it != revs_.end() && it->first.starts_with(prefix); ++it) {
    for (const MetricsSample& m : it->second.ring) {
      if (m.t_ms > since_ms) out.push_back(m);
    }
  }
  std::stable_sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.t_ms < b.t_ms; });
  return out;
}

std::string MetricsJson(int64_t now_ms, int64_t interval_ms, const std::vector<MetricsSample>& samples) {
  using nlohmann::json;
  json series = json::array();
  for (const MetricsSample& m : samples) {
    series.push_back({{"t", m.t_ms},
                      {"component", m.component},
                      {"revision", m.revision},
                      {"requests", m.requests},
                      {"errors", m.errors},
                      {"rps", m.rps},
                      {"p50Ms", m.p50_ms ? json(*m.p50_ms) : json(nullptr)},
                      {"p99Ms", m.p99_ms ? json(*m.p99_ms) : json(nullptr)},
                      {"inFlight", m.in_flight},
                      {"replicas", m.replicas}});
  }
  return json{{"now", now_ms}, {"intervalMs", interval_ms}, {"series", std::move(series)}}.dump();
}

}  // namespace inferd::webui
