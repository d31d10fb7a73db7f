// control/reconciler.cc: see reconciler.h. The reconciler thread's state is one struct (State); the API
// threads read only log_targets, under logs_mu.
#include "control/reconciler.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <set>

#include "api/api_server.h"
#include "control/isvc_status.h"
#include "control/plan.h"
#include "control/replica_command.h"
#include "control/scaling.h"
#include "core/backoff.h"
#include "core/clock.h"
#include "core/logging.h"
#include "resources/resources.h"
#include "resources/secrets.h"
#include "store/store.h"

namespace inferd::control {

using resources::Json;

namespace {

// A service published inside the cluster only: KServe's label (constants.VisibilityLabel), or Knative's, which
// KServe's Serverless mode passes to the Knative Service (KServe's own cluster_local sample uses it).
bool IsClusterLocal(const Json& obj) {
  const Json& md = obj["metadata"];
  if (!md.contains("labels") || !md["labels"].is_object()) return false;
  for (const char* label : {"networking.kserve.io/visibility", "networking.knative.dev/visibility",
                            "serving.knative.dev/visibility"}) {
    if (md["labels"].value(label, "") == "cluster-local") return true;
  }
  return false;
}

// The domain of a service's URLs: the gateway's, or Kubernetes' in-cluster one for a cluster-local service.
std::string UrlDomain(bool cluster_local, const std::string& domain) {
  return cluster_local ? std::string(gateway::kClusterLocalDomain) : domain;
}

// The wait before retry `attempt` (1, 2, ...) of a failed model load: the replicas' restart backoff.
std::chrono::milliseconds LoadRetryDelay(int attempt, int initial_ms, int max_ms) {
  return ExponentialBackoff(attempt - 1, std::chrono::milliseconds(std::max(1, initial_ms)),
                            std::chrono::milliseconds(std::max(initial_ms, max_ms)));
}

std::string Rfc3339(std::chrono::system_clock::time_point t) {
  std::time_t tt = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

}  // namespace

struct Revision {
  std::string name;
  int number = 0;
  std::string hash;
  resources::ComponentSpec spec;
  Json runtime;  // null for custom containers
  std::string runtime_name;
  std::vector<supervisor::ReplicaId> replicas;
  std::map<supervisor::ReplicaId, std::string> uds;  // replicas serving REST on a Unix socket (--uds) too
  std::shared_ptr<gateway::RevisionStats> stats = std::make_shared<gateway::RevisionStats>();
  std::unique_ptr<RevisionScaler> scaler;  // its autoscaler (never null once created)
  std::string model_path;                  // where its replicas load the model from ("" = no storageUri)
  bool storage_ready = false;              // model_path is usable (replicas may start)
  ModelFetcher::Source source;             // what it fetches, with which credentials (model_storage.h)
  Json storage_status;                     // status.inferd.storage once ready
  std::string storage_event;               // the last storage Warning event written for it
  int next_index = 0;                      // replica names: {revision}-{index}, never reused
  std::string build_error;
  std::string load_failure;
  // Retries of a failed model load (RetryFailedLoad): failed attempts so far, when the next retry is due
  // (steady ns; 0: none pending), and when the last retry restarted the replicas (a failure is looked for
  // again only in replicas started since).
  int load_attempts = 0;
  int64_t load_retry_ns = 0;
  std::string load_retry_time;  // load_retry_ns as RFC 3339, for status
  std::chrono::system_clock::time_point load_retried_at{};
  std::string unavailable;  // for the gateway: why it has no ready replica, when it is failing
  bool ever_ready = false;
};

struct Service {
  std::string ns, name, uid;
  std::vector<Revision> revisions;  // oldest first
  // Traffic (KServe's canary rollout): the last revision that took all traffic ("rolled out"), the one
  // before it, and the current split.
  std::string latest_rolled_out, previous_rolled_out;
  std::vector<TrafficTarget> traffic;
  std::string last_traffic;  // for the TrafficShifted event
  std::vector<std::string> events;  // names of the events written, oldest first
  std::string last_event_key;
  // Replicas taken out of the routes (scale down, revision retired), stopped at the time given (steady ns):
  // requests the gateway already sent them finish first.
  std::vector<std::pair<supervisor::ReplicaId, int64_t>> retiring;
  // For the gateway: the label networking.kserve.io/visibility: cluster-local (loopback clients only), and
  // why the service takes no requests while no revision serves (the 503's message).
  bool cluster_local = false;
  std::string route_unavailable;
};

// How long a replica taken out of the routes keeps running before it is sent SIGTERM (and then drains).
constexpr int64_t kRetireDelayNs = 300'000'000;

// The gateway's 503 message for a known service that no revision serves.
std::string RouteUnavailable(const Service& svc, const std::string& reason, const std::string& message) {
  std::string m = "service " + svc.ns + "/" + svc.name + " is not ready";
  if (!reason.empty()) m += " (" + reason + (message.empty() ? "" : ": " + message) + ")";
  if (m.size() > 512) m = m.substr(0, 509) + "...";
  return m;
}


struct Reconciler::State {
  ReconcilerOptions opt;
  store::Store* db;
  ReplicaRunner* runner;
  ModelFetcher* fetcher;
  const ReconcileClock* clock;
  RoutesFn publish_routes;
  std::function<void()> wake;

