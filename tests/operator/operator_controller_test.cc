// Tests of operator/controller.h against the fake Kubernetes API server (tests/kube/fake_api_server.h, a
// TEST DOUBLE: no real API server runs here). Each test starts the controller's real threads (reflectors,
// work queue, worker) over HTTP to the fake and waits, with generous bounds, for the cluster to converge.
#include "operator/controller.h"

#include <chrono>
#include <functional>
#include <thread>

#include <gtest/gtest.h>

#include "kube/fake_api_server.h"
#include "operator/rbac.h"

namespace inferd::op {
namespace {

using kube::Gvr;
using kube::testing::FakeApiServer;

const Gvr kIsvc = IsvcGvr();
const Gvr kDeploy{"apps", "v1", "deployments", true};
const Gvr kService{"", "v1", "services", true};
const Gvr kHpa{"autoscaling", "v2", "horizontalpodautoscalers", true};
const Gvr kIngress{"networking.k8s.io", "v1", "ingresses", true};

// Polls `cond` every 20 ms for up to 30 s (a loaded 2-core machine; the operator normally takes milliseconds).
bool WaitFor(const std::function<bool()>& cond) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (std::chrono::steady_clock::now() < deadline) {
    if (cond()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return cond();
}

Json Sklearn(const std::string& name = "sklearn-iris", const std::string& uri = "gs://kfserving-examples/models/sklearn/1.0/model") {
  return Json::parse(R"({"apiVersion":"serving.kserve.io/v1beta1","kind":"InferenceService",
    "metadata":{"name":")" + name + R"(","namespace":"default"},
    "spec":{"predictor":{"model":{"modelFormat":{"name":"sklearn"},"storageUri":")" + uri + R"("}}}})");
}

std::string ConditionOf(const std::optional<Json>& obj, const std::string& type) {
  if (!obj || !obj->contains("status") || !(*obj)["status"].contains("conditions")) return "";
  for (const auto& c : (*obj)["status"]["conditions"]) {
    if (c.value("type", "") == type) return c.value("status", "");
  }
  return "";
}

class OperatorControllerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    fake_.RegisterKind(kIsvc, "InferenceService");
    fake_.RegisterKind(Gvr{"serving.kserve.io", "v1alpha1", "clusterservingruntimes", false}, "ClusterServingRuntime");
    fake_.RegisterKind(Gvr{"serving.kserve.io", "v1alpha1", "servingruntimes", true}, "ServingRuntime");
    fake_.RegisterKind(kDeploy, "Deployment");
    fake_.RegisterKind(kService, "Service");
    fake_.RegisterKind(kHpa, "HorizontalPodAutoscaler");
    fake_.RegisterKind(kIngress, "Ingress");
    fake_.RegisterKind(Gvr{"coordination.k8s.io", "v1", "leases", true}, "Lease");
    client_ = std::make_unique<kube::KubeClient>(fake_.Config());
  }

  ControllerOptions Options() {
    ControllerOptions o;
    o.reflector_initial_backoff = std::chrono::milliseconds(50);
    o.reflector_max_backoff = std::chrono::milliseconds(500);
    o.rate.base_delay = std::chrono::milliseconds(10);
    o.rate.max_delay = std::chrono::milliseconds(500);
    return o;
  }
  void StartOperator() {
    controller_ = std::make_unique<Controller>(*client_, Options());
    controller_->Start();
    ASSERT_TRUE(WaitFor([&] { return controller_->HasSynced(); }));
  }
  std::optional<Json> Get(const Gvr& gvr, const std::string& name) { return fake_.Object(gvr, "default", name); }
  // Sets a Deployment's status as the deployment controller would once its pods are ready.
  void MarkAvailable(const std::string& name) {
    ASSERT_TRUE(WaitFor([&] { return Get(kDeploy, name).has_value(); }));
    Json d = *Get(kDeploy, name);
    d["status"] = {{"observedGeneration", d["metadata"].value("generation", 1)},
                   {"replicas", 1},
                   {"readyReplicas", 1},
                   {"conditions", {{{"type", "Available"}, {"status", "True"}, {"reason", "MinimumReplicasAvailable"}}}}};
    fake_.Put(kDeploy, d);
  }
  Json Create(const Json& isvc) {
    auto r = client_->Create(kIsvc, "default", isvc);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? *r : Json();
  }

