// api/access.cc: the API listener's access decision (see access.h for the contract).
#include "api/access.h"

#include "core/ascii.h"
#include "core/bearer.h"

namespace inferd::api {

namespace {

// Origin is "scheme://host[:port]"; ours is the connection's scheme and the Host the request was sent to.
bool IsOwnOrigin(std::string_view origin, std::string_view host, bool tls) {
  const std::string_view scheme = tls ? "https://" : "http://";
  if (host.empty() || origin.size() != scheme.size() + host.size()) return false;
  return EqualsIgnoreAsciiCase(origin.substr(0, scheme.size()), scheme) &&
         EqualsIgnoreAsciiCase(origin.substr(scheme.size()), host);
}

}  // namespace

bool IsSafeMethod(std::string_view method) { return method == "GET" || method == "HEAD"; }

bool IsCrossSiteWrite(const RequestHead& h) {
  if (IsSafeMethod(h.method)) return false;
  if (EqualsIgnoreAsciiCase(TrimBlanks(h.sec_fetch_site), "cross-site")) return true;
  std::string_view origin = TrimBlanks(h.origin);
  return !origin.empty() && !IsOwnOrigin(origin, TrimBlanks(h.host), h.tls);
}

std::optional<std::string_view> FindCookie(std::string_view header, std::string_view name) {
  while (!header.empty()) {
    size_t semi = header.find(';');
    std::string_view pair = TrimBlanks(header.substr(0, semi));
    header = semi == std::string_view::npos ? std::string_view() : header.substr(semi + 1);
    size_t eq = pair.find('=');
    if (eq == std::string_view::npos) continue;
    if (TrimBlanks(pair.substr(0, eq)) != name) continue;
    std::string_view value = TrimBlanks(pair.substr(eq + 1));
    if (value.size() >= 2 && value.front() == '"' && value.back() == '"') value = value.substr(1, value.size() - 2);
    return value;
  }
  return std::nullopt;
}

Access DecideAccess(const RequestHead& h, std::string_view token, bool is_public,
                    const std::optional<std::string>& session_csrf) {
  if (IsCrossSiteWrite(h)) return Access::kCrossSite;
  if (is_public) return Access::kAllowed;
  if (!token.empty() && BearerTokenMatches(h.authorization, token)) return Access::kAllowed;
  if (session_csrf) {
    if (IsSafeMethod(h.method) || (!h.csrf.empty() && ConstantTimeEquals(h.csrf, *session_csrf))) {
      return Access::kAllowed;
    }
    return Access::kCsrf;
  }
  return token.empty() ? Access::kAllowed : Access::kUnauthorized;
}

}  // namespace inferd::api
