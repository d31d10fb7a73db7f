// control/graphs.h: the control plane's side of InferenceGraphs (serving.kserve.io/v1alpha1): each pass compiles
// every graph (graph/graph.h's CompileGraph) for the gateway, which runs it itself (gateway.h, InferenceGraphs),
// and writes its status.
//
// Contract:
// - PredictTarget is KServe's controller's serviceName resolution (GetPredictorEndpoint,
//   /work/shared/reference/graph.md section 1): the InferenceService must exist and have status.address.url;
//   the path is /v1/models/<m>:predict or /v2/models/<m>/infer by its transformer's PROTOCOL env when it has a
//   transformer, else by its predictor's protocol, where a named runtime's first v1/v2 protocolVersions entry
//   wins (none of those: FailedPrecondition, as KServe); <m> is the --model_name of the transformer's args,
//   else of the predictor's args (or its MLSERVER_MODEL_NAME env), else the service's name.
// - PlanGraph (pure: objects and time in, no I/O) gives a graph's route and status. Route: the compiled graph,
//   or none with the reason (503 at the gateway). Status: `url` http://<graph>.<ns>.<domain>, `address.url`
//   the gateway's path form on loopback (as an InferenceService's), observedGeneration, and conditions:
//   `Ready` True only when the graph compiled and every InferenceService a step names is Ready; else False
//   with reason InferenceServiceNotFound / InferenceServiceNotReady naming the first such service, or
//   InvalidGraph with the compile error (e.g. a condition outside the supported gjson subset);
//   `RouterInGateway` (True) lists, when the spec has any, the fields that configure KServe's router pod and
//   so have no effect here (resources, affinity, tolerations, nodeSelector, nodeName, serviceAccountName,
//   minReplicas, maxReplicas, scaleTarget, scaleMetric, timeout, routerTimeouts.serverRead/serverIdle).
//   lastTransitionTime is kept for unchanged conditions.
// - GraphController::Pass (reconciler thread, every pass): lists graphs, InferenceServices and runtimes,
//   writes statuses that changed, and calls `publish` with every graph's route when the routes' fingerprint
//   (graph uid and generation, resolved targets, errors, warnings) changed since the last call, logging the
//   compiled graphs' warnings (a skipped header pattern) then, as KServe's router logs them.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "gateway/gateway.h"
#include "graph/graph.h"
#include "store/store.h"

namespace inferd::control {

struct GraphServeOptions {
  std::string domain = "example.com";
  int gateway_http_port = 0;                   // for status.address.url
  std::vector<std::string> propagate_headers;  // serve config `router: headers: propagate:`
};

// A ServingRuntime of the graph's namespace, else a ClusterServingRuntime, by name (null: none).
using RuntimeLookup = std::function<const store::Json*(const std::string& name)>;
// An InferenceService of the graph's namespace by name (null: none).
using IsvcLookup = std::function<const store::Json*(const std::string& name)>;

StatusOr<graph::ServiceTarget> PredictTarget(const store::Json& isvc, const RuntimeLookup& runtime);

struct GraphPlan {
  gateway::GraphRoute route;
  store::Json status;
  std::string fingerprint;  // what the route depends on
};

GraphPlan PlanGraph(const store::Json& graph_obj, const IsvcLookup& isvc, const RuntimeLookup& runtime,
                    const GraphServeOptions& options, const std::string& now);

class GraphController {
 public:
  using PublishFn = std::function<void(std::vector<gateway::GraphRoute>)>;
  GraphController(store::Store* db, GraphServeOptions options, PublishFn publish)
      : db_(db), options_(std::move(options)), publish_(std::move(publish)) {}
  void Pass(const std::string& now);

 private:
  store::Store* db_;
  GraphServeOptions options_;
  PublishFn publish_;
  std::string last_fingerprint_ = "-";  // "-": nothing published yet
};

}  // namespace inferd::control
