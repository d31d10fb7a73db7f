// tests/api/field_validation_test.cc: the API's schema checks over real HTTP (ApiServer on an in-memory Store):
// ?fieldValidation Strict (400 naming the unknown fields), Warn (default: pruned + Warning header), Ignore
// (pruned silently), 422 Invalid with causes for type/enum/bound errors, on create, replace and patch; and the
// /openapi/v3 routes.
#include <gtest/gtest.h>

#include "api/api_server.h"
#include "util/test_util.h"

namespace inferd::api {
namespace {

using store::Json;
using testing::HttpRequest;
using testing::HttpResponse;

const std::string kIsvcs = "/apis/serving.kserve.io/v1beta1/namespaces/default/inferenceservices";

Json Isvc(const std::string& name) {
  return {{"apiVersion", "serving.kserve.io/v1beta1"},
          {"kind", "InferenceService"},
          {"metadata", {{"name", name}}},
          {"spec", {{"predictor", {{"sklearn", {{"storageUri", "file:///models/" + name}}}}}}}};
}

class FieldValidationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = store::Store::Open(":memory:");
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    store_ = std::move(s).value();
    ApiOptions opts;
    opts.port = 0;
    server_ = std::make_unique<ApiServer>(store_.get(), opts);
    ASSERT_TRUE(server_->Start().ok());
    port_ = server_->port();
  }
  HttpResponse Call(const std::string& method, const std::string& path, const Json& body,
                    const std::string& type = "application/json") {
    return HttpRequest(port_, method, path, body.is_null() ? "" : body.dump(), {"Content-Type: " + type});
  }
  Json Stored(const std::string& name) {
    auto r = HttpRequest(port_, "GET", kIsvcs + "/" + name, "", {});
    EXPECT_EQ(r.status, 200) << r.body;
    return Json::parse(r.body);
  }

  std::unique_ptr<store::Store> store_;
  std::unique_ptr<ApiServer> server_;
  int port_ = 0;
};

Json WithTypo(const std::string& name) {
  Json o = Isvc(name);
  o["spec"]["predictor"]["foo"] = 1;
  o["spec"]["predictor"]["sklearn"]["storageUrl"] = "x";
  return o;
}

TEST_F(FieldValidationTest, StrictRefusesUnknownFieldsWithTheirPaths) {
  auto r = Call("POST", kIsvcs + "?fieldValidation=Strict", WithTypo("a"));
  EXPECT_EQ(r.status, 400) << r.body;
  Json st = Json::parse(r.body);
  EXPECT_EQ(st["reason"], "BadRequest");
  EXPECT_EQ(st["message"],
            "InferenceService in version \"v1beta1\" cannot be handled as a InferenceService: strict decoding error: "
            "unknown field \"spec.predictor.foo\", unknown field \"spec.predictor.sklearn.storageUrl\"");
  EXPECT_EQ(HttpRequest(port_, "GET", kIsvcs + "/a", "", {}).status, 404) << "nothing stored";

  // PATCH words it without the decoding prefix, as the API server's patch handler does.
  ASSERT_EQ(Call("POST", kIsvcs, Isvc("b")).status, 201);
  r = Call("PATCH", kIsvcs + "/b?fieldValidation=Strict", Json{{"spec", {{"predictor", {{"bar", 2}}}}}},
           "application/merge-patch+json");
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_EQ(Json::parse(r.body)["message"], "strict decoding error: unknown field \"spec.predictor.bar\"");
  // A clean object passes under Strict.
  EXPECT_EQ(Call("POST", kIsvcs + "?fieldValidation=Strict", Isvc("c")).status, 201);
}

TEST_F(FieldValidationTest, WarnIsTheDefaultPrunesAndReportsInWarningHeader) {
  for (const char* q : {"", "?fieldValidation=Warn"}) {
    std::string name = std::string("w") + (*q ? "2" : "1");
    auto r = Call("POST", kIsvcs + q, WithTypo(name));
    ASSERT_EQ(r.status, 201) << r.body;
    ASSERT_TRUE(r.headers.count("warning")) << q;
    EXPECT_EQ(r.headers["warning"],
              "299 - \"unknown field \\\"spec.predictor.foo\\\"\", "
              "299 - \"unknown field \\\"spec.predictor.sklearn.storageUrl\\\"\"");
    Json stored = Stored(name);
    EXPECT_FALSE(stored["spec"]["predictor"].contains("foo"));
    EXPECT_FALSE(stored["spec"]["predictor"]["sklearn"].contains("storageUrl"));
    EXPECT_TRUE(stored["spec"]["predictor"]["sklearn"].contains("storageUri"));
  }
  // Replace and patch warn too; a clean write has no header.
  Json obj = Stored("w1");
  obj["spec"]["predictor"]["extra"] = "x";
  auto r = Call("PUT", kIsvcs + "/w1", obj);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.headers["warning"], "299 - \"unknown field \\\"spec.predictor.extra\\\"\"");
  r = Call("PATCH", kIsvcs + "/w1", Json{{"metadata", {{"labelz", {{"a", "b"}}}}}}, "application/merge-patch+json");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.headers["warning"], "299 - \"unknown field \\\"metadata.labelz\\\"\"");
  r = Call("PATCH", kIsvcs + "/w1", Json{{"metadata", {{"labels", {{"a", "b"}}}}}}, "application/merge-patch+json");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.headers.count("warning"), 0u);
  // A field name with control characters cannot break the header.
  Json evil = Isvc("w3");
  evil["spec"]["predictor"]["a\r\nX-Injected: 1"] = 1;
  r = Call("POST", kIsvcs, evil);
  ASSERT_EQ(r.status, 201) << r.body;
  EXPECT_EQ(r.headers.count("x-injected"), 0u);
  EXPECT_NE(r.headers["warning"].find("X-Injected: 1"), std::string::npos) << r.headers["warning"];
  EXPECT_EQ(r.headers["warning"].find_first_of("\r\n"), std::string::npos);
}

