// operator/components.cc: the components of an InferenceService on a cluster beside the predictor (KServe's
// transformer and explainer: pkg/apis/serving/v1beta1/transformer_custom.go, explainer_art.go,
// components/transformer.go, explainer.go) and what KServe's pod webhook adds for a logger or a batcher
// (pkg/webhook/admission/pod/agent_injector.go), or inferd's own model-server flags for them.
#include <algorithm>
#include <map>
#include <string>
#include <vector>

#include "control/replica_command.h"
#include "core/json_field.h"
#include "operator/plan_internal.h"

namespace inferd::op::internal {

namespace {

constexpr int kAgentPort = 9081;
constexpr char kAgentName[] = "agent";
constexpr char kTransformerContainer[] = "transformer-container";

const Json* Field(const Json& obj, const char* key) { return JsonField(obj, key); }
std::string Str(const Json& obj, const char* key) { return JsonStringField(obj, key, ""); }

// The image with its tag replaced (KServe's art image is <image>:<runtimeVersion>).
std::string WithTag(std::string image, const std::string& tag) {
  if (tag.empty()) return image;
  if (const size_t at = image.find('@'); at != std::string::npos) image.resize(at);
  const size_t slash = image.rfind('/');
  if (const size_t colon = image.find(':', slash == std::string::npos ? 0 : slash); colon != std::string::npos) {
    image.resize(colon);
  }
  return image + ":" + tag;
}

// `spec.explainer.art` as the explainer's containers form: one container with KServe's art-server flags
// (ARTExplainerSpec.GetContainer: --model_name, --http_port, --predictor_host, --workers, --storage_uri,
// --adversary_type, the sorted config, then the user's args, given once: KServe appends them twice, which
// only an argparse server tolerates). inferd's image runs them as `inferd art-explainer ...`.
StatusOr<Json> ArtExplainer(const Json& explainer, const Component& predictor, const OperatorConfig& cfg) {
  const Json& art = explainer["art"];
  if (!art.is_object()) return InvalidArgument("spec.explainer.art: must be an object");
  const std::string type = Str(art, "type");
  if (type != "SquareAttack") {
    return InvalidArgument("spec.explainer.art.type: must be SquareAttack (the only ART explainer KServe defines), got \"" +
                           type + "\"");
  }
  Json container = art;
  for (const char* k : {"type", "config", "storageUri", "runtimeVersion", "storage"}) container.erase(k);
  if (!container.contains("image")) {
    const std::string base = cfg.art_explainer_image.empty() ? cfg.model_server_image : cfg.art_explainer_image;
    container["image"] = WithTag(base, Str(art, "runtimeVersion"));
  }
  const Json user = art.contains("args") ? art["args"] : Json::array();
  if (!user.is_array() || !std::all_of(user.begin(), user.end(), [](const Json& a) { return a.is_string(); })) {
    return InvalidArgument("spec.explainer.art.args: must be a list of strings");
  }
  Json args = Json::array();
  if (control::IsInferdImage(Str(container, "image")) && !container.contains("command")) args.push_back("art-explainer");
  for (const char* a : {"--model_name", predictor.isvc.c_str(), "--http_port", "8080"}) args.push_back(a);
  if (!HasArg(user, "--predictor_host")) args.insert(args.end(), {"--predictor_host", predictor.name + "." + predictor.ns});
  if (const Json* cc = Field(explainer, "containerConcurrency"); cc && cc->is_number_integer() && !HasArg(user, "--workers")) {
    args.insert(args.end(), {"--workers", std::to_string(cc->get<int64_t>())});
  }
  if (!Str(art, "storageUri").empty()) args.insert(args.end(), {"--storage_uri", "/mnt/models"});
  args.insert(args.end(), {"--adversary_type", type});
  if (const Json* config = Field(art, "config"); config && !config->is_object()) {
    return InvalidArgument("spec.explainer.art.config: must be a map of strings");
  } else if (config) {
    std::map<std::string, std::string> sorted;
    for (const auto& [k, v] : config->items()) {
      if (!v.is_string()) return InvalidArgument("spec.explainer.art.config." + k + ": must be a string");
      sorted[k] = v.get<std::string>();
    }
    for (const auto& [k, v] : sorted) args.insert(args.end(), {"--" + k, v});
  }
  for (const auto& a : user) args.push_back(a);
  container["args"] = std::move(args);
  Json out = explainer;
  out.erase("art");
  out["containers"] = Json::array({std::move(container)});
  if (!Str(art, "storageUri").empty()) out["storageUri"] = art["storageUri"];
  return out;
}

// A container that runs inferd's model server: inferd's image with args `model-server ...` (its entrypoint is
// `inferd`), or a command `inferd model-server`.
bool RunsInferdModelServer(const Json& container) {
  const Json* command = Field(container, "command");
  const Json* args = Field(container, "args");
  auto first = [](const Json* list, size_t i) {
    return list && list->is_array() && list->size() > i && (*list)[i].is_string() ? (*list)[i].get<std::string>() : "";
  };
  if (command && command->is_array() && !command->empty()) {
    const std::string bin = first(command, 0);
    if (bin != "inferd" && !bin.ends_with("/inferd")) return false;
    return (command->size() > 1 ? first(command, 1) : first(args, 0)) == "model-server";
  }
  return control::IsInferdImage(Str(container, "image")) && first(args, 0) == "model-server";
}

std::string Joined(const Json* list) {
  std::string out;
  if (!list || !list->is_array()) return out;
  for (const auto& v : *list) {
    if (v.is_string()) out += (out.empty() ? "" : ",") + v.get<std::string>();
  }
  return out;
}

// logger.metadataAnnotations as KServe's webhook reads them: "key=value" for each named annotation the
// component has (the others are skipped, as KServe does with a warning).
std::vector<std::string> AnnotationPairs(const Component& c) {
  std::vector<std::string> out;
  const Json* keys = Field(c.logger, "metadataAnnotations");
  if (!keys || !keys->is_array()) return out;
  for (const auto& k : *keys) {
    if (!k.is_string()) continue;
    const std::string key = k.get<std::string>();
    if (c.annotations.contains(key) && c.annotations[key].is_string()) out.push_back(key + "=" + c.annotations[key].get<std::string>());
  }
  return out;
}

// The container the component's port is served by: KServe's transformer-container when collocated, else the first.
Json& ServedContainer(Json& pod) {
  for (auto& ct : pod["containers"]) {
    if (Str(ct, "name") == kTransformerContainer) return ct;
  }
  return pod["containers"][0];
}

// KServe's agent sidecar (agent_injector.go InjectAgent), as its webhook would add it to the pod.
Json AgentContainer(const Component& c, const OperatorConfig& cfg, Json& pod) {
  Json args = Json::array();
  if (c.spec.batcher) {
    args.push_back("--enable-batcher");
    if (c.spec.batcher->max_batch_size > 0) args.insert(args.end(), {"--max-batchsize", std::to_string(c.spec.batcher->max_batch_size)});
    if (c.spec.batcher->max_latency_ms > 0) args.insert(args.end(), {"--max-latency", std::to_string(c.spec.batcher->max_latency_ms)});
  }
  if (c.logger.is_object()) {
    const std::string url = Str(c.logger, "url"), mode = Str(c.logger, "mode");
    // --source-uri is the pod's name, which KServe's webhook sees empty for Deployment pods (generateName).
    for (const std::string& a : {std::string("--log-url"), url.empty() ? cfg.logger_default_url : url, std::string("--source-uri"),
                                 std::string(), std::string("--log-mode"), mode.empty() ? std::string("all") : mode,
                                 std::string("--inference-service"), c.isvc, std::string("--namespace"), c.ns,
                                 std::string("--endpoint"), std::string(), std::string("--component"), c.component}) {
      args.push_back(a);
    }
    if (std::string h = Joined(Field(c.logger, "metadataHeaders")); !h.empty()) args.insert(args.end(), {"--metadata-headers", h});
    if (Field(c.logger, "metadataAnnotations")) {
      std::string kv;
      for (const auto& p : AnnotationPairs(c)) kv += (kv.empty() ? "" : ",") + p;
      args.insert(args.end(), {"--metadata-annotations", kv});
    }
    args.insert(args.end(), {"--logger-tls-skip-verify", "false"});
  }
  const Json& served = ServedContainer(pod);
  const Json* ports = Field(served, "ports");
  int port = 8080;
  if (ports && ports->is_array() && !ports->empty()) {
    const Json* n = Field((*ports)[0], "containerPort");
    if (n && n->is_number_integer()) port = n->get<int>();
  }
  args.insert(args.end(), {"--component-port", std::to_string(port)});
  Json agent = {{"name", kAgentName},
                {"image", cfg.agent_image},
                {"args", std::move(args)},
                {"resources", {{"limits", {{"cpu", "1"}, {"memory", "1Gi"}}}, {"requests", {{"cpu", "100m"}, {"memory", "100Mi"}}}}},
                {"ports", {{{"name", "agent-port"}, {"containerPort", kAgentPort}, {"protocol", "TCP"}}}}};
  std::string probe_path = "/";
  if (const Json* probe = Field(served, "readinessProbe"); probe && (Field(*probe, "httpGet") || Field(*probe, "tcpSocket"))) {
    agent["env"] = {{{"name", "SERVING_READINESS_PROBE"}, {"value", probe->dump()}}};
    if (const Json* get = Field(*probe, "httpGet"); get && !Str(*get, "path").empty()) probe_path = Str(*get, "path");
  }
  agent["readinessProbe"] = {{"httpGet", {{"httpHeaders", {{{"name", "K-Network-Probe"}, {"value", "queue"}}}},
                                          {"port", kAgentPort}, {"path", probe_path}, {"scheme", "HTTP"}}}};
  if (const Json* sc = Field(pod["containers"][0], "securityContext")) agent["securityContext"] = *sc;
  return agent;
}

}  // namespace

bool HasArg(const Json& args, const std::string& flag) {
  if (!args.is_array()) return false;
  return std::any_of(args.begin(), args.end(), [&](const Json& a) {
    return a.is_string() && (a.get<std::string>() == flag || a.get<std::string>().starts_with(flag + "="));
  });
}

void SetComponentMetadata(Component& c) {
  const Json* rspec = c.runtime ? Field(c.runtime->runtime, "spec") : nullptr;
  for (const char* key : {"labels", "annotations"}) {
    Json& out = key[0] == 'l' ? c.labels : c.annotations;
    if (const Json* r = rspec ? Field(*rspec, key) : nullptr; r && r->is_object()) {
      for (const auto& [k, v] : r->items()) {
        if (v.is_string()) out[k] = v;
      }
    }
    for (const auto& [k, v] : key[0] == 'l' ? c.spec.labels : c.spec.annotations) out[k] = v;
  }
  c.annotations.erase("kubectl.kubernetes.io/last-applied-configuration");
  c.labels["serving.kserve.io/inferenceservice"] = c.isvc;
  c.labels["component"] = c.component;
  c.autoscaler_class = c.spec.annotations.count("serving.kserve.io/autoscalerClass")
                           ? c.spec.annotations.at("serving.kserve.io/autoscalerClass")
                           : "";
}

Json WithoutOperatorFields(const Json& isvc) {
  Json out = isvc;
  if (!out.contains("spec") || !out["spec"].is_object()) return out;
  out["spec"].erase("transformer");
  out["spec"].erase("explainer");
  return out;
}

Status ResolveOther(const Json& isvc, const std::string& which, const OperatorConfig& cfg, const Component& predictor,
                    Component& out) {
  const std::string path = "spec." + which;
  Json written = isvc["spec"][which];
  if (!written.is_object()) return InvalidArgument(path + ": must be an object");
  if (which == "explainer" && written.contains("art") && written.contains("containers")) {
    return InvalidArgument(path + ": exactly one of [art, containers] must be specified in ExplainerSpec");
  }
  if (which == "explainer" && written.contains("art")) {
    ASSIGN_OR_RETURN(written, ArtExplainer(written, predictor, cfg));
  }
  if (!written.contains("containers")) {
    return InvalidArgument(path + (which == "explainer" ? ": exactly one of [art, containers] must be specified in ExplainerSpec"
                                                        : ".containers: required (a transformer is a custom container)"));
  }
  // resources::ResolvePredictor's rules for a custom-container component, on the component in the predictor's
  // place; its messages then name the component's path.
  Json probe = WithoutOperatorFields(isvc);
  probe["spec"] = {{"predictor", written}};
  auto spec = resources::ResolvePredictor(probe);
  if (!spec.ok()) {
    std::string m = spec.status().message();
    ReplaceAll(m, "spec.predictor", path);
    return InvalidArgument(m);
  }
  if (spec->containers.empty() || !spec->format.empty()) {
    return InvalidArgument(path + ": only containers may be given (KServe's " + which + " is a pod spec)");
  }
  if (spec->canary_traffic_percent) {
    return InvalidArgument(path + ".canaryTrafficPercent: not supported by inferd operator yet (only the predictor "
                                  "rolls out a canary)");
  }
  out.isvc = predictor.isvc;
  out.ns = predictor.ns;
  out.uid = predictor.uid;
  out.component = which;
  out.name = predictor.isvc + "-" + which;
  out.spec = std::move(*spec);
  out.spec.component = which;
  out.logger = written.contains("logger") ? written["logger"] : Json();
  out.written = std::move(written);
  SetComponentMetadata(out);
  if (which == "transformer") {  // CustomTransformer.GetContainer
    out.kserve_args = {{"--model_name", out.isvc}, {"--predictor_host", predictor.name + "." + predictor.ns}, {"--http_port", "8080"}};
    if (const Json* cc = Field(out.written, "containerConcurrency"); cc && cc->is_number_integer()) {
      out.kserve_args.emplace_back("--workers", std::to_string(cc->get<int64_t>()));
    }
  }
  return Status::Ok();
}

Status AddLoggerAndBatcher(const Component& c, const OperatorConfig& cfg, const std::string& mode, Json& pod) {
  const bool logger = c.logger.is_object(), batcher = c.spec.batcher.has_value();
  const std::string path = "spec." + c.component + ".logger";
  if (!c.logger.is_null() && !logger) return InvalidArgument(path + ": must be an object");
  if (!logger && !batcher) return Status::Ok();
  for (const char* f : {"storage", "marshallerUrl", "batchSize", "batchInterval"}) {
    if (logger && Field(c.logger, f)) {
      return InvalidArgument(path + "." + f + ": not supported by inferd operator yet (blob-storage logging needs "
                                              "KServe's credential injection); log to an HTTP url");
    }
  }
  Json& main = pod["containers"][0];
  if (RunsInferdModelServer(main)) {  // inferd's model server logs and batches itself: no extra hop
    Json& args = main["args"];
    if (!args.is_array()) args = Json::array();
    if (logger) {
      const std::string url = Str(c.logger, "url"), lmode = Str(c.logger, "mode");
      args.push_back("--log_url=" + (url.empty() ? cfg.logger_default_url : url));
      args.push_back("--log_mode=" + (lmode.empty() ? std::string("all") : lmode));
      if (std::string h = Joined(Field(c.logger, "metadataHeaders")); !h.empty()) args.push_back("--log_metadata_headers=" + h);
      for (const auto& p : AnnotationPairs(c)) args.push_back("--log_metadata_annotations=" + p);
      args.push_back("--inference_service=" + c.isvc);
      args.push_back("--namespace=" + c.ns);
      args.push_back("--component=" + c.component);
    }
    if (batcher && !HasArg(args, "--max_batch_size")) {
      for (const auto& f : control::BatcherFlags(*c.spec.batcher)) args.push_back(f);
    }
    return Status::Ok();
  }
  if (mode == "Knative") {  // (KServe's webhook re-points Knative's queue-proxy at the agent; none runs here)
    return InvalidArgument("spec." + c.component + (logger ? ".logger" : ".batcher") +
                           ": in Knative mode inferd operator passes the logger and batcher only to inferd model-server "
                           "containers (KServe's agent sidecar needs KServe's pod webhook there); use Standard mode");
  }
  for (const auto& ct : pod["containers"]) {
    if (Str(ct, "name") == kAgentName) return InvalidArgument("spec." + c.component + ".containers: the name \"agent\" is KServe's agent sidecar's");
  }
  pod["containers"].push_back(AgentContainer(c, cfg, pod));
  return Status::Ok();
}

int AgentPort(const Json& pod) {
  const Json* containers = Field(pod, "containers");
  if (!containers || !containers->is_array()) return 0;
  for (const auto& ct : *containers) {
    if (Str(ct, "name") == kAgentName) return kAgentPort;
  }
  return 0;
}

}  // namespace inferd::op::internal
