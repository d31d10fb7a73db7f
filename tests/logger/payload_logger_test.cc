// The payload logger's queue and workers (logger/payload_logger.h) with a fake sender: events in order with
// their ids paired, modes, the 200-only rule, drops when the queue is full, retries then failure, Stop's
// grace, and /metrics series in the registry.
#include "logger/payload_logger.h"

#include <gtest/gtest.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <span>
#include <thread>

namespace inferd::logger {
namespace {

struct Sent {
  std::vector<std::string> headers;
  std::string body;
};

// Records every send; answers with `status` (0: no connection); optionally blocks until released.
struct FakeSink {
  std::mutex mu;
  std::condition_variable cv;
  std::vector<Sent> sent;
  std::vector<size_t> batches;  // the size of each batch a FakeBatchSender got
  std::atomic<long> status{200};
  std::deque<long> script;  // answered first, one per send, before `status`
  bool blocked = false;
  int calls = 0;

  void Release() {
    std::lock_guard<std::mutex> l(mu);
    blocked = false;
    cv.notify_all();
  }
  size_t Count() {
    std::lock_guard<std::mutex> l(mu);
    return sent.size();
  }
  std::vector<size_t> Batches() {
    std::lock_guard<std::mutex> l(mu);
    return batches;
  }
};

class FakeSender : public EventSender {
 public:
  explicit FakeSender(FakeSink* sink) : sink_(sink) {}
  net::ClientResult Send(const LoggerConfig&, const std::vector<std::string>& headers,
                         std::string_view body) override {
    std::unique_lock<std::mutex> l(sink_->mu);
    sink_->cv.wait(l, [&] { return !sink_->blocked; });
    ++sink_->calls;
    net::ClientResult r;
    long s = sink_->status.load();
    if (!sink_->script.empty()) {
      s = sink_->script.front();
      sink_->script.pop_front();
    }
    if (s == 0) {
      r.transport = net::Transport::kFailed;
      r.error = "Connection refused";
      return r;
    }
    r.status = s;
    if (s == 200) sink_->sent.push_back({headers, std::string(body)});
    return r;
  }

 private:
  FakeSink* sink_;
};

// The same, taking up to 16 events per batch (the default SendBatch: one Send each); records each batch's size.
class FakeBatchSender : public FakeSender {
 public:
  explicit FakeBatchSender(FakeSink* sink) : FakeSender(sink), sink_(sink) {}
  size_t MaxBatch(const LoggerConfig&) override { return 16; }
  void SendBatch(const LoggerConfig& c, std::span<const OutgoingEvent> events,
                 std::vector<net::ClientResult>* results) override {
    {
      std::lock_guard<std::mutex> l(sink_->mu);
      sink_->batches.push_back(events.size());
    }
    EventSender::SendBatch(c, events, results);
  }

