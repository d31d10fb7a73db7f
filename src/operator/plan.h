// operator/plan.h: `inferd operator`'s decisions, as pure functions: from an InferenceService, the
// (Cluster)ServingRuntimes, the operator's configuration and the children it observed, the Kubernetes
// objects that should exist (KServe's Standard/RawDeployment output, or a Knative Service in Knative
// mode), the create/update/delete actions that get there, and the InferenceService's status.
//
// Contract:
// - Pure: every input is an argument (the time `now` too); no I/O, no clock, no locks. The controller
//   (controller.h) observes, calls PlanService and performs the actions.
// - Same decisions as `inferd serve` by construction: the predictor is resolved with
//   resources::ResolvePredictor (KServe's validation: the fields not supported yet are refused with the
//   field's path), the transformer and explainer with the same rules (components.cc), the runtime chosen with resources::SelectRuntime,
//   revisions named and hashed with control::RevisionHash/RevisionName, traffic split with
//   control::PlanTraffic, model state with control::PlanReadiness, the status written by
//   control::ToJson (same keys, conditions and lastTransitionTime rules; plus status.deploymentMode).
// - Mode (KServe's GetDeploymentMode): status.deploymentMode (sticky), else the annotation
//   serving.kserve.io/deploymentMode (Standard|RawDeployment|Knative|Serverless), else the configured default.
//   Knative mode without Knative installed is not Ready (KnativeNotInstalled); nothing is created then.
// - Standard mode objects (docs/kubernetes.md "The operator" lists them with their fields):
//   Deployment + Service + HPA `<isvc>-predictor` (HPA only for autoscalerClass hpa/absent; Deployment
//   replicas only for autoscalerClass none), Ingress `<isvc>` or HTTPRoutes `<isvc>` and `<isvc>-predictor`
//   once the predictor is ready. The model: a storage-initializer init container filling an emptyDir at
//   /mnt/models (KServe's webhook does that on a KServe cluster; here no webhook exists, so the plan puts
//   it in the pod template), or the PVC itself for pvc://claim/path.
// - Canary (canaryTrafficPercent set): the last rolled-out revision keeps running as Deployment/Service/HPA
//   `<isvc>-predictor-prev` (its pod template copied from the Deployment that ran it) beside the new one
//   in `<isvc>-predictor`; an HTTPRoute splits by weight; a plain Ingress cannot, so it sends everything to
//   the rolled-out revision and IngressReady is False (TrafficSplitNotSupported) naming the field. Without a
//   canary, a new revision replaces the pod template of `<isvc>-predictor` (the Deployment's rolling update
//   is the rollout, as in KServe).
// - Transformer and explainer (KServe's components/transformer.go, explainer.go): Deployment + Service + HPA
//   (or a Knative Service) `<isvc>-transformer` / `<isvc>-explainer`, one revision at a time (no canary: refused);
//   the transformer's container gets KServe's --model_name, --predictor_host <predictor>.<ns>, --http_port
//   8080 and --workers (containerConcurrency) unless its args name them; `art` runs inferd's image as
//   `inferd art-explainer` with KServe's art-server flags (OperatorConfig::art_explainer_image for another).
//   The ingress waits for every component; the top-level host goes to the transformer when there is one,
//   `:explain` to the explainer (HTTPRoute: KServe's regular expression; Ingress: the Exact path
//   /v1/models/<isvc>:explain). Status: components.<c>, TransformerReady/ExplainerReady, Ready over all.
//   KServe's collocation (transformer-container beside the model) runs in the predictor's pod.
// - logger/batcher of any component: `inferd model-server` containers get inferd's flags (no extra hop);
//   any other container gets KServe's agent sidecar as KServe's webhook injects it, except in Knative mode
//   (refused: it needs KServe's webhook there) and blob-storage logger fields (refused, naming the field).
// - Children carry the controller ownerReference, the labels serving.kserve.io/inferenceservice and
//   component, and the Deployments the annotations inferd.io/revision and inferd.io/revision-hash.
//   Owned children of a managed kind that are not desired are deleted, except an existing Ingress/HTTPRoute
//   while the predictor is not ready (KServe leaves it too).
// - An update is planned only when the desired object is not contained in the observed one (ChildDrifted:
//   server defaults and status do not count); the updated object is the observed one with the desired
//   metadata labels/annotations/ownerReferences set and the desired spec merged in (UpdatedChild), so it
//   keeps its resourceVersion and server-assigned fields (a Service's clusterIP).
#pragma once

