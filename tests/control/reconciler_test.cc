// Tests of control/reconciler.h against fakes: a replica runner, a model fetcher and a clock that the test
// moves (no sleeps), over a real store in a temporary directory.
#include "control/reconciler.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <functional>
#include <map>
#include <memory>

#include "api/api_server.h"
#include "control/trained_models.h"
#include "resources/resources.h"

namespace inferd::control {
namespace {

using namespace std::chrono_literals;
using resources::Json;
using supervisor::Phase;
using supervisor::ReplicaId;

class FakeClock : public ReconcileClock {
 public:
  int64_t SteadyNs() const override { return steady_ns_; }
  std::chrono::system_clock::time_point SystemNow() const override { return system_; }
  void Advance(std::chrono::milliseconds d) {
    steady_ns_ += std::chrono::duration_cast<std::chrono::nanoseconds>(d).count();
    system_ += d;
  }

 private:
  int64_t steady_ns_ = 1'000'000'000'000;
  std::chrono::system_clock::time_point system_ = std::chrono::system_clock::from_time_t(1'780'000'000);
};

class FakeRunner : public ReplicaRunner {
 public:
  explicit FakeRunner(const FakeClock* clock) : clock_(clock) {}
  StatusOr<ReplicaId> Start(supervisor::ReplicaSpec spec) override {
    ReplicaId id = ++next_;
    supervisor::ReplicaStatus s;
    s.id = id;
    s.name = spec.name;
    s.phase = Phase::kRunning;
    s.pid = 1000 + static_cast<int>(id);
    s.http_port = 20000 + static_cast<int>(id);
    s.started_at = clock_->SystemNow();
    replicas[id] = s;
    specs[id] = std::move(spec);
    return id;
  }
  void Stop(ReplicaId id) override {
    if (on_stop) on_stop(id);
    stopped.push_back(id);
    replicas.erase(id);
  }
  void StopAndWait(ReplicaId id) override { Stop(id); }
  void Restart(ReplicaId id) override {
    restarted.push_back(id);
    auto& s = replicas.at(id);
    s.phase = Phase::kRunning;
    s.not_ready_reason.clear();
    ++s.restarts;
    s.started_at = clock_->SystemNow() + 1ms;
  }
  std::optional<supervisor::ReplicaStatus> Get(ReplicaId id) const override {
    auto it = replicas.find(id);
    if (it == replicas.end()) return std::nullopt;
    return it->second;
  }

  // The replicas of a revision, oldest first.
  std::vector<ReplicaId> Of(const std::string& revision) const {
    std::vector<ReplicaId> out;
    for (const auto& [id, s] : replicas) {
      if (s.name.find("/" + revision + "-") != std::string::npos) out.push_back(id);
    }
    return out;
  }
  void SetPhase(ReplicaId id, Phase p) { replicas.at(id).phase = p; }

  std::map<ReplicaId, supervisor::ReplicaStatus> replicas;
  std::map<ReplicaId, supervisor::ReplicaSpec> specs;
  std::vector<ReplicaId> stopped, restarted;
  std::function<void(ReplicaId)> on_stop;  // called before a replica is stopped

 private:
  const FakeClock* clock_;
  ReplicaId next_ = 0;
};

class FakeFetcher : public ModelFetcher {
 public:
  StatusOr<Source> Resolve(const Json&, const std::string& uri, const resources::CredentialLookup&) const override {
    Source s;
    s.uri = uri;
    if (!uri.empty()) s.cache_key = "key-" + uri;
    return s;
  }
  Outcome Ensure(const Source& src) override {
    ++ensures[src.uri];
    if (auto it = outcomes.find(src.uri); it != outcomes.end()) return it->second;
    Outcome o;
    o.ready = true;
    o.model_path = "/models/" + std::to_string(src.uri.size());
    o.status = {{"uri", src.uri}, {"state", "Ready"}};
    return o;
  }
  bool Present(const std::string&) const override { return true; }
  void MarkCollectionDue() override {}
  void CollectIfDue(const std::set<std::string>&, const std::set<std::string>&,
                    std::chrono::steady_clock::time_point) override {}

  std::map<std::string, Outcome> outcomes;  // by URI; absent: ready at once
  std::map<std::string, int> ensures;
};

// The replicas' repository API: every call answered at once, loads by `load_answers` (model -> status, body;
// absent: 200), the index by `index_body`.
class FakeRepository : public RepositoryClient {
 public:
  void Submit(RepositoryCall call) override {
    calls.push_back(call);
    RepositoryAnswer a;
    a.call = call;
    a.http_status = 200;
    if (call.kind == RepositoryCall::kIndex) {
      a.body = index_body;
    } else if (auto it = load_answers.find(call.model); call.kind == RepositoryCall::kLoad && it != load_answers.end()) {
      a.http_status = it->second.first;
      a.body = it->second.second;
    }
    answers.push_back(std::move(a));
  }
  std::vector<RepositoryAnswer> TakeAnswers() override { return std::exchange(answers, {}); }
  // The calls of one kind, as "model" (or "index").
  std::vector<std::string> Calls(RepositoryCall::Kind kind) const {
    std::vector<std::string> out;
    for (const auto& c : calls)
      if (c.kind == kind) out.push_back(kind == RepositoryCall::kIndex ? "index" : c.model);
    return out;
  }

  std::vector<RepositoryCall> calls;
  std::vector<RepositoryAnswer> answers;
  std::map<std::string, std::pair<int, std::string>> load_answers;
  std::string index_body = "[]";
};

class ReconcilerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("reconciler_test." + std::to_string(getpid()) + "." +
                                                     ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    auto db = store::Store::Open((dir_ / "inferd.db").string());
    ASSERT_TRUE(db.ok()) << db.status().message();
    db_ = std::move(*db);
    for (auto& rt : resources::BuiltinClusterServingRuntimes()) ASSERT_TRUE(db_->Create(api::ClusterServingRuntimeType(), rt).ok());
    NewReconciler();
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  void NewReconciler() {
    ReconcilerOptions o;
    o.domain = "example.com";
    o.gateway_http_port = 8080;
    o.gateway_grpc_port = 8081;
    o.inferd_bin = "/usr/bin/inferd";
    o.autoscaler.scale_to_zero_grace_period = 2s;
    o.autoscaler.stable_window = 6s;
    o.gpus = gpus_;
    o.repository_root = (dir_ / "repositories").string();
    o.repository_client = &repository_;
    rec_ = std::make_unique<Reconciler>(o, db_.get(), &runner_, &fetcher_, &clock_,
                                        [this](std::shared_ptr<gateway::RoutingTable> t) { routes_ = std::move(t); },
                                        nullptr);
  }

  void Apply(const std::string& predictor_json, const std::string& annotations = "{}") {
    Json obj = {{"apiVersion", std::string(resources::kIsvcApiVersion)},
                {"kind", "InferenceService"},
                {"metadata", {{"name", "iris"}, {"namespace", "default"}, {"annotations", Json::parse(annotations)}}},
                {"spec", {{"predictor", Json::parse(predictor_json)}}}};
    auto got = db_->Get(api::InferenceServiceType(), "default", "iris");
    if (got.ok()) {
      obj["metadata"] = (*got)["metadata"];
      obj["metadata"]["annotations"] = Json::parse(annotations);
      ASSERT_TRUE(db_->Update(api::InferenceServiceType(), obj).ok());
    } else {
      ASSERT_TRUE(db_->Create(api::InferenceServiceType(), obj).ok());
    }
  }
  // The whole spec (predictor and other components) as JSON text.
  void ApplySpec(const std::string& spec_json, const std::string& annotations = "{}") {
    Json obj = {{"apiVersion", std::string(resources::kIsvcApiVersion)},
                {"kind", "InferenceService"},
                {"metadata", {{"name", "iris"}, {"namespace", "default"}, {"annotations", Json::parse(annotations)}}},
                {"spec", Json::parse(spec_json)}};
    auto got = db_->Get(api::InferenceServiceType(), "default", "iris");
    if (got.ok()) {
      obj["metadata"] = (*got)["metadata"];
      obj["metadata"]["annotations"] = Json::parse(annotations);
      ASSERT_TRUE(db_->Update(api::InferenceServiceType(), obj).ok());
    } else {
      ASSERT_TRUE(db_->Create(api::InferenceServiceType(), obj).ok());
    }
  }
  std::string ComponentTraffic(const std::string& component) {
    std::string out;
    const Json status = Status();
    for (const auto& t : status["components"][component]["traffic"]) {
      out += (out.empty() ? "" : ",") + t["revisionName"].get<std::string>() + "=" + std::to_string(t["percent"].get<int>());
    }
    return out;
  }
  std::string Argv(ReplicaId id) {
    std::string out;
    for (const auto& a : runner_.specs.at(id).argv) out += (out.empty() ? "" : " ") + a;
    return out;
  }
  const gateway::ServiceRoute* RouteOf(const std::string& component) {
    if (!routes_) return nullptr;
    for (const auto& r : routes_->services)
      if (r.component == component) return &r;
    return nullptr;
  }
  static std::string Sklearn(const std::string& uri, const std::string& extra = "") {
    return R"({"model":{"modelFormat":{"name":"sklearn"},"storageUri":")" + uri + "\"}" + extra + "}";
  }