  FakeApiServer fake_;
  std::unique_ptr<kube::KubeClient> client_;
  std::unique_ptr<Controller> controller_;
};

TEST_F(OperatorControllerTest, SklearnSampleBecomesReady) {
  StartOperator();
  const Json isvc = Create(Sklearn());
  const std::string uid = isvc["metadata"]["uid"];
  for (const Gvr* g : {&kDeploy, &kService, &kHpa}) {
    ASSERT_TRUE(WaitFor([&] { return Get(*g, "sklearn-iris-predictor").has_value(); })) << g->plural;
    EXPECT_TRUE(OwnedBy(*Get(*g, "sklearn-iris-predictor"), uid)) << g->plural;
  }
  ASSERT_TRUE(WaitFor([&] { return ConditionOf(Get(kIsvc, "sklearn-iris"), "Ready") == "False"; }));
  auto obj = Get(kIsvc, "sklearn-iris");
  EXPECT_EQ((*obj)["metadata"]["finalizers"], Json::array({kFinalizer}));
  EXPECT_EQ((*obj)["status"]["deploymentMode"], "Standard");
  MarkAvailable("sklearn-iris-predictor");
  ASSERT_TRUE(WaitFor([&] { return ConditionOf(Get(kIsvc, "sklearn-iris"), "Ready") == "True"; }))
      << Get(kIsvc, "sklearn-iris")->dump(2);
  obj = Get(kIsvc, "sklearn-iris");
  EXPECT_EQ((*obj)["status"]["url"], "http://sklearn-iris-default.example.com");
  EXPECT_EQ((*obj)["status"]["observedGeneration"], (*obj)["metadata"]["generation"]);
  ASSERT_TRUE(WaitFor([&] { return Get(kIngress, "sklearn-iris").has_value(); }));
  // Converged: no more writes once everything is as wanted (the status is written only when it changes).
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  const auto before = controller_->counters();
  std::this_thread::sleep_for(std::chrono::milliseconds(1000));
  const auto after = controller_->counters();
  EXPECT_EQ(after.creates + after.updates + after.deletes + after.status_writes,
            before.creates + before.updates + before.deletes + before.status_writes);
}

TEST_F(OperatorControllerTest, SpecUpdateReachesTheDeploymentAndDeletedChildrenComeBack) {
  StartOperator();
  Create(Sklearn());
  ASSERT_TRUE(WaitFor([&] { return Get(kHpa, "sklearn-iris-predictor").has_value(); }));
  // Update the spec (a PUT as kubectl replace does, with the read resourceVersion).
  ASSERT_TRUE(WaitFor([&] {
    Json cur = *Get(kIsvc, "sklearn-iris");
    cur["spec"]["predictor"]["model"]["storageUri"] = "gs://kfserving-examples/models/sklearn/2.0/model";
    return client_->Update(kIsvc, "default", cur).ok();
  }));
  ASSERT_TRUE(WaitFor([&] {
    auto d = Get(kDeploy, "sklearn-iris-predictor");
    return d && (*d)["spec"]["template"]["spec"]["initContainers"][0]["args"][0] ==
                    "gs://kfserving-examples/models/sklearn/2.0/model";
  }));
  // Someone deletes the Service and the HPA: both come back.
  ASSERT_TRUE(fake_.Drop(kService, "default", "sklearn-iris-predictor"));
  ASSERT_TRUE(fake_.Drop(kHpa, "default", "sklearn-iris-predictor"));
  EXPECT_TRUE(WaitFor([&] { return Get(kService, "sklearn-iris-predictor").has_value(); }));
  EXPECT_TRUE(WaitFor([&] { return Get(kHpa, "sklearn-iris-predictor").has_value(); }));
  // Someone edits the Deployment's image: put back.
  Json d = *Get(kDeploy, "sklearn-iris-predictor");
  d["spec"]["template"]["spec"]["containers"][0]["image"] = "someone-else:1";
  fake_.Put(kDeploy, d);
  EXPECT_TRUE(WaitFor([&] {
    return (*Get(kDeploy, "sklearn-iris-predictor"))["spec"]["template"]["spec"]["containers"][0]["image"] == "inferd:0.1.0";
  }));
}