TEST_F(FieldValidationTest, IgnorePrunesSilently) {
  auto r = Call("POST", kIsvcs + "?fieldValidation=Ignore", WithTypo("i"));
  ASSERT_EQ(r.status, 201) << r.body;
  EXPECT_EQ(r.headers.count("warning"), 0u);
  EXPECT_FALSE(Stored("i")["spec"]["predictor"].contains("foo"));
  r = Call("POST", kIsvcs + "?fieldValidation=strict", Isvc("j"));
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_NE(r.body.find("supported values"), std::string::npos);
  // A value that is not UTF-8 (found by fuzz/api_read_fuzz): quoted with U+FFFD in a 400, not a 500 from an
  // exception while writing the message.
  r = Call("POST", kIsvcs + "?fieldValidation=St%A5rict", Isvc("k"));
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_NE(r.body.find("St\ufffdrict"), std::string::npos) << r.body;
}

TEST_F(FieldValidationTest, TypeEnumAndBoundErrorsAre422WithCauses) {
  Json o = Isvc("bad");
  o["spec"]["predictor"]["minReplicas"] = -1;
  o["spec"]["predictor"]["scaleMetric"] = "gpu";
  o["spec"]["predictor"]["maxReplicas"] = "3";
  auto r = Call("POST", kIsvcs + "?fieldValidation=Strict", o);
  ASSERT_EQ(r.status, 422) << r.body;
  Json st = Json::parse(r.body);
  EXPECT_EQ(st["reason"], "Invalid");
  EXPECT_EQ(st["details"]["kind"], "InferenceService");
  EXPECT_EQ(st["details"]["group"], "serving.kserve.io");
  EXPECT_EQ(st["details"]["name"], "bad");
  std::map<std::string, std::string> causes;
  for (const auto& c : st["details"]["causes"]) causes[c["field"]] = c["reason"];
  EXPECT_EQ(causes["spec.predictor.minReplicas"], "FieldValueInvalid");
  EXPECT_EQ(causes["spec.predictor.scaleMetric"], "FieldValueNotSupported");
  EXPECT_EQ(causes["spec.predictor.maxReplicas"], "FieldValueTypeInvalid");
  EXPECT_EQ(causes.size(), 3u);
  EXPECT_EQ(st["message"].get<std::string>().rfind("InferenceService.serving.kserve.io \"bad\" is invalid: [", 0), 0u);

  // Through a patch as well, and dry runs answer the same.
  ASSERT_EQ(Call("POST", kIsvcs, Isvc("p")).status, 201);
  r = Call("PATCH", kIsvcs + "/p?dryRun=All", Json{{"spec", {{"predictor", {{"canaryTrafficPercent", 150}}}}}},
           "application/merge-patch+json");
  ASSERT_EQ(r.status, 422) << r.body;
  EXPECT_EQ(Json::parse(r.body)["message"],
            "InferenceService.serving.kserve.io \"p\" is invalid: spec.predictor.canaryTrafficPercent: Invalid value: "
            "150: spec.predictor.canaryTrafficPercent in body should be less than or equal to 100");
  // The status subresource is not the spec's schema's business.
  r = Call("PATCH", kIsvcs + "/p/status", Json{{"status", {{"anything", 1}}}}, "application/merge-patch+json");
  EXPECT_EQ(r.status, 200) << r.body;
}

TEST_F(FieldValidationTest, OpenApiRoutes) {
  auto r = HttpRequest(port_, "GET", "/openapi/v3", "", {});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.headers["content-type"], "application/json");
  Json idx = Json::parse(r.body);
  for (const char* k : {"apis/serving.kserve.io/v1beta1", "apis/serving.kserve.io/v1alpha1", "api/v1"}) {
    ASSERT_TRUE(idx["paths"].contains(k)) << r.body;
    std::string url = idx["paths"][k]["serverRelativeURL"];
    auto d = HttpRequest(port_, "GET", url, "", {});
    ASSERT_EQ(d.status, 200) << url;
    EXPECT_EQ(Json::parse(d.body)["openapi"], "3.0.0");
  }
  EXPECT_EQ(HttpRequest(port_, "GET", "/openapi/v2", "", {}).status, 404);
  EXPECT_EQ(HttpRequest(port_, "POST", "/openapi/v3", "{}", {"Content-Type: application/json"}).status, 405);
}

}  // namespace
}  // namespace inferd::api
