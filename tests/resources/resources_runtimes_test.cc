// tests/resources/resources_runtimes_test.cc: ValidateServingRuntime, the built-ins and SelectRuntime.
#include <gtest/gtest.h>

#include "resources/resources.h"

namespace inferd::resources {
namespace {

Json Runtime(const std::string& name, const std::string& format_json, bool cluster = false,
             const std::string& protocols = R"(["v1", "v2"])") {
  Json rt = Json::parse(R"({"apiVersion": "serving.kserve.io/v1alpha1", "metadata": {}, "spec": {}})");
  rt["kind"] = cluster ? "ClusterServingRuntime" : "ServingRuntime";
  rt["metadata"]["name"] = name;
  rt["spec"]["supportedModelFormats"] = Json::parse(format_json);
  if (!protocols.empty()) rt["spec"]["protocolVersions"] = Json::parse(protocols);
  rt["spec"]["containers"] = Json::parse(R"([{"name": "kserve-container", "image": "x", "args": ["--model_name={{.Name}}"]}])");
  return rt;
}

ComponentSpec Model(const std::string& format, const std::string& version = "", const std::string& protocol = "v1") {
  ComponentSpec c;
  c.format = format;
  c.format_version = version;
  c.protocol_version = protocol;
  return c;
}

const char* kSklearnP1 = R"([{"name": "sklearn", "version": "1", "autoSelect": true, "priority": 1}])";
const char* kSklearnP2 = R"([{"name": "sklearn", "autoSelect": true, "priority": 2}])";

// ---- ValidateServingRuntime ----

void ExpectInvalid(const Json& rt, bool cluster, const std::string& prefix) {
  Status s = ValidateServingRuntime(rt, cluster);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << rt.dump();
  EXPECT_EQ(s.message().rfind(prefix, 0), 0u) << "got: " << s.message();
}

TEST(ValidateServingRuntime, ValidAndKinds) {
  EXPECT_TRUE(ValidateServingRuntime(Runtime("my-rt", kSklearnP1), false).ok());
  EXPECT_TRUE(ValidateServingRuntime(Runtime("my-rt", kSklearnP1, true), true).ok());
  ExpectInvalid(Runtime("my-rt", kSklearnP1), true, "kind: must be ClusterServingRuntime, got \"ServingRuntime\"");
  ExpectInvalid(Runtime("my-rt", kSklearnP1, true), false, "kind: must be ServingRuntime");
  Json rt = Runtime("my-rt", kSklearnP1);
  rt["apiVersion"] = "serving.kserve.io/v1beta1";
  ExpectInvalid(rt, false, "apiVersion: must be serving.kserve.io/v1alpha1 for ServingRuntime");
  ExpectInvalid(Runtime("My_RT", kSklearnP1), false, "metadata.name: \"My_RT\" is not a valid name");
  rt = Runtime("my-rt", kSklearnP1);
  rt["metadata"].erase("name");
  ExpectInvalid(rt, false, "metadata.name: required");
  rt = Runtime("my-rt", kSklearnP1);
  rt.erase("spec");
  ExpectInvalid(rt, false, "spec: required");
  ExpectInvalid(Json(3), false, "ServingRuntime: must be an object");
}

TEST(ValidateServingRuntime, Containers) {
  Json rt = Runtime("my-rt", kSklearnP1);
  rt["spec"]["containers"] = Json::array();
  ExpectInvalid(rt, false, "spec.containers: at least one container is required");
  rt["spec"].erase("containers");
  ExpectInvalid(rt, false, "spec.containers: at least one container is required");
  rt["spec"]["containers"] = Json::parse(R"([{"name": "c", "args": [1]}])");
  ExpectInvalid(rt, false, "spec.containers[0].args[0]: must be a string");
}

TEST(ValidateServingRuntime, SupportedModelFormats) {
  ExpectInvalid(Runtime("r", R"([{"version": "1"}])"), false, "spec.supportedModelFormats[0].name: required");
  ExpectInvalid(Runtime("r", R"([{"name": ""}])"), false, "spec.supportedModelFormats[0].name: must not be empty");
  ExpectInvalid(Runtime("r", R"([{"name": "sklearn", "autoSelect": true, "priority": 0}])"), false,
                "spec.supportedModelFormats[0].priority: priority must be greater than 0, got 0");
  // priority without autoSelect is valid in KServe (its kserve-predictiveserver runtime): it is not considered.
  EXPECT_TRUE(ValidateServingRuntime(Runtime("r", R"([{"name": "a"}, {"name": "sklearn", "priority": 2}])"), false).ok());
  EXPECT_TRUE(ValidateServingRuntime(Runtime("r", R"([{"name": "sklearn", "autoSelect": false, "priority": 3}])"), false).ok());
  // Auto-selectable entries of one format must agree on the priority (KServe's webhook).
  ExpectInvalid(Runtime("r", R"([{"name": "sklearn", "version": "0", "autoSelect": true, "priority": 1},
                                 {"name": "sklearn", "version": "1", "autoSelect": true, "priority": 2}])"), false,
                "spec.supportedModelFormats[1].priority: different priorities assigned for the model format sklearn");
  EXPECT_TRUE(ValidateServingRuntime(Runtime("r", R"([{"name": "sklearn", "version": "0", "autoSelect": true, "priority": 2},
                                                      {"name": "sklearn", "version": "1", "autoSelect": false, "priority": 3}])"), false).ok());
  ExpectInvalid(Runtime("r", R"([{"name": "sklearn", "autoSelect": "yes"}])"), false,
                "spec.supportedModelFormats[0].autoSelect: must be a boolean");
  ExpectInvalid(Runtime("r", R"({"name": "sklearn"})"), false, "spec.supportedModelFormats: must be a list");
}

TEST(ValidateServingRuntime, ProtocolVersionsAndFlags) {
  ExpectInvalid(Runtime("r", kSklearnP1, false, R"(["v1", "v9"])"), false,
                "spec.protocolVersions[1]: invalid protocol v9. Must be one of [v1, v2, grpc-v1, grpc-v2]");
  Json rt = Runtime("r", kSklearnP1);
  rt["spec"]["disabled"] = "true";
  ExpectInvalid(rt, false, "spec.disabled: must be a boolean");
  rt["spec"]["disabled"] = true;
  rt["spec"]["multiModel"] = 1;
  ExpectInvalid(rt, false, "spec.multiModel: must be a boolean");
}

// ---- built-ins ----

TEST(BuiltinRuntimes, AreValidClusterServingRuntimes) {
  auto builtins = BuiltinClusterServingRuntimes();
  std::vector<std::string> names;
  for (const auto& rt : builtins) {
    Status s = ValidateServingRuntime(rt, true);
    EXPECT_TRUE(s.ok()) << s.ToString() << "\n" << rt.dump(2);
    names.push_back(rt["metadata"]["name"].get<std::string>());
    EXPECT_EQ(rt["apiVersion"], Json("serving.kserve.io/v1alpha1"));
    const Json& ct = rt["spec"]["containers"][0];
    EXPECT_EQ(ct["name"], Json("kserve-container"));
    EXPECT_EQ(ct["command"], Json::parse(R"(["inferd", "model-server"])"));
    if (names.back() == "kserve-tritonserver") continue;
    EXPECT_EQ(ct["args"][0], Json("--model_name={{.Name}}"));
    // kserve-tensorflow-serving also serves TF Serving's gRPC API (grpc-v1), as KServe's runtime of that name.
    EXPECT_EQ(rt["spec"]["protocolVersions"], names.back() == "kserve-tensorflow-serving"
                                                  ? Json::parse(R"(["v1", "v2", "grpc-v1", "grpc-v2"])")
                                                  : Json::parse(R"(["v1", "v2", "grpc-v2"])"));
  }
  EXPECT_EQ(names, (std::vector<std::string>{"kserve-sklearnserver", "kserve-xgbserver", "kserve-lgbserver",
                                             "kserve-torchserve", "kserve-onnxserver", "kserve-pythonserver",
                                             "kserve-tritonserver", "kserve-tensorflow-serving"}));
  EXPECT_EQ(builtins[5]["spec"]["containers"][0]["args"][1], Json("--python=/mnt/models/model.py"));
  EXPECT_EQ(builtins[0]["spec"]["containers"][0]["args"][1], Json("--model_dir=/mnt/models"));
  // Triton: the storageUri is a model repository; v2 and grpc-v2 only, as KServe's kserve-tritonserver.
  EXPECT_EQ(builtins[6]["spec"]["containers"][0]["args"][0], Json("--model_repository=/mnt/models"));
  EXPECT_EQ(builtins[6]["spec"]["protocolVersions"], Json::parse(R"(["v2", "grpc-v2"])"));
  EXPECT_EQ(builtins[6]["spec"]["supportedModelFormats"][0]["name"], Json("triton"));
}

TEST(BuiltinRuntimes, AutoSelectEachFormat) {
  auto builtins = BuiltinClusterServingRuntimes();
  const std::pair<const char*, const char*> expect[] = {
      {"sklearn", "kserve-sklearnserver"}, {"xgboost", "kserve-xgbserver"}, {"lightgbm", "kserve-lgbserver"},
      {"pytorch", "kserve-torchserve"},    {"onnx", "kserve-onnxserver"},   {"python", "kserve-pythonserver"},
      {"custom", "kserve-pythonserver"}};
  for (const auto& [format, runtime] : expect) {
    for (const char* protocol : {"v1", "v2", "grpc-v2"}) {
      auto r = SelectRuntime(Model(format, "", protocol), {}, builtins);
      ASSERT_TRUE(r.ok()) << format << " " << protocol << ": " << r.status().ToString();
      EXPECT_EQ(r->name, runtime);
      EXPECT_TRUE(r->cluster_scoped);
      EXPECT_EQ(r->runtime["metadata"]["name"], Json(runtime));
    }
  }
  // sklearn's built-in declares version 1 (as KServe's does): 1.x matches, 2 does not.
  EXPECT_TRUE(SelectRuntime(Model("sklearn", "1.3"), {}, builtins).ok());
  auto none = SelectRuntime(Model("sklearn", "2"), {}, builtins);
  ASSERT_FALSE(none.ok());
  EXPECT_EQ(none.status().code(), StatusCode::kNotFound);
  EXPECT_EQ(none.status().message().rfind("NoSupportingRuntime: ", 0), 0u);
  // grpc-v1 is TF Serving's gRPC API: kserve-tensorflow-serving speaks it (server/tfserving_grpc.h), no other
  // built-in does; tensorflow 1 and 2 are built in.
  for (const char* format : {"sklearn", "xgboost", "onnx", "pytorch", "triton"}) {
    EXPECT_EQ(SelectRuntime(Model(format, "", "grpc-v1"), {}, builtins).status().code(), StatusCode::kNotFound)
        << format;
  }
  for (const char* version : {"", "1", "2"}) {
    auto tf = SelectRuntime(Model("tensorflow", version, "grpc-v1"), {}, builtins);
    ASSERT_TRUE(tf.ok()) << version << ": " << tf.status().message();
    EXPECT_EQ(tf->name, "kserve-tensorflow-serving");
  }
  for (const char* version : {"", "1", "2"}) {
    auto tf = SelectRuntime(Model("tensorflow", version), {}, builtins);
    ASSERT_TRUE(tf.ok()) << version << ": " << tf.status().message();
    EXPECT_EQ(tf->name, "kserve-tensorflow-serving");
  }
  EXPECT_EQ(SelectRuntime(Model("tensorflow", "3"), {}, builtins).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(SelectRuntime(Model("pmml"), {}, builtins).status().code(), StatusCode::kNotFound);
  // triton (version 2, as KServe's): v2 and grpc-v2 only.
  for (const char* protocol : {"v2", "grpc-v2"}) {
    auto r = SelectRuntime(Model("triton", "2", protocol), {}, builtins);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_EQ(r->name, "kserve-tritonserver");
  }
  EXPECT_EQ(SelectRuntime(Model("triton", "", "v1"), {}, builtins).status().code(), StatusCode::kNotFound);
}

// ---- SelectRuntime ----

TEST(SelectRuntime, HighestPriorityWins) {
  std::vector<Json> ns = {Runtime("ns-low", kSklearnP1)};
  std::vector<Json> cluster = {Runtime("cl-high", kSklearnP2, true)};
  auto r = SelectRuntime(Model("sklearn"), ns, cluster);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->name, "cl-high");
  EXPECT_TRUE(r->cluster_scoped);

  ns.push_back(Runtime("ns-high", kSklearnP2));
  r = SelectRuntime(Model("sklearn"), ns, cluster);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->name, "ns-high");  // tie at 2: namespace before cluster
  EXPECT_FALSE(r->cluster_scoped);
}

TEST(SelectRuntime, NamespaceBeforeClusterOnTie) {
  auto r = SelectRuntime(Model("sklearn"), {Runtime("ns-rt", kSklearnP1)}, {Runtime("cl-rt", kSklearnP1, true)});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->name, "ns-rt");
  EXPECT_FALSE(r->cluster_scoped);
  // Within one list, the first listed wins a tie.
  r = SelectRuntime(Model("sklearn"), {}, {Runtime("a", kSklearnP1, true), Runtime("b", kSklearnP1, true)});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->name, "a");
}

