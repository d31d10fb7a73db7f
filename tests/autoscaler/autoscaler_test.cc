// tests/autoscaler/autoscaler_test.cc: the KPA config, spec resolution, metric windows and decider, with
// cases computed by hand from the formulas of /work/shared/reference/serverless.md. Time is explicit
// (seconds on a fake steady clock); nothing sleeps or reads the wall clock.
#include "autoscaler/autoscaler.h"

#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

namespace inferd::autoscaler {
namespace {

constexpr int64_t kSec = 1'000'000'000;
int64_t At(int64_t s) { return s * kSec; }

Annotations A(std::initializer_list<std::pair<std::string, std::string>> kv) {
  Annotations a;
  for (const auto& [k, v] : kv) a[std::string(kAnnotationPrefix) + k] = v;
  return a;
}

RevisionScalingSpec Spec(const Annotations& a = {}, int cc = 0, const AutoscalerConfig& c = {}) {
  auto s = ResolveRevisionSpec(c, a, cc);
  EXPECT_TRUE(s.ok()) << s.status().ToString();
  return s.ok() ? *s : RevisionScalingSpec{};
}

AutoscalerConfig Config(const std::map<std::string, std::string>& data) {
  auto c = ParseAutoscalerConfig(data);
  EXPECT_TRUE(c.ok()) << c.status().ToString();
  return c.ok() ? *c : AutoscalerConfig{};
}

// Records `conc` concurrency and `rps` requests per second in each second of [from, to].
void Fill(MetricWindow& w, int64_t from, int64_t to, double conc, double rps = 0) {
  for (int64_t s = from; s <= to; ++s) w.Record(At(s), conc, rps);
}

// Records load(s) concurrency for each second s in [*next, t] (the gateway reporting once a second, in time
// order: a window only keeps its last retention period, so the test never records ahead of the decision).
template <typename Load>
void RecordUpTo(MetricWindow& w, int64_t* next, int64_t t, Load load) {
  for (; *next <= t; ++*next) w.Record(At(*next), load(*next), 0);
}

bool Has(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

// ---- config ---------------------------------------------------------------------------------------------
TEST(AutoscalerConfigTest, DefaultsAreKnatives) {
  AutoscalerConfig c = Config({});
  EXPECT_DOUBLE_EQ(c.container_concurrency_target_fraction, 0.7);
  EXPECT_DOUBLE_EQ(c.container_concurrency_target_default, 100);
  EXPECT_DOUBLE_EQ(c.rps_target_default, 200);
  EXPECT_DOUBLE_EQ(c.target_burst_capacity, 211);
  EXPECT_EQ(c.stable_window, std::chrono::seconds(60));
  EXPECT_DOUBLE_EQ(c.panic_window_percentage, 10);
  EXPECT_DOUBLE_EQ(c.panic_threshold_percentage, 200);
  EXPECT_DOUBLE_EQ(c.max_scale_up_rate, 1000);
  EXPECT_DOUBLE_EQ(c.max_scale_down_rate, 2);
  EXPECT_EQ(c.scale_to_zero_grace_period, std::chrono::seconds(30));
  EXPECT_EQ(c.scale_to_zero_pod_retention_period, nanoseconds(0));
  EXPECT_EQ(c.scale_down_delay, nanoseconds(0));
  EXPECT_EQ(c.initial_scale, 1);
  EXPECT_FALSE(c.allow_zero_initial_scale);
  EXPECT_EQ(c.min_scale, 0);
  EXPECT_EQ(c.max_scale, 0);
  EXPECT_TRUE(c.enable_scale_to_zero);
  EXPECT_EQ(c.activation_timeout, std::chrono::seconds(630));

  RevisionScalingSpec s = Spec();
  EXPECT_EQ(s.metric, ScaleMetric::kConcurrency);
  EXPECT_DOUBLE_EQ(s.total_target, 100);
  EXPECT_DOUBLE_EQ(s.target, 70);
  EXPECT_EQ(s.panic_window, std::chrono::seconds(6));
  EXPECT_DOUBLE_EQ(s.panic_threshold, 2.0);
  EXPECT_EQ(s.scaling_class, kKpaClass);
}

TEST(AutoscalerConfigTest, ParsesValues) {
  AutoscalerConfig c = Config({{"stable-window", "2m"},
                               {"scale-down-delay", "1h"},
                               {"container-concurrency-target-percentage", "80"},
                               {"panic-window-percentage", "20"},
                               {"panic-threshold-percentage", "150"},
                               {"max-scale-up-rate", "3.5"},
                               {"enable-scale-to-zero", "false"},
                               {"allow-zero-initial-scale", "true"},
                               {"initial-scale", "0"},
                               {"min-scale", "2"},
                               {"max-scale", "9"},
                               {"scale-to-zero-grace-period", "45s"},
                               {"target-burst-capacity", "-1"},
                               {"_example", "ignored: not a key"}});
  EXPECT_EQ(c.stable_window, std::chrono::seconds(120));
  EXPECT_EQ(c.scale_down_delay, std::chrono::hours(1));
  EXPECT_DOUBLE_EQ(c.container_concurrency_target_fraction, 0.8);
  EXPECT_DOUBLE_EQ(c.panic_window_percentage, 20);
  EXPECT_DOUBLE_EQ(c.panic_threshold_percentage, 150);
  EXPECT_DOUBLE_EQ(c.max_scale_up_rate, 3.5);
  EXPECT_FALSE(c.enable_scale_to_zero);
  EXPECT_EQ(c.initial_scale, 0);
  EXPECT_EQ(c.min_scale, 2);
  EXPECT_EQ(c.max_scale, 9);
  EXPECT_EQ(c.scale_to_zero_grace_period, std::chrono::seconds(45));
  EXPECT_DOUBLE_EQ(c.target_burst_capacity, -1);
  // Knative's legacy fraction form of the percentage.
  EXPECT_DOUBLE_EQ(Config({{"container-concurrency-target-percentage", "0.5"}}).container_concurrency_target_fraction,
                   0.5);
  // The config flows into the spec: stable 120 s * 20% = 24 s panic window; threshold 1.5; target 100 * 0.8.
  RevisionScalingSpec s = Spec({}, 0, c);
  EXPECT_EQ(s.panic_window, std::chrono::seconds(24));
  EXPECT_DOUBLE_EQ(s.panic_threshold, 1.5);
  EXPECT_DOUBLE_EQ(s.target, 80);
  EXPECT_EQ(s.min_scale, 2);
  EXPECT_EQ(s.max_scale, 9);
}

TEST(AutoscalerConfigTest, BadValuesNameTheKey) {
  const std::vector<std::pair<std::string, std::string>> bad = {
      {"stable-window", "0s"},
      {"stable-window", "500ms"},
      {"stable-window", "2h"},
      {"stable-window", "6500ms"},
      {"stable-window", "60"},
      {"stable-window", "abc"},
      {"panic-window-percentage", "0"},
      {"panic-window-percentage", "101"},
      {"panic-threshold-percentage", "100"},
      {"panic-threshold-percentage", "1001"},
      {"max-scale-up-rate", "1"},
      {"max-scale-down-rate", "0.5"},
      {"container-concurrency-target-percentage", "0"},
      {"container-concurrency-target-percentage", "101"},
      {"container-concurrency-target-default", "0"},
      {"requests-per-second-target-default", "0.001"},
      {"target-burst-capacity", "-2"},
      {"scale-to-zero-grace-period", "500ms"},
      {"scale-to-zero-grace-period", "0s"},
      {"scale-to-zero-pod-retention-period", "-1s"},
      {"scale-down-delay", "-1s"},
      {"scale-down-delay", "1500ms"},
      {"enable-scale-to-zero", "yes"},
      {"allow-zero-initial-scale", "2"},
      {"initial-scale", "0"},
      {"initial-scale", "-1"},
      {"initial-scale", "1.5"},
      {"min-scale", "-1"},
      {"max-scale", "x"},
      {"activation-timeout", "0s"},
      {"pod-autoscaler-class", "foo"},
  };
  for (const auto& [key, value] : bad) {
    auto c = ParseAutoscalerConfig({{key, value}});
    ASSERT_FALSE(c.ok()) << key << "=" << value;
    EXPECT_EQ(c.status().code(), StatusCode::kInvalidArgument) << key;
    EXPECT_EQ(c.status().message().rfind(key + ":", 0), 0u) << c.status().message();
    EXPECT_TRUE(Has(c.status().message(), "\"" + value + "\"")) << c.status().message();
  }
  auto c = ParseAutoscalerConfig({{"min-scale", "5"}, {"max-scale", "3"}});
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().message().rfind("min-scale:", 0), 0u) << c.status().message();
  EXPECT_TRUE(Has(c.status().message(), "max-scale")) << c.status().message();
}

// inferd relaxes Knative's 6 s lower bounds to 1 s (short windows for tests and benchmarks); every value
// Knative accepts is still accepted.
TEST(AutoscalerConfigTest, ShortWindowsAreAccepted) {
  AutoscalerConfig c = Config({{"stable-window", "5s"}, {"scale-to-zero-grace-period", "2s"}});
  EXPECT_EQ(c.stable_window, std::chrono::seconds(5));
  EXPECT_EQ(c.scale_to_zero_grace_period, std::chrono::seconds(2));
  c = Config({{"stable-window", "1s"}, {"scale-to-zero-grace-period", "1s"}});
  EXPECT_EQ(c.stable_window, std::chrono::seconds(1));
  EXPECT_EQ(c.scale_to_zero_grace_period, std::chrono::seconds(1));
  EXPECT_EQ(Config({{"stable-window", "6s"}}).stable_window, std::chrono::seconds(6));
  EXPECT_EQ(Config({{"stable-window", "1h"}}).stable_window, std::chrono::hours(1));
  EXPECT_EQ(Config({{"scale-to-zero-grace-period", "1500ms"}}).scale_to_zero_grace_period,
            std::chrono::milliseconds(1500));  // the grace period need not be whole seconds

  RevisionScalingSpec s = Spec(A({{"window", "5s"}}));
  EXPECT_EQ(s.stable_window, std::chrono::seconds(5));
  EXPECT_EQ(s.panic_window, std::chrono::seconds(1));  // 0.5 s: at least one bucket
  EXPECT_EQ(Spec(A({{"window", "1s"}})).stable_window, std::chrono::seconds(1));
  EXPECT_EQ(Spec(A({{"window", "1s"}})).panic_window, std::chrono::seconds(1));
}

TEST(AutoscalerConfigTest, GoDurations) {
  EXPECT_EQ(*ParseGoDuration("1h30m"), std::chrono::seconds(5400));
  EXPECT_EQ(*ParseGoDuration("1.5s"), std::chrono::milliseconds(1500));
  EXPECT_EQ(*ParseGoDuration("300ms"), std::chrono::milliseconds(300));
  EXPECT_EQ(*ParseGoDuration("2m"), std::chrono::seconds(120));
  EXPECT_EQ(*ParseGoDuration("0"), nanoseconds(0));
  EXPECT_EQ(*ParseGoDuration("-6s"), std::chrono::seconds(-6));
  EXPECT_FALSE(ParseGoDuration("10").ok());
  EXPECT_FALSE(ParseGoDuration("5x").ok());
  EXPECT_FALSE(ParseGoDuration("").ok());
  EXPECT_FALSE(ParseGoDuration("s").ok());
}

// ---- per-revision spec ----------------------------------------------------------------------------------
TEST(RevisionSpecTest, TargetRuleWithContainerConcurrency) {
  EXPECT_DOUBLE_EQ(Spec({}, 10).target, 7);                          // the reference's example
  EXPECT_DOUBLE_EQ(Spec(A({{"target", "50"}}), 10).target, 7);       // capped at containerConcurrency
  EXPECT_DOUBLE_EQ(Spec(A({{"target", "50"}}), 10).total_target, 10);
  EXPECT_DOUBLE_EQ(Spec(A({{"target", "5"}}), 10).target, 3.5);      // below the cap: replaces it
  EXPECT_DOUBLE_EQ(Spec(A({{"target", "50"}}), 0).target, 35);       // no cap without containerConcurrency
  EXPECT_DOUBLE_EQ(Spec(A({{"target-utilization-percentage", "50"}}), 10).target, 5);
  EXPECT_DOUBLE_EQ(Spec(A({{"metric", "rps"}}), 10).target, 140);    // rps: 200 * 0.7, cc does not apply
  EXPECT_DOUBLE_EQ(Spec(A({{"metric", "rps"}, {"target", "50"}}), 10).target, 35);
  EXPECT_DOUBLE_EQ(Spec(A({{"target", "0.01"}, {"target-utilization-percentage", "1"}})).target, 0.01);  // floor
}

TEST(RevisionSpecTest, AnnotationOverrides) {
  RevisionScalingSpec s = Spec(A({{"window", "10s"},
                                  {"panic-window-percentage", "20"},
                                  {"panic-threshold-percentage", "150"},
                                  {"target-burst-capacity", "-1"},
                                  {"min-scale", "2"},
                                  {"max-scale", "8"},
                                  {"initial-scale", "3"},
                                  {"scale-down-delay", "30s"},
                                  {"target", "40"},
                                  {"target-utilization-percentage", "50"}}));
  EXPECT_EQ(s.stable_window, std::chrono::seconds(10));
  EXPECT_EQ(s.panic_window, std::chrono::seconds(2));
  EXPECT_DOUBLE_EQ(s.panic_threshold, 1.5);
  EXPECT_DOUBLE_EQ(s.target_burst_capacity, -1);
  EXPECT_EQ(s.min_scale, 2);
  EXPECT_EQ(s.max_scale, 8);
  EXPECT_EQ(s.initial_scale, 3);
  EXPECT_EQ(s.scale_down_delay, std::chrono::seconds(30));
  EXPECT_DOUBLE_EQ(s.target, 20);

  EXPECT_EQ(Spec(A({{"minScale", "4"}})).min_scale, 4);  // legacy spelling
  EXPECT_EQ(Spec(A({{"window", "6s"}})).panic_window, std::chrono::seconds(1));  // 0.6 s: at least one bucket
  RevisionScalingSpec hpa = Spec(A({{"class", "hpa.autoscaling.knative.dev"}, {"metric", "memory"}}));
  EXPECT_EQ(hpa.metric, ScaleMetric::kMemory);
  EXPECT_EQ(hpa.scaling_class, kHpaClass);

  struct Bad {
    Annotations a;
    std::string key;
  };
  const std::vector<Bad> bad = {
      {A({{"window", "0s"}}), "window"},
      {A({{"window", "500ms"}}), "window"},
      {A({{"window", "2h"}}), "window"},
      {A({{"window", "61500ms"}}), "window"},
      {A({{"metric", "cpu"}}), "metric"},  // cpu needs the HPA class
      {A({{"metric", "qps"}}), "metric"},
      {A({{"class", "foo"}}), "class"},
      {A({{"target", "0"}}), "target"},
      {A({{"target-utilization-percentage", "0.5"}}), "target-utilization-percentage"},
      {A({{"panic-window-percentage", "0"}}), "panic-window-percentage"},
      {A({{"panic-threshold-percentage", "105"}}), "panic-threshold-percentage"},
      {A({{"target-burst-capacity", "-3"}}), "target-burst-capacity"},
      {A({{"min-scale", "-1"}}), "min-scale"},
      {A({{"min-scale", "5"}, {"max-scale", "2"}}), "min-scale"},
      {A({{"max-scale", "ten"}}), "max-scale"},
      {A({{"initial-scale", "0"}}), "initial-scale"},  // allow-zero-initial-scale is false
      {A({{"scale-down-delay", "2h"}}), "scale-down-delay"},
      {A({{"minScale", "2"}, {"min-scale", "3"}}), "min-scale"},
  };
  for (const auto& b : bad) {
    auto s2 = ResolveRevisionSpec(AutoscalerConfig{}, b.a, 0);
    ASSERT_FALSE(s2.ok()) << b.key;
    EXPECT_EQ(s2.status().code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(s2.status().message().rfind(std::string(kAnnotationPrefix) + b.key + ":", 0), 0u)
        << s2.status().message();
  }
  // initial-scale 0 is fine when the cluster allows it.
  EXPECT_EQ(Spec(A({{"initial-scale", "0"}}), 0, Config({{"allow-zero-initial-scale", "true"}})).initial_scale, 0);
}

TEST(RevisionSpecTest, KServeFields) {
  KServeScaling f;
  auto s = ResolveKServeSpec(AutoscalerConfig{}, {}, f);
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ(s->min_scale, 1);  // KServe's default minReplicas
  EXPECT_EQ(s->max_scale, 0);

  // An annotation is used when the field is absent; a field wins over the annotation.
  s = ResolveKServeSpec(AutoscalerConfig{}, A({{"min-scale", "0"}, {"max-scale", "3"}}), KServeScaling{});
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->min_scale, 0);
  EXPECT_EQ(s->max_scale, 3);
  f = KServeScaling{};
  f.min_replicas = 0;
  f.max_replicas = 7;
  f.scale_target = 20;
  s = ResolveKServeSpec(AutoscalerConfig{}, A({{"minScale", "2"}, {"max-scale", "3"}, {"target", "90"}}), f);
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ(s->min_scale, 0);
  EXPECT_EQ(s->max_scale, 7);
  EXPECT_DOUBLE_EQ(s->target, 14);

  f = KServeScaling{};
  f.container_concurrency = 8;
  f.scale_target = 50;  // capped at containerConcurrency
  s = ResolveKServeSpec(AutoscalerConfig{}, {}, f);
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->container_concurrency, 8);
  EXPECT_NEAR(s->target, 5.6, 1e-12);

