// tests/resources/resources_isvc_test.cc: ValidateInferenceService (every rule and its message) and
// ResolvePredictor on KServe's samples.
#include <gtest/gtest.h>

#include "resources/resources.h"

namespace inferd::resources {
namespace {

Json Y(std::string_view text) {
  auto docs = ParseYamlDocuments(text, "t.yaml");
  EXPECT_TRUE(docs.ok()) << docs.status().ToString();
  if (!docs.ok() || docs->empty()) return Json();
  return (*docs)[0];
}

// KServe's iris sample.
constexpr const char* kSklearnIris = R"(
apiVersion: serving.kserve.io/v1beta1
kind: InferenceService
metadata:
  name: sklearn-iris
  namespace: kserve-test
spec:
  predictor:
    model:
      modelFormat:
        name: sklearn
      storageUri: gs://kfserving-examples/models/sklearn/1.0/model
)";

constexpr const char* kLegacySklearn = R"(
apiVersion: serving.kserve.io/v1beta1
kind: InferenceService
metadata:
  name: sklearn-iris
spec:
  predictor:
    sklearn:
      storageUri: gs://kfserving-examples/models/sklearn/1.0/model
)";

constexpr const char* kXgboostV2 = R"(
apiVersion: serving.kserve.io/v1beta1
kind: InferenceService
metadata:
  name: xgboost-v2-iris
spec:
  predictor:
    model:
      modelFormat:
        name: xgboost
      protocolVersion: v2
      runtime: kserve-xgbserver
      storageUri: gs://kfserving-examples/models/xgboost/iris
)";

constexpr const char* kCanary = R"(
apiVersion: serving.kserve.io/v1beta1
kind: InferenceService
metadata:
  name: sklearn-iris
  annotations:
    serving.kserve.io/deploymentMode: Serverless
spec:
  predictor:
    canaryTrafficPercent: 20
    model:
      modelFormat:
        name: sklearn
      storageUri: gs://kfserving-examples/models/sklearn/2.0/model
)";

constexpr const char* kCustom = R"(
apiVersion: serving.kserve.io/v1beta1
kind: InferenceService
metadata:
  name: custom-model
spec:
  predictor:
    containers:
      - name: kserve-container
        image: kserve/custom-model-grpc:latest
        command: ["python", "-m", "model"]
        args: ["--model_name", "custom-model"]
        env:
          - name: STORAGE_URI
            value: pvc://models/custom
          - name: WORKERS
            value: "2"
        ports:
          - name: h2c
            containerPort: 8081
)";

constexpr const char* kFull = R"(
apiVersion: serving.kserve.io/v1beta1
kind: InferenceService
metadata:
  name: torch-mnist
  labels: {team: vision, tier: gold}
  annotations:
    autoscaling.knative.dev/target: "1"
    shared: isvc
spec:
  predictor:
    storageUri: s3://shared/model
    minReplicas: 0
    maxReplicas: 5
    containerConcurrency: 4
    timeout: 600
    scaleMetric: rps
    scaleTarget: 10
    labels: {tier: silver}
    annotations: {shared: predictor}
    batcher:
      maxBatchSize: 16
      maxLatency: 300
    logger:
      mode: request
      url: http://sink:8080/events
      metadataHeaders: [X-Tenant]
    pytorch:
      protocolVersion: grpc-v2
      storageUri: ./models/mnist
      args: ["--workers", "2"]
      env:
        - name: OMP_NUM_THREADS
          value: "1"
)";

void ExpectInvalid(const Json& obj, const std::string& message) {
  Status s = ValidateInferenceService(obj);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << obj.dump();
  EXPECT_EQ(s.message(), message) << obj.dump();
}

void ExpectInvalidPrefix(const Json& obj, const std::string& prefix) {
  Status s = ValidateInferenceService(obj);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << obj.dump();
  EXPECT_EQ(s.message().rfind(prefix, 0), 0u) << "got: " << s.message();
}

Json Iris() { return Y(kSklearnIris); }
Json& Pred(Json& j) { return j["spec"]["predictor"]; }

const std::string kExactlyOne =
    "spec.predictor: exactly one of [model, sklearn, xgboost, tensorflow, pytorch, triton, onnx, pmml, lightgbm, "
    "paddle, huggingface, containers] must be specified in PredictorSpec";

TEST(ValidateIsvc, KServeSamplesAreValid) {
  for (const char* text : {kSklearnIris, kLegacySklearn, kXgboostV2, kCanary, kCustom, kFull}) {
    Status s = ValidateInferenceService(Y(text));
    EXPECT_TRUE(s.ok()) << s.ToString() << "\n" << text;
  }
}

TEST(ValidateIsvc, ApiVersionAndKind) {
  Json j = Iris();
  j["apiVersion"] = "serving.kserve.io/v1alpha1";
  ExpectInvalid(j, "apiVersion: must be serving.kserve.io/v1beta1 for InferenceService, got \"serving.kserve.io/v1alpha1\"");
  j = Iris();
  j.erase("apiVersion");
  ExpectInvalidPrefix(j, "apiVersion: required");
  j = Iris();
  j["kind"] = "ServingRuntime";
  ExpectInvalid(j, "kind: must be InferenceService, got \"ServingRuntime\"");
  j = Iris();
  j.erase("kind");
  ExpectInvalidPrefix(j, "kind: required");
  ExpectInvalidPrefix(Json::array(), "InferenceService: must be an object");
}

