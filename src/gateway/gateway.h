// gateway/gateway.h: the data-plane entry of `inferd serve`: routes client HTTP and gRPC requests to the
// ready replicas of an InferenceService's revisions and keeps the per-revision counters the autoscaler
// reads.
//
// Routing (HTTP):
//   Host `{isvc}.{ns}.{domain}` or `{isvc}-predictor.{ns}.{domain}` (port ignored) -> that service, path
//   unchanged; otherwise path `/serving/{ns}/{isvc}/rest...` -> that service with path `/rest...`;
//   otherwise `/v1/models/{isvc}[:verb]` and `/v2/models/{isvc}[/...]` -> service {isvc} in the
//   default namespace. Hosts `{isvc}[-predictor].{ns}.svc.cluster.local` (the cluster-local form) route like
//   the `{domain}` ones, for loopback clients only. Components (ServiceRoute::component): a service with a
//   transformer gets everything on its own host and path forms there, except paths matching
//   `^/v1/models/[\w-]+:explain$`, which go to its explainer when it has one; `{isvc}-transformer...` and
//   `{isvc}-explainer...` hosts (and the short in-cluster `{isvc}-{component}.{ns}`, loopback only) reach that
//   component, `{isvc}-predictor...` the predictor. No route: 404 with a JSON {"error": "..."} naming the
//   host/path. A known service with no revision to send to (a ServiceRoute without revisions: not ready yet,
//   failing, or `inferd serve` just started): 503 {"error": ...} with Retry-After.
// Health: `/v2/health/live`, `/v2/health/ready` and `/` are the service's own when the request names one
//   (by host, or a `/serving/...` path): proxied like any request, so "ready" means a replica of that service
//   answered it (a service at zero is activated first, as Knative's activator does), and a host of the
//   service form naming no service is 404. Only a request naming no service (e.g. Host: the gateway's
//   address) gets the gateway's own answers (200). gRPC ServerLive/ServerReady likewise: by the `:authority`
//   host when it has the service form, else answered by the gateway.
// Visibility: a service marked `cluster_local` (KServe's label networking.kserve.io/visibility:
//   cluster-local) has no route for clients outside this machine: a peer that is not a loopback address gets
//   404 as if it did not exist, for every host and path form.
// Routing (gRPC, inference.GRPCInferenceService): every method is proxied as raw bytes (grpc generic
//   service/stub); the target is the service named by the request's `model_name` (field 1 of
//   ModelInferRequest / ModelMetadataRequest / ModelReadyRequest) in the namespace given by the
//   `:authority` host when it matches `{isvc}.{ns}.{domain}`, else "default"; the component the `:authority`
//   names when it names one of that service's, else the transformer when it has one. ServerLive/ServerReady
//   answer locally unless the `:authority` names a service (see Health). TF Serving's gRPC API (KServe's
//   grpc-v1: tensorflow.serving.PredictionService and ModelService) is routed the same way by its
//   model_spec.name (MultiInference: its first task's); other services are UNIMPLEMENTED.
// Balancing: among a revision's ready endpoints, the one with the fewest requests in flight (ties:
//   round robin). Between revisions: by `percent` (weights summing to 100), or by tag host
//   `{tag}-{isvc}-predictor.{ns}.{domain}` when the route has tags.
// Activator (Knative's, built in): a request whose revision has no ready endpoint, or whose every endpoint
//   already has `container_concurrency` requests in flight (when that is > 0), is held in the revision's
//   queue instead of failing: it goes on as soon as a route update brings an endpoint (re-routed against
//   the new table) or a slot frees up. A hold at a revision with no endpoint counts in
//   RevisionStats::activations and calls `on_activate` (the control plane scales up from zero at once).
//   Held requests count in the revision's in_flight (so the autoscaler sees them). They wait up to the
//   service's `timeout` from arrival; then, or when the queue already holds `max_held_per_revision`, or
//   when the revision is marked `unavailable` (failing: its reason is the message) and has no endpoint, the
//   answer is 503 with a JSON error (gRPC: UNAVAILABLE) - never a 4xx. Stop answers held requests 503.
// Proxying: pooled keep-alive upstream connections per endpoint (bounded idle pool; TCP, or a Unix stream
//   socket for an endpoint with a uds_path), `timeout` per service
//   (504 with a JSON error when exceeded). Headers and bodies are forwarded as they are, minus hop-by-hop
//   headers; the upstream sees the client's Host header (not the replica's address: inferd's model server
//   does not look at it; a request without Host gets the replica's "host:port"). Fast path (the common
//   case): an HTTP/1.1 request with Content-Length framing (or no body), a Host, and no hop-by-hop header
//   (Connection, Keep-Alive, TE, Trailer, Transfer-Encoding, Upgrade, Proxy-*) nor Expect is forwarded as
//   the very bytes received (request line rewritten only for `/serving/...` routes), and a Content-Length
//   answer without hop-by-hop headers is relayed as received; anything else is parsed and re-serialized by
//   Beast (hop-by-hop headers dropped, chunked bodies re-framed, HTTP/1.0 and Connection: close honoured).
//   No retries once a request was written to a replica, with one exception below. A replica that is gone
//   (connection refused, its Unix socket file missing, another process on its socket, a fresh connection
//   reset before the request was written; gRPC: the call failed to connect) leaves the picks of every
//   worker at once (until a route update lists it again), and the request, which it never saw, goes to
//   another replica of the revision or waits in the activator's queue for one (as at zero); only requests
//   already written to a replica that died fail.
//   A new upstream connection that cannot be opened because this process is out of file descriptors (or
//   socket memory) is tried again, 10 ms doubling to 1 s, within the service's timeout: the replica is not at
//   fault. A replica that cannot be reached otherwise: 502 {"error": ...}. A pooled keep-alive connection the replica
//   closed while idle is detected before use (non-blocking peek, for connections idle over a second) or,
//   failing that, on first use with nothing answered, and the request is then sent once more on a fresh
//   connection to the same replica.
//   A host of the `{label}.{ns}.{domain}` form that names no service falls through to the path rules.
//   A percent-picked revision with no ready replica yields to another revision that has some (503 only
//   when none has). Local answers (`/v2/health/live`, `/v2/health/ready`, `/`) need no token. Every 503
//   the gateway answers itself carries `Retry-After: 1`.
// Auth: when `token` is set, requests need `Authorization: Bearer <token>` (401 otherwise; gRPC:
//   metadata `authorization: Bearer <token>`, else UNAUTHENTICATED).
// InferenceGraphs (KServe's router, run in the gateway's own workers: no router process, no extra hop): host
//   `{graph}.{ns}.{domain}` (and `{graph}.{ns}.svc.cluster.local`, loopback clients only), any path, or the
//   path form `/graph/{ns}/{graph}[/...]` on any host that names no service, runs the graph's root node on the
//   request body (method, path and query ignored, as KServe's router). A service of the same name and
//   namespace wins over a graph. Each step that names an InferenceService (or a serviceUrl whose host is one
//   of this gateway's service hosts) goes to that service like a client's request to its URL (picks, the
//   activator's hold of a service at zero, pooled connections, its timeout and stats), with no loopback
//   HTTP hop; any other serviceUrl is called over plain HTTP (bounded: the step's deadline, the answer's
//   bytes). routerTimeouts.serviceClient bounds each step (expiry: a transport error, so 500), serverWrite
//   the whole run (expiry: the client's connection is closed with no answer, as KServe's). A route whose
//   graph is null (not compiled: a missing service, a bad condition) answers 503 with its reason. When the
//   table holds no graph, the request path is exactly the one above (one test of an empty vector).
// Internals: gateway/routing.h (compiled table, pure routing functions), http_proxy.h, grpc_proxy.h.
// Threads: `workers` Asio I/O threads for HTTP, a gRPC server with its own threads. UpdateRoutes may be
//   called from any thread: the table is swapped atomically (readers never block). Stats are atomics.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "gateway/latency.h"
#include "net/budget.h"
#include "net/limits.h"

