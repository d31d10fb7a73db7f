// resources/resources.h: KServe's resources as inferd reads them: YAML -> JSON objects, validation with
// KServe's rules and messages, defaults, the predictor's resolved form, runtime selection, merge patch.
//
// Contract:
// - Pure functions over nlohmann::ordered_json values (key order kept so objects read back the way users
//   wrote them). No I/O, no globals beyond the built-in runtime list; safe from any thread.
// - Objects are Kubernetes-shaped: {apiVersion, kind, metadata{name, namespace, labels, annotations,...},
//   spec, status}. Errors are InvalidArgument values whose message starts with the field path
//   ("spec.predictor.minReplicas: ..."); YAML errors name the source and line ("sklearn.yaml:12: ...").
// - nlohmann::json is used here, on the control plane only (not the request path), for its convenient
//   value semantics; the data path keeps simdjson.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/status.h"

namespace inferd::resources {

using Json = nlohmann::ordered_json;

inline constexpr std::string_view kServingGroup = "serving.kserve.io";
inline constexpr std::string_view kIsvcApiVersion = "serving.kserve.io/v1beta1";
inline constexpr std::string_view kRuntimeApiVersion = "serving.kserve.io/v1alpha1";

// ---- YAML -------------------------------------------------------------------------------------------
// Every document of a (multi-document) YAML stream, as JSON. Plain scalars become bool/int/float/null the
// way YAML 1.2's core schema reads them ("true", "10", "1.5", "null", "~"); quoted scalars stay strings.
// Empty documents are skipped. Errors: InvalidArgument "<source>:<line>: <what>".
StatusOr<std::vector<Json>> ParseYamlDocuments(std::string_view text, std::string_view source = "<stdin>");
// JSON -> YAML text (for `inferd get -o yaml`).
std::string ToYaml(const Json& value);

// ---- generic object helpers ---------------------------------------------------------------------------
// DNS-1123 label (lowercase alphanumerics and '-', starts and ends alphanumeric, at most 63 chars).
bool IsDns1123Label(std::string_view name);
// Kubernetes resource quantities: "500m" / "2" / "1.5" CPUs; "512Mi", "2Gi", "1G", "1e9", "100k" bytes.
// nullopt for anything else (negative, not finite, unknown suffix).
std::optional<double> ParseCpuQuantity(std::string_view q);
std::optional<double> ParseMemoryQuantity(std::string_view q);
// The GPU resource inferd serve allocates (an extended resource: whole devices, requests == limits).
inline constexpr std::string_view kGpuResource = "nvidia.com/gpu";
// resources.limits["nvidia.com/gpu"] of a container (or an implementation: a container's fields inline), as
// validated (a whole number); nullopt when absent or not a whole number.
std::optional<int> GpuLimit(const Json& container);
// inferd's annotation `inferd.io/processes` (on the InferenceService or a component): how many processes a
// predictor replica that runs Python in `inferd model-server` serves as (`--processes`; docs/pipeline.md#processes).
// Its value: a whole number 1..64 (the model server's limit), else InvalidArgument naming the annotation.
inline constexpr char kProcessesAnnotation[] = "inferd.io/processes";
StatusOr<int> ParseProcessesAnnotation(std::string_view value);
// RFC 7386 JSON merge patch: returns `target` with `patch` applied (null deletes a key).
Json MergePatch(Json target, const Json& patch);

// ---- InferenceService ---------------------------------------------------------------------------------
// The predictor implementations KServe knows, in the order of its messages: model, sklearn, xgboost,
// tensorflow, pytorch, triton, onnx, pmml, lightgbm, paddle, huggingface.
const std::vector<std::string>& PredictorImplementations();

// Validates an InferenceService object as KServe's webhook does: apiVersion/kind, metadata.name
// (DNS-1123 label), metadata.namespace when present, spec.predictor present with exactly one
// implementation ("spec.predictor: exactly one of [model, sklearn, xgboost, ...] must be specified in
// PredictorSpec"; `containers` beside a model count only when one is named kserve-container, else they are
// KServe's collocation form, valid, and a transformer-container must not set STORAGE_URI), minReplicas >= 0,
// maxReplicas >= 0, min <= max unless max == 0 ("'MinReplicas' cannot be greater than MaxReplicas"),
// protocolVersion in {v1, v2, grpc-v1, grpc-v2}, canaryTrafficPercent in [0,100], containerConcurrency >= 0,
// timeout > 0, scaleMetric in {concurrency, rps, cpu, memory}, storageUri scheme known (file://, local path,
// http(s)://, s3://, gs://, pvc://), storageUris as KServe (not with storageUri; mountPath absolute, no ".."),
// modelFormat.name set for `model:`, a `containers` predictor has at least one container with a command or
// image. Also: metadata.labels/annotations and component labels/annotations are string maps,
// serving.kserve.io/deploymentMode and autoscalerClass values, scaleTarget >= 1, batcher maxBatchSize and
// maxLatency >= 1, logger mode all|request|response and url an http(s) sink (logger/sink_url.h),
// autoScaling (one Resource metric, cpu or memory, Utilization 1..100 or AverageValue), readinessProbe
// (httpGet.path visible ASCII), container command/args/env values are strings.
// spec.transformer: custom containers (at least one with a command or image) and the component extension
// fields; spec.explainer: exactly one of `art` (type SquareAttack, config a string map, the inline container
// fields) or `containers` ("spec.explainer: exactly one of [art, containers] must be specified in
// ExplainerSpec"), and the extension fields.
// Refused as not supported yet, the message starting with the field's path and "not supported yet: "
// (docs/kserve-fields.md lists them all): spec.canary, batcher.timeout,
// logger.storage/marshallerUrl/batchSize/batchInterval, workerSpec,
// volumes, volumeMounts, volumeDevices, initContainers, ephemeralContainers, envFrom, env[].valueFrom,
// storage, confidential, several storageUris, External/PodMetric metrics and autoScaling.behavior,
// deploymentMode ModelMesh, serving.kserve.io/stop "true".
// Storage URI schemes other than the ones above (hdfs://, hf://, oci://, ...) are rejected as unsupported here.
Status ValidateInferenceService(const Json& obj);

// One component (predictor only in this issue) in its resolved, framework-neutral form.
struct EnvVar {
  std::string name, value;
};
// A container's readinessProbe as inferd runs it: an HTTP GET on the replica's port (other handlers, exec,
// tcpSocket and grpc, keep the default path; see docs/kserve-fields.md).
struct ProbeSpec {
  std::string path;  // httpGet.path ("" = the default /v2/health/ready)
  int period_seconds = 0, timeout_seconds = 0, failure_threshold = 0;  // 0 = inferd's default
};
struct ContainerSpec {  // a custom container / a runtime's container
  std::string name, image;
  std::vector<std::string> command, args;
  std::vector<EnvVar> env;
  std::string working_dir;
  std::optional<ProbeSpec> readiness;
};
// A container object (validated or not: fields of the wrong type are skipped) in its resolved form.
ContainerSpec ParseContainer(const Json& container);
struct ComponentSpec {
  std::string component = "predictor";  // predictor|transformer|explainer
  // `model:` or a legacy shorthand: format and the runtime request.
  std::string format;          // "sklearn", "xgboost", ... (empty for custom containers)
  std::string format_version;  // empty = any
  std::string runtime;         // explicit `runtime:` (empty = auto-select)
  std::string storage_uri;     // empty when none
  std::string protocol_version = "v1";  // v1|v2|grpc-v1|grpc-v2 (default v1, as KServe)
  bool protocol_explicit = false;       // protocolVersion was written by the user
  std::vector<std::string> command;     // the implementation's command: replaces the runtime container's
  std::vector<std::string> args;        // extra args appended to the runtime's
  std::vector<EnvVar> env;
  std::string working_dir;              // the implementation's workingDir: replaces the runtime container's
  std::optional<ProbeSpec> readiness;   // the implementation's readinessProbe: replaces the runtime container's
  std::optional<int> termination_grace_seconds;  // terminationGracePeriodSeconds
  // resources.limits["nvidia.com/gpu"] of the container inferd runs (the implementation, or containers[0]);
  // unset: not given there (a runtime's container may ask for GPUs).
  std::optional<int> gpus;
  // Containers beside the one inferd runs (KServe's collocation: beside a model implementation, or after
  // containers[0] in the containers form), by name; the one named transformer-container in its resolved form
  // (the control plane runs it in-process when its command is Python, else reports why not).
  std::vector<std::string> collocated;
  std::optional<ContainerSpec> collocated_transformer;
  // spec.explainer.art: the ART explainer type (SquareAttack) and its config, keys sorted ("" = not art).
  std::string art_type;
  std::map<std::string, std::string> art_config;
  std::vector<ContainerSpec> containers;  // custom containers (predictor.containers)
  int min_replicas = 1;
  int max_replicas = 0;  // 0 = unbounded
  int container_concurrency = 0;
  int timeout_seconds = 60;  // KServe's default component timeout is not set; we use 60 s (documented)
  std::optional<int> canary_traffic_percent;
  std::optional<std::string> scale_metric;
  std::optional<int> scale_target;
  struct Batcher {
    int max_batch_size = 0, max_latency_ms = 0, timeout_s = 0;
  };
  std::optional<Batcher> batcher;
  // `logger` (validated: mode all|request|response, default all; url an http(s) sink or empty for KServe's default).
  struct Logger {
    std::string url;  // empty: KServe's default http://default-broker
    std::string mode = "all";
    std::vector<std::string> metadata_headers;
    std::vector<std::string> metadata_annotations;  // annotation keys whose values go into Ce-Annotations
  };
  std::optional<Logger> logger;
  std::map<std::string, std::string> labels, annotations;  // component's own plus the isvc's
  // Multi-model serving (TrainedModels, KServe's IsMMSPredictor): a predictor of a model format (not custom
  // containers, not huggingface) without storageUri, storageUris or a storage spec. Its replicas serve a model
  // repository that inferd serve fills with the service's TrainedModels.
  bool multi_model = false;
  // resources.limits.memory of the implementation (bytes; nullopt: none given): a multi-model replica's memory
  // budget, and what KServe compares the TrainedModels' spec.model.memory against.
  std::optional<double> memory_limit_bytes;
};

// Resolves spec.predictor of an InferenceService (validated again here: its errors are returned as is).
// Legacy shorthands (`predictor.sklearn` etc.) become format = the shorthand's name; `triton` and
// `huggingface` default to protocol v2 (as KServe's TritonSpec/HuggingFaceRuntimeSpec), the others to v1. storageUri,
// protocolVersion, args and env inside the implementation win over the same shared predictor-level fields;
// without any storageUri the first storageUris[] entry is used. Custom containers: `containers` holds them
// all, args/env are the first container's, and its env STORAGE_URI is the storage URI when none is set.
// labels/annotations are the isvc's metadata ones overlaid by the predictor's. Batcher fields absent = 0.
StatusOr<ComponentSpec> ResolvePredictor(const Json& isvc);
// ResolvePredictor for "predictor"; for "transformer" and "explainer" spec.<component> (NotFound when the
// spec has none): custom containers (containers[0] runs; its args and env are the component's, env
// STORAGE_URI its storage URI) or, for the explainer, `art` (art_type, art_config, storageUri, the inline
// container fields); the extension fields and labels/annotations as for the predictor.
StatusOr<ComponentSpec> ResolveComponent(const Json& isvc, std::string_view component);

// ---- InferenceGraph / TrainedModel (serving.kserve.io/v1alpha1) -----------------------------------------
// Validates an InferenceGraph as KServe's CRD and webhook do: metadata.name matches
// [a-z]([-a-z0-9]*[a-z0-9])?, spec.nodes is a map with a `root` node, every node has a routerType
// (Sequence|Splitter|Ensemble|Switch), step names are unique within a node, each step names exactly one of
// nodeName/serviceName/serviceUrl, a Splitter's steps all have a weight and the weights sum to 100, dependency
// Soft|Hard, scaleMetric cpu|memory|concurrency|rps. Messages start with the field path and carry KServe's text.
Status ValidateInferenceGraph(const Json& obj);
// Validates a TrainedModel: name [a-zA-Z0-9_-]+, spec.inferenceService and spec.model{storageUri, framework,
// memory} required, memory a quantity, storageUri starting with s3://, gs://, https:// or http:// (KServe's
// agent), and (on an update, `old` set) spec.model.memory unchanged.
Status ValidateTrainedModel(const Json& obj, const Json* old);

// ---- ServingRuntime / ClusterServingRuntime ----------------------------------------------------------
// Validates a ServingRuntime (cluster_scoped=false) or ClusterServingRuntime object: name, at least one
// container, supportedModelFormats[].name set, priority >= 1 (with or without autoSelect, as KServe; the
// auto-selectable entries of one format agree on it), known protocolVersions. Everything else KServe accepts
// is accepted (what a local process cannot honour is reported on the services using the runtime).
Status ValidateServingRuntime(const Json& obj, bool cluster_scoped);

// inferd's built-in ClusterServingRuntimes, in this order: kserve-sklearnserver (sklearn, version "1"),
// kserve-xgbserver (xgboost), kserve-lgbserver (lightgbm), kserve-torchserve (pytorch: TorchScript),
// kserve-onnxserver (onnx), kserve-pythonserver (python and custom: a Python model class in model.py),
// kserve-tritonserver (triton, version "2": `--model_repository=/mnt/models`, protocols v2 and grpc-v2 only).
// Each is a full ClusterServingRuntime object (autoSelect, priority 1, protocolVersions v1, v2, grpc-v2)
// whose container `kserve-container` (image "inferd", informational) runs `inferd model-server` with
// KServe-style args (`--model_name={{.Name}}`, `--model_dir=/mnt/models`, `--http_port=8080`; the python
// one `--python=/mnt/models/model.py` instead of --model_dir). The control plane substitutes the template
// variables, the model path and the ports (see control/).
std::vector<Json> BuiltinClusterServingRuntimes();

struct RuntimeChoice {
  std::string name;
  bool cluster_scoped = false;
  Json runtime;  // the whole (Cluster)ServingRuntime object
};
// KServe's selection: when `spec.runtime` is set, that runtime (namespace ServingRuntime first, then
// ClusterServingRuntime) if it exists, is not disabled and supports the format and protocol (autoSelect does
// not matter then); else InvalidArgument whose message starts with the reason KServe reports:
// "RuntimeNotRecognized: " (no such runtime), "RuntimeDisabled: ", or "NoSupportingRuntime: ... does not
// support ...". Otherwise among enabled single-model (multiModel != true) runtimes with a matching
// supportedModelFormats entry with autoSelect (name equal; when both the model and the entry give a version,
// the major versions are equal: "1" matches "1.2") and whose protocolVersions include the requested protocol
// (a runtime listing none speaks v1 only), the highest priority wins (an entry without priority ranks below
// any with one); namespace runtimes before cluster runtimes on ties, then list order. No match (or no
// format, e.g. custom containers): NotFound whose message starts with "NoSupportingRuntime: ".
// A multi-model predictor (spec.multi_model) auto-selects, as KServe, among runtimes with `multiModel: true`;
// when none matches, among the single-model ones as above (inferd's model server serves any of its formats as a
// repository, so its built-in runtimes all run multi-model).
StatusOr<RuntimeChoice> SelectRuntime(const ComponentSpec& spec, const std::vector<Json>& namespace_runtimes,
                                      const std::vector<Json>& cluster_runtimes);

}  // namespace inferd::resources