  // Reconciler thread only.
  std::map<std::string, Service> services;  // "ns/name"
  uint64_t event_counter = 0;
  std::string last_routes;
  uint64_t uds_counter = 0;    // names the replicas' sockets r<N>.sock
  int64_t next_retire_ns = 0;  // the earliest pending retirement (0: none)
  // This pass's Secrets and ServiceAccounts, by namespace, then name.
  std::map<std::string, std::map<std::string, Json>> pass_secrets, pass_accounts;
  bool pass_credentials_listed = false;  // both lists read (else no cache collection this pass)

  // Shared with the API threads (Reconciler::LogTargets): replicas of each service, newest revision first.
  mutable std::mutex logs_mu;
  std::map<std::string, std::vector<std::pair<std::string, supervisor::ReplicaId>>> log_targets;  // guarded by logs_mu

  // A fresh Unix socket path for an `inferd model-server` replica, or "" when it would not fit sun_path.
  std::string NextUdsPath() {
    if (opt.run_dir.empty()) return "";
    std::string path = opt.run_dir + "/r" + std::to_string(++uds_counter) + ".sock";
    return path.size() <= 107 ? path : "";
  }

  void ReconcileAll();
  // One service per pass: its predictor resolved, its revision, model, replicas, traffic and status, in
  // steps that share one Pass.
  struct Pass;
  void ReconcileService(const Json& obj, Service& svc, const std::vector<Json>& ns_runtimes,
                        const std::vector<Json>& cluster_runtimes);
  void ResolveComponent(Pass& p, const std::vector<Json>& ns_runtimes, const std::vector<Json>& cluster_runtimes);
  void EnsureRevision(Pass& p, Service& svc);
  void EnsureStorage(Pass& p, Service& svc);
  void ObserveReplicas(Pass& p, Service& svc);
  void RouteTraffic(Pass& p, Service& svc);
  void BuildStatus(Pass& p, Service& svc);
  ComponentStatus PredictorStatus(Pass& p, const Service& svc);
  RevisionStatus RevisionStatusOf(const Revision& rev, const Service& svc, int ready, bool latest);
  void PublishLogTargets(const Service& svc);
  void StopRevision(Revision& rev);
  void StopService(Service& svc);
  void Autoscale(Service& svc, Revision& rev, int64_t now_ns);
  void ActivateHeld();
  Status StartReplica(Service& svc, Revision& rev);
  void Retire(Service& svc, supervisor::ReplicaId id, int64_t now_ns);
  void StopRetired(int64_t now_ns);
  void Emit(Service& svc, const std::string& type, const std::string& reason, const std::string& message);
  void CheckLoadFailure(Service& svc, Revision& rev, const supervisor::ReplicaStatus& s);
  void RetryFailedLoad(Service& svc, Revision& rev, int ready);
  void PublishRoutes();
  void PublishKnownServices();
  // Model storage (model_storage.h).
  void ListCredentialObjects();
  ModelFetcher::Outcome RevisionStorage(Service& svc, const Json& obj, Revision& rev, bool latest);
  void CollectCache();
};

void Reconciler::State::ReconcileAll() {
  auto list = db->List(api::InferenceServiceType(), "");
  auto ns_rts = db->List(api::ServingRuntimeType(), "");
  auto cl_rts = db->List(api::ClusterServingRuntimeType(), "");
  if (!list.ok() || !ns_rts.ok() || !cl_rts.ok()) {
    LOG_WARN("reconcile: cannot list resources");
    return;
  }
  std::map<std::string, std::vector<Json>> runtimes_by_ns;  // grouped once per pass, not per service
  for (auto& r : ns_rts->items) runtimes_by_ns[r["metadata"].value("namespace", "default")].push_back(std::move(r));
  ListCredentialObjects();
  std::set<std::string> seen;
  for (const auto& obj : list->items) {
    std::string ns = obj["metadata"].value("namespace", "default");
    std::string name = obj["metadata"].value("name", "");
    std::string key = ns + "/" + name;
    seen.insert(key);
    Service& svc = services[key];
    std::string uid = obj["metadata"].value("uid", "");
    if (!svc.uid.empty() && svc.uid != uid) {  // deleted and created again between two passes
      StopService(svc);
      svc = Service{};
    }
    svc.ns = ns;
    svc.name = name;
    svc.uid = uid;
    const std::vector<Json>& runtimes_here = runtimes_by_ns[ns];
    ReconcileService(obj, svc, runtimes_here, cl_rts->items);
  }
  for (auto it = services.begin(); it != services.end();) {
    if (seen.count(it->first)) {
      ++it;
      continue;
    }
    LOG_INFO("inferenceservice {} deleted: stopping its replicas", it->first);
    StopService(it->second);
    fetcher->MarkCollectionDue();  // its cache entries may have no other user
    {
      std::lock_guard lock(logs_mu);
      log_targets.erase(it->first);
    }
    it = services.erase(it);
  }
  PublishRoutes();
  StopRetired(clock->SteadyNs());  // after the routes without them are out
  CollectCache();
}

// Requests held for a revision come before anything else, since the full pass reads the store and rebuilds
// every status (milliseconds a held request would wait for nothing): a revision with none of its own
// replicas starts one now, and the routes are published now, with any replica that became ready since the
// last pass. The full pass that follows decides again and finds the replica there.
void Reconciler::State::ActivateHeld() {
  const int64_t now = clock->SteadyNs();
  bool held = false;
  for (auto& [key, svc] : services) {
    for (auto& rev : svc.revisions) {
      if (rev.stats->held.load(std::memory_order_relaxed) == 0) continue;
      held = true;
      if (rev.replicas.empty()) Autoscale(svc, rev, now);
    }
  }
  if (held) PublishRoutes();
}

void Reconciler::State::Retire(Service& svc, supervisor::ReplicaId id, int64_t now_ns) {
  svc.retiring.emplace_back(id, now_ns + kRetireDelayNs);
}

void Reconciler::State::StopRetired(int64_t now_ns) {
  next_retire_ns = 0;
  for (auto& [key, svc] : services) {
    for (auto it = svc.retiring.begin(); it != svc.retiring.end();) {
      if (it->second <= now_ns) {
        runner->Stop(it->first);  // SIGTERM: the model server drains what it still has, then exits
        it = svc.retiring.erase(it);
      } else {
        if (next_retire_ns == 0 || it->second < next_retire_ns) next_retire_ns = it->second;
        ++it;
      }
    }
  }
}

void Reconciler::State::StopRevision(Revision& rev) {
  for (auto id : rev.replicas) runner->Stop(id);
  rev.replicas.clear();
  rev.uds.clear();
}

void Reconciler::State::StopService(Service& svc) {
  // Signal every replica first, then wait: the wait is the slowest stop, not the sum of them.
  for (auto& rev : svc.revisions) {
    for (auto id : rev.replicas) runner->Stop(id);
  }
  for (auto& [id, at] : svc.retiring) runner->Stop(id);
  for (auto& rev : svc.revisions) {
    for (auto id : rev.replicas) runner->StopAndWait(id);
    rev.replicas.clear();
    rev.uds.clear();
  }
  for (auto& [id, at] : svc.retiring) runner->StopAndWait(id);
  svc.retiring.clear();
}

Status Reconciler::State::StartReplica(Service& svc, Revision& rev) {
  ReplicaCommandInput in;
  in.isvc_name = svc.name;
  in.ns = svc.ns;
  in.replica_name = svc.ns + "/" + rev.name + "-" + std::to_string(++rev.next_index);
  in.spec = &rev.spec;
  in.runtime = rev.runtime.is_null() ? nullptr : &rev.runtime;
  in.model_path = rev.model_path;
  in.inferd_bin = opt.inferd_bin;
  in.uds_path = NextUdsPath();
  auto rs = BuildReplicaSpec(in);
  if (!rs.ok()) {
    rev.build_error = rs.status().message();
    Emit(svc, "Warning", "RuntimeNotRunnable", rev.build_error);
    return rs.status();
  }
  // Natively compiled scikit-learn models are remembered here, so a replica started again loads without
  // starting Python (backends/sklearn).
  rs->env.emplace_back("INFERD_COMPILED_CACHE", opt.compiled_cache);
  rs->env.emplace_back("INFERD_REPOSITORY_TOKEN", opt.repository_token);
  rs->initial_backoff = std::chrono::milliseconds(opt.initial_backoff_ms);
  rs->max_backoff = std::chrono::milliseconds(opt.max_backoff_ms);
  auto id = runner->Start(*rs);
  if (!id.ok()) {
    rev.build_error = id.status().message();
    return id.status();
  }
  rev.replicas.push_back(*id);
  // Only `inferd model-server` replicas got --uds (BuildReplicaSpec); the others stay on TCP.
  if (!in.uds_path.empty() && rs->ports_from_stdout) rev.uds[*id] = in.uds_path;
  LOG_INFO("{}/{}: started replica {}", svc.ns, svc.name, in.replica_name);
  return Status::Ok();
}

// One revision's scale: its autoscaler's decision (sampled and decided on its own cadence, at once for an
// activation), then replicas started or retired to match. Retired replicas leave the routes first and are
// stopped a little later (StopRetired); not-ready ones go first, then the newest.
void Reconciler::State::Autoscale(Service& svc, Revision& rev, int64_t now_ns) {
  if (!rev.scaler) return;
  RevisionScaler::Inputs in;
  in.now_ns = now_ns;
  in.stats = rev.stats.get();
  for (auto id : rev.replicas) {
    auto s = runner->Get(id);
    if (s && s->phase == supervisor::Phase::kReady) {
      ++in.ready;
      in.ready_pids.push_back(s->pid);
    }
  }
  in.activation = in.ready == 0 && rev.stats->held.load(std::memory_order_relaxed) > 0;
  const int before = rev.scaler->desired();
  const int want = rev.scaler->Update(in);
  if (want != before) {
    LOG_INFO("{}/{}: revision {} wants {} replica(s) (ready {}): {}", svc.ns, svc.name, rev.name, want, in.ready,
             rev.scaler->reason());
  }
  bool can_start = rev.storage_ready && rev.build_error.empty();
  if (can_start && want > 0 && rev.replicas.empty() && !fetcher->Present(rev.model_path)) {
    // Its cache entry was collected while it was at zero: fetch it again first (RevisionStorage).
    LOG_INFO("{}/{}: revision {} fetches its model again (the cache entry was collected)", svc.ns, svc.name, rev.name);
    rev.storage_ready = false;
    can_start = false;
    wake();
  }
  ScaleInput scale;
  scale.want = want;
  scale.can_start = can_start;
  for (auto id : rev.replicas) {
    auto s = runner->Get(id);
    scale.replica_ready.push_back(s && s->phase == supervisor::Phase::kReady);
  }
  const ScalePlan plan = PlanScale(scale);
  for (int i = 0; i < plan.start; ++i) {
    if (!StartReplica(svc, rev).ok()) break;
  }
  for (size_t pick : plan.retire) {
    supervisor::ReplicaId id = rev.replicas[pick];
    rev.replicas.erase(rev.replicas.begin() + static_cast<std::ptrdiff_t>(pick));
    rev.uds.erase(id);
    Retire(svc, id, now_ns);
    LOG_INFO("{}/{}: revision {} scales down: retiring a replica", svc.ns, svc.name, rev.name);
  }
}

// A replica of the newest revision up but not ready whose repository index says its model failed to load
// (ReplicaStatus::not_ready_reason: the supervisor asks, replica_command.h), not while a retry is pending,
// and once a failure is known only in replicas a retry started since: the failure schedules the next retry
// (RetryFailedLoad).
void Reconciler::State::CheckLoadFailure(Service& svc, Revision& rev, const supervisor::ReplicaStatus& s) {
  if (s.phase != supervisor::Phase::kRunning || s.not_ready_reason.empty() || rev.load_retry_ns != 0) return;
  if (!rev.load_failure.empty() && s.started_at <= rev.load_retried_at) return;
  const std::string& failure = s.not_ready_reason;
  rev.load_failure = failure;
  ++rev.load_attempts;
  const auto delay = LoadRetryDelay(rev.load_attempts, opt.initial_backoff_ms, opt.max_backoff_ms);
  rev.load_retry_ns = clock->SteadyNs() + std::chrono::duration_cast<std::chrono::nanoseconds>(delay).count();
  rev.load_retry_time = Rfc3339(clock->SystemNow() + delay);
  Emit(svc, "Warning", "ModelLoadFailed",
       failure + " (attempt " + std::to_string(rev.load_attempts) + "; retrying in " + std::to_string(delay.count()) +
           " ms)");
}

// Failed loads are retried like a crash loop (KServe's model server exits and its pod backs off): once the
// delay passed, the revision's replicas are restarted and load the model files again, so a model fixed in
// place comes up without a change of the spec. A ready replica ends it.
void Reconciler::State::RetryFailedLoad(Service& svc, Revision& rev, int ready) {
  if (ready > 0) {
    if (rev.load_attempts > 0) {
      Emit(svc, "Normal", "ModelLoaded",
           "revision " + rev.name + " loaded its model after " + std::to_string(rev.load_attempts) + " failed attempt(s)");
    }
    rev.load_failure.clear();
    rev.load_attempts = 0;
    rev.load_retry_ns = 0;
    return;
  }
  if (rev.load_retry_ns == 0 || clock->SteadyNs() < rev.load_retry_ns) return;
  rev.load_retry_ns = 0;
  rev.load_retried_at = clock->SystemNow();
  LOG_INFO("{}/{}: revision {}: retrying the model load (attempt {})", svc.ns, svc.name, rev.name,
           rev.load_attempts + 1);
  for (auto id : rev.replicas) runner->Restart(id);
}

void Reconciler::State::Emit(Service& svc, const std::string& type, const std::string& reason,
                              const std::string& message) {
  std::string key = reason + "|" + message;
  if (key == svc.last_event_key) return;  // the same event again: once is enough
  svc.last_event_key = key;
  char suffix[32];
  std::snprintf(suffix, sizeof suffix, ".%llx%04llx", static_cast<unsigned long long>(std::chrono::system_clock::to_time_t(clock->SystemNow())),
                static_cast<unsigned long long>(++event_counter & 0xffff));
  std::string now = Rfc3339(clock->SystemNow());
  Json ev = {{"apiVersion", "v1"},
             {"kind", "Event"},
             {"metadata", {{"name", svc.name + suffix}, {"namespace", svc.ns}}},
             {"involvedObject",
              {{"apiVersion", std::string(resources::kIsvcApiVersion)},
               {"kind", "InferenceService"},
               {"name", svc.name},
               {"namespace", svc.ns},
               {"uid", svc.uid}}},
             {"type", type},
             {"reason", reason},
             {"message", message},
             {"source", {{"component", "inferd-controller"}}},
             {"firstTimestamp", now},
             {"lastTimestamp", now},
             {"count", 1}};
  auto r = db->Create(api::EventType(), ev);
  if (!r.ok()) return;
  svc.events.push_back(ev["metadata"]["name"].get<std::string>());
  while (svc.events.size() > 50) {
    (void)db->Delete(api::EventType(), svc.ns, svc.events.front());
    svc.events.erase(svc.events.begin());
  }
  LOG_INFO("{}/{}: {} {}: {}", svc.ns, svc.name, type, reason, message);
}

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
      p.status.inferd.replicas.push_back({s->name, rev.name, std::string(supervisor::PhaseName(s->phase)), s->pid,
                                          s->http_port, s->grpc_port, s->restarts, s->reason, s->message});
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
      }
    }
    if (ready > 0 && !rev.ever_ready) {
      rev.ever_ready = true;
      Emit(svc, "Normal", "RevisionReady", "revision " + rev.name + " is ready");
    }
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
  svc.route_unavailable = obs.serving_ready ? "" : RouteUnavailable(svc, ready.reason, ready.message);
  st.observed_generation = p.obj["metadata"].value("generation", 1);
  // Every running revision with its share of traffic and replica counts (for `inferd get revisions`).
  for (const auto& rev : svc.revisions) st.inferd.revisions.push_back(RevisionStatusOf(rev, svc, p.ready[rev.name], &rev == p.latest));
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
  std::lock_guard lock(logs_mu);
  log_targets[svc.ns + "/" + svc.name] = std::move(targets);
}

