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

}  // namespace

// What one pass finds about one service's predictor: the inputs of its plan (control/plan.h) and of its
// status (control/isvc_status.h). Reconciler thread; lives for one ReconcileService call.
struct Reconciler::State::Pass {
  Pass(const Json& o, const Json& old) : obj(o), old_status(old) {}
  const Json& obj;
  const Json& old_status;
  std::string url_domain;
  StatusOr<resources::ComponentSpec> spec = InvalidArgument("not resolved");
  std::optional<resources::RuntimeChoice> choice;
  ComponentObservation obs;            // failures and reasons found so far
  Revision* latest = nullptr;          // the revision the spec asks for (null: none)
  std::map<std::string, int> ready;    // ready replicas by revision
  int failed_copies = 0;               // replicas of `latest` backing off
  bool split = false;                  // a canary split is in effect
  IsvcStatus status;
};

void Reconciler::State::ReconcileService(const Json& obj, Service& svc, const std::vector<Json>& ns_runtimes,
                                          const std::vector<Json>& cluster_runtimes) {
  const Json& old_status = obj.contains("status") && obj["status"].is_object() ? obj["status"] : Json::object();
  Pass p(obj, old_status);
  svc.cluster_local = IsClusterLocal(obj);
  p.url_domain = UrlDomain(svc.cluster_local, opt.domain);
  if (old_status.contains(kStatusInferd) && old_status[kStatusInferd].is_object()) {
    p.status.inferd.carried = old_status[kStatusInferd];
  }
  ResolveComponent(p, ns_runtimes, cluster_runtimes);
  EnsureRevision(p, svc);
  EnsureStorage(p, svc);
  const int64_t now = clock->SteadyNs();
  for (auto& rev : svc.revisions) Autoscale(svc, rev, now);  // as many replicas as each autoscaler wants
  ObserveReplicas(p, svc);
  RouteTraffic(p, svc);
  BuildStatus(p, svc);
  PublishLogTargets(svc);
  Json status_json = ToJson(p.status, old_status, Rfc3339(clock->SystemNow()));
  if (status_json != old_status) {
    Json updated = obj;
    updated["status"] = std::move(status_json);
    auto r = db->UpdateStatus(api::InferenceServiceType(), updated);
    if (!r.ok() && r.status().code() != StatusCode::kConflict && r.status().code() != StatusCode::kNotFound) {
      LOG_WARN("status of {}/{}: {}", svc.ns, svc.name, r.status().message());
    }
  }
}