  f = KServeScaling{};
  f.scale_metric = "rps";
  s = ResolveKServeSpec(AutoscalerConfig{}, {}, f);
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->metric, ScaleMetric::kRps);
  f.scale_metric = "cpu";  // picks the HPA class
  s = ResolveKServeSpec(AutoscalerConfig{}, {}, f);
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ(s->metric, ScaleMetric::kCpu);
  EXPECT_EQ(s->scaling_class, kHpaClass);

  auto expect_field = [](const KServeScaling& bad, const std::string& field) {
    auto r = ResolveKServeSpec(AutoscalerConfig{}, {}, bad);
    ASSERT_FALSE(r.ok()) << field;
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(r.status().message().rfind(field + ":", 0), 0u) << r.status().message();
  };
  KServeScaling b;
  b.min_replicas = -1;
  expect_field(b, "minReplicas");
  b = KServeScaling{};
  b.min_replicas = 5;
  b.max_replicas = 3;
  expect_field(b, "minReplicas");
  b = KServeScaling{};
  b.container_concurrency = 2000;
  expect_field(b, "containerConcurrency");
  b = KServeScaling{};
  b.scale_metric = "gpu";
  expect_field(b, "scaleMetric");
  b = KServeScaling{};
  b.scale_target = 0;
  expect_field(b, "scaleTarget");
  b = KServeScaling{};
  b.max_replicas = 2;  // below the min-scale annotation
  auto r = ResolveKServeSpec(AutoscalerConfig{}, A({{"min-scale", "4"}}), b);
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(Has(r.status().message(), "min-scale")) << r.status().message();
}

