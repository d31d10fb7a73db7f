// tests/kube/fake_api_server.cc: the fake Kubernetes API server (a test double; see the header).
#include "kube/fake_api_server.h"

#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <deque>
#include <map>
#include <thread>

#include "core/clock.h"
#include "core/mutex.h"
#include "core/percent.h"

namespace inferd::kube::testing {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

struct Fault {
  int count;
  int code;
  std::string reason, match;
};

struct Event {
  uint64_t rv;
  std::string resource;  // group/plural
  std::string type;
  Json object;
};

struct Answer {
  int code = 200;
  Json body;
};

// A parsed request target: the resource, namespace, name, subresource and query.
struct Target {
  std::string group, version, plural, ns, name, sub;
  std::map<std::string, std::string> query;
  bool ok = false;
  std::string Resource() const { return group + "/" + plural; }
  Gvr ToGvr(bool namespaced) const { return Gvr{group, version, plural, namespaced}; }
};

std::vector<std::string> SplitPath(std::string_view path) {
  std::vector<std::string> out;
  size_t i = 0;
  while (i < path.size()) {
    size_t j = path.find('/', i);
    if (j == std::string_view::npos) j = path.size();
    if (j > i) {
      StatusOr<std::string> seg = PercentDecode(path.substr(i, j - i));
      out.push_back(seg.ok() ? *seg : std::string(path.substr(i, j - i)));
    }
    i = j + 1;
  }
  return out;
}

std::map<std::string, std::string> ParseQuery(std::string_view q) {
  std::map<std::string, std::string> out;
  size_t i = 0;
  while (i < q.size()) {
    size_t j = q.find('&', i);
    if (j == std::string_view::npos) j = q.size();
    std::string_view kv = q.substr(i, j - i);
    size_t eq = kv.find('=');
    std::string k(kv.substr(0, eq));
    std::string v = eq == std::string_view::npos ? "" : std::string(kv.substr(eq + 1));
    StatusOr<std::string> dv = PercentDecode(v, {.plus_is_space = true});
    out[k] = dv.ok() ? *dv : v;
    i = j + 1;
  }
  return out;
}

Json StatusJson(int code, const std::string& reason, const std::string& message, const Target* t = nullptr) {
  Json s = {{"kind", "Status"}, {"apiVersion", "v1"}, {"metadata", Json::object()},
            {"status", code < 300 ? "Success" : "Failure"}, {"message", message}, {"reason", reason}, {"code", code}};
  if (t) s["details"] = {{"name", t->name}, {"group", t->group}, {"kind", t->plural}};
  return s;
}

std::string Qualified(const Target& t) { return t.group.empty() ? t.plural : t.plural + "." + t.group; }

Json& Meta(Json& obj) {
  if (!obj.contains("metadata") || !obj["metadata"].is_object()) obj["metadata"] = Json::object();
  return obj["metadata"];
}

std::string MetaStr(const Json& obj, const char* k) {
  if (!obj.is_object() || !obj.contains("metadata") || !obj["metadata"].is_object()) return "";
  auto it = obj["metadata"].find(k);
  return it != obj["metadata"].end() && it->is_string() ? it->get<std::string>() : "";
}

// Everything outside metadata and status (what bumps metadata.generation).
Json SpecPart(const Json& obj) {
  Json o = obj;
  if (o.is_object()) {
    o.erase("metadata");
    o.erase("status");
  }
  return o;
}

bool LabelsMatch(const Json& obj, const std::string& selector, bool* bad) {
  if (selector.empty()) return true;
  Json labels = Json::object();
  if (obj.contains("metadata") && obj["metadata"].contains("labels") && obj["metadata"]["labels"].is_object()) {
    labels = obj["metadata"]["labels"];
  }
  size_t i = 0;
  while (i <= selector.size()) {
    size_t j = selector.find(',', i);
    if (j == std::string::npos) j = selector.size();
    std::string term = selector.substr(i, j - i);
    i = j + 1;
    if (term.empty()) continue;
    if (term.find('(') != std::string::npos || term.find(' ') != std::string::npos) {
      *bad = true;  // set-based terms are not implemented by the fake
      return false;
    }
    size_t ne = term.find("!=");
    size_t eq = term.find('=');
    if (term[0] == '!') {
      if (labels.contains(term.substr(1))) return false;
    } else if (ne != std::string::npos) {
      auto it = labels.find(term.substr(0, ne));
      if (it != labels.end() && it->is_string() && it->get<std::string>() == term.substr(ne + 2)) return false;
    } else if (eq != std::string::npos) {
      const size_t vpos = term.compare(eq, 2, "==") == 0 ? eq + 2 : eq + 1;
      auto it = labels.find(term.substr(0, eq));
      if (it == labels.end() || !it->is_string() || it->get<std::string>() != term.substr(vpos)) return false;
    } else if (!labels.contains(term)) {
      return false;
    }
  }
  return true;
}

bool FieldsMatch(const Json& obj, const std::string& selector, bool* bad) {
  if (selector.empty()) return true;
  size_t i = 0;
  while (i <= selector.size()) {
    size_t j = selector.find(',', i);
    if (j == std::string::npos) j = selector.size();
    std::string term = selector.substr(i, j - i);
    i = j + 1;
    if (term.empty()) continue;
    size_t eq = term.find('=');
    std::string field = term.substr(0, eq);
    std::string value = eq == std::string::npos ? "" : term.substr(term.compare(eq, 2, "==") == 0 ? eq + 2 : eq + 1);
    if (field == "metadata.name") {
      if (MetaStr(obj, "name") != value) return false;
    } else if (field == "metadata.namespace") {
      if (MetaStr(obj, "namespace") != value) return false;
    } else {
      *bad = true;
      return false;
    }
  }
  return true;
}

}  // namespace

