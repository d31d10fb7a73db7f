// Tests for api/patch.h (JSON patch, field ownership / server-side apply), api/status_object.h and the pure
// parts of api/namespaces.h (Namespace defaults, the protobuf body of `kubectl create namespace`).
#include "api/patch.h"

#include <gtest/gtest.h>

#include "api/namespaces.h"
#include "api/status_object.h"
#include "resources/resources.h"

namespace inferd::api {
namespace {

Json J(const char* s) { return Json::parse(s); }

// ---- JSON patch ----------------------------------------------------------------------------------------
TEST(JsonPatch, AllOperationsInOrder) {
  Json doc = J(R"({"a":{"b":1,"c":[1,2]},"x/y":1,"t~":2})");
  auto r = ApplyJsonPatch(doc, J(R"([
    {"op":"add","path":"/a/d","value":3},
    {"op":"add","path":"/a/c/-","value":9},
    {"op":"add","path":"/a/c/0","value":0},
    {"op":"replace","path":"/a/b","value":"B"},
    {"op":"remove","path":"/x~1y"},
    {"op":"copy","from":"/t~0","path":"/copied"},
    {"op":"move","from":"/a/d","path":"/moved"},
    {"op":"test","path":"/a/c","value":[0,1,2,9]}
  ])"));
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(*r, J(R"({"a":{"b":"B","c":[0,1,2,9]},"t~":2,"copied":2,"moved":3})"));
}

TEST(JsonPatch, OperationsThatDoNotApplyAreMarked) {
  bool not_applicable = false;
  Json doc = J(R"({"a":1,"l":[1]})");
  for (const char* ops : {R"([{"op":"test","path":"/a","value":2}])", R"([{"op":"remove","path":"/missing"}])",
                          R"([{"op":"replace","path":"/b/c","value":1}])", R"([{"op":"add","path":"/l/5","value":1}])"}) {
    auto r = ApplyJsonPatch(doc, J(ops), &not_applicable);
    EXPECT_FALSE(r.ok()) << ops;
    EXPECT_TRUE(not_applicable) << ops;
  }
  // a failed test leaves nothing half-applied: the caller keeps `doc`
  auto r = ApplyJsonPatch(doc, J(R"([{"op":"replace","path":"/a","value":5},{"op":"test","path":"/a","value":1}])"),
                          &not_applicable);
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(doc["a"], 1);
}

TEST(JsonPatch, MalformedPatchesAreBadRequests) {
  bool not_applicable = true;
  for (const char* ops : {R"({"op":"add"})", R"([1])", R"([{"path":"/a"}])", R"([{"op":"frob","path":"/a"}])",
                          R"([{"op":"add","path":"a","value":1}])", R"([{"op":"add","path":"/a"}])",
                          R"([{"op":"move","path":"/a"}])", R"([{"op":"add","path":"/a~2","value":1}])",
                          R"([{"op":"move","from":"/a","path":"/a/b"}])"}) {
    auto r = ApplyJsonPatch(J(R"({"a":{}})"), J(ops), &not_applicable);
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument) << ops;
    EXPECT_FALSE(not_applicable) << ops;
  }
  Json many = Json::array();
  for (size_t i = 0; i <= kMaxJsonPatchOps; ++i) many.push_back(J(R"({"op":"test","path":"","value":{}})"));
  EXPECT_EQ(ApplyJsonPatch(Json::object(), many).status().code(), StatusCode::kPayloadTooLarge);
}

// ---- field sets ------------------------------------------------------------------------------------------
TEST(FieldSets, LeavesSkipServerOwnedFieldsAndRoundTripFieldsV1) {
  Json obj = J(R"({"apiVersion":"v1","kind":"K","metadata":{"name":"n","namespace":"d","uid":"u",
                  "labels":{"a":"1"}},"spec":{"p":{"x":1,"l":[1,2],"e":{}}},"status":{"s":1}})");
  auto leaves = OwnedLeaves(obj);
  std::vector<FieldPath> want = {{"metadata", "labels", "a"}, {"spec", "p", "e"}, {"spec", "p", "l"}, {"spec", "p", "x"}};
  EXPECT_EQ(leaves, want);
  Json f = ToFieldsV1(leaves);
  EXPECT_EQ(nlohmann::json(f),
            nlohmann::json(J(R"({"f:metadata":{"f:labels":{"f:a":{}}},"f:spec":{"f:p":{"f:x":{},"f:l":{},"f:e":{}}}})")))
      << f.dump();
  EXPECT_EQ(FromFieldsV1(f), want);
  // What Kubernetes writes: "." for the map itself, k:/v: list elements (the list is the leaf here).
  auto k8s = FromFieldsV1(J(R"({"f:metadata":{"f:labels":{".":{},"f:a":{}}},
      "f:spec":{"f:containers":{"k:{\"name\":\"c\"}":{".":{},"f:image":{}}}}})"));
  std::vector<FieldPath> want2 = {{"metadata", "labels"}, {"metadata", "labels", "a"}, {"spec", "containers"}};
  EXPECT_EQ(k8s, want2);
  EXPECT_EQ(FieldPathString({"spec", "predictor", "minReplicas"}), ".spec.predictor.minReplicas");
}

