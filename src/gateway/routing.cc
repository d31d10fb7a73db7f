#include "gateway/routing.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <sys/socket.h>

#include <algorithm>

#include "net/peer.h"

namespace inferd::gateway {

namespace {

bool EndsWith(std::string_view s, std::string_view p) {
  return s.size() >= p.size() && s.substr(s.size() - p.size()) == p;
}

// The IP literal for `host` (itself when it is one; else the first address getaddrinfo gives).
std::string ResolveIp(const std::string& host) {
  unsigned char buf[sizeof(struct in6_addr)];
  if (inet_pton(AF_INET, host.c_str(), buf) == 1 || inet_pton(AF_INET6, host.c_str(), buf) == 1) return host;
  struct addrinfo hints {};
  hints.ai_socktype = SOCK_STREAM;
  struct addrinfo* res = nullptr;
  if (getaddrinfo(host.c_str(), nullptr, &hints, &res) != 0 || res == nullptr) return "";
  char out[INET6_ADDRSTRLEN] = {0};
  std::string ip;
  for (auto* p = res; p != nullptr && ip.empty(); p = p->ai_next) {
    if (p->ai_family == AF_INET) {
      if (inet_ntop(AF_INET, &reinterpret_cast<sockaddr_in*>(p->ai_addr)->sin_addr, out, sizeof out)) ip = out;
    } else if (p->ai_family == AF_INET6) {
      if (inet_ntop(AF_INET6, &reinterpret_cast<sockaddr_in6*>(p->ai_addr)->sin6_addr, out, sizeof out)) ip = out;
    }
  }
  freeaddrinfo(res);
  return ip;
}

// First path segment of `rest` (up to '/', '?', or any char in `extra_stops`) and what follows it.
std::string_view Segment(std::string_view rest, std::string_view stops) {
  size_t end = rest.find_first_of(stops);
  return end == std::string_view::npos ? rest : rest.substr(0, end);
}

// The component suffixes of a host label (`{isvc}-predictor`, ...), and the component each names ("" = the
// predictor).
struct ComponentSuffix {
  std::string_view suffix, component;
};
constexpr ComponentSuffix kComponentSuffixes[] = {
    {"-predictor", ""}, {"-transformer", "transformer"}, {"-explainer", "explainer"}};

// `^/v1/models/[\w-]+:explain$` on the path (the query aside): KServe's explainer route.
bool IsExplainPath(std::string_view target) {
  std::string_view path = target.substr(0, target.find('?'));
  constexpr std::string_view kV1 = "/v1/models/", kExplain = ":explain";
  if (!path.starts_with(kV1) || !EndsWith(path, kExplain)) return false;
  std::string_view name = path.substr(kV1.size(), path.size() - kV1.size() - kExplain.size());
  if (name.empty()) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
  });
}

// The entry of `svc`'s component ("" = the predictor itself), or null when it has none.
const ServiceState* ComponentOf(const CompiledTable& table, const ServiceState* svc, std::string_view component) {
  if (svc == nullptr || component.empty()) return svc;
  const int i = component == "transformer" ? svc->transformer : svc->explainer;
  return i < 0 ? nullptr : &table.services[static_cast<size_t>(i)];
}

}  // namespace

const ServiceState* CompiledTable::TopLevel(const ServiceState& predictor, std::string_view path) const {
  if (predictor.explainer >= 0 && IsExplainPath(path)) return &services[static_cast<size_t>(predictor.explainer)];
  if (predictor.transformer >= 0) return &services[static_cast<size_t>(predictor.transformer)];
  return &predictor;
}

const ServiceState* CompiledTable::Find(std::string_view ns, std::string_view name, bool external) const {
  auto it = index.find(ns);
  if (it == index.end()) return nullptr;
  auto jt = it->second.find(name);
  if (jt == it->second.end()) return nullptr;
  const ServiceState* s = &services[jt->second];
  return external && s->cluster_local ? nullptr : s;
}

const GraphState* CompiledTable::FindGraph(std::string_view ns, std::string_view name) const {
  auto it = graph_index.find(ns);
  if (it == graph_index.end()) return nullptr;
  auto jt = it->second.find(name);
  return jt == it->second.end() ? nullptr : &graphs[jt->second];
}

