// bench/graph_bench.cc: what RunGraph (graph/graph.h) adds to a request, with an instant fake service so
// that only the router's own work is timed.
//
//   graph_bench [--body_bytes 200] [--rounds 7] [--min_ms 200]
//
// Per request, interleaved round by round (median of the rounds):
//   direct2:    the two service calls a client would make itself (two StepCaller::Call with the body);
//   sequence2:  RunGraph on a two-step Sequence (step 2 `data: $response`) making the same two calls;
//   switch:     RunGraph on a Switch whose second step's condition `[@this].#(decision_picker==SUCCESS)`
//               matches (the body is parsed once for the conditions);
//   ensemble2:  RunGraph on a two-step Ensemble (both answers parsed and re-marshalled, as KServe's Go does).
// It prints ns per request and sequence2 - direct2, the graph's overhead, against issue 17's budget (100 us).
// Time is the thread's CPU time (CLOCK_THREAD_CPUTIME_ID): everything here runs on one thread without
// waiting, and on a shared machine wall time mostly measures the other tenants.
// A hand-written timing loop as in tree_engine_bench.cc (the benchmark binaries here use no framework).
#include <algorithm>
#include <time.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "graph/graph.h"

namespace {

using namespace inferd::graph;
double CpuMs() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) * 1e3 + static_cast<double>(ts.tv_nsec) / 1e6;
}

class Instant : public StepCaller {
 public:
  std::string answer;
  void Call(const ServiceTarget&, std::string body, Headers, std::function<void(CallOutcome)> done) override {
    sink += body.size();
    done(CallOutcome{inferd::Status::Ok(), 200, answer});
  }
  size_t sink = 0;
};

double NsPerCall(const std::function<void()>& f, double min_ms) {
  f();
  int64_t calls = 0, batch = 1;
  const double start = CpuMs();
  double elapsed_ms = 0;
  while (elapsed_ms < min_ms) {
    for (int64_t i = 0; i < batch; ++i) f();
    calls += batch;
    batch *= 2;
    elapsed_ms = CpuMs() - start;
  }
  return elapsed_ms * 1e6 / static_cast<double>(calls);
}

std::shared_ptr<const Graph> Compile(const char* spec) {
  auto g = CompileGraph(nlohmann::json::parse(spec), "ns", "bench", {}, nullptr);
  if (!g.ok()) {
    std::fprintf(stderr, "graph_bench: %s\n", g.status().message().c_str());
    std::exit(1);
  }
  return *g;
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  size_t body_bytes = 200;
  int rounds = 7;
  double min_ms = 200;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--body_bytes")) body_bytes = std::strtoul(argv[i + 1], nullptr, 10);
    if (!std::strcmp(argv[i], "--rounds")) rounds = std::atoi(argv[i + 1]);
    if (!std::strcmp(argv[i], "--min_ms")) min_ms = std::atof(argv[i + 1]);
  }
  // A V1 body of about body_bytes: {"decision_picker":"SUCCESS","instances":[[0.1234,...],...]}
  std::string body = R"({"decision_picker":"SUCCESS","instances":[[)";
  while (body.size() + 10 < body_bytes) body += "0.1234567,";
  body += R"(0.5]]})";
  Instant caller;
  caller.answer = R"({"predictions":[{"message":"SUCCESS","scores":[0.1,0.9]}]})";

  auto seq = Compile(R"({"nodes":{"root":{"routerType":"Sequence","steps":[
      {"serviceUrl":"http://a"},{"serviceUrl":"http://b","data":"$response"}]}}})");
  auto sw = Compile(R"J({"nodes":{"root":{"routerType":"Switch","steps":[
      {"serviceUrl":"http://a","condition":"[@this].#(decision_picker==ERROR)"},
      {"serviceUrl":"http://b","condition":"[@this].#(decision_picker==SUCCESS)"}]}}})J");
  auto ens = Compile(R"({"nodes":{"root":{"routerType":"Ensemble","steps":[
      {"name":"a","serviceUrl":"http://a"},{"name":"b","serviceUrl":"http://b"}]}}})");

  ServiceTarget a{"", "", "", "http://a"}, b{"", "", "", "http://b"};
  size_t answered = 0;
  auto direct = [&] {
    std::string second;
    caller.Call(a, body, {}, [&](CallOutcome o) { second = std::move(o.body); });
    caller.Call(b, std::move(second), {}, [&](CallOutcome o) { answered += o.body.size(); });
  };
  auto graph = [&](const std::shared_ptr<const Graph>& g) {
    return [&, g] {
      RunGraph(g, body, {}, &caller, [] { return 0; }, [&](Answer x) { answered += x.body.size(); });
    };
  };
  std::vector<double> d, s, w, e;
  for (int r = 0; r < rounds; ++r) {
    d.push_back(NsPerCall(direct, min_ms));
    s.push_back(NsPerCall(graph(seq), min_ms));
    w.push_back(NsPerCall(graph(sw), min_ms));
    e.push_back(NsPerCall(graph(ens), min_ms));
  }
  double dm = Median(d), sm = Median(s), wm = Median(w), em = Median(e);
  std::printf("body %zu bytes, %d rounds, median CPU ns per request\n", body.size(), rounds);
  std::printf("direct2    %10.0f\n", dm);
  std::printf("sequence2  %10.0f\n", sm);
  std::printf("switch     %10.0f\n", wm);
  std::printf("ensemble2  %10.0f\n", em);
  std::printf("graph overhead (sequence2 - direct2): %.2f us (issue 17's budget: 100 us p50)\n", (sm - dm) / 1000);
  return answered == 0 ? 1 : 0;
}