Json Isvc(int min, const char* extra_label = nullptr) {
  Json j = J(R"({"apiVersion":"serving.kserve.io/v1beta1","kind":"InferenceService",
                "metadata":{"name":"sk","namespace":"default"},
                "spec":{"predictor":{"model":{"modelFormat":{"name":"sklearn"},"storageUri":"file:///m"}}}})");
  j["spec"]["predictor"]["minReplicas"] = min;
  if (extra_label) j["metadata"]["labels"][extra_label] = "yes";
  return j;
}

const Json* Entry(const Json& obj, const std::string& manager, const std::string& op) {
  for (const auto& e : obj["metadata"]["managedFields"])
    if (e["manager"] == manager && e["operation"] == op) return &e;
  return nullptr;
}

TEST(ServerSideApply, CreatesThenOwnsExactlyWhatItSent) {
  auto r = ServerSideApply(Json(), Isvc(1, "team"), "kubectl", false, "serving.kserve.io/v1beta1", "T1");
  ASSERT_TRUE(r.conflicts.empty());
  EXPECT_EQ(r.object["spec"]["predictor"]["minReplicas"], 1);
  const Json* e = Entry(r.object, "kubectl", "Apply");
  ASSERT_NE(e, nullptr) << r.object.dump();
  EXPECT_EQ((*e)["fieldsType"], "FieldsV1");
  EXPECT_EQ((*e)["time"], "T1");
  EXPECT_EQ((*e)["apiVersion"], "serving.kserve.io/v1beta1");
  EXPECT_TRUE((*e)["fieldsV1"]["f:spec"]["f:predictor"].contains("f:minReplicas"));
  EXPECT_FALSE((*e)["fieldsV1"]["f:metadata"].contains("f:name"));

  // The next apply drops the label and minReplicas: both go (nobody else owns them).
  Json next = Isvc(1);
  next["spec"]["predictor"].erase("minReplicas");
  auto r2 = ServerSideApply(r.object, next, "kubectl", false, "serving.kserve.io/v1beta1", "T2");
  ASSERT_TRUE(r2.conflicts.empty());
  EXPECT_FALSE(r2.object["spec"]["predictor"].contains("minReplicas")) << r2.object.dump();
  EXPECT_FALSE(r2.object["metadata"].contains("labels")) << r2.object.dump();  // emptied map pruned
  EXPECT_EQ(r2.object["spec"]["predictor"]["model"]["storageUri"], "file:///m");
}