// ---- metrics --------------------------------------------------------------------------------------------
TEST(MetricWindowTest, AveragesOverExistingBucketsWithGapsAsZero) {
  MetricWindow w(std::chrono::seconds(60));
  EXPECT_TRUE(w.NoDataFor(At(0), std::chrono::seconds(60)));
  w.Record(At(10), 6, 60);
  w.Record(At(12), 6, 60);  // second 11 is a gap
  MetricWindow::Average a = w.AverageOver(At(12), std::chrono::seconds(60));
  EXPECT_TRUE(a.has_data);
  EXPECT_EQ(a.buckets, 3);  // seconds 10..12: the window is cut at the first recorded second
  EXPECT_DOUBLE_EQ(a.concurrency, 4);
  EXPECT_DOUBLE_EQ(a.rps, 40);
  // Two reports in one second add up (several sources).
  w.Record(At(13) + 200'000'000, 1, 0);
  w.Record(At(13) + 700'000'000, 2, 0);
  a = w.AverageOver(At(13) + 900'000'000, std::chrono::seconds(2));  // seconds 12..13
  EXPECT_EQ(a.buckets, 2);
  EXPECT_DOUBLE_EQ(a.concurrency, (6 + 3) / 2.0);
  // A full window later: 60 buckets, the old ones outside.
  Fill(w, 14, 80, 3);
  a = w.AverageOver(At(80), std::chrono::seconds(60));  // seconds 21..80, all 3
  EXPECT_EQ(a.buckets, 60);
  EXPECT_DOUBLE_EQ(a.concurrency, 3);
  // Nothing recorded in (now - 60 s, now]: no data.
  EXPECT_FALSE(w.NoDataFor(At(139), std::chrono::seconds(60)));  // (79, 139]: second 80 is still inside
  EXPECT_TRUE(w.NoDataFor(At(140), std::chrono::seconds(60)));
  // After a whole retention without data, averaging restarts at the next record (a burst is not diluted).
  w.Record(At(300), 120, 0);
  a = w.AverageOver(At(300), std::chrono::seconds(60));
  EXPECT_EQ(a.buckets, 1);
  EXPECT_DOUBLE_EQ(a.concurrency, 120);
}

