// model/repository.h: the set of models a model server holds, and their lifecycle.
//
// Contract:
// - Models come from explicit sources (--model_name/--model_dir) and from the subdirectories of a
//   repository root (--model_repository). Load/Unload implement Triton's EXPLICIT mode: load reads the
//   files again (a reload keeps serving the old instance until the new one is ready), unload removes
//   the model from serving at once; requests already holding the Model finish normally.
// - A model is READY only after it loaded and its warm-up inference succeeded.
// - Per-model settings (model/model_config.h): the constructor's model_defaults, overridden by a
//   model-settings.json in the served version directory or, failing that, in the model's directory.
//   A malformed file fails the load with a message naming the file and key.
// - Model names (start-up flags, repository verbs, REST and gRPC paths) are checked by ValidateModelName,
//   the one definition of a valid name; every method that takes a name refuses (InvalidArgument) or
//   skips an invalid one, so no client-supplied byte sequence ever reaches the filesystem or the index.
// - Bounded: at most RepositoryOptions::max_models models are known at once (loaded, loading or failed);
//   one more is refused with Unavailable naming the limit. Loads of names with no source and no
//   directory never create an entry. Index() lists at most max_models repository subdirectories.
// - Thread-safe: Get/Index/AllReady take a shared lock for a map lookup; Load and Unload may be called
//   from any thread and run the (slow) backend load outside the lock. Returned Models are shared_ptrs.
// - Memory (model/memory_budget.h): every load measures the model's bytes (heap growth across its load and
//   warm-up). With RepositoryOptions::memory_budget > 0 (--memory_budget):
//   * loads are serialized (so that one load's measurement does not count another's allocations);
//   * after a load, the least recently used ready models are evicted until the resident models fit the
//     budget (PlanEviction). A model some request holds (its shared_ptr is copied out: use_count > 1) is
//     never evicted, nor is a model AddLoaded serves (a script's; it cannot be read again, and is not
//     counted). A model larger than the whole budget is dropped and its load fails with
//     kExceedsMemoryBudget naming the model, its size and the budget (REST 507, gRPC RESOURCE_EXHAUSTED); a
//     load that fits only once models in use are released fails with kUnavailable (retry later). A reload
//     of a model whose size is known evicts before loading, so the budget is exceeded only while a model of
//     unknown size (its first load) is being measured, by at most that model;
//   * an evicted model stays known: the index shows it UNAVAILABLE with reason "evicted: memory budget ...",
//     AllReady counts it as ready, Get answers kUnavailable, and WaitForReload loads it again (one load for
//     any number of concurrent waiters, bounded by max_reload_waiters and a deadline). Unload removes it for
//     real: it is not loaded again on demand;
//   * Get records the time of the lookup in the model's entry (the LRU order): one steady-clock read (vDSO),
//     one relaxed atomic load, and a relaxed store when the last one is more than 1 ms old (so a hot model's
//     entry is not written by every core serving it). Without a budget Get does none of it (one predictable
//     branch on a const member).
#pragma once

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/mutex.h"
#include "model/backend_registry.h"
#include "model/memory_budget.h"
#include "model/model.h"
#include "model/model_config.h"