// Issue 15: a transformer and an ART explainer beside the predictor, each with its own children; status from
// all of them; the ingress once all three serve, the top-level host to the transformer, :explain to the explainer.
TEST_F(OperatorControllerTest, TransformerAndExplainerBecomeReadyWithTheirRoutes) {
  StartOperator();
  Json isvc = Sklearn("pipeline");
  isvc["spec"]["transformer"] = Json::parse(R"({"containers":[{"name":"kserve-container","image":"kserve/image-transformer:latest",
      "command":["python","-m","model"]}]})");
  isvc["spec"]["explainer"] = Json::parse(R"({"art":{"type":"SquareAttack","config":{"nb_classes":"10"}}})");
  const std::string uid = Create(isvc)["metadata"]["uid"];
  for (const char* n : {"pipeline-predictor", "pipeline-transformer", "pipeline-explainer"}) {
    for (const Gvr* g : {&kDeploy, &kService, &kHpa}) {
      ASSERT_TRUE(WaitFor([&] { return Get(*g, n).has_value(); })) << n << " " << g->plural;
      EXPECT_TRUE(OwnedBy(*Get(*g, n), uid)) << n;
    }
  }
  const Json transformer = *Get(kDeploy, "pipeline-transformer");
  const Json& args = transformer["spec"]["template"]["spec"]["containers"][0]["args"];
  EXPECT_EQ(args, Json::parse(R"(["--model_name","pipeline","--predictor_host","pipeline-predictor.default","--http_port","8080"])"));
  MarkAvailable("pipeline-predictor");
  MarkAvailable("pipeline-explainer");
  ASSERT_TRUE(WaitFor([&] { return ConditionOf(Get(kIsvc, "pipeline"), "ExplainerReady") == "True"; }));
  EXPECT_EQ(ConditionOf(Get(kIsvc, "pipeline"), "TransformerReady"), "False");
  EXPECT_EQ(ConditionOf(Get(kIsvc, "pipeline"), "Ready"), "False");
  EXPECT_FALSE(Get(kIngress, "pipeline").has_value());  // not before the transformer serves
  MarkAvailable("pipeline-transformer");
  ASSERT_TRUE(WaitFor([&] { return ConditionOf(Get(kIsvc, "pipeline"), "Ready") == "True"; }))
      << Get(kIsvc, "pipeline")->dump(2);
  const Json status = (*Get(kIsvc, "pipeline"))["status"];
  EXPECT_EQ(status["components"]["transformer"]["latestReadyRevision"], "pipeline-transformer-00001");
  EXPECT_EQ(status["components"]["explainer"]["latestReadyRevision"], "pipeline-explainer-00001");
  EXPECT_EQ(status["address"]["url"], "http://pipeline-transformer.default.svc.cluster.local");
  ASSERT_TRUE(WaitFor([&] { return Get(kIngress, "pipeline").has_value(); }));
  const Json top = (*Get(kIngress, "pipeline"))["spec"]["rules"][0]["http"]["paths"];
  EXPECT_EQ(top[0]["path"], "/v1/models/pipeline:explain");
  EXPECT_EQ(top[0]["backend"]["service"]["name"], "pipeline-explainer");
  EXPECT_EQ(top[1]["backend"]["service"]["name"], "pipeline-transformer");
  // Removing the explainer from the spec deletes its children and its route.
  ASSERT_TRUE(WaitFor([&] {
    Json cur = *Get(kIsvc, "pipeline");
    cur["spec"].erase("explainer");
    return client_->Update(kIsvc, "default", cur).ok();
  }));
  EXPECT_TRUE(WaitFor([&] { return !Get(kDeploy, "pipeline-explainer").has_value() && !Get(kService, "pipeline-explainer").has_value(); }));
  EXPECT_TRUE(WaitFor([&] {
    auto ing = Get(kIngress, "pipeline");
    return ing && (*ing)["spec"]["rules"][0]["http"]["paths"].size() == 1;
  }));
}

