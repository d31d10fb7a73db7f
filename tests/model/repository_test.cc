// Tests of ModelRepository's readiness with models loaded in parallel (the model server's start-up):
// a model declared with ExpectLoad keeps AllReady false until it is loaded, even before its Load begins.
#include "model/repository.h"

#include <gtest/gtest.h>

#include <string>

#include "backends/xgboost/xgboost_backend.h"

namespace inferd {
namespace {

std::string Model(const char* name) { return std::string(INFERD_TEST_MODELS) + "/" + name; }

std::string StateOf(const ModelRepository& repo, const std::string& name, std::string* reason = nullptr) {
  for (const auto& e : repo.Index()) {
    if (e.name != name) continue;
    if (reason) *reason = e.reason;
    return e.state;
  }
  return "<absent>";
}

TEST(ModelRepository, ExpectedModelsKeepItNotReadyUntilTheLastOneLoads) {
  BackendRegistry registry;
  registry.Register(NewXgboostBackendFactory());
  ModelRepository repo(&registry, RepositoryOptions{});
  repo.AddSource("a", Model("xgb_iris_softprob"));
  repo.AddSource("b", Model("xgb_binary"));
  repo.ExpectLoad("a");
  repo.ExpectLoad("b");
  EXPECT_FALSE(repo.AllReady());
  EXPECT_EQ(StateOf(repo, "b"), "LOADING");
  ASSERT_TRUE(repo.Load("a").ok());
  EXPECT_FALSE(repo.AllReady());  // b's load has not even begun: without ExpectLoad this was true
  EXPECT_EQ(StateOf(repo, "a"), "READY");
  ASSERT_TRUE(repo.Load("b").ok());
  EXPECT_TRUE(repo.AllReady());
}

TEST(ModelRepository, ExpectedModelThatDoesNotExistIsUnavailable) {
  BackendRegistry registry;
  registry.Register(NewXgboostBackendFactory());
  ModelRepository repo(&registry, RepositoryOptions{});
  repo.AddSource("a", Model("xgb_iris_softprob"));
  repo.ExpectLoad("a");
  repo.ExpectLoad("ghost");
  ASSERT_TRUE(repo.Load("a").ok());
  Status st = repo.Load("ghost");
  EXPECT_EQ(st.code(), StatusCode::kNotFound) << st.ToString();
  std::string reason;
  EXPECT_EQ(StateOf(repo, "ghost", &reason), "UNAVAILABLE");
  EXPECT_EQ(reason, st.message());
  EXPECT_FALSE(repo.AllReady());  // a model that was asked for is missing: not ready
}

}  // namespace
}  // namespace inferd
