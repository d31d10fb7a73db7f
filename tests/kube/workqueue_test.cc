// The work queue's client-go semantics, on a ManualClock (no sleeps).
#include "kube/workqueue.h"

#include <gtest/gtest.h>

#include <thread>

namespace inferd::kube {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

TEST(WorkQueue, FifoAndDeduplicated) {
  ManualClock clock;
  WorkQueue q(&clock);
  EXPECT_TRUE(q.Add("ns/a"));
  EXPECT_TRUE(q.Add("ns/b"));
  EXPECT_TRUE(q.Add("ns/a"));  // already queued: once
  EXPECT_EQ(q.Len(), 2u);
  EXPECT_EQ(q.TryGet(), "ns/a");
  EXPECT_EQ(q.TryGet(), "ns/b");
  EXPECT_EQ(q.TryGet(), std::nullopt);
}

TEST(WorkQueue, NeverConcurrentReAddDeferredUntilDone) {
  ManualClock clock;
  WorkQueue q(&clock);
  q.Add("k");
  ASSERT_EQ(q.TryGet(), "k");
  q.Add("k");  // while processing: dirty, not handed out
  q.Add("k");
  EXPECT_EQ(q.Len(), 0u);
  EXPECT_EQ(q.TryGet(), std::nullopt);
  EXPECT_EQ(q.Processing(), 1u);
  q.Done("k");
  EXPECT_EQ(q.Len(), 1u);  // re-queued once
  EXPECT_EQ(q.TryGet(), "k");
  q.Done("k");
  EXPECT_EQ(q.TryGet(), std::nullopt);  // no extra copy
}

TEST(WorkQueue, DoneWithoutReAddDoesNotRequeue) {
  ManualClock clock;
  WorkQueue q(&clock);
  q.Add("k");
  ASSERT_EQ(q.TryGet(), "k");
  q.Done("k");
  EXPECT_EQ(q.Len(), 0u);
}

TEST(WorkQueue, AddAfterWaitsForTheClock) {
  ManualClock clock;
  WorkQueue q(&clock);
  q.AddAfter("k", seconds(5));
  EXPECT_EQ(q.TryGet(), std::nullopt);
  EXPECT_EQ(q.DelayedLen(), 1u);
  ASSERT_TRUE(q.NextDueNs().has_value());
  EXPECT_EQ(*q.NextDueNs(), clock.NowNs() + 5'000'000'000);
  clock.Advance(seconds(4));
  EXPECT_EQ(q.TryGet(), std::nullopt);
  clock.Advance(seconds(1));
  EXPECT_EQ(q.TryGet(), "k");
  EXPECT_EQ(q.DelayedLen(), 0u);
}

TEST(WorkQueue, AddAfterEarliestWinsAndZeroDelayIsAdd) {
  ManualClock clock;
  WorkQueue q(&clock);
  q.AddAfter("k", seconds(10));
  q.AddAfter("k", seconds(2));   // earlier: replaces
  q.AddAfter("k", seconds(20));  // later: ignored
  EXPECT_EQ(q.DelayedLen(), 1u);
  clock.Advance(seconds(2));
  EXPECT_EQ(q.TryGet(), "k");
  q.Done("k");
  clock.Advance(seconds(30));
  EXPECT_EQ(q.TryGet(), std::nullopt);  // the 10 s and 20 s requests were folded into the 2 s one
  q.AddAfter("z", milliseconds(0));
  EXPECT_EQ(q.TryGet(), "z");
}

TEST(WorkQueue, DelayedKeyAlreadyQueuedIsHandedOutOnce) {
  ManualClock clock;
  WorkQueue q(&clock);
  q.Add("k");
  q.AddAfter("k", seconds(1));
  clock.Advance(seconds(1));
  EXPECT_EQ(q.TryGet(), "k");
  EXPECT_EQ(q.TryGet(), std::nullopt);
}

TEST(RateLimiter, PerItemExponentialBackoffCapped) {
  RateLimiterOptions o;
  o.qps = 1e9;  // bucket out of the way
  o.burst = 1000000;
  o.max_delay = milliseconds(100);
  RateLimiter rl(o);
  const int64_t now = 1;
  EXPECT_EQ(rl.When("a", now), milliseconds(5));
  EXPECT_EQ(rl.When("a", now), milliseconds(10));
  EXPECT_EQ(rl.When("a", now), milliseconds(20));
  EXPECT_EQ(rl.When("b", now), milliseconds(5));  // per item
  EXPECT_EQ(rl.When("a", now), milliseconds(40));
  EXPECT_EQ(rl.When("a", now), milliseconds(80));
  EXPECT_EQ(rl.When("a", now), milliseconds(100));  // capped
  EXPECT_EQ(rl.When("a", now), milliseconds(100));
  EXPECT_EQ(rl.NumRequeues("a"), 7);
  rl.Forget("a");
  EXPECT_EQ(rl.NumRequeues("a"), 0);
  EXPECT_EQ(rl.When("a", now), milliseconds(5));
}

TEST(RateLimiter, DefaultCapIs1000Seconds) {
  RateLimiter rl;
  std::chrono::nanoseconds d{};
  for (int i = 0; i < 60; ++i) d = rl.When("a", 1'000'000'000LL * 1000 * i);  // bucket refilled each time
  EXPECT_EQ(d, seconds(1000));
}

TEST(RateLimiter, TokenBucketTenQpsBurstHundred) {
  RateLimiter rl;  // 10 qps, burst 100
  const int64_t now = 5'000'000'000;
  for (int i = 0; i < 100; ++i) {
    EXPECT_EQ(rl.When("k" + std::to_string(i), now), milliseconds(5)) << i;  // the burst: per-item only
  }
  // The 101st distinct key waits for a token: 100 ms at 10 qps; the 102nd 200 ms.
  EXPECT_EQ(rl.When("x1", now), milliseconds(100));
  EXPECT_EQ(rl.When("x2", now), milliseconds(200));
  // One second later ten tokens came back, two of them already reserved.
  EXPECT_EQ(rl.When("x3", now + 1'000'000'000), milliseconds(5));
}

TEST(WorkQueue, AddRateLimitedAndForget) {
  ManualClock clock;
  WorkQueue q(&clock);
  q.AddRateLimited("k");
  EXPECT_EQ(q.TryGet(), std::nullopt);
  clock.Advance(milliseconds(5));
  ASSERT_EQ(q.TryGet(), "k");
  q.Done("k");
  q.AddRateLimited("k");  // second failure: 10 ms
  clock.Advance(milliseconds(9));
  EXPECT_EQ(q.TryGet(), std::nullopt);
  clock.Advance(milliseconds(1));
  ASSERT_EQ(q.TryGet(), "k");
  EXPECT_EQ(q.NumRequeues("k"), 2);
  q.Forget("k");
  q.Done("k");
  EXPECT_EQ(q.NumRequeues("k"), 0);
  q.AddRateLimited("k");
  clock.Advance(milliseconds(5));
  EXPECT_EQ(q.TryGet(), "k");
}

TEST(WorkQueue, BoundedRefusesNewKeysWhenFull) {
  ManualClock clock;
  WorkQueueOptions o;
  o.max_keys = 3;
  WorkQueue q(&clock, o);
  EXPECT_TRUE(q.Add("a"));
  EXPECT_TRUE(q.Add("b"));
  EXPECT_TRUE(q.AddAfter("c", seconds(1)));
  EXPECT_FALSE(q.Add("d"));
  EXPECT_FALSE(q.AddAfter("e", seconds(1)));
  EXPECT_TRUE(q.Add("a"));  // already queued: accepted
  EXPECT_EQ(q.dropped(), 2u);
  ASSERT_EQ(q.TryGet(), "a");
  EXPECT_TRUE(q.Add("d"));  // room again
}

TEST(WorkQueue, ShutDownWakesGetAndRefusesAdds) {
  WorkQueue q;  // real clock
  std::optional<std::string> got = "unset";
  std::thread t([&] { got = q.Get(std::chrono::milliseconds(60000)); });
  q.ShutDown();
  t.join();
  EXPECT_EQ(got, std::nullopt);
  EXPECT_TRUE(q.ShuttingDown());
  EXPECT_FALSE(q.Add("k"));
}

TEST(WorkQueue, BlockingGetReturnsAnAddFromAnotherThread) {
  WorkQueue q;
  std::thread t([&] { q.Add("ns/x"); });
  auto got = q.Get(std::chrono::milliseconds(30000));
  t.join();
  EXPECT_EQ(got, "ns/x");
  EXPECT_EQ(q.Get(std::chrono::milliseconds(1)), std::nullopt);  // times out
}

TEST(WorkQueue, ConcurrentWorkersNeverShareAKey) {
  WorkQueue q;
  std::atomic<int> in_flight{0}, violations{0}, processed{0};
  std::vector<std::thread> workers;
  for (int w = 0; w < 4; ++w) {
    workers.emplace_back([&] {
      while (auto key = q.Get(std::chrono::milliseconds(2000))) {
        if (in_flight.fetch_add(1) != 0) violations.fetch_add(1);  // only one key exists
        std::this_thread::yield();
        in_flight.fetch_sub(1);
        processed.fetch_add(1);
        q.Done(*key);
      }
    });
  }
  for (int i = 0; i < 2000; ++i) q.Add("only");
  while (q.Len() > 0 || q.Processing() > 0) std::this_thread::yield();
  q.ShutDown();
  for (auto& t : workers) t.join();
  EXPECT_EQ(violations.load(), 0);
  EXPECT_GE(processed.load(), 1);
  EXPECT_LE(processed.load(), 2000);
}

}  // namespace
}  // namespace inferd::kube
