// The payload logger's pure parts (logger/event.h, logger/sink_url.h): modes, sink URLs, metadata, the event's
// headers, the retry decision and the log gate.
#include "logger/event.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <ctime>
#include <string>
#include <vector>

#include "logger/sink_url.h"

namespace inferd::logger {
namespace {

std::string HeaderValue(const std::vector<std::string>& lines, const std::string& name) {
  for (const auto& l : lines) {
    if (l.starts_with(name + ": ")) return l.substr(name.size() + 2);
    if (l == name + ";") return "";
  }
  return "<absent>";
}

TEST(LogMode, KServeValuesOnly) {
  EXPECT_EQ(*ParseLogMode("all"), LogMode::kAll);
  EXPECT_EQ(*ParseLogMode("request"), LogMode::kRequest);
  EXPECT_EQ(*ParseLogMode("response"), LogMode::kResponse);
  for (const char* bad : {"", "ALL", "both", "requests"}) {
    auto m = ParseLogMode(bad);
    ASSERT_FALSE(m.ok()) << bad;
    EXPECT_NE(m.status().message().find("invalid logger type"), std::string::npos);
  }
  EXPECT_TRUE(LogsRequests(LogMode::kAll) && LogsResponses(LogMode::kAll));
  EXPECT_TRUE(LogsRequests(LogMode::kRequest) && !LogsResponses(LogMode::kRequest));
  EXPECT_TRUE(!LogsRequests(LogMode::kResponse) && LogsResponses(LogMode::kResponse));
}

TEST(SinkUrl, AcceptsHttpSinks) {
  for (const char* ok : {"http://default-broker", "http://127.0.0.1:8080/events", "https://logs.example.com/x?y=1",
                         "HTTP://Sink.Default.svc.cluster.local:80", "http://[::1]:9000/", "http://user:pw@host/p"}) {
    EXPECT_EQ(CheckSinkUrl(ok), "") << ok;
  }
}

TEST(SinkUrl, RefusesMalformed) {
  EXPECT_NE(CheckSinkUrl(""), "");
  EXPECT_NE(CheckSinkUrl("default-broker"), "");
  EXPECT_NE(CheckSinkUrl("ftp://host/"), "");
  EXPECT_NE(CheckSinkUrl("http://"), "");
  EXPECT_NE(CheckSinkUrl("http:///path"), "");
  EXPECT_NE(CheckSinkUrl("http://host:0/"), "");
  EXPECT_NE(CheckSinkUrl("http://host:65536/"), "");
  EXPECT_NE(CheckSinkUrl("http://host:80x/"), "");
  EXPECT_NE(CheckSinkUrl("http://host:/"), "");
  EXPECT_NE(CheckSinkUrl("http://ho st/"), "");
  EXPECT_NE(CheckSinkUrl("http://host/\r\nX-Injected: 1"), "");
  EXPECT_NE(CheckSinkUrl("http://[::1/"), "");
  EXPECT_NE(CheckSinkUrl("http://h%41st/"), "");
  EXPECT_NE(CheckSinkUrl("http://host/" + std::string(3000, 'a')), "");
  EXPECT_NE(CheckSinkUrl("s3://bucket/logs").find("blob-storage logging"), std::string::npos);
}

TEST(Config, BoundsNameTheFlag) {
  LoggerConfig c;
  EXPECT_TRUE(ValidateConfig(c).ok());  // off
  c.url = "http://sink:8080";
  EXPECT_TRUE(ValidateConfig(c).ok());
  c.url = "sink:8080";
  EXPECT_NE(ValidateConfig(c).message().find("--log_url"), std::string::npos);
  c.url = "http://sink";
  c.queue_capacity = 0;
  EXPECT_NE(ValidateConfig(c).message().find("--log_queue_size"), std::string::npos);
  c.queue_capacity = 10;
  c.workers = 0;
  EXPECT_NE(ValidateConfig(c).message().find("--log_workers"), std::string::npos);
  c.workers = 1;
  c.timeout_s = 0;
  EXPECT_NE(ValidateConfig(c).message().find("--log_timeout"), std::string::npos);
  c.timeout_s = 1;
  c.batch_linger = std::chrono::milliseconds(1001);
  EXPECT_NE(ValidateConfig(c).message().find("--log_batch_linger_ms"), std::string::npos);
  c.batch_linger = std::chrono::milliseconds(0);  // send at once: allowed
  EXPECT_TRUE(ValidateConfig(c).ok());
  c.retry.max_attempts = 0;
  EXPECT_NE(ValidateConfig(c).message().find("--log_retries"), std::string::npos);
  c.retry.max_attempts = 1;
  c.annotations = {"novalue"};
  EXPECT_NE(ValidateConfig(c).message().find("--log_metadata_annotations"), std::string::npos);
}

TEST(Metadata, MatchesNamesCaseInsensitivelyKeepingOrder) {
  std::vector<std::pair<std::string, std::string>> h = {
      {"x-request-id", "r1"}, {"x-tenant", "a"}, {"content-type", "application/json"}, {"x-tenant", "b\"c"}};
  EXPECT_EQ(MetadataJson(h, {"X-Request-Id", "X-Tenant", "X-Missing"}),
            R"({"X-Request-Id":["r1"],"X-Tenant":["a","b\"c"]})");
  EXPECT_EQ(MetadataJson(h, {}), "{}");
  EXPECT_EQ(MetadataJson({}, {"X-Tenant"}), "{}");
}

