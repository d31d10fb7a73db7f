// tests/api/api_server_test.cc: the Kubernetes-shaped REST API against an in-memory Store, over real HTTP.
#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "api/api_server.h"
#include "core/json_depth.h"
#include "util/test_util.h"

namespace inferd::api {
namespace {

using namespace std::chrono_literals;
using store::Json;
using testing::HttpResponse;

const std::string kIsvcs = "/apis/serving.kserve.io/v1beta1/namespaces/default/inferenceservices";
const std::string kRuntimes = "/apis/serving.kserve.io/v1alpha1/namespaces/default/servingruntimes";
const std::string kClusterRuntimes = "/apis/serving.kserve.io/v1alpha1/clusterservingruntimes";

Json Isvc(const std::string& name, const std::string& format = "sklearn") {
  return {{"apiVersion", "serving.kserve.io/v1beta1"},
          {"kind", "InferenceService"},
          {"metadata", {{"name", name}}},
          {"spec",
           {{"predictor",
             {{"model", {{"modelFormat", {{"name", format}}}, {"storageUri", "file:///models/" + name}}}}}}}};
}

Json Runtime(const std::string& name, bool cluster) {
  return {{"apiVersion", "serving.kserve.io/v1alpha1"},
          {"kind", cluster ? "ClusterServingRuntime" : "ServingRuntime"},
          {"metadata", {{"name", name}}},
          {"spec",
           {{"supportedModelFormats", {{{"name", "sklearn"}, {"version", "1"}, {"autoSelect", true}}}},
            {"containers", {{{"name", "kserve-container"}, {"image", "inferd:latest"}}}}}}};
}

// A curl call that sends a body with any method (test_util's HttpRequest sends one for POST/PUT/PATCH only).
HttpResponse Call(int port, const std::string& method, const std::string& path, const std::string& body = "",
                  const std::vector<std::string>& headers = {"Content-Type: application/json"}) {
  HttpResponse r;
  CURL* c = curl_easy_init();
  std::string url = "http://127.0.0.1:" + std::to_string(port) + path;
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method.c_str());
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 20000L);
  if (!body.empty()) {
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body.data());
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
  }
  struct curl_slist* hl = nullptr;
  for (const auto& h : headers) hl = curl_slist_append(hl, h.c_str());
  hl = curl_slist_append(hl, "Expect:");
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, +[](char* p, size_t s, size_t n, void* ud) {
    static_cast<std::string*>(ud)->append(p, s * n);
    return s * n;
  });
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &r.body);
  CURLcode rc = curl_easy_perform(c);
  if (rc == CURLE_OK) {
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r.status);
  } else {
    r.error = curl_easy_strerror(rc);
  }
  curl_slist_free_all(hl);
  curl_easy_cleanup(c);
  return r;
}

Json Parse(const HttpResponse& r) {
  try {
    return Json::parse(r.body);
  } catch (...) {
    ADD_FAILURE() << "not JSON (status " << r.status << "): " << r.body;
    return Json();
  }
}

// Reads a streaming response line by line on a thread.
class StreamReader {
 public:
  StreamReader(int port, const std::string& path, std::vector<std::string> headers = {}) {
    thread_ = std::thread([this, port, path, headers] {
      CURL* c = curl_easy_init();
      std::string url = "http://127.0.0.1:" + std::to_string(port) + path;
      curl_easy_setopt(c, CURLOPT_URL, url.c_str());
      curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
      curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 60000L);
      struct curl_slist* hl = nullptr;
      for (const auto& h : headers) hl = curl_slist_append(hl, h.c_str());
      curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl);
      curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, +[](char* p, size_t s, size_t n, void* ud) {
        auto* self = static_cast<StreamReader*>(ud);
        {
          std::lock_guard<std::mutex> lock(self->mu_);
          self->data_.append(p, s * n);
        }
        self->cv_.notify_all();
        return s * n;
      });
      curl_easy_setopt(c, CURLOPT_WRITEDATA, this);
      curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
      curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION,
                       +[](void* ud, curl_off_t, curl_off_t, curl_off_t, curl_off_t) -> int {
                         return static_cast<StreamReader*>(ud)->cancel_.load() ? 1 : 0;
                       });
      curl_easy_setopt(c, CURLOPT_XFERINFODATA, this);
      CURLcode rc = curl_easy_perform(c);
      long status = 0;
      curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
      curl_slist_free_all(hl);
      curl_easy_cleanup(c);
      {
        std::lock_guard<std::mutex> lock(mu_);
        status_ = status;
        rc_ = rc;
        finished_ = true;
      }
      cv_.notify_all();
    });
  }
  ~StreamReader() {
    cancel_ = true;
    thread_.join();
  }
  // Waits until at least n complete lines arrived; returns all complete lines so far.
  std::vector<std::string> Lines(size_t n, std::chrono::milliseconds timeout = 10s) {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait_for(lock, timeout, [&] { return SplitLocked().size() >= n || finished_; });
    return SplitLocked();
  }
  std::vector<Json> Events(size_t n, std::chrono::milliseconds timeout = 10s) {
    std::vector<Json> out;
    for (auto& l : Lines(n, timeout)) out.push_back(Json::parse(l));
    return out;
  }
  bool WaitFinished(std::chrono::milliseconds timeout) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, timeout, [&] { return finished_; });
  }
  long status() {
    std::lock_guard<std::mutex> lock(mu_);
    return status_;
  }
  CURLcode rc() {
    std::lock_guard<std::mutex> lock(mu_);
    return rc_;
  }
  std::string data() {
    std::lock_guard<std::mutex> lock(mu_);
    return data_;
  }
  void Cancel() { cancel_ = true; }

 private:
  std::vector<std::string> SplitLocked() const {
    std::vector<std::string> out;
    size_t i = 0;
    while (true) {
      size_t j = data_.find('\n', i);
      if (j == std::string::npos) break;
      out.push_back(data_.substr(i, j - i));
      i = j + 1;
    }
    return out;
  }
  std::thread thread_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::string data_;
  bool finished_ = false;
  long status_ = 0;
  CURLcode rc_ = CURLE_OK;
  std::atomic<bool> cancel_{false};
};

class ApiServerTest : public ::testing::Test {
 protected:
  void SetUp() override { StartServer({}); }
  void TearDown() override {
    server_.reset();
    store_.reset();
  }
  void StartServer(ApiOptions opts) {
    server_.reset();
    store_.reset();
    auto s = store::Store::Open(":memory:");
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    store_ = std::move(s).value();
    opts.port = 0;
    server_ = std::make_unique<ApiServer>(store_.get(), opts);
    for (auto& [prefix, h] : extensions_) server_->AddExtension(prefix, h);
    Status st = server_->Start();
    ASSERT_TRUE(st.ok()) << st.ToString();
    port_ = server_->port();
    ASSERT_GT(port_, 0);
  }
  HttpResponse Create(const std::string& coll, const Json& obj) { return Call(port_, "POST", coll, obj.dump()); }

