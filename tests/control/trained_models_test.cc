// tests/control/trained_models_test.cc: TrainedModels' pure decisions (status url and KServe's conditions,
// memory allocation, which repository calls a replica needs), the repository directory's atomic placement,
// and the real HTTP client against a small repository server on an ephemeral port.
#include "control/trained_models.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

namespace inferd::control {
namespace {

using resources::Json;

const ConditionStatus* Find(const std::vector<ConditionStatus>& cs, const std::string& type) {
  for (const auto& c : cs)
    if (c.type == type) return &c;
  return nullptr;
}

TmServiceFacts MultiModelService() {
  TmServiceFacts f;
  f.exists = true;
  f.ready = true;
  f.multi_model = true;
  f.url = "http://iris.default.example.com";
  f.address_url = "http://127.0.0.1:8080/serving/default/iris";
  f.runtime = "kserve-sklearnserver";
  f.formats = {"sklearn"};
  f.memory_limit_bytes = 512.0 * 1024 * 1024;
  return f;
}

TmFacts Model(const std::string& name = "m1") {
  TmFacts t;
  t.name = name;
  t.isvc = "iris";
  t.framework = "sklearn";
  t.loaded = true;
  return t;
}

TEST(TrainedModelPath, IsKServesPredictPathByProtocol) {
  EXPECT_EQ(TrainedModelPath("m", "v1"), "/v1/models/m:predict");
  EXPECT_EQ(TrainedModelPath("m", "v2"), "/v2/models/m/infer");
  EXPECT_EQ(TrainedModelPath("m", "grpc-v2"), "");
}

TEST(TrainedModelConditions, ReadyWhenEverythingHolds) {
  auto cs = TrainedModelConditions(MultiModelService(), Model());
  for (const char* t : {"InferenceServiceReady", "IsMMSPredictor", "MemoryResourceAvailable", "Ready"}) {
    ASSERT_NE(Find(cs, t), nullptr) << t;
    EXPECT_EQ(Find(cs, t)->status, "True") << t;
  }
}

TEST(TrainedModelConditions, MissingServiceNamesTheField) {
  TmServiceFacts none;
  auto cs = TrainedModelConditions(none, Model());
  EXPECT_EQ(Find(cs, "Ready")->status, "False");
  EXPECT_EQ(Find(cs, "Ready")->reason, "InferenceServiceNotFound");
  EXPECT_NE(Find(cs, "Ready")->message.find("spec.inferenceService"), std::string::npos);
  EXPECT_EQ(Find(cs, "InferenceServiceReady")->status, "False");
  EXPECT_FALSE(TrainedModelPlaceable(none, Model()));
}

TEST(TrainedModelConditions, SingleModelServiceIsNotMMSPredictor) {
  TmServiceFacts f = MultiModelService();
  f.multi_model = false;
  auto cs = TrainedModelConditions(f, Model());
  EXPECT_EQ(Find(cs, "IsMMSPredictor")->status, "False");
  EXPECT_EQ(Find(cs, "IsMMSPredictor")->reason, "IsNotMMSPredictor");
  EXPECT_EQ(Find(cs, "Ready")->reason, "IsNotMMSPredictor");
  EXPECT_NE(Find(cs, "Ready")->message.find("spec.inferenceService"), std::string::npos);
  EXPECT_FALSE(TrainedModelPlaceable(f, Model()));
}

TEST(TrainedModelConditions, WrongFrameworkIsNotReady) {
  TmFacts t = Model();
  t.framework = "xgboost";
  auto cs = TrainedModelConditions(MultiModelService(), t);
  EXPECT_EQ(Find(cs, "Ready")->reason, "FrameworkNotSupported");
  EXPECT_NE(Find(cs, "Ready")->message.find("spec.model.framework"), std::string::npos);
  EXPECT_NE(Find(cs, "Ready")->message.find("\"xgboost\""), std::string::npos);
  EXPECT_FALSE(TrainedModelPlaceable(MultiModelService(), t));
  TmServiceFacts unknown = MultiModelService();
  unknown.formats.clear();  // the runtime is not selected yet: nothing to refuse by
  EXPECT_TRUE(FrameworkSupported(unknown, "xgboost"));
}

TEST(TrainedModelConditions, MemoryFromAllocationAndFromTheServersAnswer) {
  TmFacts t = Model();
  t.memory_available = false;
  auto cs = TrainedModelConditions(MultiModelService(), t);
  EXPECT_EQ(Find(cs, "MemoryResourceAvailable")->reason, "MemoryResourceNotAvailable");
  EXPECT_EQ(Find(cs, "MemoryResourceAvailable")->message,
            "Inference Service does not have enough memory resources for Trained Model");
  EXPECT_FALSE(TrainedModelPlaceable(MultiModelService(), t));
  TmFacts refused = Model();
  refused.out_of_memory = "model m1 needs 900 MB, the budget is 512 MB";
  cs = TrainedModelConditions(MultiModelService(), refused);
  EXPECT_EQ(Find(cs, "MemoryResourceAvailable")->status, "False");
  EXPECT_EQ(Find(cs, "MemoryResourceAvailable")->message, refused.out_of_memory);
  EXPECT_EQ(Find(cs, "Ready")->reason, "MemoryResourceNotAvailable");
}

TEST(TrainedModelConditions, LoadFailureCarriesTheServersMessage) {
  TmFacts t = Model();
  t.load_failure = "failed to load model 'm1': not a joblib file";
  auto cs = TrainedModelConditions(MultiModelService(), t);
  EXPECT_EQ(Find(cs, "Ready")->reason, "ModelLoadFailed");
  EXPECT_EQ(Find(cs, "Ready")->message, t.load_failure);
  EXPECT_EQ(Find(cs, "MemoryResourceAvailable")->status, "True");
}

TEST(TrainedModelConditions, NotReadyWhileDownloadingOrLoadingOrServiceNotReady) {
  TmFacts t = Model();
  t.storage_reason = "Downloading";
  EXPECT_EQ(Find(TrainedModelConditions(MultiModelService(), t), "Ready")->reason, "Downloading");
  t = Model();
  t.loaded = false;
  EXPECT_EQ(Find(TrainedModelConditions(MultiModelService(), t), "Ready")->reason, "ModelLoading");
  TmServiceFacts f = MultiModelService();
  f.ready = false;
  auto cs = TrainedModelConditions(f, Model());
  EXPECT_EQ(Find(cs, "InferenceServiceReady")->reason, "InferenceServiceNotReady");
  EXPECT_EQ(Find(cs, "Ready")->reason, "InferenceServiceNotReady");
  EXPECT_TRUE(TrainedModelPlaceable(f, Model()));  // loaded anyway: it serves once the service does
}

TEST(TrainedModelStatus, UrlOnTheServicesHostByProtocol) {
  Json tm = {{"metadata", {{"name", "m1"}, {"generation", 2}}}};
  Json st = TrainedModelStatus(tm, MultiModelService(), Model(), "2026-12-07T00:00:00Z");
  EXPECT_EQ(st["url"], "http://iris.default.example.com/v1/models/m1:predict");
  EXPECT_EQ(st["address"]["url"], "http://127.0.0.1:8080/serving/default/iris/v1/models/m1:predict");
  EXPECT_EQ(st["observedGeneration"], 2);
  TmServiceFacts v2 = MultiModelService();
  v2.protocol = "v2";
  EXPECT_EQ(TrainedModelStatus(tm, v2, Model(), "t")["url"], "http://iris.default.example.com/v2/models/m1/infer");
  // lastTransitionTime stays while a condition does not change.
  tm["status"] = st;
  Json later = TrainedModelStatus(tm, MultiModelService(), Model(), "2026-12-07T01:00:00Z");
  EXPECT_EQ(later["conditions"][0]["lastTransitionTime"], "2026-12-07T00:00:00Z");
  EXPECT_FALSE(TrainedModelStatus(tm, TmServiceFacts{}, Model(), "t").contains("url"));
}

TEST(AllocateTrainedModelMemory, FirstComeWhileTheSumFits) {
  const double mi = 1024.0 * 1024;
  auto fits = AllocateTrainedModelMemory({256 * mi, 256 * mi, 1 * mi, 100 * mi}, 512 * mi);
  EXPECT_EQ(fits, (std::vector<bool>{true, true, false, false}));
  fits = AllocateTrainedModelMemory({600 * mi, 256 * mi}, 512 * mi);
  EXPECT_EQ(fits, (std::vector<bool>{false, true}));  // one too large does not block the next
}

TEST(PlanReplicaCalls, IndexFirstThenLoadsAndUnloads) {
  std::map<std::string, std::string> desired = {{"a", "/c/1"}, {"b", "/c/2"}};
  ReplicaModels rm;
  auto plan = PlanReplicaCalls(desired, rm);
  EXPECT_TRUE(plan.index);
  EXPECT_TRUE(plan.load.empty());
  rm.index_busy = true;
  EXPECT_FALSE(PlanReplicaCalls(desired, rm).index);  // one index call at a time
  rm.index_busy = false;
  rm.indexed = true;
  rm.loaded = {{"a", "/c/1"}, {"old", "/c/9"}};
  EXPECT_FALSE(ReplicaSynced(desired, rm));
  plan = PlanReplicaCalls(desired, rm);
  EXPECT_EQ(plan.load, std::vector<std::string>{"b"});
  EXPECT_EQ(plan.unload, std::vector<std::string>{"old"});
  rm.busy = {"b", "old"};  // under way: not asked again
  plan = PlanReplicaCalls(desired, rm);
  EXPECT_TRUE(plan.load.empty());
  EXPECT_TRUE(plan.unload.empty());
  rm.busy.clear();
  rm.loaded = {{"a", "/c/1"}, {"b", "/c/2"}};
  EXPECT_TRUE(ReplicaSynced(desired, rm));
  // A new target (storageUri changed) is a reload; a replica that synced once stays routed meanwhile.
  desired["b"] = "/c/3";
  EXPECT_EQ(PlanReplicaCalls(desired, rm).load, std::vector<std::string>{"b"});
  EXPECT_FALSE(ReplicaSynced(desired, rm));
  rm.synced_once = true;
  EXPECT_TRUE(ReplicaSynced(desired, rm));
}

TEST(RepositoryAnswers, IndexStatesAndErrors) {
  auto s = ParseIndexStates(R"([{"name":"a","state":"READY"},{"name":"b","state":"UNAVAILABLE","reason":"x"},
                                {"name":3,"state":"READY"},{"state":"READY"},"junk",{"name":"c","state":"LOADING"}])");
  EXPECT_EQ(s.ready, std::vector<std::string>{"a"});
  EXPECT_EQ(s.failed, std::vector<std::string>{"b"});
  // Evicted by the model server's memory budget: known, and loaded again by its next request.
  s = ParseIndexStates(R"([{"name":"e","state":"UNAVAILABLE","reason":"evicted: memory budget 1 MB"}])");
  EXPECT_EQ(s.ready, std::vector<std::string>{"e"});
  EXPECT_TRUE(s.failed.empty());
  EXPECT_TRUE(ParseIndexStates("not json").ready.empty());
  EXPECT_TRUE(ParseIndexStates(std::string(100000, '[')).ready.empty());
  EXPECT_EQ(RepositoryError(507, R"({"error":"too big"})"), "too big");
  EXPECT_EQ(RepositoryError(500, ""), "HTTP 500");
  EXPECT_TRUE(TransientRepositoryAnswer(0, ""));
  EXPECT_TRUE(TransientRepositoryAnswer(503, R"({"error":"model 'a' is already loading"})"));
  EXPECT_FALSE(TransientRepositoryAnswer(503, R"({"error":"failed to load model 'a': bad file"})"));
  EXPECT_FALSE(TransientRepositoryAnswer(507, R"({"error":"too big"})"));
}

TEST(PlaceModel, SwapsTheLinkAtomically) {
  namespace fs = std::filesystem;
  fs::path root = fs::temp_directory_path() / ("tm_place_" + std::to_string(::getpid()));
  fs::remove_all(root);
  fs::create_directories(root / "v1");
  fs::create_directories(root / "v2");
  const std::string repo = (root / "repo").string();
  auto placed = PlaceModel(repo, "m", (root / "v1").string());
  ASSERT_TRUE(placed.ok());
  EXPECT_TRUE(*placed);
  EXPECT_EQ(fs::read_symlink(fs::path(repo) / "m"), root / "v1");
  EXPECT_FALSE(*PlaceModel(repo, "m", (root / "v1").string()));  // already there: nothing changed
  placed = PlaceModel(repo, "m", (root / "v2").string());
  ASSERT_TRUE(placed.ok());
  EXPECT_TRUE(*placed);
  EXPECT_EQ(fs::read_symlink(fs::path(repo) / "m"), root / "v2");
  EXPECT_TRUE(fs::is_directory(fs::path(repo) / "m"));
  size_t entries = 0;
  for ([[maybe_unused]] const auto& e : fs::directory_iterator(repo)) ++entries;
  EXPECT_EQ(entries, 1u);  // no temporary link left behind
  ASSERT_TRUE(UnplaceModel(repo, "m").ok());
  EXPECT_FALSE(fs::exists(fs::path(repo) / "m"));
  EXPECT_TRUE(UnplaceModel(repo, "m").ok());  // absent is fine
  // The sweep keeps what is placed (and hidden names), removes the rest.
  ASSERT_TRUE(PlaceModel(repo, "keep", (root / "v1").string()).ok());
  ASSERT_TRUE(PlaceModel(repo, "stale", (root / "v2").string()).ok());
  fs::create_directories(fs::path(repo) / ".hidden");
  SweepRepository(repo, {{"keep", (root / "v1").string()}});
  EXPECT_TRUE(fs::is_symlink(fs::path(repo) / "keep"));
  EXPECT_FALSE(fs::exists(fs::path(repo) / "stale"));
  EXPECT_TRUE(fs::exists(fs::path(repo) / ".hidden"));
  EXPECT_TRUE(fs::is_directory(root / "v2"));  // only the link went, never what it points to
  fs::remove_all(root);
}

// A model server's repository API in miniature: load answers by model name, with the bearer token checked.
class FakeRepositoryServer {
 public:
  FakeRepositoryServer() : acceptor_(io_, {boost::asio::ip::make_address("127.0.0.1"), 0}) {
    thread_ = std::thread([this] { Serve(); });
  }
  ~FakeRepositoryServer() {
    stop_ = true;
    boost::system::error_code ec;
    boost::asio::ip::tcp::socket s(io_);
    s.connect(acceptor_.local_endpoint(), ec);  // unblock accept
    thread_.join();
  }
  int port() const { return acceptor_.local_endpoint().port(); }

