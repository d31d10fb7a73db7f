// KubeClient against the fake API server (tests/kube/fake_api_server.h), the watch stream parser, and
// kubeconfig / in-cluster configuration.
#include "kube/client.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <functional>
#include <thread>

#include "kube/fake_api_server.h"
#include "resources/secrets.h"

namespace inferd::kube {
namespace {

using testing::FakeApiServer;

const Gvr kWidgets{"example.com", "v1", "widgets", true};
const Gvr kConfigMaps{"", "v1", "configmaps", true};
const Gvr kNodes{"", "v1", "nodes", false};

Json Widget(const std::string& name, int size = 1) {
  return Json{{"apiVersion", "example.com/v1"},
              {"kind", "Widget"},
              {"metadata", {{"name", name}, {"labels", {{"app", "w"}}}}},
              {"spec", {{"size", size}}}};
}

TEST(Gvr, Paths) {
  EXPECT_EQ(kWidgets.Path("ns"), "/apis/example.com/v1/namespaces/ns/widgets");
  EXPECT_EQ(kWidgets.Path("", ""), "/apis/example.com/v1/widgets");
  EXPECT_EQ(kWidgets.Path("ns", "a", "status"), "/apis/example.com/v1/namespaces/ns/widgets/a/status");
  EXPECT_EQ(kConfigMaps.Path("default", "x y"), "/api/v1/namespaces/default/configmaps/x%20y");
  EXPECT_EQ(kNodes.Path("ignored", "n1"), "/api/v1/nodes/n1");
  EXPECT_EQ(kWidgets.ApiVersion(), "example.com/v1");
  EXPECT_EQ(kConfigMaps.ApiVersion(), "v1");
}

TEST(Keys, ObjectKeyAndSplit) {
  Json o = {{"metadata", {{"name", "a"}, {"namespace", "ns"}}}};
  EXPECT_EQ(ObjectKey(o), "ns/a");
  EXPECT_EQ(ObjectKey(Json{{"metadata", {{"name", "n1"}}}}), "n1");
  EXPECT_EQ(SplitKey("ns/a"), (std::pair<std::string, std::string>{"ns", "a"}));
  EXPECT_EQ(SplitKey("n1"), (std::pair<std::string, std::string>{"", "n1"}));
}

TEST(StatusFromBody, ReadsReasonAndMessageOrFallsBackToTheCode) {
  ApiStatus s = StatusFromBody(409, R"({"kind":"Status","apiVersion":"v1","status":"Failure","reason":"AlreadyExists","message":"x exists","code":409})");
  EXPECT_TRUE(s.IsAlreadyExists());
  EXPECT_FALSE(s.IsConflict());
  EXPECT_EQ(s.message, "x exists");
  EXPECT_EQ(s.ToStatus().code(), StatusCode::kAlreadyExists);
  ApiStatus g = StatusFromBody(410, "<html>gone</html>");
  EXPECT_EQ(g.reason, "Gone");
  EXPECT_TRUE(g.IsExpired());
  ApiStatus c = StatusFromBody(409, "{}");
  EXPECT_TRUE(c.IsConflict());
  EXPECT_EQ(c.ToStatus().code(), StatusCode::kConflict);
  EXPECT_EQ(StatusFromBody(503, "").ToStatus().code(), StatusCode::kUnavailable);
}

// Polls pred until true or 30 s; no timing is asserted.
bool Eventually0(const std::function<bool()>& pred) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (!pred()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return true;
}

class ClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_.RegisterKind(kWidgets, "Widget");
    server_.RegisterKind(kNodes, "Node");
  }
  FakeApiServer server_;
  KubeClient client_{server_.Config()};
};