const GraphState* RouteGraph(const CompiledTable& table, std::string_view host, std::string_view target,
                             bool external, bool* internal) {
  if (internal) *internal = false;
  std::string_view label, ns;
  bool named_service = false, cluster = false;
  bool host_form = SplitServiceHost(host, table.domain, &label, &ns);
  if (!host_form && !external) host_form = cluster = SplitServiceHost(host, kClusterLocalDomain, &label, &ns);
  if (host_form) {
    std::string_view tag;
    named_service = ResolveHostLabel(table, label, ns, &tag, external) != nullptr;
    if (!named_service) {
      if (const GraphState* g = table.FindGraph(ns, label)) {
        if (internal) *internal = cluster;
        return g;
      }
    }
  }
  if (named_service || !target.starts_with(kGraphPathPrefix)) return nullptr;
  std::string_view rest = target.substr(kGraphPathPrefix.size());
  const size_t slash = rest.find('/');
  if (slash == std::string_view::npos || slash == 0) return nullptr;
  std::string_view gns = rest.substr(0, slash);
  rest = rest.substr(slash + 1);
  std::string_view name = Segment(rest, "/?");
  if (name.empty()) return nullptr;
  return table.FindGraph(gns, name);
}

std::shared_ptr<EndpointState> EndpointRegistry::Get(const Endpoint& e) {
  std::string key = e.host + "|" + std::to_string(e.http_port) + "|" + std::to_string(e.grpc_port) + "|" +
                    e.uds_path + "|" + std::to_string(e.pid);
  MutexLock lock(mu_);
  auto& slot = states_[key];
  // A gone endpoint listed again (the control plane had not seen it go, or it came back on the same
  // address): a fresh state, which is tried again; the old one stays with the tables and requests using it.
  if (auto s = slot.lock(); s && !s->gone.load(std::memory_order_relaxed)) return s;
  // Drop dead entries now and then so the map does not grow with every replica ever seen.
  if (states_.size() > 64) {
    for (auto it = states_.begin(); it != states_.end();) {
      if (it->first != key && it->second.expired()) {
        it = states_.erase(it);
      } else {
        ++it;
      }
    }
  }
  auto s = std::make_shared<EndpointState>();
  s->id = next_id_++;
  s->host = e.host;
  s->http_port = e.http_port;
  s->grpc_port = e.grpc_port;
  bool v6 = e.host.find(':') != std::string::npos;
  s->http_authority = (v6 ? "[" + e.host + "]" : e.host) + ":" + std::to_string(e.http_port);
  s->resolved_ip = ResolveIp(e.host);
  s->uds_path = e.uds_path;
  s->pid = e.uds_path.empty() ? 0 : e.pid;
  s->http_name = e.uds_path.empty() ? s->http_authority : "unix:" + e.uds_path;
  states_[key] = s;
  return s;
}

namespace {

ServiceState CompileService(const ServiceRoute& svc, std::string ns, EndpointRegistry* registry,
                            std::vector<uint64_t>* endpoint_ids) {
  ServiceState st;
  st.ns = std::move(ns);
  st.name = svc.name;
  st.component = svc.component == "predictor" ? "" : svc.component;
  st.timeout = svc.timeout;
  st.cluster_local = svc.cluster_local;
  st.unavailable = !svc.unavailable.empty()
                       ? svc.unavailable
                       : "service " + st.ns + "/" + svc.name + (st.component.empty() ? "" : " (" + st.component + ")") +
                             " has no ready revision yet";
  for (const auto& r : svc.revisions) {
    RevisionState rs;
    rs.revision = r.revision;
    rs.tag = r.tag;
    rs.percent = std::max(0, r.percent);
    rs.container_concurrency = std::max(0, r.container_concurrency);
    rs.unavailable = r.unavailable;
    rs.activate = r.activate;
    rs.stats = r.stats ? r.stats : std::make_shared<RevisionStats>();
    for (const auto& e : r.endpoints) {
      auto es = registry->Get(e);
      endpoint_ids->push_back(es->id);
      rs.endpoints.push_back(std::move(es));
    }
    st.total_percent += rs.percent;
    st.revisions.push_back(std::move(rs));
  }
  return st;
}

}  // namespace