// Before the reconciler's first pass: every stored service is known to the gateway at once (503 "starting",
// not 404 "no route", while its replicas start).
void Reconciler::State::PublishKnownServices() {
  auto table = std::make_shared<gateway::RoutingTable>();
  if (auto list = db->List(api::InferenceServiceType(), ""); list.ok()) {
    for (const auto& obj : list->items) {
      gateway::ServiceRoute route;
      route.ns = obj["metadata"].value("namespace", "default");
      route.name = obj["metadata"].value("name", "");
      route.cluster_local = IsClusterLocal(obj);
      route.unavailable = "service " + route.ns + "/" + route.name + " is not ready (inferd serve is starting)";
      table->services.push_back(std::move(route));
    }
  }
  publish_routes(table);
  last_routes = "(known services)";  // the first pass publishes its table whatever it holds
}

// This pass's Secrets and ServiceAccounts, grouped by namespace (the credential lookups read them).
void Reconciler::State::ListCredentialObjects() {
  pass_secrets.clear();
  pass_accounts.clear();
  pass_credentials_listed = true;
  for (auto [type, into] : {std::pair{&api::SecretType(), &pass_secrets}, std::pair{&api::ServiceAccountType(), &pass_accounts}}) {
    auto list = db->List(*type, "");
    if (!list.ok()) {
      LOG_WARN("reconcile: cannot list {}: {}", type->plural, list.status().message());
      pass_credentials_listed = false;
      continue;
    }
    for (auto& item : list->items) {
      const Json& md = item["metadata"];
      (*into)[md.value("namespace", "default")][md.value("name", "")] = std::move(item);
    }
  }
}

