#include "core/status.h"

#include <gtest/gtest.h>

#include "core/thread_pool.h"
#include "core/uuid.h"

namespace inferd {
namespace {

StatusOr<int> Half(int x) {
  if (x % 2) return InvalidArgument("x: odd");
  return x / 2;
}

Status UseHalf(int x, int* out) {
  ASSIGN_OR_RETURN(*out, Half(x));
  return Status::Ok();
}

TEST(Status, CodesMessagesAndMacros) {
  EXPECT_TRUE(Status::Ok().ok());
  Status s = NotFound("m");
  EXPECT_EQ(s.ToString(), "NOT_FOUND: m");
  EXPECT_EQ(s.WithPrefix("f").message(), "f: m");
  int v = 0;
  EXPECT_TRUE(UseHalf(4, &v).ok());
  EXPECT_EQ(v, 2);
  Status e = UseHalf(3, &v);
  EXPECT_EQ(e.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(e.message(), "x: odd");
}

TEST(Uuid, Version4Format) {
  std::string a = NewUuid(), b = NewUuid();
  EXPECT_EQ(a.size(), 36u);
  EXPECT_EQ(a[14], '4');
  EXPECT_NE(a, b);
}

TEST(ThreadPool, RunsTasksAndBoundsTheQueue) {
  std::atomic<int> n{0};
  {
    ThreadPool pool(2, 1000);
    for (int i = 0; i < 100; ++i) EXPECT_TRUE(pool.Submit([&] { n++; }));
  }
  EXPECT_EQ(n.load(), 100);
  std::mutex mu;
  mu.lock();
  ThreadPool small(1, 1);
  EXPECT_TRUE(small.Submit([&] { std::lock_guard<std::mutex> l(mu); }));  // occupies the worker
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  EXPECT_TRUE(small.Submit([] {}));   // fills the queue
  EXPECT_FALSE(small.Submit([] {}));  // refused
  mu.unlock();
}

}  // namespace
}  // namespace inferd
