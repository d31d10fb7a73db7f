// tests/store/store_test.cc: the SQLite Store's metadata semantics, persistence and watches.
#include <gtest/gtest.h>

#include <sqlite3.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <map>
#include <set>
#include <thread>

#include "core/json_depth.h"
#include "store/store.h"

namespace inferd::store {
namespace {

using namespace std::chrono_literals;

const ResourceType kIsvc{"serving.kserve.io/v1beta1", "InferenceService", "inferenceservices", true};
const ResourceType kCsr{"serving.kserve.io/v1alpha1", "ClusterServingRuntime", "clusterservingruntimes", false};
const ResourceType kSr{"serving.kserve.io/v1alpha1", "ServingRuntime", "servingruntimes", true};

Json Isvc(const std::string& name, const std::string& ns = "", const std::string& format = "sklearn") {
  Json o = {{"apiVersion", "serving.kserve.io/v1beta1"},
            {"kind", "InferenceService"},
            {"metadata", {{"name", name}}},
            {"spec", {{"predictor", {{"model", {{"modelFormat", {{"name", format}}}}}}}}}};
  if (!ns.empty()) o["metadata"]["namespace"] = ns;
  return o;
}

std::unique_ptr<Store> Mem() {
  auto s = Store::Open(":memory:");
  EXPECT_TRUE(s.ok()) << s.status().ToString();
  return std::move(s).value();
}

std::string Rv(const Json& o) { return o["metadata"]["resourceVersion"].get<std::string>(); }
int64_t RvNum(const Json& o) { return std::stoll(Rv(o)); }

class TempDir {
 public:
  TempDir() {
    path_ = std::filesystem::temp_directory_path() / ("inferd-store-test-" + std::to_string(::getpid()) + "-" +
                                                      std::to_string(counter_++));
    std::filesystem::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  std::string File(const std::string& n) const { return (path_ / n).string(); }

 private:
  static inline int counter_ = 0;
  std::filesystem::path path_;
};

TEST(StoreTest, CreateSetsMetadata) {
  auto s = Mem();
  auto r = s->Create(kIsvc, Isvc("a"));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  const Json& md = (*r)["metadata"];
  EXPECT_EQ(md["namespace"], "default");
  EXPECT_EQ(md["generation"], 1);
  EXPECT_EQ(md["uid"].get<std::string>().size(), 36u);
  EXPECT_EQ(md["resourceVersion"], "1");
  std::string ts = md["creationTimestamp"];
  EXPECT_EQ(ts.size(), 20u);
  EXPECT_EQ(ts.back(), 'Z');
  EXPECT_EQ(ts[10], 'T');
  EXPECT_EQ((*r)["apiVersion"], "serving.kserve.io/v1beta1");
  EXPECT_EQ((*r)["kind"], "InferenceService");
  // key order: apiVersion, kind, metadata, spec
  EXPECT_EQ(r->begin().key(), "apiVersion");

  auto r2 = s->Create(kIsvc, Isvc("b", "team"));
  ASSERT_TRUE(r2.ok());
  EXPECT_EQ((*r2)["metadata"]["resourceVersion"], "2");
  EXPECT_NE((*r2)["metadata"]["uid"], md["uid"]);
}

TEST(StoreTest, CreateErrors) {
  auto s = Mem();
  ASSERT_TRUE(s->Create(kIsvc, Isvc("a")).ok());
  auto dup = s->Create(kIsvc, Isvc("a", "default"));
  EXPECT_EQ(dup.status().code(), StatusCode::kAlreadyExists);
  EXPECT_NE(dup.status().message().find("already exists"), std::string::npos);
  // Same name in another namespace / another type is fine.
  EXPECT_TRUE(s->Create(kIsvc, Isvc("a", "other")).ok());
  Json sr = {{"metadata", {{"name", "a"}}}, {"spec", Json::object()}};
  EXPECT_TRUE(s->Create(kSr, sr).ok());
  Json noname = Isvc("");
  EXPECT_EQ(s->Create(kIsvc, noname).status().code(), StatusCode::kInvalidArgument);
  Json nometa = {{"spec", Json::object()}};
  EXPECT_EQ(s->Create(kIsvc, nometa).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(s->Create(kIsvc, Json::array()).status().code(), StatusCode::kInvalidArgument);
}

TEST(StoreTest, ClusterScopedDropsNamespace) {
  auto s = Mem();
  Json o = {{"metadata", {{"name", "rt"}, {"namespace", "x"}}}, {"spec", {{"containers", Json::array()}}}};
  auto r = s->Create(kCsr, o);
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE((*r)["metadata"].contains("namespace"));
  EXPECT_TRUE(s->Get(kCsr, "", "rt").ok());
  EXPECT_TRUE(s->Get(kCsr, "ignored", "rt").ok());
  auto l = s->List(kCsr, "");
  ASSERT_TRUE(l.ok());
  EXPECT_EQ(l->items.size(), 1u);
}

TEST(StoreTest, GetAndListSorted) {
  auto s = Mem();
  for (auto [ns, n] : std::vector<std::pair<std::string, std::string>>{
           {"b", "z"}, {"a", "y"}, {"b", "a"}, {"a", "b"}}) {
    ASSERT_TRUE(s->Create(kIsvc, Isvc(n, ns)).ok());
  }
  auto g = s->Get(kIsvc, "b", "z");
  ASSERT_TRUE(g.ok());
  EXPECT_EQ((*g)["metadata"]["name"], "z");
  auto nf = s->Get(kIsvc, "a", "z");
  EXPECT_EQ(nf.status().code(), StatusCode::kNotFound);
  EXPECT_NE(nf.status().message().find("not found"), std::string::npos);

  auto all = s->List(kIsvc, "");
  ASSERT_TRUE(all.ok());
  std::vector<std::string> got;
  for (auto& i : all->items) got.push_back(i["metadata"]["namespace"].get<std::string>() + "/" +
                                          i["metadata"]["name"].get<std::string>());
  EXPECT_EQ(got, (std::vector<std::string>{"a/b", "a/y", "b/a", "b/z"}));
  EXPECT_EQ(all->resource_version, "4");
  auto inb = s->List(kIsvc, "b");
  ASSERT_TRUE(inb.ok());
  ASSERT_EQ(inb->items.size(), 2u);
  EXPECT_EQ(inb->items[0]["metadata"]["name"], "a");
  auto none = s->List(kSr, "");
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->items.empty());
  EXPECT_EQ(none->resource_version, "4");
}

TEST(StoreTest, UpdateSemantics) {
  auto s = Mem();
  Json o = Isvc("a");
  o["metadata"]["labels"] = {{"x", "1"}};
  auto c = s->Create(kIsvc, o);
  ASSERT_TRUE(c.ok());
  std::string uid = (*c)["metadata"]["uid"];
  std::string ts = (*c)["metadata"]["creationTimestamp"];

  // status first, through the subresource
  Json st = *c;
  st["status"] = {{"url", "http://a"}};
  st["spec"] = "ignored";
  st["metadata"]["labels"] = {{"ignored", "yes"}};
  auto s1 = s->UpdateStatus(kIsvc, st);
  ASSERT_TRUE(s1.ok()) << s1.status().ToString();
  EXPECT_EQ((*s1)["status"]["url"], "http://a");
  EXPECT_EQ((*s1)["spec"], (*c)["spec"]);
  EXPECT_EQ((*s1)["metadata"]["labels"], (Json{{"x", "1"}}));
  EXPECT_EQ((*s1)["metadata"]["generation"], 1);
  EXPECT_GT(RvNum(*s1), RvNum(*c));

  // labels only: no generation bump, status kept
  Json u = *s1;
  u["metadata"]["labels"] = {{"x", "2"}};
  u["metadata"]["annotations"] = {{"note", "n"}};
  u.erase("status");
  auto u1 = s->Update(kIsvc, u);
  ASSERT_TRUE(u1.ok()) << u1.status().ToString();
  EXPECT_EQ((*u1)["metadata"]["generation"], 1);
  EXPECT_EQ((*u1)["metadata"]["labels"]["x"], "2");
  EXPECT_EQ((*u1)["metadata"]["annotations"]["note"], "n");
  EXPECT_EQ((*u1)["status"]["url"], "http://a");
  EXPECT_EQ((*u1)["metadata"]["uid"], uid);
  EXPECT_EQ((*u1)["metadata"]["creationTimestamp"], ts);

  // spec change: generation bump; the caller cannot change store-owned metadata or status
  Json u2in = *u1;
  u2in["spec"]["predictor"]["model"]["modelFormat"]["name"] = "xgboost";
  u2in["metadata"]["uid"] = "forged";
  u2in["metadata"]["generation"] = 42;
  u2in["metadata"].erase("labels");
  u2in["status"] = {{"url", "forged"}};
  auto u2 = s->Update(kIsvc, u2in);
  ASSERT_TRUE(u2.ok());
  EXPECT_EQ((*u2)["metadata"]["generation"], 2);
  EXPECT_EQ((*u2)["metadata"]["uid"], uid);
  EXPECT_FALSE((*u2)["metadata"].contains("labels"));
  EXPECT_EQ((*u2)["status"]["url"], "http://a");
  EXPECT_EQ((*u2)["spec"]["predictor"]["model"]["modelFormat"]["name"], "xgboost");

  // same spec again: no bump
  auto u3 = s->Update(kIsvc, *u2);
  ASSERT_TRUE(u3.ok());
  EXPECT_EQ((*u3)["metadata"]["generation"], 2);
  EXPECT_GT(RvNum(*u3), RvNum(*u2));

  // what Get returns is what Update returned
  auto g = s->Get(kIsvc, "default", "a");
  ASSERT_TRUE(g.ok());
  EXPECT_EQ(*g, *u3);

  // not found
  EXPECT_EQ(s->Update(kIsvc, Isvc("missing")).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(s->UpdateStatus(kIsvc, Isvc("missing")).status().code(), StatusCode::kNotFound);
}

TEST(StoreTest, StaleResourceVersionConflicts) {
  auto s = Mem();
  auto c = s->Create(kIsvc, Isvc("a"));
  ASSERT_TRUE(c.ok());
  auto u = s->Update(kIsvc, *c);
  ASSERT_TRUE(u.ok());
  auto stale = s->Update(kIsvc, *c);  // carries the create's resourceVersion
  EXPECT_EQ(stale.status().code(), StatusCode::kConflict);
  EXPECT_NE(stale.status().message().find("the object has been modified"), std::string::npos);
  EXPECT_EQ(s->UpdateStatus(kIsvc, *c).status().code(), StatusCode::kConflict);
  // unconditional
  Json nov = *c;
  nov["metadata"].erase("resourceVersion");
  EXPECT_TRUE(s->Update(kIsvc, nov).ok());
  nov["metadata"]["resourceVersion"] = "";
  EXPECT_TRUE(s->Update(kIsvc, nov).ok());
  // delete precondition
  EXPECT_EQ(s->Delete(kIsvc, "default", "a", Rv(*c)).status().code(), StatusCode::kConflict);
  auto cur = s->Get(kIsvc, "default", "a");
  ASSERT_TRUE(cur.ok());
  EXPECT_TRUE(s->Delete(kIsvc, "default", "a", Rv(*cur)).ok());
}

TEST(StoreTest, Delete) {
  auto s = Mem();
  auto c = s->Create(kIsvc, Isvc("a", "ns"));
  ASSERT_TRUE(c.ok());
  auto d = s->Delete(kIsvc, "ns", "a");
  ASSERT_TRUE(d.ok());
  EXPECT_EQ((*d)["metadata"]["uid"], (*c)["metadata"]["uid"]);
  EXPECT_GT(RvNum(*d), RvNum(*c));
  EXPECT_EQ(s->Get(kIsvc, "ns", "a").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(s->Delete(kIsvc, "ns", "a").status().code(), StatusCode::kNotFound);
  // re-create gets a new uid
  auto c2 = s->Create(kIsvc, Isvc("a", "ns"));
  ASSERT_TRUE(c2.ok());
  EXPECT_NE((*c2)["metadata"]["uid"], (*c)["metadata"]["uid"]);
  auto l = s->List(kIsvc, "");
  ASSERT_TRUE(l.ok());
  EXPECT_EQ(l->resource_version, Rv(*c2));
}

TEST(StoreTest, PersistsAcrossReopen) {
  TempDir dir;
  std::string path = dir.File("store.db");
  std::string uid;
  {
    auto s = Store::Open(path);
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    auto c = (*s)->Create(kIsvc, Isvc("a"));
    ASSERT_TRUE(c.ok());
    uid = (*c)["metadata"]["uid"];
    ASSERT_TRUE((*s)->Create(kIsvc, Isvc("b")).ok());
    ASSERT_TRUE((*s)->Delete(kIsvc, "default", "b").ok());  // rv 3
  }
  {
    auto s = Store::Open(path);
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    auto g = (*s)->Get(kIsvc, "default", "a");
    ASSERT_TRUE(g.ok());
    EXPECT_EQ((*g)["metadata"]["uid"], uid);
    EXPECT_EQ((*s)->Get(kIsvc, "default", "b").status().code(), StatusCode::kNotFound);
    auto l = (*s)->List(kIsvc, "");
    ASSERT_TRUE(l.ok());
    EXPECT_EQ(l->resource_version, "3");
    auto c = (*s)->Create(kIsvc, Isvc("c"));
    ASSERT_TRUE(c.ok());
    EXPECT_EQ(Rv(*c), "4");  // the counter continues
    // History is in memory only: a watch from before the restart is too old.
    auto w = (*s)->WatchFrom(kIsvc, "", "1");
    EXPECT_FALSE(w.ok());
    EXPECT_NE(w.status().message().find("too old resource version"), std::string::npos);
    // From the current version it works.
    EXPECT_TRUE((*s)->WatchFrom(kIsvc, "", "4").ok());
  }
}

TEST(StoreTest, OpenFailsOnBadPath) {
  auto s = Store::Open("/nonexistent-dir-inferd/x/store.db");
  EXPECT_FALSE(s.ok());
}

TEST(StoreTest, WatchLiveEventsInOrder) {
  auto s = Mem();
  auto w = s->WatchFrom(kIsvc, "", "");
  ASSERT_TRUE(w.ok());
  auto wns = s->WatchFrom(kIsvc, "team", "0");
  ASSERT_TRUE(wns.ok());
  auto wsr = s->WatchFrom(kSr, "", "");
  ASSERT_TRUE(wsr.ok());

  auto c = s->Create(kIsvc, Isvc("a"));
  ASSERT_TRUE(c.ok());
  ASSERT_TRUE(s->Create(kIsvc, Isvc("b", "team")).ok());
  Json st = *c;
  st["status"] = {{"ready", true}};
  ASSERT_TRUE(s->UpdateStatus(kIsvc, st).ok());
  ASSERT_TRUE(s->Delete(kIsvc, "default", "a").ok());

  std::vector<std::pair<std::string, std::string>> got;
  std::string last_rv;
  for (int i = 0; i < 4; ++i) {
    auto e = (*w)->Next(2s);
    ASSERT_TRUE(e.has_value()) << i;
    got.emplace_back(e->type, e->object["metadata"]["name"].get<std::string>());
    std::string rv = e->object["metadata"]["resourceVersion"];
    EXPECT_GT(std::stoll(rv), last_rv.empty() ? 0 : std::stoll(last_rv));
    last_rv = rv;
  }
  EXPECT_EQ(got, (std::vector<std::pair<std::string, std::string>>{
                     {"ADDED", "a"}, {"ADDED", "b"}, {"MODIFIED", "a"}, {"DELETED", "a"}}));
  EXPECT_FALSE((*w)->Next(50ms).has_value());
  EXPECT_FALSE((*w)->expired());

  auto e = (*wns)->Next(2s);
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->object["metadata"]["name"], "b");
  EXPECT_FALSE((*wns)->Next(50ms).has_value());
  EXPECT_FALSE((*wsr)->Next(50ms).has_value());
}

TEST(StoreTest, WatchFromPastResourceVersion) {
  auto s = Mem();
  auto a = s->Create(kIsvc, Isvc("a"));  // 1
  ASSERT_TRUE(a.ok());
  ASSERT_TRUE(s->Create(kIsvc, Isvc("b")).ok());  // 2
  ASSERT_TRUE(s->Create(kSr, {{"metadata", {{"name", "r"}}}}).ok());  // 3 (other type)
  ASSERT_TRUE(s->Update(kIsvc, *a).ok());  // 4
  auto w = s->WatchFrom(kIsvc, "", "1");
  ASSERT_TRUE(w.ok()) << w.status().ToString();
  auto e1 = (*w)->Next(1s);
  ASSERT_TRUE(e1);
  EXPECT_EQ(e1->type, "ADDED");
  EXPECT_EQ(e1->object["metadata"]["name"], "b");
  auto e2 = (*w)->Next(1s);
  ASSERT_TRUE(e2);
  EXPECT_EQ(e2->type, "MODIFIED");
  EXPECT_EQ(e2->object["metadata"]["resourceVersion"], "4");
  // then live
  ASSERT_TRUE(s->Delete(kIsvc, "default", "b").ok());
  auto e3 = (*w)->Next(1s);
  ASSERT_TRUE(e3);
  EXPECT_EQ(e3->type, "DELETED");
  EXPECT_EQ(e3->object["metadata"]["resourceVersion"], "5");

  // From the current version: nothing to replay.
  auto w2 = s->WatchFrom(kIsvc, "", "5");
  ASSERT_TRUE(w2.ok());
  EXPECT_FALSE((*w2)->Next(20ms));
  EXPECT_FALSE(s->WatchFrom(kIsvc, "", "abc").ok());
}

TEST(StoreTest, WatchHistoryIsBounded) {
  auto s = Mem();
  auto c = s->Create(kIsvc, Isvc("a"));
  ASSERT_TRUE(c.ok());
  Json o = *c;
  o["metadata"].erase("resourceVersion");
  for (size_t i = 0; i < kWatchQueueLimit + 5; ++i) ASSERT_TRUE(s->Update(kIsvc, o).ok());
  auto old = s->WatchFrom(kIsvc, "", "1");
  EXPECT_FALSE(old.ok());
  EXPECT_NE(old.status().message().find("too old resource version"), std::string::npos);
  int64_t cur = kWatchQueueLimit + 6;
  auto recent = s->WatchFrom(kIsvc, "", std::to_string(cur - 10));
  ASSERT_TRUE(recent.ok()) << recent.status().ToString();
  int n = 0;
  while ((*recent)->Next(10ms)) ++n;
  EXPECT_EQ(n, 10);
}

TEST(StoreTest, SlowConsumerExpires) {
  auto s = Mem();
  auto w = s->WatchFrom(kIsvc, "", "");
  ASSERT_TRUE(w.ok());
  auto fast = s->WatchFrom(kIsvc, "", "");
  ASSERT_TRUE(fast.ok());
  auto c = s->Create(kIsvc, Isvc("a"));
  ASSERT_TRUE(c.ok());
  ASSERT_TRUE((*fast)->Next(1s));
  Json o = *c;
  o["metadata"].erase("resourceVersion");
  for (size_t i = 0; i < kWatchQueueLimit + 1; ++i) {
    ASSERT_TRUE(s->Update(kIsvc, o).ok());
    ASSERT_TRUE((*fast)->Next(1s));
  }
  EXPECT_TRUE((*w)->expired());
  EXPECT_FALSE((*w)->Next(10ms).has_value());
  EXPECT_FALSE((*fast)->expired());
}

TEST(StoreTest, CloseWakesNext) {
  auto s = Mem();
  auto w = s->WatchFrom(kIsvc, "", "");
  ASSERT_TRUE(w.ok());
  Watch* raw = w->get();
  std::thread t([raw] {
    std::this_thread::sleep_for(50ms);
    raw->Close();
  });
  auto start = std::chrono::steady_clock::now();
  EXPECT_FALSE(raw->Next(10s).has_value());
  EXPECT_LT(std::chrono::steady_clock::now() - start, 5s);
  t.join();
  raw->Close();  // idempotent
  ASSERT_TRUE(s->Create(kIsvc, Isvc("a")).ok());  // the closed watch is skipped
}

TEST(StoreTest, StoreDestructionExpiresWatches) {
  auto s = Mem();
  auto w = s->WatchFrom(kIsvc, "", "");
  ASSERT_TRUE(w.ok());
  s.reset();
  EXPECT_TRUE((*w)->expired());
  EXPECT_FALSE((*w)->Next(10ms).has_value());
}

TEST(StoreTest, ConcurrentWriters) {
  TempDir dir;
  auto so = Store::Open(dir.File("c.db"));
  ASSERT_TRUE(so.ok());
  auto& s = *so;
  auto w = s->WatchFrom(kIsvc, "", "");
  ASSERT_TRUE(w.ok());
  constexpr int kThreads = 8, kPer = 50;
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPer; ++i) {
        std::string name = "t" + std::to_string(t) + "-" + std::to_string(i);
        auto c = s->Create(kIsvc, Isvc(name, "ns" + std::to_string(t % 2)));
        if (!c.ok()) { ++failures; continue; }
        if (!s->Update(kIsvc, *c).ok()) ++failures;
        (void)s->List(kIsvc, "");
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
  auto l = s->List(kIsvc, "");
  ASSERT_TRUE(l.ok());
  EXPECT_EQ(l->items.size(), static_cast<size_t>(kThreads * kPer));
  EXPECT_EQ(l->resource_version, std::to_string(2 * kThreads * kPer));
  // every write produced exactly one event, in resourceVersion order
  int64_t prev = 0;
  std::set<std::string> rvs;
  for (int i = 0; i < 2 * kThreads * kPer; ++i) {
    auto e = (*w)->Next(2s);
    ASSERT_TRUE(e.has_value()) << i;
    int64_t rv = std::stoll(e->object["metadata"]["resourceVersion"].get<std::string>());
    EXPECT_EQ(rv, prev + 1);
    prev = rv;
  }
  // Concurrent updates of one object: exactly one of two writers holding the same version wins.
  auto base = s->Create(kIsvc, Isvc("race"));
  ASSERT_TRUE(base.ok());
  std::atomic<int> ok{0}, conflicts{0};
  std::vector<std::thread> racers;
  for (int i = 0; i < 4; ++i) {
    racers.emplace_back([&] {
      auto r = s->Update(kIsvc, *base);
      if (r.ok()) ++ok;
      else if (r.status().code() == StatusCode::kConflict) ++conflicts;
    });
  }
  for (auto& t : racers) t.join();
  EXPECT_EQ(ok.load(), 1);
  EXPECT_EQ(conflicts.load(), 3);
}


// ---- unusable rows and depth -------------------------------------------------------------------------

std::string Nested(int depth) { return std::string(depth, '[') + std::string(depth, ']'); }

// Writes rows straight into the database file, as a damaged disk, an older inferd or a hand edit would.
void WriteRaw(const std::string& path, const std::string& resource, const std::string& ns, const std::string& name,
              const std::string& json, int64_t rv) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  sqlite3_stmt* st = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(db,
                               "INSERT OR REPLACE INTO objects (resource, namespace, name, json, resource_version) "
                               "VALUES (?1, ?2, ?3, ?4, ?5)",
                               -1, &st, nullptr),
            SQLITE_OK);
  sqlite3_bind_text(st, 1, resource.c_str(), -1, SQLITE_TRANSIENT);
  sqlite3_bind_text(st, 2, ns.c_str(), -1, SQLITE_TRANSIENT);
  sqlite3_bind_text(st, 3, name.c_str(), -1, SQLITE_TRANSIENT);
  sqlite3_bind_text(st, 4, json.data(), static_cast<int>(json.size()), SQLITE_TRANSIENT);
  sqlite3_bind_int64(st, 5, rv);
  EXPECT_EQ(sqlite3_step(st), SQLITE_DONE);
  sqlite3_finalize(st);
  sqlite3_close(db);
}

std::string IsvcText(const std::string& name, const std::string& extra_spec = "") {
  return R"({"apiVersion":"serving.kserve.io/v1beta1","kind":"InferenceService","metadata":{"name":")" + name +
         R"(","namespace":"default","resourceVersion":"7","generation":1},"spec":{"predictor":{})" + extra_spec + "}}";
}

