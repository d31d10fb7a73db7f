// Tests of control/isvc_proxy.h's path check (the forwarding itself: tests/webui/webapp_serve_test.py on a
// real inferd serve) and of control/metrics_sampler.h's read of a routing table.
#include "control/isvc_proxy.h"

#include <gtest/gtest.h>

#include "control/metrics_sampler.h"

namespace inferd::control {
namespace {

TEST(IsvcProxyTest, PathsAndMethods) {
  EXPECT_FALSE(CheckProxyPath("POST", "v1/models/iris:predict").has_value());
  EXPECT_FALSE(CheckProxyPath("POST", "v2/models/iris/infer").has_value());
  EXPECT_FALSE(CheckProxyPath("GET", "v2/models/iris").has_value());
  EXPECT_FALSE(CheckProxyPath("POST", "v1/models/my_model-2.v3:explain").has_value());
  EXPECT_EQ(CheckProxyPath("DELETE", "v1/models/iris:predict")->code, 405);
  EXPECT_EQ(CheckProxyPath("PUT", "v2/models/iris")->code, 405);
  for (const char* bad : {"", "v1", "v1/models", "metrics", "/v1/models/x", "v3/models/x", "v1/models/../../x",
                          "v2/models/./x", "v1/models/x?y=1", "v1/models/x%2e%2e", "v1/models/x y", "v1/models/x\r\n",
                          "v2/models/x#frag", "v1/models/x@evil"}) {
    auto e = CheckProxyPath("POST", bad);
    ASSERT_TRUE(e.has_value()) << bad;
    EXPECT_EQ(e->code, 400) << bad;
  }
}

TEST(IsvcProxyTest, AnswersAreDataNeverPages) {
  EXPECT_EQ(ProxyAnswerContentType("application/json"), "application/json");
  EXPECT_EQ(ProxyAnswerContentType("application/json; charset=utf-8"), "application/json; charset=utf-8");
  EXPECT_EQ(ProxyAnswerContentType("application/octet-stream"), "application/octet-stream");
  for (const char* page : {"text/html", "text/html; charset=utf-8", "image/svg+xml", "application/xhtml+xml",
                           "application/javascript", "", "application/jsonp", "text/plain"}) {
    EXPECT_EQ(ProxyAnswerContentType(page), "text/plain; charset=utf-8") << page;
  }
}

TEST(MetricsSamplerTest, SnapshotReadsEveryRevisionsCounters) {
  gateway::RoutingTable t;
  gateway::ServiceRoute pred;
  pred.ns = "default";
  pred.name = "iris";
  gateway::RevisionRoute r1;
  r1.revision = "iris-predictor-00001";
  r1.stats = std::make_shared<gateway::RevisionStats>();
  r1.stats->requests = 7;
  r1.stats->errors = 2;
  r1.stats->in_flight = 1;
  r1.stats->latency_buckets[gateway::LatencyBucket(1500)] = 7;
  r1.endpoints.resize(3);
  pred.revisions.push_back(r1);
  gateway::RevisionRoute no_stats;
  no_stats.revision = "iris-predictor-00002";
  pred.revisions.push_back(no_stats);
  t.services.push_back(pred);
  gateway::ServiceRoute tr;
  tr.ns = "default";
  tr.name = "iris";
  tr.component = "transformer";
  gateway::RevisionRoute r2;
  r2.revision = "iris-transformer-00001";
  r2.stats = std::make_shared<gateway::RevisionStats>();
  tr.revisions.push_back(r2);
  t.services.push_back(tr);

  auto snaps = SnapshotRoutes(t);
  ASSERT_EQ(snaps.size(), 2u);
  EXPECT_EQ(snaps[0].component, "predictor");
  EXPECT_EQ(snaps[0].revision, "iris-predictor-00001");
  EXPECT_EQ(snaps[0].requests, 7u);
  EXPECT_EQ(snaps[0].errors, 2u);
  EXPECT_EQ(snaps[0].in_flight, 1);
  EXPECT_EQ(snaps[0].replicas, 3);
  EXPECT_EQ(snaps[0].latency[gateway::LatencyBucket(1500)], 7u);
  EXPECT_EQ(snaps[1].component, "transformer");
  EXPECT_EQ(snaps[1].replicas, 0);

  MetricsSampler sampler;
  sampler.OnRoutes(std::make_shared<gateway::RoutingTable>(std::move(t)));
  sampler.SampleNow();
  const std::string j = sampler.WindowJson("default", "iris", 60);
  EXPECT_NE(j.find("\"revision\":\"iris-predictor-00001\""), std::string::npos) << j;
  EXPECT_NE(j.find("\"requests\":7"), std::string::npos) << j;
  EXPECT_EQ(sampler.WindowJson("default", "other", 60).find("iris"), std::string::npos);
}

}  // namespace
}  // namespace inferd::control