TEST_F(OperatorControllerTest, SurvivesServerErrorsConflictsAndWatchExpiry) {
  // The operator's first writes fail: 500s on creating Deployments, 409s on the status.
  Create(Sklearn());
  fake_.FailNext(3, 500, "InternalError", "POST /apis/apps/");
  fake_.FailNext(2, 409, "Conflict", "/status");
  StartOperator();
  ASSERT_TRUE(WaitFor([&] { return Get(kHpa, "sklearn-iris-predictor").has_value(); }));
  MarkAvailable("sklearn-iris-predictor");
  ASSERT_TRUE(WaitFor([&] { return ConditionOf(Get(kIsvc, "sklearn-iris"), "Ready") == "True"; }));
  EXPECT_GT(controller_->counters().errors, 0u);
  // The watches expire (history compacted, streams closed): the reflectors relist and go on.
  fake_.CompactHistory();
  fake_.CloseWatches();
  Create(Sklearn("second"));
  EXPECT_TRUE(WaitFor([&] { return Get(kDeploy, "second-predictor").has_value(); }));
  fake_.FailNext(2, 503, "ServiceUnavailable", "");
  ASSERT_TRUE(fake_.Drop(kService, "default", "second-predictor"));
  EXPECT_TRUE(WaitFor([&] { return Get(kService, "second-predictor").has_value(); }));
}

TEST_F(OperatorControllerTest, DeletionRunsTheFinalizer) {
  StartOperator();
  Create(Sklearn());
  ASSERT_TRUE(WaitFor([&] {
    auto o = Get(kIsvc, "sklearn-iris");
    return o && o->contains("metadata") && (*o)["metadata"].contains("finalizers") && Get(kHpa, "sklearn-iris-predictor");
  }));
  ASSERT_TRUE(client_->Delete(kIsvc, "default", "sklearn-iris").ok());
  // The finalizer keeps it until the operator cleaned up; then it is gone with its children.
  EXPECT_TRUE(WaitFor([&] { return !Get(kIsvc, "sklearn-iris").has_value(); }));
  EXPECT_TRUE(WaitFor([&] {
    return !Get(kDeploy, "sklearn-iris-predictor") && !Get(kService, "sklearn-iris-predictor") &&
           !Get(kHpa, "sklearn-iris-predictor");
  }));
}

TEST_F(OperatorControllerTest, TwoOperatorsOneLeader) {
  ControllerOptions a = Options(), b = Options();
  a.leader_elect = b.leader_elect = true;
  a.leader.identity = "operator-a";
  b.leader.identity = "operator-b";
  Controller ca(*client_, a), cb(*client_, b);
  ca.Start();
  cb.Start();
  ASSERT_TRUE(WaitFor([&] { return ca.IsLeader() || cb.IsLeader(); }));
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  EXPECT_NE(ca.IsLeader(), cb.IsLeader());
  auto lease = fake_.Object(Gvr{"coordination.k8s.io", "v1", "leases", true}, "default", "inferd-operator-leader");
  ASSERT_TRUE(lease.has_value());
  EXPECT_EQ((*lease)["spec"]["holderIdentity"], ca.IsLeader() ? "operator-a" : "operator-b");
  Create(Sklearn());
  ASSERT_TRUE(WaitFor([&] { return Get(kHpa, "sklearn-iris-predictor").has_value(); }));
  EXPECT_EQ((ca.IsLeader() ? cb : ca).counters().reconciles, 0u);  // the other one only watched
  // The leader stops (releasing the Lease): the other one takes over and keeps reconciling.
  Controller& leader = ca.IsLeader() ? ca : cb;
  Controller& other = ca.IsLeader() ? cb : ca;
  leader.Stop();
  ASSERT_TRUE(WaitFor([&] { return other.IsLeader(); }));
  ASSERT_TRUE(fake_.Drop(kService, "default", "sklearn-iris-predictor"));
  EXPECT_TRUE(WaitFor([&] { return Get(kService, "sklearn-iris-predictor").has_value(); }));
}

