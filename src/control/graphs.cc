// control/graphs.cc: InferenceGraph compilation and status (see the header).
#include "control/graphs.h"

#include <map>
#include <set>

#include "api/kinds.h"
#include "control/isvc_status.h"
#include "core/logging.h"
#include "resources/resources.h"

namespace inferd::control {

using store::Json;

namespace {

const Json* At(const Json& obj, std::initializer_list<const char*> path) {
  const Json* j = &obj;
  for (const char* k : path) {
    if (!j->is_object()) return nullptr;
    auto it = j->find(k);
    if (it == j->end()) return nullptr;
    j = &*it;
  }
  return j;
}

std::string StringAt(const Json& obj, std::initializer_list<const char*> path) {
  const Json* j = At(obj, path);
  return j && j->is_string() ? j->get<std::string>() : "";
}

bool IsReady(const Json& obj) {
  const Json* conds = At(obj, {"status", "conditions"});
  if (!conds || !conds->is_array()) return false;
  for (const Json& c : *conds) {
    if (c.is_object() && c.value("type", Json()) == "Ready") return c.value("status", Json()) == "True";
  }
  return false;
}

// `--model_name X` or `--model_name=X` among `args` ("" when absent).
std::string ModelNameArg(const std::vector<std::string>& args) {
  for (size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "--model_name" && i + 1 < args.size()) return args[i + 1];
    if (args[i].starts_with("--model_name=")) return args[i].substr(13);
  }
  return "";
}

std::string EnvOf(const std::vector<resources::EnvVar>& env, std::string_view name) {
  for (const auto& e : env) {
    if (e.name == name) return e.value;
  }
  return "";
}

std::string PredictPath(const std::string& model, const std::string& protocol) {
  return protocol == "v2" ? "/v2/models/" + model + "/infer" : "/v1/models/" + model + ":predict";
}

// The spec fields that configure KServe's router pod (graph.md section 1), present in `spec`.
std::vector<std::string> RouterPodFields(const Json& spec) {
  std::vector<std::string> out;
  for (const char* f : {"resources", "affinity", "tolerations", "nodeSelector", "nodeName", "serviceAccountName",
                        "minReplicas", "maxReplicas", "scaleTarget", "scaleMetric"}) {
    if (spec.contains(f) && !spec[f].is_null()) out.push_back(std::string("spec.") + f);
  }
  for (const char* f : {"serverRead", "serverIdle"}) {
    if (const Json* j = At(spec, {"routerTimeouts", f}); j && !j->is_null()) out.push_back(std::string("spec.routerTimeouts.") + f);
  }
  return out;
}

// The InferenceServices the graph's steps name, in node and step order.
std::vector<std::string> NamedServices(const Json& spec) {
  std::vector<std::string> out;
  std::set<std::string> seen;
  const Json* nodes = At(spec, {"nodes"});
  if (!nodes || !nodes->is_object()) return out;
  for (const auto& [node, router] : nodes->items()) {
    const Json* steps = At(router, {"steps"});
    if (!steps || !steps->is_array()) continue;
    for (const Json& step : *steps) {
      std::string svc = StringAt(step, {"serviceName"});
      if (!svc.empty() && StringAt(step, {"serviceUrl"}).empty() && seen.insert(svc).second) out.push_back(svc);
    }
  }
  return out;
}

}  // namespace

