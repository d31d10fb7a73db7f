// tests/autoscaler/hpa_test.cc: the raw-mode (HPA class) decider on cpu / memory, with cases computed by hand
// from Kubernetes' HPA algorithm as autoscaler.h states it (tolerance 0.1, scale-down stabilization over the
// revision's stable window, scale-up limit max(2 * replicas, replicas + 4), bounds [max(1, min), max]). Time is
// explicit (seconds on a fake steady clock).
#include "autoscaler/autoscaler.h"

#include <gtest/gtest.h>

#include <string>
#include <utility>

namespace inferd::autoscaler {
namespace {

constexpr int64_t kSec = 1'000'000'000;
int64_t At(int64_t s) { return s * kSec; }

bool Has(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

// An HPA-class revision with the given extra `autoscaling.knative.dev/<key>` annotations.
RevisionScalingSpec HpaSpec(std::initializer_list<std::pair<std::string, std::string>> kv = {}) {
  Annotations a = {{std::string(kAnnotationPrefix) + "class", std::string(kHpaClass)}};
  for (const auto& [k, v] : kv) a[std::string(kAnnotationPrefix) + k] = v;
  auto s = ResolveRevisionSpec(AutoscalerConfig{}, a, 0);
  EXPECT_TRUE(s.ok()) << s.status().ToString();
  return s.ok() ? *s : RevisionScalingSpec{};
}

TEST(HpaTest, WithinToleranceKeepsTheCurrentCount) {
  RevisionScalingSpec spec = HpaSpec();  // cpu, stable window 60 s
  ASSERT_EQ(spec.metric, ScaleMetric::kCpu);
  HpaState st;
  HpaDecision d = DecideHpa(spec, 1.09, 1.0, 3, true, At(0), st);  // |1.09 - 1| <= 0.1: 3, not ceil(3.27) = 4
  EXPECT_EQ(d.desired, 3);
  EXPECT_TRUE(d.within_tolerance);
  EXPECT_NEAR(d.ratio, 1.09, 1e-12);
  EXPECT_TRUE(Has(d.reason, "within tolerance")) << d.reason;

  HpaState st2;
  d = DecideHpa(spec, 0.95, 1.0, 20, true, At(0), st2);  // below, within: 20, not ceil(20 * 0.95) = 19
  EXPECT_EQ(d.desired, 20);
  EXPECT_TRUE(d.within_tolerance);

  HpaState st3;
  d = DecideHpa(spec, 1.11, 1.0, 3, true, At(0), st3);  // outside: ceil(3 * 1.11) = ceil(3.33) = 4
  EXPECT_EQ(d.desired, 4);
  EXPECT_FALSE(d.within_tolerance);
}

TEST(HpaTest, ScalesUpByTheRatio) {
  RevisionScalingSpec spec = HpaSpec();
  HpaState st;
  // 1.4 cores per replica against a target of 0.5: ratio 2.8, ceil(2 * 2.8) = ceil(5.6) = 6 (limit max(4, 6) = 6).
  HpaDecision d = DecideHpa(spec, 1.4, 0.5, 2, true, At(0), st);
  EXPECT_NEAR(d.ratio, 2.8, 1e-12);
  EXPECT_EQ(d.desired, 6);
  EXPECT_EQ(st.last_desired, 6);
  // Memory works the same way (bytes): 3 GiB used per replica, 2 GiB target, 4 ready: ceil(4 * 1.5) = 6.
  RevisionScalingSpec mem = HpaSpec({{"metric", "memory"}});
  HpaState st2;
  d = DecideHpa(mem, 3.0 * (1 << 30), 2.0 * (1 << 30), 4, true, At(0), st2);
  EXPECT_EQ(d.desired, 6);
  EXPECT_TRUE(Has(d.reason, "memory")) << d.reason;
}

TEST(HpaTest, ScaleUpIsLimitedPerDecision) {
  RevisionScalingSpec spec = HpaSpec();
  HpaState st;
  // 2 ready, ratio 10: ceil(20) = 20, limited to max(2 * 2, 2 + 4) = 6 (the 4-pod policy wins).
  HpaDecision d = DecideHpa(spec, 5.0, 0.5, 2, true, At(0), st);
  EXPECT_EQ(d.desired, 6);
  EXPECT_TRUE(Has(d.reason, "scale-up limited to 6")) << d.reason;
  // 6 ready, still ratio 10 (60): limited to max(12, 10) = 12 (the 100% policy wins).
  d = DecideHpa(spec, 5.0, 0.5, 6, true, At(15), st);
  EXPECT_EQ(d.desired, 12);
  // 12 ready, ratio 10/3 -> ceil(40) = 40, limited to max(24, 16) = 24.
  d = DecideHpa(spec, 5.0, 1.5, 12, true, At(30), st);
  EXPECT_EQ(d.desired, 24);
  // Nothing ready yet counts as 1: ratio 10 -> ceil(10) = 10, limited to max(2, 5) = 5.
  HpaState st2;
  d = DecideHpa(spec, 5.0, 0.5, 0, true, At(0), st2);
  EXPECT_EQ(d.desired, 5);
}

TEST(HpaTest, ScaleDownWaitsForTheStabilizationWindow) {
  RevisionScalingSpec spec = HpaSpec();  // window 60 s
  HpaState st;
  HpaDecision d = DecideHpa(spec, 1.0, 1.0, 4, true, At(0), st);  // ratio 1: recommendation 4
  EXPECT_EQ(d.desired, 4);
  d = DecideHpa(spec, 0.25, 1.0, 4, true, At(10), st);  // ceil(4 * 0.25) = 1, but 4 (t=0) is in the window
  EXPECT_EQ(d.desired, 4);
  EXPECT_TRUE(Has(d.reason, "stabilization window holds 4")) << d.reason;
  d = DecideHpa(spec, 0.25, 1.0, 4, true, At(59), st);  // window (-1, 59] still holds t=0
  EXPECT_EQ(d.desired, 4);
  d = DecideHpa(spec, 0.25, 1.0, 4, true, At(60), st);  // window (0, 60]: t=0 dropped, max(1, 1, 1) = 1
  EXPECT_EQ(d.desired, 1);
  EXPECT_EQ(st.recommendations.size(), 3u);  // t=10, 59, 60

  // A short window (5 s) lets it go sooner; a rise in between is held for its own window.
  RevisionScalingSpec fast = HpaSpec({{"window", "5s"}});
  HpaState f;
  EXPECT_EQ(DecideHpa(fast, 1.0, 1.0, 4, true, At(0), f).desired, 4);
  EXPECT_EQ(DecideHpa(fast, 0.5, 1.0, 4, true, At(2), f).desired, 4);   // ceil(2) = 2, held by 4 at t=0
  EXPECT_EQ(DecideHpa(fast, 0.5, 1.0, 4, true, At(5), f).desired, 2);   // window (0, 5]: max(2, 2) = 2
  EXPECT_EQ(DecideHpa(fast, 1.5, 1.0, 2, true, At(6), f).desired, 3);   // up at once: ceil(2 * 1.5) = 3
  EXPECT_EQ(DecideHpa(fast, 0.5, 1.0, 3, true, At(8), f).desired, 3);   // ceil(1.5) = 2, held by 3 at t=6
  EXPECT_EQ(DecideHpa(fast, 0.5, 1.0, 3, true, At(11), f).desired, 2);  // window (6, 11]: 2
}

TEST(HpaTest, MinAndMaxScaleClamp) {
  RevisionScalingSpec spec = HpaSpec({{"min-scale", "3"}, {"max-scale", "5"}});
  HpaState st;
  HpaDecision d = DecideHpa(spec, 0.1, 1.0, 4, true, At(0), st);  // ceil(0.4) = 1 -> min 3
  EXPECT_EQ(d.desired, 3);
  HpaState st2;
  d = DecideHpa(spec, 3.0, 1.0, 4, true, At(0), st2);  // ceil(12) = 12, limit 8 -> max 5
  EXPECT_EQ(d.desired, 5);
  EXPECT_TRUE(Has(d.reason, "bounds -> 5")) << d.reason;
  // min-scale wins over the scale-up limit (as HPA's minReplicas does): 1 ready, min 10 -> 10.
  RevisionScalingSpec big = HpaSpec({{"min-scale", "10"}});
  HpaState st3;
  EXPECT_EQ(DecideHpa(big, 1.0, 1.0, 1, true, At(0), st3).desired, 10);
}

TEST(HpaTest, NeverScalesToZero) {
  RevisionScalingSpec spec = HpaSpec();  // min-scale 0, scale to zero enabled: still at least 1
  ASSERT_EQ(spec.min_scale, 0);
  HpaState st;
  HpaDecision d = DecideHpa(spec, 0.0, 1.0, 3, true, At(0), st);  // idle: ceil(0) = 0 -> 1
  EXPECT_EQ(d.desired, 1);
  EXPECT_DOUBLE_EQ(d.ratio, 0);
  d = DecideHpa(spec, 0.0, 1.0, 1, true, At(120), st);
  EXPECT_EQ(d.desired, 1);
}

TEST(HpaTest, NoDataKeepsTheLastDecision) {
  RevisionScalingSpec spec = HpaSpec();
  HpaState st;
  HpaDecision d = DecideHpa(spec, 0, 0, 0, false, At(0), st);  // first decision: max(1, initial-scale 1) = 1
  EXPECT_EQ(d.desired, 1);
  EXPECT_TRUE(Has(d.reason, "no cpu data")) << d.reason;
  EXPECT_TRUE(st.recommendations.empty());

  d = DecideHpa(spec, 1.4, 0.5, 2, true, At(10), st);  // 6
  ASSERT_EQ(d.desired, 6);
  d = DecideHpa(spec, 0, 0.5, 6, false, At(20), st);  // no data: 6, nothing recorded
  EXPECT_EQ(d.desired, 6);
  EXPECT_EQ(st.recommendations.size(), 1u);
  d = DecideHpa(spec, 1.0, 0, 6, true, At(30), st);  // target 0: 6
  EXPECT_EQ(d.desired, 6);
  EXPECT_TRUE(Has(d.reason, "not positive")) << d.reason;

  RevisionScalingSpec init3 = HpaSpec({{"initial-scale", "3"}});
  HpaState st2;
  EXPECT_EQ(DecideHpa(init3, 0, 0, 0, false, At(0), st2).desired, 3);
  // The bounds still apply to a held decision.
  RevisionScalingSpec capped = HpaSpec({{"initial-scale", "3"}, {"max-scale", "2"}});
  HpaState st3;
  EXPECT_EQ(DecideHpa(capped, 0, 0, 0, false, At(0), st3).desired, 2);
}

}  // namespace
}  // namespace inferd::autoscaler
