#include "service/inline_budget.hpp"

#include <gtest/gtest.h>

namespace streamer {
namespace {

using namespace std::chrono_literals;

TEST(InlineBudget, RunsWithinTheBudgetAreNeitherCountedNorLogged) {
  std::atomic<std::uint64_t> overruns{0};
  InlineBudget budget(5ms, 10s, overruns);
  EXPECT_FALSE(budget.check("health", 50us));
  EXPECT_FALSE(budget.check("health", 5ms));
  EXPECT_EQ(overruns.load(), 0U);
}

TEST(InlineBudget, EveryOverrunIsCountedButLoggedAtMostOncePerInterval) {
  std::atomic<std::uint64_t> overruns{0};
  InlineBudget budget(5ms, 10s, overruns);
  const auto t0 = InlineBudget::Clock::now();
  EXPECT_TRUE(budget.check("echo", 6ms, t0));  // the first one is logged
  for (int i = 1; i <= 100; ++i)
    EXPECT_FALSE(budget.check("echo", 20ms, t0 + i * 50ms));  // within 10 s
  EXPECT_TRUE(budget.check("echo", 20ms, t0 + 10s));          // the interval has passed
  EXPECT_EQ(overruns.load(), 102U);
}

}  // namespace
}  // namespace streamer