TEST(ValidateIsvc, MetadataNameAndNamespace) {
  Json j = Iris();
  j.erase("metadata");
  ExpectInvalidPrefix(j, "metadata: required");
  j = Iris();
  j["metadata"].erase("name");
  ExpectInvalid(j, "metadata.name: required");
  for (const char* bad : {"Sklearn-Iris", "-iris", "iris-", "iris.v1", "iris_v1"}) {
    j = Iris();
    j["metadata"]["name"] = bad;
    ExpectInvalidPrefix(j, std::string("metadata.name: \"") + bad + "\" is not a valid name: a lowercase RFC 1123 label");
  }
  j = Iris();
  j["metadata"]["name"] = std::string(64, 'a');
  ExpectInvalidPrefix(j, "metadata.name: ");
  j = Iris();
  j["metadata"]["name"] = 5;
  ExpectInvalidPrefix(j, "metadata.name: must be a string");
  j = Iris();
  j["metadata"]["namespace"] = "Bad_NS";
  ExpectInvalidPrefix(j, "metadata.namespace: \"Bad_NS\" is not a valid name");
  j = Iris();
  j["metadata"]["labels"] = Json::parse(R"({"replicas": 3})");
  ExpectInvalidPrefix(j, "metadata.labels.replicas: must be a string");
  j = Iris();
  j["metadata"]["annotations"] = "x";
  ExpectInvalidPrefix(j, "metadata.annotations: must be an object");
}

TEST(ValidateIsvc, SpecAndPredictorRequired) {
  Json j = Iris();
  j.erase("spec");
  ExpectInvalid(j, "spec: required");
  j = Iris();
  j["spec"].erase("predictor");
  ExpectInvalid(j, "spec.predictor: required");
  j = Iris();
  j["spec"]["predictor"] = "sklearn";
  ExpectInvalidPrefix(j, "spec.predictor: must be an object");
}

