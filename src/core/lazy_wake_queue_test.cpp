#include "core/lazy_wake_queue.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <string>
#include <thread>

namespace streamer {
namespace {

using namespace std::chrono_literals;
// Items stand for jobs or tasks; strings make the assertions readable.
using Queue = LazyWakeQueue<std::string>;
using Items = std::vector<std::string>;

// Blocks until `n` consumers sleep in take(); fails the test after 10 s.
template <class Q>
void wait_until_sleeping(const Q& q, std::size_t n) {
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (q.sleeping() != n) {
    ASSERT_LT(std::chrono::steady_clock::now(), deadline) << "consumers never fell asleep";
    std::this_thread::yield();
  }
}

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

TEST(LazyWakeQueue, CapacityCountsFreeWorkersMinusQueued) {
  Queue q(3, 500us);
  EXPECT_EQ(q.capacity(4), 12u);
  q.push_all(Items{"a", "b"});
  EXPECT_EQ(q.capacity(4), 10u);
  auto a = q.take(0);
  EXPECT_EQ(q.capacity(4), 7u);  // 2 free workers × 4 − 1 queued
  q.done(0);
  EXPECT_EQ(q.capacity(4), 11u);
}

TEST(LazyWakeQueue, ASleepingWorkerIsWokenWhenNobodyElseCanTakeTheJob) {
  Queue q(1, 500us);
  std::atomic<bool> got{false};
  std::thread worker([&] {
    auto l = q.take(0);
    got = l == "x";
  });
  wait_until_sleeping(q, 1);
  q.push_all(Items{"x"});
  worker.join();
  EXPECT_TRUE(got);
}

TEST(LazyWakeQueue, AJobStuckBehindASlowOneGetsAnotherWorker) {
  Queue q(2, 1ms);
  std::atomic<bool> helper_ran{false};
  std::thread helper([&] {
    auto l = q.take(1);
    helper_ran = l == "next";
  });
  wait_until_sleeping(q, 1);  // worker 1 sleeps in take()
  q.push_all(Items{"slow"});  // worker 0 (this thread) is awake and free: no wake
  auto slow = q.take(0);
  q.push_all(Items{"next"});  // worker 0 just started: it may be back soon
  std::this_thread::sleep_for(
      20ms);                    // "next" now waits past stall_after (a minimum age, not a guess)
  EXPECT_EQ(q.sleeping(), 1U);  // nobody was woken for it
  EXPECT_FALSE(helper_ran);
  q.rebalance();  // "next" has waited past stall_after behind a slow job: wake worker 1
  helper.join();
  q.done(0);
  EXPECT_TRUE(helper_ran);
}

TEST(LazyWakeQueue, EveryStalledJobGetsAWorker) {
  Queue q(4, 1ms);
  std::atomic<int> started{0};
  std::vector<std::thread> sleepers;
  for (std::size_t i = 1; i < 4; ++i) {
    sleepers.emplace_back([&, i] {
      if (q.take(i)) ++started;
    });
  }
  wait_until_sleeping(q, 3);              // workers 1-3 sleep
  q.push_all(Items{"a", "b", "c", "d"});  // worker 0 (this thread) is awake: no wake
  auto a = q.take(0);                     // ... and "runs" a long job
  std::this_thread::sleep_for(20ms);      // b, c, d now wait past stall_after
  EXPECT_EQ(q.sleeping(), 3U);            // nobody was woken for them
  EXPECT_EQ(started, 0);
  q.rebalance();  // b, c and d have all waited too long: three workers at once
  for (auto& t : sleepers) t.join();
  EXPECT_EQ(started, 3);
  q.done(0);
}

TEST(LazyWakeQueue, MatchingJobsCanBeTakenOut) {
  Queue q(1, 500us);
  q.push_all(Items{"a", "b", "c"});
  auto taken = q.take_if([](const std::string& s) { return s == "b"; });
  ASSERT_EQ(taken.size(), 1u);
  EXPECT_EQ(taken[0], "b");
  EXPECT_EQ(q.take(0), "a");
  q.done(0);
  EXPECT_EQ(q.take(0), "c");
  q.done(0);
}

TEST(LazyWakeQueue, OldJobsCanBeTakenBackAndStopReturnsTheRest) {
  Queue q(1, 500us);
  q.push_all(Items{"old"});
  std::this_thread::sleep_for(10ms);
  q.push_all(Items{"new"});
  auto old = q.take_older_than(5ms);
  ASSERT_EQ(old.size(), 1u);
  EXPECT_EQ(old[0], "old");
  auto rest = q.stop();
  ASSERT_EQ(rest.size(), 1u);
  EXPECT_EQ(rest[0], "new");
  EXPECT_FALSE(q.take(0));
  EXPECT_EQ(q.push_all(Items{"late"}).size(), 1u);  // refused after stop
  EXPECT_EQ(q.capacity(4), 0u);
}

}  // namespace
}  // namespace streamer