struct FakeApiServer::Impl {
  struct KindInfo {
    std::string kind;
    bool namespaced = true;
  };
  struct Watcher {};

  explicit Impl(Options o) : options(std::move(o)), acceptor(ctx) {}

  Options options;
  asio::io_context ctx;
  tcp::acceptor acceptor;
  int port = 0;
  std::thread accept_thread;
  std::atomic<bool> stopped{false};

  mutable Mutex mu;
  CondVar cv;
  std::map<std::string, KindInfo> kinds GUARDED_BY(mu);                      // group/plural ->
  std::map<std::string, std::map<std::string, Json>> objects GUARDED_BY(mu);  // group/plural -> key ->
  uint64_t rv GUARDED_BY(mu) = 0;
  uint64_t compacted_rv GUARDED_BY(mu) = 0;  // events up to this one are forgotten
  uint64_t uid_counter GUARDED_BY(mu) = 0;
  uint64_t close_generation GUARDED_BY(mu) = 0;
  std::deque<Event> history GUARDED_BY(mu);
  std::vector<std::string> raw GUARDED_BY(mu);  // SendRawToWatches, in order
  std::vector<Fault> faults GUARDED_BY(mu);
  std::vector<std::string> log GUARDED_BY(mu);
  int watches GUARDED_BY(mu) = 0;
  std::vector<std::thread> threads GUARDED_BY(mu);
  std::vector<int> fds GUARDED_BY(mu);

  // ---- state helpers (mu held) ----
  bool NamespacedLocked(const std::string& resource) const REQUIRES(mu) {
    auto it = kinds.find(resource);
    return it == kinds.end() || it->second.namespaced;
  }

  void RecordLocked(const std::string& resource, const std::string& type, const Json& obj) REQUIRES(mu) {
    history.push_back(Event{rv, resource, type, obj});
    while (history.size() > options.history_window) {
      compacted_rv = history.front().rv;
      history.pop_front();
    }
    cv.SignalAll();
  }

  void StampNewLocked(const Target& t, Json& obj) REQUIRES(mu) {
    Json& m = Meta(obj);
    m["uid"] = "fake-uid-" + std::to_string(++uid_counter);
    m["creationTimestamp"] = NowRfc3339();
    m["generation"] = 1;
    m.erase("deletionTimestamp");
    if (!obj.contains("apiVersion")) obj["apiVersion"] = t.group.empty() ? t.version : t.group + "/" + t.version;
    auto k = kinds.find(t.Resource());
    if (k != kinds.end()) obj["kind"] = k->second.kind;
  }

  // Stores obj under key (rv bumped) and records the event; returns the stored object.
  Json StoreLocked(const std::string& resource, const std::string& key, Json obj, const char* type) REQUIRES(mu) {
    Meta(obj)["resourceVersion"] = std::to_string(++rv);
    objects[resource][key] = obj;
    RecordLocked(resource, type, obj);
    return obj;
  }

  void RemoveLocked(const std::string& resource, const std::string& key, bool gc, const std::string& policy)
      REQUIRES(mu) {
    auto& bucket = objects[resource];
    auto it = bucket.find(key);
    if (it == bucket.end()) return;
    Json obj = std::move(it->second);
    bucket.erase(it);
    Meta(obj)["resourceVersion"] = std::to_string(++rv);
    RecordLocked(resource, "DELETED", obj);
    if (gc) CollectDependentsLocked(MetaStr(obj, "uid"), policy);
  }

