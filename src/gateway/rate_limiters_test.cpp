#include "gateway/rate_limiters.hpp"

#include <gtest/gtest.h>

namespace streamer {
namespace {
using namespace std::chrono_literals;

TEST(ConnectionRateLimiter, AllowsTheLimitPerMinutePerIp) {
  ConnectionRateLimiter limiter(3);
  SteadyTime t0 = std::chrono::steady_clock::now();
  EXPECT_EQ(limiter.admit("1.1.1.1", t0), 0);
  EXPECT_EQ(limiter.admit("1.1.1.1", t0 + 1s), 0);
  EXPECT_EQ(limiter.admit("1.1.1.1", t0 + 2s), 0);
  auto wait = limiter.admit("1.1.1.1", t0 + 3s);
  EXPECT_GT(wait, 56'000);
  EXPECT_LE(wait, 57'000);
  EXPECT_EQ(limiter.admit("2.2.2.2", t0 + 3s), 0);   // another address is separate
  EXPECT_EQ(limiter.admit("1.1.1.1", t0 + 61s), 0);  // the oldest left the window
}

TEST(TokenBucket, AllowsABurstThenRefills) {
  TokenBucket bucket(10);
  SteadyTime t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < 10; ++i) EXPECT_EQ(bucket.take(t0), 0) << i;
  auto wait = bucket.take(t0);
  EXPECT_GE(wait, 1);
  EXPECT_LE(wait, 100);
  EXPECT_EQ(bucket.take(t0 + 100ms), 0);  // one token back after 1/10 s
  EXPECT_GT(bucket.take(t0 + 100ms), 0);
}

}  // namespace
}  // namespace streamer
