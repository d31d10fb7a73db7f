// gateway/routing.h: the gateway's compiled routing table and the pure routing functions (internal to the
// gateway module; no Asio/gRPC types here so the rules are unit-testable on their own).
//
// A RoutingTable from the control plane is compiled into a CompiledTable: per-service lookup by
// (namespace, name) with heterogeneous string_view lookup (no allocation per request), and one
// EndpointState per replica. EndpointStates are shared between successive tables through an
// EndpointRegistry (keyed by host/ports) so that in-flight counts, per-worker connection pools (keyed by
// the endpoint's process-unique id) and cached gRPC channels survive route updates.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/http_status.h"
#include "core/mutex.h"
#include "gateway/gateway.h"

namespace inferd::gateway {

struct GrpcUpstream;  // grpc_proxy.cc: cached channel + generic stub of one endpoint

struct EndpointState {
  uint64_t id = 0;  // process-unique, never reused: keys the per-worker connection pools
  std::string host;
  int http_port = 0;
  int grpc_port = 0;
  std::string http_authority;  // "host:http_port": the Host header sent upstream
  std::string resolved_ip;     // host as an IP literal (resolved once when compiled); empty: unresolvable
  std::string uds_path;        // non-empty: HTTP upstream connections go to this Unix socket
  std::string http_name;       // for messages: http_authority, or "unix:<uds_path>"
  int pid = 0;                 // Endpoint::pid
  std::atomic<int64_t> in_flight{0};  // requests from all workers (HTTP and gRPC) now at this replica
  // The replica is gone (MarkGone): no longer picked. The registry hands out a fresh state should a later
  // table list the same endpoint again.
  std::atomic<bool> gone{false};

  std::once_flag grpc_once;
  std::shared_ptr<GrpcUpstream> grpc;  // set once under grpc_once
};

struct RevisionState {
  std::string revision;
  std::string tag;
  int percent = 0;
  int container_concurrency = 0;  // > 0: the per-endpoint limit AcquireEndpoint respects
  std::string unavailable;        // see RevisionRoute::unavailable
  bool activate = false;          // see RevisionRoute::activate
  std::vector<std::shared_ptr<EndpointState>> endpoints;
  std::shared_ptr<RevisionStats> stats;  // never null (a private one when the route had none)
};

struct ServiceState {
  std::string ns, name;
  std::string component;  // "" for the predictor (the entry the index finds), "transformer", "explainer"
  // On the predictor's entry: the index in CompiledTable::services of the service's transformer / explainer
  // (-1: none).
  int transformer = -1, explainer = -1;
  std::vector<RevisionState> revisions;
  int total_percent = 0;  // sum of the positive percents
  std::chrono::milliseconds timeout{60000};
  std::string unavailable;     // ServiceRoute::unavailable (a default message when it was empty)
  bool cluster_local = false;  // ServiceRoute::cluster_local
};

struct GraphState {
  std::string ns, name;
  std::shared_ptr<const graph::Graph> graph;  // GraphRoute::graph
  std::string unavailable;
};

struct StringHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
};

struct CompiledTable {
  std::string domain;
  std::vector<ServiceState> services;
  // ns -> name -> index into services.
  std::unordered_map<std::string, std::unordered_map<std::string, size_t, StringHash, std::equal_to<>>, StringHash,
                     std::equal_to<>>
      index;
  std::vector<uint64_t> endpoint_ids;  // sorted: what the workers' pools may keep
  bool any_cluster_local = false;      // some service is cluster_local
  std::vector<GraphState> graphs;      // InferenceGraphs; empty: no request looks for one
  // ns -> name -> index into graphs.
  std::unordered_map<std::string, std::unordered_map<std::string, size_t, StringHash, std::equal_to<>>, StringHash,
                     std::equal_to<>>
      graph_index;

