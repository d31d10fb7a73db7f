#include "operator/controller.h"

#include <chrono>

#include "core/clock.h"
#include "core/logging.h"

namespace inferd::op {

namespace {

kube::Gvr GvrOf(const std::string& api_version, const std::string& plural, bool namespaced = true) {
  const size_t slash = api_version.find('/');
  if (slash == std::string::npos) return {"", api_version, plural, namespaced};
  return {api_version.substr(0, slash), api_version.substr(slash + 1), plural, namespaced};
}

const Json& Meta(const Json& obj) {
  static const Json kEmpty = Json::object();
  auto it = obj.is_object() ? obj.find("metadata") : obj.end();
  return obj.is_object() && it != obj.end() && it->is_object() ? *it : kEmpty;
}
std::string MetaText(const Json& obj, const char* key) {
  const Json& md = Meta(obj);
  auto it = md.find(key);
  return it != md.end() && it->is_string() ? it->get<std::string>() : "";
}

bool HasFinalizer(const Json& obj) {
  const Json& md = Meta(obj);
  if (!md.contains("finalizers") || !md["finalizers"].is_array()) return false;
  for (const auto& f : md["finalizers"]) {
    if (f == kFinalizer) return true;
  }
  return false;
}

// The finalizers without ours (with = add ours).
Json Finalizers(const Json& obj, bool with) {
  Json out = Json::array();
  const Json& md = Meta(obj);
  if (md.contains("finalizers") && md["finalizers"].is_array()) {
    for (const auto& f : md["finalizers"]) {
      if (f != kFinalizer) out.push_back(f);
    }
  }
  if (with) out.push_back(kFinalizer);
  return out;
}

const ChildKind* KindOf(const Json& obj) {
  for (const ChildKind& k : ManagedKinds()) {
    if (obj.is_object() && obj.value("apiVersion", "") == k.api_version && obj.value("kind", "") == k.kind) return &k;
  }
  return nullptr;
}

bool Wanted(const ChildKind& k, const OperatorConfig& cfg) {
  const std::string kind = k.kind, av = k.api_version;
  if (kind == "HTTPRoute") return cfg.gateway_api;
  // (Ingresses are always watched: one made before --gateway_api was set is then deleted as not wanted.)
  if (av.starts_with("serving.knative.dev")) return cfg.knative_installed;
  return true;
}

}  // namespace

kube::Gvr IsvcGvr() { return GvrOf(std::string(resources::kIsvcApiVersion), "inferenceservices"); }
kube::Gvr ChildGvr(const ChildKind& kind) { return GvrOf(kind.api_version, kind.resource); }

struct Controller::Watch {
  const ChildKind* kind = nullptr;  // null for the isvc/runtime watches
  kube::Store own_store;
  kube::Store* store = nullptr;
  std::unique_ptr<kube::Reflector> reflector;
};

Controller::Controller(kube::KubeClient& client, ControllerOptions options)
    : client_(client), options_(std::move(options)), queue_(kube::RealClock::Get(), kube::WorkQueueOptions{100000, options_.rate}) {
  auto add = [&](kube::Gvr gvr, kube::Store* store, const ChildKind* kind, kube::EventHandlers handlers, std::string selector) {
    auto w = std::make_unique<Watch>();
    w->kind = kind;
    w->store = store ? store : &w->own_store;
    kube::ReflectorOptions ro;
    ro.gvr = std::move(gvr);
    ro.ns = ro.gvr.namespaced ? options_.watch_namespace : "";
    ro.label_selector = std::move(selector);
    ro.initial_backoff = options_.reflector_initial_backoff;
    ro.max_backoff = options_.reflector_max_backoff;
    w->reflector = std::make_unique<kube::Reflector>(client_, std::move(ro), *w->store, std::move(handlers));
    watches_.push_back(std::move(w));
  };
  add(IsvcGvr(), &isvcs_, nullptr, kube::EnqueueHandlers(queue_), "");
  // A runtime change may change what any InferenceService of its scope runs.
  auto runtime_handlers = [this](bool cluster) {
    auto enqueue = [this, cluster](const Json& obj) {
      EnqueueAll(cluster ? "" : MetaText(obj, "namespace"));
    };
    return kube::EventHandlers{enqueue, [enqueue](const Json&, const Json& n) { enqueue(n); }, enqueue};
  };
  add(GvrOf(std::string(resources::kRuntimeApiVersion), "servingruntimes"), &runtimes_, nullptr, runtime_handlers(false), "");
  add(GvrOf(std::string(resources::kRuntimeApiVersion), "clusterservingruntimes", false), &cluster_runtimes_, nullptr,
      runtime_handlers(true), "");
  for (const ChildKind& k : ManagedKinds()) {
    if (!Wanted(k, options_.plan)) continue;
    add(ChildGvr(k), nullptr, &k, kube::EnqueueOwnerHandlers(queue_, std::string(resources::kIsvcApiVersion), "InferenceService"),
        "serving.kserve.io/inferenceservice");
  }
  if (options_.leader_elect) elector_ = std::make_unique<kube::LeaderElector>(client_, options_.leader);
}

Controller::~Controller() { Stop(); }

void Controller::Start() {
  for (auto& w : watches_) w->reflector->Start();
  if (elector_) elector_->Start();
  worker_ = std::thread([this] { Worker(); });
}

void Controller::Stop() {
  if (stop_.exchange(true)) return;
  queue_.ShutDown();
  if (worker_.joinable()) worker_.join();
  if (elector_) elector_->Stop();
  // In parallel: each reflector takes up to the client's watch-cancel latency (~1 s) to end.
  std::vector<std::thread> stops;
  for (auto& w : watches_) stops.emplace_back([&w] { w->reflector->Stop(); });
  for (auto& t : stops) t.join();
}

bool Controller::HasSynced() const {
  for (const auto& w : watches_) {
    if (!w->reflector->HasSynced()) return false;
  }
  return true;
}

bool Controller::IsLeader() const { return !elector_ || elector_->IsLeader(); }

Controller::Counters Controller::counters() const {
  MutexLock lock(mu_);
  return counters_;
}

void Controller::EnqueueAll(const std::string& ns) {
  for (const auto& key : isvcs_.Keys()) {
    if (ns.empty() || kube::SplitKey(key).first == ns) queue_.Add(key);
  }
}

void Controller::Worker() {
  bool was_leader = false;
  while (!stop_.load()) {
    const bool leader = IsLeader() && HasSynced();
    if (!leader) {  // keys stay queued until this replica leads (and its caches are filled)
      was_leader = false;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      continue;
    }
    if (!was_leader) EnqueueAll("");  // a new leader looks at everything once
    was_leader = true;
    auto key = queue_.Get(std::chrono::milliseconds(500));
    if (!key) continue;
    kube::ApiStatus st = Reconcile(*key);
    if (st.ok()) {
      queue_.Forget(*key);
    } else {
      LOG_WARN("reconcile {}: {}", *key, st.ToString());
      queue_.AddRateLimited(*key);
    }
    queue_.Done(*key);
  }
}

std::vector<Json> Controller::ChildrenOf(const std::string& ns) const {
  std::vector<Json> out;
  for (const auto& w : watches_) {
    if (!w->kind) continue;
    for (auto& obj : w->store->List()) {
      if (MetaText(obj, "namespace") == ns) out.push_back(std::move(obj));
    }
  }
  return out;
}

std::vector<Json> Controller::ClusterRuntimes() const {
  std::vector<Json> out = cluster_runtimes_.List();
  if (!options_.builtin_runtimes) return out;
  for (auto& b : resources::BuiltinClusterServingRuntimes()) {
    const std::string name = MetaText(b, "name");
    bool defined = false;
    for (const auto& c : out) defined |= MetaText(c, "name") == name;
    if (!defined) out.push_back(std::move(b));
  }
  return out;
}

kube::ApiStatus Controller::Apply(const ChildAction& a) {
  const ChildKind* kind = KindOf(a.object);
  if (!kind) return {0, "Internal", "no managed kind for " + a.object.value("kind", "")};
  const kube::Gvr gvr = ChildGvr(*kind);
  const std::string ns = MetaText(a.object, "namespace"), name = MetaText(a.object, "name");
  kube::ApiStatus st;
  if (a.kind == ActionKind::kCreate) {
    st = client_.Create(gvr, ns, a.object).status();
  } else if (a.kind == ActionKind::kUpdate) {
    st = client_.Update(gvr, ns, a.object).status();
  } else {
    st = client_.Delete(gvr, ns, name, {"Background", std::nullopt, std::nullopt}).status();
    if (st.IsNotFound()) st = kube::ApiStatus::Ok();
  }
  if (!st.ok()) return st;
  MutexLock lock(mu_);
  (a.kind == ActionKind::kCreate ? counters_.creates : a.kind == ActionKind::kUpdate ? counters_.updates : counters_.deletes)++;
  return st;
}

kube::ApiStatus Controller::EnsureFinalizer(Json& isvc) {
  if (HasFinalizer(isvc)) return kube::ApiStatus::Ok();
  Json patch = {{"metadata", {{"finalizers", Finalizers(isvc, true)}, {"resourceVersion", MetaText(isvc, "resourceVersion")}}}};
  auto r = client_.Patch(IsvcGvr(), MetaText(isvc, "namespace"), MetaText(isvc, "name"), patch);
  if (!r.ok()) return r.status();
  isvc = std::move(*r);
  return kube::ApiStatus::Ok();
}

kube::ApiStatus Controller::Finalize(const Json& isvc, const std::vector<Json>& children) {
  if (!HasFinalizer(isvc)) return kube::ApiStatus::Ok();
  for (const auto& ch : children) {
    if (!OwnedBy(ch, MetaText(isvc, "uid"))) continue;
    if (auto st = Apply({ActionKind::kDelete, ch}); !st.ok()) return st;
  }
  Json patch = {{"metadata", {{"finalizers", Finalizers(isvc, false)}, {"resourceVersion", MetaText(isvc, "resourceVersion")}}}};
  auto r = client_.Patch(IsvcGvr(), MetaText(isvc, "namespace"), MetaText(isvc, "name"), patch);
  return r.ok() || r.status().IsNotFound() ? kube::ApiStatus::Ok() : r.status();
}

kube::ApiStatus Controller::Reconcile(const std::string& key) {
  {
    MutexLock lock(mu_);
    ++counters_.reconciles;
  }
  auto fail = [this](kube::ApiStatus st) {
    MutexLock lock(mu_);
    ++counters_.errors;
    return st;
  };
  std::optional<Json> cached = isvcs_.Get(key);
  if (!cached) return kube::ApiStatus::Ok();
  Json isvc = std::move(*cached);
  const std::string ns = MetaText(isvc, "namespace");
  std::vector<Json> children = ChildrenOf(ns);
  if (!MetaText(isvc, "deletionTimestamp").empty()) {
    auto st = Finalize(isvc, children);
    return st.ok() ? st : fail(st);
  }
  if (auto st = EnsureFinalizer(isvc); !st.ok()) return fail(st);
  std::vector<Json> ns_runtimes;
  for (auto& r : runtimes_.List()) {
    if (MetaText(r, "namespace") == ns) ns_runtimes.push_back(std::move(r));
  }
  PlanInput in{isvc, std::move(ns_runtimes), ClusterRuntimes(), std::move(children), options_.plan, NowRfc3339()};
  PlanOutput out = PlanService(in);
  if (!out.error.empty()) return fail({0, "InvalidObject", out.error});
  for (const auto& a : out.actions) {
    if (auto st = Apply(a); !st.ok()) return fail(st);
  }
  if (out.status_changed) {
    Json updated = isvc;
    updated["status"] = out.status;
    auto r = client_.UpdateStatus(IsvcGvr(), ns, updated);
    if (!r.ok()) return fail(r.status());
    MutexLock lock(mu_);
    ++counters_.status_writes;
  }
  return kube::ApiStatus::Ok();
}

}  // namespace inferd::op
