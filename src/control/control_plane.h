// control/control_plane.h: `inferd serve`: the store, the API server, the reconciler, the runtime
// registry, the model storage cache, the replica supervisor and the gateway, in one process.
//
// Contract:
// - Start opens (creates) the data dir: DIR/inferd.db (SQLite store), DIR/token (API bearer token, created
//   at first start with mode 0600), DIR/models (download cache), DIR/serve.json (where everything
//   listens, for the CLI). Built-in ClusterServingRuntimes are created when absent (a user's edits stay).
//   Every stored InferenceService's status is marked not Ready ("Restarting") before the API serves, so
//   nobody reads a Ready left over from the previous process; the reconciler then starts its replicas.
//   Before that, stored rows the store cannot use are quarantined (store.h, "Unusable rows"), logged and
//   reported as Warning Events (reason Quarantined); GET /inferd/v1/quarantine lists every quarantined row.
// - The reconciler (control/reconciler.h) is level-triggered: one thread compares what the store wants with
//   what runs (replicas, downloads, routes) and acts, woken by store watches, replica changes, finished
//   downloads and a 1 s tick. A lost event, a replica crash or a restart all heal the same way. It alone
//   writes InferenceService status (only when it changed) and Events.
// - The models web app is on the API listener (webui/web_app.h, docs/webapp.md), and per service
//   /inferd/v1/namespaces/{ns}/inferenceservices/{name}/logs (component=, replica=, follow, tailBytes),
//   /metrics (control/metrics_sampler.h, sampled every 2 s) and /proxy/<path> (control/isvc_proxy.h).
// - Threads: Start/Stop from the main thread. Internals: API I/O thread, gateway threads, supervisor
//   loop, reconciler (its state is the Reconciler's alone), store watchers (they only wake it), download
//   workers, the metrics sampler.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "autoscaler/autoscaler.h"
#include "control/local_images.h"
#include "core/status.h"
#include "net/limits.h"

namespace inferd::control {

// The model cache and its downloads (docs/control-plane.md#model-storage, configuration.md).
struct StorageServeOptions {
  uint64_t max_unpacked_bytes = 0;     // per archive; 0 = the lesser of 20 GiB and half the cache's free space
  uint64_t max_archive_entries = 100'000;
  uint64_t cache_budget_bytes = 0;     // 0 = the lesser of 50 GiB and half the cache filesystem's size
  int gc_interval_s = 300;             // the collector's slow tick (it also runs after deletes and downloads)
};

struct ServeOptions {
  std::string data_dir;
  std::string gateway_host = "0.0.0.0";
  int http_port = 8080;  // gateway HTTP; 0 = ephemeral
  int grpc_port = 8081;  // gateway gRPC; 0 = ephemeral
  std::string api_host = "127.0.0.1";
  int api_port = 8090;  // 0 = ephemeral
  std::string domain = "example.com";
  std::string gateway_token;  // empty = open gateway
  std::string pvc_root;       // default DIR/volumes
  std::string inferd_bin;     // this executable (for replicas); default /proc/self/exe's target
  int gateway_workers = 0;  // gateway HTTP threads; 0 = one per core (like model-server --workers)
  // Replica restart backoff (tests shorten it).
  int initial_backoff_ms = 1000;
  int max_backoff_ms = 300000;
  // Cluster-wide autoscaler defaults (`inferd serve --config FILE`, section `autoscaler:`).
  autoscaler::AutoscalerConfig autoscaler;
  // What container images run here (`inferd serve --config FILE`, section `images:`; control/local_images.h).
  LocalImages images;
  // InferenceGraph header propagation (`inferd serve --config FILE`, `router: headers: propagate:`).
  std::vector<std::string> graph_propagate_headers;
  // Requests held per revision by the gateway's activator (no ready replica, or every replica at its
  // containerConcurrency) before it answers 503 (Knative's activator queue depth).
  int max_held_requests = 10000;
  StorageServeOptions storage;
  // The GPUs replicas may be given (control/gpu.h ParseGpusFlag): "auto" asks nvidia-smi, "none", a count, or
  // a list of device ids.
  std::string gpus = "auto";
  // The gateway's and the API's client connections (each listener its own cap; one body budget for both).
  net::Limits limits;
  // The API's HTTPS certificate and key (PEM); empty: generated into DATA_DIR/pki (control/api_tls.h).
  std::string tls_cert_file, tls_private_key_file;
  // Replica templates (supervisor/zygote.h) started with serve, from which `inferd model-server` replicas are
  // forked instead of exec'd: "native" (the binary linked and initialised), "python" (also numpy and
  // scikit-learn imported: for scikit-learn models that have no compiled record). Empty: every replica is
  // exec'd.
  std::vector<std::string> replica_templates = {"native", "python"};
  // Whether a model of `format` in `model_dir` will load through the embedded Python (given the compiled-model
  // cache `compiled_cache`); null: never. Set by `inferd serve` (cli/serve_cmd.cc), which links the backends.
  std::function<bool(const std::string& format, const std::string& model_dir, const std::string& compiled_cache)>
      model_needs_python;
};

struct ServeEndpoints {
  int http_port = 0, grpc_port = 0, api_port = 0;
  std::string api_url, token_file;
  std::string api_https_url;  // the same port over TLS (kubectl)
  std::string kubeconfig;     // DATA_DIR/kubeconfig
  std::string ca_file;        // the CA the kubeconfig trusts, as a file ("" for flag-given certificates)
};

class ControlPlane {
 public:
  static StatusOr<std::unique_ptr<ControlPlane>> Start(ServeOptions options);
  ~ControlPlane();  // Stop()
  const ServeEndpoints& endpoints() const;
  void Stop();  // stops the API, the gateway, every replica; idempotent

  struct Impl;

 private:
  explicit ControlPlane(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// The default data dir: $INFERD_DATA_DIR, else $XDG_DATA_HOME/inferd, else $HOME/.local/share/inferd.
std::string DefaultDataDir();

}  // namespace inferd::control