  // Deletes (or, with Orphan, un-owns) every object owned by uid.
  void CollectDependentsLocked(const std::string& uid, const std::string& policy) REQUIRES(mu) {
    if (uid.empty() || !options.garbage_collect) return;
    std::vector<std::pair<std::string, std::string>> owned;
    for (auto& [resource, bucket] : objects) {
      for (auto& [key, obj] : bucket) {
        const Json& m = obj["metadata"];
        if (!m.contains("ownerReferences") || !m["ownerReferences"].is_array()) continue;
        for (const Json& ref : m["ownerReferences"]) {
          if (ref.is_object() && ref.value("uid", "") == uid) owned.emplace_back(resource, key);
        }
      }
    }
    for (const auto& [resource, key] : owned) {
      auto it = objects[resource].find(key);
      if (it == objects[resource].end()) continue;
      Json obj = it->second;
      if (policy == "Orphan") {
        Json& refs = obj["metadata"]["ownerReferences"];
        Json kept = Json::array();
        for (const Json& ref : refs) {
          if (!(ref.is_object() && ref.value("uid", "") == uid)) kept.push_back(ref);
        }
        refs = kept;
        StoreLocked(resource, key, obj, "MODIFIED");
      } else {
        DeleteLocked(resource, key, "Background");
      }
    }
  }

  // DELETE semantics: finalizers pending -> deletionTimestamp; else gone (with GC). Returns the object
  // while it stays, nullopt when it went.
  std::optional<Json> DeleteLocked(const std::string& resource, const std::string& key, const std::string& policy)
      REQUIRES(mu) {
    Json obj = objects[resource][key];
    const Json& m = obj["metadata"];
    if (m.contains("finalizers") && m["finalizers"].is_array() && !m["finalizers"].empty()) {
      if (!m.contains("deletionTimestamp")) {
        Meta(obj)["deletionTimestamp"] = NowRfc3339();
        return StoreLocked(resource, key, obj, "MODIFIED");
      }
      return obj;
    }
    RemoveLocked(resource, key, true, policy);
    return std::nullopt;
  }

  // After an update: an object being deleted whose finalizers are now empty goes.
  std::optional<Json> FinishDeletionLocked(const std::string& resource, const std::string& key, const Json& obj)
      REQUIRES(mu) {
    const Json& m = obj["metadata"];
    const bool no_finalizers = !m.contains("finalizers") || !m["finalizers"].is_array() || m["finalizers"].empty();
    if (m.contains("deletionTimestamp") && no_finalizers) {
      RemoveLocked(resource, key, true, "Background");
      return std::nullopt;
    }
    return obj;
  }

  // ---- verbs ----
  Answer Handle(const std::string& method, const Target& t, const std::string& body);
  Answer List(const Target& t);
  Answer Create(const Target& t, const std::string& body);
  Answer Update(const Target& t, const std::string& body);
  Answer Patch(const Target& t, const std::string& body, const std::string& content_type);
  Answer Delete(const Target& t, const std::string& body);
  void Watch(tcp::socket& sock, const Target& t);
  void Serve(tcp::socket sock);
  void AcceptLoop();
  Target Parse(std::string_view target) const;
};

Target FakeApiServer::Impl::Parse(std::string_view target) const {
  Target t;
  const size_t qpos = target.find('?');
  if (qpos != std::string_view::npos) t.query = ParseQuery(target.substr(qpos + 1));
  std::vector<std::string> seg = SplitPath(target.substr(0, qpos));
  size_t i = 0;
  if (seg.size() >= 2 && seg[0] == "api") {
    t.version = seg[1];
    i = 2;
  } else if (seg.size() >= 3 && seg[0] == "apis") {
    t.group = seg[1];
    t.version = seg[2];
    i = 3;
  } else {
    return t;
  }
  std::vector<std::string> rest(seg.begin() + static_cast<long>(i), seg.end());
  if (rest.size() >= 3 && rest[0] == "namespaces") {
    t.ns = rest[1];
    rest.erase(rest.begin(), rest.begin() + 2);
  }
  if (rest.empty() || rest.size() > 3) return t;
  t.plural = rest[0];
  if (rest.size() >= 2) t.name = rest[1];
  if (rest.size() == 3) t.sub = rest[2];
  t.ok = t.sub.empty() || t.sub == "status";
  return t;
}