  // One pass after `advance` of time.
  void Pass(std::chrono::milliseconds advance = 100ms) {
    clock_.Advance(advance);
    rec_->Reconcile();
  }
  Json Status() { return (*db_->Get(api::InferenceServiceType(), "default", "iris"))["status"]; }
  Json Condition(const std::string& type) {
    const Json status = Status();
    for (const auto& c : status["conditions"]) {
      if (c["type"] == type) return c;
    }
    return Json();
  }
  std::string Traffic() {
    std::string out;
    const Json status = Status();
    for (const auto& t : status["components"]["predictor"]["traffic"]) {
      out += (out.empty() ? "" : ",") + t["revisionName"].get<std::string>() + "=" + std::to_string(t["percent"].get<int>());
    }
    return out;
  }
  std::vector<std::string> EventReasons() {
    std::vector<std::string> out;
    auto events = db_->List(api::EventType(), "default");
    if (!events.ok()) return out;
    for (const auto& e : events->items) out.push_back(e["reason"]);
    return out;
  }
  bool HasEvent(const std::string& reason) {
    auto r = EventReasons();
    return std::find(r.begin(), r.end(), reason) != r.end();
  }
  void ReadyAll(const std::string& revision) {
    for (auto id : runner_.Of(revision)) runner_.SetPhase(id, Phase::kReady);
  }

  std::filesystem::path dir_;
  std::unique_ptr<store::Store> db_;
  FakeClock clock_;
  FakeRunner runner_{&clock_};
  FakeFetcher fetcher_;
  FakeRepository repository_;
  std::shared_ptr<gateway::RoutingTable> routes_;
  std::unique_ptr<Reconciler> rec_;
  GpuInventory gpus_;  // NewReconciler's inventory

  // The value a replica's environment gives `name` (the last entry wins, as in the supervisor), or nullopt.
  std::optional<std::string> Env(ReplicaId id, const std::string& name) {
    std::optional<std::string> v;
    for (const auto& [k, val] : runner_.specs.at(id).env) {
      if (k == name) v = val;
    }
    return v;
  }
  // A second service with one GPU per replica, beside "iris".
  void ApplyOther(int gpus) {
    Json obj = {{"apiVersion", std::string(resources::kIsvcApiVersion)},
                {"kind", "InferenceService"},
                {"metadata", {{"name", "other"}, {"namespace", "default"}}},
                {"spec", {{"predictor", Json::parse(GpuSklearn("gs://b/other", gpus))}}}};
    ASSERT_TRUE(db_->Create(api::InferenceServiceType(), obj).ok());
  }
  static std::string GpuSklearn(const std::string& uri, int gpus, const std::string& extra = "") {
    return R"({"model":{"modelFormat":{"name":"sklearn"},"storageUri":")" + uri +
           R"(","resources":{"limits":{"nvidia.com/gpu":)" + std::to_string(gpus) + "}}}" + extra + "}";
  }
};

TEST_F(ReconcilerTest, FirstRevisionStartsAndBecomesReady) {
  Apply(Sklearn("gs://b/iris"));
  Pass();
  ASSERT_EQ(runner_.Of("iris-predictor-00001").size(), 1u);
  const auto& spec = runner_.specs.begin()->second;
  EXPECT_EQ(spec.status_path, "/v2/repository/index");  // the runner, not the reconciler, asks why
  EXPECT_EQ(Condition("Ready")["status"], "False");
  EXPECT_EQ(Condition("Ready")["reason"], "Loading");
  EXPECT_EQ(Status()["modelStatus"]["states"]["activeModelState"], "Loading");
  ReadyAll("iris-predictor-00001");
  Pass();
  EXPECT_EQ(Condition("Ready")["status"], "True");
  EXPECT_EQ(Traffic(), "iris-predictor-00001=100");
  EXPECT_EQ(Status()["modelStatus"]["transitionStatus"], "UpToDate");
  EXPECT_EQ(Status()["url"], "http://iris.default.example.com");
  EXPECT_TRUE(HasEvent("RevisionCreated"));
  EXPECT_TRUE(HasEvent("RevisionReady"));
  ASSERT_TRUE(routes_);
  ASSERT_EQ(routes_->services.size(), 1u);
  ASSERT_EQ(routes_->services[0].revisions.size(), 1u);
  EXPECT_EQ(routes_->services[0].revisions[0].endpoints.size(), 1u);
  EXPECT_EQ(rec_->LogTargets("default/iris")->size(), 1u);
}

TEST_F(ReconcilerTest, AnUnchangedServiceIsNotWrittenAgain) {
  Apply(Sklearn("gs://b/iris"));
  Pass();
  ReadyAll("iris-predictor-00001");
  Pass();
  Pass();  // status.inferd's carried keys settle their order (isvc_status.h)
  auto rv = [this] {
    return (*db_->Get(api::InferenceServiceType(), "default", "iris"))["metadata"]["resourceVersion"].dump();
  };
  const std::string before = rv();
  for (int i = 0; i < 3; ++i) Pass(1000ms);
  EXPECT_EQ(rv(), before);
  runner_.SetPhase(runner_.Of("iris-predictor-00001").at(0), Phase::kNotReady);
  Pass();
  EXPECT_NE(rv(), before);
}

