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

// The ComponentExtensionSpec fields and the pod-level ones every component has; labels/annotations are the
// isvc's overlaid by the component's.
void ResolveExtension(const Json& isvc, const Json& comp, ComponentSpec& c) {
  c.termination_grace_seconds = OptInt(comp, "terminationGracePeriodSeconds");
  c.min_replicas = IntOr(comp, "minReplicas", 1);
  c.max_replicas = IntOr(comp, "maxReplicas", 0);
  c.container_concurrency = IntOr(comp, "containerConcurrency", 0);
  c.timeout_seconds = IntOr(comp, "timeout", 60);
  c.canary_traffic_percent = OptInt(comp, "canaryTrafficPercent");
  if (const Json* v = Field(comp, "scaleMetric"); v && v->is_string()) c.scale_metric = v->get<std::string>();
  c.scale_target = OptInt(comp, "scaleTarget");
  if (const Json* b = Field(comp, "batcher")) {
    ComponentSpec::Batcher batcher;
    batcher.max_batch_size = IntOr(*b, "maxBatchSize", 0);
    batcher.max_latency_ms = IntOr(*b, "maxLatency", 0);
    batcher.timeout_s = IntOr(*b, "timeout", 0);
    c.batcher = batcher;
  }
  if (const Json* lg = Field(comp, "logger")) c.logger = ResolveLogger(*lg);
  const Json* md = Field(isvc, "metadata");
  MergeStrings(md ? Field(*md, "labels") : nullptr, &c.labels);
  MergeStrings(Field(comp, "labels"), &c.labels);
  MergeStrings(md ? Field(*md, "annotations") : nullptr, &c.annotations);
  MergeStrings(Field(comp, "annotations"), &c.annotations);
}

// A component given as custom containers (the transformer, a custom explainer): containers[0] is the one
// run; its args and env are the component's.
void ResolveContainers(const Json& containers, ComponentSpec& c) {
  for (const auto& ct : containers) c.containers.push_back(ContainerFrom(ct));
  const ContainerSpec& first = c.containers.front();
  c.gpus = GpuLimit(containers.front());
  c.args = first.args;
  c.env = first.env;
  for (const auto& e : first.env)
    if (e.name == "STORAGE_URI" && c.storage_uri.empty()) c.storage_uri = e.value;
}

// spec.transformer / spec.explainer (validated with the whole object first).
StatusOr<ComponentSpec> ResolveOther(const Json& isvc, std::string_view component) {
  RETURN_IF_ERROR(ValidateInferenceService(isvc));
  const Json* comp = Field(*Field(isvc, "spec"), component);
  if (!comp) return NotFound("spec." + std::string(component) + ": not given");
  ComponentSpec c;
  c.component = std::string(component);
  if (const Json* art = Field(*comp, "art")) {
    c.art_type = Field(*art, "type")->get<std::string>();
    if (const Json* cfg = Field(*art, "config"); cfg && cfg->is_object()) {
      for (auto it = cfg->begin(); it != cfg->end(); ++it)
        if (it.value().is_string()) c.art_config[it.key()] = it.value().get<std::string>();
    }
    c.storage_uri = StringOr(art, "storageUri");
    c.args = StringList(Field(*art, "args"));
    c.env = EnvList(Field(*art, "env"));
    const ContainerSpec inline_container = internal::ContainerFrom(*art);
    c.command = inline_container.command;
    c.working_dir = inline_container.working_dir;
    c.readiness = inline_container.readiness;
    c.gpus = GpuLimit(*art);
  } else {
    ResolveContainers(*Field(*comp, "containers"), c);
  }
  if (c.storage_uri.empty()) {  // storageUris: the first entry, as for the predictor
    if (const Json* uris = Field(*comp, "storageUris"); uris && uris->is_array() && !uris->empty()) {
      const Json& first = uris->front();
      c.storage_uri = first.is_string() ? first.get<std::string>() : StringOr(&first, "uri");
    }
  }
  ResolveExtension(isvc, *comp, c);
  return c;
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
      for (const auto& ct : *containers) {
        ContainerSpec cs = internal::ContainerFrom(ct);
        c.collocated.push_back(cs.name);
        if (cs.name == "transformer-container" && !c.collocated_transformer) c.collocated_transformer = std::move(cs);
      }
    }
  } else {
    const Json* containers = Field(pred, "containers");
    if (!containers || !containers->is_array() || containers->empty())
      return InvalidArgument("spec.predictor: exactly one of " + internal::PredictorImplementationList() +
                             " must be specified in PredictorSpec");
    for (const auto& ct : *containers) c.containers.push_back(ContainerFrom(ct));
    // containers[0] runs; the others are collocated with it (KServe's collocation form without `model:`: a
    // kserve-container and a transformer-container), never silently left out.
    for (size_t i = 1; i < c.containers.size(); ++i) {
      c.collocated.push_back(c.containers[i].name);
      if (c.containers[i].name == "transformer-container" && !c.collocated_transformer) {
        c.collocated_transformer = c.containers[i];
      }
    }
    const ContainerSpec& first = c.containers.front();
    c.gpus = GpuLimit(containers->front());
    if (!first.args.empty()) c.args = first.args;
    if (!first.env.empty()) c.env = first.env;
    if (c.storage_uri.empty()) {
      for (const auto& e : first.env)
        if (e.name == "STORAGE_URI") c.storage_uri = e.value;
    }
  }

  ResolveExtension(isvc, pred, c);
  if (impl) {
    c.multi_model = c.storage_uri.empty() && !Field(*impl, "storage") && c.format != "huggingface";
    if (const Json* res = Field(*impl, "resources")) {
      const Json* limits = Field(*res, "limits");
      const Json* mem = limits ? Field(*limits, "memory") : nullptr;
      if (mem && (mem->is_string() || mem->is_number())) {
        c.memory_limit_bytes = ParseMemoryQuantity(mem->is_string() ? mem->get<std::string>() : mem->dump());
      }
    }
  }
  return c;
}

}  // namespace

StatusOr<ComponentSpec> ResolveComponent(const Json& isvc, std::string_view component) {
  if (component == "predictor") return ResolvePredictor(isvc);
  if (component != "transformer" && component != "explainer")
    return InvalidArgument("unknown component '" + std::string(component) + "'");
  try {
    return ResolveOther(isvc, component);
  } catch (const std::exception& e) {
    return InvalidArgument("spec." + std::string(component) + ": " + e.what());
  } catch (...) {
    return InvalidArgument("spec." + std::string(component) + ": cannot be resolved");
  }
}

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
