// Tests of api/access.h: the API listener's one access decision (bearer, session cookie + CSRF, cross-site).
#include "api/access.h"

#include <gtest/gtest.h>

namespace inferd::api {
namespace {

RequestHead Head(std::string_view method) {
  RequestHead h;
  h.method = method;
  h.path = "/apis/serving.kserve.io/v1beta1/namespaces/default/inferenceservices";
  h.host = "127.0.0.1:8090";
  return h;
}

TEST(AccessTest, BearerTokenAsBefore) {
  RequestHead h = Head("POST");
  EXPECT_EQ(DecideAccess(h, "secret", false, std::nullopt), Access::kUnauthorized);
  h.authorization = "Bearer secret";
  EXPECT_EQ(DecideAccess(h, "secret", false, std::nullopt), Access::kAllowed);
  h.authorization = "Bearer secreT";
  EXPECT_EQ(DecideAccess(h, "secret", false, std::nullopt), Access::kUnauthorized);
  h.authorization = "";
  EXPECT_EQ(DecideAccess(h, "", false, std::nullopt), Access::kAllowed);  // no token configured
}

TEST(AccessTest, PublicPathsNeedNoToken) {
  EXPECT_EQ(DecideAccess(Head("GET"), "secret", true, std::nullopt), Access::kAllowed);
  EXPECT_EQ(DecideAccess(Head("POST"), "secret", true, std::nullopt), Access::kAllowed);
}

TEST(AccessTest, SessionCookieReadsFreelyWritesWithCsrf) {
  const std::optional<std::string> csrf = "c5rf-token";
  RequestHead get = Head("GET");
  EXPECT_EQ(DecideAccess(get, "secret", false, csrf), Access::kAllowed);
  RequestHead post = Head("POST");
  EXPECT_EQ(DecideAccess(post, "secret", false, csrf), Access::kCsrf);
  post.csrf = "wrong";
  EXPECT_EQ(DecideAccess(post, "secret", false, csrf), Access::kCsrf);
  post.csrf = "c5rf-toke";
  EXPECT_EQ(DecideAccess(post, "secret", false, csrf), Access::kCsrf);
  post.csrf = "c5rf-token";
  EXPECT_EQ(DecideAccess(post, "secret", false, csrf), Access::kAllowed);
  // Without a configured token, a cookie-authenticated write still needs its CSRF token.
  RequestHead del = Head("DELETE");
  EXPECT_EQ(DecideAccess(del, "", false, csrf), Access::kCsrf);
  del.csrf = "c5rf-token";
  EXPECT_EQ(DecideAccess(del, "", false, csrf), Access::kAllowed);
  // A right bearer token wins over a cookie (the CLI from a shell that has a browser cookie: not a thing,
  // but the bearer path never needs CSRF).
  RequestHead bearer = Head("PATCH");
  bearer.authorization = "bearer secret";
  EXPECT_EQ(DecideAccess(bearer, "secret", false, csrf), Access::kAllowed);
}

TEST(AccessTest, CrossSiteWritesRefusedEverywhere) {
  RequestHead h = Head("POST");
  h.origin = "https://evil.example";
  EXPECT_EQ(DecideAccess(h, "", false, std::nullopt), Access::kCrossSite);
  EXPECT_EQ(DecideAccess(h, "", true, std::nullopt), Access::kCrossSite);  // login too
  h.authorization = "Bearer secret";
  EXPECT_EQ(DecideAccess(h, "secret", false, std::nullopt), Access::kCrossSite);
  h.origin = "null";
  EXPECT_EQ(DecideAccess(h, "secret", false, std::nullopt), Access::kCrossSite);
  h.origin = "http://127.0.0.1:8090";  // ours
  EXPECT_EQ(DecideAccess(h, "secret", false, std::nullopt), Access::kAllowed);
  h.origin = "HTTP://127.0.0.1:8090";
  EXPECT_EQ(DecideAccess(h, "secret", false, std::nullopt), Access::kAllowed);
  h.origin = "https://127.0.0.1:8090";  // other scheme than the connection's
  EXPECT_EQ(DecideAccess(h, "secret", false, std::nullopt), Access::kCrossSite);
  h.tls = true;
  EXPECT_EQ(DecideAccess(h, "secret", false, std::nullopt), Access::kAllowed);
  h.origin = "https://127.0.0.1:8091";
  EXPECT_EQ(DecideAccess(h, "secret", false, std::nullopt), Access::kCrossSite);
  h.origin = "";
  h.sec_fetch_site = "cross-site";
  EXPECT_EQ(DecideAccess(h, "secret", false, std::nullopt), Access::kCrossSite);
  h.sec_fetch_site = "same-origin";
  EXPECT_EQ(DecideAccess(h, "secret", false, std::nullopt), Access::kAllowed);
  h.host = "";
  h.origin = "http://";
  EXPECT_EQ(DecideAccess(h, "secret", false, std::nullopt), Access::kCrossSite);
}

TEST(AccessTest, CrossSiteReadsAreNotRefusedHere) {
  RequestHead h = Head("GET");
  h.origin = "https://evil.example";
  h.sec_fetch_site = "cross-site";
  EXPECT_FALSE(IsCrossSiteWrite(h));
  h.method = "HEAD";
  EXPECT_FALSE(IsCrossSiteWrite(h));
  h.method = "OPTIONS";
  EXPECT_TRUE(IsCrossSiteWrite(h));
}

TEST(AccessTest, FindCookie) {
  EXPECT_EQ(FindCookie("inferd_session=abc", "inferd_session").value(), "abc");
  EXPECT_EQ(FindCookie("a=1; inferd_session=abc; b=2", "inferd_session").value(), "abc");
  EXPECT_EQ(FindCookie("a=1;inferd_session=abc;b=2", "inferd_session").value(), "abc");
  EXPECT_EQ(FindCookie(" inferd_session = \"q\" ", "inferd_session").value(), "q");
  EXPECT_EQ(FindCookie("inferd_session=x; inferd_session=y", "inferd_session").value(), "x");
  EXPECT_EQ(FindCookie("inferd_session=", "inferd_session").value(), "");
  EXPECT_FALSE(FindCookie("xinferd_session=abc", "inferd_session").has_value());
  EXPECT_FALSE(FindCookie("inferd_session", "inferd_session").has_value());
  EXPECT_FALSE(FindCookie("", "inferd_session").has_value());
  EXPECT_FALSE(FindCookie(";;;==;", "inferd_session").has_value());
  EXPECT_EQ(FindCookie("inferd_session=\"", "inferd_session").value(), "\"");
}

}  // namespace
}  // namespace inferd::api
