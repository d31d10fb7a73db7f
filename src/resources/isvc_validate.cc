// resources/isvc_validate.cc: ValidateInferenceService, KServe's webhook rules (see resources.h).
#include <string>

#include "resources/internal.h"
#include "resources/resources.h"

namespace inferd::resources {
namespace {

using internal::CheckContainer;
using internal::CheckDnsLabel;
using internal::CheckEnvList;
using internal::CheckInt;
using internal::CheckObject;
using internal::CheckProtocol;
using internal::CheckStorageUri;
using internal::CheckString;
using internal::CheckStringList;
using internal::CheckStringMap;
using internal::CheckVersionString;
using internal::Field;
using internal::Index;
using internal::Join;

Status CheckApiVersionKind(const Json& obj, std::string_view api_version, std::string_view kind) {
  const Json* av = Field(obj, "apiVersion");
  if (!av) return InvalidArgument("apiVersion: required (" + std::string(api_version) + ")");
  std::string s;
  RETURN_IF_ERROR(CheckString(*av, "apiVersion", &s));
  if (s != api_version)
    return InvalidArgument("apiVersion: must be " + std::string(api_version) + " for " + std::string(kind) +
                           ", got \"" + s + "\"");
  const Json* k = Field(obj, "kind");
  if (!k) return InvalidArgument("kind: required (" + std::string(kind) + ")");
  RETURN_IF_ERROR(CheckString(*k, "kind", &s));
  if (s != kind) return InvalidArgument("kind: must be " + std::string(kind) + ", got \"" + s + "\"");
  return Status::Ok();
}

Status CheckMetadata(const Json& obj) {
  const Json* md = Field(obj, "metadata");
  if (!md) return InvalidArgument("metadata: required (metadata.name names the InferenceService)");
  RETURN_IF_ERROR(CheckObject(*md, "metadata"));
  const Json* name = Field(*md, "name");
  if (!name) return InvalidArgument("metadata.name: required");
  RETURN_IF_ERROR(CheckDnsLabel(*name, "metadata.name"));
  if (const Json* ns = Field(*md, "namespace")) RETURN_IF_ERROR(CheckDnsLabel(*ns, "metadata.namespace"));
  if (const Json* l = Field(*md, "labels")) RETURN_IF_ERROR(CheckStringMap(*l, "metadata.labels"));
  if (const Json* a = Field(*md, "annotations")) RETURN_IF_ERROR(CheckStringMap(*a, "metadata.annotations"));
  return Status::Ok();
}

// Integer field `key` of `comp`, when present, must be >= min; `message` replaces the default text.
Status CheckIntAtLeast(const Json& comp, const std::string& path, std::string_view key, int min,
                       std::string_view message, int* out = nullptr, bool* present = nullptr) {
  const Json* v = Field(comp, key);
  if (present) *present = v != nullptr;
  if (!v) return Status::Ok();
  const std::string p = Join(path, key);
  int i = 0;
  RETURN_IF_ERROR(CheckInt(*v, p, &i));
  if (i < min) {
    if (!message.empty()) return InvalidArgument(p + ": " + std::string(message));
    return InvalidArgument(p + ": must be >= " + std::to_string(min) + ", got " + std::to_string(i));
  }
  if (out) *out = i;
  return Status::Ok();
}

// The ComponentExtensionSpec fields every component takes.
Status CheckComponentExtension(const Json& comp, const std::string& path) {
  int min = 1, max = 0;
  bool has_min = false, has_max = false;
  RETURN_IF_ERROR(CheckIntAtLeast(comp, path, "minReplicas", 0, "'MinReplicas' cannot be less than 0", &min, &has_min));
  RETURN_IF_ERROR(CheckIntAtLeast(comp, path, "maxReplicas", 0, "'MaxReplicas' cannot be less than 0", &max, &has_max));
  if (has_max && max != 0 && min > max)
    return InvalidArgument(Join(path, "minReplicas") + ": 'MinReplicas' cannot be greater than MaxReplicas (" +
                           std::to_string(min) + " > " + std::to_string(max) + ")");
  RETURN_IF_ERROR(CheckIntAtLeast(comp, path, "containerConcurrency", 0, "ContainerConcurrency cannot be less than 0"));
  RETURN_IF_ERROR(CheckIntAtLeast(comp, path, "timeout", 1, "must be greater than 0 (seconds)"));
  if (const Json* v = Field(comp, "canaryTrafficPercent")) {
    const std::string p = Join(path, "canaryTrafficPercent");
    int pct = 0;
    RETURN_IF_ERROR(CheckInt(*v, p, &pct));
    if (pct < 0 || pct > 100) return InvalidArgument(p + ": must be between 0 and 100, got " + std::to_string(pct));
  }
  if (const Json* v = Field(comp, "scaleMetric")) {
    const std::string p = Join(path, "scaleMetric");
    std::string m;
    RETURN_IF_ERROR(CheckString(*v, p, &m));
    if (m != "concurrency" && m != "rps" && m != "cpu" && m != "memory")
      return InvalidArgument(p + ": unsupported scale metric \"" + m + "\"; must be one of [concurrency, rps, cpu, memory]");
  }
  RETURN_IF_ERROR(CheckIntAtLeast(comp, path, "scaleTarget", 1, "must be greater than 0"));
  if (const Json* b = Field(comp, "batcher")) {
    const std::string p = Join(path, "batcher");
    RETURN_IF_ERROR(CheckObject(*b, p));
    RETURN_IF_ERROR(CheckIntAtLeast(*b, p, "maxBatchSize", 1, ""));
    RETURN_IF_ERROR(CheckIntAtLeast(*b, p, "maxLatency", 1, ""));
    RETURN_IF_ERROR(CheckIntAtLeast(*b, p, "timeout", 1, ""));
  }
  if (const Json* lg = Field(comp, "logger")) {
    const std::string p = Join(path, "logger");
    RETURN_IF_ERROR(CheckObject(*lg, p));
    if (const Json* u = Field(*lg, "url")) RETURN_IF_ERROR(CheckString(*u, Join(p, "url")));
    if (const Json* m = Field(*lg, "mode")) {
      std::string mode;
      RETURN_IF_ERROR(CheckString(*m, Join(p, "mode"), &mode));
      if (mode != "all" && mode != "request" && mode != "response")
        return InvalidArgument(Join(p, "mode") + ": invalid logger type \"" + mode + "\"; must be one of [all, request, response]");
    }
    if (const Json* h = Field(*lg, "metadataHeaders")) RETURN_IF_ERROR(CheckStringList(*h, Join(p, "metadataHeaders")));
  }
  if (const Json* l = Field(comp, "labels")) RETURN_IF_ERROR(CheckStringMap(*l, Join(path, "labels")));
  if (const Json* a = Field(comp, "annotations")) RETURN_IF_ERROR(CheckStringMap(*a, Join(path, "annotations")));
  return Status::Ok();
}

// Fields a container carries inline (PredictorExtensionSpec / the shared predictor fields).
Status CheckInlineContainerFields(const Json& obj, const std::string& path) {
  if (const Json* v = Field(obj, "storageUri")) RETURN_IF_ERROR(CheckStorageUri(*v, Join(path, "storageUri")));
  if (const Json* v = Field(obj, "protocolVersion")) RETURN_IF_ERROR(CheckProtocol(*v, Join(path, "protocolVersion")));
  if (const Json* v = Field(obj, "runtimeVersion")) RETURN_IF_ERROR(CheckVersionString(*v, Join(path, "runtimeVersion")));
  if (const Json* v = Field(obj, "image")) RETURN_IF_ERROR(CheckString(*v, Join(path, "image")));
  if (const Json* v = Field(obj, "command")) RETURN_IF_ERROR(CheckStringList(*v, Join(path, "command")));
  if (const Json* v = Field(obj, "args")) RETURN_IF_ERROR(CheckStringList(*v, Join(path, "args")));
  if (const Json* v = Field(obj, "env")) RETURN_IF_ERROR(CheckEnvList(*v, Join(path, "env")));
  return Status::Ok();
}

Status CheckImplementation(const Json& impl, const std::string& path, bool is_model) {
  RETURN_IF_ERROR(CheckObject(impl, path));
  RETURN_IF_ERROR(CheckInlineContainerFields(impl, path));
  if (!is_model) return Status::Ok();
  const std::string mf_path = Join(path, "modelFormat");
  const Json* mf = Field(impl, "modelFormat");
  if (!mf) return InvalidArgument(mf_path + ": required (modelFormat.name selects the runtime)");
  RETURN_IF_ERROR(CheckObject(*mf, mf_path));
  const Json* name = Field(*mf, "name");
  if (!name) return InvalidArgument(Join(mf_path, "name") + ": required");
  std::string n;
  RETURN_IF_ERROR(CheckString(*name, Join(mf_path, "name"), &n));
  if (n.empty()) return InvalidArgument(Join(mf_path, "name") + ": must not be empty");
  if (const Json* v = Field(*mf, "version")) RETURN_IF_ERROR(CheckVersionString(*v, Join(mf_path, "version")));
  if (const Json* rt = Field(impl, "runtime")) {
    std::string r;
    RETURN_IF_ERROR(CheckString(*rt, Join(path, "runtime"), &r));
    if (r.empty()) return InvalidArgument(Join(path, "runtime") + ": must not be empty (omit it to auto-select)");
  }
  return Status::Ok();
}

Status CheckContainers(const Json& v, const std::string& path, bool need_entrypoint) {
  if (!v.is_array()) return InvalidArgument(path + ": must be a list of containers");
  bool entrypoint = false;
  for (size_t i = 0; i < v.size(); ++i) {
    RETURN_IF_ERROR(CheckContainer(v[i], Index(path, i)));
    const Json* image = Field(v[i], "image");
    const Json* command = Field(v[i], "command");
    if ((image && !image->get<std::string>().empty()) || (command && !command->empty())) entrypoint = true;
  }
  if (need_entrypoint && !entrypoint)
    return InvalidArgument(path + ": at least one container must set an image or a command");
  return Status::Ok();
}

Status CheckStorageUris(const Json& v, const std::string& path) {
  if (!v.is_array()) return InvalidArgument(path + ": must be a list");
  for (size_t i = 0; i < v.size(); ++i) {
    const std::string p = Index(path, i);
    if (v[i].is_object()) {
      const Json* uri = Field(v[i], "uri");
      if (!uri) return InvalidArgument(Join(p, "uri") + ": required");
      RETURN_IF_ERROR(CheckStorageUri(*uri, Join(p, "uri")));
      if (const Json* mp = Field(v[i], "mountPath")) RETURN_IF_ERROR(CheckString(*mp, Join(p, "mountPath")));
    } else {
      RETURN_IF_ERROR(CheckStorageUri(v[i], p));
    }
  }
  return Status::Ok();
}

Status CheckPredictor(const Json& pred, const std::string& path) {
  RETURN_IF_ERROR(CheckObject(pred, path));
  int count = 0;
  for (const auto& impl : internal::PredictorImplementations())
    if (Field(pred, impl)) ++count;
  const Json* containers = Field(pred, "containers");
  if (containers) {
    RETURN_IF_ERROR(CheckContainers(*containers, Join(path, "containers"), false));
    if (!containers->empty()) ++count;
  }
  if (count != 1)
    return InvalidArgument(path + ": exactly one of " + internal::PredictorImplementationList() +
                           " must be specified in PredictorSpec");
  for (const auto& impl : internal::PredictorImplementations())
    if (const Json* v = Field(pred, impl)) RETURN_IF_ERROR(CheckImplementation(*v, Join(path, impl), impl == "model"));
  if (containers && !containers->empty())
    RETURN_IF_ERROR(CheckContainers(*containers, Join(path, "containers"), true));
  if (const Json* v = Field(pred, "name")) RETURN_IF_ERROR(CheckDnsLabel(*v, Join(path, "name")));
  if (const Json* v = Field(pred, "storageUris")) RETURN_IF_ERROR(CheckStorageUris(*v, Join(path, "storageUris")));
  RETURN_IF_ERROR(CheckInlineContainerFields(pred, path));
  return CheckComponentExtension(pred, path);
}

// Transformer: custom containers. Explainer: `art` or custom containers.
Status CheckAuxComponent(const Json& comp, const std::string& path, const std::vector<std::string>& impls,
                         std::string_view spec_name) {
  RETURN_IF_ERROR(CheckObject(comp, path));
  int count = 0;
  std::string list = "[";
  for (const auto& impl : impls) {
    list += impl + ", ";
    if (const Json* v = Field(comp, impl)) {
      RETURN_IF_ERROR(CheckObject(*v, Join(path, impl)));
      RETURN_IF_ERROR(CheckInlineContainerFields(*v, Join(path, impl)));
      ++count;
    }
  }
  list += "containers]";
  const Json* containers = Field(comp, "containers");
  if (containers) {
    RETURN_IF_ERROR(CheckContainers(*containers, Join(path, "containers"), false));
    if (!containers->empty()) ++count;
  }
  if (count != 1)
    return InvalidArgument(path + ": exactly one of " + list + " must be specified in " + std::string(spec_name));
  if (containers && !containers->empty())
    RETURN_IF_ERROR(CheckContainers(*containers, Join(path, "containers"), true));
  RETURN_IF_ERROR(CheckInlineContainerFields(comp, path));
  return CheckComponentExtension(comp, path);
}

Status ValidateIsvc(const Json& obj) {
  if (!obj.is_object()) return InvalidArgument("InferenceService: must be an object");
  RETURN_IF_ERROR(CheckApiVersionKind(obj, kIsvcApiVersion, "InferenceService"));
  RETURN_IF_ERROR(CheckMetadata(obj));
  const Json* spec = Field(obj, "spec");
  if (!spec) return InvalidArgument("spec: required");
  RETURN_IF_ERROR(CheckObject(*spec, "spec"));
  const Json* pred = Field(*spec, "predictor");
  if (!pred) return InvalidArgument("spec.predictor: required");
  RETURN_IF_ERROR(CheckPredictor(*pred, "spec.predictor"));
  if (const Json* t = Field(*spec, "transformer"))
    RETURN_IF_ERROR(CheckAuxComponent(*t, "spec.transformer", {}, "TransformerSpec"));
  if (const Json* e = Field(*spec, "explainer"))
    RETURN_IF_ERROR(CheckAuxComponent(*e, "spec.explainer", {"art"}, "ExplainerSpec"));
  return Status::Ok();
}

}  // namespace

Status ValidateInferenceService(const Json& obj) {
  try {
    return ValidateIsvc(obj);
  } catch (const std::exception& e) {
    return InvalidArgument(std::string("InferenceService: ") + e.what());
  } catch (...) {
    return InvalidArgument("InferenceService: invalid object");
  }
}

}  // namespace inferd::resources
