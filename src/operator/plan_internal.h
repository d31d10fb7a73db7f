// operator/plan_internal.h: the builders behind PlanService (plan.h), shared by plan.cc, workloads.cc and
// routing.cc. Pure; not a public interface.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "control/plan.h"
#include "operator/plan.h"

namespace inferd::op::internal {

// One component of one InferenceService, resolved.
struct Component {
  std::string isvc, ns, uid;
  std::string component = "predictor";  // predictor | transformer | explainer
  // <isvc>-predictor (or <isvc>-<spec.predictor.name>-predictor), <isvc>-transformer, <isvc>-explainer
  std::string name;
  resources::ComponentSpec spec;
  // The component as written (spec.predictor, spec.transformer; an `art` explainer in its containers form).
  Json written;
  std::optional<resources::RuntimeChoice> runtime;  // unset for custom containers
  Json labels = Json::object();       // metadata labels of every child of the component
  Json annotations = Json::object();  // metadata annotations of every child of the component
  std::string autoscaler_class;       // serving.kserve.io/autoscalerClass ("" = hpa)
  // Flags KServe's controller appends to the first container unless its args already name them
  // ({flag, value} pairs: a transformer's --model_name, --predictor_host, --http_port, --workers).
  std::vector<std::pair<std::string, std::string>> kserve_args;
  Json logger;  // the component's `logger` as written (null: none)
};

// The components of one InferenceService on a cluster (components.cc).
struct Components {
  Component predictor;
  std::vector<Component> others;  // the transformer, then the explainer, when given
};

// Labels and annotations of every child of `c` (the runtime's, the isvc's and the component's, then KServe's
// serving.kserve.io/inferenceservice and component) and its autoscaler class.
void SetComponentMetadata(Component& c);
// The InferenceService without its transformer and explainer, which the operator validates and resolves
// itself (ResolveOther): the predictor is validated and resolved on this copy (its logger with the API's rules).
Json WithoutOperatorFields(const Json& isvc);

// Resolves spec.transformer or spec.explainer (`which`) beside the resolved predictor: KServe's validation and
// resolution of a custom-container component (resources::ResolvePredictor's rules, messages naming
// spec.<which>), an `art` explainer turned into its container (inferd's image running `inferd art-explainer`,
// or cfg.art_explainer_image), and the flags KServe appends. Error: InvalidArgument naming the field.
Status ResolveOther(const Json& isvc, const std::string& which, const OperatorConfig& cfg, const Component& predictor,
                    Component& out);

// What the payload logger and the batcher need in the pod (KServe's agent sidecar, or inferd's own flags):
// applied to a built pod spec of `c`. A container running inferd's image as `inferd model-server` gets
// `--log_url ... --component <c>` and the batcher flags; any other gets KServe's agent container (port 9081,
// the Service retargeted by BuildService). Error: a logger field neither can honour, naming it.
// `mode` is Standard or Knative (the agent needs KServe's webhook under Knative: refused there).
Status AddLoggerAndBatcher(const Component& c, const OperatorConfig& cfg, const std::string& mode, Json& pod_spec);
// The agent container's port when the pod has KServe's agent (0: none).
int AgentPort(const Json& pod_spec);

// True when the args list names `flag` (`--flag` alone or `--flag=value`), as KServe's IncludesArg.
bool HasArg(const Json& args, const std::string& flag);
// Every `from` in `s` replaced by `to`.
void ReplaceAll(std::string& s, std::string_view from, const std::string& to);

Json OwnerReference(const Component& c);
// apiVersion, kind, metadata{name, namespace, labels, annotations, ownerReferences}.
Json ObjectMeta(const Component& c, const char* api_version, const char* kind, const std::string& name);

// The pod spec of the component's current template (containers, init container, volumes, pod fields).
StatusOr<Json> PodSpec(const Component& c, const OperatorConfig& cfg);

// Deployment `name` running `pod_spec`; `app` is the selector label value (isvc.<name>).
Json BuildDeployment(const Component& c, const std::string& name, const Json& pod_spec, const std::string& revision,
                     const std::string& hash);
Json BuildService(const Component& c, const std::string& name, const Json& pod_spec);
// nullopt for autoscalerClass none/external (and keda, refused earlier).
std::optional<Json> BuildHpa(const Component& c, const std::string& name);

struct Backend {
  std::string service;
  int weight = 100;
};
std::string HostName(const Component& c, const OperatorConfig& cfg, const std::string& name);
// Where the InferenceService's requests go (KServe's ingress reconcilers): the top-level host to `entry`
// (the transformer, else the predictor's backends), `:explain` (^/v1/models/[\w-]+:explain$) to the
// explainer when there is one, and each component's own host `<component name>-<ns>.<domain>` to it.
struct Route {
  std::string name;  // the host's name: the InferenceService's, or a component's
  std::vector<Backend> backends;
  int timeout_seconds = 60;
};
struct Routes {
  Route entry;
  std::optional<Route> explainer;
  std::vector<Route> components;  // the predictor's, then the transformer's and the explainer's
};
Json BuildIngress(const Component& c, const OperatorConfig& cfg, const Routes& routes);
std::vector<Json> BuildHttpRoutes(const Component& c, const OperatorConfig& cfg, const Routes& routes);
// Knative Service `c.name`; `traffic` from control::PlanTraffic (the newest one is latestRevision).
Json BuildKnativeService(const Component& c, const Json& pod_spec, const std::vector<control::TrafficTarget>& traffic);

}  // namespace inferd::op::internal