TEST_F(ClientTest, CreateGetUpdateDelete) {
  Result<Json> created = client_.Create(kWidgets, "ns", Widget("a"));
  ASSERT_TRUE(created.ok()) << created.status().ToString();
  EXPECT_EQ((*created)["metadata"]["namespace"], "ns");
  EXPECT_EQ((*created)["metadata"]["generation"], 1);
  EXPECT_FALSE((*created)["metadata"].value("uid", "").empty());
  const std::string rv1 = (*created)["metadata"]["resourceVersion"];

  Result<Json> got = client_.Get(kWidgets, "ns", "a");
  ASSERT_TRUE(got.ok());
  EXPECT_EQ((*got)["spec"]["size"], 1);

  Json changed = *got;
  changed["spec"]["size"] = 2;
  Result<Json> updated = client_.Update(kWidgets, "ns", changed);
  ASSERT_TRUE(updated.ok()) << updated.status().ToString();
  EXPECT_NE((*updated)["metadata"]["resourceVersion"], rv1);
  EXPECT_EQ((*updated)["metadata"]["generation"], 2);

  // The stale copy now conflicts.
  Result<Json> stale = client_.Update(kWidgets, "ns", changed);
  ASSERT_FALSE(stale.ok());
  EXPECT_EQ(stale.status().code, 409);
  EXPECT_EQ(stale.status().reason, "Conflict");
  EXPECT_TRUE(stale.status().IsConflict());

  Result<Json> deleted = client_.Delete(kWidgets, "ns", "a", DeleteOptions{"Background", {}, {}});
  ASSERT_TRUE(deleted.ok()) << deleted.status().ToString();
  EXPECT_EQ((*deleted)["kind"], "Status");
  EXPECT_EQ((*deleted)["status"], "Success");
  EXPECT_EQ((*deleted)["details"]["uid"], (*created)["metadata"]["uid"]);
  EXPECT_FALSE(server_.Object(kWidgets, "ns", "a").has_value());
}

TEST_F(ClientTest, ErrorsCarryCodeAndReason) {
  Result<Json> missing = client_.Get(kWidgets, "ns", "nope");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code, 404);
  EXPECT_EQ(missing.status().reason, "NotFound");
  EXPECT_NE(missing.status().message.find("widgets.example.com \"nope\" not found"), std::string::npos);
  EXPECT_EQ(missing.status().ToStatus().code(), StatusCode::kNotFound);

  ASSERT_TRUE(client_.Create(kWidgets, "ns", Widget("a")).ok());
  Result<Json> again = client_.Create(kWidgets, "ns", Widget("a"));
  ASSERT_FALSE(again.ok());
  EXPECT_TRUE(again.status().IsAlreadyExists());

  Json no_rv = Widget("a");
  Result<Json> invalid = client_.Update(kWidgets, "ns", no_rv);
  ASSERT_FALSE(invalid.ok());
  EXPECT_EQ(invalid.status().code, 422);
  EXPECT_EQ(invalid.status().reason, "Invalid");

  Result<Json> not_found_delete = client_.Delete(kWidgets, "ns", "nope");
  EXPECT_TRUE(not_found_delete.status().IsNotFound());

  server_.FailNext(1, 500, "InternalError");
  Result<Json> injected = client_.Get(kWidgets, "ns", "a");
  EXPECT_EQ(injected.status().code, 500);
  EXPECT_EQ(injected.status().reason, "InternalError");
  EXPECT_EQ(injected.status().ToStatus().code(), StatusCode::kUnavailable);
  EXPECT_TRUE(client_.Get(kWidgets, "ns", "a").ok());  // only the next one failed
}

TEST_F(ClientTest, TransportErrorsAreCodeZeroAndBounded) {
  KubeConfig c;
  c.server = "http://127.0.0.1:1";  // nothing listens
  c.connect_timeout_s = 2;
  KubeClient dead(c);
  Result<Json> r = dead.Get(kWidgets, "ns", "a");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code, 0);
  EXPECT_EQ(r.status().reason, "Transport");
  EXPECT_EQ(r.status().ToStatus().code(), StatusCode::kUnavailable);
}

TEST_F(ClientTest, ResponseBodyIsBounded) {
  for (int i = 0; i < 20; ++i) ASSERT_TRUE(client_.Create(kWidgets, "ns", Widget("w" + std::to_string(i))).ok());
  KubeConfig c = server_.Config();
  c.max_body_bytes = 1000;
  KubeClient small(c);
  Result<Json> r = small.List(kWidgets, "ns");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().reason, "ResponseTooLarge");
}

