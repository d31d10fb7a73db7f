// RunGraph and CompileGraph against a fake StepCaller: KServe's e2e graph scenarios
// (test/e2e/graph/test_inference_graph.py) and its router's Go unit tests (cmd/router/main_test.go), each
// with synchronous and deferred completion, plus inferd's bounds.
#include "graph/graph.h"

#include <gtest/gtest.h>

#include <deque>
#include <random>

#include "graph/go_json.h"

namespace inferd::graph {
namespace {

using nlohmann::json;

constexpr const char* kSuccess = R"({"predictions":[{"message":"SUCCESS"}]})";
constexpr const char* kError = R"({"detail":"Intentional 404 code"})";
constexpr const char* kNoMatch =
    R"({"error":"Failed to process request","cause":"None of the routes matched with the switch condition"})";

// Services by URL. `deferred`: answers are queued and delivered by Drain(), in order or reversed.
class FakeCaller : public StepCaller {
 public:
  using Handler = std::function<CallOutcome(const std::string& body, const Headers& headers)>;
  struct Seen {
    std::string url, body;
    Headers headers;
  };
  std::map<std::string, Handler> services;
  bool deferred = false;
  std::vector<Seen> seen;
  std::deque<std::function<void()>> queue;

  FakeCaller() {
    Fixed("http://s", 200, kSuccess);
    Fixed("http://e", 404, kError);
  }
  void Fixed(const std::string& url, int status, std::string body) {
    services[url] = [status, body](const std::string&, const Headers&) { return CallOutcome{Status::Ok(), status, body}; };
  }
  void Call(const ServiceTarget& target, std::string body, Headers headers,
            std::function<void(CallOutcome)> done) override {
    std::string key = target.url.empty() ? "isvc:" + target.service + target.path : target.url;
    seen.push_back({key, body, headers});
    CallOutcome out;
    auto it = services.find(key);
    if (it == services.end()) {
      out.transport = Unavailable("dial tcp: connection refused (" + key + ")");
    } else {
      out = it->second(body, headers);
    }
    if (!deferred) return done(std::move(out));
    queue.push_back([done = std::move(done), out = std::move(out)]() mutable { done(std::move(out)); });
  }
  void Drain(bool reversed = false) {
    while (!queue.empty()) {
      auto f = reversed ? std::move(queue.back()) : std::move(queue.front());
      if (reversed) queue.pop_back(); else queue.pop_front();
      f();
    }
  }
};

std::shared_ptr<const Graph> Compile(const std::string& spec, std::vector<std::string> patterns = {}) {
  auto g = CompileGraph(json::parse(spec), "ns", "g", patterns, [](const std::string& svc) -> StatusOr<ServiceTarget> {
    if (svc == "missing") return NotFound("InferenceService \"missing\" not found");
    ServiceTarget t;
    t.ns = "ns";
    t.service = svc;
    t.path = "/v1/models/" + svc + ":predict";
    return t;
  });
  EXPECT_TRUE(g.ok()) << g.status().message();
  return g.ok() ? *g : nullptr;
}

struct Outcome {
  int calls = 0;
  Answer answer;
};

Outcome Execute(const std::shared_ptr<const Graph>& g, FakeCaller& caller, std::string body, Headers headers = {},
                int draw = 0, bool reversed = false) {
  Outcome o;
  RunGraph(g, std::move(body), std::move(headers), &caller, [draw] { return draw; }, [&o](Answer a) {
    ++o.calls;
    o.answer = std::move(a);
  });
  caller.Drain(reversed);
  EXPECT_EQ(o.calls, 1);
  return o;
}

class GraphModes : public ::testing::TestWithParam<bool> {
 protected:
  void SetUp() override { caller.deferred = GetParam(); }
  Answer Send(const std::shared_ptr<const Graph>& g, std::string body, Headers headers = {}, int draw = 0) {
    return Execute(g, caller, std::move(body), std::move(headers), draw).answer;
  }
  FakeCaller caller;
};

INSTANTIATE_TEST_SUITE_P(SyncAndDeferred, GraphModes, ::testing::Bool(),
                         [](const auto& info) { return info.param ? "Deferred" : "Sync"; });

const char* kInput = R"({"instances":[[6.8,2.8,4.8,1.4]]})";

// ---- KServe's e2e scenarios ----

TEST_P(GraphModes, Scenario1SoftFailureLastStepWins) {
  auto g = Compile(R"({"nodes":{"root":{"routerType":"Sequence","steps":[
      {"serviceUrl":"http://s"},{"serviceUrl":"http://e","data":"$request"}]}}})");
  Answer a = Send(g, kInput);
  EXPECT_EQ(a.status, 404);
  EXPECT_EQ(a.body, kError);
  EXPECT_TRUE(a.json);
  ASSERT_EQ(caller.seen.size(), 2u);
  EXPECT_EQ(caller.seen[1].body, kInput);  // $request: the node's input
}

