// resources/graph_validate.cc: InferenceGraph and TrainedModel (serving.kserve.io/v1alpha1) validation with
// KServe's rules: its CRDs' required fields and enums, and its webhooks' checks
// (pkg/apis/serving/v1alpha1/inference_graph_validation.go, trainedmodel_webhook.go), messages prefixed with
// the field path. inferd stores and serves these objects; the control plane reports them not Ready until
// graphs and multi-model serving are implemented.
#include <algorithm>
#include <cctype>
#include <set>

#include "resources/internal.h"
#include "resources/resources.h"

namespace inferd::resources {

using internal::CheckBool;
using internal::CheckInt;
using internal::CheckObject;
using internal::CheckString;
using internal::Field;
using internal::Index;
using internal::Join;

namespace {

Status CheckKindHeader(const Json& obj, std::string_view kind) {
  if (!obj.is_object()) return InvalidArgument("object: must be a JSON object");
  const Json* av = Field(obj, "apiVersion");
  if (av && (!av->is_string() || av->get<std::string>() != kRuntimeApiVersion)) {
    return InvalidArgument("apiVersion: Unsupported value: must be " + std::string(kRuntimeApiVersion));
  }
  const Json* k = Field(obj, "kind");
  if (k && (!k->is_string() || k->get<std::string>() != kind)) {
    return InvalidArgument("kind: Unsupported value: must be " + std::string(kind));
  }
  return Status::Ok();
}

// KServe's GraphNameFmt [a-z]([-a-z0-9]*[a-z0-9])? (checked by hand: std::regex recurses per character).
bool IsGraphName(std::string_view n) {
  auto lower_digit = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); };
  if (n.empty() || n.front() < 'a' || n.front() > 'z' || !lower_digit(n.back())) return false;
  return std::all_of(n.begin(), n.end(), [&](char c) { return lower_digit(c) || c == '-'; });
}

std::string NameOf(const Json& obj) {
  const Json* md = Field(obj, "metadata");
  const Json* n = md ? Field(*md, "name") : nullptr;
  return n && n->is_string() ? n->get<std::string>() : "";
}

Status CheckOneOf(const Json& v, const std::string& path, std::initializer_list<std::string_view> allowed) {
  std::string s;
  RETURN_IF_ERROR(CheckString(v, path, &s));
  for (auto a : allowed)
    if (s == a) return Status::Ok();
  std::string list;
  for (auto a : allowed) list += (list.empty() ? "\"" : ", \"") + std::string(a) + "\"";
  return InvalidArgument(path + ": Unsupported value: \"" + s + "\": supported values: " + list);
}

// One step of a router node: exactly one target, typed fields, enums.
Status CheckStep(const Json& step, const std::string& path, size_t i, const std::string& node, const std::string& graph) {
  RETURN_IF_ERROR(CheckObject(step, path));
  std::string name;
  if (const Json* n = Field(step, "name")) RETURN_IF_ERROR(CheckString(*n, Join(path, "name"), &name));
  int targets = 0;
  for (const char* t : {"nodeName", "serviceName", "serviceUrl"}) {
    std::string v;
    if (const Json* f = Field(step, t)) RETURN_IF_ERROR(CheckString(*f, Join(path, t), &v));
    targets += v.empty() ? 0 : 1;
  }
  std::string where = "Step " + std::to_string(i) + " (\"" + name + "\") in node \"" + node + "\" of InferenceGraph \"" + graph + "\"";
  if (targets == 0) return InvalidArgument(path + ": " + where + " does not specify an inference target");
  if (targets > 1) return InvalidArgument(path + ": " + where + " specifies more than one of nodeName, serviceName, serviceUrl");
  for (const char* f : {"data", "condition"}) {
    if (const Json* v = Field(step, f)) RETURN_IF_ERROR(CheckString(*v, Join(path, f)));
  }
  if (const Json* v = Field(step, "dependency")) RETURN_IF_ERROR(CheckOneOf(*v, Join(path, "dependency"), {"Soft", "Hard"}));
  if (const Json* v = Field(step, "mapPredictionsToInstances")) RETURN_IF_ERROR(CheckBool(*v, Join(path, "mapPredictionsToInstances")));
  if (const Json* v = Field(step, "weight"); v && !v->is_number_integer()) {
    return InvalidArgument(Join(path, "weight") + ": Invalid value: must be an integer");
  }
  return Status::Ok();
}

