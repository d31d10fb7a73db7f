// tf/model.h: a loaded TensorFlow model ready to serve its signatures: a SavedModel (variables restored, init
// ops run, as TensorFlow's loader does) or a TF.js graph model (weights are constants).
//
// Contract:
// - LoadSavedModel(dir) takes a model directory (the highest numeric version under it is served, as TF Serving
//   does: tf/saved_model.h FindServedVersion) or a version directory. It parses saved_model.pb for `tags`,
//   opens `<version>/variables/variables` when its index exists, runs the restore op with the checkpoint
//   prefix (and the asset paths) fed, then the init op, each compiled once and dropped. A failure at any step
//   is the load's error, naming the step ("restoring variables: ...").
// - LoadTfjs(model_json) reads a TF.js graph model (tf/tfjs_model.h); no variables, no init.
// - Run(signature, inputs, outputs, results): `signature` empty means "serving_default", or the model's only
//   signature. `inputs` are (alias, value) pairs and must name exactly the signature's inputs (TF Serving's
//   rule); `outputs` are aliases (empty: every output, in alias order) and results get one Tensor per output
//   in that order. Errors: NotFound for an unknown signature, InvalidArgument naming the alias for a missing,
//   extra or mistyped input, and the executor's own errors otherwise.
// - Each (signature, output set) compiles once, on first use (tf/executor.h Compile), and is cached; the cache
//   is bounded (kMaxCachedExecutables; past it a new output set compiles per call). Compile errors are cached
//   too, so a bad signature fails fast.
// - Thread safety: Run may be called from any number of threads. Executables that assign variables
//   (Executable::stateful: a counter, an in-graph training step) run one at a time under a model-wide mutex,
//   so their read-modify-write sequences never interleave; all others run concurrently.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/mutex.h"
#include "core/status.h"
#include "tf/checkpoint.h"
#include "tf/executor.h"
#include "tf/graph_def.h"
#include "tf/kernel.h"
#include "tf/tensor.h"

namespace inferd::tf {

inline constexpr size_t kMaxCachedExecutables = 256;

// What TfModel compiles with by default: TensorFlow's serving behaviour, fed shapes not checked against the
// Placeholders' declared shapes (tf/executor.h CompileOptions::check_feed_shapes).
inline CompileOptions ServingCompileOptions() {
  CompileOptions o;
  o.check_feed_shapes = false;
  return o;
}

class TfModel {
 public:
  static StatusOr<std::unique_ptr<TfModel>> LoadSavedModel(const std::string& dir, std::string_view tags = "serve",
                                                           const CompileOptions& options = ServingCompileOptions());
  static StatusOr<std::unique_ptr<TfModel>> LoadTfjs(const std::string& model_json,
                                                     const CompileOptions& options = ServingCompileOptions());

  const MetaGraph& meta_graph() const { return meta_; }
  // The directory the model was read from (the served version for a SavedModel).
  const std::string& path() const { return path_; }
  // The signature Run uses for `name` (see above), or NotFound listing the model's signatures.
  StatusOr<std::pair<std::string, const SignatureDef*>> FindSignature(std::string_view name) const;

  // Whether running `signature` (all its outputs) assigns variables (a counter, a training step): compiles it as
  // Run would (cached). Errors as Run's.
  StatusOr<bool> Stateful(std::string_view signature);

  // `deadline_ns` (core/clock.h NowNs; 0 = none): the run stops with DeadlineExceeded before the first kernel that
  // would start after it (RunContext::deadline_ns), as TensorFlow's RunOptions.timeout_in_ms.
  Status Run(std::string_view signature, const std::vector<std::pair<std::string, Tensor>>& inputs,
             const std::vector<std::string>& outputs, std::vector<Tensor>* results, int64_t deadline_ns = 0);

  // Variables held (restored or assigned so far); for tests and metadata.
  const VariableStore& variables() const { return variables_; }

 private:
  TfModel(MetaGraph meta, std::string path, CompileOptions options)
      : meta_(std::move(meta)), path_(std::move(path)), options_(options) {}
  Status Restore(const std::string& version_dir, const std::vector<std::pair<std::string, std::string>>& asset_feeds);
  struct Entry {
    Status status;
    std::shared_ptr<const Executable> exe;
    std::vector<std::string> feed_aliases;  // the order the executable takes its feeds in
  };
  StatusOr<std::shared_ptr<const Entry>> Prepare(const std::string& signature, const SignatureDef& sig,
                                                 const std::vector<std::string>& outputs);

  MetaGraph meta_;
  std::string path_;
  CompileOptions options_;
  std::unique_ptr<CheckpointReader> checkpoint_;
  VariableStore variables_;
  Mutex cache_mu_;
  std::map<std::string, std::shared_ptr<const Entry>> cache_ GUARDED_BY(cache_mu_);
  Mutex stateful_mu_;  // serializes stateful executables
};

}  // namespace inferd::tf