TEST_F(ClientTest, StatusSubresourceAndGeneration) {
  ASSERT_TRUE(client_.Create(kWidgets, "ns", Widget("a")).ok());
  Json obj = *client_.Get(kWidgets, "ns", "a");
  obj["status"] = {{"ready", true}};
  obj["spec"]["size"] = 99;  // ignored by /status
  Result<Json> st = client_.UpdateStatus(kWidgets, "ns", obj);
  ASSERT_TRUE(st.ok()) << st.status().ToString();
  EXPECT_EQ((*st)["status"]["ready"], true);
  EXPECT_EQ((*st)["spec"]["size"], 1);
  EXPECT_EQ((*st)["metadata"]["generation"], 1);

  // A PUT of the main resource keeps the status.
  Json main = *st;
  main["status"] = {{"ready", false}};
  main["spec"]["size"] = 3;
  Result<Json> up = client_.Update(kWidgets, "ns", main);
  ASSERT_TRUE(up.ok());
  EXPECT_EQ((*up)["status"]["ready"], true);
  EXPECT_EQ((*up)["metadata"]["generation"], 2);
}

TEST_F(ClientTest, MergePatchAndStatusPatch) {
  ASSERT_TRUE(client_.Create(kWidgets, "ns", Widget("a", 1)).ok());
  Result<Json> p = client_.Patch(kWidgets, "ns", "a", Json{{"metadata", {{"finalizers", {"example.com/f"}}}}});
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  EXPECT_EQ((*p)["metadata"]["finalizers"][0], "example.com/f");
  EXPECT_EQ((*p)["spec"]["size"], 1);
  Result<Json> sp = client_.Patch(kWidgets, "ns", "a", Json{{"status", {{"phase", "Up"}}}}, PatchType::kMerge, "status");
  ASSERT_TRUE(sp.ok()) << sp.status().ToString();
  EXPECT_EQ((*sp)["status"]["phase"], "Up");
  Result<Json> missing = client_.Patch(kWidgets, "ns", "nope", Json::object());
  EXPECT_TRUE(missing.status().IsNotFound());
  Result<Json> no_manager = client_.Patch(kWidgets, "ns", "a", Json::object(), PatchType::kApply);
  EXPECT_EQ(no_manager.status().code, 422);
}

TEST_F(ClientTest, FinalizersDelayDeletion) {
  Json w = Widget("a");
  w["metadata"]["finalizers"] = {"example.com/f"};
  ASSERT_TRUE(client_.Create(kWidgets, "ns", w).ok());
  Result<Json> del = client_.Delete(kWidgets, "ns", "a");
  ASSERT_TRUE(del.ok());
  EXPECT_EQ((*del)["kind"], "Widget");  // the object, still there
  EXPECT_TRUE((*del)["metadata"].contains("deletionTimestamp"));
  ASSERT_TRUE(server_.Object(kWidgets, "ns", "a").has_value());
  Result<Json> cleared = client_.Patch(kWidgets, "ns", "a", Json{{"metadata", {{"finalizers", nullptr}}}});
  ASSERT_TRUE(cleared.ok()) << cleared.status().ToString();
  EXPECT_FALSE(server_.Object(kWidgets, "ns", "a").has_value());
}

TEST_F(ClientTest, OwnerReferencesAreGarbageCollected) {
  Json owner = *client_.Create(kWidgets, "ns", Widget("owner"));
  Json child = {{"metadata",
                 {{"name", "child"},
                  {"ownerReferences",
                   {{{"apiVersion", "example.com/v1"},
                     {"kind", "Widget"},
                     {"name", "owner"},
                     {"uid", owner["metadata"]["uid"]},
                     {"controller", true},
                     {"blockOwnerDeletion", true}}}}}},
                {"data", {{"k", "v"}}}};
  ASSERT_TRUE(client_.Create(kConfigMaps, "ns", child).ok());
  ASSERT_TRUE(client_.Delete(kWidgets, "ns", "owner", DeleteOptions{"Background", {}, {}}).ok());
  EXPECT_FALSE(server_.Object(kConfigMaps, "ns", "child").has_value());

  // Orphan keeps the child and drops the reference.
  Json owner2 = *client_.Create(kWidgets, "ns", Widget("owner2"));
  child["metadata"]["ownerReferences"][0]["uid"] = owner2["metadata"]["uid"];
  ASSERT_TRUE(client_.Create(kConfigMaps, "ns", child).ok());
  ASSERT_TRUE(client_.Delete(kWidgets, "ns", "owner2", DeleteOptions{"Orphan", {}, {}}).ok());
  auto kept = server_.Object(kConfigMaps, "ns", "child");
  ASSERT_TRUE(kept.has_value());
  EXPECT_TRUE((*kept)["metadata"]["ownerReferences"].empty());
}

