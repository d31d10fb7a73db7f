#include "server/model_server.h"

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstdio>
#include <filesystem>
#include <thread>

#include "backends/fault/fault_backend.h"
#include "backends/onnx/onnx_backend.h"    // plugin names only: no ONNX Runtime here
#include "backends/torch/torch_backend.h"  // plugin names only: no libtorch here
#include "backends/lightgbm/lightgbm_backend.h"
#include "backends/python/python_model_backend.h"
#include "backends/sklearn/sklearn_backend.h"
#include "backends/tensorflow/tf_backend.h"  // plugin names only: no executor here
#include "backends/xgboost/xgboost_backend.h"
#include "core/logging.h"
#include "core/thread_pool.h"
#include "explain/explainer.h"
#include "logger/payload_logger.h"
#include "model/backend_plugin.h"
#include "model/repository.h"
#include "server/grpc_server.h"
#include "server/http_server.h"
#include "server/in_process.h"
#include "server/metrics.h"
#include "server/rest_handler.h"
#include "server/v1_passthrough.h"

namespace inferd {

struct ModelServer::Impl {
  ModelServerConfig config;
  ServerState state;
  BackendRegistry registry;
  std::unique_ptr<ModelRepository> repo;
  std::unique_ptr<ModelRepository> wrapped_repo;  // the in-process transformer's native model (in_process.h)
  Metrics metrics;
  std::unique_ptr<ThreadPool> pool;
  // Before the front ends: destroyed after them (their handlers call it until they stop).
  std::unique_ptr<logger::PayloadLogger> payload_logger;
  std::unique_ptr<RestHandler> rest;
  std::unique_ptr<HttpServer> http;
  std::unique_ptr<GrpcServer> grpc;
  std::atomic<bool> ready_announced{false};

  // Prints the readiness line once, when every start-up model is ready (from the load that finished last).
  void AnnounceIfReady() {
    if (repo->AllReady() && !ready_announced.exchange(true)) {
      std::printf("inferd model-server ready\n");
      std::fflush(stdout);
    }
  }
};

ModelServer::ModelServer(ModelServerConfig config) : impl_(std::make_unique<Impl>()) {
  impl_->config = std::move(config);
}

ModelServer::~ModelServer() {
  if (impl_->http) impl_->http->Stop();
  if (impl_->grpc) impl_->grpc->Shutdown(std::chrono::system_clock::now());
  // Batched requests complete on batcher threads through the front ends and metrics: let them finish
  // before those are destroyed (as a stopping HTTP thread finishes the inline inference it is running).
  for (int i = 1; impl_->state.batched.load(std::memory_order_acquire) > 0; ++i) {
    if (i % 1000 == 0) LOG_WARN("waiting for {} batched request(s) to complete", impl_->state.batched.load());
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  // The in-process predictor's calls hold its Model: release it now, while its runtime is alive. Left in the
  // static it sits in, it was destroyed by exit() after libxgboost's own statics, and the server crashed
  // (SIGSEGV in XGBoosterFree) on every shutdown.
  if (impl_->wrapped_repo) SetNativeModelCalls(NativeModelCalls{});
}

namespace {

bool HasArg(const std::vector<std::string>& args, std::string_view flag) {
  for (const auto& a : args) {
    if (a == flag || (a.starts_with(flag) && a.size() > flag.size() && a[flag.size()] == '=')) return true;
  }
  return false;
}

// The value of `--flag=V` or `--flag V` in args ("" when absent).
std::string ArgValue(const std::vector<std::string>& args, std::string_view flag) {
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a.starts_with(flag) && a.size() > flag.size() && a[flag.size()] == '=') return a.substr(flag.size() + 1);
    if (a == flag && i + 1 < args.size()) return args[i + 1];
  }
  return "";
}

}  // namespace

