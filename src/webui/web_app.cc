// webui/web_app.cc: the web app's pages and session calls (see web_app.h for the contract).
#include "webui/web_app.h"

#include <nlohmann/json.hpp>

#include "api/access.h"
#include "api/status_object.h"
#include "core/bearer.h"
#include "core/json_depth.h"
#include "webui/assets.h"

namespace inferd::webui {

namespace {

using nlohmann::json;

api::ApiReply JsonAnswer(int status, const json& body) {
  api::ApiReply r;
  r.status = status;
  r.body = body.dump();
  r.headers = SecurityHeaders();
  r.headers.emplace_back("Cache-Control", "no-store");
  return r;
}

api::ApiReply StatusAnswer(int code, std::string_view reason, std::string_view message) {
  api::ApiReply r = JsonAnswer(code, json());
  r.body = api::StatusObject(code, reason, message).dump();
  return r;
}

api::ApiReply MethodNotAllowed(const char* allow) {
  api::ApiReply r = StatusAnswer(405, "MethodNotAllowed", "the server does not allow this method here");
  r.headers.emplace_back("Allow", allow);
  return r;
}

std::string SessionCookie(std::string_view id, bool tls) {
  std::string c = std::string(api::kSessionCookie) + "=" + std::string(id) + "; Path=/; HttpOnly; SameSite=Strict";
  if (tls) c += "; Secure";
  return c;
}

std::string_view CookieSessionId(const api::ApiRequest& req) {
  auto id = api::FindCookie(req.Header("cookie"), api::kSessionCookie);
  return id ? *id : std::string_view();
}

// A new session: 200 {"csrf"} (+ what `extra` adds) with its cookie; 500 if the CSPRNG failed.
api::ApiReply NewSessionAnswer(const WebAppOptions& o, const api::ApiRequest& req, json body) {
  NewSession s = o.sessions->Create();
  if (s.id.empty()) return StatusAnswer(500, "InternalError", "cannot draw a session id");
  body["csrf"] = s.csrf;
  api::ApiReply r = JsonAnswer(200, body);
  r.headers.emplace_back("Set-Cookie", SessionCookie(s.id, req.tls));
  return r;
}

api::ApiReply Redirect(std::string location) {
  api::ApiReply r;
  r.status = 302;
  r.content_type = "text/plain; charset=utf-8";
  r.headers = SecurityHeaders();
  r.headers.emplace_back("Location", std::move(location));
  return r;
}

}  // namespace

api::ApiReply SessionReply(const WebAppOptions& o, const api::ApiRequest& req) {
  if (req.method != "GET" && req.method != "HEAD") return MethodNotAllowed("GET, HEAD");
  const bool token_required = !o.token.empty();
  if (std::string_view id = CookieSessionId(req); !id.empty()) {
    if (auto csrf = o.sessions->Csrf(id)) {
      return JsonAnswer(200, {{"authenticated", true}, {"tokenRequired", token_required}, {"csrf", *csrf}});
    }
  }
  if (!token_required) return NewSessionAnswer(o, req, {{"authenticated", true}, {"tokenRequired", false}});
  return JsonAnswer(200, {{"authenticated", false}, {"tokenRequired", true}});
}

api::ApiReply LoginReply(const WebAppOptions& o, const api::ApiRequest& req) {
  if (req.method != "POST") return MethodNotAllowed("POST");
  if (!o.sessions->LoginAllowed()) {
    api::ApiReply r = StatusAnswer(429, "TooManyRequests", "too many failed logins: try again in a minute");
    r.headers.emplace_back("Retry-After", "60");
    return r;
  }
  // The project's one bounded parse (core/json_depth.h): this route is public, so its body is anyone's.
  auto body = ParseBoundedJson(req.body, "login body");
  if (!body.ok() || !body->is_object() || !body->contains("token") || !(*body)["token"].is_string()) {
    return StatusAnswer(400, "BadRequest", "the body must be a JSON object {\"token\": \"<the API token>\"}");
  }
  const std::string& given = (*body)["token"].get_ref<const std::string&>();
  if (!o.token.empty() && !ConstantTimeEquals(given, o.token)) {
    o.sessions->RecordFailure();
    return StatusAnswer(401, "Unauthorized", "wrong token");
  }
  return NewSessionAnswer(o, req, json::object());
}

api::ApiReply LogoutReply(const WebAppOptions& o, const api::ApiRequest& req) {
  if (req.method != "POST") return MethodNotAllowed("POST");
  if (std::string_view id = CookieSessionId(req); !id.empty()) o.sessions->Remove(id);
  api::ApiReply r;
  r.status = 204;
  r.content_type = "text/plain";
  r.headers = SecurityHeaders();
  r.headers.emplace_back("Cache-Control", "no-store");
  r.headers.emplace_back("Set-Cookie", SessionCookie("", req.tls) + "; Max-Age=0");
  return r;
}

std::function<std::optional<std::string>(std::string_view)> SessionCsrfLookup(std::shared_ptr<Sessions> sessions) {
  return [sessions = std::move(sessions)](std::string_view id) { return sessions->Csrf(id); };
}

void InstallWebApp(api::ApiServer& api, WebAppOptions options) {
  using api::PageAuth;
  using api::PathMatch;
  auto o = std::make_shared<WebAppOptions>(std::move(options));
  api.AddPage("/", PathMatch::kExact, PageAuth::kPublic, [](const api::ApiRequest& req) {
    if (req.method != "GET" && req.method != "HEAD") return MethodNotAllowed("GET, HEAD");
    return Redirect("/ui/");
  });
  api.AddPage("/ui/session", PathMatch::kExact, PageAuth::kPublic,
              [o](const api::ApiRequest& req) { return SessionReply(*o, req); });
  api.AddPage("/ui/login", PathMatch::kExact, PageAuth::kPublic,
              [o](const api::ApiRequest& req) { return LoginReply(*o, req); });
  api.AddPage("/ui/logout", PathMatch::kExact, PageAuth::kApi,
              [o](const api::ApiRequest& req) { return LogoutReply(*o, req); });
  api.AddPage("/ui", PathMatch::kExact, PageAuth::kPublic, [](const api::ApiRequest& req) {
    if (req.method != "GET" && req.method != "HEAD") return MethodNotAllowed("GET, HEAD");
    return Redirect("/ui/");
  });
  api.AddPage("/ui/", PathMatch::kPrefix, PageAuth::kPublic,
              [](const api::ApiRequest& req) { return ServeAsset(EmbeddedAssets(), req); });
}

}  // namespace inferd::webui
