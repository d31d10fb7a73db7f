// api/api_server.cc: the Kubernetes-shaped REST API over the Store (see api_server.h for the contract).
//
// Structure: one Asio I/O thread accepts connections (net::HttpSession over ApiApp, shared with the model
// server) and serves ordinary requests (get, list, create, replace, patch, delete) synchronously against the
// thread-safe Store. A watch or an extension request
// takes the connection's socket off the I/O thread and onto a stream thread of its own, which writes the
// response with raw HTTP/1.1 chunked framing using blocking writes and closes the connection at the end.
// Stop() shuts those sockets down (waking blocked writes) and joins the stream threads.
#include "api/api_server.h"

#include <poll.h>
#include <sys/socket.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <algorithm>
#include <atomic>
#include <list>
#include <optional>
#include <random>
#include <thread>
#include <vector>

#include "core/ascii.h"
#include "core/bearer.h"
#include "core/clock.h"
#include "core/http_status.h"
#include "core/json_depth.h"
#include "core/logging.h"
#include "core/mutex.h"
#include "core/percent.h"
#include "api/access.h"
#include "api/crds.h"
#include "api/openapi.h"
#include "api/schema.h"
#include "api/status_object.h"
#include "net/http_session.h"
#include "api/namespaces.h"
#include "api/patch.h"
#include "api/status_object.h"
#include "net/listener.h"
#include "net/tls.h"
#include "api/discovery.h"
#include "api/table.h"
#include "resources/resources.h"
#include "resources/secrets.h"

namespace inferd::api {

using store::Json;
using store::ResourceType;

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using namespace std::chrono_literals;

constexpr int kPatchAttempts = 5;

std::string Dump(const Json& j) { return j.dump(-1, ' ', false, Json::error_handler_t::replace); }

// ---- responses ------------------------------------------------------------------------------------------
struct Reply {
  int status = 200;
  std::string body;
  std::string content_type = "application/json";
  std::vector<std::pair<std::string, std::string>> headers;
};

Reply ErrorReply(int code, const std::string& reason, const std::string& message) {
  Reply r;
  r.status = code;
  r.body = Dump(StatusObject(code, reason, message));
  return r;
}

Reply ErrorReply(const Status& st) {
  return ErrorReply(HttpStatusFor(st.code()), HttpReasonFor(st.code()), st.message());
}

Reply JsonReply(int status, const Json& j) {
  Reply r;
  r.status = status;
  r.body = Dump(j);
  return r;
}

std::string GroupOf(const ResourceType& t) {  // "serving.kserve.io"; "" for the core group
  auto slash = t.api_version.rfind('/');
  return slash == std::string::npos ? "" : t.api_version.substr(0, slash);
}

// 422 Invalid with causes (status_object.h) for one validation error "field: message".
Reply InvalidReply(const ResourceType& t, const std::string& name, const std::string& error) {
  return JsonReply(422, InvalidStatus(GroupOf(t), t.kind, name, {FieldErrorFromText(error)}));
}

std::string EventLine(const std::string& type, const Json& object) {
  std::string s = Dump(Json{{"type", type}, {"object", object}});
  s.push_back('\n');
  return s;
}

// ---- request parsing -------------------------------------------------------------------------------------
// A query string (application/x-www-form-urlencoded); a malformed escape is an error (core/percent.h).
StatusOr<std::map<std::string, std::string>> ParseQuery(std::string_view q) {
  std::map<std::string, std::string> out;
  while (!q.empty()) {
    auto amp = q.find('&');
    std::string_view part = q.substr(0, amp);
    q = amp == std::string_view::npos ? std::string_view() : q.substr(amp + 1);
    if (part.empty()) continue;
    auto eq = part.find('=');
    auto k = PercentDecode(part.substr(0, eq), {.plus_is_space = true});
    if (!k.ok()) return InvalidArgument("query: " + k.status().message());
    auto v = PercentDecode(eq == std::string_view::npos ? std::string_view() : part.substr(eq + 1),
                           {.plus_is_space = true});
    if (!v.ok()) return InvalidArgument("query: " + v.status().message());
    out[*k] = *v;
  }
  return out;
}

std::string Lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

std::string MediaType(const std::string& content_type) {
  std::string t = Lower(content_type.substr(0, content_type.find(';')));
  while (!t.empty() && t.back() == ' ') t.pop_back();
  while (!t.empty() && t.front() == ' ') t.erase(t.begin());
  return t;
}

bool IsYaml(const std::string& media) {
  return media == "application/yaml" || media == "application/x-yaml" || media == "text/yaml" ||
         media == "text/x-yaml";
}

// The request body as one JSON object (JSON, or YAML with exactly one document), nested at most
// kMaxJsonDepth levels (400 otherwise: what is stored must be serializable without deep recursion).
StatusOr<Json> ParseBody(const std::string& content_type, const std::string& body) {
  std::string media = MediaType(content_type);
  Json j;
  if (IsYaml(media)) {
    auto docs = resources::ParseYamlDocuments(body, "request body");
    if (!docs.ok()) return InvalidArgument(docs.status().message());
    if (docs->size() != 1) {
      return InvalidArgument("request body: expected exactly one YAML document, got " +
                             std::to_string(docs->size()));
    }
    j = std::move((*docs)[0]);
  } else {
    ASSIGN_OR_RETURN(j, ParseBoundedJson(body, "request body"));
  }
  if (!j.is_object()) return InvalidArgument("request body: must be a JSON object");
  return j;
}

bool ParseBool(const std::string& v) { return v == "1" || v == "true" || v == "True" || v.empty(); }

// Kubernetes' equality-based selectors: "k=v,k==v,k!=v,k,!k" (labels) and metadata.name/namespace (fields).
struct Requirement {
  std::string key, value;
  enum Op { kEq, kNe, kExists, kNotExists } op = kEq;
};

std::string Trim(std::string_view s) {
  while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
  while (!s.empty() && s.back() == ' ') s.remove_suffix(1);
  return std::string(s);
}

// `kind` is null for label selectors; for field selectors, the kind whose selectable fields apply (api/kinds.h).
StatusOr<std::vector<Requirement>> ParseSelector(std::string_view s, const char* what, const Kind* kind) {
  const bool fields = kind != nullptr;
  std::vector<Requirement> out;
  if (Trim(s).empty()) return out;
  while (true) {
    auto comma = s.find(',');
    std::string part = Trim(s.substr(0, comma));
    Requirement r;
    size_t p;
    if ((p = part.find("!=")) != std::string::npos) {
      r.op = Requirement::kNe;
      r.key = Trim(std::string_view(part).substr(0, p));
      r.value = Trim(std::string_view(part).substr(p + 2));
    } else if ((p = part.find("==")) != std::string::npos) {
      r.key = Trim(std::string_view(part).substr(0, p));
      r.value = Trim(std::string_view(part).substr(p + 2));
    } else if ((p = part.find('=')) != std::string::npos) {
      r.key = Trim(std::string_view(part).substr(0, p));
      r.value = Trim(std::string_view(part).substr(p + 1));
    } else if (!fields && !part.empty() && part[0] == '!') {
      r.op = Requirement::kNotExists;
      r.key = Trim(std::string_view(part).substr(1));
    } else {
      r.op = Requirement::kExists;
      r.key = part;
    }
    if (r.key.empty() || r.key.find_first_of(" ()") != std::string::npos ||
        (fields && r.op != Requirement::kEq && r.op != Requirement::kNe) ||
        (fields && !SelectableField(*kind, r.key))) {
      if (fields && r.op != Requirement::kExists && !r.key.empty()) {
        // The apiserver's words for a field its kind does not index.
        return InvalidArgument("field label not supported: " + r.key);
      }
      return InvalidArgument(std::string(what) + ": unable to parse requirement '" + part + "'");
    }
    out.push_back(std::move(r));
    if (comma == std::string_view::npos) break;
    s = s.substr(comma + 1);
  }
  return out;
}

struct Filter {
  std::vector<Requirement> labels, fields;
  bool Matches(const Json& obj) const {
    const Json* md = obj.contains("metadata") && obj["metadata"].is_object() ? &obj["metadata"] : nullptr;
    for (const auto& r : labels) {
      const Json* lv = nullptr;
      if (md && md->contains("labels") && (*md)["labels"].is_object() && (*md)["labels"].contains(r.key)) {
        lv = &(*md)["labels"][r.key];
      }
      std::string v = lv && lv->is_string() ? lv->get<std::string>() : (lv ? Dump(*lv) : "");
      switch (r.op) {
        case Requirement::kEq: if (!lv || v != r.value) return false; break;
        case Requirement::kNe: if (lv && v == r.value) return false; break;
        case Requirement::kExists: if (!lv) return false; break;
        case Requirement::kNotExists: if (lv) return false; break;
      }
    }
    for (const auto& r : fields) {
      if ((r.op == Requirement::kEq) != (SelectableFieldValue(obj, r.key) == r.value)) return false;
    }
    return true;
  }
};

// ---- routes --------------------------------------------------------------------------------------------
// The kind table's types (api/kinds.h), as pointers into it (stable for the process).
const std::vector<const ResourceType*>& AllTypes() {
  static const std::vector<const ResourceType*> types = [] {
    std::vector<const ResourceType*> v;
    for (const Kind& k : Kinds()) v.push_back(&k.type);
    return v;
  }();
  return types;
}

const Kind& KindOf(const ResourceType* t) { return *FindKind(*t); }  // every routed type is in the table
bool IsReadOnly(const ResourceType* t) { return KindOf(t).read_only(); }
bool HasStatus(const ResourceType* t) { return KindOf(t).status_subresource; }

struct Route {
  const ResourceType* type = nullptr;
  bool has_ns = false;
  std::string ns, name;
  bool status = false;
  std::string api_version;  // discovery only (type == nullptr)
  bool discovery = false;
};

std::vector<std::string> Segments(const std::string& path) {
  std::vector<std::string> out;
  size_t i = 0;
  while (i < path.size()) {
    size_t j = path.find('/', i);
    if (j == std::string::npos) j = path.size();
    if (j > i) {
      auto seg = PercentDecode(std::string_view(path).substr(i, j - i));
      if (!seg.ok()) return {};  // Dispatch answered 400 already
      out.push_back(std::move(*seg));
    }
    i = j + 1;
  }
  return out;
}

std::optional<Route> MatchRoute(const std::string& path) {
  auto seg = Segments(path);
  Route r;
  size_t i;
  if (seg.size() >= 3 && seg[0] == "apis") {
    r.api_version = seg[1] + "/" + seg[2];
    i = 3;
  } else if (seg.size() >= 2 && seg[0] == "api") {
    r.api_version = seg[1];
    i = 2;
  } else {
    return std::nullopt;
  }
  std::vector<std::string> rest(seg.begin() + static_cast<long>(i), seg.end());
  bool known_version = false;
  for (auto* t : AllTypes()) known_version |= t->api_version == r.api_version;
  if (!known_version) return std::nullopt;
  if (rest.empty()) {
    r.discovery = true;
    return r;
  }
  size_t k = 0;
  if (rest[0] == "namespaces" && rest.size() >= 3) {
    r.has_ns = true;
    r.ns = rest[1];
    k = 2;
  }
  const std::string& plural = rest[k];
  for (auto* t : AllTypes()) {
    if (t->api_version == r.api_version && t->plural == plural) r.type = t;
  }
  if (!r.type) return std::nullopt;
  if (rest.size() > k + 3) return std::nullopt;
  if (rest.size() > k + 1) r.name = rest[k + 1];
  if (rest.size() > k + 2) {
    if (rest[k + 2] != "status" || !HasStatus(r.type)) return std::nullopt;
    r.status = true;
  }
  if (!r.type->namespaced && r.has_ns) return std::nullopt;
  if (r.type->namespaced && !r.has_ns && !r.name.empty()) return std::nullopt;
  return r;
}

std::string Resource(const ResourceType& t) {  // "inferenceservices.serving.kserve.io"
  const std::string group = GroupOf(t);
  return group.empty() ? t.plural : t.plural + "." + group;
}

// The kinds the API serves, for /openapi/v3 (api/openapi.h): each with its CRD's schema when it has one.
const std::vector<OpenApiResource>& OpenApiResources() {
  static const std::vector<OpenApiResource> list = [] {
    std::vector<OpenApiResource> out;
    for (auto* t : AllTypes()) {
      OpenApiResource r;
      r.group = KindOf(t).group();
      r.version = KindOf(t).version();
      r.kind = t->kind;
      r.plural = t->plural;
      r.namespaced = t->namespaced;
      r.has_status = HasStatus(t);
      r.read_only = IsReadOnly(t);
      if (const Crd* c = FindCrd(t->api_version, t->kind)) r.schema = &c->schema;
      out.push_back(std::move(r));
    }
    return out;
  }();
  return list;
}

// What a write's `?fieldValidation` asks for, and the unknown fields to report in its Warning header.
struct SchemaCheck {
  FieldValidation mode = FieldValidation::kWarn;
  bool patch = false;  // a strict failure is worded as PATCH words it (no "cannot be handled as" prefix)
  std::vector<std::string> warnings;
};

StatusOr<SchemaCheck> ParseSchemaCheck(const std::map<std::string, std::string>& query, bool patch) {
  auto it = query.find("fieldValidation");
  SchemaCheck sc;
  sc.patch = patch;
  ASSIGN_OR_RETURN(sc.mode, ParseFieldValidation(it == query.end() ? "" : it->second));
  return sc;
}

// Kubernetes' Warning header (RFC 7234 form, several warnings comma-separated in one value, as client-go
// parses them): `299 - "unknown field \"spec.x\""`. Control characters become '?' (no header injection);
// the value is capped at 16 KiB, the rest counted in a last warning.
void AddWarnings(Reply& r, const std::vector<std::string>& warnings) {
  constexpr size_t kMaxHeader = 16 << 10;
  std::string value;
  size_t shown = 0;
  for (const auto& w : warnings) {
    std::string q = "299 - \"";
    for (char c : w.substr(0, 1024)) {
      unsigned char u = static_cast<unsigned char>(c);
      if (c == '"' || c == '\\') q.push_back('\\');
      q.push_back(u < 0x20 || u == 0x7f ? '?' : c);
    }
    q += "\"";
    if (value.size() + q.size() > kMaxHeader) break;
    value += (value.empty() ? "" : ", ") + q;
    ++shown;
  }
  if (shown < warnings.size()) {
    value += ", 299 - \"" + std::to_string(warnings.size() - shown) + " more warnings\"";
  }
  if (!value.empty()) r.headers.emplace_back("Warning", value);
}

std::string RandomSuffix() {
  static const char kChars[] = "bcdfghjklmnpqrstvwxz2456789";
  thread_local std::mt19937 rng{std::random_device{}()};
  std::string s;
  for (int i = 0; i < 5; ++i) s.push_back(kChars[rng() % (sizeof kChars - 1)]);
  return s;
}

// ---- stream connections --------------------------------------------------------------------------------
// A connection handed to a stream thread. Writes are blocking; Shutdown() may be called from another thread.
class StreamConn {
 public:
  StreamConn(net::SniffedSocket sock, unsigned version) : sock_(std::move(sock)), version_(version) {}
  ~StreamConn() { Close(); }

