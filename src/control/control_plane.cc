#include "control/control_plane.h"

#include <curl/curl.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <optional>
#include <thread>

#include "api/api_server.h"
#include "control/api_tls.h"
#include "control/graphs.h"
#include "api/namespaces.h"
#include "control/isvc_proxy.h"
#include "control/kserve_stub.h"
#include "control/isvc_status.h"
#include "control/metrics_sampler.h"
#include "control/model_storage.h"
#include "control/reconciler.h"
#include "control/scaling.h"
#include "core/clock.h"
#include "core/logging.h"
#include "core/mutex.h"
#include "gateway/gateway.h"
#include "net/listener.h"
#include "resources/resources.h"
#include "resources/secrets.h"
#include "storage/storage.h"
#include "store/store.h"
#include "supervisor/supervisor.h"
#include "webui/web_app.h"

namespace inferd::control {

namespace fs = std::filesystem;
using resources::Json;

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

}  // namespace

// The main thread's (Start/Stop) and the API threads' side of `inferd serve`; the reconciler thread's state
// is the Reconciler's, the watch threads only wake it.
struct ControlPlane::Impl {
  ServeOptions opt;
  ServeEndpoints endpoints;
  std::unique_ptr<store::Store> db_;
  std::unique_ptr<ModelStorage> model_storage_;
  std::unique_ptr<supervisor::Supervisor> sup_;
  std::unique_ptr<SupervisorRunner> runner_;
  RealClock clock_;
  std::unique_ptr<gateway::Gateway> gw_;
  std::unique_ptr<Reconciler> reconciler_;  // its methods on the reconciler thread only (LogTargets: any)
  std::unique_ptr<GraphController> graphs_;  // reconciler thread only
  // The gateway's table is the reconciler's services plus the graph controller's graphs; each publishes its half
  // (PublishRoutes) and the other half is taken from here.
  Mutex routes_mu;
  std::shared_ptr<gateway::RoutingTable> last_services GUARDED_BY(routes_mu);
  std::vector<gateway::GraphRoute> last_graphs GUARDED_BY(routes_mu);
  void PublishRoutes(std::shared_ptr<gateway::RoutingTable> services, std::vector<gateway::GraphRoute>* graphs);
  MetricsSampler metrics_;  // the web app's METRICS tab (control/metrics_sampler.h)
  std::unique_ptr<api::ApiServer> api_;

  // Wake-ups of the reconciler (any thread).
  Mutex wake_mu;
  CondVar wake_cv;
  bool wake GUARDED_BY(wake_mu) = false;
  std::atomic<bool> stopping{false};
  std::thread reconciler;
  std::vector<std::thread> watchers;

  std::string run_dir;  // DATA_DIR/run (0700), absolute, for the replicas' Unix sockets; "" = TCP only
  GpuInventory gpus;    // --gpus, or what nvidia-smi found (control/gpu.h, through reconciler.h)
  uint64_t quarantine_events = 0;  // names of the Quarantined events (main thread, before the reconciler)

  void Wake() {
    {
      MutexLock lock(wake_mu);
      wake = true;
    }
    wake_cv.Signal();
  }

  Status Open();
  void OpenRunDir();
  void MakeReconciler();
  void AddReplicaTemplates();
  std::string native_template_, python_template_;
  void QuarantineUnusableRows();
  Status HandleQuarantine(const api::ApiRequest& req, api::ApiStream& out);
  void MarkRestarting();
  void EnsureBuiltinRuntimes();
  void RunReconciler();
  void WatchLoop(const store::ResourceType& type);
  // /inferd/v1/namespaces/{ns}/inferenceservices/{name}/{logs,metrics,proxy/...}: `seg` is the path's segments.
  Status HandleService(const api::ApiRequest& req, api::ApiStream& out);
  Status HandleLogs(const std::vector<std::string>& seg, const api::ApiRequest& req, api::ApiStream& out);
  Status HandleMetrics(const std::vector<std::string>& seg, const api::ApiRequest& req, api::ApiStream& out);
  Status HandleProxy(const std::vector<std::string>& seg, const api::ApiRequest& req, api::ApiStream& out);
  void WriteServeJson();
  void StopAll();
};

