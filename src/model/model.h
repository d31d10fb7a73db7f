// model/model.h: one loaded, servable model: metadata, request validation, execution, counters.
//
// Contract:
// - A Model owns its Backend. It is shared (std::shared_ptr) between the repository and in-flight
//   requests, so unloading never frees a model that a request is still using.
// - Infer may be called from any thread. It validates the request against the metadata (every error
//   names the field), converts numeric inputs when the backend allows it (BOOL too, for V1 requests
//   whose datatypes were inferred: InferRequest::inferred_datatypes), calls Backend::Execute
//   (serialized when the backend is not thread-safe), catches anything the backend throws, and keeps
//   only the requested outputs. Counters are atomics; no lock is taken for thread-safe backends.
//   Infer always runs inline on the calling thread, even when batching is on (warm-up uses it).
// - Server-side batching (ModelConfig::batching, model/batcher.h) is opt-in per model. When batching()
//   is true the front ends call InferAsync instead of Infer: validation runs on the calling thread, the
//   request is queued and completed on a batcher thread. With batching off nothing of this runs: the
//   Infer path takes no extra lock, allocation or thread hop.
// - Destroying a Model drains its batcher (queued requests are still executed and answered) before the
//   backend is freed.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <string>

#include "model/backend.h"
#include "model/batcher.h"
#include "model/model_config.h"

namespace inferd {

// Where the time of one Infer call went (nanoseconds), for metrics.
struct InferTiming {
  int64_t queue_ns = 0;    // waiting for the model (serialization lock, or the batching queue)
  int64_t compute_ns = 0;  // inside Backend::Execute (batched: the whole batch's execution)
  // Backend executions this request accounts for (nv_inference_exec_count): 1 unbatched; batched, 1 for
  // one request of each batch and 0 for the others.
  int64_t executions = 1;
};

class Model {
 public:
  Model(std::string name, std::string version, std::unique_ptr<Backend> backend, const ModelConfig& config = {});
  ~Model();

  const std::string& name() const { return name_; }
  const std::string& version() const { return version_; }
  // The backend's metadata with name/versions filled in.
  const ModelMetadata& metadata() const { return metadata_; }
  // Custom Python models (Backend::dynamic_io): no declared inputs or outputs.
  bool dynamic_io() const { return dynamic_io_; }
  // The loaded backend, for what the model layer does not wrap (explainers read tree_ensemble()).
  const Backend& backend() const { return *backend_; }

  // Validates and executes. On success `response->outputs` holds the requested outputs (all of them
  // when none were requested) in request order; id/parameters are left to the caller.
  Status Infer(InferRequest& request, InferResponse* response, InferTiming* timing = nullptr);

  // True when requests should go through InferAsync (server-side batching is on for this model).
  bool batching() const { return batcher_ != nullptr; }
  // The batching settings in effect (max_batch_size may have been lowered to 1, see model.cc).
  const BatchingConfig& batching_config() const { return batching_; }

  // Called exactly once with the outcome of an InferAsync request that was accepted.
  using InferDone = std::function<void(Status status, const InferTiming& timing)>;
  // Validates on the calling thread, then queues the request for the batcher. Returns an error (and
  // then never calls `done`) when the request is rejected at once: invalid input, or kUnavailable when
  // the queue is full (with batching off: whatever Infer returned). Otherwise returns OK and calls
  // `done` once: on a batcher thread, or inline when batching is off. Until then the caller keeps
  // `request` (and every buffer its inputs view), `response` and a reference to this Model alive, and
  // does not touch request or response. On success response->outputs is filled as by Infer.
  Status InferAsync(InferRequest* request, InferResponse* response, InferDone done);

  // Runs one inference on a request of zeros (variable dims = 1); used at load so that ready means
  // warmed up.
  Status WarmUp();

  int64_t pending() const { return pending_.load(std::memory_order_relaxed); }

  // Counts one request in pending() while it lives: Infer's own, and a front end's work for this model
  // outside Infer (the V1 pass-through, server/v1_passthrough.h).
  class PendingGuard {
   public:
    ~PendingGuard() { p_.fetch_sub(1, std::memory_order_relaxed); }
    PendingGuard(const PendingGuard&) = delete;
    PendingGuard& operator=(const PendingGuard&) = delete;

   private:
    friend class Model;
    explicit PendingGuard(std::atomic<int64_t>& p) : p_(p) { p_.fetch_add(1, std::memory_order_relaxed); }
    std::atomic<int64_t>& p_;
  };
  [[nodiscard]] PendingGuard CountPending() { return PendingGuard(pending_); }

  // A failure of this model as the front ends report it: prefixed with "model '<name>': " unless it is
  // kInvalidArgument (whose message names the request field at fault) or already starts with that prefix. OK
  // stays OK.
  Status WithModelName(Status st) const;

 private:
  Status ValidateAndConvert(InferRequest& request, std::vector<int>* requested) const;
  // Backend::Execute with exceptions turned into kInternal (no locking).
  Status RunBackend(std::span<const Tensor> inputs, std::span<const int> requested, std::vector<Tensor>* outputs);
  // The common tail of Infer and InferAsync: error prefixes, output count check, names, parameters.
  Status FinishOutputs(Status st, const InferRequest& request, std::span<const int> requested,
                       InferResponse* response) const;

  std::string name_;
  std::string version_;
  std::unique_ptr<Backend> backend_;
  ModelMetadata metadata_;
  std::vector<int> default_outputs_;
  bool dynamic_io_ = false;
  std::mutex exec_mu_;  // only used when !backend_->thread_safe()
  std::atomic<int64_t> pending_{0};
  BatchingConfig batching_;
  std::unique_ptr<Batcher> batcher_;  // null when batching is off; destroyed first (~Model)
};

}  // namespace inferd