TEST(ServerSideApply, ConflictsWithAnotherManagerUnlessForced) {
  auto created = ServerSideApply(Json(), Isvc(1), "kubectl", false, "serving.kserve.io/v1beta1", "T1").object;
  // Another client changes minReplicas with an ordinary write: it owns the field now.
  Json edited = created;
  edited["spec"]["predictor"]["minReplicas"] = 3;
  edited["metadata"]["labels"] = {{"by", "edit"}};
  edited = *RecordUpdate(created, edited, "kubectl-edit", "serving.kserve.io/v1beta1", "T2");
  const Json* upd = Entry(edited, "kubectl-edit", "Update");
  ASSERT_NE(upd, nullptr) << edited.dump();
  EXPECT_TRUE((*upd)["fieldsV1"]["f:spec"]["f:predictor"].contains("f:minReplicas"));
  EXPECT_FALSE(Entry(edited, "kubectl", "Apply")->at("fieldsV1")["f:spec"]["f:predictor"].contains("f:minReplicas"));

  // Re-applying the old value now conflicts with kubectl-edit.
  auto r = ServerSideApply(edited, Isvc(1), "kubectl", false, "serving.kserve.io/v1beta1", "T3");
  ASSERT_EQ(r.conflicts.size(), 1u);
  EXPECT_EQ(r.conflicts[0].manager, "kubectl-edit");
  EXPECT_EQ(FieldPathString(r.conflicts[0].field), ".spec.predictor.minReplicas");
  EXPECT_EQ(ConflictMessage(r.conflicts),
            "Apply failed with 1 conflict: conflict with \"kubectl-edit\" using serving.kserve.io/v1beta1: "
            ".spec.predictor.minReplicas");
  // Applying the value it already has is shared ownership, not a conflict.
  EXPECT_TRUE(ServerSideApply(edited, Isvc(3), "kubectl", false, "serving.kserve.io/v1beta1", "T3").conflicts.empty());
  // Forced: the field changes hands; the other manager keeps what it still owns (the label).
  auto f = ServerSideApply(edited, Isvc(1), "kubectl", true, "serving.kserve.io/v1beta1", "T4");
  ASSERT_TRUE(f.conflicts.empty());
  EXPECT_EQ(f.object["spec"]["predictor"]["minReplicas"], 1);
  const Json* after = Entry(f.object, "kubectl-edit", "Update");
  ASSERT_NE(after, nullptr);
  EXPECT_FALSE((*after)["fieldsV1"]["f:spec"].is_object() &&
               (*after)["fieldsV1"]["f:spec"]["f:predictor"].contains("f:minReplicas"));
  EXPECT_EQ(f.object["metadata"]["labels"]["by"], "edit");
}

TEST(ServerSideApply, DroppedFieldOwnedByAnotherManagerStays) {
  Json a = Isvc(1, "shared");
  auto first = ServerSideApply(Json(), a, "one", false, "v", "T").object;
  auto second = ServerSideApply(first, a, "two", false, "v", "T").object;  // same values: co-owned
  Json less = Isvc(1);
  auto r = ServerSideApply(second, less, "one", false, "v", "T");
  ASSERT_TRUE(r.conflicts.empty());
  EXPECT_EQ(r.object["metadata"]["labels"]["shared"], "yes") << r.object.dump();
}

TEST(RecordUpdate, NoChangeKeepsManagedFieldsAndClientWrittenOnesWin) {
  Json created = *RecordUpdate(Json(), Isvc(1), "kubectl-create", "v", "T1");
  ASSERT_NE(Entry(created, "kubectl-create", "Update"), nullptr);
  Json same = *RecordUpdate(created, created, "other", "v", "T2");
  EXPECT_EQ(same["metadata"]["managedFields"], created["metadata"]["managedFields"]);
  Json written = created;
  written["metadata"]["managedFields"] = Json::array({{{"manager", "m"}, {"operation", "Apply"}}});
  EXPECT_EQ((*RecordUpdate(created, written, "x", "v", "T3"))["metadata"]["managedFields"],
            written["metadata"]["managedFields"]);
  // A body without managedFields (a PUT of an object read before) keeps the stored ones.
  Json bare = created;
  bare["metadata"].erase("managedFields");
  bare["spec"]["predictor"]["minReplicas"] = 2;
  Json out = *RecordUpdate(created, bare, "kubectl-replace", "v", "T4");
  EXPECT_NE(Entry(out, "kubectl-create", "Update"), nullptr);
  EXPECT_NE(Entry(out, "kubectl-replace", "Update"), nullptr);
}