 private:
  FakeSink* sink_;
};

std::string Header(const Sent& s, const std::string& name) {
  for (const auto& l : s.headers)
    if (l.starts_with(name + ": ")) return l.substr(name.size() + 2);
  return "";
}

LoggerConfig Config(LogMode mode = LogMode::kAll, int workers = 1) {
  LoggerConfig c;
  c.url = "http://sink";
  c.mode = mode;
  c.workers = workers;
  c.retry.initial = std::chrono::milliseconds(1);
  c.retry.max = std::chrono::milliseconds(2);
  return c;
}

bool WaitFor(const std::function<bool()>& pred) {
  for (int i = 0; i < 2000; ++i) {  // 20 s: generous on a loaded machine
    if (pred()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return pred();
}

using Headers = std::vector<std::pair<std::string, std::string>>;

TEST(PayloadLogger, RequestAndResponseShareTheIdInOrder) {
  FakeSink sink;
  PayloadLogger log(Config(), [&] { return std::make_unique<FakeSender>(&sink); }, nullptr, [] { return int64_t{7}; });
  Headers h = {{"ce-id", "abc"}, {"x-tenant", "t1"}};
  auto p = log.OnRequest("POST", "/v1/models/m:predict", h, "application/json", R"({"instances":[1]})");
  ASSERT_TRUE(p.has_value());
  EXPECT_EQ(p->id, "abc");  // the request's Ce-Id
  log.OnResponse(std::move(*p), 200, R"({"predictions":[2]})");
  auto q = log.OnRequest("POST", "/v1/models/m:predict", {}, "application/json", "second");
  ASSERT_TRUE(q.has_value());
  EXPECT_EQ(q->id.size(), 36u);  // a new UUID
  ASSERT_TRUE(WaitFor([&] { return sink.Count() == 3; }));
  log.Stop(std::chrono::milliseconds(1000));
  ASSERT_EQ(sink.sent.size(), 3u);
  EXPECT_EQ(Header(sink.sent[0], "Ce-Type"), "org.kubeflow.serving.inference.request");
  EXPECT_EQ(sink.sent[0].body, R"({"instances":[1]})");
  EXPECT_EQ(Header(sink.sent[1], "Ce-Type"), "org.kubeflow.serving.inference.response");
  EXPECT_EQ(Header(sink.sent[1], "Ce-Id"), "abc");
  EXPECT_EQ(Header(sink.sent[1], "Content-Type"), "application/json");  // the request's
  EXPECT_EQ(sink.sent[1].body, R"({"predictions":[2]})");
  EXPECT_EQ(sink.sent[2].body, "second");
  EXPECT_EQ(Header(sink.sent[0], "Ce-Time"), "1970-01-01T00:00:00.000000007Z");
  EXPECT_EQ(log.counts().sent, 3u);
}

TEST(PayloadLogger, ModesAndOnly200Responses) {
  FakeSink sink;
  {
    PayloadLogger log(Config(LogMode::kResponse), [&] { return std::make_unique<FakeSender>(&sink); }, nullptr);
    auto p = log.OnRequest("POST", "/x", {}, "", "req");
    log.OnResponse(std::move(*p), 200, "resp");
    auto q = log.OnRequest("POST", "/x", {}, "", "req2");
    log.OnResponse(std::move(*q), 400, "bad");  // not 200: no event, as KServe
    log.Stop(std::chrono::milliseconds(5000));
  }
  ASSERT_EQ(sink.sent.size(), 1u);
  EXPECT_EQ(sink.sent[0].body, "resp");
  sink.sent.clear();
  {
    PayloadLogger log(Config(LogMode::kRequest), [&] { return std::make_unique<FakeSender>(&sink); }, nullptr);
    auto p = log.OnRequest("POST", "/x", {}, "", "req");
    log.OnResponse(std::move(*p), 200, "resp");
    EXPECT_FALSE(log.OnRequest("GET", "/v2/health/ready", {{"user-agent", "kube-probe/1.30"}}, "", "").has_value());
    log.Stop(std::chrono::milliseconds(5000));
  }
  ASSERT_EQ(sink.sent.size(), 1u);
  EXPECT_EQ(sink.sent[0].body, "req");
}

TEST(PayloadLogger, FullQueueDropsAndCountsWithoutBlocking) {
  FakeSink sink;
  sink.blocked = true;  // a sink that does not answer
  prometheus::Registry registry;
  LoggerConfig c = Config(LogMode::kRequest);
  c.queue_capacity = 4;
  PayloadLogger log(c, [&] { return std::make_unique<FakeSender>(&sink); }, &registry);
  auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < 100; ++i) log.OnRequest("POST", "/x", {}, "", "b");
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));  // never waited for the sink
  auto n = log.counts();
  // One event is with the blocked worker (or still queued), 4 wait, the rest are dropped.
  EXPECT_GE(n.dropped, 95u);
  EXPECT_LE(n.dropped, 96u);
  std::string text = prometheus::TextSerializer().Serialize(registry.Collect());
  EXPECT_NE(text.find("inferd_logger_events_total{result=\"dropped\"} " + std::to_string(n.dropped)),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("inferd_logger_queue_depth"), std::string::npos);
  sink.Release();
  ASSERT_TRUE(WaitFor([&] { return log.counts().sent + log.counts().dropped == 100; }));
}

TEST(PayloadLogger, RetriesThenGivesUp) {
  FakeSink sink;
  sink.status = 0;  // connection refused
  LoggerConfig c = Config(LogMode::kRequest);
  c.retry.max_attempts = 3;
  PayloadLogger log(c, [&] { return std::make_unique<FakeSender>(&sink); }, nullptr);
  log.OnRequest("POST", "/x", {}, "", "b");
  ASSERT_TRUE(WaitFor([&] { return log.counts().failed == 1; }));
  EXPECT_EQ(log.counts().retries, 2u);
  {
    std::lock_guard<std::mutex> l(sink.mu);
    EXPECT_EQ(sink.calls, 3);
  }
  {
    std::lock_guard<std::mutex> l(sink.mu);
    sink.script = {503};  // then it recovers on the 2nd attempt
    sink.status = 200;
  }
  log.OnRequest("POST", "/x", {}, "", "c");
  ASSERT_TRUE(WaitFor([&] { return log.counts().sent == 1; }));
  EXPECT_EQ(log.counts().failed, 1u);
  EXPECT_EQ(log.counts().retries, 3u);
  sink.status = 400;  // refused: no retry
  log.OnRequest("POST", "/x", {}, "", "d");
  ASSERT_TRUE(WaitFor([&] { return log.counts().failed == 2; }));
  std::lock_guard<std::mutex> l(sink.mu);
  EXPECT_EQ(sink.calls, 6);  // 3 + 2 + 1
}

TEST(PayloadLogger, StopSendsWhatIsQueuedWithinTheGraceThenDrops) {
  FakeSink sink;
  {
    PayloadLogger log(Config(LogMode::kRequest, 2), [&] { return std::make_unique<FakeSender>(&sink); }, nullptr);
    for (int i = 0; i < 50; ++i) log.OnRequest("POST", "/x", {}, "", std::to_string(i));
    log.Stop(std::chrono::milliseconds(10000));
    EXPECT_EQ(log.counts().sent, 50u);
    log.OnRequest("POST", "/x", {}, "", "late");  // after Stop: dropped, counted
    EXPECT_EQ(log.counts().dropped, 1u);
  }
  FakeSink stuck;
  stuck.blocked = true;
  PayloadLogger log(Config(LogMode::kRequest, 1), [&] { return std::make_unique<FakeSender>(&stuck); }, nullptr);
  for (int i = 0; i < 5; ++i) log.OnRequest("POST", "/x", {}, "", "b");
  std::thread release([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    stuck.Release();
  });
  log.Stop(std::chrono::milliseconds(50));  // 4 still queued after the grace: dropped
  release.join();
  EXPECT_GE(log.counts().dropped, 4u);
  EXPECT_EQ(log.counts().sent + log.counts().dropped, 5u);
}

TEST(PayloadLogger, BatchesRetryOnlyTheirFailedEventsAndCountEachOnce) {
  FakeSink sink;
  sink.blocked = true;  // the first events queue up behind the first batch
  LoggerConfig c = Config(LogMode::kRequest);
  c.retry.max_attempts = 3;
  {
    std::lock_guard<std::mutex> l(sink.mu);
    sink.script = {200, 500, 200, 0, 400, 200};  // events 2 and 4 retried, event 5 refused
  }
  PayloadLogger log(c, [&] { return std::make_unique<FakeBatchSender>(&sink); }, nullptr);
  for (int i = 1; i <= 40; ++i) log.OnRequest("POST", "/x", {}, "", std::to_string(i));
  sink.Release();
  log.Stop(std::chrono::milliseconds(20000));
  auto n = log.counts();
  EXPECT_EQ(n.sent, 39u);
  EXPECT_EQ(n.failed, 1u);
  EXPECT_EQ(n.retries, 2u);
  EXPECT_EQ(n.dropped, 0u);
  std::map<std::string, int> times;
  for (const auto& e : sink.sent) ++times[e.body];
  EXPECT_EQ(times.size(), 39u);
  for (const auto& [body, k] : times) EXPECT_EQ(k, 1) << body;  // none delivered twice
  EXPECT_EQ(times.count("5"), 0u);
}

// Under load a worker wakes once per batch: with less than its sender's batch queued it waits (up to the linger) for
// more, and the event that completes the batch wakes it, long before the linger ends.
TEST(PayloadLogger, LingerGathersAFullBatchThenSendsItAtOnce) {
  FakeSink sink;
  LoggerConfig c = Config(LogMode::kRequest);
  c.batch_linger = std::chrono::seconds(60);  // only a full batch (16) can end the wait within the test
  PayloadLogger log(c, [&] { return std::make_unique<FakeBatchSender>(&sink); }, nullptr);
  for (int i = 0; i < 16; ++i) log.OnRequest("POST", "/x", {}, "", std::to_string(i));
  ASSERT_TRUE(WaitFor([&] { return log.counts().sent == 16; }));
  ASSERT_TRUE(WaitFor([&] { return log.counts().queued == 0; }));
  EXPECT_EQ(sink.Batches(), std::vector<size_t>{16});  // one batch, one wake-up
  for (int i = 0; i < 16; ++i) EXPECT_EQ(sink.sent[i].body, std::to_string(i));  // queue order
}

// Two workers lingering at once: each batch's worth wakes one of them (no wake-up lost between them), so every event
// goes out in full batches long before the linger ends.
TEST(PayloadLogger, LingeringWorkersEachWakeForABatch) {
  FakeSink sink;
  LoggerConfig c = Config(LogMode::kRequest, 2);
  c.batch_linger = std::chrono::seconds(60);
  PayloadLogger log(c, [&] { return std::make_unique<FakeBatchSender>(&sink); }, nullptr);
  for (int i = 0; i < 128; ++i) {
    log.OnRequest("POST", "/x", {}, "", std::to_string(i));
    if (i % 7 == 0) std::this_thread::yield();  // let the workers interleave with the pushes
  }
  ASSERT_TRUE(WaitFor([&] { return log.counts().sent == 128; }));
  const std::vector<size_t> batches = sink.Batches();
  EXPECT_EQ(batches, std::vector<size_t>(8, 16));
}

// Fewer events than a batch go out after the linger, together; Stop does not wait for the linger.
TEST(PayloadLogger, LingerSendsAPartialBatchAfterTheWaitAndStopCutsItShort) {
  FakeSink sink;
  LoggerConfig c = Config(LogMode::kRequest);
  c.batch_linger = std::chrono::milliseconds(300);
  {
    PayloadLogger log(c, [&] { return std::make_unique<FakeBatchSender>(&sink); }, nullptr);
    const auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < 3; ++i) log.OnRequest("POST", "/x", {}, "", std::to_string(i));
    ASSERT_TRUE(WaitFor([&] { return log.counts().sent == 3; }));
    EXPECT_GE(std::chrono::steady_clock::now() - t0, std::chrono::milliseconds(290));  // it waited for more
    EXPECT_EQ(sink.Batches(), std::vector<size_t>{3});
  }
  c.batch_linger = std::chrono::seconds(60);
  PayloadLogger log(c, [&] { return std::make_unique<FakeBatchSender>(&sink); }, nullptr);
  for (int i = 0; i < 3; ++i) log.OnRequest("POST", "/x", {}, "", "s" + std::to_string(i));
  std::this_thread::sleep_for(std::chrono::milliseconds(50));  // the worker is (most likely) lingering now
  const auto t0 = std::chrono::steady_clock::now();
  log.Stop(std::chrono::seconds(30));
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(10));  // not the 60 s linger
  EXPECT_EQ(log.counts().sent, 3u);
  EXPECT_EQ(log.counts().dropped, 0u);
}