Answer FakeApiServer::Impl::Handle(const std::string& method, const Target& t, const std::string& body) {
  if (method == "GET" && t.name.empty()) return List(t);
  if (method == "GET") {
    MutexLock lock(mu);
    auto& bucket = objects[t.Resource()];
    auto it = bucket.find(t.ns.empty() ? t.name : t.ns + "/" + t.name);
    if (it == bucket.end()) return {404, StatusJson(404, "NotFound", Qualified(t) + " \"" + t.name + "\" not found", &t)};
    return {200, it->second};
  }
  if (method == "POST" && t.name.empty()) return Create(t, body);
  if (method == "PUT" && !t.name.empty()) return Update(t, body);
  if (method == "DELETE" && !t.name.empty()) return Delete(t, body);
  return {405, StatusJson(405, "MethodNotAllowed", "the server does not allow this method on the requested resource")};
}

Answer FakeApiServer::Impl::List(const Target& t) {
  MutexLock lock(mu);
  const std::string resource = t.Resource();
  const bool namespaced = NamespacedLocked(resource);
  uint64_t snapshot = rv;
  std::string after;
  auto cont = t.query.find("continue");
  if (cont != t.query.end() && !cont->second.empty()) {
    const size_t bar = cont->second.find('|');
    snapshot = std::strtoull(cont->second.c_str(), nullptr, 10);
    after = bar == std::string::npos ? "" : cont->second.substr(bar + 1);
    if (snapshot < compacted_rv) {
      return {410, StatusJson(410, "Expired",
                              "The provided continue parameter is too old to display a consistent list result. "
                              "You can start a new list without the continue parameter.")};
    }
  }
  int64_t limit = 0;
  if (auto l = t.query.find("limit"); l != t.query.end()) limit = std::strtoll(l->second.c_str(), nullptr, 10);
  bool bad = false;
  Json items = Json::array();
  std::string last;
  bool more = false;
  for (const auto& [key, obj] : objects[resource]) {
    if (!after.empty() && key <= after) continue;
    if (namespaced && !t.ns.empty() && MetaStr(obj, "namespace") != t.ns) continue;
    auto q = [&](const char* k) { auto it = t.query.find(k); return it == t.query.end() ? std::string() : it->second; };
    if (!LabelsMatch(obj, q("labelSelector"), &bad) || !FieldsMatch(obj, q("fieldSelector"), &bad)) continue;
    if (limit > 0 && static_cast<int64_t>(items.size()) >= limit) {
      more = true;
      break;
    }
    items.push_back(obj);
    last = key;
  }
  if (bad) return {400, StatusJson(400, "BadRequest", "unsupported label or field selector (fake API server)")};
  auto k = kinds.find(resource);
  Json list = {{"apiVersion", t.group.empty() ? t.version : t.group + "/" + t.version},
               {"kind", (k != kinds.end() ? k->second.kind : std::string()) + "List"},
               {"metadata", {{"resourceVersion", std::to_string(snapshot)}}},
               {"items", std::move(items)}};
  if (more) list["metadata"]["continue"] = std::to_string(snapshot) + "|" + last;
  return {200, std::move(list)};
}

Answer FakeApiServer::Impl::Create(const Target& t, const std::string& body) {
  Json obj = Json::parse(body, nullptr, false);
  if (!obj.is_object()) return {400, StatusJson(400, "BadRequest", "the body is not a JSON object")};
  MutexLock lock(mu);
  const bool namespaced = NamespacedLocked(t.Resource());
  Json& m = Meta(obj);
  std::string name = MetaStr(obj, "name");
  if (name.empty() && m.contains("generateName") && m["generateName"].is_string()) {
    name = m["generateName"].get<std::string>() + std::to_string(uid_counter + 1);
    m["name"] = name;
  }
  if (name.empty()) return {422, StatusJson(422, "Invalid", "metadata.name: Required value: name or generateName is required")};
  if (namespaced) {
    const std::string body_ns = MetaStr(obj, "namespace");
    if (t.ns.empty()) return {404, StatusJson(404, "NotFound", "the namespace of the object is missing from the path")};
    if (!body_ns.empty() && body_ns != t.ns) {
      return {400, StatusJson(400, "BadRequest", "the namespace of the provided object does not match the namespace sent on the request")};
    }
    m["namespace"] = t.ns;
  }
  const std::string key = namespaced ? t.ns + "/" + name : name;
  Target named = t;
  named.name = name;
  if (objects[t.Resource()].count(key)) {
    return {409, StatusJson(409, "AlreadyExists", Qualified(t) + " \"" + name + "\" already exists", &named)};
  }
  obj.erase("status");  // the status subresource: status is not set by a create
  StampNewLocked(t, obj);
  return {201, StoreLocked(t.Resource(), key, std::move(obj), "ADDED")};
}