TEST(SelectRuntime, NoPriorityRanksBelowAnyPriority) {
  auto r = SelectRuntime(Model("sklearn"), {Runtime("ns-nop", R"([{"name": "sklearn", "autoSelect": true}])")},
                         {Runtime("cl-p1", kSklearnP1, true)});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->name, "cl-p1");
}

TEST(SelectRuntime, VersionMatching) {
  std::vector<Json> cluster = {Runtime("v1", R"([{"name": "xgboost", "version": "1", "autoSelect": true, "priority": 1}])", true),
                               Runtime("v2", R"([{"name": "xgboost", "version": "2.0", "autoSelect": true, "priority": 1}])", true)};
  EXPECT_EQ(SelectRuntime(Model("xgboost", "2"), {}, cluster)->name, "v2");
  EXPECT_EQ(SelectRuntime(Model("xgboost", "1.7.6"), {}, cluster)->name, "v1");
  EXPECT_EQ(SelectRuntime(Model("xgboost"), {}, cluster)->name, "v1");  // no version: any
  auto r = SelectRuntime(Model("xgboost", "3"), {}, cluster);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kNotFound);
  EXPECT_EQ(r.status().message().rfind("NoSupportingRuntime: ", 0), 0u);
  EXPECT_NE(r.status().message().find("xgboost (version 3)"), std::string::npos) << r.status().message();
}