TEST(MetricWindowTest, SampleFromGatewayCounters) {
  CounterReading prev;  // t = 0: idle
  CounterReading cur;
  cur.at_ns = kSec;
  cur.requests = 10;
  // One request in flight from 0 to 0.5 s (integral 0.5 s), then two from 0.5 s on.
  cur.in_flight = 2;
  cur.in_flight_ns = kSec / 2;
  cur.in_flight_changed_ns = kSec / 2;
  MetricSample s = SampleCounters(prev, cur);
  EXPECT_DOUBLE_EQ(s.concurrency, 1.5);  // (0.5 + 2 * 0.5) / 1
  EXPECT_DOUBLE_EQ(s.rps, 10);
  EXPECT_DOUBLE_EQ(SampleCounters(cur, cur).rps, 0);  // empty interval
}

// ---- decider --------------------------------------------------------------------------------------------
TEST(DeciderTest, StableSteadyState) {
  RevisionScalingSpec spec = Spec();  // target 70
  MetricWindow w;
  DeciderState st;
  Fill(w, 0, 59, 140);
  Decision d = Decide(spec, w, 2, At(59), st);
  EXPECT_EQ(d.desired, 2);  // ceil(140 / 70)
  EXPECT_FALSE(d.panicking);
  EXPECT_FALSE(d.no_data);
  EXPECT_DOUBLE_EQ(d.stable_avg, 140);
  EXPECT_EQ(d.stable_pods, 2);
  Fill(w, 60, 61, 140);
  d = Decide(spec, w, 2, At(61), st);
  EXPECT_EQ(d.desired, 2);
  // Excess burst capacity: floor(2 * 100 - 211 - 140).
  EXPECT_DOUBLE_EQ(d.excess_burst_capacity, -151);
}

