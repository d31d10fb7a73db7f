// Custom Python models end to end: `inferd model-server --python tests/data/custom_model.py`, a model
// written against KServe's Python API (kserve.Model with an async predict, ModelServer().start, the
// model_server.parser, InvalidInput), driven over V1 and V2 REST with libcurl.
#include <gtest/gtest.h>

#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <utility>

#include "util/test_util.h"

namespace inferd::testing {
namespace {

std::string Script() { return std::string(INFERD_SOURCE_DIR) + "/tests/data/custom_model.py"; }

class PythonModelServer : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    server_ = ServerProcess::StartReady({"--python", Script(), "--model_name", "doubler", "--python_arg",
                                         "--factor", "--python_arg", "3"},
                                        &error_, 60000)
                  .release();
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
ServerProcess* PythonModelServer::server_ = nullptr;
std::string PythonModelServer::error_;

TEST_F(PythonModelServer, V1BodyGoesThroughPreprocessPredictPostprocess) {
  auto r = HttpPost(port(), "/v1/models/doubler:predict", R"({"instances":[[1,2],[3,4]]})");
  ASSERT_EQ(r.status, 200) << r.body;
  // --model_name and --factor 3 reached the script's argparse; numpy results are serialized.
  EXPECT_EQ(r.body, R"({"predictions":[[3.0,6.0],[9.0,12.0]]})");
  auto list = HttpGet(port(), "/v1/models");
  EXPECT_NE(list.body.find("doubler"), std::string::npos) << list.body;
}

TEST_F(PythonModelServer, V2InputsArriveAsNumpyAndOutputsComeBack) {
  auto r = HttpPost(port(), "/v2/models/doubler/infer",
                    R"({"id":"q1","inputs":[{"name":"x","shape":[2,2],"datatype":"FP32","data":[1,2,3,4]}]})");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_NE(r.body.find(R"("id":"q1")"), std::string::npos) << r.body;
  EXPECT_NE(r.body.find(R"({"name":"output-0","datatype":"FP64","shape":[2,2],"data":[3.0,6.0,9.0,12.0]})"),
            std::string::npos)
      << r.body;
  EXPECT_NE(r.body.find(R"({"name":"sums","datatype":"FP64","shape":[2],"data":[3.0,7.0]})"), std::string::npos)
      << r.body;
  // Requested outputs are honoured by name.
  r = HttpPost(port(), "/v2/models/doubler/infer",
               R"({"inputs":[{"name":"x","shape":[1,2],"datatype":"INT64","data":[5,6]}],"outputs":[{"name":"sums"}]})");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.body.find("output-0"), std::string::npos) << r.body;
  EXPECT_NE(r.body.find(R"("data":[11.0])"), std::string::npos) << r.body;
  r = HttpPost(port(), "/v2/models/doubler/infer",
               R"({"inputs":[{"name":"x","shape":[1,2],"datatype":"FP32","data":[5,6]}],"outputs":[{"name":"nope"}]})");
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_NE(r.body.find("nope"), std::string::npos) << r.body;
}

TEST_F(PythonModelServer, ModelErrorsMapToStatusCodes) {
  // InvalidInput -> 400 with the model's message.
  auto r = HttpPost(port(), "/v1/models/doubler:predict", R"({"rows":[[1,2]]})");
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_NE(r.body.find("instances: missing from the request"), std::string::npos) << r.body;
  // Malformed JSON -> 400.
  r = HttpPost(port(), "/v1/models/doubler:predict", R"({"instances":[[1,2)");
  EXPECT_EQ(r.status, 400) << r.body;
  // Any other exception -> 500 for that request only, naming the error and the line.
  r = HttpPost(port(), "/v1/models/doubler:predict", R"({"instances":[[13,1]]})");
  EXPECT_EQ(r.status, 500) << r.body;
  EXPECT_NE(r.body.find("unlucky row"), std::string::npos) << r.body;
  EXPECT_NE(r.body.find("custom_model.py"), std::string::npos) << r.body;
  // A model whose ready flag is False when ModelServer().start is called is not registered, as in KServe
  // (model_server.py registers only the ready ones) -> 404.
  r = HttpPost(port(), "/v1/models/never-ready:predict", R"({"instances":[[1]]})");
  EXPECT_EQ(r.status, 404) << r.body;
  // The server is still up and answering.
  r = HttpPost(port(), "/v1/models/doubler:predict", R"({"instances":[[1]]})");
  EXPECT_EQ(r.status, 200) << r.body;
}

// Custom models get the V1 body whole, but not one nested deeper than every other body may be.
TEST_F(PythonModelServer, DeepBodiesAre400BeforePython) {
  const int d = 100000;
  for (const std::string& path : {std::string("/v1/models/doubler:predict"), std::string("/v2/models/doubler/infer")}) {
    auto r = HttpPost(port(), path, "{\"instances\":" + std::string(d, '[') + std::string(d, ']') + "}");
    EXPECT_EQ(r.status, 400) << r.body;
    EXPECT_NE(r.body.find("nested deeper than 64 levels"), std::string::npos) << r.body;
  }
  auto r = HttpPost(port(), "/v1/models/doubler:predict", R"({"instances":[[1]]})");
  EXPECT_EQ(r.status, 200) << r.body;
}

TEST(PythonModelScript, AFailingScriptStopsTheServerWithItsError) {
  auto dir = std::filesystem::temp_directory_path() / ("inferd-pyscript-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  {
    std::ofstream(dir / "broken.py") << "import kserve\nraise RuntimeError('cannot find the weights')\n";
    std::ofstream(dir / "silent.py") << "import kserve\n";
  }
  const std::pair<const char*, const char*> cases[] = {{"broken.py", "cannot find the weights"},
                                                       {"silent.py", "registered no model"}};
  for (const auto& [name, why] : cases) {
    SCOPED_TRACE(name);
    std::string cmd = InferdBin() + " model-server --http_port 0 --grpc_port 0 --python " + (dir / name).string() + " 2>&1";
    FILE* p = ::popen(cmd.c_str(), "r");
    ASSERT_NE(p, nullptr);
    std::string out;
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
    int status = ::pclose(p);
    EXPECT_NE(status, 0) << out;
    EXPECT_NE(out.find(why), std::string::npos) << out;
    EXPECT_EQ(out.find("listening"), std::string::npos) << out;
  }
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace inferd::testing
