// Tests of operator/plan.h: the objects `inferd operator` wants for KServe's samples (compared with golden
// files in tests/operator/golden/, regenerated with INFERD_UPDATE_GOLDEN=1 and reviewed by hand), the
// actions that reach them from what a cluster has, and the status read back from the children.
#include "operator/plan.h"

#include <fstream>
#include <sstream>

#include <gtest/gtest.h>

namespace inferd::op {
namespace {

Json Yaml(const std::string& text) {
  auto docs = resources::ParseYamlDocuments(text);
  EXPECT_TRUE(docs.ok()) << docs.status().message();
  return docs.ok() && !docs->empty() ? (*docs)[0] : Json();
}

// KServe's samples (docs/samples/v1beta1/sklearn/v1/sklearn.yaml and xgboost), with the metadata a cluster adds.
Json Isvc(const std::string& spec_yaml, const std::string& name = "sklearn-iris") {
  Json obj = Yaml("apiVersion: serving.kserve.io/v1beta1\nkind: InferenceService\n" + spec_yaml);
  obj["metadata"]["name"] = name;
  obj["metadata"]["namespace"] = "default";
  obj["metadata"]["uid"] = "uid-" + name;
  obj["metadata"]["generation"] = 1;
  return obj;
}
const char* kSklearn =
    "spec:\n  predictor:\n    model:\n      modelFormat:\n        name: sklearn\n"
    "      storageUri: gs://kfserving-examples/models/sklearn/1.0/model\n";
const char* kXgboost =
    "spec:\n  predictor:\n    xgboost:\n      storageUri: gs://kfserving-examples/models/xgboost/iris\n";

// A cluster in miniature: the children the operator's actions made (the fake API server tests do this for real).
struct Cluster {
  explicit Cluster(Json obj) : isvc(std::move(obj)) {}
  Json isvc;
  std::vector<Json> children;
  OperatorConfig cfg;
  int rv = 1;

