// Tests of ModelRepository's memory budget (model/repository.h) with real XGBoost models: a model a request
// holds is never evicted, an evicted model is reloaded by WaitForReload (one load for concurrent waiters), an
// explicit unload of an evicted model is for real, a model larger than the budget is kExceedsMemoryBudget, and
// without a budget nothing is evicted.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

#include "backends/xgboost/xgboost_backend.h"
#include "model/repository.h"

namespace inferd {
namespace {

std::string TestModel(const char* name) { return std::string(INFERD_TEST_MODELS) + "/" + name; }

std::string StateOf(const ModelRepository& repo, const std::string& name, std::string* reason = nullptr) {
  for (const auto& e : repo.Index()) {
    if (e.name != name) continue;
    if (reason) *reason = e.reason;
    return e.state;
  }
  return "<absent>";
}

size_t BytesOf(const ModelRepository& repo, const std::string& name) {
  for (const auto& m : repo.MemoryStats().models)
    if (m.name == name) return m.bytes;
  return 0;
}

uint64_t LoadsOf(const ModelRepository& repo, const std::string& name) {
  for (const auto& m : repo.MemoryStats().models)
    if (m.name == name) return m.loads;
  return 0;
}

class BudgetedRepository : public ::testing::Test {
 protected:
  void SetUp() override {
    registry_.Register(NewXgboostBackendFactory());
    // The size of one copy of the model, measured without a budget (loads then overlap nothing here either).
    ModelRepository probe(&registry_, RepositoryOptions{});
    ASSERT_TRUE(probe.AddSource("p", TestModel("xgb_regressor")).ok());
    ASSERT_TRUE(probe.Load("p").ok());  // the first load also pays XGBoost's one-time set-up
    ASSERT_TRUE(probe.Load("p").ok());
    one_ = BytesOf(probe, "p");
    ASSERT_GE(one_, kMinModelBytes);
  }
  // A repository with models a, b, c, d (copies of one) and `budget` bytes.
  std::unique_ptr<ModelRepository> Make(size_t budget) {
    RepositoryOptions o;
    o.memory_budget = budget;
    auto repo = std::make_unique<ModelRepository>(&registry_, o);
    for (const char* n : {"a", "b", "c", "d"}) EXPECT_TRUE(repo->AddSource(n, TestModel("xgb_regressor")).ok());
    return repo;
  }
  BackendRegistry registry_;
  size_t one_ = 0;
};

TEST_F(BudgetedRepository, LeastRecentlyUsedIsEvictedAndAModelInUseNever) {
  auto repo = Make(one_ * 5 / 2);  // room for two (a load's figure varies by ~10%)
  ASSERT_TRUE(repo->Load("a").ok());
  ASSERT_TRUE(repo->Load("b").ok());
  auto held = repo->Get("a");  // a request holds "a" (and a is now more recent than b)
  ASSERT_TRUE(held.ok());
  ASSERT_TRUE(repo->Load("c").ok());
  EXPECT_EQ(StateOf(*repo, "a"), "READY");
  std::string reason;
  EXPECT_EQ(StateOf(*repo, "b", &reason), "UNAVAILABLE");
  EXPECT_NE(reason.find("evicted: memory budget"), std::string::npos) << reason;
  EXPECT_TRUE(repo->Evicted("b"));
  EXPECT_TRUE(repo->AllReady());  // an evicted model does not make the server unready
  // "a" is the least recently used now, but held: loading "d" evicts "c" instead.
  ASSERT_TRUE(repo->Load("d").ok());
  EXPECT_EQ(StateOf(*repo, "a"), "READY");
  EXPECT_EQ(StateOf(*repo, "c"), "UNAVAILABLE");
  held = Status(StatusCode::kInternal, "released");  // the request ends
  ASSERT_TRUE(repo->Load("b").ok());  // now "a" (least recently used, free) goes
  EXPECT_EQ(StateOf(*repo, "a"), "UNAVAILABLE");
  EXPECT_EQ(StateOf(*repo, "d"), "READY");
}

TEST_F(BudgetedRepository, ConcurrentWaitersShareOneReload) {
  auto repo = Make(one_ * 5 / 2);
  for (const char* n : {"a", "b", "c"}) ASSERT_TRUE(repo->Load(n).ok());
  ASSERT_TRUE(repo->Evicted("a"));
  const uint64_t loads_before = LoadsOf(*repo, "a");
  std::atomic<int> ok{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&] {
      auto waiter = repo->AdmitReloadWaiter("a");
      if (!waiter.ok()) return;
      auto m = repo->WaitForReload(*waiter, "a", "", std::chrono::steady_clock::now() + std::chrono::seconds(60));
      if (m.ok() && (*m)->name() == "a") ok++;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), 8);
  EXPECT_EQ(LoadsOf(*repo, "a"), loads_before + 1);
  EXPECT_EQ(StateOf(*repo, "a"), "READY");
}

TEST_F(BudgetedRepository, WaitersBeyondTheBoundAreRefused) {
  RepositoryOptions o;
  o.memory_budget = one_ * 10;
  o.max_reload_waiters = 2;
  ModelRepository repo(&registry_, o);
  auto w1 = repo.AdmitReloadWaiter("a");
  auto w2 = repo.AdmitReloadWaiter("a");
  ASSERT_TRUE(w1.ok() && w2.ok());
  auto w3 = repo.AdmitReloadWaiter("a");
  EXPECT_EQ(w3.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(w3.status().message().find("--max_reload_waiters"), std::string::npos);
  { ReloadWaiter gone = std::move(*w1); }  // one leaves
  EXPECT_TRUE(repo.AdmitReloadWaiter("a").ok());
}

TEST_F(BudgetedRepository, UnloadOfAnEvictedModelIsForReal) {
  auto repo = Make(one_ * 5 / 2);
  for (const char* n : {"a", "b", "c"}) ASSERT_TRUE(repo->Load(n).ok());
  ASSERT_TRUE(repo->Evicted("a"));
  ASSERT_TRUE(repo->Unload("a").ok());
  EXPECT_FALSE(repo->Evicted("a"));
  EXPECT_EQ(repo->Get("a").status().code(), StatusCode::kNotFound);
  auto waiter = repo->AdmitReloadWaiter("a");
  ASSERT_TRUE(waiter.ok());
  auto m = repo->WaitForReload(*waiter, "a", "", std::chrono::steady_clock::now() + std::chrono::seconds(5));
  EXPECT_EQ(m.status().code(), StatusCode::kNotFound);  // not loaded on demand
}

TEST_F(BudgetedRepository, ModelLargerThanTheBudgetIsResourceExhausted) {
  auto repo = Make(one_ / 2);
  Status st = repo->Load("a");
  EXPECT_EQ(st.code(), kExceedsMemoryBudget) << st.ToString();
  EXPECT_TRUE(IsMemoryBudgetRefusal(st));
  EXPECT_NE(st.message().find("'a'"), std::string::npos);
  EXPECT_NE(st.message().find("memory budget"), std::string::npos);
  EXPECT_NE(st.message().find(std::to_string(one_ / 2)), std::string::npos) << st.message();
  EXPECT_EQ(StateOf(*repo, "a"), "UNAVAILABLE");
  EXPECT_FALSE(repo->Evicted("a"));  // never loaded again on demand: it can never fit
  EXPECT_FALSE(repo->Get("a").ok());
}

TEST_F(BudgetedRepository, ModelsServedWholeAreNeverEvicted) {
  auto repo = Make(one_ * 3 / 2);  // room for one
  auto factory = NewXgboostBackendFactory();
  const std::string dir = TestModel("xgb_regressor");
  auto backend = factory->Load(LoadOptions{"script", dir, dir + "/model.json"});
  ASSERT_TRUE(backend.ok()) << backend.status().ToString();
  ASSERT_TRUE(repo->AddLoaded("script", std::move(*backend)).ok());  // a custom model a script registered
  ASSERT_TRUE(repo->Load("a").ok());
  ASSERT_TRUE(repo->Load("b").ok());
  EXPECT_EQ(StateOf(*repo, "script"), "READY");  // it could never be read again: not a candidate
  EXPECT_EQ(StateOf(*repo, "a"), "UNAVAILABLE");
  EXPECT_EQ(StateOf(*repo, "b"), "READY");
}

TEST_F(BudgetedRepository, WithoutABudgetNothingIsEvicted) {
  auto repo = Make(0);
  for (const char* n : {"a", "b", "c", "d"}) ASSERT_TRUE(repo->Load(n).ok());
  for (const char* n : {"a", "b", "c", "d"}) {
    EXPECT_EQ(StateOf(*repo, n), "READY") << n;
    EXPECT_GE(BytesOf(*repo, n), kMinModelBytes) << n;  // measured all the same (metrics)
  }
}

}  // namespace
}  // namespace inferd
