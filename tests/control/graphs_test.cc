// tests/control/graphs_test.cc: the control plane's InferenceGraph side (control/graphs.h): serviceName
// resolution as KServe's controller (predict path by protocol and model name), the status (url, address,
// Ready naming the missing or not-ready service, InvalidGraph, the router-pod fields), and the controller's
// writes and route publication against an in-memory store.
#include "control/graphs.h"

#include <gtest/gtest.h>

#include "api/kinds.h"

namespace inferd::control {
namespace {

using store::Json;

const Json* Cond(const Json& status, const std::string& type) {
  for (const Json& c : status["conditions"])
    if (c["type"] == type) return &c;
  return nullptr;
}

Json Isvc(const std::string& name, Json predictor, bool ready = true, Json transformer = nullptr) {
  Json o = {{"apiVersion", "serving.kserve.io/v1beta1"},
            {"kind", "InferenceService"},
            {"metadata", {{"name", name}, {"namespace", "default"}}},
            {"spec", {{"predictor", std::move(predictor)}}},
            {"status",
             {{"address", {{"url", "http://127.0.0.1:8080/serving/default/" + name}}},
              {"conditions", {{{"type", "Ready"}, {"status", ready ? "True" : "False"}}}}}}};
  if (!transformer.is_null()) o["spec"]["transformer"] = std::move(transformer);
  return o;
}

Json Sklearn() { return {{"model", {{"modelFormat", {{"name", "sklearn"}}}, {"storageUri", "file:///m"}}}}; }

TEST(GraphTargets, PathByProtocolAndModelName) {
  RuntimeLookup none = [](const std::string&) -> const Json* { return nullptr; };
  auto v1 = PredictTarget(Isvc("iris", Sklearn()), none);
  ASSERT_TRUE(v1.ok()) << v1.status().message();
  EXPECT_EQ(v1->service, "iris");
  EXPECT_EQ(v1->ns, "default");
  EXPECT_EQ(v1->path, "/v1/models/iris:predict");

  Json p = Sklearn();
  p["model"]["protocolVersion"] = "v2";
  p["model"]["args"] = {"--model_name=flowers"};
  auto v2 = PredictTarget(Isvc("iris", p), none);
  ASSERT_TRUE(v2.ok());
  EXPECT_EQ(v2->path, "/v2/models/flowers/infer");

  // A transformer decides by its PROTOCOL env and its --model_name.
  Json t = {{"containers", {{{"name", "t"}, {"image", "x"}, {"args", {"--model_name", "tm"}},
                             {"env", {{{"name", "PROTOCOL"}, {"value", "v2"}}}}}}}};
  auto tr = PredictTarget(Isvc("iris", Sklearn(), true, t), none);
  ASSERT_TRUE(tr.ok()) << tr.status().message();
  EXPECT_EQ(tr->path, "/v2/models/tm/infer");

  // A named runtime's first v1/v2 protocol wins; one with neither is refused as KServe does.
  Json rt = {{"spec", {{"protocolVersions", {"grpc-v2", "v2"}}}}};
  Json grpc_only = {{"spec", {{"protocolVersions", {"grpc-v2"}}}}};
  Json named = Sklearn();
  named["model"]["runtime"] = "my-rt";
  auto by_rt = PredictTarget(Isvc("iris", named), [&](const std::string& n) { return n == "my-rt" ? &rt : nullptr; });
  ASSERT_TRUE(by_rt.ok());
  EXPECT_EQ(by_rt->path, "/v2/models/iris/infer");
  auto refused = PredictTarget(Isvc("iris", named), [&](const std::string&) { return &grpc_only; });
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.status().message().find("Inference Graphs"), std::string::npos);