Answer FakeApiServer::Impl::Update(const Target& t, const std::string& body) {
  Json obj = Json::parse(body, nullptr, false);
  if (!obj.is_object()) return {400, StatusJson(400, "BadRequest", "the body is not a JSON object")};
  MutexLock lock(mu);
  const std::string key = t.ns.empty() ? t.name : t.ns + "/" + t.name;
  auto& bucket = objects[t.Resource()];
  auto it = bucket.find(key);
  if (it == bucket.end()) return {404, StatusJson(404, "NotFound", Qualified(t) + " \"" + t.name + "\" not found", &t)};
  const std::string sent_rv = MetaStr(obj, "resourceVersion");
  if (sent_rv.empty()) {
    return {422, StatusJson(422, "Invalid", Qualified(t) + " \"" + t.name +
                                                "\" is invalid: metadata.resourceVersion: Invalid value: 0x0: must be specified for an update", &t)};
  }
  const Json& old = it->second;
  if (sent_rv != MetaStr(old, "resourceVersion")) {
    return {409, StatusJson(409, "Conflict", "Operation cannot be fulfilled on " + Qualified(t) + " \"" + t.name +
                                                 "\": the object has been modified; please apply your changes to the latest version and try again", &t)};
  }
  Json next;
  if (t.sub == "status") {
    next = old;
    if (obj.contains("status")) next["status"] = obj["status"]; else next.erase("status");
  } else {
    next = obj;
    if (old.contains("status")) next["status"] = old["status"]; else next.erase("status");
    Json& m = Meta(next);
    for (const char* keep : {"uid", "creationTimestamp", "deletionTimestamp", "namespace", "name", "generation"}) {
      if (old["metadata"].contains(keep)) m[keep] = old["metadata"][keep]; else m.erase(keep);
    }
    if (SpecPart(next) != SpecPart(old)) m["generation"] = old["metadata"].value("generation", 1) + 1;
  }
  Meta(next)["resourceVersion"] = MetaStr(old, "resourceVersion");
  if (next == old) return {200, old};  // a no-op write changes nothing, not even the resourceVersion
  std::optional<Json> stays = FinishDeletionLocked(t.Resource(), key, next);
  if (!stays) return {200, next};
  return {200, StoreLocked(t.Resource(), key, std::move(next), "MODIFIED")};
}

Answer FakeApiServer::Impl::Patch(const Target& t, const std::string& body, const std::string& content_type) {
  const bool apply = content_type.rfind("application/apply-patch", 0) == 0;
  if (!apply && content_type.rfind("application/merge-patch+json", 0) != 0) {
    return {415, StatusJson(415, "UnsupportedMediaType", "the fake API server supports merge-patch+json and apply-patch+yaml (as a merge) only")};
  }
  Json patch = Json::parse(body, nullptr, false);
  if (!patch.is_object()) return {400, StatusJson(400, "BadRequest", "the patch is not a JSON object")};
  Json current;
  {
    MutexLock lock(mu);
    const std::string key = t.ns.empty() ? t.name : t.ns + "/" + t.name;
    auto& bucket = objects[t.Resource()];
    auto it = bucket.find(key);
    if (it == bucket.end()) {
      if (!apply || !t.sub.empty()) return {404, StatusJson(404, "NotFound", Qualified(t) + " \"" + t.name + "\" not found", &t)};
    } else {
      current = it->second;
    }
  }
  if (current.is_null()) {  // server-side apply creates
    Meta(patch)["name"] = t.name;
    Target collection = t;
    collection.name.clear();
    return Create(collection, patch.dump());
  }
  Json merged = resources::MergePatch(current, patch);
  if (!patch.contains("metadata") || !patch["metadata"].contains("resourceVersion")) {
    Meta(merged)["resourceVersion"] = MetaStr(current, "resourceVersion");  // a patch is unconditional
  }
  return Update(t, merged.dump());
}

Answer FakeApiServer::Impl::Delete(const Target& t, const std::string& body) {
  std::string policy = "Background";
  Json opts = Json::parse(body.empty() ? "{}" : body, nullptr, false);
  if (opts.is_object() && opts.contains("propagationPolicy") && opts["propagationPolicy"].is_string()) {
    policy = opts["propagationPolicy"].get<std::string>();
  }
  if (auto p = t.query.find("propagationPolicy"); p != t.query.end()) policy = p->second;
  MutexLock lock(mu);
  const std::string key = t.ns.empty() ? t.name : t.ns + "/" + t.name;
  auto& bucket = objects[t.Resource()];
  auto it = bucket.find(key);
  if (it == bucket.end()) return {404, StatusJson(404, "NotFound", Qualified(t) + " \"" + t.name + "\" not found", &t)};
  const std::string uid = MetaStr(it->second, "uid");
  std::optional<Json> stays = DeleteLocked(t.Resource(), key, policy);
  if (stays) return {200, *stays};
  Json st = StatusJson(200, "", "", &t);
  st.erase("reason");
  st.erase("message");
  st["details"]["uid"] = uid;
  return {200, st};
}

