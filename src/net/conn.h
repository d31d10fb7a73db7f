// net/conn.h: the per-event-loop half of inferd's connection manager: every open client connection of a
// listener is a TrackedConn registered with its loop's LoopConns, which closes the ones past their deadline.
//
// Contract:
// - One LoopConns per event loop and listener (or per loop for several listeners that share a cap: the model
//   server's TCP port and Unix socket). All its methods, and every TrackedConn method, run on that loop's
//   thread (the io_context's single runner); nothing is locked.
// - Deadlines: a connection records its Phase and a timestamp as plain integers (SetPhase / Progress: two
//   stores, no syscall, no timer). While at least one connection is open, a sweep runs every kSweepMs on the
//   loop: it reads the clock once, closes every connection PastDeadline (net/limits.h) through its
//   OnExpired, and the timestamps connections record in between are that sweep's clock (so a deadline is
//   honoured to within about 2 x kSweepMs). With no connection open the sweep stops (an idle process does
//   not wake up).
// - Connection cap: ConnGate counts the open connections of one listener over all its loops; the acceptor
//   enters it (net/listener.h) and the TrackedConn leaves it when destroyed.
// - Body budget: ReserveBody/ReleaseBody go through the loop's BudgetCredit (net/budget.h); what a connection
//   still holds is released when it is destroyed.
// - Lifetime: LoopConns may be destroyed while connections still exist (their handlers are destroyed later,
//   with the io_context): it detaches them first (their cap entry and reservation are returned then), and a
//   detached TrackedConn touches nothing.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

#include "net/budget.h"
#include "net/limits.h"

namespace inferd::net {

constexpr int64_t kSweepMs = 250;

struct ConnGate {
  explicit ConnGate(int64_t max) : max(max) {}
  const int64_t max;
  std::atomic<int64_t> open{0};
  bool TryEnter() {
    if (open.fetch_add(1, std::memory_order_relaxed) < max) return true;
    open.fetch_sub(1, std::memory_order_relaxed);
    return false;
  }
  void Leave() { open.fetch_sub(1, std::memory_order_relaxed); }
};

class TrackedConn;

class LoopConns {
 public:
  // name: the listener, for log lines ("http", "gateway", "api").
  LoopConns(boost::asio::io_context& ctx, std::string name, const Timeouts& timeouts, std::shared_ptr<ConnGate> gate,
            std::shared_ptr<BodyBudget> budget);
  ~LoopConns();
  LoopConns(const LoopConns&) = delete;
  LoopConns& operator=(const LoopConns&) = delete;

  int64_t now_ns() const { return now_ns_; }
  size_t open() const { return count_; }
  const std::string& name() const { return name_; }
  ConnGate& gate() { return *gate_; }
  const std::shared_ptr<ConnGate>& gate_ptr() const { return gate_; }
  const BodyBudget& budget() const { return *budget_; }

 private:
  friend class TrackedConn;
  void Add(TrackedConn* c);
  void Remove(TrackedConn* c);
  void Arm();
  void Sweep();

  std::string name_;
  Timeouts timeouts_;
  std::shared_ptr<ConnGate> gate_;
  std::shared_ptr<BodyBudget> budget_;
  BudgetCredit credit_;
  boost::asio::steady_timer timer_;
  bool armed_ = false;
  int64_t now_ns_ = 0;
  TrackedConn* head_ = nullptr;
  size_t count_ = 0;
  LogLimiter expired_log_;
  uint64_t expired_[static_cast<int>(Phase::kDone) + 1] = {};  // since the last line
};

// Base of a client connection (a Session). The derived class closes its socket in OnExpired.
class TrackedConn {
 public:
  TrackedConn(const TrackedConn&) = delete;
  TrackedConn& operator=(const TrackedConn&) = delete;

  Phase phase() const { return phase_; }

 protected:
  // A connection just accepted (it holds one entry of loop->gate()): phase kHead from now.
  explicit TrackedConn(LoopConns* loop);
  virtual ~TrackedConn();

  void SetPhase(Phase p) {
    phase_ = p;
    since_ns_ = loop_ ? loop_->now_ns_ : 0;
  }
  // The current phase made progress (kBody: body bytes read; kSend: answer bytes written).
  void Progress() { since_ns_ = loop_ ? loop_->now_ns_ : 0; }
  // Adds n bytes to this connection's body reservation; false (nothing reserved) when the budget is spent.
  bool ReserveBody(uint64_t n);
  // For a body of unknown length (chunked) that has grown to `total` bytes: reserves so that the reservation
  // covers it, in steps of kGrowthStep; false when the budget is spent.
  bool ReserveGrowth(uint64_t total);
  static constexpr uint64_t kGrowthStep = 64 * 1024;
  void ReleaseBody();
  uint64_t reserved_body() const { return reserved_; }
  uint64_t body_budget() const { return loop_ ? loop_->budget().capacity() : 0; }
  // Past its deadline (phase() says which; it is kDone afterwards): close the socket. Loop thread.
  virtual void OnExpired(Phase was) = 0;

 private:
  friend class LoopConns;
  LoopConns* loop_;
  TrackedConn* prev_ = nullptr;
  TrackedConn* next_ = nullptr;
  Phase phase_ = Phase::kHead;
  int64_t since_ns_ = 0;
  uint64_t reserved_ = 0;
};

}  // namespace inferd::net