StatusOr<graph::ServiceTarget> PredictTarget(const Json& isvc, const RuntimeLookup& runtime) {
  const std::string ns = StringAt(isvc, {"metadata", "namespace"}), name = StringAt(isvc, {"metadata", "name"});
  if (StringAt(isvc, {"status", "address", "url"}).empty()) {
    return Unavailable("InferenceService \"" + name + "\" has no address yet");
  }
  auto predictor = resources::ResolvePredictor(isvc);
  if (!predictor.ok()) return predictor.status();
  std::string model, protocol;
  if (auto transformer = resources::ResolveComponent(isvc, "transformer"); transformer.ok()) {
    protocol = EnvOf(transformer->env, "PROTOCOL");
    if (protocol.empty()) protocol = "v1";
    model = ModelNameArg(transformer->args);
  } else {
    protocol = predictor->protocol_version;
    if (!predictor->runtime.empty()) {
      const Json* rt = runtime ? runtime(predictor->runtime) : nullptr;
      if (rt == nullptr) {
        return NotFound("the runtime \"" + predictor->runtime + "\" of InferenceService \"" + name + "\" does not exist");
      }
      const Json* pv = At(*rt, {"spec", "protocolVersions"});
      if (pv && pv->is_array() && !pv->empty()) {
        protocol.clear();
        for (const Json& p : *pv) {
          if (p == "v1" || p == "v2") {
            protocol = p.get<std::string>();
            break;
          }
        }
        if (protocol.empty()) {
          return InvalidArgument("the runtime does not support a protocol compatible with Inference Graphs");
        }
      }
    }
  }
  if (model.empty()) model = ModelNameArg(predictor->args);
  if (model.empty()) model = EnvOf(predictor->env, "MLSERVER_MODEL_NAME");
  if (model.empty()) model = name;
  graph::ServiceTarget t;
  t.ns = ns.empty() ? "default" : ns;
  t.service = name;
  t.path = PredictPath(model, protocol == "v2" ? "v2" : "v1");
  return t;
}

GraphPlan PlanGraph(const Json& obj, const IsvcLookup& isvc, const RuntimeLookup& runtime,
                    const GraphServeOptions& options, const std::string& now) {
  GraphPlan plan;
  const std::string ns = StringAt(obj, {"metadata", "namespace"}).empty() ? "default"
                                                                          : StringAt(obj, {"metadata", "namespace"});
  const std::string name = StringAt(obj, {"metadata", "name"});
  const Json spec = obj.contains("spec") && obj["spec"].is_object() ? obj["spec"] : Json::object();
  plan.route.ns = ns;
  plan.route.name = name;
  plan.fingerprint = ns + "/" + name + "|" + StringAt(obj, {"metadata", "uid"}) + "|" +
                     (obj.contains("metadata") && obj["metadata"].contains("generation")
                          ? obj["metadata"]["generation"].dump()
                          : spec.dump());

  // Ready: every named InferenceService exists and is Ready (the first one that is not is named).
  std::string reason, message;
  for (const std::string& svc : NamedServices(spec)) {
    const Json* o = isvc(svc);
    if (o == nullptr) {
      reason = "InferenceServiceNotFound";
      message = "InferenceService \"" + svc + "\" not found";
      break;
    }
    if (!IsReady(*o)) {
      reason = "InferenceServiceNotReady";
      message = "InferenceService \"" + svc + "\" is not ready";
      break;
    }
  }
  std::string resolve_error;
  auto resolve = [&](const std::string& svc) -> StatusOr<graph::ServiceTarget> {
    const Json* o = isvc(svc);
    if (o == nullptr) return NotFound("InferenceService \"" + svc + "\" not found");
    auto t = PredictTarget(*o, runtime);
    if (!t.ok()) resolve_error = t.status().message();
    return t;
  };
  auto compiled = graph::CompileGraph(spec, ns, name, options.propagate_headers, resolve);
  if (compiled.ok()) {
    plan.route.graph = *compiled;
    for (const auto& w : (*compiled)->warnings) plan.fingerprint += "|w:" + w;
    // The targets the compiled graph calls (a service's protocol or model name may change under it).
    for (const auto& [node_name, node] : (*compiled)->nodes) {
      for (const auto& step : node.steps) plan.fingerprint += "|" + step.target.service + step.target.path;
    }
  } else {
    plan.route.unavailable = "graph " + ns + "/" + name + " is not ready: " + compiled.status().message();
    plan.fingerprint += "|e:" + compiled.status().message();
    if (reason.empty()) {
      reason = resolve_error.empty() ? "InvalidGraph" : "InferenceServiceNotReady";
      message = compiled.status().message();
    }
  }

  std::vector<ConditionStatus> conds;
  conds.push_back(MakeCondition("Ready", reason.empty(), reason, message));
  if (auto fields = RouterPodFields(spec); !fields.empty()) {
    std::string list;
    for (const auto& f : fields) list += (list.empty() ? "" : ", ") + f;
    conds.push_back({"RouterInGateway", "True", "NoRouterPod",
                     list + ": no effect in inferd, whose gateway runs the graph (there is no router pod to size, "
                            "place or scale)"});
  }
  const Json old = obj.contains("status") ? obj["status"] : Json();
  Json status = old.is_object() ? old : Json::object();
  status[kStatusConditions] = ConditionsToJson(conds, old, now);
  status["url"] = "http://" + name + "." + ns + "." + options.domain;
  status["address"] = {{"url", "http://127.0.0.1:" + std::to_string(options.gateway_http_port) + "/graph/" + ns +
                                    "/" + name}};
  if (const Json* gen = At(obj, {"metadata", "generation"})) status["observedGeneration"] = *gen;
  plan.status = std::move(status);
  return plan;
}

