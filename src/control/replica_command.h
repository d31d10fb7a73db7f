// control/replica_command.h: how one replica of a revision is started: the (Cluster)ServingRuntime's
// container (or the predictor's own container) turned into a local command line.
//
// Contract (pure function; any thread):
// - The container is the component's first custom container when it has any, else the runtime's
//   container named "kserve-container" (or its first one).
// - `inferd ...` commands run this binary (`inferd_bin`). For `inferd model-server` the HTTP/gRPC ports
//   become 0 (the child picks free ones and prints them; the supervisor reads them) and the host 127.0.0.1;
//   with `uds_path` it also gets `--uds=<uds_path>` (other commands never do).
// - Images KServe's runtimes use whose work `inferd model-server` does (kserve/sklearnserver, xgbserver,
//   lgbserver, predictiveserver, nvidia/tritonserver, pytorch/torchserve-kfs with their arguments as they are;
//   seldonio/mlserver, configured by environment, with --model_name={{.Name}} --model_dir=/mnt/models added)
//   run as `inferd model-server`, so a ClusterServingRuntime copied from KServe works unchanged. inferd's own
//   image (last path segment `inferd`, any registry, tag or digest; entrypoint `inferd`) without `command` runs
//   this binary with the container's args, as Kubernetes runs the image's entrypoint (config/runtimes: args
//   `model-server ...`). Any other container without `command` cannot run without Kubernetes:
//   FailedPrecondition-like InvalidArgument whose message says so.
// - Other commands get a free loopback port chosen here, substituted for the value of
//   --http_port/--port (forms `--http_port=8080` and `--http_port 8080`) and given as env PORT; the
//   replica must serve /v2/health/ready there.
// - KServe's template variables {{.Name}}, {{.Namespace}}, {{.Labels.K}}, {{.Annotations.K}} are replaced
//   in command, args and env values; "/mnt/models" (prefix) by the local model directory.
// - The component's args and env are appended to (and override) the container's; a batcher adds
//   --max_batch_size/--max_latency (µs; KServe's defaults 32 and 5000 ms) for inferd model-server, a logger
//   --log_url (KServe's default http://default-broker when the spec has none), --log_mode,
//   --log_metadata_headers, --inference_service, --namespace, --component. A logger or a batcher on a replica
//   whose command is not inferd model-server, or a batcher on a Python model (--python/--python_module), is
//   an InvalidArgument naming the component and the field (the service is not Ready with that reason). The implementation's command, workingDir and
//   readinessProbe (`model.command`, ...) replace the runtime container's, as KServe merges the two.
// - workingDir is the replica's cwd; readinessProbe.httpGet.path, periodSeconds, timeoutSeconds and
//   failureThreshold set the supervisor's probe; terminationGracePeriodSeconds its stop grace.
// - A runtime with workerSpec, or whose container uses envFrom or env valueFrom, cannot run as a local
//   process: InvalidArgument naming the runtime and the field (the service shows RuntimeNotRunnable).
// - Every replica's spec asks the supervisor why it is not ready from its repository index (POST
//   /v2/repository/index, open without the repository token), read by LoadFailureFromIndex.
#pragma once

#include <string>
#include <string_view>

#include "core/status.h"
#include "resources/resources.h"
#include "supervisor/supervisor.h"

namespace inferd::control {

struct ReplicaCommandInput {
  std::string isvc_name, ns, replica_name;
  const resources::ComponentSpec* spec = nullptr;
  const resources::Json* runtime = nullptr;  // null when the component has its own containers
  std::string model_path;                    // local model directory ("" when no storageUri)
  std::string inferd_bin;                    // this executable
  std::string uds_path;                      // non-empty: `inferd model-server` also serves REST there (--uds)
};

StatusOr<supervisor::ReplicaSpec> BuildReplicaSpec(const ReplicaCommandInput& in);

// A repository index (KServe V2: [{name, version, state, reason}]) as a replica answers it: the load failure
// of its first UNAVAILABLE model ("model NAME is unavailable" without a reason), or "" when none failed or the
// answer is not such a list (fields of the wrong type are skipped: what a replica answers is not trusted).
std::string LoadFailureFromIndex(std::string_view body);

// The GPUs (resources.limits["nvidia.com/gpu"]) one replica needs: the component's own container's when it
// says, else (a model on a runtime) the runtime's kserve-container's, as KServe merges the two; 0 = none.
int ReplicaGpus(const resources::ComponentSpec& spec, const resources::Json* runtime);

// Replaces {{.Name}}, {{.Namespace}}, {{.Labels.K}}, {{.Annotations.K}} and the /mnt/models prefix.
std::string ExpandTemplate(std::string_view text, const ReplicaCommandInput& in);

}  // namespace inferd::control
