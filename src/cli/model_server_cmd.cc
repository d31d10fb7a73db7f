// cli/model_server_cmd.cc: `inferd model-server` flags.
//
// Three kinds of flags (docs/configuration.md lists them all):
// - inferd's own and KServe's that inferd honours (AddServerFlags);
// - flags of KServe's model servers and of the runtimes KServe ships that inferd maps onto its own
//   (--nthread, --framework, Triton's/TorchServe's --model-store ...; AddMappedFlags, ApplyMappedFlags);
// - flags inferd accepts and does not act on, each with the reason (kIgnoredFlags): one warning per flag
//   given. Anything else (an unknown flag, a stray word) is warned about once and never stops the server,
//   as KServe's servers parse with argparse's parse_known_args.
// Every value a flag writes lives in one ModelServerFlags owned by the callback (a shared_ptr it
// captures), so nothing CLI11 holds a reference to is freed before parsing.
#include <signal.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <set>

#include "backends/torchserve/torchserve.h"
#include "cli/commands.h"
#include "cli/server_flags.h"
#include "cli/logger_flags.h"
#include "cli/shutdown_signals.h"
#include "cli/worker_processes.h"
#include "core/logging.h"
#include "net/listener.h"
#include "resources/resources.h"
#include "server/model_server.h"

