// control/reconciler_state.h (internal to reconciler*.cc): the reconciler thread's state - the services,
// their revisions, and the steps of a pass (reconciler.cc: the loop, replicas, events, storage, routes;
// reconcile_service.cc: one service's pass, from its spec to its status).
#pragma once

#include <chrono>
#include <cstdint>
#include <ctime>
#include <map>
#include <memory>
#include <optional>
#include <string_view>
#include <string>
#include <utility>
#include <vector>

#include "control/isvc_status.h"
#include "control/plan.h"
#include "control/reconciler.h"
#include "control/replica_command.h"
#include "control/scaling.h"
#include "control/trained_models.h"
#include "core/mutex.h"
#include "resources/resources.h"

namespace inferd::control {

using resources::Json;

// A service published inside the cluster only: KServe's label (constants.VisibilityLabel), or Knative's, which
// KServe's Serverless mode passes to the Knative Service (KServe's own cluster_local sample uses it).
inline bool IsClusterLocal(const Json& obj) {
  const Json& md = obj["metadata"];
  if (!md.contains("labels") || !md["labels"].is_object()) return false;
  for (const char* label : {"networking.kserve.io/visibility", "networking.knative.dev/visibility",
                            "serving.knative.dev/visibility"}) {
    if (md["labels"].value(label, "") == "cluster-local") return true;
  }
  return false;
}

// `t` as RFC 3339 with seconds, as Kubernetes writes timestamps (core/clock.h's NowRfc3339, for a given time).
inline std::string Rfc3339(std::chrono::system_clock::time_point t) {
  std::time_t tt = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

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
  // GPUs (control/gpu.h): devices per replica (0: none), and the replicas the autoscaler wants that could not
  // start for want of free devices at its last decision (with why, and whether the Warning was written).
  int gpus = 0;
  int gpu_pending = 0;
  std::string gpu_shortage;
  bool gpu_warned = false;
  // A predictor revision whose replicas also run the transformer (in-process, or KServe's collocation form).
  std::optional<PythonCommand> in_process;
};

// The components of an InferenceService, in the order they are reconciled and reported.
inline constexpr const char* kComponents[] = {"predictor", "transformer", "explainer"};

// Whether an InferenceService runs `component` as a component of its own: the predictor always; a transformer
// (unless it runs in-process: `in_process` is PlanInProcess's answer for the object) and an explainer when its
// spec gives one. Pure.
bool ComponentWanted(const resources::Json& isvc, std::string_view component, const InProcessPlan& in_process);

// One component of a service (control/plan.h: each is planned on its own): its revisions and traffic.
struct ComponentState {
  std::string name;                 // predictor | transformer | explainer
  std::vector<Revision> revisions;  // oldest first
  // Traffic (KServe's canary rollout): the last revision that took all traffic ("rolled out"), the one
  // before it, and the current split.
  std::string latest_rolled_out, previous_rolled_out;
  std::vector<TrafficTarget> traffic;
  std::string last_traffic;  // for the TrafficShifted event
  // For the gateway: why the component takes no requests while no revision serves (the 503's message).
  std::string route_unavailable;
};

struct Service {
  std::string ns, name, uid;
  // Its running components: the predictor first, then a transformer and an explainer when the spec has them
  // (kComponents order; a component removed from the spec retires with its revisions).
  std::vector<ComponentState> components;
  std::vector<std::string> events;  // names of the events written, oldest first
  std::string last_event_key;
  // Replicas taken out of the routes (scale down, revision retired), stopped at the time given (steady ns):
  // requests the gateway already sent them finish first.
  std::vector<std::pair<supervisor::ReplicaId, int64_t>> retiring;
  // For the gateway: the label networking.kserve.io/visibility: cluster-local (loopback clients only).
  bool cluster_local = false;

  ComponentState* Find(std::string_view component) {
    for (auto& c : components)
      if (c.name == component) return &c;
    return nullptr;
  }
  template <class F>
  void ForEachRevision(F&& f) {
    for (auto& c : components)
      for (auto& r : c.revisions) f(r);
  }
  template <class F>
  void ForEachRevision(F&& f) const {
    for (const auto& c : components)
      for (const auto& r : c.revisions) f(r);
  }
};

// How long a replica taken out of the routes keeps running before it is sent SIGTERM (and then drains).
constexpr int64_t kRetireDelayNs = 300'000'000;

// The gateway's 503 message for a known service (or one of its components other than the predictor) that no
// revision serves.
inline std::string RouteUnavailable(const Service& svc, const std::string& component, const std::string& reason,
                                    const std::string& message) {
  std::string m = "service " + svc.ns + "/" + svc.name + (component == "predictor" ? "" : " (" + component + ")") +
                  " is not ready";
  if (!reason.empty()) m += " (" + reason + (message.empty() ? "" : ": " + message) + ")";
  if (m.size() > 512) m = m.substr(0, 509) + "...";
  return m;
}


// A TrainedModel as the reconciler keeps it between passes (reconcile_trained_models.cc).
struct TrainedModelState {
  std::string isvc_key;            // "ns/isvc" of the service it was placed in
  int64_t generation = 0;          // the spec its failures below are about
  ModelFetcher::Source source;     // what it fetches (model_storage.h)
  std::string target;              // the fetched model directory its repository entry links to ("" = not placed)
  std::chrono::system_clock::time_point placed_at{};  // when the entry last changed
  std::string load_failure, out_of_memory;  // a replica's model server refused `failed_target`
  std::string failed_target;
};

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
  // Statuses this pass computed, written only after the pass published its routes (FlushStatuses): a client that
  // sees Ready=True then finds the route that serves it, never the previous table's 503 or 404.
  std::vector<Json> pending_statuses;
  void FlushStatuses();
  uint64_t uds_counter = 0;    // names the replicas' sockets r<N>.sock
  int64_t next_retire_ns = 0;  // the earliest pending retirement (0: none)
  // This pass's Secrets and ServiceAccounts, by namespace, then name.
  std::map<std::string, std::map<std::string, Json>> pass_secrets, pass_accounts;
  bool pass_credentials_listed = false;  // both lists read (else no cache collection this pass)
  GpuLedger gpu_ledger;  // which replica holds which of opt.gpus
  // Multi-model serving (control/trained_models.h): TrainedModels by "ns/name", what each replica of a
  // multi-model predictor loaded, and what every such service's replicas should have loaded ("ns/isvc" ->
  // model -> target).
  std::map<std::string, TrainedModelState> trained_models;
  std::map<supervisor::ReplicaId, ReplicaModels> replica_models;
  std::map<std::string, std::map<std::string, std::string>> desired_models;
  RepositoryClient* repository = nullptr;
  std::unique_ptr<RepositoryClient> own_repository;