Status CheckNode(const Json& node, const std::string& path, const std::string& node_name, const std::string& graph) {
  RETURN_IF_ERROR(CheckObject(node, path));
  const Json* rt = Field(node, "routerType");
  if (!rt) return InvalidArgument(Join(path, "routerType") + ": Required value");
  RETURN_IF_ERROR(CheckOneOf(*rt, Join(path, "routerType"), {"Sequence", "Splitter", "Ensemble", "Switch"}));
  const Json* steps = Field(node, "steps");
  if (!steps) return Status::Ok();
  if (!steps->is_array()) return InvalidArgument(Join(path, "steps") + ": must be a list");
  std::set<std::string> names;
  bool splitter = rt->get<std::string>() == "Splitter";
  int64_t weights = 0;
  for (size_t i = 0; i < steps->size(); ++i) {
    const Json& step = (*steps)[i];
    std::string sp = Index(Join(path, "steps"), i);
    RETURN_IF_ERROR(CheckStep(step, sp, i, node_name, graph));
    std::string name = step.contains("name") && step["name"].is_string() ? step["name"].get<std::string>() : "";
    if (!name.empty() && !names.insert(name).second) {
      return InvalidArgument(Join(sp, "name") + ": Node \"" + node_name + "\" of InferenceGraph \"" + graph +
                             "\" contains more than one step with name \"" + name + "\"");
    }
    if (splitter) {
      const Json* w = Field(step, "weight");
      if (!w) {
        std::string svc = step.contains("serviceName") && step["serviceName"].is_string() ? step["serviceName"].get<std::string>() : "";
        return InvalidArgument(Join(sp, "weight") + ": InferenceGraph[" + graph + "] Node[" + node_name + "] Route[" + svc +
                               "] missing the 'Weight'");
      }
      weights += std::clamp<int64_t>(w->get<int64_t>(), -(int64_t{1} << 40), int64_t{1} << 40);  // no overflow
    }
  }
  if (splitter && weights != 100) {
    return InvalidArgument(Join(path, "steps") + ": InferenceGraph[" + graph + "] Node[" + node_name +
                           "] splitter node: the sum of traffic weights for all routing targets should be 100");
  }
  return Status::Ok();
}

}  // namespace

Status ValidateInferenceGraph(const Json& obj) {
  RETURN_IF_ERROR(CheckKindHeader(obj, "InferenceGraph"));
  std::string name = NameOf(obj);
  if (!IsGraphName(name)) {
    return InvalidArgument("metadata.name: The InferenceGraph \"" + name +
                           "\" is invalid: a InferenceGraph name must consist of lower case alphanumeric characters "
                           "or '-', and must start with alphabetical character. (e.g. \"my-name\" or \"abc-123\", "
                           "regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')");
  }
  const Json* spec = Field(obj, "spec");
  if (!spec) return InvalidArgument("spec: Required value");
  RETURN_IF_ERROR(CheckObject(*spec, "spec"));
  const Json* nodes = Field(*spec, "nodes");
  if (!nodes) return InvalidArgument("spec.nodes: Required value");
  RETURN_IF_ERROR(CheckObject(*nodes, "spec.nodes"));
  if (!nodes->contains("root")) {
    return InvalidArgument("spec.nodes: root node not found, InferenceGraph needs a node with name 'root' as the root node of the graph");
  }
  for (const auto& [node_name, node] : nodes->items()) {
    RETURN_IF_ERROR(CheckNode(node, Join("spec.nodes", node_name), node_name, name));
  }
  for (const char* f : {"minReplicas", "maxReplicas", "scaleTarget", "timeout"}) {
    if (const Json* v = Field(*spec, f)) RETURN_IF_ERROR(CheckInt(*v, Join("spec", f)));
  }
  if (const Json* v = Field(*spec, "scaleMetric")) {
    RETURN_IF_ERROR(CheckOneOf(*v, "spec.scaleMetric", {"cpu", "memory", "concurrency", "rps"}));
  }
  return Status::Ok();
}