// One revision's model: resolves its credentials (the latest revision: again at every pass until its
// model is ready, so that a Secret created or fixed later is used) and brings its model to a local
// directory. A credential problem is a failure of its own (the Secret or ServiceAccount named), never a
// silent fall back to inferd serve's environment.
ModelFetcher::Outcome Reconciler::State::RevisionStorage(Service& svc, const Json& obj, Revision& rev, bool latest) {
  if (rev.storage_ready) {
    ModelFetcher::Outcome ready;
    ready.ready = true;
    ready.model_path = rev.model_path;
    ready.status = rev.storage_status;
    return ready;
  }
  if (latest) {
    const auto& secrets = pass_secrets[svc.ns];
    const auto& accounts = pass_accounts[svc.ns];
    resources::CredentialLookup lookup{
        [&](const std::string& n) -> const Json* {
          auto it = secrets.find(n);
          return it == secrets.end() ? nullptr : &it->second;
        },
        [&](const std::string& n) -> const Json* {
          auto it = accounts.find(n);
          return it == accounts.end() ? nullptr : &it->second;
        }};
    auto src = fetcher->Resolve(obj, rev.spec.storage_uri, lookup);
    if (!src.ok()) {
      ModelFetcher::Outcome bad;
      bad.failed = true;
      bad.reason = src.status().code() == StatusCode::kNotFound ? "StorageCredentialsNotFound"
                                                                  : "InvalidStorageCredentials";
      bad.message = "storage credentials: " + src.status().message();
      bad.status = {{"uri", rev.spec.storage_uri}, {"state", "Failed"}, {"message", bad.message}};
      if (rev.storage_event != bad.message) {
        rev.storage_event = bad.message;
        Emit(svc, "Warning", bad.reason, bad.message);
      }
      return bad;
    }
    for (const std::string& note : src->notes) {
      if (rev.storage_event.find(note) == std::string::npos) {
        rev.storage_event += note + "\n";
        Emit(svc, "Warning", "StorageSettingIgnored", note);
      }
    }
    rev.source = std::move(*src);
    if (rev.spec.storage_uri.empty()) rev.spec.storage_uri = rev.source.uri;  // built from a storage spec
  }
  if (rev.source.uri.empty()) {  // no model to fetch
    rev.storage_ready = true;
    ModelFetcher::Outcome none;
    none.ready = true;
    return none;
  }
  ModelFetcher::Outcome so = fetcher->Ensure(rev.source);
  if (so.started) {
    std::string using_secrets;
    for (const auto& n : rev.source.secrets) using_secrets += (using_secrets.empty() ? " with secret " : ", ") + n;
    Emit(svc, "Normal", "DownloadStarted", "fetching " + rev.source.uri + using_secrets);
  }
  if (so.failed && rev.storage_event != so.message) {
    rev.storage_event = so.message;
    Emit(svc, "Warning", so.reason, so.message);
  }
  if (so.ready) {
    rev.model_path = so.model_path;
    rev.storage_ready = true;
    rev.storage_status = so.status;
  }
  return so;
}

