// End-to-end tests of the gateway's HTTP proxy: in-test upstream replicas, the Gateway on ephemeral ports,
// libcurl as the client.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <map>
#include <thread>

#include "gateway/gateway.h"
#include "gateway/upstream_server.h"
#include "util/test_util.h"

namespace inferd::gateway {
namespace {

using inferd::testing::HttpRequest;
using inferd::testing::HttpResponse;
using inferd::testing::UpstreamServer;

Endpoint Ep(const UpstreamServer& u) {
  Endpoint e;
  e.http_port = u.port();
  return e;
}

RevisionRoute Rev(std::string name, int percent, std::vector<Endpoint> eps, std::string tag = "") {
  RevisionRoute r;
  r.revision = std::move(name);
  r.percent = percent;
  r.tag = std::move(tag);
  r.endpoints = std::move(eps);
  r.stats = std::make_shared<RevisionStats>();
  return r;
}

ServiceRoute Svc(std::string ns, std::string name, std::vector<RevisionRoute> revs,
                 std::chrono::milliseconds timeout = std::chrono::milliseconds(10000)) {
  ServiceRoute s;
  s.ns = std::move(ns);
  s.name = std::move(name);
  s.revisions = std::move(revs);
  s.timeout = timeout;
  return s;
}

// A port nothing listens on (connections to it are refused).
int DeadPort() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(fd);
  return ntohs(a.sin_port);
}

std::string IdOf(const HttpResponse& r) {
  auto it = r.headers.find("x-upstream-id");
  return it == r.headers.end() ? "" : it->second;
}

class GatewayHttpTest : public ::testing::Test {
 protected:
  void SetUp() override {
    a_ = std::make_unique<UpstreamServer>("A");
    b_ = std::make_unique<UpstreamServer>("B");
    GatewayOptions o;
    o.host = "127.0.0.1";
    o.http_port = 0;
    o.grpc_port = -1;
    o.workers = 2;
    o.max_body_bytes = 64 * 1024;
    o.on_activate = [this] { activated_.fetch_add(1); };
    gw_ = std::make_unique<Gateway>(o);
    ASSERT_TRUE(gw_->Start().ok());
    port_ = gw_->http_port();
    ASSERT_GT(port_, 0);
    EXPECT_EQ(gw_->grpc_port(), 0);
    table_ = std::make_shared<RoutingTable>();
    table_->services.push_back(Svc("default", "sklearn-iris", {Rev("sklearn-iris-predictor-00001", 100, {Ep(*a_)})}));
    table_->services.push_back(Svc("prod", "flowers", {Rev("flowers-predictor-00001", 100, {Ep(*b_)})}));
    gw_->UpdateRoutes(table_);
  }

  void TearDown() override {
    if (gw_) gw_->Stop();
  }

  HttpResponse Get(const std::string& path, std::vector<std::string> headers = {}) {
    return HttpRequest(port_, "GET", path, "", headers, 10000);
  }
  HttpResponse Post(const std::string& path, const std::string& body, std::vector<std::string> headers = {}) {
    headers.push_back("Content-Type: application/json");
    return HttpRequest(port_, "POST", path, body, headers, 10000);
  }

  std::shared_ptr<RevisionStats> StatsOf(size_t service, size_t revision = 0) {
    return table_->services[service].revisions[revision].stats;
  }

  std::unique_ptr<UpstreamServer> a_, b_;
  std::unique_ptr<Gateway> gw_;
  std::shared_ptr<RoutingTable> table_;
  int port_ = 0;
  std::atomic<int> activated_{0};
};

TEST_F(GatewayHttpTest, RoutesByHost) {
  auto r = Get("/v1/models/sklearn-iris", {"Host: sklearn-iris.default.example.com"});
  ASSERT_EQ(r.status, 200) << r.error << r.body;
  EXPECT_EQ(r.body, "A|GET|/v1/models/sklearn-iris|");
  EXPECT_EQ(r.headers["x-seen-host"], "sklearn-iris.default.example.com");  // the client's Host, unchanged
  EXPECT_EQ(r.headers["x-extra"], "kept");

  r = Post("/v2/models/flowers/infer", "{\"inputs\": []}",
           {"Host: flowers-predictor.prod.example.com:8080", "x-request-id: rid-42", "Authorization: Bearer abc"});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.body, "B|POST|/v2/models/flowers/infer|{\"inputs\": []}");
  EXPECT_EQ(r.headers["x-seen-request-id"], "rid-42");
  EXPECT_EQ(r.headers["x-seen-authorization"], "Bearer abc");

