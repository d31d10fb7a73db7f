#include <signal.h>

#include <cstdio>

#include "cli/commands.h"
#include "cli/listener_flags.h"
#include "core/logging.h"
#include "net/listener.h"
#include "server/model_server.h"

namespace inferd::cli {

namespace {
int g_exit_code = 0;
}

int ExitCode() { return g_exit_code; }

void AddModelServerCommand(CLI::App& app) {
  auto* cmd = app.add_subcommand("model-server", "Serve models over KServe V1 and Open Inference Protocol V2 (REST and gRPC)");
  auto cfg = std::make_shared<ModelServerConfig>();
  auto log_level = std::make_shared<std::string>("info");
  auto drain_s = std::make_shared<double>(30.0);
  auto ignored = std::make_shared<std::vector<std::string>>();
  auto& s = cfg->server;
  cmd->add_option("--model_name", cfg->model_name, "Name of the model served from --model_dir (default: model)");
  cmd->add_option("--model_dir", cfg->model_dir, "Directory holding one model (KServe's /mnt/models)");
  cmd->add_option("--model_repository", cfg->model_repository, "Directory whose every subdirectory is a model");
  cmd->add_option("--model_format", cfg->model_format, "Force the model format (xgboost, ...) instead of detecting it");
  cmd->add_option("--load_model", cfg->load_models, "With --model_repository: load only these at start-up (repeatable)");
  cmd->add_option("--host", s.host, "Address to bind")->capture_default_str();
  cmd->add_option("--http_port", s.http_port, "REST port (0 picks a free one)")->capture_default_str();
  cmd->add_option("--grpc_port", s.grpc_port, "gRPC port (0 picks a free one)")->capture_default_str();
  cmd->add_option("--uds", s.uds_path, "Also serve REST on a Unix stream socket at this path (mode 0600)");
  cmd->add_option("--enable_grpc", s.enable_grpc, "Serve the V2 gRPC API")->capture_default_str();
  cmd->add_option("--workers", s.workers, "HTTP event-loop threads (0 = one per core)")->capture_default_str();
  cmd->add_option("--max_threads", s.max_threads, "Threads for model loading and slow work (0 = one per core)")
      ->capture_default_str();
  cmd->add_option("--grpc_max_send_message_length", s.grpc_max_send_message_length)->capture_default_str();
  cmd->add_option("--grpc_max_receive_message_length", s.grpc_max_receive_message_length)->capture_default_str();
  cmd->add_option("--max_request_bytes", s.max_request_bytes, "REST body limit in bytes (413 above it)")
      ->capture_default_str();
  AddListenerFlags(cmd, &s.limits);  // REST connections: timeouts, cap, body budget
  cmd->add_option("--drain_timeout", *drain_s, "Seconds SIGTERM waits for in-flight requests")->capture_default_str();
  cmd->add_option("--force_python", cfg->force_python,
                  "Serve scikit-learn models through scikit-learn in the embedded Python instead of compiling them")
      ->capture_default_str();
  cmd->add_option("--python", cfg->python_script,
                  "A KServe-style custom model script (kserve.Model + ModelServer().start) to run and serve");
  cmd->add_option("--python_arg", cfg->python_args, "Extra argument for the --python script's sys.argv (repeatable)");
  cmd->add_option("--intra_op_threads", cfg->intra_op_threads, "Threads a backend may use for one request")
      ->capture_default_str();
  auto& b = cfg->model_defaults.batching;
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
  cmd->add_option("--log_level", *log_level, "trace, debug, info, warn, error")->capture_default_str();
  // Accepted for compatibility with KServe's ServingRuntime args; they change nothing here.
  cmd->add_option("--protocol,--enable_docs_url,--predictor_host,--http_protocol", *ignored,
                  "Accepted for KServe compatibility, ignored");

  cmd->callback([cfg, log_level, drain_s] {
    InitLogging(*log_level);
    net::RaiseFileLimit();  // the soft open-file limit up to the hard one, before anything is opened
    cfg->server.drain_timeout_ms = static_cast<int>(*drain_s * 1000);
    if (cfg->server.max_request_bytes == 0) {
      std::fprintf(stderr, "--max_request_bytes must be positive\n");
      g_exit_code = 2;
      return;
    }
    // The same ranges as model-settings.json (model/model_config.cc).
    const auto& b = cfg->model_defaults.batching;
    const char* bad = nullptr;
    if (b.max_batch_size < 0 || b.max_batch_size > (int64_t{1} << 31)) {
      bad = "--max_batch_size must be between 0 and 2^31";
    }
    if (b.max_latency_us < 0 || b.max_latency_us > int64_t{3600} * 1000 * 1000) {
      bad = "--max_latency must be between 0 and 3600000000 (1 h)";
    }
    if (b.max_queue_size < 1 || b.max_queue_size > (int64_t{1} << 24)) {
      bad = "--max_queue_size must be between 1 and 2^24";
    }
    if (b.instances < 1 || b.instances > 1024) bad = "--instances must be between 1 and 1024";
    if (bad) {
      std::fprintf(stderr, "%s\n", bad);
      g_exit_code = 2;
      return;
    }
    // Block the shutdown signals before any thread starts, so they are delivered to sigwait below.
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, nullptr);
    signal(SIGPIPE, SIG_IGN);

    ModelServer server(*cfg);
    Status st = server.Start();
    if (!st.ok()) {
      LOG_ERROR("cannot start: {}", st.message());
      g_exit_code = 1;
      return;
    }
    int sig = 0;
    sigwait(&set, &sig);
    LOG_INFO("received signal {}", sig);
    server.Drain();
    g_exit_code = 0;
  });
}

}  // namespace inferd::cli
