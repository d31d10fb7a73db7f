#include "control/control_plane.h"

#include <curl/curl.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <thread>

#include "api/api_server.h"
#include "control/isvc_status.h"
#include "control/model_storage.h"
#include "control/plan.h"
#include "control/replica_command.h"
#include "control/scaling.h"
#include "core/backoff.h"
#include "core/clock.h"
#include "core/logging.h"
#include "core/thread_pool.h"
#include "gateway/gateway.h"
#include "net/listener.h"
#include "resources/resources.h"
#include "resources/secrets.h"
#include "storage/storage.h"
#include "store/store.h"
#include "supervisor/supervisor.h"

namespace inferd::control {

namespace fs = std::filesystem;
using resources::Json;
using Clock = std::chrono::steady_clock;

std::string DefaultDataDir() {
  if (const char* d = std::getenv("INFERD_DATA_DIR"); d && *d) return d;
  if (const char* x = std::getenv("XDG_DATA_HOME"); x && *x) return std::string(x) + "/inferd";
  const char* home = std::getenv("HOME");
  return std::string(home && *home ? home : "/tmp") + "/.local/share/inferd";
}

namespace {

std::string RandomToken() {
  unsigned char bytes[24];
  std::ifstream in("/dev/urandom", std::ios::binary);
  in.read(reinterpret_cast<char*>(bytes), sizeof bytes);
  static const char* hex = "0123456789abcdef";
  std::string out;
  for (unsigned char b : bytes) {
    out += hex[b >> 4];
    out += hex[b & 15];
  }
  return out;
}

// Reads DIR/token, creating it (mode 0600) at first start.
StatusOr<std::string> LoadOrCreateToken(const std::string& path) {
  std::error_code ec;
  if (fs::exists(path, ec)) {
    std::ifstream in(path);
    std::string token;
    std::getline(in, token);
    if (token.empty()) return InvalidArgument(path + " is empty: delete it to get a new token");
    return token;
  }
  std::string token = RandomToken();
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) return Internal("cannot create " + path + ": " + std::strerror(errno));
  std::string line = token + "\n";
  bool ok = ::write(fd, line.data(), line.size()) == static_cast<ssize_t>(line.size());
  ::close(fd);
  if (!ok) return Internal("cannot write " + path);
  return token;
}

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
  ModelStorage::Source source;             // what it fetches, with which credentials (model_storage.h)
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

struct ControlPlane::Impl {
  ServeOptions opt;
  ServeEndpoints endpoints;
  std::unique_ptr<store::Store> db_;
  std::unique_ptr<ModelStorage> model_storage_;
  std::unique_ptr<supervisor::Supervisor> sup_;
  std::unique_ptr<gateway::Gateway> gw_;
  std::unique_ptr<api::ApiServer> api_;

  // Wake-ups of the reconciler.
  std::mutex wake_mu;
  std::condition_variable wake_cv;
  bool wake = false;
  std::atomic<bool> stopping{false};
  std::thread reconciler;
  std::vector<std::thread> watchers;

  // Reconciler thread: this pass's Secrets and ServiceAccounts, by namespace, then name.
  std::map<std::string, std::map<std::string, Json>> pass_secrets, pass_accounts;
  bool pass_credentials_listed = false;  // both lists read (else no cache collection this pass)

  // Reconciler thread only.
  std::map<std::string, Service> services;  // "ns/name"
  uint64_t event_counter = 0;
  std::string last_routes;
  std::string run_dir;       // DATA_DIR/run (0700), absolute, for the replicas' Unix sockets; "" = TCP only
  // Given to every replica (INFERD_REPOSITORY_TOKEN): the repository API's load/unload need it, so a client
  // that reaches a replica through the gateway cannot unload the model it serves. The index stays open (the
  // reconciler reads it without one).
  const std::string repository_token = RandomToken();
  uint64_t uds_counter = 0;  // names them r<N>.sock

  // A fresh Unix socket path for an `inferd model-server` replica, or "" when it would not fit sun_path.
  std::string NextUdsPath() {
    if (run_dir.empty()) return "";
    std::string path = run_dir + "/r" + std::to_string(++uds_counter) + ".sock";
    return path.size() <= 107 ? path : "";
  }

  // For the logs extension (API threads): replicas of each service, newest revision first.
  std::mutex logs_mu;
  std::map<std::string, std::vector<std::pair<std::string, supervisor::ReplicaId>>> log_targets;