  bool header_sent() const { return header_sent_; }
  bool failed() const { return failed_; }

  bool Begin(int status, const std::string& content_type,
             const std::vector<std::pair<std::string, std::string>>& headers = {}) {
    header_sent_ = true;
    chunked_ = version_ >= 11;
    std::string h = "HTTP/1." + std::string(version_ >= 11 ? "1 " : "0 ") + std::to_string(status) + " " +
                    std::string(http::obsolete_reason(static_cast<http::status>(status))) + "\r\n";
    h += "Content-Type: " + content_type + "\r\nCache-Control: no-cache, private\r\nConnection: close\r\n";
    for (const auto& [name, value] : headers) h += name + ": " + value + "\r\n";
    if (chunked_) h += "Transfer-Encoding: chunked\r\n";
    h += "\r\n";
    return Send(h);
  }
  bool Chunk(std::string_view data) {
    if (data.empty()) return !failed_;
    if (!chunked_) return Send(data);
    char size[32];
    std::snprintf(size, sizeof size, "%zx\r\n", data.size());
    std::string frame;
    frame.reserve(data.size() + 24);
    frame += size;
    frame += data;
    frame += "\r\n";
    return Send(frame);
  }
  void End() {
    if (chunked_) Send("0\r\n\r\n");
    Close();
  }
  // A complete, non-streamed response (an error before anything was written).
  void SendReply(const Reply& r) {
    header_sent_ = true;
    std::string h = "HTTP/1." + std::string(version_ >= 11 ? "1 " : "0 ") + std::to_string(r.status) + " " +
                    std::string(http::obsolete_reason(static_cast<http::status>(r.status))) + "\r\n";
    h += "Content-Type: " + r.content_type + "\r\nContent-Length: " + std::to_string(r.body.size()) +
         "\r\nConnection: close\r\n\r\n";
    h += r.body;
    Send(h);
    Close();
  }
  // True when the peer closed its side (or the socket failed).
  bool ClientGone() {
    if (failed_) return true;
    MutexLock lock(mu_);
    if (!open_) return true;
    pollfd p{sock_.native_handle(), POLLRDHUP, 0};
    int n = ::poll(&p, 1, 0);
    if (n > 0 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR | POLLNVAL))) failed_ = true;
    return failed_;
  }
  void Shutdown() {  // any thread
    MutexLock lock(mu_);
    if (open_) ::shutdown(sock_.native_handle(), SHUT_RDWR);
  }

 private:
  bool Send(std::string_view data) {
    if (failed_) return false;
    beast::error_code ec;
    asio::write(sock_, asio::buffer(data.data(), data.size()), ec);
    if (ec) failed_ = true;
    return !failed_;
  }
  void Close() {
    MutexLock lock(mu_);
    if (!open_) return;
    open_ = false;
    beast::error_code ec;
    sock_.shutdown(tcp::socket::shutdown_send, ec);
    sock_.close(ec);
  }

  net::SniffedSocket sock_;  // plain or TLS: the writes below are the same
  unsigned version_;
  Mutex mu_;
  bool open_ GUARDED_BY(mu_) = true;
  bool header_sent_ = false;
  bool chunked_ = false;
  std::atomic<bool> failed_{false};
};

using StreamFn = std::function<void(StreamConn&)>;

struct Incoming {
  std::string method, path, content_type, authorization, accept, user_agent;
  std::map<std::string, std::string> query;
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;  // every header, names in lower case
  bool tls = false;
  Status bad_target;  // a malformed percent-escape in the query: 400
};

struct Outcome {
  Reply reply;
  StreamFn stream;  // set: the connection goes to a stream thread (a slot is already reserved)
};

// What a connection needs from the server (ApiServer::Impl is private to ApiServer).
class Host {
 public:
  virtual ~Host() = default;
  virtual const ApiOptions& opts() const = 0;
  // Decided from the request head alone (before a body is read; api/access.h): nullopt when the request may
  // go on, else the answer (401, 403).
  virtual std::optional<Reply> CheckAuth(const RequestHead& head) const = 0;
  virtual Outcome Dispatch(Incoming& in) = 0;
  // Whether the handler of `path` reads request headers (pages and extensions): only those get them copied.
  virtual bool WantsHeaders(std::string_view path) const = 0;
  virtual void LaunchStream(net::SniffedSocket sock, unsigned version, StreamFn fn) = 0;
};

// The API's side of net::HttpSession (phases and deadlines: net/conn.h). The head is read first: the bearer
// token and the body budget are checked before any body byte is read (an unauthorized or over-budget request
// is answered at once and the connection closes with its body unread). Requests are answered synchronously
// on the I/O thread, except watches and extensions, which take the socket to a stream thread.
struct ApiApp {
  using Reply = api::Reply;
  struct Scope {
    explicit Scope(ApiApp&) {}
  };
  using Request = http::request<http::string_body>;

  Host* host;

  uint64_t body_limit() const { return host->opts().max_body_bytes; }
  std::string_view body_limit_flag() const { return {}; }
  const char* busy_name() const { return "server"; }
  bool keep_alive() const { return true; }

