// tests/api/api_writes_test.cc: the write rules kubectl relies on (issue 14), over real HTTP against an
// in-memory Store: namespaces (JSON and protobuf create, 404 for a missing one, cascading delete), JSON patch,
// server-side apply and its conflicts, PUT without resourceVersion, DeleteOptions, deletecollection, 422 causes.
#include <gtest/gtest.h>

#include "api/api_server.h"
#include "api/namespaces.h"
#include "util/test_util.h"

namespace inferd::api {
namespace {

using store::Json;
using testing::HttpResponse;

const std::string kNs = "/api/v1/namespaces";
std::string Isvcs(const std::string& ns) { return "/apis/serving.kserve.io/v1beta1/namespaces/" + ns + "/inferenceservices"; }
const std::string kIsvcs = Isvcs("default");

Json Isvc(const std::string& name, int min = 1) {
  return {{"apiVersion", "serving.kserve.io/v1beta1"},
          {"kind", "InferenceService"},
          {"metadata", {{"name", name}}},
          {"spec", {{"predictor", {{"minReplicas", min}, {"model", {{"modelFormat", {{"name", "sklearn"}}}, {"storageUri", "file:///m"}}}}}}}};
}

class ApiWritesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = store::Store::Open(":memory:");
    ASSERT_TRUE(s.ok());
    store_ = std::move(s).value();
    ApiOptions o;
    o.port = 0;
    server_ = std::make_unique<ApiServer>(store_.get(), o);
    ASSERT_TRUE(server_->Start().ok());
    port_ = server_->port();
  }
  HttpResponse Call(const std::string& method, const std::string& path, const std::string& body = "",
                    const std::string& ct = "application/json") {
    return testing::HttpRequest(port_, method, path, body, {"Content-Type: " + ct});
  }
  Json J(const HttpResponse& r) {
    try {
      return Json::parse(r.body);
    } catch (...) {
      ADD_FAILURE() << r.status << " " << r.body;
      return Json();
    }
  }
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<ApiServer> server_;
  int port_ = 0;
};

TEST_F(ApiWritesTest, Namespaces) {
  Json def = J(Call("GET", kNs + "/default"));
  EXPECT_EQ(def["status"]["phase"], "Active");
  EXPECT_EQ(def["metadata"]["labels"]["kubernetes.io/metadata.name"], "default");

  auto missing = Call("POST", Isvcs("team"), Isvc("a").dump());
  EXPECT_EQ(missing.status, 404);
  EXPECT_EQ(J(missing)["message"], "namespaces \"team\" not found");
  EXPECT_EQ(J(missing)["details"]["kind"], "namespaces");

  // kubectl create namespace: protobuf body
  std::string meta = std::string("\x0a\x04team", 6);                    // ObjectMeta{1: "team"}
  std::string ns = "\x0a" + std::string(1, static_cast<char>(meta.size())) + meta;  // Namespace{1: meta}
  std::string tm = std::string("\x0a\x02v1\x12\x09Namespace", 15);      // TypeMeta
  std::string body = std::string("k8s\0", 4) + "\x0a" + std::string(1, static_cast<char>(tm.size())) + tm + "\x12" +
                     std::string(1, static_cast<char>(ns.size())) + ns;
  auto c = Call("POST", kNs + "?fieldManager=kubectl-create", body, "application/vnd.kubernetes.protobuf");
  ASSERT_EQ(c.status, 201) << c.body;
  EXPECT_EQ(J(c)["spec"]["finalizers"], Json::array({"kubernetes"}));
  EXPECT_EQ(Call("POST", kNs, "k8s\0garbage", "application/vnd.kubernetes.protobuf").status, 400);
  EXPECT_EQ(Call("POST", kIsvcs, body, "application/vnd.kubernetes.protobuf").status, 415);
  EXPECT_EQ(Call("POST", kNs, Json{{"metadata", {{"name", "Bad_Name"}}}}.dump()).status, 422);
  EXPECT_EQ(Call("POST", kNs, Json{{"metadata", {{"name", "team"}}}}.dump()).status, 409);

  ASSERT_EQ(Call("POST", Isvcs("team"), Isvc("a").dump()).status, 201);
  ASSERT_EQ(Call("POST", kIsvcs, Isvc("b").dump()).status, 201);
  auto d = Call("DELETE", kNs + "/team");
  ASSERT_EQ(d.status, 200) << d.body;
  EXPECT_EQ(J(d)["status"]["phase"], "Terminating");
  EXPECT_EQ(Call("GET", kNs + "/team").status, 404);
  EXPECT_EQ(Call("GET", Isvcs("team") + "/a").status, 404);  // its objects went with it
  EXPECT_EQ(Call("GET", kIsvcs + "/b").status, 200);         // others stay
  EXPECT_EQ(Call("DELETE", kNs + "/default").status, 403);
}

