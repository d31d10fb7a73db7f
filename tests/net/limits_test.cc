// The pure decisions of the connection manager (net/limits.h, net/budget.h) on a fake clock: plain
// integers for "now", no sleeping.
#include "net/limits.h"

#include <gtest/gtest.h>

#include <cerrno>

#include "net/budget.h"

namespace inferd::net {
namespace {

constexpr int64_t kMs = 1'000'000;
constexpr int64_t kS = 1000 * kMs;

Timeouts Short() {
  Timeouts t;
  t.header_ms = 1000;
  t.body_ms = 2000;
  t.keepalive_ms = 3000;
  t.send_ms = 4000;
  return t;
}

TEST(Deadline, EachPhaseHasItsOwnLimit) {
  const Timeouts t = Short();
  const int64_t since = 5 * kS;
  struct Case {
    Phase p;
    int64_t limit_ms;
  };
  for (Case c : {Case{Phase::kHead, 1000}, Case{Phase::kBody, 2000}, Case{Phase::kIdle, 3000},
                 Case{Phase::kSend, 4000}, Case{Phase::kLinger, kLingerMs}}) {
    SCOPED_TRACE(PhaseName(c.p));
    EXPECT_EQ(PhaseLimitNs(c.p, t), c.limit_ms * kMs);
    EXPECT_FALSE(PastDeadline(c.p, since, since, t));
    EXPECT_FALSE(PastDeadline(c.p, since, since + c.limit_ms * kMs - 1, t));
    EXPECT_TRUE(PastDeadline(c.p, since, since + c.limit_ms * kMs, t));
    EXPECT_TRUE(PastDeadline(c.p, since, since + 1000 * kS, t));
  }
}

TEST(Deadline, BusyAndDoneNeverExpire) {
  const Timeouts t = Short();
  for (Phase p : {Phase::kBusy, Phase::kDone}) {
    EXPECT_EQ(PhaseLimitNs(p, t), -1);
    EXPECT_FALSE(PastDeadline(p, 0, int64_t{1} << 62, t));
  }
}

// A slowloris head: one byte every 500 ms never moves the head's timestamp (the whole head has `header`),
// while a body that keeps arriving does (each read is progress), and stalls once it stops.
TEST(Deadline, SlowHeadIsCutOffButAMovingBodyIsNot) {
  const Timeouts t = Short();
  int64_t now = 0;
  const int64_t head_since = now;  // kHead from accept; bytes do not refresh it
  bool closed_at_head = false;
  for (int i = 0; i < 10 && !closed_at_head; ++i) {
    now += 500 * kMs;
    closed_at_head = PastDeadline(Phase::kHead, head_since, now, t);
  }
  EXPECT_TRUE(closed_at_head);
  EXPECT_EQ(now, 1 * kS);

  int64_t body_since = 0;
  now = 0;
  for (int i = 0; i < 100; ++i) {  // 1.5 s between body reads, under the 2 s body timeout: alive for 150 s
    now += 1500 * kMs;
    ASSERT_FALSE(PastDeadline(Phase::kBody, body_since, now, t)) << i;
    body_since = now;  // Progress()
  }
  EXPECT_TRUE(PastDeadline(Phase::kBody, body_since, now + 2 * kS, t));
}

TEST(AcceptBackoff, DoublesToOneSecondAndResets) {
  AcceptBackoff b;
  std::vector<int64_t> got;
  for (int i = 0; i < 10; ++i) got.push_back(b.NextMs());
  EXPECT_EQ(got, (std::vector<int64_t>{10, 20, 40, 80, 160, 320, 640, 1000, 1000, 1000}));
  b.Reset();
  EXPECT_EQ(b.NextMs(), 10);
}

TEST(AcceptBackoff, ResourceErrorsPauseAndConnectionErrorsRetry) {
  for (int e : {EMFILE, ENFILE, ENOBUFS, ENOMEM, EBADF, EINVAL, 12345}) {
    EXPECT_EQ(ClassifyAcceptError(e), AcceptErrorKind::kResource) << e;
  }
  for (int e : {ECONNABORTED, EAGAIN, EINTR, EPROTO, EPERM, ENETUNREACH}) {
    EXPECT_EQ(ClassifyAcceptError(e), AcceptErrorKind::kConnection) << e;
  }
}

// At the fd limit an acceptor used to fail in a tight loop: with the backoff, over 2 s of continuous EMFILE it
// tries ~10 times and logs once.
TEST(AcceptBackoff, TwoSecondsOfEmfileAreAFewTriesAndOneLogLine) {
  AcceptBackoff b;
  LogLimiter log(10 * kS);
  int64_t now = 0;
  int tries = 0, lines = 0;
  while (now < 2 * kS) {
    ++tries;
    uint64_t suppressed = 0;
    if (log.Allow(now, &suppressed)) ++lines;
    now += b.NextMs() * kMs;
  }
  EXPECT_LE(tries, 10);
  EXPECT_EQ(lines, 1);
}

TEST(LogLimiter, OneLinePerIntervalWithTheSuppressedCount) {
  LogLimiter log(10 * kS);
  uint64_t suppressed = 99;
  EXPECT_TRUE(log.Allow(0, &suppressed));
  EXPECT_EQ(suppressed, 0u);
  for (int i = 1; i <= 1000; ++i) EXPECT_FALSE(log.Allow(i * kMs, &suppressed));
  EXPECT_FALSE(log.Allow(10 * kS - 1, &suppressed));
  EXPECT_TRUE(log.Allow(10 * kS, &suppressed));
  EXPECT_EQ(suppressed, 1001u);
  EXPECT_TRUE(log.Allow(25 * kS, &suppressed));
  EXPECT_EQ(suppressed, 0u);
}

TEST(MaxConnections, TenThousandOrThreeQuartersOfTheFileLimit) {
  EXPECT_EQ(DefaultMaxConnections(1 << 20), 10000);
  EXPECT_EQ(DefaultMaxConnections(20000), 10000);
  EXPECT_EQ(DefaultMaxConnections(1024), 768);
  EXPECT_EQ(DefaultMaxConnections(64), 48);
  EXPECT_EQ(DefaultMaxConnections(4), 16);  // never less than a handful
}

TEST(BodyBudget, TakesUpToItsCapacity) {
  BodyBudget b(100);
  EXPECT_TRUE(b.TryTake(60));
  EXPECT_FALSE(b.TryTake(41));
  EXPECT_TRUE(b.TryTake(40));
  EXPECT_FALSE(b.TryTake(1));
  b.Give(100);
  EXPECT_EQ(b.used(), 0u);
  EXPECT_FALSE(b.TryTake(101));
  EXPECT_FALSE(b.TryTake(~uint64_t{0}));  // no wrap-around
  EXPECT_EQ(b.used(), 0u);
}

TEST(BudgetCredit, SmallRequestsUseLocalCredit) {
  BodyBudget b(64ull << 20);
  BudgetCredit c(&b);
  ASSERT_TRUE(c.Reserve(1000));
  const uint64_t taken = b.used();
  EXPECT_EQ(taken, 1000 + BudgetCredit::kChunk);
  for (int i = 0; i < 200; ++i) {  // 200 more 1000-byte requests, one at a time: no new take
    ASSERT_TRUE(c.Reserve(1000));
    c.Release(1000);
  }
  EXPECT_EQ(b.used(), taken);
  c.Release(1000);
  EXPECT_EQ(b.used(), taken);  // kept locally (at most 2 chunks)
}

TEST(BudgetCredit, ReleasedBytesGoBackBeyondTwoChunks) {
  BodyBudget b(64ull << 20);
  {
    BudgetCredit c(&b);
    ASSERT_TRUE(c.Reserve(10ull << 20));
    c.Release(10ull << 20);
    EXPECT_LE(c.local(), 2 * BudgetCredit::kChunk);
    EXPECT_LE(b.used(), 2 * BudgetCredit::kChunk);
  }
  EXPECT_EQ(b.used(), 0u);  // the destructor gives everything back
}

TEST(BudgetCredit, RefusesPastTheBudgetAndAcceptsAgainAfterRelease) {
  BodyBudget b(200ull << 20);  // 200 MiB, 60 MiB bodies: three fit, the fourth does not
  BudgetCredit loop1(&b), loop2(&b);
  EXPECT_TRUE(loop1.Reserve(60ull << 20));
  EXPECT_TRUE(loop2.Reserve(60ull << 20));
  EXPECT_TRUE(loop1.Reserve(60ull << 20));
  EXPECT_FALSE(loop2.Reserve(60ull << 20));
  EXPECT_FALSE(loop1.Reserve(60ull << 20));
  loop1.Release(60ull << 20);
  EXPECT_TRUE(loop2.Reserve(60ull << 20));
  EXPECT_LE(b.used(), b.capacity());
}

}  // namespace
}  // namespace inferd::net