TEST_P(GraphModes, Scenario2SoftFailureThenSuccess) {
  auto g = Compile(R"({"nodes":{"root":{"routerType":"Sequence","steps":[
      {"serviceUrl":"http://e"},{"serviceUrl":"http://s"}]}}})");
  Answer a = Send(g, kInput);
  EXPECT_EQ(a.status, 200);
  EXPECT_EQ(a.body, kSuccess);
}

TEST_P(GraphModes, Scenario3HardFailureStops) {
  auto g = Compile(R"({"nodes":{"root":{"routerType":"Sequence","steps":[
      {"serviceUrl":"http://e","dependency":"Hard"},{"serviceUrl":"http://s"}]}}})");
  Answer a = Send(g, kInput);
  EXPECT_EQ(a.status, 404);
  EXPECT_EQ(a.body, kError);
  EXPECT_EQ(caller.seen.size(), 1u);
}

TEST_P(GraphModes, Scenario4SwitchRoot) {
  auto g = Compile(R"J({"nodes":{"root":{"routerType":"Switch","steps":[
      {"name":"rootStep1","serviceUrl":"http://e","condition":"[@this].#(decision_picker==ERROR)","dependency":"Soft"},
      {"name":"rootStep2","serviceUrl":"http://s","condition":"[@this].#(decision_picker==SUCCESS)"}]}}})J");
  Answer a = Send(g, R"({"decision_picker":"ERROR","key1":{"name":"abc"}})");
  EXPECT_EQ(a.status, 404);
  EXPECT_EQ(a.body, kError);
  a = Send(g, R"({"decision_picker":"SUCCESS","key1":{"name":"abc"}})");
  EXPECT_EQ(a.status, 200);
  EXPECT_EQ(a.body, kSuccess);
  a = Send(g, R"({"decision_picker":"NO_MATCH","key1":{"name":"abc"}})");
  EXPECT_EQ(a.status, 404);
  EXPECT_EQ(a.body, kNoMatch);
  EXPECT_TRUE(a.json);
  a = Send(g, "not json");
  EXPECT_EQ(a.status, 404);
  EXPECT_EQ(a.body, kNoMatch);
}

const char* kSwitchChild = R"J(
    "node1":{"routerType":"Switch","steps":[
      {"name":"node1Step1","serviceUrl":"http://e","condition":"[@this].#(decision_picker==ERROR)","dependency":"%s"}]})J";

std::string Nested(const char* root_dep, const char* child, const char* child_dep) {
  char buf[1024];
  std::snprintf(buf, sizeof buf, child, child_dep);
  return std::string(R"({"nodes":{"root":{"routerType":"Sequence","steps":[
      {"name":"rootStep1","nodeName":"node1","dependency":")") + root_dep + R"("},
      {"name":"rootStep2","serviceUrl":"http://s"}]},)" + buf + "}}";
}

TEST_P(GraphModes, Scenario5SoftSwitchChild) {
  auto g = Compile(Nested("Soft", kSwitchChild, "Soft"));
  Answer a = Send(g, R"({"decision_picker":"ERROR"})");
  EXPECT_EQ(a.status, 200);
  EXPECT_EQ(a.body, kSuccess);
}

TEST_P(GraphModes, Scenario6HardSwitchChild) {
  auto g = Compile(Nested("Hard", kSwitchChild, "Hard"));
  Answer a = Send(g, R"({"decision_picker":"ERROR"})");
  EXPECT_EQ(a.status, 404);
  EXPECT_EQ(a.body, kError);
}

TEST_P(GraphModes, Scenario7EnsembleSoft) {
  auto g = Compile(R"({"nodes":{"root":{"routerType":"Ensemble","steps":[
      {"name":"rootStep1","serviceUrl":"http://s"},{"name":"rootStep2","serviceUrl":"http://e"}]}}})");
  Answer a = Send(g, R"({"decision_picker":"SUCCESS"})");
  EXPECT_EQ(a.status, 200);
  EXPECT_EQ(a.body,
            R"({"rootStep1":{"predictions":[{"message":"SUCCESS"}]},"rootStep2":{"detail":"Intentional 404 code"}})");
}

