#include "gateway/accept_backoff.hpp"

#include <gtest/gtest.h>

namespace streamer {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

TEST(AcceptBackoff, DoublesUpToTheLongestAndResets) {
  AcceptBackoff b(milliseconds(50), milliseconds(1000));
  EXPECT_EQ(b.next_delay(), milliseconds(50));
  EXPECT_EQ(b.next_delay(), milliseconds(100));
  EXPECT_EQ(b.next_delay(), milliseconds(200));
  EXPECT_EQ(b.next_delay(), milliseconds(400));
  EXPECT_EQ(b.next_delay(), milliseconds(800));
  EXPECT_EQ(b.next_delay(), milliseconds(1000));
  EXPECT_EQ(b.next_delay(), milliseconds(1000));
  b.reset();
  EXPECT_EQ(b.next_delay(), milliseconds(50));
}

TEST(LogThrottle, OneLinePerIntervalWithTheCount) {
  LogThrottle t(seconds(10));
  const auto t0 = LogThrottle::Clock::time_point{} + seconds(1000);
  EXPECT_EQ(t.event(t0), 1u);  // the first failure is logged at once
  for (int i = 1; i <= 99; ++i) EXPECT_FALSE(t.event(t0 + milliseconds(i * 50)).has_value());
  EXPECT_EQ(t.event(t0 + seconds(10)), 100u);  // 99 suppressed + this one
  EXPECT_FALSE(t.event(t0 + seconds(11)).has_value());
  EXPECT_EQ(t.event(t0 + seconds(25)), 2u);
}

}  // namespace
}  // namespace streamer