TEST(SelectRuntime, ProtocolMustBeSupported) {
  std::vector<Json> cluster = {Runtime("v1only", kSklearnP2, true, R"(["v1"])"), Runtime("both", kSklearnP1, true)};
  EXPECT_EQ(SelectRuntime(Model("sklearn", "", "v1"), {}, cluster)->name, "v1only");
  EXPECT_EQ(SelectRuntime(Model("sklearn", "", "v2"), {}, cluster)->name, "both");
  // A runtime listing no protocolVersions speaks v1 only.
  std::vector<Json> bare = {Runtime("bare", kSklearnP1, true, "")};
  EXPECT_TRUE(SelectRuntime(Model("sklearn", "", "v1"), {}, bare).ok());
  EXPECT_EQ(SelectRuntime(Model("sklearn", "", "v2"), {}, bare).status().code(), StatusCode::kNotFound);
}

TEST(SelectRuntime, SkipsDisabledNonAutoSelectAndMultiModel) {
  Json disabled = Runtime("disabled", kSklearnP2);
  disabled["spec"]["disabled"] = true;
  Json manual = Runtime("manual", R"([{"name": "sklearn", "autoSelect": false}])");
  Json mms = Runtime("mms", kSklearnP2);
  mms["spec"]["multiModel"] = true;
  auto r = SelectRuntime(Model("sklearn"), {disabled, manual, mms}, {});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kNotFound);
  EXPECT_EQ(r.status().message().rfind("NoSupportingRuntime: ", 0), 0u);
  r = SelectRuntime(Model("sklearn"), {disabled, manual, mms}, {Runtime("fallback", kSklearnP1, true)});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->name, "fallback");
}