 private:
  void Serve() {
    namespace http = boost::beast::http;
    while (!stop_) {
      boost::asio::ip::tcp::socket sock(io_);
      boost::system::error_code ec;
      acceptor_.accept(sock, ec);
      if (ec || stop_) continue;
      boost::beast::flat_buffer buf;
      http::request<http::string_body> req;
      http::read(sock, buf, req, ec);
      if (ec) continue;
      http::response<http::string_body> res;
      std::string target(req.target());
      if (req[http::field::authorization] != "Bearer tok") {
        res.result(401);
        res.body() = R"({"error":"token"})";
      } else if (target == "/v2/repository/index") {
        res.result(200);
        res.body() = R"([{"name":"a","state":"READY"}])";
      } else if (target.find("/big/") != std::string::npos) {
        res.result(507);
        res.body() = R"({"error":"model big does not fit the memory budget"})";
      } else {
        res.result(200);
        res.body() = R"({"name":"a","load":true})";
      }
      res.prepare_payload();
      http::write(sock, res, ec);
    }
  }
  boost::asio::io_context io_;
  boost::asio::ip::tcp::acceptor acceptor_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

TEST(HttpRepositoryClient, CallsTheReplicaAndReportsAnswers) {
  FakeRepositoryServer server;
  std::atomic<int> wakes{0};
  HttpRepositoryClient client("tok", [&] { ++wakes; });
  const std::string base = "http://127.0.0.1:" + std::to_string(server.port());
  client.Submit({RepositoryCall::kIndex, 7, 1, base, "", ""});
  client.Submit({RepositoryCall::kLoad, 7, 1, base, "a", "/t/a"});
  client.Submit({RepositoryCall::kLoad, 7, 1, base, "big", "/t/big"});
  client.Submit({RepositoryCall::kUnload, 7, 1, "http://127.0.0.1:1", "a", ""});  // nothing listens there
  std::vector<RepositoryAnswer> got;
  for (int i = 0; i < 500 && got.size() < 4; ++i) {
    for (auto& a : client.TakeAnswers()) got.push_back(std::move(a));
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ASSERT_EQ(got.size(), 4u);
  EXPECT_EQ(wakes.load(), 4);
  for (const auto& a : got) {
    EXPECT_EQ(a.call.replica, 7u);
    if (a.call.kind == RepositoryCall::kIndex) {
      EXPECT_EQ(a.http_status, 200);
      EXPECT_EQ(ParseIndexStates(a.body).ready, std::vector<std::string>{"a"});
    } else if (a.call.kind == RepositoryCall::kUnload) {
      EXPECT_EQ(a.http_status, 0);
      EXPECT_FALSE(a.error.empty());
    } else if (a.call.model == "big") {
      EXPECT_EQ(a.http_status, 507);
      EXPECT_EQ(RepositoryError(a.http_status, a.body), "model big does not fit the memory budget");
    } else {
      EXPECT_EQ(a.http_status, 200);
      EXPECT_EQ(a.call.target, "/t/a");
    }
  }
}

}  // namespace
}  // namespace inferd::control
