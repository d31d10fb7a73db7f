// tests/api/schema_test.cc: the structural-schema walk (api/schema.h) on small schemas and on inferd's CRDs
// (api/crds.h): paths, cause types and wording, pruning, nulls, int-or-string, preserve-unknown, bounds.
#include <gtest/gtest.h>

#include <functional>

#include "api/crds.h"
#include "api/schema.h"
#include "api/status_object.h"

namespace inferd::api {
namespace {

using Json = SchemaJson;

const Json& IsvcSchema() {
  const Crd* c = FindCrd("serving.kserve.io/v1beta1", "InferenceService");
  EXPECT_NE(c, nullptr);
  static const Json empty = Json::object();
  return c ? c->schema : empty;
}

Json Isvc(Json predictor) {
  return Json{{"apiVersion", "serving.kserve.io/v1beta1"},
              {"kind", "InferenceService"},
              {"metadata", {{"name", "x"}, {"namespace", "default"}}},
              {"spec", {{"predictor", std::move(predictor)}}}};
}

Json Sklearn() { return Json{{"sklearn", {{"storageUri", "gs://kfserving-examples/models/sklearn/1.0/model"}}}}; }

const FieldError* Find(const SchemaResult& r, const std::string& field) {
  for (const auto& e : r.errors)
    if (e.field == field) return &e;
  return nullptr;
}

TEST(CrdsTest, AllFiveKindsAreCompiledIn) {
  ASSERT_EQ(Crds().size(), 5u);
  struct Want {
    const char *api_version, *kind, *plural, *short_name;
    bool namespaced, status;
  } want[] = {{"serving.kserve.io/v1beta1", "InferenceService", "inferenceservices", "isvc", true, true},
              {"serving.kserve.io/v1alpha1", "ServingRuntime", "servingruntimes", nullptr, true, false},
              {"serving.kserve.io/v1alpha1", "ClusterServingRuntime", "clusterservingruntimes", nullptr, false, false},
              {"serving.kserve.io/v1alpha1", "InferenceGraph", "inferencegraphs", "ig", true, true},
              {"serving.kserve.io/v1alpha1", "TrainedModel", "trainedmodels", "tm", true, true}};
  for (const auto& w : want) {
    const Crd* c = FindCrd(w.api_version, w.kind);
    ASSERT_NE(c, nullptr) << w.kind;
    EXPECT_EQ(c->plural, w.plural);
    EXPECT_EQ(c->namespaced, w.namespaced) << w.kind;
    EXPECT_EQ(c->status_subresource, w.status) << w.kind;
    if (w.short_name) {
      ASSERT_EQ(c->short_names.size(), 1u) << w.kind;
      EXPECT_EQ(c->short_names[0], w.short_name);
    } else {
      EXPECT_TRUE(c->short_names.empty()) << w.kind;
    }
    EXPECT_EQ(c->schema.value("type", ""), "object");
  }
  EXPECT_EQ(FindCrd("serving.kserve.io/v1alpha1", "InferenceService"), nullptr);
  EXPECT_EQ(FindCrd("serving.kserve.io", "InferenceService"), nullptr);
}

TEST(SchemaTest, ValidObjectPassesUntouched) {
  Json obj = Isvc(Json{{"minReplicas", 0},
                       {"maxReplicas", 3},
                       {"scaleMetric", "concurrency"},
                       {"scaleTarget", 10},
                       {"canaryTrafficPercent", 10},
                       {"logger", {{"mode", "all"}, {"url", "http://logger"}}},
                       {"batcher", {{"maxBatchSize", 32}, {"maxLatency", 500}}},
                       {"model",
                        {{"modelFormat", {{"name", "sklearn"}, {"version", "1"}}},
                         {"protocolVersion", "v2"},
                         {"runtime", "kserve-sklearnserver"},
                         {"storageUri", "s3://b/m"},
                         {"resources", {{"limits", {{"cpu", 1}, {"memory", "2Gi"}, {"nvidia.com/gpu", "1"}}}}},
                         {"env", {{{"name", "A"}, {"value", "b"}}}}}},
                       {"affinity", {{"nodeAffinity", {{"anything", {{"goes", 1}}}}}}},
                       {"tolerations", {{{"key", "k"}, {"operator", "Exists"}, {"whatever", true}}}}});
  obj["metadata"]["labels"] = {{"a", "b"}};
  obj["metadata"]["annotations"] = {{"serving.kserve.io/deploymentMode", "RawDeployment"}};
  obj["status"] = {{"anything", {{"at", "all"}}}};
  Json before = obj;
  auto r = CheckAgainstSchema(IsvcSchema(), obj, true);
  EXPECT_TRUE(r.errors.empty()) << r.errors[0].Error();
  EXPECT_TRUE(r.unknown_fields.empty()) << r.unknown_fields[0];
  EXPECT_EQ(obj, before);
}

TEST(SchemaTest, UnknownFieldsArePathsAndArePruned) {
  Json pred = Sklearn();
  pred["foo"] = 1;
  pred["sklearn"]["storageUrl"] = "x";  // a typo of storageUri
  pred["containers"] = {{{"name", "c"}, {"imagee", "i"}}};
  Json obj = Isvc(pred);
  obj["metadata"]["bogus"] = "m";
  obj["extra"] = true;
  Json kept = obj;
  auto r = CheckAgainstSchema(IsvcSchema(), kept, /*prune=*/false);
  EXPECT_TRUE(r.errors.empty());
  std::vector<std::string> want = {"metadata.bogus", "spec.predictor.sklearn.storageUrl", "spec.predictor.foo",
                                   "spec.predictor.containers[0].imagee", "extra"};
  EXPECT_EQ(r.unknown_fields.size(), want.size());
  for (const auto& w : want) {
    EXPECT_NE(std::find(r.unknown_fields.begin(), r.unknown_fields.end(), w), r.unknown_fields.end()) << w;
  }
  EXPECT_EQ(kept, obj) << "prune=false leaves the object as it was";

  auto p = CheckAgainstSchema(IsvcSchema(), obj, /*prune=*/true);
  EXPECT_EQ(p.unknown_fields.size(), want.size());
  EXPECT_FALSE(obj["metadata"].contains("bogus"));
  EXPECT_FALSE(obj.contains("extra"));
  EXPECT_FALSE(obj["spec"]["predictor"].contains("foo"));
  EXPECT_FALSE(obj["spec"]["predictor"]["sklearn"].contains("storageUrl"));
  EXPECT_TRUE(obj["spec"]["predictor"]["sklearn"].contains("storageUri"));
  EXPECT_EQ(obj["spec"]["predictor"]["containers"][0], (Json{{"name", "c"}}));
  EXPECT_EQ(UnknownFieldText("spec.predictor.foo"), "unknown field \"spec.predictor.foo\"");
}

TEST(SchemaTest, WrongTypeIsTypeInvalidWithKubernetesWording) {
  Json pred = Sklearn();
  pred["minReplicas"] = "two";
  pred["sklearn"]["storageUri"] = 5;
  Json obj = Isvc(pred);
  auto r = CheckAgainstSchema(IsvcSchema(), obj, true);
  ASSERT_EQ(r.errors.size(), 2u);
  const FieldError* e = Find(r, "spec.predictor.minReplicas");
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->Reason(), "FieldValueTypeInvalid");
  EXPECT_EQ(e->ErrorBody(),
            "Invalid value: \"two\": spec.predictor.minReplicas in body must be of type integer: \"string\"");
  e = Find(r, "spec.predictor.sklearn.storageUri");
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->ErrorBody(),
            "Invalid value: 5: spec.predictor.sklearn.storageUri in body must be of type string: \"integer\"");
  // A float where an integer is wanted.
  Json f = Isvc(Sklearn());
  f["spec"]["predictor"]["maxReplicas"] = 1.5;
  r = CheckAgainstSchema(IsvcSchema(), f, true);
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_NE(r.errors[0].ErrorBody().find("must be of type integer: \"number\""), std::string::npos);
}