TEST(SelectRuntime, ExplicitRuntime) {
  Json ns_rt = Runtime("my-rt", kSklearnP1);
  Json cl_rt = Runtime("my-rt", kSklearnP1, true);
  Json manual = Runtime("manual", R"([{"name": "sklearn", "autoSelect": false}])", true);
  ComponentSpec c = Model("sklearn");
  c.runtime = "my-rt";
  auto r = SelectRuntime(c, {ns_rt}, {cl_rt});
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->cluster_scoped);  // namespace first
  r = SelectRuntime(c, {}, {cl_rt});
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->cluster_scoped);
  EXPECT_EQ(r->name, "my-rt");

  c.runtime = "manual";  // autoSelect does not matter when named
  r = SelectRuntime(c, {}, {manual});
  ASSERT_TRUE(r.ok()) << r.status().ToString();

  c.runtime = "missing";
  r = SelectRuntime(c, {ns_rt}, {cl_rt});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(r.status().message().rfind("RuntimeNotRecognized: ", 0), 0u) << r.status().message();

  Json disabled = Runtime("off", kSklearnP1);
  disabled["spec"]["disabled"] = true;
  c.runtime = "off";
  r = SelectRuntime(c, {disabled}, {});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("is disabled"), std::string::npos) << r.status().message();

  c = Model("xgboost");
  c.runtime = "my-rt";
  r = SelectRuntime(c, {ns_rt}, {});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("does not support"), std::string::npos) << r.status().message();

  c = Model("sklearn", "2");
  c.runtime = "my-rt";
  EXPECT_FALSE(SelectRuntime(c, {ns_rt}, {}).ok());

  c = Model("sklearn", "", "grpc-v2");
  c.runtime = "my-rt";
  r = SelectRuntime(c, {ns_rt}, {});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("does not support protocol version grpc-v2"), std::string::npos);
}