  void Wake() {
    {
      std::lock_guard lock(wake_mu);
      wake = true;
    }
    wake_cv.notify_one();
  }

  Status Open();
  void QuarantineUnusableRows();
  Status HandleQuarantine(const api::ApiRequest& req, api::ApiStream& out);
  void MarkRestarting();
  void EnsureBuiltinRuntimes();
  void RunReconciler();
  void WatchLoop(const store::ResourceType& type);
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
  int64_t next_retire_ns = 0;  // the earliest pending retirement (0: none); reconciler thread
  void Emit(Service& svc, const std::string& type, const std::string& reason, const std::string& message);
  void CheckLoadFailure(Service& svc, Revision& rev, const supervisor::ReplicaStatus& s);
  void RetryFailedLoad(Service& svc, Revision& rev, int ready);
  void PublishRoutes();
  void PublishKnownServices();
  Status HandleLogs(const api::ApiRequest& req, api::ApiStream& out);
  void WriteServeJson();
  void StopAll();
  // Model storage (model_storage.h).
  void ListCredentialObjects();
  ModelStorage::Outcome RevisionStorage(Service& svc, const Json& obj, Revision& rev, bool latest);
  void CollectCache();
};

Status ControlPlane::Impl::Open() {
  std::error_code ec;
  fs::create_directories(opt.data_dir, ec);
  if (ec) return InvalidArgument("--data_dir " + opt.data_dir + ": " + ec.message());
  fs::permissions(opt.data_dir, fs::perms::owner_all, fs::perm_options::replace, ec);
  {
    // The replicas' Unix sockets (the gateway's HTTP hop to `inferd model-server`); without it, TCP only.
    std::error_code rec;
    std::string run = fs::absolute(opt.data_dir, rec).lexically_normal().string();
    if (!rec && !run.empty() && run.back() == '/') run.pop_back();
    run += "/run";
    fs::create_directories(run, rec);
    if (!rec) fs::permissions(run, fs::perms::owner_all, fs::perm_options::replace, rec);
    if (!rec) {
      run_dir = run;
    } else {
      LOG_WARN("{}: {}; replicas are reached over TCP only", run, rec.message());
    }
  }
  if (opt.pvc_root.empty()) opt.pvc_root = opt.data_dir + "/volumes";
  if (opt.inferd_bin.empty()) {
    opt.inferd_bin = fs::read_symlink("/proc/self/exe", ec).string();
    if (ec) return Internal("cannot find this executable: " + ec.message());
  }
  endpoints.token_file = opt.data_dir + "/token";
  ASSIGN_OR_RETURN(std::string token, LoadOrCreateToken(endpoints.token_file));
  ASSIGN_OR_RETURN(db_, store::Store::Open(opt.data_dir + "/inferd.db"));
  QuarantineUnusableRows();  // before anything reads the store
  storage::StorageOptions so;
  so.cache_dir = opt.data_dir + "/models";
  so.pvc_root = opt.pvc_root;
  so.max_unpacked_bytes = opt.storage.max_unpacked_bytes;
  so.max_unpacked_bytes_source = "--storage_max_unpacked_bytes";
  so.max_archive_entries = opt.storage.max_archive_entries;
  so.max_archive_entries_source = "--storage_max_archive_entries";
  fs::create_directories(so.cache_dir, ec);
  model_storage_ = std::make_unique<ModelStorage>(so, opt.storage, [this] { Wake(); });
  sup_ = std::make_unique<supervisor::Supervisor>([this](const supervisor::ReplicaStatus&) { Wake(); });

  EnsureBuiltinRuntimes();
  MarkRestarting();

  // One budget of request-body bytes in flight for the process: the gateway's and the API's bodies draw on it.
  net::Limits limits = opt.limits;
  gateway::GatewayOptions go;
  api::ApiOptions ao;
  RETURN_IF_ERROR(net::ResolveLimits(&limits, std::max<uint64_t>(go.max_body_bytes, ao.max_body_bytes)));
  auto body_budget = std::make_shared<net::BodyBudget>(limits.max_body_bytes_in_flight);
  go.limits = ao.limits = limits;
  go.body_budget = ao.body_budget = body_budget;
  go.host = opt.gateway_host;
  go.http_port = opt.http_port;
  go.grpc_port = opt.grpc_port;
  go.domain = opt.domain;
  go.token = opt.gateway_token;
  go.workers = opt.gateway_workers;
  go.max_held_per_revision = static_cast<size_t>(std::max(1, opt.max_held_requests));
  go.on_activate = [this] { Wake(); };  // scale from zero now, not at the next tick
  gw_ = std::make_unique<gateway::Gateway>(go);
  RETURN_IF_ERROR(gw_->Start());
  PublishKnownServices();

  ao.host = opt.api_host;
  ao.port = opt.api_port;
  ao.token = token;
  // Autoscaling fields and annotations are checked at apply time, as Knative's webhook does, so a bad value
  // is a 422 naming it rather than a service that never gets a revision. (The reconciler still reports
  // InvalidScalingSpec for a stored object that a different --config makes invalid.)
  ao.validate_isvc = [this](const Json& obj) -> Status {
    auto spec = resources::ResolvePredictor(obj);
    if (!spec.ok()) return Status::Ok();  // not a scaling problem: the reconciler reports it
    auto scaling = ScalingFor(opt.autoscaler, obj["spec"]["predictor"], spec->annotations);
    return scaling.ok() ? Status::Ok() : scaling.status();
  };
  api_ = std::make_unique<api::ApiServer>(db_.get(), ao);
  api_->AddExtension("/inferd/v1/namespaces/", [this](const api::ApiRequest& r, api::ApiStream& out) {
    return HandleLogs(r, out);
  });
  api_->AddExtension("/inferd/v1/quarantine", [this](const api::ApiRequest& r, api::ApiStream& out) {
    return HandleQuarantine(r, out);
  });
  RETURN_IF_ERROR(api_->Start());

  endpoints.http_port = gw_->http_port();
  endpoints.grpc_port = gw_->grpc_port();
  endpoints.api_port = api_->port();
  std::string api_host = opt.api_host == "0.0.0.0" ? "127.0.0.1" : opt.api_host;
  endpoints.api_url = "http://" + api_host + ":" + std::to_string(endpoints.api_port);
  WriteServeJson();

  reconciler = std::thread([this] { RunReconciler(); });
  for (const auto* t : {&api::InferenceServiceType(), &api::ServingRuntimeType(), &api::ClusterServingRuntimeType(),
                        &api::SecretType(), &api::ServiceAccountType()}) {
    watchers.emplace_back([this, t] { WatchLoop(*t); });
  }
  return Status::Ok();
}

void ControlPlane::Impl::WriteServeJson() {
  Json j = {{"api", endpoints.api_url},
            {"token_file", endpoints.token_file},
            {"http_port", endpoints.http_port},
            {"grpc_port", endpoints.grpc_port},
            {"gateway", "http://127.0.0.1:" + std::to_string(endpoints.http_port)},
            {"domain", opt.domain},
            {"pid", static_cast<int>(getpid())}};
  std::string tmp = opt.data_dir + "/serve.json.tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << j.dump(2) << "\n";
  }
  std::error_code ec;
  fs::rename(tmp, opt.data_dir + "/serve.json", ec);
}

