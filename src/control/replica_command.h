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
//   lgbserver, predictiveserver, nvidia/tritonserver, pytorch/torchserve-kfs and pytorch/torchserve (KServe's
//   collocation sample) with their arguments as they are; seldonio/mlserver, configured by environment, with
//   --model_name={{.Name}} --model_dir=/mnt/models added) run as `inferd model-server`, so a ClusterServingRuntime copied from KServe works unchanged. inferd's own
//   image (last path segment `inferd`, any registry, tag or digest; entrypoint `inferd`) without `command` runs
//   this binary with the container's args, as Kubernetes runs the image's entrypoint (config/runtimes: args
//   `model-server ...`). An image the `images:` section of `inferd serve --config` maps (control/local_images.h)
//   runs its local command instead, whatever the image (the user's mapping wins over the built-in ones); the
//   container's args replace the mapping's, its workingDir and env win over the mapping's.
//   TF Serving's server (a command whose program is `tensorflow_model_server`, as KServe's
//   kserve-tensorflow-serving runs it in the tensorflow/serving image) runs as `inferd model-server`, which serves
//   TF Serving's REST and gRPC APIs: its flags (the command's own, the container's args, then the component's) are
//   mapped (--model_name, --model_base_path -> --model_dir, --port -> --grpc_port, --rest_api_port -> --http_port,
//   --rest_api_timeout_in_ms, --rest_api_num_threads -> --workers, --tensorflow_intra_op_parallelism ->
//   --intra_op_threads; `--f=v`, `--f v` and `-f` forms) and any other argument is an InvalidArgument naming it
//   (the service is not Ready: RuntimeNotRunnable), as is --rest_api_port=0 (REST off).
//   Any other container without `command` cannot run without Kubernetes:
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
// - Components (spec->component): a transformer's or explainer's container gets KServe's appended flags,
//   each unless already in its args (`--model_name <isvc> --predictor_host <predictor_host> [--workers N]` with
//   containerConcurrency; `--http_port <port>` for a command that is not `inferd model-server`), and env
//   INFERENCE_SERVICE_NAME=<isvc>, INFERD_GATEWAY / INFERD_GATEWAY_GRPC (gateway_http / gateway_grpc, when set:
//   how src/pipeline/predictor_client reaches predictor_host under `inferd serve`). An `art` explainer runs
//   `inferd art-explainer --model_name <isvc> --http_port 0 --predictor_host <host> [--workers N]
//   [--storage_uri <model dir>] --adversary_type <type> --<key> <value>...` (config keys sorted), then its args;
//   it is the model server serving one explainer, so it gets the model server's ports, host and --uds too.
// - Python: a transformer's or explainer's container whose command is `python`/`python3`/`python3.N` (any
//   path) with `-m module` or `file.py` runs as `inferd model-server --python=file.py` (or
//   `--python_module=module`), the rest of its command line (appended flags included) as repeated
//   `--python_arg=<arg>` (the embedded interpreter serves what the script registers; never a bare python3
//   process). A predictor's own Python container runs as written (KServe's custom-model contract).
// - In-process transformer (`in_process`, a predictor only): the predictor's `inferd model-server` also runs
//   that Python command (its flags added as above); a predictor that does not run `inferd model-server`:
//   InvalidArgument saying so.
// - Processes (docs/pipeline.md#processes-under-inferd-serve): a predictor replica whose `inferd model-server` runs
//   Python (an in-process or collocated transformer, or --python/--python_module in its own args) and serves one
//   model (not multi-model, no --model_repository/--model-store) gets `--processes N`, so that each front-end
//   thread has its own interpreter and GIL (cli/worker_processes.h). N: the annotation `inferd.io/processes`
//   (1..64; another value is an InvalidArgument naming it; refused at apply on the InferenceService), else
//   KServe's `--workers N` (its Python server's process count) in the model server's args, else in the Python
//   program's (a transformer's containerConcurrency puts it there), at most 64, else the CPUs this process may
//   run on (`cores`, 0 = sched_getaffinity) up to kDefaultProcessesCap. N > 1 drops --uds (only the first
//   process would serve the socket; over TCP SO_REUSEPORT spreads the gateway's connections over all of them)
//   and --workers (one thread per process). A `--processes` already in the args is kept as written (an
//   annotation that disagrees with it: InvalidArgument). Native-only replicas, transformers and explainers of
//   their own, and a predictor's own Python container (which runs as written) are unchanged.
// - Every replica's spec asks the supervisor why it is not ready from its repository index (POST
//   /v2/repository/index, open without the repository token), read by LoadFailureFromIndex.
// - Multi-model predictor (spec->multi_model; KServe's IsMMSPredictor): /mnt/models is `model_repository`, and an
//   `inferd model-server` replica loses --model_name/--model_dir/--model_format and gets
//   --model_repository=<model_repository> (unless a repository flag is there), --memory_budget=<bytes> when the
//   predictor has resources.limits.memory, readiness on /v2/health/live (it is ready to load TrainedModels once
//   it listens; the reconciler loads them before routing to it) and no load-failure probe (a TrainedModel that
//   fails to load is that TrainedModel's status, not the replica's).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "control/local_images.h"
#include "core/status.h"
#include "resources/resources.h"
#include "supervisor/supervisor.h"