  template <class Session>
  std::optional<Reply> OnHead(Session& session, const Request& msg) {
    auto view = [](beast::string_view v) { return std::string_view(v.data(), v.size()); };
    std::string_view target = view(msg.target());
    RequestHead head;
    head.method = view(msg.method_string());
    head.path = target.substr(0, target.find('?'));
    head.authorization = view(msg[http::field::authorization]);
    head.cookie = view(msg[http::field::cookie]);
    head.csrf = view(msg[beast::string_view(kCsrfHeader.data(), kCsrfHeader.size())]);
    head.origin = view(msg[http::field::origin]);
    head.sec_fetch_site = view(msg["sec-fetch-site"]);
    head.host = view(msg[http::field::host]);
    head.tls = session.socket().is_tls();
    return host->CheckAuth(head);
  }

  Reply Answer(const net::HttpAnswer& a) { return ErrorReply(a.status, a.reason, a.message); }

  template <class Session>
  void Handle(const std::shared_ptr<Session>& session, Request& msg) {
    Incoming in;
    in.method = std::string(msg.method_string());
    std::string target(msg.target());
    auto q = target.find('?');
    in.path = target.substr(0, q);
    if (q != std::string::npos) {
      auto query = ParseQuery(std::string_view(target).substr(q + 1));
      if (query.ok()) {
        in.query = std::move(*query);
      } else {
        in.bad_target = query.status();
      }
    }
    if (auto it = msg.find(http::field::content_type); it != msg.end()) in.content_type = std::string(it->value());
    if (auto it = msg.find(http::field::authorization); it != msg.end()) {
      in.authorization = std::string(it->value());
    }
    if (auto it = msg.find(http::field::accept); it != msg.end()) in.accept = std::string(it->value());
    if (auto it = msg.find(http::field::user_agent); it != msg.end()) in.user_agent = std::string(it->value());
    if (host->WantsHeaders(in.path)) {
      for (const auto& f : msg) {
        std::string name(f.name_string());
        for (char& c : name) c = AsciiLower(c);
        in.headers.emplace_back(std::move(name), std::string(f.value()));
      }
    }
    in.tls = session->socket().is_tls();
    in.body = std::move(msg.body());
    Outcome out;
    try {
      out = host->Dispatch(in);
    } catch (const std::exception& e) {
      out.reply = ErrorReply(500, "InternalError", std::string("internal error: ") + e.what());
    }
    if (out.stream) {
      net::SniffedSocket socket = session->TakeSocket();  // releases the body reservation: the handler consumed it
      beast::error_code ignored;
      socket.tcp_socket().set_option(tcp::no_delay(true), ignored);
      host->LaunchStream(std::move(socket), session->version(), std::move(out.stream));
      return;  // the session ends; the stream thread owns the connection now
    }
    session->Respond(std::move(out.reply));
  }

  void Fill(Reply&& r, http::response<http::string_body>& res) { net::FillResponse(std::move(r), res); }
};
// One port for HTTPS and plain HTTP (net/tls.h: the first byte decides; plain from loopback peers only).
using Session = net::HttpSession<net::SniffedSocket, ApiApp>;

}  // namespace

// ---- the server ------------------------------------------------------------------------------------------
struct ApiServer::Impl : Host {
  ApiApp app{this};
  asio::io_context ctx{1};  // first: destroyed last, after every socket bound to it
  std::optional<net::LoopConns> conns;  // after ctx: destroyed first (it detaches the sessions ctx still holds)
  store::Store* store;
  ApiOptions options;
  std::vector<std::pair<std::string, ExtensionHandler>> extensions;
  struct Page {
    std::string path;
    PathMatch match;
    PageAuth auth;
    PageHandler handler;
    bool Matches(std::string_view p) const { return match == PathMatch::kExact ? p == path : p.starts_with(path); }
  };
  std::vector<Page> pages;
  std::optional<net::AcceptLoop<tcp>> acceptor;
  std::shared_ptr<asio::ssl::context> tls;  // null: plain HTTP only
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work;
  std::thread io_thread;
  int port = 0;
  std::atomic<bool> stopping{false};
  bool started = false;

  struct StreamEntry {
    std::shared_ptr<StreamConn> conn;
    std::thread thread;
    std::atomic<bool> done{false};
  };
  Mutex streams_mu;
  std::list<std::unique_ptr<StreamEntry>> streams GUARDED_BY(streams_mu);
  std::atomic<int> active_streams{0};

  ~Impl() override { StopAll(); }

  void StartAccepting(tcp::acceptor acc);
  const ApiOptions& opts() const override { return options; }
  std::optional<Reply> CheckAuth(const RequestHead& head) const override;
  Outcome Dispatch(Incoming& in) override;
  bool WantsHeaders(std::string_view path) const override {
    for (const auto& p : pages)
      if (p.Matches(path)) return true;
    for (const auto& [prefix, handler] : extensions)
      if (path.starts_with(prefix)) return true;
    return false;
  }
  const Page* FindPage(std::string_view path) const {
    for (const auto& p : pages)
      if (p.Matches(path)) return &p;
    return nullptr;
  }
  bool ReserveStream() {
    int cur = active_streams.load();
    while (cur < options.max_streams) {
      if (active_streams.compare_exchange_weak(cur, cur + 1)) return true;
    }
    return false;
  }
  void LaunchStream(net::SniffedSocket sock, unsigned version, StreamFn fn) override {
    auto conn = std::make_shared<StreamConn>(std::move(sock), version);
    MutexLock lock(streams_mu);
    for (auto it = streams.begin(); it != streams.end();) {
      if ((*it)->done.load()) {
        if ((*it)->thread.joinable()) (*it)->thread.join();
        it = streams.erase(it);
      } else {
        ++it;
      }
    }
    if (stopping.load()) {
      active_streams.fetch_sub(1);
      return;  // conn closes the socket
    }
    auto entry = std::make_unique<StreamEntry>();
    entry->conn = conn;
    StreamEntry* e = entry.get();
    entry->thread = std::thread([this, e, conn, fn = std::move(fn)] {
      try {
        fn(*conn);
      } catch (const std::exception& ex) {
        LOG_WARN("api: stream failed: {}", ex.what());
      }
      conn->End();
      active_streams.fetch_sub(1);
      e->done.store(true);
    });
    streams.push_back(std::move(entry));
  }

  void StopAll() {
    if (stopping.exchange(true)) return;
    if (started) {
      asio::post(ctx, [this] {
        if (acceptor) acceptor->Close();
      });
      work.reset();
      ctx.stop();
      if (io_thread.joinable()) io_thread.join();
      if (acceptor) acceptor->Close();
    }
    std::list<std::unique_ptr<StreamEntry>> all;
    {
      MutexLock lock(streams_mu);
      all.swap(streams);
    }
    for (auto& s : all) s->conn->Shutdown();
    for (auto& s : all)
      if (s->thread.joinable()) s->thread.join();
  }

  // Handlers (I/O thread).
  Reply Get(const Route& rt, const Incoming& in);
  Outcome List(const Route& rt, const Incoming& in);
  Outcome Watch(const Route& rt, const Incoming& in, const std::string& ns, const Filter& filter,
                const std::optional<TableOptions>& table);
  Reply Create(const Route& rt, const Incoming& in);
  Reply Replace(const Route& rt, const Incoming& in);
  Reply Patch(const Route& rt, const Incoming& in);
  Reply Delete(const Route& rt, const Incoming& in);
  // Writes (api_server.cc's second half; patch.h holds the pure parts).
  struct DeleteOpts {
    bool dry = false;
    std::string precondition_rv;
  };
  std::optional<Reply> WriteBody(const Route& rt, const Incoming& in, Json* out);
  std::optional<Reply> CheckNamespace(const Route& rt);
  Reply Apply(const Route& rt, Json applied, const std::string& manager, bool force, bool dry, SchemaCheck sc);
  Reply ApplyConflictReply(const Route& rt, const std::vector<ApplyConflict>& conflicts);
  std::optional<Reply> ParseDeleteOptions(const Route& rt, const Incoming& in, DeleteOpts* out);
  Reply DeleteNamespace(const Route& rt, const DeleteOpts& opts);
  Reply DeleteCollection(const Route& rt, const Incoming& in);
  Status Validate(const ResourceType& type, Json& obj, Reply* err, SchemaCheck* sc = nullptr);
  bool CheckSchema(const Crd& crd, Json& obj, SchemaCheck* sc, Reply* err);
  Status CheckImmutableSecret(const Json& secret);
  Status CheckIdentity(const Route& rt, Json& obj, Reply* err);
  Reply StoreError(const Route& rt, const Status& st, const std::string& name);
};

void ApiServer::Impl::StartAccepting(tcp::acceptor acc) {
  acceptor.emplace(
      std::move(acc), "api", conns->gate_ptr(), [this]() -> asio::io_context& { return ctx; },
      [this](tcp::socket socket) {
        beast::error_code ec;
        auto peer = socket.remote_endpoint(ec);
        const bool plain = !ec && net::PlainHttpAllowed(peer.address());
        net::SniffedSocket sniffed(std::move(socket), tls, plain);
        std::make_shared<Session>(std::move(sniffed), &*conns, &app)->Start();
      });
  acceptor->Start();
}

std::optional<Reply> ApiServer::Impl::CheckAuth(const RequestHead& head) const {
  const std::string_view path = head.path;
  const Page* page = FindPage(path);
  const bool is_public = path == "/healthz" || path == "/livez" || path == "/readyz" ||
                         (page && page->auth == PageAuth::kPublic);
  std::optional<std::string> session_csrf;
  if (options.session_csrf && !head.cookie.empty()) {
    if (auto id = FindCookie(head.cookie, kSessionCookie); id && !id->empty()) session_csrf = options.session_csrf(*id);
  }
  switch (DecideAccess(head, options.token, is_public, session_csrf)) {
    case Access::kAllowed:
      return std::nullopt;
    case Access::kCrossSite:
      return ErrorReply(403, "Forbidden", "cross-site request refused (Origin / Sec-Fetch-Site)");
    case Access::kCsrf:
      return ErrorReply(403, "Forbidden", "CSRF token missing or wrong");
    case Access::kUnauthorized:
      break;
  }
  Reply r = ErrorReply(401, "Unauthorized", "Unauthorized");
  r.headers.emplace_back("WWW-Authenticate", "Bearer");
  return r;
}