void ControlPlane::Impl::EnsureBuiltinRuntimes() {
  for (auto& rt : resources::BuiltinClusterServingRuntimes()) {
    std::string name = rt["metadata"].value("name", "");
    auto got = db_->Get(api::ClusterServingRuntimeType(), "", name);
    if (got.ok()) continue;
    auto created = db_->Create(api::ClusterServingRuntimeType(), rt);
    if (!created.ok()) LOG_WARN("built-in runtime {}: {}", name, created.status().message());
  }
}

// A stored row the store cannot use (not JSON, nested too deep, the wrong kind, broken metadata, a resource
// nobody serves) must not stop serve from starting: the store moves it to its quarantine table, and each one
// is reported here as a Warning Event (the first kMaxEvents) and a log line; GET /inferd/v1/quarantine lists
// them all, and getting one by name says why it is gone. Everything else is served.
void ControlPlane::Impl::QuarantineUnusableRows() {
  constexpr size_t kMaxEvents = 20;
  const std::vector<store::ResourceType> types = {api::InferenceServiceType(), api::ServingRuntimeType(),
                                                  api::ClusterServingRuntimeType(), api::EventType()};
  auto moved = db_->QuarantineUnusable(types);
  if (!moved.ok()) {
    LOG_ERROR("store: cannot check the stored objects: {}", moved.status().message());
    return;
  }
  if (moved->empty()) return;
  LOG_ERROR("store: {} stored object(s) could not be loaded and were quarantined (GET /inferd/v1/quarantine lists "
            "them; their text stays in the table quarantine of {}/inferd.db)",
            moved->size(), opt.data_dir);
  for (size_t i = 0; i < moved->size() && i < kMaxEvents; ++i) {
    const store::QuarantinedRow& row = (*moved)[i];
    std::string kind = row.resource, api_version;
    for (const auto& t : types) {
      if (store::ResourceKey(t) == row.resource) {
        kind = t.kind;
        api_version = t.api_version;
      }
    }
    std::string ns = row.ns.empty() ? "default" : row.ns;
    char suffix[32];
    std::snprintf(suffix, sizeof suffix, "%llx%04llx", static_cast<unsigned long long>(std::time(nullptr)),
                  static_cast<unsigned long long>(++event_counter & 0xffff));
    std::string now = NowRfc3339();
    Json involved = {{"kind", kind}, {"name", row.name}};
    if (!api_version.empty()) involved["apiVersion"] = api_version;
    if (!row.ns.empty()) involved["namespace"] = row.ns;
    Json ev = {{"apiVersion", "v1"},
               {"kind", "Event"},
               {"metadata", {{"name", std::string("quarantined.") + suffix}, {"namespace", ns}}},
               {"involvedObject", involved},
               {"type", "Warning"},
               {"reason", "Quarantined"},
               {"message", "the stored " + kind + " \"" + (row.ns.empty() ? "" : row.ns + "/") + row.name +
                               "\" could not be loaded and is not served: " + row.reason},
               {"source", {{"component", "inferd-store"}}},
               {"firstTimestamp", now},
               {"lastTimestamp", now},
               {"count", 1}};
    auto r = db_->Create(api::EventType(), ev);
    if (!r.ok()) LOG_WARN("event for quarantined {}: {}", row.name, r.status().message());
  }
}

