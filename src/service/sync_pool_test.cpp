#include "service/sync_pool.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <future>
#include <string>
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

// The order tasks ran in, recorded by a single pool thread; wait_for() reads it once
// `n` tasks have run (before join(), which would let every waiting task in at once).
struct RunOrder {
  std::vector<std::string> order;
  std::atomic<int> ran{0};
  void record(std::string tag) {
    order.push_back(std::move(tag));
    ran.fetch_add(1, std::memory_order_release);
  }
  const std::vector<std::string>& wait_for(int n) {
    for (int i = 0; i < 5000 && ran.load(std::memory_order_acquire) < n; ++i)
      std::this_thread::sleep_for(1ms);
    EXPECT_EQ(ran.load(std::memory_order_acquire), n);
    return order;
  }
};

// Posts `count` tasks for `owner` that record `tag` and their index.
void post_tagged(SyncPool& pool, const void* owner, RunOrder& run, const std::string& tag,
                 int count) {
  for (int i = 0; i < count; ++i)
    pool.post(owner, [&run, tag, i] { run.record(tag + std::to_string(i)); });
}

std::size_t position_of(const std::vector<std::string>& order, const std::string& tag) {
  return static_cast<std::size_t>(std::find(order.begin(), order.end(), tag) - order.begin());
}

TEST(SyncPool, OneOwnersBurstQueuesAheadOfAnotherOwnerByAtMostItsShare) {
  for (std::size_t share : {1U, 2U}) {
    SyncPool pool(1, 500us, share);
    int a = 0, b = 0;
    Gate gate;
    RunOrder run;
    pool.post(&a, [&] {
      gate.wait();
      run.record("gate");
    });
    gate.started.get_future().wait();
    post_tagged(pool, &a, run, "a", 20);  // a burst from one connection
    post_tagged(pool, &b, run, "b", 1);   // then another connection's single call
    EXPECT_EQ(pool.queued(), share);      // a's share (the gate counts as one) plus b's task
    EXPECT_EQ(pool.waiting(), 21 - share);
    gate.released.set_value();
    const auto& order = run.wait_for(22);
    // b waits for the gate and at most share - 1 more of a's tasks, not for all 20.
    EXPECT_EQ(position_of(order, "b0"), share) << "share " << share;
    // a's own tasks still run in the order they were posted.
    for (int i = 1; i < 20; ++i)
      EXPECT_LT(position_of(order, "a" + std::to_string(i - 1)),
                position_of(order, "a" + std::to_string(i)));
    pool.join();
  }
}

TEST(SyncPool, OwnersTakeTurnsWhenEachHasABacklog) {
  SyncPool pool(1, 500us, 1);
  int a = 0, b = 0, c = 0;
  Gate gate;
  RunOrder run;
  pool.post([&] { gate.wait(); });
  gate.started.get_future().wait();
  post_tagged(pool, &a, run, "a", 3);
  post_tagged(pool, &b, run, "b", 3);
  post_tagged(pool, &c, run, "c", 3);
  gate.released.set_value();
  EXPECT_EQ(run.wait_for(9),
            (std::vector<std::string>{"a0", "b0", "c0", "a1", "b1", "c1", "a2", "b2", "c2"}));
  pool.join();
}

TEST(SyncPool, EveryOwnersTasksRunOnceFromManyThreads) {
  SyncPool pool(2, 500us, 2);
  constexpr int kOwners = 8, kEach = 500;
  std::array<std::atomic<int>, kOwners> ran{};
  std::array<int, kOwners> owners{};
  std::vector<std::thread> posters;
  for (int p = 0; p < kOwners; ++p)
    posters.emplace_back([&, p] {
      for (int i = 0; i < kEach; ++i)
        pool.post(&owners[size_t(p)], [&ran, p] { ran[size_t(p)].fetch_add(1); });
    });
  for (auto& t : posters) t.join();
  pool.join();
  for (int p = 0; p < kOwners; ++p) EXPECT_EQ(ran[size_t(p)].load(), kEach);
  EXPECT_EQ(pool.waiting(), 0U);
}

TEST(SyncPool, JoinRunsTasksStillWaitingInAnOwnersQueue) {
  SyncPool pool(1, 500us, 1);
  int owner = 0;
  Gate gate;
  std::atomic<int> ran{0};
  pool.post(&owner, [&] { gate.wait(); });
  gate.started.get_future().wait();
  for (int i = 0; i < 5; ++i) pool.post(&owner, [&] { ran.fetch_add(1); });
  EXPECT_EQ(pool.waiting(), 5U);
  std::thread joiner([&] { pool.join(); });
  std::this_thread::sleep_for(20ms);  // join() has begun while the gate holds the thread
  gate.released.set_value();
  joiner.join();
  EXPECT_EQ(ran.load(), 5);
  pool.post(&owner, [&] { ran.fetch_add(1); });  // after join: dropped, nothing left behind
  EXPECT_EQ(ran.load(), 5);
  EXPECT_EQ(pool.waiting(), 0U);
}

TEST(SyncPool, AThrowingTaskFreesItsOwnersSlot) {
  SyncPool pool(1, 500us, 1);
  int owner = 0;
  std::atomic<int> ran{0};
  pool.post(&owner, [] { throw std::runtime_error("boom"); });
  pool.post(&owner, [&] { ran.fetch_add(1); });
  pool.join();
  EXPECT_EQ(ran.load(), 1);
}

}  // namespace
}  // namespace streamer
