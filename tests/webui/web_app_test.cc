// The web app's server side on a real ApiServer (webui/web_app.h, api/access.h), driven with libcurl: the
// redirect, the files, sessions with and without a configured token, cookie auth with CSRF on writes, the
// cross-site refusal, the login rate limit and logout.
#include "webui/web_app.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "api/api_server.h"
#include "store/store.h"
#include "util/test_util.h"

namespace inferd::webui {
namespace {

using inferd::testing::HttpRequest;
using inferd::testing::HttpResponse;
using Json = nlohmann::json;

const std::string kIsvcs = "/apis/serving.kserve.io/v1beta1/namespaces/default/inferenceservices";

std::string Isvc(const std::string& name) {
  return Json{{"apiVersion", "serving.kserve.io/v1beta1"},
              {"kind", "InferenceService"},
              {"metadata", {{"name", name}, {"namespace", "default"}}},
              {"spec", {{"predictor", {{"sklearn", {{"storageUri", "file:///tmp/m"}}}}}}}}
      .dump();
}

class WebAppTest : public ::testing::Test {
 protected:
  void Start(std::string token) {
    auto s = store::Store::Open(":memory:");
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    store_ = std::move(s).value();
    sessions_ = std::make_shared<Sessions>();
    api::ApiOptions o;
    o.port = 0;
    o.token = token;
    o.session_csrf = SessionCsrfLookup(sessions_);
    server_ = std::make_unique<api::ApiServer>(store_.get(), o);
    InstallWebApp(*server_, {token, sessions_});
    ASSERT_TRUE(server_->Start().ok());
    port_ = server_->port();
    token_ = token;
  }
  void TearDown() override {
    server_.reset();
    store_.reset();
  }
  HttpResponse Call(const std::string& method, const std::string& path, const std::string& body = "",
                    std::vector<std::string> headers = {}) {
    headers.push_back("Content-Type: application/json");
    return HttpRequest(port_, method, path, body, headers);
  }
  // A session as the browser gets it: the cookie header to send and the CSRF token.
  std::pair<std::string, std::string> Login() {
    HttpResponse r = Call("POST", "/ui/login", Json{{"token", token_}}.dump());
    EXPECT_EQ(r.status, 200) << r.body;
    std::string cookie = r.headers["set-cookie"];
    std::string pair = cookie.substr(0, cookie.find(';'));
    return {"Cookie: " + pair, Json::parse(r.body).value("csrf", "")};
  }