  // Hop-by-hop headers (and those Connection names) stay at the gateway.
  r = Get("/", {"Host: flowers.prod.example.com", "Connection: X-Hop", "X-Hop: secret"});
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(IdOf(r), "B");
  EXPECT_EQ(r.headers["x-seen-hop"], "");
  EXPECT_EQ(r.headers["x-seen-connection"], "");
  EXPECT_EQ(r.headers["x-seen-host"], "flowers.prod.example.com");
}

// Raw bytes over one client connection: pipelined requests, a request split across writes, a chunked
// request (slow path) and a Connection: close one, in that order.
TEST_F(GatewayHttpTest, RawRequestsOnOneConnection) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(static_cast<uint16_t>(port_));
  ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  timeval tv{10, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  auto send_all = [&](const std::string& s) { ASSERT_EQ(::send(fd, s.data(), s.size(), 0), static_cast<ssize_t>(s.size())); };
  std::string got;
  auto read_until = [&](size_t count) {  // until `count` answers (each ends with its body) were received
    for (;;) {
      size_t n = 0;
      for (size_t at = got.find("HTTP/1.1 "); at != std::string::npos; at = got.find("HTTP/1.1 ", at + 1)) ++n;
      if (n >= count && got.size() >= 2 && (got.back() == '|' || got.back() == '}' || got.back() == 'x' ||
                                            got.back() == 'z')) {
        return;
      }
      char buf[4096];
      ssize_t r = ::recv(fd, buf, sizeof buf, 0);
      if (r <= 0) return;
      got.append(buf, static_cast<size_t>(r));
    }
  };
  send_all("POST /v2/models/sklearn-iris/infer HTTP/1.1\r\nHost: gw\r\nContent-Length: 1\r\n\r\nx"
           "GET /serving/prod/flowers/v2/models/flowers/ready HTTP/1.1\r\nHost: gw\r\n\r\n");
  read_until(2);
  EXPECT_NE(got.find("A|POST|/v2/models/sklearn-iris/infer|x"), std::string::npos) << got;
  EXPECT_NE(got.find("B|GET|/v2/models/flowers/ready|"), std::string::npos) << got;
  got.clear();
  send_all("POST /v2/models/sklearn-iris/infer HTTP/1.1\r\nHo");
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  send_all("st: gw\r\nContent-Length: 3\r\n\r\nx");
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  send_all("yz");
  read_until(1);
  EXPECT_NE(got.find("A|POST|/v2/models/sklearn-iris/infer|xyz"), std::string::npos) << got;
  got.clear();
  send_all("POST /v2/models/sklearn-iris/infer HTTP/1.1\r\nHost: gw\r\nTransfer-Encoding: chunked\r\n\r\n"
           "2\r\nab\r\n1\r\nz\r\n0\r\n\r\n");
  read_until(1);
  EXPECT_NE(got.find("A|POST|/v2/models/sklearn-iris/infer|abz"), std::string::npos) << got;
  got.clear();
  send_all("GET /v2/models/sklearn-iris/ready HTTP/1.1\r\nHost: gw\r\nConnection: close\r\n\r\n");
  for (;;) {  // the gateway closes after answering
    char buf[4096];
    ssize_t r = ::recv(fd, buf, sizeof buf, 0);
    if (r <= 0) break;
    got.append(buf, static_cast<size_t>(r));
  }
  EXPECT_NE(got.find("A|GET|/v2/models/sklearn-iris/ready|"), std::string::npos) << got;
  EXPECT_NE(got.find("Connection: close"), std::string::npos) << got;
  ::close(fd);
  EXPECT_EQ(a_->requests(), 4);
  EXPECT_EQ(b_->requests(), 1);
}