TEST(SchemaTest, BoundsEnumsAndRequired) {
  Json pred = Sklearn();
  pred["minReplicas"] = -1;
  pred["canaryTrafficPercent"] = 101;
  pred["scaleMetric"] = "gpu";
  pred["logger"] = {{"mode", "everything"}};
  pred["model"] = {{"modelFormat", {{"version", "1"}}}};
  Json obj = Isvc(pred);
  auto r = CheckAgainstSchema(IsvcSchema(), obj, true);
  ASSERT_EQ(r.errors.size(), 5u);
  const FieldError* e = Find(r, "spec.predictor.minReplicas");
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->Reason(), "FieldValueInvalid");
  EXPECT_EQ(e->Error(), "spec.predictor.minReplicas: Invalid value: -1: spec.predictor.minReplicas in body should be "
                        "greater than or equal to 0");
  e = Find(r, "spec.predictor.canaryTrafficPercent");
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->ErrorBody(),
            "Invalid value: 101: spec.predictor.canaryTrafficPercent in body should be less than or equal to 100");
  e = Find(r, "spec.predictor.scaleMetric");
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->Reason(), "FieldValueNotSupported");
  EXPECT_EQ(e->ErrorBody(), "Unsupported value: \"gpu\": supported values: \"cpu\", \"memory\", \"concurrency\", \"rps\"");
  e = Find(r, "spec.predictor.logger.mode");
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->Reason(), "FieldValueNotSupported");
  e = Find(r, "spec.predictor.model.modelFormat.name");
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->Reason(), "FieldValueRequired");
  EXPECT_EQ(e->ErrorBody(), "Required value");

  Json no_pred = Isvc(Sklearn());
  no_pred["spec"].erase("predictor");
  no_pred["spec"]["transformer"] = Json::object();
  r = CheckAgainstSchema(IsvcSchema(), no_pred, true);
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_EQ(r.errors[0].Error(), "spec.predictor: Required value");
}

