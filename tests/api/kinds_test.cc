// tests/api/kinds_test.cc: the kind table and the discovery documents built from it: every kind once,
// accessors pointing into the table, every printer column's JSONPath inside the supported subset, KServe's
// short names and scopes, legacy and aggregated discovery shapes, and a semver /version.
#include "api/kinds.h"

#include <gtest/gtest.h>

#include <regex>
#include <set>

#include "api/discovery.h"
#include "api/table.h"

namespace inferd::api {
namespace {

using store::Json;

TEST(Kinds, EachKindOnceWithItsAccessor) {
  std::set<std::string> seen;
  for (const Kind& k : Kinds()) {
    EXPECT_TRUE(seen.insert(k.type.api_version + "/" + k.type.plural).second) << k.type.plural;
    EXPECT_FALSE(k.singular.empty());
    EXPECT_FALSE(k.verbs.empty());
    ASSERT_FALSE(k.columns.empty()) << k.type.kind;
    for (const PrinterColumn& c : k.columns) {
      if (!c.compute) {
        EXPECT_TRUE(JsonPathFirst(Json::object(), c.json_path).ok()) << k.type.kind << " " << c.json_path;
      }
    }
  }
  EXPECT_EQ(&InferenceServiceType(), &FindKind("serving.kserve.io/v1beta1", "inferenceservices")->type);
  EXPECT_EQ(&TrainedModelType(), &FindKind(TrainedModelType())->type);
  EXPECT_EQ(FindKind("v1", "pods"), nullptr);
  EXPECT_EQ(AllResourceTypes().size(), Kinds().size());
}

TEST(Kinds, KServeNamesScopesAndColumns) {
  struct Want {
    const store::ResourceType* type;
    std::vector<std::string> short_names;
    bool namespaced;
    std::vector<std::string> columns;
  };
  const std::vector<Want> want = {
      {&InferenceServiceType(), {"isvc"}, true,
       {"Name", "URL", "Ready", "Prev", "Latest", "PrevRolledoutRevision", "LatestReadyRevision", "Age"}},
      {&ServingRuntimeType(), {}, true, {"Name", "Disabled", "ModelType", "Containers", "Age"}},
      {&ClusterServingRuntimeType(), {}, false, {"Name", "Disabled", "ModelType", "Containers", "Age"}},
      {&InferenceGraphType(), {"ig"}, true, {"Name", "URL", "Ready", "Age"}},
      {&TrainedModelType(), {"tm"}, true, {"Name", "URL", "Ready", "Age"}},
      {&SecretType(), {}, true, {"Name", "Type", "Data", "Age"}},
      {&ServiceAccountType(), {"sa"}, true, {"Name", "Secrets", "Age"}},
      {&EventType(), {"ev"}, true,
       {"Last Seen", "Type", "Reason", "Object", "Subobject", "Source", "Message", "First Seen", "Count", "Name"}},
  };
  for (const Want& w : want) {
    const Kind* k = FindKind(*w.type);
    ASSERT_NE(k, nullptr);
    EXPECT_EQ(k->short_names, w.short_names) << w.type->kind;
    EXPECT_EQ(k->type.namespaced, w.namespaced) << w.type->kind;
    std::vector<std::string> cols;
    for (const auto& c : k->columns) cols.push_back(c.name);
    EXPECT_EQ(cols, w.columns) << w.type->kind;
  }
  EXPECT_TRUE(FindKind(EventType())->read_only());
  EXPECT_FALSE(FindKind(InferenceServiceType())->read_only());
  EXPECT_FALSE(FindKind(SecretType())->status_subresource);
}

TEST(Discovery, LegacyDocuments) {
  Json v = LegacyApiVersions();
  EXPECT_EQ(v["kind"], "APIVersions");
  EXPECT_EQ(v["versions"], Json::array({"v1"}));
  Json g = LegacyApiGroupList();
  ASSERT_EQ(g["groups"].size(), 1u);
  EXPECT_EQ(g["groups"][0]["name"], "serving.kserve.io");
  EXPECT_EQ(g["groups"][0]["preferredVersion"]["version"], "v1beta1");
  EXPECT_EQ(g["groups"][0]["versions"].size(), 2u);
  auto l = LegacyResourceList("serving.kserve.io/v1alpha1");
  ASSERT_TRUE(l.has_value());
  std::set<std::string> names;
  for (const Json& r : (*l)["resources"]) names.insert(r["name"]);
  for (const char* n : {"servingruntimes", "clusterservingruntimes", "inferencegraphs", "inferencegraphs/status",
                        "trainedmodels", "trainedmodels/status"}) {
    EXPECT_TRUE(names.count(n)) << n;
  }
  auto core = LegacyResourceList("v1");
  ASSERT_TRUE(core.has_value());
  for (const Json& r : (*core)["resources"]) {
    if (r["name"] != "events") continue;
    EXPECT_EQ(r["shortNames"], Json::array({"ev"}));
    EXPECT_EQ(r["verbs"], Json::array({"get", "list", "watch"}));
  }
  EXPECT_FALSE(LegacyResourceList("apps/v1").has_value());
}

TEST(Discovery, AggregatedOnlyWhenAsked) {
  const char* kubectl =
      "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json;g=apidiscovery.k8s.io;"
      "v=v2beta1;as=APIGroupDiscoveryList,application/json";
  EXPECT_EQ(WantedAggregatedDiscovery(kubectl), "v2");
  EXPECT_EQ(WantedAggregatedDiscovery("application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList"),
            "v2beta1");
  EXPECT_FALSE(WantedAggregatedDiscovery("application/json").has_value());
  EXPECT_FALSE(WantedAggregatedDiscovery("application/json, application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList").has_value());
  EXPECT_FALSE(WantedAggregatedDiscovery("").has_value());
  EXPECT_EQ(AggregatedContentType("v2"), "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList");

  Json apis = AggregatedDiscovery(false, "v2");
  EXPECT_EQ(apis["apiVersion"], "apidiscovery.k8s.io/v2");
  ASSERT_EQ(apis["items"].size(), 1u);
  const Json& group = apis["items"][0];
  EXPECT_EQ(group["metadata"]["name"], "serving.kserve.io");
  EXPECT_EQ(group["versions"][0]["version"], "v1beta1");
  const Json& isvc = group["versions"][0]["resources"][0];
  EXPECT_EQ(isvc["resource"], "inferenceservices");
  EXPECT_EQ(isvc["scope"], "Namespaced");
  EXPECT_EQ(isvc["shortNames"], Json::array({"isvc"}));
  EXPECT_EQ(isvc["responseKind"]["kind"], "InferenceService");
  EXPECT_EQ(isvc["subresources"][0]["subresource"], "status");
  bool csr_cluster = false;
  for (const Json& r : group["versions"][1]["resources"])
    if (r["resource"] == "clusterservingruntimes") csr_cluster = r["scope"] == "Cluster";
  EXPECT_TRUE(csr_cluster);
  Json core = AggregatedDiscovery(true, "v2");
  ASSERT_EQ(core["items"].size(), 1u);
  EXPECT_EQ(core["items"][0]["metadata"]["name"], "");
  EXPECT_EQ(core["items"][0]["versions"][0]["version"], "v1");
}

TEST(Discovery, VersionIsSemverWithNineStrings) {
  Json v = VersionInfo();
  for (const char* f : {"major", "minor", "gitVersion", "gitCommit", "gitTreeState", "buildDate", "goVersion",
                        "compiler", "platform"}) {
    ASSERT_TRUE(v.contains(f)) << f;
    EXPECT_TRUE(v[f].is_string()) << f;
  }
  // apimachinery's ParseSemantic: v, exactly three numbers, dot-separated [0-9A-Za-z-] prerelease parts.
  static const std::regex kSemver(R"(^v?(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)(-[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?$)");
  EXPECT_TRUE(std::regex_match(v["gitVersion"].get<std::string>(), kSemver)) << v["gitVersion"];
  EXPECT_EQ(v["gitVersion"].get<std::string>().rfind("v1.32.0-inferd.", 0), 0u);
  EXPECT_TRUE(ParseRfc3339(v["buildDate"].get<std::string>()).has_value()) << v["buildDate"];
}

}  // namespace
}  // namespace inferd::api