// The predictor's spec and runtime, or why there is none (an invalid spec: no new revision; the previous
// one, if any, keeps serving).
void Reconciler::State::ResolveComponent(Pass& p, const std::vector<Json>& ns_runtimes,
                                          const std::vector<Json>& cluster_runtimes) {
  auto invalid = [&p](const std::string& reason, const std::string& message) {
    p.obs.spec_invalid = true;
    p.obs.reason = p.obs.failure_reason = reason;
    p.obs.message = p.obs.failure_message = message;
  };
  p.spec = resources::ResolvePredictor(p.obj);
  if (!p.spec.ok()) return invalid("InvalidPredictorSpec", p.spec.status().message());
  if (!p.spec->collocated.empty()) {
    // KServe's collocation (a transformer-container beside the model) is valid there but not run here yet:
    // not Ready with the reason, rather than serving the model without its containers.
    std::string names;
    for (const auto& n : p.spec->collocated) names += (names.empty() ? "" : ", ") + (n.empty() ? "(unnamed)" : n);
    return invalid("CollocationNotSupported", "spec.predictor.containers: containers collocated with the model (" +
                                                  names + ") are not supported yet; inferd runs only the model's runtime");
  }
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

// A new revision when the predictor's template changed (control/plan.h); p.latest is the newest one.
void Reconciler::State::EnsureRevision(Pass& p, Service& svc) {
  if (!p.spec.ok() || (!p.choice && p.spec->containers.empty())) return;
  const Json& component = p.obj["spec"]["predictor"];
  const std::string hash = RevisionHash(component, p.choice ? &*p.choice : nullptr, p.spec->annotations);
  if (svc.revisions.empty() || svc.revisions.back().hash != hash) {
    StatusOr<RevisionScaling> scaling = ScalingFor(opt.autoscaler, component, p.spec->annotations);
    if (!scaling.ok()) {  // like an invalid spec: no revision; the previous one (if any) keeps serving
      p.obs.spec_invalid = true;
      p.obs.reason = p.obs.failure_reason = "InvalidScalingSpec";
      p.obs.message = p.obs.failure_message = scaling.status().message();
    } else {
      const Json& carried = p.status.inferd.carried;
      int number = NextRevisionNumber(
          svc.revisions.empty() ? std::nullopt : std::optional<int>(svc.revisions.back().number),
          p.old_status.value("/components/predictor/latestCreatedRevision"_json_pointer, ""),
          carried.is_object() ? carried.value(kStatusInferdSpecHash, "") : "", hash);
      Revision rev;
      rev.number = number;
      rev.name = RevisionName(svc.name, "predictor", number);
      rev.hash = hash;
      rev.spec = *p.spec;
      rev.scaler = std::make_unique<RevisionScaler>(std::move(*scaling));
      if (p.choice) {
        rev.runtime = p.choice->runtime;
        rev.runtime_name = p.choice->name;
      }
      rev.gpus = ReplicaGpus(rev.spec, p.choice ? &rev.runtime : nullptr);
      Emit(svc, "Normal", "RevisionCreated",
           "revision " + rev.name +
               (p.choice ? " with runtime " + p.choice->name : std::string(" with custom container")));
      svc.revisions.push_back(std::move(rev));
    }
  }
  if (!svc.revisions.empty()) {
    p.latest = &svc.revisions.back();
    p.status.inferd.spec_hash = p.latest->hash;
    p.status.inferd.runtime = p.latest->runtime_name;
  }
}

// Model storage (model_storage.h): the latest revision's, reported in status and conditions; an older
// revision's only when it must fetch again (its cache entry was collected while it was at zero).
void Reconciler::State::EnsureStorage(Pass& p, Service& svc) {
  for (auto& rev : svc.revisions) {
    const bool is_latest = &rev == p.latest;
    if (!is_latest && (rev.storage_ready || !rev.ever_ready)) continue;  // (never ready: retired this pass)
    ModelFetcher::Outcome so = RevisionStorage(svc, p.obj, rev, is_latest);
    if (!is_latest) continue;
    p.obs.storage_ready = so.ready;
    if (!so.status.is_null()) p.status.inferd.storage = so.status;
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
  for (auto& rev : svc.revisions) {
    const bool is_latest = &rev == p.latest;
    int ready = 0;
    std::string crash;  // the last crash of one of its replicas, when some is backing off
    for (auto id : rev.replicas) {
      auto s = runner->Get(id);
      if (!s) continue;
      if (s->phase == supervisor::Phase::kReady) ++ready;
      // Failing: a replica that cannot start (it exited before it became ready). One that was serving and
      // died is restarting: the gateway holds its requests meanwhile instead of answering 503.
      const bool backoff = s->phase == supervisor::Phase::kBackoff;
      if (backoff && !s->last_run_ready) crash = (s->reason.empty() ? "Error" : s->reason) + ": " + s->message;
      if (is_latest) CheckLoadFailure(svc, rev, *s);
      if (is_latest && backoff) ++p.failed_copies;
      const std::vector<size_t>* gpus = gpu_ledger.Of(id);
      p.status.inferd.replicas.push_back({s->name, rev.name, std::string(supervisor::PhaseName(s->phase)), s->pid,
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
  if (p.latest && p.latest->load_attempts > 0) {
    p.status.inferd.model_load = ModelLoadStatus{p.latest->name, p.latest->load_attempts,
                                                 p.latest->load_retry_ns != 0 ? p.latest->load_retry_time : ""};
  }
}

// Traffic and rollout (PlanTraffic), then the revisions it retires leave the routes (stopped a little later).
void Reconciler::State::RouteTraffic(Pass& p, Service& svc) {
  TrafficInput in;
  for (const auto& r : svc.revisions) in.revisions.push_back(r.name);
  if (p.latest) in.newest = p.latest->name;
  in.newest_ready = p.latest && p.ready[p.latest->name] > 0;
  in.canary_percent = p.spec.ok() && p.spec->canary_traffic_percent ? *p.spec->canary_traffic_percent : -1;
  const Json& md = p.obj["metadata"];
  if (md.contains("annotations") && md["annotations"].is_object()) {
    in.tag_routing = md["annotations"].value("serving.kserve.io/enable-tag-routing", "") == "true";
  }
  in.rollout = {svc.latest_rolled_out, svc.previous_rolled_out};
  TrafficPlan plan = PlanTraffic(in);
  svc.latest_rolled_out = plan.rollout.latest_rolled_out;
  svc.previous_rolled_out = plan.rollout.previous_rolled_out;
  svc.traffic = plan.traffic;
  p.split = plan.split;
  std::string traffic_text = TrafficText(svc.traffic);
  if (traffic_text != svc.last_traffic && !traffic_text.empty()) Emit(svc, "Normal", "TrafficShifted", traffic_text);
  svc.last_traffic = traffic_text;
  for (const std::string& name : plan.retire) {
    auto it = std::find_if(svc.revisions.begin(), svc.revisions.end(), [&](const Revision& r) { return r.name == name; });
    for (auto id : it->replicas) Retire(svc, id, clock->SteadyNs());  // out of the routes first, stopped a little later
    svc.revisions.erase(it);
  }
  p.latest = nullptr;
  for (auto& r : svc.revisions) {
    if (r.name == plan.newest) p.latest = &r;
  }
}

// The predictor's readiness (PlanReadiness) and the service's status from this pass.
void Reconciler::State::BuildStatus(Pass& p, Service& svc) {
  // Serving: some revision with a share of the traffic has a ready replica, or was ready and is now at zero
  // on purpose (Knative keeps such a revision Ready: the activator brings it back on the next request).
  auto ready_or_at_zero = [&](const std::string& name) {
    if (p.ready[name] > 0) return true;
    for (const auto& r : svc.revisions) {
      if (r.name == name) return r.ever_ready && r.scaler && r.scaler->desired() == 0 && r.replicas.empty();
    }
    return false;
  };
  ComponentObservation& obs = p.obs;
  for (const auto& t : svc.traffic) obs.serving_ready |= t.percent > 0 && ready_or_at_zero(t.revision);
  obs.newest_ready = p.latest && ready_or_at_zero(p.latest->name);
  obs.newest_has_replicas = p.latest && !p.latest->replicas.empty();
  if (p.latest) {
    obs.load_failure = p.latest->load_failure;
    obs.build_error = p.latest->build_error;
  }
  const ComponentReadiness ready = PlanReadiness(obs);
  const std::string latest_name = p.latest ? p.latest->name : "";

  IsvcStatus& st = p.status;
  st.url = "http://" + svc.name + "." + svc.ns + "." + p.url_domain;
  st.address_url = "http://127.0.0.1:" + std::to_string(opt.gateway_http_port) + "/serving/" + svc.ns + "/" + svc.name;
  st.model_status.transition_status = ready.transition_status;
  st.model_status.active_state = ready.active_state;
  st.model_status.failed_copies = p.failed_copies;
  st.model_status.total_copies = p.latest ? static_cast<int>(p.latest->replicas.size()) : 0;
  if (!ready.failure_reason.empty()) {
    st.model_status.last_failure =
        FailureInfo{p.latest ? latest_name : svc.name, ready.failure_reason, ready.failure_message, latest_name};
  }
  st.components.emplace_back("predictor", PredictorStatus(p, svc));
  st.conditions = {
      MakeCondition("IngressReady", obs.serving_ready, "NoReadyRevision", "no revision has a ready replica yet"),
      MakeCondition("PredictorReady", obs.serving_ready, ready.reason, ready.message),
      MakeCondition("Ready", obs.serving_ready, ready.reason.empty() ? "PredictorNotReady" : ready.reason,
                    ready.message)};
  if (auto gpus = GpuCondition(svc)) st.conditions.push_back(std::move(*gpus));
  svc.route_unavailable = obs.serving_ready ? "" : RouteUnavailable(svc, ready.reason, ready.message);
  st.observed_generation = p.obj["metadata"].value("generation", 1);
  // Every running revision with its share of traffic and replica counts (for `inferd get revisions`).
  for (const auto& rev : svc.revisions) st.inferd.revisions.push_back(RevisionStatusOf(rev, svc, p.ready[rev.name], &rev == p.latest));
}

// For a service whose revisions ask for GPUs: ResourcesAvailable (Knative's revision condition for pods the
// scheduler cannot place), False with reason Unschedulable while some wanted replica waits for devices (the
// newest revision's shortage first). Other services do not show it.
std::optional<ConditionStatus> Reconciler::State::GpuCondition(const Service& svc) {
  bool asks = false;
  const Revision* short_of = nullptr;
  for (auto it = svc.revisions.rbegin(); it != svc.revisions.rend(); ++it) {
    asks |= it->gpus > 0;
    if (!short_of && it->gpu_pending > 0) short_of = &*it;
  }
  if (!asks) return std::nullopt;
  return MakeCondition("ResourcesAvailable", short_of == nullptr, kUnschedulableReason,
                       short_of ? short_of->gpu_shortage : "");
}

// status.components.predictor: its URL, revisions and traffic.
ComponentStatus Reconciler::State::PredictorStatus(Pass& p, const Service& svc) {
  ComponentStatus pred;
  pred.url = "http://" + svc.name + "-predictor." + svc.ns + "." + p.url_domain;
  if (p.latest) pred.latest_created = p.latest->name;
  for (auto it = svc.revisions.rbegin(); it != svc.revisions.rend(); ++it) {
    if (p.ready[it->name] > 0) {
      pred.latest_ready = it->name;
      break;
    }
  }
  pred.latest_rolled_out = svc.latest_rolled_out;
  // During a canary KServe reports the revision holding the rest of the traffic as the previous one too.
  pred.previous_rolled_out = p.split ? svc.latest_rolled_out : svc.previous_rolled_out;
  for (const auto& t : svc.traffic) {
    std::string url =
        t.tag.empty() ? "" : "http://" + t.tag + "-" + svc.name + "-predictor." + svc.ns + "." + p.url_domain;
    pred.traffic.push_back({t.revision, t.percent, t.latest, t.tag, url});
  }
  return pred;
}

// One line of status.inferd.revisions.
RevisionStatus Reconciler::State::RevisionStatusOf(const Revision& rev, const Service& svc, int ready, bool latest) {
  RevisionStatus r;
  r.name = rev.name;
  r.runtime = rev.runtime_name;
  for (const auto& t : svc.traffic) {
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

// For the logs extension (API threads): the service's replicas, newest revision first.
void Reconciler::State::PublishLogTargets(const Service& svc) {
  std::vector<std::pair<std::string, supervisor::ReplicaId>> targets;
  for (auto it = svc.revisions.rbegin(); it != svc.revisions.rend(); ++it) {
    for (size_t i = 0; i < it->replicas.size(); ++i) {
      targets.emplace_back(it->name + "-" + std::to_string(i + 1), it->replicas[i]);
    }
  }
  MutexLock lock(logs_mu);
  log_targets[svc.ns + "/" + svc.name] = std::move(targets);
}

}  // namespace inferd::control