namespace {

bool WriteChunk(tcp::socket& sock, const std::string& data) {
  char head[32];
  const int n = std::snprintf(head, sizeof head, "%zx\r\n", data.size());
  std::string chunk(head, static_cast<size_t>(n));
  chunk += data;
  chunk += "\r\n";
  boost::system::error_code ec;
  asio::write(sock, asio::buffer(chunk), ec);
  return !ec;
}

// True when the client has gone (closed or reset its end): a watch with nothing to send would not notice.
bool PeerClosed(tcp::socket& sock) {
  pollfd p{sock.native_handle(), POLLRDHUP, 0};
  return ::poll(&p, 1, 0) > 0 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR));
}

std::string EventLine(const std::string& type, const Json& obj) {
  return Json{{"type", type}, {"object", obj}}.dump() + "\n";
}

}  // namespace

void FakeApiServer::Impl::Watch(tcp::socket& sock, const Target& t) {
  auto q = [&](const char* k) { auto it = t.query.find(k); return it == t.query.end() ? std::string() : it->second; };
  const std::string resource = t.Resource();
  const std::string rv_param = q("resourceVersion");
  const bool bookmarks = q("allowWatchBookmarks") == "true";
  const int timeout_s = q("timeoutSeconds").empty() ? 1800 : std::atoi(q("timeoutSeconds").c_str());
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(std::max(timeout_s, 0));
  const std::string head =
      "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nCache-Control: no-cache\r\n\r\n";
  boost::system::error_code ec;
  asio::write(sock, asio::buffer(head), ec);
  if (ec) return;
  auto matches = [&](const Json& obj) {
    bool bad = false;
    if (!t.ns.empty() && MetaStr(obj, "namespace") != t.ns) return false;
    return LabelsMatch(obj, q("labelSelector"), &bad) && FieldsMatch(obj, q("fieldSelector"), &bad);
  };
  std::vector<std::string> out;
  uint64_t cursor = 0;
  uint64_t close_gen = 0;
  size_t raw_seen = 0;
  {
    MutexLock lock(mu);
    ++watches;
    raw_seen = raw.size();
    close_gen = close_generation;
    if (rv_param.empty() || rv_param == "0") {
      for (const auto& [key, obj] : objects[resource]) {
        if (matches(obj)) out.push_back(EventLine("ADDED", obj));
      }
      cursor = rv;
    } else {
      cursor = std::strtoull(rv_param.c_str(), nullptr, 10);
    }
  }
  bool open = true;
  while (open) {
    for (const std::string& line : out) {
      if (!WriteChunk(sock, line)) open = false;
    }
    out.clear();
    if (!open || stopped) break;
    MutexLock lock(mu);
    if (cursor < compacted_rv) {
      const std::string msg = "too old resource version: " + std::to_string(cursor) + " (" + std::to_string(compacted_rv + 1) + ")";
      out.push_back(EventLine("ERROR", StatusJson(410, "Expired", msg)));
      open = false;
      continue;
    }
    for (; raw_seen < raw.size(); ++raw_seen) out.push_back(raw[raw_seen]);
    auto first = std::upper_bound(history.begin(), history.end(), cursor,
                                  [](uint64_t v, const Event& e) { return v < e.rv; });
    for (auto e = first; e != history.end(); ++e) {
      cursor = e->rv;
      if (e->resource == resource && matches(e->object)) out.push_back(EventLine(e->type, e->object));
    }
    if (!out.empty()) continue;
    if (PeerClosed(sock)) break;
    const bool closing = close_generation != close_gen || stopped || std::chrono::steady_clock::now() >= deadline;
    if (closing) {
      if (bookmarks && !stopped) {
        auto k = kinds.find(resource);
        Json bm = {{"apiVersion", t.group.empty() ? t.version : t.group + "/" + t.version},
                   {"kind", k != kinds.end() ? k->second.kind : std::string()},
                   {"metadata", {{"resourceVersion", std::to_string(rv)}}}};
        out.push_back(EventLine("BOOKMARK", bm));
      }
      open = false;
      continue;
    }
    cv.WaitFor(mu, std::chrono::milliseconds(200));
  }
  for (const std::string& line : out) WriteChunk(sock, line);
  asio::write(sock, asio::buffer(std::string("0\r\n\r\n")), ec);
  MutexLock lock(mu);
  --watches;
}