  // `external`: the client is not on loopback, so cluster-local services do not exist for it. Returns the
  // service's predictor entry.
  const ServiceState* Find(std::string_view ns, std::string_view name, bool external = false) const;
  // What the service's own URL routes to for `path` (KServe's ingress rules): a path matching
  // ^/v1/models/[\w-]+:explain$ (query aside) to its explainer when it has one, anything else to its
  // transformer when it has one, else the predictor (`predictor`, an entry Find returned).
  const ServiceState* TopLevel(const ServiceState& predictor, std::string_view path) const;
  const GraphState* FindGraph(std::string_view ns, std::string_view name) const;
};

// Hands out one EndpointState per (host, http_port, grpc_port, uds_path, pid) while some table still uses it
// and it is not gone.
class EndpointRegistry {
 public:
  std::shared_ptr<EndpointState> Get(const Endpoint& e);

 private:
  Mutex mu_;
  std::unordered_map<std::string, std::weak_ptr<EndpointState>> states_ GUARDED_BY(mu_);
  uint64_t next_id_ GUARDED_BY(mu_) = 1;
};

// Compiles `table` (services with an empty name are skipped; a later duplicate (ns, name) is ignored).
std::shared_ptr<const CompiledTable> Compile(const RoutingTable& table, std::string_view domain,
                                             EndpointRegistry* registry);

inline constexpr std::string_view kDefaultNamespace = "default";

struct RouteMatch {
  const ServiceState* service = nullptr;  // null: no route
  std::string_view tag;                   // non-empty: a tag host selected this revision tag
  // Target to send upstream (query string kept): a view into the input target, or an owned rewrite.
  std::string_view path() const { return owns_path ? std::string_view(path_storage) : path_view; }
  bool rewritten = false;  // path() differs from the input target
  // Only a loopback client may have this match (a cluster-local service or host): route again with
  // `external` when the client is not on loopback.
  bool internal = false;

  std::string_view path_view;
  std::string path_storage;
  bool owns_path = false;
};

// Host `{isvc}.{ns}.{domain}`, `{isvc}-{component}.{ns}.{domain}`, `{tag}-{isvc}-{component}.{ns}.{domain}`
// (component predictor, transformer or explainer; port ignored; a host of that form naming no service falls
// through to the path rules), then `/serving/{ns}/{isvc}[/rest]` (-> `/rest`, at least `/`), then
// `/v1/models/{isvc}[:verb|/...]` and `/v2/models/{isvc}[/...]` in the default namespace. `target` is the
// request target (path + query). A component host goes to that component; the service's own host and the
// path forms go where CompiledTable::TopLevel says. Hosts of the `{kClusterLocalDomain}` form, and the
// in-cluster short form `{isvc}-{component}.{ns}` (how a transformer names its predictor), are matched too,
// unless `external`; with `external` (a client not on loopback) cluster-local services and hosts match
// nothing. The returned views point into `host`, `target` or the table.
RouteMatch Route(const CompiledTable& table, std::string_view host, std::string_view target, bool external = false);

// The InferenceGraph a request is for (gateway.h, InferenceGraphs): host `{graph}.{ns}.{domain}`, or
// `{graph}.{ns}.svc.cluster.local` unless `external`, when no service of that name exists in that namespace;
// else the path `/graph/{ns}/{graph}` (followed by nothing, '/' or '?') when the host names no service.
// Null when neither matches. *internal (when given) is set when the match came from the cluster-local host (route
// again with `external` for a client not on loopback). Call only when table.graphs is not empty (the caller's
// fast test).
const GraphState* RouteGraph(const CompiledTable& table, std::string_view host, std::string_view target,
                             bool external, bool* internal = nullptr);
inline constexpr std::string_view kGraphPathPrefix = "/graph/";

