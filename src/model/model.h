// model/model.h: one loaded, servable model: metadata, request validation, execution, counters.
//
// Contract:
// - A Model owns its Backend. It is shared (std::shared_ptr) between the repository and in-flight
//   requests, so unloading never frees a model that a request is still using.
// - Infer may be called from any thread. It validates the request against the metadata (every error
//   names the field), converts numeric inputs when the backend allows it, calls Backend::Execute
//   (serialized when the backend is not thread-safe), catches anything the backend throws, and keeps
//   only the requested outputs. Counters are atomics; no lock is taken for thread-safe backends.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <string>

#include "model/backend.h"

namespace inferd {

// Where the time of one Infer call went (nanoseconds), for metrics.
struct InferTiming {
  int64_t queue_ns = 0;    // waiting for the model (serialization lock)
  int64_t compute_ns = 0;  // inside Backend::Execute
};

class Model {
 public:
  Model(std::string name, std::string version, std::unique_ptr<Backend> backend);

  const std::string& name() const { return name_; }
  const std::string& version() const { return version_; }
  // The backend's metadata with name/versions filled in.
  const ModelMetadata& metadata() const { return metadata_; }
  int v1_output() const { return backend_->v1_output(); }

  // Validates and executes. On success `response->outputs` holds the requested outputs (all of them
  // when none were requested) in request order; id/parameters are left to the caller.
  Status Infer(InferRequest& request, InferResponse* response, InferTiming* timing = nullptr);

  // Runs one inference on a request of zeros (variable dims = 1); used at load so that ready means
  // warmed up.
  Status WarmUp();

  int64_t pending() const { return pending_.load(std::memory_order_relaxed); }

 private:
  Status ValidateAndConvert(InferRequest& request, std::vector<int>* requested) const;

  std::string name_;
  std::string version_;
  std::unique_ptr<Backend> backend_;
  ModelMetadata metadata_;
  std::vector<int> default_outputs_;
  std::mutex exec_mu_;  // only used when !backend_->thread_safe()
  std::atomic<int64_t> pending_{0};
};

}  // namespace inferd