namespace inferd::control {

// A container command line that runs a Python program (see the contract).
struct PythonCommand {
  std::string script;   // `python file.py` ("" with a module)
  std::string module;   // `python -m module` ("" with a script)
  std::vector<std::string> args;  // what follows on the command line
  std::string working_dir;        // its container's workingDir ("" = none): an in-process one finds its code there
};
// `command` then `args` as one command line; nullopt when it is not a Python interpreter running a module or
// a .py file (interpreter options before it, such as -u, are skipped).
std::optional<PythonCommand> ParsePythonCommand(const std::vector<std::string>& command,
                                                const std::vector<std::string>& args);
// The `inferd model-server` flags that run it: --python=F or --python_module=M, then --python_arg=A per arg.
std::vector<std::string> PythonModelServerFlags(const PythonCommand& py);

struct ReplicaCommandInput {
  std::string isvc_name, ns, replica_name;
  const resources::ComponentSpec* spec = nullptr;
  const resources::Json* runtime = nullptr;  // null when the component has its own containers
  std::string model_path;                    // local model directory ("" when no storageUri)
  // A multi-model predictor (spec->multi_model): the service's TrainedModel repository, which `inferd
  // model-server` serves (--model_repository, for /mnt/models too) with --memory_budget from the memory limit.
  std::string model_repository;
  std::string inferd_bin;                    // this executable
  std::string kserve_stub_dir;               // control/kserve_stub.h ("" = none)
  std::string uds_path;                      // non-empty: `inferd model-server` also serves REST there (--uds)
  const LocalImages* images = nullptr;       // what images without a command run here (null: none mapped)
  // Transformer and explainer (and an in-process transformer): where the predictor is, and the gateway.
  std::string predictor_host;                // <isvc>-predictor.<ns>
  std::string gateway_http, gateway_grpc;    // "127.0.0.1:<port>" ("" = not set)
  std::optional<PythonCommand> in_process;   // a predictor's in-process transformer (flags already appended)
  int cores = 0;  // CPUs a Python replica's default process count is taken from (0 = sched_getaffinity)
};

// KServe's flags for a transformer or explainer container, appended to `args` unless already there
// (CustomTransformer.GetContainer): --model_name, --predictor_host, --workers with containerConcurrency.
void AppendComponentFlags(const ReplicaCommandInput& in, std::vector<std::string>& args);

// Processes a Python-running predictor replica serves as by default: the available CPUs up to this (each process
// holds its own copy of the model and interpreter), and at most (the model server's --processes limit).
inline constexpr int kDefaultProcessesCap = 4;
inline constexpr int kMaxProcesses = 64;

StatusOr<supervisor::ReplicaSpec> BuildReplicaSpec(const ReplicaCommandInput& in);
// Whether the replica serves REST on a Unix socket too (its argv has --uds; a multi-process one does not).
bool ServesUds(const supervisor::ReplicaSpec& r);

// A transformer that runs inside the predictor's replicas (one `inferd model-server` with the native model
// and the script): inferd's annotation `inferd.io/transformer: in-process` with spec.transformer (KServe's
// appended flags added to its command, as for a separate transformer), or KServe's collocation form (a
// `transformer-container` beside the model in spec.predictor.containers; its args as written: KServe appends
// none). Pure: decided from the InferenceService object and the `images:` mapping (a container naming only an
// image runs what the mapping says; its workingDir goes on the replica's PYTHONPATH).
struct InProcessPlan {
  std::optional<PythonCommand> command;  // the transformer's Python command line (none: no in-process transformer)
  bool from_annotation = false;  // spec.transformer runs in-process, so it is not a component of its own
  resources::Json template_json;  // what the predictor's revision template includes for it
  // It cannot run in-process: the predictor's not-Ready reason and message ("" = nothing wrong). Also other
  // containers collocated with the model, which a local process cannot run beside it.
  std::string reason, error;
};
inline constexpr char kTransformerAnnotation[] = "inferd.io/transformer";
InProcessPlan PlanInProcess(const resources::Json& isvc, const LocalImages* images = nullptr);

// `c` with what its image runs here when it names no command (control/local_images.h: `images:` of `inferd
// serve --config`): command, args when it has none, workingDir when it has none, and the image's env before its
// own. Unchanged when the image is not mapped or `c` has a command.
resources::ContainerSpec WithLocalImage(resources::ContainerSpec c, const LocalImages* images);

// A repository index (KServe V2: [{name, version, state, reason}]) as a replica answers it: the load failure
// of its first UNAVAILABLE model ("model NAME is unavailable" without a reason), or "" when none failed or the
// answer is not such a list (fields of the wrong type are skipped: what a replica answers is not trusted).
std::string LoadFailureFromIndex(std::string_view body);

// The GPUs (resources.limits["nvidia.com/gpu"]) one replica needs: the component's own container's when it
// says, else (a model on a runtime) the runtime's kserve-container's, as KServe merges the two; 0 = none.
int ReplicaGpus(const resources::ComponentSpec& spec, const resources::Json* runtime);

// inferd's own image (docker/Dockerfile: ENTRYPOINT ["inferd"]), named with or without registry, tag or digest
// ("inferd", "inferd:0.1.0", "registry.example.com/team/inferd@sha256:..."): a container of it without `command`
// runs its entrypoint, this binary, with the container's args (config/runtimes: `model-server ...`).
bool IsInferdImage(std::string_view image);

// `inferd model-server`'s flags for a component's batcher (KServe's maxBatchSize, maxLatency in ms):
// `--max_batch_size=N --max_latency=µs`, 32 rows and 500 ms when a field is absent. `inferd serve` and
// `inferd operator` both pass these.
std::vector<std::string> BatcherFlags(const resources::ComponentSpec::Batcher& batcher);

// Replaces {{.Name}}, {{.Namespace}}, {{.Labels.K}}, {{.Annotations.K}} and the /mnt/models prefix.
std::string ExpandTemplate(std::string_view text, const ReplicaCommandInput& in);

}  // namespace inferd::control