Status ControlPlane::Impl::Open() {
  std::error_code ec;
  fs::create_directories(opt.data_dir, ec);
  if (ec) return InvalidArgument("--data_dir " + opt.data_dir + ": " + ec.message());
  fs::permissions(opt.data_dir, fs::perms::owner_all, fs::perm_options::replace, ec);
  OpenRunDir();
  if (opt.pvc_root.empty()) opt.pvc_root = opt.data_dir + "/volumes";
  if (opt.inferd_bin.empty()) {
    opt.inferd_bin = fs::read_symlink("/proc/self/exe", ec).string();
    if (ec) return Internal("cannot find this executable: " + ec.message());
  }
  endpoints.token_file = opt.data_dir + "/token";
  ASSIGN_OR_RETURN(std::string token, LoadOrCreateToken(endpoints.token_file));
  // The API's certificates first: a bad --tls_* flag stops serve before anything listens.
  ASSIGN_OR_RETURN(net::ServingCerts certs,
                   SetUpApiCerts(opt.data_dir, {opt.tls_cert_file, opt.tls_private_key_file}, opt.api_host,
                                 static_cast<int64_t>(std::time(nullptr))));
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
  AddReplicaTemplates();
  runner_ = std::make_unique<SupervisorRunner>(sup_.get());
  // The GPUs replicas may be given (control/gpu.h), before anything listens: a bad --gpus stops serve.
  std::string gpu_source;
  ASSIGN_OR_RETURN(gpus, ResolveGpuInventory(opt.gpus, &gpu_source));
  std::vector<size_t> all_gpus(gpus.size());
  for (size_t i = 0; i < all_gpus.size(); ++i) all_gpus[i] = i;
  LOG_INFO("GPUs: {} ({}) {}", gpus.size(), gpu_source, GpuList(gpus, all_gpus));

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
  MakeReconciler();
  reconciler_->PublishKnownServices();


  ao.host = opt.api_host;
  ao.port = opt.api_port;
  ao.token = token;
  ao.tls_cert_file = certs.cert_file;
  ao.tls_key_file = certs.key_file;
  endpoints.ca_file = certs.ca_file;
  // Autoscaling fields and annotations are checked at apply time, as Knative's webhook does, so a bad value
  // is a 422 naming it rather than a service that never gets a revision. (The reconciler still reports
  // InvalidScalingSpec for a stored object that a different --config makes invalid.)
  ao.validate_isvc = [this](const Json& obj) -> Status {
    for (const char* component : {"predictor", "transformer", "explainer"}) {  // each has its own autoscaler
      if (!obj.contains("spec") || !obj["spec"].is_object() || !obj["spec"].contains(component)) continue;
      auto spec = resources::ResolveComponent(obj, component);
      if (!spec.ok()) continue;  // not a scaling problem: the reconciler reports it
      auto scaling = ScalingFor(opt.autoscaler, obj["spec"][component], spec->annotations);
      if (!scaling.ok()) return scaling.status();
    }
    return Status::Ok();
  };
  // The models web app (webui/web_app.h): its pages, and its session cookie as a way into the API.
  auto sessions = std::make_shared<webui::Sessions>();
  ao.session_csrf = webui::SessionCsrfLookup(sessions);
  api_ = std::make_unique<api::ApiServer>(db_.get(), ao);
  webui::InstallWebApp(*api_, {token, sessions});
  api_->AddExtension("/inferd/v1/namespaces/", [this](const api::ApiRequest& r, api::ApiStream& out) {
    return HandleService(r, out);
  });
  api_->AddExtension("/inferd/v1/quarantine", [this](const api::ApiRequest& r, api::ApiStream& out) {
    return HandleQuarantine(r, out);
  });
  RETURN_IF_ERROR(api_->Start());
  metrics_.Start();

  endpoints.http_port = gw_->http_port();
  endpoints.grpc_port = gw_->grpc_port();
  endpoints.api_port = api_->port();
  // Plain HTTP is answered to loopback peers only (api/api_server.h): the CLI's URL is plain where it
  // connects over loopback, HTTPS otherwise; kubectl always gets HTTPS.
  const std::string url_host = ApiUrlHost(opt.api_host);
  const std::string port = std::to_string(endpoints.api_port);
  endpoints.api_https_url = "https://" + url_host + ":" + port;
  endpoints.api_url = ApiReachedOverLoopback(opt.api_host) ? "http://" + url_host + ":" + port : endpoints.api_https_url;
  ASSIGN_OR_RETURN(endpoints.kubeconfig, WriteKubeconfig(opt.data_dir, {endpoints.api_https_url, certs.ca_pem, token}));
  WriteServeJson();

  reconciler = std::thread([this] { RunReconciler(); });
  for (const auto* t : {&api::InferenceServiceType(), &api::ServingRuntimeType(), &api::ClusterServingRuntimeType(),
                        &api::SecretType(), &api::ServiceAccountType(), &api::InferenceGraphType(),
                        &api::TrainedModelType()}) {
    watchers.emplace_back([this, t] { WatchLoop(*t); });
  }
  return Status::Ok();
}

