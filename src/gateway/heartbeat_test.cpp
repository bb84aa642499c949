#include "gateway/heartbeat.hpp"

#include <gtest/gtest.h>

namespace streamer {
namespace {
using namespace std::chrono_literals;
using Due = Heartbeat::Due;

TEST(Heartbeat, PingsOnScheduleAndClosesWhenSilent) {
  const auto t0 = Heartbeat::Clock::now();
  Heartbeat hb(t0, 30s, 120s, 7200s);
  EXPECT_EQ(hb.next_due(), t0 + 30s);
  EXPECT_EQ(hb.check(t0 + 29s), Due::kNothing);
  EXPECT_EQ(hb.check(t0 + 30s), Due::kPing);
  EXPECT_EQ(hb.next_due(), t0 + 60s);
  EXPECT_EQ(hb.check(t0 + 31s), Due::kNothing);
  hb.seen(t0 + 100s);                          // a pong or any frame
  EXPECT_EQ(hb.check(t0 + 200s), Due::kPing);  // late: the next one is 30 s from now
  EXPECT_EQ(hb.next_due(), t0 + 220s);         // the idle deadline comes first
  EXPECT_EQ(hb.check(t0 + 219s), Due::kNothing);
  EXPECT_EQ(hb.check(t0 + 220s), Due::kIdle);
}

TEST(Heartbeat, TokenThenLifetimeComeFirst) {
  const auto t0 = Heartbeat::Clock::now();
  Heartbeat hb(t0, 1s, 3s, 10s);
  hb.set_token_expiry(t0 + 5s);
  EXPECT_EQ(hb.check(t0 + 5s), Due::kTokenExpired);
  Heartbeat life(t0, 1s, 30s, 10s);
  EXPECT_EQ(life.next_due(), t0 + 1s);
  EXPECT_EQ(life.check(t0 + 10s), Due::kLifetimeOver);
}

}  // namespace
}  // namespace streamer
