// graph/graph.h: KServe's InferenceGraph router (cmd/router/main.go; /work/shared/reference/graph.md is the
// spec) as a pure, asynchronous executor that `inferd serve`'s gateway runs in its own workers: no router
// process, no extra hop (each step is one call to its service, made by the gateway's proxy machinery).
//
// Contract:
// - CompileGraph turns a validated InferenceGraph spec (resources::ValidateInferenceGraph passed) into a
//   Graph: conditions parsed once (graph/condition.h), `serviceName` resolved by the caller's
//   ServiceResolver (the control plane: the InferenceService's predict path by its protocol, as KServe's
//   controller does), header patterns compiled (RE2: Go's regexp syntax; invalid ones skipped and reported
//   in Graph::warnings, as KServe's router logs and skips them). Pure: no I/O, no clock.
// - RunGraph executes `root` with KServe's semantics for Sequence ($request/$response,
//   mapPredictionsToInstances, conditions on the previous response, Soft/Hard), Switch (first matching
//   condition on the node's input; 404 body exactly KServe's on no match), Ensemble (all steps at once; the
//   answer keyed by step name or index), Splitter (weights; the draw comes from `draw100`, so tests are
//   deterministic) and nodeName recursion. It calls `caller` for every service step and `done` exactly
//   once with the client's answer. Error answers carry KServe's body {"error":"Failed to process
//   request","cause":...} with 404 (Switch no-match) or 500.
// - Threading: RunGraph and every callback of one run happen on one thread at a time (the gateway worker
//   that received the request); StepCaller implementations may invoke `done` synchronously from inside
//   Call (test fakes do) or later on that same worker; with a synchronous caller RunGraph's `done` runs
//   before RunGraph returns. Late answers (an Ensemble step still running when a Hard failure decided the
//   node) are accepted and dropped; the run's state lives until the last callback is gone. A Graph is
//   immutable once compiled and shared between runs (shared_ptr<const Graph>).
// - Bounds: nodeName recursion depth (cycles are refused by validation; depth is also capped here), the
//   number of calls one run makes (kMaxCallsPerRun), and the bytes of an assembled answer
//   (max_answer_bytes) are limited; exceeding one ends the run with a 500 naming the limit.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/status.h"
#include "graph/condition.h"

namespace re2 {
class RE2;
}

namespace inferd::graph {

inline constexpr int kMaxNodeDepth = 32;
inline constexpr int kMaxCallsPerRun = 1024;

struct Header {
  std::string name;  // as received (the caller canonicalises for matching, see Graph::propagate)
  std::string value;
};
using Headers = std::vector<Header>;

// Where a service step's request goes. Exactly one of `service` (an InferenceService of the graph's
// namespace, resolved from serviceName) or `url` (serviceUrl as written) is set.
struct ServiceTarget {
  std::string ns, service;  // InferenceService; the gateway routes to it without a network hop of its own
  std::string path;         // with `service`: "/v1/models/<m>:predict" or "/v2/models/<m>/infer"
  std::string url;          // serviceUrl: the gateway recognises its own hosts in it, else calls it over HTTP
};

enum class RouterType { kSequence, kSwitch, kEnsemble, kSplitter };

struct Step {
  std::string name;  // may be empty (an Ensemble then keys the answer by the step's index)
  std::string node;  // nodeName: run that node; else `target` is set
  ServiceTarget target;
  bool data_response = false;  // data: $response (anything else sends the node's input)
  bool map_predictions_to_instances = false;
  int64_t weight = 0;
  std::optional<Condition> condition;  // nullopt when the step has none
  bool hard = false;                   // dependency: Hard (empty or Soft: soft, as KServe's code)
};

struct Node {
  RouterType type = RouterType::kSequence;
  std::vector<Step> steps;
  // Sequence: the index of the last step that sends the node's input (the run moves the input into that
  // call instead of copying it); steps.size() when none does.
  size_t last_input_use = 0;
};

struct Graph {
  std::string ns, name;
  std::map<std::string, Node, std::less<>> nodes;  // has "root"
  // routerTimeouts.serviceClient: the deadline of each step call; 0 = none of its own (the gateway's
  // per-service timeout still applies).
  std::chrono::milliseconds step_timeout{0};
  // spec.timeout: KServe makes it the router's Knative revision timeoutSeconds, the longest a request may take
  // before Knative answers 504; here the run's deadline with that answer (0 = none).
  std::chrono::milliseconds request_timeout{0};
  // routerTimeouts.serverWrite (default 60 s): the whole run's deadline (0 = none, as Go's 0).
  std::chrono::milliseconds run_timeout{60000};
  // Header propagation patterns (KServe: env PROPAGATE_HEADERS / configmap router.headers.propagate): a
  // header is copied to every step call when its Go-canonical name matches any of them (unanchored,
  // case-sensitive).
  std::vector<std::shared_ptr<const re2::RE2>> propagate;
  // e.g. a skipped invalid pattern, a condition on a Splitter or Ensemble step (KServe ignores those), a
  // condition using && (gjson has none); shown in the graph's events.
  std::vector<std::string> warnings;
  size_t max_answer_bytes = 64 << 20;
};

// Resolves a step's serviceName (InferenceService in the graph's namespace) to its target.
// NotFound / Unavailable (no address yet) make CompileGraph fail with the step's field path in the message.
using ServiceResolver = std::function<StatusOr<ServiceTarget>(const std::string& service)>;

StatusOr<std::shared_ptr<const Graph>> CompileGraph(const nlohmann::json& spec, const std::string& ns,
                                                    const std::string& name,
                                                    const std::vector<std::string>& propagate_patterns,
                                                    const ServiceResolver& resolve);

// The outcome of one service call: `transport` not ok when no HTTP answer came (connect error, timeout);
// otherwise the answer's status and body.
struct CallOutcome {
  Status transport;
  int status = 0;
  std::string body;
};

class StepCaller {
 public:
  virtual ~StepCaller() = default;
  // POSTs `body` to `target` with `headers` (already filtered by the graph's propagation patterns; a
  // Content-Type among them replaces the default application/json).
  virtual void Call(const ServiceTarget& target, std::string body, Headers headers,
                    std::function<void(CallOutcome)> done) = 0;
};

struct Answer {
  int status = 200;
  std::string body;
  bool json = true;  // Content-Type: application/json (KServe sets it only when the body is valid JSON)
};

// Runs `graph` on the client's body and headers. `draw100` returns a uniform integer in [0, 100) (the
// Splitter's draw). `done` is called exactly once.
void RunGraph(std::shared_ptr<const Graph> graph, std::string body, Headers headers, StepCaller* caller,
              std::function<int()> draw100, std::function<void(Answer)> done);

// Go's http.CanonicalHeaderKey ("x-request-id" -> "X-Request-Id"), for matching propagation patterns.
std::string CanonicalHeaderName(std::string_view name);

}  // namespace inferd::graph
