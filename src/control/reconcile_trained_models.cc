// control/reconcile_trained_models.cc: the reconciler's TrainedModel steps (see reconciler.h's contract and
// control/trained_models.h for the decisions they use).
#include <algorithm>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "api/kinds.h"
#include "control/reconciler_state.h"
#include "core/logging.h"

namespace inferd::control {

namespace {

std::string StringAt(const Json& obj, const char* a, const char* b) {
  if (!obj.is_object() || !obj.contains(a) || !obj[a].is_object() || !obj[a].contains(b) || !obj[a][b].is_string()) {
    return "";
  }
  return obj[a][b].get<std::string>();
}

bool ConditionTrue(const Json& obj, const char* type) {
  if (!obj.contains("status") || !obj["status"].is_object()) return false;
  const Json& st = obj["status"];
  if (!st.contains("conditions") || !st["conditions"].is_array()) return false;
  for (const Json& c : st["conditions"]) {
    if (c.is_object() && c.value("type", Json()) == type) return c.value("status", Json()) == "True";
  }
  return false;
}

double ModelMemory(const Json& tm) {
  const Json* m = nullptr;
  if (tm.contains("spec") && tm["spec"].is_object() && tm["spec"].contains("model") && tm["spec"]["model"].is_object()) {
    auto it = tm["spec"]["model"].find("memory");
    if (it != tm["spec"]["model"].end()) m = &*it;
  }
  if (!m) return 0;
  auto q = resources::ParseMemoryQuantity(m->is_string() ? m->get<std::string>() : m->dump());
  return q.value_or(0);
}

std::string ModelField(const Json& tm, const char* field) {
  if (!tm.contains("spec") || !tm["spec"].is_object()) return "";
  return StringAt(tm["spec"], "model", field);
}

int64_t Generation(const Json& obj) {
  if (!obj.contains("metadata") || !obj["metadata"].is_object()) return 0;
  auto it = obj["metadata"].find("generation");
  return it != obj["metadata"].end() && it->is_number_integer() ? it->get<int64_t>() : 0;
}

}  // namespace

std::string Reconciler::State::RepositoryDir(const std::string& ns, const std::string& isvc) const {
  return opt.repository_root + "/" + ns + "/" + isvc;
}

bool Reconciler::State::ReplicaServes(const Service& svc, const Revision& rev, supervisor::ReplicaId id,
                                      const supervisor::ReplicaStatus& s) const {
  if (s.phase != supervisor::Phase::kReady) return false;
  if (!rev.spec.multi_model || rev.spec.component != "predictor") return true;
  auto it = replica_models.find(id);
  if (it == replica_models.end() || it->second.pid != s.pid) return false;
  static const std::map<std::string, std::string> kNone;
  auto d = desired_models.find(svc.ns + "/" + svc.name);
  return ReplicaSynced(d == desired_models.end() ? kNone : d->second, it->second);
}

// What the replicas said since the last pass: taken first in a pass, so that a replica that has just loaded its
// models is counted ready and routed in the same pass.
void Reconciler::State::TakeRepositoryAnswers() {
  if (!repository) {
    if (!opt.repository_client) own_repository = std::make_unique<HttpRepositoryClient>(opt.repository_token, wake);
    repository = opt.repository_client ? opt.repository_client : own_repository.get();
  }
  for (RepositoryAnswer& a : repository->TakeAnswers()) {
    auto rit = replica_models.find(a.call.replica);
    // The replica is gone, or restarted since (known afresh: the answer is about the process before).
    if (rit == replica_models.end() || rit->second.pid != a.call.pid) continue;
    ReplicaModels& rm = rit->second;
    const RepositoryCall& c = a.call;
    if (c.kind == RepositoryCall::kIndex) {
      rm.index_busy = false;
      if (a.http_status != 200) continue;  // asked again next pass
      auto s = runner->Get(c.replica);
      IndexStates states = ParseIndexStates(a.body);
      for (const std::string& name : states.ready) {
        // Loaded by itself at start-up: the entry it read is the current one when it was placed before the
        // process started (else it is loaded again).
        std::string target;
        for (const auto& [key, tm] : trained_models) {
          if (tm.isvc_key == rm.service && key.substr(key.find('/') + 1) == name && !tm.target.empty() && s &&
              tm.placed_at < s->started_at) {
            target = tm.target;
          }
        }
        rm.loaded[name] = target;
      }
      for (const std::string& name : states.failed) rm.loaded.emplace(name, "");  // unloaded unless wanted
      rm.indexed = true;
      continue;
    }
    rm.busy.erase(c.model);
    if (TransientRepositoryAnswer(a.http_status, a.body)) continue;  // tried again next pass
    if (c.kind == RepositoryCall::kUnload) {
      if (a.http_status != 200 && a.http_status != 404) {
        LOG_WARN("replica {}: unloading {}: {}", c.replica, c.model, RepositoryError(a.http_status, a.body));
      }
      rm.loaded.erase(c.model);
      continue;
    }
    if (a.http_status == 200) {
      rm.loaded[c.model] = c.target;
      continue;
    }
    // The model's own failure (its files, or its memory): the TrainedModel says so and leaves the repository.
    rm.loaded[c.model] = "";  // whatever it holds now is unloaded once the model is no longer wanted
    const std::string why = RepositoryError(a.http_status, a.body);
    for (auto& [key, tm] : trained_models) {
      if (tm.isvc_key != rm.service || key.substr(key.find('/') + 1) != c.model || tm.target != c.target) continue;
      tm.failed_target = c.target;
      (a.http_status == 507 ? tm.out_of_memory : tm.load_failure) = why;
      LOG_WARN("trainedmodel {}: the model server refused it: {}", key, why);
    }
  }
}

TmServiceFacts Reconciler::State::ServiceFacts(const Json* isvc, const std::string& key) {
  TmServiceFacts f;
  if (!isvc) return f;
  f.exists = true;
  f.ready = ConditionTrue(*isvc, "Ready");
  f.url = StringAt(*isvc, "status", "url");
  if (isvc->contains("status") && (*isvc)["status"].is_object()) f.address_url = StringAt((*isvc)["status"], "address", "url");
  auto spec = resources::ResolvePredictor(*isvc);
  if (spec.ok()) {
    f.multi_model = spec->multi_model;
    f.protocol = spec->protocol_version;
    if (spec->memory_limit_bytes) f.memory_limit_bytes = *spec->memory_limit_bytes;
  }
  auto svc = services.find(key);
  if (svc != services.end()) {
    if (ComponentState* pred = svc->second.Find("predictor"); pred && !pred->revisions.empty()) {
      const Revision& rev = pred->revisions.back();
      f.runtime = rev.runtime_name;
      if (rev.runtime.is_object() && rev.runtime.contains("spec") && rev.runtime["spec"].is_object()) {
        const Json& spec_json = rev.runtime["spec"];
        auto formats = spec_json.find("supportedModelFormats");
        if (formats != spec_json.end() && formats->is_array()) {
          for (const Json& fm : *formats) {
            if (fm.is_object() && fm.contains("name") && fm["name"].is_string()) {
              f.formats.push_back(fm["name"].get<std::string>());
            }
          }
        }
      }
    }
  }
  return f;
}

void Reconciler::State::ReconcileTrainedModels(const std::vector<Json>& isvcs) {
  auto list = db->List(api::TrainedModelType(), "");
  if (!list.ok()) return;
  std::map<std::string, const Json*> isvc_by_key;
  for (const Json& o : isvcs) {
    isvc_by_key[StringAt(o, "metadata", "namespace") + "/" + StringAt(o, "metadata", "name")] = &o;
  }
  // KServe's memory allocation is per service, in creation order.
  std::map<std::string, std::vector<Json*>> by_isvc;
  for (Json& tm : list->items) {
    by_isvc[StringAt(tm, "metadata", "namespace") + "/" + StringAt(tm, "spec", "inferenceService")].push_back(&tm);
  }
  desired_models.clear();
  std::set<std::string> seen;
  for (auto& [isvc_key, tms] : by_isvc) {
    std::stable_sort(tms.begin(), tms.end(), [](const Json* a, const Json* b) {
      return std::pair(StringAt(*a, "metadata", "creationTimestamp"), StringAt(*a, "metadata", "name")) <
             std::pair(StringAt(*b, "metadata", "creationTimestamp"), StringAt(*b, "metadata", "name"));
    });
    auto it = isvc_by_key.find(isvc_key);
    const Json* isvc = it == isvc_by_key.end() ? nullptr : it->second;
    const TmServiceFacts facts = ServiceFacts(isvc, isvc_key);
    std::vector<double> memory;
    for (const Json* tm : tms) memory.push_back(ModelMemory(*tm));
    const std::vector<bool> fits = AllocateTrainedModelMemory(memory, facts.memory_limit_bytes);
    desired_models[isvc_key];  // a multi-model service without TrainedModels wants none
    for (size_t i = 0; i < tms.size(); ++i) {
      seen.insert(StringAt(*tms[i], "metadata", "namespace") + "/" + StringAt(*tms[i], "metadata", "name"));
      ReconcileTrainedModel(*tms[i], isvc, facts, fits[i]);
    }
  }
  for (auto it = trained_models.begin(); it != trained_models.end();) {
    if (seen.count(it->first)) {
      ++it;
      continue;
    }
    // Deleted: out of the repository; SyncReplicaModels unloads it from every replica.
    if (!it->second.target.empty()) {
      const std::string& k = it->second.isvc_key;
      const std::string ns = k.substr(0, k.find('/')), name = it->first.substr(it->first.find('/') + 1);
      if (Status st = UnplaceModel(RepositoryDir(ns, k.substr(k.find('/') + 1)), name); !st.ok()) {
        LOG_WARN("trainedmodel {}: {}", it->first, st.message());
      }
      LOG_INFO("trainedmodel {} deleted: unloading it", it->first);
    }
    fetcher->MarkCollectionDue();
    it = trained_models.erase(it);
  }
  // What no TrainedModel places any more (deleted while inferd serve was down, say) leaves the repositories.
  for (const auto& [key, svc] : services) {
    auto d = desired_models.find(key);
    if (svc.components.empty() || !svc.components.front().revisions.size() ||
        !svc.components.front().revisions.back().spec.multi_model) {
      continue;
    }
    SweepRepository(RepositoryDir(svc.ns, svc.name), d == desired_models.end() ? std::map<std::string, std::string>{}
                                                                               : d->second);
  }
  SyncReplicaModels();
}

// One TrainedModel: fetched, placed in (or taken out of) its service's repository, its status written.
void Reconciler::State::ReconcileTrainedModel(Json& tm, const Json* isvc, const TmServiceFacts& facts,
                                              bool memory_available) {
  const std::string ns = StringAt(tm, "metadata", "namespace"), name = StringAt(tm, "metadata", "name");
  const std::string isvc_name = StringAt(tm, "spec", "inferenceService");
  const std::string key = ns + "/" + name, isvc_key = ns + "/" + isvc_name;
  TrainedModelState& st = trained_models[key];
  TmFacts f;
  f.name = name;
  f.isvc = isvc_name;
  f.framework = ModelField(tm, "framework");
  f.memory_available = memory_available;
  if (st.generation != Generation(tm)) {  // a new spec is tried afresh
    st.generation = Generation(tm);
    st.load_failure.clear();
    st.out_of_memory.clear();
    st.failed_target.clear();
  }
  auto unplace = [&] {
    if (st.target.empty()) return;
    const std::string old_ns = st.isvc_key.substr(0, st.isvc_key.find('/'));
    (void)UnplaceModel(RepositoryDir(old_ns, st.isvc_key.substr(st.isvc_key.find('/') + 1)), name);
    st.target.clear();
    st.placed_at = clock->SystemNow();
  };
  if (st.isvc_key != isvc_key) unplace();  // spec.inferenceService changed
  st.isvc_key = isvc_key;
  if (TrainedModelPlaceable(facts, f)) {
    auto src = fetcher->Resolve(*isvc, ModelField(tm, "storageUri"), PassCredentials(ns));
    ModelFetcher::Outcome so;
    if (!src.ok()) {
      so.reason = "InvalidStorageCredentials";
      so.message = "spec.model.storageUri: storage credentials: " + src.status().message();
    } else {
      st.source = *src;
      so = fetcher->Ensure(st.source);
    }
    if (!so.ready) {
      f.storage_reason = so.reason.empty() ? "Downloading" : so.reason;
      f.storage_message = so.message;
    } else if (st.failed_target == so.model_path) {
      unplace();  // refused by a model server: out, until the spec changes
    } else if (st.target != so.model_path) {
      auto placed = PlaceModel(RepositoryDir(ns, isvc_name), name, so.model_path);
      if (!placed.ok()) {
        f.load_failure = placed.status().message();
      } else {
        st.target = so.model_path;
        // Unchanged (placed before inferd serve restarted): replicas that loaded it at start-up have it.
        if (*placed) st.placed_at = clock->SystemNow();
        LOG_INFO("trainedmodel {}: placed in {} (from {})", key, RepositoryDir(ns, isvc_name), so.model_path);
      }
    }
  } else {
    unplace();
  }
  f.load_failure = st.load_failure.empty() ? f.load_failure : st.load_failure;
  f.out_of_memory = st.out_of_memory;
  if (!st.target.empty()) {
    desired_models[isvc_key][name] = st.target;
    f.loaded = true;
    auto svc = services.find(isvc_key);
    const ComponentState* pred = svc == services.end() ? nullptr : svc->second.Find("predictor");
    // Loaded on every replica that takes requests (one still loading its models at start-up is not routed yet,
    // and does not make the TrainedModels not Ready meanwhile).
    for (const Revision* rev = pred ? pred->revisions.data() : nullptr;
         pred && rev != pred->revisions.data() + pred->revisions.size(); ++rev) {
      for (auto id : rev->replicas) {
        auto s = runner->Get(id);
        if (!s || !ReplicaServes(svc->second, *rev, id, *s)) continue;
        auto rm = replica_models.find(id);
        if (rm == replica_models.end()) continue;  // (a single-model revision: ReplicaServes says so)
        auto l = rm->second.loaded.find(name);
        if (l == rm->second.loaded.end() || l->second != st.target) f.loaded = false;
      }
    }
  }
  Json status = TrainedModelStatus(tm, facts, f, Rfc3339(clock->SystemNow()));
  if (tm.contains("status") && tm["status"] == status) return;
  tm["status"] = std::move(status);
  auto r = db->UpdateStatus(api::TrainedModelType(), tm);
  if (!r.ok() && r.status().code() != StatusCode::kNotFound && r.status().code() != StatusCode::kConflict) {
    LOG_WARN("status of trainedmodel {}: {}", key, r.status().message());
  }
}

// The calls every ready replica of a multi-model predictor needs to hold exactly the placed TrainedModels.
void Reconciler::State::SyncReplicaModels() {
  std::set<supervisor::ReplicaId> live;
  for (auto& [key, svc] : services) {
    ComponentState* pred = svc.Find("predictor");
    if (!pred) continue;
    const auto& desired = desired_models[key];
    for (Revision& rev : pred->revisions) {
      if (!rev.spec.multi_model) continue;
      for (auto id : rev.replicas) {
        auto s = runner->Get(id);
        if (!s) continue;
        live.insert(id);
        if (s->phase != supervisor::Phase::kReady) continue;
        ReplicaModels& rm = replica_models[id];
        if (rm.pid != s->pid) {  // started (again): known afresh
          rm = ReplicaModels();
          rm.pid = s->pid;
          rm.service = key;
        }
        const std::string base = "http://127.0.0.1:" + std::to_string(s->http_port);
        ReplicaCallPlan plan = PlanReplicaCalls(desired, rm);
        if (plan.index) {
          rm.index_busy = true;
          repository->Submit({RepositoryCall::kIndex, id, s->pid, base, "", ""});
        }
        for (const std::string& m : plan.load) {
          rm.busy.insert(m);
          repository->Submit({RepositoryCall::kLoad, id, s->pid, base, m, desired.at(m)});
        }
        for (const std::string& m : plan.unload) {
          rm.busy.insert(m);
          repository->Submit({RepositoryCall::kUnload, id, s->pid, base, m, ""});
        }
        if (!rm.synced_once && ReplicaSynced(desired, rm)) {
          rm.synced_once = true;
          LOG_INFO("{}: replica {} loaded its {} TrainedModel(s)", key, s->name, desired.size());
        }
      }
    }
  }
  std::erase_if(replica_models, [&](const auto& kv) { return !live.count(kv.first); });
}

}  // namespace inferd::control
