// Unit tests of the routing rules added for faults and visibility (issue 12): gone endpoints are not picked
// and come back fresh when listed again, cluster-local services and hosts exist for loopback clients only,
// known services without revisions keep their reason, and the loopback test of peer addresses.
#include <gtest/gtest.h>

#include "gateway/routing.h"

namespace inferd::gateway {
namespace {

RevisionRoute Rev(std::string name, std::vector<int> ports) {
  RevisionRoute r;
  r.revision = std::move(name);
  for (int p : ports) {
    Endpoint e;
    e.http_port = p;
    e.grpc_port = p + 1;
    r.endpoints.push_back(e);
  }
  r.stats = std::make_shared<RevisionStats>();
  return r;
}

ServiceRoute Svc(std::string ns, std::string name, std::vector<RevisionRoute> revs, bool cluster_local = false) {
  ServiceRoute s;
  s.ns = std::move(ns);
  s.name = std::move(name);
  s.revisions = std::move(revs);
  s.cluster_local = cluster_local;
  return s;
}

TEST(GoneEndpointTest, NotPickedAndFreshWhenListedAgain) {
  EndpointRegistry reg;
  RoutingTable t;
  t.services.push_back(Svc("default", "a", {Rev("a-1", {1000, 1002})}));
  auto t1 = Compile(t, "example.com", &reg);
  const RevisionState& rev = t1->Find("default", "a")->revisions[0];
  EndpointState* dead = rev.endpoints[0].get();
  EXPECT_TRUE(MarkGone(*dead));
  EXPECT_FALSE(MarkGone(*dead));  // once
  for (uint32_t i = 0; i < 6; ++i) {
    EXPECT_EQ(PickEndpoint(rev, i)->http_port, 1002);
    EndpointState* e = AcquireEndpoint(rev, i);
    ASSERT_NE(e, nullptr);
    EXPECT_EQ(e->http_port, 1002);
    ReleaseEndpoint(rev, e);
  }
  EXPECT_TRUE(HasLiveEndpoint(rev));
  MarkGone(*rev.endpoints[1]);
  EXPECT_FALSE(HasLiveEndpoint(rev));
  EXPECT_EQ(PickEndpoint(rev, 0), nullptr);
  EXPECT_EQ(AcquireEndpoint(rev, 0), nullptr);
  // With a concurrency limit too.
  RoutingTable lim = t;
  lim.services[0].revisions[0].container_concurrency = 4;
  auto tl = Compile(lim, "example.com", &reg);  // fresh states: the old ones are gone
  const RevisionState& lrev = tl->Find("default", "a")->revisions[0];
  EXPECT_NE(lrev.endpoints[0].get(), dead);
  EXPECT_FALSE(lrev.endpoints[0]->gone.load());
  EXPECT_NE(lrev.endpoints[0]->id, dead->id);
  MarkGone(*lrev.endpoints[0]);
  EndpointState* e = AcquireEndpoint(lrev, 0);
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->http_port, 1002);
  ReleaseEndpoint(lrev, e);
  // A gRPC pick ignores endpoints without a gRPC port; HasLiveEndpoint too.
  RoutingTable g;
  g.services.push_back(Svc("default", "g", {Rev("g-1", {3000})}));
  g.services[0].revisions[0].endpoints[0].grpc_port = 0;
  auto tg = Compile(g, "example.com", &reg);
  EXPECT_TRUE(HasLiveEndpoint(tg->services[0].revisions[0]));
  EXPECT_FALSE(HasLiveEndpoint(tg->services[0].revisions[0], /*need_grpc=*/true));
}

TEST(GoneEndpointTest, PidIsPartOfTheEndpoint) {
  EndpointRegistry reg;
  Endpoint a;
  a.http_port = 1000;
  a.uds_path = "/tmp/r1.sock";
  a.pid = 10;
  Endpoint b = a;
  b.pid = 11;  // the same socket path, another process (a restarted replica)
  auto sa = reg.Get(a), sb = reg.Get(b);
  EXPECT_NE(sa.get(), sb.get());
  EXPECT_EQ(sa->pid, 10);
  EXPECT_EQ(sb->pid, 11);
  Endpoint tcp;
  tcp.http_port = 1000;
  tcp.pid = 12;
  EXPECT_EQ(reg.Get(tcp)->pid, 0);  // only checked on Unix sockets
}

class VisibilityTest : public ::testing::Test {
 protected:
  void SetUp() override {
    RoutingTable t;
    t.services.push_back(Svc("default", "inside", {Rev("inside-1", {1000})}, /*cluster_local=*/true));
    t.services.push_back(Svc("default", "outside", {Rev("outside-1", {2000})}));
    ServiceRoute pending = Svc("prod", "pending", {});
    pending.unavailable = "service prod/pending is not ready (Loading)";
    t.services.push_back(pending);
    t.services.push_back(Svc("prod", "bare", {}));
    table_ = Compile(t, "example.com", &reg_);
  }
  EndpointRegistry reg_;
  std::shared_ptr<const CompiledTable> table_;
};

TEST_F(VisibilityTest, ClusterLocalServicesExistForLoopbackClientsOnly) {
  EXPECT_TRUE(table_->any_cluster_local);
  struct Case {
    const char* host;
    const char* target;
  };
  for (const Case& c : {Case{"inside.default.example.com", "/"}, Case{"inside.default.svc.cluster.local", "/"},
                        Case{"inside-predictor.default.svc.cluster.local:80", "/"},
                        Case{"gateway", "/v1/models/inside:predict"}, Case{"gateway", "/v2/models/inside/infer"},
                        Case{"gateway", "/serving/default/inside/v2/health/ready"}}) {
    RouteMatch m = Route(*table_, c.host, c.target);
    ASSERT_NE(m.service, nullptr) << c.host << c.target;
    EXPECT_EQ(m.service->name, "inside");
    EXPECT_TRUE(m.internal) << c.host << c.target;
    EXPECT_EQ(Route(*table_, c.host, c.target, /*external=*/true).service, nullptr) << c.host << c.target;
  }
  // A public service: by its cluster-local name only from loopback; by the domain from anywhere.
  RouteMatch m = Route(*table_, "outside.default.svc.cluster.local", "/");
  ASSERT_NE(m.service, nullptr);
  EXPECT_TRUE(m.internal);
  EXPECT_EQ(Route(*table_, "outside.default.svc.cluster.local", "/", true).service, nullptr);
  m = Route(*table_, "outside.default.example.com", "/");
  ASSERT_NE(m.service, nullptr);
  EXPECT_FALSE(m.internal);
  EXPECT_NE(Route(*table_, "outside.default.example.com", "/", true).service, nullptr);
  // An external client's cluster-local host falls through to the path rules, like a host naming nothing.
  m = Route(*table_, "inside.default.svc.cluster.local", "/v1/models/outside:predict", true);
  ASSERT_NE(m.service, nullptr);
  EXPECT_EQ(m.service->name, "outside");
}

TEST_F(VisibilityTest, ServicesWithoutRevisionsKeepTheirReason) {
  const ServiceState* p = table_->Find("prod", "pending");
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(p->unavailable, "service prod/pending is not ready (Loading)");
  EXPECT_EQ(PickRevision(*p, "", 0), nullptr);
  const ServiceState* b = table_->Find("prod", "bare");
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(b->unavailable, "service prod/bare has no ready revision yet");
  EXPECT_EQ(Route(*table_, "pending.prod.example.com", "/").service, p);
}

TEST(SplitAnyServiceHostTest, BothDomains) {
  std::string_view label, ns;
  bool cluster = true;
  ASSERT_TRUE(SplitAnyServiceHost("a.b.example.com:8080", "example.com", &label, &ns, &cluster));
  EXPECT_EQ(label, "a");
  EXPECT_EQ(ns, "b");
  EXPECT_FALSE(cluster);
  ASSERT_TRUE(SplitAnyServiceHost("a-predictor.b.svc.cluster.local", "example.com", &label, &ns, &cluster));
  EXPECT_EQ(label, "a-predictor");
  EXPECT_TRUE(cluster);
  for (const char* h : {"127.0.0.1:8080", "localhost", "[::1]:80", "a.svc.cluster.local", "b.example.com", ""}) {
    EXPECT_FALSE(SplitAnyServiceHost(h, "example.com", &label, &ns, &cluster)) << h;
  }
}

TEST(LoopbackTest, Addresses) {
  for (const char* ip : {"127.0.0.1", "127.1.2.3", "::1", "::ffff:127.0.0.1"}) EXPECT_TRUE(IsLoopbackIp(ip)) << ip;
  for (const char* ip : {"10.0.0.1", "192.0.2.2", "::", "::2", "fd00::2", "::ffff:10.0.0.1", "0.0.0.0", "", "127.0.0",
                         "localhost", "1::1", "127.0.0.1.5"}) {
    EXPECT_FALSE(IsLoopbackIp(ip)) << ip;
  }
  std::string longer(200, '1');
  EXPECT_FALSE(IsLoopbackIp(longer));
}

}  // namespace
}  // namespace inferd::gateway