namespace inferd::graph {
struct Graph;  // graph/graph.h
}

namespace inferd::gateway {

// The domain of Kubernetes' in-cluster service names: hosts `{isvc}.{ns}.svc.cluster.local` (loopback clients
// only), and the URLs of a cluster-local service.
inline constexpr std::string_view kClusterLocalDomain = "svc.cluster.local";

struct GatewayOptions {
  std::string host = "0.0.0.0";
  int http_port = 8080;  // 0 = ephemeral
  int grpc_port = 8081;  // 0 = ephemeral; -1 = no gRPC
  std::string domain = "example.com";
  std::string token;  // empty = open, like KServe's ingress
  int workers = 1;
  size_t max_body_bytes = 64 << 20;
  // Client connections (HTTP): deadlines, connection cap, body bytes in flight (net/limits.h). body_budget:
  // the process's budget when shared with another listener (`inferd serve`: the API); null = one of its own.
  net::Limits limits;
  std::shared_ptr<net::BodyBudget> body_budget;
  size_t max_idle_per_endpoint = 64;
  size_t max_held_per_revision = 10000;  // the activator's queue depth per revision (Knative: 10000)
  // Called when a request is held at a revision with no ready endpoint (from a gateway thread; must not
  // block): the control plane starts a replica at once instead of waiting for its next pass.
  std::function<void()> on_activate;
};

struct Endpoint {
  std::string host = "127.0.0.1";
  int http_port = 0;
  int grpc_port = 0;  // 0 = none
  // Non-empty: the HTTP proxy reaches this replica over a Unix domain stream socket at this path (an
  // `inferd model-server --uds`) instead of TCP to host:http_port: same pooling, timeouts, retry on a refused
  // connect and stats, without the kernel's loopback TCP work. host/http_port still name the replica (Host
  // header when the client sent none, messages); gRPC stays on TCP (grpc_port).
  std::string uds_path;
  // > 0 with a uds_path: the replica's process id. A new connection whose peer (SO_PEERCRED) is another
  // process reached a restarted replica on the same socket path before its route was published: the
  // endpoint is treated as gone (see Proxying).
  int pid = 0;
};

struct HoldQueue;  // the activator's queue of one revision (gateway/routing.h)

// Per-revision state shared by the gateway and the control plane: counters (monotonic; the autoscaler
// differences them) and the activator's queue. Create with std::make_shared; one per revision, kept across
// route updates (the queue's held requests survive them).
struct RevisionStats {
  RevisionStats();
  ~RevisionStats();
  RevisionStats(const RevisionStats&) = delete;
  RevisionStats& operator=(const RevisionStats&) = delete;