namespace inferd {

// The names a model may have: 1 to 255 bytes (a directory name), ASCII letters, digits, '_', '-' and
// '.', not starting with '.' or '-'. This covers KServe's (DNS-1123 labels: InferenceService names) and
// what Triton repositories use (`densenet_onnx`, `model.v2`), and leaves out everything that could escape
// a repository root or confuse a path, a log line or a header: '/', '\\', "..", NUL and control bytes,
// spaces, ':' (the V1 verb separator), '%'. InvalidArgument names the first offending byte (as \xNN when
// it is not printable); the name itself is never echoed raw.
Status ValidateModelName(std::string_view name);
inline constexpr size_t kMaxModelNameLength = 255;

enum class ModelState { kLoading, kReady, kUnloading, kUnavailable };
std::string_view ModelStateName(ModelState s);

struct ModelIndexEntry {
  std::string name;
  std::string version;
  std::string state;  // READY, LOADING, UNAVAILABLE, UNLOADING, or "" when never loaded
  std::string reason;
};

struct RepositoryOptions {
  std::string repository_root;  // may be empty
  std::string default_format;   // --model_format: forces the format of every model
  int intra_op_threads = 1;
  bool force_python = false;    // --force_python: runtimes with a native form keep the Python path
  size_t max_models = 1024;     // --max_models: models known at once (loaded, loading or failed)
  size_t memory_budget = 0;     // --memory_budget: bytes all loaded models may hold; 0 = unlimited
  size_t max_reload_waiters = 1024;  // --max_reload_waiters: requests waiting for evicted models at once
};

// The code of a load refused because the model is larger than the whole memory budget: kPayloadTooLarge (the
// model is too large), which gRPC answers RESOURCE_EXHAUSTED; the REST front end answers it 507 Insufficient
// Storage on a repository load and on inference (IsMemoryBudgetRefusal). Not a StatusCode of its own: adding
// one to core/status.h rebuilds every module; kPayloadTooLarge never comes out of a load otherwise.
inline constexpr StatusCode kExceedsMemoryBudget = StatusCode::kPayloadTooLarge;
inline bool IsMemoryBudgetRefusal(const Status& st) { return st.code() == kExceedsMemoryBudget; }

// What the repository knows about one model's memory (metrics: server/metrics.h).
struct ModelMemoryStats {
  std::string name;
  size_t bytes = 0;        // measured at its last load (0: never loaded)
  bool resident = false;   // loaded now (not evicted, not failed)
  uint64_t loads = 0;      // successful loads (start-up, repository load, reloads after eviction)
  uint64_t evictions = 0;  // times the memory budget evicted it
};
struct RepositoryMemoryStats {
  size_t budget = 0;
  std::vector<ModelMemoryStats> models;  // sorted by name
  // Load latency (backend load + warm-up) histogram: counts per kLoadSecondsBuckets bucket, +Inf last.
  std::vector<uint64_t> load_bucket_counts;
  double load_seconds_sum = 0;
};
inline const std::vector<double> kLoadSecondsBuckets = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                                        0.5,   1,      2.5,   5,    10,    30,    60};

// A request admitted to wait for an evicted model's reload (ModelRepository::AdmitReloadWaiter): counts
// against max_reload_waiters while it lives. Movable.
class ReloadWaiter {
 public:
  ReloadWaiter() = default;
  explicit ReloadWaiter(std::atomic<size_t>* count) : count_(count) {}
  ReloadWaiter(ReloadWaiter&& o) noexcept : count_(std::exchange(o.count_, nullptr)) {}
  ReloadWaiter& operator=(ReloadWaiter&& o) noexcept {
    std::swap(count_, o.count_);
    return *this;
  }
  ~ReloadWaiter() {
    if (count_) count_->fetch_sub(1, std::memory_order_relaxed);
  }

 private:
  std::atomic<size_t>* count_ = nullptr;
};

class ModelRepository {
 public:
  // `model_defaults`: the settings of every model (model-server flags); a model's model-settings.json
  // overrides them.
  ModelRepository(const BackendRegistry* registry, RepositoryOptions options, ModelConfig model_defaults = {});

  // Declares a model that lives outside the repository root (KServe's --model_name/--model_dir).
  // InvalidArgument for an invalid name.
  Status AddSource(const std::string& name, const std::string& dir);

  // Declares that `name` is about to be loaded (queued for Load): it shows as LOADING and AllReady stays
  // false until it is ready, even before its Load begins. A model server calls it for every start-up model
  // before loading them in parallel, so that readiness never precedes the last of them.
  // InvalidArgument for an invalid name, Unavailable past max_models.
  Status ExpectLoad(const std::string& name);
  // Loads (or reloads) `name`; blocking. InvalidArgument for an invalid name; NotFound when no source or
  // subdirectory has that name (an expected model is then UNAVAILABLE with that reason); Unavailable when
  // max_models other models are known.
  Status Load(const std::string& name);
  // NotFound when the model is not loaded; InvalidArgument for an invalid name.
  Status Unload(const std::string& name);
  // Serves a backend that was built outside the repository (custom Python models registered by a
  // user's script): ready at once (its own load() was its warm-up), never reloaded from disk.
  Status AddLoaded(const std::string& name, std::unique_ptr<Backend> backend);

  // A ready model. `version` may be empty. NotFound ("Model with name X does not exist."), InvalidArgument
  // (the name is not valid; checked only on a miss, so the hit path costs one map lookup) or Unavailable
  // (loading / failed) otherwise.
  StatusOr<std::shared_ptr<Model>> Get(std::string_view name, std::string_view version = {}) const;
  // Get without counting as a use (LRU): for metrics and start-up bookkeeping.
  StatusOr<std::shared_ptr<Model>> Peek(std::string_view name) const;