// Every request the operator made is allowed by the rules `--print-rbac` prints (and config/ grants).
TEST_F(OperatorControllerTest, RequestsAreCoveredByRbacRules) {
  ControllerOptions o = Options();
  o.leader_elect = true;
  o.leader.identity = "operator-a";
  controller_ = std::make_unique<Controller>(*client_, o);
  controller_->Start();
  Create(Sklearn());
  ASSERT_TRUE(WaitFor([&] { return Get(kHpa, "sklearn-iris-predictor").has_value(); }));
  MarkAvailable("sklearn-iris-predictor");
  ASSERT_TRUE(WaitFor([&] { return Get(kIngress, "sklearn-iris").has_value(); }));
  ASSERT_TRUE(fake_.Drop(kService, "default", "sklearn-iris-predictor"));
  ASSERT_TRUE(WaitFor([&] { return Get(kService, "sklearn-iris-predictor").has_value(); }));
  ASSERT_TRUE(client_->Delete(kIsvc, "default", "sklearn-iris").ok());
  ASSERT_TRUE(WaitFor([&] { return !Get(kIsvc, "sklearn-iris").has_value(); }));
  controller_->Stop();
  size_t checked = 0;
  for (const std::string& req : fake_.requests()) {
    // "METHOD /api/v1/namespaces/ns/services/name?query" or "/apis/group/version/...".
    const size_t sp = req.find(' ');
    const std::string method = req.substr(0, sp);
    std::string path = req.substr(sp + 1);
    const bool watch = path.find("watch=") != std::string::npos;
    path = path.substr(0, path.find('?'));
    std::vector<std::string> seg;
    for (size_t i = 1; i <= path.size();) {
      size_t j = path.find('/', i);
      if (j == std::string::npos) j = path.size();
      seg.push_back(path.substr(i, j - i));
      i = j + 1;
    }
    if (seg.empty()) continue;
    size_t k = seg[0] == "api" ? 2 : 3;
    const std::string group = seg[0] == "api" ? "" : seg[1];
    if (seg.size() > k + 1 && seg[k] == "namespaces") k += 2;
    if (seg.size() <= k) continue;
    const std::string plural = seg[k];
    const bool named = seg.size() > k + 1;
    const std::string resource = seg.size() > k + 2 ? plural + "/" + seg[k + 2] : plural;
    std::string verb = method == "GET"    ? (watch ? "watch" : named ? "get" : "list")
                       : method == "POST" ? "create"
                       : method == "PUT"  ? "update"
                       : method == "PATCH" ? "patch"
                                           : "delete";
    if (plural == "inferenceservices" && method == "POST") continue;  // the test's own create/delete
    if (plural == "inferenceservices" && method == "DELETE") continue;
    bool allowed = false;
    for (const auto& r : RbacRules()) {
      const bool g = std::find(r.api_groups.begin(), r.api_groups.end(), group) != r.api_groups.end();
      const bool res = std::find(r.resources.begin(), r.resources.end(), resource) != r.resources.end();
      const bool v = std::find(r.verbs.begin(), r.verbs.end(), verb) != r.verbs.end();
      allowed |= g && res && v;
    }
    EXPECT_TRUE(allowed) << req << " -> " << group << " " << resource << " " << verb;
    ++checked;
  }
  EXPECT_GT(checked, 10u);
}

}  // namespace
}  // namespace inferd::op