void FakeApiServer::Impl::Serve(tcp::socket sock) {
  beast::flat_buffer buf;
  for (;;) {
    http::request_parser<http::string_body> parser;
    parser.body_limit(options.max_body_bytes);
    beast::error_code ec;
    http::read(sock, buf, parser, ec);
    if (ec) break;
    http::request<http::string_body> req = parser.release();
    const std::string method(req.method_string());
    const std::string target(req.target());
    Target t = Parse(target);
    Answer answer;
    bool injected = false;
    {
      MutexLock lock(mu);
      log.push_back(method + " " + target);
      const std::string line = method + " " + target;
      for (Fault& f : faults) {
        if (f.count > 0 && line.find(f.match) != std::string::npos) {
          --f.count;
          answer = {f.code, StatusJson(f.code, f.reason, "injected fault (fake API server)")};
          injected = true;
          break;
        }
      }
    }
    const auto watch = t.query.find("watch");
    const bool is_watch = watch != t.query.end() && (watch->second == "true" || watch->second == "1");
    if (!injected && !options.token.empty() && std::string(req[http::field::authorization]) != "Bearer " + options.token) {
      answer = {401, StatusJson(401, "Unauthorized", "Unauthorized")};
    } else if (!injected && !t.ok) {
      answer = {404, StatusJson(404, "NotFound", "the server could not find the requested resource")};
    } else if (!injected && method == "GET" && t.name.empty() && is_watch) {
      Watch(sock, t);
      break;  // a watch ends its connection
    } else if (!injected) {
      answer = method == "PATCH" ? Patch(t, req.body(), std::string(req[http::field::content_type]))
                                 : Handle(method, t, req.body());
    }
    http::response<http::string_body> res;
    res.version(11);
    res.result(static_cast<unsigned>(answer.code));
    res.set(http::field::content_type, "application/json");
    res.body() = answer.body.dump();
    res.keep_alive(req.keep_alive());
    res.prepare_payload();
    http::write(sock, res, ec);
    if (ec || !req.keep_alive()) break;
  }
  boost::system::error_code ec;
  sock.shutdown(tcp::socket::shutdown_both, ec);
  MutexLock lock(mu);
  std::replace(fds.begin(), fds.end(), sock.native_handle(), -1);
  sock.close(ec);
}

void FakeApiServer::Impl::AcceptLoop() {
  for (;;) {
    tcp::socket sock(ctx);
    boost::system::error_code ec;
    acceptor.accept(sock, ec);
    if (ec || stopped) return;
    MutexLock lock(mu);
    fds.push_back(sock.native_handle());
    threads.emplace_back([this, s = std::move(sock)]() mutable { Serve(std::move(s)); });
  }
}

// ---- public -----------------------------------------------------------------------------------------------

FakeApiServer::FakeApiServer() : FakeApiServer(Options{}) {}

FakeApiServer::FakeApiServer(Options options) : impl_(std::make_unique<Impl>(std::move(options))) {
  tcp::endpoint ep(asio::ip::make_address("127.0.0.1"), 0);
  impl_->acceptor.open(ep.protocol());
  impl_->acceptor.set_option(asio::socket_base::reuse_address(true));
  impl_->acceptor.bind(ep);
  impl_->acceptor.listen();
  impl_->port = impl_->acceptor.local_endpoint().port();
  impl_->accept_thread = std::thread([this] { impl_->AcceptLoop(); });
}

FakeApiServer::~FakeApiServer() {
  impl_->stopped = true;
  ::shutdown(impl_->acceptor.native_handle(), SHUT_RDWR);
  if (impl_->accept_thread.joinable()) impl_->accept_thread.join();
  std::vector<std::thread> threads;
  {
    MutexLock lock(impl_->mu);
    for (int fd : impl_->fds) {
      if (fd >= 0) ::shutdown(fd, SHUT_RDWR);
    }
    impl_->cv.SignalAll();
    threads.swap(impl_->threads);
  }
  for (auto& t : threads) {
    if (t.joinable()) t.join();
  }
  boost::system::error_code ec;
  impl_->acceptor.close(ec);
}

int FakeApiServer::port() const { return impl_->port; }
std::string FakeApiServer::url() const { return "http://127.0.0.1:" + std::to_string(impl_->port); }

KubeConfig FakeApiServer::Config() const {
  KubeConfig c;
  c.server = url();
  c.token = impl_->options.token;
  c.connect_timeout_s = 5;
  c.request_timeout_s = 10;
  return c;
}

