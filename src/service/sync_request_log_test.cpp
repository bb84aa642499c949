#include "service/sync_request_log.hpp"

#include <gtest/gtest.h>

namespace streamer {
namespace {

TEST(SyncRequestLog, LogsOneSuccessInEveryN) {
  SyncRequestLog every_third(3);
  std::vector<bool> turns;
  for (int i = 0; i < 7; ++i) turns.push_back(every_third.take_success_turn());
  EXPECT_EQ(turns, (std::vector<bool>{true, false, false, true, false, false, true}));
  SyncRequestLog each(1);
  EXPECT_TRUE(each.take_success_turn());
  EXPECT_TRUE(each.take_success_turn());
  SyncRequestLog none(0);
  EXPECT_FALSE(none.take_success_turn());
}

}  // namespace
}  // namespace streamer
