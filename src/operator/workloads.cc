// operator/workloads.cc: the Deployment, Service and HPA of a component, as KServe's raw reconcilers
// build them (KServe: reconcilers/deployment, service, hpa; components/predictor.go), plus the
// storage-initializer that KServe's pod webhook would add (no webhook runs next to `inferd operator`).
#include <algorithm>

#include "control/replica_command.h"
#include "core/json_field.h"
#include "operator/plan_internal.h"

namespace inferd::op::internal {

namespace {

constexpr char kModelMount[] = "/mnt/models";
constexpr char kProvisionVolume[] = "kserve-provision-location";
constexpr char kPvcVolume[] = "kserve-pvc-source";
constexpr int kDefaultHttpPort = 8080;
constexpr char kTransformerContainer[] = "transformer-container";

// The container fields a predictor implementation (spec.predictor.sklearn, .model, ...) may set; the rest
// of the implementation (modelFormat, runtime, storageUri, protocolVersion, ...) is not a container field.
constexpr const char* kReplacedContainerFields[] = {
    "image", "imagePullPolicy", "ports", "livenessProbe", "readinessProbe", "startupProbe", "lifecycle",
    "securityContext", "terminationMessagePath", "terminationMessagePolicy", "stdin", "tty"};
// Pod-level fields of spec.predictor (and of a runtime's spec) copied to the pod spec; the predictor wins.
constexpr const char* kPodFields[] = {
    "nodeSelector", "tolerations", "affinity", "serviceAccountName", "imagePullSecrets", "priorityClassName",
    "runtimeClassName", "securityContext", "schedulerName", "hostIPC", "hostPID", "hostNetwork",
    "terminationGracePeriodSeconds", "topologySpreadConstraints", "dnsPolicy", "dnsConfig", "automountServiceAccountToken"};

const Json* Field(const Json& obj, const char* key) { return JsonField(obj, key); }

// A container port's number (8080 when absent or not a number: a runtime object is not validated here).
int PortNumber(const Json& port) {
  const Json* n = Field(port, "containerPort");
  return n && n->is_number_integer() ? n->get<int>() : kDefaultHttpPort;
}
std::string StringField(const Json& obj, const char* key, const std::string& fallback) {
  return JsonStringField(obj, key, fallback);
}

// The implementation object of spec.predictor (model, sklearn, ...), or null for custom containers.
const Json* Implementation(const Json& predictor) {
  for (const auto& name : resources::PredictorImplementations()) {
    if (const Json* impl = Field(predictor, name.c_str()); impl && impl->is_object()) return impl;
  }
  return nullptr;
}

// The runtime's serving container: the one named kserve-container, else the first.
Json RuntimeContainer(const Json& runtime) {
  const Json* spec = Field(runtime, "spec");
  const Json* containers = spec ? Field(*spec, "containers") : nullptr;
  if (!containers || !containers->is_array() || containers->empty()) return Json::object();
  for (const auto& c : *containers) {
    if (StringField(c, "name", "") == "kserve-container") return c;
  }
  return (*containers)[0].is_object() ? (*containers)[0] : Json::object();
}

// env entries of `extra` replace those of `base` with the same name, others are appended (KServe merges
// the implementation's env into the runtime container's by name).
void MergeEnv(Json& container, const std::vector<resources::EnvVar>& extra) {
  Json env = container.contains("env") && container["env"].is_array() ? container["env"] : Json::array();
  for (const auto& e : extra) {
    auto it = std::find_if(env.begin(), env.end(), [&](const Json& x) { return StringField(x, "name", "") == e.name; });
    if (it != env.end()) {
      *it = {{"name", e.name}, {"value", e.value}};
    } else {
      env.push_back({{"name", e.name}, {"value", e.value}});
    }
  }
  if (!env.empty()) container["env"] = std::move(env);
}

// The runtime container with the implementation's fields merged in (KServe's MergeRuntimeContainers:
// args appended, env by name, resources by key, the other fields replaced).
Json ModelContainer(const Component& c) {
  Json container = RuntimeContainer(c.runtime->runtime);
  const Json* impl = Implementation(c.written);
  if (impl) {
    for (const char* f : kReplacedContainerFields) {
      if (const Json* v = Field(*impl, f)) container[f] = *v;
    }
    if (const Json* r = Field(*impl, "resources"); r && r->is_object()) {
      Json merged = container.contains("resources") && container["resources"].is_object() ? container["resources"]
                                                                                          : Json::object();
      container["resources"] = resources::MergePatch(merged, *r);
    }
  }
  if (!c.spec.command.empty()) container["command"] = c.spec.command;
  if (!c.spec.working_dir.empty()) container["workingDir"] = c.spec.working_dir;
  Json args = container.contains("args") && container["args"].is_array() ? container["args"] : Json::array();
  for (const auto& a : c.spec.args) args.push_back(a);
  if (!args.empty()) container["args"] = std::move(args);
  MergeEnv(container, c.spec.env);
  return container;
}

// {{.Name}} and the other KServe template variables in command, args and env values.
void ExpandContainer(Json& container, const Component& c) {
  control::ReplicaCommandInput in;
  in.isvc_name = c.isvc;
  in.ns = c.ns;
  in.spec = &c.spec;  // (model_path stays empty: /mnt/models is the real mount here)
  for (const char* key : {"command", "args"}) {
    if (!container.contains(key) || !container[key].is_array()) continue;
    for (auto& v : container[key]) {
      if (v.is_string()) v = control::ExpandTemplate(v.get<std::string>(), in);
    }
  }
  if (container.contains("env") && container["env"].is_array()) {
    for (auto& e : container["env"]) {
      if (e.is_object() && e.contains("value") && e["value"].is_string()) {
        e["value"] = control::ExpandTemplate(e["value"].get<std::string>(), in);
      }
    }
  }
}

int FirstPort(const Json& container) {
  const Json* ports = Field(container, "ports");
  if (ports && ports->is_array() && !ports->empty() && (*ports)[0].is_object()) {
    return PortNumber((*ports)[0]);
  }
  return kDefaultHttpPort;
}

// KServe's default readiness probe (deployment_reconciler.go): TCP on the first containerPort, else 8080.
void DefaultReadiness(Json& container) {
  if (container.contains("readinessProbe")) return;
  container["readinessProbe"] = {{"tcpSocket", {{"port", FirstPort(container)}}},
                                 {"timeoutSeconds", 1},
                                 {"periodSeconds", 10},
                                 {"successThreshold", 1},
                                 {"failureThreshold", 3}};
}

// The serving container in the pod: name, image, INFERENCE_SERVICE_NAME, default readiness probe.
Json ServingContainer(const Component& c, const OperatorConfig& cfg) {
  Json container = c.spec.containers.empty() ? ModelContainer(c) : c.written["containers"][0];
  ExpandContainer(container, c);
  container["name"] = "kserve-container";
  // KServe's controller appends its flags to a transformer's container unless the args name them.
  for (const auto& [flag, value] : c.kserve_args) {
    Json& args = container["args"];
    if (!args.is_array()) args = Json::array();
    if (!HasArg(args, flag)) args.insert(args.end(), {flag, value});
  }
  // inferd's built-in runtimes name their image "inferd" (informational on one machine).
  if (StringField(container, "image", "") == "inferd") container["image"] = cfg.model_server_image;
  if (!container.contains("imagePullPolicy")) container["imagePullPolicy"] = "IfNotPresent";
  MergeEnv(container, {{"INFERENCE_SERVICE_NAME", c.isvc}});
  DefaultReadiness(container);
  return container;
}

void AddMount(Json& container, Json mount) {
  if (!container.contains("volumeMounts") || !container["volumeMounts"].is_array()) container["volumeMounts"] = Json::array();
  container["volumeMounts"].push_back(std::move(mount));
}

// The model at /mnt/models: a PVC mounted directly, or an emptyDir the storage-initializer fills.
void AddModelVolume(Json& pod, Json& container, const Component& c, const OperatorConfig& cfg) {
  const std::string& uri = c.spec.storage_uri;
  if (uri.empty()) return;
  const bool read_only = c.annotations.value("storage.kserve.io/readonly", "") != "false";
  if (uri.starts_with("pvc://")) {
    std::string rest = uri.substr(6);
    size_t slash = rest.find('/');
    std::string claim = rest.substr(0, slash), sub = slash == std::string::npos ? "" : rest.substr(slash + 1);
    pod["volumes"].push_back({{"name", kPvcVolume}, {"persistentVolumeClaim", {{"claimName", claim}, {"readOnly", read_only}}}});
    Json mount = {{"name", kPvcVolume}, {"mountPath", kModelMount}, {"readOnly", read_only}};
    if (!sub.empty()) mount["subPath"] = sub;
    AddMount(container, std::move(mount));
    return;
  }
  pod["volumes"].push_back({{"name", kProvisionVolume}, {"emptyDir", Json::object()}});
  pod["initContainers"].push_back(
      {{"name", "storage-initializer"},
       {"image", cfg.storage_initializer_image},
       {"args", {uri, kModelMount}},
       {"resources", {{"requests", {{"cpu", "100m"}, {"memory", "100Mi"}}}, {"limits", {{"cpu", "1"}, {"memory", "1Gi"}}}}},
       {"terminationMessagePolicy", "FallbackToLogsOnError"},
       {"volumeMounts", {{{"name", kProvisionVolume}, {"mountPath", kModelMount}}}}});
  AddMount(container, {{"name", kProvisionVolume}, {"mountPath", kModelMount}, {"readOnly", read_only}});
}

// A container named `name` in a list (null: none).
const Json* Named(const Json* list, const char* name) {
  if (!list || !list->is_array()) return nullptr;
  for (const auto& ct : *list) {
    if (StringField(ct, "name", "") == name) return &ct;
  }
  return nullptr;
}

// KServe's MergeRuntimeContainers for the transformer-container: the predictor's fields over the runtime's,
// env by name, args concatenated (the predictor's extend the runtime's).
Json MergedContainer(const Json& runtime_ct, const Json& isvc_ct) {
  Json merged = resources::MergePatch(runtime_ct, isvc_ct);
  Json args = runtime_ct.contains("args") && runtime_ct["args"].is_array() ? runtime_ct["args"] : Json::array();
  if (isvc_ct.contains("args") && isvc_ct["args"].is_array()) args.insert(args.end(), isvc_ct["args"].begin(), isvc_ct["args"].end());
  if (!args.empty()) merged["args"] = std::move(args);
  Json env = runtime_ct.contains("env") && runtime_ct["env"].is_array() ? runtime_ct["env"] : Json::array();
  for (const auto& e : isvc_ct.contains("env") && isvc_ct["env"].is_array() ? isvc_ct["env"] : Json::array()) {
    auto it = std::find_if(env.begin(), env.end(), [&](const Json& x) { return StringField(x, "name", "") == StringField(e, "name", ""); });
    if (it != env.end()) *it = e; else env.push_back(e);
  }
  if (!env.empty()) merged["env"] = std::move(env);
  return merged;
}

// KServe's collocation (components/predictor.go): after kserve-container, the transformer-container (the
// runtime's and the predictor's merged) with the model volume, INFERENCE_SERVICE_NAME and the default probe,
// no flags appended (the user gives them, as with KServe); then the runtime's other containers and the
// predictor's other containers, as written.
void AddCollocated(Json& pod, const Component& c) {
  const Json* rspec = Field(c.runtime->runtime, "spec");
  const Json* rts = rspec ? Field(*rspec, "containers") : nullptr;
  const Json* own = Field(c.written, "containers");
  const Json* rt_side = Named(rts, kTransformerContainer);
  const Json* own_side = Named(own, kTransformerContainer);
  if (rt_side || own_side) {
    Json side = rt_side && own_side ? MergedContainer(*rt_side, *own_side) : *(rt_side ? rt_side : own_side);
    ExpandContainer(side, c);
    MergeEnv(side, {{"INFERENCE_SERVICE_NAME", c.isvc}});
    DefaultReadiness(side);
    for (const auto& m : pod["containers"][0].value("volumeMounts", Json::array())) AddMount(side, m);
    pod["containers"].push_back(std::move(side));
  }
  for (const Json* list : {rts, own}) {
    if (!list || !list->is_array()) continue;
    for (const auto& ct : *list) {
      const std::string name = StringField(ct, "name", "");
      if (name == kTransformerContainer || (list == rts && name == "kserve-container")) continue;
      if (list == rts && &ct == &(*rts)[0] && !Named(rts, "kserve-container")) continue;  // (the model's, taken as kserve-container)
      pod["containers"].push_back(ct);
    }
  }
}

}  // namespace

Json OwnerReference(const Component& c) {
  return {{"apiVersion", resources::kIsvcApiVersion}, {"kind", "InferenceService"}, {"name", c.isvc},
          {"uid", c.uid},                             {"controller", true},          {"blockOwnerDeletion", true}};
}

Json ObjectMeta(const Component& c, const char* api_version, const char* kind, const std::string& name) {
  Json meta = {{"name", name}, {"namespace", c.ns}, {"labels", c.labels}};
  if (!c.annotations.empty()) meta["annotations"] = c.annotations;
  meta["ownerReferences"] = Json::array({OwnerReference(c)});
  return {{"apiVersion", api_version}, {"kind", kind}, {"metadata", std::move(meta)}};
}

StatusOr<Json> PodSpec(const Component& c, const OperatorConfig& cfg) {
  Json pod = {{"containers", Json::array()}, {"volumes", Json::array()}, {"initContainers", Json::array()}};
  Json container = ServingContainer(c, cfg);
  AddModelVolume(pod, container, c, cfg);
  pod["containers"].push_back(std::move(container));
  if (c.spec.containers.size() > 1) {  // further custom containers run beside kserve-container, as written
    const Json& all = c.written["containers"];
    for (size_t i = 1; i < all.size(); ++i) pod["containers"].push_back(all[i]);
  } else if (c.runtime) {
    AddCollocated(pod, c);
  }
  const Json* runtime_spec = c.runtime ? Field(c.runtime->runtime, "spec") : nullptr;
  for (const char* f : kPodFields) {
    if (const Json* v = Field(c.written, f)) {
      pod[f] = *v;
    } else if (const Json* rv = runtime_spec ? Field(*runtime_spec, f) : nullptr) {
      pod[f] = *rv;
    }
  }
  if (c.spec.termination_grace_seconds) pod["terminationGracePeriodSeconds"] = *c.spec.termination_grace_seconds;
  if (pod["volumes"].empty()) pod.erase("volumes");
  if (pod["initContainers"].empty()) pod.erase("initContainers");
  return pod;
}

Json BuildDeployment(const Component& c, const std::string& name, const Json& pod_spec, const std::string& revision,
                     const std::string& hash) {
  Json d = ObjectMeta(c, "apps/v1", "Deployment", name);
  d["metadata"]["annotations"][kRevisionAnnotation] = revision;
  d["metadata"]["annotations"][kRevisionHashAnnotation] = hash;
  const std::string app = "isvc." + name;
  Json template_meta = {{"labels", c.labels}};
  template_meta["labels"]["app"] = app;
  if (!c.annotations.empty()) template_meta["annotations"] = c.annotations;
  Json strategy = {{"type", "RollingUpdate"}, {"rollingUpdate", {{"maxUnavailable", "25%"}, {"maxSurge", "25%"}}}};
  if (const Json* s = Field(c.written, "deploymentStrategy"); s && s->is_object()) strategy = *s;
  Json spec = {{"selector", {{"matchLabels", {{"app", app}}}}},
               {"template", {{"metadata", std::move(template_meta)}, {"spec", pod_spec}}},
               {"strategy", std::move(strategy)},
               {"revisionHistoryLimit", 10},
               {"progressDeadlineSeconds", 600}};
  // The HPA owns replicas, except with autoscalerClass none (then minReplicas, at least 1).
  if (c.autoscaler_class == "none") spec["replicas"] = std::max(c.spec.min_replicas, 1);
  d["spec"] = std::move(spec);
  return d;
}

Json BuildService(const Component& c, const std::string& name, const Json& pod_spec) {
  Json svc = ObjectMeta(c, "v1", "Service", name);
  // Port 80 reaches KServe's transformer-container when collocated (service_reconciler.go), else the first
  // container; KServe's agent, when injected, takes it over on 9081.
  const Json* container = &pod_spec["containers"][0];
  for (const auto& ct : pod_spec["containers"]) {
    if (StringField(ct, "name", "") == "transformer-container") container = &ct;
  }
  const int agent = AgentPort(pod_spec);
  Json ports = Json::array();
  auto app_protocol = [](Json& sp, const std::string& port_name) {
    if (port_name.find("grpc") != std::string::npos || port_name.find("h2c") != std::string::npos) {
      sp["appProtocol"] = "kubernetes.io/h2c";
    }
  };
  const Json* cports = Field(*container, "ports");
  if (cports && cports->is_array() && !cports->empty()) {
    for (size_t i = 0; i < cports->size(); ++i) {
      const Json& p = (*cports)[i];
      if (!p.is_object()) continue;
      const int cp = PortNumber(p);
      Json sp = {{"port", i == 0 ? 80 : cp}, {"targetPort", i == 0 && agent ? agent : cp}, {"protocol", StringField(p, "protocol", "TCP")}};
      const std::string pname = StringField(p, "name", "");
      if (!pname.empty()) sp["name"] = pname;
      app_protocol(sp, pname);
      ports.push_back(std::move(sp));
    }
  } else {
    ports.push_back({{"name", name}, {"port", 80}, {"targetPort", agent ? agent : kDefaultHttpPort}, {"protocol", "TCP"}});
  }
  svc["spec"] = {{"selector", {{"app", "isvc." + name}}}, {"ports", std::move(ports)}};
  return svc;
}

std::optional<Json> BuildHpa(const Component& c, const std::string& name) {
  if (!c.autoscaler_class.empty() && c.autoscaler_class != "hpa") return std::nullopt;
  const int min = std::max(c.spec.min_replicas, 1);
  const int max = std::max(c.spec.max_replicas, min);
  Json metrics = Json::array();
  const Json* as = Field(c.written, "autoScaling");
  const Json* list = as ? Field(*as, "metrics") : nullptr;
  if (list && list->is_array()) {
    for (const auto& m : *list) {
      const Json* r = Field(m, "resource");
      if (!r) continue;  // (validation refuses the other metric types)
      const std::string rname = r->value("name", "");
      const Json target = r->contains("target") && (*r)["target"].is_object() ? (*r)["target"] : Json::object();
      Json t;
      if (rname == "cpu") {
        t = {{"type", "Utilization"}, {"averageUtilization", target.value("averageUtilization", 80)}};
      } else if (rname == "memory" && target.value("type", "") == "AverageValue") {
        t = {{"type", "AverageValue"}, {"averageValue", target.value("averageValue", Json())}};
      } else if (rname == "memory") {
        t = {{"type", "Utilization"}, {"averageUtilization", target.value("averageUtilization", Json())}};
      } else {
        continue;
      }
      metrics.push_back({{"type", "Resource"}, {"resource", {{"name", rname}, {"target", std::move(t)}}}});
    }
  } else {
    const std::string metric = c.spec.scale_metric.value_or("cpu");
    if (metric == "cpu") {
      metrics.push_back({{"type", "Resource"},
                         {"resource", {{"name", "cpu"}, {"target", {{"type", "Utilization"}, {"averageUtilization", c.spec.scale_target.value_or(80)}}}}}});
    } else if (metric == "memory" && c.spec.scale_target) {
      metrics.push_back({{"type", "Resource"},
                         {"resource", {{"name", "memory"}, {"target", {{"type", "Utilization"}, {"averageUtilization", *c.spec.scale_target}}}}}});
    }
  }
  Json hpa = ObjectMeta(c, "autoscaling/v2", "HorizontalPodAutoscaler", name);
  hpa["spec"] = {{"scaleTargetRef", {{"apiVersion", "apps/v1"}, {"kind", "Deployment"}, {"name", name}}},
                 {"minReplicas", min},
                 {"maxReplicas", max}};
  if (!metrics.empty()) hpa["spec"]["metrics"] = std::move(metrics);
  hpa["spec"]["behavior"] = Json::object();
  return hpa;
}

}  // namespace inferd::op::internal