Outcome ApiServer::Impl::Dispatch(Incoming& in) {
  Outcome out;
  const std::string& m = in.method;
  if (auto path = PercentDecode(in.path); !path.ok() || !in.bad_target.ok()) {
    out.reply = ErrorReply(400, "BadRequest", path.ok() ? in.bad_target.message() : "path: " + path.status().message());
    return out;
  }
  if (in.path == "/healthz" || in.path == "/livez" || in.path == "/readyz") {
    if (m != "GET" && m != "HEAD") {
      out.reply = ErrorReply(405, "MethodNotAllowed", "the server does not allow this method on the requested resource");
      out.reply.headers.emplace_back("Allow", "GET, HEAD");
      return out;
    }
    out.reply.content_type = "text/plain";
    out.reply.body = "ok";
    return out;
  }
  // The bearer token was checked from the request's head (ApiApp::OnHead, CheckAuth).
  if (const Page* page = FindPage(in.path)) {
    ApiRequest req{in.method, in.path, std::move(in.query), std::move(in.body), std::move(in.headers), in.tls};
    ApiReply a = page->handler(req);
    out.reply.status = a.status;
    out.reply.content_type = std::move(a.content_type);
    out.reply.headers = std::move(a.headers);
    out.reply.body = std::move(a.body);
    return out;
  }
  auto not_allowed = [&](const char* allow) {
    Outcome o;
    o.reply = ErrorReply(405, "MethodNotAllowed",
                         "the server does not allow this method on the requested resource (" + m + " " + in.path + ")");
    o.reply.headers.emplace_back("Allow", allow);
    return o;
  };
  if (in.path == "/version" || in.path == "/version/") {
    if (m != "GET") return not_allowed("GET");
    out.reply = JsonReply(200, VersionInfo());
    return out;
  }
  if (in.path == "/openapi" || in.path.rfind("/openapi/", 0) == 0) {
    if (m != "GET") return not_allowed("GET");
    auto a = ServeOpenApi(in.path, OpenApiResources());
    out.reply.status = a->status;
    out.reply.body = std::move(a->body);
    return out;
  }
  for (auto& [prefix, handler] : extensions) {
    if (in.path.compare(0, prefix.size(), prefix) != 0) continue;
    if (!ReserveStream()) {
      out.reply = ErrorReply(429, "TooManyRequests", "too many open streams (max " +
                                                         std::to_string(options.max_streams) + ")");
      return out;
    }
    ApiRequest req{in.method, in.path, std::move(in.query), std::move(in.body), std::move(in.headers), in.tls};
    ExtensionHandler h = handler;
    out.stream = [this, h, req = std::move(req)](StreamConn& c) {
      ApiStream s;
      s.write = [this, &c, &s](std::string_view chunk) {
        if (stopping.load() || c.failed()) return false;
        if (c.ClientGone()) return false;
        if (!c.header_sent() && !c.Begin(s.status, s.content_type, s.headers)) return false;
        return c.Chunk(chunk);
      };
      Status st;
      try {
        st = h(req, s);
      } catch (const std::exception& e) {
        st = Internal(std::string("extension handler failed: ") + e.what());
      }
      if (!c.header_sent()) {
        if (st.ok()) {
          c.Begin(s.status, s.content_type, s.headers);
        } else {
          c.SendReply(ErrorReply(st));
        }
      }
    };
    return out;
  }
  if (in.path == "/api" || in.path == "/api/" || in.path == "/apis" || in.path == "/apis/") {
    if (m != "GET") return not_allowed("GET");
    bool core = in.path.compare(0, 5, "/apis") != 0;
    if (auto v = WantedAggregatedDiscovery(in.accept)) {
      out.reply = JsonReply(200, AggregatedDiscovery(core, *v));
      out.reply.content_type = AggregatedContentType(*v);
    } else {
      out.reply = JsonReply(200, core ? LegacyApiVersions() : LegacyApiGroupList());
    }
    return out;
  }
  auto route = MatchRoute(in.path);
  if (!route) {
    out.reply = ErrorReply(404, "NotFound", "the server could not find the requested resource");
    return out;
  }
  const Route& rt = *route;
  if (rt.discovery) {
    if (m != "GET") return not_allowed("GET");
    out.reply = JsonReply(200, *LegacyResourceList(rt.api_version));  // MatchRoute checked the version exists
    return out;
  }
  bool ro = IsReadOnly(rt.type);
  if (rt.name.empty()) {  // collection
    if (m == "GET") return List(rt, in);
    bool can_create = !ro && (rt.has_ns || !rt.type->namespaced);
    if (m == "POST" && can_create) {
      out.reply = Create(rt, in);
      return out;
    }
    if (m == "DELETE" && can_create && rt.type != &NamespaceType()) {
      out.reply = DeleteCollection(rt, in);
      return out;
    }
    return not_allowed(can_create ? "GET, POST, DELETE" : "GET");
  }
  if (rt.status) {
    if (m == "GET") {
      out.reply = Get(rt, in);
    } else if (m == "PUT") {
      out.reply = Replace(rt, in);
    } else if (m == "PATCH") {
      out.reply = Patch(rt, in);
    } else {
      return not_allowed("GET, PUT, PATCH");
    }
    return out;
  }
  if (m == "GET") {
    if (in.query.count("watch") && ParseBool(in.query["watch"])) {
      in.query["fieldSelector"] = "metadata.name=" + rt.name +
                                  (in.query["fieldSelector"].empty() ? "" : "," + in.query["fieldSelector"]);
      Route coll = rt;
      coll.name.clear();
      return List(coll, in);
    }
    out.reply = Get(rt, in);
  } else if (ro) {
    return not_allowed("GET");
  } else if (m == "PUT") {
    out.reply = Replace(rt, in);
  } else if (m == "PATCH") {
    out.reply = Patch(rt, in);
  } else if (m == "DELETE") {
    out.reply = Delete(rt, in);
  } else {
    return not_allowed("GET, PUT, PATCH, DELETE");
  }
  return out;
}

// A store error as a Status object with Kubernetes' details {name, group, kind (the plural)}.
Reply ApiServer::Impl::StoreError(const Route& rt, const Status& st, const std::string& name) {
  const int code = HttpStatusFor(st.code());
  Json obj = StatusObject(code, HttpReasonFor(st.code()), st.message());
  Json details = Json::object();
  if (!name.empty()) details["name"] = name;
  if (std::string group = GroupOf(*rt.type); !group.empty()) details["group"] = std::move(group);
  details["kind"] = rt.type->plural;
  obj["details"] = std::move(details);
  return JsonReply(code, obj);
}

namespace {
// Server-side printing: the Table a request asks for with its Accept header (kubectl's
// `application/json;as=Table;v=v1;g=meta.k8s.io`), nullopt for plain JSON. The clock is read here, once per
// request; table.h's functions are pure.
StatusOr<std::optional<TableOptions>> TableRequest(const Incoming& in) {
  auto version = WantedTableVersion(in.accept);
  if (!version) return std::optional<TableOptions>();
  TableOptions o;
  o.api_version = "meta.k8s.io/" + *version;
  auto it = in.query.find("includeObject");
  ASSIGN_OR_RETURN(o.include, ParseIncludeObject(it == in.query.end() ? "" : it->second));
  o.now_unix = static_cast<long long>(std::time(nullptr));
  return std::optional<TableOptions>(o);
}

std::string ResourceVersionOf(const Json& obj) {
  if (!obj.contains("metadata") || !obj["metadata"].is_object()) return "";
  const Json& md = obj["metadata"];
  return md.contains("resourceVersion") && md["resourceVersion"].is_string() ? md["resourceVersion"].get<std::string>() : "";
}

StatusOr<Filter> ParseFilter(const ResourceType& type, const Incoming& in) {
  Filter filter;
  if (auto it = in.query.find("labelSelector"); it != in.query.end()) {
    ASSIGN_OR_RETURN(filter.labels, ParseSelector(it->second, "labelSelector", nullptr));
  }
  if (auto it = in.query.find("fieldSelector"); it != in.query.end()) {
    ASSIGN_OR_RETURN(filter.fields, ParseSelector(it->second, "fieldSelector", FindKind(type)));
  }
  return filter;
}

// How often an idle watch that asked for bookmarks gets one (Kubernetes sends them about once a minute).
constexpr auto kBookmarkInterval = std::chrono::seconds(30);
}  // namespace

Reply ApiServer::Impl::Get(const Route& rt, const Incoming& in) {
  auto table = TableRequest(in);
  if (!table.ok()) return ErrorReply(400, "BadRequest", table.status().message());
  auto r = store->Get(*rt.type, rt.ns, rt.name);
  if (!r.ok()) return StoreError(rt, r.status(), rt.name);
  if (*table) return JsonReply(200, MakeTable(KindOf(rt.type), {*r}, "", **table));
  return JsonReply(200, *r);
}

Outcome ApiServer::Impl::List(const Route& rt, const Incoming& in) {
  auto filter = ParseFilter(*rt.type, in);
  if (!filter.ok()) return Outcome{ErrorReply(filter.status()), nullptr};
  auto table = TableRequest(in);
  if (!table.ok()) return Outcome{ErrorReply(400, "BadRequest", table.status().message()), nullptr};
  std::string ns = rt.type->namespaced && rt.has_ns ? rt.ns : "";
  if (auto it = in.query.find("watch"); it != in.query.end() && ParseBool(it->second)) {
    return Watch(rt, in, ns, *filter, *table);
  }
  auto l = store->List(*rt.type, ns);
  if (!l.ok()) return Outcome{ErrorReply(l.status()), nullptr};
  std::vector<Json> items;
  for (auto& item : l->items)
    if (filter->Matches(item)) items.push_back(std::move(item));
  if (*table) return Outcome{JsonReply(200, MakeTable(KindOf(rt.type), items, l->resource_version, **table)), nullptr};
  return Outcome{JsonReply(200, Json{{"apiVersion", rt.type->api_version},
                                     {"kind", rt.type->kind + "List"},
                                     {"metadata", {{"resourceVersion", l->resource_version}}},
                                     {"items", std::move(items)}}),
                 nullptr};
}

