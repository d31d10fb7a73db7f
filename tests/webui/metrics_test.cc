// Tests of webui/metrics.h (the METRICS tab's sample rings, fake clock) and gateway/latency.h (buckets and
// quantiles).
#include "webui/metrics.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace inferd::webui {
namespace {

using gateway::LatencyBucket;
using gateway::LatencyBucketLower;
using gateway::LatencyBucketUpper;
using gateway::LatencyQuantileMs;

TEST(LatencyTest, BucketsCoverEveryValueInOrder) {
  for (uint64_t us : {0ull, 1ull, 3ull, 4ull, 5ull, 7ull, 8ull, 1000ull, 1023ull, 1024ull, 123456ull, 1ull << 31}) {
    int b = LatencyBucket(us);
    EXPECT_LE(LatencyBucketLower(b), us) << us;
    EXPECT_LT(us, LatencyBucketUpper(b)) << us;
  }
  for (int i = 0; i + 1 < gateway::kLatencyBuckets; ++i) EXPECT_EQ(LatencyBucketUpper(i), LatencyBucketLower(i + 1)) << i;
  EXPECT_EQ(LatencyBucket(~0ull), gateway::kLatencyBuckets - 1);
}

TEST(LatencyTest, QuantilesWithinABucketsWidth) {
  gateway::LatencyCounts c{};
  EXPECT_FALSE(LatencyQuantileMs(c, 0.5).has_value());
  for (int i = 0; i < 99; ++i) c[LatencyBucket(10'000)]++;  // 99 requests at 10 ms
  c[LatencyBucket(500'000)]++;                               // one at 500 ms
  double p50 = *LatencyQuantileMs(c, 0.5);
  EXPECT_GT(p50, 8.0);
  EXPECT_LT(p50, 12.5);
  double p99 = *LatencyQuantileMs(c, 0.99);
  EXPECT_LT(p99, 12.5);
  double p100 = *LatencyQuantileMs(c, 1.0);
  EXPECT_GT(p100, 400.0);
  EXPECT_LT(p100, 625.0);
}

RevisionSnapshot Snap(std::string rev, uint64_t requests, uint64_t errors, uint64_t lat_us = 2000) {
  RevisionSnapshot s;
  s.ns = "default";
  s.name = "iris";
  s.component = "predictor";
  s.revision = std::move(rev);
  s.requests = requests;
  s.errors = errors;
  s.latency[LatencyBucket(lat_us)] = requests;
  s.in_flight = 3;
  s.replicas = 2;
  return s;
}

TEST(MetricsRecorderTest, SamplesAreDifferencesPerInterval) {
  MetricsRecorder m;
  m.Record(1000, {Snap("iris-predictor-00001", 10, 1)});  // first sighting: from zero over one interval
  auto first = m.Window("default", "iris", 0);
  ASSERT_EQ(first.size(), 1u);
  EXPECT_EQ(first[0].requests, 10u);
  EXPECT_EQ(first[0].errors, 1u);
  EXPECT_DOUBLE_EQ(first[0].rps, 5.0);
  m.Record(3000, {Snap("iris-predictor-00001", 30, 2)});
  m.Record(5000, {Snap("iris-predictor-00001", 30, 2)});
  auto w = m.Window("default", "iris", 1000);
  ASSERT_EQ(w.size(), 2u);
  EXPECT_EQ(w[0].t_ms, 3000);
  EXPECT_EQ(w[0].requests, 20u);
  EXPECT_EQ(w[0].errors, 1u);
  EXPECT_DOUBLE_EQ(w[0].rps, 10.0);
  ASSERT_TRUE(w[0].p50_ms.has_value());
  EXPECT_NEAR(*w[0].p50_ms, 2.0, 0.6);
  EXPECT_EQ(w[0].in_flight, 3);
  EXPECT_EQ(w[0].replicas, 2);
  EXPECT_EQ(w[1].requests, 0u);
  EXPECT_FALSE(w[1].p99_ms.has_value());  // nothing answered: null, not 0
  EXPECT_EQ(m.Window("default", "iris", 3000).size(), 1u);
  EXPECT_TRUE(m.Window("default", "iri", 0).empty());  // another service, not a prefix match
  EXPECT_TRUE(m.Window("other", "iris", 0).empty());
}

TEST(MetricsRecorderTest, ResetCountersCountFromZeroAndTimeMustAdvance) {
  MetricsRecorder m;
  m.Record(0, {Snap("r1", 100, 0)});
  m.Record(2000, {Snap("r1", 4, 0)});  // recreated stats
  m.Record(2000, {Snap("r1", 8, 0)});  // same instant: ignored
  auto w = m.Window("default", "iris", 0);
  ASSERT_EQ(w.size(), 1u);
  EXPECT_EQ(w[0].requests, 4u);
}

TEST(MetricsRecorderTest, BoundedRingsAndRevisions) {
  MetricsLimits l;
  l.samples_per_revision = 5;
  l.max_revisions = 3;
  MetricsRecorder m(l);
  for (int i = 0; i < 20; ++i) m.Record(i * 2000, {Snap("r1", i, 0), Snap("r2", i, 0)});
  auto w = m.Window("default", "iris", -10000);
  EXPECT_EQ(w.size(), 10u);  // 5 per revision
  EXPECT_EQ(w.front().t_ms, 30000);
  for (int i = 0; i < 4; ++i) m.Record(40000 + i * 2000, {Snap("x" + std::to_string(i), 1, 0)});
  EXPECT_LE(m.revisions(), 3u);
  // A revision gone for longer than a ring's span (5 x 2 s) is forgotten.
  m.Record(100000, {Snap("x3", 5, 0)});
  EXPECT_EQ(m.revisions(), 1u);
}

TEST(MetricsRecorderTest, JsonShape) {
  MetricsRecorder m;
  m.Record(0, {Snap("r1", 0, 0)});
  m.Record(2000, {Snap("r1", 2, 1)});
  m.Record(4000, {Snap("r1", 2, 1)});
  auto j = nlohmann::json::parse(MetricsJson(4500, 2000, m.Window("default", "iris", 1000)));
  EXPECT_EQ(j["now"], 4500);
  EXPECT_EQ(j["intervalMs"], 2000);
  ASSERT_EQ(j["series"].size(), 2u);
  const auto& s = j["series"][0];
  EXPECT_EQ(s["t"], 2000);
  EXPECT_EQ(s["component"], "predictor");
  EXPECT_EQ(s["revision"], "r1");
  EXPECT_EQ(s["requests"], 2);
  EXPECT_EQ(s["errors"], 1);
  EXPECT_DOUBLE_EQ(s["rps"].get<double>(), 1.0);
  EXPECT_TRUE(s["p50Ms"].is_number());
  EXPECT_TRUE(j["series"][1]["p99Ms"].is_null());
  EXPECT_EQ(s["inFlight"], 3);
  EXPECT_EQ(s["replicas"], 2);
}

}  // namespace
}  // namespace inferd::webui
