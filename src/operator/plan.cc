#include "operator/plan.h"

#include <algorithm>
#include <cstdlib>
#include <map>
#include <set>

#include "control/plan.h"
#include "core/json_field.h"
#include "operator/plan_internal.h"

namespace inferd::op {

using control::ConditionStatus;
using control::MakeCondition;
using internal::Component;

namespace {

const Json* Field(const Json& obj, const char* key) { return JsonField(obj, key); }
std::string Text(const Json* obj, const char* key) {
  return obj && obj->is_object() && obj->contains(key) && (*obj)[key].is_string() ? (*obj)[key].get<std::string>() : "";
}
std::string Annotation(const Json& obj, const char* key) {
  const Json* md = Field(obj, "metadata");
  return Text(md ? Field(*md, "annotations") : nullptr, key);
}
std::string Group(const std::string& api_version) {
  size_t slash = api_version.find('/');
  return slash == std::string::npos ? "" : api_version.substr(0, slash);
}
// group/kind/name: what identifies a child in one namespace.
std::string Key(const Json& obj) {
  return Group(Text(&obj, "apiVersion")) + "/" + Text(&obj, "kind") + "/" + Text(Field(obj, "metadata"), "name");
}

// KServe's GetDeploymentMode: status (sticky), annotation, configured default; legacy names normalised.
std::string DeploymentMode(const Json& isvc, const OperatorConfig& cfg) {
  auto norm = [](const std::string& m) {
    if (m == "RawDeployment") return std::string("Standard");
    if (m == "Serverless") return std::string("Knative");
    return m;
  };
  if (std::string m = Text(Field(isvc, "status"), "deploymentMode"); !m.empty()) return norm(m);
  if (std::string m = Annotation(isvc, "serving.kserve.io/deploymentMode"); !m.empty()) return norm(m);
  return norm(cfg.default_deployment_mode);
}

struct Failure {
  std::string reason, message;
};

// The component resolved as `inferd serve` resolves it (reconcile_service.cc ResolveComponent), or why not.
std::optional<Failure> Resolve(const PlanInput& in, Component& c) {
  const Json* md = Field(in.isvc, "metadata");
  c.isvc = Text(md, "name");
  c.ns = Text(md, "namespace");
  if (c.ns.empty()) c.ns = "default";
  c.uid = Text(md, "uid");
  auto spec = resources::ResolvePredictor(in.isvc);
  if (!spec.ok()) return Failure{"InvalidPredictorSpec", spec.status().message()};
  c.spec = std::move(*spec);
  c.predictor = in.isvc["spec"]["predictor"];
  const std::string pname = c.predictor.value("name", "");
  c.name = pname.empty() ? c.isvc + "-predictor" : c.isvc + "-" + pname + "-predictor";
  c.autoscaler_class = c.spec.annotations.count("serving.kserve.io/autoscalerClass")
                           ? c.spec.annotations.at("serving.kserve.io/autoscalerClass")
                           : "";
  // The API now accepts spec.transformer / spec.explainer (inferd serve runs them); this operator does not
  // deploy them yet, so it refuses them rather than ignore them (helper operator's branch replaces this).
  for (const char* component : {"transformer", "explainer"}) {
    if (Field(in.isvc["spec"], component)) {
      return Failure{"InvalidPredictorSpec",
                     std::string("spec.") + component + ": not supported by inferd operator yet"};
    }
  }
  if (!c.spec.collocated.empty()) {
    return Failure{"CollocationNotSupported",
                   "spec.predictor.containers: containers collocated with the model are not supported by inferd operator yet"};
  }
  if (c.spec.batcher) {
    return Failure{"InvalidPredictorSpec", "spec.predictor.batcher: not supported by inferd operator yet (no agent container)"};
  }
  if (c.autoscaler_class == "keda") {
    return Failure{"InvalidPredictorSpec",
                   "metadata.annotations[serving.kserve.io/autoscalerClass]: keda is not supported by inferd operator yet"};
  }
  if (c.spec.containers.empty()) {
    auto choice = resources::SelectRuntime(c.spec, in.ns_runtimes, in.cluster_runtimes);
    if (!choice.ok()) {
      const std::string& m = choice.status().message();
      return Failure{m.starts_with("NoSupportingRuntime") ? "NoSupportingRuntime"
                     : m.starts_with("RuntimeDisabled")   ? "RuntimeDisabled"
                                                          : "RuntimeNotRecognized",
                     m};
    }
    c.runtime = std::move(*choice);
  }
  // Labels: the runtime's pod labels, the isvc's and the component's, then KServe's own two.
  const Json* rspec = c.runtime ? Field(c.runtime->runtime, "spec") : nullptr;
  for (const char* key : {"labels", "annotations"}) {
    Json& out = key[0] == 'l' ? c.labels : c.annotations;
    if (const Json* r = rspec ? Field(*rspec, key) : nullptr; r && r->is_object()) {
      for (const auto& [k, v] : r->items()) {
        if (v.is_string()) out[k] = v;
      }
    }
    for (const auto& [k, v] : key[0] == 'l' ? c.spec.labels : c.spec.annotations) out[k] = v;
  }
  c.annotations.erase("kubectl.kubernetes.io/last-applied-configuration");
  c.labels["serving.kserve.io/inferenceservice"] = c.isvc;
  c.labels["component"] = c.component;
  return std::nullopt;
}

bool Contained(const Json& desired, const Json& observed) {
  if (desired.is_object()) {
    if (!observed.is_object()) return false;
    for (const auto& [k, v] : desired.items()) {
      auto it = observed.find(k);
      if (it == observed.end()) {
        if ((v.is_object() || v.is_array()) && v.empty()) continue;  // {} / [] the server may drop
        return false;
      }
      if (!Contained(v, *it)) return false;
    }
    return true;
  }
  if (desired.is_array()) {
    if (!observed.is_array() || observed.size() != desired.size()) return false;
    for (size_t i = 0; i < desired.size(); ++i) {
      if (!Contained(desired[i], observed[i])) return false;
    }
    return true;
  }
  if (desired.is_number() && observed.is_number()) return desired.get<double>() == observed.get<double>();
  return desired == observed;
}

int RevisionNumber(const std::string& revision) {
  return revision.size() > 5 ? std::atoi(revision.substr(revision.size() - 5).c_str()) : 0;
}

int64_t Int(const Json* obj, const char* key) {
  return obj && obj->is_object() && obj->contains(key) && (*obj)[key].is_number_integer() ? (*obj)[key].get<int64_t>() : 0;
}

// The Deployment's readiness, and only while its status describes its current spec.
ConditionStatus CurrentReadiness(const Json* dep) {
  if (!dep) return {"PredictorReady", "False", "Pending", "the Deployment is not created yet"};
  ConditionStatus r = DeploymentReadiness(*dep);
  const Json* st = Field(*dep, "status");
  if (r.status == "True" && Int(st, "observedGeneration") < Int(Field(*dep, "metadata"), "generation")) {
    return {"PredictorReady", "Unknown", "Progressing", "the Deployment has not observed its latest spec yet"};
  }
  return r;
}

// What one pass found and decided, gathered for the status.
struct Outcome {
  std::string revision, hash;  // the newest revision and its template hash
  control::TrafficPlan traffic;
  bool serving_ready = false, newest_ready = false, has_replicas = false;
  int replicas = 0;
  ConditionStatus predictor{"PredictorReady", "False", "", ""};
  ConditionStatus ingress{"IngressReady", "False", "PredictorNotReady", "the predictor is not ready yet"};
  std::string url, address;
  std::vector<control::RevisionStatus> revisions;
};

Json StatusJson(const PlanInput& in, const Component& c, const std::string& mode, const Outcome& o,
                const std::optional<Failure>& failure) {
  const Json old = in.isvc.contains("status") ? in.isvc["status"] : Json();
  control::IsvcStatus st;
  st.url = o.url;
  st.address_url = o.address;
  control::ComponentObservation obs;
  obs.spec_invalid = failure.has_value();
  if (failure) obs.reason = obs.failure_reason = failure->reason, obs.message = obs.failure_message = failure->message;
  if (!failure && o.predictor.status != "True") obs.reason = o.predictor.reason, obs.message = o.predictor.message;
  obs.newest_ready = o.newest_ready;
  obs.newest_has_replicas = o.has_replicas;
  obs.serving_ready = o.serving_ready;
  const control::ComponentReadiness ready = control::PlanReadiness(obs);
  st.model_status.transition_status = ready.transition_status;
  st.model_status.active_state = ready.active_state;
  st.model_status.total_copies = o.replicas;
  if (!ready.failure_reason.empty()) {
    st.model_status.last_failure = control::FailureInfo{o.revision.empty() ? c.isvc : o.revision, ready.failure_reason,
                                                        ready.failure_message, o.revision};
  }
  control::ComponentStatus pred;
  pred.url = in.config.url_scheme + "://" + internal::HostName(c, in.config, c.name);
  pred.latest_created = o.revision;
  if (o.newest_ready) pred.latest_ready = o.revision;
  pred.latest_rolled_out = o.traffic.rollout.latest_rolled_out;
  pred.previous_rolled_out = o.traffic.split ? o.traffic.rollout.latest_rolled_out : o.traffic.rollout.previous_rolled_out;
  for (const auto& t : o.traffic.traffic) pred.traffic.push_back({t.revision, t.percent, t.latest, "", ""});
  if (!c.name.empty()) st.components.emplace_back("predictor", std::move(pred));
  const bool ok = !failure && o.serving_ready;
  ConditionStatus predictor = failure ? MakeCondition("PredictorReady", false, failure->reason, failure->message)
                                      : (o.serving_ready ? MakeCondition("PredictorReady", true, "", "") : o.predictor);
  if (!failure && !o.serving_ready && predictor.reason.empty()) predictor.reason = ready.reason, predictor.message = ready.message;
  ConditionStatus ingress = failure ? MakeCondition("IngressReady", false, failure->reason, failure->message) : o.ingress;
  const bool all = ok && ingress.status == "True";
  ConditionStatus top = all ? MakeCondition("Ready", true, "", "")
                            : (predictor.status != "True" ? ConditionStatus{"Ready", predictor.status == "Unknown" ? "Unknown" : "False",
                                                                            predictor.reason, predictor.message}
                                                          : ConditionStatus{"Ready", ingress.status, ingress.reason, ingress.message});
  st.conditions = {ingress, predictor, top};
  st.observed_generation = Int(Field(in.isvc, "metadata"), "generation");
  if (st.observed_generation == 0) st.observed_generation = 1;
  st.deployment_mode = mode;
  st.inferd.carried = old.is_object() && old.contains(control::kStatusInferd) ? old[control::kStatusInferd] : Json();
  if (!o.hash.empty()) st.inferd.spec_hash = o.hash;
  if (c.runtime) st.inferd.runtime = c.runtime->name;
  st.inferd.revisions = o.revisions;
  return control::ToJson(st, old, in.now);
}

const Json* FindOwned(const std::vector<const Json*>& owned, const std::string& key) {
  for (const Json* o : owned) {
    if (Key(*o) == key) return o;
  }
  return nullptr;
}

struct Desired {
  std::vector<Json> objects;
  std::set<std::string> keep;  // observed children to leave as they are
};

void PlanIngress(const Component& c, const OperatorConfig& cfg, const std::vector<internal::Backend>& backends,
                 Desired& d, Outcome& o);

// Standard mode: Deployments, Services, HPAs and the ingress.
void PlanStandard(const PlanInput& in, const Component& c, const Json& pod, const std::vector<const Json*>& owned,
                  Desired& d, Outcome& o) {
  const OperatorConfig& cfg = in.config;
  const Json old = in.isvc.contains("status") ? in.isvc["status"] : Json::object();
  const std::string prev_name = c.name + "-prev";
  const Json* main = FindOwned(owned, "apps/Deployment/" + c.name);
  const Json* prev = FindOwned(owned, "apps/Deployment/" + prev_name);
  o.hash = control::RevisionHash(c.predictor, c.runtime ? &*c.runtime : nullptr, c.spec.annotations);
  const std::string main_rev = main ? Annotation(*main, kRevisionAnnotation) : "";
  const std::string prev_rev = prev ? Annotation(*prev, kRevisionAnnotation) : "";
  if (main && Annotation(*main, kRevisionHashAnnotation) == o.hash && !main_rev.empty()) {
    o.revision = main_rev;
  } else {
    std::optional<int> newest;
    if (!main_rev.empty() || !prev_rev.empty()) newest = std::max(RevisionNumber(main_rev), RevisionNumber(prev_rev));
    const Json* inferd = Field(old, control::kStatusInferd);
    int n = control::NextRevisionNumber(newest, old.value("/components/predictor/latestCreatedRevision"_json_pointer, ""),
                                        Text(inferd, control::kStatusInferdSpecHash), o.hash);
    o.revision = control::RevisionName(c.isvc, c.component, n);
  }
  const ConditionStatus main_ready = CurrentReadiness(main);
  o.newest_ready = main && main_rev == o.revision && main_ready.status == "True";
  o.replicas = static_cast<int>(main ? Int(Field(*main, "status"), "replicas") : 0);
  o.has_replicas = o.replicas > 0;

  control::TrafficInput tin;
  for (const std::string& r : {prev_rev, main_rev, o.revision}) {
    if (!r.empty() && std::find(tin.revisions.begin(), tin.revisions.end(), r) == tin.revisions.end()) tin.revisions.push_back(r);
  }
  tin.newest = o.revision;
  tin.newest_ready = o.newest_ready;
  tin.canary_percent = c.spec.canary_traffic_percent.value_or(-1);
  tin.rollout = {old.value("/components/predictor/latestRolledoutRevision"_json_pointer, ""),
                 old.value("/components/predictor/previousRolledoutRevision"_json_pointer, "")};
  o.traffic = control::PlanTraffic(tin);

  d.objects.push_back(internal::BuildDeployment(c, c.name, pod, o.revision, o.hash));
  d.objects.push_back(internal::BuildService(c, c.name, pod));
  if (auto hpa = internal::BuildHpa(c, c.name)) d.objects.push_back(std::move(*hpa));
  // A canary keeps the rolled-out revision in `<name>-prev`, its pod template taken from where it ran.
  std::vector<internal::Backend> backends;
  ConditionStatus prev_ready{"PredictorReady", "False", "", ""};
  for (const auto& t : o.traffic.traffic) {
    if (t.revision == o.revision || !c.spec.canary_traffic_percent) {
      if (t.percent > 0) backends.push_back({c.name, t.percent});
      continue;
    }
    const Json* source = prev_rev == t.revision ? prev : (main_rev == t.revision ? main : nullptr);
    const Json* tmpl_spec = source ? Field(*source, "spec") : nullptr;
    const Json* tmpl = tmpl_spec ? Field(*tmpl_spec, "template") : nullptr;
    tmpl = tmpl ? Field(*tmpl, "spec") : nullptr;
    if (!tmpl || !tmpl->is_object()) continue;  // (its template is gone: nothing can run it)
    d.objects.push_back(internal::BuildDeployment(c, prev_name, *tmpl, t.revision, Annotation(*source, kRevisionHashAnnotation)));
    d.objects.push_back(internal::BuildService(c, prev_name, *tmpl));
    if (auto hpa = internal::BuildHpa(c, prev_name)) d.objects.push_back(std::move(*hpa));
    if (t.percent > 0) backends.push_back({prev_name, t.percent});
    if (source == prev) prev_ready = CurrentReadiness(prev);  // (the old one, still in `main`, is being replaced)
  }
  // Serving: every backend with a share of the traffic is ready.
  o.serving_ready = !backends.empty();
  for (const auto& b : backends) {
    o.serving_ready &= (b.service == c.name ? main_ready.status : prev_ready.status) == "True";
  }
  o.predictor = main_ready;
  if (!backends.empty() && backends.size() == 1 && backends[0].service == prev_name) o.predictor = prev_ready;
  for (const auto* dep : {prev, main}) {
    if (!dep) continue;
    control::RevisionStatus rs;
    rs.name = Annotation(*dep, kRevisionAnnotation);
    rs.runtime = c.runtime ? c.runtime->name : "";
    for (const auto& t : o.traffic.traffic) {
      if (t.revision == rs.name) rs.percent = t.percent;
    }
    rs.replicas = static_cast<int>(Int(Field(*dep, "status"), "replicas"));
    rs.ready_replicas = static_cast<int>(Int(Field(*dep, "status"), "readyReplicas"));
    rs.latest = rs.name == o.revision;
    o.revisions.push_back(rs);
  }

  PlanIngress(c, cfg, backends, d, o);
}

// The url, the address and the route in: an Ingress or HTTPRoutes once the predictor serves (none when
// cluster-local), with IngressReady.
void PlanIngress(const Component& c, const OperatorConfig& cfg, const std::vector<internal::Backend>& backends,
                 Desired& d, Outcome& o) {
  const bool cluster_local = c.labels.value("networking.kserve.io/visibility", "") == "cluster-local" ||
                             cfg.ingress_domain == "svc.cluster.local" || cfg.disable_ingress_creation;
  o.address = "http://" + c.name + "." + c.ns + ".svc.cluster.local";
  o.url = cluster_local ? o.address : cfg.url_scheme + "://" + internal::HostName(c, cfg, c.isvc);
  if (cluster_local) {
    o.ingress = MakeCondition("IngressReady", true, "", "");
    return;
  }
  if (!o.serving_ready) {  // KServe creates the ingress only once the predictor is ready; an existing one stays
    for (const char* k : {"networking.k8s.io/Ingress/", "gateway.networking.k8s.io/HTTPRoute/"}) {
      d.keep.insert(k + c.isvc);
      d.keep.insert(k + c.name);
    }
    return;
  }
  if (cfg.gateway_api) {
    for (auto& r : internal::BuildHttpRoutes(c, cfg, backends)) d.objects.push_back(std::move(r));
    o.ingress = MakeCondition("IngressReady", true, "", "");
    return;
  }
  // A Kubernetes Ingress has no weights: the rolled-out revision takes everything, and the status says so.
  const internal::Backend& stable = backends.size() > 1 ? backends[1] : backends[0];
  d.objects.push_back(internal::BuildIngress(c, cfg, stable.service));
  if (backends.size() > 1) {
    o.ingress = MakeCondition("IngressReady", false, "TrafficSplitNotSupported",
                              "spec.predictor.canaryTrafficPercent: a Kubernetes Ingress cannot split traffic by weight, "
                              "so all traffic goes to " + stable.service + "; enable the Gateway API (HTTPRoute) or use Knative mode");
    o.traffic.traffic = {{o.traffic.rollout.latest_rolled_out, 100, false, ""}};
  } else {
    o.ingress = MakeCondition("IngressReady", true, "", "");
  }
}

// Knative's Ready condition of a ksvc, as a PredictorReady condition.
ConditionStatus KnativeReadiness(const Json* ksvc) {
  if (!ksvc) return {"PredictorReady", "False", "Pending", "the Knative Service is not created yet"};
  const Json* st = Field(*ksvc, "status");
  const Json* conds = st ? Field(*st, "conditions") : nullptr;
  if (conds && conds->is_array()) {
    for (const auto& cnd : *conds) {
      if (Text(&cnd, "type") != "Ready") continue;
      const std::string s = Text(&cnd, "status");
      if (s == "True") return {"PredictorReady", "True", "", ""};
      return {"PredictorReady", s == "False" ? "False" : "Unknown", Text(&cnd, "reason"), Text(&cnd, "message")};
    }
  }
  return {"PredictorReady", "Unknown", "Pending", "the Knative Service has no Ready condition yet"};
}

void PlanKnative(const PlanInput& in, const Component& c, const Json& pod, const std::vector<const Json*>& owned,
                 Desired& d, Outcome& o) {
  const Json old = in.isvc.contains("status") ? in.isvc["status"] : Json::object();
  const Json* ksvc = FindOwned(owned, "serving.knative.dev/Service/" + c.name);
  const Json* st = ksvc ? Field(*ksvc, "status") : nullptr;
  const std::string ready = Text(st, "latestReadyRevisionName");
  o.hash = control::RevisionHash(c.predictor, c.runtime ? &*c.runtime : nullptr, c.spec.annotations);
  o.revision = Text(st, "latestCreatedRevisionName");  // Knative names its revisions
  control::TrafficInput tin;
  tin.rollout = {old.value("/components/predictor/latestRolledoutRevision"_json_pointer, ""),
                 old.value("/components/predictor/previousRolledoutRevision"_json_pointer, "")};
  for (const std::string& r : {tin.rollout.latest_rolled_out, ready}) {
    if (!r.empty() && std::find(tin.revisions.begin(), tin.revisions.end(), r) == tin.revisions.end()) tin.revisions.push_back(r);
  }
  tin.newest = ready;
  tin.newest_ready = !ready.empty();
  tin.canary_percent = c.spec.canary_traffic_percent.value_or(-1);
  o.traffic = control::PlanTraffic(tin);
  d.objects.push_back(internal::BuildKnativeService(c, pod, o.traffic.traffic));
  o.predictor = KnativeReadiness(ksvc);
  o.serving_ready = o.predictor.status == "True";
  o.newest_ready = !ready.empty() && ready == o.revision;
  o.has_replicas = o.serving_ready;
  o.ingress = o.serving_ready ? MakeCondition("IngressReady", true, "", "")
                              : ConditionStatus{"IngressReady", "False", "PredictorNotReady", "the Knative Service is not ready yet"};
  o.url = Text(st, "url");
  if (o.url.empty()) o.url = in.config.url_scheme + "://" + internal::HostName(c, in.config, c.isvc);
  const Json* addr = st ? Field(*st, "address") : nullptr;
  o.address = Text(addr, "url");
  if (o.address.empty()) o.address = "http://" + c.name + "." + c.ns + ".svc.cluster.local";
}

// Create what is missing, update what drifted, delete owned children no longer desired.
void PlanActions(const Desired& d, const std::vector<const Json*>& owned, const std::vector<Json>& children,
                 PlanOutput& out, std::vector<std::string>& not_owned) {
  std::set<std::string> wanted;
  for (const auto& want : d.objects) {
    const std::string key = Key(want);
    wanted.insert(key);
    const Json* have = nullptr;
    for (const auto& ch : children) {
      if (Key(ch) == key) have = &ch;
    }
    if (!have) {
      out.actions.push_back({ActionKind::kCreate, want});
    } else if (std::find(owned.begin(), owned.end(), have) == owned.end()) {
      not_owned.push_back(key);  // someone else's object of the same name: left alone
    } else if (ChildDrifted(*have, want)) {
      out.actions.push_back({ActionKind::kUpdate, UpdatedChild(*have, want)});
    }
  }
  for (const Json* o : owned) {
    const std::string key = Key(*o);
    if (!wanted.count(key) && !d.keep.count(key)) out.actions.push_back({ActionKind::kDelete, *o});
  }
}

}  // namespace

const std::vector<ChildKind>& ManagedKinds() {
  static const std::vector<ChildKind> kinds = {
      {"apps/v1", "Deployment", "deployments"},
      {"v1", "Service", "services"},
      {"autoscaling/v2", "HorizontalPodAutoscaler", "horizontalpodautoscalers"},
      {"networking.k8s.io/v1", "Ingress", "ingresses"},
      {"gateway.networking.k8s.io/v1", "HTTPRoute", "httproutes"},
      {"serving.knative.dev/v1", "Service", "services"},
  };
  return kinds;
}

bool OwnedBy(const Json& child, const std::string& uid) {
  const Json* md = Field(child, "metadata");
  const Json* refs = md ? Field(*md, "ownerReferences") : nullptr;
  if (!refs || !refs->is_array() || uid.empty()) return false;
  for (const auto& r : *refs) {
    if (r.is_object() && r.value("uid", "") == uid && r.value("controller", false)) return true;
  }
  return false;
}

bool ChildDrifted(const Json& observed, const Json& desired) {
  const Json& dm = desired["metadata"];
  const Json* om = Field(observed, "metadata");
  if (!om) return true;
  for (const char* key : {"labels", "annotations", "ownerReferences"}) {
    if (dm.contains(key) && !Contained(dm[key], om->contains(key) ? (*om)[key] : Json())) return true;
  }
  if (!desired.contains("spec")) return false;
  return !Contained(desired["spec"], observed.contains("spec") ? observed["spec"] : Json());
}

Json UpdatedChild(const Json& observed, const Json& desired) {
  Json out = observed;
  for (const char* key : {"labels", "annotations"}) {
    if (!desired["metadata"].contains(key)) continue;
    Json merged = out["metadata"].contains(key) && out["metadata"][key].is_object() ? out["metadata"][key] : Json::object();
    for (const auto& [k, v] : desired["metadata"][key].items()) merged[k] = v;
    out["metadata"][key] = std::move(merged);
  }
  out["metadata"]["ownerReferences"] = desired["metadata"]["ownerReferences"];
  out.erase("status");
  // Merged (not replaced): fields the server assigned (a Service's clusterIP) stay; lists are replaced.
  out["spec"] = resources::MergePatch(out.contains("spec") ? out["spec"] : Json::object(), desired["spec"]);
  return out;
}

ConditionStatus DeploymentReadiness(const Json& deployment) {
  std::map<std::string, const Json*> conds;
  const Json* st = Field(deployment, "status");
  const Json* list = st ? Field(*st, "conditions") : nullptr;
  if (list && list->is_array()) {
    for (const auto& c : *list) {
      if (c.is_object()) conds[Text(&c, "type")] = &c;
    }
  }
  auto status = [&](const char* t) { return conds.count(t) ? Text(conds[t], "status") : ""; };
  auto fail = [&](const char* t) {
    return ConditionStatus{"PredictorReady", "False", Text(conds[t], "reason"), Text(conds[t], "message")};
  };
  if (status("ReplicaFailure") == "True") return fail("ReplicaFailure");
  if (status("Progressing") == "False" && !Text(conds["Progressing"], "message").empty()) return fail("Progressing");
  if (status("Available") == "True") return {"PredictorReady", "True", "", ""};
  if (status("Progressing") == "True" && Text(conds["Progressing"], "reason") == "NewReplicaSetAvailable") {
    return {"PredictorReady", "True", "", ""};
  }
  if (status("Available") == "False") return fail("Available");
  if (status("Progressing") == "True") {
    return {"PredictorReady", "Unknown", Text(conds["Progressing"], "reason"), Text(conds["Progressing"], "message")};
  }
  return {"PredictorReady", "False", "Pending", "the Deployment reports no conditions yet"};
}

namespace {
PlanOutput PlanChecked(const PlanInput& in) {
  PlanOutput out;
  Component c;
  out.mode = DeploymentMode(in.isvc, in.config);
  std::optional<Failure> failure = Resolve(in, c);
  if (!failure && out.mode != "Standard" && out.mode != "Knative") {
    failure = Failure{"InvalidDeploymentMode", "metadata.annotations[serving.kserve.io/deploymentMode]: " + out.mode +
                                                   " is not supported by inferd operator (Standard or Knative)"};
  }
  if (!failure && out.mode == "Knative" && !in.config.knative_installed) {
    failure = Failure{"KnativeNotInstalled", "serving.kserve.io/deploymentMode: Knative needs Knative Serving "
                                             "(serving.knative.dev/v1) installed in the cluster; use Standard"};
  }
  StatusOr<Json> pod = failure ? StatusOr<Json>(Json()) : internal::PodSpec(c, in.config);
  if (!pod.ok()) failure = Failure{"InvalidPredictorSpec", pod.status().message()};
  std::vector<const Json*> owned;
  for (const auto& ch : in.children) {
    if (OwnedBy(ch, c.uid)) owned.push_back(&ch);
  }
  Outcome o;
  Desired d;
  if (failure) {  // an invalid spec changes nothing: what runs keeps running (as with `inferd serve`)
    for (const Json* ch : owned) d.keep.insert(Key(*ch));
  } else if (out.mode == "Knative") {
    PlanKnative(in, c, *pod, owned, d, o);
  } else {
    PlanStandard(in, c, *pod, owned, d, o);
  }
  std::vector<std::string> not_owned;
  PlanActions(d, owned, in.children, out, not_owned);
  if (!not_owned.empty() && !failure) {
    std::string names;
    for (const auto& k : not_owned) names += (names.empty() ? "" : ", ") + k;
    failure = Failure{"ChildNotOwned", names + " exists and is not controlled by this InferenceService"};
  }
  out.desired = std::move(d.objects);
  out.status = StatusJson(in, c, out.mode, o, failure);
  Json old = in.isvc.contains("status") ? in.isvc["status"] : Json();
  // Compared without key order (the first pass after `inferd serve`'s writer may reorder status.inferd).
  out.status_changed = nlohmann::json::parse(out.status.dump()) != nlohmann::json::parse(old.dump());
  return out;
}
}  // namespace

PlanOutput PlanService(const PlanInput& in) {
  if (!in.isvc.is_object() || !in.isvc.contains("metadata") || !in.isvc["metadata"].is_object()) {
    PlanOutput out;
    out.error = "the InferenceService has no metadata object";
    return out;
  }
  // The objects come from a cluster: a field of an unexpected type (in a runtime, a child, a status) must
  // not end the process. The rules above check what they rely on; this catches what they missed, and the
  // controller reports it and retries later.
  try {
    return PlanChecked(in);
  } catch (const nlohmann::json::exception& e) {
    PlanOutput out;
    out.error = std::string("unexpected object shape: ") + e.what();
    return out;
  }
}

}  // namespace inferd::op
