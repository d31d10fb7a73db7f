#include "kube/client.h"

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "core/json_field.h"
#include "core/percent.h"
#include "net/http_client.h"

namespace inferd::kube {
namespace {

// The reason client-go's errors.ReasonForError would give a non-Status answer with this code.
const char* ReasonForCode(int code) {
  switch (code) {
    case 400: return "BadRequest";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "NotFound";
    case 405: return "MethodNotAllowed";
    case 406: return "NotAcceptable";
    case 409: return "Conflict";
    case 410: return "Gone";
    case 413: return "RequestEntityTooLarge";
    case 415: return "UnsupportedMediaType";
    case 422: return "Invalid";
    case 429: return "TooManyRequests";
    case 500: return "InternalError";
    case 503: return "ServiceUnavailable";
    case 504: return "Timeout";
    default: return code >= 500 ? "InternalError" : "Unknown";
  }
}

ApiStatus TransportError(std::string reason, std::string message) {
  ApiStatus s;
  s.code = 0;
  s.reason = std::move(reason);
  s.message = std::move(message);
  return s;
}

std::string Query(const std::vector<std::pair<std::string, std::string>>& params) {
  std::string q;
  for (const auto& [k, v] : params) {
    if (v.empty()) continue;
    q += q.empty() ? '?' : '&';
    q += k;
    q += '=';
    q += PercentEncode(v, false);
  }
  return q;
}

}  // namespace

std::string StringField(const Json& obj, std::string_view key) { return JsonStringField(obj, key); }

std::string MetaField(const Json& obj, std::string_view key) {
  if (!obj.is_object()) return "";
  auto m = obj.find("metadata");
  return m == obj.end() ? "" : StringField(*m, key);
}

// ---- ApiStatus ------------------------------------------------------------------------------------------

std::string ApiStatus::ToString() const {
  if (ok()) return "OK";
  std::string s = code == 0 ? std::string("no answer") : std::to_string(code);
  if (!reason.empty()) s += " " + reason;
  if (!message.empty()) s += ": " + message;
  return s;
}

Status ApiStatus::ToStatus() const {
  if (ok()) return Status::Ok();
  switch (code) {
    case 400:
    case 422: return InvalidArgument(ToString());
    case 401:
    case 403: return Unauthenticated(ToString());
    case 404: return NotFound(ToString());
    case 409: return IsAlreadyExists() ? AlreadyExists(ToString()) : Conflict(ToString());
    case 504: return DeadlineExceeded(ToString());
    default: break;
  }
  if (code == 0 || code == 429 || code >= 500) return Unavailable(ToString());
  return Internal(ToString());
}

ApiStatus StatusFromBody(int http_code, std::string_view body) {
  ApiStatus s;
  s.code = http_code;
  Json j = Json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (StringField(j, "kind") == "Status") {
    s.reason = StringField(j, "reason");
    s.message = StringField(j, "message");
  }
  if (s.reason.empty() && !s.ok()) s.reason = ReasonForCode(http_code);
  if (s.message.empty() && !s.ok()) s.message = std::string(body.substr(0, 512));
  return s;
}

ApiStatus StatusFromEvent(const WatchEvent& event) {
  const Json& o = event.object;
  int code = 500;
  if (o.is_object() && o.contains("code") && o["code"].is_number_integer()) {
    const int64_t c = o["code"].get<int64_t>();
    if (c >= 100 && c <= 999) code = static_cast<int>(c);
  }
  ApiStatus s = StatusFromBody(code, o.dump());
  if (code >= 200 && code < 300) s.code = 500;  // an ERROR event is never a success
  return s;
}

// ---- Gvr and keys ---------------------------------------------------------------------------------------

std::string Gvr::ApiVersion() const { return group.empty() ? version : group + "/" + version; }

std::string Gvr::Path(std::string_view ns, std::string_view name, std::string_view subresource) const {
  std::string p = group.empty() ? "/api/" + version : "/apis/" + group + "/" + version;
  if (namespaced && !ns.empty()) p += "/namespaces/" + PercentEncode(ns, false);
  p += "/" + plural;
  if (!name.empty()) p += "/" + PercentEncode(name, false);
  if (!subresource.empty()) p += "/" + std::string(subresource);
  return p;
}

std::string ObjectKey(const Json& obj) {
  const std::string ns = MetaField(obj, "namespace");
  const std::string name = MetaField(obj, "name");
  return ns.empty() ? name : ns + "/" + name;
}

std::pair<std::string, std::string> SplitKey(std::string_view key) {
  auto slash = key.find('/');
  if (slash == std::string_view::npos) return {"", std::string(key)};
  return {std::string(key.substr(0, slash)), std::string(key.substr(slash + 1))};
}

// ---- watch stream ---------------------------------------------------------------------------------------

bool LineSplitter::Feed(std::string_view data, const std::function<bool(std::string_view)>& on_line) {
  if (failed_) return false;
  while (!data.empty()) {
    const size_t nl = data.find('\n');
    const std::string_view piece = data.substr(0, nl);
    if (partial_.size() + piece.size() > max_line_) {
      failed_ = true;
      partial_.clear();
      return false;
    }
    if (nl == std::string_view::npos) {
      partial_.append(piece);
      return true;
    }
    std::string_view line = piece;
    if (!partial_.empty()) {
      partial_.append(piece);
      line = partial_;
    }
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    data.remove_prefix(nl + 1);
    bool go_on = line.empty() || on_line(line);
    partial_.clear();
    if (!go_on) return true;
  }
  return true;
}

Result<WatchEvent> ParseWatchEvent(std::string_view line) {
  Json j = Json::parse(line, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object() || !j.contains("type") || !j["type"].is_string() || !j.contains("object") ||
      !j["object"].is_object()) {
    return ApiStatus{0, "InvalidResponse", "malformed watch event: " + std::string(line.substr(0, 200))};
  }
  WatchEvent ev;
  ev.type = j["type"].get<std::string>();
  if (ev.type != "ADDED" && ev.type != "MODIFIED" && ev.type != "DELETED" && ev.type != "BOOKMARK" &&
      ev.type != "ERROR") {
    return ApiStatus{0, "InvalidResponse", "unknown watch event type \"" + ev.type + "\""};
  }
  ev.object = std::move(j["object"]);
  return ev;
}

// ---- KubeClient -----------------------------------------------------------------------------------------

KubeClient::KubeClient(KubeConfig config, const Clock* clock) : config_(std::move(config)), clock_(clock) {}

std::string KubeClient::BearerHeader() {
  MutexLock lock(token_mu_);
  if (!config_.token_file.empty()) {
    const int64_t now = clock_->NowNs();
    if (!token_loaded_ || now - token_read_ns_ >= kTokenRefreshNs) {
      std::ifstream in(config_.token_file, std::ios::binary);
      if (in) {  // keep the last token when the file is briefly missing during a rotation
        std::stringstream ss;
        ss << in.rdbuf();
        token_ = ss.str();
        while (!token_.empty() && (token_.back() == '\n' || token_.back() == '\r' || token_.back() == ' ')) {
          token_.pop_back();
        }
      }
      token_loaded_ = true;
      token_read_ns_ = now;
    }
    return token_.empty() ? "" : "Bearer " + token_;
  }
  return config_.token.empty() ? "" : "Bearer " + config_.token;
}

namespace {

net::ClientRequest BaseRequest(const KubeConfig& c, std::string_view method, const std::string& path,
                               const std::string& bearer) {
  net::ClientRequest r;
  r.method = std::string(method);
  r.url = c.server + path;
  r.headers.push_back("Accept: application/json");
  if (!bearer.empty()) r.headers.push_back("Authorization: " + bearer);
  r.user_agent = c.user_agent;
  r.connect_timeout_s = c.connect_timeout_s;
  r.timeout_s = c.request_timeout_s;
  r.verify_tls = !c.insecure_skip_tls_verify;
  r.ca_file = c.ca_file;
  r.ca_pem = c.ca_data;
  r.client_cert_file = c.client_cert_file;
  r.client_key_file = c.client_key_file;
  r.client_cert_pem = c.client_cert_data;
  r.client_key_pem = c.client_key_data;
  return r;
}

}  // namespace

Result<Json> KubeClient::Request(std::string_view method, const std::string& path_and_query, const std::string& body,
                                 std::string_view content_type) {
  net::ClientRequest req = BaseRequest(config_, method, path_and_query, BearerHeader());
  if (!body.empty()) {
    req.body = body;
    req.headers.push_back("Content-Type: " + std::string(content_type));
  }
  std::string out;
  bool too_large = false;
  net::ClientResult res = net::Fetch(req, [&](std::string_view data, const net::ResponseHead&) {
    if (out.size() + data.size() > config_.max_body_bytes) {
      too_large = true;
      return false;
    }
    out.append(data);
    return true;
  });
  if (too_large) {
    return TransportError("ResponseTooLarge", "response body over " + std::to_string(config_.max_body_bytes) + " bytes");
  }
  if (res.transport != net::Transport::kOk) return TransportError("Transport", res.error);
  if (res.status < 200 || res.status >= 300) return StatusFromBody(static_cast<int>(res.status), out);
  if (out.empty()) return Json::object();  // e.g. 204
  Json j = Json::parse(out, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return TransportError("InvalidResponse", "response is not JSON: " + out.substr(0, 200));
  return j;
}

Result<Json> KubeClient::Get(const Gvr& gvr, std::string_view ns, std::string_view name,
                             std::string_view subresource) {
  return Request("GET", gvr.Path(ns, name, subresource));
}

Result<Json> KubeClient::List(const Gvr& gvr, std::string_view ns, const ListOptions& o) {
  const std::string q = Query({{"labelSelector", o.label_selector},
                               {"fieldSelector", o.field_selector},
                               {"resourceVersion", o.resource_version},
                               {"limit", o.limit > 0 ? std::to_string(o.limit) : ""},
                               {"continue", o.continue_token}});
  return Request("GET", gvr.Path(ns) + q);
}

Result<Json> KubeClient::ListAll(const Gvr& gvr, std::string_view ns, ListOptions options, size_t max_items) {
  Result<Json> first = List(gvr, ns, options);
  if (!first.ok()) return first;
  Json all = std::move(first).value();
  if (!all.is_object()) return ApiStatus{0, "InvalidResponse", "a list answer that is not a JSON object"};
  if (!all.contains("items") || !all["items"].is_array()) all["items"] = Json::array();
  std::string cont = MetaField(all, "continue");
  // A continue token carries the first page's snapshot; the resourceVersion must not be sent with it.
  options.resource_version.clear();
  while (!cont.empty()) {
    if (all["items"].size() > max_items) {
      return ApiStatus{0, "ResponseTooLarge", "list has more than " + std::to_string(max_items) + " items"};
    }
    options.continue_token = cont;
    Result<Json> page = List(gvr, ns, options);
    if (!page.ok()) return page;
    if (page->is_object() && page->contains("items") && (*page)["items"].is_array()) {
      for (auto& item : (*page)["items"]) all["items"].push_back(std::move(item));
    }
    cont = MetaField(*page, "continue");
  }
  if (all["items"].size() > max_items) {
    return ApiStatus{0, "ResponseTooLarge", "list has more than " + std::to_string(max_items) + " items"};
  }
  if (all.contains("metadata") && all["metadata"].is_object()) all["metadata"].erase("continue");
  return all;
}

Result<Json> KubeClient::Create(const Gvr& gvr, std::string_view ns, const Json& object) {
  return Request("POST", gvr.Path(ns), object.dump());
}

Result<Json> KubeClient::Update(const Gvr& gvr, std::string_view ns, const Json& object) {
  const std::string name = MetaField(object, "name");
  if (name.empty()) return ApiStatus{422, "Invalid", "metadata.name: Required value"};
  return Request("PUT", gvr.Path(ns, name), object.dump());
}

Result<Json> KubeClient::UpdateStatus(const Gvr& gvr, std::string_view ns, const Json& object) {
  const std::string name = MetaField(object, "name");
  if (name.empty()) return ApiStatus{422, "Invalid", "metadata.name: Required value"};
  return Request("PUT", gvr.Path(ns, name, "status"), object.dump());
}

Result<Json> KubeClient::Patch(const Gvr& gvr, std::string_view ns, std::string_view name, const Json& patch,
                               PatchType type, std::string_view subresource, std::string_view field_manager,
                               bool force) {
  const char* ct = type == PatchType::kMerge  ? "application/merge-patch+json"
                   : type == PatchType::kJson ? "application/json-patch+json"
                                              : "application/apply-patch+yaml";
  if (type == PatchType::kApply && field_manager.empty()) {
    return ApiStatus{422, "Invalid", "fieldManager: Required value: an apply patch needs a field manager"};
  }
  const std::string q = Query({{"fieldManager", std::string(field_manager)},
                               {"force", type == PatchType::kApply && force ? "true" : ""}});
  return Request("PATCH", gvr.Path(ns, name, subresource) + q, patch.dump(), ct);
}

Result<Json> KubeClient::Delete(const Gvr& gvr, std::string_view ns, std::string_view name,
                                const DeleteOptions& options) {
  Json body = {{"kind", "DeleteOptions"}, {"apiVersion", "v1"}};
  if (!options.propagation_policy.empty()) body["propagationPolicy"] = options.propagation_policy;
  if (options.precondition_uid) body["preconditions"]["uid"] = *options.precondition_uid;
  if (options.precondition_resource_version) {
    body["preconditions"]["resourceVersion"] = *options.precondition_resource_version;
  }
  return Request("DELETE", gvr.Path(ns, name), body.dump());
}

ApiStatus KubeClient::Watch(const Gvr& gvr, std::string_view ns, const WatchOptions& o,
                            const WatchHandler& on_event) {
  const std::string q = Query({{"watch", "true"},
                               {"resourceVersion", o.resource_version},
                               {"labelSelector", o.label_selector},
                               {"fieldSelector", o.field_selector},
                               {"allowWatchBookmarks", o.allow_bookmarks ? "true" : ""},
                               {"timeoutSeconds", o.timeout_seconds > 0 ? std::to_string(o.timeout_seconds) : ""}});
  net::ClientRequest req = BaseRequest(config_, "GET", gvr.Path(ns) + q, BearerHeader());
  // The server ends the stream after timeoutSeconds; the client's bound adds the usual request timeout.
  req.timeout_s = (o.timeout_seconds > 0 ? o.timeout_seconds : kMaxWatchSeconds) + config_.request_timeout_s;
  req.cancel = o.cancel;
  LineSplitter splitter(config_.max_watch_line_bytes);
  ApiStatus result;
  std::string error_body;
  bool stopped = false;
  net::ClientResult res = net::Fetch(req, [&](std::string_view data, const net::ResponseHead& head) {
    if (head.status < 200 || head.status >= 300) {  // an error answer: keep (a bounded part of) its Status
      error_body.append(data.substr(0, std::min<size_t>(data.size(), 65536 - std::min<size_t>(error_body.size(), 65536))));
      return true;
    }
    const bool fed = splitter.Feed(data, [&](std::string_view line) {
      Result<WatchEvent> ev = ParseWatchEvent(line);
      if (!ev.ok()) {
        result = ev.status();
        return false;
      }
      if (!on_event(std::move(ev).value())) stopped = true;
      return !stopped;
    });
    if (!fed) {
      result = ApiStatus{0, "LineTooLong",
                         "watch event longer than " + std::to_string(config_.max_watch_line_bytes) + " bytes"};
      return false;
    }
    return result.ok() && !stopped;
  });
  if (!result.ok()) return result;
  if (stopped || (o.cancel && o.cancel->load())) return ApiStatus::Ok();
  if (res.transport != net::Transport::kOk) return TransportError("Transport", res.error);
  if (res.status < 200 || res.status >= 300) return StatusFromBody(static_cast<int>(res.status), error_body);
  return ApiStatus::Ok();
}

}  // namespace inferd::kube