  std::unique_ptr<store::Store> store_;
  std::unique_ptr<ApiServer> server_;
  std::vector<std::pair<std::string, ExtensionHandler>> extensions_;
  int port_ = 0;
};

void ExpectStatus(const HttpResponse& r, long code, const std::string& reason, const std::string& needle = "") {
  EXPECT_EQ(r.status, code) << r.body << r.error;
  Json j = Parse(r);
  if (!j.is_object()) return;
  EXPECT_EQ(j.value("kind", ""), "Status");
  EXPECT_EQ(j.value("apiVersion", ""), "v1");
  EXPECT_EQ(j.value("status", ""), "Failure");
  EXPECT_EQ(j.value("reason", ""), reason) << r.body;
  EXPECT_EQ(j.value("code", 0), code);
  if (!needle.empty()) {
    EXPECT_NE(j.value("message", "").find(needle), std::string::npos) << r.body;
  }
}

TEST_F(ApiServerTest, HealthzAndVersion) {
  auto h = Call(port_, "GET", "/healthz");
  EXPECT_EQ(h.status, 200);
  EXPECT_EQ(h.body, "ok");
  auto v = Call(port_, "GET", "/version");
  EXPECT_EQ(v.status, 200);
  // Kubernetes' version.Info with a semver gitVersion (issue 14: kubectl version parses it).
  EXPECT_EQ(Parse(v)["gitVersion"].get<std::string>().rfind("v1.32.0-inferd.", 0), 0u) << v.body;
  EXPECT_EQ(Parse(Call(port_, "GET", "/version/"))["major"], "1");
  ExpectStatus(Call(port_, "POST", "/version", "{}"), 405, "MethodNotAllowed");
}

TEST_F(ApiServerTest, InferenceServiceCrud) {
  // create
  auto c = Create(kIsvcs, Isvc("sk"));
  ASSERT_EQ(c.status, 201) << c.body;
  Json created = Parse(c);
  EXPECT_EQ(created["metadata"]["namespace"], "default");
  EXPECT_EQ(created["metadata"]["generation"], 1);
  EXPECT_FALSE(created["metadata"]["uid"].get<std::string>().empty());
  std::string rv1 = created["metadata"]["resourceVersion"];

  // duplicate
  ExpectStatus(Create(kIsvcs, Isvc("sk")), 409, "AlreadyExists", "already exists");

  // get
  auto g = Call(port_, "GET", kIsvcs + "/sk");
  ASSERT_EQ(g.status, 200);
  EXPECT_EQ(Parse(g), created);
  auto nf = Call(port_, "GET", kIsvcs + "/nope");
  ExpectStatus(nf, 404, "NotFound", "not found");
  EXPECT_EQ(Parse(nf)["details"], (Json{{"name", "nope"}, {"group", "serving.kserve.io"}, {"kind", "inferenceservices"}}));

  // list, in the namespace and across namespaces (namespace "team" must exist first, as in Kubernetes)
  ExpectStatus(Create("/apis/serving.kserve.io/v1beta1/namespaces/team/inferenceservices", Isvc("xg", "xgboost")),
               404, "NotFound", "namespaces \"team\" not found");
  ASSERT_EQ(Create("/api/v1/namespaces", Json{{"metadata", {{"name", "team"}}}}).status, 201);
  ASSERT_EQ(Create("/apis/serving.kserve.io/v1beta1/namespaces/team/inferenceservices", Isvc("xg", "xgboost")).status,
            201);
  auto l = Call(port_, "GET", kIsvcs);
  ASSERT_EQ(l.status, 200);
  Json list = Parse(l);
  EXPECT_EQ(list["apiVersion"], "serving.kserve.io/v1beta1");
  EXPECT_EQ(list["kind"], "InferenceServiceList");
  EXPECT_TRUE(list["metadata"]["resourceVersion"].is_string());
  ASSERT_EQ(list["items"].size(), 1u);
  EXPECT_EQ(list["items"][0]["metadata"]["name"], "sk");
  Json all = Parse(Call(port_, "GET", "/apis/serving.kserve.io/v1beta1/inferenceservices"));
  ASSERT_EQ(all["items"].size(), 2u);
  EXPECT_EQ(all["items"][0]["metadata"]["namespace"], "default");
  EXPECT_EQ(all["items"][1]["metadata"]["namespace"], "team");

  // replace (PUT) with the current resourceVersion: spec change bumps generation
  Json upd = created;
  upd["spec"]["predictor"]["model"]["storageUri"] = "file:///models/sk2";
  auto u = Call(port_, "PUT", kIsvcs + "/sk", upd.dump());
  ASSERT_EQ(u.status, 200) << u.body;
  Json updated = Parse(u);
  EXPECT_EQ(updated["metadata"]["generation"], 2);
  EXPECT_NE(updated["metadata"]["resourceVersion"], rv1);
  // stale
  ExpectStatus(Call(port_, "PUT", kIsvcs + "/sk", upd.dump()), 409, "Conflict", "the object has been modified");

  // PATCH (merge patch): labels do not bump generation
  auto p = Call(port_, "PATCH", kIsvcs + "/sk", R"({"metadata":{"labels":{"team":"a"}}})",
                {"Content-Type: application/merge-patch+json"});
  ASSERT_EQ(p.status, 200) << p.body;
  Json patched = Parse(p);
  EXPECT_EQ(patched["metadata"]["labels"]["team"], "a");
  EXPECT_EQ(patched["metadata"]["generation"], 2);
  EXPECT_EQ(patched["spec"]["predictor"]["model"]["storageUri"], "file:///models/sk2");
  // application/json is accepted for a merge patch too; null deletes
  auto p2 = Call(port_, "PATCH", kIsvcs + "/sk", R"({"metadata":{"labels":null}})");
  ASSERT_EQ(p2.status, 200) << p2.body;
  EXPECT_FALSE(Parse(p2)["metadata"].contains("labels"));
  // a patch pinned to a stale resourceVersion conflicts
  ExpectStatus(Call(port_, "PATCH", kIsvcs + "/sk",
                    Json{{"metadata", {{"resourceVersion", rv1}}}, {"spec", {{"predictor", {{"minReplicas", 2}}}}}}.dump(),
                    {"Content-Type: application/merge-patch+json"}),
               409, "Conflict");
  // strategic merge patch does not exist for custom resources (issue 14 added JSON patch and apply)
  ExpectStatus(Call(port_, "PATCH", kIsvcs + "/sk", R"({"metadata":{}})",
                    {"Content-Type: application/strategic-merge-patch+json"}),
               415, "UnsupportedMediaType");
  ExpectStatus(Call(port_, "PATCH", kIsvcs + "/nope", R"({"metadata":{}})"), 404, "NotFound");

  // delete answers Status Success with the uid, as the custom-resource store does (issue 14)
  auto d = Call(port_, "DELETE", kIsvcs + "/sk");
  ASSERT_EQ(d.status, 200) << d.body;
  Json deleted = Parse(d);
  EXPECT_EQ(deleted["kind"], "Status");
  EXPECT_EQ(deleted["status"], "Success");
  EXPECT_EQ(deleted["details"]["uid"], created["metadata"]["uid"]);
  EXPECT_EQ(deleted["details"]["kind"], "inferenceservices");
  EXPECT_EQ(Call(port_, "GET", kIsvcs + "/sk").status, 404);
  ExpectStatus(Call(port_, "DELETE", kIsvcs + "/sk"), 404, "NotFound");
}