TEST_F(ReconcilerTest, SpecChangeMakesANewRevisionThatTakesOverOnceReady) {
  Apply(Sklearn("gs://b/iris"));
  Pass();
  ReadyAll("iris-predictor-00001");
  Pass();
  const ReplicaId old = runner_.Of("iris-predictor-00001").at(0);
  Apply(Sklearn("gs://b/iris-v2"));
  Pass();
  ASSERT_EQ(runner_.Of("iris-predictor-00002").size(), 1u);
  EXPECT_EQ(Traffic(), "iris-predictor-00001=100");  // the new one is not ready yet
  EXPECT_EQ(Status()["components"]["predictor"]["latestCreatedRevision"], "iris-predictor-00002");
  Pass();  // a canary-less annotation change of nothing: no third revision
  EXPECT_TRUE(runner_.Of("iris-predictor-00003").empty());
  ReadyAll("iris-predictor-00002");
  Pass();
  EXPECT_EQ(Traffic(), "iris-predictor-00002=100");
  EXPECT_EQ(Status()["components"]["predictor"]["previousRolledoutRevision"], "iris-predictor-00001");
  // The old replica leaves the routes first and is stopped once the retire delay passed.
  EXPECT_TRUE(std::find(runner_.stopped.begin(), runner_.stopped.end(), old) == runner_.stopped.end());
  Pass(400ms);
  EXPECT_TRUE(std::find(runner_.stopped.begin(), runner_.stopped.end(), old) != runner_.stopped.end());
}

TEST_F(ReconcilerTest, CanarySplitsAndZeroRollsBack) {
  Apply(Sklearn("gs://b/iris"));
  Pass();
  ReadyAll("iris-predictor-00001");
  Pass();
  Apply(Sklearn("gs://b/iris-v2", R"(,"canaryTrafficPercent":10)"));
  Pass();
  ReadyAll("iris-predictor-00002");
  Pass();
  EXPECT_EQ(Traffic(), "iris-predictor-00002=10,iris-predictor-00001=90");
  EXPECT_EQ(Status()["components"]["predictor"]["previousRolledoutRevision"], "iris-predictor-00001");
  Apply(Sklearn("gs://b/iris-v2", R"(,"canaryTrafficPercent":0)"));
  Pass();
  EXPECT_EQ(Traffic(), "iris-predictor-00002=0,iris-predictor-00001=100");
  EXPECT_TRUE(runner_.Of("iris-predictor-00003").empty());  // the percentage is not part of the revision
  Apply(Sklearn("gs://b/iris-v2"));  // promote
  Pass();
  EXPECT_EQ(Traffic(), "iris-predictor-00002=100");
  EXPECT_TRUE(HasEvent("TrafficShifted"));
}

// A deleted service leaves the routes before its replicas are stopped: once a replica of it is gone, a new
// request finds no route (the gateway's 404), not a route to a dead replica that the activator would hold
// and then answer 503 "removed while waiting" (the cause of a flaky serve_test test_11). Likewise a service
// deleted and created again: its old replicas are out of the routes before they stop.
TEST_F(ReconcilerTest, ADeletedServiceLeavesTheRoutesBeforeItsReplicasStop) {
  auto routed = [this](ReplicaId id) {
    const int pid = 1000 + static_cast<int>(id);  // FakeRunner::Start
    for (const auto& s : routes_->services) {
      for (const auto& r : s.revisions) {
        for (const auto& e : r.endpoints) {
          if (e.pid == pid) return true;
        }
      }
    }
    return false;
  };
  std::vector<ReplicaId> stopped_while_routed;
  runner_.on_stop = [&](ReplicaId id) {
    if (routes_ && routed(id)) stopped_while_routed.push_back(id);
  };
  Apply(Sklearn("gs://b/iris"));
  Pass();
  ReadyAll("iris-predictor-00001");
  Pass();
  const ReplicaId first = runner_.Of("iris-predictor-00001").at(0);
  ASSERT_TRUE(routed(first));

  // Deleted and created again between two passes (a new uid).
  ASSERT_TRUE(db_->Delete(api::InferenceServiceType(), "default", "iris").ok());
  Apply(Sklearn("gs://b/iris"));
  Pass();
  EXPECT_TRUE(std::find(runner_.stopped.begin(), runner_.stopped.end(), first) != runner_.stopped.end());
  EXPECT_TRUE(stopped_while_routed.empty());
  ReadyAll("iris-predictor-00001");
  Pass();
  const ReplicaId second = runner_.Of("iris-predictor-00001").at(0);
  ASSERT_TRUE(routed(second));

  ASSERT_TRUE(db_->Delete(api::InferenceServiceType(), "default", "iris").ok());
  Pass();
  EXPECT_TRUE(std::find(runner_.stopped.begin(), runner_.stopped.end(), second) != runner_.stopped.end());
  EXPECT_TRUE(stopped_while_routed.empty());
  EXPECT_TRUE(routes_->services.empty());
}

TEST_F(ReconcilerTest, ScalesToZeroAndBackOnAHeldRequest) {
  Apply(Sklearn("gs://b/iris", R"(,"minReplicas":0)"));
  Pass();
  ReadyAll("iris-predictor-00001");
  Pass();
  ASSERT_EQ(runner_.Of("iris-predictor-00001").size(), 1u);
  for (int i = 0; i < 120 && !runner_.Of("iris-predictor-00001").empty(); ++i) Pass(1000ms);
  EXPECT_TRUE(runner_.Of("iris-predictor-00001").empty()) << "never scaled to zero";
  EXPECT_EQ(Condition("Ready")["status"], "True");  // at zero on purpose: still Ready
  ASSERT_TRUE(routes_);
  auto& rev = routes_->services.at(0).revisions.at(0);
  EXPECT_TRUE(rev.activate);
  rev.stats->held.store(1);  // the gateway holds a request for it
  clock_.Advance(10ms);
  rec_->ActivateHeld();
  EXPECT_EQ(runner_.Of("iris-predictor-00001").size(), 1u);
}

TEST_F(ReconcilerTest, CrashLoopIsNotReadyWithTheCrash) {
  Apply(Sklearn("gs://b/iris"));
  Pass();
  const ReplicaId id = runner_.Of("iris-predictor-00001").at(0);
  auto& s = runner_.replicas.at(id);
  s.phase = Phase::kBackoff;
  s.reason = "CrashLoopBackOff";
  s.message = "exit code 1: boom";
  Pass();
  EXPECT_EQ(Condition("Ready")["reason"], "CrashLoopBackOff");
  EXPECT_EQ(Status()["modelStatus"]["lastFailureInfo"]["reason"], "RuntimeUnhealthy");
  EXPECT_EQ(Status()["modelStatus"]["copies"]["failedCopies"], 1);
  ASSERT_TRUE(routes_);
  EXPECT_NE(routes_->services.at(0).unavailable.find("CrashLoopBackOff"), std::string::npos);
}

TEST_F(ReconcilerTest, FailedDownloadIsReportedThenRetriedByTheFetcher) {
  ModelFetcher::Outcome failed;
  failed.failed = true;
  failed.reason = "DownloadFailed";
  failed.message = "gs://b/iris: 403 (attempt 1; retrying in 5 s)";
  failed.status = {{"uri", "gs://b/iris"}, {"state", "Failed"}};
  fetcher_.outcomes["gs://b/iris"] = failed;
  Apply(Sklearn("gs://b/iris"));
  Pass();
  EXPECT_TRUE(runner_.replicas.empty());
  EXPECT_EQ(Condition("Ready")["reason"], "DownloadFailed");
  EXPECT_EQ(Status()["modelStatus"]["lastFailureInfo"]["reason"], "ModelLoadFailed");
  EXPECT_EQ(Status()["inferd"]["storage"]["state"], "Failed");
  EXPECT_TRUE(HasEvent("DownloadFailed"));
  fetcher_.outcomes.erase("gs://b/iris");  // the fetcher's retry succeeded
  Pass();
  EXPECT_EQ(runner_.Of("iris-predictor-00001").size(), 1u);
  EXPECT_EQ(Status()["inferd"]["storage"]["state"], "Ready");
  EXPECT_GE(fetcher_.ensures["gs://b/iris"], 2);
}

