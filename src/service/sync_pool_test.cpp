#include "service/sync_pool.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <future>
#include <thread>

namespace streamer {
namespace {

using namespace std::chrono_literals;

// Blocks the task that calls wait() until release(); tells when that task has started.
struct Gate {
  std::promise<void> started, released;
  std::shared_future<void> release_signal = released.get_future().share();
  void wait() {
    started.set_value();
    release_signal.wait();
  }
};

TEST(SyncPool, RunsEveryTaskPostedFromManyThreads) {
  SyncPool pool(2);
  std::atomic<int> ran{0};
  std::vector<std::thread> posters;
  for (int p = 0; p < 4; ++p)
    posters.emplace_back([&] {
      for (int i = 0; i < 2500; ++i) pool.post([&] { ran.fetch_add(1); });
    });
  for (auto& t : posters) t.join();
  pool.join();
  EXPECT_EQ(ran.load(), 10000);
}

TEST(SyncPool, QuickTaskPostedWhileAnotherIsStuckRunsOnAnotherThread) {
  SyncPool pool(2, 200us);
  Gate gate;
  pool.post([&] { gate.wait(); });
  gate.started.get_future().wait();
  std::this_thread::sleep_for(5ms);  // the slow task is now stalled past 200 µs
  std::promise<void> quick;
  pool.post([&] { quick.set_value(); });
  EXPECT_EQ(quick.get_future().wait_for(5s), std::future_status::ready);
  gate.released.set_value();
  pool.join();
}

TEST(SyncPool, RebalanceRescuesATaskQueuedBeforeItsThreadGotStuck) {
  SyncPool pool(2, 200us);
  Gate gate;
  std::promise<void> quick;
  auto quick_done = quick.get_future();
  pool.post([&] { gate.wait(); });
  pool.post([&] { quick.set_value(); });
  gate.started.get_future().wait();
  // Whether or not a second thread took the quick task by itself, rebalance() must
  // make sure it runs while the first is still stuck.
  for (int i = 0; i < 500 && quick_done.wait_for(0ms) != std::future_status::ready; ++i) {
    std::this_thread::sleep_for(1ms);
    pool.rebalance();
  }
  EXPECT_EQ(quick_done.wait_for(0ms), std::future_status::ready);
  gate.released.set_value();
  pool.join();
}

TEST(SyncPool, OneThreadRunsTasksInOrder) {
  SyncPool pool(1);
  std::vector<int> order;
  for (int i = 0; i < 100; ++i) pool.post([&order, i] { order.push_back(i); });
  pool.join();
  ASSERT_EQ(order.size(), 100U);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(order[size_t(i)], i);
}

TEST(SyncPool, JoinFinishesQueuedWorkAndLaterPostsAreDropped) {
  SyncPool pool(1);
  std::atomic<int> ran{0};
  for (int i = 0; i < 50; ++i)
    pool.post([&] {
      std::this_thread::sleep_for(100us);
      ran.fetch_add(1);
    });
  pool.join();
  EXPECT_EQ(ran.load(), 50);
  pool.post([&] { ran.fetch_add(1); });
  pool.join();
  EXPECT_EQ(ran.load(), 50);
  EXPECT_EQ(pool.queued(), 0U);
}

TEST(SyncPool, ThrowingTaskDoesNotKillItsThread) {
  SyncPool pool(1);
  std::atomic<int> ran{0};
  pool.post([] { throw std::runtime_error("boom"); });
  pool.post([&] { ran.fetch_add(1); });
  pool.join();
  EXPECT_EQ(ran.load(), 1);
}

}  // namespace
}  // namespace streamer