  std::unique_ptr<store::Store> store_;
  std::shared_ptr<Sessions> sessions_;
  std::unique_ptr<api::ApiServer> server_;
  std::string token_;
  int port_ = 0;
};

TEST_F(WebAppTest, RedirectAndFiles) {
  Start("secret");
  HttpResponse r = Call("GET", "/");
  EXPECT_EQ(r.status, 302);
  EXPECT_EQ(r.headers["location"], "/ui/");
  r = Call("GET", "/ui");
  EXPECT_EQ(r.status, 302);
  r = Call("GET", "/ui/");  // public: no token needed
  EXPECT_EQ(r.status, 200);
  EXPECT_NE(r.body.find("<html"), std::string::npos);
  EXPECT_EQ(r.headers["cache-control"], "no-cache");
  EXPECT_NE(r.headers["content-security-policy"].find("frame-ancestors 'none'"), std::string::npos);
  const std::string etag = r.headers["etag"];
  ASSERT_FALSE(etag.empty());
  r = Call("GET", "/ui/ns/default/isvc/x/overview", "", {"If-None-Match: " + etag});
  EXPECT_EQ(r.status, 304);
  r = Call("GET", "/ui/no-such.js");
  EXPECT_EQ(r.status, 404);
  r = Call("GET", kIsvcs);  // the API itself still needs the token
  EXPECT_EQ(r.status, 401);
}

TEST_F(WebAppTest, TokenLoginCookieCsrfLogout) {
  Start("secret");
  HttpResponse r = Call("GET", "/ui/session");
  ASSERT_EQ(r.status, 200);
  Json j = Json::parse(r.body);
  EXPECT_EQ(j["authenticated"], false);
  EXPECT_EQ(j["tokenRequired"], true);
  EXPECT_FALSE(j.contains("csrf"));
  EXPECT_TRUE(r.headers["set-cookie"].empty());

  r = Call("POST", "/ui/login", R"({"token":"wrong"})");
  EXPECT_EQ(r.status, 401);
  r = Call("POST", "/ui/login", "not json");
  EXPECT_EQ(r.status, 400);
  // A public route: a body nested far past the project's limit (core/json_depth.h) is a 400, nothing deeper.
  r = Call("POST", "/ui/login", "{\"token\":" + std::string(200000, '[') + std::string(200000, ']') + "}");
  EXPECT_EQ(r.status, 400) << r.body;
  r = Call("POST", "/ui/login", Json{{"token", "secret"}}.dump());
  ASSERT_EQ(r.status, 200) << r.body;
  const std::string set_cookie = r.headers["set-cookie"];
  EXPECT_EQ(set_cookie.rfind("inferd_session=", 0), 0u) << set_cookie;
  EXPECT_NE(set_cookie.find("; Path=/; HttpOnly; SameSite=Strict"), std::string::npos) << set_cookie;
  EXPECT_EQ(set_cookie.find("Secure"), std::string::npos);  // plain HTTP
  auto [cookie, csrf] = std::make_pair("Cookie: " + set_cookie.substr(0, set_cookie.find(';')),
                                       Json::parse(r.body).value("csrf", ""));
  ASSERT_EQ(csrf.size(), 43u);

  r = Call("GET", "/ui/session", "", {cookie});
  j = Json::parse(r.body);
  EXPECT_EQ(j["authenticated"], true);
  EXPECT_EQ(j["csrf"], csrf);
  r = Call("GET", kIsvcs, "", {cookie});  // reads: the cookie is enough
  EXPECT_EQ(r.status, 200) << r.body;
  r = Call("POST", kIsvcs, Isvc("a"), {cookie});  // writes: CSRF token needed
  EXPECT_EQ(r.status, 403);
  EXPECT_NE(r.body.find("CSRF token missing or wrong"), std::string::npos);
  r = Call("POST", kIsvcs, Isvc("a"), {cookie, "X-CSRF-Token: " + csrf + "x"});
  EXPECT_EQ(r.status, 403);
  r = Call("POST", kIsvcs, Isvc("a"), {cookie, "X-CSRF-Token: " + csrf});
  EXPECT_EQ(r.status, 201) << r.body;
  r = Call("DELETE", kIsvcs + "/a", "", {cookie, "X-CSRF-Token: " + csrf});
  EXPECT_EQ(r.status, 200) << r.body;
  r = Call("POST", kIsvcs, Isvc("b"), {"Authorization: Bearer secret"});  // bearer unchanged
  EXPECT_EQ(r.status, 201) << r.body;
  r = Call("GET", kIsvcs, "", {"Cookie: inferd_session=forged"});
  EXPECT_EQ(r.status, 401);

  r = Call("POST", "/ui/logout", "", {cookie});  // logout needs the CSRF token too
  EXPECT_EQ(r.status, 403);
  r = Call("POST", "/ui/logout", "", {cookie, "X-CSRF-Token: " + csrf});
  EXPECT_EQ(r.status, 204);
  EXPECT_NE(r.headers["set-cookie"].find("Max-Age=0"), std::string::npos);
  r = Call("GET", kIsvcs, "", {cookie});
  EXPECT_EQ(r.status, 401);  // the session is gone
}

TEST_F(WebAppTest, FailedLoginsAreRateLimited) {
  Start("secret");
  for (int i = 0; i < 10; ++i) {
    HttpResponse r = Call("POST", "/ui/login", R"({"token":"guess"})");
    ASSERT_EQ(r.status, 401) << i;
  }
  HttpResponse r = Call("POST", "/ui/login", Json{{"token", "secret"}}.dump());
  EXPECT_EQ(r.status, 429);  // even the right token, until the minute has passed
  EXPECT_EQ(r.headers["retry-after"], "60");
  r = Call("GET", kIsvcs, "", {"Authorization: Bearer secret"});  // the API's bearer path is not limited
  EXPECT_EQ(r.status, 200);
}

TEST_F(WebAppTest, NoTokenConfiguredSessionIsGivenAndWritesNeedSameOrigin) {
  Start("");
  HttpResponse r = Call("GET", "/ui/session");
  ASSERT_EQ(r.status, 200);
  Json j = Json::parse(r.body);
  EXPECT_EQ(j["authenticated"], true);
  EXPECT_EQ(j["tokenRequired"], false);
  const std::string csrf = j.value("csrf", "");
  const std::string set_cookie = r.headers["set-cookie"];
  ASSERT_FALSE(set_cookie.empty());
  const std::string cookie = "Cookie: " + set_cookie.substr(0, set_cookie.find(';'));
  r = Call("POST", kIsvcs, Isvc("a"), {cookie});
  EXPECT_EQ(r.status, 403);  // a cookie-authenticated write needs its CSRF token, token or not
  r = Call("POST", kIsvcs, Isvc("a"), {cookie, "X-CSRF-Token: " + csrf});
  EXPECT_EQ(r.status, 201) << r.body;
  r = Call("POST", kIsvcs, Isvc("b"));  // curl with no cookie: as before
  EXPECT_EQ(r.status, 201) << r.body;
  // The hole this closes: a hostile page POSTing to the loopback API.
  r = Call("POST", kIsvcs, Isvc("c"), {"Origin: https://evil.example"});
  EXPECT_EQ(r.status, 403);
  EXPECT_NE(r.body.find("cross-site"), std::string::npos);
  r = Call("DELETE", kIsvcs + "/b", "", {"Sec-Fetch-Site: cross-site"});
  EXPECT_EQ(r.status, 403);
  r = Call("POST", "/ui/login", "{\"token\":\"\"}", {"Origin: http://evil.example"});
  EXPECT_EQ(r.status, 403);
  r = Call("POST", kIsvcs, Isvc("d"), {"Origin: http://127.0.0.1:" + std::to_string(port_)});
  EXPECT_EQ(r.status, 201) << r.body;  // same origin
  r = Call("GET", kIsvcs + "/b", "", {"Origin: https://evil.example"});
  EXPECT_EQ(r.status, 200);  // reads are not refused (CORS keeps their answers from the page)
}

}  // namespace
}  // namespace inferd::webui