std::shared_ptr<const CompiledTable> Compile(const RoutingTable& table, std::string_view domain,
                                             EndpointRegistry* registry) {
  auto out = std::make_shared<CompiledTable>();
  out->domain = std::string(domain);
  out->services.reserve(table.services.size());
  auto ns_of = [](const ServiceRoute& svc) { return svc.ns.empty() ? std::string(kDefaultNamespace) : svc.ns; };
  auto is_predictor = [](const ServiceRoute& svc) { return svc.component.empty() || svc.component == "predictor"; };
  // The predictors first (the index finds them), then the other components, linked from their predictor.
  for (const auto& svc : table.services) {
    if (svc.name.empty() || !is_predictor(svc)) continue;
    std::string ns = ns_of(svc);
    auto& by_name = out->index[ns];
    if (by_name.count(svc.name)) continue;
    out->any_cluster_local |= svc.cluster_local;
    by_name.emplace(svc.name, out->services.size());
    out->services.push_back(CompileService(svc, std::move(ns), registry, &out->endpoint_ids));
  }
  for (const auto& svc : table.services) {
    if (svc.name.empty() || is_predictor(svc)) continue;
    if (svc.component != "transformer" && svc.component != "explainer") continue;
    std::string ns = ns_of(svc);
    auto it = out->index.find(ns);
    if (it == out->index.end()) continue;
    auto jt = it->second.find(svc.name);
    if (jt == it->second.end()) continue;  // a component without its predictor's route: nothing routes to it
    int& slot = svc.component == "transformer" ? out->services[jt->second].transformer
                                               : out->services[jt->second].explainer;
    if (slot >= 0) continue;
    slot = static_cast<int>(out->services.size());
    out->services.push_back(CompileService(svc, std::move(ns), registry, &out->endpoint_ids));
  }
  for (const auto& g : table.graphs) {
    if (g.name.empty()) continue;
    std::string ns = g.ns.empty() ? std::string(kDefaultNamespace) : g.ns;
    auto& by_name = out->graph_index[ns];
    if (by_name.count(g.name)) continue;
    by_name.emplace(g.name, out->graphs.size());
    out->graphs.push_back(GraphState{std::move(ns), g.name, g.graph,
                                     g.unavailable.empty() ? "graph " + g.ns + "/" + g.name + " is not ready"
                                                           : g.unavailable});
  }
  std::sort(out->endpoint_ids.begin(), out->endpoint_ids.end());
  out->endpoint_ids.erase(std::unique(out->endpoint_ids.begin(), out->endpoint_ids.end()), out->endpoint_ids.end());
  return out;
}

bool SplitServiceHost(std::string_view host, std::string_view domain, std::string_view* label, std::string_view* ns) {
  if (!host.empty() && host.front() == '[') return false;  // IPv6 literal
  if (auto colon = host.rfind(':'); colon != std::string_view::npos) host = host.substr(0, colon);
  if (!host.empty() && host.back() == '.') host.remove_suffix(1);  // FQDN form
  if (domain.empty() || host.size() <= domain.size() + 1 || !EndsWith(host, domain) ||
      host[host.size() - domain.size() - 1] != '.') {
    return false;
  }
  std::string_view head = host.substr(0, host.size() - domain.size() - 1);  // "{label}.{ns}"
  size_t dot = head.find('.');
  if (dot == std::string_view::npos || dot == 0 || dot + 1 >= head.size()) return false;
  std::string_view n = head.substr(dot + 1);
  if (n.find('.') != std::string_view::npos) return false;
  *label = head.substr(0, dot);
  *ns = n;
  return true;
}