TEST_F(ClientTest, ListWithSelectorsPagingAndClusterScope) {
  for (int i = 0; i < 7; ++i) {
    Json w = Widget("w" + std::to_string(i));
    if (i % 2) w["metadata"]["labels"]["odd"] = "yes";
    ASSERT_TRUE(client_.Create(kWidgets, i < 5 ? "a" : "b", w).ok());
  }
  Result<Json> page = client_.List(kWidgets, "a", ListOptions{"", "", "", 2, ""});
  ASSERT_TRUE(page.ok());
  EXPECT_EQ((*page)["items"].size(), 2u);
  EXPECT_EQ((*page)["kind"], "WidgetList");
  EXPECT_FALSE((*page)["metadata"].value("continue", "").empty());

  Result<Json> all = client_.ListAll(kWidgets, "a", ListOptions{"", "", "", 2, ""});
  ASSERT_TRUE(all.ok()) << all.status().ToString();
  EXPECT_EQ((*all)["items"].size(), 5u);
  EXPECT_FALSE((*all)["metadata"].value("resourceVersion", "").empty());

  Result<Json> every_ns = client_.ListAll(kWidgets, "");
  ASSERT_TRUE(every_ns.ok());
  EXPECT_EQ((*every_ns)["items"].size(), 7u);

  Result<Json> odd = client_.List(kWidgets, "", ListOptions{"odd=yes", "", "", 0, ""});
  ASSERT_TRUE(odd.ok());
  EXPECT_EQ((*odd)["items"].size(), 3u);
  Result<Json> by_name = client_.List(kWidgets, "", ListOptions{"", "metadata.name=w6", "", 0, ""});
  ASSERT_TRUE(by_name.ok());
  ASSERT_EQ((*by_name)["items"].size(), 1u);
  EXPECT_EQ((*by_name)["items"][0]["metadata"]["namespace"], "b");

  // Too many items for the caller's bound.
  Result<Json> capped = client_.ListAll(kWidgets, "", ListOptions{"", "", "", 2, ""}, 3);
  EXPECT_EQ(capped.status().reason, "ResponseTooLarge");

  // A continue token from before a compaction: 410.
  server_.CompactHistory();
  ASSERT_TRUE(client_.Create(kWidgets, "a", Widget("late")).ok());
  Result<Json> next = client_.List(kWidgets, "a", ListOptions{"", "", "", 2, (*page)["metadata"]["continue"]});
  ASSERT_FALSE(next.ok());
  EXPECT_EQ(next.status().code, 410);
  EXPECT_TRUE(next.status().IsExpired());

  ASSERT_TRUE(client_.Create(kNodes, "", Json{{"metadata", {{"name", "n1"}}}}).ok());
  Result<Json> node = client_.Get(kNodes, "", "n1");
  ASSERT_TRUE(node.ok());
  EXPECT_EQ((*node)["kind"], "Node");
  EXPECT_FALSE((*node)["metadata"].contains("namespace"));
}

TEST_F(ClientTest, BearerTokenIsSent) {
  FakeApiServer::Options o;
  o.token = "s3cret";
  FakeApiServer secured(o);
  KubeConfig without = secured.Config();
  without.token.clear();
  EXPECT_EQ(KubeClient(without).Get(kWidgets, "ns", "a").status().code, 401);
  EXPECT_EQ(KubeClient(secured.Config()).Get(kWidgets, "ns", "a").status().code, 404);
}

// ---- watch ----------------------------------------------------------------------------------------------

TEST(LineSplitter, SplitLinesAcrossFeedsAndCrLf) {
  LineSplitter s(100);
  std::vector<std::string> lines;
  auto sink = [&](std::string_view l) {
    lines.emplace_back(l);
    return true;
  };
  EXPECT_TRUE(s.Feed("{\"a\":", sink));
  EXPECT_TRUE(lines.empty());
  EXPECT_TRUE(s.Feed("1}\n{\"b\"", sink));
  EXPECT_TRUE(s.Feed(":2}\r\n\n{\"c\":3}\n", sink));
  EXPECT_EQ(lines, (std::vector<std::string>{"{\"a\":1}", "{\"b\":2}", "{\"c\":3}"}));
  EXPECT_EQ(s.buffered(), 0u);
}