  // For a request that Get answered kUnavailable: true when `name` was evicted by the memory budget (and not
  // unloaded since), so that waiting for its reload makes sense. A map lookup under the shared lock.
  bool Evicted(std::string_view name) const;
  // Admits one more request to wait for an evicted model's reload; kUnavailable when max_reload_waiters
  // requests already wait.
  StatusOr<ReloadWaiter> AdmitReloadWaiter(std::string_view name);
  // Blocks until `name` is ready again and returns it: the first waiter loads it (Load: may evict others),
  // the others wait for that load. kUnavailable when `deadline` passes first (the load goes on), the load's
  // error when it fails, Get's error when the model is no longer evicted (unloaded, failed).
  StatusOr<std::shared_ptr<Model>> WaitForReload(const ReloadWaiter& admitted, std::string_view name,
                                                 std::string_view version,
                                                 std::chrono::steady_clock::time_point deadline);
  RepositoryMemoryStats MemoryStats() const;

  // Every model known (loaded, failed, or present in the repository root), sorted by name.
  std::vector<ModelIndexEntry> Index() const;
  std::vector<std::string> ReadyModelNames() const;
  // The directory `name` is loaded from (its --model_dir, or <repository root>/<name>); NotFound otherwise.
  // Explainers read files placed beside the model (explain/explainer.h).
  StatusOr<std::string> ModelDir(const std::string& name) const { return DirFor(name); }
  // True when every model that was asked to load is ready (and at least one was asked).
  bool AllReady() const;

 private:
  struct Entry {
    ModelState state = ModelState::kLoading;
    std::string reason;
    std::string version;
    std::shared_ptr<Model> model;  // the serving instance (also kept while reloading)
    bool evicted = false;          // unloaded by the memory budget: WaitForReload loads it again
    bool from_files = false;       // loaded by Load (AddLoaded's models cannot be read again: never evicted)
    size_t bytes = 0;              // measured at the last load
    uint64_t loads = 0, evictions = 0;
    mutable std::atomic<int64_t> last_use_ns{0};  // NowNs() of the last Get (memory budget only)
  };
  StatusOr<std::string> DirFor(const std::string& name) const;
  // Load's work: files, backend load, warm-up, measurement, Install.
  Status LoadOne(const std::string& name);
  // The entry for `name`, created when absent unless max_models entries exist.
  StatusOr<Entry*> EntryFor(const std::string& name) REQUIRES(mu_);
  // Load's tail: installs `model` (measured at `bytes`) as `name`'s serving instance, evicting least recently
  // used models into `evicted` (freed by the caller outside the lock) when the budget needs it.
  Status Install(const std::string& name, const std::string& version, std::shared_ptr<Model> model, size_t bytes,
                 std::vector<std::shared_ptr<Model>>* evicted);
  // Evicts least recently used models (not `name`) so that `incoming` more bytes fit; the plan's outcome.
  EvictionPlan MakeRoom(const std::string& name, size_t incoming, std::vector<std::shared_ptr<Model>>* evicted)
      REQUIRES(mu_);
  void RecordLoadLatency(double seconds) REQUIRES(mu_);

  const BackendRegistry* registry_;
  RepositoryOptions options_;
  ModelConfig model_defaults_;
  mutable SharedMutex mu_;
  std::map<std::string, std::string, std::less<>> sources_ GUARDED_BY(mu_);
  std::map<std::string, Entry, std::less<>> entries_ GUARDED_BY(mu_);
  mutable std::atomic<bool> index_truncated_warned_{false};
  const bool track_use_;  // memory_budget > 0: Get records last-use times
  // Serializes loads when a budget is set (the measurement, then the eviction decision). Taken before mu_.
  Mutex budget_load_mu_;
  std::vector<uint64_t> load_bucket_counts_ GUARDED_BY(mu_);
  double load_seconds_sum_ GUARDED_BY(mu_) = 0;
  std::atomic<size_t> reload_waiters_{0};
  Mutex reload_mu_;
  CondVar reload_cv_;
  std::set<std::string, std::less<>> reloading_ GUARDED_BY(reload_mu_);  // names a waiter is loading now
};

}  // namespace inferd
