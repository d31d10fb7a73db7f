// core/backoff.h: the exponential backoff of replica restarts, model-load retries and download retries.
#include "core/backoff.h"

#include <gtest/gtest.h>

#include <chrono>
#include <climits>

namespace inferd {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

TEST(BackoffTest, DoublesFromInitialUpToMax) {
  EXPECT_EQ(ExponentialBackoff(0, milliseconds(10), milliseconds(1000)), milliseconds(10));
  EXPECT_EQ(ExponentialBackoff(1, milliseconds(10), milliseconds(1000)), milliseconds(20));
  EXPECT_EQ(ExponentialBackoff(6, milliseconds(10), milliseconds(1000)), milliseconds(640));
  EXPECT_EQ(ExponentialBackoff(7, milliseconds(10), milliseconds(1000)), milliseconds(1000));
  EXPECT_EQ(ExponentialBackoff(INT_MAX, seconds(5), seconds(300)), seconds(300));  // no overflow
  EXPECT_EQ(ExponentialBackoff(-3, seconds(5), seconds(300)), seconds(5));
  EXPECT_EQ(ExponentialBackoff(2, seconds(5), seconds(1)), seconds(1));  // max below initial wins
}

}  // namespace
}  // namespace inferd
