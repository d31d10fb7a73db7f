// operator/routing.cc: how requests reach a component: KServe's Kubernetes Ingress
// (reconcilers/ingress/kube_ingress_reconciler.go), Gateway API HTTPRoutes (httproute_reconciler.go) and, in
// Knative mode, the Knative Service with the KPA annotations (reconcilers/knative/ksvc_reconciler.go).
#include <string_view>

#include "operator/plan_internal.h"

namespace inferd::op::internal {

void ReplaceAll(std::string& s, std::string_view from, const std::string& to) {
  for (size_t pos = 0; (pos = s.find(from, pos)) != std::string::npos; pos += to.size()) s.replace(pos, from.size(), to);
}

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

namespace {

Json IngressPath(const std::string& path, const char* type, const std::string& service) {
  return {{"path", path}, {"pathType", type}, {"backend", {{"service", {{"name", service}, {"port", {{"number", 80}}}}}}}};
}

Json IngressRule(const std::string& host, Json paths) {
  return {{"host", host}, {"http", {{"paths", std::move(paths)}}}};
}

}  // namespace

// A Kubernetes Ingress has neither weights nor regular expressions: each host goes to its first backend, and
// `:explain` on the top-level host is the Exact path /v1/models/<isvc>:explain (the only model name an
// explainer serves: KServe starts it with --model_name <isvc>).
Json BuildIngress(const Component& c, const OperatorConfig& cfg, const Routes& routes) {
  Json ing = ObjectMeta(c, "networking.k8s.io/v1", "Ingress", c.isvc);
  Json rules = Json::array();
  Json top = Json::array();
  if (routes.explainer) {
    top.push_back(IngressPath("/v1/models/" + c.isvc + ":explain", "Exact", routes.explainer->backends.front().service));
  }
  top.push_back(IngressPath("/", "Prefix", routes.entry.backends.front().service));
  rules.push_back(IngressRule(HostName(c, cfg, c.isvc), std::move(top)));
  for (const Route& r : routes.components) {
    rules.push_back(IngressRule(HostName(c, cfg, r.name), Json::array({IngressPath("/", "Prefix", r.backends.front().service)})));
  }
  ing["spec"] = Json::object();
  if (!cfg.ingress_class.empty()) ing["spec"]["ingressClassName"] = cfg.ingress_class;
  ing["spec"]["rules"] = std::move(rules);
  return ing;
}

namespace {

Json RouteRule(const Component& c, const std::string& path_regex, const Route& route) {
  Json refs = Json::array();
  for (const auto& b : route.backends) {
    Json ref = {{"group", ""}, {"kind", "Service"}, {"name", b.service}, {"port", 80}};
    if (route.backends.size() > 1) ref["weight"] = b.weight;
    refs.push_back(std::move(ref));
  }
  Json headers = {{"set", {{{"name", "KServe-Isvc-Name"}, {"value", c.isvc}}, {{"name", "KServe-Isvc-Namespace"}, {"value", c.ns}}}}};
  return {{"matches", {{{"path", {{"type", "RegularExpression"}, {"value", path_regex}}}}}},
          {"filters", {{{"type", "RequestHeaderModifier"}, {"requestHeaderModifier", std::move(headers)}}}},
          {"backendRefs", std::move(refs)},
          {"timeouts", {{"request", std::to_string(route.timeout_seconds) + "s"}}}};
}

}  // namespace

// KServe's explain match (constants.ExplainPrefix) before the catch-all, on the top-level route.
std::vector<Json> BuildHttpRoutes(const Component& c, const OperatorConfig& cfg, const Routes& routes) {
  const std::string& gw = cfg.gateway;
  const size_t slash = gw.find('/');
  Json parent = {{"group", "gateway.networking.k8s.io"}, {"kind", "Gateway"}};
  parent["name"] = slash == std::string::npos ? gw : gw.substr(slash + 1);
  if (slash != std::string::npos) parent["namespace"] = gw.substr(0, slash);
  auto route = [&](const std::string& name, Json rules) {
    Json r = ObjectMeta(c, "gateway.networking.k8s.io/v1", "HTTPRoute", name);
    r["spec"] = {{"parentRefs", Json::array({parent})}, {"hostnames", Json::array({HostName(c, cfg, name)})}, {"rules", std::move(rules)}};
    return r;
  };
  Json top = Json::array();
  if (routes.explainer) top.push_back(RouteRule(c, "^/v1/models/[\\w-]+:explain$", *routes.explainer));
  top.push_back(RouteRule(c, "^/.*$", routes.entry));
  std::vector<Json> out = {route(c.isvc, std::move(top))};
  for (const Route& r : routes.components) out.push_back(route(r.name, Json::array({RouteRule(c, "^/.*$", r)})));
  return out;
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
  if (c.written.contains("timeout")) spec["timeoutSeconds"] = c.spec.timeout_seconds;  // (else Knative's default)
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
