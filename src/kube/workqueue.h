// kube/workqueue.h: the controller work queue with client-go's semantics (client-go util/workqueue doc.go,
// default_rate_limiters.go), for the operator's reconcile loop.
//
// Contract:
// - Keys are strings ("namespace/name"). The queue is FIFO and de-duplicated: a key added while it waits
//   is queued once. A key handed out by Get is "processing" until Done(key): it is never handed out twice
//   at once; adding it meanwhile marks it dirty, and Done puts it back at the end of the queue.
// - AddAfter(key, delay) adds it once the delay has passed on the queue's Clock (the earliest of several
//   pending delays wins). AddRateLimited(key) = AddAfter(key, limiter.When(key)): the max of a per-key
//   exponential backoff base * 2^failures (5 ms, capped at 1000 s) and an overall token bucket (10 qps,
//   burst 100). Forget(key) resets the key's failures (call it when a reconcile succeeds).
// - Bounded: at most max_keys entries are queued (or dirty while processing) plus waiting (delayed) at
//   once (a key both queued and delayed counts twice). An Add of a key not already queued beyond that is
//   refused (returns false, counted in dropped()); the next event or relist of the key adds it again. Keys
//   already queued are always accepted (de-duplication costs nothing).
// - Time comes from a Clock (RealClock in production, ManualClock in tests: no sleeps in tests). TryGet
//   never blocks; Get(max_wait) waits (real time) for a key at most max_wait, or until ShutDown.
// - Thread-safe (one mutex, one condition variable).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>

#include "core/mutex.h"
#include "kube/clock.h"

namespace inferd::kube {

struct RateLimiterOptions {
  std::chrono::nanoseconds base_delay = std::chrono::milliseconds(5);
  std::chrono::nanoseconds max_delay = std::chrono::seconds(1000);
  double qps = 10;
  int burst = 100;
};

// client-go's DefaultControllerRateLimiter: max(per-item exponential, overall token bucket). Not
// thread-safe by itself (the WorkQueue calls it under its mutex).
class RateLimiter {
 public:
  explicit RateLimiter(RateLimiterOptions options = {});
  // The delay before `key` may be retried, counting this as one more failure of it; takes a bucket token
  // (reserving a future one when the bucket is empty, as golang.org/x/time/rate's Reserve does).
  std::chrono::nanoseconds When(const std::string& key, int64_t now_ns);
  void Forget(const std::string& key) { failures_.erase(key); }
  int NumRequeues(const std::string& key) const;

 private:
  RateLimiterOptions options_;
  std::unordered_map<std::string, int> failures_;
  double tokens_;
  int64_t last_ns_ = 0;
  bool started_ = false;
};

struct WorkQueueOptions {
  size_t max_keys = 100000;
  RateLimiterOptions rate;
};

class WorkQueue {
 public:
  explicit WorkQueue(const Clock* clock = RealClock::Get(), WorkQueueOptions options = {});

  // Adds key now. False when refused (queue full, or shut down).
  bool Add(const std::string& key);
  // Adds key once delay has passed (delay <= 0: now).
  bool AddAfter(const std::string& key, std::chrono::nanoseconds delay);
  bool AddRateLimited(const std::string& key);
  void Forget(const std::string& key);
  int NumRequeues(const std::string& key) const;

  // A ready key (due delayed keys are moved in first), or nullopt. Never blocks.
  std::optional<std::string> TryGet();
  // Like TryGet, waiting up to max_wait (real time) for one; nullopt on timeout or shutdown.
  std::optional<std::string> Get(std::chrono::milliseconds max_wait);
  // Processing of key finished; a re-add that came meanwhile queues it again.
  void Done(const std::string& key);

  // Wakes every Get; later Adds are refused; TryGet/Get return nullopt.
  void ShutDown();
  bool ShuttingDown() const;

  size_t Len() const;         // keys ready to be handed out
  size_t DelayedLen() const;  // keys waiting for their delay
  size_t Processing() const;
  uint64_t dropped() const;   // Adds refused because the queue was full
  // When the earliest delayed key becomes due (Clock ns), or nullopt when none waits.
  std::optional<int64_t> NextDueNs() const;

 private:
  bool AddLocked(const std::string& key) REQUIRES(mu_);
  bool FullLocked() const REQUIRES(mu_);
  void PromoteDueLocked(int64_t now_ns) REQUIRES(mu_);
  std::optional<std::string> PopLocked() REQUIRES(mu_);

  const Clock* clock_;
  const WorkQueueOptions options_;
  mutable Mutex mu_;
  CondVar cv_;
  std::deque<std::string> queue_ GUARDED_BY(mu_);
  std::unordered_set<std::string> dirty_ GUARDED_BY(mu_);       // queued, or to be re-queued at Done
  std::unordered_set<std::string> processing_ GUARDED_BY(mu_);  // handed out, not Done yet
  std::multimap<int64_t, std::string> delayed_ GUARDED_BY(mu_);  // due ns -> key
  std::unordered_map<std::string, int64_t> delayed_due_ GUARDED_BY(mu_);  // key -> its earliest due ns
  RateLimiter limiter_ GUARDED_BY(mu_);
  bool shutting_down_ GUARDED_BY(mu_) = false;
  uint64_t dropped_ GUARDED_BY(mu_) = 0;
};

}  // namespace inferd::kube
