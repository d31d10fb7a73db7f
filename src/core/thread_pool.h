// core/thread_pool.h: a fixed pool of worker threads with a bounded queue, for slow work (model
// loads, unloads) that must never run on an I/O thread.
//
// Contract: Submit may be called from any thread; it returns false (and does not run the task) when
// the queue holds `max_queue` tasks or the pool is stopping. The destructor runs the tasks already
// queued, then joins the workers. Tasks must not throw.
#pragma once

#include <deque>
#include <functional>
#include <thread>
#include <vector>

#include "core/mutex.h"

namespace inferd {

class ThreadPool {
 public:
  ThreadPool(int threads, size_t max_queue);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  bool Submit(std::function<void()> task) EXCLUDES(mu_);

 private:
  void Run() EXCLUDES(mu_);

  Mutex mu_;
  CondVar cv_;
  std::deque<std::function<void()>> queue_ GUARDED_BY(mu_);
  const size_t max_queue_;
  bool stopping_ GUARDED_BY(mu_) = false;
  std::vector<std::thread> threads_;
};

}  // namespace inferd
