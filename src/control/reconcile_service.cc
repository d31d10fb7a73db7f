// control/reconcile_service.cc: one InferenceService's pass (see reconciler.h): resolve its predictor, make a
// revision, fetch its model, observe its replicas, route traffic, and write its status. Reconciler thread.
#include <algorithm>
#include <cmath>
#include <optional>

#include "api/api_server.h"
#include "control/reconciler_state.h"
#include "control/replica_command.h"
#include "core/logging.h"
#include "supervisor/supervisor.h"

namespace inferd::control {

namespace {

// The domain of a service's URLs: the gateway's, or Kubernetes' in-cluster one for a cluster-local service.
std::string UrlDomain(bool cluster_local, const std::string& domain) {
  return cluster_local ? std::string(gateway::kClusterLocalDomain) : domain;
}

// "transformer" -> "Transformer" (KServe's condition and reason names).
std::string Capitalized(const std::string& component) {
  std::string c = component;
  if (!c.empty() && c[0] >= 'a' && c[0] <= 'z') c[0] = static_cast<char>(c[0] - 'a' + 'A');
  return c;
}
std::string ConditionType(const std::string& component) { return Capitalized(component) + "Ready"; }
std::string NotReadyReason(const std::string& component) { return Capitalized(component) + "NotReady"; }
std::string InvalidSpecReason(const std::string& component) { return "Invalid" + Capitalized(component) + "Spec"; }

}  // namespace

// What one pass finds about one service, shared by its components' passes: the status being built, and
// whether the transformer runs inside the predictor's replicas (and with which command, or why it cannot).
struct Reconciler::State::ServicePass {
  ServicePass(const Json& o, const Json& old) : obj(o), old_status(old) {}
  const Json& obj;
  const Json& old_status;
  std::string url_domain;
  IsvcStatus status;
  InProcessPlan in_process;
};

// What one pass finds about one component: the inputs of its plan (control/plan.h) and of its status
// (control/isvc_status.h). Reconciler thread; lives for one ReconcileService call.
struct Reconciler::State::Pass {
  Pass(ServicePass& s, ComponentState& c) : sp(s), comp(c), obj(s.obj), old_status(s.old_status) {}
  ServicePass& sp;
  ComponentState& comp;
  const Json& obj;
  const Json& old_status;
  StatusOr<resources::ComponentSpec> spec = InvalidArgument("not resolved");
  std::optional<resources::RuntimeChoice> choice;
  ComponentObservation obs;            // failures and reasons found so far
  Revision* latest = nullptr;          // the revision the spec asks for (null: none)
  std::map<std::string, int> ready;    // ready replicas by revision
  int failed_copies = 0;               // replicas of `latest` backing off
  bool split = false;                  // a canary split is in effect
  ComponentReadiness readiness;        // decided at the end of its pass
  bool is_predictor() const { return comp.name == "predictor"; }
};

void Reconciler::State::ReconcileService(const Json& obj, Service& svc, const std::vector<Json>& ns_runtimes,
                                          const std::vector<Json>& cluster_runtimes) {
  const Json& old_status = obj.contains("status") && obj["status"].is_object() ? obj["status"] : Json::object();
  ServicePass sp(obj, old_status);
  svc.cluster_local = IsClusterLocal(obj);
  sp.url_domain = UrlDomain(svc.cluster_local, opt.domain);
  if (old_status.contains(kStatusInferd) && old_status[kStatusInferd].is_object()) {
    sp.status.inferd.carried = old_status[kStatusInferd];
  }
  sp.in_process = PlanInProcess(obj, &opt.images);
  SyncComponents(obj, svc, sp.in_process);
  std::vector<Pass> passes;
  passes.reserve(svc.components.size());
  for (auto& comp : svc.components) {  // one call per component (control/plan.h)
    passes.emplace_back(sp, comp);
    ReconcileComponent(passes.back(), svc, ns_runtimes, cluster_runtimes);
  }
  BuildStatus(sp, passes, svc);
  PublishLogTargets(svc);
  Json status_json = ToJson(sp.status, old_status, Rfc3339(clock->SystemNow()));
  if (status_json != old_status) {
    Json updated = obj;
    updated["status"] = std::move(status_json);
    pending_statuses.push_back(std::move(updated));  // written once the pass's routes are out (FlushStatuses)
  }
}

void Reconciler::State::FlushStatuses() {
  for (const Json& updated : pending_statuses) {
    auto r = db->UpdateStatus(api::InferenceServiceType(), updated);
    if (!r.ok() && r.status().code() != StatusCode::kConflict && r.status().code() != StatusCode::kNotFound) {
      const Json& md = updated["metadata"];
      LOG_WARN("status of {}/{}: {}", md.value("namespace", "default"), md.value("name", ""), r.status().message());
    }
  }
  pending_statuses.clear();
}

bool ComponentWanted(const Json& isvc, std::string_view component, const InProcessPlan& in_process) {
  if (component == "predictor") return true;
  if (component == "transformer" && in_process.from_annotation) return false;
  const Json* spec = isvc.contains("spec") ? &isvc["spec"] : nullptr;
  if (!spec || !spec->is_object()) return false;
  auto it = spec->find(std::string(component));
  return it != spec->end() && !it->is_null();
}

// The service's components as its spec asks (kComponents order, ComponentWanted). A component no longer asked
// for leaves the routes with its revisions (its replicas stop a little later).
void Reconciler::State::SyncComponents(const Json& obj, Service& svc, const InProcessPlan& in_process) {
  std::vector<ComponentState> next;
  next.reserve(std::size(kComponents));
  for (const char* name : kComponents) {
    ComponentState* have = svc.Find(name);
    if (!ComponentWanted(obj, name, in_process)) {
      if (have && !have->revisions.empty()) {
        Emit(svc, "Normal", "ComponentRemoved", std::string(name) + " removed: its revisions retire");
        for (auto& rev : have->revisions)
          for (auto id : rev.replicas) Retire(svc, id, clock->SteadyNs());
      }
      continue;
    }
    if (have) {
      next.push_back(std::move(*have));
    } else {
      next.emplace_back();
      next.back().name = name;
    }
  }
  svc.components = std::move(next);
}

// One component's pass: spec, revision, model, replicas (as many as each autoscaler wants), traffic,
// readiness.
void Reconciler::State::ReconcileComponent(Pass& p, Service& svc, const std::vector<Json>& ns_runtimes,
                                            const std::vector<Json>& cluster_runtimes) {
  ResolveComponent(p, ns_runtimes, cluster_runtimes);
  EnsureRevision(p, svc);
  EnsureStorage(p, svc);
  const int64_t now = clock->SteadyNs();
  for (auto& rev : p.comp.revisions) Autoscale(svc, rev, now);
  ObserveReplicas(p, svc);
  RouteTraffic(p, svc);
  p.readiness = ComponentReady(p, svc);
}

// The component's spec and runtime, or why there is none (an invalid spec: no new revision; the previous
// one, if any, keeps serving).
void Reconciler::State::ResolveComponent(Pass& p, const std::vector<Json>& ns_runtimes,
                                          const std::vector<Json>& cluster_runtimes) {
  auto invalid = [&p](const std::string& reason, const std::string& message) {
    p.obs.spec_invalid = true;
    p.obs.reason = p.obs.failure_reason = reason;
    p.obs.message = p.obs.failure_message = message;
  };
  p.spec = resources::ResolveComponent(p.obj, p.comp.name);
  if (!p.spec.ok()) return invalid(InvalidSpecReason(p.comp.name), p.spec.status().message());
  if (!p.is_predictor()) return;  // custom containers or art: no runtime
  // A transformer asked to run inside the predictor (KServe's collocation form, or inferd's in-process
  // annotation) that cannot: not Ready with the reason, rather than serving the model without it.
  if (!p.sp.in_process.error.empty()) return invalid(p.sp.in_process.reason, p.sp.in_process.error);
  if (!p.spec->containers.empty()) return;  // custom containers: no runtime
  auto c = resources::SelectRuntime(*p.spec, ns_runtimes, cluster_runtimes);
  if (!c.ok()) {
    const std::string& m = c.status().message();
    return invalid(m.starts_with("NoSupportingRuntime") ? "NoSupportingRuntime"
                   : m.starts_with("RuntimeDisabled")   ? "RuntimeDisabled"
                                                        : "RuntimeNotRecognized",
                   m);
  }
  p.choice = std::move(*c);
}

// A new revision when the component's template changed (control/plan.h); p.latest is the newest one.
void Reconciler::State::EnsureRevision(Pass& p, Service& svc) {
  if (!p.spec.ok() || (p.is_predictor() && !p.choice && p.spec->containers.empty())) return;
  ComponentState& comp = p.comp;
  const Json& component = p.obj["spec"][comp.name];
  // The predictor's template includes a transformer that runs inside its replicas.
  const Json templ = p.is_predictor() && p.sp.in_process.command
                         ? Json{{"predictor", component}, {"inProcessTransformer", p.sp.in_process.template_json}}
                         : component;
  const std::string hash = RevisionHash(templ, p.choice ? &*p.choice : nullptr, p.spec->annotations);
  if (comp.revisions.empty() || comp.revisions.back().hash != hash) {
    StatusOr<RevisionScaling> scaling = ScalingFor(opt.autoscaler, component, p.spec->annotations);
    if (!scaling.ok()) {  // like an invalid spec: no revision; the previous one (if any) keeps serving
      p.obs.spec_invalid = true;
      p.obs.reason = p.obs.failure_reason = "InvalidScalingSpec";
      p.obs.message = p.obs.failure_message = scaling.status().message();
    } else {
      const Json& carried = p.sp.status.inferd.carried;
      const std::string hash_key = SpecHashKey(comp.name);
      // The recorded latest revision counts when it is one of this component's (an in-process transformer's
      // status names the predictor's revisions).
      std::string recorded =
          p.old_status.value(Json::json_pointer("/components/" + comp.name + "/latestCreatedRevision"), "");
      if (!recorded.starts_with(svc.name + "-" + comp.name + "-")) recorded.clear();
      int number = NextRevisionNumber(
          comp.revisions.empty() ? std::nullopt : std::optional<int>(comp.revisions.back().number), recorded,
          carried.is_object() ? carried.value(hash_key, "") : "", hash);
      Revision rev;
      rev.number = number;
      rev.name = RevisionName(svc.name, comp.name, number);
      rev.hash = hash;
      rev.spec = *p.spec;
      rev.scaler = std::make_unique<RevisionScaler>(std::move(*scaling));
      if (p.choice) {
        rev.runtime = p.choice->runtime;
        rev.runtime_name = p.choice->name;
      }
      if (p.is_predictor()) rev.in_process = p.sp.in_process.command;
      rev.gpus = ReplicaGpus(rev.spec, p.choice ? &rev.runtime : nullptr);
      Emit(svc, "Normal", "RevisionCreated",
           comp.name + " revision " + rev.name +
               (p.choice ? " with runtime " + p.choice->name
                         : std::string(rev.spec.art_type.empty() ? " with custom container" : " (ART explainer)")) +
               (rev.in_process ? " and the transformer in-process" : ""));
      comp.revisions.push_back(std::move(rev));
    }
  }
  if (!comp.revisions.empty()) {
    p.latest = &comp.revisions.back();
    if (p.is_predictor()) {
      p.sp.status.inferd.spec_hash = p.latest->hash;
      p.sp.status.inferd.runtime = p.latest->runtime_name;
    } else {
      p.sp.status.inferd.component_spec_hashes[SpecHashKey(comp.name)] = p.latest->hash;
    }
  }
}

// Model storage (model_storage.h): the latest revision's, reported in status and conditions; an older
// revision's only when it must fetch again (its cache entry was collected while it was at zero).
void Reconciler::State::EnsureStorage(Pass& p, Service& svc) {
  for (auto& rev : p.comp.revisions) {
    const bool is_latest = &rev == p.latest;
    if (!is_latest && (rev.storage_ready || !rev.ever_ready)) continue;  // (never ready: retired this pass)
    ModelFetcher::Outcome so = RevisionStorage(svc, p.obj, rev, is_latest);
    if (!is_latest) continue;
    p.obs.storage_ready = so.ready;
    if (!so.status.is_null() && p.is_predictor()) p.sp.status.inferd.storage = so.status;
    if (so.failed) {
      p.obs.failure_reason = "ModelLoadFailed";  // KServe's FailureInfo reason for a storage initializer that failed
      p.obs.failure_message = so.message;
    }
    if (!so.ready && p.obs.reason.empty()) {  // (an invalid newer spec, found above, is the first thing to say)
      p.obs.reason = so.reason;
      p.obs.message = so.message;
    }
  }
}

// Every revision's replicas: ready counts, crashes and load failures of the latest, what the gateway says
// while a revision has no ready replica, and the replicas' lines of status.inferd.
void Reconciler::State::ObserveReplicas(Pass& p, Service& svc) {
  for (auto& rev : p.comp.revisions) {
    const bool is_latest = &rev == p.latest;
    int ready = 0;
    std::string crash;  // the last crash of one of its replicas, when some is backing off
    for (auto id : rev.replicas) {
      auto s = runner->Get(id);
      if (!s) continue;
      if (ReplicaServes(svc, rev, id, *s)) ++ready;
      // Failing: a replica that cannot start (it exited before it became ready). One that was serving and
      // died is restarting: the gateway holds its requests meanwhile instead of answering 503.
      const bool backoff = s->phase == supervisor::Phase::kBackoff;
      if (backoff && !s->last_run_ready) crash = (s->reason.empty() ? "Error" : s->reason) + ": " + s->message;
      if (is_latest) CheckLoadFailure(svc, rev, *s);
      if (is_latest && backoff) ++p.failed_copies;
      const std::vector<size_t>* gpus = gpu_ledger.Of(id);
      p.sp.status.inferd.replicas.push_back({s->name, rev.name, std::string(supervisor::PhaseName(s->phase)), s->pid,
                                          s->http_port, s->grpc_port, s->restarts, s->reason, s->message,
                                          gpus ? GpuList(opt.gpus, *gpus) : ""});
      if (is_latest && backoff && p.obs.failure_reason.empty()) {
        p.obs.failure_reason = "RuntimeUnhealthy";
        p.obs.failure_message = s->reason + ": " + s->message;
        p.obs.reason = s->reason.empty() ? "Error" : s->reason;
        p.obs.message = s->message;
      }
    }
    p.ready[rev.name] = ready;
    if (is_latest) RetryFailedLoad(svc, rev, ready);
    rev.unavailable.clear();
    if (ready == 0) {
      if (!rev.build_error.empty()) {
        rev.unavailable = "revision " + rev.name + " cannot run: " + rev.build_error;
      } else if (!rev.load_failure.empty()) {
        rev.unavailable = "revision " + rev.name + " failed to load its model: " + rev.load_failure;
      } else if (!crash.empty()) {
        rev.unavailable = "revision " + rev.name + " has no ready replica: " + crash;
      } else if (rev.gpu_pending > 0 && rev.replicas.empty()) {
        rev.unavailable = "revision " + rev.name + " cannot start a replica: " + rev.gpu_shortage;
      }
    }
    if (ready > 0 && !rev.ever_ready) {
      rev.ever_ready = true;
      Emit(svc, "Normal", "RevisionReady", "revision " + rev.name + " is ready");
    }
  }
  // The newest revision cannot start any replica for want of GPUs: not Ready, and (as for a runtime that cannot
  // run) the failure that blocks it; never started on the CPU instead.
  if (p.latest && p.latest->gpu_pending > 0 && p.latest->replicas.empty() && p.obs.reason.empty()) {
    p.obs.reason = p.obs.failure_reason = kUnschedulableReason;
    p.obs.message = p.obs.failure_message = p.latest->gpu_shortage;
  }
  if (p.is_predictor() && p.latest && p.latest->load_attempts > 0) {
    p.sp.status.inferd.model_load = ModelLoadStatus{p.latest->name, p.latest->load_attempts,
                                                 p.latest->load_retry_ns != 0 ? p.latest->load_retry_time : ""};
  }
}

// Traffic and rollout (PlanTraffic), then the revisions it retires leave the routes (stopped a little later).
void Reconciler::State::RouteTraffic(Pass& p, Service& svc) {
  ComponentState& comp = p.comp;
  TrafficInput in;
  for (const auto& r : comp.revisions) in.revisions.push_back(r.name);
  if (p.latest) in.newest = p.latest->name;
  in.newest_ready = p.latest && p.ready[p.latest->name] > 0;
  in.canary_percent = p.spec.ok() && p.spec->canary_traffic_percent ? *p.spec->canary_traffic_percent : -1;
  const Json& md = p.obj["metadata"];
  if (md.contains("annotations") && md["annotations"].is_object()) {
    in.tag_routing = md["annotations"].value("serving.kserve.io/enable-tag-routing", "") == "true";
  }
  in.rollout = {comp.latest_rolled_out, comp.previous_rolled_out};
  TrafficPlan plan = PlanTraffic(in);
  comp.latest_rolled_out = plan.rollout.latest_rolled_out;
  comp.previous_rolled_out = plan.rollout.previous_rolled_out;
  comp.traffic = plan.traffic;
  p.split = plan.split;
  std::string traffic_text = TrafficText(comp.traffic);
  if (traffic_text != comp.last_traffic && !traffic_text.empty()) {
    Emit(svc, "Normal", "TrafficShifted", p.is_predictor() ? traffic_text : comp.name + ": " + traffic_text);
  }
  comp.last_traffic = traffic_text;
  for (const std::string& name : plan.retire) {
    auto it = std::find_if(comp.revisions.begin(), comp.revisions.end(),
                           [&](const Revision& r) { return r.name == name; });
    for (auto id : it->replicas) Retire(svc, id, clock->SteadyNs());  // out of the routes first, stopped a little later
    comp.revisions.erase(it);
  }
  p.latest = nullptr;
  for (auto& r : comp.revisions) {
    if (r.name == plan.newest) p.latest = &r;
  }
}

// The component's readiness (PlanReadiness), and what the gateway answers while it serves nothing.
ComponentReadiness Reconciler::State::ComponentReady(Pass& p, Service& svc) {
  // Serving: some revision with a share of the traffic has a ready replica, or was ready and is now at zero
  // on purpose (Knative keeps such a revision Ready: the activator brings it back on the next request).
  auto ready_or_at_zero = [&](const std::string& name) {
    if (p.ready[name] > 0) return true;
    for (const auto& r : p.comp.revisions) {
      if (r.name == name) return r.ever_ready && r.scaler && r.scaler->desired() == 0 && r.replicas.empty();
    }
    return false;
  };
  ComponentObservation& obs = p.obs;
  for (const auto& t : p.comp.traffic) obs.serving_ready |= t.percent > 0 && ready_or_at_zero(t.revision);
  obs.newest_ready = p.latest && ready_or_at_zero(p.latest->name);
  obs.newest_has_replicas = p.latest && !p.latest->replicas.empty();
  if (p.latest) {
    obs.load_failure = p.latest->load_failure;
    obs.build_error = p.latest->build_error;
  }
  ComponentReadiness ready = PlanReadiness(obs);
  p.comp.route_unavailable = obs.serving_ready ? "" : RouteUnavailable(svc, p.comp.name, ready.reason, ready.message);
  return ready;
}

// The service's status from its components' passes: the predictor's model state, each component's status
// and condition (an in-process transformer reports the predictor's), Ready when every one serves.
void Reconciler::State::BuildStatus(ServicePass& sp, std::vector<Pass>& passes, Service& svc) {
  Pass& pred = passes.front();  // SyncComponents: the predictor is always first
  const ComponentReadiness& ready = pred.readiness;
  const std::string latest_name = pred.latest ? pred.latest->name : "";
  IsvcStatus& st = sp.status;
  st.url = "http://" + svc.name + "." + svc.ns + "." + sp.url_domain;
  st.address_url = "http://127.0.0.1:" + std::to_string(opt.gateway_http_port) + "/serving/" + svc.ns + "/" + svc.name;
  st.model_status.transition_status = ready.transition_status;
  st.model_status.active_state = ready.active_state;
  st.model_status.failed_copies = pred.failed_copies;
  st.model_status.total_copies = pred.latest ? static_cast<int>(pred.latest->replicas.size()) : 0;
  if (!ready.failure_reason.empty()) {
    st.model_status.last_failure =
        FailureInfo{pred.latest ? latest_name : svc.name, ready.failure_reason, ready.failure_message, latest_name};
  }
  // Conditions: PredictorReady, TransformerReady, ExplainerReady (KServe's names) for the components there.
  std::vector<ConditionStatus> component_conditions;
  const Pass* top = &pred;        // what the service's own URL routes to
  const Pass* not_ready = nullptr;  // the first component that does not serve
  for (Pass& p : passes) {
    st.components.emplace_back(p.comp.name, ComponentStatusOf(p, svc));
    component_conditions.push_back(MakeCondition(ConditionType(p.comp.name), p.obs.serving_ready,
                                                 p.readiness.reason, p.readiness.message));
    if (p.comp.name == "transformer") top = &p;
    if (!p.obs.serving_ready && !not_ready) not_ready = &p;
  }
  if (sp.in_process.command) {  // the transformer runs in the predictor's replicas: it is their status
    ComponentStatus t = ComponentStatusOf(pred, svc);
    t.url = st.url;
    st.components.emplace_back("transformer", std::move(t));
    component_conditions.insert(component_conditions.begin() + 1,
                                MakeCondition("TransformerReady", pred.obs.serving_ready, ready.reason, ready.message));
  }
  const bool all_ready = not_ready == nullptr;
  std::string reason = "PredictorNotReady", message;
  if (not_ready) {
    reason = not_ready->readiness.reason.empty() ? NotReadyReason(not_ready->comp.name) : not_ready->readiness.reason;
    message = not_ready->readiness.message;
  }
  st.conditions = {MakeCondition("IngressReady", top->obs.serving_ready, "NoReadyRevision",
                                 "no revision has a ready replica yet")};
  st.conditions.insert(st.conditions.end(), component_conditions.begin(), component_conditions.end());
  st.conditions.push_back(MakeCondition("Ready", all_ready, reason, message));
  if (auto gpus = GpuCondition(svc)) st.conditions.push_back(std::move(*gpus));
  st.observed_generation = sp.obj["metadata"].value("generation", 1);
  // Every running revision with its share of traffic and replica counts (for `inferd get revisions`).
  for (Pass& p : passes) {
    for (const auto& rev : p.comp.revisions) {
      st.inferd.revisions.push_back(RevisionStatusOf(rev, p.comp, p.ready[rev.name], &rev == p.latest));
    }
  }
}

// For a service whose revisions ask for GPUs: ResourcesAvailable (Knative's revision condition for pods the
// scheduler cannot place), False with reason Unschedulable while some wanted replica waits for devices (the
// newest revision's shortage first). Other services do not show it.
std::optional<ConditionStatus> Reconciler::State::GpuCondition(const Service& svc) {
  bool asks = false;
  const Revision* short_of = nullptr;
  for (const auto& comp : svc.components) {
    for (auto it = comp.revisions.rbegin(); it != comp.revisions.rend(); ++it) {
      asks |= it->gpus > 0;
      if (!short_of && it->gpu_pending > 0) short_of = &*it;
    }
  }
  if (!asks) return std::nullopt;
  return MakeCondition("ResourcesAvailable", short_of == nullptr, kUnschedulableReason,
                       short_of ? short_of->gpu_shortage : "");
}

// status.components.<component>: its URL, revisions and traffic.
ComponentStatus Reconciler::State::ComponentStatusOf(Pass& p, const Service& svc) {
  const ComponentState& comp = p.comp;
  ComponentStatus c;
  c.url = "http://" + svc.name + "-" + comp.name + "." + svc.ns + "." + p.sp.url_domain;
  if (p.latest) c.latest_created = p.latest->name;
  for (auto it = comp.revisions.rbegin(); it != comp.revisions.rend(); ++it) {
    if (p.ready[it->name] > 0) {
      c.latest_ready = it->name;
      break;
    }
  }
  c.latest_rolled_out = comp.latest_rolled_out;
  // During a canary KServe reports the revision holding the rest of the traffic as the previous one too.
  c.previous_rolled_out = p.split ? comp.latest_rolled_out : comp.previous_rolled_out;
  for (const auto& t : comp.traffic) {
    std::string url = t.tag.empty()
                          ? ""
                          : "http://" + t.tag + "-" + svc.name + "-" + comp.name + "." + svc.ns + "." + p.sp.url_domain;
    c.traffic.push_back({t.revision, t.percent, t.latest, t.tag, url});
  }
  return c;
}

// One line of status.inferd.revisions.
RevisionStatus Reconciler::State::RevisionStatusOf(const Revision& rev, const ComponentState& comp, int ready,
                                                   bool latest) {
  RevisionStatus r;
  r.name = rev.name;
  r.runtime = rev.runtime_name;
  for (const auto& t : comp.traffic) {
    if (t.revision == rev.name) {
      r.percent = t.percent;
      r.tag = t.tag;
    }
  }
  r.replicas = static_cast<int>(rev.replicas.size());
  r.ready_replicas = ready;
  r.latest = latest;
  if (rev.scaler) {
    const auto& sp = rev.scaler->scaling().spec;
    RevisionAutoscalerStatus a;
    a.desired_replicas = rev.scaler->desired();
    a.metric = std::string(autoscaler::ScaleMetricName(sp.metric));
    a.target = sp.metric == autoscaler::ScaleMetric::kCpu || sp.metric == autoscaler::ScaleMetric::kMemory
                   ? rev.scaler->scaling().resource_target
                   : sp.target;
    a.min_scale = sp.min_scale;
    a.max_scale = sp.max_scale;
    a.panicking = rev.scaler->panicking();
    // Rounded so that a status write is not due every second for noise in the last digits.
    a.observed = std::round(rev.scaler->observed() * 100) / 100;
    r.autoscaler = a;
  }
  return r;
}

// For the logs extension (API threads): the service's replicas, by component (the predictor first), newest
// revision first.
void Reconciler::State::PublishLogTargets(const Service& svc) {
  std::vector<std::pair<std::string, supervisor::ReplicaId>> targets;
  for (const auto& comp : svc.components) {
    for (auto it = comp.revisions.rbegin(); it != comp.revisions.rend(); ++it) {
      for (size_t i = 0; i < it->replicas.size(); ++i) {
        targets.emplace_back(it->name + "-" + std::to_string(i + 1), it->replicas[i]);
      }
    }
  }
  MutexLock lock(logs_mu);
  log_targets[svc.ns + "/" + svc.name] = std::move(targets);
}

}  // namespace inferd::control