// The replicas' Unix sockets (the gateway's HTTP hop to `inferd model-server`): DATA_DIR/run; without it,
// TCP only.
void ControlPlane::Impl::OpenRunDir() {
  std::error_code ec;
  std::string run = fs::absolute(opt.data_dir, ec).lexically_normal().string();
  if (!ec && !run.empty() && run.back() == '/') run.pop_back();
  run += "/run";
  fs::create_directories(run, ec);
  if (!ec) fs::permissions(run, fs::perms::owner_all, fs::perm_options::replace, ec);
  if (!ec) {
    run_dir = run;
  } else {
    LOG_WARN("{}: {}; replicas are reached over TCP only", run, ec.message());
  }
}

// Replica templates (supervisor/zygote.h, ServeOptions::replica_templates): a replica forked from one skips
// the exec, dynamic linking and static initializers (and, from the Python one, the import of scikit-learn).
void ControlPlane::Impl::AddReplicaTemplates() {
  // What scikit-learn models unpickle most often; joblib loads them.
  static const char* kPythonModules =
      "numpy,joblib,sklearn,sklearn.svm,sklearn.linear_model,sklearn.ensemble,sklearn.tree,sklearn.pipeline,"
      "sklearn.preprocessing,sklearn.neighbors,sklearn.impute";
  for (const auto& kind : opt.replica_templates) {
    if (kind == "none" || kind.empty()) continue;
    std::vector<std::string> argv = {opt.inferd_bin, "__replica_template"};
    std::string name = "inferd-" + kind;
    if (kind == "python") argv.push_back(std::string("--preload_python=") + kPythonModules);
    if (kind != "native" && kind != "python") {
      LOG_WARN("replica templates: unknown kind '{}' (native, python)", kind);
      continue;
    }
    // LD_BIND_NOW: the template binds every symbol at its start, once, so that its replicas do not each resolve
    // the ones they call first (perf of forked replicas: 13% of their start in ld.so's lazy binding). The
    // template unsets it (cli/zygote_cmd.cc): replicas do not pass it on.
    // The Python one idles at ~125 MB RSS (86 MB PSS): started when the first scikit-learn model that needs
    // Python is, so a serve without one does not pay for it.
    if (Status st = sup_->AddTemplate(name, argv, {{"LD_BIND_NOW", "1"}}, /*on_first_use=*/kind == "python");
        !st.ok()) {
      LOG_WARN("replica template {}: {}; replicas are exec'd", name, st.message());
      continue;
    }
    (kind == "native" ? native_template_ : python_template_) = name;
  }
}

