// The scikit-learn runtime end to end: a real `inferd model-server` serving the models of
// scripts/gen_sklearn_test_models.py from a model repository, driven over REST with libcurl, answering
// KServe's sklearn iris sample and every model's test rows as scikit-learn did.
#include <gtest/gtest.h>
#include <simdjson.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "util/test_util.h"

namespace inferd::testing {
namespace {

std::string Repo() { return ModelsDir() + "/sklearn"; }

// The instances and scikit-learn's predict() of one test model, as JSON texts.
struct Sample {
  std::string instances;
  std::string predictions;
};

Sample ReadSample(const std::string& name) {
  simdjson::dom::parser parser;
  simdjson::dom::element doc = parser.load(Repo() + "/" + name + ".expected.json");
  return {simdjson::minify(doc["instances"]), simdjson::minify(doc["predict"])};
}

class SklearnServer : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    server_ = ServerProcess::StartReady({"--model_repository", Repo()}, &error_, 60000).release();
  }
  void SetUp() override { ASSERT_NE(server_, nullptr) << error_; }  // fails, never skips (util/test_util.h)
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
  }
  static int port() { return server_->http_port(); }
  static ServerProcess* server_;
  static std::string error_;
};
ServerProcess* SklearnServer::server_ = nullptr;
std::string SklearnServer::error_;

TEST_F(SklearnServer, KServeIrisSampleAnswersClassIds) {
  // KServe's sklearn sample request (docs: "sklearn-iris"), answered like sklearnserver does.
  auto r = HttpPost(port(), "/v1/models/sklearn-iris-logreg:predict",
                    R"({"instances":[[6.8,2.8,4.8,1.4],[6.0,3.4,4.5,1.6]]})");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.body, R"({"predictions":[1,1]})");
}

TEST_F(SklearnServer, EveryModelAnswersItsTestRowsOverV1) {
  for (const char* name : {"sklearn-iris-rf", "sklearn-iris-pipeline", "sklearn-iris-gbc", "sklearn-iris-hgbc",
                           "sklearn-iris-knn", "sklearn-iris-onehot", "sklearn-iris-strlabels",
                           "sklearn-binary-logreg", "sklearn-iris-linearsvc"}) {
    SCOPED_TRACE(name);
    Sample s = ReadSample(name);
    auto r = HttpPost(port(), std::string("/v1/models/") + name + ":predict", "{\"instances\":" + s.instances + "}");
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(r.body, "{\"predictions\":" + s.predictions + "}");
  }
}

TEST_F(SklearnServer, RegressorsAnswerWithinTolerance) {
  simdjson::dom::parser expected_parser, got_parser;
  for (const char* name : {"sklearn-diabetes-ridge", "sklearn-diabetes-gbr", "sklearn-diabetes-hgbr",
                           "sklearn-diabetes-rfr", "sklearn-diabetes-pipeline"}) {
    SCOPED_TRACE(name);
    Sample s = ReadSample(name);
    auto r = HttpPost(port(), std::string("/v1/models/") + name + ":predict", "{\"instances\":" + s.instances + "}");
    ASSERT_EQ(r.status, 200) << r.body;
    simdjson::dom::array want = expected_parser.parse(s.predictions).get_array();
    simdjson::dom::array got = got_parser.parse(r.body)["predictions"].get_array();
    ASSERT_EQ(got.size(), want.size());
    auto g = got.begin();
    for (simdjson::dom::element w : want) {
      double wv = w.get_double(), gv = (*g).get_double();
      EXPECT_NEAR(gv, wv, 1e-9 * std::max(1.0, std::fabs(wv)));
      ++g;
    }
  }
}

TEST_F(SklearnServer, V2AnswersLabelsAndRequestedProbabilities) {
  auto r = HttpPost(port(), "/v2/models/sklearn-iris-logreg/infer",
                    R"({"id":"r1","inputs":[{"name":"input-0","shape":[1,4],"datatype":"FP32","data":[6.8,2.8,4.8,1.4]}],)"
                    R"("outputs":[{"name":"output-0"},{"name":"probabilities"}]})");
  ASSERT_EQ(r.status, 200) << r.body;
  simdjson::dom::parser parser;
  simdjson::dom::element doc = parser.parse(r.body);
  EXPECT_EQ(std::string_view(doc["id"].get_string()), "r1");
  simdjson::dom::array outs = doc["outputs"].get_array();
  ASSERT_EQ(outs.size(), 2u);
  auto it = outs.begin();
  simdjson::dom::element label = *it;
  simdjson::dom::element proba = *++it;
  EXPECT_EQ(std::string_view(label["datatype"].get_string()), "INT64");
  EXPECT_EQ(int64_t(label["data"].at(0).get_int64()), 1);
  EXPECT_EQ(std::string_view(proba["datatype"].get_string()), "FP64");
  EXPECT_EQ(simdjson::minify(proba["shape"]), "[1,3]");
  double sum = 0;
  for (simdjson::dom::element p : proba["data"].get_array()) sum += p.get_double();
  EXPECT_NEAR(sum, 1.0, 1e-12);

  // Metadata says which path each model took.
  auto md = HttpGet(port(), "/v2/models/sklearn-iris-logreg");
  ASSERT_EQ(md.status, 200);
  EXPECT_NE(md.body.find(R"("parameters":{"execution":"native"})"), std::string::npos) << md.body;
  md = HttpGet(port(), "/v2/models/sklearn-iris-knn");
  EXPECT_NE(md.body.find(R"("parameters":{"execution":"python"})"), std::string::npos) << md.body;
}

