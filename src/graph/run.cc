// graph/run.cc: RunGraph (graph.h), KServe's cmd/router/main.go routeStep/executeStep/graphHandler as
// continuations. Each node run is a small state object kept alive by the callbacks that refer to it; a
// step whose StepCaller answers synchronously is handled by the node's own loop (no recursion per step),
// so a long Sequence of instant steps uses constant stack.
//
// A Sequence step without condition and without mapPredictionsToInstances never parses a body: the input
// or the previous answer is handed to the next call as bytes. The only pass over the final answer is the
// Content-Type rule (GoJsonValid, no tree).
#include <algorithm>

#include "graph/go_json.h"
#include "graph/graph.h"
#include <re2/re2.h>

namespace inferd::graph {
namespace {

using Json = nlohmann::ordered_json;

// A node's outcome as routeStep returns it: an error (cause; status 404 only for a Switch without match,
// which only the root passes on) or an answer.
struct NodeResult {
  bool error = false;
  std::string cause;
  int status = 0;
  std::string body;
};
using NodeDone = std::function<void(NodeResult)>;

NodeResult Fail(std::string cause, int status = 500) { return NodeResult{true, std::move(cause), status, {}}; }
bool Success(int status) { return status >= 200 && status <= 299; }

std::string ErrorBody(std::string_view cause) {  // router_error.go, marshalled by Go
  std::string out = "{\"error\":\"Failed to process request\",\"cause\":";
  AppendGoJsonString(&out, cause);
  out.push_back('}');
  return out;
}

// mapPredictionsToInstances: Go unmarshals the body into struct{Predictions, Instances []interface{}}
// (keys matched case-insensitively) and, when that succeeds with a non-empty predictions, marshals
// {"instances": predictions}. Anything else leaves the body as it was.
void MapPredictionsToInstances(std::string* body) {
  auto v = ParseLikeGo(*body);
  if (!v || !v->is_object()) return;  // not JSON, or not an object (Go: an unmarshal error; null: no predictions)
  const Json* predictions = nullptr;
  for (auto it = v->begin(); it != v->end(); ++it) {
    std::string lower;
    for (char c : it.key()) lower.push_back(static_cast<char>(c >= 'A' && c <= 'Z' ? c + 32 : c));
    if (lower != "predictions" && lower != "instances") continue;
    if (!it.value().is_array() && !it.value().is_null()) return;  // Go: cannot unmarshal ... into []interface{}
    if (lower == "predictions") predictions = &it.value();
  }
  if (!predictions || !predictions->is_array() || predictions->empty()) return;
  std::string out = "{\"instances\":";
  AppendGoJson(&out, *predictions);
  out.push_back('}');
  *body = std::move(out);
}

class Run : public std::enable_shared_from_this<Run> {
 public:
  Run(std::shared_ptr<const Graph> graph, Headers headers, StepCaller* caller, std::function<int()> draw100,
      std::function<void(Answer)> done)
      : graph_(std::move(graph)), headers_(std::move(headers)), caller_(caller), draw100_(std::move(draw100)),
        done_(std::move(done)) {}

  void Start(std::string body);
  // Runs node `name` on `input`; `k` gets its result exactly once.
  void RunNode(const std::string& name, std::shared_ptr<std::string> input, int depth, NodeDone k);
  // executeStep: a nested node or one service call.
  void RunStep(const Step& step, std::string body, int depth, NodeDone k);
  const Graph& graph() const { return *graph_; }

 private:
  void Finish(NodeResult r);

  std::shared_ptr<const Graph> graph_;
  Headers headers_;  // already filtered by the propagation patterns
  StepCaller* caller_;
  std::function<int()> draw100_;
  std::function<void(Answer)> done_;
  int calls_ = 0;
  bool finished_ = false;
};

// ---- Sequence ----------------------------------------------------------------------------------------

class SequenceRun : public std::enable_shared_from_this<SequenceRun> {
 public:
  SequenceRun(std::shared_ptr<Run> run, const Node& node, std::shared_ptr<std::string> input, int depth,
              NodeDone k)
      : run_(std::move(run)), node_(node), input_(std::move(input)), depth_(depth), k_(std::move(k)) {}