namespace inferd::cli {

namespace {

int g_exit_code = 0;

// A flag accepted for compatibility that changes nothing here, and why.
struct IgnoredFlag {
  const char* names;  // CLI11 spelling: "--a,--b"
  bool takes_value;
  const char* reason;
};

// From KServe's python/kserve/kserve/model_server.py (every model server's parent parser), its servers'
// __main__.py and config/runtimes/*.yaml.
constexpr IgnoredFlag kIgnoredFlags[] = {
    {"--max_asyncio_workers", true, "inference runs on inferd's own I/O threads; there is no asyncio executor"},
    {"--enable_docs_url", true, "inferd serves no Swagger UI (/docs)"},
    {"--enable_latency_logging", true, "no per-request log line; latencies are in /metrics"},
    {"--configure_logging", true, "logging is inferd's own (--log_level)"},
    {"--log_config_file", true, "logging is inferd's own (--log_level); there is no uvicorn log config"},
    {"--access_log_format", true, "inferd writes no access log"},
    {"--event-loop", true, "inferd's event loop is Boost.Asio, not uvicorn's"},
    {"--protocol", true, "inferd serves V1, V2 REST and V2 gRPC at once (a transformer's setting in KServe)"},
    {"--predictor_protocol", true, "a transformer's setting; inferd model-server is a predictor"},
    {"--predictor_host", true, "a transformer's setting; inferd model-server is a predictor"},
    {"--predictor_use_ssl", true, "a transformer's setting; inferd model-server is a predictor"},
    {"--predictor_request_timeout_seconds", true, "a transformer's setting; inferd model-server is a predictor"},
    {"--predictor_request_retries", true, "a transformer's setting; inferd model-server is a predictor"},
    {"--enable_predictor_health_check", false, "a transformer's setting; inferd model-server is a predictor"},
    {"--http_protocol", true, "inferd serves HTTP/1.1 (REST) and HTTP/2 (gRPC) on their own ports"},
    // TorchServe (kserve-torchserve.yaml: torchserve --start --model-store=... --ts-config=...).
    {"--start", false, "TorchServe's start command; inferd model-server is already the server"},
    // Triton (kserve-tritonserver.yaml).
    {"--allow-http", true, "REST is always served"},
};

struct ModelServerFlags {
  ModelServerConfig cfg;
  std::string log_level = "info";
  double drain_s = 30.0;
  std::string repository_token_file;
  std::string memory_budget;  // a Kubernetes memory quantity ("512Mi"); empty or 0 = unlimited
  double reload_timeout_s = 60.0;
  int processes = 1;  // cli/worker_processes.h
  // Mapped flags (ApplyMappedFlags)
  int nthread = 0;
  std::string framework;
  std::string model_store;
  std::string ts_config;  // TorchServe's --ts-config (backends/torchserve/torchserve.h)
  int triton_http_port = 0, triton_grpc_port = 0;
  bool triton_allow_grpc = true;
  double timeout_keep_alive_s = 0;
  LoggerFlags logger;  // cli/logger_flags.h; copied into cfg.payload_logger after the parse
  // Values of the ignored flags (never read; CLI11 needs somewhere to put them).
  std::vector<std::string> ignored_values;
};

void AddServerFlags(CLI::App* cmd, ModelServerFlags* f) {
  auto& cfg = f->cfg;
  auto& s = cfg.server;
  cmd->add_option("--model_name", cfg.model_name, "Name of the model served from --model_dir (default: model)");
  cmd->add_option("--model_dir", cfg.model_dir, "Directory holding one model (KServe's /mnt/models)");
  cmd->add_option("--model_repository", cfg.model_repository, "Directory whose every subdirectory is a model");
  cmd->add_option("--model_format", cfg.model_format, "Force the model format (xgboost, ...) instead of detecting it");
  cmd->add_option("--load_model", cfg.load_models, "With --model_repository: load only these at start-up (repeatable)");
  cmd->add_option("--max_models", cfg.max_models, "Models known at once: loaded, loading or failed (1..65536)")
      ->capture_default_str();
  cmd->add_option("--memory_budget", f->memory_budget,
                  "Bytes all loaded models may hold (a Kubernetes quantity: 512Mi, 2Gi, 1e9; 0 = unlimited): least "
                  "recently used models are evicted, and loaded again on their next request");
  cmd->add_option("--reload_timeout", f->reload_timeout_s,
                  "Seconds a request to a model the memory budget evicted waits for its reload")
      ->capture_default_str();
  cmd->add_option("--max_reload_waiters", cfg.max_reload_waiters,
                  "Requests waiting for evicted models to load at once, beyond which they answer 503 (1..65536)")
      ->capture_default_str();
  cmd->add_option("--repository_token_file", f->repository_token_file,
                  "File holding the bearer token the repository API's load/unload need (or env "
                  "INFERD_REPOSITORY_TOKEN)");
  AddFrontEndFlags(cmd, &s);
  cmd->add_option("--drain_timeout", f->drain_s, "Seconds SIGTERM waits for in-flight requests")->capture_default_str();
  cmd->add_option("--force_python", cfg.force_python,
                  "Serve scikit-learn models through scikit-learn in the embedded Python instead of compiling them")
      ->capture_default_str();
  cmd->add_option("--python", cfg.python_script,
                  "A KServe-style custom model script (kserve.Model + ModelServer().start) to run and serve");
  cmd->add_option("--python_module", cfg.python_module,
                  "The same as a module run as `python -m module` (the working directory first on sys.path)")
      ->excludes(cmd->get_option("--python"));
  cmd->add_option("--python_arg", cfg.python_args, "Extra argument for the --python script's sys.argv (repeatable)");
  cmd->add_option("--processes", f->processes,
                  "With --python/--python_module: serve as this many processes sharing the REST port, one "
                  "front-end thread and one Python interpreter each (1..64; docs/pipeline.md#processes)")
      ->capture_default_str();
  // Internal: set by the first process of --processes on its copies (cli/worker_processes.h); hidden.
  cmd->add_option("--handoff_fd", cfg.server.handoff_fd, "")->group("");
  cmd->add_option("--intra_op_threads", cfg.intra_op_threads, "Threads a backend may use for one request")
      ->capture_default_str();
  auto& b = cfg.model_defaults.batching;
  cmd->add_option("--max_batch_size", b.max_batch_size,
                  "Server-side batching: rows per batch for every model (0 = off; model-settings.json overrides)")
      ->capture_default_str();
  cmd->add_option("--max_latency", b.max_latency_us,
                  "Server-side batching: microseconds the oldest queued request waits for a batch to fill")
      ->capture_default_str();
  cmd->add_option("--max_queue_size", b.max_queue_size,
                  "Server-side batching: requests queued per model before answering 503 / UNAVAILABLE")
      ->capture_default_str();
  cmd->add_option("--instances", b.instances, "Server-side batching: threads executing batches per model")
      ->capture_default_str();
  cmd->add_option("--rest_api_timeout_in_ms", s.rest_api_timeout_ms,
                  "TF Serving's flag: milliseconds a REST :predict in TF Serving's API (TensorFlow models) may run "
                  "before it stops with 504 (0 = no limit; gRPC calls use the client's deadline)")
      ->capture_default_str();
  cmd->add_option("--log_level", f->log_level, "trace, debug, info, warn, error")->capture_default_str();
}

// Flags of other servers that mean something inferd has (applied by ApplyMappedFlags).
void AddMappedFlags(CLI::App* cmd, ModelServerFlags* f) {
  cmd->add_option("--nthread", f->nthread, "KServe xgbserver/lgbserver: threads per request (= --intra_op_threads)");
  cmd->add_option("--framework", f->framework, "KServe predictiveserver: sklearn, xgboost or lightgbm (= --model_format)");
  cmd->add_option("--model-store,--model-repository", f->model_store,
                  "Triton: a model repository (= --model_repository); TorchServe: a store of .mar archives");
  cmd->add_option("--ts-config", f->ts_config,
                  "TorchServe: config.properties of the --model-store (default: config/config.properties beside it)");
  cmd->add_option("--http-port", f->triton_http_port, "Triton: REST port (--http_port wins)");
  cmd->add_option("--grpc-port", f->triton_grpc_port, "Triton: gRPC port (--grpc_port wins)");
  cmd->add_option("--allow-grpc", f->triton_allow_grpc, "Triton: serve gRPC (--enable_grpc wins)");
  cmd->add_option("--timeout-keep-alive", f->timeout_keep_alive_s,
                  "KServe (uvicorn): keep-alive idle seconds (= --keepalive_timeout, which wins)")
      ->check(CLI::Range(0.001, 86400.0));
}

std::vector<std::pair<CLI::Option*, const IgnoredFlag*>> AddIgnoredFlags(CLI::App* cmd, ModelServerFlags* f) {
  auto* group = cmd->add_option_group("KServe compatibility", "Accepted and ignored (a warning says why)");
  std::vector<std::pair<CLI::Option*, const IgnoredFlag*>> out;
  for (const IgnoredFlag& flag : kIgnoredFlags) {
    CLI::Option* o = flag.takes_value ? group->add_option(flag.names, f->ignored_values, flag.reason)
                                      : group->add_flag(flag.names, flag.reason);
    out.emplace_back(o, &flag);
  }
  return out;
}

// A TorchServe model store (TorchServe's --model-store, or KServe's layout under --model_dir: model-store/*.mar
// and config/config.properties) is served by inferd's TorchServe runtime, a Python program run as --python is
// (backends/torchserve/torchserve.h); `program` then owns its private directory. A --python program of the
// user's own wins. Returns an error message or "".
std::string ApplyTorchServe(ModelServerFlags* f, std::optional<TorchServeProgram>* program) {
  auto& cfg = f->cfg;
  if (!cfg.python_script.empty() || !cfg.python_module.empty()) return "";
  if (!cfg.model_format.empty() && cfg.model_format != "pytorch") return "";  // KServe's format name for TorchServe
  auto found = FindTorchServeStore(f->model_store, cfg.model_repository.empty() ? cfg.model_dir : "", f->ts_config);
  if (!found) {
    if (!f->ts_config.empty()) {
      LOG_WARN("--ts-config {}: no TorchServe model store (*.mar) to serve; not read", f->ts_config);
    }
    return "";
  }
  auto prog = TorchServeProgram::Create(*found);
  if (!prog.ok()) return std::string(prog.status().message());
  LOG_INFO("TorchServe model store {} (config.properties: {}): served by inferd's TorchServe runtime", found->store,
           found->config.empty() ? "none" : found->config);
  if (!cfg.model_name.empty()) {
    LOG_INFO("--model_name {}: TorchServe models are named by config.properties' model_snapshot or their archives' "
             "manifests", cfg.model_name);
  }
  cfg.python_script = prog->script();
  cfg.python_args.insert(cfg.python_args.end(), prog->args().begin(), prog->args().end());
  cfg.model_dir.clear();
  cfg.model_name.clear();
  f->model_store.clear();
  program->emplace(std::move(*prog));
  return "";
}

// Applies the flags of other servers that mean something here. Returns an error message or "".
std::string ApplyMappedFlags(const CLI::App& cmd, ModelServerFlags* f) {
  auto given = [&](const char* name) { return cmd.count(name) > 0; };
  auto& cfg = f->cfg;
  if (given("--nthread") && !given("--intra_op_threads")) {
    cfg.intra_op_threads = f->nthread;
    LOG_INFO("--nthread {}: intra-op threads per request (as --intra_op_threads {})", f->nthread, f->nthread);
  }
  if (!f->framework.empty() && !given("--model_format")) {
    if (f->framework != "sklearn" && f->framework != "xgboost" && f->framework != "lightgbm") {
      return "--framework must be sklearn, xgboost or lightgbm (KServe predictiveserver), got '" + f->framework + "'";
    }
    cfg.model_format = f->framework;
    LOG_INFO("--framework {}: model format {} (as --model_format)", f->framework, f->framework);
  }
  if (!f->model_store.empty() && cfg.model_dir.empty() && cfg.model_repository.empty()) {
    cfg.model_repository = f->model_store;  // Triton's (a TorchServe store was taken by ApplyTorchServe)
  }
  if (given("--http-port") && !given("--http_port")) cfg.server.http_port = f->triton_http_port;
  if (given("--grpc-port") && !given("--grpc_port")) cfg.server.grpc_port = f->triton_grpc_port;
  if (given("--allow-grpc") && !given("--enable_grpc")) cfg.server.enable_grpc = f->triton_allow_grpc;
  if (given("--timeout-keep-alive") && !given("--keepalive_timeout")) {
    cfg.server.limits.timeouts.keepalive_ms = static_cast<int64_t>(f->timeout_keep_alive_s * 1000);
    LOG_INFO("--timeout-keep-alive {}: keep-alive idle timeout {} s (as --keepalive_timeout)", f->timeout_keep_alive_s,
             f->timeout_keep_alive_s);
  }
  return "";
}

// One warning per ignored flag given, and one for everything not understood.
void WarnIgnored(const CLI::App& cmd, const std::vector<std::pair<CLI::Option*, const IgnoredFlag*>>& ignored) {
  for (const auto& [option, flag] : ignored) {
    if (option->count() > 0) {
      LOG_WARN("{}: accepted for KServe compatibility and ignored: {}", option->get_name(), flag->reason);
    }
  }
  std::set<std::string> seen;
  std::string unknown;
  for (const std::string& arg : cmd.remaining()) {
    if (arg == "torchserve" || arg == "tritonserver") {
      LOG_WARN("'{}' (a runtime's own command word in its args): inferd model-server serves instead", arg);
      continue;
    }
    if (seen.insert(arg).second) unknown += (unknown.empty() ? "" : " ") + arg;
  }
  if (!unknown.empty()) {
    LOG_WARN("arguments inferd model-server does not know, ignored: {} (see docs/configuration.md)", unknown);
  }
}

// The ranges of the flags. Returns an error message or "".
std::string Validate(const ModelServerConfig& cfg) {
  if (cfg.server.max_request_bytes == 0) return "--max_request_bytes must be positive";
  if (cfg.server.rest_api_timeout_ms < 0 || cfg.server.rest_api_timeout_ms > int64_t{86400} * 1000) {
    return "--rest_api_timeout_in_ms must be between 0 and 86400000 (1 day)";
  }
  if (cfg.max_models < 1 || cfg.max_models > 65536) return "--max_models must be between 1 and 65536";
  if (cfg.max_reload_waiters < 1 || cfg.max_reload_waiters > 65536) {
    return "--max_reload_waiters must be between 1 and 65536";
  }
  // The same ranges as model-settings.json (model/model_config.cc).
  const auto& b = cfg.model_defaults.batching;
  if (b.max_batch_size < 0 || b.max_batch_size > (int64_t{1} << 31)) {
    return "--max_batch_size must be between 0 and 2^31";
  }
  if (b.max_latency_us < 0 || b.max_latency_us > int64_t{3600} * 1000 * 1000) {
    return "--max_latency must be between 0 and 3600000000 (1 h)";
  }
  if (b.max_queue_size < 1 || b.max_queue_size > (int64_t{1} << 24)) {
    return "--max_queue_size must be between 1 and 2^24";
  }
  if (b.instances < 1 || b.instances > 1024) return "--instances must be between 1 and 1024";
  return "";
}

// --memory_budget and --reload_timeout into `cfg`. Returns an error message or "".
std::string ApplyBudgetFlags(const ModelServerFlags& f, ModelServerConfig* cfg) {
  if (!f.memory_budget.empty()) {
    auto bytes = resources::ParseMemoryQuantity(f.memory_budget);
    // Whole bytes up to 2^60 (1 EiB): far above any machine, and exact in a double.
    if (!bytes || *bytes > 1152921504606846976.0) {
      return "--memory_budget: '" + f.memory_budget +
             "' is not a memory quantity (bytes, or with a suffix: 512Mi, 2Gi, 1G, 1e9) up to 1Ei";
    }
    cfg->memory_budget = static_cast<size_t>(*bytes);
    if (*bytes > 0 && cfg->memory_budget == 0) return "--memory_budget: '" + f.memory_budget + "' is less than a byte";
  }
  if (!(f.reload_timeout_s > 0 && f.reload_timeout_s <= 3600)) {
    return "--reload_timeout must be more than 0 and at most 3600 seconds";
  }
  cfg->server.reload_timeout_ms = std::max(1, static_cast<int>(f.reload_timeout_s * 1000));
  return "";
}

// The repository API's token: --repository_token_file, else $INFERD_REPOSITORY_TOKEN. Returns an error or "".
std::string ReadRepositoryToken(const std::string& file, std::string* token) {
  if (file.empty()) {
    const char* env = std::getenv("INFERD_REPOSITORY_TOKEN");
    *token = env ? env : "";
    return "";
  }
  std::ifstream in(file);
  if (!in) return "--repository_token_file: cannot read '" + file + "'";
  std::getline(in, *token);
  while (!token->empty() && (token->back() == '\r' || token->back() == ' ')) token->pop_back();
  if (token->empty()) return "--repository_token_file: '" + file + "' holds no token on its first line";
  return "";
}

// --processes: why each refusal (cli/worker_processes.h). Returns an error or "".
std::string ValidateProcesses(const ModelServerFlags& f) {
  if (f.processes < 1 || f.processes > 64) return "--processes must be between 1 and 64";
  if (f.processes == 1) return "";
  const auto& c = f.cfg;
  if (c.python_script.empty() && c.python_module.empty()) {
    return "--processes is for servers that run Python (--python / --python_module): native models serve from "
           "every thread of one process (--workers)";
  }
  if (!c.model_repository.empty()) {
    return "--processes cannot be combined with --model_repository: each process would load and unload models "
           "on its own";
  }
  return "";
}

// N processes on one port (cli/worker_processes.h): this one, then N-1 copies once it serves.
int RunProcesses(ModelServerConfig& cfg, int processes) {
  sigset_t set = BlockShutdownSignals();
  BlockChildSignal(&set);  // before any thread starts
  cfg.server.workers = 1;
  ModelServer server(cfg);
  Status st = server.Start();
  if (!st.ok()) {
    LOG_ERROR("cannot start: {}", st.message());
    return 1;
  }
  auto copies = StartCopies(processes - 1, server.http_port());
  if (!copies.ok()) {
    LOG_ERROR("cannot start: {}", copies.status().message());
    server.Drain();
    return 1;
  }
  std::vector<int> pids;
  for (const Copy& c : *copies) {
    pids.push_back(c.pid);
    server.AddCopy(c.channel);
  }
  const int sig = WaitForShutdownOrCopyExit(set, pids);
  if (sig > 0) LOG_INFO("received signal {}", sig);
  for (int pid : pids) kill(pid, SIGTERM);  // they drain while this one does
  server.Drain();
  StopCopies(pids, std::chrono::milliseconds(cfg.server.drain_timeout_ms + 5000));
  return sig > 0 ? 0 : 1;
}

int Run(ModelServerConfig& cfg, int processes) {
  if (processes > 1) return RunProcesses(cfg, processes);
  // Block the shutdown signals before any thread starts, so they wait for WaitForShutdownSignal.
  const sigset_t set = BlockShutdownSignals();
  return RunModelServerUntilSignal(cfg, set);
}

}  // namespace

int RunModelServerUntilSignal(const ModelServerConfig& cfg, const sigset_t& set) {
  ModelServer server(cfg);
  Status st = server.Start();
  if (!st.ok()) {
    LOG_ERROR("cannot start: {}", st.message());
    return 1;
  }
  LOG_INFO("received signal {}", WaitForShutdownSignal(set));
  server.Drain();
  return 0;
}

int ExitCode() { return g_exit_code; }

void AddModelServerCommand(CLI::App& app) {
  auto* cmd = app.add_subcommand("model-server", "Serve models over KServe V1 and Open Inference Protocol V2 (REST and gRPC)");
  // Unknown arguments are collected (cmd->remaining()) and warned about, never an error: KServe's own
  // servers ignore what they do not know, and runtimes pass their own flags.
  cmd->allow_extras();
  auto flags = std::make_shared<ModelServerFlags>();
  AddServerFlags(cmd, flags.get());
  AddLoggerFlags(cmd, &flags->logger);
  AddMappedFlags(cmd, flags.get());
  auto ignored = AddIgnoredFlags(cmd, flags.get());

  cmd->callback([cmd, flags, ignored] {
    std::optional<TorchServeProgram> torchserve;  // its private directory lives until the server stops
    InitLogging(flags->log_level);
    net::RaiseFileLimit();  // the soft open-file limit up to the hard one, before anything is opened
    auto& cfg = flags->cfg;
    cfg.server.drain_timeout_ms = static_cast<int>(flags->drain_s * 1000);
    WarnIgnored(*cmd, ignored);
    std::string error = ApplyTorchServe(flags.get(), &torchserve);
    if (error.empty()) error = ApplyMappedFlags(*cmd, flags.get());
    if (error.empty()) error = Validate(cfg);
    if (error.empty()) error = ApplyBudgetFlags(*flags, &cfg);
    if (error.empty()) error = ApplyLoggerFlags(&flags->logger);
    flags->cfg.payload_logger = flags->logger.config;
    if (error.empty()) error = ReadRepositoryToken(flags->repository_token_file, &cfg.server.repository_token);
    if (error.empty()) error = ValidateProcesses(*flags);
    if (!error.empty()) {
      std::fprintf(stderr, "%s\n", error.c_str());
      g_exit_code = 2;
      return;
    }
    g_exit_code = Run(cfg, flags->processes);
  });
}

}  // namespace inferd::cli