// Host part of `{label}.{ns}.{domain}[:port]`: sets label and ns, false when the host is not of that form.
bool SplitServiceHost(std::string_view host, std::string_view domain, std::string_view* label, std::string_view* ns);
// SplitServiceHost for the table's domain, then kClusterLocalDomain, then the short in-cluster form
// `{label}.{ns}` whose label ends in -predictor, -transformer or -explainer (sets *cluster_local for the
// last two: in-cluster names exist for loopback clients only).
bool SplitAnyServiceHost(std::string_view host, std::string_view domain, std::string_view* label,
                         std::string_view* ns, bool* cluster_local);

// Resolves a host label to a service's entry in `ns` (plain, -{component} and tag forms): the component's
// entry for a component label (null when the service has no such component), the predictor's for the plain
// form (then *top_level, when given, is set: route it with TopLevel). Sets *tag for tag hosts.
const ServiceState* ResolveHostLabel(const CompiledTable& table, std::string_view label, std::string_view ns,
                                     std::string_view* tag, bool external = false, bool* top_level = nullptr);

// True for an IP literal of the loopback range (127.0.0.0/8, ::1, ::ffff:127.x.y.z). Unparsable: false.
bool IsLoopbackIp(std::string_view ip);

// The revision for one request: the one tagged `tag` when non-empty (null if none), else by percent with
// `random` (uniform 64-bit). A percent-chosen revision without ready endpoints falls back to the first other
// revision (in table order) that has some, so a partly rolled-out service keeps serving; unless it is marked
// `activate` (scaled to zero on purpose): then it is returned, for the activator to hold and wake it.
const RevisionState* PickRevision(const ServiceState& service, std::string_view tag, uint64_t random);

// Among `rev`'s endpoints (with a gRPC port when `need_grpc`), the one with the fewest in flight, ties broken
// by scanning from `start` (a per-worker round-robin counter); `exclude` and gone endpoints are never
// returned. Null when none qualifies.
EndpointState* PickEndpoint(const RevisionState& rev, uint32_t start, const EndpointState* exclude = nullptr,
                            bool need_grpc = false);

// PickEndpoint that also takes a slot: the endpoint's in_flight is incremented, and with
// rev.container_concurrency > 0 only an endpoint below that limit qualifies (the slot is taken with a
// compare-and-swap, so concurrent callers never exceed it). Null when no endpoint qualifies or has room.
EndpointState* AcquireEndpoint(const RevisionState& rev, uint32_t start, const EndpointState* exclude = nullptr,
                               bool need_grpc = false);
// Gives the slot back; with a concurrency limit, wakes one held request of the revision.
void ReleaseEndpoint(const RevisionState& rev, EndpointState* ep);

// The replica behind `ep` is gone (see gateway.h, Proxying): no worker picks it any more. True for the
// caller that marked it first (to log it once).
inline bool MarkGone(EndpointState& ep) { return !ep.gone.exchange(true, std::memory_order_relaxed); }
// Some endpoint of `rev` (with a gRPC port when `need_grpc`) is not gone.
bool HasLiveEndpoint(const RevisionState& rev, bool need_grpc = false);

// The current CompiledTable, swapped atomically by UpdateRoutes; `version` lets a worker keep its own
// reference and reload only when it changed (one relaxed load per request on the hot path).
class TableHolder {
 public:
  TableHolder();
  std::shared_ptr<const CompiledTable> Load() const { return table_.load(std::memory_order_acquire); }
  uint64_t version() const { return version_.load(std::memory_order_acquire); }
  void Store(std::shared_ptr<const CompiledTable> t) {
    table_.store(std::move(t), std::memory_order_release);
    version_.fetch_add(1, std::memory_order_acq_rel);
  }

 private:
  std::atomic<std::shared_ptr<const CompiledTable>> table_;
  std::atomic<uint64_t> version_{1};
};

// ---- the activator's hold queue ----------------------------------------------------------------------------
// Requests waiting for an endpoint (or a free slot) of one revision. A waiter is called exactly once, on
// the thread that removes it (never under the queue's lock), with why it left.
enum class HoldEnd { kWoken, kTimedOut, kShutdown };