// A queue smaller than the sender's batch: the worker takes what fits as soon as the queue is full (it does not wait
// for a batch that cannot come), the data path never blocks, and what does not fit is dropped and counted.
TEST(PayloadLogger, QueueFullUnderBatchingDropsAndCounts) {
  FakeSink sink;
  sink.blocked = true;
  prometheus::Registry registry;
  LoggerConfig c = Config(LogMode::kRequest);
  c.queue_capacity = 8;                        // less than FakeBatchSender's 16
  c.batch_linger = std::chrono::seconds(60);   // longer than WaitFor's 20 s: a wait for 16 would fail the test
  PayloadLogger log(c, [&] { return std::make_unique<FakeBatchSender>(&sink); }, &registry);
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < 100; ++i) log.OnRequest("POST", "/x", {}, "", std::to_string(i));
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));  // never waited
  ASSERT_TRUE(WaitFor([&] { return sink.Batches().size() == 1; }));  // 8 taken (blocked in the sink), up to 8 queued
  auto n = log.counts();
  EXPECT_GE(n.dropped, 84u);
  EXPECT_LE(n.dropped, 92u);
  std::string text = prometheus::TextSerializer().Serialize(registry.Collect());
  EXPECT_NE(text.find("inferd_logger_events_total{result=\"dropped\"} " + std::to_string(n.dropped)),
            std::string::npos)
      << text;
  sink.Release();
  ASSERT_TRUE(WaitFor([&] { return log.counts().sent + log.counts().dropped == 100; }));
  EXPECT_EQ(log.counts().sent, 100 - n.dropped);
  for (size_t b : sink.Batches()) EXPECT_LE(b, 8u);
}

