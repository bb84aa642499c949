#include "lib/histogram.hpp"

#include <gtest/gtest.h>

TEST(LatencyHistogram, QuantilesWithinRelativeError) {
  bench::LatencyHistogram h;
  for (uint64_t v = 1; v <= 100000; ++v) h.record(v * 1000);  // 1 us .. 100 ms
  EXPECT_EQ(h.count(), 100000u);
  EXPECT_NEAR(double(h.quantile(0.5)), 50e6, 50e6 * 0.02);
  EXPECT_NEAR(double(h.quantile(0.99)), 99e6, 99e6 * 0.02);
  EXPECT_NEAR(double(h.quantile(0.999)), 99.9e6, 99.9e6 * 0.02);
  EXPECT_EQ(h.max(), 100000000u);
}

TEST(LatencyHistogram, SmallValuesExactAndMerge) {
  bench::LatencyHistogram a, b;
  a.record(5);
  b.record(100);
  a.merge(b);
  EXPECT_EQ(a.quantile(0.5), 5u);
  EXPECT_EQ(a.quantile(1.0), 100u);
  EXPECT_EQ(bench::LatencyHistogram{}.quantile(0.99), 0u);
}
