// Unit tests of the gateway's routing rules, revision/endpoint picking, stats and request parsing.
#include <gtest/gtest.h>

#include <map>

#include "gateway/grpc_scan.h"
#include "gateway/routing.h"
#include "inference.pb.h"

namespace inferd::gateway {
namespace {

RevisionRoute Rev(std::string name, int percent, std::string tag, std::vector<int> ports) {
  RevisionRoute r;
  r.revision = std::move(name);
  r.percent = percent;
  r.tag = std::move(tag);
  for (int p : ports) {
    Endpoint e;
    e.http_port = p;
    e.grpc_port = p + 1;
    r.endpoints.push_back(e);
  }
  r.stats = std::make_shared<RevisionStats>();
  return r;
}

ServiceRoute Svc(std::string ns, std::string name, std::vector<RevisionRoute> revs) {
  ServiceRoute s;
  s.ns = std::move(ns);
  s.name = std::move(name);
  s.revisions = std::move(revs);
  return s;
}

class RoutingTest : public ::testing::Test {
 protected:
  void SetUp() override {
    RoutingTable t;
    t.services.push_back(Svc("default", "sklearn-iris", {Rev("sklearn-iris-predictor-00001", 100, "", {1000})}));
    t.services.push_back(Svc("prod", "flowers",
                             {Rev("flowers-predictor-00001", 80, "prev", {2000}),
                              Rev("flowers-predictor-00002", 20, "latest", {3000, 3002})}));
    t.services.push_back(Svc("default", "my-model", {Rev("my-model-predictor-00003", 100, "latest", {4000})}));
    table_ = Compile(t, "example.com", &registry_);
  }

  RouteMatch R(std::string_view host, std::string_view target) { return Route(*table_, host, target); }