TEST(ValidateIsvc, ExactlyOneImplementation) {
  Json j = Iris();
  Pred(j).erase("model");
  ExpectInvalid(j, kExactlyOne);
  j = Iris();
  Pred(j)["sklearn"] = Json::parse(R"({"storageUri": "s3://a/b"})");
  ExpectInvalid(j, kExactlyOne);
  j = Iris();  // a container named kserve-container beside a model is a second implementation (KServe's rule)
  Pred(j)["containers"] = Json::parse(R"([{"name": "kserve-container", "image": "x"}])");
  ExpectInvalid(j, kExactlyOne);
  j = Iris();
  Pred(j).erase("model");
  Pred(j)["containers"] = Json::array();  // an empty list is no implementation
  ExpectInvalid(j, kExactlyOne);
  j = Iris();
  Pred(j)["model"] = nullptr;  // `model:` with nothing is unset
  ExpectInvalid(j, kExactlyOne);
  j = Iris();
  Pred(j)["model"] = "sklearn";
  ExpectInvalidPrefix(j, "spec.predictor.model: must be an object");
}

TEST(ValidateIsvc, ModelFormat) {
  Json j = Iris();
  Pred(j)["model"].erase("modelFormat");
  ExpectInvalidPrefix(j, "spec.predictor.model.modelFormat: required");
  j = Iris();
  Pred(j)["model"]["modelFormat"] = Json::object();
  ExpectInvalid(j, "spec.predictor.model.modelFormat.name: required");
  j = Iris();
  Pred(j)["model"]["modelFormat"]["name"] = "";
  ExpectInvalid(j, "spec.predictor.model.modelFormat.name: must not be empty");
  j = Iris();
  Pred(j)["model"]["modelFormat"]["version"] = 1;  // lenient: an unquoted version is fine
  EXPECT_TRUE(ValidateInferenceService(j).ok());
  Pred(j)["model"]["modelFormat"]["version"] = Json::array();
  ExpectInvalidPrefix(j, "spec.predictor.model.modelFormat.version: must be a string");
  j = Iris();
  Pred(j)["model"]["runtime"] = "";
  ExpectInvalidPrefix(j, "spec.predictor.model.runtime: must not be empty");
}

TEST(ValidateIsvc, Replicas) {
  Json j = Iris();
  Pred(j)["minReplicas"] = -1;
  ExpectInvalid(j, "spec.predictor.minReplicas: 'MinReplicas' cannot be less than 0");
  j = Iris();
  Pred(j)["maxReplicas"] = -1;
  ExpectInvalid(j, "spec.predictor.maxReplicas: 'MaxReplicas' cannot be less than 0");
  j = Iris();
  Pred(j)["minReplicas"] = 3;
  Pred(j)["maxReplicas"] = 2;
  ExpectInvalidPrefix(j, "spec.predictor.minReplicas: 'MinReplicas' cannot be greater than MaxReplicas");
  Pred(j)["maxReplicas"] = 0;  // unbounded
  EXPECT_TRUE(ValidateInferenceService(j).ok());
  Pred(j)["maxReplicas"] = 3;
  EXPECT_TRUE(ValidateInferenceService(j).ok());
  j = Iris();
  Pred(j)["minReplicas"] = 0;  // scale to zero
  EXPECT_TRUE(ValidateInferenceService(j).ok());
  Pred(j)["minReplicas"] = "1";
  ExpectInvalid(j, "spec.predictor.minReplicas: must be an integer, got a string");
  Pred(j)["minReplicas"] = 1.5;
  ExpectInvalid(j, "spec.predictor.minReplicas: must be an integer, got a number");
  Pred(j)["minReplicas"] = 1LL << 40;
  ExpectInvalidPrefix(j, "spec.predictor.minReplicas: 1099511627776 is out of range");
}

TEST(ValidateIsvc, ProtocolVersion) {
  Json j = Iris();
  Pred(j)["model"]["protocolVersion"] = "v3";
  ExpectInvalid(j, "spec.predictor.model.protocolVersion: invalid protocol v3. Must be one of [v1, v2, grpc-v1, grpc-v2]");
  j = Iris();
  Pred(j)["protocolVersion"] = "grpc";
  ExpectInvalidPrefix(j, "spec.predictor.protocolVersion: invalid protocol grpc.");
  for (const char* ok : {"v1", "v2", "grpc-v1", "grpc-v2"}) {
    j = Iris();
    Pred(j)["model"]["protocolVersion"] = ok;
    EXPECT_TRUE(ValidateInferenceService(j).ok()) << ok;
  }
}

TEST(ValidateIsvc, ExtensionFields) {
  Json j = Iris();
  Pred(j)["canaryTrafficPercent"] = 101;
  ExpectInvalid(j, "spec.predictor.canaryTrafficPercent: must be between 0 and 100, got 101");
  Pred(j)["canaryTrafficPercent"] = -1;
  ExpectInvalid(j, "spec.predictor.canaryTrafficPercent: must be between 0 and 100, got -1");
  Pred(j)["canaryTrafficPercent"] = 0;
  EXPECT_TRUE(ValidateInferenceService(j).ok());
  Pred(j)["canaryTrafficPercent"] = 100;
  EXPECT_TRUE(ValidateInferenceService(j).ok());

  j = Iris();
  Pred(j)["containerConcurrency"] = -1;
  ExpectInvalid(j, "spec.predictor.containerConcurrency: ContainerConcurrency cannot be less than 0");
  Pred(j)["containerConcurrency"] = 0;
  EXPECT_TRUE(ValidateInferenceService(j).ok());

  j = Iris();
  Pred(j)["timeout"] = 0;
  ExpectInvalid(j, "spec.predictor.timeout: must be greater than 0 (seconds)");

  j = Iris();
  Pred(j)["scaleMetric"] = "gpu";
  ExpectInvalidPrefix(j, "spec.predictor.scaleMetric: unsupported scale metric \"gpu\"");
  for (const char* m : {"concurrency", "rps", "cpu", "memory"}) {
    Pred(j)["scaleMetric"] = m;
    EXPECT_TRUE(ValidateInferenceService(j).ok()) << m;
  }
  Pred(j)["scaleTarget"] = 0;
  ExpectInvalid(j, "spec.predictor.scaleTarget: must be greater than 0");

  j = Iris();
  Pred(j)["batcher"] = Json::parse(R"({"maxBatchSize": 0})");
  ExpectInvalid(j, "spec.predictor.batcher.maxBatchSize: must be >= 1, got 0");
  Pred(j)["batcher"] = Json::parse(R"({"maxBatchSize": 16, "maxLatency": "300"})");
  ExpectInvalidPrefix(j, "spec.predictor.batcher.maxLatency: must be an integer");
  Pred(j)["batcher"] = 5;
  ExpectInvalidPrefix(j, "spec.predictor.batcher: must be an object");

  // Issue 15: batcher.timeout is refused (KServe never passes it to its batcher) rather than accepted silently.
  Pred(j)["batcher"] = Json::parse(R"({"maxBatchSize": 16, "timeout": 5})");
  ExpectInvalidPrefix(j, "spec.predictor.batcher.timeout: not supported yet: ");

  // Issue 15: the payload logger works, with KServe's validation.
  j = Iris();
  Pred(j)["logger"] = Json::parse(R"({"mode": "all", "url": "http://logger.default"})");
  EXPECT_TRUE(ValidateInferenceService(j).ok());
  Pred(j)["logger"] = Json::parse(R"({"url": "https://sink.example.com:8443/events", "metadataHeaders": ["X-Id"]})");
  EXPECT_TRUE(ValidateInferenceService(j).ok());  // mode absent: all
  Pred(j)["logger"] = Json::parse(R"({"mode": "response"})");
  EXPECT_TRUE(ValidateInferenceService(j).ok());  // url absent: KServe's default broker
  Pred(j)["logger"] = Json::parse(R"({"mode": "both"})");
  ExpectInvalid(j, "spec.predictor.logger.mode: invalid logger type \"both\" (must be all, request or response)");
  Pred(j)["logger"] = Json::parse(R"({"mode": "all", "url": "logger.default"})");
  ExpectInvalidPrefix(j, "spec.predictor.logger.url: ");
  Pred(j)["logger"] = Json::parse(R"({"mode": "all", "url": "http://host:99999/"})");
  ExpectInvalidPrefix(j, "spec.predictor.logger.url: port out of range");
  Pred(j)["logger"] = Json::parse(R"({"mode": "all", "url": "s3://bucket/logs"})");
  ExpectInvalidPrefix(j, "spec.predictor.logger.url: blob-storage logging");
  Pred(j)["logger"] = Json::parse(R"({"mode": "all", "metadataHeaders": ["bad name"]})");
  ExpectInvalidPrefix(j, "spec.predictor.logger.metadataHeaders: ");
  Pred(j)["logger"] = Json::parse(R"({"mode": "all", "metadataAnnotations": ["team"]})");
  EXPECT_TRUE(ValidateInferenceService(j).ok());
  Pred(j)["logger"] = Json::parse(R"({"mode": "all", "metadataAnnotations": [1]})");
  ExpectInvalidPrefix(j, "spec.predictor.logger.metadataAnnotations");
  for (const char* f : {"storage", "marshallerUrl", "batchSize", "batchInterval"}) {
    Pred(j)["logger"] = Json{{"mode", "all"}, {f, Json::object()}};
    ExpectInvalidPrefix(j, std::string("spec.predictor.logger.") + f + ": not supported yet: ");
  }
  Pred(j)["logger"] = "all";
  ExpectInvalidPrefix(j, "spec.predictor.logger: must be an object");

  j = Iris();
  Pred(j)["labels"] = Json::parse(R"({"n": 1})");
  ExpectInvalidPrefix(j, "spec.predictor.labels.n: must be a string");
  j = Iris();
  Pred(j)["annotations"] = Json::parse(R"({"autoscaling.knative.dev/target": 1})");
  ExpectInvalid(j, "spec.predictor.annotations.autoscaling.knative.dev/target: must be a string, got an integer (quote it: \"1\")");
}

TEST(ValidateIsvc, StorageUriSchemes) {
  for (const char* ok : {"file:///models/iris", "/models/iris", "./models/iris", "models/iris", "http://h/m.joblib",
                         "https://h/m.tar.gz", "s3://bucket/path", "gs://bucket/path", "pvc://claim/path"}) {
    Json j = Iris();
    Pred(j)["model"]["storageUri"] = ok;
    EXPECT_TRUE(ValidateInferenceService(j).ok()) << ok;
  }
  for (const char* bad : {"hdfs://nn/models", "hf://meta/llama", "oci://registry/model", "webhdfs://x/y"}) {
    Json j = Iris();
    Pred(j)["model"]["storageUri"] = bad;
    Status s = ValidateInferenceService(j);
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(s.message().rfind("spec.predictor.model.storageUri: storage URI scheme", 0), 0u) << s.message();
    EXPECT_NE(s.message().find("is not supported here"), std::string::npos) << s.message();
  }
  Json j = Iris();
  Pred(j)["model"]["storageUri"] = "";
  ExpectInvalid(j, "spec.predictor.model.storageUri: must not be empty");
  Pred(j)["model"]["storageUri"] = "s3://";
  ExpectInvalidPrefix(j, "spec.predictor.model.storageUri: \"s3://\" names no location");
  Pred(j)["model"]["storageUri"] = "pvc:///path";
  ExpectInvalidPrefix(j, "spec.predictor.model.storageUri: \"pvc:///path\" has no claim name");
  j = Iris();
  Pred(j)["storageUri"] = "hdfs://x/y";  // the shared field is checked too
  ExpectInvalidPrefix(j, "spec.predictor.storageUri: storage URI scheme \"hdfs://\" is not supported here");
  j = Y(kLegacySklearn);
  Pred(j)["sklearn"]["storageUri"] = "oci://x/y";
  ExpectInvalidPrefix(j, "spec.predictor.sklearn.storageUri: storage URI scheme \"oci://\"");
  j = Iris();
  Pred(j)["storageUris"] = Json::parse(R"([{"uri": "hf://x/y", "mountPath": "/mnt"}])");
  ExpectInvalidPrefix(j, "spec.predictor.storageUris[0].uri: storage URI scheme \"hf://\"");
}

TEST(ValidateIsvc, CustomContainers) {
  Json j = Y(kCustom);
  Pred(j)["containers"] = Json::parse(R"([{"name": "c"}])");
  ExpectInvalid(j, "spec.predictor.containers: at least one container must set an image or a command");
  Pred(j)["containers"] = Json::parse(R"({"name": "c"})");
  ExpectInvalid(j, "spec.predictor.containers: must be a list of containers");
  Pred(j)["containers"] = Json::parse(R"([{"name": "c", "image": "x", "env": [{"name": "N", "value": 2}]}])");
  ExpectInvalid(j, "spec.predictor.containers[0].env[0].value: must be a string, got an integer (quote it: \"2\")");
  Pred(j)["containers"] = Json::parse(R"([{"name": "c", "image": "x", "env": [{"value": "2"}]}])");
  ExpectInvalid(j, "spec.predictor.containers[0].env[0].name: required");
  Pred(j)["containers"] = Json::parse(R"([{"name": "c", "command": ["python", 3]}])");
  ExpectInvalidPrefix(j, "spec.predictor.containers[0].command[1]: must be a string");
  Pred(j)["containers"] = Json::parse(R"([{"name": "c", "command": ["python", "-m", "model"]}])");
  EXPECT_TRUE(ValidateInferenceService(j).ok());
}

TEST(ValidateIsvc, TransformerAndExplainerAreComponentsCanaryIsRefused) {
  Json j = Iris();
  j["spec"]["transformer"] = Json::parse(R"({"containers": [{"image": "t"}]})");
  EXPECT_TRUE(ValidateInferenceService(j).ok());
  j["spec"]["transformer"] = Json::parse(R"({"minReplicas": 1})");
  ExpectInvalidPrefix(j, "spec.transformer.containers: required");
  j["spec"]["transformer"] = Json::parse(R"({"containers": [{"name": "x"}]})");
  ExpectInvalid(j, "spec.transformer.containers: at least one container must set an image or a command");
  j["spec"]["transformer"] = Json::parse(R"({"containers": [{"command": ["python", "t.py"]}], "minReplicas": 3, "maxReplicas": 1})");
  ExpectInvalidPrefix(j, "spec.transformer.minReplicas: 'MinReplicas' cannot be greater than MaxReplicas");
  j["spec"]["transformer"] = Json::parse(R"({"containers": [{"command": ["python", "t.py"]}], "canaryTrafficPercent": 101})");
  ExpectInvalidPrefix(j, "spec.transformer.canaryTrafficPercent: must be between 0 and 100");
  j = Iris();
  j["spec"]["explainer"] = Json::parse(R"({"art": {"type": "SquareAttack", "config": {"nb_classes": "10"}}})");
  EXPECT_TRUE(ValidateInferenceService(j).ok()) << ValidateInferenceService(j).ToString();
  j["spec"]["explainer"] = Json::parse(R"({"art": {"type": "Anchors"}})");
  ExpectInvalid(j, "spec.explainer.art.type: unknown ART explainer type \"Anchors\"; must be SquareAttack");
  j["spec"]["explainer"] = Json::parse(R"({"art": {"type": "SquareAttack", "config": {"nb_classes": 10}}})");
  ExpectInvalidPrefix(j, "spec.explainer.art.config");
  j["spec"]["explainer"] = Json::parse(R"({"art": {"type": "SquareAttack"}, "containers": [{"image": "e"}]})");
  ExpectInvalid(j, "spec.explainer: exactly one of [art, containers] must be specified in ExplainerSpec");
  j["spec"]["explainer"] = Json::parse(R"({"minReplicas": 0})");
  ExpectInvalid(j, "spec.explainer: exactly one of [art, containers] must be specified in ExplainerSpec");
  j["spec"]["explainer"] = Json::parse(R"({"containers": [{"command": ["python", "-m", "explainer"]}]})");
  EXPECT_TRUE(ValidateInferenceService(j).ok());
  j = Iris();
  j["spec"]["canary"] = Json::parse(R"([{"predictor": {"name": "v2"}, "trafficPercent": 10}])");
  ExpectInvalidPrefix(j, "spec.canary: not supported yet: canary predictor variants");
  j = Iris();
  j["spec"]["transformer"] = nullptr;  // `transformer:` with nothing is unset
  EXPECT_TRUE(ValidateInferenceService(j).ok());
}

TEST(ResolveComponent, TransformerAndExplainerResolveLikeKServe) {
  Json j = Iris();
  j["metadata"]["annotations"] = Json::parse(R"({"a": "1"})");
  j["spec"]["transformer"] = Json::parse(R"({"containers": [{"name": "kserve-container", "command": ["python", "-m", "t"],
      "args": ["--x", "1"], "env": [{"name": "PROTOCOL", "value": "v2"}]}], "minReplicas": 0, "canaryTrafficPercent": 20,
      "containerConcurrency": 4, "annotations": {"b": "2"}})");
  auto t = ResolveComponent(j, "transformer");
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  EXPECT_EQ(t->component, "transformer");
  ASSERT_EQ(t->containers.size(), 1u);
  EXPECT_EQ(t->containers[0].command, (std::vector<std::string>{"python", "-m", "t"}));
  EXPECT_EQ(t->args, (std::vector<std::string>{"--x", "1"}));
  ASSERT_EQ(t->env.size(), 1u);
  EXPECT_EQ(t->min_replicas, 0);
  EXPECT_EQ(t->canary_traffic_percent, 20);
  EXPECT_EQ(t->container_concurrency, 4);
  EXPECT_EQ(t->annotations.at("a"), "1");
  EXPECT_EQ(t->annotations.at("b"), "2");
  EXPECT_EQ(ResolveComponent(j, "explainer").status().code(), StatusCode::kNotFound);
  EXPECT_FALSE(ResolveComponent(j, "nonsense").ok());
  j["spec"]["explainer"] = Json::parse(R"({"art": {"type": "SquareAttack", "config": {"nb_classes": "10", "max_iter": "5"},
      "storageUri": "gs://b/m"}, "timeout": 30})");
  auto e = ResolveComponent(j, "explainer");
  ASSERT_TRUE(e.ok()) << e.status().ToString();
  EXPECT_EQ(e->art_type, "SquareAttack");
  EXPECT_EQ(e->art_config, (std::map<std::string, std::string>{{"max_iter", "5"}, {"nb_classes", "10"}}));
  EXPECT_EQ(e->storage_uri, "gs://b/m");
  EXPECT_EQ(e->timeout_seconds, 30);
  EXPECT_TRUE(e->containers.empty());
  j["spec"]["transformer"] = "not an object";
  EXPECT_FALSE(ResolveComponent(j, "transformer").ok());
}

TEST(ValidateIsvc, InProcessTransformerAnnotation) {
  Json j = Iris();
  j["metadata"]["annotations"] = Json::parse(R"({"inferd.io/transformer": "in-process"})");
  EXPECT_TRUE(ValidateInferenceService(j).ok());
  j["metadata"]["annotations"] = Json::parse(R"({"inferd.io/transformer": "sidecar"})");
  ExpectInvalidPrefix(j, "metadata.annotations[inferd.io/transformer]: must be \"in-process\"");
}

TEST(ValidateIsvc, CollocationIsValidAsInKServe) {
  Json j = Iris();
  Pred(j)["containers"] = Json::parse(R"([{"name": "transformer-container", "image": "kserve/image-transformer"}])");
  EXPECT_TRUE(ValidateInferenceService(j).ok()) << ValidateInferenceService(j).ToString();
  Pred(j)["containers"][0]["env"] = Json::parse(R"([{"name": "STORAGE_URI", "value": "s3://b/m"}])");
  ExpectInvalid(j, "spec.predictor.containers[0].env: storage uri should not be specified in transformer container");
  Pred(j)["containers"] = Json::parse(R"([{"name": "helper"}])");  // no image needed beside a model
  EXPECT_TRUE(ValidateInferenceService(j).ok());
}

TEST(ValidateIsvc, FieldsALocalProcessCannotHonourAreRefused) {
  auto expect_refused = [](const char* field, const char* json, const std::string& path) {
    Json j = Iris();
    Pred(j)[field] = Json::parse(json);
    Status s = ValidateInferenceService(j);
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << field;
    EXPECT_EQ(s.message().rfind(path + ": not supported yet: ", 0), 0u) << s.message();
  };
  expect_refused("volumes", R"([{"name": "v", "emptyDir": {}}])", "spec.predictor.volumes");
  expect_refused("initContainers", R"([{"name": "i", "image": "x"}])", "spec.predictor.initContainers");
  expect_refused("ephemeralContainers", R"([{"name": "e"}])", "spec.predictor.ephemeralContainers");
  expect_refused("workerSpec", R"({"pipelineParallelSize": 2})", "spec.predictor.workerSpec");
  expect_refused("storageUris", R"([{"uri": "/a"}, {"uri": "/b"}])", "spec.predictor.storageUris");

  auto expect_model_refused = [](const char* field, const char* json, const std::string& path) {
    Json j = Iris();
    Pred(j)["model"][field] = Json::parse(json);
    Status s = ValidateInferenceService(j);
    EXPECT_EQ(s.message().rfind(path + ": not supported yet: ", 0), 0u) << s.message();
  };
  expect_model_refused("volumeMounts", R"([{"name": "v", "mountPath": "/d"}])", "spec.predictor.model.volumeMounts");
  expect_model_refused("envFrom", R"([{"secretRef": {"name": "s"}}])", "spec.predictor.model.envFrom");
  expect_model_refused("env", R"([{"name": "A", "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}}}])",
                       "spec.predictor.model.env[0].valueFrom");
  expect_model_refused("confidential", R"({"enabled": true})", "spec.predictor.model.confidential");
  Json j = Y(kCustom);
  Pred(j)["containers"][0]["volumeMounts"] = Json::parse(R"([{"name": "v", "mountPath": "/d"}])");
  ExpectInvalidPrefix(j, "spec.predictor.containers[0].volumeMounts: not supported yet: ");
  j = Iris();
  Pred(j)["model"]["readinessProbe"] = Json::parse(R"({"httpGet": {"path": "/a b"}})");
  ExpectInvalidPrefix(j, "spec.predictor.model.readinessProbe.httpGet.path: must be a URL path");
  Pred(j)["model"]["readinessProbe"] = Json::parse(R"({"httpGet": {"path": "/ok"}, "periodSeconds": -1})");
  ExpectInvalid(j, "spec.predictor.model.readinessProbe.periodSeconds: must be >= 0");
}

