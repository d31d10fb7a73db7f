// Unit tests of control/scaling's ScalingFor: KServe's fields, its autoScaling block (HPA/KEDA Resource metrics)
// and deployment modes turned into a revision's autoscaler spec.
#include "control/scaling.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <vector>

namespace inferd::control {
namespace {

using autoscaler::ScaleMetric;
using resources::Json;

StatusOr<RevisionScaling> For(const char* predictor, std::map<std::string, std::string> annotations = {}) {
  return ScalingFor(autoscaler::AutoscalerConfig{}, Json::parse(predictor), annotations);
}

TEST(ScalingFor, AutoScalingCpuUtilizationIsRawModeOnTheRequest) {
  auto s = For(R"({"autoScaling": {"metrics": [{"type": "Resource", "resource": {"name": "cpu",
                   "target": {"type": "Utilization", "averageUtilization": 50}}}]},
                   "model": {"resources": {"requests": {"cpu": "2"}}}})");
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ(s->spec.metric, ScaleMetric::kCpu);
  EXPECT_EQ(s->spec.scaling_class, autoscaler::kHpaClass);
  EXPECT_DOUBLE_EQ(s->resource_target, 1.0);  // 50% of 2 cores
  // Without a value: KServe's HPA default, 80% (of the default request, one core).
  s = For(R"({"autoScaling": {"metrics": [{"type": "Resource", "resource": {"name": "cpu", "target": {}}}]}})");
  ASSERT_TRUE(s.ok());
  EXPECT_DOUBLE_EQ(s->resource_target, 0.8);
}

TEST(ScalingFor, RequestsOfAnyImplementation) {
  auto s = For(R"({"scaleMetric": "cpu", "scaleTarget": 50, "sklearn": {"resources": {"requests": {"cpu": "4"}}}})");
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_DOUBLE_EQ(s->resource_target, 2.0);
  s = For(R"({"scaleMetric": "memory", "scaleTarget": 50, "containers": [{"resources": {"requests": {"memory": "2Gi"}}}]})");
  ASSERT_TRUE(s.ok());
  EXPECT_DOUBLE_EQ(s->resource_target, 1073741824.0);
}

TEST(ScalingFor, AutoScalingAverageValueIsAnAbsoluteTarget) {
  auto s = For(R"({"autoScaling": {"metrics": [{"type": "Resource", "resource": {"name": "memory",
                   "target": {"type": "AverageValue", "averageValue": "512Mi"}}}]}})");
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ(s->spec.metric, ScaleMetric::kMemory);
  EXPECT_DOUBLE_EQ(s->resource_target, 512.0 * 1024 * 1024);
  s = For(R"({"autoScaling": {"metrics": [{"type": "Resource", "resource": {"name": "cpu",
              "target": {"type": "AverageValue", "averageValue": "250m"}}}]}})");
  ASSERT_TRUE(s.ok());
  EXPECT_DOUBLE_EQ(s->resource_target, 0.25);
}

TEST(ScalingFor, AutoScalingWinsOverScaleMetric) {
  auto s = For(R"({"scaleMetric": "concurrency", "scaleTarget": 5,
                   "autoScaling": {"metrics": [{"type": "Resource", "resource": {"name": "memory",
                   "target": {"type": "Utilization", "averageUtilization": 25}}}]},
                   "resources": {"requests": {"memory": "4Gi"}}})");
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ(s->spec.metric, ScaleMetric::kMemory);
  EXPECT_DOUBLE_EQ(s->resource_target, 1024.0 * 1024 * 1024);
}

TEST(ScalingFor, UnvalidatedMetricsAreErrorsNotCrashes) {
  EXPECT_FALSE(For(R"({"autoScaling": {"metrics": [{"type": "External"}]}})").ok());
  EXPECT_FALSE(For(R"({"autoScaling": {"metrics": [{"type": "Resource", "resource": {"name": "gpu"}}]}})").ok());
  EXPECT_FALSE(For(R"({"autoScaling": {"metrics": [{"type": "Resource", "resource": {"name": "cpu",
                       "target": {"type": "AverageValue", "averageValue": "lots"}}}]}})").ok());
  EXPECT_TRUE(For(R"({"autoScaling": {"metrics": []}})").ok());
  EXPECT_TRUE(For(R"({"autoScaling": 3})").ok());
}