TEST(DeciderTest, ScalesUpFromLoad) {
  RevisionScalingSpec spec = Spec();
  MetricWindow w;
  DeciderState st;
  Fill(w, 0, 59, 210);
  Decision d = Decide(spec, w, 2, At(59), st);
  EXPECT_EQ(d.desired, 3);  // ceil(210 / 70) = 3; 3 / 2 = 1.5 < 2: no panic
  EXPECT_FALSE(d.panicking);
}

// Seconds 0..53 at 70, 54..59 at 700 (a burst), 2 ready replicas: the state at t = 59.
Decision EnterPanic(const RevisionScalingSpec& spec, MetricWindow& w, DeciderState& st) {
  Fill(w, 0, 53, 70);
  Fill(w, 54, 59, 700);
  return Decide(spec, w, 2, At(59), st);
}

TEST(DeciderTest, PanicEntryOnBurst) {
  RevisionScalingSpec spec = Spec();
  MetricWindow w;
  DeciderState st;
  Decision d = EnterPanic(spec, w, st);
  // stable: (54 * 70 + 6 * 700) / 60 = 133 -> ceil(1.9) = 2; panic: 700 -> 10; 10 / 2 = 5 >= 2.
  EXPECT_DOUBLE_EQ(d.stable_avg, 133);
  EXPECT_DOUBLE_EQ(d.panic_avg, 700);
  EXPECT_EQ(d.stable_pods, 2);
  EXPECT_EQ(d.panic_pods, 10);
  EXPECT_TRUE(d.panicking);
  EXPECT_EQ(d.desired, 10);
  EXPECT_TRUE(Has(d.reason, "entering panic")) << d.reason;

  // The same burst with a higher threshold (600%: 10 / 2 = 5 < 6) does not panic: desired = stable = 2.
  RevisionScalingSpec calm = Spec(A({{"panic-threshold-percentage", "600"}}));
  MetricWindow w2;
  DeciderState st2;
  d = EnterPanic(calm, w2, st2);
  EXPECT_FALSE(d.panicking);
  EXPECT_EQ(d.desired, 2);
}

TEST(DeciderTest, NoScaleDownWhilePanicking) {
  RevisionScalingSpec spec = Spec();
  MetricWindow w;
  DeciderState st;
  ASSERT_EQ(EnterPanic(spec, w, st).desired, 10);
  Fill(w, 60, 61, 140);  // the load drops
  Decision d = Decide(spec, w, 10, At(61), st);
  // panic window 56..61: (4 * 700 + 2 * 140) / 6 = 513.3 -> 8; 8 / 10 < 2: not over, but still panicking.
  // stable: 2..61 -> (52 * 70 + 6 * 700 + 2 * 140) / 60 = 135.3 -> 2, clamped to maxDown = floor(10 / 2) = 5.
  EXPECT_EQ(d.panic_pods, 8);
  EXPECT_EQ(d.stable_pods, 5);
  EXPECT_TRUE(d.panicking);
  EXPECT_EQ(d.desired, 10);  // max(previous panic desired 10, 5, 8)
}