const std::string kIsvcKey = "inferenceservices.serving.kserve.io";

TEST(StoreTest, WritesNestedDeeperThanTheLimitAreRefused) {
  auto s = Mem();
  for (int depth : {kMaxJsonDepth, 100000}) {
    Json obj = Isvc("deep");
    obj["spec"]["x"] = Json::parse(Nested(depth));  // moved in: a 100,000-deep copy would recurse
    auto r = s->Create(kIsvc, std::move(obj));
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(r.status().message(), "object: nested deeper than 64 levels");
  }
  // At the limit exactly (root object 1, spec 2, x's arrays 3..64) it is stored and reads back.
  Json ok = Isvc("edge");
  ok["spec"]["x"] = Json::parse(Nested(kMaxJsonDepth - 2));
  auto c = s->Create(kIsvc, ok);
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  ASSERT_TRUE(s->Get(kIsvc, "default", "edge").ok());
  Json upd = *c;
  upd["spec"]["x"] = Json::parse(Nested(100000));
  auto u = s->Update(kIsvc, std::move(upd));
  EXPECT_EQ(u.status().code(), StatusCode::kInvalidArgument);
  Json st = *c;
  st["status"] = Json::parse(Nested(100000));
  EXPECT_EQ(s->UpdateStatus(kIsvc, std::move(st)).status().code(), StatusCode::kInvalidArgument);
}

