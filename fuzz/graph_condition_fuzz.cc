// fuzz/graph_condition_fuzz.cc: InferenceGraph conditions (graph/condition.h, gjson paths from a YAML file)
// evaluated on bodies a model server answers (graph/go_json.h), and a Switch and a mapping Sequence run on them
// (graph/graph.h) with an instant fake service.
// Input: the condition up to the first newline, then the body.
// Invariants:
// - Parse either refuses with InvalidArgument or gives a condition whose Exists agrees
//   with Value.
// - What ParseLikeGo accepts, Go's json.Valid accepts (GoJsonValid), and AppendGoJson's output of it is
//   valid and stable (marshalling what it parses back gives the same bytes).
// - RunGraph calls done exactly once, with a status in [100, 999] and a JSON body when it reports JSON.
#include <string>

#include "fuzz_check.h"
#include "graph/condition.h"
#include "graph/go_json.h"
#include "graph/graph.h"

using namespace inferd::graph;

namespace {

class Echo : public StepCaller {  // answers the body it got, at once
 public:
  void Call(const ServiceTarget&, std::string body, Headers, std::function<void(CallOutcome)> done) override {
    done(CallOutcome{inferd::Status::Ok(), 200, std::move(body)});
  }
};

void RunOne(const std::string& spec_condition, bool map, const std::string& body) {
  nlohmann::json spec = {{"nodes",
                          {{"root",
                            {{"routerType", "Sequence"},
                             {"steps",
                              {{{"nodeName", "pick"}, {"mapPredictionsToInstances", map}},
                               {{"serviceUrl", "http://echo"}, {"condition", spec_condition}, {"data", "$response"}}}}}},
                           {"pick", {{"routerType", "Switch"}, {"steps", {{{"serviceUrl", "http://echo"}, {"condition", spec_condition}}}}}}}}};
  auto g = CompileGraph(spec, "ns", "g", {"X-.*"}, nullptr);
  if (!g.ok()) return;  // refused conditions are checked below
  Echo echo;
  int calls = 0;
  RunGraph(*g, body, {{"x-trace", "1"}}, &echo, [] { return 0; }, [&](Answer a) {
    ++calls;
    FUZZ_CHECK(a.status >= 100 && a.status <= 999, "status " + std::to_string(a.status));
    if (a.json) FUZZ_CHECK(GoJsonValid(a.body), "answer marked JSON is not");
  });
  FUZZ_CHECK(calls == 1, "done ran " + std::to_string(calls) + " times");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in = inferd::fuzz::AsText(data, size);
  size_t nl = in.find('\n');
  std::string_view path = in.substr(0, nl);
  std::string body(nl == std::string_view::npos ? std::string_view() : in.substr(nl + 1));

  auto doc = ParseLikeGo(body);
  if (doc) {
    FUZZ_CHECK(GoJsonValid(body), "ParseLikeGo accepted what json.Valid refuses");
    std::string once;
    AppendGoJson(&once, *doc);
    FUZZ_CHECK(GoJsonValid(once), "AppendGoJson wrote invalid JSON");
    auto again = ParseLikeGo(once);
    FUZZ_CHECK(again.has_value(), "AppendGoJson's output does not parse");
    std::string twice;
    AppendGoJson(&twice, *again);
    FUZZ_CHECK(once == twice, "AppendGoJson is not stable");
  }
  auto c = Condition::Parse(path);
  if (!c.ok()) {
    FUZZ_CHECK(c.status().code() == inferd::StatusCode::kInvalidArgument, c.status().message());
  } else if (doc) {
    FUZZ_CHECK(c->Exists(*doc) == c->Value(*doc).has_value(), "Exists and Value disagree");
  }
  RunOne(std::string(path), size % 2 == 0, body);
  return 0;
}