TEST(Unlogged, ProbesAndScrapes) {
  EXPECT_TRUE(IsUnlogged("GET", "/v2/health/ready", "kube-probe/1.29"));
  EXPECT_TRUE(IsUnlogged("POST", "/v2/repository/index", "inferd-supervisor"));
  EXPECT_TRUE(IsUnlogged("GET", "/metrics", "curl/8"));
  EXPECT_FALSE(IsUnlogged("POST", "/v1/models/m:predict", "curl/8"));
  EXPECT_FALSE(IsUnlogged("GET", "/v1/models/m", ""));
  EXPECT_FALSE(IsUnlogged("POST", "/metrics", ""));
}

TEST(Time, Rfc3339WithNanoseconds) {
  EXPECT_EQ(Rfc3339Nano(0), "1970-01-01T00:00:00.000000000Z");
  EXPECT_EQ(Rfc3339Nano(int64_t{1796619662} * 1000000000 + 123456789), "2026-12-07T05:01:02.123456789Z");
}

// The hand-written formatter against libc's calendar (gmtime_r + strftime) across the range of int64 nanoseconds
// (1678..2262): leap days, the ends of years and months, times before 1970.
TEST(Time, MatchesLibcCalendar) {
  std::vector<int64_t> secs = {0, -1, 951782400 /* 2000-02-29 */, 951868799, 4107542399 /* 2100-02-28T23:59:59 */,
                               1798761599 /* 2026-12-31T23:59:59 */, 1798761600, -2208988800 /* 1900-01-01 */,
                               9000000000 /* 2255 */, -9000000000 /* 1684 */};
  uint64_t x = 88172645463325252ull;  // xorshift: a deterministic spread over 1684..2255
  for (int i = 0; i < 2000; ++i) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    secs.push_back(static_cast<int64_t>(x % 18000000000ull) - 9000000000);
  }
  for (int64_t s : secs) {
    std::time_t t = static_cast<std::time_t>(s);
    std::tm tm{};
    ASSERT_NE(gmtime_r(&t, &tm), nullptr);
    char want[64];
    std::strftime(want, sizeof want, "%Y-%m-%dT%H:%M:%S", &tm);
    const int64_t frac = static_cast<int64_t>(x % 1000000000);
    const std::string digits = std::to_string(frac);
    EXPECT_EQ(Rfc3339Nano(s * 1000000000 + frac), std::string(want) + "." + std::string(9 - digits.size(), '0') + digits + "Z")
        << s;
  }
  EXPECT_EQ(Rfc3339Nano(-1), "1969-12-31T23:59:59.999999999Z");
}