TEST_F(ReconcilerTest, FailedLoadBacksOffRestartsAndRecovers) {
  Apply(Sklearn("gs://b/iris"));
  Pass();
  const ReplicaId id = runner_.Of("iris-predictor-00001").at(0);
  runner_.replicas.at(id).not_ready_reason = "bad pickle";
  Pass();
  EXPECT_EQ(Condition("Ready")["reason"], "ModelLoadFailed");
  EXPECT_EQ(Condition("Ready")["message"], "bad pickle");
  EXPECT_EQ(Status()["modelStatus"]["transitionStatus"], "BlockedByFailedLoad");
  EXPECT_EQ(Status()["modelStatus"]["states"]["activeModelState"], "FailedToLoad");
  EXPECT_EQ(Status()["inferd"]["modelLoad"]["state"], "BackOff");
  EXPECT_EQ(Status()["inferd"]["modelLoad"]["failedAttempts"], 1);
  EXPECT_TRUE(runner_.restarted.empty());
  Pass(1100ms);  // the first retry is due after initial_backoff (1 s)
  ASSERT_EQ(runner_.restarted.size(), 1u);
  EXPECT_EQ(Status()["inferd"]["modelLoad"]["state"], "Retrying");
  runner_.replicas.at(id).not_ready_reason = "bad pickle";  // fails again: attempt 2, backing off longer
  Pass();
  EXPECT_EQ(Status()["inferd"]["modelLoad"]["failedAttempts"], 2);
  Pass(1100ms);
  EXPECT_EQ(runner_.restarted.size(), 1u);  // 2 s now
  Pass(1000ms);
  ASSERT_EQ(runner_.restarted.size(), 2u);
  runner_.SetPhase(id, Phase::kReady);  // the model was fixed in place
  Pass();
  EXPECT_EQ(Condition("Ready")["status"], "True");
  EXPECT_FALSE(Status()["inferd"].contains("modelLoad"));
  EXPECT_TRUE(HasEvent("ModelLoaded"));
}

TEST_F(ReconcilerTest, RestartContinuesTheRevisionNumbering) {
  Apply(Sklearn("gs://b/iris"));
  Pass();
  Apply(Sklearn("gs://b/iris-v2"));
  Pass();
  EXPECT_EQ(Status()["components"]["predictor"]["latestCreatedRevision"], "iris-predictor-00002");
  rec_->StopAll();
  runner_.replicas.clear();
  NewReconciler();  // inferd serve restarted: same store, nothing running
  Pass();
  EXPECT_EQ(runner_.Of("iris-predictor-00002").size(), 1u);  // the same template keeps its number
  EXPECT_EQ(Status()["components"]["predictor"]["latestCreatedRevision"], "iris-predictor-00002");
  NewReconciler();
  Apply(Sklearn("gs://b/iris-v3"));
  Pass();
  EXPECT_EQ(Status()["components"]["predictor"]["latestCreatedRevision"], "iris-predictor-00003");
}

TEST_F(ReconcilerTest, InvalidSpecIsNotReadyWithTheReason) {
  Apply(R"({"model":{"modelFormat":{"name":"no-such-format"},"storageUri":"gs://b/x"}})");
  Pass();
  EXPECT_TRUE(runner_.replicas.empty());
  EXPECT_EQ(Condition("Ready")["status"], "False");
  EXPECT_EQ(Status()["modelStatus"]["transitionStatus"], "InvalidSpec");
  EXPECT_EQ(Condition("Ready")["reason"], "NoSupportingRuntime");
}

// GPUs (control/gpu.h): each replica gets its own devices in CUDA_VISIBLE_DEVICES and NVIDIA_VISIBLE_DEVICES;
// a replica the autoscaler wants beyond the free devices waits, the service says Unschedulable with the
// scheduler's words (and stays Ready on the replicas that run), and it starts once a device is freed.
TEST_F(ReconcilerTest, GpusAreGivenOutWithoutOvercommitAndAShortageIsACondition) {
  gpus_ = **ParseGpusFlag("2");
  NewReconciler();
  ApplyOther(1);
  Pass();
  const auto other = runner_.Of("other-predictor-00001");
  ASSERT_EQ(other.size(), 1u);
  EXPECT_EQ(Env(other[0], "CUDA_VISIBLE_DEVICES"), "0");
  Apply(GpuSklearn("gs://b/iris", 1, R"(,"minReplicas":2)"));
  Pass();
  auto iris = runner_.Of("iris-predictor-00001");
  ASSERT_EQ(iris.size(), 1u);  // one device left
  EXPECT_EQ(Env(iris[0], "CUDA_VISIBLE_DEVICES"), "1");
  EXPECT_EQ(Env(iris[0], "NVIDIA_VISIBLE_DEVICES"), "1");
  ReadyAll("iris-predictor-00001");
  Pass();
  EXPECT_EQ(Condition("Ready")["status"], "True");  // the replica that fits serves
  Json rc = Condition("ResourcesAvailable");
  EXPECT_EQ(rc["status"], "False");
  EXPECT_EQ(rc["reason"], "Unschedulable");
  EXPECT_EQ(rc["message"].get<std::string>().rfind("0/1 nodes are available: 1 Insufficient nvidia.com/gpu.", 0), 0u)
      << rc.dump();
  EXPECT_TRUE(HasEvent("FailedScheduling"));
  EXPECT_EQ(Status()["inferd"]["replicas"][0]["gpus"], "1");
  const size_t events = EventReasons().size();
  Pass(1000ms);
  Pass(1000ms);
  EXPECT_EQ(runner_.Of("iris-predictor-00001").size(), 1u);  // still no device: nothing over-committed
  EXPECT_EQ(EventReasons().size(), events);                   // the shortage is said once

  // The other service is deleted: its replica stops, its device is released, iris's second replica gets it.
  ASSERT_TRUE(db_->Delete(api::InferenceServiceType(), "default", "other").ok());
  Pass();
  EXPECT_TRUE(runner_.Of("other-predictor-00001").empty());
  Pass();
  iris = runner_.Of("iris-predictor-00001");
  ASSERT_EQ(iris.size(), 2u);
  EXPECT_EQ(Env(iris[1], "CUDA_VISIBLE_DEVICES"), "0");
  ReadyAll("iris-predictor-00001");
  Pass();
  EXPECT_EQ(Condition("ResourcesAvailable")["status"], "True");
  EXPECT_FALSE(Condition("ResourcesAvailable").contains("reason"));
}

// A model asking for GPUs on a machine without any is never started on the CPU: not Ready, Unschedulable, and
// the gateway answers its requests at once with the reason instead of holding them.
TEST_F(ReconcilerTest, GpuRequestWithoutInventoryIsUnschedulable) {
  Apply(GpuSklearn("gs://b/iris", 1));
  Pass();
  Pass();
  EXPECT_TRUE(runner_.specs.empty());
  Json ready = Condition("Ready");
  EXPECT_EQ(ready["status"], "False");
  EXPECT_EQ(ready["reason"], "Unschedulable");
  EXPECT_NE(ready["message"].get<std::string>().find("Insufficient nvidia.com/gpu"), std::string::npos);
  EXPECT_NE(ready["message"].get<std::string>().find("no GPUs"), std::string::npos);
  EXPECT_EQ(Condition("ResourcesAvailable")["reason"], "Unschedulable");
  ASSERT_TRUE(routes_);
  ASSERT_EQ(routes_->services.size(), 1u);
  std::string unavailable = routes_->services[0].unavailable;
  for (const auto& r : routes_->services[0].revisions) unavailable += r.unavailable;
  EXPECT_NE(unavailable.find("Insufficient nvidia.com/gpu"), std::string::npos) << unavailable;
}

// A replica that asks for no GPU on a machine with some sees none (as a pod without a GPU limit); a
// service without GPU requests shows no ResourcesAvailable condition. A runtime's container may ask for
// GPUs for the models it serves (KServe merges it with the model's container).
TEST_F(ReconcilerTest, ReplicasWithoutGpusSeeNoneAndRuntimesMayAskForThem) {
  gpus_ = **ParseGpusFlag("GPU-a,GPU-b");
  NewReconciler();
  Apply(Sklearn("gs://b/iris"));
  Pass();
  auto iris = runner_.Of("iris-predictor-00001");
  ASSERT_EQ(iris.size(), 1u);
  EXPECT_EQ(Env(iris[0], "CUDA_VISIBLE_DEVICES"), "");
  EXPECT_EQ(Env(iris[0], "NVIDIA_VISIBLE_DEVICES"), "void");
  EXPECT_TRUE(Condition("ResourcesAvailable").is_null());

  Json rt = {{"apiVersion", std::string(resources::kRuntimeApiVersion)},
             {"kind", "ServingRuntime"},
             {"metadata", {{"name", "gpu-runtime"}, {"namespace", "default"}}},
             {"spec",
              {{"supportedModelFormats", Json::array({{{"name", "onnx"}, {"autoSelect", true}}})},
               {"containers", Json::array({{{"name", "kserve-container"},
                                            {"command", Json::array({"/usr/bin/inferd", "model-server"})},
                                            {"resources", {{"limits", {{"nvidia.com/gpu", 2}}}}}}})}}}};
  ASSERT_TRUE(db_->Create(api::ServingRuntimeType(), rt).ok());
  Apply(R"({"model":{"modelFormat":{"name":"onnx"},"runtime":"gpu-runtime","storageUri":"gs://b/onnx"}})");
  Pass();
  auto onnx = runner_.Of("iris-predictor-00002");
  ASSERT_EQ(onnx.size(), 1u);
  EXPECT_EQ(Env(onnx[0], "CUDA_VISIBLE_DEVICES"), "GPU-a,GPU-b");
}

}  // namespace
}  // namespace inferd::control