  void Advance() {
    while (i_ < node_.steps.size()) {
      const Step& step = node_.steps[i_];
      if (step.condition && !ConditionHolds(*step.condition)) return;
      std::string request;
      if (step.data_response && i_ > 0) {
        request = std::move(last_.body);  // replaced by this step's answer (or the node fails)
      } else if (i_ == node_.last_input_use && input_.use_count() == 1) {
        request = std::move(*input_);  // nobody else reads the input any more
      } else {
        request = *input_;
      }
      if (step.map_predictions_to_instances) MapPredictionsToInstances(&request);
      in_call_ = true;
      answered_ = false;
      auto self = shared_from_this();
      run_->RunStep(step, std::move(request), depth_, [self](NodeResult r) {
        self->pending_ = std::move(r);
        if (self->in_call_) {
          self->answered_ = true;  // synchronous: Advance's loop continues
          return;
        }
        if (self->OnStep()) self->Advance();
      });
      in_call_ = false;
      if (!answered_) return;  // resumes from the callback
      if (!OnStep()) return;
    }
    Done(std::move(last_));
  }

 private:
  // KServe: the condition is evaluated on the previous step's answer, which must be JSON (at step 0 there
  // is none: "invalid response"); when it does not hold, the node returns that answer with status 200.
  bool ConditionHolds(const Condition& c) {
    std::optional<Json> body;
    if (have_answer_) body = ParseLikeGo(last_.body, DuplicateKeys::kFirst);  // gjson finds a repeated key's first value
    if (!body) {
      bool valid = have_answer_ && GoJsonValid(last_.body);
      Done(Fail(valid ? "invalid response (nested deeper than " + std::to_string(kMaxBodyDepth) +
                            " levels or holding a lone UTF-16 surrogate escape)"
                      : "invalid response"));
      return false;
    }
    if (c.Exists(*body)) return true;
    last_.status = 200;
    Done(std::move(last_));
    return false;
  }
  // The step's result in pending_: false when the node is finished.
  bool OnStep() {
    const Step& step = node_.steps[i_++];
    if (pending_.error) {
      Done(Fail(std::move(pending_.cause)));
      return false;
    }
    last_ = std::move(pending_);
    have_answer_ = true;
    if (step.hard && !Success(last_.status)) {
      Done(std::move(last_));
      return false;
    }
    return true;
  }
  void Done(NodeResult r) {
    NodeDone k = std::move(k_);
    k(std::move(r));
  }

  std::shared_ptr<Run> run_;
  const Node& node_;
  std::shared_ptr<std::string> input_;
  int depth_;
  NodeDone k_;
  size_t i_ = 0;
  NodeResult last_;  // the previous step's answer (status 0 and no body before the first)
  bool have_answer_ = false;
  NodeResult pending_;
  bool in_call_ = false, answered_ = false;
};

// ---- Ensemble ----------------------------------------------------------------------------------------

// All steps start at once with the node's input. Results are taken in step order, as Go's loop over its
// channels does: a step's result is used when it is the next in order; a failure (no answer, or an answer
// that is not a JSON object) ends the node with 500 as soon as the loop waits for a step that has not
// answered yet; a Hard step answering non-2xx ends it with that answer (re-marshalled by Go).
class EnsembleRun : public std::enable_shared_from_this<EnsembleRun> {
 public:
  EnsembleRun(std::shared_ptr<Run> run, const Node& node, NodeDone k)
      : run_(std::move(run)), node_(node), k_(std::move(k)), results_(node.steps.size()) {}

  void Start(const std::shared_ptr<std::string>& input, int depth) {
    launching_ = true;
    for (size_t i = 0; i < node_.steps.size(); ++i) {
      auto self = shared_from_this();
      run_->RunStep(node_.steps[i], *input, depth, [self, i](NodeResult r) { self->OnStep(i, std::move(r)); });
    }
    launching_ = false;
    Collect();
  }

 private:
  struct Result {
    bool ready = false;
    int status = 0;
    std::string json;  // the step's answer as Go re-marshals a map[string]interface{}
  };