TEST(LineSplitter, OversizedLineFailsAndStaysFailed) {
  LineSplitter s(10);
  int n = 0;
  auto sink = [&](std::string_view) {
    ++n;
    return true;
  };
  EXPECT_TRUE(s.Feed("short\n", sink));
  EXPECT_TRUE(s.Feed("0123456", sink));
  EXPECT_FALSE(s.Feed("789abc", sink));  // 13 bytes without a newline
  EXPECT_FALSE(s.Feed("\nok\n", sink));
  EXPECT_EQ(n, 1);
}

TEST(ParseWatchEvent, AcceptsKnownTypesOnly) {
  auto ok = ParseWatchEvent(R"({"type":"ADDED","object":{"metadata":{"name":"a"}}})");
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(ok->type, "ADDED");
  EXPECT_EQ(ok->object["metadata"]["name"], "a");
  EXPECT_FALSE(ParseWatchEvent(R"({"type":"EXPLODED","object":{}})").ok());
  EXPECT_FALSE(ParseWatchEvent(R"({"type":"ADDED"})").ok());
  EXPECT_FALSE(ParseWatchEvent("not json").ok());
  auto err = ParseWatchEvent(R"({"type":"ERROR","object":{"kind":"Status","code":410,"reason":"Expired","message":"too old"}})");
  ASSERT_TRUE(err.ok());
  ApiStatus st = StatusFromEvent(*err);
  EXPECT_EQ(st.code, 410);
  EXPECT_TRUE(st.IsExpired());
}

TEST_F(ClientTest, WatchStreamsEventsFromAResourceVersion) {
  Json a = *client_.Create(kWidgets, "ns", Widget("a"));
  const std::string rv = a["metadata"]["resourceVersion"];
  ASSERT_TRUE(client_.Create(kWidgets, "ns", Widget("b")).ok());
  Json b = *client_.Get(kWidgets, "ns", "b");
  b["spec"]["size"] = 5;
  ASSERT_TRUE(client_.Update(kWidgets, "ns", b).ok());
  ASSERT_TRUE(client_.Delete(kWidgets, "ns", "a").ok());

  std::vector<std::string> seen;
  WatchOptions wo;
  wo.resource_version = rv;
  wo.timeout_seconds = 1;  // the fake ends the stream after it (then a BOOKMARK)
  ApiStatus st = client_.Watch(kWidgets, "ns", wo, [&](WatchEvent&& ev) {
    seen.push_back(ev.type + " " + ev.object["metadata"].value("name", ""));
    return true;
  });
  EXPECT_TRUE(st.ok()) << st.ToString();
  ASSERT_GE(seen.size(), 3u);
  EXPECT_EQ(seen[0], "ADDED b");
  EXPECT_EQ(seen[1], "MODIFIED b");
  EXPECT_EQ(seen[2], "DELETED a");
  EXPECT_EQ(seen.back(), "BOOKMARK ");
}

TEST_F(ClientTest, WatchWithoutVersionStartsWithSyntheticAdds) {
  ASSERT_TRUE(client_.Create(kWidgets, "ns", Widget("a")).ok());
  std::vector<std::string> seen;
  WatchOptions wo;
  wo.resource_version = "0";
  ApiStatus st = client_.Watch(kWidgets, "ns", wo, [&](WatchEvent&& ev) {
    seen.push_back(ev.type);
    return false;  // stop after the first
  });
  EXPECT_TRUE(st.ok());
  EXPECT_EQ(seen, std::vector<std::string>{"ADDED"});
}

TEST_F(ClientTest, WatchExpiredResourceVersionGivesAnErrorEvent) {
  ASSERT_TRUE(client_.Create(kWidgets, "ns", Widget("a")).ok());
  server_.CompactHistory();
  ASSERT_TRUE(client_.Create(kWidgets, "ns", Widget("b")).ok());
  std::vector<WatchEvent> events;
  WatchOptions wo;
  wo.resource_version = "1";
  ApiStatus st = client_.Watch(kWidgets, "ns", wo, [&](WatchEvent&& ev) {
    events.push_back(std::move(ev));
    return true;
  });
  EXPECT_TRUE(st.ok());
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].type, "ERROR");
  EXPECT_TRUE(StatusFromEvent(events[0]).IsExpired());
}