TEST_P(GraphModes, Scenario8EnsembleHard) {
  auto g = Compile(R"({"nodes":{"root":{"routerType":"Ensemble","steps":[
      {"name":"rootStep1","serviceUrl":"http://e","dependency":"Hard"},
      {"name":"rootStep2","serviceUrl":"http://s"},{"name":"rootStep3","serviceUrl":"http://s"}]}}})");
  Answer a = Send(g, R"({"decision_picker":"SUCCESS"})");
  EXPECT_EQ(a.status, 404);
  EXPECT_EQ(a.body, kError);
  EXPECT_EQ(caller.seen.size(), 3u);  // every step is called, as Go starts them all
}

const char* kSplitterChild = R"J(
    "node1":{"routerType":"Splitter","steps":[
      {"name":"node1Step1","weight":100,"serviceUrl":"http://e","condition":"[@this].#(decision_picker==ERROR)","dependency":"%s"}]})J";

TEST_P(GraphModes, Scenario9SoftSplitterChild) {
  auto g = Compile(Nested("Soft", kSplitterChild, "Soft"));
  Answer a = Send(g, kInput, {}, 99);
  EXPECT_EQ(a.status, 200);
  EXPECT_EQ(a.body, kSuccess);
  EXPECT_FALSE(g->warnings.empty());  // the Splitter's condition is ignored, and said so
}

TEST_P(GraphModes, Scenario10HardSplitterChild) {
  auto g = Compile(Nested("Hard", kSplitterChild, "Hard"));
  Answer a = Send(g, kInput, {}, 0);
  EXPECT_EQ(a.status, 404);
  EXPECT_EQ(a.body, kError);
}

// ---- KServe's Go unit tests ----

TEST_P(GraphModes, ModelChainingMapsPredictionsToInstances) {
  caller.Fixed("http://m1", 200, R"({"predictions":"1"})");
  caller.Fixed("http://m2", 200, R"({"predictions":"2"})");
  auto g = Compile(R"({"nodes":{"root":{"routerType":"Sequence","steps":[
      {"name":"model1","serviceUrl":"http://m1","mapPredictionsToInstances":true},
      {"name":"model2","serviceUrl":"http://m2","data":"$response"}]}}})");
  Answer a = Send(g, R"({"predictions":["test","test2"]})", {{"Authorization", "Bearer Token"}});
  EXPECT_EQ(a.body, R"({"predictions":"2"})");
  ASSERT_EQ(caller.seen.size(), 2u);
  EXPECT_EQ(caller.seen[0].body, R"({"instances":["test","test2"]})");
  EXPECT_EQ(caller.seen[1].body, R"({"predictions":"1"})");
  EXPECT_TRUE(caller.seen[0].headers.empty());  // nothing propagates without patterns
}

TEST_P(GraphModes, EnsembleKeyedByNameOrIndex) {
  caller.Fixed("http://m1", 200, R"({"predictions":[1,2.50,1e21,1e-7,0.000001]})");
  caller.Fixed("http://m2", 200, R"({"z":1,"a":"<&>","a":"dup"})");
  auto g = Compile(R"({"nodes":{"root":{"routerType":"Ensemble","steps":[
      {"serviceUrl":"http://m1"},{"name":"model2","serviceUrl":"http://m2"}]}}})");
  Answer a = Send(g, "{}");
  EXPECT_EQ(a.status, 200);
  // Go: keys sorted, numbers re-formatted as float64, duplicate keys: the last wins, HTML escaped.
  EXPECT_EQ(a.body, R"({"0":{"predictions":[1,2.5,1e+21,1e-7,0.000001]},"model2":{"a":"dup","z":1}})");
}