TEST_F(GatewayHttpTest, RoutesByPath) {
  auto r = Post("/v2/models/sklearn-iris/infer", "{\"x\": 1}");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.body, "A|POST|/v2/models/sklearn-iris/infer|{\"x\": 1}");
  r = Post("/v1/models/sklearn-iris:predict?q=1", "{}");
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "A|POST|/v1/models/sklearn-iris:predict?q=1|{}");
  r = Post("/serving/prod/flowers/v1/models/flowers:predict", "{\"instances\": [[1]]}");
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "B|POST|/v1/models/flowers:predict|{\"instances\": [[1]]}");
  r = Get("/serving/default/sklearn-iris");
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "A|GET|/|");
}

TEST_F(GatewayHttpTest, LocalEndpointsAndUnknownRoutes) {
  EXPECT_EQ(Get("/v2/health/live").status, 200);
  EXPECT_EQ(Get("/v2/health/ready").status, 200);
  EXPECT_EQ(Get("/").status, 200);
  auto r = Post("/v2/models/nope/infer", "{}");
  EXPECT_EQ(r.status, 404);
  EXPECT_NE(r.body.find("\"error\""), std::string::npos) << r.body;
  EXPECT_NE(r.body.find("/v2/models/nope/infer"), std::string::npos) << r.body;
  r = Get("/x", {"Host: nope.default.example.com"});
  EXPECT_EQ(r.status, 404);
  EXPECT_NE(r.body.find("nope.default.example.com"), std::string::npos) << r.body;
  EXPECT_EQ(a_->requests() + b_->requests(), 0);
}

// The activator: a revision with no ready replica holds the request (and says so through on_activate and
// the stats) until the service's timeout, then answers 503, never a 4xx.
TEST_F(GatewayHttpTest, NoReadyReplicaHoldsThen503) {
  table_->services.push_back(
      Svc("default", "empty", {Rev("empty-predictor-00001", 100, {})}, std::chrono::milliseconds(300)));
  gw_->UpdateRoutes(table_);
  auto start = std::chrono::steady_clock::now();
  auto r = Post("/v2/models/empty/infer", "{}");
  auto waited = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(r.status, 503);
  EXPECT_NE(r.body.find("within 300 ms"), std::string::npos) << r.body;
  EXPECT_GE(waited, std::chrono::milliseconds(290));
  auto s = StatsOf(2);
  EXPECT_EQ(s->requests.load(), 1u);
  EXPECT_EQ(s->errors.load(), 1u);
  EXPECT_EQ(s->in_flight.load(), 0);
  EXPECT_EQ(s->held.load(), 0);
  EXPECT_EQ(s->activations.load(), 1u);
  EXPECT_EQ(activated_.load(), 1);
}