// A backlog longer than a batch is taken from the front a batch at a time, in order, none lost or repeated; and a
// batch holds about 1 MiB of bodies at most (here 4 of 300 KiB: the last one taken while under the bound).
TEST(PayloadLogger, BacklogGoesOutInBatchesInOrderBoundedByBytes) {
  FakeSink sink;
  sink.blocked = true;
  LoggerConfig c = Config(LogMode::kRequest);
  c.queue_capacity = 200;
  {
    PayloadLogger log(c, [&] { return std::make_unique<FakeBatchSender>(&sink); }, nullptr);
    for (int i = 0; i < 150; ++i) log.OnRequest("POST", "/x", {}, "", std::to_string(i));
    sink.Release();
    log.Stop(std::chrono::seconds(20));
    EXPECT_EQ(log.counts().sent, 150u);
    EXPECT_EQ(log.counts().dropped, 0u);
  }
  ASSERT_EQ(sink.sent.size(), 150u);
  for (int i = 0; i < 150; ++i) EXPECT_EQ(sink.sent[i].body, std::to_string(i));
  for (size_t b : sink.Batches()) EXPECT_LE(b, 16u);

  FakeSink big_sink;
  big_sink.blocked = true;
  {
    PayloadLogger log(c, [&] { return std::make_unique<FakeBatchSender>(&big_sink); }, nullptr);
    for (int i = 0; i < 10; ++i) {
      log.OnRequest("POST", "/x", {}, "", std::string(300 * 1024, static_cast<char>('a' + i)));
    }
    big_sink.Release();
    log.Stop(std::chrono::seconds(20));
    EXPECT_EQ(log.counts().sent, 10u);
  }
  ASSERT_EQ(big_sink.sent.size(), 10u);
  for (int i = 0; i < 10; ++i) EXPECT_EQ(big_sink.sent[i].body[0], 'a' + i);
  for (size_t b : big_sink.Batches()) EXPECT_LE(b, 4u);
}