TEST(SchemaTest, IntOrStringQuantitiesAndPatterns) {
  Json pred = Sklearn();
  pred["sklearn"]["resources"] = {{"limits", {{"cpu", 2}, {"memory", "1Gi"}}},
                                  {"requests", {{"cpu", true}, {"memory", "lots"}}}};
  pred["name"] = "Bad_Name";
  Json obj = Isvc(pred);
  auto r = CheckAgainstSchema(IsvcSchema(), obj, true);
  ASSERT_EQ(r.errors.size(), 3u);
  const FieldError* e = Find(r, "spec.predictor.sklearn.resources.requests.cpu");
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->Reason(), "FieldValueTypeInvalid");
  e = Find(r, "spec.predictor.sklearn.resources.requests.memory");
  ASSERT_NE(e, nullptr);
  EXPECT_NE(e->ErrorBody().find("in body should match '^(\\+|-)?"), std::string::npos) << e->ErrorBody();
  e = Find(r, "spec.predictor.name");
  ASSERT_NE(e, nullptr);
  EXPECT_NE(e->ErrorBody().find("should match '^[a-z]([-a-z0-9]*[a-z0-9])?$'"), std::string::npos);
  // The longest string the regex runs on (std::regex recurses per character): a valid quantity, no crash.
  Json longest = Isvc(Sklearn());
  longest["spec"]["predictor"]["sklearn"]["resources"] = {{"limits", {{"cpu", std::string(kMaxPatternInput, '1')}}}};
  EXPECT_TRUE(CheckAgainstSchema(IsvcSchema(), longest, true).errors.empty());
  Json name = Isvc(Sklearn());
  name["spec"]["predictor"]["name"] = std::string(kMaxPatternInput - 1, 'a') + "_";  // backtracks at the end
  r = CheckAgainstSchema(IsvcSchema(), name, true);
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_EQ(r.errors[0].field, "spec.predictor.name");
  // A string far past kMaxPatternInput fails the pattern without running the regex over it.
  Json big = Isvc(Sklearn());
  big["spec"]["predictor"]["sklearn"]["resources"] = {{"limits", {{"cpu", std::string(200000, '1')}}}};
  r = CheckAgainstSchema(IsvcSchema(), big, true);
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_EQ(r.errors[0].field, "spec.predictor.sklearn.resources.limits.cpu");
}

TEST(SchemaTest, NullsAreDroppedAndArrayItemsTyped) {
  Json pred = Sklearn();
  pred["minReplicas"] = nullptr;
  pred["sklearn"]["args"] = {"--a", 3};
  Json obj = Isvc(pred);
  auto r = CheckAgainstSchema(IsvcSchema(), obj, true);
  EXPECT_FALSE(obj["spec"]["predictor"].contains("minReplicas"));
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_EQ(r.errors[0].field, "spec.predictor.sklearn.args[1]");
}