TEST_F(ApiServerTest, DryRunValidatesAndStoresNothing) {
  auto c = Call(port_, "POST", kIsvcs + "?dryRun=All", Isvc("dry").dump());
  ASSERT_EQ(c.status, 201) << c.body;
  EXPECT_EQ(Parse(c)["metadata"]["name"], "dry");
  EXPECT_EQ(Call(port_, "GET", kIsvcs + "/dry").status, 404);
  Json bad = Isvc("dry");
  bad["spec"]["predictor"]["minReplicas"] = -1;
  ExpectStatus(Call(port_, "POST", kIsvcs + "?dryRun=All", bad.dump()), 422, "Invalid", "minReplicas");
  ExpectStatus(Call(port_, "POST", kIsvcs + "?dryRun=Maybe", Isvc("dry").dump()), 400, "BadRequest", "dryRun");
  EXPECT_EQ(Call(port_, "GET", kIsvcs + "/dry").status, 404);

  // PUT and PATCH: checked, answered, the stored object unchanged.
  ASSERT_EQ(Create(kIsvcs, Isvc("sk")).status, 201);
  Json stored = Parse(Call(port_, "GET", kIsvcs + "/sk"));
  Json upd = stored;
  upd["metadata"]["labels"] = Json{{"a", "b"}};
  ASSERT_EQ(Call(port_, "PUT", kIsvcs + "/sk?dryRun=All", upd.dump()).status, 200);
  ASSERT_EQ(Call(port_, "PATCH", kIsvcs + "/sk?dryRun=All", R"({"metadata":{"labels":{"c":"d"}}})").status, 200);
  ExpectStatus(Call(port_, "PATCH", kIsvcs + "/sk?dryRun=All", R"({"spec":{"predictor":{"minReplicas":-1}}})"), 422,
               "Invalid", "minReplicas");
  EXPECT_EQ(Parse(Call(port_, "GET", kIsvcs + "/sk")), stored);
}

TEST_F(ApiServerTest, DeletePreconditions) {
  Json created = Parse(Create(kIsvcs, Isvc("a")));
  ASSERT_EQ(Call(port_, "PATCH", kIsvcs + "/a", R"({"metadata":{"labels":{"x":"y"}}})").status, 200);
  ExpectStatus(Call(port_, "DELETE", kIsvcs + "/a",
                    Json{{"kind", "DeleteOptions"},
                         {"preconditions", {{"resourceVersion", created["metadata"]["resourceVersion"]}}}}
                        .dump()),
               409, "Conflict");
  ExpectStatus(Call(port_, "DELETE", kIsvcs + "/a", R"({"preconditions":{"uid":"other"}})"), 409, "Conflict");
  EXPECT_EQ(Call(port_, "DELETE", kIsvcs + "/a",
                 Json{{"preconditions", {{"uid", created["metadata"]["uid"]}}}}.dump())
                .status,
            200);
}

TEST_F(ApiServerTest, StatusSubresource) {
  Json created = Parse(Create(kIsvcs, Isvc("sk")));
  // status in a create is dropped (the subresource owns it)
  Json withstatus = Isvc("other");
  withstatus["status"] = {{"url", "forged"}};
  Json other = Parse(Create(kIsvcs, withstatus));
  EXPECT_FALSE(other.contains("status"));

  Json st = created;
  st["status"] = {{"url", "http://sk.default"}, {"conditions", {{{"type", "Ready"}, {"status", "True"}}}}};
  st["spec"]["predictor"]["minReplicas"] = 7;  // ignored by /status
  auto r = Call(port_, "PUT", kIsvcs + "/sk/status", st.dump());
  ASSERT_EQ(r.status, 200) << r.body;
  Json after = Parse(r);
  EXPECT_EQ(after["status"]["url"], "http://sk.default");
  EXPECT_FALSE(after["spec"]["predictor"].contains("minReplicas"));
  EXPECT_EQ(after["metadata"]["generation"], 1);
  // stale status write
  ExpectStatus(Call(port_, "PUT", kIsvcs + "/sk/status", st.dump()), 409, "Conflict");

  // GET /status returns the object
  auto g = Call(port_, "GET", kIsvcs + "/sk/status");
  ASSERT_EQ(g.status, 200);
  EXPECT_EQ(Parse(g)["status"]["url"], "http://sk.default");

  // PATCH /status
  auto p = Call(port_, "PATCH", kIsvcs + "/sk/status", R"({"status":{"url":"http://new"}})",
                {"Content-Type: application/merge-patch+json"});
  ASSERT_EQ(p.status, 200) << p.body;
  Json pj = Parse(p);
  EXPECT_EQ(pj["status"]["url"], "http://new");
  EXPECT_EQ(pj["status"]["conditions"][0]["type"], "Ready");

  // spec writes keep the stored status
  Json spec = pj;
  spec["status"] = {{"url", "forged"}};
  spec["spec"]["predictor"]["minReplicas"] = 2;
  auto u = Call(port_, "PUT", kIsvcs + "/sk", spec.dump());
  ASSERT_EQ(u.status, 200) << u.body;
  Json uj = Parse(u);
  EXPECT_EQ(uj["status"]["url"], "http://new");
  EXPECT_EQ(uj["spec"]["predictor"]["minReplicas"], 2);
  EXPECT_EQ(uj["metadata"]["generation"], 2);

  ExpectStatus(Call(port_, "DELETE", kIsvcs + "/sk/status"), 405, "MethodNotAllowed");
  ExpectStatus(Call(port_, "PUT", kIsvcs + "/missing/status", Isvc("missing").dump()), 404, "NotFound");
}

TEST_F(ApiServerTest, ValidationIs422WithField) {
  Json bad = Isvc("sk");
  bad["spec"]["predictor"]["minReplicas"] = -1;
  ExpectStatus(Create(kIsvcs, bad), 422, "Invalid", "spec.predictor.minReplicas");
  Json none = Isvc("sk");
  none["spec"]["predictor"] = Json::object();
  ExpectStatus(Create(kIsvcs, none), 422, "Invalid", "spec.predictor");
  Json badname = Isvc("Bad_Name");
  ExpectStatus(Create(kIsvcs, badname), 422, "Invalid", "metadata.name");
  EXPECT_EQ(Call(port_, "GET", kIsvcs + "/sk").status, 404);  // nothing half-applied

  Json created = Parse(Create(kIsvcs, Isvc("sk")));
  Json upd = created;
  upd["spec"]["predictor"]["minReplicas"] = 5;
  upd["spec"]["predictor"]["maxReplicas"] = 2;
  ExpectStatus(Call(port_, "PUT", kIsvcs + "/sk", upd.dump()), 422, "Invalid", "spec.predictor");
  ExpectStatus(Call(port_, "PATCH", kIsvcs + "/sk", R"({"spec":{"predictor":{"minReplicas":-3}}})"), 422, "Invalid",
               "spec.predictor.minReplicas");
  // unchanged
  EXPECT_EQ(Parse(Call(port_, "GET", kIsvcs + "/sk"))["metadata"]["resourceVersion"],
            created["metadata"]["resourceVersion"]);

  Json rt = Runtime("rt", false);
  rt["spec"]["containers"] = Json::array();
  ExpectStatus(Create(kRuntimes, rt), 422, "Invalid", "spec.containers");
}