// The nice value of this process's threads, from /proc/self/task/*/stat (field 19).
std::vector<int> ThreadNices() {
  std::vector<int> out;
  for (const auto& t : std::filesystem::directory_iterator("/proc/self/task")) {
    std::ifstream f(t.path() / "stat");
    std::string stat((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    std::istringstream rest(stat.substr(stat.rfind(')') + 2));
    std::string field;
    for (int i = 3; i <= 19 && rest >> field; ++i) {
      if (i == 19) out.push_back(std::stoi(field));
    }
  }
  return out;
}

TEST(PayloadLogger, SenderNiceLowersOnlyTheWorkers) {
  FakeSink sink;
  LoggerConfig c = Config(LogMode::kRequest, 2);
  c.sender_nice = 7;
  ASSERT_TRUE(ValidateConfig(c).ok());
  const int base = getpriority(PRIO_PROCESS, 0);  // the test may itself run under nice
  const int lowered = std::min(19, base + 7);
  PayloadLogger log(c, [&] { return std::make_unique<FakeSender>(&sink); }, nullptr);
  log.OnRequest("POST", "/x", {}, "", "b");
  ASSERT_TRUE(WaitFor([&] { return log.counts().sent == 1; }));
  if (lowered != base) {  // at nice 19 already there is nothing to lower
    ASSERT_TRUE(WaitFor([&] {
      auto nices = ThreadNices();
      return std::count(nices.begin(), nices.end(), lowered) == 2;
    }));
  }
  EXPECT_EQ(getpriority(PRIO_PROCESS, 0), base);  // the calling (data path) thread keeps its priority
  c.sender_nice = 20;
  EXPECT_FALSE(ValidateConfig(c).ok());
}

}  // namespace
}  // namespace inferd::logger