#include <string>
#include <vector>

#include "control/isvc_status.h"
#include "resources/resources.h"

namespace inferd::op {

using resources::Json;

inline constexpr char kRevisionAnnotation[] = "inferd.io/revision";
inline constexpr char kRevisionHashAnnotation[] = "inferd.io/revision-hash";
inline constexpr char kFinalizer[] = "inferenceservice.finalizers";

struct OperatorConfig {
  std::string ingress_domain = "example.com";
  std::string domain_template = "{{ .Name }}-{{ .Namespace }}.{{ .IngressDomain }}";
  std::string url_scheme = "http";
  std::string ingress_class;  // "" = the cluster's default IngressClass (ingressClassName left out)
  bool gateway_api = false;   // HTTPRoutes instead of an Ingress
  std::string gateway = "kserve/kserve-ingress-gateway";  // namespace/name of the parent Gateway
  bool disable_ingress_creation = false;
  std::string default_deployment_mode = "Standard";  // Standard | Knative
  bool knative_installed = false;
  // Replaces the image "inferd" of inferd's built-in runtimes; the tag config/runtimes/ uses.
  std::string model_server_image = "inferd:0.1.0";
  std::string storage_initializer_image = "kserve/storage-initializer:v0.15.2";
  // The image of `spec.explainer.art`: "" = model_server_image running `inferd art-explainer` (inferd's own
  // SquareAttack); KServe's "kserve/art-explainer" runs its Python art server with the same flags. A
  // runtimeVersion replaces the tag, as KServe does.
  std::string art_explainer_image;
  // KServe's agent sidecar, injected for a logger or batcher on a container that is not `inferd model-server`.
  std::string agent_image = "kserve/agent:v0.15.2";
  std::string logger_default_url = "http://default-broker";  // a logger without url (KServe's defaultUrl)
};

struct PlanInput {
  Json isvc;                             // the InferenceService as observed (metadata.uid set)
  std::vector<Json> ns_runtimes;         // ServingRuntimes in its namespace
  std::vector<Json> cluster_runtimes;    // ClusterServingRuntimes
  std::vector<Json> children;            // observed objects in its namespace (any owner; filtered here)
  OperatorConfig config;
  std::string now;                       // RFC 3339, for the status' transition times
};

enum class ActionKind { kCreate, kUpdate, kDelete };
struct ChildAction {
  ActionKind kind;
  Json object;  // create: the desired object; update: the observed one updated; delete: the observed one
};

struct PlanOutput {
  std::string mode;               // "Standard" | "Knative"
  std::vector<Json> desired;      // every child that should exist, as built
  std::vector<ChildAction> actions;
  Json status;                    // the InferenceService's new .status
  bool status_changed = false;    // differs from the observed .status
  std::string error;              // non-empty: the objects could not be planned (nothing to do; retry later)
};

PlanOutput PlanService(const PlanInput& in);

// The kinds of children the operator manages: {apiVersion, kind, plural resource}.
struct ChildKind {
  const char* api_version;
  const char* kind;
  const char* resource;
};
const std::vector<ChildKind>& ManagedKinds();

// True when `child` has a controller ownerReference to the object with `uid`.
bool OwnedBy(const Json& child, const std::string& uid);

// True when `desired` is not contained in `observed` (objects: every desired key present and contained;
// arrays: same length, element-wise contained; scalars: equal). Only metadata.labels, metadata.annotations,
// metadata.ownerReferences and spec are compared.
bool ChildDrifted(const Json& observed, const Json& desired);
Json UpdatedChild(const Json& observed, const Json& desired);

// A Deployment's readiness as KServe's PropagateRawStatus reads its conditions: "True" | "False" | "Unknown",
// with the Deployment's reason and message when not True.
control::ConditionStatus DeploymentReadiness(const Json& deployment);

}  // namespace inferd::op
