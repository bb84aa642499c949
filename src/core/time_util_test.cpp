#include "core/time_util.hpp"

#include <gtest/gtest.h>

namespace streamer {
namespace {

TEST(TimeUtil, FormatsUtcSecondsAsIso8601) {
  using namespace std::chrono;
  EXPECT_EQ(format_iso8601(SystemClock::time_point{}), "1970-01-01T00:00:00Z");
  // 2024-02-29T23:59:07Z (a leap day), with a fraction that is truncated.
  const auto t = SystemClock::time_point{seconds(1709251147)} + milliseconds(999);
  EXPECT_EQ(format_iso8601(t), "2024-02-29T23:59:07Z");
  EXPECT_EQ(format_iso8601(SystemClock::time_point{seconds(4102444800)}), "2100-01-01T00:00:00Z");
}

TEST(TimeUtil, SecondsBetweenKeepsMicroseconds) {
  const auto a = std::chrono::steady_clock::time_point{};
  EXPECT_DOUBLE_EQ(seconds_between(a, a + std::chrono::microseconds(1500)), 0.0015);
}

}  // namespace
}  // namespace streamer