TEST(FakeHistoryWindow, AWatchFromBeforeTheWindowGetsExpired) {
  FakeApiServer::Options o;
  o.history_window = 3;
  FakeApiServer server(o);
  KubeClient client(server.Config());
  ASSERT_TRUE(client.Create(kWidgets, "ns", Widget("w0")).ok());
  const std::string rv0 = std::to_string(server.resource_version());
  for (int i = 1; i <= 5; ++i) ASSERT_TRUE(client.Create(kWidgets, "ns", Widget("w" + std::to_string(i))).ok());
  std::vector<std::string> types;
  WatchOptions wo;
  wo.resource_version = rv0;  // 5 events ago, the window keeps 3
  wo.timeout_seconds = 1;
  ASSERT_TRUE(client.Watch(kWidgets, "ns", wo, [&](WatchEvent&& ev) {
    types.push_back(ev.type);
    return true;
  }).ok());
  EXPECT_EQ(types, std::vector<std::string>{"ERROR"});
  types.clear();
  wo.resource_version = std::to_string(server.resource_version() - 2);  // inside the window
  ASSERT_TRUE(client.Watch(kWidgets, "ns", wo, [&](WatchEvent&& ev) {
    types.push_back(ev.type);
    return true;
  }).ok());
  EXPECT_EQ(types, (std::vector<std::string>{"ADDED", "ADDED", "BOOKMARK"}));
}

TEST_F(ClientTest, WatchHttpErrorAndCancel) {
  server_.FailNext(1, 500, "InternalError", "watch=true");
  ApiStatus st = client_.Watch(kWidgets, "ns", WatchOptions{}, [](WatchEvent&&) { return true; });
  EXPECT_EQ(st.code, 500);
  EXPECT_EQ(st.reason, "InternalError");

  std::atomic<bool> cancel{false};
  WatchOptions wo;
  wo.timeout_seconds = 600;
  wo.cancel = &cancel;
  std::thread stopper([&] {
    while (server_.open_watches() == 0) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    cancel = true;
  });
  const auto t0 = std::chrono::steady_clock::now();
  ApiStatus cancelled = client_.Watch(kWidgets, "ns", wo, [](WatchEvent&&) { return true; });
  stopper.join();
  EXPECT_TRUE(cancelled.ok()) << cancelled.ToString();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(60));  // not the 600 s timeout
}

TEST_F(ClientTest, MalformedWatchLinesEndTheWatchWithAnError) {
  for (const char* garbage : {"not json at all\n", "{\"type\":\"EXPLODED\",\"object\":{}}\n", "[1,2,3]\n",
                              "{\"type\":\"ADDED\",\"object\":\"string\"}\n"}) {
    std::thread injector([&] {
      while (server_.open_watches() == 0) std::this_thread::sleep_for(std::chrono::milliseconds(2));
      server_.SendRawToWatches(garbage);
    });
    WatchOptions wo;
    wo.timeout_seconds = 60;
    ApiStatus st = client_.Watch(kWidgets, "ns", wo, [](WatchEvent&&) { return true; });
    injector.join();
    EXPECT_EQ(st.code, 0) << garbage;
    EXPECT_EQ(st.reason, "InvalidResponse") << garbage;
    ASSERT_TRUE(Eventually0([&] { return server_.open_watches() == 0; }));
  }
}

TEST_F(ClientTest, WatchLineLongerThanTheBoundEndsTheWatch) {
  Json big = Widget("big");
  big["spec"]["blob"] = std::string(5000, 'x');
  ASSERT_TRUE(client_.Create(kWidgets, "ns", big).ok());
  KubeConfig c = server_.Config();
  c.max_watch_line_bytes = 1000;
  KubeClient small(c);
  WatchOptions wo;
  wo.resource_version = "0";
  int events = 0;
  ApiStatus st = small.Watch(kWidgets, "ns", wo, [&](WatchEvent&&) {
    ++events;
    return true;
  });
  EXPECT_EQ(st.reason, "LineTooLong");
  EXPECT_EQ(events, 0);
}

// ---- configuration --------------------------------------------------------------------------------------

class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/kube_test_XXXXXX";
    path_ = ::mkdtemp(tmpl);
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  const std::string& path() const { return path_; }
  std::string Write(const std::string& name, const std::string& text) const {
    std::string p = path_ + "/" + name;
    std::ofstream(p) << text;
    return p;
  }

 private:
  std::string path_;
};