TEST(SelectRuntime, FromResolvedPredictor) {
  auto docs = ParseYamlDocuments(R"(
apiVersion: serving.kserve.io/v1beta1
kind: InferenceService
metadata: {name: xgb}
spec:
  predictor:
    xgboost:
      protocolVersion: v2
      storageUri: /models/xgb
)", "xgb.yaml");
  ASSERT_TRUE(docs.ok());
  auto c = ResolvePredictor((*docs)[0]);
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  auto r = SelectRuntime(*c, {}, BuiltinClusterServingRuntimes());
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->name, "kserve-xgbserver");
}

TEST(SelectRuntime, MalformedRuntimesAreSkippedAndCustomHasNoFormat) {
  std::vector<Json> junk = {Json(1), Json::parse(R"({"metadata": {"name": "x"}, "spec": []})"),
                            Json::parse(R"({"metadata": {"name": "y"}, "spec": {"supportedModelFormats": {"a": 1}}})")};
  EXPECT_EQ(SelectRuntime(Model("sklearn"), junk, junk).status().code(), StatusCode::kNotFound);
  auto r = SelectRuntime(ComponentSpec{}, {}, BuiltinClusterServingRuntimes());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message().rfind("NoSupportingRuntime: ", 0), 0u);
}

}  // namespace
}  // namespace inferd::resources