// The cache collector (model_storage.h), after every pass; it runs when due. Referenced: every live
// revision's entry. In use: the entries of revisions with replicas, revisions that want some, revisions
// fetching, and the newest revision of a service until it has been ready once.
void Reconciler::State::CollectCache() {
  // A pass that could not read the Secrets may have left revisions without their cache entry: no
  // collection from what it saw.
  if (!pass_credentials_listed) return;
  std::set<std::string> referenced, in_use;
  for (const auto& [key, svc] : services) {
    for (const auto& rev : svc.revisions) {
      const std::string& entry = rev.source.cache_key;
      if (entry.empty()) continue;
      referenced.insert(entry);
      bool starting = &rev == &svc.revisions.back() && !rev.ever_ready;
      if (!rev.replicas.empty() || !rev.storage_ready || starting || (rev.scaler && rev.scaler->desired() > 0)) {
        in_use.insert(entry);
      }
    }
  }
  fetcher->CollectIfDue(referenced, in_use, std::chrono::steady_clock::time_point(std::chrono::nanoseconds(clock->SteadyNs())));
}

void Reconciler::State::PublishRoutes() {
  auto table = std::make_shared<gateway::RoutingTable>();
  std::string fingerprint;
  for (auto& [key, svc] : services) {
    // Every known service has a route: one that no revision serves yet answers 503, not 404.
    gateway::ServiceRoute route;
    route.ns = svc.ns;
    route.name = svc.name;
    route.cluster_local = svc.cluster_local;
    if (svc.traffic.empty()) route.unavailable = svc.route_unavailable;
    fingerprint += key + (svc.cluster_local ? "|local|" : "|") + route.unavailable + ";";
    for (const auto& t : svc.traffic) {
      Revision* found = nullptr;
      for (auto& r : svc.revisions) {
        if (r.name == t.revision) found = &r;
      }
      if (!found) continue;
      Revision& rev = *found;
      if (t.latest || svc.traffic.size() == 1) {
        route.timeout = std::chrono::milliseconds(int64_t{rev.spec.timeout_seconds} * 1000);
      }
      gateway::RevisionRoute rr;
      rr.revision = rev.name;
      rr.percent = t.percent;
      rr.tag = t.tag;
      rr.stats = rev.stats;
      rr.container_concurrency = rev.spec.container_concurrency;
      rr.unavailable = rev.unavailable;
      rr.activate = rev.scaler && rev.scaler->desired() == 0;
      fingerprint += key + "/" + rev.name + "=" + std::to_string(t.percent) + t.tag + "," +
                     std::to_string(rr.container_concurrency) + "," + rr.unavailable + "," + (rr.activate ? "a" : "") +
                     ":";
      for (auto id : rev.replicas) {
        auto s = runner->Get(id);
        if (!s || s->phase != supervisor::Phase::kReady) continue;
        gateway::Endpoint ep;
        ep.host = "127.0.0.1";
        ep.http_port = s->http_port;
        ep.grpc_port = s->grpc_port;
        if (auto u = rev.uds.find(id); u != rev.uds.end()) ep.uds_path = u->second;
        ep.pid = s->pid;
        fingerprint += key + ":" + std::to_string(s->http_port) + "," + std::to_string(s->grpc_port) + "," +
                       ep.uds_path + "," + std::to_string(s->pid) + ";";
        rr.endpoints.push_back(std::move(ep));
      }
      route.revisions.push_back(std::move(rr));
    }
    table->services.push_back(std::move(route));
  }
  if (fingerprint == last_routes) return;
  last_routes = fingerprint;
  publish_routes(table);
}


