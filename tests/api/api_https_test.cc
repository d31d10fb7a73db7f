// api/api_server.h over HTTPS (net/tls.h): one port for TLS and loopback plain HTTP; requests, a watch and an
// extension stream over TLS (stream threads writing through the TLS connection); Stop with a TLS watch open.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <thread>

#include "api/api_server.h"
#include "net/certs.h"
#include "net/http_client.h"

namespace inferd::api {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

const std::string kIsvcs = "/apis/serving.kserve.io/v1beta1/namespaces/default/inferenceservices";

struct Got {
  net::ClientResult res;
  std::string body;
};

// until: stop reading once the body contains it ("" = read to the end).
Got Get(const std::string& url, const std::string& ca_file, const std::string& until = "",
        const std::string& method = "GET", const std::string& body = "") {
  net::ClientRequest req;
  req.method = method;
  req.url = url;
  req.ca_file = ca_file;
  req.body = body;
  req.headers = {"Authorization: Bearer tok", "Content-Type: application/json"};
  req.timeout_s = 60;
  Got g;
  g.res = net::Fetch(req, [&](std::string_view data, const net::ResponseHead&) {
    g.body.append(data);
    return until.empty() || g.body.find(until) == std::string::npos;
  });
  return g;
}

class ApiTlsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("inferd-api-tls-" + std::to_string(::getpid()));
    auto certs = net::EnsureServingCerts(dir_.string(), {"localhost", "127.0.0.1", "::1"},
                                         static_cast<int64_t>(std::time(nullptr)));
    ASSERT_TRUE(certs.ok()) << certs.status().ToString();
    ca_ = certs->ca_file;
    auto s = store::Store::Open(":memory:");
    ASSERT_TRUE(s.ok());
    store_ = std::move(s).value();
    ApiOptions o;
    o.port = 0;
    o.token = "tok";
    o.tls_cert_file = certs->cert_file;
    o.tls_key_file = certs->key_file;
    server_ = std::make_unique<ApiServer>(store_.get(), o);
    server_->AddExtension("/x/", [](const ApiRequest&, ApiStream& out) -> Status {
      out.content_type = "text/plain";
      for (int i = 0; i < 3; ++i) {
        if (!out.write("chunk" + std::to_string(i) + "\n")) break;
      }
      return Status::Ok();
    });
    ASSERT_TRUE(server_->Start().ok());
    https_ = "https://127.0.0.1:" + std::to_string(server_->port());
    http_ = "http://127.0.0.1:" + std::to_string(server_->port());
  }
  void TearDown() override {
    server_.reset();
    fs::remove_all(dir_);
  }

  fs::path dir_;
  std::string ca_, https_, http_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<ApiServer> server_;
};

TEST_F(ApiTlsTest, HttpsAndLoopbackPlainHttpOnOnePort) {
  Got tls = Get(https_ + "/healthz", ca_);
  ASSERT_EQ(tls.res.transport, net::Transport::kOk) << tls.res.error;
  EXPECT_EQ(tls.res.status, 200);
  EXPECT_EQ(tls.body, "ok");
  Got plain = Get(http_ + "/healthz", "");
  ASSERT_EQ(plain.res.transport, net::Transport::kOk) << plain.res.error;
  EXPECT_EQ(plain.res.status, 200);
  // The server's certificate is not trusted without the CA.
  Got untrusted = Get(https_ + "/healthz", "/etc/ssl/certs/ca-certificates.crt");
  EXPECT_EQ(untrusted.res.transport, net::Transport::kFailed);
  // The token is checked on both.
  net::ClientRequest req;
  req.url = https_ + kIsvcs;
  req.ca_file = ca_;
  net::ClientResult r = net::Fetch(req, [](std::string_view, const net::ResponseHead&) { return true; });
  EXPECT_EQ(r.status, 401);
}

TEST_F(ApiTlsTest, WatchAndExtensionStreamsOverTls) {
  std::atomic<bool> done{false};
  Got watch;
  std::thread watcher([&] {
    watch = Get(https_ + kIsvcs + "?watch=1", ca_, "\"name\":\"w1\"");
    done = true;
  });
  std::this_thread::sleep_for(300ms);  // the watch starts; an earlier create would be in its initial events
  const std::string isvc =
      R"({"apiVersion":"serving.kserve.io/v1beta1","kind":"InferenceService","metadata":{"name":"w1"},)"
      R"("spec":{"predictor":{"model":{"modelFormat":{"name":"sklearn"},"storageUri":"file:///m"}}}})";
  Got created = Get(https_ + kIsvcs, ca_, "", "POST", isvc);
  EXPECT_EQ(created.res.status, 201) << created.body;
  watcher.join();
  EXPECT_TRUE(done);
  EXPECT_EQ(watch.res.status, 200);
  EXPECT_NE(watch.body.find("\"type\":\"ADDED\""), std::string::npos) << watch.body;

  Got ext = Get(https_ + "/x/y", ca_);
  EXPECT_EQ(ext.res.transport, net::Transport::kOk) << ext.res.error;
  EXPECT_EQ(ext.body, "chunk0\nchunk1\nchunk2\n");
}

TEST_F(ApiTlsTest, StopEndsAnOpenTlsWatch) {
  Got watch;
  std::thread watcher([&] { watch = Get(https_ + kIsvcs + "?watch=1", ca_, "never-there"); });
  std::this_thread::sleep_for(300ms);
  const auto start = std::chrono::steady_clock::now();
  server_->Stop();
  watcher.join();
  EXPECT_LT(std::chrono::steady_clock::now() - start, 30s);
  EXPECT_EQ(watch.res.status, 200);
}

}  // namespace
}  // namespace inferd::api