namespace inferd::resources {
namespace {

// Multi-model serving (TrainedModels): KServe's IsMMSPredictor, and runtime selection preferring multiModel
// runtimes for such a predictor (inferd's single-model ones otherwise), never for a single-model one.
TEST(MultiModel, PredictorWithoutStorageIsMultiModel) {
  auto isvc = [](const std::string& predictor) {
    return Json::parse(R"({"apiVersion":"serving.kserve.io/v1beta1","kind":"InferenceService",
                           "metadata":{"name":"mm","namespace":"default"},"spec":{"predictor":)" + predictor + "}}");
  };
  auto mm = ResolvePredictor(isvc(R"({"model":{"modelFormat":{"name":"sklearn"},
                                       "resources":{"limits":{"memory":"512Mi"}}}})"));
  ASSERT_TRUE(mm.ok()) << mm.status().message();
  EXPECT_TRUE(mm->multi_model);
  ASSERT_TRUE(mm->memory_limit_bytes.has_value());
  EXPECT_EQ(*mm->memory_limit_bytes, 512.0 * 1024 * 1024);
  auto legacy = ResolvePredictor(isvc(R"({"sklearn":{"protocolVersion":"v1"}})"));
  ASSERT_TRUE(legacy.ok()) << legacy.status().message();
  EXPECT_TRUE(legacy->multi_model);
  EXPECT_FALSE(legacy->memory_limit_bytes.has_value());
  auto single = ResolvePredictor(isvc(R"({"model":{"modelFormat":{"name":"sklearn"},"storageUri":"gs://b/m"}})"));
  ASSERT_TRUE(single.ok());
  EXPECT_FALSE(single->multi_model);
  auto shared = ResolvePredictor(isvc(R"({"storageUri":"gs://b/m","model":{"modelFormat":{"name":"sklearn"}}})"));
  ASSERT_TRUE(shared.ok()) << shared.status().message();
  EXPECT_FALSE(shared->multi_model);  // the predictor-level storageUri counts too
  auto hf = ResolvePredictor(isvc(R"({"model":{"modelFormat":{"name":"huggingface"}}})"));
  ASSERT_TRUE(hf.ok()) << hf.status().message();
  EXPECT_FALSE(hf->multi_model);  // KServe: a model id needs no storage, and is no multi-model server
  auto custom = ResolvePredictor(isvc(R"({"containers":[{"name":"kserve-container","image":"x","command":["y"]}]})"));
  ASSERT_TRUE(custom.ok()) << custom.status().message();
  EXPECT_FALSE(custom->multi_model);
}

TEST(MultiModel, SelectionPrefersMultiModelRuntimes) {
  Json single = Runtime("single", kSklearnP2);
  Json multi = Runtime("multi", kSklearnP1);
  multi["spec"]["multiModel"] = true;
  ComponentSpec mm = Model("sklearn");
  mm.multi_model = true;
  auto got = SelectRuntime(mm, {single, multi}, {});
  ASSERT_TRUE(got.ok()) << got.status().message();
  EXPECT_EQ(got->name, "multi");  // despite the lower priority: multiModel runtimes first, as KServe
  got = SelectRuntime(Model("sklearn"), {single, multi}, {});
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->name, "single");  // never for a single-model predictor
  got = SelectRuntime(mm, {single}, {});
  ASSERT_TRUE(got.ok()) << got.status().message();
  EXPECT_EQ(got->name, "single");  // none multi-model: inferd's model server serves a repository of any format
  got = SelectRuntime(Model("sklearn"), {multi}, {});
  EXPECT_FALSE(got.ok());
}

}  // namespace
}  // namespace inferd::resources
