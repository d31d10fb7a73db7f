// operator/routing.cc: how requests reach a component: KServe's Kubernetes Ingress
// (reconcilers/ingress/kube_ingress_reconciler.go), Gateway API HTTPRoutes (httproute_reconciler.go) and, in
// Knative mode, the Knative Service with the KPA annotations (reconcilers/knative/ksvc_reconciler.go).
#include <string_view>

#include "operator/plan_internal.h"

namespace inferd::op::internal {

namespace {

void ReplaceAll(std::string& s, std::string_view from, const std::string& to) {
  for (size_t pos = 0; (pos = s.find(from, pos)) != std::string::npos; pos += to.size()) s.replace(pos, from.size(), to);
}

}  // namespace

// The domain template with {{ .Name }}, {{ .Namespace }} and {{ .IngressDomain }} (with or without the
// spaces KServe's default writes).
std::string HostName(const Component& c, const OperatorConfig& cfg, const std::string& name) {
  std::string host = cfg.domain_template;
  for (const char* sp : {"", " "}) {
    const std::string o = std::string("{{") + sp, e = std::string(sp) + "}}";
    ReplaceAll(host, o + ".Name" + e, name);
    ReplaceAll(host, o + ".Namespace" + e, c.ns);
    ReplaceAll(host, o + ".IngressDomain" + e, cfg.ingress_domain);
  }
  return host;
}

Json BuildIngress(const Component& c, const OperatorConfig& cfg, const std::string& backend_service) {
  Json ing = ObjectMeta(c, "networking.k8s.io/v1", "Ingress", c.isvc);
  Json rules = Json::array();
  for (const std::string& n : {c.isvc, c.name}) {
    Json path = {{"path", "/"},
                 {"pathType", "Prefix"},
                 {"backend", {{"service", {{"name", backend_service}, {"port", {{"number", 80}}}}}}}};
    rules.push_back({{"host", HostName(c, cfg, n)}, {"http", {{"paths", Json::array({std::move(path)})}}}});
  }
  ing["spec"] = Json::object();
  if (!cfg.ingress_class.empty()) ing["spec"]["ingressClassName"] = cfg.ingress_class;
  ing["spec"]["rules"] = std::move(rules);
  return ing;
}

std::vector<Json> BuildHttpRoutes(const Component& c, const OperatorConfig& cfg, const std::vector<Backend>& backends) {
  const std::string& gw = cfg.gateway;
  const size_t slash = gw.find('/');
  Json parent = {{"group", "gateway.networking.k8s.io"}, {"kind", "Gateway"}};
  parent["name"] = slash == std::string::npos ? gw : gw.substr(slash + 1);
  if (slash != std::string::npos) parent["namespace"] = gw.substr(0, slash);
  Json refs = Json::array();
  for (const auto& b : backends) {
    Json ref = {{"group", ""}, {"kind", "Service"}, {"name", b.service}, {"port", 80}};
    if (backends.size() > 1) ref["weight"] = b.weight;
    refs.push_back(std::move(ref));
  }
  Json headers = {{"set", {{{"name", "KServe-Isvc-Name"}, {"value", c.isvc}}, {{"name", "KServe-Isvc-Namespace"}, {"value", c.ns}}}}};
  Json rule = {{"matches", {{{"path", {{"type", "RegularExpression"}, {"value", "^/.*$"}}}}}},
               {"filters", {{{"type", "RequestHeaderModifier"}, {"requestHeaderModifier", std::move(headers)}}}},
               {"backendRefs", std::move(refs)},
               {"timeouts", {{"request", std::to_string(c.spec.timeout_seconds) + "s"}}}};
  std::vector<Json> routes;
  for (const std::string& n : {c.isvc, c.name}) {
    Json r = ObjectMeta(c, "gateway.networking.k8s.io/v1", "HTTPRoute", n);
    r["spec"] = {{"parentRefs", Json::array({parent})}, {"hostnames", Json::array({HostName(c, cfg, n)})}, {"rules", Json::array({rule})}};
    routes.push_back(std::move(r));
  }
  return routes;
}

Json BuildKnativeService(const Component& c, const Json& pod_spec, const std::vector<control::TrafficTarget>& traffic) {
  Json ksvc = ObjectMeta(c, "serving.knative.dev/v1", "Service", c.name);
  Json annotations = c.annotations;
  if (!annotations.contains("autoscaling.knative.dev/class")) annotations["autoscaling.knative.dev/class"] = "kpa.autoscaling.knative.dev";
  annotations["autoscaling.knative.dev/min-scale"] = std::to_string(c.spec.min_replicas);
  if (c.spec.max_replicas != 0) annotations["autoscaling.knative.dev/max-scale"] = std::to_string(c.spec.max_replicas);
  if (c.spec.scale_target) annotations["autoscaling.knative.dev/target"] = std::to_string(*c.spec.scale_target);
  if (c.spec.scale_metric) annotations["autoscaling.knative.dev/metric"] = *c.spec.scale_metric;
  Json labels = c.labels;
  labels["app"] = "isvc." + c.name;
  Json spec = pod_spec;
  // Knative probes the container itself (a probe naming a port other than the serving one is refused).
  for (auto& container : spec["containers"]) {
    if (container.contains("readinessProbe") && container["readinessProbe"].contains("tcpSocket")) container.erase("readinessProbe");
  }
  spec["containerConcurrency"] = c.spec.container_concurrency;
  if (c.predictor.contains("timeout")) spec["timeoutSeconds"] = c.spec.timeout_seconds;  // (else Knative's default)
  Json route = Json::array();
  for (const auto& t : traffic) {
    if (t.latest) {
      route.push_back({{"latestRevision", true}, {"percent", t.percent}});
    } else {
      route.push_back({{"revisionName", t.revision}, {"tag", "prev"}, {"latestRevision", false}, {"percent", t.percent}});
    }
  }
  if (route.empty()) route.push_back({{"latestRevision", true}, {"percent", 100}});
  ksvc["spec"] = {{"template", {{"metadata", {{"labels", std::move(labels)}, {"annotations", std::move(annotations)}}}, {"spec", std::move(spec)}}},
                  {"traffic", std::move(route)}};
  return ksvc;
}

}  // namespace inferd::op::internal