Status ControlPlane::Impl::HandleQuarantine(const api::ApiRequest& req, api::ApiStream& out) {
  if (req.method != "GET" || (req.path != "/inferd/v1/quarantine" && req.path != "/inferd/v1/quarantine/")) {
    return NotFound("no such route: " + req.method + " " + req.path);
  }
  ASSIGN_OR_RETURN(std::vector<store::QuarantinedRow> rows, db_->Quarantined());
  Json items = Json::array();
  for (const auto& r : rows) {
    items.push_back({{"resource", r.resource},
                     {"namespace", r.ns},
                     {"name", r.name},
                     {"reason", r.reason},
                     {"quarantinedAt", r.quarantined_at},
                     {"bytes", r.bytes}});
  }
  out.content_type = "application/json";
  out.write(Json{{"kind", "QuarantineList"}, {"items", std::move(items)}}.dump() + "\n");
  return Status::Ok();
}

void ControlPlane::Impl::MarkRestarting() {
  auto list = db_->List(api::InferenceServiceType(), "");
  if (!list.ok()) return;
  for (auto obj : list->items) {
    Json& st = obj["status"];
    if (!st.is_object()) st = Json::object();
    std::vector<ConditionStatus> conds;
    for (const char* t : {"IngressReady", "PredictorReady", "Ready"}) {
      conds.push_back({t, "Unknown", "Restarting", "inferd serve restarted; replicas are starting"});
    }
    st[kStatusConditions] = ConditionsToJson(conds, Json(), NowRfc3339());  // every time is now
    if (st.contains(kStatusInferd)) st[kStatusInferd].erase(kStatusInferdReplicas);
    auto r = db_->UpdateStatus(api::InferenceServiceType(), obj);
    if (!r.ok()) LOG_WARN("marking {} restarting: {}", obj["metadata"].value("name", ""), r.status().message());
  }
}

