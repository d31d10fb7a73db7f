// graph/compile.cc: CompileGraph (graph.h): an InferenceGraph spec that resources::ValidateInferenceGraph
// accepted becomes an immutable Graph. What the webhook leaves to run time in KServe is refused here with
// the field's path, because KServe's router would fail every request (or recurse forever) on it: a nodeName
// naming no node, nodeName cycles, chains deeper than kMaxNodeDepth, and conditions outside the gjson
// subset graph/condition.h implements.
#include <re2/re2.h>

#include <algorithm>
#include <functional>
#include <set>

#include "graph/graph.h"

namespace inferd::graph {
namespace {

using Json = nlohmann::json;

std::string StrField(const Json& o, const char* name) {
  auto it = o.find(name);
  return it != o.end() && it->is_string() ? it->get<std::string>() : std::string();
}

// routerTimeouts fields are seconds (int64); Go multiplies them by time.Second.
std::optional<std::chrono::milliseconds> Seconds(const Json& spec, const char* name) {
  auto rt = spec.find("routerTimeouts");
  if (rt == spec.end() || !rt->is_object()) return std::nullopt;
  auto it = rt->find(name);
  if (it == rt->end() || !it->is_number_integer()) return std::nullopt;
  int64_t s = std::clamp<int64_t>(it->get<int64_t>(), 0, int64_t{1} << 30);
  return std::chrono::milliseconds(s * 1000);
}

StatusOr<RouterType> TypeOf(const std::string& t, const std::string& path) {
  if (t == "Sequence") return RouterType::kSequence;
  if (t == "Switch") return RouterType::kSwitch;
  if (t == "Ensemble") return RouterType::kEnsemble;
  if (t == "Splitter") return RouterType::kSplitter;
  return InvalidArgument(path + ".routerType: Unsupported value: \"" + t + "\"");
}

Status CompileStep(const Json& js, const std::string& path, RouterType type, const ServiceResolver& resolve,
                   Step* step, std::vector<std::string>* warnings) {
  if (!js.is_object()) return InvalidArgument(path + ": must be an object");
  step->name = StrField(js, "name");
  step->node = StrField(js, "nodeName");
  std::string url = StrField(js, "serviceUrl"), service = StrField(js, "serviceName");
  if (step->node.empty()) {
    if (!url.empty()) {  // KServe's controller resolves serviceName only when serviceUrl is empty
      step->target.url = url;
    } else if (!service.empty()) {
      if (!resolve) return InvalidArgument(path + ".serviceName: no resolver for InferenceService \"" + service + "\"");
      auto t = resolve(service);
      if (!t.ok()) return t.status().WithPrefix(path + ".serviceName");
      step->target = std::move(t).value();
    } else {
      return InvalidArgument(path + ": the step has no nodeName, serviceName or serviceUrl");
    }
  }
  step->data_response = StrField(js, "data") == "$response";
  auto mp = js.find("mapPredictionsToInstances");
  step->map_predictions_to_instances = mp != js.end() && mp->is_boolean() && mp->get<bool>();
  auto w = js.find("weight");
  if (w != js.end() && w->is_number_integer()) step->weight = std::clamp<int64_t>(w->get<int64_t>(), -(int64_t{1} << 40), int64_t{1} << 40);
  step->hard = StrField(js, "dependency") == "Hard";
  bool has_condition = js.contains("condition");
  std::string condition = StrField(js, "condition");
  bool sequence = type == RouterType::kSequence, is_switch = type == RouterType::kSwitch;
  if (is_switch || (sequence && !condition.empty())) {
    // A Switch step without condition: KServe hands gjson the empty path (the key "" of an object).
    auto c = Condition::Parse(condition);
    if (!c.ok()) return c.status().WithPrefix(path + ".condition");
    if (!c->warning().empty()) warnings->push_back(path + ".condition: " + c->warning());
    if (is_switch && !has_condition) {
      warnings->push_back(path + ": a Switch step without condition matches only a body with the key \"\" (gjson's empty path)");
    }
    step->condition = std::move(c).value();
  } else if (!condition.empty()) {
    warnings->push_back(path + ".condition: ignored on a " + std::string(type == RouterType::kEnsemble ? "Ensemble" : "Splitter") +
                        " step (as KServe's router)");
  }
  if (step->map_predictions_to_instances && !sequence) {
    warnings->push_back(path + ".mapPredictionsToInstances: only a Sequence step uses it (as KServe's router)");
  }
  return Status::Ok();
}

// Every nodeName names a node; no cycles; no chain deeper than kMaxNodeDepth.
Status CheckNodeLinks(const Graph& g) {
  std::map<std::string, int, std::less<>> state;  // 1 = on the current path, 2 = done
  std::map<std::string, int, std::less<>> height;
  std::function<Status(const std::string&, std::vector<std::string>&)> visit =
      [&](const std::string& name, std::vector<std::string>& trail) -> Status {
    state[name] = 1;
    trail.push_back(name);
    if (trail.size() > static_cast<size_t>(kMaxNodeDepth)) {
      return InvalidArgument("spec.nodes." + name + ": nodes nested deeper than " + std::to_string(kMaxNodeDepth) +
                             " levels");
    }
    int h = 1;
    const Node& node = g.nodes.find(name)->second;
    for (size_t i = 0; i < node.steps.size(); ++i) {
      const std::string& next = node.steps[i].node;
      if (next.empty()) continue;
      std::string path = "spec.nodes." + name + ".steps[" + std::to_string(i) + "].nodeName";
      if (!g.nodes.count(next)) return InvalidArgument(path + ": node \"" + next + "\" not found in the graph");
      if (state[next] == 1) {
        std::string cycle;
        auto from = std::find(trail.begin(), trail.end(), next);
        for (auto it = from; it != trail.end(); ++it) cycle += *it + " -> ";
        return InvalidArgument(path + ": nodeName makes a cycle: " + cycle + next);
      }
      if (state[next] == 0) RETURN_IF_ERROR(visit(next, trail));
      h = std::max(h, height[next] + 1);
      if (h > kMaxNodeDepth) {
        return InvalidArgument(path + ": nodes nested deeper than " + std::to_string(kMaxNodeDepth) + " levels");
      }
    }
    height[name] = h;
    state[name] = 2;
    trail.pop_back();
    return Status::Ok();
  };
  for (const auto& [name, node] : g.nodes) {
    std::vector<std::string> trail;
    if (state[name] == 0) RETURN_IF_ERROR(visit(name, trail));
  }
  return Status::Ok();
}

}  // namespace

StatusOr<std::shared_ptr<const Graph>> CompileGraph(const nlohmann::json& spec, const std::string& ns,
                                                    const std::string& name,
                                                    const std::vector<std::string>& propagate_patterns,
                                                    const ServiceResolver& resolve) {
  if (!spec.is_object()) return InvalidArgument("spec: must be an object");
  auto nodes = spec.find("nodes");
  if (nodes == spec.end() || !nodes->is_object()) return InvalidArgument("spec.nodes: Required value");
  if (!nodes->contains("root")) return InvalidArgument("spec.nodes: root node not found");
  auto g = std::make_shared<Graph>();
  g->ns = ns;
  g->name = name;
  for (const auto& [node_name, jn] : nodes->items()) {
    std::string path = "spec.nodes." + node_name;
    if (!jn.is_object()) return InvalidArgument(path + ": must be an object");
    Node node;
    ASSIGN_OR_RETURN(node.type, TypeOf(StrField(jn, "routerType"), path));
    auto steps = jn.find("steps");
    if (steps != jn.end() && !steps->is_null()) {
      if (!steps->is_array()) return InvalidArgument(path + ".steps: must be a list");
      for (size_t i = 0; i < steps->size(); ++i) {
        Step step;
        RETURN_IF_ERROR(CompileStep((*steps)[i], path + ".steps[" + std::to_string(i) + "]", node.type, resolve, &step,
                                    &g->warnings));
        node.steps.push_back(std::move(step));
      }
    }
    node.last_input_use = node.steps.size();
    for (size_t i = 0; i < node.steps.size(); ++i) {
      if (!(node.steps[i].data_response && i > 0)) node.last_input_use = i;
    }
    g->nodes.emplace(node_name, std::move(node));
  }
  RETURN_IF_ERROR(CheckNodeLinks(*g));
  if (auto t = Seconds(spec, "serviceClient")) g->step_timeout = *t;
  if (auto t = Seconds(spec, "serverWrite")) g->run_timeout = *t;
  if (auto t = spec.find("timeout"); t != spec.end() && t->is_number_integer()) {
    g->request_timeout = std::chrono::milliseconds(std::clamp<int64_t>(t->get<int64_t>(), 0, int64_t{1} << 30) * 1000);
  }
  RE2::Options opts;
  opts.set_log_errors(false);
  for (const std::string& p : propagate_patterns) {
    auto re = std::make_shared<const RE2>(p, opts);
    if (!re->ok()) {
      g->warnings.push_back("header pattern \"" + p + "\" skipped: " + re->error());
      continue;
    }
    g->propagate.push_back(std::move(re));
  }
  return std::shared_ptr<const Graph>(std::move(g));
}

std::string CanonicalHeaderName(std::string_view name) {
  // Go's textproto.CanonicalMIMEHeaderKey: a name with a byte that is not a token character is returned
  // as it is; otherwise the first letter and every letter after '-' are upper-cased, the rest lower-cased.
  auto token = [](unsigned char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c != 0 && std::string_view("!#$%&'*+-.^_`|~").find(static_cast<char>(c)) != std::string_view::npos);
  };
  std::string out(name);
  for (unsigned char c : out) {
    if (!token(c)) return out;
  }
  bool upper = true;
  for (char& c : out) {
    if (upper && c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
    if (!upper && c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    upper = c == '-';
  }
  return out;
}

}  // namespace inferd::graph
