// tests/storage/cache_gc_test.cc: the cache collector: its decision as a pure function, one run over a fake
// store, and one over a real Storage cache directory (listing, sizes, last use, busy entries, the trash).
#include "storage/cache_gc.h"

#include <gtest/gtest.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <map>

#include "storage/storage.h"

namespace inferd::storage {
namespace {

namespace fs = std::filesystem;

constexpr int64_t kNow = 1'700'000'000;

std::vector<std::string> Names(const CollectPlan& p) {
  std::vector<std::string> out;
  for (const auto& r : p.remove) out.push_back(r.name + ":" + r.reason);
  return out;
}

TEST(CachePlan, UnreferencedEntriesGoInUseOnesNever) {
  std::vector<CacheEntry> entries = {{"live", 100, kNow - 10}, {"gone", 200, kNow - 5}, {"running", 300, kNow - 99},
                                     {"downloading-elsewhere", 50, kNow}};
  CollectInputs in;
  in.referenced = {"live", "running"};
  in.in_use = {"running", "downloading-elsewhere"};
  in.budget_bytes = 10'000;
  in.now_s = kNow;
  CollectPlan p = PlanCollection(entries, in);
  EXPECT_EQ(Names(p), std::vector<std::string>{"gone:unreferenced"});
  EXPECT_EQ(p.bytes_before, 650u);
  EXPECT_EQ(p.bytes_after, 450u);
  EXPECT_FALSE(p.over_budget);
}

TEST(CachePlan, OverBudgetEvictsIdleReferencedEntriesLeastRecentlyUsedFirst) {
  std::vector<CacheEntry> entries = {{"a", 400, kNow - 300}, {"b", 400, kNow - 100}, {"c", 400, kNow - 200},
                                     {"hot", 400, kNow - 1000}, {"d", 400, kNow - 200}};
  CollectInputs in;
  in.referenced = {"a", "b", "c", "d", "hot"};
  in.in_use = {"hot"};  // the oldest, but running: never evicted
  in.budget_bytes = 1000;
  in.now_s = kNow;
  CollectPlan p = PlanCollection(entries, in);
  // 2000 bytes -> at most 1000: a (oldest idle), then c and d (same age: by name).
  EXPECT_EQ(Names(p), (std::vector<std::string>{"a:over budget", "c:over budget", "d:over budget"}));
  EXPECT_EQ(p.bytes_after, 800u);
  EXPECT_FALSE(p.over_budget);
  // A budget that even the in-use entries exceed: everything idle goes, and the plan says it is over.
  in.budget_bytes = 100;
  p = PlanCollection(entries, in);
  EXPECT_EQ(p.remove.size(), 4u);
  EXPECT_EQ(p.bytes_after, 400u);
  EXPECT_TRUE(p.over_budget);
  // Within budget: nothing referenced goes.
  in.budget_bytes = 1ull << 40;
  EXPECT_TRUE(PlanCollection(entries, in).remove.empty());
}

TEST(CachePlan, StaleTemporariesGoYoungOnesStayAndCount) {
  std::vector<CacheEntry> entries = {{".tmp-old", 10, kNow - 2 * 86400, true},
                                     {".tmp-young", 900, kNow - 60, true},
                                     {"m", 200, kNow - 10}};
  CollectInputs in;
  in.referenced = {"m"};
  in.budget_bytes = 1000;
  in.now_s = kNow;
  CollectPlan p = PlanCollection(entries, in);
  // The young temporary (someone's download) counts against the budget, so the idle entry goes.
  EXPECT_EQ(Names(p), (std::vector<std::string>{".tmp-old:stale temporary", "m:over budget"}));
  EXPECT_EQ(p.bytes_after, 900u);
}

TEST(CachePlan, EmptyAndHugeInputs) {
  CollectInputs in;
  in.now_s = kNow;
  EXPECT_TRUE(PlanCollection({}, in).remove.empty());
  // Sizes that would overflow a sum saturate instead of wrapping.
  std::vector<CacheEntry> big = {{"x", UINT64_MAX, kNow}, {"y", UINT64_MAX, kNow}};
  in.referenced = {"x", "y"};
  in.in_use = {"x", "y"};
  CollectPlan p = PlanCollection(big, in);
  EXPECT_EQ(p.bytes_before, UINT64_MAX);
  EXPECT_TRUE(p.over_budget);
  EXPECT_TRUE(p.remove.empty());
}

class FakeCache : public CacheStore {
 public:
  std::map<std::string, CacheEntry> entries;
  std::set<std::string> busy;
  std::vector<std::string> touched;
  StatusOr<std::vector<CacheEntry>> List() override {
    std::vector<CacheEntry> out;
    for (const auto& [n, e] : entries) out.push_back(e);
    return out;
  }
  void Touch(const std::string& name, int64_t now_s) override {
    touched.push_back(name);
    entries[name].last_used_s = now_s;
  }
  Status Remove(const std::string& name) override {
    if (busy.count(name)) return Unavailable("busy");
    entries.erase(name);
    return Status::Ok();
  }
};

TEST(CacheCollect, TouchesInUseEntriesAndReportsBusyOnes) {
  FakeCache fake;
  fake.entries = {{"running", {"running", 500, kNow - 5000}},
                  {"idle", {"idle", 500, kNow - 10}},
                  {"orphan", {"orphan", 10, kNow}},
                  {"orphan-busy", {"orphan-busy", 10, kNow}}};
  fake.busy = {"orphan-busy"};
  CollectInputs in;
  in.referenced = {"running", "idle"};
  in.in_use = {"running"};
  in.budget_bytes = 600;
  in.now_s = kNow;
  CollectResult r = CollectCache(fake, in);
  EXPECT_EQ(fake.touched, std::vector<std::string>{"running"});
  // "running" was the least recently used by its stored time, but it is in use now: "idle" goes.
  std::vector<std::string> removed;
  for (const auto& x : r.removed) removed.push_back(x.name);
  std::sort(removed.begin(), removed.end());
  EXPECT_EQ(removed, (std::vector<std::string>{"idle", "orphan"}));
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_EQ(r.errors[0], "orphan-busy: busy");
  EXPECT_TRUE(fake.entries.count("running"));
  EXPECT_TRUE(fake.entries.count("orphan-busy"));
}

// ---- over a real cache directory --------------------------------------------------------------------------
class CacheDirTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/inferd-cache-gc-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  void MakeEntry(const std::string& name, size_t bytes, int64_t mtime) {
    fs::create_directories(dir_ + "/" + name + "/sub");
    std::ofstream(dir_ + "/" + name + "/sub/model.bin") << std::string(bytes, 'm');
    struct timespec t[2] = {{static_cast<time_t>(mtime), 0}, {static_cast<time_t>(mtime), 0}};
    utimensat(AT_FDCWD, (dir_ + "/" + name).c_str(), t, 0);
  }
  std::vector<std::string> Dir() {
    std::vector<std::string> out;
    for (const auto& e : fs::directory_iterator(dir_)) out.push_back(e.path().filename().string());
    std::sort(out.begin(), out.end());
    return out;
  }
  std::string dir_;
};

TEST_F(CacheDirTest, ListsMeasuresTouchesAndRemovesIntoTheTrash) {
  StorageOptions o;
  o.cache_dir = dir_;
  Storage s(o);
  const std::string a = Storage::CacheKey("http://h/a.bin"), b = Storage::CacheKey("http://h/b.bin");
  MakeEntry(a, 100000, kNow - 100);
  MakeEntry(b, 300000, kNow - 50);
  fs::create_directories(dir_ + "/.tmp-stale1");
  struct timespec old[2] = {{kNow - 3 * 86400, 0}, {kNow - 3 * 86400, 0}};
  utimensat(AT_FDCWD, (dir_ + "/.tmp-stale1").c_str(), old, 0);
  std::ofstream(dir_ + "/not-a-dir") << "x";  // not ours: ignored

  auto listed = s.cache().List();
  ASSERT_TRUE(listed.ok()) << listed.status().ToString();
  std::map<std::string, CacheEntry> by_name;
  for (const auto& e : *listed) by_name[e.name] = e;
  ASSERT_EQ(by_name.size(), 3u);
  EXPECT_GE(by_name[a].bytes, 100000u);  // allocated blocks: at least the data
  EXPECT_GE(by_name[b].bytes, 300000u);
  EXPECT_EQ(by_name[a].last_used_s, kNow - 100);
  EXPECT_TRUE(by_name[".tmp-stale1"].temporary);

  CollectInputs in;
  in.referenced = {b};
  in.in_use = {b};
  in.budget_bytes = 1ull << 30;
  in.now_s = kNow;
  CollectResult r = CollectCache(s.cache(), in);
  EXPECT_TRUE(r.errors.empty()) << ::testing::PrintToString(r.errors);
  ASSERT_EQ(r.removed.size(), 2u);
  // Removed entries leave their names at once (renamed into the trash); EmptyTrash deletes them.
  std::vector<std::string> now = Dir();
  EXPECT_EQ(std::count(now.begin(), now.end(), a), 0);
  EXPECT_EQ(std::count(now.begin(), now.end(), b), 1);
  struct stat st;
  ASSERT_EQ(stat((dir_ + "/" + b).c_str(), &st), 0);
  EXPECT_EQ(st.st_mtim.tv_sec, kNow);  // touched: in use
  s.EmptyTrash();
  EXPECT_EQ(Dir(), (std::vector<std::string>{b, "not-a-dir"}));
  // Removing what is not an entry is refused; removing a missing one is fine.
  EXPECT_EQ(s.cache().Remove("../etc").code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(s.cache().Remove("..").code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(s.cache().Remove(a).ok());
}

TEST_F(CacheDirTest, AMissingCacheDirectoryIsAnEmptyCache) {
  StorageOptions o;
  o.cache_dir = dir_ + "/absent";
  Storage s(o);
  auto listed = s.cache().List();
  ASSERT_TRUE(listed.ok());
  EXPECT_TRUE(listed->empty());
}

}  // namespace
}  // namespace inferd::storage