namespace inferd::control {
namespace {

constexpr char kPredictor[] = R"("predictor": {"model": {"modelFormat": {"name": "sklearn"}, "storageUri": "gs://b/iris"}})";

std::string WithTransformer(const std::string& transformer_extra = "", const std::string& args = R"(["--scale", "10"])") {
  return std::string("{") + kPredictor + R"(, "transformer": {"containers": [{"name": "kserve-container",
      "command": ["python3", "/srv/t.py"], "args": )" + args + "}]" + transformer_extra + "}}";
}

TEST_F(ReconcilerTest, TransformerIsAComponentWithItsOwnRevisionReplicasAndStatus) {
  ApplySpec(WithTransformer(R"(, "containerConcurrency": 3)"));
  Pass();
  ASSERT_EQ(runner_.Of("iris-predictor-00001").size(), 1u);
  ASSERT_EQ(runner_.Of("iris-transformer-00001").size(), 1u);
  const ReplicaId t = runner_.Of("iris-transformer-00001")[0];
  // A Python transformer runs in inferd model-server's interpreter with KServe's appended flags as its args.
  const std::string argv = Argv(t);
  EXPECT_TRUE(argv.starts_with("/usr/bin/inferd model-server --python=/srv/t.py --python_arg=--scale --python_arg=10 "
                               "--python_arg=--model_name --python_arg=iris --python_arg=--predictor_host "
                               "--python_arg=iris-predictor.default --python_arg=--workers --python_arg=3"))
      << argv;
  EXPECT_NE(argv.find("--http_port=0"), std::string::npos) << argv;
  EXPECT_EQ(Env(t, "INFERENCE_SERVICE_NAME"), "iris");
  EXPECT_EQ(Env(t, "INFERD_GATEWAY"), "127.0.0.1:8080");
  EXPECT_EQ(Env(t, "INFERD_GATEWAY_GRPC"), "127.0.0.1:8081");
  EXPECT_EQ(Env(runner_.Of("iris-predictor-00001")[0], "INFERD_GATEWAY"), std::nullopt) << "only components get it";
  // Ready needs every component.
  ReadyAll("iris-predictor-00001");
  Pass();
  EXPECT_EQ(Condition("PredictorReady")["status"], "True");
  EXPECT_EQ(Condition("TransformerReady")["status"], "False");
  EXPECT_EQ(Condition("IngressReady")["status"], "False") << "the service's URL goes to the transformer";
  EXPECT_EQ(Condition("Ready")["status"], "False");
  ReadyAll("iris-transformer-00001");
  Pass();
  EXPECT_EQ(Condition("TransformerReady")["status"], "True");
  EXPECT_EQ(Condition("Ready")["status"], "True");
  const Json st = Status();
  EXPECT_EQ(st["components"]["transformer"]["url"], "http://iris-transformer.default.example.com");
  EXPECT_EQ(st["components"]["transformer"]["latestReadyRevision"], "iris-transformer-00001");
  EXPECT_EQ(ComponentTraffic("transformer"), "iris-transformer-00001=100");
  EXPECT_EQ(ComponentTraffic("predictor"), "iris-predictor-00001=100");
  EXPECT_TRUE(st["inferd"].contains("transformerSpecHash"));
  EXPECT_EQ(st["inferd"]["revisions"].size(), 2u);
  // The gateway gets one route per component.
  ASSERT_NE(RouteOf(""), nullptr);
  ASSERT_NE(RouteOf("transformer"), nullptr);
  EXPECT_EQ(RouteOf("transformer")->revisions.at(0).revision, "iris-transformer-00001");
  EXPECT_EQ(RouteOf("transformer")->revisions.at(0).container_concurrency, 3);
  EXPECT_EQ(RouteOf("transformer")->revisions.at(0).endpoints.size(), 1u);
  EXPECT_EQ(rec_->LogTargets("default/iris")->size(), 2u);
}