TEST(SchemaTest, SmallSchemaRules) {
  Json s = Json::parse(R"({"type":"object","properties":{
    "m":{"type":"object","additionalProperties":{"type":"integer","maximum":5}},
    "open":{"type":"object","x-kubernetes-preserve-unknown-fields":true},
    "mixed":{"type":"object","x-kubernetes-preserve-unknown-fields":true,"properties":{"n":{"type":"integer"}}},
    "l":{"type":"array","minItems":1,"maxItems":2,"items":{"type":"string","maxLength":3,"minLength":1}}}})");
  Json o = Json::parse(R"({"m":{"a":1,"b":9,"c":"x"},"open":{"x":{"y":[1,"z"]}},"mixed":{"n":"s","kept":1},
                           "l":["abcd","","ok"]})");
  auto r = CheckAgainstSchema(s, o, true);
  EXPECT_TRUE(r.unknown_fields.empty());
  EXPECT_EQ(o["mixed"]["kept"], 1) << "preserve-unknown with properties keeps the rest";
  std::map<std::string, std::string> got;
  for (const auto& e : r.errors) got[e.field] = e.Reason();
  EXPECT_EQ(got["m.b"], "FieldValueInvalid");
  EXPECT_EQ(got["m.c"], "FieldValueTypeInvalid");
  EXPECT_EQ(got["mixed.n"], "FieldValueTypeInvalid");
  EXPECT_EQ(got["l"], "FieldValueTooMany");
  EXPECT_EQ(got["l[0]"], "FieldValueTooLong");
  EXPECT_EQ(got["l[1]"], "FieldValueInvalid");
  EXPECT_EQ(got.size(), 6u);
}

TEST(SchemaTest, ReportsAreBoundedButCounted) {
  Json pred = Sklearn();
  for (int i = 0; i < 1000; ++i) pred["x" + std::to_string(i)] = i;
  pred["sklearn"]["args"] = Json::array();
  for (int i = 0; i < 1000; ++i) pred["sklearn"]["args"].push_back(i);
  Json obj = Isvc(pred);
  auto r = CheckAgainstSchema(IsvcSchema(), obj, true);
  EXPECT_EQ(r.unknown_fields.size(), kMaxReported);
  EXPECT_EQ(r.total_unknown, 1000u);
  EXPECT_EQ(r.errors.size(), kMaxReported);
  EXPECT_EQ(r.total_errors, 1000u);
  EXPECT_EQ(obj["spec"]["predictor"].size(), 1u) << "every unknown field pruned, not only the reported ones";
}

TEST(SchemaTest, OtherKinds) {
  const Crd* ig = FindCrd("serving.kserve.io/v1alpha1", "InferenceGraph");
  ASSERT_NE(ig, nullptr);
  Json g = Json::parse(R"({"apiVersion":"serving.kserve.io/v1alpha1","kind":"InferenceGraph","metadata":{"name":"g"},
    "spec":{"nodes":{"root":{"routerType":"Bogus","steps":[{"serviceName":"a","foo":1}]},
                     "next":{"steps":[]}}}})");
  auto r = CheckAgainstSchema(ig->schema, g, true);
  ASSERT_EQ(r.unknown_fields.size(), 1u);
  EXPECT_EQ(r.unknown_fields[0], "spec.nodes.root.steps[0].foo");
  std::map<std::string, std::string> got;
  for (const auto& e : r.errors) got[e.field] = e.Reason();
  EXPECT_EQ(got["spec.nodes.root.routerType"], "FieldValueNotSupported");
  EXPECT_EQ(got["spec.nodes.next.routerType"], "FieldValueRequired");

  const Crd* tm = FindCrd("serving.kserve.io/v1alpha1", "TrainedModel");
  ASSERT_NE(tm, nullptr);
  Json t = Json::parse(R"({"spec":{"inferenceService":"s","model":{"storageUri":"gs://x","framework":"sklearn",
                                                                     "memory":"256Mi"}}})");
  EXPECT_TRUE(CheckAgainstSchema(tm->schema, t, true).errors.empty());
  t["spec"]["model"].erase("memory");
  r = CheckAgainstSchema(tm->schema, t, true);
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_EQ(r.errors[0].Error(), "spec.model.memory: Required value");

  const Crd* sr = FindCrd("serving.kserve.io/v1alpha1", "ClusterServingRuntime");
  ASSERT_NE(sr, nullptr);
  Json rt = Json::parse(R"({"spec":{"supportedModelFormats":[{"name":"sklearn","version":"1","autoSelect":true,
      "priority":0}],"protocolVersions":["v1","v2"],"containers":[{"name":"kserve-container","image":"i",
      "args":["--model_name={{.Name}}"],"resources":{"requests":{"cpu":"1"}}}]}})");
  r = CheckAgainstSchema(sr->schema, rt, true);
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_EQ(r.errors[0].field, "spec.supportedModelFormats[0].priority");
}

