// api/access.h: who may do what on the API listener, decided once per request from its head alone (before a
// body byte is read). The one place that decides the API's auth; core/bearer.h is its bearer check.
//
// Contract (docs/webapp.md, "Security model"):
// - Cross-site refusal, for every path and also when no token is configured (the loopback default, where a
//   hostile web page could otherwise POST to 127.0.0.1:8090): a request whose method is not GET/HEAD is
//   refused (kCrossSite) when it carries `Sec-Fetch-Site: cross-site`, or an `Origin` that is not this
//   listener's own origin (scheme of the connection + the request's Host; compared case-insensitively; the
//   opaque origin "null" is never ours). kubectl, curl and the inferd CLI send neither header.
// - Public paths (healthz, the web app's static files and login) need nothing more.
// - A request with `Authorization: Bearer <the token>` is allowed (kubectl, the CLI).
// - Else a request whose `inferd_session` cookie names a live session of the web app is allowed; if its
//   method is not GET/HEAD it must also carry `X-CSRF-Token` equal to that session's token (kCsrf otherwise),
//   also when no token is configured: a cookie-authenticated write always proves it was made by the page.
// - Else allowed when no token is configured, kUnauthorized otherwise.
// Tokens are compared in constant time (ConstantTimeEquals, core/bearer.h). Pure: no I/O, no clock.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace inferd::api {

// The name of the web app's session cookie (webui/).
inline constexpr std::string_view kSessionCookie = "inferd_session";
inline constexpr std::string_view kCsrfHeader = "x-csrf-token";

// What the decision reads of a request; views into its head.
struct RequestHead {
  std::string_view method, path;
  std::string_view authorization, cookie, csrf, origin, sec_fetch_site, host;
  bool tls = false;  // the connection is HTTPS (the origin's scheme)
};

enum class Access { kAllowed, kUnauthorized, kCrossSite, kCsrf };

// GET and HEAD: the methods that change nothing (and need neither CSRF token nor same origin).
bool IsSafeMethod(std::string_view method);

// True when a state-changing request comes from another site (first rule above).
bool IsCrossSiteWrite(const RequestHead& h);

// The value of cookie `name` in a Cookie request header ("a=1; b=2", RFC 6265 section 4.2.1; tolerant of
// missing spaces and of attributes it does not know); nullopt when absent. The first occurrence wins.
std::optional<std::string_view> FindCookie(std::string_view cookie_header, std::string_view name);

// The decision. `token`: the API token ("" = none configured). `is_public`: the path needs no auth.
// `session_csrf`: the CSRF token of the live session the request's cookie names, nullopt when none.
Access DecideAccess(const RequestHead& h, std::string_view token, bool is_public,
                    const std::optional<std::string>& session_csrf);

}  // namespace inferd::api
