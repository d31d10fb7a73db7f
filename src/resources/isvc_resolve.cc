// resources/isvc_resolve.cc: ResolvePredictor, spec.predictor -> ComponentSpec (see resources.h).
//
// Precedence: a field inside the implementation (`model:`, `sklearn:`, ...) wins over the same shared
// field at the predictor level (storageUri, protocolVersion, args, env). Without a storageUri, the first
// storageUris[] entry is used; a custom container may pass its model location as env STORAGE_URI.
#include <string>

#include "resources/internal.h"
#include "resources/resources.h"

namespace inferd::resources {
namespace {

using internal::ContainerFrom;
using internal::EnvList;
using internal::Field;
using internal::StringList;
using internal::VersionString;

int IntOr(const Json& obj, std::string_view key, int fallback) {
  const Json* v = Field(obj, key);
  return v && v->is_number_integer() ? v->get<int>() : fallback;
}

std::optional<int> OptInt(const Json& obj, std::string_view key) {
  const Json* v = Field(obj, key);
  if (v && v->is_number_integer()) return v->get<int>();
  return std::nullopt;
}

std::string StringOr(const Json* obj, std::string_view key, std::string fallback = "") {
  if (!obj) return fallback;
  const Json* v = Field(*obj, key);
  return v && v->is_string() ? v->get<std::string>() : fallback;
}

ComponentSpec::Logger ResolveLogger(const Json& lg) {
  ComponentSpec::Logger l;
  l.url = StringOr(&lg, "url");
  l.mode = StringOr(&lg, "mode", "all");
  l.metadata_headers = StringList(Field(lg, "metadataHeaders"));
  l.metadata_annotations = StringList(Field(lg, "metadataAnnotations"));
  return l;
}

void MergeStrings(const Json* from, std::map<std::string, std::string>* into) {
  if (!from || !from->is_object()) return;
  for (auto it = from->begin(); it != from->end(); ++it)
    if (it.value().is_string()) (*into)[it.key()] = it.value().get<std::string>();
}

StatusOr<ComponentSpec> Resolve(const Json& isvc) {
  RETURN_IF_ERROR(ValidateInferenceService(isvc));
  const Json& pred = *Field(*Field(isvc, "spec"), "predictor");
  ComponentSpec c;
  c.component = "predictor";

  const Json* impl = nullptr;
  std::string impl_name;
  for (const auto& name : internal::PredictorImplementations()) {
    if (const Json* v = Field(pred, name)) {
      impl = v;
      impl_name = name;
      break;
    }
  }

  // Shared, predictor-level values; the implementation's own override them below.
  c.storage_uri = StringOr(&pred, "storageUri");
  if (c.storage_uri.empty()) {
    if (const Json* uris = Field(pred, "storageUris"); uris && uris->is_array() && !uris->empty()) {
      const Json& first = uris->front();
      c.storage_uri = first.is_string() ? first.get<std::string>() : StringOr(&first, "uri");
    }
  }
  if (const Json* p = Field(pred, "protocolVersion")) {
    c.protocol_version = p->get<std::string>();
    c.protocol_explicit = true;
  }
  c.args = StringList(Field(pred, "args"));
  c.env = EnvList(Field(pred, "env"));

  if (impl) {
    if (impl_name == "model") {
      const Json& mf = *Field(*impl, "modelFormat");
      c.format = Field(mf, "name")->get<std::string>();
      if (const Json* v = Field(mf, "version")) c.format_version = VersionString(*v);
      c.runtime = StringOr(impl, "runtime");
    } else {
      c.format = impl_name;  // legacy shorthand: the format is its name (`pytorch` -> "pytorch")
      // runtimeVersion names an image tag in KServe, not a format version: it does not constrain selection.
      if ((impl_name == "triton" || impl_name == "huggingface") && !c.protocol_explicit) c.protocol_version = "v2";
    }
    if (const Json* v = Field(*impl, "storageUri")) c.storage_uri = v->get<std::string>();
    if (const Json* v = Field(*impl, "protocolVersion")) {
      c.protocol_version = v->get<std::string>();
      c.protocol_explicit = true;
    }
    if (const Json* v = Field(*impl, "args")) c.args = StringList(v);
    if (const Json* v = Field(*impl, "env")) c.env = EnvList(v);
    const ContainerSpec inline_container = internal::ContainerFrom(*impl);
    c.command = inline_container.command;
    c.working_dir = inline_container.working_dir;
    c.readiness = inline_container.readiness;
    c.gpus = GpuLimit(*impl);
    if (const Json* containers = Field(pred, "containers"); containers && containers->is_array()) {
      for (const auto& ct : *containers) c.collocated.push_back(internal::ContainerFrom(ct).name);
    }
  } else {
    const Json* containers = Field(pred, "containers");
    if (!containers || !containers->is_array() || containers->empty())
      return InvalidArgument("spec.predictor: exactly one of " + internal::PredictorImplementationList() +
                             " must be specified in PredictorSpec");
    for (const auto& ct : *containers) c.containers.push_back(ContainerFrom(ct));
    const ContainerSpec& first = c.containers.front();
    c.gpus = GpuLimit(containers->front());
    if (!first.args.empty()) c.args = first.args;
    if (!first.env.empty()) c.env = first.env;
    if (c.storage_uri.empty()) {
      for (const auto& e : first.env)
        if (e.name == "STORAGE_URI") c.storage_uri = e.value;
    }
  }

  c.termination_grace_seconds = OptInt(pred, "terminationGracePeriodSeconds");
  c.min_replicas = IntOr(pred, "minReplicas", 1);
  c.max_replicas = IntOr(pred, "maxReplicas", 0);
  c.container_concurrency = IntOr(pred, "containerConcurrency", 0);
  c.timeout_seconds = IntOr(pred, "timeout", 60);
  c.canary_traffic_percent = OptInt(pred, "canaryTrafficPercent");
  if (const Json* v = Field(pred, "scaleMetric"); v && v->is_string()) c.scale_metric = v->get<std::string>();
  c.scale_target = OptInt(pred, "scaleTarget");
  if (const Json* b = Field(pred, "batcher")) {
    ComponentSpec::Batcher batcher;
    batcher.max_batch_size = IntOr(*b, "maxBatchSize", 0);
    batcher.max_latency_ms = IntOr(*b, "maxLatency", 0);
    batcher.timeout_s = IntOr(*b, "timeout", 0);
    c.batcher = batcher;
  }
  if (const Json* lg = Field(pred, "logger")) c.logger = ResolveLogger(*lg);
  const Json* md = Field(isvc, "metadata");
  MergeStrings(md ? Field(*md, "labels") : nullptr, &c.labels);
  MergeStrings(Field(pred, "labels"), &c.labels);
  MergeStrings(md ? Field(*md, "annotations") : nullptr, &c.annotations);
  MergeStrings(Field(pred, "annotations"), &c.annotations);
  return c;
}

}  // namespace

StatusOr<ComponentSpec> ResolvePredictor(const Json& isvc) {
  try {
    return Resolve(isvc);
  } catch (const std::exception& e) {
    return InvalidArgument(std::string("spec.predictor: ") + e.what());
  } catch (...) {
    return InvalidArgument("spec.predictor: cannot be resolved");
  }
}

}  // namespace inferd::resources