TEST(ValidateIsvc, StorageUrisAsKServe) {
  Json j = Iris();
  Pred(j)["storageUris"] = Json::parse(R"([{"uri": "/m", "mountPath": "/mnt/models"}])");
  ExpectInvalid(j, "spec.predictor.storageUris: Setting both StorageURI and StorageURIs is not supported.");
  Pred(j)["model"].erase("storageUri");
  EXPECT_TRUE(ValidateInferenceService(j).ok());
  Pred(j)["storageUris"][0]["mountPath"] = "relative";
  ExpectInvalid(j, "spec.predictor.storageUris[0].mountPath: storage path must be absolute: relative");
  Pred(j)["storageUris"][0]["mountPath"] = "/mnt/../etc";
  ExpectInvalidPrefix(j, "spec.predictor.storageUris[0].mountPath: storage path cannot contain '..'");
  Pred(j)["storageUris"][0]["mountPath"] = "/";
  ExpectInvalid(j, "spec.predictor.storageUris[0].mountPath: storage path cannot be empty");
}

TEST(ValidateIsvc, AutoScaling) {
  auto with = [](const char* as) {
    Json j = Iris();
    Pred(j)["autoScaling"] = Json::parse(as);
    return j;
  };
  for (const char* ok : {
           R"({"metrics": [{"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 50}}}]})",
           R"({"metrics": [{"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization"}}}]})",
           R"({"metrics": [{"type": "Resource", "resource": {"name": "cpu", "target": {"type": "AverageValue", "averageValue": "500m"}}}]})",
           R"({"metrics": [{"type": "Resource", "resource": {"name": "memory", "target": {"type": "AverageValue", "averageValue": "2Gi"}}}]})",
           R"({"metrics": [{"type": "Resource", "resource": {"name": "memory", "target": {"type": "Utilization", "averageUtilization": 70}}}]})",
           R"({})"}) {
    Status s = ValidateInferenceService(with(ok));
    EXPECT_TRUE(s.ok()) << ok << ": " << s.ToString();
  }
  const std::string m = "spec.predictor.autoScaling.metrics";
  ExpectInvalidPrefix(with(R"({"metrics": [{"type": "External", "external": {"metric": {"query": "q"}}}]})"),
                      m + "[0].external: not supported yet: External metrics");
  ExpectInvalidPrefix(with(R"({"metrics": [{"type": "External"}]})"),
                      m + "[0].type: not supported yet: metric type External");
  ExpectInvalidPrefix(with(R"({"metrics": [{"type": "PodMetric"}]})"),
                      m + "[0].type: not supported yet: metric type PodMetric");
  ExpectInvalid(with(R"({"metrics": [{"type": "Queue"}]})"),
                m + "[0].type: unknown metric type \"Queue\"; valid types are Resource, External, PodMetric");
  ExpectInvalid(with(R"({"metrics": [{"type": "Resource", "resource": {"name": "gpu", "target": {}}}]})"),
                m + "[0].resource.name: resource type gpu is not supported (cpu or memory)");
  ExpectInvalidPrefix(with(R"({"metrics": [{"type": "Resource", "resource": {"name": "cpu", "target": {"averageUtilization": 120}}}]})"),
                      m + "[0].resource.target.averageUtilization: the target utilization percentage should be a [1-100] integer");
  ExpectInvalid(with(R"({"metrics": [{"type": "Resource", "resource": {"name": "memory", "target": {"type": "AverageValue", "averageValue": "10Ki"}}}]})"),
                m + "[0].resource.target.averageValue: the memory target value should be greater than 1 MiB");
  ExpectInvalidPrefix(with(R"({"metrics": [{"type": "Resource", "resource": {"name": "memory", "target": {"type": "Utilization"}}}]})"),
                      m + "[0].resource.target.averageUtilization: required");
  ExpectInvalidPrefix(with(R"({"metrics": [{"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Value", "value": "1"}}}]})"),
                      m + "[0].resource.target.value: a Resource metric target takes");
  ExpectInvalidPrefix(with(R"({"metrics": [{"type": "Resource", "resource": {"name": "cpu", "target": {"type": "AverageValue", "averageValue": "-1"}}}]})"),
                      m + "[0].resource.target.averageValue: '-1' is not a positive cpu quantity");
  ExpectInvalidPrefix(with(R"({"metrics": [{"type": "Resource", "resource": {"name": "cpu", "target": {}}}, {"type": "Resource", "resource": {"name": "memory", "target": {"averageUtilization": 50}}}]})"),
                      m + ": not supported yet: more than one metric");
  ExpectInvalidPrefix(with(R"({"behavior": {"scaleDown": {}}})"), "spec.predictor.autoScaling.behavior: not supported yet");
  ExpectInvalidPrefix(with(R"({"metrics": {}})"), m + ": must be a list");
}