TEST(FieldTracking, HostileSizesAreRefusedNotQuadratic) {
  // Many leaves under one deep chain: refused once the path elements exceed the bound.
  Json deep = Isvc(1);
  Json* cur = &deep["spec"];
  for (int i = 0; i < 58; ++i) cur = &(*cur)["d" + std::to_string(i)];
  for (int i = 0; i < 200; ++i) {  // 200 x 100 leaves at depth ~60: over 2^20 path elements
    Json& leaf_parent = (*cur)["p" + std::to_string(i)];
    for (int j = 0; j < 100; ++j) leaf_parent["k" + std::to_string(j)] = j;
  }
  EXPECT_FALSE(RecordUpdate(Json(), deep, "m", "v", "T").ok());
  EXPECT_FALSE(ServerSideApply(Json(), deep, "m", false, "v", "T").error.ok());
  // Too many managedFields entries written by a client, or a malformed list.
  Json many = Isvc(1);
  many["metadata"]["managedFields"] = Json::array();
  for (size_t i = 0; i <= kMaxManagedFieldsEntries; ++i) many["metadata"]["managedFields"].push_back({{"manager", "m" + std::to_string(i)}});
  EXPECT_FALSE(RecordUpdate(Isvc(1), many, "x", "v", "T").ok());
  Json bad = Isvc(1);
  bad["metadata"]["managedFields"] = "nope";
  EXPECT_FALSE(RecordUpdate(Isvc(1), bad, "x", "v", "T").ok());
  // Many fields owned by one manager and changed by another: ordered-set lookups, not a scan per field
  // (100 objects of 100 fields, so that building the test object is not itself quadratic in ordered_json).
  Json wide = Isvc(1);
  for (int i = 0; i < 100; ++i)
    for (int j = 0; j < 100; ++j) wide["spec"]["w" + std::to_string(i)]["k" + std::to_string(j)] = j;
  Json owned = *RecordUpdate(Json(), wide, "a", "v", "T");
  Json changed = owned;
  for (int i = 0; i < 100; ++i)
    for (int j = 0; j < 100; ++j) changed["spec"]["w" + std::to_string(i)]["k" + std::to_string(j)] = -j - 1;
  auto r = ServerSideApply(owned, changed, "b", false, "v", "T");
  EXPECT_EQ(r.conflicts.size(), 10000u);
}

// ---- client-side apply ------------------------------------------------------------------------------------
TEST(ThreeWayMergePatch, RemovesDroppedFieldsAndSetsChangedOnes) {
  Json original = J(R"({"metadata":{"labels":{"a":"1","b":"2"}},"spec":{"x":1,"y":{"z":1},"l":[1,2]}})");
  Json modified = J(R"({"metadata":{"labels":{"a":"1"}},"spec":{"x":2,"l":[1]}})");
  Json current = J(R"({"metadata":{"labels":{"a":"1","b":"2","live":"k"},"uid":"u"},
                       "spec":{"x":1,"y":{"z":1},"l":[1,2],"defaulted":true},"status":{"s":1}})");
  Json p = ThreeWayMergePatch(original, modified, current);
  EXPECT_EQ(nlohmann::json(p), nlohmann::json(J(R"({"metadata":{"labels":{"b":null}},"spec":{"x":2,"y":null,"l":[1]}})")))
      << p.dump();
  // Fields only the server or another client set (live label, defaulted, status) are left alone, and applying
  // the same file again changes nothing.
  Json after = resources::MergePatch(current, p);
  EXPECT_EQ(after["metadata"]["labels"]["live"], "k");
  EXPECT_EQ(after["spec"]["defaulted"], true);
  EXPECT_EQ(ThreeWayMergePatch(modified, modified, after), Json::object());
  // Without a last-applied configuration nothing is deleted.
  EXPECT_EQ(nlohmann::json(ThreeWayMergePatch(Json(), modified, current)),
            nlohmann::json(J(R"({"spec":{"x":2,"l":[1]}})")));
}