TEST_F(GatewayHttpTest, HeldRequestGoesOnWhenAReplicaArrives) {
  table_->services.push_back(Svc("default", "cold", {Rev("cold-predictor-00001", 100, {})}));
  gw_->UpdateRoutes(table_);
  auto s = StatsOf(2);
  HttpResponse r;
  std::thread client([&] { r = Post("/v2/models/cold/infer", "{\"x\": 1}"); });
  for (int i = 0; i < 500 && s->held.load() == 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  ASSERT_EQ(s->held.load(), 1);
  EXPECT_EQ(s->in_flight.load(), 1);  // held requests count for the autoscaler
  EXPECT_EQ(activated_.load(), 1);
  table_->services[2].revisions[0].endpoints.push_back(Ep(*a_));
  gw_->UpdateRoutes(table_);
  client.join();
  ASSERT_EQ(r.status, 200) << r.error << r.body;
  EXPECT_EQ(r.body, "A|POST|/v2/models/cold/infer|{\"x\": 1}");
  EXPECT_EQ(s->held.load(), 0);
  EXPECT_EQ(s->in_flight.load(), 0);
  EXPECT_EQ(s->errors.load(), 0u);

  // Held on a revision that then leaves the routes: routed again, to the one that replaced it.
  table_->services[2].revisions[0].endpoints.clear();
  gw_->UpdateRoutes(table_);
  std::thread client2([&] { r = Post("/v2/models/cold/infer", "{}"); });
  for (int i = 0; i < 500 && s->held.load() == 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  ASSERT_EQ(s->held.load(), 1);
  table_->services[2].revisions = {Rev("cold-predictor-00002", 100, {Ep(*b_)})};
  gw_->UpdateRoutes(table_);
  client2.join();
  ASSERT_EQ(r.status, 200) << r.error << r.body;
  EXPECT_EQ(IdOf(r), "B");
  EXPECT_EQ(s->held.load(), 0);
  EXPECT_EQ(s->in_flight.load(), 0);
}

TEST_F(GatewayHttpTest, FailingRevisionAnswers503AtOnce) {
  auto rev = Rev("broken-predictor-00001", 100, {});
  rev.unavailable = "revision broken-predictor-00001 is failing: CrashLoopBackOff";
  table_->services.push_back(Svc("default", "broken", {rev}));
  gw_->UpdateRoutes(table_);
  auto start = std::chrono::steady_clock::now();
  auto r = Post("/v2/models/broken/infer", "{}");
  EXPECT_EQ(r.status, 503);
  EXPECT_NE(r.body.find("CrashLoopBackOff"), std::string::npos) << r.body;
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));  // not the 10 s timeout
  EXPECT_EQ(StatsOf(2)->activations.load(), 0u);
}

// containerConcurrency 1: the replica never sees two requests at once; the rest wait in the gateway and all
// are answered.
TEST_F(GatewayHttpTest, ContainerConcurrencyHoldsTheExcess) {
  auto rev = Rev("one-predictor-00001", 100, {Ep(*a_)});
  rev.container_concurrency = 1;
  table_->services.push_back(Svc("default", "one", {rev}));
  gw_->UpdateRoutes(table_);
  constexpr int kClients = 6;
  std::vector<HttpResponse> got(kClients);
  std::vector<std::thread> clients;
  for (int i = 0; i < kClients; ++i) {
    clients.emplace_back([&, i] { got[i] = Post("/v2/models/one/sleep/60/infer", std::to_string(i)); });
  }
  for (auto& c : clients) c.join();
  for (int i = 0; i < kClients; ++i) {
    ASSERT_EQ(got[i].status, 200) << got[i].error << got[i].body;
    EXPECT_EQ(got[i].body, "A|POST|/v2/models/one/sleep/60/infer|" + std::to_string(i));
  }
  EXPECT_EQ(a_->max_active(), 1);
  auto s = StatsOf(2);
  EXPECT_EQ(s->requests.load(), static_cast<uint64_t>(kClients));
  EXPECT_EQ(s->errors.load(), 0u);
  EXPECT_EQ(s->held.load(), 0);
  EXPECT_EQ(s->activations.load(), 0u);  // held for a slot, not for lack of a replica
}