TEST_F(ApiServerTest, BadRequests) {
  ExpectStatus(Call(port_, "POST", kIsvcs, "{not json"), 400, "BadRequest");
  ExpectStatus(Call(port_, "POST", kIsvcs, "[1,2]"), 400, "BadRequest");
  // namespace in the body contradicts the URL
  Json other = Isvc("x");
  other["metadata"]["namespace"] = "elsewhere";
  ExpectStatus(Create(kIsvcs, other), 400, "BadRequest", "namespace");
  // the matching namespace is fine
  other["metadata"]["namespace"] = "default";
  EXPECT_EQ(Create(kIsvcs, other).status, 201);
  // name on the URL contradicts the body
  ExpectStatus(Call(port_, "PUT", kIsvcs + "/y", Isvc("x").dump()), 400, "BadRequest", "name");
  // wrong kind
  Json wrong = Isvc("z");
  wrong["kind"] = "ServingRuntime";
  ExpectStatus(Create(kIsvcs, wrong), 400, "BadRequest", "kind");
  // resourceVersion on create
  Json withrv = Isvc("w");
  withrv["metadata"]["resourceVersion"] = "5";
  ExpectStatus(Create(kIsvcs, withrv), 400, "BadRequest", "resourceVersion");
  // unknown paths
  ExpectStatus(Call(port_, "GET", "/nope"), 404, "NotFound");
  ExpectStatus(Call(port_, "GET", "/apis/serving.kserve.io/v1beta1/namespaces/default/widgets"), 404, "NotFound");
  ExpectStatus(Call(port_, "GET", "/apis/other.io/v1/namespaces/default/inferenceservices"), 404, "NotFound");
  ExpectStatus(Call(port_, "GET", kIsvcs + "/x/scale"), 404, "NotFound");
  ExpectStatus(Call(port_, "GET", "/apis/serving.kserve.io/v1alpha1/namespaces/default/clusterservingruntimes"),
               404, "NotFound");
  // wrong methods
  ExpectStatus(Call(port_, "DELETE", "/apis/serving.kserve.io/v1beta1/inferenceservices"), 405, "MethodNotAllowed");
  ExpectStatus(Call(port_, "POST", kIsvcs + "/x", "{}"), 405, "MethodNotAllowed");
  ExpectStatus(Call(port_, "POST", "/apis/serving.kserve.io/v1beta1/inferenceservices", Isvc("q").dump()), 405,
               "MethodNotAllowed");
  // bad selectors / watch parameters
  ExpectStatus(Call(port_, "GET", kIsvcs + "?labelSelector=a%20in%20(b)"), 400, "BadRequest");
  ExpectStatus(Call(port_, "GET", kIsvcs + "?watch=1&resourceVersion=abc"), 400, "BadRequest");
}

// A body nested deeper than kMaxJsonDepth (64) anywhere is 400 before anything walks it: 100,000 levels used
// to overflow the stack of the server at the store write. JSON and YAML, every verb that takes a body.
TEST_F(ApiServerTest, DeepBodiesAre400AndTheServerKeepsAnswering) {
  ASSERT_EQ(Create(kIsvcs, Isvc("base")).status, 201);
  auto deep_json = [](const std::string& name, int depth, const std::string& where) {
    std::string nested = std::string(depth, '[') + std::string(depth, ']');
    std::string md = "{\"name\":\"" + name + "\"" + (where == "metadata" ? ",\"x\":" + nested : "") + "}";
    std::string spec = "{\"predictor\":{\"model\":{\"modelFormat\":{\"name\":\"sklearn\"}" +
                       (where == "spec" ? ",\"x\":" + nested : "") + "}}}";
    return "{\"apiVersion\":\"serving.kserve.io/v1beta1\",\"kind\":\"InferenceService\",\"metadata\":" + md +
           ",\"spec\":" + spec + (where == "status" ? ",\"status\":" + nested : "") +
           (where == "top" ? ",\"x\":" + nested : "") + "}";
  };
  auto deep_yaml = [](const std::string& name, int depth) {
    return "apiVersion: serving.kserve.io/v1beta1\nkind: InferenceService\nmetadata:\n  name: " + name +
           "\nspec:\n  predictor:\n    x: " + std::string(depth, '[') + std::string(depth, ']') + "\n";
  };
  const std::vector<std::string> yaml_ct = {"Content-Type: application/yaml"};
  const std::vector<std::string> merge_ct = {"Content-Type: application/merge-patch+json"};
  for (int depth : {kMaxJsonDepth, 100000}) {
    for (const char* where : {"spec", "metadata", "status", "top"}) {
      SCOPED_TRACE(std::string(where) + " " + std::to_string(depth));
      ExpectStatus(Call(port_, "POST", kIsvcs, deep_json("deep", depth, where)), 400, "BadRequest",
                   "nested deeper than 64 levels");
      ExpectStatus(Call(port_, "PUT", kIsvcs + "/base", deep_json("base", depth, where)), 400, "BadRequest",
                   "nested deeper than 64 levels");
      ExpectStatus(Call(port_, "PUT", kIsvcs + "/base/status", deep_json("base", depth, where)), 400, "BadRequest",
                   "nested deeper than 64 levels");
      ExpectStatus(Call(port_, "PATCH", kIsvcs + "/base", deep_json("base", depth, where), merge_ct), 400,
                   "BadRequest", "nested deeper than 64 levels");
    }
    ExpectStatus(Call(port_, "POST", kIsvcs, deep_yaml("deep", depth), yaml_ct), 400, "BadRequest",
                 "nested deeper than 64 levels");
    ExpectStatus(Call(port_, "PUT", kIsvcs + "/base", deep_yaml("base", depth), yaml_ct), 400, "BadRequest",
                 "nested deeper than 64 levels");
    ExpectStatus(Call(port_, "PATCH", kIsvcs + "/base", deep_yaml("base", depth), yaml_ct), 400, "BadRequest",
                 "nested deeper than 64 levels");
    ExpectStatus(Call(port_, "POST", kRuntimes, deep_yaml("rt", depth), yaml_ct), 400, "BadRequest",
                 "nested deeper than 64 levels");
  }
  // Still serving, nothing of the deep bodies stored, and the object they aimed at unchanged.
  EXPECT_EQ(Call(port_, "GET", "/healthz").status, 200);
  EXPECT_EQ(Call(port_, "GET", kIsvcs + "/deep").status, 404);
  auto base = Call(port_, "GET", kIsvcs + "/base");
  ASSERT_EQ(base.status, 200);
  EXPECT_EQ(Parse(base)["metadata"]["generation"], 1);
  EXPECT_EQ(Create(kIsvcs, Isvc("after")).status, 201);
}

