// Tests of control/isvc_status.h: the typed InferenceService status and its one JSON form.
#include "control/isvc_status.h"

#include <gtest/gtest.h>

namespace inferd::control {
namespace {

using resources::Json;

IsvcStatus Sample() {
  IsvcStatus s;
  s.url = "http://iris.default.example.com";
  s.address_url = "http://127.0.0.1:8080/serving/default/iris";
  s.model_status.transition_status = "UpToDate";
  s.model_status.active_state = "Loaded";
  s.model_status.total_copies = 1;
  ComponentStatus pred;
  pred.url = "http://iris-predictor.default.example.com";
  pred.latest_created = pred.latest_ready = pred.latest_rolled_out = "iris-predictor-00001";
  pred.traffic.push_back({"iris-predictor-00001", 100, true, "", ""});
  s.components.emplace_back("predictor", pred);
  s.conditions = {MakeCondition("IngressReady", true, "NoReadyRevision", "x"),
                  MakeCondition("PredictorReady", true, "", ""), MakeCondition("Ready", true, "", "")};
  s.observed_generation = 3;
  s.inferd.spec_hash = "123";
  s.inferd.runtime = "kserve-sklearnserver";
  s.inferd.replicas.push_back({"default/iris-predictor-00001-1", "iris-predictor-00001", "Ready", 42, 9000, 9001, 0, "", "", ""});
  RevisionStatus r;
  r.name = "iris-predictor-00001";
  r.runtime = "kserve-sklearnserver";
  r.percent = 100;
  r.replicas = r.ready_replicas = 1;
  r.latest = true;
  r.autoscaler = RevisionAutoscalerStatus{1, "concurrency", 70, 1, 0, false, 0.25};
  s.inferd.revisions.push_back(r);
  return s;
}

// The JSON the reconciler wrote before the status was typed, key for key and in the same order.
TEST(IsvcStatusTest, SerializesInTheHistoricShape) {
  Json j = ToJson(Sample(), Json::object(), "2026-01-01T00:00:00Z");
  EXPECT_EQ(j.dump(),
            R"({"url":"http://iris.default.example.com","address":{"url":"http://127.0.0.1:8080/serving/default/iris"},)"
            R"("modelStatus":{"transitionStatus":"UpToDate","states":{"activeModelState":"Loaded","targetModelState":"Loaded"},)"
            R"("copies":{"failedCopies":0,"totalCopies":1}},"components":{"predictor":{"url":"http://iris-predictor.default.example.com",)"
            R"("latestCreatedRevision":"iris-predictor-00001","latestReadyRevision":"iris-predictor-00001",)"
            R"("latestRolledoutRevision":"iris-predictor-00001","traffic":[{"revisionName":"iris-predictor-00001",)"
            R"("percent":100,"latestRevision":true}]}},"conditions":[{"type":"IngressReady","status":"True",)"
            R"("lastTransitionTime":"2026-01-01T00:00:00Z"},{"type":"PredictorReady","status":"True",)"
            R"("lastTransitionTime":"2026-01-01T00:00:00Z"},{"type":"Ready","status":"True",)"
            R"("lastTransitionTime":"2026-01-01T00:00:00Z"}],"observedGeneration":3,"inferd":{"predictorSpecHash":"123",)"
            R"("runtime":"kserve-sklearnserver","replicas":[{"name":"default/iris-predictor-00001-1",)"
            R"("revision":"iris-predictor-00001","phase":"Ready","pid":42,"httpPort":9000,"grpcPort":9001,"restarts":0}],)"
            R"("revisions":[{"name":"iris-predictor-00001","runtime":"kserve-sklearnserver","percent":100,"replicas":1,)"
            R"("readyReplicas":1,"latest":true,"autoscaler":{"desiredReplicas":1,"metric":"concurrency","target":70.0,)"
            R"("minScale":1,"maxScale":0,"panicking":false,"observed":0.25}}]}})");
}

TEST(IsvcStatusTest, AnUnchangedStatusConverges) {
  // A pass that changed nothing must produce a status equal to the stored one (no write is due). The carried
  // status.inferd keeps its keys' order, so `replicas` moves behind `revisions` once (the historic shape: one
  // extra write after the first), and from then on the JSON is identical.
  Json first = ToJson(Sample(), Json::object(), "2026-01-01T00:00:00Z");
  IsvcStatus again = Sample();
  again.inferd.carried = first["inferd"];
  Json second = ToJson(again, first, "2026-01-01T00:00:09Z");
  EXPECT_NE(second.dump(), first.dump());
  EXPECT_EQ(second["inferd"].begin().key(), "predictorSpecHash");
  EXPECT_EQ(second["inferd"].back(), second["inferd"]["replicas"]);
  again.inferd.carried = second["inferd"];
  Json third = ToJson(again, second, "2026-01-01T00:00:19Z");
  EXPECT_EQ(third, second);
  EXPECT_EQ(third.dump(), second.dump());
  EXPECT_EQ(third["conditions"][0]["lastTransitionTime"], "2026-01-01T00:00:00Z");
}

TEST(IsvcStatusTest, ConditionTimeKeptUntilItChanges) {
  Json old = ToJson(Sample(), Json::object(), "T0");
  IsvcStatus s = Sample();
  s.conditions[2] = MakeCondition("Ready", false, "Loading", "waiting");
  Json j = ToJson(s, old, "T1");
  EXPECT_EQ(j["conditions"][0]["lastTransitionTime"], "T0");
  EXPECT_EQ(j["conditions"][2]["lastTransitionTime"], "T1");
  EXPECT_EQ(j["conditions"][2]["reason"], "Loading");
  EXPECT_EQ(j["conditions"][2]["message"], "waiting");
  EXPECT_EQ(j["conditions"][2]["status"], "False");
  // The same message again keeps T1; a new message is a new transition.
  EXPECT_EQ(ToJson(s, j, "T2")["conditions"][2]["lastTransitionTime"], "T1");
  s.conditions[2].message = "other";
  EXPECT_EQ(ToJson(s, j, "T2")["conditions"][2]["lastTransitionTime"], "T2");
}

TEST(IsvcStatusTest, FailureTimeKeptWhileTheMessageStays) {
  IsvcStatus s = Sample();
  s.model_status.last_failure = FailureInfo{"iris-predictor-00001", "ModelLoadFailed", "bad pickle", "iris-predictor-00001"};
  Json first = ToJson(s, Json::object(), "T0");
  EXPECT_EQ(first["modelStatus"]["lastFailureInfo"].dump(),
            R"({"location":"iris-predictor-00001","reason":"ModelLoadFailed","message":"bad pickle",)"
            R"("modelRevisionName":"iris-predictor-00001","time":"T0"})");
  EXPECT_EQ(ToJson(s, first, "T1")["modelStatus"]["lastFailureInfo"]["time"], "T0");
  s.model_status.last_failure->message = "worse pickle";
  EXPECT_EQ(ToJson(s, first, "T1")["modelStatus"]["lastFailureInfo"]["time"], "T1");
  s.model_status.last_failure->model_revision_name.clear();
  EXPECT_FALSE(ToJson(s, first, "T1")["modelStatus"]["lastFailureInfo"].contains("modelRevisionName"));
}

TEST(IsvcStatusTest, InferdKeepsUnknownKeysButNeverOldReplicasOrStorage) {
  IsvcStatus s = Sample();
  s.inferd.carried = Json::parse(R"({"modelLoad":{"x":1},"custom":"kept","replicas":[1],"storage":{"old":1},)"
                                 R"("predictorSpecHash":"old","runtime":"old-rt"})");
  s.inferd.spec_hash.reset();
  s.inferd.runtime.reset();
  Json j = ToJson(s, Json::object(), "T")["inferd"];
  EXPECT_EQ(j["custom"], "kept");
  EXPECT_EQ(j["predictorSpecHash"], "old");
  EXPECT_EQ(j["runtime"], "old-rt");
  EXPECT_FALSE(j.contains("storage"));
  EXPECT_FALSE(j.contains("modelLoad"));  // only this pass's
  EXPECT_EQ(j["replicas"].size(), 1u);
  EXPECT_TRUE(j["replicas"][0].is_object());
  s.inferd.model_load = ModelLoadStatus{"iris-predictor-00001", 2, "T9"};
  s.inferd.storage = Json{{"state", "Ready"}};
  j = ToJson(s, Json::object(), "T")["inferd"];
  EXPECT_EQ(j["modelLoad"].dump(), R"({"revision":"iris-predictor-00001","failedAttempts":2,"state":"BackOff","nextRetryTime":"T9"})");
  EXPECT_EQ(j["storage"]["state"], "Ready");
  s.inferd.model_load->next_retry_time.clear();
  EXPECT_EQ(ToJson(s, Json::object(), "T")["inferd"]["modelLoad"]["state"], "Retrying");
}

TEST(IsvcStatusTest, TaggedTrafficHasUrlAndHostileOldStatusIsIgnored) {
  IsvcStatus s = Sample();
  auto& pred = s.components[0].second;
  pred.previous_rolled_out = "iris-predictor-00000";
  pred.traffic = {{"iris-predictor-00002", 10, true, "latest", "http://latest-iris-predictor.default.example.com"},
                  {"iris-predictor-00001", 90, false, "prev", "http://prev-iris-predictor.default.example.com"}};
  for (const char* old : {R"([])", R"({"conditions":{"a":1}})", R"({"conditions":[1,"x",null]})",
                          R"({"modelStatus":[1]})", R"({"modelStatus":{"lastFailureInfo":3}})"}) {
    Json j = ToJson(s, Json::parse(old), "T");
    EXPECT_EQ(j["components"]["predictor"]["traffic"][0]["tag"], "latest") << old;
    EXPECT_EQ(j["components"]["predictor"]["traffic"][1]["url"], "http://prev-iris-predictor.default.example.com");
    EXPECT_EQ(j["components"]["predictor"]["previousRolledoutRevision"], "iris-predictor-00000");
    EXPECT_EQ(j["conditions"][1]["lastTransitionTime"], "T");
  }
}

}  // namespace
}  // namespace inferd::control