TEST_P(GraphModes, SequenceSwitchEnsembleWithConditions) {
  caller.Fixed("http://m1", 200, R"({"predictions":[{"label":"cat","score":[0.1,0.9]}]})");
  caller.Fixed("http://m2", 200, R"({"predictions":[{"label":"dog","score":[0.8,0.2]}]})");
  caller.Fixed("http://m3", 200, R"({"predictions":[{"label":"beagle","score":[0.1,0.9]}]})");
  caller.Fixed("http://m4", 200, R"({"predictions":[{"label":"poodle","score":[0.8,0.2]}]})");
  auto g = Compile(R"J({"nodes":{
      "root":{"routerType":"Sequence","steps":[
        {"name":"step1","nodeName":"animal-categorize"},
        {"name":"step2","nodeName":"breed-categorize","condition":"predictions.#(label==\"dog\")"}]},
      "animal-categorize":{"routerType":"Switch","steps":[
        {"name":"model1","serviceUrl":"http://m1","condition":"instances.#(modelId==\"1\")"},
        {"name":"model2","serviceUrl":"http://m2","condition":"instances.#(modelId==\"2\")"}]},
      "breed-categorize":{"routerType":"Ensemble","steps":[
        {"name":"model3","serviceUrl":"http://m3"},{"name":"model4","serviceUrl":"http://m4"}]}}})J");
  Answer a = Send(g, R"({"instances":[{"modelId":"2"}]})");
  EXPECT_EQ(a.status, 200);
  auto body = json::parse(a.body);
  EXPECT_EQ(body["model3"], json::parse(R"({"predictions":[{"label":"beagle","score":[0.1,0.9]}]})"));
  EXPECT_EQ(body["model4"], json::parse(R"({"predictions":[{"label":"poodle","score":[0.8,0.2]}]})"));
  // The Ensemble got the Sequence's input ($request is the default), not step1's answer.
  ASSERT_EQ(caller.seen.size(), 3u);
  EXPECT_EQ(caller.seen[1].body, R"({"instances":[{"modelId":"2"}]})");
}

TEST_P(GraphModes, UnmetSequenceConditionReturnsPreviousAnswerWith200) {
  caller.Fixed("http://m1", 503, R"({"predictions":[{"label":"cat","score":[0.8,0.2]}]})");
  auto g = Compile(R"J({"nodes":{"root":{"routerType":"Sequence","steps":[
      {"name":"step1","serviceUrl":"http://m1"},
      {"name":"step2","serviceUrl":"http://s","condition":"predictions.#(label==\"dog\")"}]}}})J");
  Answer a = Send(g, "{}");
  EXPECT_EQ(a.status, 200);  // even though step1 failed (softly)
  EXPECT_EQ(a.body, R"({"predictions":[{"label":"cat","score":[0.8,0.2]}]})");
  EXPECT_EQ(caller.seen.size(), 1u);
}

TEST_P(GraphModes, ConditionOnFirstSequenceStepIsInvalidResponse) {
  auto g = Compile(R"({"nodes":{"root":{"routerType":"Sequence","steps":[
      {"serviceUrl":"http://s","condition":"instances"}]}}})");
  Answer a = Send(g, R"({"instances":[1]})");
  EXPECT_EQ(a.status, 500);
  EXPECT_EQ(a.body, R"({"error":"Failed to process request","cause":"invalid response"})");
  EXPECT_TRUE(caller.seen.empty());
}

TEST_P(GraphModes, ConditionOnNonJsonPreviousAnswer) {
  caller.Fixed("http://html", 502, "<html>bad gateway</html>");
  auto g = Compile(R"({"nodes":{"root":{"routerType":"Sequence","steps":[
      {"serviceUrl":"http://html"},{"serviceUrl":"http://s","condition":"x"}]}}})");
  Answer a = Send(g, "{}");
  EXPECT_EQ(a.status, 500);
  EXPECT_NE(a.body.find("invalid response"), std::string::npos);
}

// ---- headers (TestCallServiceWhen...HeadersToPropagate) ----

Headers Incoming() {
  return {{"authorization", "Bearer Token"}, {"test-header-1", "Test-Header-1"}, {"Test-Header-2", "Test-Header-2"},
          {"TEST-HEADER-3", "Test-Header-3"}, {"x-request-id", "abc"}};
}
std::map<std::string, std::string> AsMap(const Headers& h) {
  std::map<std::string, std::string> m;
  for (const auto& x : h) m[x.name] += x.value;
  return m;
}

TEST_P(GraphModes, HeadersPropagatedByExactNames) {
  auto g = Compile(R"({"nodes":{"root":{"routerType":"Sequence","steps":[{"serviceUrl":"http://s"}]}}})",
                   {"Test-Header-1", "Authorization"});
  Send(g, "{}", Incoming());
  ASSERT_EQ(caller.seen.size(), 1u);
  EXPECT_EQ(AsMap(caller.seen[0].headers),
            (std::map<std::string, std::string>{{"Authorization", "Bearer Token"}, {"Test-Header-1", "Test-Header-1"}}));
}

TEST_P(GraphModes, HeadersPropagatedByPatterns) {
  auto g = Compile(R"({"nodes":{"root":{"routerType":"Sequence","steps":[{"serviceUrl":"http://s"}]}}})",
                   {"Test-Header-*", "Auth*"});
  Send(g, "{}", Incoming());
  EXPECT_EQ(AsMap(caller.seen[0].headers),
            (std::map<std::string, std::string>{{"Authorization", "Bearer Token"},
                                                {"Test-Header-1", "Test-Header-1"},
                                                {"Test-Header-2", "Test-Header-2"},
                                                {"Test-Header-3", "Test-Header-3"}}));
}