TEST(GatewayActivatorTest, FullQueueIs503AndStopAnswersHeld) {
  UpstreamServer a("A");
  GatewayOptions o;
  o.host = "127.0.0.1";
  o.http_port = 0;
  o.grpc_port = -1;
  o.max_held_per_revision = 1;
  Gateway gw(o);
  ASSERT_TRUE(gw.Start().ok());
  auto table = std::make_shared<RoutingTable>();
  auto rev = Rev("q-predictor-00001", 100, {Ep(a)});
  rev.container_concurrency = 1;
  auto stats = rev.stats;
  table->services.push_back(Svc("default", "q", {rev}));
  gw.UpdateRoutes(table);
  HttpResponse busy, held;
  std::thread t1([&] { busy = HttpRequest(gw.http_port(), "POST", "/v2/models/q/sleep/400/infer", "1", {}, 10000); });
  for (int i = 0; i < 400 && a.active() == 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  std::thread t2([&] { held = HttpRequest(gw.http_port(), "POST", "/v2/models/q/infer", "2", {}, 10000); });
  for (int i = 0; i < 400 && stats->held.load() == 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  ASSERT_EQ(stats->held.load(), 1);
  auto full = HttpRequest(gw.http_port(), "POST", "/v2/models/q/infer", "3", {}, 10000);
  EXPECT_EQ(full.status, 503);
  EXPECT_NE(full.body.find("queue is full"), std::string::npos) << full.body;
  t1.join();
  t2.join();
  EXPECT_EQ(busy.status, 200);
  EXPECT_EQ(held.status, 200);
  EXPECT_EQ(held.body, "A|POST|/v2/models/q/infer|2");

  // A request held at a revision with no replica when the gateway stops: Stop returns, and the client gets
  // a 503 or a closed connection, not a hang.
  table->services[0].revisions[0].endpoints.clear();
  gw.UpdateRoutes(table);
  HttpResponse at_stop;
  std::thread t3([&] { at_stop = HttpRequest(gw.http_port(), "POST", "/v2/models/q/infer", "4", {}, 10000); });
  for (int i = 0; i < 400 && stats->held.load() == 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  ASSERT_EQ(stats->held.load(), 1);
  gw.Stop();
  t3.join();
  EXPECT_NE(at_stop.status, 200);
  EXPECT_EQ(stats->held.load(), 0);
  EXPECT_EQ(stats->in_flight.load(), 0);
}

TEST_F(GatewayHttpTest, UpdateRoutesTakesEffect) {
  ASSERT_EQ(Get("/v2/models/flowers/ready", {"Host: flowers.prod.example.com"}).status, 200);
  auto t = std::make_shared<RoutingTable>();
  t->services.push_back(Svc("prod", "flowers", {Rev("flowers-predictor-00002", 100, {Ep(*a_)})}));
  gw_->UpdateRoutes(t);
  auto r = Get("/v2/models/flowers/ready", {"Host: flowers.prod.example.com"});
  EXPECT_EQ(IdOf(r), "A");
  EXPECT_EQ(Get("/v2/models/sklearn-iris/ready").status, 404);
  gw_->UpdateRoutes(nullptr);
  EXPECT_EQ(Get("/v2/models/flowers/ready", {"Host: flowers.prod.example.com"}).status, 404);
}

TEST_F(GatewayHttpTest, PercentSplit) {
  table_->services.push_back(
      Svc("default", "split", {Rev("split-1", 50, {Ep(*a_)}, "prev"), Rev("split-2", 50, {Ep(*b_)}, "latest")}));
  gw_->UpdateRoutes(table_);
  std::map<std::string, int> counts;
  constexpr int kN = 400;
  for (int i = 0; i < kN; ++i) counts[IdOf(Get("/v2/models/split/infer"))]++;
  // Binomial(400, 0.5): sd 10; 6 sd.
  EXPECT_EQ(counts["A"] + counts["B"], kN);
  EXPECT_NEAR(counts["A"], kN / 2, 60);
  EXPECT_EQ(StatsOf(2, 0)->requests.load() + StatsOf(2, 1)->requests.load(), static_cast<uint64_t>(kN));
  EXPECT_EQ(StatsOf(2, 0)->requests.load(), static_cast<uint64_t>(counts["A"]));
  // Tag hosts pin a revision.
  for (int i = 0; i < 20; ++i) {
    EXPECT_EQ(IdOf(Get("/", {"Host: latest-split-predictor.default.example.com"})), "B");
    EXPECT_EQ(IdOf(Get("/", {"Host: prev-split-predictor.default.example.com"})), "A");
  }
}

TEST_F(GatewayHttpTest, FewestInFlightBalancing) {
  table_->services.push_back(Svc("default", "pair", {Rev("pair-1", 100, {Ep(*a_), Ep(*b_)})}));
  gw_->UpdateRoutes(table_);
  HttpResponse slow;
  std::thread t([&] { slow = Get("/v2/models/pair/sleep/1500"); });
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (a_->active() + b_->active() == 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  ASSERT_EQ(a_->active() + b_->active(), 1);
  std::string busy = a_->active() ? "A" : "B";
  for (int i = 0; i < 10; ++i) {
    auto r = Get("/v2/models/pair/quick");
    ASSERT_EQ(r.status, 200);
    EXPECT_NE(IdOf(r), busy) << "request " << i << " went to the busy replica";
  }
  t.join();
  EXPECT_EQ(slow.status, 200);
  EXPECT_EQ(IdOf(slow), busy);
  auto s = StatsOf(2);
  EXPECT_EQ(s->requests.load(), 11u);
  EXPECT_EQ(s->in_flight.load(), 0);
  // The slow request alone contributes ~1.5 s of one request in flight.
  EXPECT_GE(s->in_flight_ns.load(), 1'400'000'000u);
  EXPECT_GE(s->latency_ns_sum.load(), 1'400'000'000u);
}

TEST_F(GatewayHttpTest, KeepAliveUpstreamConnectionsAreReused) {
  constexpr int kN = 30;
  for (int i = 0; i < kN; ++i) ASSERT_EQ(Get("/v2/models/sklearn-iris/ready").status, 200);
  EXPECT_EQ(a_->requests(), kN);
  EXPECT_LE(a_->connections(), 2) << "one pooled connection per worker at most";
  // A replica closing its idle connection is noticed: the next request uses a new one.
  int before = a_->connections();
  ASSERT_EQ(Get("/v2/models/sklearn-iris/drop").status, 200);
  for (int i = 0; i < 5; ++i) ASSERT_EQ(Get("/v2/models/sklearn-iris/ready").status, 200);
  EXPECT_LE(a_->connections(), before + 2);
  // Many at once: bounded by concurrency, still reused afterwards.
  std::vector<std::thread> ts;
  std::atomic<int> ok{0};
  for (int i = 0; i < 8; ++i) {
    ts.emplace_back([&] {
      for (int j = 0; j < 10; ++j) ok += Get("/v2/models/sklearn-iris/ready").status == 200;
    });
  }
  for (auto& t : ts) t.join();
  EXPECT_EQ(ok.load(), 80);
  EXPECT_LE(a_->connections(), before + 2 + 16);
}

TEST_F(GatewayHttpTest, TimeoutIs504AndTheConnectionIsDiscarded) {
  table_->services.push_back(
      Svc("default", "slowpoke", {Rev("slowpoke-1", 100, {Ep(*a_)})}, std::chrono::milliseconds(200)));
  gw_->UpdateRoutes(table_);
  auto start = std::chrono::steady_clock::now();
  auto r = Get("/v2/models/slowpoke/sleep/1000");
  auto took = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(r.status, 504);
  EXPECT_NE(r.body.find("\"error\""), std::string::npos);
  EXPECT_LT(took, std::chrono::milliseconds(900));
  // The late answer never shows up as the answer to a later request.
  for (int i = 0; i < 4; ++i) {
    r = Get("/v2/models/slowpoke/fast" + std::to_string(i));
    ASSERT_EQ(r.status, 200);
    EXPECT_EQ(r.body, "A|GET|/v2/models/slowpoke/fast" + std::to_string(i) + "|");
  }
  auto s = StatsOf(2);
  EXPECT_EQ(s->requests.load(), 5u);
  EXPECT_EQ(s->errors.load(), 1u);
}

TEST_F(GatewayHttpTest, BodyLimitIs413) {
  auto r = Post("/v2/models/sklearn-iris/infer", std::string(100 * 1024, 'x'));
  EXPECT_EQ(r.status, 413) << r.error;
  EXPECT_EQ(a_->requests(), 0);
  r = Post("/v2/models/sklearn-iris/infer", std::string(60 * 1024, 'x'));
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body.size(), std::string("A|POST|/v2/models/sklearn-iris/infer|").size() + 60 * 1024);
}

TEST_F(GatewayHttpTest, ConnectionRefusedIsRetriedOnAnotherReplica) {
  Endpoint dead;
  dead.http_port = DeadPort();
  table_->services.push_back(Svc("default", "flaky", {Rev("flaky-1", 100, {dead, Ep(*a_)})}));
  table_->services.push_back(Svc("default", "down", {Rev("down-1", 100, {dead})}, std::chrono::milliseconds(300)));
  gw_->UpdateRoutes(table_);
  for (int i = 0; i < 10; ++i) {
    auto r = Get("/v2/models/flaky/infer");
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(IdOf(r), "A");
  }
  // The only replica is gone: the request waits for another (none comes: 503 after the service's timeout).
  auto r = Get("/v2/models/down/infer");
  EXPECT_EQ(r.status, 503);
  EXPECT_NE(r.body.find("down-1"), std::string::npos) << r.body;
  EXPECT_EQ(StatsOf(3)->errors.load(), 1u);
}

TEST_F(GatewayHttpTest, UpstreamStatusAndErrorsAreCounted) {
  auto r = Get("/v2/models/sklearn-iris/status/500");
  EXPECT_EQ(r.status, 500);
  EXPECT_EQ(IdOf(r), "A");
  r = Get("/v2/models/sklearn-iris/status/404");
  EXPECT_EQ(r.status, 404);
  auto s = StatsOf(0);
  EXPECT_EQ(s->requests.load(), 2u);
  EXPECT_EQ(s->errors.load(), 1u);
  EXPECT_EQ(s->in_flight.load(), 0);
  EXPECT_GT(s->latency_ns_sum.load(), 0u);
}

// An endpoint with a uds_path is reached over that Unix socket (its TCP port is dead here): fast and slow
// paths, pooling, the 504 timeout, and a refused connect retried on another replica.
TEST_F(GatewayHttpTest, UpstreamOverUnixSocket) {
  char tmpl[] = "/tmp/inferd-gw-uds-XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  std::string dir = tmpl;
  UpstreamServer u("U", dir + "/u.sock");
  Endpoint ue;
  ue.http_port = DeadPort();
  ue.uds_path = dir + "/u.sock";
  // A socket file nothing listens on: connecting to it is refused.
  std::string dead_path = dir + "/dead.sock";
  {
    int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    std::strncpy(a.sun_path, dead_path.c_str(), sizeof a.sun_path - 1);
    ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    ::close(fd);
  }
  Endpoint dead;
  dead.http_port = DeadPort();
  dead.uds_path = dead_path;
  table_->services.push_back(Svc("default", "local", {Rev("local-1", 100, {ue})}));
  table_->services.push_back(Svc("default", "flaky", {Rev("flaky-1", 100, {dead, ue})}));
  table_->services.push_back(Svc("default", "down", {Rev("down-1", 100, {dead})}, std::chrono::milliseconds(300)));
  table_->services.push_back(
      Svc("default", "slowpoke", {Rev("slowpoke-1", 100, {ue})}, std::chrono::milliseconds(200)));
  gw_->UpdateRoutes(table_);

  constexpr int kN = 20;
  for (int i = 0; i < kN; ++i) {
    auto r = Post("/v1/models/local:predict", "{\"i\":" + std::to_string(i) + "}");
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(IdOf(r), "U");
    EXPECT_EQ(r.body, "U|POST|/v1/models/local:predict|{\"i\":" + std::to_string(i) + "}");
  }
  // Slow path (a hop-by-hop header): stripped, answered the same way.
  auto r = Get("/v2/models/local/ready", {"Connection: X-Hop", "X-Hop: 1"});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.headers["x-seen-hop"], "");
  // /serving/... rewrite (fast path with a new request line).
  r = Get("/serving/default/local/v2/models/local");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.body, "U|GET|/v2/models/local|");
  EXPECT_EQ(u.requests(), kN + 2);
  EXPECT_LE(u.connections(), 2) << "one pooled connection per worker at most";

  for (int i = 0; i < 6; ++i) {
    r = Get("/v2/models/flaky/infer");
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(IdOf(r), "U");
  }
  r = Get("/v2/models/down/infer");  // its only replica is gone: held, then 503 after the timeout
  EXPECT_EQ(r.status, 503);
  EXPECT_NE(r.body.find("down-1"), std::string::npos) << r.body;

  r = Get("/v2/models/slowpoke/sleep/1000");
  EXPECT_EQ(r.status, 504);
  r = Get("/v2/models/slowpoke/fast");
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "U|GET|/v2/models/slowpoke/fast|");

  // TCP endpoints are unaffected.
  r = Get("/v2/models/sklearn-iris/ready");
  EXPECT_EQ(IdOf(r), "A");
  u.Stop();
  std::filesystem::remove_all(dir);
}

TEST(GatewayAuthTest, BearerToken) {
  UpstreamServer a("A");
  GatewayOptions o;
  o.host = "127.0.0.1";
  o.http_port = 0;
  o.grpc_port = -1;
  o.token = "s3cret";
  Gateway gw(o);
  ASSERT_TRUE(gw.Start().ok());
  auto t = std::make_shared<RoutingTable>();
  t->services.push_back(Svc("default", "m", {Rev("m-1", 100, {Ep(a)})}));
  gw.UpdateRoutes(t);
  auto r = HttpRequest(gw.http_port(), "GET", "/v2/models/m/ready", "", {}, 5000);
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(r.headers["www-authenticate"], "Bearer");
  EXPECT_EQ(HttpRequest(gw.http_port(), "GET", "/v2/models/m/ready", "", {"Authorization: Bearer nope00"}, 5000).status,
            401);
  EXPECT_EQ(HttpRequest(gw.http_port(), "GET", "/v2/models/m/ready", "", {"Authorization: s3cret"}, 5000).status, 401);
  EXPECT_EQ(HttpRequest(gw.http_port(), "GET", "/v2/models/m/ready", "", {"Authorization: Bearer s3cret"}, 5000).status,
            200);
  EXPECT_EQ(a.requests(), 1);
  EXPECT_EQ(HttpRequest(gw.http_port(), "GET", "/v2/health/ready", "", {}, 5000).status, 200);
  gw.Stop();
}

// A request with a body and no valid token is answered 401 from its head, before any of its body is read: an
// unauthenticated client cannot make the gateway hold its body (fast path: Content-Length; slow path: chunked).
TEST(GatewayAuthTest, UnauthorizedBodyIsRefusedFromTheHead) {
  UpstreamServer a("A");
  GatewayOptions o;
  o.host = "127.0.0.1";
  o.http_port = 0;
  o.grpc_port = -1;
  o.token = "s3cret";
  Gateway gw(o);
  ASSERT_TRUE(gw.Start().ok());
  auto t = std::make_shared<RoutingTable>();
  t->services.push_back(Svc("default", "m", {Rev("m-1", 100, {Ep(a)})}));
  gw.UpdateRoutes(t);
  for (const std::string framing : {"Content-Length: 8000000", "Transfer-Encoding: chunked"}) {
    SCOPED_TRACE(framing);
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    ASSERT_GE(fd, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(static_cast<uint16_t>(gw.http_port()));
    ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    timeval tv{10, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    // The head only: the body never comes. Before the check, the gateway waited for it (the body timeout).
    const std::string head = "POST /v2/models/m/infer HTTP/1.1\r\nHost: gw\r\n" + framing + "\r\n\r\n";
    ASSERT_EQ(::send(fd, head.data(), head.size(), 0), static_cast<ssize_t>(head.size()));
    char buf[1024];
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    ASSERT_GT(n, 0) << "no answer before the body";
    std::string got(buf, static_cast<size_t>(n));
    EXPECT_EQ(got.rfind("HTTP/1.1 401", 0), 0u) << got;
    EXPECT_NE(got.find("Connection: close"), std::string::npos) << got;
    ::close(fd);
  }
  EXPECT_EQ(a.requests(), 0);
  // With the token, a body still goes through.
  EXPECT_EQ(HttpRequest(gw.http_port(), "POST", "/v2/models/m/infer", "{}", {"Authorization: Bearer s3cret"}, 5000)
                .status,
            200);
  gw.Stop();
}

TEST(GatewayStartTest, BadHostFails) {
  GatewayOptions o;
  o.host = "not-an-ip";
  o.http_port = 0;
  o.grpc_port = -1;
  Gateway gw(o);
  EXPECT_FALSE(gw.Start().ok());
}

}  // namespace
}  // namespace inferd::gateway
