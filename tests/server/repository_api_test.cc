// The repository API (Triton's /v2/repository/...) of a real `inferd model-server` against hostile use:
// names with NUL, control bytes and traversal (refused, never an index entry), the bound on the models
// a server knows (--max_models), and the bearer token the mutating verbs need when one is configured
// (--repository_token_file, INFERD_REPOSITORY_TOKEN).
#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "util/test_util.h"

namespace inferd::testing {
namespace {

namespace fs = std::filesystem;

// A repository of three copies of the binary XGBoost model (a, b, c), removed with the test.
class Repo {
 public:
  Repo() : root_(fs::temp_directory_path() / ("inferd_repo_api_" + std::to_string(::getpid()) + "_" + Name())) {
    fs::remove_all(root_);
    for (const char* m : {"a", "b", "c"}) {
      fs::create_directories(root_ / m);
      fs::copy_file(ModelsDir() + "/xgb_binary/model.json", root_ / m / "model.json");
    }
  }
  ~Repo() { fs::remove_all(root_); }
  std::string path() const { return root_.string(); }
  std::string File(const std::string& name, const std::string& text) const {
    std::ofstream(root_ / name) << text;
    return (root_ / name).string();
  }

 private:
  static std::string Name() { return ::testing::UnitTest::GetInstance()->current_test_info()->name(); }
  fs::path root_;
};

size_t IndexEntries(int port) {
  std::string body = HttpPost(port, "/v2/repository/index", "").body;
  size_t n = 0;
  for (size_t p = body.find("\"name\""); p != std::string::npos; p = body.find("\"name\"", p + 1)) ++n;
  return n;
}

TEST(RepositoryApi, NulAndTraversalNamesAreRefusedAndNeverGrowTheIndex) {
  Repo repo;
  std::string error;
  auto s = ServerProcess::StartReady({"--model_repository", repo.path(), "--load_model", "a"}, &error);
  ASSERT_NE(s, nullptr) << error;
  const int port = s->http_port();
  const size_t before = IndexEntries(port);
  EXPECT_EQ(before, 3u);
  // The issue's probe: 5,000 loads of m%00<i> grew the index by 5,000 ("a\0<i>" opened the directory "a").
  for (int i = 0; i < 5000; ++i) {
    auto r = HttpPost(port, "/v2/repository/models/a%00" + std::to_string(i) + "/load", "");
    ASSERT_EQ(r.status, 400) << i << ": " << r.body;
  }
  EXPECT_NE(HttpPost(port, "/v2/repository/models/a%00x/load", "").body.find("\\\\x00"), std::string::npos);
  // (a literal ".." segment is resolved away by curl before it is sent: ..%2F carries it)
  for (const char* bad : {"..%2Fetc", "%2E%2E", "a%2Fb", ".git", "a%20b", "a%0Ab", "%7F", "-a", "a:b"}) {
    EXPECT_EQ(HttpPost(port, std::string("/v2/repository/models/") + bad + "/load", "").status, 400) << bad;
    EXPECT_EQ(HttpPost(port, std::string("/v2/repository/models/") + bad + "/unload", "").status, 400) << bad;
  }
  for (int i = 0; i < 200; ++i) {  // well-formed names of models that do not exist: 404, no entry either
    ASSERT_EQ(HttpPost(port, "/v2/repository/models/absent" + std::to_string(i) + "/load", "").status, 404);
  }
  EXPECT_EQ(IndexEntries(port), before);
  // Inference and readiness paths refuse them the same way.
  EXPECT_EQ(HttpPost(port, "/v2/models/a%00/infer", R"({"inputs":[]})").status, 400);
  EXPECT_EQ(HttpGet(port, "/v2/models/a%00/ready").status, 400);
  EXPECT_EQ(HttpGet(port, "/v1/models/a%00").status, 400);
  EXPECT_EQ(HttpGet(port, "/v2/models/a/ready").status, 200);
  EXPECT_TRUE(s->Alive());
}

TEST(RepositoryApi, MaxModelsBoundsWhatTheServerKnows) {
  Repo repo;
  std::string error;
  auto s = ServerProcess::StartReady(
      {"--model_repository", repo.path(), "--load_model", "a", "--max_models", "2"}, &error);
  ASSERT_NE(s, nullptr) << error;
  const int port = s->http_port();
  EXPECT_EQ(HttpPost(port, "/v2/repository/models/b/load", "").status, 200);
  auto r = HttpPost(port, "/v2/repository/models/c/load", "");
  EXPECT_EQ(r.status, 503) << r.body;
  EXPECT_NE(r.body.find("--max_models"), std::string::npos) << r.body;
  EXPECT_EQ(HttpPost(port, "/v2/repository/models/a/unload", "").status, 200);
  EXPECT_EQ(HttpPost(port, "/v2/repository/models/c/load", "").status, 200);
  // Out of range: a start error, not a server with no room.
  EXPECT_EQ(ServerProcess::Start({"--model_repository", repo.path(), "--max_models", "0"}), nullptr);
}

// Load and unload need the token; index, health and inference do not.
void ExpectTokenGuards(int port, const std::string& token) {
  for (const std::string verb : {"load", "unload"}) {
    const std::string path = "/v2/repository/models/b/" + verb;
    for (const std::string& header :
         std::vector<std::string>{"", "Authorization: Bearer wrong", "Authorization: " + token,
                                  "Authorization: Basic " + token, "Authorization: Bearer " + token + "x"}) {
      std::vector<std::string> headers;
      if (!header.empty()) headers.push_back(header);
      auto r = HttpRequest(port, "POST", path, "", headers);
      EXPECT_EQ(r.status, 401) << verb << " with '" << header << "': " << r.body;
      EXPECT_EQ(r.headers["www-authenticate"], "Bearer");
    }
    auto r = HttpRequest(port, "POST", path, "", {"Authorization: Bearer " + token});
    EXPECT_EQ(r.status, 200) << verb << ": " << r.body;
  }
  EXPECT_EQ(HttpPost(port, "/v2/repository/index", "").status, 200);
  EXPECT_EQ(HttpGet(port, "/v2/health/ready").status, 200);
  EXPECT_EQ(HttpPost(port, "/v2/models/a/infer",
                     R"({"inputs":[{"name":"input-0","shape":[1,5],"datatype":"FP32","data":[1,2,3,4,5]}]})")
                .status,
            200);
}

TEST(RepositoryApi, TokenFromFileGuardsLoadAndUnload) {
  Repo repo;
  std::string file = repo.File("token", "s3cret-token\n");
  std::string error;
  auto s = ServerProcess::StartReady(
      {"--model_repository", repo.path(), "--load_model", "a", "--repository_token_file", file}, &error);
  ASSERT_NE(s, nullptr) << error;
  ExpectTokenGuards(s->http_port(), "s3cret-token");
  // A token file that cannot be read, or is empty, stops the server before it starts.
  EXPECT_EQ(ServerProcess::Start({"--model_repository", repo.path(), "--repository_token_file", "/nonexistent"}),
            nullptr);
  EXPECT_EQ(ServerProcess::Start({"--model_repository", repo.path(), "--repository_token_file", repo.File("e", "")}),
            nullptr);
}

TEST(RepositoryApi, TokenFromEnvironmentGuardsLoadAndUnload) {
  Repo repo;
  ::setenv("INFERD_REPOSITORY_TOKEN", "env-token", 1);
  std::string error;
  auto s = ServerProcess::StartReady({"--model_repository", repo.path(), "--load_model", "a"}, &error);
  ::unsetenv("INFERD_REPOSITORY_TOKEN");
  ASSERT_NE(s, nullptr) << error;
  ExpectTokenGuards(s->http_port(), "env-token");
}

TEST(RepositoryApi, WithoutATokenTheVerbsStayOpen) {  // as KServe's and Triton's model servers
  Repo repo;
  std::string error;
  auto s = ServerProcess::StartReady({"--model_repository", repo.path(), "--load_model", "a"}, &error);
  ASSERT_NE(s, nullptr) << error;
  EXPECT_EQ(HttpPost(s->http_port(), "/v2/repository/models/b/load", "").status, 200);
  EXPECT_EQ(HttpPost(s->http_port(), "/v2/repository/models/b/unload", "").status, 200);
}

// Triton's load body can override the model's configuration or files; inferd loads the files as they are, so
// such a body is refused naming the parameter instead of being ignored. Empty bodies and {} still load.
TEST(RepositoryApi, LoadParametersAreRefusedNotIgnored) {
  Repo repo;
  std::string error;
  auto s = ServerProcess::StartReady({"--model_repository", repo.path(), "--load_model", "a"}, &error);
  ASSERT_NE(s, nullptr) << error;
  const int port = s->http_port();
  auto r = HttpPost(port, "/v2/repository/models/b/load", R"({"parameters":{"config":"{\"max_batch_size\":8}"}})");
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_NE(r.body.find("parameters.config is not supported"), std::string::npos) << r.body;
  r = HttpPost(port, "/v2/repository/models/b/load", R"({"parameters":{"file:1/model.json":"AAAA"}})");
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_EQ(HttpPost(port, "/v2/repository/models/b/load", "[1]").status, 400);
  EXPECT_EQ(HttpPost(port, "/v2/repository/models/b/load", std::string(100000, '[')).status, 400);
  EXPECT_EQ(HttpPost(port, "/v2/repository/models/b/load", "{}").status, 200);
  EXPECT_EQ(HttpPost(port, "/v2/repository/models/c/load", "").status, 200);
  EXPECT_EQ(HttpPost(port, "/v2/repository/models/b/unload", R"({"parameters":{"unload_dependents":true}})").status,
            200);
  EXPECT_EQ(HttpPost(port, "/v2/repository/models/c/unload", R"({"parameters":{"other":1}})").status, 400);
}

}  // namespace
}  // namespace inferd::testing