TEST_P(GraphModes, InvalidHeaderPatternSkippedWithWarning) {
  auto g = Compile(R"({"nodes":{"root":{"routerType":"Sequence","steps":[{"serviceUrl":"http://s"}]}}})",
                   {"Test-Header-[0-9", "Auth*"});
  ASSERT_EQ(g->propagate.size(), 1u);
  ASSERT_EQ(g->warnings.size(), 1u);
  EXPECT_NE(g->warnings[0].find("Test-Header-[0-9"), std::string::npos);
  Send(g, "{}", Incoming());
  EXPECT_EQ(AsMap(caller.seen[0].headers), (std::map<std::string, std::string>{{"Authorization", "Bearer Token"}}));
}

TEST_P(GraphModes, FramingHeadersNeverPropagated) {
  auto g = Compile(R"({"nodes":{"root":{"routerType":"Sequence","steps":[{"serviceUrl":"http://s"}]}}})", {".*"});
  Send(g, "{}", {{"host", "h"}, {"content-length", "2"}, {"Transfer-Encoding", "chunked"}, {"connection", "close"},
                 {"x-a", "1"}, {"X-A", "2"}, {"content-type", "application/x"}});
  EXPECT_EQ(caller.seen[0].headers.size(), 3u);
  EXPECT_EQ(AsMap(caller.seen[0].headers),
            (std::map<std::string, std::string>{{"X-A", "12"}, {"Content-Type", "application/x"}}));
}

TEST(CanonicalHeaderNameTest, GoRules) {
  EXPECT_EQ(CanonicalHeaderName("x-request-id"), "X-Request-Id");
  EXPECT_EQ(CanonicalHeaderName("CONTENT-TYPE"), "Content-Type");
  EXPECT_EQ(CanonicalHeaderName("a--b"), "A--B");
  EXPECT_EQ(CanonicalHeaderName("has space"), "has space");  // not a token: unchanged
  EXPECT_EQ(CanonicalHeaderName(""), "");
}

// ---- the rest of KServe's semantics ----

TEST_P(GraphModes, ContentTypeOnlyForJsonAnswers) {
  caller.Fixed("http://text", 200, "plain text");
  caller.Fixed("http://latin1", 200, "\"caf\xe9\"");  // Go's json.Valid does not check UTF-8
  auto g = Compile(R"({"nodes":{"root":{"routerType":"Sequence","steps":[{"serviceUrl":"http://text"}]}}})");
  Answer a = Send(g, "{}");
  EXPECT_EQ(a.body, "plain text");
  EXPECT_FALSE(a.json);
  g = Compile(R"({"nodes":{"root":{"routerType":"Sequence","steps":[{"serviceUrl":"http://latin1"}]}}})");
  EXPECT_TRUE(Send(g, "{}").json);
}

TEST_P(GraphModes, TransportErrorIs500WithCause) {
  auto g = Compile(R"({"nodes":{"root":{"routerType":"Sequence","steps":[{"serviceUrl":"http://nowhere"}]}}})");
  Answer a = Send(g, "{}");
  EXPECT_EQ(a.status, 500);
  auto body = json::parse(a.body);
  EXPECT_EQ(body["error"], "Failed to process request");
  EXPECT_NE(body["cause"].get<std::string>().find("connection refused"), std::string::npos);
}

TEST_P(GraphModes, NestedSwitchWithoutMatchIs500) {
  // Only the root's Switch answers 404; below a step, routeStep's error becomes a 500.
  auto g = Compile(Nested("Soft", kSwitchChild, "Soft"));
  Answer a = Send(g, R"({"decision_picker":"SUCCESS"})");
  EXPECT_EQ(a.status, 500);
  EXPECT_NE(a.body.find("None of the routes matched"), std::string::npos);
}

TEST_P(GraphModes, EnsembleNonObjectAnswerFailsTheNode) {
  caller.Fixed("http://html", 200, "<html></html>");
  caller.Fixed("http://arr", 200, "[1]");
  caller.Fixed("http://null", 200, "null");
  auto g = Compile(R"({"nodes":{"root":{"routerType":"Ensemble","steps":[
      {"name":"a","serviceUrl":"http://s"},{"name":"b","serviceUrl":"http://html"}]}}})");
  EXPECT_EQ(Send(g, "{}").status, 500);
  g = Compile(R"({"nodes":{"root":{"routerType":"Ensemble","steps":[{"name":"a","serviceUrl":"http://arr"}]}}})");
  Answer a = Send(g, "{}");
  EXPECT_EQ(a.status, 500);
  EXPECT_NE(a.body.find("cannot unmarshal array"), std::string::npos);
  g = Compile(R"({"nodes":{"root":{"routerType":"Ensemble","steps":[{"name":"a","serviceUrl":"http://null"}]}}})");
  EXPECT_EQ(Send(g, "{}").body, R"({"a":null})");  // Go: a nil map
}

TEST_P(GraphModes, SplitterPicksByCumulativeWeight) {
  caller.Fixed("http://a", 200, R"("a")");
  caller.Fixed("http://b", 200, R"("b")");
  auto g = Compile(R"({"nodes":{"root":{"routerType":"Splitter","steps":[
      {"serviceUrl":"http://a","weight":30},{"serviceUrl":"http://b","weight":70}]}}})");
  EXPECT_EQ(Send(g, "{}", {}, 0).body, R"("a")");
  EXPECT_EQ(Send(g, "{}", {}, 29).body, R"("a")");
  EXPECT_EQ(Send(g, "{}", {}, 30).body, R"("b")");
  EXPECT_EQ(Send(g, "{}", {}, 99).body, R"("b")");
  Answer a = Send(g, "{}", {}, 100);  // outside [0,100): no route
  EXPECT_EQ(a.status, 500);
  EXPECT_NE(a.body.find("no route was selected by the splitter"), std::string::npos);
}

