// tests/control/unsupported_kinds_test.cc: InferenceGraphs are shown not Ready (NotSupported, naming the
// issue); the writer touches only what changed (against an in-memory store). TrainedModels:
// tests/control/trained_models_test.cc.
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
  Json st = UnsupportedKindStatus(ig, "2026-12-07T00:00:00Z");
  const Json* ready = Cond(st, "Ready");
  ASSERT_NE(ready, nullptr);
  EXPECT_EQ((*ready)["status"], "False");
  EXPECT_EQ((*ready)["reason"], "NotSupported");
  EXPECT_NE((*ready)["message"].get<std::string>().find("issue 17"), std::string::npos);
  EXPECT_EQ(st["observedGeneration"], 3);
  EXPECT_EQ(Cond(st, "InferenceServiceReady"), nullptr);
}

TEST(UnsupportedKinds, WritesOnlyWhatChanged) {
  auto db = store::Store::Open(":memory:");
  ASSERT_TRUE(db.ok());
  store::Store& s = **db;
  Json ig = {{"apiVersion", "serving.kserve.io/v1alpha1"},
             {"kind", "InferenceGraph"},
             {"metadata", {{"name", "g"}, {"namespace", "default"}}},
             {"spec", {{"nodes", {{"root", {{"routerType", "Sequence"}, {"steps", {{{"serviceName", "a"}}}}}}}}}}};
  ASSERT_TRUE(s.Create(api::InferenceGraphType(), ig).ok());
  MarkUnsupportedKinds(&s, "2026-12-07T00:00:00Z");
  auto got = s.Get(api::InferenceGraphType(), "default", "g");
  ASSERT_TRUE(got.ok());
  std::string rv = (*got)["metadata"]["resourceVersion"];
  EXPECT_EQ((*Cond((*got)["status"], "Ready"))["reason"], "NotSupported");
  MarkUnsupportedKinds(&s, "2026-12-07T00:01:00Z");  // nothing changed: no write
  EXPECT_EQ((*s.Get(api::InferenceGraphType(), "default", "g"))["metadata"]["resourceVersion"], rv);
}

}  // namespace
}  // namespace inferd::control
