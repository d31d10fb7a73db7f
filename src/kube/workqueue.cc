#include "kube/workqueue.h"

#include <algorithm>
#include <cmath>

#include "core/backoff.h"

namespace inferd::kube {

// ---- RateLimiter -----------------------------------------------------------------------------------------

RateLimiter::RateLimiter(RateLimiterOptions options) : options_(options), tokens_(options.burst) {}

std::chrono::nanoseconds RateLimiter::When(const std::string& key, int64_t now_ns) {
  using std::chrono::nanoseconds;
  const int failures = failures_[key]++;
  const nanoseconds per_item = ExponentialBackoff(failures, options_.base_delay, options_.max_delay);
  // Token bucket (golang.org/x/time/rate Reserve): refill by elapsed time, take one token; a negative
  // balance is a reservation whose wait is its deficit / qps.
  if (!started_) {
    started_ = true;
    last_ns_ = now_ns;
  }
  if (now_ns > last_ns_) {
    tokens_ = std::min<double>(options_.burst, tokens_ + (now_ns - last_ns_) * 1e-9 * options_.qps);
    last_ns_ = now_ns;
  }
  tokens_ -= 1;
  nanoseconds bucket{0};
  if (tokens_ < 0 && options_.qps > 0) bucket = nanoseconds(static_cast<int64_t>(std::ceil(-tokens_ / options_.qps * 1e9)));
  return std::max(per_item, bucket);
}

int RateLimiter::NumRequeues(const std::string& key) const {
  auto it = failures_.find(key);
  return it == failures_.end() ? 0 : it->second;
}

// ---- WorkQueue -------------------------------------------------------------------------------------------

WorkQueue::WorkQueue(const Clock* clock, WorkQueueOptions options)
    : clock_(clock), options_(options), limiter_(options.rate) {}

bool WorkQueue::FullLocked() const { return dirty_.size() + delayed_due_.size() >= options_.max_keys; }

bool WorkQueue::AddLocked(const std::string& key) {
  if (shutting_down_) return false;
  if (dirty_.count(key)) return true;  // already queued (or re-queued at Done)
  if (FullLocked()) {
    ++dropped_;
    return false;
  }
  dirty_.insert(key);
  if (processing_.count(key)) return true;  // Done queues it
  queue_.push_back(key);
  cv_.Signal();
  return true;
}

bool WorkQueue::Add(const std::string& key) {
  MutexLock lock(mu_);
  return AddLocked(key);
}

bool WorkQueue::AddAfter(const std::string& key, std::chrono::nanoseconds delay) {
  MutexLock lock(mu_);
  if (shutting_down_) return false;
  if (delay.count() <= 0) return AddLocked(key);
  const int64_t due = clock_->NowNs() + delay.count();
  auto it = delayed_due_.find(key);
  if (it != delayed_due_.end()) {
    if (it->second <= due) return true;  // an earlier wake-up is already pending
    auto range = delayed_.equal_range(it->second);
    for (auto d = range.first; d != range.second; ++d) {
      if (d->second == key) {
        delayed_.erase(d);
        break;
      }
    }
  } else if (FullLocked()) {
    ++dropped_;
    return false;
  }
  delayed_.emplace(due, key);
  delayed_due_[key] = due;
  cv_.Signal();  // a waiting Get may need to wake earlier
  return true;
}

bool WorkQueue::AddRateLimited(const std::string& key) {
  std::chrono::nanoseconds delay;
  {
    MutexLock lock(mu_);
    delay = limiter_.When(key, clock_->NowNs());
  }
  return AddAfter(key, delay);
}

void WorkQueue::Forget(const std::string& key) {
  MutexLock lock(mu_);
  limiter_.Forget(key);
}

int WorkQueue::NumRequeues(const std::string& key) const {
  MutexLock lock(mu_);
  return limiter_.NumRequeues(key);
}

void WorkQueue::PromoteDueLocked(int64_t now_ns) {
  while (!delayed_.empty() && delayed_.begin()->first <= now_ns) {
    std::string key = std::move(delayed_.begin()->second);
    delayed_.erase(delayed_.begin());
    delayed_due_.erase(key);
    if (!dirty_.count(key)) {
      dirty_.insert(key);
      if (!processing_.count(key)) queue_.push_back(key);
    }
  }
}

std::optional<std::string> WorkQueue::PopLocked() {
  if (shutting_down_) return std::nullopt;
  PromoteDueLocked(clock_->NowNs());
  if (queue_.empty()) return std::nullopt;
  std::string key = std::move(queue_.front());
  queue_.pop_front();
  dirty_.erase(key);
  processing_.insert(key);
  return key;
}

std::optional<std::string> WorkQueue::TryGet() {
  MutexLock lock(mu_);
  return PopLocked();
}

std::optional<std::string> WorkQueue::Get(std::chrono::milliseconds max_wait) {
  using std::chrono::nanoseconds;
  const auto deadline = std::chrono::steady_clock::now() + max_wait;
  MutexLock lock(mu_);
  for (;;) {
    if (auto key = PopLocked()) return key;
    if (shutting_down_) return std::nullopt;
    nanoseconds wait = deadline - std::chrono::steady_clock::now();
    if (wait.count() <= 0) return std::nullopt;
    // Wake when the earliest delayed key falls due (on the queue's clock, read as real time) or sooner.
    if (!delayed_.empty()) wait = std::min(wait, nanoseconds(std::max<int64_t>(delayed_.begin()->first - clock_->NowNs(), 0)));
    cv_.WaitFor(mu_, std::max(wait, nanoseconds(std::chrono::milliseconds(1))));
  }
}

void WorkQueue::Done(const std::string& key) {
  MutexLock lock(mu_);
  processing_.erase(key);
  if (dirty_.count(key) && !shutting_down_) {
    queue_.push_back(key);
    cv_.Signal();
  }
}

void WorkQueue::ShutDown() {
  MutexLock lock(mu_);
  shutting_down_ = true;
  cv_.SignalAll();
}

bool WorkQueue::ShuttingDown() const {
  MutexLock lock(mu_);
  return shutting_down_;
}

size_t WorkQueue::Len() const {
  MutexLock lock(mu_);
  return queue_.size();
}

size_t WorkQueue::DelayedLen() const {
  MutexLock lock(mu_);
  return delayed_due_.size();
}

size_t WorkQueue::Processing() const {
  MutexLock lock(mu_);
  return processing_.size();
}

uint64_t WorkQueue::dropped() const {
  MutexLock lock(mu_);
  return dropped_;
}

std::optional<int64_t> WorkQueue::NextDueNs() const {
  MutexLock lock(mu_);
  if (delayed_.empty()) return std::nullopt;
  return delayed_.begin()->first;
}

}  // namespace inferd::kube