TEST_P(GraphModes, ServiceNameResolvedByTheResolver) {
  caller.Fixed("isvc:sklearn/v1/models/sklearn:predict", 200, R"({"predictions":[1,1]})");
  auto g = Compile(R"({"nodes":{"root":{"routerType":"Sequence","steps":[{"serviceName":"sklearn","dependency":"Hard"}]}}})");
  EXPECT_EQ(Send(g, kInput).body, R"({"predictions":[1,1]})");
}

TEST_P(GraphModes, MapPredictionsKeepsBodyWhenNotApplicable) {
  caller.services["http://echo"] = [](const std::string& body, const Headers&) {
    return CallOutcome{Status::Ok(), 200, body};
  };
  auto g = Compile(R"({"nodes":{"root":{"routerType":"Sequence","steps":[
      {"serviceUrl":"http://echo","mapPredictionsToInstances":true}]}}})");
  for (const char* same : {R"({"predictions":[]})", R"({"predictions":"x"})", "[1]", "not json", "null",
                           R"({"instances":[1]})", R"({"predictions":[1],"instances":"bad"})"}) {
    EXPECT_EQ(Send(g, same).body, same) << same;
  }
  EXPECT_EQ(Send(g, R"({"Predictions":[{"b":1,"a":2}],"instances":[0],"other":1})").body, R"({"instances":[{"a":2,"b":1}]})");
}

TEST_P(GraphModes, SequenceWithoutConditionPassesBytesThrough) {
  caller.services["http://echo"] = [](const std::string& body, const Headers&) {
    return CallOutcome{Status::Ok(), 200, body};
  };
  auto g = Compile(R"({"nodes":{"root":{"routerType":"Sequence","steps":[
      {"serviceUrl":"http://echo"},{"serviceUrl":"http://echo","data":"$response"}]}}})");
  // Not JSON, invalid UTF-8, a NUL byte, numbers Go would re-format: all reach the client unchanged.
  const std::string odd("{\"a\":1.50,\"a\":2} \xff\0tail", 23);
  Answer a = Send(g, odd);
  EXPECT_EQ(a.body, odd);
  EXPECT_FALSE(a.json);
  EXPECT_EQ(Send(g, R"({"n":1.50e1})").body, R"({"n":1.50e1})");
}

TEST_P(GraphModes, LargeBodiesThroughConditionsAndEnsembles) {
  // Bodies past the per-thread parser's kept capacity (256 KiB): parsed, then the parser is released.
  std::string big = R"({"decision_picker":"SUCCESS","instances":[)";
  for (int i = 0; i < 60000; ++i) big += std::to_string(i) + ",";
  big += "0]}";
  auto g = Compile(R"J({"nodes":{"root":{"routerType":"Switch","steps":[
      {"serviceUrl":"http://e","condition":"instances.#(==59999)"},{"serviceUrl":"http://s","condition":"x"}]}}})J");
  EXPECT_EQ(Send(g, big).status, 404);
  EXPECT_EQ(Send(g, R"({"instances":[59999]})").status, 404);
  EXPECT_EQ(Send(g, R"({"x":1})").status, 200);
}