bool SplitAnyServiceHost(std::string_view host, std::string_view domain, std::string_view* label,
                         std::string_view* ns, bool* cluster_local) {
  *cluster_local = false;
  if (SplitServiceHost(host, domain, label, ns)) return true;
  *cluster_local = true;
  if (SplitServiceHost(host, kClusterLocalDomain, label, ns)) return true;
  // `{isvc}-{component}.{ns}`: Kubernetes' short in-cluster name, as KServe's --predictor_host gives it.
  if (!host.empty() && host.front() == '[') return *cluster_local = false;
  if (auto colon = host.rfind(':'); colon != std::string_view::npos) host = host.substr(0, colon);
  const size_t dot = host.find('.');
  if (dot == std::string_view::npos || dot == 0 || dot + 1 >= host.size() ||
      host.find('.', dot + 1) != std::string_view::npos) {
    return *cluster_local = false;
  }
  const std::string_view l = host.substr(0, dot);
  for (const auto& c : kComponentSuffixes) {
    if (l.size() > c.suffix.size() && EndsWith(l, c.suffix)) {
      *label = l;
      *ns = host.substr(dot + 1);
      return true;
    }
  }
  return *cluster_local = false;
}

const ServiceState* ResolveHostLabel(const CompiledTable& table, std::string_view label, std::string_view ns,
                                     std::string_view* tag, bool external, bool* top_level) {
  if (top_level) *top_level = false;
  if (const ServiceState* s = table.Find(ns, label, external)) {
    if (top_level) *top_level = true;
    return s;
  }
  for (const auto& c : kComponentSuffixes) {
    if (!EndsWith(label, c.suffix)) continue;
    std::string_view base = label.substr(0, label.size() - c.suffix.size());
    if (base.empty()) return nullptr;
    if (const ServiceState* s = table.Find(ns, base, external)) return ComponentOf(table, s, c.component);
    // {tag}-{isvc}: the tag is one of the component's revision tags.
    for (size_t dash = base.find('-'); dash != std::string_view::npos; dash = base.find('-', dash + 1)) {
      std::string_view t = base.substr(0, dash);
      const ServiceState* s = ComponentOf(table, table.Find(ns, base.substr(dash + 1), external), c.component);
      if (s == nullptr) continue;
      for (const auto& r : s->revisions) {
        if (!r.tag.empty() && r.tag == t) {
          *tag = t;
          return s;
        }
      }
    }
    return nullptr;
  }
  return nullptr;
}

bool IsLoopbackIp(std::string_view ip) {
  char buf[INET6_ADDRSTRLEN + 1];
  if (ip.empty() || ip.size() >= sizeof buf) return false;
  ip.copy(buf, ip.size());
  buf[ip.size()] = '\0';
  unsigned char a[sizeof(struct in6_addr)];
  if (inet_pton(AF_INET, buf, a) == 1) return net::IsLoopbackAddress(AF_INET, a);
  return inet_pton(AF_INET6, buf, a) == 1 && net::IsLoopbackAddress(AF_INET6, a);
}

RouteMatch Route(const CompiledTable& table, std::string_view host, std::string_view target, bool external) {
  RouteMatch m;
  std::string_view label, ns;
  bool cluster_host = false;
  if (SplitAnyServiceHost(host, table.domain, &label, &ns, &cluster_host) && !(cluster_host && external)) {
    bool top_level = false;
    if (const ServiceState* s = ResolveHostLabel(table, label, ns, &m.tag, external, &top_level)) {
      m.service = top_level ? table.TopLevel(*s, target) : s;
      m.internal = cluster_host || s->cluster_local;
      m.path_view = target;
      return m;
    }
  }
  constexpr std::string_view kServing = "/serving/";
  if (target.starts_with(kServing)) {
    std::string_view rest = target.substr(kServing.size());
    std::string_view n = Segment(rest, "/?");
    if (n.empty() || n.size() == rest.size() || rest[n.size()] != '/') return m;
    rest.remove_prefix(n.size() + 1);
    std::string_view name = Segment(rest, "/?");
    if (name.empty()) return m;
    rest.remove_prefix(name.size());
    const ServiceState* s = table.Find(n, name, external);
    if (s == nullptr) return m;
    m.internal = s->cluster_local;
    m.rewritten = true;
    if (!rest.empty() && rest.front() == '/') {
      m.path_view = rest;
    } else {
      m.path_storage = "/";
      m.path_storage.append(rest);
      m.owns_path = true;
    }
    m.service = table.TopLevel(*s, m.path());
    return m;
  }
  constexpr std::string_view kV1 = "/v1/models/";
  constexpr std::string_view kV2 = "/v2/models/";
  std::string_view name;
  if (target.starts_with(kV1)) {
    name = Segment(target.substr(kV1.size()), ":/?");
  } else if (target.starts_with(kV2)) {
    name = Segment(target.substr(kV2.size()), "/?");
  }
  if (!name.empty()) {
    if (const ServiceState* s = table.Find(kDefaultNamespace, name, external)) {
      m.service = table.TopLevel(*s, target);
      m.internal = s->cluster_local;
      m.path_view = target;
    }
  }
  return m;
}