TEST(ValidateIsvc, KServeAnnotations) {
  auto with = [](const char* key, const char* value) {
    Json j = Iris();
    j["metadata"]["annotations"][key] = value;
    return ValidateInferenceService(j);
  };
  for (const char* mode : {"Serverless", "Knative", "RawDeployment", "Standard"})
    EXPECT_TRUE(with("serving.kserve.io/deploymentMode", mode).ok()) << mode;
  EXPECT_EQ(with("serving.kserve.io/deploymentMode", "ModelMesh").message().rfind(
                "metadata.annotations[serving.kserve.io/deploymentMode]: not supported yet", 0), 0u);
  EXPECT_EQ(with("serving.kserve.io/deploymentMode", "Raw").message(),
            "metadata.annotations[serving.kserve.io/deploymentMode]: unknown deployment mode \"Raw\"; must be one of "
            "[Serverless, Knative, RawDeployment, Standard]");
  for (const char* cls : {"hpa", "keda", "external", "none"})
    EXPECT_TRUE(with("serving.kserve.io/autoscalerClass", cls).ok()) << cls;
  EXPECT_EQ(with("serving.kserve.io/autoscalerClass", "kpa").message(),
            "metadata.annotations[serving.kserve.io/autoscalerClass]: [kpa] is not a supported autoscaler class type");
  EXPECT_TRUE(with("serving.kserve.io/stop", "false").ok());
  EXPECT_EQ(with("serving.kserve.io/stop", "true").message().rfind(
                "metadata.annotations[serving.kserve.io/stop]: not supported yet", 0), 0u);
}