// Hostile objects: every node of a valid object replaced, one at a time, by values of every JSON type (and a
// deep nest), against the real ISVC schema. No crash; every error names a field; reports stay bounded.
TEST(SchemaTest, EveryNodeReplacedByEveryTypeHostile) {
  Json base = Isvc(Json{{"minReplicas", 1},
                        {"logger", {{"mode", "all"}}},
                        {"model",
                         {{"modelFormat", {{"name", "sklearn"}}},
                          {"storageUri", "s3://b/m"},
                          {"args", {"--a"}},
                          {"env", {{{"name", "A"}, {"value", "b"}}}},
                          {"resources", {{"limits", {{"cpu", "1"}}}}}}},
                        {"tolerations", {{{"key", "k"}}}}});
  Json deep = Json::object();
  for (int i = 0; i < 60; ++i) deep = Json{{"d", deep}};
  const std::vector<Json> values = {nullptr, true, -7, 3.5, "s", Json::array({1, "x", nullptr}),
                                    Json{{"k", "v"}}, deep, std::string(10000, 'z')};
  size_t runs = 0;
  std::function<void(const Json::json_pointer&, const Json&)> each = [&](const Json::json_pointer& ptr, const Json& node) {
    for (const auto& v : values) {
      Json obj = base;
      obj[ptr] = v;
      auto r = CheckAgainstSchema(IsvcSchema(), obj, true);
      ++runs;
      EXPECT_LE(r.errors.size(), kMaxReported);
      for (const auto& e : r.errors) EXPECT_FALSE(e.Error().empty());
    }
    if (node.is_object()) {
      for (const auto& [k, v] : node.items()) each(ptr / k, v);
    } else if (node.is_array()) {
      for (size_t i = 0; i < node.size(); ++i) each(ptr / i, node[i]);
    }
  };
  each(Json::json_pointer(), base);
  EXPECT_GT(runs, 200u);
}

TEST(SchemaTest, FieldValidationValues) {
  EXPECT_EQ(*ParseFieldValidation(""), FieldValidation::kWarn);
  EXPECT_EQ(*ParseFieldValidation("Warn"), FieldValidation::kWarn);
  EXPECT_EQ(*ParseFieldValidation("Strict"), FieldValidation::kStrict);
  EXPECT_EQ(*ParseFieldValidation("Ignore"), FieldValidation::kIgnore);
  auto bad = ParseFieldValidation("strict");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("supported values: \"Ignore\", \"Strict\", \"Warn\""), std::string::npos);
}

TEST(StatusObjectTest, InvalidStatusLikeNewInvalid) {
  FieldError a;
  a.type = FieldError::Type::kInvalid;
  a.field = "spec.predictor.minReplicas";
  a.value = -1;
  a.detail = "spec.predictor.minReplicas in body should be greater than or equal to 0";
  Json one = InvalidStatus("serving.kserve.io", "InferenceService", "x", {a});
  EXPECT_EQ(one["code"], 422);
  EXPECT_EQ(one["reason"], "Invalid");
  EXPECT_EQ(one["status"], "Failure");
  EXPECT_EQ(one["message"],
            "InferenceService.serving.kserve.io \"x\" is invalid: spec.predictor.minReplicas: Invalid value: -1: "
            "spec.predictor.minReplicas in body should be greater than or equal to 0");
  EXPECT_EQ(one["details"]["kind"], "InferenceService");
  EXPECT_EQ(one["details"]["group"], "serving.kserve.io");
  EXPECT_EQ(one["details"]["name"], "x");
  ASSERT_EQ(one["details"]["causes"].size(), 1u);
  EXPECT_EQ(one["details"]["causes"][0]["reason"], "FieldValueInvalid");
  EXPECT_EQ(one["details"]["causes"][0]["field"], "spec.predictor.minReplicas");
  FieldError b;
  b.type = FieldError::Type::kRequired;
  b.field = "spec.predictor";
  Json two = InvalidStatus("", "Secret", "s", {a, b, b});
  EXPECT_EQ(two["message"].get<std::string>().rfind("Secret \"s\" is invalid: [spec.predictor.minReplicas: ", 0), 0u);
  EXPECT_NE(two["message"].get<std::string>().find(", spec.predictor: Required value]"), std::string::npos);
  EXPECT_EQ(two["details"]["causes"].size(), 3u);
}

}  // namespace
}  // namespace inferd::api