// The reconciler, once the gateway listens (status.address names its port).
void ControlPlane::Impl::MakeReconciler() {
  ReconcilerOptions ro;
  ro.domain = opt.domain;
  ro.gateway_http_port = gw_->http_port();
  ro.gateway_grpc_port = gw_->grpc_port();
  ro.autoscaler = opt.autoscaler;
  ro.images = opt.images;
  ro.initial_backoff_ms = opt.initial_backoff_ms;
  ro.max_backoff_ms = opt.max_backoff_ms;
  ro.inferd_bin = opt.inferd_bin;
  // Natively compiled scikit-learn models are remembered here, so a replica started again loads without
  // starting Python (backends/sklearn).
  ro.compiled_cache = opt.data_dir + "/compiled";
  ro.native_template = native_template_;
  ro.python_template = native_template_.empty() ? "" : python_template_;
  if (opt.model_needs_python) {
    ro.needs_python = [f = opt.model_needs_python, cache = ro.compiled_cache](const std::string& format,
                                                                              const std::string& dir) {
      return f(format, dir, cache);
    };
  }
  // Given to every replica (INFERD_REPOSITORY_TOKEN): the repository API's load/unload need it, so a client
  // that reaches a replica through the gateway cannot unload the model it serves. The index stays open (the
  // supervisor asks it why a replica is not ready without one).
  ro.repository_token = RandomToken();
  ro.run_dir = run_dir;
  if (auto stub = InstallKserveStub(opt.data_dir + "/python"); stub.ok()) {
    ro.kserve_stub_dir = *stub;
  } else {
    LOG_WARN("{} (custom predictors that import kserve will not find it)", stub.status().message());
  }
  std::error_code ec;
  ro.repository_root = fs::absolute(opt.data_dir + "/repositories", ec).lexically_normal().string();
  ro.gpus = gpus;
  reconciler_ = std::make_unique<Reconciler>(
      std::move(ro), db_.get(), runner_.get(), model_storage_.get(), &clock_,
      [this](std::shared_ptr<gateway::RoutingTable> table) { PublishRoutes(std::move(table), nullptr); },
      [this] { Wake(); });
  GraphServeOptions go;
  go.domain = opt.domain;
  go.gateway_http_port = gw_->http_port();
  go.propagate_headers = opt.graph_propagate_headers;
  graphs_ = std::make_unique<GraphController>(db_.get(), std::move(go), [this](std::vector<gateway::GraphRoute> g) {
    PublishRoutes(nullptr, &g);
  });
}

void ControlPlane::Impl::PublishRoutes(std::shared_ptr<gateway::RoutingTable> services,
                                       std::vector<gateway::GraphRoute>* graphs) {
  std::shared_ptr<gateway::RoutingTable> table;
  {
    MutexLock lock(routes_mu);
    if (graphs) last_graphs = std::move(*graphs);
    if (services) {
      last_services = services;
      table = std::move(services);
    } else {  // new graphs: the services as last published (a copy: the published table is shared)
      table = std::make_shared<gateway::RoutingTable>();
      if (last_services) table->services = last_services->services;
    }
    table->graphs = last_graphs;
  }
  metrics_.OnRoutes(table);
  gw_->UpdateRoutes(std::move(table));
}

void ControlPlane::Impl::WriteServeJson() {
  Json j = {{"api", endpoints.api_url},
            {"api_https", endpoints.api_https_url},
            {"ca_file", endpoints.ca_file},
            {"kubeconfig", endpoints.kubeconfig},
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
  // Every kind the API serves (api/kinds.h): a row of a kind missing here would be quarantined.
  const std::vector<store::ResourceType> types = api::AllResourceTypes();
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
                  static_cast<unsigned long long>(++quarantine_events & 0xffff));
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
    reconciler_->ActivateHeld();
    reconciler_->Reconcile();
    graphs_->Pass(NowRfc3339());                    // InferenceGraphs: compiled for the gateway, status
    // The 1 s tick is also the autoscaler's sampling period; a pending retirement may come sooner.
    auto wait = std::chrono::milliseconds(1000);
    if (const int64_t next_retire_ns = reconciler_->next_retire_ns(); next_retire_ns > 0) {
      int64_t left_ms = (next_retire_ns - NowNs()) / 1'000'000 + 1;
      wait = std::min(wait, std::chrono::milliseconds(std::max<int64_t>(1, left_ms)));
    }
    MutexLock lock(wake_mu);
    wake_cv.WaitFor(wake_mu, wait, [this]() REQUIRES(wake_mu) { return wake || stopping.load(); });
    wake = false;
  }
}

Status ControlPlane::Impl::HandleService(const api::ApiRequest& req, api::ApiStream& out) {
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
  // inferd v1 namespaces {ns} inferenceservices {name} logs|metrics|proxy...
  if (seg.size() >= 7 && seg[4] == "inferenceservices") {
    if (seg.size() == 7 && seg[6] == "logs" && req.method == "GET") return HandleLogs(seg, req, out);
    if (seg.size() == 7 && seg[6] == "metrics" && req.method == "GET") return HandleMetrics(seg, req, out);
    if (seg[6] == "proxy") return HandleProxy(seg, req, out);
  }
  return NotFound("no such route: " + req.path);
}