TEST_F(ReconcilerTest, TransformerCanaryThenRemovalLeavesThePredictorAlone) {
  ApplySpec(WithTransformer());
  Pass();
  ReadyAll("iris-predictor-00001");
  ReadyAll("iris-transformer-00001");
  Pass();
  ASSERT_EQ(Condition("Ready")["status"], "True");
  ApplySpec(WithTransformer(R"(, "canaryTrafficPercent": 20)", R"(["--scale", "100"])"));
  Pass();
  ASSERT_EQ(runner_.Of("iris-transformer-00002").size(), 1u);
  EXPECT_EQ(runner_.Of("iris-predictor-00002").size(), 0u) << "a transformer change is not a predictor revision";
  ReadyAll("iris-transformer-00002");
  Pass();
  EXPECT_EQ(ComponentTraffic("transformer"), "iris-transformer-00002=20,iris-transformer-00001=80");
  EXPECT_EQ(ComponentTraffic("predictor"), "iris-predictor-00001=100");
  EXPECT_EQ(Status()["components"]["transformer"]["previousRolledoutRevision"], "iris-transformer-00001");
  // The transformer removed from the spec: its revisions retire, the predictor keeps serving.
  ApplySpec(std::string("{") + kPredictor + "}");
  Pass();
  EXPECT_EQ(RouteOf("transformer"), nullptr);
  EXPECT_FALSE(Status()["components"].contains("transformer"));
  EXPECT_TRUE(Condition("TransformerReady").is_null());
  EXPECT_EQ(Condition("Ready")["status"], "True");
  EXPECT_FALSE(Status()["inferd"].contains("transformerSpecHash"));
  EXPECT_TRUE(HasEvent("ComponentRemoved"));
  Pass(1s);  // past the retire delay
  EXPECT_TRUE(runner_.Of("iris-transformer-00001").empty());
  EXPECT_TRUE(runner_.Of("iris-transformer-00002").empty());
  EXPECT_EQ(runner_.Of("iris-predictor-00001").size(), 1u);
}

TEST_F(ReconcilerTest, TransformerThatFailsToStartLeavesThePredictorServing) {
  ApplySpec(WithTransformer());
  Pass();
  ReadyAll("iris-predictor-00001");
  const ReplicaId t = runner_.Of("iris-transformer-00001")[0];
  runner_.replicas.at(t).phase = Phase::kBackoff;
  runner_.replicas.at(t).reason = "CrashLoopBackOff";
  runner_.replicas.at(t).message = "exit status 1: ImportError: no module named foo";
  Pass();
  EXPECT_EQ(Condition("PredictorReady")["status"], "True");
  EXPECT_EQ(Condition("TransformerReady")["status"], "False");
  EXPECT_EQ(Condition("TransformerReady")["reason"], "CrashLoopBackOff");
  EXPECT_NE(Condition("Ready")["message"].get<std::string>().find("ImportError"), std::string::npos);
  ASSERT_NE(RouteOf("transformer"), nullptr);
  EXPECT_TRUE(RouteOf("transformer")->revisions.empty()) << "no traffic yet: the gateway answers 503 with why";
  EXPECT_NE(RouteOf("transformer")->unavailable.find("ImportError"), std::string::npos)
      << RouteOf("transformer")->unavailable;
  EXPECT_NE(RouteOf("transformer")->unavailable.find("(transformer)"), std::string::npos);
  ASSERT_EQ(RouteOf("")->revisions.size(), 1u);
  EXPECT_EQ(RouteOf("")->revisions.at(0).endpoints.size(), 1u);
}

TEST_F(ReconcilerTest, ExplainerArtRunsInferdArtExplainerAgainstThePredictor) {
  ApplySpec(std::string("{") + kPredictor + R"(, "explainer": {"art": {"type": "SquareAttack",
      "config": {"nb_classes": "10", "max_iter": "5"}}}})");
  Pass();
  ASSERT_EQ(runner_.Of("iris-explainer-00001").size(), 1u);
  const ReplicaId e = runner_.Of("iris-explainer-00001")[0];
  const std::string argv = Argv(e);
  EXPECT_TRUE(argv.starts_with("/usr/bin/inferd art-explainer --model_name iris --http_port 0 "))
      << argv;
  EXPECT_NE(argv.find(" --predictor_host iris-predictor.default --adversary_type SquareAttack --max_iter 5 "
                      "--nb_classes 10"),
            std::string::npos)
      << argv;
  EXPECT_EQ(Env(e, "INFERD_GATEWAY"), "127.0.0.1:8080");
  ReadyAll("iris-predictor-00001");
  ReadyAll("iris-explainer-00001");
  Pass();
  EXPECT_EQ(Condition("ExplainerReady")["status"], "True");
  EXPECT_EQ(Condition("Ready")["status"], "True");
  EXPECT_EQ(Condition("IngressReady")["status"], "True");
  ASSERT_NE(RouteOf("explainer"), nullptr);
}

TEST_F(ReconcilerTest, InProcessTransformerRunsInThePredictorsReplicas) {
  ApplySpec(WithTransformer(), R"({"inferd.io/transformer": "in-process"})");
  Pass();
  EXPECT_TRUE(runner_.Of("iris-transformer-00001").empty());
  ASSERT_EQ(runner_.Of("iris-predictor-00001").size(), 1u);
  const ReplicaId p = runner_.Of("iris-predictor-00001")[0];
  const std::string argv = Argv(p);
  EXPECT_NE(argv.find("--model_dir="), std::string::npos) << argv;
  EXPECT_NE(argv.find("--model_format=sklearn"), std::string::npos) << argv;
  EXPECT_NE(argv.find("--python=/srv/t.py --python_arg=--scale --python_arg=10 --python_arg=--model_name "
                      "--python_arg=iris --python_arg=--predictor_host --python_arg=iris-predictor.default"),
            std::string::npos)
      << argv;
  EXPECT_EQ(Env(p, "INFERD_GATEWAY"), "127.0.0.1:8080");
  ReadyAll("iris-predictor-00001");
  Pass();
  EXPECT_EQ(Condition("TransformerReady")["status"], "True");
  EXPECT_EQ(Condition("Ready")["status"], "True");
  const Json st = Status();
  EXPECT_EQ(st["components"]["transformer"]["url"], "http://iris.default.example.com");
  EXPECT_EQ(st["components"]["transformer"]["latestReadyRevision"], "iris-predictor-00001");
  EXPECT_EQ(RouteOf("transformer"), nullptr);
  // Dropping the annotation: the transformer becomes its own component, the predictor a new revision.
  ApplySpec(WithTransformer());
  Pass();
  EXPECT_EQ(runner_.Of("iris-transformer-00001").size(), 1u);
  EXPECT_EQ(runner_.Of("iris-predictor-00002").size(), 1u);
  EXPECT_EQ(Argv(runner_.Of("iris-predictor-00002")[0]).find("--python"), std::string::npos);
}

// Before the first pass (inferd serve starting with stored services), every component the spec runs has a
// route that answers 503: the transformer's and explainer's hosts too, not 404; an in-process transformer
// has none of its own.
TEST_F(ReconcilerTest, KnownServicesGetA503RoutePerComponentBeforeTheFirstPass) {
  std::string spec = WithTransformer();
  spec.pop_back();  // the spec's closing brace: an explainer beside the transformer
  ApplySpec(spec + R"(, "explainer": {"art": {"type": "SquareAttack"}}})");
  rec_->PublishKnownServices();
  ASSERT_TRUE(routes_);
  ASSERT_EQ(routes_->services.size(), 3u);
  for (const char* component : {"", "transformer", "explainer"}) {
    const gateway::ServiceRoute* r = RouteOf(component);
    ASSERT_NE(r, nullptr) << component;
    EXPECT_TRUE(r->revisions.empty()) << component;
    EXPECT_NE(r->unavailable.find("is not ready (inferd serve is starting)"), std::string::npos) << r->unavailable;
  }
  EXPECT_NE(RouteOf("explainer")->unavailable.find("(explainer)"), std::string::npos);
  ApplySpec(WithTransformer(), R"({"inferd.io/transformer": "in-process"})");
  rec_->PublishKnownServices();
  ASSERT_EQ(routes_->services.size(), 1u);
  EXPECT_EQ(RouteOf("transformer"), nullptr);
}

