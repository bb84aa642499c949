#include "core/lazy_wake_queue.hpp"

#include <gtest/gtest.h>

#include <future>
#include <thread>

namespace streamer {
namespace {

using namespace std::chrono_literals;

TEST(LazyWakeQueue, HandsItemsOutInOrderAndTracksRunning) {
  LazyWakeQueue<int> q(2, 500us);
  EXPECT_TRUE(q.push(1));
  EXPECT_TRUE(q.push_all({2, 3}).empty());
  EXPECT_EQ(q.size(), 3U);
  EXPECT_EQ(q.capacity(4), 5U);  // 2 free consumers × 4 − 3 queued
  EXPECT_EQ(q.take(0), 1);
  EXPECT_EQ(q.capacity(4), 2U);  // 1 free consumer × 4 − 2 queued
  q.done(0);
  q.done(0);  // a second done() for the same item changes nothing
  EXPECT_EQ(q.capacity(4), 6U);
  EXPECT_EQ(q.take(1), 2);
  EXPECT_EQ(q.take(1), 3);
}

TEST(LazyWakeQueue, CloseLetsConsumersFinishTheQueueThenReturnsNothing) {
  LazyWakeQueue<int> q(1, 500us);
  q.push(7);
  q.close();
  EXPECT_FALSE(q.push(8));
  EXPECT_EQ(q.push_all({9}), std::vector<int>{9});
  EXPECT_EQ(q.take(0), 7);
  EXPECT_EQ(q.take(0), std::nullopt);
  EXPECT_EQ(q.capacity(1), 0U);
}

TEST(LazyWakeQueue, StopReturnsWhatWasNeverTakenAndWakesSleepers) {
  LazyWakeQueue<int> q(1, 500us);  // the one consumer is asleep: a push must wake it
  auto sleeper = std::async(std::launch::async, [&] { return q.take(0); });
  std::this_thread::sleep_for(20ms);  // let it block
  q.push(4);
  EXPECT_EQ(sleeper.get(), 4);
  q.push(5);
  q.push(6);
  EXPECT_EQ(q.stop(), (std::vector<int>{5, 6}));
  EXPECT_EQ(q.take(0), std::nullopt);
}

TEST(LazyWakeQueue, TakeOlderThanRemovesOnlyItemsThatWaitedThatLong) {
  LazyWakeQueue<int> q(1, 500us);
  q.push(1);
  std::this_thread::sleep_for(30ms);
  q.push(2);
  EXPECT_EQ(q.take_older_than(20ms), std::vector<int>{1});
  EXPECT_EQ(q.size(), 1U);
}

TEST(LazyWakeQueue, ItemBehindAStuckConsumerIsTakenByAnotherAfterRebalance) {
  LazyWakeQueue<int> q(2, 200us);
  std::promise<int> second;
  std::thread b([&] { second.set_value(q.take(1).value_or(-1)); });
  std::this_thread::sleep_for(20ms);  // b is asleep in take()
  q.push(1);
  EXPECT_EQ(q.take(0), 1);  // this thread is consumer 0, and now "stuck" in item 1
  q.push(2);                // queued behind it; b may or may not be woken yet
  auto got = second.get_future();
  for (int i = 0; i < 500 && got.wait_for(1ms) != std::future_status::ready; ++i) q.rebalance();
  ASSERT_EQ(got.wait_for(0ms), std::future_status::ready);
  EXPECT_EQ(got.get(), 2);
  b.join();
  q.done(0);
}

}  // namespace
}  // namespace streamer
