#include "model/repository.h"

#include <fmt/format.h>

#include <algorithm>
#include <filesystem>
#include <set>

#include "core/clock.h"
#include "core/logging.h"
#include "model/format.h"

namespace inferd {

namespace fs = std::filesystem;

std::string_view ModelStateName(ModelState s) {
  switch (s) {
    case ModelState::kLoading: return "LOADING";
    case ModelState::kReady: return "READY";
    case ModelState::kUnloading: return "UNLOADING";
    case ModelState::kUnavailable: return "UNAVAILABLE";
  }
  return "UNKNOWN";
}

Status ValidateModelName(std::string_view name) {
  if (name.empty()) return InvalidArgument("model name is empty");
  if (name.size() > kMaxModelNameLength) {
    return InvalidArgument("model name is " + std::to_string(name.size()) + " bytes long (at most " +
                           std::to_string(kMaxModelNameLength) + ")");
  }
  for (size_t i = 0; i < name.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(name[i]);
    const bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
    const bool allowed = alnum || c == '_' || ((c == '-' || c == '.') && i > 0);
    if (allowed && !(c == '.' && name[i - 1] == '.')) continue;
    std::string shown = c > 0x20 && c < 0x7f ? "'" + std::string(1, static_cast<char>(c)) + "'" : fmt::format("\\x{:02x}", c);
    std::string prefix = c > 0x20 && c < 0x7f && i < 64 ? " ('" + std::string(name.substr(0, i + 1)) + "')" : "";
    return InvalidArgument("model name: byte " + std::to_string(i) + prefix + " is " + shown +
                           "; a model name is letters, digits, '_', '-' and '.' (not first, not '..'), "
                           "at most " + std::to_string(kMaxModelNameLength) + " bytes");
  }
  return Status::Ok();
}

ModelRepository::ModelRepository(const BackendRegistry* registry, RepositoryOptions options,
                                 ModelConfig model_defaults)
    : registry_(registry),
      options_(std::move(options)),
      model_defaults_(std::move(model_defaults)),
      track_use_(options_.memory_budget > 0),
      load_bucket_counts_(kLoadSecondsBuckets.size() + 1, 0) {}

Status ModelRepository::AddSource(const std::string& name, const std::string& dir) {
  RETURN_IF_ERROR(ValidateModelName(name));
  WriterLock lock(mu_);
  sources_[name] = dir;
  return Status::Ok();
}

StatusOr<ModelRepository::Entry*> ModelRepository::EntryFor(const std::string& name) {
  auto it = entries_.find(name);
  if (it != entries_.end()) return &it->second;
  if (entries_.size() >= options_.max_models) {
    return Unavailable("cannot add model '" + name + "': this model server already holds " +
                       std::to_string(entries_.size()) + " models (loaded, loading or failed), its limit " +
                       "(--max_models); unload one first");
  }
  return &entries_[name];
}

StatusOr<std::string> ModelRepository::DirFor(const std::string& name) const {
  {
    ReaderLock lock(mu_);
    auto it = sources_.find(name);
    if (it != sources_.end()) return it->second;
  }
  // Names come from clients (URL paths): never let one escape the repository root.
  RETURN_IF_ERROR(ValidateModelName(name));
  if (!options_.repository_root.empty()) {
    fs::path p = fs::path(options_.repository_root) / name;
    std::error_code ec;
    if (fs::is_directory(p, ec)) return p.string();
  }
  return NotFound("Model with name " + name + " does not exist.");
}

namespace {
// Triton layout: numeric subdirectories are versions; the highest one is served.
void ResolveVersion(std::string* dir, std::string* version) {
  std::error_code ec;
  long best = -1;
  std::string best_name;  // as written: TF Serving pads versions ("00000123")
  for (const auto& e : fs::directory_iterator(*dir, ec)) {
    if (!e.is_directory(ec)) continue;
    std::string n = e.path().filename().string();
    if (n.empty() || n.size() > 9 || !std::all_of(n.begin(), n.end(), ::isdigit)) continue;
    if (std::stol(n) > best) {
      best = std::stol(n);
      best_name = n;
    }
  }
  if (best >= 0) {
    *version = std::to_string(best);
    *dir = (fs::path(*dir) / best_name).string();
  } else {
    *version = "1";
  }
}
}  // namespace

Status ModelRepository::ExpectLoad(const std::string& name) {
  RETURN_IF_ERROR(ValidateModelName(name));
  WriterLock lock(mu_);
  ASSIGN_OR_RETURN(Entry * e, EntryFor(name));
  if (!e->model) e->state = ModelState::kLoading;
  return Status::Ok();
}

Status ModelRepository::Load(const std::string& name) {
  if (!track_use_) return LoadOne(name);
  // With a budget, loads run one at a time: the heap growth LoadOne measures is then this model's alone.
  MutexLock lock(budget_load_mu_);
  return LoadOne(name);
}

Status ModelRepository::LoadOne(const std::string& name) {
  auto dir_or = DirFor(name);
  if (!dir_or.ok()) {
    WriterLock lock(mu_);
    auto it = entries_.find(name);
    if (it != entries_.end() && !it->second.model) {  // expected (ExpectLoad), or evicted, but not there
      it->second.state = ModelState::kUnavailable;
      it->second.reason = dir_or.status().message();
      it->second.evicted = false;
    }
    return dir_or.status();
  }
  std::string dir = std::move(dir_or).value();
  {
    WriterLock lock(mu_);
    ASSIGN_OR_RETURN(Entry * e, EntryFor(name));
    if (e->model && e->state == ModelState::kLoading) return Unavailable("model '" + name + "' is already loading");
    if (!e->model) e->state = ModelState::kLoading;
    e->reason.clear();
  }
  auto fail = [&](const Status& st) {
    WriterLock lock(mu_);
    if (auto e = EntryFor(name); e.ok()) {
      if (!(*e)->model) (*e)->state = ModelState::kUnavailable;
      (*e)->reason = st.message();
      (*e)->evicted = false;  // its files fail now: report that, do not retry on every request
    }
    LOG_ERROR("model '{}' failed to load: {}", name, st.message());
    return Unavailable("failed to load model '" + name + "': " + st.message());
  };

  std::vector<std::shared_ptr<Model>> evicted;  // freed outside mu_ (still under Load's budget_load_mu_)
  if (track_use_) {
    WriterLock lock(mu_);
    auto it = entries_.find(name);
    // A reload of a model whose size is known makes room first, so the budget is not exceeded meanwhile.
    if (it != entries_.end() && it->second.bytes > 0) (void)MakeRoom(name, it->second.bytes, &evicted);
  }
  evicted.clear();
  const size_t heap_before = AllocatedBytes();
  const int64_t load_t0 = NowNs();

  std::string version;
  const std::string model_root = dir;
  ResolveVersion(&dir, &version);
  bool have_settings = false;
  auto config = LoadModelConfig(dir, model_defaults_, &have_settings);
  if (config.ok() && !have_settings && dir != model_root) config = LoadModelConfig(model_root, model_defaults_);
  if (!config.ok()) return fail(config.status());
  auto detected = DetectModel(dir, options_.default_format);
  if (!detected.ok()) return fail(detected.status());
  BackendFactory* factory = registry_->Find(detected->format);
  if (!factory) {
    std::string have;
    for (const auto& f : registry_->formats()) have += (have.empty() ? "" : ", ") + f;
    return fail(Unimplemented("model format '" + detected->format + "' (file " + detected->file +
                              ") is not supported by this build (supported: " + have + ")"));
  }
  LOG_INFO("loading model '{}' version {} format {} from {}", name, version, detected->format, detected->file);
  LoadOptions lo{name, dir, detected->file, options_.intra_op_threads, options_.force_python};
  StatusOr<std::unique_ptr<Backend>> backend = Status(StatusCode::kInternal, "not loaded");
  try {
    backend = factory->Load(lo);
  } catch (const std::exception& ex) {
    backend = Internal(std::string("backend raised an exception while loading: ") + ex.what());
  }
  if (!backend.ok()) return fail(backend.status());
  auto model = std::make_shared<Model>(name, version, std::move(backend).value(), *config);
  if (Status st = model->WarmUp(); !st.ok()) return fail(st);
  const size_t heap_after = AllocatedBytes();
  const size_t bytes = std::max(heap_after > heap_before ? heap_after - heap_before : 0, kMinModelBytes);
  {
    WriterLock lock(mu_);
    RecordLoadLatency(static_cast<double>(NowNs() - load_t0) / 1e9);
  }
  Status st = Install(name, version, std::move(model), bytes, &evicted);
  evicted.clear();  // evicted models are freed here, before the next load measures
  return st;
}

Status ModelRepository::Install(const std::string& name, const std::string& version, std::shared_ptr<Model> model,
                                size_t bytes, std::vector<std::shared_ptr<Model>>* evicted) {
  WriterLock lock(mu_);
  ASSIGN_OR_RETURN(Entry * e, EntryFor(name));  // unloaded while loading and the limit reached since
  e->bytes = bytes;
  EvictionPlan plan = MakeRoom(name, bytes, evicted);
  if (plan.outcome != EvictionPlan::Outcome::kFits) {
    evicted->push_back(std::move(model));  // dropped outside the lock
    const bool never = plan.outcome == EvictionPlan::Outcome::kNeverFits;
    Status st = never ? Status(kExceedsMemoryBudget,
                               fmt::format("model '{}' needs {} bytes, more than the whole memory budget of this "
                                           "model server ({} bytes, --memory_budget)",
                                           name, bytes, options_.memory_budget))
                      : Unavailable(fmt::format("model '{}' needs {} bytes; {} of the memory budget's {} bytes are "
                                                "held by models serving requests; retry later",
                                                name, bytes, plan.pinned_bytes, options_.memory_budget));
    if (!e->model) e->state = ModelState::kUnavailable;
    if (never) e->evicted = false;  // a reload on demand could never succeed
    e->reason = st.message();
    LOG_ERROR("{}", st.message());
    return st;
  }
  e->model = std::move(model);
  e->state = ModelState::kReady;
  e->version = version;
  e->reason.clear();
  e->evicted = false;
  e->from_files = true;
  e->loads++;
  e->last_use_ns.store(NowNs(), std::memory_order_relaxed);  // just loaded: the most recently used
  LOG_INFO("model '{}' is ready ({} bytes)", name, bytes);
  return Status::Ok();
}

EvictionPlan ModelRepository::MakeRoom(const std::string& name, size_t incoming,
                                       std::vector<std::shared_ptr<Model>>* evicted) {
  std::vector<ResidentModel> resident;
  std::vector<Entry*> entries;
  for (auto& [n, e] : entries_) {
    // `name`'s old instance (a reload) goes when its requests end; AddLoaded's models could never come back.
    if (!e.model || n == name || !e.from_files) continue;
    resident.push_back({n, e.bytes, e.last_use_ns.load(std::memory_order_relaxed), e.model.use_count() > 1});
    entries.push_back(&e);
  }
  EvictionPlan plan = PlanEviction(options_.memory_budget, incoming, resident);
  for (size_t i : plan.evict) {
    Entry& e = *entries[i];
    LOG_INFO("model '{}' evicted ({} bytes) to make room for '{}' ({} bytes) within the memory budget of {} bytes",
             resident[i].name, e.bytes, name, incoming, options_.memory_budget);
    evicted->push_back(std::move(e.model));
    e.state = ModelState::kUnavailable;
    e.evicted = true;
    e.evictions++;
    e.reason = fmt::format("evicted: memory budget ({} bytes; loads again on its next request)", e.bytes);
  }
  return plan;
}

void ModelRepository::RecordLoadLatency(double seconds) {
  size_t i = 0;
  while (i < kLoadSecondsBuckets.size() && seconds > kLoadSecondsBuckets[i]) ++i;
  load_bucket_counts_[i]++;
  load_seconds_sum_ += seconds;
}

Status ModelRepository::AddLoaded(const std::string& name, std::unique_ptr<Backend> backend) {
  RETURN_IF_ERROR(ValidateModelName(name).WithPrefix("a model registered by the script"));
  auto model = std::make_shared<Model>(name, "1", std::move(backend), model_defaults_);
  if (Status st = model->WarmUp(); !st.ok()) return st.WithPrefix("model '" + name + "': ");
  WriterLock lock(mu_);
  ASSIGN_OR_RETURN(Entry * e, EntryFor(name));
  if (e->model) return AlreadyExists("model '" + name + "' is already served");
  e->model = std::move(model);
  e->state = ModelState::kReady;
  e->version = "1";
  e->reason.clear();
  LOG_INFO("model '{}' is ready", name);
  return Status::Ok();
}

Status ModelRepository::Unload(const std::string& name) {
  RETURN_IF_ERROR(ValidateModelName(name));
  std::shared_ptr<Model> old;
  {
    WriterLock lock(mu_);
    auto it = entries_.find(name);
    if (it != entries_.end() && !it->second.model && it->second.evicted) {
      entries_.erase(it);  // unloaded for real: no longer loaded again on demand
      LOG_INFO("model '{}' unloaded (it was evicted by the memory budget)", name);
      return Status::Ok();
    }
    if (it == entries_.end() || !it->second.model) {
      if (it != entries_.end()) entries_.erase(it);
      return NotFound("Model with name " + name + " does not exist.");
    }
    old = std::move(it->second.model);
    entries_.erase(it);
  }
  LOG_INFO("model '{}' unloaded ({} requests still hold it)", name, old.use_count() - 1);
  return Status::Ok();
}

StatusOr<std::shared_ptr<Model>> ModelRepository::Get(std::string_view name, std::string_view version) const {
  ReaderLock lock(mu_);
  auto it = entries_.find(name);
  if (it == entries_.end()) {
    RETURN_IF_ERROR(ValidateModelName(name));  // only on a miss: a valid name costs nothing here
    return NotFound("Model with name " + std::string(name) + " does not exist.");
  }
  const Entry& e = it->second;
  if (track_use_) {
    // Stored at most once a millisecond: a hot model's entry is then read, not written, by the cores serving it
    // (no cache-line ping-pong); the LRU order needs no finer time than that.
    const int64_t now = NowNs();
    if (now - e.last_use_ns.load(std::memory_order_relaxed) > 1'000'000) {
      e.last_use_ns.store(now, std::memory_order_relaxed);
    }
  }
  if (!e.model) {
    if (e.state == ModelState::kLoading) return Unavailable("model '" + std::string(name) + "' is loading");
    return Unavailable("model '" + std::string(name) + "' is not ready: " + e.reason);
  }
  if (!version.empty() && version != e.model->version()) {
    return NotFound("Model with name " + std::string(name) + " and version " + std::string(version) +
                    " does not exist.");
  }
  return e.model;
}

StatusOr<std::shared_ptr<Model>> ModelRepository::Peek(std::string_view name) const {
  ReaderLock lock(mu_);
  auto it = entries_.find(name);
  if (it == entries_.end() || !it->second.model) return NotFound("model '" + std::string(name) + "' is not ready");
  return it->second.model;
}

bool ModelRepository::Evicted(std::string_view name) const {
  ReaderLock lock(mu_);
  auto it = entries_.find(name);
  return it != entries_.end() && it->second.evicted;
}

StatusOr<ReloadWaiter> ModelRepository::AdmitReloadWaiter(std::string_view name) {
  if (reload_waiters_.fetch_add(1, std::memory_order_relaxed) >= options_.max_reload_waiters) {
    reload_waiters_.fetch_sub(1, std::memory_order_relaxed);
    return Unavailable(fmt::format("model '{}' was evicted by the memory budget and {} requests already wait for "
                                   "evicted models to load (--max_reload_waiters); retry later",
                                   name, options_.max_reload_waiters));
  }
  return ReloadWaiter(&reload_waiters_);
}

StatusOr<std::shared_ptr<Model>> ModelRepository::WaitForReload(const ReloadWaiter& /*admitted*/,
                                                                std::string_view name, std::string_view version,
                                                                std::chrono::steady_clock::time_point deadline) {
  const std::string key(name);
  for (;;) {
    auto m = Get(name, version);
    if (m.ok() || !Evicted(name)) return m;
    {
      MutexLock lock(reload_mu_);
      if (reloading_.contains(key)) {  // another request is loading it: wait for that load
        auto loaded = [&]() REQUIRES(reload_mu_) { return !reloading_.contains(key); };
        if (!reload_cv_.WaitUntil(reload_mu_, deadline, loaded)) {
          return Unavailable(fmt::format("model '{}' was evicted by the memory budget and is still loading; "
                                         "the request's wait for it ended (--reload_timeout)", name));
        }
        continue;
      }
      if (std::chrono::steady_clock::now() >= deadline) {
        return Unavailable(fmt::format("model '{}' was evicted by the memory budget and did not load in time "
                                       "(--reload_timeout)", name));
      }
      reloading_.insert(key);
    }
    LOG_INFO("model '{}' was evicted by the memory budget: loading it again for a request", name);
    Status st = Load(key);
    {
      MutexLock lock(reload_mu_);
      reloading_.erase(key);
    }
    reload_cv_.SignalAll();
    if (!st.ok()) return st;
    return Get(name, version);
  }
}

RepositoryMemoryStats ModelRepository::MemoryStats() const {
  RepositoryMemoryStats out;
  out.budget = options_.memory_budget;
  ReaderLock lock(mu_);
  for (const auto& [n, e] : entries_) {
    if (e.loads == 0 && e.bytes == 0) continue;
    out.models.push_back({n, e.bytes, e.model != nullptr, e.loads, e.evictions});
  }
  out.load_bucket_counts = load_bucket_counts_;
  out.load_seconds_sum = load_seconds_sum_;
  return out;
}

std::vector<ModelIndexEntry> ModelRepository::Index() const {
  std::map<std::string, ModelIndexEntry> out;
  if (!options_.repository_root.empty()) {
    // Subdirectories whose names are not model names (".git", "my model") cannot be loaded: not listed.
    std::error_code ec;
    size_t listed = 0;
    for (fs::directory_iterator it(options_.repository_root, ec), end; !ec && it != end; it.increment(ec)) {
      std::string n = it->path().filename().string();
      std::error_code entry_ec;  // one unreadable entry must not end the listing
      if (!it->is_directory(entry_ec) || !ValidateModelName(n).ok()) continue;
      if (++listed > options_.max_models) {
        if (!index_truncated_warned_.exchange(true)) {
          LOG_WARN("repository '{}' has more than {} model directories (--max_models): the index lists {}",
                   options_.repository_root, options_.max_models, options_.max_models);
        }
        break;
      }
      out[n] = {n, "", "", ""};
    }
  }
  ReaderLock lock(mu_);
  for (const auto& [n, s] : sources_) out[n] = {n, "", "", ""};
  for (const auto& [n, e] : entries_) {
    ModelState st = e.model ? ModelState::kReady : e.state;
    out[n] = {n, e.model ? e.model->version() : e.version, std::string(ModelStateName(st)), e.reason};
  }
  std::vector<ModelIndexEntry> v;
  for (auto& [k, e] : out) v.push_back(std::move(e));
  return v;
}

std::vector<std::string> ModelRepository::ReadyModelNames() const {
  ReaderLock lock(mu_);
  std::vector<std::string> v;
  for (const auto& [n, e] : entries_)
    if (e.model) v.push_back(n);
  return v;
}

bool ModelRepository::AllReady() const {
  ReaderLock lock(mu_);
  if (entries_.empty()) return false;
  for (const auto& [n, e] : entries_)
    if (!e.model && !e.evicted) return false;  // an evicted model loads again on its next request
  return true;
}

}  // namespace inferd
