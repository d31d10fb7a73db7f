#include "core/mutex.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <deque>
#include <thread>
#include <vector>

namespace inferd {
namespace {

using namespace std::chrono_literals;

// A bounded queue in the annotated style: what the analysis checks (scripts/check_thread_safety.sh) is
// that every access to queue_ / closed_ holds mu_.
class Queue {
 public:
  void Push(int v) EXCLUDES(mu_) {
    {
      MutexLock lock(mu_);
      queue_.push_back(v);
    }
    cv_.Signal();
  }
  void Close() EXCLUDES(mu_) {
    {
      MutexLock lock(mu_);
      closed_ = true;
    }
    cv_.SignalAll();
  }
  // Blocks until a value or Close; false when closed and drained.
  bool Pop(int* out) EXCLUDES(mu_) {
    MutexLock lock(mu_);
    cv_.Wait(mu_, [this]() REQUIRES(mu_) { return closed_ || !queue_.empty(); });
    return TakeLocked(out);
  }
  // False when nothing came within `timeout`.
  bool PopFor(int* out, std::chrono::milliseconds timeout) EXCLUDES(mu_) {
    MutexLock lock(mu_);
    if (!cv_.WaitFor(mu_, timeout, [this]() REQUIRES(mu_) { return closed_ || !queue_.empty(); })) return false;
    return TakeLocked(out);
  }
  size_t size() EXCLUDES(mu_) {
    MutexLock lock(mu_);
    return queue_.size();
  }

 private:
  bool TakeLocked(int* out) REQUIRES(mu_) {
    if (queue_.empty()) return false;
    *out = queue_.front();
    queue_.pop_front();
    return true;
  }

  Mutex mu_;
  CondVar cv_;
  std::deque<int> queue_ GUARDED_BY(mu_);
  bool closed_ GUARDED_BY(mu_) = false;
};

TEST(MutexTest, TryLockFailsWhileHeldElsewhere) {
  Mutex mu;
  mu.Lock();
  bool got = false;
  std::thread t([&] {
    if (mu.TryLock()) {
      got = true;
      mu.Unlock();
    }
  });
  t.join();
  EXPECT_FALSE(got);
  mu.Unlock();
  bool relocked = false;
  if (mu.TryLock()) {
    relocked = true;
    mu.Unlock();
  }
  EXPECT_TRUE(relocked);
}

TEST(MutexTest, MutexLockExcludesOtherThreads) {
  Mutex mu;
  int counter = 0;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 10000; ++i) {
        MutexLock lock(mu);
        ++counter;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(counter, 40000);
}

TEST(MutexTest, SharedMutexAdmitsReadersTogetherAndWritersAlone) {
  SharedMutex mu;
  {
    ReaderLock a(mu);
    bool second_reader = false;
    std::thread t([&] {
      ReaderLock b(mu);  // would block forever if readers excluded each other
      second_reader = true;
    });
    t.join();
    EXPECT_TRUE(second_reader);
  }
  int value = 0;
  std::vector<std::thread> writers;
  for (int t = 0; t < 4; ++t) {
    writers.emplace_back([&] {
      for (int i = 0; i < 10000; ++i) {
        WriterLock lock(mu);
        ++value;
      }
    });
  }
  for (auto& t : writers) t.join();
  EXPECT_EQ(value, 40000);
}

TEST(CondVarTest, WaitForTimesOutWithoutASignal) {
  Queue q;
  int v = 0;
  EXPECT_FALSE(q.PopFor(&v, 20ms));
  q.Push(7);
  ASSERT_TRUE(q.PopFor(&v, 20ms));  // already true: no wait
  EXPECT_EQ(v, 7);
}

TEST(CondVarTest, WaitWakesOnSignalAndCloseWakesEveryWaiter) {
  Queue q;
  std::vector<int> got;
  Mutex got_mu;
  std::vector<std::thread> consumers;
  for (int t = 0; t < 3; ++t) {
    consumers.emplace_back([&] {
      int v;
      while (q.Pop(&v)) {
        MutexLock lock(got_mu);
        got.push_back(v);
      }
    });
  }
  for (int i = 0; i < 100; ++i) q.Push(i);
  // Generous bound: the consumers drain 100 values (no timing assertion beyond "eventually").
  for (int i = 0; i < 1000 && q.size() > 0; ++i) std::this_thread::sleep_for(10ms);
  q.Close();
  for (auto& t : consumers) t.join();  // returns only if Close woke every blocked Pop
  std::sort(got.begin(), got.end());
  ASSERT_EQ(got.size(), 100u);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(got[i], i);
}

TEST(CondVarTest, WaitUntilReturnsThePredicateAtTheDeadline) {
  Mutex mu;
  CondVar cv;
  MutexLock lock(mu);
  EXPECT_FALSE(cv.WaitUntil(mu, std::chrono::steady_clock::now() + 5ms, [] { return false; }));
  EXPECT_TRUE(cv.WaitUntil(mu, std::chrono::steady_clock::now() - 1s, [] { return true; }));
}

}  // namespace
}  // namespace inferd