// ---- ResolvePredictor ----

TEST(ResolvePredictor, SklearnIrisModelFormat) {
  auto c = ResolvePredictor(Iris());
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->component, "predictor");
  EXPECT_EQ(c->format, "sklearn");
  EXPECT_EQ(c->format_version, "");
  EXPECT_EQ(c->runtime, "");
  EXPECT_EQ(c->storage_uri, "gs://kfserving-examples/models/sklearn/1.0/model");
  EXPECT_EQ(c->protocol_version, "v1");
  EXPECT_FALSE(c->protocol_explicit);
  EXPECT_EQ(c->min_replicas, 1);
  EXPECT_EQ(c->max_replicas, 0);
  EXPECT_EQ(c->container_concurrency, 0);
  EXPECT_EQ(c->timeout_seconds, 60);
  EXPECT_FALSE(c->canary_traffic_percent.has_value());
  EXPECT_FALSE(c->batcher.has_value());
  EXPECT_TRUE(c->containers.empty());
}

TEST(ResolvePredictor, LegacyShorthands) {
  auto c = ResolvePredictor(Y(kLegacySklearn));
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->format, "sklearn");
  EXPECT_EQ(c->storage_uri, "gs://kfserving-examples/models/sklearn/1.0/model");
  for (const char* impl : {"xgboost", "lightgbm", "pytorch", "tensorflow", "onnx", "pmml", "triton", "paddle",
                           "huggingface"}) {
    Json j = Y(kLegacySklearn);
    Pred(j)[impl] = Pred(j)["sklearn"];
    Pred(j).erase("sklearn");
    auto r = ResolvePredictor(j);
    ASSERT_TRUE(r.ok()) << impl << ": " << r.status().ToString();
    EXPECT_EQ(r->format, impl);
  }
}

