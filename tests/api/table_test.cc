// tests/api/table_test.cc: server-side printing as pure functions: HumanDuration (Kubernetes' boundaries),
// RFC 3339, the JSONPath subset of printer columns, Accept negotiation, and Tables for KServe's kinds.
#include "api/table.h"

#include <gtest/gtest.h>

#include "api/kinds.h"

namespace inferd::api {
namespace {

using store::Json;

TEST(HumanDuration, FollowsKubernetesBoundaries) {
  EXPECT_EQ(HumanDuration(-5), "<invalid>");
  EXPECT_EQ(HumanDuration(-1), "0s");
  EXPECT_EQ(HumanDuration(0), "0s");
  EXPECT_EQ(HumanDuration(119), "119s");
  EXPECT_EQ(HumanDuration(120), "2m");
  EXPECT_EQ(HumanDuration(125), "2m5s");
  EXPECT_EQ(HumanDuration(599), "9m59s");
  EXPECT_EQ(HumanDuration(600), "10m");
  EXPECT_EQ(HumanDuration(3 * 3600 - 1), "179m");
  EXPECT_EQ(HumanDuration(3 * 3600), "3h");
  EXPECT_EQ(HumanDuration(3 * 3600 + 60 * 7), "3h7m");
  EXPECT_EQ(HumanDuration(8 * 3600), "8h");
  EXPECT_EQ(HumanDuration(47 * 3600 + 3599), "47h");
  EXPECT_EQ(HumanDuration(48 * 3600), "2d");
  EXPECT_EQ(HumanDuration(50 * 3600), "2d2h");
  EXPECT_EQ(HumanDuration(8 * 86400), "8d");
  EXPECT_EQ(HumanDuration(2 * 365 * 86400 - 1), "729d");
  EXPECT_EQ(HumanDuration(2 * 365 * 86400), "2y");
  EXPECT_EQ(HumanDuration(2 * 365 * 86400 + 3 * 86400), "2y3d");
  EXPECT_EQ(HumanDuration(9LL * 365 * 86400), "9y");
}

TEST(Rfc3339, ParsesKubernetesTimestamps) {
  EXPECT_EQ(ParseRfc3339("1970-01-01T00:00:00Z"), 0);
  EXPECT_EQ(ParseRfc3339("2026-12-07T01:02:03Z"), 1796605323);
  EXPECT_EQ(ParseRfc3339("2026-12-07T01:02:03.123456Z"), 1796605323);
  EXPECT_EQ(ParseRfc3339("2026-12-07T02:02:03+01:00"), 1796605323);
  for (const char* bad : {"", "yesterday", "2026-12-07", "2026-12-07T01:02:03", "2026-13-07T01:02:03Z",
                          "2026-12-07T01:02:03Zjunk", "2026-12-07T01:02:03+1:00", "2026-12-07T01:02:03."}) {
    EXPECT_FALSE(ParseRfc3339(bad).has_value()) << bad;
  }
}

const Json kIsvc = Json::parse(R"({
  "metadata": {"name": "sklearn-iris", "namespace": "default", "creationTimestamp": "2026-12-07T00:00:00Z",
               "labels": {"team": "a"}},
  "spec": {"supportedModelFormats": [{"name": "sklearn"}, {"name": "xgboost"}], "disabled": false},
  "status": {"url": "http://sklearn-iris.default.example.com",
             "conditions": [{"type": "PredictorReady", "status": "False"}, {"type": "Ready", "status": "True"}],
             "components": {"predictor": {"traffic": [
                {"tag": "prev", "percent": 90, "revisionName": "r1"},
                {"latestRevision": true, "percent": 10.7, "revisionName": "r2"}]}}}
})");

std::string First(const Json& root, const std::string& path) {
  auto r = JsonPathFirst(root, path);
  EXPECT_TRUE(r.ok()) << path << ": " << r.status().ToString();
  if (!r.ok() || *r == nullptr) return "<none>";
  return (*r)->dump();
}

TEST(JsonPath, SelectsTheFirstMatch) {
  EXPECT_EQ(First(kIsvc, ".status.url"), "\"http://sklearn-iris.default.example.com\"");
  EXPECT_EQ(First(kIsvc, "{.status.url}"), "\"http://sklearn-iris.default.example.com\"");
  EXPECT_EQ(First(kIsvc, "$.metadata['name']"), "\"sklearn-iris\"");
  EXPECT_EQ(First(kIsvc, ".status.conditions[?(@.type=='Ready')].status"), "\"True\"");
  EXPECT_EQ(First(kIsvc, ".status.conditions[?(@.type==\"PredictorReady\")].status"), "\"False\"");
  EXPECT_EQ(First(kIsvc, ".status.conditions[?(@.type!='Ready')].type"), "\"PredictorReady\"");
  EXPECT_EQ(First(kIsvc, ".status.components.predictor.traffic[?(@.latestRevision==true)].revisionName"), "\"r2\"");
  EXPECT_EQ(First(kIsvc, ".status.components.predictor.traffic[?(@.percent==90)].tag"), "\"prev\"");
  EXPECT_EQ(First(kIsvc, ".spec.supportedModelFormats[*].name"), "\"sklearn\"");
  EXPECT_EQ(First(kIsvc, ".spec.supportedModelFormats[1].name"), "\"xgboost\"");
  EXPECT_EQ(First(kIsvc, ".spec.supportedModelFormats[-1].name"), "\"xgboost\"");
  EXPECT_EQ(First(kIsvc, ".spec.disabled"), "false");
  // Missing keys are allowed: no match, no error.
  EXPECT_EQ(First(kIsvc, ".status.nothing.here"), "<none>");
  EXPECT_EQ(First(kIsvc, ".status.conditions[?(@.type=='Gone')].status"), "<none>");
  EXPECT_EQ(First(kIsvc, ".spec.supportedModelFormats[7].name"), "<none>");
  EXPECT_EQ(First(Json("scalar"), ".a[*].b"), "<none>");
}

TEST(JsonPath, RefusesWhatItDoesNotImplement) {
  for (const char* bad : {"..a", ".a[", ".a[?(@.x>1)]", ".a[?(x=='1')]", ".a[1:2]", ".a[?(@.x==nope)]", "a.b",
                          ".a[?(@.x=='1')"}) {
    EXPECT_FALSE(JsonPathFirst(kIsvc, bad).ok()) << bad;
  }
}

TEST(Accept, PicksTheTableVersionKubectlAsksFor) {
  const char* kubectl =
      "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json";
  EXPECT_EQ(WantedTableVersion(kubectl), "v1");
  EXPECT_EQ(WantedTableVersion("application/json; g=meta.k8s.io; as=Table; v=v1beta1"), "v1beta1");
  EXPECT_FALSE(WantedTableVersion("application/json").has_value());
  EXPECT_FALSE(WantedTableVersion("").has_value());
  EXPECT_FALSE(WantedTableVersion("application/json;as=Table;v=v2;g=meta.k8s.io").has_value());
  auto ranges = ParseAccept("text/plain , application/json;A=\"x\"");
  ASSERT_EQ(ranges.size(), 2u);
  EXPECT_EQ(ranges[1].type, "application/json");
  EXPECT_EQ(ranges[1].Param("a"), "x");
}

TEST(Table, InferenceServiceRowHasKServeColumns) {
  const Kind* k = FindKind(InferenceServiceType());
  ASSERT_NE(k, nullptr);
  TableOptions o;
  o.now_unix = *ParseRfc3339("2026-12-07T00:05:00Z");
  Json t = MakeTable(*k, {kIsvc}, "42", o);
  EXPECT_EQ(t["kind"], "Table");
  EXPECT_EQ(t["apiVersion"], "meta.k8s.io/v1");
  EXPECT_EQ(t["metadata"]["resourceVersion"], "42");
  std::vector<std::string> names;
  for (const Json& c : t["columnDefinitions"]) names.push_back(c["name"]);
  EXPECT_EQ(names, (std::vector<std::string>{"Name", "URL", "Ready", "Prev", "Latest", "PrevRolledoutRevision",
                                             "LatestReadyRevision", "Age"}));
  EXPECT_EQ(t["columnDefinitions"][0]["format"], "name");
  EXPECT_EQ(t["columnDefinitions"][3]["type"], "integer");
  EXPECT_EQ(t["columnDefinitions"][7]["type"], "date");
  const Json& cells = t["rows"][0]["cells"];
  EXPECT_EQ(cells, Json::parse(R"(["sklearn-iris","http://sklearn-iris.default.example.com","True",90,10,"r1","r2","5m"])"));
  const Json& obj = t["rows"][0]["object"];
  EXPECT_EQ(obj["kind"], "PartialObjectMetadata");
  EXPECT_EQ(obj["metadata"]["namespace"], "default");
  EXPECT_EQ(obj["metadata"]["labels"]["team"], "a");
  EXPECT_FALSE(obj.contains("spec"));
}

TEST(Table, MissingValuesAreNullAndOptionsApply) {
  const Kind* k = FindKind(InferenceServiceType());
  Json bare = {{"metadata", {{"name", "x"}, {"creationTimestamp", "not a time"}}}};
  TableOptions o;
  o.headers = false;
  o.include = IncludeObject::kObject;
  o.api_version = "meta.k8s.io/v1beta1";
  Json t = MakeTable(*k, {bare}, "", o);
  EXPECT_FALSE(t.contains("columnDefinitions"));
  EXPECT_FALSE(t["metadata"].contains("resourceVersion"));
  EXPECT_EQ(t["apiVersion"], "meta.k8s.io/v1beta1");
  EXPECT_EQ(t["rows"][0]["cells"], Json::parse(R"(["x",null,null,null,null,null,null,"<invalid>"])"));
  EXPECT_EQ(t["rows"][0]["object"], bare);
  o.include = IncludeObject::kNone;
  EXPECT_TRUE(MakeTable(*k, {bare}, "", o)["rows"][0]["object"].is_null());
  EXPECT_EQ(*ParseIncludeObject(""), IncludeObject::kMetadata);
  EXPECT_EQ(*ParseIncludeObject("Object"), IncludeObject::kObject);
  EXPECT_FALSE(ParseIncludeObject("Everything").ok());
}

TEST(Table, RuntimeColumnsTakeTheFirstOfMany) {
  const Kind* k = FindKind(ClusterServingRuntimeType());
  Json rt = {{"metadata", {{"name", "kserve-sklearnserver"}, {"creationTimestamp", "2026-12-07T00:00:00Z"}}},
             {"spec",
              {{"supportedModelFormats", {{{"name", "sklearn"}}, {{"name", "other"}}}},
               {"containers", {{{"name", "kserve-container"}}}}}}};
  TableOptions o;
  o.now_unix = *ParseRfc3339("2026-12-09T01:00:00Z");
  Json t = MakeTable(*k, {rt}, "", o);
  EXPECT_EQ(t["rows"][0]["cells"], Json::parse(R"(["kserve-sklearnserver",null,"sklearn","kserve-container","2d1h"])"));
}

TEST(Table, CoreKindsPrintKubernetesColumns) {
  TableOptions o;
  o.now_unix = *ParseRfc3339("2026-12-07T00:01:00Z");
  Json secret = {{"metadata", {{"name", "s3"}, {"creationTimestamp", "2026-12-07T00:00:00Z"}}},
                 {"type", "Opaque"},
                 {"data", {{"a", "eA=="}, {"b", "eA=="}}}};
  Json t = MakeTable(*FindKind(SecretType()), {secret}, "", o);
  EXPECT_EQ(t["rows"][0]["cells"], Json::parse(R"(["s3","Opaque",2,"60s"])"));
  Json sa = {{"metadata", {{"name", "default"}, {"creationTimestamp", "2026-12-07T00:00:30Z"}}}};
  EXPECT_EQ(MakeTable(*FindKind(ServiceAccountType()), {sa}, "", o)["rows"][0]["cells"],
            Json::parse(R"(["default",0,"30s"])"));
  Json ev = {{"metadata", {{"name", "e1"}}},
             {"involvedObject", {{"kind", "InferenceService"}, {"name", "iris"}}},
             {"type", "Warning"},
             {"reason", "Failed"},
             {"message", "boom"},
             {"source", {{"component", "inferd-controller"}}},
             {"firstTimestamp", "2026-12-07T00:00:00Z"},
             {"lastTimestamp", "2026-12-07T00:00:50Z"},
             {"count", 3}};
  Json et = MakeTable(*FindKind(EventType()), {ev}, "", o);
  EXPECT_EQ(et["columnDefinitions"][0]["name"], "Last Seen");
  EXPECT_EQ(et["rows"][0]["cells"],
            Json::parse(R"J(["10s (x3 over 60s)","Warning","Failed","inferenceservice/iris","","inferd-controller","boom","60s",3,"e1"])J"));
}

}  // namespace
}  // namespace inferd::api