  // Shared with the API threads (Reconciler::LogTargets): replicas of each service, newest revision first.
  mutable Mutex logs_mu;
  std::map<std::string, std::vector<std::pair<std::string, supervisor::ReplicaId>>> log_targets GUARDED_BY(logs_mu);

  // A fresh Unix socket path for an `inferd model-server` replica, or "" when it would not fit sun_path.
  std::string NextUdsPath() {
    if (opt.run_dir.empty()) return "";
    std::string path = opt.run_dir + "/r" + std::to_string(++uds_counter) + ".sock";
    return path.size() <= 107 ? path : "";
  }

  void ReconcileAll();
  // One service per pass: each of its components (kComponents) resolved, its revision, model, replicas and
  // traffic, in steps that share one Pass per component; then the service's status from all of them.
  struct Pass;
  struct ServicePass;
  void ReconcileService(const Json& obj, Service& svc, const std::vector<Json>& ns_runtimes,
                        const std::vector<Json>& cluster_runtimes);
  void SyncComponents(const Json& obj, Service& svc, const InProcessPlan& in_process);
  void ReconcileComponent(Pass& p, Service& svc, const std::vector<Json>& ns_runtimes,
                          const std::vector<Json>& cluster_runtimes);
  void ResolveComponent(Pass& p, const std::vector<Json>& ns_runtimes, const std::vector<Json>& cluster_runtimes);
  void EnsureRevision(Pass& p, Service& svc);
  void EnsureStorage(Pass& p, Service& svc);
  void ObserveReplicas(Pass& p, Service& svc);
  void RouteTraffic(Pass& p, Service& svc);
  ComponentReadiness ComponentReady(Pass& p, Service& svc);
  void BuildStatus(ServicePass& sp, std::vector<Pass>& passes, Service& svc);
  ComponentStatus ComponentStatusOf(Pass& p, const Service& svc);
  std::optional<ConditionStatus> GpuCondition(const Service& svc);
  RevisionStatus RevisionStatusOf(const Revision& rev, const ComponentState& comp, int ready, bool latest);
  void PublishLogTargets(const Service& svc) EXCLUDES(logs_mu);
  void StopRevision(Revision& rev);
  void StopService(Service& svc);
  void Autoscale(Service& svc, Revision& rev, int64_t now_ns);
  void ActivateHeld();
  Status StartReplica(Service& svc, Revision& rev, const std::vector<size_t>& gpus);
  bool TakeGpus(Revision& rev, std::vector<size_t>* devices);  // false: not enough free (rev.gpu_shortage says)
  void ReleaseExitedGpus();
  void NoteGpuShortage(Service& svc, Revision& rev);
  void Retire(Service& svc, supervisor::ReplicaId id, int64_t now_ns);
  void StopRetired(int64_t now_ns);
  void Emit(Service& svc, const std::string& type, const std::string& reason, const std::string& message);
  void CheckLoadFailure(Service& svc, Revision& rev, const supervisor::ReplicaStatus& s);
  void RetryFailedLoad(Service& svc, Revision& rev, int ready);
  void PublishRoutes();
  gateway::ServiceRoute ComponentRoute(const Service& svc, const ComponentState& comp, std::string& fingerprint);
  void PublishKnownServices();
  // Model storage (model_storage.h).
  void ListCredentialObjects();
  ModelFetcher::Outcome RevisionStorage(Service& svc, const Json& obj, Revision& rev, bool latest);
  void CollectCache();
  resources::CredentialLookup PassCredentials(const std::string& ns);
  // Multi-model serving (reconcile_trained_models.cc).
  std::string RepositoryDir(const std::string& ns, const std::string& isvc) const;
  void ReconcileTrainedModels(const std::vector<Json>& isvcs);
  void TakeRepositoryAnswers();
  TmServiceFacts ServiceFacts(const Json* isvc, const std::string& key);
  void ReconcileTrainedModel(Json& tm, const Json* isvc, const TmServiceFacts& facts, bool memory_available);
  void SyncReplicaModels();
  // Whether a ready replica takes requests: a multi-model predictor's once it has loaded every TrainedModel.
  bool ReplicaServes(const Service& svc, const Revision& rev, supervisor::ReplicaId id,
                     const supervisor::ReplicaStatus& s) const;
};

}  // namespace inferd::control