TEST(DeciderTest, PanicExtendsAndEndsAfterAStableWindow) {
  RevisionScalingSpec spec = Spec();
  MetricWindow w;
  DeciderState st;
  ASSERT_TRUE(EnterPanic(spec, w, st).panicking);
  Fill(w, 60, 61, 140);
  ASSERT_EQ(Decide(spec, w, 10, At(61), st).desired, 10);
  Fill(w, 62, 65, 2000);  // a second burst
  Decision d = Decide(spec, w, 10, At(65), st);
  // panic window 60..65: (2 * 140 + 4 * 2000) / 6 = 1380 -> ceil(19.7) = 20; 20 / 10 = 2 >= 2: extends (t = 65).
  EXPECT_EQ(d.panic_pods, 20);
  EXPECT_TRUE(d.panicking);
  EXPECT_EQ(d.desired, 20);
  Fill(w, 66, 124, 0);  // idle
  d = Decide(spec, w, 20, At(124), st);  // 59 s after the last time over the threshold
  EXPECT_TRUE(d.panicking);
  EXPECT_EQ(d.stable_pods, 10);  // 65..124: 2000 / 60 -> 1, clamped to maxDown floor(20 / 2)
  EXPECT_EQ(d.desired, 20);
  Fill(w, 125, 125, 0);
  d = Decide(spec, w, 20, At(125), st);  // a whole stable window (60 s): leave panic
  EXPECT_FALSE(d.panicking);
  EXPECT_TRUE(Has(d.reason, "leaving panic")) << d.reason;
  EXPECT_EQ(d.desired, 10);  // stable 0, clamped to maxDown = floor(20 / 2)
}

TEST(DeciderTest, ScaleDownIsRateLimited) {
  RevisionScalingSpec spec = Spec();
  MetricWindow w;
  DeciderState st;
  Fill(w, 0, 59, 35);  // ceil(35 / 70) = 1
  Decision d = Decide(spec, w, 10, At(59), st);
  EXPECT_EQ(d.desired, 5);  // maxDown = floor(10 / 2)
  Fill(w, 60, 61, 35);
  d = Decide(spec, w, 5, At(61), st);
  EXPECT_EQ(d.desired, 2);  // floor(5 / 2)
  Fill(w, 62, 63, 35);
  d = Decide(spec, w, 2, At(63), st);
  EXPECT_EQ(d.desired, 1);
}

TEST(DeciderTest, ScaleUpIsRateLimited) {
  RevisionScalingSpec spec = Spec({}, 0, Config({{"max-scale-up-rate", "1.5"}}));
  MetricWindow w;
  DeciderState st;
  Fill(w, 0, 59, 1400);  // ceil(1400 / 70) = 20 wanted
  Decision d = Decide(spec, w, 3, At(59), st);
  EXPECT_EQ(d.stable_pods, 5);  // maxUp = ceil(1.5 * 3)
  EXPECT_EQ(d.panic_pods, 5);
  EXPECT_EQ(d.desired, 5);
  EXPECT_TRUE(d.panicking);  // 20 / 3 >= 2 (the threshold uses the unclamped count)
}

TEST(DeciderTest, MinAndMaxScaleClamp) {
  RevisionScalingSpec spec = Spec(A({{"min-scale", "3"}, {"max-scale", "5"}}));
  {
    MetricWindow w;
    DeciderState st;
    Fill(w, 0, 59, 70);
    Decision d = Decide(spec, w, 3, At(59), st);
    EXPECT_EQ(d.stable_pods, 1);
    EXPECT_EQ(d.desired, 3);
    EXPECT_TRUE(Has(d.reason, "bounded to 3")) << d.reason;
  }
  {
    MetricWindow w;
    DeciderState st;
    Fill(w, 0, 59, 1400);
    Decision d = Decide(spec, w, 3, At(59), st);
    EXPECT_EQ(d.desired, 5);
  }
  {  // idle: min-scale keeps it from going to zero
    MetricWindow w;
    DeciderState st;
    int64_t next = 0;
    for (int t = 0; t <= 200; t += 2) {
      RecordUpTo(w, &next, t, [](int64_t) { return 0.0; });
      ASSERT_FALSE(Decide(spec, w, 3, At(t), st).no_data);
    }
    Decision d = Decide(spec, w, 3, At(200), st);
    EXPECT_EQ(d.desired, 3);
    EXPECT_FALSE(d.inactive);
  }
}