  std::atomic<uint64_t> requests{0};
  std::atomic<uint64_t> errors{0};        // 5xx answered or proxy failures
  std::atomic<int64_t> in_flight{0};
  std::atomic<uint64_t> latency_ns_sum{0};
  // How many answered requests took how long (gateway/latency.h's buckets; monotonic like the counters).
  std::array<std::atomic<uint64_t>, kLatencyBuckets> latency_buckets{};
  // Time-weighted in-flight integral (ns * requests), for average concurrency over a window: on every change
  // of in_flight the gateway adds in_flight_before * (now - in_flight_changed_ns) and moves
  // in_flight_changed_ns to now (steady_clock ns since its epoch). The interval since the last change is not
  // included yet: a reader wanting it up to `now` adds in_flight * (now - in_flight_changed_ns) itself.
  // Approximation: the counter, the timestamp and the integral are three separate atomics, so concurrent
  // changes may attribute a few nanoseconds of an interval to a neighbouring in_flight value; the error does
  // not accumulate (each interval is counted exactly once, by the thread that moved the timestamp past it).
  std::atomic<uint64_t> in_flight_ns{0};
  std::atomic<int64_t> in_flight_changed_ns{0};
  std::atomic<int64_t> held{0};           // requests the activator holds now (also counted in in_flight)
  std::atomic<uint64_t> activations{0};   // holds that found no ready endpoint at all
  std::unique_ptr<HoldQueue> queue;       // never null; gateway-internal
};

struct RevisionRoute {
  std::string revision;  // e.g. "sklearn-iris-predictor-00001"
  int percent = 100;
  std::string tag;  // "", "latest", "prev"
  std::vector<Endpoint> endpoints;  // ready replicas
  std::shared_ptr<RevisionStats> stats;  // owned jointly with the control plane
  int container_concurrency = 0;  // > 0: at most this many requests in flight per endpoint; the rest wait
  // Non-empty: the revision is failing (e.g. CrashLoopBackOff); with no endpoint a request gets 503 with
  // this message at once instead of being held.
  std::string unavailable;
  // The revision is at zero replicas on purpose (scaled to zero): a request its percent picks is held and
  // activates it, instead of falling back to another revision that has replicas.
  bool activate = false;
};

struct ServiceRoute {
  std::string ns, name;  // the InferenceService
  // Which of its components this route serves: "" (the predictor), "transformer" or "explainer". A
  // component's route is listed beside the predictor's (same ns and name); see Routing for who gets what.
  std::string component;
  std::vector<RevisionRoute> revisions;  // empty: known, but nothing to send to (503 with `unavailable`)
  std::chrono::milliseconds timeout{60000};
  std::string unavailable;  // with no revisions: why (the 503's message); a default one when empty
  bool cluster_local = false;  // routed for loopback clients only (see Visibility)
};

// An InferenceGraph the gateway runs itself (graph/graph.h's RunGraph on the worker that received the
// request; see InferenceGraphs above).
struct GraphRoute {
  std::string ns, name;
  std::shared_ptr<const graph::Graph> graph;  // null: known but not servable (503 with `unavailable`)
  std::string unavailable;
};

struct RoutingTable {
  std::vector<ServiceRoute> services;
  std::vector<GraphRoute> graphs;
};

class Gateway {
 public:
  explicit Gateway(GatewayOptions options);
  ~Gateway();
  Status Start();
  int http_port() const;
  int grpc_port() const;  // 0 when disabled
  void UpdateRoutes(std::shared_ptr<const RoutingTable> table);
  void Stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace inferd::gateway
