// cli/serve_cmd.cc: `inferd serve`, the local control plane (control/control_plane.h).
#include <cstdio>
#include <memory>

#include "backends/sklearn/sklearn_backend.h"
#include "cli/commands.h"
#include "cli/listener_flags.h"
#include "cli/shutdown_signals.h"
#include "control/control_plane.h"
#include "control/serve_config.h"
#include "core/logging.h"
#include "net/listener.h"

namespace inferd::cli {

namespace {
int g_serve_exit = 0;

// The model cache's bounds (docs/configuration.md#model-storage). Sizes take units: 512MiB, 20GiB, 1TB.
void AddStorageFlags(CLI::App* cmd, control::StorageServeOptions* s) {
  cmd->add_option("--storage_max_unpacked_bytes", s->max_unpacked_bytes,
                  "Most bytes one downloaded archive may unpack to (0 = the lesser of 20GiB and half the free "
                  "space at DATA_DIR/models)")
      ->transform(CLI::AsSizeValue(false))
      ->capture_default_str();
  cmd->add_option("--storage_max_archive_entries", s->max_archive_entries,
                  "Most entries one downloaded archive may have")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  cmd->add_option("--storage_cache_budget", s->cache_budget_bytes,
                  "Size the model cache is kept under by evicting idle entries, least recently used first (0 = the "
                  "lesser of 50GiB and half the size of DATA_DIR/models' filesystem)")
      ->transform(CLI::AsSizeValue(false))
      ->capture_default_str();
  cmd->add_option("--storage_gc_interval_s", s->gc_interval_s,
                  "Seconds between cache collections on the slow tick (they also run after a service is "
                  "deleted and after a download)")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
}
}  // namespace

void AddServeCommand(CLI::App& app) {
  auto* cmd = app.add_subcommand("serve", "Run the platform: API, store, reconciler, replicas and gateway");
  auto opt = std::make_shared<control::ServeOptions>();
  auto log_level = std::make_shared<std::string>("info");
  auto config_path = std::make_shared<std::string>();
  cmd->add_option("--data_dir", opt->data_dir, "Data dir: store, token, model cache (default: $INFERD_DATA_DIR, "
                                               "$XDG_DATA_HOME/inferd or ~/.local/share/inferd)");
  cmd->add_option("--host", opt->gateway_host, "Gateway bind address")->capture_default_str();
  cmd->add_option("--http_port", opt->http_port, "Gateway HTTP port (0 picks a free one)")->capture_default_str();
  cmd->add_option("--grpc_port", opt->grpc_port, "Gateway gRPC port (0 picks a free one)")->capture_default_str();
  cmd->add_option("--api_host", opt->api_host, "API bind address")->capture_default_str();
  cmd->add_option("--api_port", opt->api_port, "API port (0 picks a free one): HTTPS, and plain HTTP for loopback clients")
      ->capture_default_str();
  cmd->add_option("--tls_cert_file", opt->tls_cert_file,
                  "The API's HTTPS certificate (PEM, the chain's issuer last: it goes into the kubeconfig as the CA); "
                  "default: a CA and certificate generated into DATA_DIR/pki")
      ->check(CLI::ExistingFile);
  cmd->add_option("--tls_private_key_file", opt->tls_private_key_file,
                  "The private key (PEM) of --tls_cert_file")
      ->check(CLI::ExistingFile);
  cmd->add_option("--domain", opt->domain, "Domain of service hosts ({isvc}.{ns}.{domain})")->capture_default_str();
  cmd->add_option("--gateway_token", opt->gateway_token, "Require this bearer token at the gateway");
  cmd->add_option("--pvc_root", opt->pvc_root, "Directory pvc://claim/path maps under (default DATA_DIR/volumes)");
  cmd->add_option("--gateway_workers", opt->gateway_workers, "Gateway HTTP threads (0 = one per core)")->capture_default_str();
  cmd->add_option("--restart_backoff_ms", opt->initial_backoff_ms, "First restart delay of a crashed replica")
      ->capture_default_str();
  cmd->add_option("--max_restart_backoff_ms", opt->max_backoff_ms, "Longest restart delay")->capture_default_str();
  cmd->add_option("--max_held_requests", opt->max_held_requests,
                  "Requests the gateway's activator holds per revision (no ready replica, or all at "
                  "containerConcurrency) before answering 503")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  cmd->add_option("--replica_templates", opt->replica_templates,
                  "Replica templates to start (native, python; 'none' for none): model-server replicas are forked "
                  "from one instead of exec'd, which skips linking and initialising the binary (and importing "
                  "scikit-learn for a model that needs Python)")
      ->delimiter(',')
      ->capture_default_str();
  opt->model_needs_python = [](const std::string& format, const std::string& dir, const std::string& cache) {
    return format == "sklearn" && !HasCompiledSklearnRecord(dir, cache);
  };
  cmd->add_option("--gpus", opt->gpus,
                  "GPUs for replicas that ask for resources.limits[nvidia.com/gpu]: auto (nvidia-smi), none, a "
                  "count (4 = devices 0-3) or device ids (0,1 or GPU-... UUIDs)")
      ->capture_default_str();
  AddStorageFlags(cmd, &opt->storage);
  AddListenerFlags(cmd, &opt->limits);  // the gateway's and the API's client connections
  cmd->add_option("--log_level", *log_level, "trace, debug, info, warn, error")->capture_default_str();
  CLI::Option* config_opt =
      cmd->add_option("--config", *config_path,
                      "YAML settings file: an `autoscaler:` section of Knative config-autoscaler keys (or Knative's "
                      "config-autoscaler ConfigMap) and an `images:` section (what container images run here); "
                      "docs/configuration.md");
  cmd->callback([opt, log_level, config_path, config_opt] {
    InitLogging(*log_level);
    net::RaiseFileLimit();  // replicas inherit it
    if (config_opt->count() > 0) {
      auto config = control::LoadServeConfig(*config_path);
      if (!config.ok()) {
        std::fprintf(stderr, "inferd serve: %s\n", config.status().message().c_str());
        g_serve_exit = 1;
        return;
      }
      opt->autoscaler = config->autoscaler;
      opt->images = config->images;
      opt->graph_propagate_headers = config->router_propagate_headers;
      LOG_INFO("settings from {}", *config_path);
    }
    if (opt->data_dir.empty()) opt->data_dir = control::DefaultDataDir();
    const sigset_t set = BlockShutdownSignals();  // before ControlPlane::Start starts any thread
    auto cp = control::ControlPlane::Start(*opt);
    if (!cp.ok()) {
      std::fprintf(stderr, "inferd serve: %s\n", cp.status().message().c_str());
      g_serve_exit = 1;
      return;
    }
    const auto& e = (*cp)->endpoints();
    std::printf("inferd serve\n");
    std::printf("  gateway  http://%s:%d (REST), %s:%d (gRPC), hosts {isvc}.{namespace}.%s\n",
                opt->gateway_host.c_str(), e.http_port, opt->gateway_host.c_str(), e.grpc_port, opt->domain.c_str());
    std::printf("  api      %s (bearer token in %s), %s\n", e.api_url.c_str(), e.token_file.c_str(),
                e.api_https_url.c_str());
    std::printf("  web app  %s/ (log in with the token; docs/webapp.md)\n", e.api_url.c_str());
    std::printf("  kubeconfig %s (export KUBECONFIG=%s)\n", e.kubeconfig.c_str(), e.kubeconfig.c_str());
    std::printf("  data     %s\n", opt->data_dir.c_str());
    std::printf("inferd serve listening http_port=%d grpc_port=%d api_port=%d\n", e.http_port, e.grpc_port,
                e.api_port);
    std::fflush(stdout);
    LOG_INFO("received signal {}: stopping replicas", WaitForShutdownSignal(set));
    (*cp)->Stop();
    g_serve_exit = 0;
  });
}

int ServeExitCode() { return g_serve_exit; }

}  // namespace inferd::cli