TEST_F(ApiWritesTest, NamespacesOfStoredObjectsExistAfterRestart) {
  // Objects stored before namespaces were served: their namespace is created at start.
  Json obj = Isvc("old");
  obj["metadata"]["namespace"] = "legacy";
  ASSERT_TRUE(store_->Create(InferenceServiceType(), obj).ok());
  server_->Stop();
  ApiOptions o;
  o.port = 0;
  server_ = std::make_unique<ApiServer>(store_.get(), o);
  ASSERT_TRUE(server_->Start().ok());
  port_ = server_->port();
  EXPECT_EQ(Call("GET", kNs + "/legacy").status, 200);
}

TEST_F(ApiWritesTest, JsonPatch) {
  ASSERT_EQ(Call("POST", kIsvcs, Isvc("p").dump()).status, 201);
  auto ok = Call("PATCH", kIsvcs + "/p", R"([{"op":"replace","path":"/spec/predictor/minReplicas","value":3}])",
                 "application/json-patch+json");
  ASSERT_EQ(ok.status, 200) << ok.body;
  EXPECT_EQ(J(ok)["spec"]["predictor"]["minReplicas"], 3);
  auto failed = Call("PATCH", kIsvcs + "/p", R"([{"op":"test","path":"/spec/predictor/minReplicas","value":9}])",
                     "application/json-patch+json");
  EXPECT_EQ(failed.status, 422) << failed.body;
  EXPECT_EQ(J(failed)["reason"], "Invalid");
  EXPECT_FALSE(J(failed)["details"]["causes"][0]["message"].get<std::string>().empty());
  EXPECT_EQ(Call("PATCH", kIsvcs + "/p", R"({"op":"add"})", "application/json-patch+json").status, 400);
  // a JSON patch that makes the object invalid is refused by validation (nothing half-applied)
  auto invalid = Call("PATCH", kIsvcs + "/p", R"([{"op":"remove","path":"/spec/predictor/model"}])",
                      "application/json-patch+json");
  EXPECT_EQ(invalid.status, 422);
  EXPECT_EQ(J(Call("GET", kIsvcs + "/p"))["spec"]["predictor"]["minReplicas"], 3);
}