Status ValidateTrainedModel(const Json& obj, const Json* old) {
  RETURN_IF_ERROR(CheckKindHeader(obj, "TrainedModel"));
  std::string name = NameOf(obj);
  if (name.empty() || !std::all_of(name.begin(), name.end(), [](unsigned char c) {
        return std::isalnum(c) || c == '_' || c == '-';
      })) {
    return InvalidArgument("metadata.name: the Trained Model \"" + name +
                           "\" is invalid: a Trained Model name must consist of alphanumeric characters, '_', or "
                           "'-'. (e.g. \"my-Name\" or \"abc_123\", regex used for validation is '[a-zA-Z0-9_-]+')");
  }
  const Json* spec = Field(obj, "spec");
  if (!spec) return InvalidArgument("spec: Required value");
  RETURN_IF_ERROR(CheckObject(*spec, "spec"));
  const Json* isvc = Field(*spec, "inferenceService");
  if (!isvc) return InvalidArgument("spec.inferenceService: Required value");
  RETURN_IF_ERROR(CheckString(*isvc, "spec.inferenceService"));
  const Json* model = Field(*spec, "model");
  if (!model) return InvalidArgument("spec.model: Required value");
  RETURN_IF_ERROR(CheckObject(*model, "spec.model"));
  for (const char* f : {"storageUri", "framework", "memory"}) {
    const Json* v = Field(*model, f);
    if (!v) return InvalidArgument(Join("spec.model", f) + ": Required value");
  }
  std::string uri, framework;
  RETURN_IF_ERROR(CheckString((*model)["storageUri"], "spec.model.storageUri", &uri));
  RETURN_IF_ERROR(CheckString((*model)["framework"], "spec.model.framework", &framework));
  const Json& memory = (*model)["memory"];
  std::string mem = memory.is_string() ? memory.get<std::string>() : memory.dump();
  if (!(memory.is_string() || memory.is_number()) || !ParseMemoryQuantity(mem)) {
    return InvalidArgument("spec.model.memory: Invalid value: \"" + mem + "\": must be a quantity such as 1Gi");
  }
  // KServe's agent downloads TrainedModels itself and supports these prefixes only.
  static const char* kPrefixes[] = {"s3://", "gs://", "https://", "http://"};
  if (std::none_of(std::begin(kPrefixes), std::end(kPrefixes), [&](const char* p) { return uri.rfind(p, 0) == 0; })) {
    return InvalidArgument("spec.model.storageUri: the Trained Model \"" + name +
                           "\" storageUri field is invalid. The storage uri must start with one of the prefixes: "
                           "s3://, gs://, https://, http://. (the storage uri given is \"" + uri + "\")");
  }
  if (old) {
    const Json* om = Field(*old, "spec");
    om = om ? Field(*om, "model") : nullptr;
    const Json* old_mem = om ? Field(*om, "memory") : nullptr;
    std::string before = old_mem ? (old_mem->is_string() ? old_mem->get<std::string>() : old_mem->dump()) : "";
    if (old_mem && ParseMemoryQuantity(before) != ParseMemoryQuantity(mem)) {
      return InvalidArgument("spec.model.memory: the Trained Model \"" + name + "\" memory field is immutable. The memory was \"" +
                             before + "\" but it is updated to \"" + mem + "\"");
    }
  }
  return Status::Ok();
}

}  // namespace inferd::resources