TEST_P(GraphModes, EmptySequenceAnswersAnError) {
  auto g = Compile(R"({"nodes":{"root":{"routerType":"Sequence"}}})");
  Answer a = Send(g, "{}");
  EXPECT_EQ(a.status, 500);
  EXPECT_NE(a.body.find("no answer"), std::string::npos);
}

// ---- bounds ----

TEST_P(GraphModes, CallsPerRunAreBounded) {
  // root: Ensemble of 40 steps, each a node that is an Ensemble of 40 service steps: 1600 calls.
  json spec;
  spec["nodes"]["root"]["routerType"] = "Ensemble";
  spec["nodes"]["fan"]["routerType"] = "Ensemble";
  for (int i = 0; i < 40; ++i) {
    spec["nodes"]["root"]["steps"].push_back({{"nodeName", "fan"}});
    spec["nodes"]["fan"]["steps"].push_back({{"serviceUrl", "http://s"}});
  }
  auto g = Compile(spec.dump());
  Answer a = Send(g, "{}");
  EXPECT_EQ(a.status, 500);
  EXPECT_NE(a.body.find("more than 1024 calls"), std::string::npos);
  EXPECT_LE(caller.seen.size(), static_cast<size_t>(kMaxCallsPerRun));
}

TEST_P(GraphModes, AnswerBytesAreBounded) {
  caller.Fixed("http://big", 200, R"({"x":")" + std::string(4000, 'a') + R"("})");
  auto compiled = Compile(R"({"nodes":{"root":{"routerType":"Ensemble","steps":[
      {"name":"a","serviceUrl":"http://big"},{"name":"b","serviceUrl":"http://big"}]}}})");
  auto g = std::make_shared<Graph>(*compiled);
  g->max_answer_bytes = 6000;
  Answer a = Send(g, "{}");
  EXPECT_EQ(a.status, 500);
  EXPECT_NE(a.body.find("exceeds 6000 bytes"), std::string::npos);
}

TEST(CompileGraphTest, RefusesUnknownNodesCyclesDepthAndBadConditions) {
  auto compile = [](const std::string& spec) {
    return CompileGraph(json::parse(spec), "ns", "g", {}, [](const std::string& s) -> StatusOr<ServiceTarget> {
      if (s == "missing") return NotFound("InferenceService \"missing\" not found");
      return ServiceTarget{"ns", s, "/v1/models/" + s + ":predict", ""};
    });
  };
  auto r = compile(R"({"nodes":{"root":{"routerType":"Sequence","steps":[{"nodeName":"nope"}]}}})");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("spec.nodes.root.steps[0].nodeName"), std::string::npos);
  r = compile(R"({"nodes":{"root":{"routerType":"Sequence","steps":[{"nodeName":"a"}]},
                           "a":{"routerType":"Sequence","steps":[{"nodeName":"root"}]}}})");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("cycle"), std::string::npos);
  r = compile(R"({"nodes":{"root":{"routerType":"Switch","steps":[{"serviceUrl":"http://s","condition":"a|b"}]}}})");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("spec.nodes.root.steps[0].condition"), std::string::npos);
  r = compile(R"({"nodes":{"root":{"routerType":"Sequence","steps":[{"serviceName":"missing"}]}}})");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("spec.nodes.root.steps[0].serviceName"), std::string::npos);
  json deep;
  for (int i = 0; i <= kMaxNodeDepth; ++i) {
    std::string name = i == 0 ? "root" : "n" + std::to_string(i);
    deep["nodes"][name]["routerType"] = "Sequence";
    deep["nodes"][name]["steps"].push_back({{"nodeName", "n" + std::to_string(i + 1)}});
  }
  deep["nodes"]["n" + std::to_string(kMaxNodeDepth + 1)] = {{"routerType", "Sequence"}, {"steps", {{{"serviceUrl", "http://s"}}}}};
  r = compile(deep.dump());
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("deeper"), std::string::npos);
  for (const char* bad : {R"([])", R"({"nodes":[]})", R"({"nodes":{"x":{}}})", R"({"nodes":{"root":{"routerType":"Loop"}}})",
                          R"({"nodes":{"root":{"routerType":"Sequence","steps":{}}}})",
                          R"({"nodes":{"root":{"routerType":"Sequence","steps":[1]}}})",
                          R"({"nodes":{"root":{"routerType":"Sequence","steps":[{}]}}})"}) {
    EXPECT_FALSE(compile(bad).ok()) << bad;
  }
  auto ok = compile(R"({"nodes":{"root":{"routerType":"Sequence","steps":[{"serviceUrl":"http://s"}]}},
                       "routerTimeouts":{"serviceClient":5,"serverWrite":0}})");
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ((*ok)->step_timeout, std::chrono::milliseconds(5000));
  EXPECT_EQ((*ok)->run_timeout, std::chrono::milliseconds(0));
}

