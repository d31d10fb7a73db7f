// fuzz/web_access_fuzz.cc: the API listener's access decision (api/access.h) on hostile request heads: the
// Cookie header parser, the Origin / Sec-Fetch-Site check, the session-cookie + CSRF rule.
// Input: newline-separated fields method, cookie, X-CSRF-Token, Origin, Sec-Fetch-Site, Host, Authorization,
// then the session's CSRF token (absent: no live session); the first byte's low bits pick tls and is_public.
// Invariants:
// - FindCookie's value lies inside the header and holds no ';'.
// - GET and HEAD are never refused as cross-site; a head without Origin and Sec-Fetch-Site never is.
// - A request allowed through the session on a write carried exactly the session's CSRF token.
// - Without a token configured, no session and not cross-site, every request is allowed.
#include <optional>
#include <string>
#include <vector>

#include "api/access.h"
#include "core/bearer.h"
#include "fuzz_check.h"

using namespace inferd::api;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const uint8_t flags = data[0];
  std::string_view in = inferd::fuzz::AsText(data + 1, size - 1);
  std::vector<std::string_view> f;
  while (f.size() < 8) {
    size_t nl = in.find('\n');
    f.push_back(in.substr(0, nl));
    if (nl == std::string_view::npos) break;
    in = in.substr(nl + 1);
  }
  f.resize(8);
  RequestHead h;
  h.method = f[0];
  h.path = "/apis";
  h.cookie = f[1];
  h.csrf = f[2];
  h.origin = f[3];
  h.sec_fetch_site = f[4];
  h.host = f[5];
  h.authorization = f[6];
  h.tls = flags & 1;
  const bool is_public = flags & 2;
  const bool has_session = flags & 4;
  std::optional<std::string> csrf;
  if (has_session) csrf = std::string(f[7]);

  if (auto v = FindCookie(h.cookie, kSessionCookie)) {
    FUZZ_CHECK(v->data() >= h.cookie.data() && v->data() + v->size() <= h.cookie.data() + h.cookie.size(),
               "cookie value outside the header");
    FUZZ_CHECK(v->find(';') == std::string_view::npos, "cookie value holds ';'");
  }
  const bool cross = IsCrossSiteWrite(h);
  if (IsSafeMethod(h.method)) FUZZ_CHECK(!cross, "a read refused as cross-site");
  if (h.origin.find_first_not_of(" \t") == std::string_view::npos &&
      h.sec_fetch_site.find_first_not_of(" \t") == std::string_view::npos) {
    FUZZ_CHECK(!cross, "cross-site without Origin or Sec-Fetch-Site");
  }
  const Access with_token = DecideAccess(h, "secret-token", is_public, csrf);
  if (cross) FUZZ_CHECK(with_token == Access::kCrossSite, "a cross-site write let through");
  if (with_token == Access::kAllowed && !is_public && !IsSafeMethod(h.method) &&
      !inferd::BearerTokenMatches(h.authorization, "secret-token")) {
    FUZZ_CHECK(csrf && h.csrf == *csrf, "a write let through without the token or its session's CSRF token");
  }
  const Access open = DecideAccess(h, "", is_public, std::nullopt);
  if (!cross) FUZZ_CHECK(open == Access::kAllowed, "refused with no token and no session");
  return 0;
}