// The user's Python program registers its models before anything listens, so readiness never precedes
// them and a program that fails stops the server with its Python error. A transformer (its arguments name
// --predictor_host) given with --model_dir is the in-process transformer (server/in_process.h): the native
// model loads first, privately, and the Python model of the same name wraps it; when no Python model takes
// that name the native model is served under it as well. Without --predictor_host, --model_dir is the
// program's own (a custom predictor reads its files from it).
Status ModelServer::StartPython(V1PassThroughs& v1_passthroughs, std::vector<std::string>* to_load) {
  auto& c = impl_->config;
  std::vector<std::string> argv;
  if (!c.model_name.empty()) argv.insert(argv.end(), {"--model_name", c.model_name});
  if (!c.model_dir.empty()) argv.insert(argv.end(), {"--model_dir", c.model_dir});
  argv.insert(argv.end(), {"--http_port", std::to_string(c.server.http_port), "--grpc_port",
                           std::to_string(c.server.grpc_port)});
  argv.insert(argv.end(), c.python_args.begin(), c.python_args.end());
  std::string native_name, native_dir;
  if (HasArg(c.python_args, "--predictor_host")) {
    if (!c.model_dir.empty()) {
      native_name = c.model_name.empty() ? "model" : c.model_name;
      native_dir = c.model_dir;
    } else if (const std::string n = ArgValue(c.python_args, "--model_name");
               !n.empty() && !c.model_repository.empty()) {
      // A repository (e.g. KServe's collocation sample: TorchServe's --model-store) holding the model the
      // transformer names: that one is wrapped, and the repository does not serve it on its own.
      const std::filesystem::path dir = std::filesystem::path(c.model_repository) / n;
      std::error_code ec;
      if (ValidateModelName(n).ok() && std::filesystem::is_directory(dir, ec)) {
        native_name = n;
        native_dir = dir.string();
      }
    }
  }
  if (!native_name.empty()) {
    impl_->wrapped_repo = std::make_unique<ModelRepository>(
        &impl_->registry, RepositoryOptions{"", c.model_format, c.intra_op_threads, c.force_python, 1},
        c.model_defaults);
    RETURN_IF_ERROR(impl_->wrapped_repo->AddSource(native_name, native_dir).WithPrefix("--model_name"));
    RETURN_IF_ERROR(impl_->wrapped_repo->Load(native_name).WithPrefix("in-process predictor"));
    ASSIGN_OR_RETURN(std::shared_ptr<Model> native, impl_->wrapped_repo->Get(native_name));
    SetNativeModelCalls(InProcessCalls(std::move(native)));
    LOG_INFO("in-process transformer: the Python model '{}' wraps the native model from {}", native_name,
             native_dir);
  }
  ASSIGN_OR_RETURN(std::vector<PythonModel> models,
                   LoadPythonModels(PythonProgram{c.python_script, c.python_module}, argv));
  bool wrapped = false;
  std::vector<std::string> names;
  for (auto& m : models) {
    names.push_back(m.name);
    wrapped = wrapped || m.name == native_name;
    RETURN_IF_ERROR(impl_->repo->AddLoaded(m.name, std::move(m.backend)));
    v1_passthroughs.Add(m.name, std::move(m.v1));
    if (m.explain) v1_passthroughs.AddExplainer(m.name, std::move(m.explain));
  }
  impl_->state.dependency_ready = PythonPredictorReadiness(names);
  if (!native_name.empty() && !wrapped && !c.model_dir.empty()) {
    RETURN_IF_ERROR(impl_->repo->AddSource(native_name, c.model_dir).WithPrefix("--model_name"));
    to_load->push_back(native_name);
  }
  return Status::Ok();
}