const RevisionState* PickRevision(const ServiceState& service, std::string_view tag, uint64_t random) {
  const auto& revs = service.revisions;
  if (revs.empty()) return nullptr;
  if (!tag.empty()) {
    for (const auto& r : revs) {
      if (r.tag == tag) return &r;
    }
    return nullptr;
  }
  const RevisionState* chosen = &revs.front();
  if (service.total_percent > 0) {
    // Multiply-shift maps the 64-bit value onto [0, total) without a division.
    uint64_t x = static_cast<uint64_t>((static_cast<unsigned __int128>(random) * service.total_percent) >> 64);
    for (const auto& r : revs) {
      if (x < static_cast<uint64_t>(r.percent)) {
        chosen = &r;
        break;
      }
      x -= static_cast<uint64_t>(r.percent);
    }
  }
  if (!chosen->endpoints.empty() || chosen->activate) return chosen;
  for (const auto& r : revs) {
    if (!r.endpoints.empty() && (r.percent > 0 || service.total_percent == 0)) return &r;
  }
  for (const auto& r : revs) {
    if (!r.endpoints.empty()) return &r;
  }
  return chosen;
}

EndpointState* PickEndpoint(const RevisionState& rev, uint32_t start, const EndpointState* exclude, bool need_grpc) {
  const size_t n = rev.endpoints.size();
  if (n == 0) return nullptr;
  EndpointState* best = nullptr;
  int64_t best_load = 0;
  for (size_t i = 0; i < n; ++i) {
    EndpointState* e = rev.endpoints[(start + i) % n].get();
    if (e == exclude || (need_grpc && e->grpc_port <= 0) || e->gone.load(std::memory_order_relaxed)) continue;
    int64_t load = e->in_flight.load(std::memory_order_relaxed);
    if (best == nullptr || load < best_load) {
      best = e;
      best_load = load;
    }
  }
  return best;
}

EndpointState* AcquireEndpoint(const RevisionState& rev, uint32_t start, const EndpointState* exclude,
                               bool need_grpc) {
  const int64_t limit = rev.container_concurrency;
  if (limit <= 0) {
    EndpointState* e = PickEndpoint(rev, start, exclude, need_grpc);
    if (e != nullptr) e->in_flight.fetch_add(1, std::memory_order_seq_cst);
    return e;
  }
  // Limited: the least loaded endpoint with room; a lost CAS (another request took the slot) looks again.
  const size_t n = rev.endpoints.size();
  for (int attempt = 0; attempt < 8; ++attempt) {
    EndpointState* best = nullptr;
    int64_t best_load = 0;
    for (size_t i = 0; i < n; ++i) {
      EndpointState* e = rev.endpoints[(start + i) % n].get();
      if (e == exclude || (need_grpc && e->grpc_port <= 0) || e->gone.load(std::memory_order_relaxed)) continue;
      int64_t load = e->in_flight.load(std::memory_order_seq_cst);
      if (load < limit && (best == nullptr || load < best_load)) {
        best = e;
        best_load = load;
      }
    }
    if (best == nullptr) return nullptr;
    if (best->in_flight.compare_exchange_strong(best_load, best_load + 1, std::memory_order_seq_cst)) return best;
  }
  return nullptr;
}

void ReleaseEndpoint(const RevisionState& rev, EndpointState* ep) {
  ep->in_flight.fetch_sub(1, std::memory_order_seq_cst);
  if (rev.container_concurrency > 0) {
    HoldQueue& q = *rev.stats->queue;
    if (q.size.load(std::memory_order_seq_cst) > 0) q.WakeOne();
  }
}