// ---- Status objects ----------------------------------------------------------------------------------------
TEST(StatusObject, InvalidCarriesCausesFromValidatorText) {
  Json s = InvalidStatus("serving.kserve.io", "InferenceService", "x",
                         {FieldErrorFromText("spec.predictor: exactly one of [model, sklearn] must be specified in PredictorSpec")});
  EXPECT_EQ(s["code"], 422);
  EXPECT_EQ(s["reason"], "Invalid");
  EXPECT_EQ(s["message"], "InferenceService.serving.kserve.io \"x\" is invalid: spec.predictor: exactly one of "
                          "[model, sklearn] must be specified in PredictorSpec");
  EXPECT_EQ(s["details"]["kind"], "InferenceService");
  EXPECT_EQ(s["details"]["group"], "serving.kserve.io");
  ASSERT_EQ(s["details"]["causes"].size(), 1u);
  EXPECT_EQ(s["details"]["causes"][0]["field"], "spec.predictor");
  EXPECT_EQ(s["details"]["causes"][0]["reason"], "FieldValueInvalid");
  EXPECT_EQ(s["details"]["causes"][0]["message"], "exactly one of [model, sklearn] must be specified in PredictorSpec");

  EXPECT_EQ(FieldErrorFromText("metadata.name: Required value: name is required").Reason(), "FieldValueRequired");
  EXPECT_EQ(FieldErrorFromText("metadata.annotations[a/b]: unknown class").field, "metadata.annotations[a/b]");
  EXPECT_EQ(FieldErrorFromText("data: Forbidden: field is immutable").Reason(), "FieldValueForbidden");
  FieldError free = FieldErrorFromText("the object is broken: badly");
  EXPECT_EQ(free.field, "");
  EXPECT_EQ(free.Error(), "the object is broken: badly");
  Json two = InvalidStatus("", "Namespace", "n", {FieldErrorFromText("a: Required value"), FieldErrorFromText("b: Invalid value")});
  EXPECT_EQ(two["message"], "Namespace \"n\" is invalid: [a: Required value, b: Invalid value]");

  Json ok = StatusSuccess("x", "serving.kserve.io", "inferenceservices", "u1");
  EXPECT_EQ(ok["status"], "Success");
  EXPECT_EQ(ok["details"]["uid"], "u1");
  EXPECT_EQ(ok["details"]["kind"], "inferenceservices");
  Json nf = StatusObject(404, "NotFound", "m", Json{{"name", "x"}});
  EXPECT_EQ(nf["details"]["name"], "x");
  EXPECT_EQ(nf["code"], 404);
}

// ---- Namespaces ------------------------------------------------------------------------------------------
TEST(Namespaces, NormalizeSetsKubernetesDefaults) {
  Json ns = J(R"({"apiVersion":"v1","kind":"Namespace","metadata":{"name":"kserve-test"}})");
  ASSERT_TRUE(NormalizeNamespace(ns).ok());
  EXPECT_EQ(ns["metadata"]["labels"]["kubernetes.io/metadata.name"], "kserve-test");
  EXPECT_EQ(ns["spec"]["finalizers"], Json::array({"kubernetes"}));
  EXPECT_EQ(ns["status"]["phase"], "Active");
  Json bad = J(R"({"metadata":{"name":"Bad_NS"}})");
  EXPECT_NE(NormalizeNamespace(bad).message().find("metadata.name: Invalid value"), std::string::npos);
}