  PlanOutput Pass() {
    PlanInput in{isvc, {}, resources::BuiltinClusterServingRuntimes(), children, cfg, "2026-12-07T00:00:00Z"};
    PlanOutput out = PlanService(in);
    for (const auto& a : out.actions) {
      const std::string name = a.object["metadata"]["name"];
      auto same = [&](const Json& ch) {
        return ch["kind"] == a.object["kind"] && ch["apiVersion"] == a.object["apiVersion"] && ch["metadata"]["name"] == name;
      };
      auto it = std::find_if(children.begin(), children.end(), same);
      if (a.kind == ActionKind::kDelete) {
        children.erase(it);
        continue;
      }
      Json obj = a.object;
      obj["metadata"]["resourceVersion"] = std::to_string(++rv);
      obj["metadata"]["generation"] = it == children.end() ? 1 : (*it)["metadata"].value("generation", 1) + 1;
      if (it == children.end()) {
        children.push_back(obj);
      } else {
        *it = obj;
      }
    }
    isvc["status"] = out.status;
    return out;
  }
  Json* Child(const std::string& kind, const std::string& name) {
    for (auto& ch : children) {
      if (ch["kind"] == kind && ch["metadata"]["name"] == name) return &ch;
    }
    return nullptr;
  }
  void MarkAvailable(const std::string& name, int replicas = 1) {
    Json* d = Child("Deployment", name);
    ASSERT_NE(d, nullptr) << name;
    (*d)["status"] = {{"observedGeneration", (*d)["metadata"]["generation"]},
                      {"replicas", replicas},
                      {"readyReplicas", replicas},
                      {"conditions",
                       {{{"type", "Available"}, {"status", "True"}, {"reason", "MinimumReplicasAvailable"}},
                        {{"type", "Progressing"}, {"status", "True"}, {"reason", "NewReplicaSetAvailable"}}}}};
  }
};

std::string Condition(const Json& status, const std::string& type, const char* field = "status") {
  for (const auto& c : status["conditions"]) {
    if (c["type"] == type) return c.value(field, "");
  }
  return "<none>";
}

// Compares with tests/operator/golden/<name>.json (INFERD_UPDATE_GOLDEN=1 writes it instead).
void ExpectGolden(const std::string& name, const Json& actual) {
  const std::string path = std::string(INFERD_SOURCE_DIR) + "/tests/operator/golden/" + name + ".json";
  if (std::getenv("INFERD_UPDATE_GOLDEN")) {
    std::ofstream(path) << actual.dump(2) << "\n";
    return;
  }
  std::ifstream f(path);
  ASSERT_TRUE(f.good()) << "missing golden file " << path;
  std::stringstream ss;
  ss << f.rdbuf();
  EXPECT_EQ(Json::parse(ss.str()).dump(2), actual.dump(2)) << "differs from " << path;
}

Json Kinds(const std::vector<Json>& objs) {
  Json out = Json::array();
  for (const auto& o : objs) out.push_back(o["kind"].get<std::string>() + "/" + o["metadata"]["name"].get<std::string>());
  return out;
}

TEST(OperatorPlan, SklearnSampleCreatesDeploymentServiceHpa) {
  Cluster k{Isvc(kSklearn)};
  PlanOutput out = k.Pass();
  EXPECT_EQ(out.mode, "Standard");
  EXPECT_EQ(Kinds(out.desired), Json::parse(R"(["Deployment/sklearn-iris-predictor","Service/sklearn-iris-predictor",
                                                 "HorizontalPodAutoscaler/sklearn-iris-predictor"])"));
  ASSERT_EQ(out.actions.size(), 3u);
  for (const auto& a : out.actions) {
    EXPECT_EQ(a.kind, ActionKind::kCreate);
    EXPECT_TRUE(OwnedBy(a.object, "uid-sklearn-iris"));
  }
  ExpectGolden("sklearn_children", Json(out.desired));
  EXPECT_EQ(Condition(out.status, "Ready"), "False");
  EXPECT_EQ(out.status["deploymentMode"], "Standard");
  EXPECT_TRUE(out.status_changed);
  // Nothing changed: the next pass wants nothing done; the one after (the created Deployment now listed in
  // status.inferd.revisions) keeps the status as it is.
  EXPECT_TRUE(k.Pass().actions.empty());
  PlanOutput again = k.Pass();
  EXPECT_TRUE(again.actions.empty());
  EXPECT_FALSE(again.status_changed);
}

TEST(OperatorPlan, AvailableDeploymentMakesItReadyWithIngress) {
  Cluster k{Isvc(kSklearn)};
  k.Pass();
  k.MarkAvailable("sklearn-iris-predictor");
  PlanOutput out = k.Pass();
  ASSERT_EQ(out.actions.size(), 1u);
  EXPECT_EQ(out.actions[0].object["kind"], "Ingress");
  EXPECT_EQ(Condition(out.status, "PredictorReady"), "True");
  EXPECT_EQ(Condition(out.status, "IngressReady"), "True");
  EXPECT_EQ(Condition(out.status, "Ready"), "True");
  EXPECT_EQ(out.status["url"], "http://sklearn-iris-default.example.com");
  EXPECT_EQ(out.status["address"]["url"], "http://sklearn-iris-predictor.default.svc.cluster.local");
  EXPECT_EQ(out.status["components"]["predictor"]["latestReadyRevision"], "sklearn-iris-predictor-00001");
  ExpectGolden("sklearn_ingress", out.actions[0].object);
  ExpectGolden("sklearn_status_ready", out.status);
  EXPECT_TRUE(k.Pass().actions.empty());
}

TEST(OperatorPlan, XgboostSample) {
  Cluster k{Isvc(kXgboost, "xgboost-iris")};
  PlanOutput out = k.Pass();
  ASSERT_EQ(out.desired.size(), 3u);
  const Json& c = out.desired[0]["spec"]["template"]["spec"]["containers"][0];
  EXPECT_EQ(c["args"][0], "--model_name=xgboost-iris");
  ExpectGolden("xgboost_children", Json(out.desired));
}

TEST(OperatorPlan, DeploymentConditionsFollowKServe) {
  struct Case {
    const char* conditions;
    const char* status;
    const char* reason;
  } cases[] = {
      {R"([{"type":"Available","status":"True"}])", "True", ""},
      {R"([{"type":"Progressing","status":"True","reason":"NewReplicaSetAvailable"}])", "True", ""},
      {R"([{"type":"Progressing","status":"True","reason":"ReplicaSetUpdated"}])", "Unknown", "ReplicaSetUpdated"},
      {R"([{"type":"Progressing","status":"False","reason":"ProgressDeadlineExceeded","message":"too slow"}])", "False",
       "ProgressDeadlineExceeded"},
      {R"([{"type":"Available","status":"False","reason":"MinimumReplicasUnavailable","message":"m"}])", "False",
       "MinimumReplicasUnavailable"},
      {R"([{"type":"Available","status":"True"},{"type":"ReplicaFailure","status":"True","reason":"FailedCreate","message":"quota"}])",
       "False", "FailedCreate"},
      {R"([])", "False", "Pending"},
  };
  for (const auto& c : cases) {
    Json dep = {{"status", {{"conditions", Json::parse(c.conditions)}}}};
    auto r = DeploymentReadiness(dep);
    EXPECT_EQ(r.status, c.status) << c.conditions;
    EXPECT_EQ(r.reason, c.reason) << c.conditions;
  }
}

TEST(OperatorPlan, GpuLimitsPassThrough) {
  Cluster k{Isvc(std::string(kSklearn) +
                 "      resources:\n        limits:\n          nvidia.com/gpu: \"1\"\n          cpu: \"2\"\n"
                 "        requests:\n          cpu: \"1\"\n")};
  PlanOutput out = k.Pass();
  const Json& c = out.desired[0]["spec"]["template"]["spec"]["containers"][0];
  EXPECT_EQ(c["resources"]["limits"]["nvidia.com/gpu"], "1");
  EXPECT_EQ(c["resources"]["limits"]["cpu"], "2");
  EXPECT_EQ(c["resources"]["requests"]["cpu"], "1");
}

TEST(OperatorPlan, HpaVariants) {
  struct Case {
    std::string extra;       // appended under predictor:
    std::string annotations; // metadata.annotations lines
    const char* metrics;     // expected spec.metrics ("" = no HPA)
    int min, max;
  } cases[] = {
      {"", "", R"([{"type":"Resource","resource":{"name":"cpu","target":{"type":"Utilization","averageUtilization":80}}}])", 1, 1},
      {"    minReplicas: 2\n    maxReplicas: 5\n    scaleMetric: cpu\n    scaleTarget: 50\n", "",
       R"([{"type":"Resource","resource":{"name":"cpu","target":{"type":"Utilization","averageUtilization":50}}}])", 2, 5},
      {"    scaleMetric: memory\n    scaleTarget: 70\n    maxReplicas: 3\n", "",
       R"([{"type":"Resource","resource":{"name":"memory","target":{"type":"Utilization","averageUtilization":70}}}])", 1, 3},
      {"    autoScaling:\n      metrics:\n      - type: Resource\n        resource:\n          name: memory\n"
       "          target:\n            type: AverageValue\n            averageValue: 1Gi\n", "",
       R"([{"type":"Resource","resource":{"name":"memory","target":{"type":"AverageValue","averageValue":"1Gi"}}}])", 1, 1},
      {"    minReplicas: 2\n", "    serving.kserve.io/autoscalerClass: none\n", "", 0, 0},
      {"    minReplicas: 2\n", "    serving.kserve.io/autoscalerClass: external\n", "", 0, 0},
  };
  for (const auto& c : cases) {
    std::string yaml = "metadata:\n" + (c.annotations.empty() ? "  labels: {}\n" : "  annotations:\n" + c.annotations) +
                       std::string(kSklearn) + c.extra;
    Cluster k{Isvc(yaml)};
    PlanOutput out = k.Pass();
    ASSERT_FALSE(out.desired.empty()) << out.status.dump();
    const Json* hpa = nullptr;
    for (const auto& o : out.desired) {
      if (o["kind"] == "HorizontalPodAutoscaler") hpa = &o;
    }
    const Json& dep = out.desired[0];
    if (std::string(c.metrics).empty()) {
      EXPECT_EQ(hpa, nullptr) << yaml;
      const bool none = c.annotations.find("none") != std::string::npos;
      EXPECT_EQ(dep["spec"].contains("replicas"), none) << yaml;
      if (none) {
        EXPECT_EQ(dep["spec"]["replicas"], 2);
      }
      continue;
    }
    ASSERT_NE(hpa, nullptr) << yaml;
    EXPECT_FALSE(dep["spec"].contains("replicas"));
    EXPECT_EQ((*hpa)["spec"]["metrics"], Json::parse(c.metrics)) << yaml;
    EXPECT_EQ((*hpa)["spec"]["minReplicas"], c.min) << yaml;
    EXPECT_EQ((*hpa)["spec"]["maxReplicas"], c.max) << yaml;
    EXPECT_EQ((*hpa)["spec"]["scaleTargetRef"]["name"], "sklearn-iris-predictor");
  }
}

TEST(OperatorPlan, AutoscalerClassChangeDeletesHpa) {
  Cluster k{Isvc(kSklearn)};
  k.Pass();
  ASSERT_NE(k.Child("HorizontalPodAutoscaler", "sklearn-iris-predictor"), nullptr);
  k.isvc["metadata"]["annotations"]["serving.kserve.io/autoscalerClass"] = "external";
  PlanOutput out = k.Pass();
  bool deleted = false;
  for (const auto& a : out.actions) deleted |= a.kind == ActionKind::kDelete && a.object["kind"] == "HorizontalPodAutoscaler";
  EXPECT_TRUE(deleted);
  EXPECT_EQ(k.Child("HorizontalPodAutoscaler", "sklearn-iris-predictor"), nullptr);
}

TEST(OperatorPlan, PvcIsMountedWithoutInitContainer) {
  Cluster k{Isvc("spec:\n  predictor:\n    sklearn:\n      storageUri: pvc://models-claim/iris/v1\n")};
  PlanOutput out = k.Pass();
  const Json& pod = out.desired[0]["spec"]["template"]["spec"];
  EXPECT_FALSE(pod.contains("initContainers"));
  EXPECT_EQ(pod["volumes"], Json::parse(R"([{"name":"kserve-pvc-source","persistentVolumeClaim":{"claimName":"models-claim","readOnly":true}}])"));
  EXPECT_EQ(pod["containers"][0]["volumeMounts"],
            Json::parse(R"([{"name":"kserve-pvc-source","mountPath":"/mnt/models","readOnly":true,"subPath":"iris/v1"}])"));
}

TEST(OperatorPlan, SpecUpdateUpdatesTheDeploymentInPlace) {
  Cluster k{Isvc(kSklearn)};
  k.Pass();
  k.MarkAvailable("sklearn-iris-predictor");
  k.Pass();
  k.isvc["spec"]["predictor"]["model"]["storageUri"] = "gs://kfserving-examples/models/sklearn/2.0/model";
  k.isvc["metadata"]["generation"] = 2;
  const Json rv = k.Child("Deployment", "sklearn-iris-predictor")->at("metadata")["resourceVersion"];
  PlanOutput out = k.Pass();
  ASSERT_EQ(out.actions.size(), 1u) << Kinds(out.desired);
  EXPECT_EQ(out.actions[0].kind, ActionKind::kUpdate);
  const Json& dep = out.actions[0].object;
  EXPECT_EQ(dep["metadata"]["annotations"][kRevisionAnnotation], "sklearn-iris-predictor-00002");
  EXPECT_EQ(dep["spec"]["template"]["spec"]["initContainers"][0]["args"][0], "gs://kfserving-examples/models/sklearn/2.0/model");
  EXPECT_EQ(dep["metadata"]["resourceVersion"], rv);  // (the PUT carries the one it read)
  EXPECT_EQ(out.status["observedGeneration"], 2);
}

TEST(OperatorPlan, ServerDefaultsAreNotDrift) {
  Cluster k{Isvc(kSklearn)};
  k.Pass();
  Json* dep = k.Child("Deployment", "sklearn-iris-predictor");
  (*dep)["spec"]["template"]["spec"]["schedulerName"] = "default-scheduler";
  (*dep)["spec"]["template"]["spec"]["containers"][0]["terminationMessagePath"] = "/dev/termination-log";
  (*dep)["spec"]["replicas"] = 3;  // the HPA's
  (*dep)["metadata"]["annotations"]["deployment.kubernetes.io/revision"] = "1";
  (*k.Child("Service", "sklearn-iris-predictor"))["spec"]["clusterIP"] = "10.0.0.7";
  EXPECT_TRUE(k.Pass().actions.empty());
  // Someone edits the image: put back.
  (*dep)["spec"]["template"]["spec"]["containers"][0]["image"] = "evil:latest";
  PlanOutput out = k.Pass();
  ASSERT_EQ(out.actions.size(), 1u);
  EXPECT_EQ(out.actions[0].kind, ActionKind::kUpdate);
  EXPECT_EQ(out.actions[0].object["spec"]["template"]["spec"]["containers"][0]["image"], "inferd:0.1.0");
  EXPECT_EQ(out.actions[0].object["spec"]["replicas"], 3);  // (kept: the HPA owns it)
}

TEST(OperatorPlan, DeletedChildIsRecreatedAndStrangersLeftAlone) {
  Cluster k{Isvc(kSklearn)};
  k.Pass();
  k.children.erase(k.children.begin() + 1);  // the Service
  PlanOutput out = k.Pass();
  ASSERT_EQ(out.actions.size(), 1u);
  EXPECT_EQ(out.actions[0].kind, ActionKind::kCreate);
  EXPECT_EQ(out.actions[0].object["kind"], "Service");
  // An object of the same name that this isvc does not control is not touched, and the status says so.
  k.Child("Service", "sklearn-iris-predictor")->at("metadata")["ownerReferences"] = Json::array();
  out = k.Pass();
  EXPECT_TRUE(out.actions.empty());
  EXPECT_EQ(Condition(out.status, "Ready", "reason"), "ChildNotOwned");
}

TEST(OperatorPlan, CanaryRunsTwoDeploymentsAndSplitsWithHttpRoute) {
  Cluster k{Isvc(kSklearn)};
  k.cfg.gateway_api = true;
  k.Pass();
  k.MarkAvailable("sklearn-iris-predictor");
  k.Pass();
  ASSERT_EQ(k.isvc["status"]["components"]["predictor"]["latestRolledoutRevision"], "sklearn-iris-predictor-00001");
  k.isvc["spec"]["predictor"]["canaryTrafficPercent"] = 10;
  k.isvc["spec"]["predictor"]["model"]["storageUri"] = "gs://kfserving-examples/models/sklearn/2.0/model";
  PlanOutput out = k.Pass();
  // The old template moves to -prev (serving everything until the new one is ready); the new one rolls in.
  ASSERT_NE(k.Child("Deployment", "sklearn-iris-predictor-prev"), nullptr) << Kinds(out.desired);
  EXPECT_EQ((*k.Child("Deployment", "sklearn-iris-predictor-prev"))["metadata"]["annotations"][kRevisionAnnotation],
            "sklearn-iris-predictor-00001");
  EXPECT_EQ((*k.Child("Deployment", "sklearn-iris-predictor-prev"))["spec"]["template"]["metadata"]["labels"]["app"],
            "isvc.sklearn-iris-predictor-prev");
  k.MarkAvailable("sklearn-iris-predictor-prev");
  out = k.Pass();
  Json* route = k.Child("HTTPRoute", "sklearn-iris");
  ASSERT_NE(route, nullptr);
  EXPECT_EQ((*route)["spec"]["rules"][0]["backendRefs"].size(), 1u);
  EXPECT_EQ((*route)["spec"]["rules"][0]["backendRefs"][0]["name"], "sklearn-iris-predictor-prev");
  k.MarkAvailable("sklearn-iris-predictor");
  out = k.Pass();
  EXPECT_EQ((*route)["spec"]["rules"][0]["backendRefs"],
            Json::parse(R"([{"group":"","kind":"Service","name":"sklearn-iris-predictor","port":80,"weight":10},
                            {"group":"","kind":"Service","name":"sklearn-iris-predictor-prev","port":80,"weight":90}])"));
  EXPECT_EQ(Condition(out.status, "Ready"), "True");
  ExpectGolden("canary_status", out.status["components"]);
  ExpectGolden("canary_httproute", *route);
  // Promote: without the canary the new revision takes everything and -prev goes.
  k.isvc["spec"]["predictor"].erase("canaryTrafficPercent");
  out = k.Pass();
  EXPECT_EQ(k.Child("Deployment", "sklearn-iris-predictor-prev"), nullptr);
  EXPECT_EQ(k.Child("Service", "sklearn-iris-predictor-prev"), nullptr);
  EXPECT_EQ((*route)["spec"]["rules"][0]["backendRefs"].size(), 1u);
  EXPECT_EQ(k.isvc["status"]["components"]["predictor"]["latestRolledoutRevision"], "sklearn-iris-predictor-00002");
}

TEST(OperatorPlan, CanaryWithPlainIngressSaysItCannotSplit) {
  Cluster k{Isvc(kSklearn)};
  k.Pass();
  k.MarkAvailable("sklearn-iris-predictor");
  k.Pass();
  k.isvc["spec"]["predictor"]["canaryTrafficPercent"] = 20;
  k.isvc["spec"]["predictor"]["model"]["storageUri"] = "gs://kfserving-examples/models/sklearn/2.0/model";
  k.Pass();
  k.MarkAvailable("sklearn-iris-predictor-prev");
  k.MarkAvailable("sklearn-iris-predictor");
  PlanOutput out = k.Pass();
  EXPECT_EQ(Condition(out.status, "IngressReady"), "False");
  EXPECT_EQ(Condition(out.status, "IngressReady", "reason"), "TrafficSplitNotSupported");
  EXPECT_NE(Condition(out.status, "IngressReady", "message").find("spec.predictor.canaryTrafficPercent"), std::string::npos);
  EXPECT_EQ(Condition(out.status, "Ready"), "False");
  Json* ing = k.Child("Ingress", "sklearn-iris");
  ASSERT_NE(ing, nullptr);
  EXPECT_EQ((*ing)["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]["name"], "sklearn-iris-predictor-prev");
  EXPECT_EQ(out.status["components"]["predictor"]["traffic"].size(), 1u);
  EXPECT_EQ(out.status["components"]["predictor"]["traffic"][0]["percent"], 100);
}

TEST(OperatorPlan, KnativeMode) {
  Cluster k{Isvc("metadata:\n  annotations:\n    serving.kserve.io/deploymentMode: Serverless\n" + std::string(kSklearn) +
                 "    minReplicas: 0\n    maxReplicas: 4\n    scaleMetric: concurrency\n    scaleTarget: 5\n")};
  PlanOutput out = k.Pass();
  EXPECT_EQ(Condition(out.status, "Ready", "reason"), "KnativeNotInstalled");
  EXPECT_TRUE(out.actions.empty());
  k.cfg.knative_installed = true;
  k.isvc.erase("status");  // (the mode is sticky once recorded; start over)
  out = k.Pass();
  EXPECT_EQ(out.mode, "Knative");
  ASSERT_EQ(out.desired.size(), 1u);
  ExpectGolden("knative_ksvc", out.desired[0]);
  // Knative reports the revision ready; a canary then splits between it and the next one.
  Json* ksvc = k.Child("Service", "sklearn-iris-predictor");
  (*ksvc)["status"] = Json::parse(R"({"latestCreatedRevisionName":"sklearn-iris-predictor-00001",
      "latestReadyRevisionName":"sklearn-iris-predictor-00001","url":"http://sklearn-iris-predictor.default.example.com",
      "address":{"url":"http://sklearn-iris-predictor.default.svc.cluster.local"},
      "conditions":[{"type":"Ready","status":"True"}]})");
  out = k.Pass();
  EXPECT_EQ(Condition(out.status, "Ready"), "True");
  EXPECT_EQ(out.status["deploymentMode"], "Knative");
  EXPECT_EQ(out.status["components"]["predictor"]["latestRolledoutRevision"], "sklearn-iris-predictor-00001");
  k.isvc["spec"]["predictor"]["canaryTrafficPercent"] = 25;
  (*ksvc)["status"]["latestCreatedRevisionName"] = "sklearn-iris-predictor-00002";
  (*ksvc)["status"]["latestReadyRevisionName"] = "sklearn-iris-predictor-00002";
  out = k.Pass();
  EXPECT_EQ((*ksvc)["spec"]["traffic"], Json::parse(R"([{"latestRevision":true,"percent":25},
      {"revisionName":"sklearn-iris-predictor-00001","tag":"prev","latestRevision":false,"percent":75}])"));
}

TEST(OperatorPlan, RefusedSpecsNameTheField) {
  struct Case {
    std::string yaml;
    const char* field;
  } cases[] = {
      {std::string(kSklearn) + "  transformer:\n    minReplicas: 1\n", "spec.transformer.containers"},
      {std::string(kSklearn) + "  transformer:\n    minReplicas: -1\n    containers:\n    - image: t:1\n",
       "spec.transformer.minReplicas"},
      {std::string(kSklearn) + "  transformer:\n    canaryTrafficPercent: 10\n    containers:\n    - image: t:1\n",
       "spec.transformer.canaryTrafficPercent"},
      {std::string(kSklearn) + "  explainer:\n    art:\n      type: FGSM\n", "spec.explainer.art.type"},
      {std::string(kSklearn) + "  explainer:\n    minReplicas: 1\n", "spec.explainer"},
      {std::string(kSklearn) + "  explainer:\n    containers:\n    - image: e:1\n      name: e\n    art:\n      type: SquareAttack\n",
       "spec.explainer"},
      {"spec:\n  predictor:\n    logger:\n      url: http://sink\n      storage:\n        path: /p\n" + std::string(kSklearn).substr(19),
       "spec.predictor.logger.storage"},
      // Hostile shapes: each named, none crashes.
      {std::string(kSklearn) + "  transformer: 5\n", "spec.transformer"},
      {std::string(kSklearn) + "  transformer:\n    containers: 5\n", "spec.transformer.containers"},
      {std::string(kSklearn) + "  transformer:\n    containers:\n    - image: t:1\n    logger: x\n", "spec.transformer.logger"},
      {std::string(kSklearn) + "  explainer:\n    art: 5\n", "spec.explainer.art"},
      {std::string(kSklearn) + "  explainer:\n    art:\n      type: SquareAttack\n      config: [1]\n", "spec.explainer.art.config"},
      {std::string(kSklearn) + "  explainer:\n    art:\n      type: SquareAttack\n      args: 5\n", "spec.explainer"},
      {std::string(kSklearn) + "  explainer:\n    art:\n      type: SquareAttack\n      config:\n        max_iter: 5\n",
       "spec.explainer.art.config.max_iter"},
      {"spec:\n  predictor:\n    logger: [1]\n" + std::string(kSklearn).substr(19), "spec.predictor.logger"},
      {"spec:\n  predictor:\n    model:\n      modelFormat:\n        name: nosuchformat\n      storageUri: gs://b/m\n",
       "NoSupportingRuntime"},
      {"metadata:\n  annotations:\n    serving.kserve.io/autoscalerClass: keda\n" + std::string(kSklearn),
       "serving.kserve.io/autoscalerClass"},
  };
  for (const auto& c : cases) {
    Cluster k{Isvc(c.yaml)};
    PlanOutput out = k.Pass();
    EXPECT_TRUE(out.actions.empty()) << c.yaml;
    EXPECT_EQ(Condition(out.status, "Ready"), "False") << c.yaml;
    EXPECT_NE(Condition(out.status, "Ready", "message").find(c.field), std::string::npos)
        << c.yaml << "\n" << out.status.dump(2);
    EXPECT_EQ(out.status["modelStatus"]["transitionStatus"], "InvalidSpec");
  }
}

TEST(OperatorPlan, InvalidUpdateKeepsWhatRuns) {
  Cluster k{Isvc(kSklearn)};
  k.Pass();
  k.MarkAvailable("sklearn-iris-predictor");
  k.Pass();
  k.isvc["spec"]["transformer"] = Json::parse(R"({"minReplicas":-1,"containers":[{"name":"t","image":"t:1"}]})");
  PlanOutput out = k.Pass();
  EXPECT_TRUE(out.actions.empty());  // nothing deleted
  EXPECT_EQ(Condition(out.status, "Ready"), "False");
}

TEST(OperatorPlan, ClusterLocalAndDomainTemplate) {
  Cluster k{Isvc("metadata:\n  labels:\n    networking.kserve.io/visibility: cluster-local\n" + std::string(kSklearn))};
  k.Pass();
  k.MarkAvailable("sklearn-iris-predictor");
  PlanOutput out = k.Pass();
  EXPECT_TRUE(out.actions.empty());
  EXPECT_EQ(Condition(out.status, "Ready"), "True");
  EXPECT_EQ(out.status["url"], "http://sklearn-iris-predictor.default.svc.cluster.local");
  Cluster d{Isvc(kSklearn)};
  d.cfg.domain_template = "{{.Name}}.{{.Namespace}}.{{.IngressDomain}}";
  d.cfg.ingress_domain = "models.corp";
  d.cfg.url_scheme = "https";
  d.cfg.ingress_class = "nginx";
  d.Pass();
  d.MarkAvailable("sklearn-iris-predictor");
  out = d.Pass();
  EXPECT_EQ(out.status["url"], "https://sklearn-iris.default.models.corp");
  Json* ing = d.Child("Ingress", "sklearn-iris");
  ASSERT_NE(ing, nullptr);
  EXPECT_EQ((*ing)["spec"]["ingressClassName"], "nginx");
  EXPECT_EQ((*ing)["spec"]["rules"][1]["host"], "sklearn-iris-predictor.default.models.corp");
}

}  // namespace
}  // namespace inferd::op

namespace inferd::op {
namespace {

// ---- transformer, explainer, logger, batcher (issue 15) ---------------------------------------------------

// KServe's image transformer sample (docs/model-serving/.../custom-transformer: a TorchServe predictor and the
// kserve/image-transformer container started as `python -m model`).
const char* kTransformer =
    "spec:\n  predictor:\n    model:\n      modelFormat:\n        name: pytorch\n"
    "      storageUri: gs://kfserving-examples/models/torchserve/image_classifier/v1\n"
    "  transformer:\n    containers:\n    - image: kserve/image-transformer:latest\n      name: kserve-container\n"
    "      command:\n      - \"python\"\n      - \"-m\"\n      - \"model\"\n      args:\n      - --model_name\n      - mnist\n";

const Json* Find(const std::vector<Json>& objs, const std::string& kind, const std::string& name) {
  for (const auto& o : objs) {
    if (o["kind"] == kind && o["metadata"]["name"] == name) return &o;
  }
  return nullptr;
}
const Json& PodOf(const Json& deployment) { return deployment["spec"]["template"]["spec"]; }

TEST(OperatorPipeline, TransformerGetsItsOwnWorkloadsAndTheTopLevelRoute) {
  Cluster k{Isvc(kTransformer, "torch-transformer")};
  PlanOutput out = k.Pass();
  EXPECT_EQ(Kinds(out.desired), Json::parse(R"(["Deployment/torch-transformer-predictor","Service/torch-transformer-predictor",
      "HorizontalPodAutoscaler/torch-transformer-predictor","Deployment/torch-transformer-transformer",
      "Service/torch-transformer-transformer","HorizontalPodAutoscaler/torch-transformer-transformer"])"));
  const Json* dep = Find(out.desired, "Deployment", "torch-transformer-transformer");
  ASSERT_NE(dep, nullptr);
  const Json& ct = PodOf(*dep)["containers"][0];
  EXPECT_EQ(ct["name"], "kserve-container");
  EXPECT_EQ(ct["image"], "kserve/image-transformer:latest");
  // KServe's flags, appended unless named (--model_name was: the user's mnist stays).
  EXPECT_EQ(ct["args"], Json::parse(R"(["--model_name","mnist","--predictor_host","torch-transformer-predictor.default",
      "--http_port","8080"])"));
  EXPECT_EQ(ct["env"], Json::parse(R"([{"name":"INFERENCE_SERVICE_NAME","value":"torch-transformer"}])"));
  EXPECT_EQ((*dep)["metadata"]["labels"]["component"], "transformer");
  EXPECT_EQ((*dep)["metadata"]["annotations"][kRevisionAnnotation], "torch-transformer-transformer-00001");
  EXPECT_EQ(PodOf(*dep).count("initContainers"), 0u);  // the model is the predictor's
  ExpectGolden("transformer_children", Json(out.desired));

  // The predictor alone ready: no ingress yet (KServe waits for TransformerReady too).
  k.MarkAvailable("torch-transformer-predictor");
  out = k.Pass();
  EXPECT_EQ(Condition(out.status, "PredictorReady"), "True");
  EXPECT_EQ(Condition(out.status, "TransformerReady"), "False");
  EXPECT_EQ(Condition(out.status, "IngressReady", "reason"), "TransformerNotReady");
  EXPECT_EQ(Condition(out.status, "Ready"), "False");
  EXPECT_EQ(Find(out.desired, "Ingress", "torch-transformer"), nullptr);

  k.MarkAvailable("torch-transformer-transformer");
  out = k.Pass();
  EXPECT_EQ(Condition(out.status, "TransformerReady"), "True");
  EXPECT_EQ(Condition(out.status, "Ready"), "True") << out.status.dump(2);
  std::vector<std::string> types;
  for (const auto& c : out.status["conditions"]) types.push_back(c["type"]);
  EXPECT_EQ(types, (std::vector<std::string>{"IngressReady", "PredictorReady", "Ready", "TransformerReady"}));
  EXPECT_EQ(out.status["components"]["transformer"]["url"], "http://torch-transformer-transformer-default.example.com");
  EXPECT_EQ(out.status["components"]["transformer"]["latestReadyRevision"], "torch-transformer-transformer-00001");
  EXPECT_EQ(out.status["address"]["url"], "http://torch-transformer-transformer.default.svc.cluster.local");
  const Json* ing = Find(out.desired, "Ingress", "torch-transformer");
  ASSERT_NE(ing, nullptr);
  ExpectGolden("transformer_ingress", *ing);
  const Json& rules = (*ing)["spec"]["rules"];
  ASSERT_EQ(rules.size(), 3u);
  EXPECT_EQ(rules[0]["host"], "torch-transformer-default.example.com");
  EXPECT_EQ(rules[0]["http"]["paths"][0]["backend"]["service"]["name"], "torch-transformer-transformer");
  EXPECT_EQ(rules[1]["http"]["paths"][0]["backend"]["service"]["name"], "torch-transformer-predictor");
  EXPECT_EQ(rules[2]["host"], "torch-transformer-transformer-default.example.com");
  EXPECT_TRUE(k.Pass().actions.empty());
  EXPECT_FALSE(k.Pass().status_changed);

  // A new transformer image is a new transformer revision, rolled out by the Deployment.
  k.isvc["spec"]["transformer"]["containers"][0]["image"] = "kserve/image-transformer:v2";
  out = k.Pass();
  ASSERT_EQ(out.actions.size(), 1u);
  EXPECT_EQ(out.actions[0].kind, ActionKind::kUpdate);
  EXPECT_EQ(out.actions[0].object["metadata"]["annotations"][kRevisionAnnotation], "torch-transformer-transformer-00002");
  EXPECT_EQ(Condition(out.status, "TransformerReady"), "Unknown");
}

TEST(OperatorPipeline, TransformerWorkersFollowContainerConcurrency) {
  Cluster k{Isvc(std::string(kTransformer) + "    containerConcurrency: 4\n    minReplicas: 2\n    maxReplicas: 3\n"
                 "    logger:\n      url: http://sink/\n", "t")};
  PlanOutput out = k.Pass();
  const Json& pod = PodOf(*Find(out.desired, "Deployment", "t-transformer"));
  const Json& ct = pod["containers"][0];
  EXPECT_EQ(ct["args"].back(), "4");
  // The transformer's logger (a Python image, not inferd model-server): KServe's agent, component transformer.
  ASSERT_EQ(pod["containers"].size(), 2u);
  const Json& agent_args = pod["containers"][1]["args"];
  auto comp = std::find(agent_args.begin(), agent_args.end(), Json("--component"));
  ASSERT_NE(comp, agent_args.end());
  EXPECT_EQ(*(comp + 1), "transformer");
  EXPECT_EQ(ct["args"][ct["args"].size() - 2], "--workers");
  const Json* hpa = Find(out.desired, "HorizontalPodAutoscaler", "t-transformer");
  ASSERT_NE(hpa, nullptr);
  EXPECT_EQ((*hpa)["spec"]["minReplicas"], 2);
  EXPECT_EQ((*hpa)["spec"]["maxReplicas"], 3);
}

const char* kArt =
    "spec:\n  predictor:\n    sklearn:\n      storageUri: gs://kfserving-examples/models/sklearn/mnist/art\n"
    "  explainer:\n    art:\n      type: SquareAttack\n      config:\n        nb_classes: \"10\"\n        max_iter: \"10\"\n";

TEST(OperatorPipeline, ArtExplainerRunsInferdWithKServesFlagsAndGetsExplain) {
  Cluster k{Isvc(kArt, "artserver")};
  k.cfg.gateway_api = true;
  PlanOutput out = k.Pass();
  const Json* dep = Find(out.desired, "Deployment", "artserver-explainer");
  ASSERT_NE(dep, nullptr);
  const Json& ct = PodOf(*dep)["containers"][0];
  EXPECT_EQ(ct["image"], "inferd:0.1.0");
  EXPECT_EQ(ct["args"], Json::parse(R"(["art-explainer","--model_name","artserver","--http_port","8080",
      "--predictor_host","artserver-predictor.default","--adversary_type","SquareAttack",
      "--max_iter","10","--nb_classes","10"])"));
  EXPECT_EQ((*dep)["metadata"]["labels"]["component"], "explainer");
  k.MarkAvailable("artserver-predictor");
  k.MarkAvailable("artserver-explainer");
  out = k.Pass();
  EXPECT_EQ(Condition(out.status, "ExplainerReady"), "True");
  EXPECT_EQ(Condition(out.status, "Ready"), "True") << out.status.dump(2);
  const Json* top = Find(out.desired, "HTTPRoute", "artserver");
  ASSERT_NE(top, nullptr);
  ExpectGolden("explainer_httproute", *top);
  const Json& rules = (*top)["spec"]["rules"];
  ASSERT_EQ(rules.size(), 2u);
  EXPECT_EQ(rules[0]["matches"][0]["path"]["value"], "^/v1/models/[\\w-]+:explain$");
  EXPECT_EQ(rules[0]["backendRefs"][0]["name"], "artserver-explainer");
  EXPECT_EQ(rules[1]["backendRefs"][0]["name"], "artserver-predictor");  // no transformer: predict goes to the predictor
  EXPECT_NE(Find(out.desired, "HTTPRoute", "artserver-explainer"), nullptr);

  // KServe's own image instead, with its runtimeVersion as the tag; a plain Ingress routes the Exact path.
  k.cfg.gateway_api = false;
  k.cfg.art_explainer_image = "kserve/art-explainer";
  k.isvc["spec"]["explainer"]["art"]["runtimeVersion"] = "v0.14.0";
  out = k.Pass();
  const Json& kct = PodOf(*Find(out.desired, "Deployment", "artserver-explainer"))["containers"][0];
  EXPECT_EQ(kct["image"], "kserve/art-explainer:v0.14.0");
  EXPECT_EQ(kct["args"][0], "--model_name");
  const Json* ing = Find(out.desired, "Ingress", "artserver");
  if (ing == nullptr) {  // (the explainer's new revision is rolling out: the ingress waits, as KServe's does)
    k.MarkAvailable("artserver-explainer");
    out = k.Pass();
    ing = Find(out.desired, "Ingress", "artserver");
  }
  ASSERT_NE(ing, nullptr);
  const Json& paths = (*ing)["spec"]["rules"][0]["http"]["paths"];
  EXPECT_EQ(paths[0]["path"], "/v1/models/artserver:explain");
  EXPECT_EQ(paths[0]["pathType"], "Exact");
  EXPECT_EQ(paths[0]["backend"]["service"]["name"], "artserver-explainer");
  EXPECT_EQ(paths[1]["backend"]["service"]["name"], "artserver-predictor");
}

TEST(OperatorPipeline, LoggerAndBatcherBecomeInferdModelServerFlags) {
  Cluster k{Isvc("metadata:\n  annotations:\n    team: ml\n"
                 "spec:\n  predictor:\n    logger:\n      mode: request\n      url: http://sink.default/\n"
                 "      metadataHeaders: [x-user, x-team]\n      metadataAnnotations: [team, absent]\n    batcher:\n      maxBatchSize: 16\n      maxLatency: 50\n" +
                 std::string(kSklearn).substr(19))};
  PlanOutput out = k.Pass();
  const Json& pod = PodOf(out.desired[0]);
  ASSERT_EQ(pod["containers"].size(), 1u);  // no agent: inferd's model server logs and batches itself
  const Json& args = pod["containers"][0]["args"];
  for (const char* want : {"--log_url=http://sink.default/", "--log_mode=request", "--log_metadata_headers=x-user,x-team",
                           "--log_metadata_annotations=team=ml", "--inference_service=sklearn-iris", "--namespace=default", "--component=predictor",
                           "--max_batch_size=16", "--max_latency=50000"}) {
    EXPECT_NE(std::find(args.begin(), args.end(), Json(want)), args.end()) << want << " in " << args.dump();
  }
  EXPECT_EQ(Find(out.desired, "Service", "sklearn-iris-predictor")->at("spec")["ports"][0]["targetPort"], 8080);
}

TEST(OperatorPipeline, LoggerOnAnotherImageGetsKServesAgent) {
  Cluster k{Isvc("spec:\n  predictor:\n    logger:\n      url: http://sink.default/\n    batcher:\n      maxBatchSize: 8\n"
                 "    containers:\n    - name: kserve-container\n      image: example/custom:1\n"
                 "      ports:\n      - containerPort: 9000\n      readinessProbe:\n        httpGet:\n          path: /ready\n"
                 "          port: 9000\n")};
  PlanOutput out = k.Pass();
  const Json& pod = PodOf(out.desired[0]);
  ASSERT_EQ(pod["containers"].size(), 2u);
  const Json& agent = pod["containers"][1];
  EXPECT_EQ(agent["name"], "agent");
  EXPECT_EQ(agent["image"], "kserve/agent:v0.15.2");
  EXPECT_EQ(agent["args"], Json::parse(R"(["--enable-batcher","--max-batchsize","8","--log-url","http://sink.default/",
      "--source-uri","","--log-mode","all","--inference-service","sklearn-iris","--namespace","default","--endpoint","",
      "--component","predictor","--logger-tls-skip-verify","false","--component-port","9000"])"));
  EXPECT_EQ(agent["env"][0]["name"], "SERVING_READINESS_PROBE");
  EXPECT_EQ(Json::parse(agent["env"][0]["value"].get<std::string>())["httpGet"]["path"], "/ready");
  EXPECT_EQ(agent["readinessProbe"]["httpGet"]["path"], "/ready");
  EXPECT_EQ(agent["readinessProbe"]["httpGet"]["port"], 9081);
  const Json* svc = Find(out.desired, "Service", "sklearn-iris-predictor");
  EXPECT_EQ((*svc)["spec"]["ports"][0]["port"], 80);
  EXPECT_EQ((*svc)["spec"]["ports"][0]["targetPort"], 9081);  // KServe: the agent takes the component's port

  // Under Knative the agent would need KServe's webhook (queue-proxy re-pointed): refused, naming the field.
  k.isvc["metadata"]["annotations"]["serving.kserve.io/deploymentMode"] = "Knative";
  k.isvc.erase("status");
  k.cfg.knative_installed = true;
  out = k.Pass();
  EXPECT_EQ(Condition(out.status, "Ready"), "False");
  EXPECT_NE(Condition(out.status, "Ready", "message").find("spec.predictor.logger"), std::string::npos) << out.status.dump(2);
}

TEST(OperatorPipeline, CollocatedTransformerContainerRunsInThePredictorPod) {
  Cluster k{Isvc(std::string(kSklearn) +
                 "    containers:\n    - name: transformer-container\n      image: kserve/image-transformer:latest\n"
                 "      args: [--model_name, sklearn-iris, --predictor_host, localhost:8080, --http_port, \"8090\"]\n"
                 "      ports:\n      - containerPort: 8090\n        protocol: TCP\n")};
  PlanOutput out = k.Pass();
  const Json& pod = PodOf(out.desired[0]);
  ASSERT_EQ(pod["containers"].size(), 2u);
  const Json& side = pod["containers"][1];
  EXPECT_EQ(side["name"], "transformer-container");
  EXPECT_EQ(side["args"].size(), 6u);  // no flags appended (KServe appends none to a collocated container)
  EXPECT_EQ(side["volumeMounts"][0]["mountPath"], "/mnt/models");
  EXPECT_EQ(side["env"][0]["name"], "INFERENCE_SERVICE_NAME");
  EXPECT_EQ(side["readinessProbe"]["tcpSocket"]["port"], 8090);
  const Json* svc = Find(out.desired, "Service", "sklearn-iris-predictor");
  EXPECT_EQ((*svc)["spec"]["ports"][0]["targetPort"], 8090);  // port 80 reaches the transformer
  k.MarkAvailable("sklearn-iris-predictor");
  EXPECT_EQ(Condition(k.Pass().status, "Ready"), "True");
}

// The ServingRuntime may carry the transformer-container too: KServe merges it with the predictor's (args
// concatenated) and appends the runtime's other containers.
TEST(OperatorPipeline, CollocationMergesTheRuntimesTransformerContainer) {
  Json runtime = Json::parse(R"({"apiVersion":"serving.kserve.io/v1alpha1","kind":"ServingRuntime",
      "metadata":{"name":"with-transformer","namespace":"default"},
      "spec":{"supportedModelFormats":[{"name":"sklearn","autoSelect":true,"priority":9}],
              "containers":[{"name":"kserve-container","image":"inferd:0.1.0","args":["model-server","--model_dir=/mnt/models"]},
                            {"name":"transformer-container","image":"example/transformer:1","args":["--http_port=8090"],
                             "env":[{"name":"A","value":"runtime"},{"name":"B","value":"runtime"}]},
                            {"name":"sidecar","image":"example/sidecar:1"}]}})");
  Json isvc = Isvc(std::string(kSklearn) + "    containers:\n    - name: transformer-container\n"
                   "      args: [--predictor_host=localhost:8080]\n      env:\n      - name: B\n        value: isvc\n");
  PlanOutput out = PlanService(PlanInput{isvc, {runtime}, {}, {}, OperatorConfig{}, "2026-12-07T00:00:00Z"});
  ASSERT_FALSE(out.desired.empty()) << out.status.dump(2);
  const Json& cts = PodOf(out.desired[0])["containers"];
  ASSERT_EQ(cts.size(), 3u) << cts.dump(2);
  EXPECT_EQ(cts[1]["name"], "transformer-container");
  EXPECT_EQ(cts[1]["image"], "example/transformer:1");
  EXPECT_EQ(cts[1]["args"], Json::parse(R"(["--http_port=8090","--predictor_host=localhost:8080"])"));
  EXPECT_EQ(cts[1]["env"], Json::parse(R"([{"name":"A","value":"runtime"},{"name":"B","value":"isvc"},
      {"name":"INFERENCE_SERVICE_NAME","value":"sklearn-iris"}])"));
  EXPECT_EQ(cts[2]["name"], "sidecar");
}

TEST(OperatorPipeline, KnativeModeGivesEachComponentItsService) {
  Cluster k{Isvc("metadata:\n  annotations:\n    serving.kserve.io/deploymentMode: Knative\n" + std::string(kTransformer), "kt")};
  k.cfg.knative_installed = true;
  PlanOutput out = k.Pass();
  EXPECT_EQ(Kinds(out.desired), Json::parse(R"(["Service/kt-predictor","Service/kt-transformer"])"));
  for (const char* n : {"kt-predictor", "kt-transformer"}) {
    Json* ksvc = k.Child("Service", n);
    ASSERT_NE(ksvc, nullptr);
    (*ksvc)["status"] = {{"latestCreatedRevisionName", std::string(n) + "-00001"},
                         {"latestReadyRevisionName", std::string(n) + "-00001"},
                         {"url", std::string("http://") + n + ".default.example.com"},
                         {"conditions", {{{"type", "Ready"}, {"status", "True"}}}}};
  }
  out = k.Pass();
  EXPECT_EQ(Condition(out.status, "TransformerReady"), "True");
  EXPECT_EQ(Condition(out.status, "Ready"), "True") << out.status.dump(2);
  EXPECT_EQ(out.status["url"], "http://kt-transformer.default.example.com");
  EXPECT_EQ(out.status["components"]["transformer"]["url"], "http://kt-transformer.default.example.com");
}

// Objects from a cluster are not trusted: odd shapes give a not-Ready status or an error, never a crash.
TEST(OperatorPlan, HostileObjectsDoNotCrash) {
  OperatorConfig cfg;
  auto plan = [&](const Json& isvc, std::vector<Json> runtimes, std::vector<Json> children) {
    return PlanService(PlanInput{isvc, std::move(runtimes), {}, std::move(children), cfg, "2026-12-07T00:00:00Z"});
  };
  for (const char* bad : {R"(null)", R"([])", R"({})", R"({"metadata":5})", R"({"metadata":{"name":7},"spec":[]})",
                          R"({"apiVersion":"serving.kserve.io/v1beta1","kind":"InferenceService","metadata":{"name":"x","uid":"u"},"spec":{"predictor":5}})",
                          R"({"apiVersion":"serving.kserve.io/v1beta1","kind":"InferenceService","metadata":{"name":"x","uid":"u"},"status":"weird",
                              "spec":{"predictor":{"sklearn":{"storageUri":"gs://b/m"}}}})"}) {
    PlanOutput out = plan(Json::parse(bad), {}, {});
    EXPECT_TRUE(out.actions.empty() || out.error.empty()) << bad;
  }
  // A namespace runtime with ports of the wrong types, and children of odd shapes.
  Json isvc = Json::parse(R"({"apiVersion":"serving.kserve.io/v1beta1","kind":"InferenceService",
      "metadata":{"name":"x","namespace":"default","uid":"u"},
      "spec":{"predictor":{"model":{"modelFormat":{"name":"sklearn"},"runtime":"odd","storageUri":"gs://b/m"}}}})");
  Json runtime = Json::parse(R"({"apiVersion":"serving.kserve.io/v1alpha1","kind":"ServingRuntime",
      "metadata":{"name":"odd","namespace":"default"},
      "spec":{"supportedModelFormats":[{"name":"sklearn","autoSelect":true}],
              "containers":[{"name":"kserve-container","image":"x:1","ports":[{"containerPort":"8080","name":7,"protocol":[]}],
                             "env":[5,{"name":3}]}]}})");
  Json odd_child = Json::parse(R"({"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"x-predictor","namespace":"default",
      "ownerReferences":[{"uid":"u","controller":true}],"annotations":{"inferd.io/revision":"x-predictor-00001"}},
      "spec":"nope","status":{"conditions":"nope"}})");
  PlanOutput out = plan(isvc, {runtime}, {odd_child, Json::parse("[1,2]"), Json::parse(R"({"metadata":{"ownerReferences":"u"}})")});
  EXPECT_TRUE(out.error.empty()) << out.error;
  bool service_ok = false;
  for (const auto& o : out.desired) {
    if (o["kind"] == "Service") service_ok = o["spec"]["ports"][0]["targetPort"] == 8080;
  }
  EXPECT_TRUE(service_ok);
}

}  // namespace
}  // namespace inferd::op