TEST(RunGraphTest, EnsembleOrderOfDeferredResults) {
  // Results arriving in reverse order still give Go's answer: the Hard failure of the first step wins
  // even though the second step's transport error arrived first.
  FakeCaller caller;
  caller.deferred = true;
  auto g = Compile(R"({"nodes":{"root":{"routerType":"Ensemble","steps":[
      {"name":"a","serviceUrl":"http://e","dependency":"Hard"},{"name":"b","serviceUrl":"http://nowhere"}]}}})");
  Outcome o = Execute(g, caller, "{}", {}, 0, /*reversed=*/true);
  // Go waits for step a's channel and also receives from the error channel: b's error, already there, wins.
  EXPECT_EQ(o.answer.status, 500);
  o = Execute(g, caller, "{}", {}, 0, /*reversed=*/false);
  EXPECT_EQ(o.answer.status, 404);
}

TEST(RunGraphTest, DoneExactlyOnceOnRandomGraphs) {
  // Random graphs of every router type, services that succeed, fail, answer non-JSON or fail to answer,
  // sync or deferred in random order: done runs exactly once, after which nothing else happens.
  std::mt19937 rng(1234);
  FakeCaller caller;
  caller.Fixed("http://html", 500, "<html>");
  caller.Fixed("http://obj", 201, R"({"predictions":[{"label":"dog"}],"instances":[{"modelId":"2"}]})");
  const char* urls[] = {"http://s", "http://e", "http://html", "http://obj", "http://nowhere"};
  const char* types[] = {"Sequence", "Switch", "Ensemble", "Splitter"};
  const char* conditions[] = {"predictions.#(label==\"dog\")", "instances.#(modelId==\"2\")", "detail", "[@this].#(x>1)"};
  for (int iter = 0; iter < 400; ++iter) {
    json spec;
    int nodes = 1 + static_cast<int>(rng() % 4);
    for (int n = 0; n < nodes; ++n) {
      std::string name = n == 0 ? "root" : "n" + std::to_string(n);
      const char* type = types[rng() % 4];
      json node = {{"routerType", type}, {"steps", json::array()}};
      int steps = static_cast<int>(rng() % 4);
      int weight_left = 100;
      for (int s = 0; s < steps; ++s) {
        json step;
        if (n + 1 < nodes && rng() % 3 == 0) {
          step["nodeName"] = "n" + std::to_string(n + 1 + static_cast<int>(rng() % static_cast<unsigned>(nodes - n - 1)));
        } else {
          step["serviceUrl"] = urls[rng() % 5];
        }
        if (rng() % 2) step["dependency"] = "Hard";
        if (rng() % 3 == 0) step["data"] = "$response";
        if (rng() % 4 == 0) step["mapPredictionsToInstances"] = true;
        if (rng() % 2) step["condition"] = conditions[rng() % 4];
        if (rng() % 2) step["name"] = "s" + std::to_string(s);
        int w = s + 1 == steps ? weight_left : static_cast<int>(rng() % static_cast<unsigned>(weight_left + 1));
        weight_left -= w;
        step["weight"] = w;
        node["steps"].push_back(step);
      }
      spec["nodes"][name] = node;
    }
    auto g = CompileGraph(spec, "ns", "g", {}, nullptr);
    ASSERT_TRUE(g.ok()) << g.status().message() << spec.dump();
    caller.deferred = rng() % 2;
    caller.seen.clear();
    int calls = 0;
    Answer answer;
    RunGraph(*g, R"({"instances":[{"modelId":"2"}],"x":2})", {}, &caller, [&] { return static_cast<int>(rng() % 100); },
             [&](Answer a) {
               ++calls;
               answer = std::move(a);
             });
    caller.Drain(rng() % 2);
    ASSERT_EQ(calls, 1) << spec.dump();
    EXPECT_TRUE(answer.status >= 100 && answer.status <= 999);
    if (answer.status == 404 && answer.body == kNoMatch) {
      EXPECT_EQ(spec["nodes"]["root"]["routerType"], "Switch");
    }
  }
}

}  // namespace
}  // namespace inferd::graph