TEST_F(ApiServerTest, MalformedPercentEscapesAre400) {
  // core/percent.h decodes strictly: a '%' without two hex digits is refused, in the path and in the query,
  // instead of being acted on as literal text.
  ExpectStatus(Call(port_, "GET", kIsvcs + "/a%zz"), 400, "BadRequest", "percent-encoding");
  ExpectStatus(Call(port_, "GET", kIsvcs + "/a%2"), 400, "BadRequest", "percent-encoding");
  ExpectStatus(Call(port_, "GET", kIsvcs + "?labelSelector=a%g1"), 400, "BadRequest", "query");
  // well-formed escapes still decode ("%61" is "a"; '+' is a space in the query)
  EXPECT_EQ(Create(kIsvcs, Isvc("ab")).status, 201);
  EXPECT_EQ(Call(port_, "GET", kIsvcs + "/%61b").status, 200);
  EXPECT_EQ(Call(port_, "GET", kIsvcs + "?watch=false&x=a+b%20c").status, 200);
}

TEST_F(ApiServerTest, BodyLimit) {
  ApiOptions opts;
  opts.max_body_bytes = 1024;
  StartServer(opts);
  Json big = Isvc("big");
  big["metadata"]["annotations"] = {{"blob", std::string(4096, 'x')}};
  ExpectStatus(Create(kIsvcs, big), 413, "RequestEntityTooLarge");
  EXPECT_EQ(Create(kIsvcs, Isvc("small")).status, 201);
}

TEST_F(ApiServerTest, YamlBodies) {
  std::string yaml =
      "apiVersion: serving.kserve.io/v1beta1\n"
      "kind: InferenceService\n"
      "metadata:\n"
      "  name: sk-yaml\n"
      "spec:\n"
      "  predictor:\n"
      "    minReplicas: 1\n"
      "    model:\n"
      "      modelFormat:\n"
      "        name: sklearn\n"
      "      storageUri: file:///models/sk\n";
  auto r = Call(port_, "POST", kIsvcs, yaml, {"Content-Type: application/yaml"});
  ASSERT_EQ(r.status, 201) << r.body;
  Json j = Parse(r);
  EXPECT_EQ(j["spec"]["predictor"]["minReplicas"], 1);
  EXPECT_EQ(j["spec"]["predictor"]["model"]["modelFormat"]["name"], "sklearn");
  // more than one document
  ExpectStatus(Call(port_, "POST", kIsvcs, yaml + "---\n" + yaml, {"Content-Type: application/yaml"}), 400,
               "BadRequest", "exactly one");
  ExpectStatus(Call(port_, "POST", kIsvcs, "a: [unclosed\n", {"Content-Type: application/yaml"}), 400, "BadRequest");
  // a YAML merge patch
  auto p = Call(port_, "PATCH", kIsvcs + "/sk-yaml", "metadata:\n  labels:\n    a: b\n",
                {"Content-Type: application/yaml"});
  ASSERT_EQ(p.status, 200) << p.body;
  EXPECT_EQ(Parse(p)["metadata"]["labels"]["a"], "b");
}

TEST_F(ApiServerTest, ServingRuntimes) {
  auto c = Create(kRuntimes, Runtime("rt", false));
  ASSERT_EQ(c.status, 201) << c.body;
  EXPECT_EQ(Parse(c)["metadata"]["namespace"], "default");
  auto l = Parse(Call(port_, "GET", kRuntimes));
  EXPECT_EQ(l["kind"], "ServingRuntimeList");
  EXPECT_EQ(l["items"].size(), 1u);
  EXPECT_EQ(Parse(Call(port_, "GET", "/apis/serving.kserve.io/v1alpha1/servingruntimes"))["items"].size(), 1u);
  auto p = Call(port_, "PATCH", kRuntimes + "/rt", R"({"spec":{"disabled":true}})");
  ASSERT_EQ(p.status, 200) << p.body;
  EXPECT_EQ(Parse(p)["spec"]["disabled"], true);
  EXPECT_EQ(Call(port_, "DELETE", kRuntimes + "/rt").status, 200);

  // cluster-scoped
  Json csr = Runtime("crt", true);
  csr["metadata"]["namespace"] = "ignored";
  auto cc = Create(kClusterRuntimes, csr);
  ASSERT_EQ(cc.status, 201) << cc.body;
  Json cj = Parse(cc);
  EXPECT_FALSE(cj["metadata"].contains("namespace"));
  auto g = Call(port_, "GET", kClusterRuntimes + "/crt");
  ASSERT_EQ(g.status, 200);
  EXPECT_EQ(Parse(g)["kind"], "ClusterServingRuntime");
  EXPECT_EQ(Parse(Call(port_, "GET", kClusterRuntimes))["kind"], "ClusterServingRuntimeList");
  Json rep = Parse(g);
  rep["spec"]["supportedModelFormats"][0]["name"] = "xgboost";
  auto u = Call(port_, "PUT", kClusterRuntimes + "/crt", rep.dump());
  ASSERT_EQ(u.status, 200) << u.body;
  EXPECT_EQ(Parse(u)["metadata"]["generation"], 2);
  auto s = Call(port_, "PUT", kClusterRuntimes + "/crt/status",
                Json{{"metadata", {{"resourceVersion", Parse(u)["metadata"]["resourceVersion"]}}},
                     {"status", {{"ok", true}}}}
                    .dump());
  ASSERT_EQ(s.status, 200) << s.body;
  EXPECT_EQ(Parse(s)["status"]["ok"], true);
  EXPECT_EQ(Call(port_, "DELETE", kClusterRuntimes + "/crt").status, 200);
  EXPECT_EQ(Call(port_, "GET", kClusterRuntimes + "/crt").status, 404);
}

TEST_F(ApiServerTest, EventsAreReadOnly) {
  Json ev = {{"apiVersion", "v1"},
             {"kind", "Event"},
             {"metadata", {{"name", "sk.1"}, {"namespace", "default"}}},
             {"involvedObject", {{"kind", "InferenceService"}, {"name", "sk"}}},
             {"reason", "Created"},
             {"message", "created"},
             {"type", "Normal"}};
  ASSERT_TRUE(store_->Create(EventType(), ev).ok());
  auto l = Call(port_, "GET", "/api/v1/namespaces/default/events");
  ASSERT_EQ(l.status, 200) << l.body;
  Json lj = Parse(l);
  EXPECT_EQ(lj["kind"], "EventList");
  EXPECT_EQ(lj["apiVersion"], "v1");
  ASSERT_EQ(lj["items"].size(), 1u);
  EXPECT_EQ(lj["items"][0]["reason"], "Created");
  EXPECT_EQ(Parse(Call(port_, "GET", "/api/v1/events"))["items"].size(), 1u);
  EXPECT_EQ(Call(port_, "GET", "/api/v1/namespaces/default/events/sk.1").status, 200);
  ExpectStatus(Call(port_, "POST", "/api/v1/namespaces/default/events", ev.dump()), 405, "MethodNotAllowed");
  ExpectStatus(Call(port_, "PUT", "/api/v1/namespaces/default/events/sk.1", ev.dump()), 405, "MethodNotAllowed");
  ExpectStatus(Call(port_, "DELETE", "/api/v1/namespaces/default/events/sk.1"), 405, "MethodNotAllowed");
  ExpectStatus(Call(port_, "GET", "/api/v1/namespaces/default/events/sk.1/status"), 404, "NotFound");
  // watch
  StreamReader w(port_, "/api/v1/namespaces/default/events?watch=true");
  auto first = w.Events(1);
  ASSERT_EQ(first.size(), 1u);
  EXPECT_EQ(first[0]["type"], "ADDED");
  Json ev2 = ev;
  ev2["metadata"]["name"] = "sk.2";
  ASSERT_TRUE(store_->Create(EventType(), ev2).ok());
  auto two = w.Events(2);
  ASSERT_EQ(two.size(), 2u);
  EXPECT_EQ(two[1]["object"]["metadata"]["name"], "sk.2");
}