bool HasLiveEndpoint(const RevisionState& rev, bool need_grpc) {
  for (const auto& e : rev.endpoints) {
    if (!e->gone.load(std::memory_order_relaxed) && (!need_grpc || e->grpc_port > 0)) return true;
  }
  return false;
}

void HoldQueue::WakeOne() {
  Waiter w;
  {
    MutexLock lock(mu);
    if (waiters.empty()) return;
    w = std::move(waiters.front());
    waiters.pop_front();
    size.fetch_sub(1, std::memory_order_seq_cst);
  }
  w.fire(HoldEnd::kWoken);
}

void HoldQueue::WakeAll(HoldEnd why) {
  std::deque<Waiter> out;
  {
    MutexLock lock(mu);
    out.swap(waiters);
    size.fetch_sub(static_cast<int64_t>(out.size()), std::memory_order_seq_cst);
  }
  for (auto& w : out) w.fire(why);
}

void HoldQueue::Expire(int64_t now_ns) {
  std::vector<Waiter> out;
  {
    MutexLock lock(mu);
    for (auto it = waiters.begin(); it != waiters.end();) {
      if (it->deadline_ns <= now_ns) {
        out.push_back(std::move(*it));
        it = waiters.erase(it);
      } else {
        ++it;
      }
    }
    size.fetch_sub(static_cast<int64_t>(out.size()), std::memory_order_seq_cst);
  }
  for (auto& w : out) w.fire(HoldEnd::kTimedOut);
}

void NoteHeld(RevisionStats& s, bool no_endpoint, const GatewayOptions& options) {
  s.held.fetch_add(1, std::memory_order_relaxed);
  if (!no_endpoint) return;
  s.activations.fetch_add(1, std::memory_order_relaxed);
  if (options.on_activate) options.on_activate();
}

void NoteUnheld(RevisionStats& s) { s.held.fetch_sub(1, std::memory_order_relaxed); }

std::string QueueFullMessage(std::string_view revision, size_t max) {
  return "revision " + std::string(revision) + " has " + std::to_string(max) +
         " requests waiting already (the activator's queue is full)";
}

std::string HoldTimeoutMessage(std::string_view revision, std::chrono::milliseconds timeout) {
  return "no replica of revision " + std::string(revision) + " could take the request within " +
         std::to_string(timeout.count()) + " ms (the service's timeout)";
}

RevisionStats::RevisionStats() : queue(std::make_unique<HoldQueue>()) {}
RevisionStats::~RevisionStats() = default;

namespace {
void ChangeInFlight(RevisionStats& s, int64_t now_ns, int64_t delta) {
  int64_t prev = s.in_flight_changed_ns.load(std::memory_order_relaxed);
  while (prev < now_ns &&
         !s.in_flight_changed_ns.compare_exchange_weak(prev, now_ns, std::memory_order_acq_rel,
                                                       std::memory_order_relaxed)) {
  }
  int64_t before = s.in_flight.fetch_add(delta, std::memory_order_acq_rel);
  if (prev > 0 && prev < now_ns && before > 0) {
    s.in_flight_ns.fetch_add(static_cast<uint64_t>(before) * static_cast<uint64_t>(now_ns - prev),
                             std::memory_order_relaxed);
  }
}
}  // namespace

void StatsBegin(RevisionStats& s, int64_t now_ns) {
  s.requests.fetch_add(1, std::memory_order_relaxed);
  ChangeInFlight(s, now_ns, +1);
}

void StatsEnd(RevisionStats& s, int64_t now_ns, int64_t latency_ns, bool error) {
  if (error) s.errors.fetch_add(1, std::memory_order_relaxed);
  if (latency_ns > 0) {
    s.latency_ns_sum.fetch_add(static_cast<uint64_t>(latency_ns), std::memory_order_relaxed);
    s.latency_buckets[LatencyBucket(static_cast<uint64_t>(latency_ns) / 1000)].fetch_add(1, std::memory_order_relaxed);
  }
  ChangeInFlight(s, now_ns, -1);
}


TableHolder::TableHolder() : table_(std::make_shared<const CompiledTable>()) {}

}  // namespace inferd::gateway