TEST_F(SklearnServer, BadInputIsAClientError) {
  auto r = HttpPost(port(), "/v1/models/sklearn-iris-logreg:predict", R"({"instances":[[1,2,3]]})");
  EXPECT_EQ(r.status, 400) << r.body;
  // A NaN cannot be written in JSON; a string where a number belongs is refused before the model.
  r = HttpPost(port(), "/v1/models/sklearn-iris-logreg:predict", R"({"instances":[["a","b","c","d"]]})");
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_EQ(HttpGet(port(), "/v2/health/live").status, 200);
}

// KServe's PREDICT_PROBA=true: V1 predictions are probabilities, through the native path and Python's.
TEST(SklearnPredictProba, EnvironmentSwitchAnswersProbabilities) {
  ::setenv("PREDICT_PROBA", "true", 1);
  auto server = ServerProcess::Start({"--model_repository", Repo(), "--load_model", "sklearn-iris-logreg",
                                      "--load_model", "sklearn-iris-knn"});
  ::unsetenv("PREDICT_PROBA");
  ASSERT_NE(server, nullptr);
  ASSERT_TRUE(server->WaitReady(60000)) << server->Output();
  for (const char* name : {"sklearn-iris-logreg", "sklearn-iris-knn"}) {
    SCOPED_TRACE(name);
    auto r = HttpPost(server->http_port(), std::string("/v1/models/") + name + ":predict",
                      R"({"instances":[[6.8,2.8,4.8,1.4]]})");
    ASSERT_EQ(r.status, 200) << r.body;
    simdjson::dom::parser parser;
    simdjson::dom::array rows = parser.parse(r.body)["predictions"].get_array();
    ASSERT_EQ(rows.size(), 1u);
    simdjson::dom::array row = (*rows.begin()).get_array();
    EXPECT_EQ(row.size(), 3u) << r.body;
    double sum = 0;
    for (simdjson::dom::element p : row) sum += p.get_double();
    EXPECT_NEAR(sum, 1.0, 1e-12) << r.body;
  }
}

// `inferd model-server` on the test repository loading just `models` (plus `extra` flags), ready.
std::unique_ptr<ServerProcess> StartWith(const std::vector<const char*>& models, std::vector<std::string> extra = {}) {
  std::vector<std::string> args = {"--model_repository", Repo()};
  for (const char* m : models) args.insert(args.end(), {"--load_model", m});
  args.insert(args.end(), extra.begin(), extra.end());
  auto server = ServerProcess::Start(args);
  if (server && !server->WaitReady(60000)) {
    ADD_FAILURE() << "not ready:\n" << server->Output();
    return nullptr;
  }
  return server;
}

// INFERD_COMPILED_CACHE: the first server compiles in Python and leaves records; a second one loads the
// same files from them without starting Python, and answers exactly as scikit-learn did (integer, string
// and float labels, a pipeline, a forest).
TEST(SklearnCompiledCache, SecondLoadSkipsPythonAndAnswersTheSame) {
  std::string cache = ::testing::TempDir() + "/inferd-compiled-" + std::to_string(::getpid());
  std::filesystem::remove_all(cache);
  const std::vector<const char*> models = {"sklearn-iris-rf", "sklearn-iris-pipeline", "sklearn-iris-strlabels",
                                           "sklearn-diabetes-gbr", "sklearn-iris-logreg"};
  ::setenv("INFERD_COMPILED_CACHE", cache.c_str(), 1);
  for (int round = 0; round < 2; ++round) {
    SCOPED_TRACE(round == 0 ? "compiling" : "from the records");
    auto server = StartWith(models);
    ASSERT_NE(server, nullptr);
    for (const char* name : models) {
      SCOPED_TRACE(name);
      Sample s = ReadSample(name);
      auto r = HttpPost(server->http_port(), std::string("/v1/models/") + name + ":predict",
                        "{\"instances\":" + s.instances + "}");
      ASSERT_EQ(r.status, 200) << r.body;
      if (std::string(name) == "sklearn-diabetes-gbr") continue;  // a regressor: compared with tolerance above
      EXPECT_EQ(r.body, "{\"predictions\":" + s.predictions + "}");
    }
    std::string out = server->Output();
    size_t from_records = 0;
    for (size_t pos = 0; (pos = out.find("Python not started", pos)) != std::string::npos; ++pos) ++from_records;
    EXPECT_EQ(from_records, round == 0 ? 0u : models.size()) << out;
    server->Terminate();
  }
  ::unsetenv("INFERD_COMPILED_CACHE");
  size_t records = 0;
  for (const auto& e : std::filesystem::directory_iterator(cache)) records += e.path().extension() == ".json";
  EXPECT_EQ(records, models.size());
  std::filesystem::remove_all(cache);
}

// Start-up loads run in parallel on the slow-work pool. Unpickling imports scikit-learn, and two threads
// importing it at once used to get it half initialized ("cannot import name 'clone' from partially initialized
// module 'sklearn.base'"); with four threads and four models that failed every time. The server must also
// not report ready before the last of them is loaded.
TEST(SklearnParallelLoads, FourModelsOnFourThreadsAllLoad) {
  const std::vector<const char*> models = {"sklearn-iris-gbc", "sklearn-diabetes-gbr", "sklearn-iris-et",
                                           "sklearn-diabetes-pipeline"};
  auto server = StartWith(models, {"--max_threads", "4"});
  ASSERT_NE(server, nullptr);
  for (const char* name : models) {
    SCOPED_TRACE(name);
    Sample s = ReadSample(name);
    auto r = HttpPost(server->http_port(), std::string("/v1/models/") + name + ":predict",
                      "{\"instances\":" + s.instances + "}");
    ASSERT_EQ(r.status, 200) << r.body << server->Output();
  }
  EXPECT_EQ(server->Output().find("failed to load"), std::string::npos) << server->Output();
}

}  // namespace
}  // namespace inferd::testing