  void OnStep(size_t i, NodeResult r) {
    if (finished_) return;
    if (r.error) {
      if (!failure_) failure_ = std::move(r.cause);
    } else {
      auto v = ParseLikeGo(r.body);
      if (!v) {
        if (!failure_) failure_ = r.body.empty() ? "unexpected end of JSON input" : "step " + Key(i) + ": the answer is not valid JSON";
      } else if (!v->is_object() && !v->is_null()) {
        if (!failure_) failure_ = "json: cannot unmarshal " + GoKind(*v) + " into Go value of type map[string]interface {}";
      } else {
        results_[i].ready = true;
        results_[i].status = r.status;
        AppendGoJson(&results_[i].json, *v);
      }
    }
    if (!launching_) Collect();
  }

  void Collect() {
    while (next_ < results_.size()) {
      Result& r = results_[next_];
      if (!r.ready) {
        if (failure_) return Done(Fail(std::move(*failure_)));
        return;  // wait for this step
      }
      if (node_.steps[next_].hard && !Success(r.status)) return Done(NodeResult{false, {}, r.status, std::move(r.json)});
      ++next_;
    }
    // Go marshals map[string]interface{}: keys sorted; a later step with the same key replaces an earlier one.
    std::map<std::string, std::string*> by_key;
    for (size_t i = 0; i < results_.size(); ++i) by_key[Key(i)] = &results_[i].json;
    std::string out = "{";
    for (const auto& [key, json] : by_key) {
      if (out.size() > 1) out.push_back(',');
      AppendGoJsonString(&out, key);
      out.push_back(':');
      out.append(*json);
      if (out.size() > run_->graph().max_answer_bytes) {
        return Done(Fail("the Ensemble's answer exceeds " + std::to_string(run_->graph().max_answer_bytes) + " bytes"));
      }
    }
    out.push_back('}');
    Done(NodeResult{false, {}, 200, std::move(out)});
  }

  std::string Key(size_t i) const {
    return node_.steps[i].name.empty() ? std::to_string(i) : node_.steps[i].name;
  }
  static std::string GoKind(const Json& v) {
    if (v.is_array()) return "array";
    if (v.is_string()) return "string";
    if (v.is_boolean()) return "bool";
    return "number";
  }
  void Done(NodeResult r) {
    finished_ = true;
    NodeDone k = std::move(k_);
    k(std::move(r));
  }