// A watch (Kubernetes' semantics, reference section 4): without a resourceVersion or with "0", synthetic ADDED
// events for the current objects first (kubectl's `get -w NAME` drops the first event it gets), then every
// change after the list; with a resourceVersion, the changes strictly after it (an expired one is an ERROR
// 410 event inside the 200 stream). Events are Tables when the Accept asks for them (columnDefinitions in the
// first only). With allowWatchBookmarks, a BOOKMARK carrying the latest resourceVersion is sent every
// kBookmarkInterval and when timeoutSeconds ends the watch.
Outcome ApiServer::Impl::Watch(const Route& rt, const Incoming& in, const std::string& ns, const Filter& filter,
                               const std::optional<TableOptions>& table) {
  std::optional<std::chrono::steady_clock::time_point> deadline;
  if (auto it = in.query.find("timeoutSeconds"); it != in.query.end() && !it->second.empty()) {
    char* end = nullptr;
    long secs = std::strtol(it->second.c_str(), &end, 10);
    if (*end != '\0' || secs < 0) {
      return Outcome{ErrorReply(400, "BadRequest", "timeoutSeconds: invalid value '" + it->second + "'"), nullptr};
    }
    if (secs > 0) deadline = std::chrono::steady_clock::now() + std::chrono::seconds(secs);
  }
  bool bookmarks = false;
  if (auto it = in.query.find("allowWatchBookmarks"); it != in.query.end()) bookmarks = ParseBool(it->second);
  // Kubernetes' watch-list: with sendInitialEvents=true and bookmarks, a BOOKMARK annotated
  // k8s.io/initial-events-end follows the initial ADDED events, so a client can tell "no objects" from "not
  // yet received" (the web app's pages do).
  std::string rv;
  if (auto it = in.query.find("resourceVersion"); it != in.query.end()) rv = it->second;
  bool initial_events_end = false;  // only a watch that starts with the initial events can mark their end
  if (auto it = in.query.find("sendInitialEvents"); it != in.query.end()) {
    initial_events_end = bookmarks && ParseBool(it->second) && (rv.empty() || rv == "0");
  }
  // Events are encoded on the stream thread; `encode` keeps the Table's header state.
  const Kind* kind = &KindOf(rt.type);
  auto opts = std::make_shared<std::optional<TableOptions>>(table);
  auto encode = [kind, opts](const std::string& type, const Json& obj) {
    if (!*opts || type == "ERROR" || type == "BOOKMARK") return EventLine(type, obj);
    TableOptions& o = **opts;
    o.now_unix = static_cast<long long>(std::time(nullptr));
    std::string line = EventLine(type, MakeTable(*kind, {obj}, ResourceVersionOf(obj), o));
    o.headers = false;
    return line;
  };
  // Initial state (unless a resourceVersion to resume from is given), then the watch from the list's version:
  // the store's history replays whatever was written in between.
  std::vector<Json> initial;
  std::string since = rv;
  if (rv.empty() || rv == "0") {
    auto l = store->List(*rt.type, ns);
    if (!l.ok()) return Outcome{ErrorReply(l.status()), nullptr};
    for (auto& item : l->items)
      if (filter.Matches(item)) initial.push_back(std::move(item));
    since = l->resource_version;
  }
  std::shared_ptr<store::Watch> watch_ptr;
  std::optional<Json> expired;
  auto w = store->WatchFrom(*rt.type, ns, since);
  if (!w.ok()) {
    if (w.status().message().find("too old resource version") == std::string::npos) {
      return Outcome{ErrorReply(w.status()), nullptr};
    }
    expired = StatusObject(410, "Expired", w.status().message());
  } else {
    watch_ptr = std::move(*w);
  }
  if (!ReserveStream()) {
    if (watch_ptr) watch_ptr->Close();
    return Outcome{ErrorReply(429, "TooManyRequests",
                              "too many open streams (max " + std::to_string(options.max_streams) + ")"),
                   nullptr};
  }
  Json bookmark = {{"kind", rt.type->kind}, {"apiVersion", rt.type->api_version}, {"metadata", Json::object()}};
  Outcome out;
  out.stream = [this, initial = std::move(initial), expired, watch_ptr, deadline, filter, encode, bookmarks,
                bookmark, last_rv = since, initial_events_end](StreamConn& c) mutable {
    if (!c.Begin(200, "application/json")) return;
    std::string first;
    for (const Json& obj : initial) first += encode("ADDED", obj);
    if (expired) {
      first += encode("ERROR", *expired);
    } else if (initial_events_end) {
      Json end = bookmark;
      end["metadata"]["resourceVersion"] = last_rv;
      end["metadata"]["annotations"] = {{"k8s.io/initial-events-end", "true"}};
      first += encode("BOOKMARK", end);
    }
    if (!first.empty() && !c.Chunk(first)) return;
    if (!watch_ptr) return;
    auto send_bookmark = [&] {
      bookmark["metadata"]["resourceVersion"] = last_rv;
      return c.Chunk(encode("BOOKMARK", bookmark));
    };
    auto next_bookmark = std::chrono::steady_clock::now() + kBookmarkInterval;
    while (!stopping.load()) {
      auto now = std::chrono::steady_clock::now();
      auto wait = std::chrono::milliseconds(250);
      if (deadline) {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(*deadline - now);
        if (left.count() <= 0) {
          if (bookmarks) send_bookmark();
          break;
        }
        wait = std::min(wait, left);
      }
      if (bookmarks && now >= next_bookmark) {
        if (!send_bookmark()) break;
        next_bookmark = now + kBookmarkInterval;
      }
      auto ev = watch_ptr->Next(wait);
      if (ev) {
        if (std::string v = ResourceVersionOf(ev->object); !v.empty()) last_rv = v;
        if (!filter.Matches(ev->object)) continue;
        if (!c.Chunk(encode(ev->type, ev->object))) break;
        continue;
      }
      if (watch_ptr->expired() || c.ClientGone()) break;
    }
    watch_ptr->Close();
  };
  return out;
}

// Checks a write of a CRD kind against its structural schema (api/schema.h), as the API server does for a
// custom resource: unknown fields as sc->mode says (Strict: 400 BadRequest naming them all; Warn: pruned and
// reported in sc->warnings; Ignore, or no sc: pruned), then type/enum/bound errors as a 422 Invalid with one
// cause per field. False with *err set when the write is refused.
bool ApiServer::Impl::CheckSchema(const Crd& crd, Json& obj, SchemaCheck* sc, Reply* err) {
  FieldValidation mode = sc ? sc->mode : FieldValidation::kIgnore;
  SchemaResult res = CheckAgainstSchema(crd.schema, obj, /*prune=*/mode != FieldValidation::kStrict);
  if (mode == FieldValidation::kStrict && res.total_unknown > 0) {
    std::string msg = "strict decoding error: ";
    for (size_t i = 0; i < res.unknown_fields.size(); ++i) msg += (i ? ", " : "") + UnknownFieldText(res.unknown_fields[i]);
    if (res.total_unknown > res.unknown_fields.size()) {
      msg += ", and " + std::to_string(res.total_unknown - res.unknown_fields.size()) + " more unknown fields";
    }
    if (!sc->patch) {
      msg = crd.kind + " in version \"" + crd.version + "\" cannot be handled as a " + crd.kind + ": " + msg;
    }
    *err = ErrorReply(400, "BadRequest", msg);
    return false;
  }
  if (mode == FieldValidation::kWarn) {
    for (const auto& u : res.unknown_fields) sc->warnings.push_back(UnknownFieldText(u));
  }
  if (res.total_errors == 0) return true;
  std::string name;
  if (obj.contains("metadata") && obj["metadata"].is_object()) name = obj["metadata"].value("name", "");
  *err = JsonReply(422, InvalidStatus(crd.group, crd.kind, name, res.errors));
  return false;
}

// Validates a write and brings it to its stored form (a Secret's stringData folded into data): the CRD
// schema first (structure, unknown fields; sc: the request's fieldValidation), then resources::Validate*
// (KServe's webhook rules and inferd's own).
Status ApiServer::Impl::Validate(const ResourceType& type, Json& obj, Reply* err, SchemaCheck* sc) {
  if (const Crd* crd = FindCrd(type.api_version, type.kind); crd && !CheckSchema(*crd, obj, sc, err)) {
    return InvalidArgument("refused by the schema");
  }
  Status st;
  if (&type == &InferenceServiceType()) {
    st = resources::ValidateInferenceService(obj);
    if (st.ok() && options.validate_isvc) st = options.validate_isvc(obj);
  } else if (&type == &ServingRuntimeType()) {
    st = resources::ValidateServingRuntime(obj, false);
  } else if (&type == &ClusterServingRuntimeType()) {
    st = resources::ValidateServingRuntime(obj, true);
  } else if (&type == &SecretType()) {
    st = resources::ValidateSecret(obj);
    if (st.ok()) {
      obj = resources::NormalizeSecret(std::move(obj));
      st = CheckImmutableSecret(obj);
    }
  } else if (&type == &ServiceAccountType()) {
    st = resources::ValidateServiceAccount(obj);
  } else if (&type == &InferenceGraphType()) {
    st = resources::ValidateInferenceGraph(obj);
  } else if (&type == &TrainedModelType()) {
    const Json& md = obj["metadata"];
    auto cur = store->Get(type, md.value("namespace", ""), md.value("name", ""));
    st = resources::ValidateTrainedModel(obj, cur.ok() ? &*cur : nullptr);
  } else if (&type == &NamespaceType()) {
    st = NormalizeNamespace(obj);
  }
  if (!st.ok()) {
    std::string name;
    if (obj.contains("metadata") && obj["metadata"].is_object() && obj["metadata"].contains("name") &&
        obj["metadata"]["name"].is_string()) {
      name = obj["metadata"]["name"].get<std::string>();
    }
    *err = InvalidReply(type, name, st.message());
  }
  return st;
}

