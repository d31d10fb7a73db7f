// webui/web_app.h: the models web app's server side on the API listener of `inferd serve` (docs/webapp.md).
//
// Contract (the URLs; docs/webapp.md documents them for the front end and users):
// - GET / -> 302 /ui/ ; GET /ui -> 302 /ui/ ; GET|HEAD /ui/<path>: the embedded files (webui/assets.h). Public:
//   the files hold no data.
// - GET /ui/session -> 200 {"authenticated", "tokenRequired", "csrf" (only when authenticated)}. With no API
//   token configured (the loopback default) the caller is authenticated and gets a session cookie here.
// - POST /ui/login {"token": "<the API token>"} -> 200 {"csrf"} + Set-Cookie inferd_session=<256 random bits,
//   base64url>; Path=/; HttpOnly; SameSite=Strict (+ Secure over HTTPS). A wrong token -> 401 Status; after
//   10 failures within a minute every login is 429 until the window moves on (webui/sessions.h).
// - POST /ui/logout (the API's auth: the session cookie + X-CSRF-Token, or the bearer token) -> 204, the
//   session is forgotten and the cookie cleared.
// - Session answers carry Cache-Control: no-store and the security headers.
// The cookie is accepted on the whole API by api/access.h through ApiOptions::session_csrf (SessionCsrfLookup).
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "api/api_server.h"
#include "webui/sessions.h"

namespace inferd::webui {

struct WebAppOptions {
  std::string token;  // the API token ("" = none configured: every browser is logged in)
  std::shared_ptr<Sessions> sessions;
};

// Registers the pages above on `api` (before Start).
void InstallWebApp(api::ApiServer& api, WebAppOptions options);

// What ApiOptions::session_csrf is set to.
std::function<std::optional<std::string>(std::string_view)> SessionCsrfLookup(std::shared_ptr<Sessions> sessions);

// The answers, for tests without a server.
api::ApiReply SessionReply(const WebAppOptions& o, const api::ApiRequest& req);
api::ApiReply LoginReply(const WebAppOptions& o, const api::ApiRequest& req);
api::ApiReply LogoutReply(const WebAppOptions& o, const api::ApiRequest& req);

}  // namespace inferd::webui