TEST(ResolvePredictor, XgboostV2ExplicitRuntime) {
  auto c = ResolvePredictor(Y(kXgboostV2));
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->format, "xgboost");
  EXPECT_EQ(c->runtime, "kserve-xgbserver");
  EXPECT_EQ(c->protocol_version, "v2");
  EXPECT_TRUE(c->protocol_explicit);
}

TEST(ResolvePredictor, CanaryAndAnnotations) {
  auto c = ResolvePredictor(Y(kCanary));
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  ASSERT_TRUE(c->canary_traffic_percent.has_value());
  EXPECT_EQ(*c->canary_traffic_percent, 20);
  EXPECT_EQ(c->annotations.at("serving.kserve.io/deploymentMode"), "Serverless");
}

TEST(ResolvePredictor, CustomContainer) {
  auto c = ResolvePredictor(Y(kCustom));
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->format, "");
  ASSERT_EQ(c->containers.size(), 1u);
  EXPECT_EQ(c->containers[0].name, "kserve-container");
  EXPECT_EQ(c->containers[0].image, "kserve/custom-model-grpc:latest");
  EXPECT_EQ(c->containers[0].command, (std::vector<std::string>{"python", "-m", "model"}));
  EXPECT_EQ(c->args, (std::vector<std::string>{"--model_name", "custom-model"}));
  ASSERT_EQ(c->env.size(), 2u);
  EXPECT_EQ(c->env[1].name, "WORKERS");
  EXPECT_EQ(c->env[1].value, "2");
  EXPECT_EQ(c->storage_uri, "pvc://models/custom");
}