  EndpointRegistry registry_;
  std::shared_ptr<const CompiledTable> table_;
};

TEST_F(RoutingTest, HostForms) {
  for (const char* host : {"sklearn-iris.default.example.com", "sklearn-iris.default.example.com:8080",
                           "sklearn-iris-predictor.default.example.com", "sklearn-iris.default.example.com."}) {
    auto m = R(host, "/v1/models/whatever:predict?x=1");
    ASSERT_NE(m.service, nullptr) << host;
    EXPECT_EQ(m.service->name, "sklearn-iris");
    EXPECT_EQ(m.service->ns, "default");
    EXPECT_EQ(m.path(), "/v1/models/whatever:predict?x=1") << "host routing keeps the path";
    EXPECT_TRUE(m.tag.empty());
  }
  auto m = R("flowers.prod.example.com", "/");
  ASSERT_NE(m.service, nullptr);
  EXPECT_EQ(m.service->ns, "prod");
  // Wrong namespace, wrong domain, extra labels: no host route, and "/" has no path route either.
  EXPECT_EQ(R("flowers.default.example.com", "/").service, nullptr);
  EXPECT_EQ(R("flowers.prod.example.org", "/").service, nullptr);
  EXPECT_EQ(R("a.flowers.prod.example.com", "/").service, nullptr);
  EXPECT_EQ(R("example.com", "/").service, nullptr);
  EXPECT_EQ(R("", "/").service, nullptr);
  EXPECT_EQ(R("127.0.0.1:8080", "/").service, nullptr);
}

TEST_F(RoutingTest, TagHosts) {
  auto m = R("latest-flowers-predictor.prod.example.com", "/v2/models/flowers/infer");
  ASSERT_NE(m.service, nullptr);
  EXPECT_EQ(m.service->name, "flowers");
  EXPECT_EQ(m.tag, "latest");
  const RevisionState* rev = PickRevision(*m.service, m.tag, 0);
  ASSERT_NE(rev, nullptr);
  EXPECT_EQ(rev->revision, "flowers-predictor-00002");
  m = R("prev-flowers-predictor.prod.example.com", "/");
  ASSERT_NE(m.service, nullptr);
  EXPECT_EQ(PickRevision(*m.service, m.tag, ~0ull)->revision, "flowers-predictor-00001");
  // A hyphenated service name.
  m = R("latest-my-model-predictor.default.example.com", "/");
  ASSERT_NE(m.service, nullptr);
  EXPECT_EQ(m.service->name, "my-model");
  EXPECT_EQ(m.tag, "latest");
  m = R("my-model-predictor.default.example.com", "/");
  ASSERT_NE(m.service, nullptr);
  EXPECT_TRUE(m.tag.empty());
  // Unknown tag: not a route (falls through to the path rules).
  EXPECT_EQ(R("foo-flowers-predictor.prod.example.com", "/").service, nullptr);
  m = R("foo-flowers-predictor.prod.example.com", "/v2/models/sklearn-iris/ready");
  ASSERT_NE(m.service, nullptr);
  EXPECT_EQ(m.service->name, "sklearn-iris");
}

TEST_F(RoutingTest, ServingPrefix) {
  auto m = R("localhost:8080", "/serving/prod/flowers/v1/models/flowers:predict");
  ASSERT_NE(m.service, nullptr);
  EXPECT_EQ(m.service->name, "flowers");
  EXPECT_EQ(m.path(), "/v1/models/flowers:predict");
  m = R("localhost", "/serving/prod/flowers");
  ASSERT_NE(m.service, nullptr);
  EXPECT_EQ(m.path(), "/");
  m = R("localhost", "/serving/prod/flowers?a=b");
  ASSERT_NE(m.service, nullptr);
  EXPECT_EQ(m.path(), "/?a=b");
  m = R("localhost", "/serving/prod/flowers/?a=b");
  ASSERT_NE(m.service, nullptr);
  EXPECT_EQ(m.path(), "/?a=b");
  m = R("localhost", "/serving/default/sklearn-iris/v2/models/sklearn-iris/infer");
  ASSERT_NE(m.service, nullptr);
  EXPECT_EQ(m.service->name, "sklearn-iris");
  EXPECT_EQ(m.path(), "/v2/models/sklearn-iris/infer");
  EXPECT_EQ(R("localhost", "/serving/prod/nothing/v1/models/x").service, nullptr);
  EXPECT_EQ(R("localhost", "/serving/prod").service, nullptr);
  EXPECT_EQ(R("localhost", "/serving/prod/").service, nullptr);
  EXPECT_EQ(R("localhost", "/serving//flowers/x").service, nullptr);
  EXPECT_EQ(R("localhost", "/serving/default/flowers/x").service, nullptr);
}

TEST_F(RoutingTest, ModelPathsUseTheDefaultNamespace) {
  for (const char* target : {"/v1/models/sklearn-iris", "/v1/models/sklearn-iris:predict",
                             "/v1/models/sklearn-iris:explain", "/v1/models/sklearn-iris?x=1",
                             "/v2/models/sklearn-iris", "/v2/models/sklearn-iris/infer",
                             "/v2/models/sklearn-iris/versions/1/infer", "/v2/models/sklearn-iris/ready",
                             "/v2/models/sklearn-iris?verbose=1"}) {
    auto m = R("127.0.0.1:8080", target);
    ASSERT_NE(m.service, nullptr) << target;
    EXPECT_EQ(m.service->name, "sklearn-iris");
    EXPECT_EQ(m.path(), target);
  }
  // flowers lives in "prod", not "default".
  EXPECT_EQ(R("localhost", "/v1/models/flowers:predict").service, nullptr);
  EXPECT_EQ(R("localhost", "/v2/models/sklearn-iriss/infer").service, nullptr);
  EXPECT_EQ(R("localhost", "/v2/models/").service, nullptr);
  EXPECT_EQ(R("localhost", "/v2/models").service, nullptr);
  EXPECT_EQ(R("localhost", "/v3/models/sklearn-iris").service, nullptr);
  EXPECT_EQ(R("localhost", "/v2/health/ready").service, nullptr);
  // v2 has no ":verb" form: the colon is part of the name.
  EXPECT_EQ(R("localhost", "/v2/models/sklearn-iris:predict").service, nullptr);
}

TEST_F(RoutingTest, HostRuleWinsOverPathRule) {
  auto m = R("flowers.prod.example.com", "/v2/models/sklearn-iris/infer");
  ASSERT_NE(m.service, nullptr);
  EXPECT_EQ(m.service->name, "flowers");
  m = R("flowers.prod.example.com", "/serving/default/sklearn-iris/x");
  ASSERT_NE(m.service, nullptr);
  EXPECT_EQ(m.service->name, "flowers");
  EXPECT_EQ(m.path(), "/serving/default/sklearn-iris/x");
}

TEST_F(RoutingTest, PercentSplitStatistics) {
  const ServiceState* s = table_->Find("prod", "flowers");
  ASSERT_NE(s, nullptr);
  FastRng rng(12345);
  constexpr int kN = 200000;
  int second = 0;
  for (int i = 0; i < kN; ++i) {
    if (PickRevision(*s, "", rng.Next())->revision == "flowers-predictor-00002") ++second;
  }
  // Binomial(200000, 0.2): sd ~ 179; allow 5 sd.
  EXPECT_NEAR(second, kN * 0.2, 900);
}

TEST(PickRevisionTest, ZeroPercentAndFallback) {
  EndpointRegistry reg;
  RoutingTable t;
  t.services.push_back(Svc("default", "a",
                           {Rev("a-1", 0, "prev", {1000}), Rev("a-2", 100, "", {}), Rev("a-3", 0, "", {})}));
  auto table = Compile(t, "example.com", &reg);
  const ServiceState* s = table->Find("default", "a");
  ASSERT_NE(s, nullptr);
  // a-2 gets all the traffic but has no ready replica: a revision with replicas serves instead.
  FastRng rng(1);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(PickRevision(*s, "", rng.Next())->revision, "a-1");
  EXPECT_EQ(PickRevision(*s, "prev", 0)->revision, "a-1");
  EXPECT_EQ(PickRevision(*s, "nope", 0), nullptr);

  RoutingTable t2;
  t2.services.push_back(Svc("default", "b", {Rev("b-1", 50, "", {1}), Rev("b-2", 0, "", {2}), Rev("b-3", 50, "", {3})}));
  auto table2 = Compile(t2, "example.com", &reg);
  const ServiceState* b = table2->Find("default", "b");
  std::map<std::string, int> counts;
  FastRng rng2(7);
  for (int i = 0; i < 10000; ++i) counts[PickRevision(*b, "", rng2.Next())->revision]++;
  EXPECT_EQ(counts["b-2"], 0);
  EXPECT_NEAR(counts["b-1"], 5000, 250);
  EXPECT_NEAR(counts["b-3"], 5000, 250);

  RoutingTable empty;
  empty.services.push_back(Svc("default", "c", {}));
  auto table3 = Compile(empty, "example.com", &reg);
  EXPECT_EQ(PickRevision(*table3->Find("default", "c"), "", 0), nullptr);
}

TEST(PickEndpointTest, FewestInFlightThenRoundRobin) {
  EndpointRegistry reg;
  RoutingTable t;
  t.services.push_back(Svc("default", "a", {Rev("a-1", 100, "", {1000, 1002, 1004})}));
  auto table = Compile(t, "example.com", &reg);
  const RevisionState& rev = table->Find("default", "a")->revisions[0];
  // Ties: the scan start decides, so consecutive starts cycle over all endpoints.
  std::map<int, int> seen;
  for (uint32_t i = 0; i < 30; ++i) seen[PickEndpoint(rev, i)->http_port]++;
  EXPECT_EQ(seen.size(), 3u);
  EXPECT_EQ(seen[1000], 10);
  rev.endpoints[0]->in_flight = 2;
  rev.endpoints[1]->in_flight = 1;
  rev.endpoints[2]->in_flight = 3;
  for (uint32_t i = 0; i < 5; ++i) EXPECT_EQ(PickEndpoint(rev, i)->http_port, 1002);
  EXPECT_EQ(PickEndpoint(rev, 0, rev.endpoints[1].get())->http_port, 1000);
  rev.endpoints[0]->in_flight = 0;
  rev.endpoints[1]->in_flight = 0;
  rev.endpoints[2]->in_flight = 0;

  RoutingTable t2;
  t2.services.push_back(Svc("default", "one", {Rev("one-1", 100, "", {5000})}));
  auto table2 = Compile(t2, "example.com", &reg);
  const RevisionState& one = table2->Find("default", "one")->revisions[0];
  EXPECT_EQ(PickEndpoint(one, 0, one.endpoints[0].get()), nullptr);
  one.endpoints[0]->grpc_port = 0;
  EXPECT_EQ(PickEndpoint(one, 0, nullptr, /*need_grpc=*/true), nullptr);
}

TEST(RegistryTest, EndpointStateSurvivesRecompiles) {
  EndpointRegistry reg;
  RoutingTable t;
  t.services.push_back(Svc("default", "a", {Rev("a-1", 100, "", {1000, 1002})}));
  auto t1 = Compile(t, "example.com", &reg);
  auto t2 = Compile(t, "example.com", &reg);
  const auto& e1 = t1->Find("default", "a")->revisions[0].endpoints;
  const auto& e2 = t2->Find("default", "a")->revisions[0].endpoints;
  EXPECT_EQ(e1[0].get(), e2[0].get());
  EXPECT_NE(e1[0]->id, e1[1]->id);
  EXPECT_EQ(e1[0]->http_authority, "127.0.0.1:1000");
  EXPECT_EQ(e1[0]->resolved_ip, "127.0.0.1");
  EXPECT_EQ(t1->endpoint_ids.size(), 2u);
  // Duplicates and nameless services are ignored; an empty namespace means "default".
  RoutingTable d;
  d.services.push_back(Svc("", "x", {Rev("x-1", 100, "", {1})}));
  d.services.push_back(Svc("default", "x", {Rev("x-2", 100, "", {2})}));
  d.services.push_back(Svc("default", "", {}));
  auto td = Compile(d, "example.com", &reg);
  ASSERT_EQ(td->services.size(), 1u);
  EXPECT_EQ(td->Find("default", "x")->revisions[0].revision, "x-1");
  Endpoint local;
  local.host = "localhost";
  local.http_port = 1;
  EXPECT_FALSE(reg.Get(local)->resolved_ip.empty());
}

TEST(StatsTest, TimeWeightedInFlight) {
  RevisionStats s;
  StatsBegin(s, 1000);
  StatsBegin(s, 3000);
  StatsEnd(s, 4000, 1000, false);
  StatsEnd(s, 10000, 9000, true);
  EXPECT_EQ(s.requests.load(), 2u);
  EXPECT_EQ(s.errors.load(), 1u);
  EXPECT_EQ(s.in_flight.load(), 0);
  EXPECT_EQ(s.latency_ns_sum.load(), 10000u);
  // 1 request for 2000 ns, 2 for 1000 ns, 1 for 6000 ns.
  EXPECT_EQ(s.in_flight_ns.load(), 2000u + 2000u + 6000u);
  EXPECT_EQ(s.in_flight_changed_ns.load(), 10000);
}

TEST(ErrorJsonTest, Escapes) {
  EXPECT_EQ(ErrorJson("no route for \"x\"\n\\"), "{\"error\": \"no route for \\\"x\\\"\\n\\\\\"}");
  EXPECT_EQ(ErrorJson(std::string("a\x01", 2)), "{\"error\": \"a\\u0001\"}");
}

TEST(Field1Test, ModelNameFromSerializedRequests) {
  inference::ModelInferRequest req;
  req.set_model_name("sklearn-iris");
  req.set_id("42");
  auto* in = req.add_inputs();
  in->set_name("x");
  in->set_datatype("FP32");
  in->add_shape(1);
  in->mutable_contents()->add_fp32_contents(1.5f);
  req.add_raw_input_contents(std::string(1000, 'z'));
  EXPECT_EQ(ReadField1String(req.SerializeAsString()), "sklearn-iris");

  inference::ModelReadyRequest ready;
  ready.set_name("flowers");
  ready.set_version("2");
  EXPECT_EQ(ReadField1String(ready.SerializeAsString()), "flowers");

  EXPECT_EQ(ReadField1String(""), "");
  inference::ModelInferRequest noname;
  noname.set_id("1");
  EXPECT_EQ(ReadField1String(noname.SerializeAsString()), "");
  // Field 1 after other fields (any order is valid protobuf).
  std::string bytes = inference::ModelReadyRequest().SerializeAsString();
  bytes += std::string("\x12\x01", 2) + "3";       // version = "3"
  bytes += std::string("\x0a\x03", 2) + "abc";     // name = "abc"
  EXPECT_EQ(ReadField1String(bytes), "abc");
  EXPECT_EQ(ReadField1String(std::string("\x0a\x09", 2) + "abc"), std::nullopt);  // truncated
}

}  // namespace

// KServe's routing with a transformer and an explainer: the service's own host and path forms go to the
// transformer (`:explain` to the explainer), each component's host to that component, in every host form.
class ComponentRoutingTest : public ::testing::Test {
 protected:
  void SetUp() override {
    RoutingTable t;
    auto comp = [](std::string name, std::string component, std::vector<RevisionRoute> revs) {
      ServiceRoute s = Svc("ns1", std::move(name), std::move(revs));
      s.component = std::move(component);
      return s;
    };
    // Components listed before their predictor: Compile links them whatever the order.
    t.services.push_back(comp("m", "transformer", {Rev("m-transformer-00001", 100, "", {5000})}));
    t.services.push_back(comp("m", "explainer", {Rev("m-explainer-00001", 100, "", {6000})}));
    t.services.push_back(Svc("ns1", "m", {Rev("m-predictor-00001", 100, "", {4000})}));
    t.services.push_back(comp("e", "explainer", {Rev("e-explainer-00001", 100, "", {7000})}));
    t.services.push_back(Svc("ns1", "e", {Rev("e-predictor-00001", 100, "", {8000})}));
    t.services.push_back(comp("orphan", "transformer", {Rev("orphan-transformer-00001", 100, "", {9000})}));
    table_ = Compile(t, "example.com", &registry_);
  }
  // The component a request reaches ("" = the predictor; "none" = no route).
  std::string C(std::string_view host, std::string_view target, bool external = false) {
    RouteMatch m = Route(*table_, host, target, external);
    return m.service == nullptr ? "none" : m.service->component;
  }
  EndpointRegistry registry_;
  std::shared_ptr<const CompiledTable> table_;
};

TEST_F(ComponentRoutingTest, TopLevelGoesToTheTransformerExplainToTheExplainer) {
  for (const char* host : {"m.ns1.example.com", "m.ns1.svc.cluster.local"}) {
    EXPECT_EQ(C(host, "/v1/models/m:predict"), "transformer") << host;
    EXPECT_EQ(C(host, "/v2/models/m/infer"), "transformer") << host;
    EXPECT_EQ(C(host, "/"), "transformer") << host;
    EXPECT_EQ(C(host, "/v1/models/m:explain"), "explainer") << host;
    EXPECT_EQ(C(host, "/v1/models/m:explain?x=1"), "explainer") << host;
    EXPECT_EQ(C(host, "/v1/models/other_name-2:explain"), "explainer") << host;
    // Not KServe's explain pattern: the transformer.
    EXPECT_EQ(C(host, "/v1/models/m:explain/x"), "transformer") << host;
    EXPECT_EQ(C(host, "/v1/models/a.b:explain"), "transformer") << host;
    EXPECT_EQ(C(host, "/v2/models/m:explain"), "transformer") << host;
  }
  EXPECT_EQ(C("", "/serving/ns1/m/v1/models/m:predict"), "transformer");
  EXPECT_EQ(C("", "/serving/ns1/m/v1/models/m:explain"), "explainer");
  // Without a transformer: the predictor, :explain to the explainer.
  EXPECT_EQ(C("e.ns1.example.com", "/v1/models/e:predict"), "");
  EXPECT_EQ(C("e.ns1.example.com", "/v1/models/e:explain"), "explainer");
}

TEST_F(ComponentRoutingTest, ComponentHostsInEveryForm) {
  for (const char* suffix : {".ns1", ".ns1.svc.cluster.local", ".ns1.example.com", ".ns1:80"}) {
    const std::string s = suffix;
    EXPECT_EQ(C("m-predictor" + s, "/v1/models/m:predict"), "") << s;
    EXPECT_EQ(C("m-predictor" + s, "/v1/models/m:explain"), "") << s;
    EXPECT_EQ(C("m-transformer" + s, "/v1/models/m:explain"), "transformer") << s;
    EXPECT_EQ(C("m-explainer" + s, "/v1/models/m:predict"), "explainer") << s;
    EXPECT_EQ(C("e-transformer" + s, "/"), "none") << "no such component: " << s;
  }
  // The short and cluster-local forms exist for loopback clients only; the domain form for everyone.
  EXPECT_EQ(C("m-predictor.ns1", "/", /*external=*/true), "none");
  EXPECT_EQ(C("m-predictor.ns1.svc.cluster.local", "/", true), "none");
  EXPECT_EQ(C("m-predictor.ns1.example.com", "/", true), "");
  // The short form needs a component suffix and one dot.
  EXPECT_EQ(C("m.ns1", "/"), "none");
  EXPECT_EQ(C("m-predictor.ns1.other", "/"), "none");
  // A component without its predictor's route is never reached.
  EXPECT_EQ(C("orphan-transformer.ns1.example.com", "/"), "none");
  EXPECT_EQ(C("orphan.ns1.example.com", "/"), "none");
}

TEST_F(ComponentRoutingTest, ComponentsKeepTheirOwnRevisionsAndQueues) {
  RouteMatch m = Route(*table_, "m.ns1.example.com", "/v1/models/m:predict");
  ASSERT_NE(m.service, nullptr);
  const RevisionState* rev = PickRevision(*m.service, "", 0);
  ASSERT_NE(rev, nullptr);
  EXPECT_EQ(rev->revision, "m-transformer-00001");
  ASSERT_EQ(rev->endpoints.size(), 1u);
  EXPECT_EQ(rev->endpoints[0]->http_port, 5000);
  size_t queues = 0;
  ForEachQueue(*table_, [&](HoldQueue&) { ++queues; });
  EXPECT_EQ(queues, 5u) << "every component's revision has its activator queue (the orphan is not compiled)";
  const ServiceState* pred = table_->Find("ns1", "m");
  ASSERT_NE(pred, nullptr);
  EXPECT_EQ(pred->component, "");
  EXPECT_EQ(table_->Find("ns1", "orphan"), nullptr);
}

}  // namespace inferd::gateway
