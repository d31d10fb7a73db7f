// api/access.cc: the API listener's access decision (see access.h for the contract).
#include "api/access.h"

#include "core/bearer.h"

namespace inferd::api {

namespace {

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
    if (x != y) return false;
  }
  return true;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// Origin is "scheme://host[:port]"; ours is the connection's scheme and the Host the request was sent to.
bool IsOwnOrigin(std::string_view origin, std::string_view host, bool tls) {
  const std::string_view scheme = tls ? "https://" : "http://";
  if (host.empty() || origin.size() != scheme.size() + host.size()) return false;
  return EqualsIgnoreCase(origin.substr(0, scheme.size()), scheme) &&
         EqualsIgnoreCase(origin.substr(scheme.size()), host);
}

}  // namespace

bool IsSafeMethod(std::string_view method) { return method == "GET" || method == "HEAD"; }

bool IsCrossSiteWrite(const RequestHead& h) {
  if (IsSafeMethod(h.method)) return false;
  if (EqualsIgnoreCase(Trim(h.sec_fetch_site), "cross-site")) return true;
  std::string_view origin = Trim(h.origin);
  return !origin.empty() && !IsOwnOrigin(origin, Trim(h.host), h.tls);
}

std::optional<std::string_view> FindCookie(std::string_view header, std::string_view name) {
  while (!header.empty()) {
    size_t semi = header.find(';');
    std::string_view pair = Trim(header.substr(0, semi));
    header = semi == std::string_view::npos ? std::string_view() : header.substr(semi + 1);
    size_t eq = pair.find('=');
    if (eq == std::string_view::npos) continue;
    if (Trim(pair.substr(0, eq)) != name) continue;
    std::string_view value = Trim(pair.substr(eq + 1));
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
