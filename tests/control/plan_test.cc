// Tests of control/plan.h: the reconciler's pure decisions (revisions, traffic, scale, readiness).
#include "control/plan.h"

#include <gtest/gtest.h>

namespace inferd::control {
namespace {

using resources::Json;

TEST(PlanTest, RevisionHashIgnoresCanaryButNotTemplateRuntimeOrScalingAnnotations) {
  Json a = Json::parse(R"({"model":{"modelFormat":{"name":"sklearn"},"storageUri":"s3://b/m"}})");
  Json b = a;
  b["canaryTrafficPercent"] = 10;
  const std::string h = RevisionHash(a, nullptr, {});
  EXPECT_EQ(RevisionHash(b, nullptr, {}), h);
  Json c = a;
  c["model"]["storageUri"] = "s3://b/m2";
  EXPECT_NE(RevisionHash(c, nullptr, {}), h);
  resources::RuntimeChoice rt{"kserve-sklearnserver", true, Json::parse(R"({"spec":{"x":1}})")};
  const std::string with_rt = RevisionHash(a, &rt, {});
  EXPECT_NE(with_rt, h);
  rt.runtime["spec"]["x"] = 2;
  EXPECT_NE(RevisionHash(a, &rt, {}), with_rt);
  EXPECT_EQ(RevisionHash(a, nullptr, {{"team", "x"}}), h);  // not an autoscaling annotation
  EXPECT_NE(RevisionHash(a, nullptr, {{"autoscaling.knative.dev/target", "5"}}), h);
  resources::RuntimeChoice no_spec{"odd", false, Json()};
  EXPECT_FALSE(RevisionHash(a, &no_spec, {}).empty());  // a runtime object without spec does not throw
}

TEST(PlanTest, RevisionNumbering) {
  EXPECT_EQ(NextRevisionNumber(std::nullopt, "", "", "h1"), 1);  // first ever
  EXPECT_EQ(NextRevisionNumber(3, "", "", "h1"), 4);
  // After a restart: the recorded revision's number is kept for the same template, else the next.
  EXPECT_EQ(NextRevisionNumber(std::nullopt, "iris-predictor-00007", "h1", "h1"), 7);
  EXPECT_EQ(NextRevisionNumber(std::nullopt, "iris-predictor-00007", "h1", "h2"), 8);
  EXPECT_EQ(NextRevisionNumber(std::nullopt, "bad", "h1", "h1"), 1);
  EXPECT_EQ(RevisionName("iris", "predictor", 12), "iris-predictor-00012");
}

TrafficInput Traffic(std::vector<std::string> revs, std::string newest, bool ready, int canary, std::string rolled,
                     std::string prev = "") {
  TrafficInput in;
  in.revisions = std::move(revs);
  in.newest = std::move(newest);
  in.newest_ready = ready;
  in.canary_percent = canary;
  in.rollout = {std::move(rolled), std::move(prev)};
  return in;
}

TEST(PlanTest, FirstRevisionRollsOutOnceReady) {
  TrafficPlan p = PlanTraffic(Traffic({"r1"}, "r1", false, -1, ""));
  EXPECT_TRUE(p.traffic.empty());
  EXPECT_EQ(p.rollout.latest_rolled_out, "");
  p = PlanTraffic(Traffic({"r1"}, "r1", true, -1, ""));
  ASSERT_EQ(p.traffic.size(), 1u);
  EXPECT_EQ(p.traffic[0].revision, "r1");
  EXPECT_EQ(p.traffic[0].percent, 100);
  EXPECT_TRUE(p.traffic[0].latest);
  EXPECT_EQ(p.rollout.latest_rolled_out, "r1");
  EXPECT_EQ(TrafficText(p.traffic), "100% to r1");
}

TEST(PlanTest, NewRevisionServesOnlyOnceReadyThenOldOneRetires) {
  TrafficPlan p = PlanTraffic(Traffic({"r1", "r2"}, "r2", false, -1, "r1"));
  ASSERT_EQ(p.traffic.size(), 1u);
  EXPECT_EQ(p.traffic[0].revision, "r1");
  EXPECT_FALSE(p.traffic[0].latest);
  EXPECT_TRUE(p.retire.empty());
  p = PlanTraffic(Traffic({"r1", "r2"}, "r2", true, -1, "r1"));
  EXPECT_EQ(p.rollout.latest_rolled_out, "r2");
  EXPECT_EQ(p.rollout.previous_rolled_out, "r1");
  EXPECT_EQ(p.retire, std::vector<std::string>{"r1"});
  EXPECT_EQ(p.newest, "r2");
}

TEST(PlanTest, CanarySplitsAndZeroIsARollback) {
  TrafficInput in = Traffic({"r1", "r2"}, "r2", true, 10, "r1");
  in.tag_routing = true;
  TrafficPlan p = PlanTraffic(in);
  EXPECT_TRUE(p.split);
  ASSERT_EQ(p.traffic.size(), 2u);
  EXPECT_EQ(TrafficText(p.traffic), "10% to r2, 90% to r1");
  EXPECT_EQ(p.traffic[0].tag, "latest");
  EXPECT_EQ(p.traffic[1].tag, "prev");
  EXPECT_TRUE(p.retire.empty());
  EXPECT_EQ(p.rollout.latest_rolled_out, "r1");  // not rolled out during a canary
  in.tag_routing = false;  // KServe tags the previous revision "prev" anyway; "latest" needs the annotation
  p = PlanTraffic(in);
  EXPECT_EQ(p.traffic[0].tag, "");
  EXPECT_EQ(p.traffic[1].tag, "prev");
  in.tag_routing = true;
  in.canary_percent = 0;
  p = PlanTraffic(in);
  EXPECT_EQ(TrafficText(p.traffic), "0% to r2, 100% to r1");
  in.canary_percent = 100;  // promotion
  p = PlanTraffic(in);
  EXPECT_FALSE(p.split);
  EXPECT_EQ(TrafficText(p.traffic), "100% to r2");
  EXPECT_EQ(p.traffic[0].tag, "latest");
  EXPECT_EQ(p.retire, std::vector<std::string>{"r1"});
}

TEST(PlanTest, CanaryOfAnUnreadyRevisionKeepsTheOldOneAndRetiresTheMiddle) {
  TrafficPlan p = PlanTraffic(Traffic({"r1", "r2", "r3"}, "r3", false, 20, "r1"));
  EXPECT_EQ(TrafficText(p.traffic), "100% to r1");
  EXPECT_EQ(p.retire, std::vector<std::string>{"r2"});
  EXPECT_EQ(p.newest, "r3");
}

TEST(PlanTest, InvalidSpecKeepsTheRolledOutRevision) {
  // No newest revision (the new spec is invalid): the last one rolled out keeps serving; when another
  // retires, the last remaining one counts as the newest.
  TrafficPlan p = PlanTraffic(Traffic({"r1", "r2", "r3"}, "", false, -1, "r1"));
  EXPECT_EQ(TrafficText(p.traffic), "100% to r1");
  EXPECT_FALSE(p.traffic[0].latest);
  EXPECT_EQ(p.retire, std::vector<std::string>{"r2"});
  EXPECT_EQ(p.newest, "r3");
  p = PlanTraffic(Traffic({"r1"}, "", false, -1, "r1"));
  EXPECT_TRUE(p.retire.empty());
  EXPECT_EQ(p.newest, "");
}

TEST(PlanTest, ScaleStartsUpRetiresNotReadyFirstThenNewest) {
  ScalePlan s = PlanScale({3, {true}, true});
  EXPECT_EQ(s.start, 2);
  EXPECT_TRUE(s.retire.empty());
  EXPECT_EQ(PlanScale({3, {true}, false}).start, 0);  // model not local yet
  s = PlanScale({1, {true, false, true}, true});
  EXPECT_EQ(s.start, 0);
  EXPECT_EQ(s.retire, (std::vector<size_t>{1, 1}));  // the not-ready one, then the newest of [ready, ready]
  s = PlanScale({0, {true, true}, true});  // scale to zero
  EXPECT_EQ(s.retire, (std::vector<size_t>{1, 0}));
  EXPECT_TRUE(PlanScale({-1, {}, true}).retire.empty());
}

TEST(PlanTest, ReadinessStates) {
  ComponentObservation o;
  ComponentReadiness r = PlanReadiness(o);
  EXPECT_EQ(r.transition_status, "InProgress");
  EXPECT_EQ(r.active_state, "Pending");
  EXPECT_EQ(r.reason, "Pending");
  o.storage_ready = false;
  EXPECT_EQ(PlanReadiness(o).reason, "Downloading");
  EXPECT_EQ(PlanReadiness(o).message, "downloading the model");
  o.storage_ready = true;
  o.newest_has_replicas = true;
  r = PlanReadiness(o);
  EXPECT_EQ(r.active_state, "Loading");
  EXPECT_EQ(r.reason, "Loading");
  o.newest_ready = o.serving_ready = true;
  r = PlanReadiness(o);
  EXPECT_EQ(r.active_state, "Loaded");
  EXPECT_EQ(r.transition_status, "UpToDate");
  EXPECT_EQ(r.reason, "");
}

TEST(PlanTest, ReadinessFailures) {
  ComponentObservation o;
  o.newest_has_replicas = true;
  o.load_failure = "bad pickle";
  ComponentReadiness r = PlanReadiness(o);
  EXPECT_EQ(r.transition_status, "BlockedByFailedLoad");
  EXPECT_EQ(r.active_state, "FailedToLoad");
  EXPECT_EQ(r.failure_reason, "ModelLoadFailed");
  EXPECT_EQ(r.reason, "ModelLoadFailed");
  EXPECT_EQ(r.message, "bad pickle");
  o.serving_ready = true;  // an older revision still serves
  EXPECT_EQ(PlanReadiness(o).active_state, "Loaded");
  o.build_error = "no such runtime binary";
  r = PlanReadiness(o);
  EXPECT_EQ(r.failure_reason, "RuntimeNotRunnable");
  EXPECT_EQ(r.message, "no such runtime binary");

  ComponentObservation bad;
  bad.spec_invalid = true;
  bad.failure_reason = bad.reason = "InvalidPredictorSpec";
  bad.failure_message = bad.message = "spec.predictor: no model";
  r = PlanReadiness(bad);
  EXPECT_EQ(r.transition_status, "InvalidSpec");
  EXPECT_EQ(r.active_state, "Pending");
  EXPECT_EQ(r.reason, "InvalidPredictorSpec");
  bad.serving_ready = bad.newest_ready = true;  // invalid scaling of a new spec: the running revision serves
  EXPECT_EQ(PlanReadiness(bad).transition_status, "UpToDate");
}

}  // namespace
}  // namespace inferd::control
