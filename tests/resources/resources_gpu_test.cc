// tests/resources/resources_gpu_test.cc: resources.limits["nvidia.com/gpu"] on an InferenceService and a
// ServingRuntime: Kubernetes' rules for extended resources (whole numbers, requests equal to limits, limits
// alone imply requests, requests alone refused), and the GPU count ResolvePredictor and GpuLimit read.
#include <gtest/gtest.h>

#include "resources/resources.h"

namespace inferd::resources {
namespace {

Json Isvc(const Json& predictor) {
  return {{"apiVersion", "serving.kserve.io/v1beta1"},
          {"kind", "InferenceService"},
          {"metadata", {{"name", "gpu"}}},
          {"spec", {{"predictor", predictor}}}};
}

Json Model(const Json& resources) {
  return {{"model", {{"modelFormat", {{"name", "pytorch"}}}, {"storageUri", "/m"}, {"resources", resources}}}};
}

std::string Error(const Json& obj) {
  Status s = ValidateInferenceService(obj);
  return s.ok() ? "" : s.message();
}

TEST(GpuResources, LimitsAloneAreTheRequest) {
  const Json isvc = Isvc(Model({{"limits", {{"nvidia.com/gpu", 2}, {"cpu", "1"}}}}));
  EXPECT_EQ(Error(isvc), "");
  auto spec = ResolvePredictor(isvc);
  ASSERT_TRUE(spec.ok()) << spec.status().message();
  EXPECT_EQ(spec->gpus, 2);
  // A quoted count, and equal requests, as Kubernetes accepts them.
  const Json quoted = Isvc(Model({{"limits", {{"nvidia.com/gpu", "1"}}}, {"requests", {{"nvidia.com/gpu", "1"}}}}));
  EXPECT_EQ(Error(quoted), "");
  EXPECT_EQ(ResolvePredictor(quoted)->gpus, 1);
  // No GPU key: unset (a runtime's container may ask for GPUs), not 0.
  EXPECT_FALSE(ResolvePredictor(Isvc(Model({{"limits", {{"cpu", "1"}}}})))->gpus.has_value());
  EXPECT_EQ(ResolvePredictor(Isvc(Model({{"limits", {{"nvidia.com/gpu", 0}}}})))->gpus, 0);
}

TEST(GpuResources, KubernetesRulesForExtendedResources) {
  EXPECT_EQ(Error(Isvc(Model({{"requests", {{"nvidia.com/gpu", 1}}}}))),
            "spec.predictor.model.resources.limits[nvidia.com/gpu]: Required value: Limit must be set for non "
            "overcommitable resources");
  EXPECT_EQ(Error(Isvc(Model({{"requests", {{"nvidia.com/gpu", 2}}}, {"limits", {{"nvidia.com/gpu", 1}}}}))),
            "spec.predictor.model.resources.requests[nvidia.com/gpu]: Invalid value: \"2\": must be equal to "
            "nvidia.com/gpu limit of 1");
  for (const Json& bad : {Json(1.5), Json("1.5"), Json(-1), Json("500m"), Json("one"), Json(true), Json("")}) {
    std::string e = Error(Isvc(Model({{"limits", {{"nvidia.com/gpu", bad}}}})));
    EXPECT_NE(e.find("spec.predictor.model.resources.limits[nvidia.com/gpu]: Invalid value"), std::string::npos)
        << bad.dump() << ": " << e;
  }
  EXPECT_NE(Error(Isvc(Model({{"limits", {{"amd.com/gpu", 1}}}}))).find("not supported yet"), std::string::npos);
  EXPECT_NE(Error(Isvc(Model(Json::array()))).find("spec.predictor.model.resources"), std::string::npos);
  EXPECT_NE(Error(Isvc(Model({{"limits", "gpu"}}))).find("spec.predictor.model.resources.limits"), std::string::npos);
}

TEST(GpuResources, LegacyShorthandCustomContainerAndPodLevel) {
  const Json legacy = Isvc({{"pytorch", {{"storageUri", "/m"}, {"resources", {{"limits", {{"nvidia.com/gpu", 1}}}}}}}});
  EXPECT_EQ(Error(legacy), "");
  EXPECT_EQ(ResolvePredictor(legacy)->gpus, 1);
  const Json custom = Isvc({{"containers", Json::array({{{"name", "kserve-container"},
                                                        {"command", {"python3", "m.py"}},
                                                        {"resources", {{"limits", {{"nvidia.com/gpu", 3}}}}}}})}});
  EXPECT_EQ(Error(custom), "");
  EXPECT_EQ(ResolvePredictor(custom)->gpus, 3);
  Json bad_custom = custom;
  bad_custom["spec"]["predictor"]["containers"][0]["resources"] = {{"requests", {{"nvidia.com/gpu", 1}}}};
  EXPECT_EQ(Error(bad_custom).rfind("spec.predictor.containers[0].resources.limits[nvidia.com/gpu]: Required", 0), 0u)
      << Error(bad_custom);
  Json pod_level = Isvc(Model({}));
  pod_level["spec"]["predictor"]["resources"] = {{"limits", {{"nvidia.com/gpu", 1}}}};
  EXPECT_EQ(Error(pod_level).rfind("spec.predictor.resources.limits[nvidia.com/gpu]: pod-level resources", 0), 0u)
      << Error(pod_level);
  pod_level["spec"]["predictor"]["resources"] = {{"requests", {{"cpu", "1"}}}};
  EXPECT_EQ(Error(pod_level), "");
}

TEST(GpuResources, ServingRuntimeContainers) {
  Json rt = {{"apiVersion", "serving.kserve.io/v1alpha1"},
             {"kind", "ServingRuntime"},
             {"metadata", {{"name", "triton-gpu"}}},
             {"spec",
              {{"supportedModelFormats", Json::array({{{"name", "onnx"}, {"autoSelect", true}}})},
               {"containers", Json::array({{{"name", "kserve-container"},
                                            {"command", {"tritonserver"}},
                                            {"resources", {{"limits", {{"nvidia.com/gpu", 1}}}}}}})}}}};
  EXPECT_TRUE(ValidateServingRuntime(rt, false).ok());
  EXPECT_EQ(GpuLimit(rt["spec"]["containers"][0]), 1);
  rt["spec"]["containers"][0]["resources"] = {{"limits", {{"nvidia.com/gpu", "x"}}}};
  Status s = ValidateServingRuntime(rt, false);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.message().rfind("spec.containers[0].resources.limits[nvidia.com/gpu]: Invalid value", 0), 0u)
      << s.message();
  EXPECT_EQ(GpuLimit(Json::object()), std::nullopt);
  EXPECT_EQ(GpuLimit(Json("x")), std::nullopt);
}

}  // namespace
}  // namespace inferd::resources
