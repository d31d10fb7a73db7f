// resources/isvc_validate.cc: ValidateInferenceService, KServe's webhook rules (see resources.h).
#include <charconv>
#include <optional>
#include <string>

#include "logger/sink_url.h"
#include "resources/internal.h"
#include "resources/resources.h"
#include "resources/secrets.h"

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

// A KServe field inferd cannot honour yet: refused at apply, naming the field (nothing silently ignored).
Status NotSupportedYet(const std::string& path, std::string_view why) {
  return InvalidArgument(path + ": not supported yet: " + std::string(why));
}

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

// The serving.kserve.io/* annotations whose values inferd acts on (docs/kserve-fields.md has them all).
Status CheckKServeAnnotations(const Json& annotations) {
  auto value = [&](const char* key) -> std::optional<std::string> {
    const Json* v = Field(annotations, key);
    if (!v || !v->is_string()) return std::nullopt;
    return v->get<std::string>();
  };
  const std::string prefix = "metadata.annotations[";
  if (auto mode = value("serving.kserve.io/deploymentMode")) {
    const std::string p = prefix + "serving.kserve.io/deploymentMode]";
    if (*mode == "ModelMesh")
      return NotSupportedYet(p, "ModelMesh (multi-model serving on shared pods) is not available");
    if (*mode != "Serverless" && *mode != "Knative" && *mode != "RawDeployment" && *mode != "Standard")
      return InvalidArgument(p + ": unknown deployment mode \"" + *mode +
                             "\"; must be one of [Serverless, Knative, RawDeployment, Standard]");
  }
  if (auto cls = value("serving.kserve.io/autoscalerClass")) {
    if (*cls != "hpa" && *cls != "keda" && *cls != "external" && *cls != "none")
      return InvalidArgument(prefix + "serving.kserve.io/autoscalerClass]: [" + *cls +
                             "] is not a supported autoscaler class type");
  }
  if (auto t = value("inferd.io/transformer"); t && *t != "in-process")
    return InvalidArgument(prefix + "inferd.io/transformer]: must be \"in-process\" (run spec.transformer inside "
                           "the predictor's model server), got \"" + *t + "\"");
  if (auto p = value(kProcessesAnnotation)) RETURN_IF_ERROR(ParseProcessesAnnotation(*p).status());
  if (auto stop = value("serving.kserve.io/stop"); stop && *stop == "true")
    return NotSupportedYet(prefix + "serving.kserve.io/stop]",
                           "a stopped InferenceService is not kept; delete it, or set "
                           "minReplicas: 0 to scale it to zero when idle");
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
  if (const Json* a = Field(*md, "annotations")) {
    RETURN_IF_ERROR(CheckStringMap(*a, "metadata.annotations"));
    RETURN_IF_ERROR(CheckKServeAnnotations(*a));
  }
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

// target of a Resource metric: Utilization (averageUtilization 1..100; cpu defaults to 80 as in KServe's HPA)
// or AverageValue (a quantity per replica: cores for cpu, bytes for memory, at least 1Mi for memory).
Status CheckResourceTarget(const Json& target, const std::string& path, const std::string& resource) {
  RETURN_IF_ERROR(CheckObject(target, path));
  std::string type = "Utilization";
  if (const Json* t = Field(target, "type")) RETURN_IF_ERROR(CheckString(*t, Join(path, "type"), &type));
  if (Field(target, "value"))
    return InvalidArgument(Join(path, "value") + ": a Resource metric target takes averageUtilization or averageValue");
  if (type == "Utilization" && Field(target, "averageValue"))
    return InvalidArgument(Join(path, "averageValue") + ": set only with type AverageValue (the type is Utilization)");
  if (type == "AverageValue" && Field(target, "averageUtilization"))
    return InvalidArgument(Join(path, "averageUtilization") +
                           ": set only with type Utilization (the type is AverageValue)");
  if (type == "Utilization") {
    const Json* u = Field(target, "averageUtilization");
    if (!u && resource == "memory")
      return InvalidArgument(Join(path, "averageUtilization") + ": required for a memory Utilization target");
    int pct = 80;
    if (u) RETURN_IF_ERROR(CheckInt(*u, Join(path, "averageUtilization"), &pct));
    if (pct < 1 || pct > 100)
      return InvalidArgument(Join(path, "averageUtilization") +
                             ": the target utilization percentage should be a [1-100] integer, got " +
                             std::to_string(pct));
    return Status::Ok();
  }
  if (type == "AverageValue") {
    const Json* v = Field(target, "averageValue");
    if (!v) return InvalidArgument(Join(path, "averageValue") + ": required for an AverageValue target");
    std::string q = v->is_number() ? v->dump() : "";
    if (v->is_string()) q = v->get<std::string>();
    if (!v->is_string() && !v->is_number()) return InvalidArgument(Join(path, "averageValue") + ": must be a quantity");
    auto parsed = resource == "cpu" ? ParseCpuQuantity(q) : ParseMemoryQuantity(q);
    if (!parsed || *parsed <= 0)
      return InvalidArgument(Join(path, "averageValue") + ": '" + q + "' is not a positive " + resource + " quantity");
    if (resource == "memory" && *parsed < 1048576.0)
      return InvalidArgument(Join(path, "averageValue") + ": the memory target value should be greater than 1 MiB");
    return Status::Ok();
  }
  return InvalidArgument(Join(path, "type") + ": a " + resource +
                         " Resource metric takes a Utilization or AverageValue target, got \"" + type + "\"");
}

// KServe's autoScaling block (HPA / KEDA in KServe's Standard mode). inferd's raw-mode autoscaler has the
// Resource metrics cpu and memory; External and PodMetric sources, several metrics and `behavior` are refused.
Status CheckAutoScaling(const Json& as, const std::string& path) {
  RETURN_IF_ERROR(CheckObject(as, path));
  if (Field(as, "behavior"))
    return NotSupportedYet(Join(path, "behavior"),
                           "HPA scaling policies are not applied (inferd uses Kubernetes' default HPA behaviour)");
  const Json* metrics = Field(as, "metrics");
  if (!metrics) return Status::Ok();
  const std::string mp = Join(path, "metrics");
  if (!metrics->is_array()) return InvalidArgument(mp + ": must be a list of metrics");
  for (size_t i = 0; i < metrics->size(); ++i) {
    const Json& m = (*metrics)[i];
    const std::string p = Index(mp, i);
    RETURN_IF_ERROR(CheckObject(m, p));
    if (Field(m, "external"))
      return NotSupportedYet(Join(p, "external"),
                             "External metrics (inferd autoscales on cpu and memory, concurrency and rps)");
    if (Field(m, "podmetric"))
      return NotSupportedYet(Join(p, "podmetric"),
                             "PodMetric metrics (inferd autoscales on cpu and memory, concurrency and rps)");
    const Json* t = Field(m, "type");
    if (!t) return InvalidArgument(Join(p, "type") + ": required (Resource, External or PodMetric)");
    std::string type;
    RETURN_IF_ERROR(CheckString(*t, Join(p, "type"), &type));
    if (type == "External" || type == "PodMetric")
      return NotSupportedYet(Join(p, "type"), "metric type " + type +
                                                  " (inferd autoscales on the Resource metrics cpu and memory, "
                                                  "and on concurrency and rps with scaleMetric)");
    if (type != "Resource")
      return InvalidArgument(Join(p, "type") + ": unknown metric type \"" + type +
                             "\"; valid types are Resource, External, PodMetric");
    const Json* r = Field(m, "resource");
    if (!r) return InvalidArgument(Join(p, "resource") + ": required for a Resource metric");
    const std::string rp = Join(p, "resource");
    RETURN_IF_ERROR(CheckObject(*r, rp));
    const Json* name = Field(*r, "name");
    if (!name) return InvalidArgument(Join(rp, "name") + ": required (cpu or memory)");
    std::string resource;
    RETURN_IF_ERROR(CheckString(*name, Join(rp, "name"), &resource));
    if (resource != "cpu" && resource != "memory")
      return InvalidArgument(Join(rp, "name") + ": resource type " + resource + " is not supported (cpu or memory)");
    const Json* target = Field(*r, "target");
    if (!target) return InvalidArgument(Join(rp, "target") + ": required");
    RETURN_IF_ERROR(CheckResourceTarget(*target, Join(rp, "target"), resource));
  }
  if (metrics->size() > 1)
    return NotSupportedYet(mp, "more than one metric (inferd's autoscaler follows one metric per revision)");
  return Status::Ok();
}

// `logger` (KServe's LoggerSpec; validateLogger in its webhook): mode one of all|request|response ("invalid
// logger type"; absent is the API's documented default "all", where KServe's webhook refuses it), url an http(s)
// sink when given (KServe's default http://default-broker otherwise), metadataHeaders names, metadataAnnotations
// strings. Blob-storage logging and its batching are refused by name.
Status CheckLogger(const Json& lg, const std::string& p) {
  RETURN_IF_ERROR(CheckObject(lg, p));
  std::string m = "all";
  if (const Json* mode = Field(lg, "mode")) RETURN_IF_ERROR(CheckString(*mode, Join(p, "mode"), &m));
  if (m != "all" && m != "request" && m != "response")
    return InvalidArgument(Join(p, "mode") + ": invalid logger type \"" + m.substr(0, 64) +
                           "\" (must be all, request or response)");
  if (const Json* u = Field(lg, "url")) {
    std::string url;
    RETURN_IF_ERROR(CheckString(*u, Join(p, "url"), &url));
    if (std::string why = logger::CheckSinkUrl(url); !why.empty()) return InvalidArgument(Join(p, "url") + ": " + why);
  }
  if (const Json* h = Field(lg, "metadataHeaders")) {
    RETURN_IF_ERROR(CheckStringList(*h, Join(p, "metadataHeaders")));
    for (const auto& name : *h) {
      const std::string& n = name.get_ref<const std::string&>();
      if (n.empty() || n.size() > 256 || n.find_first_of(" :\r\n\t") != std::string::npos)
        return InvalidArgument(Join(p, "metadataHeaders") + ": '" + n.substr(0, 64) + "' is not a header name");
    }
  }
  for (const char* f : {"storage", "marshallerUrl", "batchSize", "batchInterval"}) {
    if (Field(lg, f))
      return NotSupportedYet(Join(p, f), "inferd's payload logger sends CloudEvents to an http(s) url; it does not "
                                         "write batches to blob storage");
  }
  if (const Json* a = Field(lg, "metadataAnnotations")) RETURN_IF_ERROR(CheckStringList(*a, Join(p, "metadataAnnotations")));
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
    if (Field(*b, "timeout"))
      return NotSupportedYet(Join(p, "timeout"), "KServe's controller never passes it to its batcher either; the "
                                                 "component's `timeout` bounds a request");
  }
  if (const Json* lg = Field(comp, "logger")) RETURN_IF_ERROR(CheckLogger(*lg, Join(path, "logger")));
  if (const Json* as = Field(comp, "autoScaling")) RETURN_IF_ERROR(CheckAutoScaling(*as, Join(path, "autoScaling")));
  if (const Json* v = Field(comp, "scaleMetricType")) {
    std::string t;
    RETURN_IF_ERROR(CheckString(*v, Join(path, "scaleMetricType"), &t));
    if (t != "Utilization" && t != "AverageValue" && t != "Value")
      return InvalidArgument(Join(path, "scaleMetricType") +
                             ": must be one of [Utilization, Value, AverageValue], got \"" + t + "\"");
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

// Container fields inferd cannot honour for a replica it runs as a local process (see docs/kserve-fields.md).
Status CheckUnsupportedContainerFields(const Json& c, const std::string& path) {
  constexpr std::string_view kNoVolumes =
      "replicas are local processes without Kubernetes volumes; give model files "
      "with storageUri (a local path, pvc://, ...)";
  if (Field(c, "volumeMounts")) return NotSupportedYet(Join(path, "volumeMounts"), kNoVolumes);
  if (Field(c, "volumeDevices")) return NotSupportedYet(Join(path, "volumeDevices"), kNoVolumes);
  if (Field(c, "envFrom"))
    return NotSupportedYet(Join(path, "envFrom"),
                           "ConfigMap and Secret references are not resolved; list the variables in env");
  if (const Json* env = Field(c, "env"); env && env->is_array()) {
    for (size_t i = 0; i < env->size(); ++i)
      if (Field((*env)[i], "valueFrom"))
        return NotSupportedYet(Join(Index(Join(path, "env"), i), "valueFrom"),
                               "ConfigMap, Secret and field references are not resolved; give the value");
  }
  return Status::Ok();
}

Status CheckImplementation(const Json& impl, const std::string& path, bool is_model) {
  RETURN_IF_ERROR(CheckObject(impl, path));
  RETURN_IF_ERROR(CheckInlineContainerFields(impl, path));
  RETURN_IF_ERROR(CheckUnsupportedContainerFields(impl, path));
  if (const Json* wd = Field(impl, "workingDir")) RETURN_IF_ERROR(CheckString(*wd, Join(path, "workingDir")));
  if (const Json* rp = Field(impl, "readinessProbe"))
    RETURN_IF_ERROR(internal::CheckProbe(*rp, Join(path, "readinessProbe")));
  if (const Json* r = Field(impl, "resources")) RETURN_IF_ERROR(internal::CheckResources(*r, Join(path, "resources")));
  if (Field(impl, "confidential"))
    return NotSupportedYet(Join(path, "confidential"),
                           "confidential computing (attested model decryption) is not available");
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
    RETURN_IF_ERROR(CheckUnsupportedContainerFields(v[i], Index(path, i)));
    const Json* image = Field(v[i], "image");
    const Json* command = Field(v[i], "command");
    if ((image && !image->get<std::string>().empty()) || (command && !command->empty())) entrypoint = true;
  }
  if (need_entrypoint && !entrypoint)
    return InvalidArgument(path + ": at least one container must set an image or a command");
  return Status::Ok();
}

// storageUris: KServe's rules for each entry (uri set; mountPath absolute, not "/", no ".."). inferd serves one
// model directory, so more than one entry is refused.
Status CheckStorageUris(const Json& v, const std::string& path) {
  if (!v.is_array()) return InvalidArgument(path + ": must be a list");
  for (size_t i = 0; i < v.size(); ++i) {
    const std::string p = Index(path, i);
    if (v[i].is_object()) {
      const Json* uri = Field(v[i], "uri");
      if (!uri) return InvalidArgument(Join(p, "uri") + ": storage URI cannot be empty");
      RETURN_IF_ERROR(CheckStorageUri(*uri, Join(p, "uri")));
      if (const Json* mp = Field(v[i], "mountPath")) {
        std::string m;
        RETURN_IF_ERROR(CheckString(*mp, Join(p, "mountPath"), &m));
        if (m == "/") return InvalidArgument(Join(p, "mountPath") + ": storage path cannot be empty");
        if (!m.empty() && m.front() != '/')
          return InvalidArgument(Join(p, "mountPath") + ": storage path must be absolute: " + m);
        if (m.find("..") != std::string::npos)
          return InvalidArgument(Join(p, "mountPath") +
                                 ": storage path cannot contain '..' for security reasons: " + m);
      }
    } else {
      RETURN_IF_ERROR(CheckStorageUri(v[i], p));
    }
  }
  if (v.size() > 1)
    return NotSupportedYet(path, "several storageUris (inferd serves one model directory per predictor)");
  return Status::Ok();
}

// PodSpec fields of a component that inferd cannot honour.
Status CheckUnsupportedPodFields(const Json& comp, const std::string& path) {
  if (Field(comp, "volumes"))
    return NotSupportedYet(Join(path, "volumes"),
                           "replicas are local processes without Kubernetes volumes; give model "
                           "files with storageUri (a local path, pvc://, ...)");
  if (const Json* r = Field(comp, "resources"))
    RETURN_IF_ERROR(internal::CheckResources(*r, Join(path, "resources"), /*pod_level=*/true));
  if (Field(comp, "initContainers"))
    return NotSupportedYet(Join(path, "initContainers"), "init containers are not run");
  if (Field(comp, "ephemeralContainers"))
    return NotSupportedYet(Join(path, "ephemeralContainers"), "ephemeral (debug) containers are not run");
  if (Field(comp, "workerSpec"))
    return NotSupportedYet(Join(path, "workerSpec"),
                           "multi-node serving (a head and worker pods) needs several machines");
  if (const Json* v = Field(comp, "terminationGracePeriodSeconds")) {
    int s = 0;
    RETURN_IF_ERROR(CheckInt(*v, Join(path, "terminationGracePeriodSeconds"), &s));
    if (s < 0) return InvalidArgument(Join(path, "terminationGracePeriodSeconds") + ": must be >= 0");
  }
  return Status::Ok();
}

// KServe's collocation rule (PredictorSpec.GetImplementations): `containers` beside a model implementation
// count as a second implementation only when one of them is named kserve-container; otherwise they are
// collocated with the model (e.g. a transformer-container), which must not carry STORAGE_URI.
Status CheckPredictor(const Json& pred, const std::string& path) {
  RETURN_IF_ERROR(CheckObject(pred, path));
  int count = 0;
  for (const auto& impl : internal::PredictorImplementations())
    if (Field(pred, impl)) ++count;
  const Json* containers = Field(pred, "containers");
  const std::string cpath = Join(path, "containers");
  const bool has_containers = containers && containers->is_array() && !containers->empty();
  if (containers) RETURN_IF_ERROR(CheckContainers(*containers, cpath, false));
  if (has_containers) {
    bool kserve_container = false;
    for (const auto& c : *containers)
      if (const Json* n = Field(c, "name"); n && *n == "kserve-container") kserve_container = true;
    if (count == 0 || kserve_container) ++count;
  }
  if (count != 1)
    return InvalidArgument(path + ": exactly one of " + internal::PredictorImplementationList() +
                           " must be specified in PredictorSpec");
  bool custom = has_containers;
  for (const auto& impl : internal::PredictorImplementations()) {
    if (const Json* v = Field(pred, impl)) {
      RETURN_IF_ERROR(CheckImplementation(*v, Join(path, impl), impl == "model"));
      custom = false;
    }
  }
  if (custom) RETURN_IF_ERROR(CheckContainers(*containers, cpath, true));
  if (has_containers && !custom) {
    for (size_t i = 0; i < containers->size(); ++i) {
      const Json& c = (*containers)[i];
      const Json* n = Field(c, "name");
      if (!n || *n != "transformer-container") continue;
      if (const Json* env = Field(c, "env"); env && env->is_array())
        for (const auto& e : *env)
          if (const Json* en = Field(e, "name"); en && *en == "STORAGE_URI")
            return InvalidArgument(Join(Index(cpath, i), "env") +
                                   ": storage uri should not be specified in transformer container");
    }
  }
  if (const Json* v = Field(pred, "name")) RETURN_IF_ERROR(CheckDnsLabel(*v, Join(path, "name")));
  if (const Json* v = Field(pred, "storageUris")) {
    RETURN_IF_ERROR(CheckStorageUris(*v, Join(path, "storageUris")));
    for (const auto& impl : internal::PredictorImplementations())
      if (const Json* i = Field(pred, impl); i && Field(*i, "storageUri"))
        return InvalidArgument(Join(path, "storageUris") +
                               ": Setting both StorageURI and StorageURIs is not supported.");
  }
  RETURN_IF_ERROR(CheckInlineContainerFields(pred, path));
  RETURN_IF_ERROR(CheckUnsupportedPodFields(pred, path));
  return CheckComponentExtension(pred, path);
}

// spec.transformer: always custom containers in KServe (no built-in transformer kind), plus the
// ComponentExtensionSpec fields.
Status CheckTransformer(const Json& t, const std::string& path) {
  RETURN_IF_ERROR(CheckObject(t, path));
  const Json* containers = Field(t, "containers");
  if (!containers || !containers->is_array() || containers->empty())
    return InvalidArgument(Join(path, "containers") +
                           ": required (a transformer is a custom container, e.g. command [python, -m, pkg])");
  RETURN_IF_ERROR(CheckContainers(*containers, Join(path, "containers"), true));
  if (const Json* v = Field(t, "storageUris")) RETURN_IF_ERROR(CheckStorageUris(*v, Join(path, "storageUris")));
  RETURN_IF_ERROR(CheckUnsupportedPodFields(t, path));
  return CheckComponentExtension(t, path);
}

// spec.explainer: exactly one of `art` (type SquareAttack, config, the inline container fields) or custom
// `containers`, as KServe's ExplainerSpec.
Status CheckExplainer(const Json& e, const std::string& path) {
  RETURN_IF_ERROR(CheckObject(e, path));
  const Json* art = Field(e, "art");
  const Json* containers = Field(e, "containers");
  const bool has_containers = containers && containers->is_array() && !containers->empty();
  if ((art != nullptr) == has_containers)
    return InvalidArgument(path + ": exactly one of [art, containers] must be specified in ExplainerSpec");
  if (has_containers) RETURN_IF_ERROR(CheckContainers(*containers, Join(path, "containers"), true));
  if (art) {
    const std::string ap = Join(path, "art");
    RETURN_IF_ERROR(CheckImplementation(*art, ap, false));
    const Json* type = Field(*art, "type");
    if (!type) return InvalidArgument(Join(ap, "type") + ": required (SquareAttack)");
    std::string t;
    RETURN_IF_ERROR(CheckString(*type, Join(ap, "type"), &t));
    if (t != "SquareAttack")
      return InvalidArgument(Join(ap, "type") + ": unknown ART explainer type \"" + t + "\"; must be SquareAttack");
    if (const Json* cfg = Field(*art, "config")) RETURN_IF_ERROR(CheckStringMap(*cfg, Join(ap, "config")));
    if (Field(*art, "storage"))
      return NotSupportedYet(Join(ap, "storage"), "a storage spec for the explainer's model; give art.storageUri");
  }
  if (const Json* v = Field(e, "storageUris")) RETURN_IF_ERROR(CheckStorageUris(*v, Join(path, "storageUris")));
  RETURN_IF_ERROR(CheckUnsupportedPodFields(e, path));
  return CheckComponentExtension(e, path);
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
  if (const Json* t = Field(*spec, "transformer")) RETURN_IF_ERROR(CheckTransformer(*t, "spec.transformer"));
  if (const Json* e = Field(*spec, "explainer")) RETURN_IF_ERROR(CheckExplainer(*e, "spec.explainer"));
  if (Field(*spec, "canary"))
    return NotSupportedYet("spec.canary",
                           "canary predictor variants (KServe's Standard mode) are not run; "
                           "use spec.predictor.canaryTrafficPercent for a canary rollout");
  return ValidateStorageSpec(obj);  // what inferd cannot do with a storage spec is refused at apply
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

StatusOr<int> ParseProcessesAnnotation(std::string_view value) {
  int n = 0;
  const char* end = value.data() + value.size();
  auto [ptr, ec] = std::from_chars(value.data(), end, n);
  if (value.empty() || ec != std::errc() || ptr != end || n < 1 || n > 64) {
    return InvalidArgument("metadata.annotations[" + std::string(kProcessesAnnotation) +
                           "]: must be a whole number from 1 to 64 (the processes a predictor replica that runs "
                           "Python serves as), got \"" + std::string(value) + "\"");
  }
  return n;
}

}  // namespace inferd::resources