void FakeApiServer::RegisterKind(const Gvr& gvr, std::string kind) {
  MutexLock lock(impl_->mu);
  impl_->kinds[gvr.group + "/" + gvr.plural] = Impl::KindInfo{std::move(kind), gvr.namespaced};
}

void FakeApiServer::FailNext(int count, int code, std::string reason, std::string match) {
  MutexLock lock(impl_->mu);
  impl_->faults.push_back(Fault{count, code, std::move(reason), std::move(match)});
}

void FakeApiServer::CloseWatches() {
  MutexLock lock(impl_->mu);
  ++impl_->close_generation;
  impl_->cv.SignalAll();
}

void FakeApiServer::SendRawToWatches(std::string bytes) {
  MutexLock lock(impl_->mu);
  impl_->raw.push_back(std::move(bytes));
  impl_->cv.SignalAll();
}

void FakeApiServer::CompactHistory() {
  MutexLock lock(impl_->mu);
  // As if changes happened and were forgotten: every resourceVersion handed out so far is now too old.
  impl_->history.clear();
  impl_->compacted_rv = ++impl_->rv;
  impl_->cv.SignalAll();
}

bool FakeApiServer::Drop(const Gvr& gvr, std::string_view ns, std::string_view name) {
  MutexLock lock(impl_->mu);
  const std::string resource = gvr.group + "/" + gvr.plural;
  const std::string key = gvr.namespaced ? std::string(ns) + "/" + std::string(name) : std::string(name);
  if (!impl_->objects[resource].count(key)) return false;
  impl_->RemoveLocked(resource, key, /*gc=*/false, "Orphan");
  return true;
}

std::optional<Json> FakeApiServer::Object(const Gvr& gvr, std::string_view ns, std::string_view name) const {
  MutexLock lock(impl_->mu);
  auto b = impl_->objects.find(gvr.group + "/" + gvr.plural);
  if (b == impl_->objects.end()) return std::nullopt;
  const std::string key = gvr.namespaced ? std::string(ns) + "/" + std::string(name) : std::string(name);
  auto it = b->second.find(key);
  if (it == b->second.end()) return std::nullopt;
  return it->second;
}

std::vector<Json> FakeApiServer::Objects(const Gvr& gvr, std::string_view ns) const {
  MutexLock lock(impl_->mu);
  std::vector<Json> out;
  auto b = impl_->objects.find(gvr.group + "/" + gvr.plural);
  if (b == impl_->objects.end()) return out;
  for (const auto& [key, obj] : b->second) {
    if (ns.empty() || MetaStr(obj, "namespace") == ns) out.push_back(obj);
  }
  return out;
}

Json FakeApiServer::Put(const Gvr& gvr, Json object) {
  MutexLock lock(impl_->mu);
  Target t;
  t.group = gvr.group;
  t.version = gvr.version;
  t.plural = gvr.plural;
  const std::string resource = t.Resource();
  const std::string ns = gvr.namespaced ? MetaStr(object, "namespace") : "";
  const std::string key = ns.empty() ? MetaStr(object, "name") : ns + "/" + MetaStr(object, "name");
  auto& bucket = impl_->objects[resource];
  auto it = bucket.find(key);
  if (it == bucket.end()) {
    impl_->StampNewLocked(t, object);
    return impl_->StoreLocked(resource, key, std::move(object), "ADDED");
  }
  Json& m = Meta(object);
  for (const char* keep : {"uid", "creationTimestamp"}) m[keep] = it->second["metadata"][keep];
  if (!object.contains("apiVersion")) object["apiVersion"] = it->second.value("apiVersion", "");
  if (!object.contains("kind") && it->second.contains("kind")) object["kind"] = it->second["kind"];
  return impl_->StoreLocked(resource, key, std::move(object), "MODIFIED");
}

uint64_t FakeApiServer::resource_version() const {
  MutexLock lock(impl_->mu);
  return impl_->rv;
}

int FakeApiServer::open_watches() const {
  MutexLock lock(impl_->mu);
  return impl_->watches;
}

std::vector<std::string> FakeApiServer::requests() const {
  MutexLock lock(impl_->mu);
  return impl_->log;
}

size_t FakeApiServer::CountRequests(std::string_view method, std::string_view target_substring) const {
  MutexLock lock(impl_->mu);
  size_t n = 0;
  for (const std::string& line : impl_->log) {
    if (line.rfind(std::string(method) + " ", 0) == 0 && line.find(target_substring) != std::string::npos) ++n;
  }
  return n;
}

}  // namespace inferd::kube::testing