TEST(StoreTest, UnusableRowsAreQuarantinedAtStartAndTheRestIsServed) {
  TempDir dir;
  const std::string path = dir.File("q.db");
  {
    auto s = Store::Open(path);
    ASSERT_TRUE(s.ok());
    ASSERT_TRUE((*s)->Create(kIsvc, Isvc("good")).ok());
    ASSERT_TRUE((*s)->Create(kCsr, Json{{"metadata", {{"name", "rt"}}}, {"spec", Json::object()}}).ok());
  }
  const std::map<std::string, std::string> bad = {
      {"notjson", "{\"apiVersion\": \"serving.kserve.io/v1beta1\", \"kind\": "},
      {"deep", IsvcText("deep", ",\"x\":" + Nested(50000))},
      {"array", "[1,2,3]"},
      {"wrongkind", R"({"apiVersion":"serving.kserve.io/v1alpha1","kind":"ServingRuntime","metadata":{"name":"wrongkind","namespace":"default"}})"},
      {"nometa", R"({"apiVersion":"serving.kserve.io/v1beta1","kind":"InferenceService","spec":{}})"},
      {"othername", IsvcText("someone-else")},
      {"badgen", R"({"apiVersion":"serving.kserve.io/v1beta1","kind":"InferenceService","metadata":{"name":"badgen","namespace":"default","generation":"one"}})"},
  };
  for (const auto& [name, text] : bad) WriteRaw(path, kIsvcKey, "default", name, text, 50);
  WriteRaw(path, "foos.example.com", "default", "foo", R"({"apiVersion":"example.com/v1","kind":"Foo","metadata":{"name":"foo"}})", 51);
  WriteRaw(path, kIsvcKey, "default", "good2", IsvcText("good2"), 52);

  auto s = Store::Open(path);
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  auto moved = (*s)->QuarantineUnusable({kIsvc, kSr, kCsr});
  ASSERT_TRUE(moved.ok()) << moved.status().ToString();
  std::map<std::string, std::string> reasons;
  for (const auto& q : *moved) reasons[q.name] = q.reason;
  EXPECT_EQ(reasons.size(), bad.size() + 1);
  EXPECT_NE(reasons["notjson"].find("not valid JSON"), std::string::npos) << reasons["notjson"];
  EXPECT_EQ(reasons["deep"], "the stored text: nested deeper than 64 levels");
  EXPECT_EQ(reasons["array"], "the stored text is not a JSON object");
  EXPECT_NE(reasons["wrongkind"].find("apiVersion/kind"), std::string::npos);
  EXPECT_NE(reasons["nometa"].find("metadata is missing"), std::string::npos);
  EXPECT_NE(reasons["othername"].find("metadata.name"), std::string::npos);
  EXPECT_NE(reasons["badgen"].find("metadata.generation"), std::string::npos);
  EXPECT_NE(reasons["foo"].find("foos.example.com"), std::string::npos);
  for (const auto& q : *moved) {
    EXPECT_FALSE(q.quarantined_at.empty());
    EXPECT_GT(q.bytes, 0u);
  }

  // The good objects are served; the bad ones are gone from reads, and a read by name says why.
  auto l = (*s)->List(kIsvc, "");
  ASSERT_TRUE(l.ok());
  ASSERT_EQ(l->items.size(), 2u);
  EXPECT_EQ(l->items[0]["metadata"]["name"], "good");
  EXPECT_EQ(l->items[1]["metadata"]["name"], "good2");
  EXPECT_TRUE((*s)->Get(kCsr, "", "rt").ok());
  auto g = (*s)->Get(kIsvc, "default", "deep");
  EXPECT_EQ(g.status().code(), StatusCode::kNotFound);
  EXPECT_NE(g.status().message().find("quarantined"), std::string::npos) << g.status().message();
  EXPECT_NE(g.status().message().find("nested deeper than 64 levels"), std::string::npos);
  // The name can be used again, and the counter continues above every row it saw.
  auto c = (*s)->Create(kIsvc, Isvc("deep"));
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_GT(RvNum(*c), 52);

  auto all = (*s)->Quarantined();
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->size(), bad.size() + 1);
  // Checking again moves nothing more; the quarantine keeps what it has.
  auto again = (*s)->QuarantineUnusable({kIsvc, kSr, kCsr});
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(again->empty());
  (*s).reset();
  auto reopened = Store::Open(path);
  ASSERT_TRUE(reopened.ok());
  auto kept = (*reopened)->Quarantined();
  ASSERT_TRUE(kept.ok());
  EXPECT_EQ(kept->size(), bad.size() + 1);
}