TEST_F(ApiServerTest, LabelAndFieldSelectors) {
  Json a = Isvc("a");
  a["metadata"]["labels"] = {{"team", "x"}};
  Json b = Isvc("b");
  b["metadata"]["labels"] = {{"team", "y"}};
  ASSERT_EQ(Create(kIsvcs, a).status, 201);
  ASSERT_EQ(Create(kIsvcs, b).status, 201);
  ASSERT_EQ(Create(kIsvcs, Isvc("c")).status, 201);
  auto names = [&](const std::string& q) {
    std::vector<std::string> out;
    Json list = Parse(Call(port_, "GET", kIsvcs + q));
    for (auto& i : list["items"]) out.push_back(i["metadata"]["name"]);
    return out;
  };
  EXPECT_EQ(names("?labelSelector=team%3Dx"), (std::vector<std::string>{"a"}));
  EXPECT_EQ(names("?labelSelector=team!%3Dx"), (std::vector<std::string>{"b", "c"}));
  EXPECT_EQ(names("?labelSelector=team"), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(names("?labelSelector=!team"), (std::vector<std::string>{"c"}));
  EXPECT_EQ(names("?fieldSelector=metadata.name%3Db"), (std::vector<std::string>{"b"}));
}

TEST_F(ApiServerTest, WatchInitialAndLiveEvents) {
  ASSERT_EQ(Create(kIsvcs, Isvc("a")).status, 201);
  ASSERT_EQ(Create(kIsvcs, Isvc("b")).status, 201);
  ASSERT_EQ(Create("/api/v1/namespaces", Json{{"metadata", {{"name", "team"}}}}).status, 201);
  ASSERT_EQ(Create("/apis/serving.kserve.io/v1beta1/namespaces/team/inferenceservices", Isvc("c")).status, 201);
  StreamReader w(port_, kIsvcs + "?watch=1");
  auto init = w.Events(2);
  ASSERT_EQ(init.size(), 2u) << w.data();
  EXPECT_EQ(init[0]["type"], "ADDED");
  EXPECT_EQ(init[0]["object"]["metadata"]["name"], "a");
  EXPECT_EQ(init[1]["object"]["metadata"]["name"], "b");

  auto c = Create(kIsvcs, Isvc("d"));
  ASSERT_EQ(c.status, 201);
  ASSERT_EQ(Call(port_, "PATCH", kIsvcs + "/a", R"({"metadata":{"labels":{"k":"v"}}})").status, 200);
  ASSERT_EQ(Create("/apis/serving.kserve.io/v1beta1/namespaces/team/inferenceservices", Isvc("e")).status, 201);
  ASSERT_EQ(Call(port_, "DELETE", kIsvcs + "/b").status, 200);
  auto ev = w.Events(5);
  ASSERT_EQ(ev.size(), 5u) << w.data();
  EXPECT_EQ(ev[2]["type"], "ADDED");
  EXPECT_EQ(ev[2]["object"]["metadata"]["name"], "d");
  EXPECT_EQ(ev[3]["type"], "MODIFIED");
  EXPECT_EQ(ev[3]["object"]["metadata"]["labels"]["k"], "v");
  EXPECT_EQ(ev[4]["type"], "DELETED");  // the team namespace's write is not in this watch
  EXPECT_EQ(ev[4]["object"]["metadata"]["name"], "b");

  // an all-namespaces watch sees both namespaces
  StreamReader all(port_, "/apis/serving.kserve.io/v1beta1/inferenceservices?watch=true");
  EXPECT_EQ(all.Events(4).size(), 4u);  // a, d (default), c, e (team)
}

TEST_F(ApiServerTest, WatchFromResourceVersion) {
  Json a = Parse(Create(kIsvcs, Isvc("a")));
  ASSERT_EQ(Create(kIsvcs, Isvc("b")).status, 201);
  ASSERT_EQ(Call(port_, "DELETE", kIsvcs + "/a").status, 200);
  std::string rv = a["metadata"]["resourceVersion"];
  StreamReader w(port_, kIsvcs + "?watch=1&resourceVersion=" + rv);
  auto ev = w.Events(2);
  ASSERT_EQ(ev.size(), 2u) << w.data();
  EXPECT_EQ(ev[0]["type"], "ADDED");
  EXPECT_EQ(ev[0]["object"]["metadata"]["name"], "b");
  EXPECT_EQ(ev[1]["type"], "DELETED");
  EXPECT_EQ(ev[1]["object"]["metadata"]["name"], "a");
  ASSERT_EQ(Create(kIsvcs, Isvc("c")).status, 201);
  ev = w.Events(3);
  ASSERT_EQ(ev.size(), 3u);
  EXPECT_EQ(ev[2]["object"]["metadata"]["name"], "c");

  // the list's resourceVersion resumes without initial events
  Json list = Parse(Call(port_, "GET", kIsvcs));
  StreamReader w2(port_, kIsvcs + "?watch=1&resourceVersion=" + list["metadata"]["resourceVersion"].get<std::string>());
  ASSERT_EQ(Call(port_, "DELETE", kIsvcs + "/c").status, 200);
  auto ev2 = w2.Events(1);
  ASSERT_EQ(ev2.size(), 1u);
  EXPECT_EQ(ev2[0]["type"], "DELETED");
}

TEST_F(ApiServerTest, WatchTooOldResourceVersion) {
  // A fresh store restarted from disk has no history; here: a version far in the past after many writes.
  Json a = Parse(Create(kIsvcs, Isvc("a")));
  for (size_t i = 0; i < store::kWatchQueueLimit + 2; ++i) {
    Json o = a;
    o["metadata"].erase("resourceVersion");
    ASSERT_TRUE(store_->Update(InferenceServiceType(), o).ok());
  }
  StreamReader w(port_, kIsvcs + "?watch=1&resourceVersion=1");
  ASSERT_TRUE(w.WaitFinished(10s));
  auto ev = w.Events(1);
  ASSERT_EQ(ev.size(), 1u) << w.data();
  EXPECT_EQ(ev[0]["type"], "ERROR");
  EXPECT_EQ(ev[0]["object"]["code"], 410);
  EXPECT_EQ(ev[0]["object"]["reason"], "Expired");
}

TEST_F(ApiServerTest, WatchTimeoutSeconds) {
  ASSERT_EQ(Create(kIsvcs, Isvc("a")).status, 201);
  auto start = std::chrono::steady_clock::now();
  StreamReader w(port_, kIsvcs + "?watch=true&timeoutSeconds=1");
  ASSERT_TRUE(w.WaitFinished(10s));
  auto took = std::chrono::steady_clock::now() - start;
  EXPECT_GE(took, 900ms);
  EXPECT_LT(took, 5s);
  EXPECT_EQ(w.rc(), CURLE_OK);  // a clean end of the chunked body
  EXPECT_EQ(w.status(), 200);
  EXPECT_EQ(w.Lines(1).size(), 1u);
}

TEST_F(ApiServerTest, WatchOnSingleObject) {
  ASSERT_EQ(Create(kIsvcs, Isvc("a")).status, 201);
  ASSERT_EQ(Create(kIsvcs, Isvc("b")).status, 201);
  StreamReader w(port_, kIsvcs + "/b?watch=1");
  ASSERT_EQ(w.Events(1).size(), 1u);
  ASSERT_EQ(Call(port_, "DELETE", kIsvcs + "/a").status, 200);
  ASSERT_EQ(Call(port_, "DELETE", kIsvcs + "/b").status, 200);
  auto ev = w.Events(2);
  ASSERT_EQ(ev.size(), 2u);
  EXPECT_EQ(ev[1]["type"], "DELETED");
  EXPECT_EQ(ev[1]["object"]["metadata"]["name"], "b");
}

// Kubernetes' watch-list marker: after the initial ADDED events (none for an absent object), one BOOKMARK
// annotated k8s.io/initial-events-end, so a client can tell "no such object" from "not received yet".
TEST_F(ApiServerTest, WatchMarksTheEndOfTheInitialEvents) {
  ASSERT_EQ(Create(kIsvcs, Isvc("a")).status, 201);
  ASSERT_EQ(Create(kIsvcs, Isvc("b")).status, 201);
  StreamReader all(port_, kIsvcs + "?watch=1&allowWatchBookmarks=true&sendInitialEvents=true");
  auto ev = all.Events(3);
  ASSERT_EQ(ev.size(), 3u);
  EXPECT_EQ(ev[0]["type"], "ADDED");
  EXPECT_EQ(ev[1]["type"], "ADDED");
  EXPECT_EQ(ev[2]["type"], "BOOKMARK");
  EXPECT_EQ(ev[2]["object"]["metadata"]["annotations"]["k8s.io/initial-events-end"], "true");
  EXPECT_EQ(ev[2]["object"]["metadata"]["resourceVersion"], ev[1]["object"]["metadata"]["resourceVersion"]);
  StreamReader absent(port_, kIsvcs + "/nope?watch=1&allowWatchBookmarks=true&sendInitialEvents=true");
  auto none = absent.Events(1);
  ASSERT_EQ(none.size(), 1u);
  EXPECT_EQ(none[0]["type"], "BOOKMARK");
  // Without bookmarks allowed, no marker (Kubernetes sends none either).
  StreamReader plain(port_, kIsvcs + "?watch=1&sendInitialEvents=true");
  ASSERT_EQ(plain.Events(2).size(), 2u);
  ASSERT_EQ(Call(port_, "DELETE", kIsvcs + "/a").status, 200);
  auto more = plain.Events(3);
  ASSERT_EQ(more.size(), 3u);
  EXPECT_EQ(more[2]["type"], "DELETED");
}

TEST_F(ApiServerTest, TooManyStreams) {
  ApiOptions opts;
  opts.max_streams = 1;
  StartServer(opts);
  {
    StreamReader w(port_, kIsvcs + "?watch=1");
    // wait until it is being served
    ASSERT_EQ(Create(kIsvcs, Isvc("a")).status, 201);
    ASSERT_EQ(w.Events(1).size(), 1u);
    ExpectStatus(Call(port_, "GET", kIsvcs + "?watch=1&timeoutSeconds=1"), 429, "TooManyRequests");
    // ordinary requests still work
    EXPECT_EQ(Call(port_, "GET", kIsvcs).status, 200);
  }
  // the slot frees when the client goes away
  bool ok = false;
  for (int i = 0; i < 50 && !ok; ++i) {
    auto r = Call(port_, "GET", kIsvcs + "?watch=1&timeoutSeconds=1");
    ok = r.status == 200;
    if (!ok) std::this_thread::sleep_for(100ms);
  }
  EXPECT_TRUE(ok);
}

TEST_F(ApiServerTest, StopClosesOpenWatches) {
  StreamReader w(port_, kIsvcs + "?watch=1");
  ASSERT_EQ(Create(kIsvcs, Isvc("a")).status, 201);
  ASSERT_EQ(w.Events(1).size(), 1u);
  auto start = std::chrono::steady_clock::now();
  server_->Stop();
  EXPECT_LT(std::chrono::steady_clock::now() - start, 5s);
  EXPECT_TRUE(w.WaitFinished(5s));
  server_->Stop();  // idempotent
}

TEST_F(ApiServerTest, Auth) {
  ApiOptions opts;
  opts.token = "s3cret";
  StartServer(opts);
  EXPECT_EQ(Call(port_, "GET", "/healthz").status, 200);
  ExpectStatus(Call(port_, "GET", kIsvcs), 401, "Unauthorized");
  ExpectStatus(Call(port_, "GET", "/version"), 401, "Unauthorized");
  ExpectStatus(Call(port_, "GET", kIsvcs, "", {"Authorization: Bearer wrong"}), 401, "Unauthorized");
  ExpectStatus(Call(port_, "GET", kIsvcs, "", {"Authorization: Basic s3cret"}), 401, "Unauthorized");
  ExpectStatus(Call(port_, "POST", kIsvcs, Isvc("a").dump(), {"Content-Type: application/json"}), 401,
               "Unauthorized");
  EXPECT_EQ(Call(port_, "GET", "/nope/ext").status, 401);
  auto ok = Call(port_, "GET", kIsvcs, "", {"Authorization: Bearer s3cret"});
  EXPECT_EQ(ok.status, 200);
  auto c = Call(port_, "POST", kIsvcs, Isvc("a").dump(),
                {"Content-Type: application/json", "Authorization: Bearer s3cret"});
  EXPECT_EQ(c.status, 201) << c.body;
  StreamReader denied(port_, kIsvcs + "?watch=1");
  ASSERT_TRUE(denied.WaitFinished(5s));
  EXPECT_EQ(denied.status(), 401);
  StreamReader w(port_, kIsvcs + "?watch=1", {"Authorization: Bearer s3cret"});
  EXPECT_EQ(w.Events(1).size(), 1u);
}

TEST(ApiServerStartTest, RefusesNonLoopbackWithoutToken) {
  auto s = store::Store::Open(":memory:");
  ASSERT_TRUE(s.ok());
  ApiOptions opts;
  opts.host = "0.0.0.0";
  opts.port = 0;
  ApiServer server(s->get(), opts);
  Status st = server.Start();
  EXPECT_FALSE(st.ok());
  EXPECT_NE(st.message().find("token"), std::string::npos) << st.ToString();
  opts.token = "t";
  ApiServer with_token(s->get(), opts);
  EXPECT_TRUE(with_token.Start().ok());
  with_token.Stop();
  opts.host = "not-an-ip";
  ApiServer bad(s->get(), opts);
  EXPECT_FALSE(bad.Start().ok());
}

TEST_F(ApiServerTest, ExtensionStreams) {
  std::atomic<bool> saw_client_gone{false};
  extensions_.emplace_back("/inferd/v1/logs/", [](const ApiRequest& req, ApiStream& out) -> Status {
    out.content_type = "text/plain";
    int n = req.query.count("n") ? std::stoi(req.query.at("n")) : 3;
    for (int i = 0; i < n; ++i) {
      if (!out.write(req.path.substr(std::string("/inferd/v1/logs/").size()) + " line " + std::to_string(i) + "\n")) {
        return Status::Ok();
      }
      std::this_thread::sleep_for(20ms);
    }
    return Status::Ok();
  });
  extensions_.emplace_back("/inferd/v1/fail", [](const ApiRequest&, ApiStream&) -> Status {
    return NotFound("no such thing");
  });
  extensions_.emplace_back("/inferd/v1/echo", [](const ApiRequest& req, ApiStream& out) -> Status {
    out.content_type = "application/json";
    out.write(Json{{"method", req.method}, {"body", req.body}}.dump());
    return Status::Ok();
  });
  extensions_.emplace_back("/inferd/v1/forever", [&saw_client_gone](const ApiRequest&, ApiStream& out) -> Status {
    out.content_type = "text/plain";
    for (int i = 0; i < 2000; ++i) {
      if (!out.write("tick\n")) {
        saw_client_gone = true;
        return Status::Ok();
      }
      std::this_thread::sleep_for(10ms);
    }
    return Status::Ok();
  });
  StartServer({});

  auto r = Call(port_, "GET", "/inferd/v1/logs/default/sk?n=4");
  ASSERT_EQ(r.status, 200) << r.body << r.error;
  EXPECT_EQ(r.body, "default/sk line 0\ndefault/sk line 1\ndefault/sk line 2\ndefault/sk line 3\n");

  StreamReader s(port_, "/inferd/v1/logs/x?n=3");
  EXPECT_EQ(s.Lines(3).size(), 3u);
  ASSERT_TRUE(s.WaitFinished(5s));
  EXPECT_EQ(s.status(), 200);
  EXPECT_EQ(s.rc(), CURLE_OK);

  ExpectStatus(Call(port_, "GET", "/inferd/v1/fail"), 404, "NotFound", "no such thing");

  auto e = Call(port_, "POST", "/inferd/v1/echo", "payload", {"Content-Type: text/plain"});
  ASSERT_EQ(e.status, 200);
  EXPECT_EQ(Parse(e), (Json{{"method", "POST"}, {"body", "payload"}}));

  {
    StreamReader f(port_, "/inferd/v1/forever");
    EXPECT_GE(f.Lines(3).size(), 3u);
  }  // the client goes away: the handler's write returns false
  for (int i = 0; i < 100 && !saw_client_gone; ++i) std::this_thread::sleep_for(20ms);
  EXPECT_TRUE(saw_client_gone.load());
}

TEST_F(ApiServerTest, Discovery) {
  auto r = Call(port_, "GET", "/apis/serving.kserve.io/v1beta1");
  ASSERT_EQ(r.status, 200);
  Json j = Parse(r);
  EXPECT_EQ(j["kind"], "APIResourceList");
  EXPECT_EQ(j["resources"][0]["name"], "inferenceservices");
  EXPECT_EQ(Call(port_, "GET", "/apis").status, 200);
  EXPECT_EQ(Call(port_, "GET", "/api").status, 200);
}

TEST_F(ApiServerTest, ConcurrentClients) {
  std::vector<std::thread> threads;
  std::atomic<int> created{0};
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 10; ++i) {
        auto r = Create(kIsvcs, Isvc("c" + std::to_string(t) + "-" + std::to_string(i)));
        if (r.status == 201) ++created;
        // concurrent merge patches of one shared object never report a conflict
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(created.load(), 80);
  ASSERT_EQ(Create(kIsvcs, Isvc("shared")).status, 201);
  std::atomic<int> patched{0};
  threads.clear();
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 5; ++i) {
        auto r = Call(port_, "PATCH", kIsvcs + "/shared",
                      Json{{"metadata", {{"labels", {{"t" + std::to_string(t), std::to_string(i)}}}}}}.dump());
        if (r.status == 200) ++patched;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(patched.load(), 40);
  Json shared = Parse(Call(port_, "GET", kIsvcs + "/shared"));
  EXPECT_EQ(shared["metadata"]["labels"].size(), 8u);
}

TEST_F(ApiServerTest, KeepAliveAndRawChunkedWatch) {
  // A raw socket: two requests on one connection, then a watch whose chunked framing is checked by hand.
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port_));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  timeval tv{5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  auto send_all = [&](const std::string& s) { ASSERT_EQ(::send(fd, s.data(), s.size(), 0), static_cast<ssize_t>(s.size())); };
  auto read_until = [&](const std::string& needle) {
    std::string got;
    char buf[4096];
    while (got.find(needle) == std::string::npos) {
      ssize_t n = ::recv(fd, buf, sizeof buf, 0);
      if (n <= 0) break;
      got.append(buf, static_cast<size_t>(n));
    }
    return got;
  };
  send_all("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_NE(read_until("ok").find("200 OK"), std::string::npos);
  ASSERT_EQ(Create(kIsvcs, Isvc("a")).status, 201);
  send_all("GET " + kIsvcs + "?watch=1 HTTP/1.1\r\nHost: x\r\n\r\n");
  std::string head = read_until("\r\n\r\n");
  EXPECT_NE(head.find("HTTP/1.1 200"), std::string::npos) << head;
  EXPECT_NE(head.find("Transfer-Encoding: chunked"), std::string::npos) << head;
  std::string body = head.substr(head.find("\r\n\r\n") + 4);
  char buf[4096];
  while (body.find("\n\r\n") == std::string::npos) {
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    ASSERT_GT(n, 0);
    body.append(buf, static_cast<size_t>(n));
  }
  // "<hex size>\r\n<json line>\n\r\n"
  size_t crlf = body.find("\r\n");
  size_t size = std::stoul(body.substr(0, crlf), nullptr, 16);
  std::string chunk = body.substr(crlf + 2, size);
  EXPECT_EQ(chunk.back(), '\n');
  Json ev = Json::parse(chunk);
  EXPECT_EQ(ev["type"], "ADDED");
  EXPECT_EQ(ev["object"]["metadata"]["name"], "a");
  ::close(fd);
}

}  // namespace
}  // namespace inferd::api
