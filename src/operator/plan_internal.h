// operator/plan_internal.h: the builders behind PlanService (plan.h), shared by plan.cc, workloads.cc and
// routing.cc. Pure; not a public interface.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "control/plan.h"
#include "operator/plan.h"

namespace inferd::op::internal {

// One component of one InferenceService, resolved.
struct Component {
  std::string isvc, ns, uid;
  std::string component = "predictor";
  std::string name;  // <isvc>-predictor, or <isvc>-<spec.predictor.name>-predictor
  resources::ComponentSpec spec;
  Json predictor;    // spec.predictor as written
  std::optional<resources::RuntimeChoice> runtime;  // unset for custom containers
  Json labels = Json::object();       // metadata labels of every child of the component
  Json annotations = Json::object();  // metadata annotations of every child of the component
  std::string autoscaler_class;       // serving.kserve.io/autoscalerClass ("" = hpa)
};

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
Json BuildIngress(const Component& c, const OperatorConfig& cfg, const std::string& backend_service);
std::vector<Json> BuildHttpRoutes(const Component& c, const OperatorConfig& cfg, const std::vector<Backend>& backends);
// Knative Service `<isvc>-predictor`; `traffic` from control::PlanTraffic (the newest one is latestRevision).
Json BuildKnativeService(const Component& c, const Json& pod_spec, const std::vector<control::TrafficTarget>& traffic);

}  // namespace inferd::op::internal