void GraphController::Pass(const std::string& now) {
  auto graphs = db_->List(api::InferenceGraphType(), "");
  if (!graphs.ok()) return;
  std::map<std::string, std::map<std::string, Json>> isvcs, runtimes;  // ns -> name -> object
  std::map<std::string, Json> cluster_runtimes;
  // Keys are read before the object moves (nlohmann's operator= takes its argument by value, and C++17
  // evaluates an assignment's right side first).
  auto add = [](std::map<std::string, Json>& by_name, Json& o) {
    std::string name = StringAt(o, {"metadata", "name"});
    by_name[name] = std::move(o);
  };
  if (!graphs->items.empty()) {
    if (auto l = db_->List(api::InferenceServiceType(), ""); l.ok()) {
      for (auto& o : l->items) add(isvcs[StringAt(o, {"metadata", "namespace"})], o);
    }
    if (auto l = db_->List(api::ServingRuntimeType(), ""); l.ok()) {
      for (auto& o : l->items) add(runtimes[StringAt(o, {"metadata", "namespace"})], o);
    }
    if (auto l = db_->List(api::ClusterServingRuntimeType(), ""); l.ok()) {
      for (auto& o : l->items) add(cluster_runtimes, o);
    }
  }
  std::vector<gateway::GraphRoute> routes;
  std::vector<std::string> warnings;  // e.g. a skipped header pattern (KServe's router logs them)
  std::vector<Json> statuses;  // written after the routes are published
  std::string fingerprint;
  for (Json& obj : graphs->items) {
    std::string ns = StringAt(obj, {"metadata", "namespace"});
    if (ns.empty()) ns = "default";
    auto find_in = [](const std::map<std::string, std::map<std::string, Json>>& m, const std::string& ns,
                      const std::string& name) -> const Json* {
      auto it = m.find(ns);
      if (it == m.end()) return nullptr;
      auto jt = it->second.find(name);
      return jt == it->second.end() ? nullptr : &jt->second;
    };
    IsvcLookup isvc = [&](const std::string& n) { return find_in(isvcs, ns, n); };
    RuntimeLookup runtime = [&](const std::string& n) -> const Json* {
      if (const Json* r = find_in(runtimes, ns, n)) return r;
      auto it = cluster_runtimes.find(n);
      return it == cluster_runtimes.end() ? nullptr : &it->second;
    };
    GraphPlan plan = PlanGraph(obj, isvc, runtime, options_, now);
    fingerprint += plan.fingerprint + ";";
    if (plan.route.graph) {
      for (const auto& w : plan.route.graph->warnings) warnings.push_back(ns + "/" + plan.route.name + ": " + w);
    }
    routes.push_back(std::move(plan.route));
    if (obj.contains("status") && obj["status"] == plan.status) continue;
    obj["status"] = std::move(plan.status);
    statuses.push_back(std::move(obj));
  }
  if (fingerprint != last_fingerprint_) {
    last_fingerprint_ = fingerprint;
    for (const auto& w : warnings) LOG_WARN("inferencegraph {}", w);
    publish_(std::move(routes));
  }
  // Written after the routes are out: a client that sees Ready=True finds the graph's route.
  for (const Json& obj : statuses) {
    auto r = db_->UpdateStatus(api::InferenceGraphType(), obj);
    if (!r.ok() && r.status().code() != StatusCode::kNotFound && r.status().code() != StatusCode::kConflict) {
      LOG_WARN("status of inferencegraph {}/{}: {}", StringAt(obj, {"metadata", "namespace"}),
               StringAt(obj, {"metadata", "name"}), r.status().message());
    }
  }
}

}  // namespace inferd::control