TEST(Event, HeadersAreKServes) {
  LoggerConfig c;
  c.url = "http://sink";
  c.inference_service = "iris";
  c.ns = "default";
  c.component = "predictor";
  Record r{EventType::kRequest, "id-1", 1000000000, "application/json", R"({"X-Tenant":["a"]})", "{}"};
  auto h = EventHeaders(r, c, 2000000000);
  EXPECT_EQ(HeaderValue(h, "Ce-Specversion"), "1.0");
  EXPECT_EQ(HeaderValue(h, "Ce-Id"), "id-1");
  EXPECT_EQ(HeaderValue(h, "Ce-Type"), "org.kubeflow.serving.inference.request");
  EXPECT_EQ(HeaderValue(h, "Ce-Source"), "http://localhost:9081/");
  EXPECT_EQ(HeaderValue(h, "Ce-Time"), "1970-01-01T00:00:01.000000000Z");
  EXPECT_EQ(HeaderValue(h, "Ce-Recordedtime"), "1970-01-01T00:00:02.000000000Z");
  EXPECT_EQ(HeaderValue(h, "Ce-Inferenceservicename"), "iris");
  EXPECT_EQ(HeaderValue(h, "Ce-Namespace"), "default");
  EXPECT_EQ(HeaderValue(h, "Ce-Component"), "predictor");
  EXPECT_EQ(HeaderValue(h, "Ce-Endpoint"), "");  // sent empty, as KServe
  EXPECT_EQ(HeaderValue(h, "Ce-Metadata"), R"({"X-Tenant":["a"]})");
  EXPECT_EQ(HeaderValue(h, "Content-Type"), "application/json");
  EXPECT_EQ(HeaderValue(h, "Ce-Annotations"), "<absent>");  // only when annotations were given, as KServe
  c.annotations = {"team=vision", "a=b=c"};
  h = EventHeaders(r, c, 2000000000);
  EXPECT_EQ(HeaderValue(h, "Ce-Annotations"), R"({"a":"b=c","team":"vision"})");
  r = Record(EventType::kResponse, "evil\r\nX-Injected: 1", 1000000000, "", R"({"X-Tenant":["a"]})", "{}");
  h = EventHeaders(r, c, 2000000000);
  EXPECT_EQ(HeaderValue(h, "Ce-Type"), "org.kubeflow.serving.inference.response");
  EXPECT_EQ(HeaderValue(h, "Ce-Id"), "evil  X-Injected: 1");  // one line, nothing injected
  for (const auto& l : h) EXPECT_EQ(l.find('\n'), std::string::npos) << l;
  EXPECT_NE(std::find(h.begin(), h.end(), "Content-Type:"), h.end());  // curl's default removed
}

// The request header lines of the pipelined sender carry the same headers as libcurl's lines.
TEST(Event, HeaderLinesMatchTheCurlLines) {
  LoggerConfig c;
  c.url = "http://sink";
  c.component = "predictor";
  c.annotations = {"team=vision"};
  for (int with_type = 0; with_type < 2; ++with_type) {
    const Record r(EventType::kResponse, "evil\r\nX-Injected: 1", 1000000000, with_type ? "application/json" : "", "",
                   "{}");
    std::string expected;
    for (const std::string& l : EventHeaders(r, c, 2000000000)) {
      if (l == "Expect:" || l == "Content-Type:") continue;  // libcurl's own conventions, nothing sent
      expected += l.ends_with(';') && l.find(':') == std::string::npos ? l.substr(0, l.size() - 1) + ": " : l;
      expected += "\r\n";
    }
    std::string got;
    EventHeadLines(c).Append(r, Rfc3339Nano(2000000000), &got);
    EXPECT_EQ(got, expected);
    EXPECT_EQ(got.find("\nX-Injected"), std::string::npos);
    EXPECT_NE(got.find("Ce-Endpoint: \r\n"), std::string::npos);  // sent empty
  }
}