// Protobuf wire helpers for building test bodies.
std::string Varint(uint64_t v) {
  std::string s;
  while (v >= 0x80) {
    s.push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  s.push_back(static_cast<char>(v));
  return s;
}
std::string Field(int n, const std::string& bytes) { return Varint((n << 3) | 2) + Varint(bytes.size()) + bytes; }

std::string KubectlNamespaceBody(const std::string& name) {
  std::string labels = Field(11, Field(1, "team") + Field(2, "a"));
  std::string meta = Field(1, name) + labels + Field(12, Field(1, "note") + Field(2, "x"));
  std::string ns = Field(1, meta) + Field(2, "") + Field(3, "");
  std::string type_meta = Field(1, "v1") + Field(2, "Namespace");
  return std::string("k8s\0", 4) + Field(1, type_meta) + Field(2, ns) + Field(3, "") + Field(4, "");
}

TEST(Namespaces, DecodesKubectlsProtobufBody) {
  auto ns = DecodeProtobufNamespace(KubectlNamespaceBody("kserve-test"));
  ASSERT_TRUE(ns.ok()) << ns.status().message();
  EXPECT_EQ((*ns)["metadata"]["name"], "kserve-test");
  EXPECT_EQ((*ns)["metadata"]["labels"]["team"], "a");
  EXPECT_EQ((*ns)["metadata"]["annotations"]["note"], "x");
  EXPECT_EQ((*ns)["kind"], "Namespace");
  // varint fields (another wire type) are skipped
  std::string body = KubectlNamespaceBody("n");
  body += Varint((9 << 3) | 0) + Varint(300);
  EXPECT_TRUE(DecodeProtobufNamespace(body).ok());
}

TEST(Namespaces, HostileProtobufBodiesAreRefused) {
  std::string good = KubectlNamespaceBody("kserve-test");
  EXPECT_FALSE(DecodeProtobufNamespace("").ok());
  EXPECT_FALSE(DecodeProtobufNamespace("k8s").ok());
  EXPECT_FALSE(DecodeProtobufNamespace(std::string("k9s\0", 4) + good.substr(4)).ok());
  // Every truncation: the ones that end inside a field are refused (a cut between fields is a shorter valid
  // message, e.g. without the Namespace at all, which the API then refuses for its missing name).
  size_t refused = 0;
  for (size_t cut = 5; cut < good.size(); ++cut) refused += !DecodeProtobufNamespace(good.substr(0, cut)).ok();
  EXPECT_GE(refused, good.size() - 5 - 4);
  EXPECT_FALSE(DecodeProtobufNamespace(good.substr(0, good.find("kserve") + 3)).ok());
  // a length far beyond the body, and a 10-byte varint length
  EXPECT_FALSE(DecodeProtobufNamespace(std::string("k8s\0", 4) + Varint((2 << 3) | 2) + Varint(1ull << 40)).ok());
  EXPECT_FALSE(DecodeProtobufNamespace(std::string("k8s\0", 4) + Varint((2 << 3) | 2) + std::string(10, '\xff')).ok());
  // the wrong kind
  std::string pod = std::string("k8s\0", 4) + Field(1, Field(1, "v1") + Field(2, "Pod")) + Field(2, "");
  EXPECT_NE(DecodeProtobufNamespace(pod).status().message().find("Pod"), std::string::npos);
  // random bytes never crash
  std::string junk = std::string("k8s\0", 4);
  uint32_t x = 12345;
  for (int i = 0; i < 2000; ++i) {
    x = x * 1103515245 + 12345;
    junk.push_back(static_cast<char>(x >> 16));
    (void)DecodeProtobufNamespace(junk);
  }
}

}  // namespace
}  // namespace inferd::api
