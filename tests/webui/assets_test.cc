// Tests of webui/assets.h: resolving /ui paths, gzip, ETag/304, caching and the security headers.
#include "webui/assets.h"

#include <gtest/gtest.h>

#include <array>

namespace inferd::webui {
namespace {

const std::array<Asset, 3> kTable = {{
    {"index.html", "text/html; charset=utf-8", "\"e-index\"", "<html>index</html>", "GZ-index", false},
    {"assets/app-ABCD1234.js", "text/javascript; charset=utf-8", "\"e-app\"", "console.log(1)", "GZ-app", true},
    {"favicon.svg", "image/svg+xml", "\"e-svg\"", "<svg/>", "", false},
}};

std::string_view HeaderOf(const api::ApiReply& r, std::string_view name) {
  for (const auto& [k, v] : r.headers)
    if (k == name) return v;
  return {};
}

api::ApiRequest Get(std::string path, std::vector<std::pair<std::string, std::string>> headers = {}) {
  api::ApiRequest r;
  r.method = "GET";
  r.path = std::move(path);
  r.headers = std::move(headers);
  return r;
}

TEST(AssetsTest, ResolveFilesAndClientRoutes) {
  EXPECT_EQ(ResolveAsset(kTable, "")->path, "index.html");
  EXPECT_EQ(ResolveAsset(kTable, "index.html")->path, "index.html");
  EXPECT_EQ(ResolveAsset(kTable, "assets/app-ABCD1234.js")->path, "assets/app-ABCD1234.js");
  EXPECT_EQ(ResolveAsset(kTable, "ns/default/isvc/x/overview")->path, "index.html");
  EXPECT_EQ(ResolveAsset(kTable, "ns/")->path, "index.html");
  EXPECT_EQ(ResolveAsset(kTable, "missing.js"), nullptr);
  EXPECT_EQ(ResolveAsset(kTable, "assets/old-ZZZZ9999.css"), nullptr);
  // Only the table is looked up (no file system): a traversal is just another client route.
  EXPECT_EQ(ResolveAsset(kTable, "../etc/passwd")->path, "index.html");
  EXPECT_EQ(ResolveAsset(kTable, "../index.html"), nullptr);
  EXPECT_EQ(ResolveAsset(kTable, "../etc/passwd.txt"), nullptr);
}

TEST(AssetsTest, EmbeddedDistHasIndex) {
  const Asset* index = ResolveAsset(EmbeddedAssets(), "");
  ASSERT_NE(index, nullptr);
  EXPECT_EQ(index->content_type, "text/html; charset=utf-8");
  EXPECT_NE(index->bytes.find("<html"), std::string_view::npos);
  EXPECT_EQ(index->etag.front(), '"');
  EXPECT_FALSE(index->immutable);
}

TEST(AssetsTest, AcceptsGzip) {
  EXPECT_TRUE(AcceptsGzip("gzip"));
  EXPECT_TRUE(AcceptsGzip("gzip, deflate, br"));
  EXPECT_TRUE(AcceptsGzip("br;q=1.0, GZIP;q=0.5"));
  EXPECT_TRUE(AcceptsGzip("*"));
  EXPECT_FALSE(AcceptsGzip("gzip;q=0"));
  EXPECT_FALSE(AcceptsGzip("identity"));
  EXPECT_FALSE(AcceptsGzip(""));
  EXPECT_FALSE(AcceptsGzip("xgzip"));
}

TEST(AssetsTest, EtagMatches) {
  EXPECT_TRUE(EtagMatches("\"e-app\"", "\"e-app\""));
  EXPECT_TRUE(EtagMatches("\"x\", W/\"e-app\"", "\"e-app\""));
  EXPECT_TRUE(EtagMatches("*", "\"e-app\""));
  EXPECT_FALSE(EtagMatches("\"e-ap\"", "\"e-app\""));
  EXPECT_FALSE(EtagMatches("", "\"e-app\""));
}

TEST(AssetsTest, ServesGzipWithEtagAndCaching) {
  api::ApiReply r = ServeAsset(kTable, Get("/ui/assets/app-ABCD1234.js", {{"accept-encoding", "gzip, br"}}));
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "GZ-app");
  EXPECT_EQ(HeaderOf(r, "Content-Encoding"), "gzip");
  EXPECT_EQ(HeaderOf(r, "Vary"), "Accept-Encoding");
  EXPECT_EQ(HeaderOf(r, "ETag"), "\"e-app\"");
  EXPECT_EQ(HeaderOf(r, "Cache-Control"), "public, max-age=31536000, immutable");
  EXPECT_EQ(r.content_type, "text/javascript; charset=utf-8");
  r = ServeAsset(kTable, Get("/ui/assets/app-ABCD1234.js"));
  EXPECT_EQ(r.body, "console.log(1)");
  EXPECT_EQ(HeaderOf(r, "Content-Encoding"), "");
  r = ServeAsset(kTable, Get("/ui/ns/default/isvc/x", {{"accept-encoding", "gzip"}}));
  EXPECT_EQ(r.body, "GZ-index");
  EXPECT_EQ(HeaderOf(r, "Cache-Control"), "no-cache");
  r = ServeAsset(kTable, Get("/ui/favicon.svg", {{"accept-encoding", "gzip"}}));  // no gzip form
  EXPECT_EQ(r.body, "<svg/>");
  EXPECT_EQ(HeaderOf(r, "Content-Encoding"), "");
}

TEST(AssetsTest, NotModifiedAndErrorsCarrySecurityHeaders) {
  api::ApiReply r = ServeAsset(kTable, Get("/ui/", {{"if-none-match", "\"e-index\""}}));
  EXPECT_EQ(r.status, 304);
  EXPECT_TRUE(r.body.empty());
  EXPECT_EQ(HeaderOf(r, "ETag"), "\"e-index\"");
  r = ServeAsset(kTable, Get("/ui/nope.css"));
  EXPECT_EQ(r.status, 404);
  EXPECT_NE(HeaderOf(r, "Content-Security-Policy").find("default-src 'self'"), std::string_view::npos);
  EXPECT_EQ(HeaderOf(r, "X-Content-Type-Options"), "nosniff");
  api::ApiRequest post = Get("/ui/");
  post.method = "POST";
  r = ServeAsset(kTable, post);
  EXPECT_EQ(r.status, 405);
  r = ServeAsset(kTable, Get("/ui/"));
  EXPECT_EQ(HeaderOf(r, "Referrer-Policy"), "no-referrer");
  EXPECT_EQ(HeaderOf(r, "Content-Security-Policy"),
            "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; connect-src 'self'; "
            "frame-ancestors 'none'; base-uri 'none'; form-action 'self'");
}

}  // namespace
}  // namespace inferd::webui
