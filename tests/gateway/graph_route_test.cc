// tests/gateway/graph_route_test.cc: which requests the gateway runs as an InferenceGraph (routing.h's
// RouteGraph): the graph's host forms, the /graph/{ns}/{graph} path form, a service winning over a graph of the
// same name, the cluster-local host for loopback clients only; and HeaderLines (graph_calls.h).
#include <gtest/gtest.h>

#include "gateway/graph_calls.h"
#include "gateway/routing.h"

namespace inferd::gateway {
namespace {

class GraphRouteTest : public ::testing::Test {
 protected:
  void SetUp() override {
    RoutingTable t;
    ServiceRoute svc;
    svc.ns = "default";
    svc.name = "both";  // a service and a graph of the same name
    t.services.push_back(svc);
    svc.name = "iris";
    t.services.push_back(svc);
    for (const char* name : {"both", "chain"}) {
      GraphRoute g;
      g.ns = "default";
      g.name = name;
      t.graphs.push_back(g);
    }
    GraphRoute other;
    other.ns = "prod";
    other.name = "chain";
    other.unavailable = "graph prod/chain is not ready: x";
    t.graphs.push_back(other);
    table_ = Compile(t, "example.com", &registry_);
  }

  const GraphState* G(std::string_view host, std::string_view target, bool external = false) {
    return RouteGraph(*table_, host, target, external);
  }

  EndpointRegistry registry_;
  std::shared_ptr<const CompiledTable> table_;
};

TEST_F(GraphRouteTest, HostForms) {
  for (const char* host : {"chain.default.example.com", "chain.default.example.com:8080", "chain.default.example.com."}) {
    const GraphState* g = G(host, "/v1/models/iris:predict");  // any path: KServe's router ignores it
    ASSERT_NE(g, nullptr) << host;
    EXPECT_EQ(g->name, "chain");
    EXPECT_EQ(g->ns, "default");
  }
  EXPECT_EQ(G("chain.prod.example.com", "/")->ns, "prod");
  EXPECT_EQ(G("chain.prod.example.com", "/")->unavailable, "graph prod/chain is not ready: x");
  EXPECT_EQ(G("nope.default.example.com", "/"), nullptr);
  EXPECT_EQ(G("both.default.example.com", "/"), nullptr);  // the service wins
  EXPECT_EQ(G("iris.default.example.com", "/graph/default/chain"), nullptr);  // a service's host keeps its paths
}

TEST_F(GraphRouteTest, PathForm) {
  for (const char* target : {"/graph/default/chain", "/graph/default/chain/", "/graph/default/chain?x=1",
                             "/graph/default/chain/v1/models/m:predict"}) {
    const GraphState* g = G("127.0.0.1:8080", target);
    ASSERT_NE(g, nullptr) << target;
    EXPECT_EQ(g->name, "chain");
  }
  EXPECT_EQ(G("localhost", "/graph/prod/chain")->ns, "prod");
  for (const char* target : {"/graph/default/chainx", "/graph/default/", "/graph/default", "/graph//chain",
                             "/graph/nope/chain", "/graphs/default/chain", "/serving/default/chain"}) {
    EXPECT_EQ(G("127.0.0.1", target), nullptr) << target;
  }
}

TEST_F(GraphRouteTest, ClusterLocalHostForLoopbackOnly) {
  bool internal = false;
  const GraphState* g = RouteGraph(*table_, "chain.default.svc.cluster.local", "/", false, &internal);
  ASSERT_NE(g, nullptr);
  EXPECT_TRUE(internal);
  EXPECT_EQ(RouteGraph(*table_, "chain.default.svc.cluster.local", "/", true), nullptr);
  RouteGraph(*table_, "chain.default.example.com", "/", false, &internal);
  EXPECT_FALSE(internal);
}

TEST(GraphHeaders, HeaderLines) {
  auto h = http_internal::HeaderLines("Host: a\r\nTest-Header-Key:  v 1 \t\r\nbad line\r\n:x\r\nEmpty:\r\n");
  ASSERT_EQ(h.size(), 3u);
  EXPECT_EQ(h[0].name, "Host");
  EXPECT_EQ(h[1].name, "Test-Header-Key");
  EXPECT_EQ(h[1].value, "v 1");
  EXPECT_EQ(h[2].value, "");
  EXPECT_TRUE(http_internal::HeaderLines("").empty());
}

}  // namespace
}  // namespace inferd::gateway