TEST_F(ApiWritesTest, ServerSideApply) {
  const std::string apply = "application/apply-patch+yaml";
  EXPECT_EQ(Call("PATCH", kIsvcs + "/s", Isvc("s").dump(), apply).status, 422);  // fieldManager required
  auto c = Call("PATCH", kIsvcs + "/s?fieldManager=kubectl&force=false", Isvc("s").dump(), apply);
  ASSERT_EQ(c.status, 201) << c.body;
  EXPECT_EQ(J(c)["metadata"]["managedFields"][0]["operation"], "Apply");
  // YAML works too
  auto y = Call("PATCH", kIsvcs + "/s?fieldManager=kubectl",
                "apiVersion: serving.kserve.io/v1beta1\nkind: InferenceService\nmetadata: {name: s}\n"
                "spec:\n  predictor:\n    minReplicas: 1\n    model: {modelFormat: {name: sklearn}, storageUri: 'file:///m'}\n",
                apply);
  ASSERT_EQ(y.status, 200) << y.body;
  // another manager takes minReplicas with a merge patch; re-applying 1 conflicts
  ASSERT_EQ(Call("PATCH", kIsvcs + "/s?fieldManager=kubectl-patch", R"({"spec":{"predictor":{"minReplicas":2}}})",
                 "application/merge-patch+json").status, 200);
  auto conflict = Call("PATCH", kIsvcs + "/s?fieldManager=kubectl", Isvc("s").dump(), apply);
  ASSERT_EQ(conflict.status, 409) << conflict.body;
  Json cj = J(conflict);
  EXPECT_EQ(cj["reason"], "Conflict");
  EXPECT_EQ(cj["details"]["causes"][0]["reason"], "FieldManagerConflict");
  EXPECT_EQ(cj["details"]["causes"][0]["field"], ".spec.predictor.minReplicas");
  EXPECT_NE(cj["message"].get<std::string>().find("kubectl-patch"), std::string::npos);
  auto forced = Call("PATCH", kIsvcs + "/s?fieldManager=kubectl&force=true", Isvc("s").dump(), apply);
  ASSERT_EQ(forced.status, 200) << forced.body;
  EXPECT_EQ(J(forced)["spec"]["predictor"]["minReplicas"], 1);
  // force on a merge patch, unknown types
  EXPECT_EQ(Call("PATCH", kIsvcs + "/s?force=true", "{}", "application/merge-patch+json").status, 422);
  EXPECT_EQ(Call("PATCH", kIsvcs + "/s", "{}", "application/strategic-merge-patch+json").status, 415);
  // apply into a namespace that does not exist
  EXPECT_EQ(Call("PATCH", Isvcs("nope") + "/s?fieldManager=kubectl", Isvc("s").dump(), apply).status, 404);
}

TEST_F(ApiWritesTest, PutRulesAndInvalidCauses) {
  Json created = J(Call("POST", kIsvcs, Isvc("u").dump()));
  Json upd = created;
  upd["metadata"].erase("resourceVersion");
  auto r = Call("PUT", kIsvcs + "/u", upd.dump());
  EXPECT_EQ(r.status, 422);
  EXPECT_EQ(J(r)["message"], "InferenceService.serving.kserve.io \"u\" is invalid: metadata.resourceVersion: Invalid "
                             "value: 0x0: must be specified for an update");
  EXPECT_EQ(J(r)["details"]["causes"][0]["field"], "metadata.resourceVersion");
  EXPECT_EQ(Call("PUT", kIsvcs + "/never", Isvc("never").dump()).status, 404);  // PUT never creates
  Json bad = Isvc("bad", -1);
  auto inv = Call("POST", kIsvcs, bad.dump());
  ASSERT_EQ(inv.status, 422);
  EXPECT_EQ(J(inv)["details"]["kind"], "InferenceService");
  EXPECT_EQ(J(inv)["details"]["group"], "serving.kserve.io");
  EXPECT_EQ(J(inv)["details"]["causes"][0]["field"], "spec.predictor.minReplicas");
}

TEST_F(ApiWritesTest, DeleteOptionsAndCollections) {
  Json a = Isvc("a");
  a["metadata"]["labels"] = {{"app", "x"}};
  ASSERT_EQ(Call("POST", kIsvcs, a.dump()).status, 201);
  ASSERT_EQ(Call("POST", kIsvcs, Isvc("b").dump()).status, 201);
  EXPECT_EQ(Call("DELETE", kIsvcs + "/a", R"({"propagationPolicy":"Sideways"})").status, 422);
  EXPECT_EQ(Call("DELETE", kIsvcs + "/a", R"({"dryRun":["Maybe"]})").status, 400);
  auto dry = Call("DELETE", kIsvcs + "/a", R"({"dryRun":["All"],"propagationPolicy":"Foreground"})");
  EXPECT_EQ(J(dry)["status"], "Success");
  EXPECT_EQ(Call("GET", kIsvcs + "/a").status, 200);
  auto coll = Call("DELETE", kIsvcs + "?labelSelector=app%3Dx");
  ASSERT_EQ(coll.status, 200) << coll.body;
  ASSERT_EQ(J(coll)["items"].size(), 1u);
  EXPECT_EQ(Call("GET", kIsvcs + "/a").status, 404);
  EXPECT_EQ(Call("GET", kIsvcs + "/b").status, 200);
  EXPECT_EQ(Call("DELETE", kNs).status, 405);  // namespaces have no deletecollection
}

}  // namespace
}  // namespace inferd::api
