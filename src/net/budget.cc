#include "net/budget.h"

namespace inferd::net {

bool BodyBudget::TryTake(uint64_t n) {
  uint64_t cur = used_.load(std::memory_order_relaxed);
  do {
    if (n > capacity_ || cur > capacity_ - n) return false;
  } while (!used_.compare_exchange_weak(cur, cur + n, std::memory_order_relaxed));
  return true;
}

BudgetCredit::~BudgetCredit() {
  if (local_ != 0) budget_->Give(local_);
}

bool BudgetCredit::Reserve(uint64_t n) {
  if (n <= local_) {
    local_ -= n;
    return true;
  }
  const uint64_t missing = n - local_;
  // A chunk more than needed when the budget has room (the next small requests need no atomic), else just
  // what is missing.
  if (budget_->TryTake(missing + kChunk)) {
    local_ = kChunk;
    return true;
  }
  if (budget_->TryTake(missing)) {
    local_ = 0;
    return true;
  }
  return false;
}

void BudgetCredit::Release(uint64_t n) {
  local_ += n;
  if (local_ > 2 * kChunk) {
    budget_->Give(local_ - kChunk);
    local_ = kChunk;
  }
}

}  // namespace inferd::net