TEST_F(ReconcilerTest, InProcessNeedsAPythonTransformer) {
  ApplySpec(std::string("{") + kPredictor + R"(, "transformer": {"containers": [{"command": ["/opt/transformer"]}]}})",
            R"({"inferd.io/transformer": "in-process"})");
  Pass();
  EXPECT_TRUE(runner_.replicas.empty());
  EXPECT_EQ(Condition("Ready")["status"], "False");
  EXPECT_EQ(Condition("PredictorReady")["reason"], "InProcessTransformerNotRunnable");
  EXPECT_NE(Condition("PredictorReady")["message"].get<std::string>().find("/opt/transformer"), std::string::npos);
}

TEST_F(ReconcilerTest, CollocatedPythonTransformerContainerRunsInProcess) {
  ApplySpec(R"({"predictor": {"model": {"modelFormat": {"name": "sklearn"}, "storageUri": "gs://b/iris"},
      "containers": [{"name": "transformer-container", "command": ["python", "-m", "image_transformer"],
                      "args": ["--model_name", "iris", "--predictor_host", "localhost:8085"]}]}})");
  Pass();
  ASSERT_EQ(runner_.Of("iris-predictor-00001").size(), 1u);
  const std::string argv = Argv(runner_.Of("iris-predictor-00001")[0]);
  EXPECT_NE(argv.find("--python_module=image_transformer --python_arg=--model_name --python_arg=iris "
                      "--python_arg=--predictor_host --python_arg=localhost:8085"),
            std::string::npos)
      << argv;
  ReadyAll("iris-predictor-00001");
  Pass();
  EXPECT_EQ(Condition("TransformerReady")["status"], "True");
  EXPECT_EQ(Condition("Ready")["status"], "True");
  // A collocated container that is not Python (or not a transformer) cannot run beside the model here.
  ApplySpec(R"({"predictor": {"model": {"modelFormat": {"name": "sklearn"}, "storageUri": "gs://b/iris"},
      "containers": [{"name": "transformer-container", "image": "kserve/image-transformer:latest"}]}})");
  Pass();
  const Json failure = Status()["modelStatus"]["lastFailureInfo"];
  EXPECT_EQ(failure["reason"], "CollocatedContainerNotRunnable");
  EXPECT_NE(failure["message"].get<std::string>().find("Python"), std::string::npos);
  EXPECT_EQ(Status()["modelStatus"]["transitionStatus"], "InvalidSpec");
  EXPECT_EQ(ComponentTraffic("predictor"), "iris-predictor-00001=100") << "the last good revision keeps serving";
  // A new service in that form never starts anything: not Ready with the reason.
  ASSERT_TRUE(db_->Delete(api::InferenceServiceType(), "default", "iris").ok());
  Pass();
  ApplySpec(R"({"predictor": {"model": {"modelFormat": {"name": "sklearn"}, "storageUri": "gs://b/iris"},
      "containers": [{"name": "transformer-container", "image": "kserve/image-transformer:latest"}]}})");
  Pass();
  EXPECT_EQ(Condition("Ready")["reason"], "CollocatedContainerNotRunnable");
  EXPECT_TRUE(runner_.Of("iris-predictor-00001").empty());
}

TEST_F(ReconcilerTest, TransformerScalesToZeroAndBackOnItsOwn) {
  ApplySpec(WithTransformer(R"(, "minReplicas": 0)"));
  Pass();
  ReadyAll("iris-predictor-00001");
  ReadyAll("iris-transformer-00001");
  Pass();
  ASSERT_EQ(Condition("Ready")["status"], "True");
  for (int i = 0; i < 10 && !runner_.Of("iris-transformer-00001").empty(); ++i) Pass(2s);
  EXPECT_TRUE(runner_.Of("iris-transformer-00001").empty()) << "idle: scaled to zero";
  EXPECT_EQ(runner_.Of("iris-predictor-00001").size(), 1u) << "the predictor has minReplicas 1";
  EXPECT_EQ(Condition("Ready")["status"], "True") << "at zero on purpose is Ready";
  ASSERT_NE(RouteOf("transformer"), nullptr);
  EXPECT_TRUE(RouteOf("transformer")->revisions.at(0).activate);
  // A held request for the transformer brings one back.
  RouteOf("transformer")->revisions.at(0).stats->held.store(1);
  rec_->ActivateHeld();
  EXPECT_EQ(runner_.Of("iris-transformer-00001").size(), 1u);
}

TEST_F(ReconcilerTest, RestartContinuesEachComponentsNumbering) {
  ApplySpec(WithTransformer());
  Pass();
  ApplySpec(WithTransformer("", R"(["--scale", "100"])"));
  Pass();
  EXPECT_EQ(Status()["components"]["transformer"]["latestCreatedRevision"], "iris-transformer-00002");
  rec_->StopAll();
  runner_.replicas.clear();
  NewReconciler();  // inferd serve restarted: same store, nothing running
  Pass();
  EXPECT_EQ(runner_.Of("iris-transformer-00002").size(), 1u) << "the same template keeps its number";
  EXPECT_EQ(runner_.Of("iris-predictor-00001").size(), 1u);
  EXPECT_EQ(Status()["components"]["transformer"]["latestCreatedRevision"], "iris-transformer-00002");
  NewReconciler();
  ApplySpec(WithTransformer("", R"(["--scale", "1000"])"));
  Pass();
  EXPECT_EQ(Status()["components"]["transformer"]["latestCreatedRevision"], "iris-transformer-00003");
  EXPECT_EQ(Status()["components"]["predictor"]["latestCreatedRevision"], "iris-predictor-00001");
}

// ---- multi-model serving: TrainedModels ------------------------------------------------------------------

class TrainedModelTest : public ReconcilerTest {
 protected:
  void ApplyTm(const std::string& name, const std::string& isvc, const std::string& uri,
               const std::string& framework = "sklearn", const std::string& memory = "256Mi") {
    Json obj = {{"apiVersion", "serving.kserve.io/v1alpha1"},
                {"kind", "TrainedModel"},
                {"metadata", {{"name", name}, {"namespace", "default"}}},
                {"spec", {{"inferenceService", isvc},
                          {"model", {{"storageUri", uri}, {"framework", framework}, {"memory", memory}}}}}};
    auto got = db_->Get(api::TrainedModelType(), "default", name);
    if (got.ok()) {
      obj["metadata"] = (*got)["metadata"];
      ASSERT_TRUE(db_->Update(api::TrainedModelType(), obj).ok());
    } else {
      ASSERT_TRUE(db_->Create(api::TrainedModelType(), obj).ok());
    }
  }
  Json TmCondition(const std::string& name, const std::string& type) {
    auto tm = db_->Get(api::TrainedModelType(), "default", name);
    if (!tm.ok() || !(*tm).contains("status")) return Json();
    for (const auto& c : (*tm)["status"]["conditions"])
      if (c["type"] == type) return c;
    return Json();
  }
  size_t Endpoints() {
    const gateway::ServiceRoute* r = RouteOf("");
    return r && !r->revisions.empty() ? r->revisions[0].endpoints.size() : 0;
  }
  std::filesystem::path Repo() { return dir_ / "repositories" / "default" / "iris"; }
};