  std::shared_ptr<Run> run_;
  const Node& node_;
  NodeDone k_;
  std::vector<Result> results_;
  std::optional<std::string> failure_;
  size_t next_ = 0;
  bool launching_ = false, finished_ = false;
};

// ---- Run -----------------------------------------------------------------------------------------------

void Run::Start(std::string body) {
  auto self = shared_from_this();
  RunNode("root", std::make_shared<std::string>(std::move(body)), 1, [self](NodeResult r) { self->Finish(std::move(r)); });
}

void Run::RunNode(const std::string& name, std::shared_ptr<std::string> input, int depth, NodeDone k) {
  if (depth > kMaxNodeDepth) return k(Fail("nodes nested deeper than " + std::to_string(kMaxNodeDepth) + " levels"));
  auto it = graph_->nodes.find(name);
  if (it == graph_->nodes.end()) return k(Fail("invalid route type: "));  // Go: a missing node has an empty type
  const Node& node = it->second;
  auto self = shared_from_this();
  // Switch and Splitter: one step, whose answer passes through; its failure to answer is a 500.
  auto one = [&](const Step& step) {
    std::string body = input.use_count() == 1 ? std::move(*input) : *input;
    RunStep(step, std::move(body), depth, [k = std::move(k)](NodeResult r) {
      if (r.error) r.status = 500;
      k(std::move(r));
    });
  };
  switch (node.type) {
    case RouterType::kSequence: {
      auto seq = std::make_shared<SequenceRun>(self, node, std::move(input), depth, std::move(k));
      seq->Advance();
      return;
    }
    case RouterType::kEnsemble: {
      auto ens = std::make_shared<EnsembleRun>(self, node, std::move(k));
      ens->Start(input, depth);
      return;
    }
    case RouterType::kSplitter: {
      int point = draw100_ ? draw100_() : 0;
      int64_t end = 0;
      for (const Step& step : node.steps) {
        end += step.weight;
        if (point < end) return one(step);
      }
      return k(Fail("no route was selected by the splitter"));
    }
    case RouterType::kSwitch: {
      // gjson.ValidBytes first in KServe; ParseLikeGo accepts only what it accepts.
      if (auto body = ParseLikeGo(*input, DuplicateKeys::kFirst)) {
        for (const Step& step : node.steps) {
          if (step.condition && step.condition->Exists(*body)) return one(step);
        }
      }
      return k(Fail("None of the routes matched with the switch condition", 404));
    }
  }
}

void Run::RunStep(const Step& step, std::string body, int depth, NodeDone k) {
  if (!step.node.empty()) {
    // A nested node's error reaches the parent as an error (the parent answers 500 with its cause).
    return RunNode(step.node, std::make_shared<std::string>(std::move(body)), depth + 1,
                   [k = std::move(k)](NodeResult r) {
                     if (r.error) r.status = 500;
                     k(std::move(r));
                   });
  }
  if (++calls_ > kMaxCallsPerRun) {
    return k(Fail("the graph made more than " + std::to_string(kMaxCallsPerRun) + " calls in one request"));
  }
  caller_->Call(step.target, std::move(body), headers_, [k = std::move(k)](CallOutcome out) {
    if (!out.transport.ok()) return k(Fail(out.transport.message()));
    k(NodeResult{false, {}, out.status, std::move(out.body)});
  });
}

void Run::Finish(NodeResult r) {
  if (finished_) return;
  finished_ = true;
  Answer a;
  if (!r.error && (r.status < 100 || r.status > 999)) {
    // Go's WriteHeader panics on such a status (a Sequence without steps answers 0) and the client gets
    // its connection closed; inferd answers with an error instead.
    r = Fail("the graph produced no answer (status " + std::to_string(r.status) + ": a node without steps)");
  }
  if (!r.error && r.body.size() > graph_->max_answer_bytes) {
    r = Fail("the graph's answer exceeds " + std::to_string(graph_->max_answer_bytes) + " bytes");
  }
  if (r.error) {
    a.status = r.status == 404 ? 404 : 500;
    a.body = ErrorBody(r.cause);
    a.json = true;
  } else {
    a.status = r.status;
    a.json = GoJsonValid(r.body);
    a.body = std::move(r.body);
  }
  auto done = std::move(done_);
  done(std::move(a));
}

// Go's callService: for each pattern in order, every incoming header not yet taken whose canonical name
// matches (unanchored) is copied with all its values. Never copied, whatever the patterns: Host (Go's
// server moves it out of the header map), and the framing headers Go's client writes itself
// (Content-Length, Transfer-Encoding, Connection).
Headers Propagate(const Graph& g, const Headers& in) {
  Headers out;
  if (g.propagate.empty()) return out;
  std::vector<std::string> canon;
  canon.reserve(in.size());
  for (const Header& h : in) canon.push_back(CanonicalHeaderName(h.name));
  std::vector<bool> taken(in.size(), false);
  for (size_t i = 0; i < in.size(); ++i) {
    const std::string& c = canon[i];
    taken[i] = c == "Host" || c == "Content-Length" || c == "Transfer-Encoding" || c == "Connection";
  }
  for (const auto& re : g.propagate) {
    for (size_t i = 0; i < in.size(); ++i) {
      if (taken[i] || !RE2::PartialMatch(canon[i], *re)) continue;
      for (size_t j = i; j < in.size(); ++j) {  // all values of that name
        if (!taken[j] && canon[j] == canon[i]) {
          taken[j] = true;
          out.push_back(Header{canon[j], in[j].value});
        }
      }
    }
  }
  return out;
}

}  // namespace

void RunGraph(std::shared_ptr<const Graph> graph, std::string body, Headers headers, StepCaller* caller,
              std::function<int()> draw100, std::function<void(Answer)> done) {
  if (!graph || !caller) {
    done(Answer{500, ErrorBody("no graph"), true});
    return;
  }
  Headers propagated = Propagate(*graph, headers);
  auto run = std::make_shared<Run>(std::move(graph), std::move(propagated), caller, std::move(draw100), std::move(done));
  run->Start(std::move(body));
}

}  // namespace inferd::graph
