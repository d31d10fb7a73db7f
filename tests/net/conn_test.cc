// LoopConns on a real io_context: the sweep closes what is past its deadline and nothing else, the cap entry
// and the body reservation come back when a connection ends (or when the loop's bookkeeping goes first).
#include "net/conn.h"

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>

#include <memory>
#include <vector>

namespace inferd::net {
namespace {

class FakeConn : public TrackedConn {
 public:
  explicit FakeConn(LoopConns* loop) : TrackedConn(loop) {}
  using TrackedConn::Progress;
  using TrackedConn::ReleaseBody;
  using TrackedConn::ReserveBody;
  using TrackedConn::SetPhase;
  void OnExpired(Phase was) override { expired.push_back(was); }
  std::vector<Phase> expired;
};

Timeouts Short() {
  Timeouts t;
  t.header_ms = 100;
  t.body_ms = 100;
  t.keepalive_ms = 100;
  t.send_ms = 100;
  return t;
}

TEST(LoopConns, SweepClosesExpiredPhasesOnly) {
  boost::asio::io_context ctx;
  auto gate = std::make_shared<ConnGate>(10);
  auto budget = std::make_shared<BodyBudget>(1 << 20);
  LoopConns loop(ctx, "test", Short(), gate, budget);
  ASSERT_TRUE(gate->TryEnter());
  ASSERT_TRUE(gate->TryEnter());
  auto head = std::make_unique<FakeConn>(&loop);  // kHead from "accept"
  auto busy = std::make_unique<FakeConn>(&loop);
  busy->SetPhase(Phase::kBusy);
  EXPECT_EQ(loop.open(), 2u);
  ctx.run_for(std::chrono::milliseconds(800));
  ASSERT_EQ(head->expired.size(), 1u);  // once: it is kDone afterwards
  EXPECT_EQ(head->expired[0], Phase::kHead);
  EXPECT_EQ(head->phase(), Phase::kDone);
  EXPECT_TRUE(busy->expired.empty());
  head.reset();
  busy.reset();
  EXPECT_EQ(loop.open(), 0u);
  EXPECT_EQ(gate->open.load(), 0);
}

TEST(LoopConns, ReservationsComeBackWhenTheConnectionEnds) {
  boost::asio::io_context ctx;
  auto gate = std::make_shared<ConnGate>(10);
  auto budget = std::make_shared<BodyBudget>(10 << 20);
  {
    LoopConns loop(ctx, "test", Short(), gate, budget);
    ASSERT_TRUE(gate->TryEnter());
    auto c = std::make_unique<FakeConn>(&loop);
    EXPECT_TRUE(c->ReserveBody(6 << 20));
    EXPECT_FALSE(c->ReserveBody(6 << 20));  // 12 MiB > 10 MiB
    EXPECT_GE(budget->used(), 6u << 20);
    c.reset();
    EXPECT_LE(budget->used(), 2 * BudgetCredit::kChunk);  // the loop keeps at most two chunks
  }
  EXPECT_EQ(budget->used(), 0u);
  EXPECT_EQ(gate->open.load(), 0);
}

TEST(LoopConns, ConnectionsOutlivingTheLoopAreDetached) {
  boost::asio::io_context ctx;
  auto gate = std::make_shared<ConnGate>(10);
  auto budget = std::make_shared<BodyBudget>(10 << 20);
  std::unique_ptr<FakeConn> c;
  {
    LoopConns loop(ctx, "test", Short(), gate, budget);
    ASSERT_TRUE(gate->TryEnter());
    c = std::make_unique<FakeConn>(&loop);
    ASSERT_TRUE(c->ReserveBody(1 << 20));
  }
  EXPECT_EQ(gate->open.load(), 0);
  EXPECT_EQ(budget->used(), 0u);
  c->SetPhase(Phase::kIdle);  // touches nothing
  EXPECT_TRUE(c->ReserveBody(1));
  c.reset();
  EXPECT_EQ(gate->open.load(), 0);
}

TEST(ConnGate, RefusesPastItsMax) {
  ConnGate g(2);
  EXPECT_TRUE(g.TryEnter());
  EXPECT_TRUE(g.TryEnter());
  EXPECT_FALSE(g.TryEnter());
  EXPECT_EQ(g.open.load(), 2);
  g.Leave();
  EXPECT_TRUE(g.TryEnter());
}

}  // namespace
}  // namespace inferd::net