// A Secret stored with `immutable: true` keeps its data, type and immutability (Kubernetes' rule).
Status ApiServer::Impl::CheckImmutableSecret(const Json& obj) {
  const Json& md = obj["metadata"];
  auto cur = store->Get(SecretType(), md.value("namespace", ""), md.value("name", ""));
  if (!cur.ok() || !cur->contains("immutable") || !(*cur)["immutable"].is_boolean() || !(*cur)["immutable"].get<bool>()) {
    return Status::Ok();
  }
  for (const char* f : {"data", "type", "immutable"}) {
    Json before = cur->contains(f) ? (*cur)[f] : Json();
    Json after = obj.contains(f) ? obj[f] : Json();
    if (before != after) return InvalidArgument(std::string(f) + ": Forbidden: field is immutable when `immutable` is set");
  }
  return Status::Ok();
}

// Fills in apiVersion/kind/namespace (and the name on item routes) from the URL, rejecting contradictions.
Status ApiServer::Impl::CheckIdentity(const Route& rt, Json& obj, Reply* err) {
  const ResourceType& t = *rt.type;
  auto fail = [&](const std::string& msg) {
    *err = ErrorReply(400, "BadRequest", msg);
    return InvalidArgument(msg);
  };
  if (obj.contains("apiVersion") && !obj["apiVersion"].is_null()) {
    if (!obj["apiVersion"].is_string() || obj["apiVersion"].get<std::string>() != t.api_version) {
      return fail("the API version in the data (" + (obj["apiVersion"].is_string() ? obj["apiVersion"].get<std::string>() : Dump(obj["apiVersion"])) +
                  ") does not match the expected API version (" + t.api_version + ")");
    }
  }
  if (obj.contains("kind") && !obj["kind"].is_null()) {
    if (!obj["kind"].is_string() || obj["kind"].get<std::string>() != t.kind) {
      return fail("the kind in the data (" + (obj["kind"].is_string() ? obj["kind"].get<std::string>() : Dump(obj["kind"])) +
                  ") does not match the expected kind (" + t.kind + ")");
    }
  }
  // apiVersion and kind first.
  Json fixed = Json::object();
  fixed["apiVersion"] = t.api_version;
  fixed["kind"] = t.kind;
  for (auto& [k, v] : obj.items())
    if (k != "apiVersion" && k != "kind") fixed[k] = std::move(v);
  obj = std::move(fixed);
  if (!obj.contains("metadata") || obj["metadata"].is_null()) obj["metadata"] = Json::object();
  if (!obj["metadata"].is_object()) return fail("metadata: must be an object");
  Json& md = obj["metadata"];
  if (t.namespaced) {
    if (md.contains("namespace") && !md["namespace"].is_null() &&
        !(md["namespace"].is_string() && md["namespace"].get<std::string>().empty())) {
      if (!md["namespace"].is_string() || md["namespace"].get<std::string>() != rt.ns) {
        return fail("the namespace of the provided object does not match the namespace sent on the request");
      }
    }
    md["namespace"] = rt.ns;
  } else {
    md.erase("namespace");
  }
  if (!rt.name.empty()) {
    if (md.contains("name") && !md["name"].is_null()) {
      if (!md["name"].is_string() || md["name"].get<std::string>() != rt.name) {
        return fail("the name of the object (" + (md["name"].is_string() ? md["name"].get<std::string>() : Dump(md["name"])) +
                    ") does not match the name on the URL (" + rt.name + ")");
      }
    } else {
      md["name"] = rt.name;
    }
  }
  if (md.contains("resourceVersion") && !md["resourceVersion"].is_null() && !md["resourceVersion"].is_string()) {
    return fail("metadata.resourceVersion: must be a string");
  }
  return Status::Ok();
}

namespace {
// Kubernetes' `?dryRun=All`: the write is checked (identity, validation) and answered as if done, and nothing
// is stored. `inferd apply` dry-runs every document of a file before it writes any.
StatusOr<bool> DryRun(const Incoming& in) {
  auto it = in.query.find("dryRun");
  if (it == in.query.end()) return false;
  if (it->second == "All") return true;
  return InvalidArgument("dryRun: unsupported value \"" + it->second + "\", supported values: \"All\"");
}

// The field manager of a write: ?fieldManager=, else the client's User-Agent up to its first '/' (what the
// apiserver does), else "unknown". Kubernetes caps it at 128 bytes.
StatusOr<std::string> FieldManager(const Incoming& in) {
  std::string m;
  if (auto it = in.query.find("fieldManager"); it != in.query.end()) {
    m = it->second;
  } else {
    m = in.user_agent.substr(0, in.user_agent.find('/'));
    if (m.empty()) m = "unknown";
  }
  if (m.size() > 128) return InvalidArgument("fieldManager: Too long: may not be more than 128 bytes");
  return m;
}

// The custom resources (serving.kserve.io) follow the CRD store's rules: PUT needs a resourceVersion.
bool IsCustom(const ResourceType& t) { return GroupOf(t) == "serving.kserve.io"; }

bool HasResourceVersion(const Json& obj) {
  const Json& md = obj["metadata"];
  return md.contains("resourceVersion") && md["resourceVersion"].is_string() &&
         !md["resourceVersion"].get<std::string>().empty();
}

Reply UnsupportedMedia(const std::string& accepted) {
  return ErrorReply(415, "UnsupportedMediaType",
                    "the body of the request was in an unknown format - accepted media types include: " + accepted);
}

// Invalid options of the request itself (PatchOptions, DeleteOptions), as the apiserver words them.
Reply OptionsInvalid(const std::string& kind, const std::string& error) {
  return JsonReply(422, InvalidStatus("meta.k8s.io", kind, "", {FieldErrorFromText(error)}));
}

constexpr const char* kProtobuf = "application/vnd.kubernetes.protobuf";
}  // namespace

// The body of a create or replace: JSON or YAML; protobuf for Namespaces only (kubectl create namespace).
std::optional<Reply> ApiServer::Impl::WriteBody(const Route& rt, const Incoming& in, Json* out) {
  if (MediaType(in.content_type) == kProtobuf) {
    if (rt.type != &NamespaceType()) return UnsupportedMedia("application/json, application/yaml");
    auto ns = DecodeProtobufNamespace(in.body);
    if (!ns.ok()) return ErrorReply(ns.status());
    *out = std::move(*ns);
    return std::nullopt;
  }
  auto body = ParseBody(in.content_type, in.body);
  if (!body.ok()) return ErrorReply(body.status());
  *out = std::move(*body);
  return std::nullopt;
}

// A namespaced object can only be created in a namespace that exists (404 `namespaces "x" not found`).
std::optional<Reply> ApiServer::Impl::CheckNamespace(const Route& rt) {
  if (!rt.type->namespaced) return std::nullopt;
  auto ns = store->Get(NamespaceType(), "", rt.ns);
  if (ns.ok()) return std::nullopt;
  Route nr;
  nr.type = &NamespaceType();
  return StoreError(nr, ns.status(), rt.ns);
}

Reply ApiServer::Impl::Create(const Route& rt, const Incoming& in) {
  auto dry = DryRun(in);
  if (!dry.ok()) return ErrorReply(400, "BadRequest", dry.status().message());
  auto sc = ParseSchemaCheck(in.query, /*patch=*/false);
  if (!sc.ok()) return ErrorReply(400, "BadRequest", sc.status().message());
  auto manager = FieldManager(in);
  if (!manager.ok()) return OptionsInvalid("CreateOptions", manager.status().message());
  Json obj;
  if (auto e = WriteBody(rt, in, &obj)) return *e;
  Reply err;
  if (!CheckIdentity(rt, obj, &err).ok()) return err;
  Json& md = obj["metadata"];
  bool has_name = md.contains("name") && md["name"].is_string() && !md["name"].get<std::string>().empty();
  if (!has_name && md.contains("generateName") && md["generateName"].is_string() &&
      !md["generateName"].get<std::string>().empty()) {
    md["name"] = md["generateName"].get<std::string>() + RandomSuffix();
    has_name = true;
  }
  if (!has_name) {
    return InvalidReply(*rt.type, "", "metadata.name: Required value: name or generateName is required");
  }
  if (HasResourceVersion(obj)) {
    return ErrorReply(400, "BadRequest", "metadata.resourceVersion: Invalid value: resourceVersion should not be set on objects to be created");
  }
  if (HasStatus(rt.type) || rt.type == &NamespaceType()) obj.erase("status");  // the server owns it
  std::string name = md["name"].get<std::string>();
  if (auto e = CheckNamespace(rt)) return *e;
  if (!Validate(*rt.type, obj, &err, &*sc).ok()) return err;  // may rewrite obj (md is stale after it)
  auto tracked = RecordUpdate(Json(), std::move(obj), *manager, rt.type->api_version, NowRfc3339());
  if (!tracked.ok()) return InvalidReply(*rt.type, name, tracked.status().message());
  obj = std::move(*tracked);
  Reply ok;
  if (*dry) {
    ok = JsonReply(201, obj);
  } else {
    auto r = store->Create(*rt.type, std::move(obj));
    if (!r.ok()) return StoreError(rt, r.status(), name);
    ok = JsonReply(201, *r);
  }
  AddWarnings(ok, sc->warnings);
  return ok;
}