const char* kKubeconfig = R"(apiVersion: v1
kind: Config
current-context: dev
clusters:
- name: c1
  cluster:
    server: https://127.0.0.1:6443/
    certificate-authority-data: %CA%
- name: c2
  cluster:
    server: http://10.0.0.2:8080
    insecure-skip-tls-verify: true
users:
- name: u1
  user:
    token: abc123
- name: u2
  user:
    tokenFile: token.txt
    client-certificate: client.crt
    client-key: client.key
contexts:
- name: dev
  context: {cluster: c1, user: u1, namespace: team-a}
- name: other
  context: {cluster: c2, user: u2}
)";

std::string WithCa(const std::string& pem) {
  std::string text = kKubeconfig;
  text.replace(text.find("%CA%"), 4, resources::Base64Encode(pem));
  return text;
}

TEST(KubeConfig, CurrentContextWithCaDataAndToken) {
  const std::string pem = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
  StatusOr<KubeConfig> c = ParseKubeConfig(WithCa(pem));
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->server, "https://127.0.0.1:6443");
  EXPECT_EQ(c->ca_data, pem);
  EXPECT_EQ(c->token, "abc123");
  EXPECT_EQ(c->namespace_name, "team-a");
  EXPECT_FALSE(c->insecure_skip_tls_verify);
}

TEST(KubeConfig, NamedContextResolvesRelativeFiles) {
  StatusOr<KubeConfig> c = ParseKubeConfig(WithCa("x"), "other", "/etc/kube");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->server, "http://10.0.0.2:8080");
  EXPECT_TRUE(c->insecure_skip_tls_verify);
  EXPECT_EQ(c->token_file, "/etc/kube/token.txt");
  EXPECT_EQ(c->client_cert_file, "/etc/kube/client.crt");
  EXPECT_EQ(c->client_key_file, "/etc/kube/client.key");
  EXPECT_EQ(c->namespace_name, "default");
}

TEST(KubeConfig, RefusesWhatItCannotHonour) {
  EXPECT_FALSE(ParseKubeConfig(WithCa("x"), "missing").ok());
  EXPECT_FALSE(ParseKubeConfig("current-context: x\n").ok());
  EXPECT_FALSE(ParseKubeConfig(": : :\n[").ok());
  const char* ca_and_insecure = R"(current-context: c
clusters: [{name: k, cluster: {server: "https://h", certificate-authority: ca.crt, insecure-skip-tls-verify: true}}]
contexts: [{name: c, context: {cluster: k}}]
)";
  StatusOr<KubeConfig> both = ParseKubeConfig(ca_and_insecure);
  ASSERT_FALSE(both.ok());
  EXPECT_NE(both.status().message().find("insecure"), std::string::npos);
  const char* exec = R"(current-context: c
clusters: [{name: k, cluster: {server: "https://h"}}]
users: [{name: u, user: {exec: {command: aws}}}]
contexts: [{name: c, context: {cluster: k, user: u}}]
)";
  StatusOr<KubeConfig> e = ParseKubeConfig(exec);
  ASSERT_FALSE(e.ok());
  EXPECT_NE(e.status().message().find("user.exec"), std::string::npos);
  const char* bad_b64 = R"(current-context: c
clusters: [{name: k, cluster: {server: "https://h", certificate-authority-data: "!!!"}}]
contexts: [{name: c, context: {cluster: k}}]
)";
  EXPECT_FALSE(ParseKubeConfig(bad_b64).ok());
  const char* ftp = R"(current-context: c
clusters: [{name: k, cluster: {server: "ftp://h"}}]
contexts: [{name: c, context: {cluster: k}}]
)";
  EXPECT_FALSE(ParseKubeConfig(ftp).ok());
  // Found by fuzz/kube_fuzz: a list entry whose name is not a string made nlohmann's value() throw.
  const char* odd_names = R"(current-context: c
clusters: [{name: {a: 1}, cluster: {server: "https://h"}}, {name: k, cluster: {server: "https://h"}}]
contexts: [{name: [1], context: {}}, {name: c, context: {cluster: k}}]
)";
  StatusOr<KubeConfig> odd = ParseKubeConfig(odd_names);
  ASSERT_TRUE(odd.ok()) << odd.status().ToString();
  EXPECT_EQ(odd->server, "https://h");
}