TEST(StoreTest, ReadsQuarantineABadRowTheyMeet) {
  TempDir dir;
  const std::string path = dir.File("lazy.db");
  {
    auto s = Store::Open(path);
    ASSERT_TRUE(s.ok());
    ASSERT_TRUE((*s)->Create(kIsvc, Isvc("good")).ok());
  }
  WriteRaw(path, kIsvcKey, "default", "a-broken", "{{{", 9);
  WriteRaw(path, kIsvcKey, "default", "b-deep", IsvcText("b-deep", ",\"x\":" + Nested(50000)), 9);
  auto s = Store::Open(path);
  ASSERT_TRUE(s.ok());
  // Without the start-up check, a list skips them (and moves them away) instead of failing.
  auto l = (*s)->List(kIsvc, "default");
  ASSERT_TRUE(l.ok()) << l.status().ToString();
  ASSERT_EQ(l->items.size(), 1u);
  EXPECT_EQ((*s)->Quarantined()->size(), 2u);
  WriteRaw(path, kIsvcKey, "default", "c-broken", "not json", 9);
  EXPECT_EQ((*s)->Get(kIsvc, "default", "c-broken").status().code(), StatusCode::kNotFound);
  WriteRaw(path, kIsvcKey, "default", "d-broken", "[]", 9);
  Json upd = Isvc("d-broken");
  EXPECT_EQ((*s)->Update(kIsvc, upd).status().code(), StatusCode::kNotFound);
  WriteRaw(path, kIsvcKey, "default", "e-broken", "1", 9);
  EXPECT_EQ((*s)->Delete(kIsvc, "default", "e-broken").status().code(), StatusCode::kNotFound);
  EXPECT_EQ((*s)->Quarantined()->size(), 5u);
}

TEST(StoreTest, DamagedCounterIsRecomputed) {
  TempDir dir;
  const std::string path = dir.File("counter.db");
  {
    auto s = Store::Open(path);
    ASSERT_TRUE(s.ok());
    ASSERT_TRUE((*s)->Create(kIsvc, Isvc("a")).ok());
    ASSERT_TRUE((*s)->Create(kIsvc, Isvc("b")).ok());
  }
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, "UPDATE meta SET value = 'garbage' WHERE key = 'resource_version'", nullptr, nullptr,
                         nullptr),
            SQLITE_OK);
  sqlite3_close(db);
  auto s = Store::Open(path);
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  auto c = (*s)->Create(kIsvc, Isvc("c"));
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(Rv(*c), "3");
}

}  // namespace
}  // namespace inferd::store