Reply ApiServer::Impl::Replace(const Route& rt, const Incoming& in) {
  auto dry = DryRun(in);
  if (!dry.ok()) return ErrorReply(400, "BadRequest", dry.status().message());
  auto sc = ParseSchemaCheck(in.query, /*patch=*/false);
  if (!sc.ok()) return ErrorReply(400, "BadRequest", sc.status().message());
  auto manager = FieldManager(in);
  if (!manager.ok()) return OptionsInvalid("UpdateOptions", manager.status().message());
  Json obj;
  if (auto e = WriteBody(rt, in, &obj)) return *e;
  Reply err;
  if (!CheckIdentity(rt, obj, &err).ok()) return err;
  // PUT never creates; the object must exist before anything else is said about the body.
  auto cur = store->Get(*rt.type, rt.ns, rt.name);
  if (!cur.ok()) return StoreError(rt, cur.status(), rt.name);
  if (IsCustom(*rt.type) && !HasResourceVersion(obj)) {
    return InvalidReply(*rt.type, rt.name, "metadata.resourceVersion: Invalid value: 0x0: must be specified for an update");
  }
  if (rt.status) {
    auto r = store->UpdateStatus(*rt.type, std::move(obj));
    if (!r.ok()) return StoreError(rt, r.status(), rt.name);
    return JsonReply(200, *r);
  }
  if (!Validate(*rt.type, obj, &err, &*sc).ok()) return err;
  auto tracked = RecordUpdate(*cur, std::move(obj), *manager, rt.type->api_version, NowRfc3339());
  if (!tracked.ok()) return InvalidReply(*rt.type, rt.name, tracked.status().message());
  obj = std::move(*tracked);
  Reply ok;
  if (*dry) {
    ok = JsonReply(200, obj);
  } else {
    auto r = store->Update(*rt.type, std::move(obj));
    if (!r.ok()) return StoreError(rt, r.status(), rt.name);
    ok = JsonReply(200, *r);
  }
  AddWarnings(ok, sc->warnings);
  return ok;
}

// Writes a patched object (spec or status), retrying from a fresh read when `pinned` is false and another
// write came in between (Kubernetes' patch loop).
Reply ApiServer::Impl::Patch(const Route& rt, const Incoming& in) {
  enum { kMerge, kJsonPatch, kApply } kind;
  const std::string media = MediaType(in.content_type);
  // application/json and YAML: inferd has always read merge patches in them (the apiserver would answer 415).
  if (media == "application/merge-patch+json" || media == "application/json" || IsYaml(media)) {
    kind = kMerge;
  } else if (media == "application/json-patch+json") {
    kind = kJsonPatch;
  } else if (media == "application/apply-patch+yaml") {
    kind = kApply;
  } else {  // strategic merge included: custom resources do not have it, and neither do inferd's core kinds
    return UnsupportedMedia("application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml");
  }
  auto dry = DryRun(in);
  if (!dry.ok()) return ErrorReply(400, "BadRequest", dry.status().message());
  auto sc0 = ParseSchemaCheck(in.query, /*patch=*/true);
  if (!sc0.ok()) return ErrorReply(400, "BadRequest", sc0.status().message());
  auto force_it = in.query.find("force");
  bool force = force_it != in.query.end() && ParseBool(force_it->second);
  if (force_it != in.query.end() && kind != kApply) {
    return OptionsInvalid("PatchOptions", "force: Forbidden: may not be specified for non-apply patch");
  }
  if (kind == kApply && !in.query.count("fieldManager")) {
    return OptionsInvalid("PatchOptions", "fieldManager: Required value: is required for apply patch");
  }
  auto manager = FieldManager(in);
  if (!manager.ok()) return OptionsInvalid("PatchOptions", manager.status().message());
  Json patch;
  if (kind == kJsonPatch) {
    auto ops = ParseBoundedJson(in.body, "request body");
    if (!ops.ok()) return ErrorReply(ops.status());
    if (!ops->is_array()) return ErrorReply(400, "BadRequest", "a JSON patch must be an array of operations");
    patch = std::move(*ops);
  } else {
    auto body = ParseBody(kind == kApply ? "application/yaml" : in.content_type, in.body);
    if (!body.ok()) return ErrorReply(body.status());
    patch = std::move(*body);
  }
  if (kind == kApply) return Apply(rt, std::move(patch), *manager, force, *dry, *sc0);
  bool pinned = false;
  if (kind == kMerge) {
    pinned = patch.contains("metadata") && patch["metadata"].is_object() &&
             patch["metadata"].contains("resourceVersion") && !patch["metadata"]["resourceVersion"].is_null();
  } else {
    for (const auto& op : patch)
      pinned |= op.is_object() && op.value("path", "") == "/metadata/resourceVersion" && op.value("op", "") != "test";
  }
  for (int attempt = 0;; ++attempt) {
    auto cur = store->Get(*rt.type, rt.ns, rt.name);
    if (!cur.ok()) return StoreError(rt, cur.status(), rt.name);
    Json obj;
    if (kind == kMerge) {
      obj = resources::MergePatch(*cur, patch);
    } else {
      bool not_applicable = false;
      auto r = ApplyJsonPatch(*cur, patch, &not_applicable);
      if (!r.ok() && not_applicable) {
        return JsonReply(422, StatusObject(422, "Invalid", "the server rejected our request due to an error in our request",
                                            Json{{"causes", {{{"reason", "FieldValueInvalid"}, {"message", r.status().message()}}}}}));
      }
      if (!r.ok()) return ErrorReply(r.status());
      obj = std::move(*r);
    }
    if (!obj.is_object()) return ErrorReply(400, "BadRequest", "the patched object is not a JSON object");
    Reply err;
    if (!CheckIdentity(rt, obj, &err).ok()) return err;
    StatusOr<Json> r = Internal("unreachable");
    SchemaCheck sc = *sc0;  // fresh per attempt: warnings of the object finally written
    if (rt.status) {
      if (*dry) return JsonReply(200, obj);
      r = store->UpdateStatus(*rt.type, std::move(obj));
    } else {
      if (!Validate(*rt.type, obj, &err, &sc).ok()) return err;
      auto tracked = RecordUpdate(*cur, std::move(obj), *manager, rt.type->api_version, NowRfc3339());
      if (!tracked.ok()) return InvalidReply(*rt.type, rt.name, tracked.status().message());
      obj = std::move(*tracked);
      if (*dry) {
        Reply ok = JsonReply(200, obj);
        AddWarnings(ok, sc.warnings);
        return ok;
      }
      r = store->Update(*rt.type, std::move(obj));
    }
    if (r.ok()) {
      Reply ok = JsonReply(200, *r);
      AddWarnings(ok, sc.warnings);
      return ok;
    }
    // Without a resourceVersion in the patch, a concurrent write is not the client's conflict: retry.
    if (r.status().code() == StatusCode::kConflict && !pinned && attempt + 1 < kPatchAttempts) continue;
    return StoreError(rt, r.status(), rt.name);
  }
}

// Server-side apply (patch.h ServerSideApply): creates the object when it is missing (201), else merges the
// manager's configuration into it; conflicts with other managers are 409 unless `force`.
Reply ApiServer::Impl::Apply(const Route& rt, Json applied, const std::string& manager, bool force, bool dry,
                             SchemaCheck sc) {
  if (!applied.contains("apiVersion") || !applied.contains("kind")) {
    return ErrorReply(400, "BadRequest", "an apply patch must set apiVersion and kind");
  }
  Reply err;
  if (!CheckIdentity(rt, applied, &err).ok()) return err;
  const bool pinned = HasResourceVersion(applied);
  for (int attempt = 0;; ++attempt) {
    auto cur = store->Get(*rt.type, rt.ns, rt.name);
    if (!cur.ok() && cur.status().code() != StatusCode::kNotFound) return StoreError(rt, cur.status(), rt.name);
    if (!cur.ok() && rt.status) return StoreError(rt, cur.status(), rt.name);
    StatusOr<Json> r = Internal("unreachable");
    SchemaCheck check = sc;  // fresh per attempt: warnings of the object finally written
    auto warned = [&check](Reply reply) {
      AddWarnings(reply, check.warnings);
      return reply;
    };
    if (rt.status) {  // status is not field-tracked here: the applied status is merged over the stored one
      Json obj = resources::MergePatch(*cur, Json{{"status", applied.contains("status") ? applied["status"] : Json::object()}});
      if (dry) return JsonReply(200, obj);
      r = store->UpdateStatus(*rt.type, std::move(obj));
    } else {
      const Json live = cur.ok() ? *cur : Json();
      ApplyResult res = ServerSideApply(live, applied, manager, force, rt.type->api_version, NowRfc3339());
      if (!res.error.ok()) return InvalidReply(*rt.type, rt.name, res.error.message());
      if (!res.conflicts.empty()) return ApplyConflictReply(rt, res.conflicts);
      Json obj = std::move(res.object);
      if (pinned) obj["metadata"]["resourceVersion"] = applied["metadata"]["resourceVersion"];
      if (!cur.ok()) {  // create
        if (pinned) return StoreError(rt, cur.status(), rt.name);
        obj["metadata"].erase("resourceVersion");
        if (HasStatus(rt.type) || rt.type == &NamespaceType()) obj.erase("status");
        if (auto e = CheckNamespace(rt)) return *e;
        if (!Validate(*rt.type, obj, &err, &check).ok()) return err;
        if (dry) return warned(JsonReply(201, obj));
        r = store->Create(*rt.type, std::move(obj));
        if (r.ok()) return warned(JsonReply(201, *r));
        if (r.status().code() == StatusCode::kAlreadyExists && attempt + 1 < kPatchAttempts) continue;
        return StoreError(rt, r.status(), rt.name);
      }
      if (!Validate(*rt.type, obj, &err, &check).ok()) return err;
      if (dry) return warned(JsonReply(200, obj));
      r = store->Update(*rt.type, std::move(obj));
    }
    if (r.ok()) return warned(JsonReply(200, *r));
    if (r.status().code() == StatusCode::kConflict && !pinned && attempt + 1 < kPatchAttempts) continue;
    return StoreError(rt, r.status(), rt.name);
  }
}

// 409 with one FieldManagerConflict cause per field, as the apiserver answers (kubectl prints the message and
// suggests --force-conflicts).
Reply ApiServer::Impl::ApplyConflictReply(const Route& rt, const std::vector<ApplyConflict>& conflicts) {
  Json causes = Json::array();
  for (const auto& c : conflicts) {
    causes.push_back({{"reason", "FieldManagerConflict"},
                      {"message", "conflict with \"" + c.manager + "\" using " + c.api_version},
                      {"field", FieldPathString(c.field)}});
  }
  Json details{{"name", rt.name}};
  if (!GroupOf(*rt.type).empty()) details["group"] = GroupOf(*rt.type);
  details["kind"] = rt.type->plural;
  details["causes"] = std::move(causes);
  return JsonReply(409, StatusObject(409, "Conflict", ConflictMessage(conflicts), std::move(details)));
}

