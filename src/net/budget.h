// net/budget.h: the bound on request-body bytes in flight in one process.
//
// Contract:
// - BodyBudget (thread-safe): TryTake(n) succeeds while the bytes taken stay <= capacity; Give returns them.
//   One per process, shared by every listener and event loop of it (`inferd serve`: gateway and API).
// - BudgetCredit (one per event loop, that loop's thread only): requests reserve and release through it; it
//   takes from the budget in chunks of at least kChunk and keeps at most 2 x kChunk of released bytes before
//   giving them back, so small requests touch the shared atomic once per ~kChunk bytes instead of twice
//   each. The price: up to 2 x kChunk per loop may sit unused while another loop is refused. The destructor
//   gives everything back.
#pragma once

#include <atomic>
#include <cstdint>

namespace inferd::net {

class BodyBudget {
 public:
  explicit BodyBudget(uint64_t capacity) : capacity_(capacity) {}
  bool TryTake(uint64_t n);
  void Give(uint64_t n) { used_.fetch_sub(n, std::memory_order_relaxed); }
  uint64_t capacity() const { return capacity_; }
  uint64_t used() const { return used_.load(std::memory_order_relaxed); }

 private:
  const uint64_t capacity_;
  std::atomic<uint64_t> used_{0};
};

class BudgetCredit {
 public:
  static constexpr uint64_t kChunk = 256 * 1024;
  explicit BudgetCredit(BodyBudget* budget) : budget_(budget) {}
  ~BudgetCredit();
  BudgetCredit(const BudgetCredit&) = delete;
  BudgetCredit& operator=(const BudgetCredit&) = delete;

  bool Reserve(uint64_t n);
  void Release(uint64_t n);
  uint64_t local() const { return local_; }

 private:
  BodyBudget* budget_;
  uint64_t local_ = 0;  // taken from the budget, reserved by nobody
};

}  // namespace inferd::net