TEST(DeciderTest, ScaleDownDelayHoldsTheMaximum) {
  // stable window 6 s (panic 1 s), scale-down-delay 10 s.
  RevisionScalingSpec spec = Spec(A({{"window", "6s"}, {"scale-down-delay", "10s"}}));
  RevisionScalingSpec nodelay = Spec(A({{"window", "6s"}}));
  MetricWindow w;
  DeciderState st, st_nodelay;
  Fill(w, 0, 5, 280);
  EXPECT_EQ(Decide(spec, w, 4, At(5), st).desired, 4);
  EXPECT_EQ(Decide(nodelay, w, 4, At(5), st_nodelay).desired, 4);
  Fill(w, 6, 15, 70);
  // At 11 the window 6..11 says 1, clamped to maxDown floor(4 / 2) = 2; the delay still remembers 4 from t = 5.
  Decision d = Decide(spec, w, 4, At(11), st);
  EXPECT_EQ(d.desired, 4);
  EXPECT_TRUE(Has(d.reason, "scale-down delay holds 4")) << d.reason;
  EXPECT_EQ(Decide(nodelay, w, 4, At(11), st_nodelay).desired, 2);
  // At 15 the decision of t = 5 is 10 s old: out of the delay window.
  EXPECT_EQ(Decide(spec, w, 4, At(15), st).desired, 2);
}

TEST(DeciderTest, NoDataChangesNothing) {
  RevisionScalingSpec spec = Spec();
  MetricWindow w;
  DeciderState st;
  Fill(w, 0, 59, 210);
  ASSERT_EQ(Decide(spec, w, 3, At(59), st).desired, 3);
  // Nothing recorded after second 59: at t = 119 the window 60..119 is empty.
  Decision d = Decide(spec, w, 3, At(119), st);
  EXPECT_TRUE(d.no_data);
  EXPECT_EQ(d.desired, 3);
  EXPECT_TRUE(Has(d.reason, "no data")) << d.reason;
  // One second earlier the window still held second 59: avg 3.5 -> 1, clamped to maxDown 1.
  DeciderState st2;
  MetricWindow w2;
  Fill(w2, 0, 59, 210);
  d = Decide(spec, w2, 3, At(118), st2);
  EXPECT_FALSE(d.no_data);
  EXPECT_EQ(d.desired, 1);
  // A brand-new revision without data gets its initial scale.
  DeciderState fresh;
  d = Decide(Spec(A({{"initial-scale", "2"}})), MetricWindow{}, 0, At(0), fresh);
  EXPECT_TRUE(d.no_data);
  EXPECT_EQ(d.desired, 2);
}

TEST(DeciderTest, ScaleToZeroAfterStableWindowAndGracePeriod) {
  RevisionScalingSpec spec = Spec();  // stable 60 s, grace 30 s
  MetricWindow w;
  DeciderState st;
  int64_t next = 0;
  auto load = [](int64_t s) { return s <= 59 ? 35.0 : 0.0; };  // light traffic until second 59, then none
  Decision d;
  for (int t = 0; t <= 118; t += 2) {
    RecordUpTo(w, &next, t, load);
    d = Decide(spec, w, 1, At(t), st);
    ASSERT_EQ(d.desired, 1) << t;
    ASSERT_FALSE(d.no_data) << t;
    ASSERT_FALSE(d.inactive) << t;
  }
  EXPECT_GT(d.stable_avg, 0);  // at 118 second 59 is still in the window
  RecordUpTo(w, &next, 119, load);
  d = Decide(spec, w, 1, At(119), st);  // window 60..119 idle: desired 0 -> inactive, keep 1 for the grace period
  EXPECT_EQ(d.stable_pods, 0);
  EXPECT_TRUE(d.inactive);
  EXPECT_EQ(d.desired, 1);
  RecordUpTo(w, &next, 148, load);
  d = Decide(spec, w, 1, At(148), st);
  EXPECT_TRUE(d.inactive);
  EXPECT_EQ(d.desired, 1);
  RecordUpTo(w, &next, 149, load);
  d = Decide(spec, w, 1, At(149), st);  // 30 s inactive: zero (90 s after the traffic stopped)
  EXPECT_TRUE(d.inactive);
  EXPECT_EQ(d.desired, 0);
  RecordUpTo(w, &next, 151, load);
  d = Decide(spec, w, 0, At(151), st);
  EXPECT_FALSE(d.no_data);
  EXPECT_EQ(d.desired, 0);
  d = Decide(spec, w, 0, At(400), st);  // nothing recorded at zero replicas: no data, stays at zero
  EXPECT_TRUE(d.no_data);
  EXPECT_EQ(d.desired, 0);

  // Scale to zero disabled (or min-scale 1): the last replica stays.
  RevisionScalingSpec keep = Spec({}, 0, Config({{"enable-scale-to-zero", "false"}}));
  MetricWindow w2;
  DeciderState st2;
  next = 0;
  for (int t = 0; t <= 200; t += 2) {
    RecordUpTo(w2, &next, t, load);
    ASSERT_EQ(Decide(keep, w2, 1, At(t), st2).desired, 1) << t;
  }
  d = Decide(keep, w2, 1, At(200), st2);
  EXPECT_EQ(d.stable_pods, 0);
  EXPECT_EQ(d.desired, 1);
  EXPECT_FALSE(d.inactive);
}