TEST_F(TrainedModelTest, MultiModelServiceLoadsItsTrainedModelsBeforeTakingRequests) {
  Apply(R"({"model":{"modelFormat":{"name":"sklearn"},"resources":{"limits":{"memory":"2Gi"}}}})");
  Pass();
  ASSERT_EQ(runner_.Of("iris-predictor-00001").size(), 1u);
  ReplicaId id = runner_.Of("iris-predictor-00001")[0];
  const std::string argv = Argv(id);
  EXPECT_NE(argv.find("--model_repository=" + Repo().string()), std::string::npos) << argv;
  EXPECT_NE(argv.find("--memory_budget=2147483648"), std::string::npos) << argv;
  EXPECT_EQ(argv.find("--model_dir"), std::string::npos) << argv;
  EXPECT_EQ(argv.find("--model_name"), std::string::npos) << argv;
  EXPECT_EQ(runner_.specs.at(id).ready_path, "/v2/health/live");
  EXPECT_TRUE(std::filesystem::is_directory(Repo()));

  ApplyTm("m1", "iris", "http://h/m1.joblib");
  ApplyTm("m2", "iris", "http://h/m2.joblib");
  ApplyTm("wrong-framework", "iris", "http://h/x.json", "xgboost");
  ApplyTm("no-isvc", "missing", "http://h/m1.joblib");
  ApplyTm("too-big", "iris", "http://h/big.joblib", "sklearn", "1900Mi");
  Pass();
  EXPECT_TRUE(std::filesystem::is_symlink(Repo() / "m1"));
  EXPECT_TRUE(std::filesystem::is_symlink(Repo() / "m2"));
  EXPECT_FALSE(std::filesystem::is_symlink(Repo() / "wrong-framework"));
  EXPECT_FALSE(std::filesystem::is_symlink(Repo() / "too-big"));
  EXPECT_EQ(TmCondition("wrong-framework", "Ready")["reason"], "FrameworkNotSupported");
  EXPECT_EQ(TmCondition("no-isvc", "Ready")["reason"], "InferenceServiceNotFound");
  EXPECT_EQ(TmCondition("too-big", "MemoryResourceAvailable")["status"], "False");
  EXPECT_EQ(TmCondition("m1", "MemoryResourceAvailable")["status"], "True");

  // Ready by the supervisor, but not routed until it loaded every TrainedModel: index, then the loads.
  ReadyAll("iris-predictor-00001");
  Pass();
  EXPECT_EQ(repository_.Calls(RepositoryCall::kIndex).size(), 1u);
  EXPECT_EQ(Endpoints(), 0u);
  Pass();
  EXPECT_EQ(repository_.Calls(RepositoryCall::kLoad), (std::vector<std::string>{"m1", "m2"}));
  Pass();
  EXPECT_EQ(Endpoints(), 1u);
  Pass();
  Pass();
  EXPECT_EQ(Condition("Ready")["status"], "True");
  EXPECT_EQ(TmCondition("m1", "Ready")["status"], "True") << TmCondition("m1", "Ready");
  auto m1 = db_->Get(api::TrainedModelType(), "default", "m1");
  EXPECT_EQ((*m1)["status"]["url"], "http://iris.default.example.com/v1/models/m1:predict");

  // A model file the server cannot load: that TrainedModel alone is not Ready, with the server's message.
  repository_.load_answers["bad"] = {503, R"({"error":"failed to load model 'bad': not a model file"})"};
  ApplyTm("bad", "iris", "http://h/bad.joblib");
  for (int i = 0; i < 4; ++i) Pass();
  EXPECT_EQ(TmCondition("bad", "Ready")["reason"], "ModelLoadFailed");
  EXPECT_NE(TmCondition("bad", "Ready")["message"].get<std::string>().find("not a model file"), std::string::npos);
  EXPECT_FALSE(std::filesystem::is_symlink(Repo() / "bad"));
  EXPECT_EQ(TmCondition("m1", "Ready")["status"], "True");
  EXPECT_EQ(Endpoints(), 1u);

  // The model server's 507: MemoryResourceAvailable False with its message.
  repository_.load_answers["m3"] = {507, R"({"error":"model m3 can never fit the budget"})"};
  ApplyTm("m3", "iris", "http://h/m3.joblib");
  for (int i = 0; i < 4; ++i) Pass();
  EXPECT_EQ(TmCondition("m3", "MemoryResourceAvailable")["message"], "model m3 can never fit the budget");

  // storageUri changed: loaded again at the new target, the replica stays routed meanwhile.
  const size_t loads = repository_.Calls(RepositoryCall::kLoad).size();
  ApplyTm("m2", "iris", "http://h/m2-v2.joblib");
  Pass();
  EXPECT_EQ(Endpoints(), 1u);
  Pass();
  auto after = repository_.Calls(RepositoryCall::kLoad);
  ASSERT_GT(after.size(), loads);
  EXPECT_EQ(after.back(), "m2");
  EXPECT_EQ(repository_.calls.back().target, std::filesystem::read_symlink(Repo() / "m2").string());

  // Deleted: unloaded from the replica and gone from the repository.
  ASSERT_TRUE(db_->Delete(api::TrainedModelType(), "default", "m1").ok());
  Pass();
  Pass();
  auto unloads = repository_.Calls(RepositoryCall::kUnload);
  EXPECT_NE(std::find(unloads.begin(), unloads.end(), "m1"), unloads.end());
  EXPECT_FALSE(std::filesystem::is_symlink(Repo() / "m1"));
}

TEST_F(TrainedModelTest, ARestartedReplicaLoadsEveryModelBeforeItIsRoutedAgain) {
  Apply(R"({"model":{"modelFormat":{"name":"sklearn"}}})");
  ApplyTm("m1", "iris", "http://h/m1.joblib");
  Pass();
  ReplicaId id = runner_.Of("iris-predictor-00001")[0];
  ReadyAll("iris-predictor-00001");
  for (int i = 0; i < 3; ++i) Pass();
  ASSERT_EQ(Endpoints(), 1u);
  // Restarted (a new process): not routed until it reports m1 loaded; it loaded it by itself at start-up.
  repository_.index_body = R"([{"name":"m1","state":"READY"}])";
  runner_.replicas.at(id).pid += 100;
  runner_.replicas.at(id).started_at = clock_.SystemNow() + 1ms;
  const size_t loads = repository_.Calls(RepositoryCall::kLoad).size();
  Pass();
  EXPECT_EQ(Endpoints(), 0u);
  Pass();
  Pass();
  EXPECT_EQ(Endpoints(), 1u);
  EXPECT_EQ(repository_.Calls(RepositoryCall::kLoad).size(), loads);  // its own start-up load counted
}

TEST_F(TrainedModelTest, SingleModelServiceRefusesTrainedModels) {
  Apply(Sklearn("gs://b/iris"));
  ApplyTm("m1", "iris", "http://h/m1.joblib");
  Pass();
  EXPECT_EQ(TmCondition("m1", "IsMMSPredictor")["status"], "False");
  EXPECT_EQ(TmCondition("m1", "Ready")["reason"], "IsNotMMSPredictor");
  EXPECT_FALSE(std::filesystem::is_symlink(Repo() / "m1"));
  EXPECT_NE(Argv(runner_.Of("iris-predictor-00001")[0]).find("--model_dir"), std::string::npos);
}

}  // namespace
}  // namespace inferd::control