TEST(ScalingFor, DeploymentModes) {
  const std::string mode = "serving.kserve.io/deploymentMode", cls = "serving.kserve.io/autoscalerClass";
  // Serverless (the default): the KPA on concurrency.
  auto s = For("{}", {{mode, "Serverless"}});
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->spec.metric, ScaleMetric::kConcurrency);
  // Standard / RawDeployment: KServe's HPA on cpu at 80%.
  for (const char* m : {"RawDeployment", "Standard"}) {
    s = For("{}", {{mode, m}});
    ASSERT_TRUE(s.ok()) << m;
    EXPECT_EQ(s->spec.metric, ScaleMetric::kCpu) << m;
    EXPECT_DOUBLE_EQ(s->resource_target, 0.8);
  }
  // An explicit metric is kept.
  s = For(R"({"scaleMetric": "rps"})", {{mode, "Standard"}});
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->spec.metric, ScaleMetric::kRps);
  // Autoscaler classes none / external: the replicas stay at minReplicas.
  for (const char* c : {"none", "external"}) {
    s = For(R"({"minReplicas": 3, "maxReplicas": 10})", {{mode, "Standard"}, {cls, c}});
    ASSERT_TRUE(s.ok()) << c;
    EXPECT_EQ(s->spec.min_scale, 3);
    EXPECT_EQ(s->spec.max_scale, 3);
  }
  s = For(R"({"minReplicas": 0})", {{mode, "RawDeployment"}, {cls, "none"}});
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->spec.min_scale, 1);
  EXPECT_EQ(s->spec.max_scale, 1);
}

TEST(Quantities, KubernetesForms) {
  EXPECT_EQ(resources::ParseCpuQuantity("500m"), 0.5);
  EXPECT_EQ(resources::ParseCpuQuantity("2"), 2.0);
  EXPECT_EQ(resources::ParseMemoryQuantity("1Gi"), 1073741824.0);
  EXPECT_EQ(resources::ParseMemoryQuantity("1e3"), 1000.0);
  EXPECT_EQ(resources::ParseMemoryQuantity("100k"), 100000.0);
  for (const char* bad : {"", "-1", "1x", "0x10", " 1", "nan", "inf", "1Qi", "abc"}) {
    EXPECT_FALSE(resources::ParseCpuQuantity(bad).has_value()) << bad;
    EXPECT_FALSE(resources::ParseMemoryQuantity(bad).has_value()) << bad;
  }
}

// Raw memory mode counts a replica's children (an `inferd model-server --processes` group's copies) with it.
TEST(ReplicaResources, MemoryIncludesTheChildren) {
  const auto alone = ReplicaRssBytes(getpid());
  ASSERT_TRUE(alone.has_value());
  int ready[2];
  ASSERT_EQ(pipe(ready), 0);
  constexpr size_t kChildBytes = 64 << 20;
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    std::vector<char> held(kChildBytes, 1);  // touched: resident
    if (write(ready[1], "x", 1) != 1 || held[kChildBytes / 2] != 1) _exit(1);
    pause();
    _exit(0);
  }
  char c = 0;
  ASSERT_EQ(read(ready[0], &c, 1), 1);
  const auto both = ReplicaRssBytes(getpid());
  kill(child, SIGKILL);
  waitpid(child, nullptr, 0);
  close(ready[0]);
  close(ready[1]);
  ASSERT_TRUE(both.has_value());
  EXPECT_GE(*both, *alone + static_cast<double>(kChildBytes)) << "the child's memory was not counted";
  EXPECT_FALSE(ReplicaRssBytes(-5).has_value());
}

}  // namespace
}  // namespace inferd::control