TEST(ResolvePredictor, AllExtensionFieldsAndPrecedence) {
  auto c = ResolvePredictor(Y(kFull));
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->format, "pytorch");
  EXPECT_EQ(c->storage_uri, "./models/mnist");  // the implementation's wins over the shared one
  EXPECT_EQ(c->protocol_version, "grpc-v2");
  EXPECT_EQ(c->args, (std::vector<std::string>{"--workers", "2"}));
  ASSERT_EQ(c->env.size(), 1u);
  EXPECT_EQ(c->env[0].name, "OMP_NUM_THREADS");
  EXPECT_EQ(c->min_replicas, 0);
  EXPECT_EQ(c->max_replicas, 5);
  EXPECT_EQ(c->container_concurrency, 4);
  EXPECT_EQ(c->timeout_seconds, 600);
  EXPECT_EQ(c->scale_metric, std::optional<std::string>("rps"));
  EXPECT_EQ(c->scale_target, std::optional<int>(10));
  ASSERT_TRUE(c->batcher.has_value());
  EXPECT_EQ(c->batcher->max_batch_size, 16);
  EXPECT_EQ(c->batcher->max_latency_ms, 300);
  EXPECT_EQ(c->batcher->timeout_s, 0);  // refused at apply since issue 15
  ASSERT_TRUE(c->logger.has_value());
  EXPECT_EQ(c->logger->mode, "request");
  EXPECT_EQ(c->logger->url, "http://sink:8080/events");
  EXPECT_EQ(c->logger->metadata_headers, std::vector<std::string>{"X-Tenant"});
  EXPECT_EQ(c->labels, (std::map<std::string, std::string>{{"team", "vision"}, {"tier", "silver"}}));
  EXPECT_EQ(c->annotations, (std::map<std::string, std::string>{{"autoscaling.knative.dev/target", "1"},
                                                                   {"shared", "predictor"}}));

  Json j = Y(kFull);
  Pred(j)["pytorch"].erase("storageUri");
  Pred(j)["pytorch"].erase("protocolVersion");
  Pred(j)["protocolVersion"] = "v2";
  c = ResolvePredictor(j);
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->storage_uri, "s3://shared/model");  // the shared field when the implementation has none
  EXPECT_EQ(c->protocol_version, "v2");
  EXPECT_TRUE(c->protocol_explicit);
}

TEST(ResolvePredictor, CollocationCommandWorkingDirProbeAndGrace) {
  Json j = Iris();
  Pred(j)["containers"] = Json::parse(R"([{"name": "transformer-container", "image": "t"}])");
  Pred(j)["model"]["command"] = Json::parse(R"(["inferd", "model-server"])");
  Pred(j)["model"]["workingDir"] = "/srv";
  Pred(j)["model"]["readinessProbe"] = Json::parse(R"({"httpGet": {"path": "/healthz"}, "periodSeconds": 3,
                                                       "timeoutSeconds": 2, "failureThreshold": 4})");
  Pred(j)["terminationGracePeriodSeconds"] = 12;
  auto c = ResolvePredictor(j);
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->collocated, (std::vector<std::string>{"transformer-container"}));
  EXPECT_TRUE(c->containers.empty());  // the model is the implementation
  EXPECT_EQ(c->command, (std::vector<std::string>{"inferd", "model-server"}));
  EXPECT_EQ(c->working_dir, "/srv");
  ASSERT_TRUE(c->readiness.has_value());
  EXPECT_EQ(c->readiness->path, "/healthz");
  EXPECT_EQ(c->readiness->period_seconds, 3);
  EXPECT_EQ(c->readiness->timeout_seconds, 2);
  EXPECT_EQ(c->readiness->failure_threshold, 4);
  EXPECT_EQ(c->termination_grace_seconds, std::optional<int>(12));
}

TEST(ResolvePredictor, TritonAndHuggingFaceShorthandsDefaultToV2) {
  for (const char* impl : {"triton", "huggingface"}) {
    Json j = Y(kLegacySklearn);
    Pred(j)[impl] = Pred(j)["sklearn"];
    Pred(j).erase("sklearn");
    auto c = ResolvePredictor(j);
    ASSERT_TRUE(c.ok()) << c.status().ToString();
    EXPECT_EQ(c->format, impl);
    EXPECT_EQ(c->protocol_version, "v2") << impl;
    EXPECT_FALSE(c->protocol_explicit);
    Pred(j)[impl]["protocolVersion"] = "v1";
    c = ResolvePredictor(j);
    ASSERT_TRUE(c.ok());
    EXPECT_EQ(c->protocol_version, "v1");
  }
  auto c = ResolvePredictor(Y(kLegacySklearn));
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->protocol_version, "v1");  // the other shorthands (and `model:`) default to v1
}

TEST(ResolvePredictor, ModelFormatVersionAndStorageUris) {
  Json j = Iris();
  Pred(j)["model"]["modelFormat"]["version"] = 1;
  Pred(j)["model"].erase("storageUri");
  Pred(j)["storageUris"] = Json::parse(R"([{"uri": "s3://b/m", "mountPath": "/mnt/models"}])");
  auto c = ResolvePredictor(j);
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->format_version, "1");
  EXPECT_EQ(c->storage_uri, "s3://b/m");
  Pred(j)["model"]["modelFormat"]["version"] = "1.3";
  c = ResolvePredictor(j);
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->format_version, "1.3");
}

TEST(ResolvePredictor, InvalidObjectIsAnErrorNotAThrow) {
  Json j = Iris();
  Pred(j)["minReplicas"] = -1;
  auto c = ResolvePredictor(j);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(c.status().message(), "spec.predictor.minReplicas: 'MinReplicas' cannot be less than 0");
  EXPECT_FALSE(ResolvePredictor(Json()).ok());
  EXPECT_FALSE(ResolvePredictor(Json::parse(R"({"spec": 1})")).ok());
}

}  // namespace
}  // namespace inferd::resources
