// control/reconciler.cc: see reconciler.h. The reconciler thread's state is one struct (State,
// reconciler_state.h); the API threads read only log_targets, under logs_mu. One service's pass is in
// reconcile_service.cc.
#include "control/reconciler.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <set>

#include "api/api_server.h"
#include "control/reconciler_state.h"
#include "control/replica_command.h"
#include "control/scaling.h"
#include "core/backoff.h"
#include "core/clock.h"
#include "core/logging.h"
#include "resources/resources.h"
#include "resources/secrets.h"
#include "store/store.h"

namespace inferd::control {

namespace {

// The wait before retry `attempt` (1, 2, ...) of a failed model load: the replicas' restart backoff.
std::chrono::milliseconds LoadRetryDelay(int attempt, int initial_ms, int max_ms) {
  return ExponentialBackoff(attempt - 1, std::chrono::milliseconds(std::max(1, initial_ms)),
                            std::chrono::milliseconds(std::max(initial_ms, max_ms)));
}


// The replica template (ReconcilerOptions) to fork this replica from, or "" to exec it. Only a predictor run
// by this binary's `inferd model-server` with a model, on no GPU, whose environment overrides are all read
// after start-up: a forked replica inherits the template's libraries, already initialised, so a variable read
// by a library's initializer (OMP_NUM_THREADS, MALLOC_ARENA_MAX, PYTHONPATH, CUDA_VISIBLE_DEVICES...) would be
// ignored: such replicas are exec'd.
std::string ChooseReplicaTemplate(const ReconcilerOptions& opt, const supervisor::ReplicaSpec& rs,
                                  const ReplicaCommandInput& in, bool no_gpu) {
  if (opt.native_template.empty() || !no_gpu || !in.spec || in.spec->component != "predictor") return "";
  if (in.spec->format.empty() || in.model_path.empty() || in.in_process) return "";
  if (rs.argv.size() < 2 || rs.argv[0] != opt.inferd_bin || rs.argv[1] != "model-server") return "";
  if (std::find(rs.argv.begin(), rs.argv.end(), "--python") != rs.argv.end()) return "";
  static const std::set<std::string, std::less<>> kSafe = {
      "INFERD_COMPILED_CACHE", "INFERD_REPOSITORY_TOKEN", "STORAGE_URI", "PREDICT_PROBA", "INFERD_GATEWAY",
      "INFERD_GATEWAY_GRPC", "INFERENCE_SERVICE_NAME"};
  for (const auto& [k, v] : rs.env) {
    if (!kSafe.count(k)) return "";
  }
  return opt.native_template;
}

}  // namespace


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
  ReleaseExitedGpus();
  TakeRepositoryAnswers();
  std::set<std::string> seen;
  // Services deleted (or deleted and created again) since the last pass: their replicas stop only once the
  // routes without them are published, so a request sent after a replica of a deleted service exited finds
  // no route (404), never a route to a dead replica that the activator would hold.
  std::vector<Service> removed;
  for (const auto& obj : list->items) {
    std::string ns = obj["metadata"].value("namespace", "default");
    std::string name = obj["metadata"].value("name", "");
    std::string key = ns + "/" + name;
    seen.insert(key);
    Service& svc = services[key];
    std::string uid = obj["metadata"].value("uid", "");
    if (!svc.uid.empty() && svc.uid != uid) {  // deleted and created again between two passes
      removed.push_back(std::move(svc));
      svc = Service{};
    }
    svc.ns = ns;
    svc.name = name;
    svc.uid = uid;
    const std::vector<Json>& runtimes_here = runtimes_by_ns[ns];
    ReconcileService(obj, svc, runtimes_here, cl_rts->items);
  }
  ReconcileTrainedModels(list->items);
  for (auto it = services.begin(); it != services.end();) {
    if (seen.count(it->first)) {
      ++it;
      continue;
    }
    LOG_INFO("inferenceservice {} deleted: stopping its replicas", it->first);
    if (!opt.repository_root.empty()) {  // a multi-model service's repository (its TrainedModels' links)
      std::error_code ec;
      std::filesystem::remove_all(RepositoryDir(it->second.ns, it->second.name), ec);
    }
    removed.push_back(std::move(it->second));
    fetcher->MarkCollectionDue();  // its cache entries may have no other user
    {
      MutexLock lock(logs_mu);
      log_targets.erase(it->first);
    }
    it = services.erase(it);
  }
  PublishRoutes();
  FlushStatuses();  // after the routes they describe are out
  for (auto& svc : removed) StopService(svc);  // after the routes without them are out
  StopRetired(clock->SteadyNs());  // likewise
  CollectCache();
}