Status ModelServer::Start() {
  auto& c = impl_->config;
  impl_->registry.Register(NewXgboostBackendFactory());
  impl_->registry.Register(NewLightgbmBackendFactory());
  impl_->registry.Register(NewSklearnBackendFactory());
  // The deep-learning runtimes are plugins, loaded by the first model of their format (model/backend_plugin.h).
#ifdef INFERD_HAVE_TORCH
  impl_->registry.Register(NewPluginBackendFactory("pytorch", kTorchPluginLibrary, kTorchPluginEntryPoint));
#endif
#ifdef INFERD_HAVE_ONNXRUNTIME
  impl_->registry.Register(NewPluginBackendFactory("onnx", kOnnxPluginLibrary, kOnnxPluginEntryPoint));
#endif
  impl_->registry.Register(
      NewPluginBackendFactory("tensorflow", kTensorflowPluginLibrary, kTensorflowPluginEntryPoint));
  if (const char* f = std::getenv("INFERD_FAULT_INJECTION"); f && std::string(f) == "1") {
    impl_->registry.Register(NewFaultBackendFactory());
  }
  impl_->repo = std::make_unique<ModelRepository>(
      &impl_->registry,
      RepositoryOptions{c.model_repository, c.model_format, c.intra_op_threads, c.force_python, c.max_models,
                        c.memory_budget, c.max_reload_waiters},
      c.model_defaults);
  std::vector<std::string> to_load;
  V1PassThroughs v1_passthroughs;  // custom Python models' V1 path, for the REST front end
  // :explain for every model without its own explainer (a Python model's explain() is registered by name
  // and wins): TreeSHAP / KernelSHAP, looked up at call time so that models loaded later are covered.
  ModelRepository* repo = impl_->repo.get();
  v1_passthroughs.SetDefaultExplainer(
      explain::NewDefaultExplainer([repo](const std::string& name) { return repo->ModelDir(name); }));
  ServerOptions server_options = c.server;
  const bool python = !c.python_script.empty() || !c.python_module.empty();
  if (python) {
    server_options.collect_headers = true;  // KServe gives a custom model the request's headers
    RETURN_IF_ERROR(StartPython(v1_passthroughs, &to_load));
  } else if (!c.model_dir.empty()) {
    std::string name = c.model_name.empty() ? "model" : c.model_name;
    RETURN_IF_ERROR(impl_->repo->AddSource(name, c.model_dir).WithPrefix("--model_name"));
    to_load.push_back(name);
  }
  for (auto& m : c.passthrough_models) {
    RETURN_IF_ERROR(impl_->repo->AddLoaded(m.name, NewPassThroughOnlyBackend(m.name, m.platform)));
    v1_passthroughs.Add(m.name, std::move(m.predict));
    if (m.explain) v1_passthroughs.AddExplainer(m.name, std::move(m.explain));
  }
  if (!c.model_repository.empty()) {
    std::error_code ec;
    if (!std::filesystem::is_directory(c.model_repository, ec)) {
      return InvalidArgument("--model_repository: '" + c.model_repository + "' is not a directory");
    }
    if (!c.load_models.empty()) {
      for (const auto& name : c.load_models) RETURN_IF_ERROR(ValidateModelName(name).WithPrefix("--load_model"));
      to_load.insert(to_load.end(), c.load_models.begin(), c.load_models.end());
    } else {
      for (const auto& e : impl_->repo->Index()) {
        // A name a Python model took (an in-process transformer wrapping the repository's model) stays the Python one's.
        if (!impl_->repo->Peek(e.name).ok()) to_load.push_back(e.name);
      }
    }
  }
  if (c.model_dir.empty() && c.model_repository.empty() && !python && c.passthrough_models.empty()) {
    return InvalidArgument("give --model_dir (with --model_name), --model_repository, --python or --python_module");
  }
  for (const auto& name : to_load) RETURN_IF_ERROR(impl_->repo->ExpectLoad(name));  // ready after the last
  int threads = c.server.max_threads > 0 ? c.server.max_threads
                                         : std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
  impl_->pool = std::make_unique<ThreadPool>(threads, 1024);
  if (c.payload_logger.enabled()) {
    RETURN_IF_ERROR(logger::ValidateConfig(c.payload_logger));
    server_options.collect_headers = true;  // Ce-Id, User-Agent and the metadata headers
    impl_->payload_logger = std::make_unique<logger::PayloadLogger>(c.payload_logger, logger::NewHttpSender,
                                                                    impl_->metrics.registry());
    LOG_INFO("payload logger: mode {} to {} (queue {}, {} worker(s), {} attempt(s) per event)",
             logger::LogModeName(c.payload_logger.mode), c.payload_logger.url, c.payload_logger.queue_capacity,
             c.payload_logger.workers, c.payload_logger.retry.max_attempts);
  }
  impl_->rest = std::make_unique<RestHandler>(impl_->repo.get(), &impl_->metrics, &impl_->state, server_options,
                                              impl_->pool.get(), std::move(v1_passthroughs),
                                              impl_->payload_logger.get());
  impl_->http = std::make_unique<HttpServer>(impl_->rest.get(), &impl_->state, server_options);
  RETURN_IF_ERROR(impl_->http->Start());
  if (c.server.enable_grpc) {
    impl_->grpc = std::make_unique<GrpcServer>(impl_->repo.get(), &impl_->metrics, &impl_->state, c.server);
    RETURN_IF_ERROR(impl_->grpc->Start());
  }
  std::printf("inferd model-server listening http_port=%d grpc_port=%d\n", http_port(), grpc_port());
  std::fflush(stdout);
  LOG_INFO("HTTP on {}:{}, gRPC {}; loading {} model(s)", c.server.host, http_port(),
           impl_->grpc ? "on port " + std::to_string(grpc_port()) : std::string("disabled"), to_load.size());
  for (const auto& name : to_load) {
    Impl* impl = impl_.get();
    impl_->pool->Submit([impl, name] {
      (void)impl->repo->Load(name);
      impl->AnnounceIfReady();
    });
  }
  if (to_load.empty()) impl_->AnnounceIfReady();  // a Python script's models are loaded before listening
  return Status::Ok();
}

bool ModelServer::Drain() {
  auto& c = impl_->config;
  LOG_INFO("draining: refusing new requests, waiting up to {} ms for {} in flight", c.server.drain_timeout_ms,
           impl_->state.inflight.load());
  impl_->state.draining.store(true);
  impl_->http->StopAccepting();
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(c.server.drain_timeout_ms);
  if (impl_->grpc) {
    // gRPC's own shutdown stops accepting and waits for in-flight calls until the deadline.
    impl_->grpc->Shutdown(std::chrono::system_clock::now() + std::chrono::milliseconds(c.server.drain_timeout_ms));
  }
  bool clean = true;
  while (impl_->state.inflight.load() > 0) {
    if (std::chrono::steady_clock::now() >= deadline) {
      LOG_WARN("drain timeout: {} request(s) still in flight", impl_->state.inflight.load());
      clean = false;
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  impl_->http->Stop();
  if (impl_->payload_logger) {
    impl_->payload_logger->Stop(std::chrono::milliseconds(std::min(c.server.drain_timeout_ms, 5000)));
  }
  LOG_INFO("drained");
  return clean;
}

int ModelServer::http_port() const { return impl_->http ? impl_->http->port() : 0; }
int ModelServer::grpc_port() const { return impl_->grpc ? impl_->grpc->port() : 0; }

void ModelServer::AddCopy(int channel) {
  if (impl_->http) {
    impl_->http->AddCopy(channel);
  } else {
    ::close(channel);
  }
}

}  // namespace inferd
