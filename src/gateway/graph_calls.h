// gateway/graph_calls.h: InferenceGraph runs inside the gateway's HTTP workers (internal to the gateway module;
// gateway.h, InferenceGraphs, says what clients see).
//
// Contract:
// - StartGraphRun runs a compiled graph (graph/graph.h's RunGraph) on worker `w`'s thread for one client
//   request, with this file's graph::StepCaller: a step whose target names an InferenceService, or a
//   serviceUrl whose host is one of the gateway's service hosts (SplitAnyServiceHost and a route for it), goes
//   to that service exactly as a client's request to its URL would (Route, PickRevision, the activator's hold,
//   the worker's pooled upstream connections, the service's timeout, the revision's stats), with no loopback
//   hop; an answer the gateway makes itself (503 at a failing service, 504 past its timeout, 502) reaches the
//   graph as that step's answer, as the client would have seen it. Any other serviceUrl is one plain-HTTP
//   exchange on the worker (Beast; https is a transport error naming the URL: inferd has no async TLS client
//   on the gateway's loops). routerTimeouts.serviceClient (Graph::step_timeout) bounds each call: past it the
//   step is a transport error. Answers are bounded by Graph::max_answer_bytes.
// - `answer` is called once with the graph's answer, on the worker's thread, unless the run's deadline
//   (Graph::run_timeout, KServe's serverWrite) passed first: then `abort` is called instead (close the client's
//   connection with no answer, as KServe's router) and the answer, when it comes, is dropped. Calls still in
//   flight then end by their own deadlines.
// - HeaderLines splits a request head's header lines (after the request line, without the blank line) into
//   name/value pairs (values trimmed of spaces and tabs); only called for a graph that propagates headers.
#pragma once

#include <functional>
#include <string>
#include <string_view>

#include "gateway/routing.h"
#include "graph/graph.h"

namespace inferd::gateway::http_internal {

struct Worker;  // gateway/http_worker.h

struct GraphRequest {
  std::string body;
  graph::Headers headers;
  std::function<void(graph::Answer)> answer;
  std::function<void()> abort;
};

void StartGraphRun(Worker* w, const GraphState& g, GraphRequest req);

graph::Headers HeaderLines(std::string_view lines);

}  // namespace inferd::gateway::http_internal
