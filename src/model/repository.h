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
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/mutex.h"
#include "model/backend_registry.h"
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
  };
  StatusOr<std::string> DirFor(const std::string& name) const;
  // The entry for `name`, created when absent unless max_models entries exist.
  StatusOr<Entry*> EntryFor(const std::string& name) REQUIRES(mu_);

  const BackendRegistry* registry_;
  RepositoryOptions options_;
  ModelConfig model_defaults_;
  mutable SharedMutex mu_;
  std::map<std::string, std::string, std::less<>> sources_ GUARDED_BY(mu_);
  std::map<std::string, Entry, std::less<>> entries_ GUARDED_BY(mu_);
  mutable std::atomic<bool> index_truncated_warned_{false};
};

}  // namespace inferd