TEST(DeciderTest, NewIdleRevisionWaitsAStableWindowBeforeInactive) {
  RevisionScalingSpec spec = Spec();
  MetricWindow w;
  DeciderState st;
  int64_t next = 0;
  auto idle = [](int64_t) { return 0.0; };
  RecordUpTo(w, &next, 0, idle);
  Decision d = Decide(spec, w, 1, At(0), st);  // desired 0 but active for 0 s
  EXPECT_EQ(d.stable_pods, 0);
  EXPECT_EQ(d.desired, 1);
  EXPECT_FALSE(d.inactive);
  RecordUpTo(w, &next, 59, idle);
  d = Decide(spec, w, 1, At(59), st);
  EXPECT_FALSE(d.inactive);
  RecordUpTo(w, &next, 60, idle);
  d = Decide(spec, w, 1, At(60), st);
  EXPECT_TRUE(d.inactive);
  EXPECT_EQ(d.desired, 1);
  RecordUpTo(w, &next, 90, idle);
  d = Decide(spec, w, 1, At(90), st);
  EXPECT_EQ(d.desired, 0);
}

TEST(DeciderTest, ActivationFromZero) {
  RevisionScalingSpec spec = Spec();
  MetricWindow w;
  DeciderState st;
  int64_t next = 0;
  for (int t = 0; t <= 100; t += 2) {
    RecordUpTo(w, &next, t, [](int64_t) { return 0.0; });
    Decide(spec, w, 1, At(t), st);
  }
  ASSERT_EQ(Decide(spec, w, 0, At(100), st).desired, 0);  // inactive at 60, zero at 90
  // No data at t = 500; a request arrives: at once at least 1, active again.
  Decision d = Decide(spec, w, 0, At(500), st, /*activation=*/true);
  EXPECT_EQ(d.desired, 1);
  EXPECT_FALSE(d.inactive);
  EXPECT_FALSE(d.no_data);
  // The activator reports 300 held requests in that second: the fresh window is not diluted by the idle
  // time: 300 / 70 -> 5, and 5 / max(1, 0) >= 2: panic.
  w.Record(At(500), 300, 0);
  d = Decide(spec, w, 0, At(500), st, /*activation=*/true);
  EXPECT_EQ(d.desired, 5);
  EXPECT_TRUE(d.panicking);
}

TEST(DeciderTest, ActivationTimesOutBackToZero) {
  RevisionScalingSpec spec = Spec();  // activation timeout 630 s
  MetricWindow w;
  DeciderState st;
  ASSERT_EQ(Decide(spec, w, 0, At(0), st).desired, 1);  // initial scale
  Decision d = Decide(spec, w, 0, At(10), st, /*activation=*/true);
  EXPECT_EQ(d.desired, 1);
  d = Decide(spec, w, 0, At(639), st);  // still nothing ready, no data: held at 1 while activating
  EXPECT_EQ(d.desired, 1);
  EXPECT_TRUE(Has(d.reason, "activating")) << d.reason;
  d = Decide(spec, w, 0, At(640), st);  // 630 s after the activation
  EXPECT_EQ(d.desired, 0);
  EXPECT_TRUE(d.inactive);
  d = Decide(spec, w, 0, At(642), st);
  EXPECT_EQ(d.desired, 0);
}

TEST(DeciderTest, RpsMetric) {
  RevisionScalingSpec spec = Spec(A({{"metric", "rps"}}));  // target 140 rps per replica
  MetricWindow w;
  DeciderState st;
  Fill(w, 0, 59, /*conc=*/1, /*rps=*/420);
  Decision d = Decide(spec, w, 2, At(59), st);
  EXPECT_DOUBLE_EQ(d.stable_avg, 420);
  EXPECT_EQ(d.desired, 3);  // ceil(420 / 140); 3 / 2 < 2
  EXPECT_FALSE(d.panicking);
  // The same window decided on concurrency would want 1.
  DeciderState st2;
  EXPECT_EQ(Decide(Spec(), w, 2, At(59), st2).stable_pods, 1);
}

TEST(DeciderTest, ContainerConcurrencyTarget) {
  RevisionScalingSpec spec = Spec(A({{"target", "50"}}), 10);  // capped: 10 * 0.7 = 7
  MetricWindow w;
  DeciderState st;
  Fill(w, 0, 59, 20);
  Decision d = Decide(spec, w, 2, At(59), st);
  EXPECT_EQ(d.desired, 3);  // ceil(20 / 7); with the uncapped target 35 it would be 1
  EXPECT_FALSE(d.panicking);  // 3 / 2 < 2
}

TEST(DeciderTest, InitialScaleUntilReached) {
  RevisionScalingSpec spec = Spec(A({{"initial-scale", "3"}}));
  MetricWindow w;
  DeciderState st;
  Fill(w, 0, 59, 35);
  Decision d = Decide(spec, w, 0, At(10), st);  // nothing ready yet: at least the initial scale
  EXPECT_EQ(d.desired, 3);
  d = Decide(spec, w, 3, At(20), st);  // reached: from now on the metrics decide (maxDown floor(3/2) = 1)
  EXPECT_EQ(d.desired, 1);
}

TEST(DeciderTest, HpaMetricsAreNotDecidedHere) {
  RevisionScalingSpec spec = Spec(A({{"class", "hpa.autoscaling.knative.dev"}}));
  MetricWindow w;
  DeciderState st;
  Fill(w, 0, 59, 1400);
  Decision d = Decide(spec, w, 2, At(59), st);
  EXPECT_EQ(d.desired, 1);  // the initial scale, not 20
  EXPECT_TRUE(Has(d.reason, "HPA")) << d.reason;
}

}  // namespace
}  // namespace inferd::autoscaler
