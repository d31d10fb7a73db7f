// The reflector against the fake API server: initial list, events, relist after 410, re-watch after a
// close, surviving 500s; and the handlers that feed a work queue.
#include "kube/reflector.h"

#include <gtest/gtest.h>

#include <functional>
#include <thread>

#include "kube/fake_api_server.h"

namespace inferd::kube {
namespace {

using testing::FakeApiServer;

const Gvr kWidgets{"example.com", "v1", "widgets", true};

Json Widget(const std::string& name, int size = 1) {
  return Json{{"apiVersion", "example.com/v1"}, {"kind", "Widget"}, {"metadata", {{"name", name}}}, {"spec", {{"size", size}}}};
}

// Polls pred until true or 30 s (generous: a loaded 2-core machine); no timing is asserted.
bool Eventually(const std::function<bool()>& pred) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (std::chrono::steady_clock::now() < deadline) {
    if (pred()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return pred();
}

class ReflectorTest : public ::testing::Test {
 protected:
  void SetUp() override { server_.RegisterKind(kWidgets, "Widget"); }

  ReflectorOptions Options() {
    ReflectorOptions o;
    o.gvr = kWidgets;
    o.ns = "ns";
    o.page_size = 2;  // paged lists
    o.initial_backoff = std::chrono::milliseconds(10);
    o.max_backoff = std::chrono::milliseconds(100);
    return o;
  }

  std::optional<int> SizeOf(const std::string& key) {
    auto o = store_.Get(key);
    if (!o) return std::nullopt;
    return (*o)["spec"]["size"].get<int>();
  }

  std::vector<std::string> DrainQueue() {
    std::vector<std::string> keys;
    while (auto k = queue_.TryGet()) {
      keys.push_back(*k);
      queue_.Done(*k);
    }
    std::sort(keys.begin(), keys.end());
    return keys;
  }

  FakeApiServer server_;
  KubeClient client_{server_.Config()};
  Store store_;
  WorkQueue queue_;
};

TEST_F(ReflectorTest, InitialListThenEvents) {
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(client_.Create(kWidgets, "ns", Widget("w" + std::to_string(i))).ok());
  ASSERT_TRUE(client_.Create(kWidgets, "other", Widget("elsewhere")).ok());
  Reflector r(client_, Options(), store_, EnqueueHandlers(queue_));
  r.Start();
  ASSERT_TRUE(Eventually([&] { return r.HasSynced(); }));
  EXPECT_EQ(store_.Size(), 5u);  // only namespace "ns"
  EXPECT_EQ(DrainQueue(), (std::vector<std::string>{"ns/w0", "ns/w1", "ns/w2", "ns/w3", "ns/w4"}));
  EXPECT_GE(server_.CountRequests("GET", "limit=2"), 3u);  // three pages

  ASSERT_TRUE(client_.Create(kWidgets, "ns", Widget("new", 7)).ok());
  Json w1 = *client_.Get(kWidgets, "ns", "w1");
  w1["spec"]["size"] = 42;
  ASSERT_TRUE(client_.Update(kWidgets, "ns", w1).ok());
  ASSERT_TRUE(client_.Delete(kWidgets, "ns", "w0").ok());
  ASSERT_TRUE(Eventually([&] { return SizeOf("ns/new") == 7 && SizeOf("ns/w1") == 42 && !store_.Get("ns/w0"); }));
  EXPECT_TRUE(Eventually([&] { return queue_.Len() == 3; }));
  EXPECT_EQ(DrainQueue(), (std::vector<std::string>{"ns/new", "ns/w0", "ns/w1"}));
  EXPECT_EQ(r.LastResourceVersion(), std::to_string(server_.resource_version()));
  r.Stop();
  EXPECT_EQ(r.counters().lists, 1u);
}

TEST_F(ReflectorTest, RelistsAfterExpiredAndSeesWhatChanged) {
  ASSERT_TRUE(client_.Create(kWidgets, "ns", Widget("keep")).ok());
  ASSERT_TRUE(client_.Create(kWidgets, "ns", Widget("gone")).ok());
  std::vector<std::string> deleted;
  Mutex mu;
  EventHandlers h;
  h.on_delete = [&](const Json& o) {
    MutexLock lock(mu);
    deleted.push_back(ObjectKey(o));
  };
  Reflector r(client_, Options(), store_, h);
  r.Start();
  ASSERT_TRUE(Eventually([&] { return r.HasSynced() && server_.open_watches() == 1; }));
  // The open watch's resourceVersion falls out of the history: the fake sends ERROR 410, the
  // reflector relists. Meanwhile "gone" was dropped and "late" created.
  server_.CompactHistory();
  ASSERT_TRUE(server_.Drop(kWidgets, "ns", "gone"));
  ASSERT_TRUE(client_.Create(kWidgets, "ns", Widget("late", 3)).ok());
  ASSERT_TRUE(Eventually([&] { return r.counters().relists_on_expired >= 1; }));
  ASSERT_TRUE(Eventually([&] { return SizeOf("ns/late") == 3 && !store_.Get("ns/gone") && store_.Get("ns/keep"); }));
  EXPECT_GE(r.counters().lists, 2u);
  r.Stop();
  MutexLock lock(mu);
  EXPECT_EQ(deleted, std::vector<std::string>{"ns/gone"});
}

TEST_F(ReflectorTest, RelistsAfterAnHttp410OnTheWatch) {
  ASSERT_TRUE(client_.Create(kWidgets, "ns", Widget("a")).ok());
  Reflector r(client_, Options(), store_);
  r.Start();
  ASSERT_TRUE(Eventually([&] { return r.HasSynced() && server_.open_watches() == 1; }));
  server_.FailNext(1, 410, "Gone", "watch=true");
  server_.CloseWatches();  // the re-watch gets HTTP 410
  ASSERT_TRUE(Eventually([&] { return r.counters().relists_on_expired >= 1 && r.counters().lists >= 2; }));
  ASSERT_TRUE(client_.Create(kWidgets, "ns", Widget("b", 4)).ok());
  ASSERT_TRUE(Eventually([&] { return SizeOf("ns/b") == 4; }));
  r.Stop();
  EXPECT_EQ(r.counters().errors, 0u);  // an expiry is not an error
}

TEST_F(ReflectorTest, ReWatchesFromLastVersionAfterAClose) {
  ASSERT_TRUE(client_.Create(kWidgets, "ns", Widget("a")).ok());
  Reflector r(client_, Options(), store_);
  r.Start();
  ASSERT_TRUE(Eventually([&] { return r.HasSynced() && server_.open_watches() == 1; }));
  server_.CloseWatches();
  ASSERT_TRUE(Eventually([&] { return r.counters().watches >= 2 && server_.open_watches() == 1; }));
  ASSERT_TRUE(client_.Create(kWidgets, "ns", Widget("b", 2)).ok());
  ASSERT_TRUE(Eventually([&] { return SizeOf("ns/b") == 2; }));
  r.Stop();
  EXPECT_EQ(r.counters().lists, 1u);  // a normal close does not relist
  EXPECT_EQ(r.counters().errors, 0u);
  // The second watch started from a specific resourceVersion, not from "now".
  size_t from_version = 0;
  for (const std::string& line : server_.requests()) {
    if (line.find("watch=true") != std::string::npos && line.find("resourceVersion=") != std::string::npos) {
      ++from_version;
    }
  }
  EXPECT_GE(from_version, 2u);
  EXPECT_GE(server_.CountRequests("GET", "allowWatchBookmarks=true"), 2u);
}

TEST_F(ReflectorTest, SurvivesServerErrors) {
  ASSERT_TRUE(client_.Create(kWidgets, "ns", Widget("a")).ok());
  server_.FailNext(3, 500, "InternalError", "GET /apis/example.com/v1/namespaces/ns/widgets?");
  Reflector r(client_, Options(), store_);
  r.Start();
  ASSERT_TRUE(Eventually([&] { return r.HasSynced(); }));
  EXPECT_GE(r.counters().errors, 3u);
  // A failing watch: relist with backoff, then carry on.
  server_.FailNext(2, 503, "ServiceUnavailable", "watch=true");
  server_.CloseWatches();
  ASSERT_TRUE(client_.Create(kWidgets, "ns", Widget("b", 5)).ok());
  ASSERT_TRUE(Eventually([&] { return SizeOf("ns/b") == 5; }));
  ASSERT_TRUE(Eventually([&] { return server_.open_watches() == 1; }));
  r.Stop();
  EXPECT_TRUE(Eventually([&] { return server_.open_watches() == 0; }));  // the fake sees the client go
}

TEST_F(ReflectorTest, SurvivesGarbageInTheWatchStream) {
  ASSERT_TRUE(client_.Create(kWidgets, "ns", Widget("a")).ok());
  Reflector r(client_, Options(), store_);
  r.Start();
  ASSERT_TRUE(Eventually([&] { return r.HasSynced() && server_.open_watches() == 1; }));
  server_.SendRawToWatches("{\"type\":\"ADDED\",\"object\":[\"garbage\"]}\n");
  ASSERT_TRUE(Eventually([&] { return r.counters().errors >= 1 && r.counters().lists >= 2; }));
  ASSERT_TRUE(client_.Create(kWidgets, "ns", Widget("b", 6)).ok());
  ASSERT_TRUE(Eventually([&] { return SizeOf("ns/b") == 6 && SizeOf("ns/a") == 1; }));
  r.Stop();
}

TEST_F(ReflectorTest, StopEndsAnIdleWatchPromptly) {
  Reflector r(client_, Options(), store_);
  r.Start();
  ASSERT_TRUE(Eventually([&] { return server_.open_watches() == 1; }));
  r.Stop();  // the watch has timeoutSeconds 300: Stop must not wait for it (cancel flag, ~1 s)
  ASSERT_TRUE(Eventually([&] { return server_.open_watches() == 0; }));
}

TEST(KubeHandlers, OwnerHandlersEnqueueTheControllerOwner) {
  ManualClock clock;
  WorkQueue q(&clock);
  EventHandlers h = EnqueueOwnerHandlers(q, "serving.kserve.io/v1beta1", "InferenceService");
  Json child = {{"metadata",
                 {{"name", "x-predictor"},
                  {"namespace", "ns"},
                  {"ownerReferences",
                   {{{"apiVersion", "serving.kserve.io/v1beta1"}, {"kind", "InferenceService"}, {"name", "x"},
                     {"uid", "u"}, {"controller", true}}}}}}};
  h.on_add(child);
  EXPECT_EQ(q.TryGet(), "ns/x");
  Json not_controller = child;
  not_controller["metadata"]["ownerReferences"][0]["controller"] = false;
  h.on_add(not_controller);
  Json other_kind = child;
  other_kind["metadata"]["ownerReferences"][0]["kind"] = "Deployment";
  h.on_delete(other_kind);
  h.on_add(Json{{"metadata", {{"name", "orphan"}}}});
  EXPECT_EQ(q.TryGet(), std::nullopt);
  EXPECT_EQ(ControllerOwnerKey(child, "serving.kserve.io/v1beta1", "InferenceService"), "ns/x");
}

TEST(KubeStore, UpsertEraseList) {
  Store s;
  EXPECT_FALSE(s.Upsert("a", Json{{"v", 1}}).has_value());
  auto prev = s.Upsert("a", Json{{"v", 2}});
  ASSERT_TRUE(prev.has_value());
  EXPECT_EQ((*prev)["v"], 1);
  EXPECT_EQ(s.Size(), 1u);
  EXPECT_EQ((*s.Get("a"))["v"], 2);
  EXPECT_TRUE(s.Erase("a").has_value());
  EXPECT_FALSE(s.Erase("a").has_value());
  EXPECT_TRUE(s.List().empty());
}

}  // namespace
}  // namespace inferd::kube