void ControlPlane::Impl::WatchLoop(const store::ResourceType& type) {
  while (!stopping.load()) {
    auto w = db_->WatchFrom(type, "", "");
    if (!w.ok()) {
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
      continue;
    }
    // The reconciler's own status writes come back as MODIFIED events; waking for them would start a
    // new pass right after every status change (continuously during a download). Only changes of what
    // the reconciler reads wake it: generation (spec), labels, annotations, or any other event type.
    std::map<std::string, std::string> seen;  // object key -> its generation/labels/annotations
    while (!stopping.load() && !(*w)->expired()) {
      auto ev = (*w)->Next(std::chrono::milliseconds(250));
      if (!ev) continue;
      const Json& md = ev->object["metadata"];
      std::string key = md.value("namespace", "") + "/" + md.value("name", "");
      std::string sig = std::to_string(md.value("generation", 0)) + "|" +
                        (md.contains("labels") ? md["labels"].dump() : "") + "|" +
                        (md.contains("annotations") ? md["annotations"].dump() : "");
      if (ev->type == "DELETED") {
        seen.erase(key);
      } else if (ev->type == "MODIFIED" && seen[key] == sig) {
        continue;  // status only: the 1 s tick still re-checks everything
      } else {
        seen[key] = sig;
      }
      Wake();
    }
    Wake();  // re-list after an expired watch
  }
}

void ControlPlane::Impl::RunReconciler() {
  while (!stopping.load()) {
    ActivateHeld();
    ReconcileAll();
    // The 1 s tick is also the autoscaler's sampling period; a pending retirement may come sooner.
    auto wait = std::chrono::milliseconds(1000);
    if (next_retire_ns > 0) {
      int64_t left_ms = (next_retire_ns - NowNs()) / 1'000'000 + 1;
      wait = std::min(wait, std::chrono::milliseconds(std::max<int64_t>(1, left_ms)));
    }
    std::unique_lock lock(wake_mu);
    wake_cv.wait_for(lock, wait, [this] { return wake || stopping.load(); });
    wake = false;
  }
}

void ControlPlane::Impl::ReconcileAll() {
  auto list = db_->List(api::InferenceServiceType(), "");
  auto ns_rts = db_->List(api::ServingRuntimeType(), "");
  auto cl_rts = db_->List(api::ClusterServingRuntimeType(), "");
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
    model_storage_->MarkCollectionDue();  // its cache entries may have no other user
    {
      std::lock_guard lock(logs_mu);
      log_targets.erase(it->first);
    }
    it = services.erase(it);
  }
  PublishRoutes();
  StopRetired(NowNs());  // after the routes without them are out
  CollectCache();
}