struct HoldQueue {
  struct Waiter {
    int64_t deadline_ns = 0;
    std::function<void(HoldEnd)> fire;
  };
  Mutex mu;
  std::deque<Waiter> waiters GUARDED_BY(mu);
  // waiters.size(), plus callers deciding under the lock (see HoldOrGo); read without the lock by
  // ReleaseEndpoint to skip the lock when nobody waits.
  std::atomic<int64_t> size{0};

  void WakeOne();                 // the oldest waiter, kWoken
  void WakeAll(HoldEnd why = HoldEnd::kWoken);
  void Expire(int64_t now_ns);    // waiters past their deadline, kTimedOut
};

enum class HoldResult { kGo, kHeld, kFull, kStale };

// The activator's decision, made under the queue's lock so that no wake-up is lost: kStale when the routing
// table changed since the caller routed (`routed_version`; route again), kGo when `try_go()` took a slot,
// kFull when `max` requests already wait, else the waiter is queued (at the front for a request that was
// woken and lost the race for the slot, so it keeps its turn) and kHeld. The announce-then-try order pairs
// with ReleaseEndpoint's release-then-look: a slot freed concurrently is either seen by try_go or its
// release sees this waiter.
template <class TryGo>
HoldResult HoldOrGo(HoldQueue& q, size_t max, const TableHolder& holder, uint64_t routed_version, TryGo&& try_go,
                    HoldQueue::Waiter waiter, bool front) {
  MutexLock lock(q.mu);
  if (holder.version() != routed_version) return HoldResult::kStale;
  q.size.fetch_add(1, std::memory_order_seq_cst);
  if (try_go()) {
    q.size.fetch_sub(1, std::memory_order_seq_cst);
    return HoldResult::kGo;
  }
  if (q.waiters.size() >= max) {
    q.size.fetch_sub(1, std::memory_order_seq_cst);
    return HoldResult::kFull;
  }
  if (front) {
    q.waiters.push_front(std::move(waiter));
  } else {
    q.waiters.push_back(std::move(waiter));
  }
  return HoldResult::kHeld;
}

// The activator's bookkeeping shared by the HTTP and gRPC proxies. NoteHeld: a request was queued (kHeld): it
// counts in `held`, and when the revision has no endpoint at all (`no_endpoint`) as an activation that calls
// `on_activate`. NoteUnheld: it left the queue (woken, timed out or shut down).
void NoteHeld(RevisionStats& s, bool no_endpoint, const GatewayOptions& options);
void NoteUnheld(RevisionStats& s);
// The 503 / UNAVAILABLE messages: the queue already holds `max` requests; nothing could take the request
// within the service's `timeout`.
std::string QueueFullMessage(std::string_view revision, size_t max);
std::string HoldTimeoutMessage(std::string_view revision, std::chrono::milliseconds timeout);

// Every revision's queue of `table` (for waking them on a route update, expiring them, and shutdown).
template <class F>
void ForEachQueue(const CompiledTable& table, F&& f) {
  for (const auto& svc : table.services) {
    for (const auto& rev : svc.revisions) f(*rev.stats->queue);
  }
}

// ---- stats -------------------------------------------------------------------------------------------------
// Times in RevisionStats (in_flight_changed_ns) are core/clock.h's NowNs(): the steady clock.
void StatsBegin(RevisionStats& s, int64_t now_ns);
void StatsEnd(RevisionStats& s, int64_t now_ns, int64_t latency_ns, bool error);

// ---- small helpers -----------------------------------------------------------------------------------------
// {"error": "<escaped message>"}: core/http_status.h's writer, in the byte form the gateway has always answered.
inline std::string ErrorJson(std::string_view message) { return inferd::ErrorJson(message, JsonSpacing::kSpaced); }

// A per-worker pseudo-random generator (splitmix64; not shared between threads).
struct FastRng {
  uint64_t state;
  explicit FastRng(uint64_t seed) : state(seed) {}
  uint64_t Next() {
    uint64_t z = (state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
};

}  // namespace inferd::gateway