// The lines formatted once per config are the config's: a record's own values go between them, cleaned, and a
// config that differs in any header field is told apart (the sender rebuilds its lines).
TEST(Event, HeadLinesFormatTheConfigOnce) {
  LoggerConfig c;
  c.url = "http://sink";
  c.inference_service = "iris\r\nX-Evil: 1";
  c.endpoint = "e";
  const EventHeadLines lines(c);
  Record r{EventType::kRequest, "id-1", 1000000000, "text/plain", "{\"k\":[\"a\"]}", "body"};
  const Record meta_crlf(EventType::kRequest, "id-1", 1000000000, "text/plain", "{\"k\":[\"a\r\nb\"]}", "body");
  for (const Record& rec : {r, meta_crlf}) {
    std::string got;
    lines.Append(rec, "REC", &got);
    EXPECT_EQ(got.find("\nX-Evil"), std::string::npos) << got;
    EXPECT_EQ(got.find("a\r\nb"), std::string::npos) << got;
    EXPECT_NE(got.find("Ce-Inferenceservicename: iris  X-Evil: 1\r\n"), std::string::npos) << got;
    EXPECT_NE(got.find("Ce-Recordedtime: REC\r\n"), std::string::npos) << got;
    EXPECT_NE(got.find("Ce-Time: 1970-01-01T00:00:01.000000000Z\r\n"), std::string::npos) << got;
    EXPECT_TRUE(got.ends_with("Content-Type: text/plain\r\n")) << got;
  }
  std::string twice;
  lines.Append(r, "REC", &twice);
  lines.Append(r, "REC", &twice);
  std::string once;
  lines.Append(r, "REC", &once);
  EXPECT_EQ(twice, once + once);  // appends, keeps nothing from one event to the next
  EXPECT_TRUE(lines.Matches(c));
  for (int field = 0; field < 6; ++field) {
    LoggerConfig d = c;
    if (field == 0) d.source_uri = "http://other/";
    if (field == 1) d.inference_service = "other";
    if (field == 2) d.ns = "other";
    if (field == 3) d.component = "other";
    if (field == 4) d.endpoint = "";
    if (field == 5) d.annotations = {"a=b"};
    EXPECT_FALSE(lines.Matches(d)) << field;
  }
  LoggerConfig e = c;
  e.queue_capacity = 7;  // not a header field
  EXPECT_TRUE(lines.Matches(e));
}

net::ClientResult Answer(long status) {
  net::ClientResult r;
  r.status = status;
  return r;
}
net::ClientResult NoAnswer(net::Transport t) {
  net::ClientResult r;
  r.transport = t;
  return r;
}

TEST(Retry, DeliveredRetriedOrGivenUp) {
  RetryPolicy p;  // 3 attempts, 100 ms doubling to 2 s
  EXPECT_EQ(NextStep(Answer(200), 1, p).step, Step::kDelivered);
  EXPECT_EQ(NextStep(Answer(202), 3, p).step, Step::kDelivered);
  Decision d = NextStep(NoAnswer(net::Transport::kFailed), 1, p);
  EXPECT_EQ(d.step, Step::kRetry);
  EXPECT_EQ(d.delay, std::chrono::milliseconds(100));
  d = NextStep(Answer(503), 2, p);
  EXPECT_EQ(d.step, Step::kRetry);
  EXPECT_EQ(d.delay, std::chrono::milliseconds(200));
  EXPECT_EQ(NextStep(Answer(503), 3, p).step, Step::kGiveUp);  // attempts spent
  EXPECT_EQ(NextStep(Answer(429), 1, p).step, Step::kRetry);
  EXPECT_EQ(NextStep(Answer(408), 1, p).step, Step::kRetry);
  EXPECT_EQ(NextStep(Answer(400), 1, p).step, Step::kGiveUp);  // the sink refuses the event: retrying won't help
  EXPECT_EQ(NextStep(Answer(404), 1, p).step, Step::kGiveUp);
  EXPECT_EQ(NextStep(NoAnswer(net::Transport::kBadRequest), 1, p).step, Step::kGiveUp);
  p.max_attempts = 10;
  EXPECT_EQ(NextStep(Answer(500), 9, p).delay, std::chrono::milliseconds(2000));  // capped
  p.max_attempts = 1;
  EXPECT_EQ(NextStep(Answer(500), 1, p).step, Step::kGiveUp);
}

TEST(LogGate, OneLinePerIntervalCountingTheRest) {
  LogGate g;
  uint64_t held = 99;
  EXPECT_TRUE(g.Allow(1000, 100, &held));
  EXPECT_EQ(held, 0u);
  EXPECT_FALSE(g.Allow(1050, 100, &held));
  EXPECT_FALSE(g.Allow(1099, 100, &held));
  EXPECT_TRUE(g.Allow(1100, 100, &held));
  EXPECT_EQ(held, 2u);
}

}  // namespace
}  // namespace inferd::logger