// Requests held for a revision come before anything else, since the full pass reads the store and rebuilds
// every status (milliseconds a held request would wait for nothing): a revision with none of its own
// replicas starts one now, and the routes are published now, with any replica that became ready since the
// last pass. The full pass that follows decides again and finds the replica there.
void ControlPlane::Impl::ActivateHeld() {
  const int64_t now = NowNs();
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

void ControlPlane::Impl::Retire(Service& svc, supervisor::ReplicaId id, int64_t now_ns) {
  svc.retiring.emplace_back(id, now_ns + kRetireDelayNs);
}

void ControlPlane::Impl::StopRetired(int64_t now_ns) {
  next_retire_ns = 0;
  for (auto& [key, svc] : services) {
    for (auto it = svc.retiring.begin(); it != svc.retiring.end();) {
      if (it->second <= now_ns) {
        sup_->Stop(it->first);  // SIGTERM: the model server drains what it still has, then exits
        it = svc.retiring.erase(it);
      } else {
        if (next_retire_ns == 0 || it->second < next_retire_ns) next_retire_ns = it->second;
        ++it;
      }
    }
  }
}

void ControlPlane::Impl::StopRevision(Revision& rev) {
  for (auto id : rev.replicas) sup_->Stop(id);
  rev.replicas.clear();
  rev.uds.clear();
}

void ControlPlane::Impl::StopService(Service& svc) {
  // Signal every replica first, then wait: the wait is the slowest stop, not the sum of them.
  for (auto& rev : svc.revisions) {
    for (auto id : rev.replicas) sup_->Stop(id);
  }
  for (auto& [id, at] : svc.retiring) sup_->Stop(id);
  for (auto& rev : svc.revisions) {
    for (auto id : rev.replicas) sup_->StopAndWait(id);
    rev.replicas.clear();
    rev.uds.clear();
  }
  for (auto& [id, at] : svc.retiring) sup_->StopAndWait(id);
  svc.retiring.clear();
}

Status ControlPlane::Impl::StartReplica(Service& svc, Revision& rev) {
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
  rs->env.emplace_back("INFERD_COMPILED_CACHE", opt.data_dir + "/compiled");
  rs->env.emplace_back("INFERD_REPOSITORY_TOKEN", repository_token);
  rs->initial_backoff = std::chrono::milliseconds(opt.initial_backoff_ms);
  rs->max_backoff = std::chrono::milliseconds(opt.max_backoff_ms);
  auto id = sup_->Start(*rs);
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
void ControlPlane::Impl::Autoscale(Service& svc, Revision& rev, int64_t now_ns) {
  if (!rev.scaler) return;
  RevisionScaler::Inputs in;
  in.now_ns = now_ns;
  in.stats = rev.stats.get();
  for (auto id : rev.replicas) {
    auto s = sup_->Get(id);
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
  if (can_start && want > 0 && rev.replicas.empty() && !model_storage_->Present(rev.model_path)) {
    // Its cache entry was collected while it was at zero: fetch it again first (RevisionStorage).
    LOG_INFO("{}/{}: revision {} fetches its model again (the cache entry was collected)", svc.ns, svc.name, rev.name);
    rev.storage_ready = false;
    can_start = false;
    Wake();
  }
  ScaleInput scale;
  scale.want = want;
  scale.can_start = can_start;
  for (auto id : rev.replicas) {
    auto s = sup_->Get(id);
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
void ControlPlane::Impl::CheckLoadFailure(Service& svc, Revision& rev, const supervisor::ReplicaStatus& s) {
  if (s.phase != supervisor::Phase::kRunning || s.not_ready_reason.empty() || rev.load_retry_ns != 0) return;
  if (!rev.load_failure.empty() && s.started_at <= rev.load_retried_at) return;
  const std::string& failure = s.not_ready_reason;
  rev.load_failure = failure;
  ++rev.load_attempts;
  const auto delay = LoadRetryDelay(rev.load_attempts, opt.initial_backoff_ms, opt.max_backoff_ms);
  rev.load_retry_ns = NowNs() + std::chrono::duration_cast<std::chrono::nanoseconds>(delay).count();
  rev.load_retry_time = Rfc3339(std::chrono::system_clock::now() + delay);
  Emit(svc, "Warning", "ModelLoadFailed",
       failure + " (attempt " + std::to_string(rev.load_attempts) + "; retrying in " + std::to_string(delay.count()) +
           " ms)");
}

// Failed loads are retried like a crash loop (KServe's model server exits and its pod backs off): once the
// delay passed, the revision's replicas are restarted and load the model files again, so a model fixed in
// place comes up without a change of the spec. A ready replica ends it.
void ControlPlane::Impl::RetryFailedLoad(Service& svc, Revision& rev, int ready) {
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
  if (rev.load_retry_ns == 0 || NowNs() < rev.load_retry_ns) return;
  rev.load_retry_ns = 0;
  rev.load_retried_at = std::chrono::system_clock::now();
  LOG_INFO("{}/{}: revision {}: retrying the model load (attempt {})", svc.ns, svc.name, rev.name,
           rev.load_attempts + 1);
  for (auto id : rev.replicas) sup_->Restart(id);
}

void ControlPlane::Impl::Emit(Service& svc, const std::string& type, const std::string& reason,
                              const std::string& message) {
  std::string key = reason + "|" + message;
  if (key == svc.last_event_key) return;  // the same event again: once is enough
  svc.last_event_key = key;
  char suffix[32];
  std::snprintf(suffix, sizeof suffix, ".%llx%04llx", static_cast<unsigned long long>(std::time(nullptr)),
                static_cast<unsigned long long>(++event_counter & 0xffff));
  std::string now = NowRfc3339();
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
  auto r = db_->Create(api::EventType(), ev);
  if (!r.ok()) return;
  svc.events.push_back(ev["metadata"]["name"].get<std::string>());
  while (svc.events.size() > 50) {
    (void)db_->Delete(api::EventType(), svc.ns, svc.events.front());
    svc.events.erase(svc.events.begin());
  }
  LOG_INFO("{}/{}: {} {}: {}", svc.ns, svc.name, type, reason, message);
}

// What one pass finds about one service's predictor: the inputs of its plan (control/plan.h) and of its
// status (control/isvc_status.h). Reconciler thread; lives for one ReconcileService call.
struct ControlPlane::Impl::Pass {
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

void ControlPlane::Impl::ReconcileService(const Json& obj, Service& svc, const std::vector<Json>& ns_runtimes,
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
  const int64_t now = NowNs();
  for (auto& rev : svc.revisions) Autoscale(svc, rev, now);  // as many replicas as each autoscaler wants
  ObserveReplicas(p, svc);
  RouteTraffic(p, svc);
  BuildStatus(p, svc);
  PublishLogTargets(svc);
  Json status_json = ToJson(p.status, old_status, NowRfc3339());
  if (status_json != old_status) {
    Json updated = obj;
    updated["status"] = std::move(status_json);
    auto r = db_->UpdateStatus(api::InferenceServiceType(), updated);
    if (!r.ok() && r.status().code() != StatusCode::kConflict && r.status().code() != StatusCode::kNotFound) {
      LOG_WARN("status of {}/{}: {}", svc.ns, svc.name, r.status().message());
    }
  }
}

// The predictor's spec and runtime, or why there is none (an invalid spec: no new revision; the previous
// one, if any, keeps serving).
void ControlPlane::Impl::ResolveComponent(Pass& p, const std::vector<Json>& ns_runtimes,
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
void ControlPlane::Impl::EnsureRevision(Pass& p, Service& svc) {
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
void ControlPlane::Impl::EnsureStorage(Pass& p, Service& svc) {
  for (auto& rev : svc.revisions) {
    const bool is_latest = &rev == p.latest;
    if (!is_latest && (rev.storage_ready || !rev.ever_ready)) continue;  // (never ready: retired this pass)
    ModelStorage::Outcome so = RevisionStorage(svc, p.obj, rev, is_latest);
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
void ControlPlane::Impl::ObserveReplicas(Pass& p, Service& svc) {
  for (auto& rev : svc.revisions) {
    const bool is_latest = &rev == p.latest;
    int ready = 0;
    std::string crash;  // the last crash of one of its replicas, when some is backing off
    for (auto id : rev.replicas) {
      auto s = sup_->Get(id);
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
void ControlPlane::Impl::RouteTraffic(Pass& p, Service& svc) {
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
    for (auto id : it->replicas) Retire(svc, id, NowNs());  // out of the routes first, stopped a little later
    svc.revisions.erase(it);
  }
  p.latest = nullptr;
  for (auto& r : svc.revisions) {
    if (r.name == plan.newest) p.latest = &r;
  }
}

// The predictor's readiness (PlanReadiness) and the service's status from this pass.
void ControlPlane::Impl::BuildStatus(Pass& p, Service& svc) {
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
  st.address_url = "http://127.0.0.1:" + std::to_string(endpoints.http_port) + "/serving/" + svc.ns + "/" + svc.name;
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
ComponentStatus ControlPlane::Impl::PredictorStatus(Pass& p, const Service& svc) {
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
RevisionStatus ControlPlane::Impl::RevisionStatusOf(const Revision& rev, const Service& svc, int ready, bool latest) {
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
void ControlPlane::Impl::PublishLogTargets(const Service& svc) {
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
void ControlPlane::Impl::PublishKnownServices() {
  auto table = std::make_shared<gateway::RoutingTable>();
  if (auto list = db_->List(api::InferenceServiceType(), ""); list.ok()) {
    for (const auto& obj : list->items) {
      gateway::ServiceRoute route;
      route.ns = obj["metadata"].value("namespace", "default");
      route.name = obj["metadata"].value("name", "");
      route.cluster_local = IsClusterLocal(obj);
      route.unavailable = "service " + route.ns + "/" + route.name + " is not ready (inferd serve is starting)";
      table->services.push_back(std::move(route));
    }
  }
  gw_->UpdateRoutes(table);
  last_routes = "(known services)";  // the first pass publishes its table whatever it holds
}

// This pass's Secrets and ServiceAccounts, grouped by namespace (the credential lookups read them).
void ControlPlane::Impl::ListCredentialObjects() {
  pass_secrets.clear();
  pass_accounts.clear();
  pass_credentials_listed = true;
  for (auto [type, into] : {std::pair{&api::SecretType(), &pass_secrets}, std::pair{&api::ServiceAccountType(), &pass_accounts}}) {
    auto list = db_->List(*type, "");
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
ModelStorage::Outcome ControlPlane::Impl::RevisionStorage(Service& svc, const Json& obj, Revision& rev, bool latest) {
  if (rev.storage_ready) {
    ModelStorage::Outcome ready;
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
    auto src = model_storage_->Resolve(obj, rev.spec.storage_uri, lookup);
    if (!src.ok()) {
      ModelStorage::Outcome bad;
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
    ModelStorage::Outcome none;
    none.ready = true;
    return none;
  }
  ModelStorage::Outcome so = model_storage_->Ensure(rev.source);
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
void ControlPlane::Impl::CollectCache() {
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
  model_storage_->CollectIfDue(referenced, in_use, Clock::now());
}

void ControlPlane::Impl::PublishRoutes() {
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
        auto s = sup_->Get(id);
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
  gw_->UpdateRoutes(table);
}

// GET /inferd/v1/namespaces/{ns}/inferenceservices/{name}/logs[?follow=1&tailBytes=N]
Status ControlPlane::Impl::HandleLogs(const api::ApiRequest& req, api::ApiStream& out) {
  std::vector<std::string> seg;
  std::string_view p = req.path;
  while (!p.empty()) {
    if (p.front() == '/') {
      p.remove_prefix(1);
      continue;
    }
    size_t slash = p.find('/');
    seg.emplace_back(p.substr(0, slash));
    p = slash == std::string_view::npos ? std::string_view() : p.substr(slash);
  }
  // inferd v1 namespaces {ns} inferenceservices {name} logs
  if (seg.size() != 7 || seg[4] != "inferenceservices" || seg[6] != "logs" || req.method != "GET") {
    return NotFound("no such route: " + req.path);
  }
  std::string key = seg[3] + "/" + seg[5];
  std::vector<std::pair<std::string, supervisor::ReplicaId>> targets;
  {
    std::lock_guard lock(logs_mu);
    auto it = log_targets.find(key);
    if (it == log_targets.end()) return NotFound("inferenceservice " + key + " has no replicas");
    targets = it->second;
  }
  if (targets.empty()) return NotFound("inferenceservice " + key + " has no replicas");
  auto q = [&](const std::string& k) {
    auto it = req.query.find(k);
    return it == req.query.end() ? std::string() : it->second;
  };
  bool follow = q("follow") == "1" || q("follow") == "true";
  size_t tail = 64 * 1024;
  if (!q("tailBytes").empty()) tail = std::strtoull(q("tailBytes").c_str(), nullptr, 10);
  out.content_type = "text/plain; charset=utf-8";
  bool prefix = targets.size() > 1 && !follow;
  if (!follow) {
    for (const auto& [name, id] : targets) {
      std::string logs = sup_->Logs(id, tail);
      if (prefix && !out.write("==> " + name + " <==\n")) return Status::Ok();
      if (!out.write(logs)) return Status::Ok();
    }
    return Status::Ok();
  }
  // Follow the newest replica: its recent output, then whatever comes.
  auto id = targets.front().second;
  std::string logs = sup_->Logs(id, tail);
  if (!out.write(logs)) return Status::Ok();
  auto [_, offset] = sup_->LogsSince(id, UINT64_MAX, std::chrono::milliseconds(0));
  while (!stopping.load()) {
    auto [chunk, next] = sup_->LogsSince(id, offset, std::chrono::milliseconds(500));
    offset = next;
    if (!chunk.empty() && !out.write(chunk)) break;
    if (chunk.empty() && !out.write("")) break;  // notices a client that went away
    if (!sup_->Get(id)) break;
  }
  return Status::Ok();
}

void ControlPlane::Impl::StopAll() {
  if (stopping.exchange(true)) return;
  Wake();
  if (reconciler.joinable()) reconciler.join();
  for (auto& t : watchers)
    if (t.joinable()) t.join();
  if (api_) api_->Stop();
  if (gw_) gw_->Stop();
  for (auto& [key, svc] : services) {
    for (auto& rev : svc.revisions) StopRevision(rev);
  }
  sup_.reset();  // stops and reaps every replica
  model_storage_.reset();  // waits for running downloads
}

ControlPlane::ControlPlane(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
ControlPlane::~ControlPlane() { Stop(); }

StatusOr<std::unique_ptr<ControlPlane>> ControlPlane::Start(ServeOptions options) {
  curl_global_init(CURL_GLOBAL_DEFAULT);  // before any thread: the downloads (storage/) use libcurl
  auto impl = std::make_unique<Impl>();
  impl->opt = std::move(options);
  Status st = impl->Open();
  if (!st.ok()) {
    impl->StopAll();
    return st;
  }
  return std::unique_ptr<ControlPlane>(new ControlPlane(std::move(impl)));
}

const ServeEndpoints& ControlPlane::endpoints() const { return impl_->endpoints; }

void ControlPlane::Stop() {
  if (impl_) impl_->StopAll();
}

}  // namespace inferd::control