TEST(Keys, OddShapesNeverThrow) {
  EXPECT_EQ(ObjectKey(Json::array()), "");
  EXPECT_EQ(ObjectKey(Json{{"metadata", 5}}), "");
  EXPECT_EQ(ObjectKey(Json{{"metadata", {{"name", 1}, {"namespace", nullptr}}}}), "");
  EXPECT_EQ(StringField(Json("x"), "a"), "");
  EXPECT_EQ(StatusFromBody(500, R"({"kind":"Status","reason":7,"message":[1]})").reason, "InternalError");
}

TEST(KubeConfig, LoadFileAndUseItAgainstTheFakeWithATokenFile) {
  FakeApiServer::Options o;
  o.token = "from-file";
  FakeApiServer server(o);
  TempDir dir;
  dir.Write("token.txt", "from-file\n");
  const std::string path = dir.Write("config", "current-context: c\n"
                                               "clusters: [{name: k, cluster: {server: \"" + server.url() + "\"}}]\n"
                                               "users: [{name: u, user: {tokenFile: token.txt}}]\n"
                                               "contexts: [{name: c, context: {cluster: k, user: u, namespace: x}}]\n");
  StatusOr<KubeConfig> c = LoadKubeConfigFile(path);
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->token_file, dir.path() + "/token.txt");
  KubeClient client(*c);
  EXPECT_EQ(client.BearerHeader(), "Bearer from-file");
  EXPECT_EQ(client.Get(kWidgets, "x", "a").status().code, 404);  // authorized, just absent
  EXPECT_FALSE(LoadKubeConfigFile(dir.path() + "/nope").ok());
}

TEST(InClusterConfig, FromEnvironmentAndServiceAccountDir) {
  TempDir dir;
  dir.Write("token", "sa-token\n");
  dir.Write("ca.crt", "-----BEGIN CERTIFICATE-----\n");
  dir.Write("namespace", "kserve\n");
  std::map<std::string, std::string> env = {{"KUBERNETES_SERVICE_HOST", "10.96.0.1"},
                                            {"KUBERNETES_SERVICE_PORT", "443"}};
  InClusterSource src;
  src.sa_dir = dir.path();
  src.getenv = [&](const char* name) -> const char* {
    auto it = env.find(name);
    return it == env.end() ? nullptr : it->second.c_str();
  };
  StatusOr<KubeConfig> c = InClusterConfig(src);
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->server, "https://10.96.0.1:443");
  EXPECT_EQ(c->ca_file, dir.path() + "/ca.crt");
  EXPECT_EQ(c->token_file, dir.path() + "/token");
  EXPECT_EQ(c->namespace_name, "kserve");
  EXPECT_EQ(KubeClient(*c).BearerHeader(), "Bearer sa-token");

  env["KUBERNETES_SERVICE_HOST"] = "fd00::1";
  EXPECT_EQ(InClusterConfig(src)->server, "https://[fd00::1]:443");

  env.erase("KUBERNETES_SERVICE_PORT");
  StatusOr<KubeConfig> outside = InClusterConfig(src);
  ASSERT_FALSE(outside.ok());
  EXPECT_NE(outside.status().message().find("not in cluster"), std::string::npos);
}

TEST(KubeClient, TokenFileIsCachedThenReRead) {
  TempDir dir;
  const std::string token = dir.Write("token", "one");
  KubeConfig c;
  c.server = "http://127.0.0.1:1";
  c.token_file = token;
  ManualClock clock;
  KubeClient client(c, &clock);
  EXPECT_EQ(client.BearerHeader(), "Bearer one");
  dir.Write("token", "two");
  clock.Advance(std::chrono::seconds(59));
  EXPECT_EQ(client.BearerHeader(), "Bearer one");  // cached for a minute (kTokenRefreshNs)
  clock.Advance(std::chrono::seconds(1));
  EXPECT_EQ(client.BearerHeader(), "Bearer two");  // a rotated token is picked up
  std::filesystem::remove(token);
  clock.Advance(std::chrono::seconds(60));
  EXPECT_EQ(client.BearerHeader(), "Bearer two");  // a missing file keeps the last token
}

}  // namespace
}  // namespace inferd::kube
