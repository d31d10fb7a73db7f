// Tests of ModelRepository: readiness with models loaded in parallel (the model server's start-up: a model
// declared with ExpectLoad keeps AllReady false until it is loaded, even before its Load begins), the one
// definition of a valid model name, and the bound on the models it knows.
#include "model/repository.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
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
  ASSERT_TRUE(repo.AddSource("a", Model("xgb_iris_softprob")).ok());
  ASSERT_TRUE(repo.AddSource("b", Model("xgb_binary")).ok());
  ASSERT_TRUE(repo.ExpectLoad("a").ok());
  ASSERT_TRUE(repo.ExpectLoad("b").ok());
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
  ASSERT_TRUE(repo.AddSource("a", Model("xgb_iris_softprob")).ok());
  ASSERT_TRUE(repo.ExpectLoad("a").ok());
  ASSERT_TRUE(repo.ExpectLoad("ghost").ok());
  ASSERT_TRUE(repo.Load("a").ok());
  Status st = repo.Load("ghost");
  EXPECT_EQ(st.code(), StatusCode::kNotFound) << st.ToString();
  std::string reason;
  EXPECT_EQ(StateOf(repo, "ghost", &reason), "UNAVAILABLE");
  EXPECT_EQ(reason, st.message());
  EXPECT_FALSE(repo.AllReady());  // a model that was asked for is missing: not ready
}

TEST(ValidateModelName, KServeAndTritonNamesPass) {
  for (const char* name : {"sklearn-iris", "iris", "densenet_onnx", "model.v2", "A1", "_private", "x", "m-0.1_b",
                           "123"}) {
    EXPECT_TRUE(ValidateModelName(name).ok()) << name << ": " << ValidateModelName(name).ToString();
  }
  EXPECT_TRUE(ValidateModelName(std::string(kMaxModelNameLength, 'a')).ok());
}

TEST(ValidateModelName, EverythingElseIsRefusedWithoutEchoingTheName) {
  const std::string nul("m\0x", 3);
  for (const std::string& name : {std::string(), nul, std::string("."), std::string(".."), std::string("../etc"),
                                  std::string("a/b"), std::string("a\\b"), std::string(".hidden"),
                                  std::string("-flag"), std::string("a b"), std::string("a\nb"),
                                  std::string("a\x7f"), std::string("a:predict"), std::string("a%00"),
                                  std::string("a..b"), std::string("\xc3\xa9t\xc3\xa9"),
                                  std::string(kMaxModelNameLength + 1, 'a')}) {
    Status st = ValidateModelName(name);
    EXPECT_EQ(st.code(), StatusCode::kInvalidArgument) << "'" << name << "'";
    for (char c : st.message()) EXPECT_TRUE(c >= 0x20 && c < 0x7f) << "unprintable byte in: " << st.message();
  }
  EXPECT_NE(ValidateModelName(nul).message().find("\\x00"), std::string::npos) << ValidateModelName(nul).message();
}

class RepositoryRoot : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = std::filesystem::temp_directory_path() /
            ("inferd_repo_test_" + std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()));
    std::filesystem::remove_all(root_);
    for (const char* m : {"a", "b", "c"}) {
      std::filesystem::create_directories(root_ / m);
      std::filesystem::copy_file(Model("xgb_binary") + "/model.json", root_ / m / "model.json");
    }
    registry_.Register(NewXgboostBackendFactory());
  }
  void TearDown() override { std::filesystem::remove_all(root_); }
  std::filesystem::path root_;
  BackendRegistry registry_;
};

TEST_F(RepositoryRoot, HostileNamesNeverReachTheFilesystemOrTheIndex) {
  RepositoryOptions o;
  o.repository_root = root_.string();
  ModelRepository repo(&registry_, o);
  std::filesystem::create_directories(root_ / ".git");  // not a model name: not listed
  std::filesystem::create_directories(root_ / "my model");
  const size_t before = repo.Index().size();
  EXPECT_EQ(before, 3u);
  for (int i = 0; i < 5000; ++i) {
    // "a\0<i>": a C string of "a", the directory that exists.
    Status st = repo.Load(std::string("a\0", 2) + std::to_string(i));
    ASSERT_EQ(st.code(), StatusCode::kInvalidArgument) << st.ToString();
    ASSERT_EQ(repo.Load("missing-" + std::to_string(i)).code(), StatusCode::kNotFound);
  }
  EXPECT_EQ(repo.Index().size(), before);
  EXPECT_EQ(repo.Load("my model").code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(repo.Unload(std::string("a\0", 2)).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(repo.Get(std::string("a\0", 2)).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(repo.Get("nope").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(repo.AddSource("../x", root_.string()).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(repo.ExpectLoad("a/b").code(), StatusCode::kInvalidArgument);
}

TEST_F(RepositoryRoot, AtMostMaxModelsAreKnown) {
  RepositoryOptions o;
  o.repository_root = root_.string();
  o.max_models = 2;
  ModelRepository repo(&registry_, o);
  ASSERT_TRUE(repo.Load("a").ok());
  ASSERT_TRUE(repo.Load("b").ok());
  Status st = repo.Load("c");
  EXPECT_EQ(st.code(), StatusCode::kUnavailable) << st.ToString();
  EXPECT_NE(st.message().find("--max_models"), std::string::npos) << st.message();
  EXPECT_EQ(repo.ExpectLoad("c").code(), StatusCode::kUnavailable);
  EXPECT_TRUE(repo.Load("a").ok()) << "a reload of a known model is not a new entry";
  ASSERT_TRUE(repo.Unload("b").ok());
  EXPECT_TRUE(repo.Load("c").ok()) << "an unload makes room";
  // The index lists at most max_models repository directories (plus the models it knows).
  EXPECT_LE(repo.Index().size(), 3u);
}

}  // namespace
}  // namespace inferd