// GET /inferd/v1/namespaces/{ns}/inferenceservices/{name}/metrics[?windowS=N] (webui/metrics.h)
Status ControlPlane::Impl::HandleMetrics(const std::vector<std::string>& seg, const api::ApiRequest& req,
                                         api::ApiStream& out) {
  int window_s = 300;
  if (auto it = req.query.find("windowS"); it != req.query.end()) {
    char* end = nullptr;
    long v = std::strtol(it->second.c_str(), &end, 10);
    if (it->second.empty() || *end != '\0' || v < 1 || v > 3600) {
      return InvalidArgument("windowS: want whole seconds from 1 to 3600, got '" + it->second + "'");
    }
    window_s = static_cast<int>(v);
  }
  auto obj = db_->Get(api::InferenceServiceType(), seg[3], seg[5]);
  if (!obj.ok()) return obj.status();
  out.content_type = "application/json";
  out.write(metrics_.WindowJson(seg[3], seg[5], window_s));
  return Status::Ok();
}

// POST|GET /inferd/v1/namespaces/{ns}/inferenceservices/{name}/proxy/<path> (control/isvc_proxy.h)
Status ControlPlane::Impl::HandleProxy(const std::vector<std::string>& seg, const api::ApiRequest& req,
                                       api::ApiStream& out) {
  auto obj = db_->Get(api::InferenceServiceType(), seg[3], seg[5]);
  if (!obj.ok()) return obj.status();
  const std::string prefix = "/" + seg[0] + "/" + seg[1] + "/" + seg[2] + "/" + seg[3] + "/" + seg[4] + "/" +
                             seg[5] + "/proxy/";
  if (!req.path.starts_with(prefix)) return NotFound("no such route: " + req.path);
  ProxyTarget target;
  std::string host = opt.gateway_host;
  if (host.empty() || host == "0.0.0.0") host = "127.0.0.1";
  if (host == "::") host = "::1";
  if (host.find(':') != std::string::npos) host = "[" + host + "]";
  target.gateway = "http://" + host + ":" + std::to_string(gw_->http_port());
  target.host = seg[5] + "." + seg[3] + "." + opt.domain;
  target.token = opt.gateway_token;
  return ProxyToGateway(target, std::string_view(req.path).substr(prefix.size()), req, out);
}

// GET /inferd/v1/namespaces/{ns}/inferenceservices/{name}/logs[?component=&replica=&follow=1&tailBytes=N]
Status ControlPlane::Impl::HandleLogs(const std::vector<std::string>& seg, const api::ApiRequest& req,
                                      api::ApiStream& out) {
  std::string key = seg[3] + "/" + seg[5];
  auto found = reconciler_ ? reconciler_->LogTargets(key) : std::nullopt;
  if (!found) return NotFound("inferenceservice " + key + " has no replicas");
  std::vector<std::pair<std::string, supervisor::ReplicaId>> targets = std::move(*found);
  auto q = [&](const std::string& k) {
    auto it = req.query.find(k);
    return it == req.query.end() ? std::string() : it->second;
  };
  if (const std::string component = q("component"); !component.empty()) {  // replicas are {isvc}-{component}-N-i
    const std::string prefix = seg[5] + "-" + component + "-";
    std::erase_if(targets, [&](const auto& t) { return !t.first.starts_with(prefix); });
  }
  // Name each replica as the service's status does (status.inferd.replicas[].name, "{ns}/{revision}-{N}"),
  // without the namespace; replica= picks one by that name (with or without the namespace).
  for (auto& [name, id] : targets) {
    if (auto st = sup_->Get(id)) name = st->name.starts_with(seg[3] + "/") ? st->name.substr(seg[3].size() + 1) : st->name;
  }
  if (std::string replica = q("replica"); !replica.empty()) {
    if (replica.starts_with(seg[3] + "/")) replica.erase(0, seg[3].size() + 1);
    std::erase_if(targets, [&](const auto& t) { return t.first != replica; });
    if (targets.empty()) return NotFound("inferenceservice " + key + " has no replica " + replica);
  }
  if (targets.empty()) return NotFound("inferenceservice " + key + " has no replicas");
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
  metrics_.Stop();
  if (gw_) gw_->Stop();
  if (reconciler_) reconciler_->StopAll();
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