  Json no_address = Isvc("iris", Sklearn());
  no_address["status"].erase("address");
  EXPECT_EQ(PredictTarget(no_address, none).status().code(), StatusCode::kUnavailable);
}

Json Graph(const std::string& name, Json nodes, Json extra = Json::object()) {
  Json spec = {{"nodes", std::move(nodes)}};
  spec.update(extra);
  return {{"apiVersion", "serving.kserve.io/v1alpha1"},
          {"kind", "InferenceGraph"},
          {"metadata", {{"name", name}, {"namespace", "default"}, {"generation", 2}, {"uid", "u1"}}},
          {"spec", std::move(spec)}};
}

Json Seq(std::vector<std::string> services) {
  Json steps = Json::array();
  for (const auto& s : services) steps.push_back({{"serviceName", s}});
  return {{"root", {{"routerType", "Sequence"}, {"steps", steps}}}};
}

TEST(GraphPlan, ReadyOnlyWhenEveryServiceIs) {
  Json a = Isvc("a", Sklearn()), b = Isvc("b", Sklearn(), false);
  IsvcLookup lookup = [&](const std::string& n) -> const Json* { return n == "a" ? &a : n == "b" ? &b : nullptr; };
  RuntimeLookup rt = [](const std::string&) -> const Json* { return nullptr; };
  GraphServeOptions o;
  o.domain = "example.com";
  o.gateway_http_port = 8080;

  GraphPlan ok = PlanGraph(Graph("g", Seq({"a"})), lookup, rt, o, "t");
  EXPECT_EQ((*Cond(ok.status, "Ready"))["status"], "True");
  EXPECT_EQ(ok.status["url"], "http://g.default.example.com");
  EXPECT_EQ(ok.status["address"]["url"], "http://127.0.0.1:8080/graph/default/g");
  EXPECT_EQ(ok.status["observedGeneration"], 2);
  ASSERT_NE(ok.route.graph, nullptr);
  EXPECT_EQ(ok.route.ns, "default");
  EXPECT_EQ(Cond(ok.status, "RouterInGateway"), nullptr);

  GraphPlan not_ready = PlanGraph(Graph("g", Seq({"a", "b"})), lookup, rt, o, "t");
  const Json* c = Cond(not_ready.status, "Ready");
  EXPECT_EQ((*c)["status"], "False");
  EXPECT_EQ((*c)["reason"], "InferenceServiceNotReady");
  EXPECT_NE((*c)["message"].get<std::string>().find("\"b\""), std::string::npos);
  EXPECT_NE(not_ready.route.graph, nullptr);  // routed: a service at zero or starting answers for itself

  GraphPlan missing = PlanGraph(Graph("g", Seq({"a", "nope"})), lookup, rt, o, "t");
  c = Cond(missing.status, "Ready");
  EXPECT_EQ((*c)["reason"], "InferenceServiceNotFound");
  EXPECT_NE((*c)["message"].get<std::string>().find("\"nope\""), std::string::npos);
  EXPECT_EQ(missing.route.graph, nullptr);
  EXPECT_NE(missing.route.unavailable.find("nope"), std::string::npos);
}

TEST(GraphPlan, BadConditionAndRouterPodFields) {
  Json a = Isvc("a", Sklearn());
  IsvcLookup lookup = [&](const std::string& n) -> const Json* { return n == "a" ? &a : nullptr; };
  RuntimeLookup rt = [](const std::string&) -> const Json* { return nullptr; };
  Json nodes = {{"root", {{"routerType", "Switch"}, {"steps", {{{"serviceName", "a"}, {"condition", "a.#(b=="}}}}}}};
  GraphPlan bad = PlanGraph(Graph("g", nodes), lookup, rt, {}, "t");
  EXPECT_EQ((*Cond(bad.status, "Ready"))["reason"], "InvalidGraph");
  EXPECT_EQ(bad.route.graph, nullptr);

  GraphPlan sized = PlanGraph(Graph("g", Seq({"a"}), {{"minReplicas", 2}, {"routerTimeouts", {{"serverRead", 5}}}}),
                              lookup, rt, {}, "t");
  const Json* c = Cond(sized.status, "RouterInGateway");
  ASSERT_NE(c, nullptr);
  EXPECT_NE((*c)["message"].get<std::string>().find("spec.minReplicas"), std::string::npos);
  EXPECT_NE((*c)["message"].get<std::string>().find("spec.routerTimeouts.serverRead"), std::string::npos);
  EXPECT_EQ((*Cond(sized.status, "Ready"))["status"], "True");
}

TEST(GraphController, WritesStatusAndPublishesOnlyOnChange) {
  auto db = store::Store::Open(":memory:");
  ASSERT_TRUE(db.ok());
  store::Store& s = **db;
  ASSERT_TRUE(s.Create(api::InferenceGraphType(), Graph("g", Seq({"a"}))).ok());
  int published = 0;
  std::vector<gateway::GraphRoute> last;
  GraphController c(&s, {}, [&](std::vector<gateway::GraphRoute> r) {
    ++published;
    last = std::move(r);
  });
  c.Pass("2026-12-07T00:00:00Z");
  ASSERT_EQ(published, 1);
  ASSERT_EQ(last.size(), 1u);
  EXPECT_EQ(last[0].graph, nullptr);  // "a" does not exist yet
  auto got = s.Get(api::InferenceGraphType(), "default", "g");
  ASSERT_TRUE(got.ok());
  EXPECT_EQ((*Cond((*got)["status"], "Ready"))["reason"], "InferenceServiceNotFound");
  std::string rv = (*got)["metadata"]["resourceVersion"];
  c.Pass("2026-12-07T00:00:01Z");  // nothing changed: no write, no publication
  EXPECT_EQ(published, 1);
  EXPECT_EQ((*s.Get(api::InferenceGraphType(), "default", "g"))["metadata"]["resourceVersion"], rv);

  Json a = Isvc("a", Sklearn());
  Json st = a["status"];
  a.erase("status");
  auto created = s.Create(api::InferenceServiceType(), a);
  ASSERT_TRUE(created.ok());
  Json with_status = *created;
  with_status["status"] = st;
  ASSERT_TRUE(s.UpdateStatus(api::InferenceServiceType(), with_status).ok());
  c.Pass("2026-12-07T00:00:02Z");
  EXPECT_EQ(published, 2);
  ASSERT_NE(last[0].graph, nullptr);
  EXPECT_EQ((*Cond((*s.Get(api::InferenceGraphType(), "default", "g"))["status"], "Ready"))["status"], "True");
}

}  // namespace
}  // namespace inferd::control
