// tests/api/openapi_test.cc: /openapi/v3 documents (api/openapi.h) have what kubectl's query-param verifier
// and patch-type choice look for (kubernetes.md section 3), built from the compiled-in CRDs.
#include <gtest/gtest.h>

#include "api/crds.h"
#include "api/openapi.h"

namespace inferd::api {
namespace {

using Json = nlohmann::ordered_json;

std::vector<OpenApiResource> Resources() {
  std::vector<OpenApiResource> out;
  for (const auto& c : Crds()) {
    OpenApiResource r;
    r.group = c.group;
    r.version = c.version;
    r.kind = c.kind;
    r.plural = c.plural;
    r.namespaced = c.namespaced;
    r.has_status = c.status_subresource;
    r.schema = &c.schema;
    out.push_back(r);
  }
  OpenApiResource secret;
  secret.version = "v1";
  secret.kind = "Secret";
  secret.plural = "secrets";
  out.push_back(secret);
  OpenApiResource events = secret;
  events.kind = "Event";
  events.plural = "events";
  events.read_only = true;
  out.push_back(events);
  return out;
}

// kubectl's supportsQueryParamV3: the first patch operation carrying the GVK must have the query parameter.
bool SupportsFieldValidation(const Json& doc, const std::string& group, const std::string& version,
                             const std::string& kind) {
  for (const auto& [path, item] : doc["paths"].items()) {
    if (!item.contains("patch")) continue;
    const Json& op = item["patch"];
    const Json& gvk = op["x-kubernetes-group-version-kind"];
    if (gvk.value("group", "?") != group || gvk.value("version", "?") != version || gvk.value("kind", "?") != kind) {
      continue;
    }
    bool found = false;
    for (const auto& p : op["parameters"]) found |= p["name"] == "fieldValidation" && p["in"] == "query";
    if (!found) return false;
  }
  return true;
}

TEST(OpenApiTest, IndexListsEveryGroupVersionWithAHash) {
  auto res = Resources();
  Json idx = OpenApiV3Index(res);
  ASSERT_TRUE(idx["paths"].is_object());
  for (const char* k : {"apis/serving.kserve.io/v1beta1", "apis/serving.kserve.io/v1alpha1", "api/v1"}) {
    ASSERT_TRUE(idx["paths"].contains(k)) << k;
    std::string url = idx["paths"][k]["serverRelativeURL"];
    EXPECT_EQ(url.rfind("/openapi/v3/" + std::string(k) + "?hash=", 0), 0u) << url;
    EXPECT_GT(url.size(), std::string("/openapi/v3/?hash=").size() + std::string(k).size());
  }
  EXPECT_EQ(idx["paths"].size(), 3u);
  // The hash follows the document.
  auto fewer = res;
  fewer.pop_back();
  Json idx2 = OpenApiV3Index(fewer);
  EXPECT_NE(idx2["paths"]["api/v1"]["serverRelativeURL"], idx["paths"]["api/v1"]["serverRelativeURL"]);
  EXPECT_EQ(idx2["paths"]["apis/serving.kserve.io/v1beta1"], idx["paths"]["apis/serving.kserve.io/v1beta1"]);
}

TEST(OpenApiTest, PatchOperationsCarryGvkFieldValidationAndNoStrategicMerge) {
  auto res = Resources();
  Json v1beta1 = OpenApiV3Document(res, "apis/serving.kserve.io/v1beta1");
  EXPECT_EQ(v1beta1["openapi"], "3.0.0");
  const Json& item = v1beta1["paths"]["/apis/serving.kserve.io/v1beta1/namespaces/{namespace}/inferenceservices/{name}"];
  ASSERT_TRUE(item.contains("patch"));
  const Json& patch = item["patch"];
  EXPECT_EQ(patch["x-kubernetes-group-version-kind"],
            (Json{{"group", "serving.kserve.io"}, {"version", "v1beta1"}, {"kind", "InferenceService"}}));
  std::vector<std::string> types;
  for (const auto& [t, v] : patch["requestBody"]["content"].items()) types.push_back(t);
  EXPECT_EQ(types, (std::vector<std::string>{"application/json-patch+json", "application/merge-patch+json",
                                             "application/apply-patch+yaml"}));
  EXPECT_TRUE(SupportsFieldValidation(v1beta1, "serving.kserve.io", "v1beta1", "InferenceService"));
  EXPECT_TRUE(v1beta1["paths"].contains("/apis/serving.kserve.io/v1beta1/inferenceservices"));
  EXPECT_TRUE(v1beta1["paths"].contains(
      "/apis/serving.kserve.io/v1beta1/namespaces/{namespace}/inferenceservices/{name}/status"));

  Json v1alpha1 = OpenApiV3Document(res, "apis/serving.kserve.io/v1alpha1");
  for (const char* kind : {"ServingRuntime", "ClusterServingRuntime", "InferenceGraph", "TrainedModel"}) {
    EXPECT_TRUE(SupportsFieldValidation(v1alpha1, "serving.kserve.io", "v1alpha1", kind)) << kind;
  }
  EXPECT_TRUE(v1alpha1["paths"].contains("/apis/serving.kserve.io/v1alpha1/clusterservingruntimes/{name}"));
  EXPECT_FALSE(v1alpha1["paths"].contains("/apis/serving.kserve.io/v1alpha1/servingruntimes/{name}/status"));
  EXPECT_EQ(v1alpha1.dump().find("strategic-merge"), std::string::npos);

  Json core = OpenApiV3Document(res, "api/v1");
  EXPECT_TRUE(SupportsFieldValidation(core, "", "v1", "Secret"));
  const Json& events = core["paths"]["/api/v1/namespaces/{namespace}/events/{name}"];
  EXPECT_TRUE(events.contains("get"));
  EXPECT_FALSE(events.contains("patch")) << "Events are read-only";
}

TEST(OpenApiTest, ComponentsHoldTheCrdSchemas) {
  auto res = Resources();
  Json doc = OpenApiV3Document(res, "apis/serving.kserve.io/v1beta1");
  const Json& s = doc["components"]["schemas"]["io.kserve.serving.v1beta1.InferenceService"];
  ASSERT_TRUE(s.is_object());
  EXPECT_EQ(s["x-kubernetes-group-version-kind"][0]["kind"], "InferenceService");
  EXPECT_EQ(s["properties"]["spec"]["properties"]["predictor"]["properties"]["minReplicas"]["minimum"], 0);
  EXPECT_EQ(s["properties"]["metadata"]["$ref"], "#/components/schemas/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta");
  EXPECT_TRUE(doc["components"]["schemas"].contains("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"));
  EXPECT_TRUE(doc["components"]["schemas"].contains("io.kserve.serving.v1beta1.InferenceServiceList"));
  // Every $ref resolves.
  std::function<void(const Json&)> walk = [&](const Json& j) {
    if (j.is_object()) {
      if (j.contains("$ref")) {
        std::string ref = j["$ref"];
        const std::string prefix = "#/components/schemas/";
        ASSERT_EQ(ref.rfind(prefix, 0), 0u);
        EXPECT_TRUE(doc["components"]["schemas"].contains(ref.substr(prefix.size()))) << ref;
      }
      for (const auto& [k, v] : j.items()) walk(v);
    } else if (j.is_array()) {
      for (const auto& v : j) walk(v);
    }
  };
  walk(doc);
}

TEST(OpenApiTest, Routes) {
  auto res = Resources();
  EXPECT_FALSE(ServeOpenApi("/apis", res).has_value());
  auto idx = ServeOpenApi("/openapi/v3", res);
  ASSERT_TRUE(idx);
  EXPECT_EQ(idx->status, 200);
  EXPECT_TRUE(Json::parse(idx->body)["paths"].contains("api/v1"));
  auto doc = ServeOpenApi("/openapi/v3/apis/serving.kserve.io/v1alpha1", res);
  ASSERT_TRUE(doc);
  EXPECT_EQ(doc->status, 200);
  for (const char* p : {"/openapi/v2", "/openapi/v3/apis/serving.kserve.io/v9", "/openapi/v3/apis", "/openapi/"}) {
    auto a = ServeOpenApi(p, res);
    ASSERT_TRUE(a) << p;
    EXPECT_EQ(a->status, 404) << p;
    EXPECT_EQ(Json::parse(a->body)["reason"], "NotFound");
  }
}

}  // namespace
}  // namespace inferd::api