// Requests held for a revision come before anything else, since the full pass reads the store and rebuilds
// every status (milliseconds a held request would wait for nothing): a revision with none of its own
// replicas starts one now, and the routes are published now, with any replica that became ready since the
// last pass. The full pass that follows decides again and finds the replica there.
void Reconciler::State::ActivateHeld() {
  const int64_t now = clock->SteadyNs();
  ReleaseExitedGpus();
  bool held = false;
  for (auto& [key, svc] : services) {
    for (auto& comp : svc.components) {  // each component is activated on its own (a transformer at zero too)
      for (auto& rev : comp.revisions) {
        if (rev.stats->held.load(std::memory_order_relaxed) == 0) continue;
        held = true;
        if (rev.replicas.empty()) Autoscale(svc, rev, now);
      }
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
  svc.ForEachRevision([&](Revision& rev) {
    for (auto id : rev.replicas) runner->Stop(id);
  });
  for (auto& [id, at] : svc.retiring) runner->Stop(id);
  svc.ForEachRevision([&](Revision& rev) {
    for (auto id : rev.replicas) runner->StopAndWait(id);
    rev.replicas.clear();
    rev.uds.clear();
  });
  for (auto& [id, at] : svc.retiring) runner->StopAndWait(id);
  svc.retiring.clear();
}

// Devices are the supervisor's to give back: a replica keeps them while it drains, until it is gone.
void Reconciler::State::ReleaseExitedGpus() {
  std::vector<uint64_t> gone;
  for (const auto& [id, devices] : gpu_ledger.holders()) {
    if (!runner->Get(id)) gone.push_back(id);
  }
  for (uint64_t id : gone) gpu_ledger.Release(id);
}

// One replica's devices (none when the revision asks for none). Not enough free: false, and
// rev.gpu_shortage says why in the scheduler's words.
bool Reconciler::State::TakeGpus(Revision& rev, std::vector<size_t>* devices) {
  devices->clear();
  if (rev.gpus <= 0) return true;
  const std::set<size_t> busy = gpu_ledger.Busy();
  GpuAllocation a = AllocateGpus(opt.gpus.size(), busy, {rev.gpus});
  if (a.pending == 0) {
    *devices = std::move(a.grants.front());
    return true;
  }
  const size_t available = opt.gpus.size() - std::min(busy.size(), opt.gpus.size());
  rev.gpu_shortage = std::string(kInsufficientGpuMessage) + " Revision " + rev.name + ": a replica needs " +
                     std::to_string(rev.gpus) + " nvidia.com/gpu; " +
                     (opt.gpus.empty() ? std::string("inferd serve has no GPUs (see --gpus)")
                                       : std::to_string(available) + " of " + std::to_string(opt.gpus.size()) +
                                             " free");
  return false;
}

Status Reconciler::State::StartReplica(Service& svc, Revision& rev, const std::vector<size_t>& gpus) {
  ReplicaCommandInput in;
  in.isvc_name = svc.name;
  in.ns = svc.ns;
  in.replica_name = svc.ns + "/" + rev.name + "-" + std::to_string(++rev.next_index);
  in.spec = &rev.spec;
  in.runtime = rev.runtime.is_null() ? nullptr : &rev.runtime;
  in.model_path = rev.model_path;
  if (rev.spec.multi_model && !opt.repository_root.empty()) {
    // Its TrainedModels' repository (reconcile_trained_models.cc), which it loads at start-up as it is.
    in.model_repository = in.model_path = RepositoryDir(svc.ns, svc.name);
    std::error_code ec;
    std::filesystem::create_directories(in.model_repository, ec);
    if (ec) LOG_WARN("{}/{}: cannot create {}: {}", svc.ns, svc.name, in.model_repository, ec.message());
  }
  in.inferd_bin = opt.inferd_bin;
  in.kserve_stub_dir = opt.kserve_stub_dir;
  in.uds_path = NextUdsPath();
  in.images = &opt.images;
  // A transformer or explainer reaches the predictor through the gateway by its in-cluster host (the brief of
  // src/pipeline/predictor_client: INFERD_GATEWAY with Host <isvc>-predictor.<ns>).
  in.predictor_host = svc.name + "-predictor." + svc.ns;
  if (opt.gateway_http_port > 0) in.gateway_http = "127.0.0.1:" + std::to_string(opt.gateway_http_port);
  if (opt.gateway_grpc_port > 0) in.gateway_grpc = "127.0.0.1:" + std::to_string(opt.gateway_grpc_port);
  in.in_process = rev.in_process;
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
  // After the spec's own variables, so that they win (as the device plugin's do in a pod).
  for (auto& kv : GpuEnv(opt.gpus, gpus)) rs->env.push_back(std::move(kv));
  rs->initial_backoff = std::chrono::milliseconds(opt.initial_backoff_ms);
  rs->max_backoff = std::chrono::milliseconds(opt.max_backoff_ms);
  rs->template_name = ChooseReplicaTemplate(opt, *rs, in, gpus.empty());
  // Python or not is asked again at every start: a scikit-learn replica whose model compiled natively on its
  // first start comes back (after a crash) without Python.
  if (!rs->template_name.empty() && !opt.python_template.empty() && opt.needs_python) {
    rs->choose_template = [native = rs->template_name, python = opt.python_template, f = opt.needs_python,
                           format = in.spec->format, dir = in.model_path] {
      return f(format, dir) ? python : native;
    };
  }
  auto id = runner->Start(*rs);
  if (!id.ok()) {
    rev.build_error = id.status().message();
    return id.status();
  }
  rev.replicas.push_back(*id);
  gpu_ledger.Grant(*id, gpus);
  // Only `inferd model-server` replicas of one process got --uds (BuildReplicaSpec); the others stay on TCP.
  if (!in.uds_path.empty() && rs->ports_from_stdout && ServesUds(*rs)) rev.uds[*id] = in.uds_path;
  LOG_INFO("{}/{}: started replica {}{}", svc.ns, svc.name, in.replica_name,
           gpus.empty() ? std::string() : " on GPU " + GpuList(opt.gpus, gpus));
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
  rev.gpu_pending = 0;
  for (int i = 0; i < plan.start; ++i) {
    std::vector<size_t> devices;
    if (!TakeGpus(rev, &devices)) {
      rev.gpu_pending = plan.start - i;
      break;
    }
    if (!StartReplica(svc, rev, devices).ok()) break;
  }
  NoteGpuShortage(svc, rev);
  for (size_t pick : plan.retire) {
    supervisor::ReplicaId id = rev.replicas[pick];
    rev.replicas.erase(rev.replicas.begin() + static_cast<std::ptrdiff_t>(pick));
    rev.uds.erase(id);
    Retire(svc, id, now_ns);
    LOG_INFO("{}/{}: revision {} scales down: retiring a replica", svc.ns, svc.name, rev.name);
  }
}

// After a scale decision: replicas waiting for GPUs are said once per shortage (a FailedScheduling Warning, as
// the Kubernetes scheduler writes for a pending pod), and a revision with no replica at all answers the
// requests the gateway holds for it at once (503 naming the shortage) instead of letting them time out.
void Reconciler::State::NoteGpuShortage(Service& svc, Revision& rev) {
  if (rev.gpu_pending == 0) {
    rev.gpu_shortage.clear();
    rev.gpu_warned = false;
    return;
  }
  if (rev.replicas.empty()) rev.unavailable = "revision " + rev.name + " cannot start a replica: " + rev.gpu_shortage;
  if (rev.gpu_warned) return;
  rev.gpu_warned = true;
  Emit(svc, "Warning", "FailedScheduling",
       rev.gpu_shortage + " (" + std::to_string(rev.gpu_pending) + " replica(s) waiting)");
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

// Before the reconciler's first pass: every stored service is known to the gateway at once (503 "starting",
// not 404 "no route", while its replicas start).
void Reconciler::State::PublishKnownServices() {
  auto table = std::make_shared<gateway::RoutingTable>();
  if (auto list = db->List(api::InferenceServiceType(), ""); list.ok()) {
    for (const auto& obj : list->items) {
      const InProcessPlan in_process = PlanInProcess(obj, &opt.images);
      for (const char* component : kComponents) {  // every component the spec runs: its host answers 503 too
        if (!ComponentWanted(obj, component, in_process)) continue;
        gateway::ServiceRoute route;
        route.ns = obj["metadata"].value("namespace", "default");
        route.name = obj["metadata"].value("name", "");
        route.component = std::string_view(component) == "predictor" ? "" : component;
        route.cluster_local = IsClusterLocal(obj);
        route.unavailable = "service " + route.ns + "/" + route.name +
                            (route.component.empty() ? "" : " (" + route.component + ")") +
                            " is not ready (inferd serve is starting)";
        table->services.push_back(std::move(route));
      }
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
  if (rev.spec.component != "predictor" && rev.spec.storage_uri.empty()) {
    // A transformer or explainer without a storageUri: nothing to fetch (the storage spec is the predictor's).
    rev.storage_ready = true;
    ModelFetcher::Outcome none;
    none.ready = true;
    return none;
  }
  if (latest) {
    auto src = fetcher->Resolve(obj, rev.spec.storage_uri, PassCredentials(svc.ns));
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

// This pass's Secrets and ServiceAccounts of a namespace, as storage credentials are looked up.
resources::CredentialLookup Reconciler::State::PassCredentials(const std::string& ns) {
  const auto* secrets = &pass_secrets[ns];
  const auto* accounts = &pass_accounts[ns];
  return resources::CredentialLookup{
      [secrets](const std::string& n) -> const Json* {
        auto it = secrets->find(n);
        return it == secrets->end() ? nullptr : &it->second;
      },
      [accounts](const std::string& n) -> const Json* {
        auto it = accounts->find(n);
        return it == accounts->end() ? nullptr : &it->second;
      }};
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
    for (const auto& comp : svc.components) {
      for (const auto& rev : comp.revisions) {
        const std::string& entry = rev.source.cache_key;
        if (entry.empty()) continue;
        referenced.insert(entry);
        bool starting = &rev == &comp.revisions.back() && !rev.ever_ready;
        if (!rev.replicas.empty() || !rev.storage_ready || starting || (rev.scaler && rev.scaler->desired() > 0)) {
          in_use.insert(entry);
        }
      }
    }
  }
  for (const auto& [key, tm] : trained_models) {  // a TrainedModel's model stays while the TrainedModel does
    if (tm.source.cache_key.empty()) continue;
    referenced.insert(tm.source.cache_key);
    in_use.insert(tm.source.cache_key);
  }
  fetcher->CollectIfDue(referenced, in_use, std::chrono::steady_clock::time_point(std::chrono::nanoseconds(clock->SteadyNs())));
}

void Reconciler::State::PublishRoutes() {
  auto table = std::make_shared<gateway::RoutingTable>();
  std::string fingerprint;
  for (auto& [key, svc] : services) {
    for (auto& comp : svc.components) {
      // Every known service has a route per component: one that no revision serves yet answers 503, not 404.
      gateway::ServiceRoute route = ComponentRoute(svc, comp, fingerprint);
      table->services.push_back(std::move(route));
    }
  }
  if (fingerprint == last_routes) return;
  last_routes = fingerprint;
  publish_routes(table);
}

// One component's route: its revisions with their shares and ready replicas (`fingerprint` records what
// the table depends on, so that an unchanged table is not published again).
gateway::ServiceRoute Reconciler::State::ComponentRoute(const Service& svc, const ComponentState& comp,
                                                        std::string& fingerprint) {
  const std::string key = svc.ns + "/" + svc.name + "/" + comp.name;
  gateway::ServiceRoute route;
  route.ns = svc.ns;
  route.name = svc.name;
  route.component = comp.name == "predictor" ? "" : comp.name;
  route.cluster_local = svc.cluster_local;
  if (comp.traffic.empty()) route.unavailable = comp.route_unavailable;
  fingerprint += key + (svc.cluster_local ? "|local|" : "|") + route.unavailable + ";";
  for (const auto& t : comp.traffic) {
    const Revision* found = nullptr;
    for (const auto& r : comp.revisions) {
      if (r.name == t.revision) found = &r;
    }
    if (!found) continue;
    const Revision& rev = *found;
    if (t.latest || comp.traffic.size() == 1) {
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
      if (!s || !ReplicaServes(svc, rev, id, *s)) continue;
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
  return route;
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
    svc.ForEachRevision([&](Revision& rev) { s_->StopRevision(rev); });
  }
}

std::optional<std::vector<std::pair<std::string, supervisor::ReplicaId>>> Reconciler::LogTargets(
    const std::string& key) const {
  MutexLock lock(s_->logs_mu);
  auto it = s_->log_targets.find(key);
  if (it == s_->log_targets.end()) return std::nullopt;
  return it->second;
}

}  // namespace inferd::control
