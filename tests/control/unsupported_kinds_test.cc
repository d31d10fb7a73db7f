// tests/control/unsupported_kinds_test.cc: InferenceGraphs and TrainedModels are shown not Ready
// (NotSupported, naming the issue), a TrainedModel also with KServe's InferenceServiceReady; the writer touches
// only what changed (against an in-memory store).
#include "control/unsupported_kinds.h"

#include <gtest/gtest.h>

#include "api/kinds.h"

namespace inferd::control {
namespace {

using store::Json;

const Json* Cond(const Json& status, const std::string& type) {
  for (const Json& c : status["conditions"])
    if (c["type"] == type) return &c;
  return nullptr;
}

TEST(UnsupportedKinds, GraphIsNotReadyNamingTheIssue) {
  Json ig = {{"kind", "InferenceGraph"}, {"metadata", {{"name", "g"}, {"generation", 3}}}};
  Json st = UnsupportedKindStatus(ig, std::nullopt, "2026-12-07T00:00:00Z");
  const Json* ready = Cond(st, "Ready");
  ASSERT_NE(ready, nullptr);
  EXPECT_EQ((*ready)["status"], "False");
  EXPECT_EQ((*ready)["reason"], "NotSupported");
  EXPECT_NE((*ready)["message"].get<std::string>().find("issue 17"), std::string::npos);
  EXPECT_EQ(st["observedGeneration"], 3);
  EXPECT_EQ(Cond(st, "InferenceServiceReady"), nullptr);
}

TEST(UnsupportedKinds, TrainedModelCarriesInferenceServiceReady) {
  Json tm = {{"kind", "TrainedModel"}, {"metadata", {{"name", "m"}}}, {"spec", {{"inferenceService", "iris"}}}};
  Json missing = UnsupportedKindStatus(tm, std::nullopt, "t");
  EXPECT_EQ((*Cond(missing, "InferenceServiceReady"))["reason"], "InferenceServiceNotFound");
  Json not_ready = UnsupportedKindStatus(tm, false, "t");
  EXPECT_EQ((*Cond(not_ready, "InferenceServiceReady"))["reason"], "InferenceServiceNotReady");
  Json ready = UnsupportedKindStatus(tm, true, "t");
  EXPECT_EQ((*Cond(ready, "InferenceServiceReady"))["status"], "True");
  EXPECT_EQ((*Cond(ready, "Ready"))["status"], "False");
}

TEST(UnsupportedKinds, WritesOnlyWhatChanged) {
  auto db = store::Store::Open(":memory:");
  ASSERT_TRUE(db.ok());
  store::Store& s = **db;
  Json tm = {{"apiVersion", "serving.kserve.io/v1alpha1"},
             {"kind", "TrainedModel"},
             {"metadata", {{"name", "m"}, {"namespace", "default"}}},
             {"spec", {{"inferenceService", "iris"}}}};
  ASSERT_TRUE(s.Create(api::TrainedModelType(), tm).ok());
  MarkUnsupportedKinds(&s, "2026-12-07T00:00:00Z");
  auto got = s.Get(api::TrainedModelType(), "default", "m");
  ASSERT_TRUE(got.ok());
  std::string rv = (*got)["metadata"]["resourceVersion"];
  EXPECT_EQ((*Cond((*got)["status"], "InferenceServiceReady"))["reason"], "InferenceServiceNotFound");
  MarkUnsupportedKinds(&s, "2026-12-07T00:01:00Z");  // nothing changed: no write
  EXPECT_EQ((*s.Get(api::TrainedModelType(), "default", "m"))["metadata"]["resourceVersion"], rv);
  Json isvc = {{"apiVersion", "serving.kserve.io/v1beta1"},
               {"kind", "InferenceService"},
               {"metadata", {{"name", "iris"}, {"namespace", "default"}}},
               {"spec", Json::object()}};
  auto created = s.Create(api::InferenceServiceType(), isvc);
  ASSERT_TRUE(created.ok());
  Json with_status = *created;
  with_status["status"] = {{"conditions", {{{"type", "Ready"}, {"status", "True"}}}}};
  ASSERT_TRUE(s.UpdateStatus(api::InferenceServiceType(), with_status).ok());
  MarkUnsupportedKinds(&s, "2026-12-07T00:02:00Z");
  auto after = s.Get(api::TrainedModelType(), "default", "m");
  EXPECT_EQ((*Cond((*after)["status"], "InferenceServiceReady"))["status"], "True");
  EXPECT_NE((*after)["metadata"]["resourceVersion"], rv);
}

}  // namespace
}  // namespace inferd::control
