// tests/api/api_core_kinds_test.cc: Secrets and ServiceAccounts (core/v1) through the API, over real HTTP:
// routes, discovery, stringData folded into base64 data, validation that never echoes a value, immutable
// Secrets, no /status subresource.
#include <gtest/gtest.h>

#include <curl/curl.h>

#include "api/api_server.h"
#include "resources/secrets.h"
#include "util/test_util.h"

namespace inferd::api {
namespace {

using store::Json;
using testing::HttpResponse;

const std::string kSecrets = "/api/v1/namespaces/default/secrets";
const std::string kAccounts = "/api/v1/namespaces/default/serviceaccounts";

// A curl call that sends a body with any method (test_util's HttpRequest sends one for POST/PUT only).
HttpResponse Call(int port, const std::string& method, const std::string& path, const std::string& body = "",
                  const std::string& content_type = "application/json") {
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
  struct curl_slist* hl = curl_slist_append(nullptr, ("Content-Type: " + content_type).c_str());
  hl = curl_slist_append(hl, "Expect:");
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, +[](char* p, size_t s, size_t n, void* ud) {
    static_cast<std::string*>(ud)->append(p, s * n);
    return s * n;
  });
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &r.body);
  if (curl_easy_perform(c) == CURLE_OK) curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r.status);
  curl_slist_free_all(hl);
  curl_easy_cleanup(c);
  return r;
}

Json Parse(const HttpResponse& r) {
  Json j = Json::parse(r.body, nullptr, false);
  if (j.is_discarded()) ADD_FAILURE() << "not JSON (status " << r.status << "): " << r.body;
  return j;
}

class CoreKindsTest : public ::testing::Test {
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
  void TearDown() override {
    server_.reset();
    store_.reset();
  }
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<ApiServer> server_;
  int port_ = 0;
};

const char kSecretYaml[] = R"(apiVersion: v1
kind: Secret
metadata:
  name: s3creds
  annotations:
    serving.kserve.io/s3-endpoint: minio:9000
    serving.kserve.io/s3-usehttps: "0"
type: Opaque
stringData:
  AWS_ACCESS_KEY_ID: minio
  AWS_SECRET_ACCESS_KEY: minio-secret-123
)";

TEST_F(CoreKindsTest, SecretsAreStoredWithStringDataFoldedIntoData) {
  auto r = Call(port_, "POST", kSecrets, kSecretYaml, "application/yaml");
  ASSERT_EQ(r.status, 201) << r.body;
  Json created = Parse(r);
  EXPECT_FALSE(created.contains("stringData"));
  EXPECT_EQ(created["type"], "Opaque");
  EXPECT_EQ(created["data"]["AWS_SECRET_ACCESS_KEY"], resources::Base64Encode("minio-secret-123"));
  auto got = Call(port_, "GET", kSecrets + "/s3creds");
  ASSERT_EQ(got.status, 200);
  EXPECT_EQ(*resources::SecretValue(Parse(got), "AWS_ACCESS_KEY_ID"), "minio");
  // Listed in its namespace and across namespaces; a merge patch may add stringData too.
  EXPECT_EQ(Parse(Call(port_, "GET", kSecrets))["items"].size(), 1u);
  EXPECT_EQ(Parse(Call(port_, "GET", "/api/v1/secrets"))["kind"], "SecretList");
  auto p = Call(port_, "PATCH", kSecrets + "/s3creds", R"({"stringData":{"extra":"x"}})",
                "application/merge-patch+json");
  ASSERT_EQ(p.status, 200) << p.body;
  EXPECT_EQ(Parse(p)["data"]["extra"], "eA==");
  EXPECT_FALSE(Parse(p).contains("stringData"));
  // No status subresource.
  EXPECT_EQ(Call(port_, "GET", kSecrets + "/s3creds/status").status, 404);
  EXPECT_EQ(Call(port_, "DELETE", kSecrets + "/s3creds").status, 200);
  EXPECT_EQ(Call(port_, "GET", kSecrets + "/s3creds").status, 404);
}

TEST_F(CoreKindsTest, InvalidSecretsAre422WithoutTheirValues) {
  const std::string value = "hunter2-should-not-leak";
  for (const std::string& body :
       {R"({"metadata":{"name":"s"},"data":{"k":")" + value + R"("}})",
        R"({"metadata":{"name":"s"},"stringData":{"bad key":")" + value + R"("}})",
        R"({"metadata":{"name":"s"},"stringData":{"k":")" + value + R"("},"spec":{}})"}) {
    auto r = Call(port_, "POST", kSecrets, body);
    EXPECT_EQ(r.status, 422) << r.body;
    EXPECT_EQ(r.body.find(value), std::string::npos) << r.body;
    EXPECT_NE(r.body.find("Secret \\\"s\\\" is invalid"), std::string::npos) << r.body;
  }
}

TEST_F(CoreKindsTest, ImmutableSecretsKeepTheirData) {
  ASSERT_EQ(Call(port_, "POST", kSecrets, R"({"metadata":{"name":"fixed"},"stringData":{"k":"v"},"immutable":true})")
                .status,
            201);
  auto change = Call(port_, "PATCH", kSecrets + "/fixed", R"({"stringData":{"k":"w"}})", "application/merge-patch+json");
  EXPECT_EQ(change.status, 422) << change.body;
  EXPECT_NE(change.body.find("immutable"), std::string::npos);
  auto labels = Call(port_, "PATCH", kSecrets + "/fixed", R"({"metadata":{"labels":{"a":"b"}}})",
                     "application/merge-patch+json");
  EXPECT_EQ(labels.status, 200) << labels.body;
  EXPECT_EQ(Call(port_, "DELETE", kSecrets + "/fixed").status, 200);
}

TEST_F(CoreKindsTest, ServiceAccountsNameTheirSecrets) {
  auto r = Call(port_, "POST", kAccounts, R"({"apiVersion":"v1","kind":"ServiceAccount","metadata":{"name":"sa"},
                                            "secrets":[{"name":"s3creds"}]})");
  ASSERT_EQ(r.status, 201) << r.body;
  EXPECT_EQ(Parse(Call(port_, "GET", kAccounts + "/sa"))["secrets"][0]["name"], "s3creds");
  auto bad = Call(port_, "POST", kAccounts, R"({"metadata":{"name":"sb"},"secrets":"s3creds"})");
  EXPECT_EQ(bad.status, 422) << bad.body;
  EXPECT_NE(bad.body.find("secrets: must be a list"), std::string::npos);
  auto wrong_kind = Call(port_, "POST", kAccounts, R"({"kind":"Secret","metadata":{"name":"sc"}})");
  EXPECT_EQ(wrong_kind.status, 400) << wrong_kind.body;
}

TEST_F(CoreKindsTest, DiscoveryListsTheCoreKinds) {
  Json j = Parse(Call(port_, "GET", "/api/v1"));
  ASSERT_EQ(j["kind"], "APIResourceList");
  std::map<std::string, Json> by_name;
  for (const auto& res : j["resources"]) by_name[res["name"].get<std::string>()] = res;
  ASSERT_TRUE(by_name.count("secrets")) << j.dump();
  ASSERT_TRUE(by_name.count("serviceaccounts")) << j.dump();
  EXPECT_TRUE(by_name.count("events"));
  EXPECT_FALSE(by_name.count("secrets/status"));
  EXPECT_EQ(by_name["secrets"]["kind"], "Secret");
  EXPECT_EQ(by_name["serviceaccounts"]["namespaced"], true);
  EXPECT_NE(by_name["secrets"]["verbs"].dump().find("create"), std::string::npos);
}

}  // namespace
}  // namespace inferd::api