int64_t RealClock::SteadyNs() const { return NowNs(); }

std::chrono::system_clock::time_point RealClock::SystemNow() const { return std::chrono::system_clock::now(); }

Reconciler::Reconciler(ReconcilerOptions options, store::Store* store, ReplicaRunner* runner, ModelFetcher* fetcher,
                       const ReconcileClock* clock, RoutesFn publish_routes, std::function<void()> wake)
    : s_(std::make_unique<State>()) {
  s_->opt = std::move(options);
  s_->db = store;
  s_->runner = runner;
  s_->fetcher = fetcher;
  s_->clock = clock;
  s_->publish_routes = std::move(publish_routes);
  s_->wake = wake ? std::move(wake) : [] {};
}

Reconciler::~Reconciler() = default;

void Reconciler::Reconcile() { s_->ReconcileAll(); }
void Reconciler::ActivateHeld() { s_->ActivateHeld(); }
void Reconciler::PublishKnownServices() { s_->PublishKnownServices(); }
int64_t Reconciler::next_retire_ns() const { return s_->next_retire_ns; }

void Reconciler::StopAll() {
  for (auto& [key, svc] : s_->services) {
    for (auto& rev : svc.revisions) s_->StopRevision(rev);
  }
}

std::optional<std::vector<std::pair<std::string, supervisor::ReplicaId>>> Reconciler::LogTargets(
    const std::string& key) const {
  std::lock_guard lock(s_->logs_mu);
  auto it = s_->log_targets.find(key);
  if (it == s_->log_targets.end()) return std::nullopt;
  return it->second;
}

}  // namespace inferd::control