// DeleteOptions (body, JSON or YAML; dryRun also from the query): propagationPolicy, preconditions, dryRun.
std::optional<Reply> ApiServer::Impl::ParseDeleteOptions(const Route& rt, const Incoming& in, DeleteOpts* out) {
  auto dry = DryRun(in);
  if (!dry.ok()) return ErrorReply(400, "BadRequest", dry.status().message());
  out->dry = *dry;
  if (in.body.empty()) return std::nullopt;
  auto opts = ParseBody(in.content_type, in.body);
  if (!opts.ok()) return ErrorReply(opts.status());
  const Json& o = *opts;
  if (o.contains("propagationPolicy") && !o["propagationPolicy"].is_null()) {
    const Json& p = o["propagationPolicy"];
    if (!p.is_string() || (p != "Background" && p != "Foreground" && p != "Orphan")) {
      return OptionsInvalid("DeleteOptions", "propagationPolicy: Unsupported value: " + Dump(p) +
                                                 ": supported values: \"Foreground\", \"Background\", \"Orphan\"");
    }
  }
  if (o.contains("dryRun") && !o["dryRun"].is_null()) {
    const Json& d = o["dryRun"];
    if (!d.is_array() || d.size() > 1 || (d.size() == 1 && d[0] != "All")) {
      return ErrorReply(400, "BadRequest", "dryRun: unsupported value " + Dump(d) + ", supported values: [\"All\"]");
    }
    out->dry = out->dry || d.size() == 1;
  }
  if (o.contains("preconditions") && o["preconditions"].is_object()) {
    const Json& p = o["preconditions"];
    if (p.contains("resourceVersion") && p["resourceVersion"].is_string()) {
      out->precondition_rv = p["resourceVersion"].get<std::string>();
    }
    if (p.contains("uid") && p["uid"].is_string() && !p["uid"].get<std::string>().empty()) {
      auto cur = store->Get(*rt.type, rt.ns, rt.name);
      if (!cur.ok()) return StoreError(rt, cur.status(), rt.name);
      if ((*cur)["metadata"].value("uid", "") != p["uid"].get<std::string>()) {
        Json details{{"name", rt.name}, {"kind", rt.type->plural}};
        if (!GroupOf(*rt.type).empty()) details["group"] = GroupOf(*rt.type);
        return JsonReply(409, StatusObject(409, "Conflict",
                                            "Operation cannot be fulfilled on " + Resource(*rt.type) + " \"" + rt.name +
                                                "\": Precondition failed: UID in precondition: " + p["uid"].get<std::string>() +
                                                ", UID in object meta: " + (*cur)["metadata"].value("uid", ""),
                                            details));
      }
    }
  }
  return std::nullopt;
}

// DELETE: the object goes at once (no finalizers here) and the answer is Status Success with its uid, as the
// custom-resource store answers. A Namespace takes its objects with it (see DeleteNamespace).
Reply ApiServer::Impl::Delete(const Route& rt, const Incoming& in) {
  DeleteOpts opts;
  if (auto e = ParseDeleteOptions(rt, in, &opts)) return *e;
  if (rt.type == &NamespaceType()) return DeleteNamespace(rt, opts);
  StatusOr<Json> r = Internal("unreachable");
  if (opts.dry) {
    r = store->Get(*rt.type, rt.ns, rt.name);
    if (r.ok() && !opts.precondition_rv.empty() && (*r)["metadata"].value("resourceVersion", "") != opts.precondition_rv) {
      r = Conflict("Operation cannot be fulfilled on " + Resource(*rt.type) + " \"" + rt.name +
                   "\": the object has been modified; please apply your changes to the latest version and try again");
    }
  } else {
    r = store->Delete(*rt.type, rt.ns, rt.name, opts.precondition_rv);
  }
  if (!r.ok()) return StoreError(rt, r.status(), rt.name);
  return JsonReply(200, StatusSuccess(rt.name, GroupOf(*rt.type), rt.type->plural, (*r)["metadata"].value("uid", "")));
}

// Deleting a Namespace deletes every object in it (InferenceServices stop as on any delete), then the
// Namespace; the answer is the Namespace in phase Terminating, as Kubernetes answers (kubectl then sees 404).
// `default` cannot be deleted (403, as in Kubernetes).
Reply ApiServer::Impl::DeleteNamespace(const Route& rt, const DeleteOpts& opts) {
  if (rt.name == "default") {
    return JsonReply(403, StatusObject(403, "Forbidden", "namespaces \"default\" is forbidden: this namespace may not be deleted",
                                        Json{{"name", "default"}, {"kind", "namespaces"}}));
  }
  auto cur = store->Get(NamespaceType(), "", rt.name);
  if (!cur.ok()) return StoreError(rt, cur.status(), rt.name);
  if (!opts.precondition_rv.empty() && (*cur)["metadata"].value("resourceVersion", "") != opts.precondition_rv) {
    return StoreError(rt, Conflict("Operation cannot be fulfilled on namespaces \"" + rt.name +
                                   "\": the object has been modified; please apply your changes to the latest version and try again"),
                      rt.name);
  }
  Json out = *cur;
  out["metadata"]["deletionTimestamp"] = NowRfc3339();
  out["status"]["phase"] = "Terminating";
  if (opts.dry) return JsonReply(200, out);
  for (const auto* t : AllTypes()) {
    if (!t->namespaced) continue;
    auto l = store->List(*t, rt.name);
    if (!l.ok()) return ErrorReply(l.status());
    for (const auto& item : l->items) {
      auto d = store->Delete(*t, rt.name, item["metadata"].value("name", ""));
      if (!d.ok() && d.status().code() != StatusCode::kNotFound) return ErrorReply(d.status());
    }
  }
  auto d = store->Delete(NamespaceType(), "", rt.name);
  if (!d.ok() && d.status().code() != StatusCode::kNotFound) return StoreError(rt, d.status(), rt.name);
  return JsonReply(200, out);
}

// DELETE on a collection (deletecollection): every object the label/field selectors match; the answer is the
// list of what was deleted.
Reply ApiServer::Impl::DeleteCollection(const Route& rt, const Incoming& in) {
  DeleteOpts opts;
  if (auto e = ParseDeleteOptions(rt, in, &opts)) return *e;
  auto parsed = ParseFilter(*rt.type, in);
  if (!parsed.ok()) return ErrorReply(parsed.status());
  const Filter& filter = *parsed;
  auto l = store->List(*rt.type, rt.type->namespaced ? rt.ns : "");
  if (!l.ok()) return ErrorReply(l.status());
  Json items = Json::array();
  for (auto& item : l->items) {
    if (!filter.Matches(item)) continue;
    if (!opts.dry) {
      auto d = store->Delete(*rt.type, item["metadata"].value("namespace", ""), item["metadata"].value("name", ""));
      if (!d.ok() && d.status().code() != StatusCode::kNotFound) return StoreError(rt, d.status(), "");
    }
    items.push_back(std::move(item));
  }
  return JsonReply(200, Json{{"apiVersion", rt.type->api_version},
                             {"kind", rt.type->kind + "List"},
                             {"metadata", Json::object()},
                             {"items", std::move(items)}});
}

// ---- public API ------------------------------------------------------------------------------------------
ApiServer::ApiServer(store::Store* store, ApiOptions options) : impl_(std::make_unique<Impl>()) {
  impl_->store = store;
  impl_->options = std::move(options);
}

ApiServer::~ApiServer() { Stop(); }

std::string_view ApiRequest::Header(std::string_view name) const {
  for (const auto& [k, v] : headers)
    if (k == name) return v;
  return {};
}

void ApiServer::AddPage(std::string path, PathMatch match, PageAuth auth, PageHandler handler) {
  impl_->pages.push_back({std::move(path), match, auth, std::move(handler)});
}

void ApiServer::AddExtension(std::string prefix, ExtensionHandler handler) {
  impl_->extensions.emplace_back(std::move(prefix), std::move(handler));
}

Status ApiServer::Start() {
  auto& o = impl_->options;
  if (impl_->started) return Status::Ok();
  ASSIGN_OR_RETURN(auto address, net::ListenAddress(o.host == "localhost" ? "127.0.0.1" : o.host, "api host"));
  if (!address.is_loopback() && o.token.empty()) {
    return InvalidArgument("api: refusing to serve on non-loopback host " + o.host +
                           " without a token: set one (clients send 'Authorization: Bearer <token>')");
  }
  if (o.max_streams < 0) o.max_streams = 0;
  RETURN_IF_ERROR(net::ResolveLimits(&o.limits, o.max_body_bytes));
  // `default`, and a Namespace for every namespace stored objects already live in (data from before
  // namespaces were served keeps working).
  RETURN_IF_ERROR(EnsureNamespaces(impl_->store, AllTypes()));
  auto budget = o.body_budget ? o.body_budget : std::make_shared<net::BodyBudget>(o.limits.max_body_bytes_in_flight);
  if (!o.tls_cert_file.empty()) {
    ASSIGN_OR_RETURN(impl_->tls, net::MakeServerTlsContext(o.tls_cert_file, o.tls_key_file));
  }
  tcp::acceptor acc(impl_->ctx);
  RETURN_IF_ERROR(net::ListenTcp(acc, address, o.port, /*reuse_port=*/false, "api"));
  impl_->port = acc.local_endpoint().port();
  impl_->conns.emplace(impl_->ctx, "api", o.limits.timeouts,
                       std::make_shared<net::ConnGate>(o.limits.max_connections), std::move(budget));
  impl_->work.emplace(impl_->ctx.get_executor());
  impl_->StartAccepting(std::move(acc));
  impl_->started = true;
  impl_->io_thread = std::thread([ctx = &impl_->ctx] { ctx->run(); });
  LOG_INFO("api: listening on {}:{} ({})", o.host, impl_->port,
           impl_->tls ? "HTTPS; plain HTTP from loopback" : "plain HTTP from loopback");
  return Status::Ok();
}

int ApiServer::port() const { return impl_->port; }

void ApiServer::Stop() {
  if (impl_) impl_->StopAll();
}

}  // namespace inferd::api
