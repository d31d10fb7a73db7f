// server/model_server.h: `inferd model-server`: the process that serves models over REST and gRPC.
//
// Contract: ModelServer owns every part of the model server (backend registry, repository, metrics,
// slow-work pool, HTTP and gRPC front ends). Start() binds the ports, prints
//   "inferd model-server listening http_port=N grpc_port=M"
// on stdout, and begins loading the start-up models on the slow-work pool (ready only when all are
// loaded and warmed up). The moment they all are, it prints one more line,
//   "inferd model-server ready"
// so that a supervisor (`inferd serve`) can confirm readiness with one probe at once instead of finding it
// at its next poll; /v2/health/ready stays the source of truth. Drain() is the SIGTERM path: refuse new
// work, let in-flight requests finish (bounded by drain_timeout_ms), stop both front ends. Start/Drain are
// called from the main thread.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "core/status.h"
#include "logger/event.h"
#include "model/model_config.h"
#include "model/passthrough.h"
#include "server/server_state.h"

namespace inferd {

class V1PassThroughs;

struct ModelServerConfig {
  ServerOptions server;
  std::string model_name;        // with model_dir: one model (KServe flags)
  std::string model_dir;
  std::string model_repository;  // every subdirectory is a model
  std::string model_format;      // forces the format; empty = detect
  std::vector<std::string> load_models;  // with a repository: load only these at start (default: all)
  size_t max_models = 1024;              // models known at once (model/repository.h)
  size_t memory_budget = 0;              // bytes all loaded models may hold; 0 = unlimited (model/repository.h)
  size_t max_reload_waiters = 1024;      // requests waiting for evicted models to load at once
  int intra_op_threads = 1;
  ModelConfig model_defaults;  // batching flags; a model's model-settings.json overrides them
  bool force_python = false;   // scikit-learn models stay on the Python path (no native compilation)
  // A KServe-style custom model script (backends/python): run before the front ends start, with
  // sys.argv = [script, --model_name N (when given), --model_dir D (when given), python_args...];
  // --model_dir is then the script's, not loaded as a model by inferd, unless python_args name
  // --predictor_host (a transformer): then the native model loads too and the Python model of the same
  // name wraps it, calling it in-process (server/in_process.h, docs/pipeline.md).
  std::string python_script;
  // The same as a module (`python -m module`): run with the working directory first on sys.path.
  std::string python_module;
  std::vector<std::string> python_args;
  // Models a command built on the model server supplies whole (`inferd art-explainer`'s explain-only model):
  // each is served under `name`, V1 :predict and :explain through its pass-throughs (server/v1_passthrough.h;
  // a null explain answers 501), V2 inference 501 (NewPassThroughOnlyBackend).
  struct PassThroughModel {
    std::string name, platform;
    V1PassThrough predict, explain;
  };
  std::vector<PassThroughModel> passthrough_models;
  // The payload logger (--log_url...; logger/payload_logger.h): off when its url is empty. On, the REST front
  // end collects request headers and hands every request and answer to it; Drain sends what is queued for
  // at most min(--drain_timeout, 5 s) after the front ends stopped. gRPC is not logged (as KServe's agent,
  // which sees HTTP only).
  logger::LoggerConfig payload_logger;
};

class ModelServer {
 public:
  explicit ModelServer(ModelServerConfig config);
  ~ModelServer();

  Status Start();
  // Returns true when every in-flight request finished within the timeout.
  bool Drain();

  int http_port() const;
  int grpc_port() const;
  // --processes: a copy of this server that takes its turn of the REST connections (server/http_server.h).
  void AddCopy(int channel);

 private:
  Status StartPython(V1PassThroughs& v1_passthroughs, std::vector<std::string>* to_load);
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace inferd
