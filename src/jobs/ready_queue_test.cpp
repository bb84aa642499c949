#include "jobs/ready_queue.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

namespace streamer {
namespace {
using namespace std::chrono_literals;

Lease lease(std::string id) {
  Lease l;
  l.record.job_id = std::move(id);
  return l;
}

std::vector<Lease> leases(std::initializer_list<const char*> ids) {
  std::vector<Lease> out;
  for (auto id : ids) out.push_back(lease(id));
  return out;
}

TEST(ReadyQueue, OneAwakeWorkerRunsQueuedJobsInOrder) {
  ReadyQueue q(2, 500us);
  EXPECT_TRUE(q.push_all(leases({"a", "b"})).empty());
  EXPECT_EQ(q.take(0)->record.job_id, "a");
  q.done(0);
  EXPECT_EQ(q.take(0)->record.job_id, "b");
  q.done(0);
}

TEST(ReadyQueue, CapacityCountsFreeWorkersMinusQueued) {
  ReadyQueue q(3, 500us);
  EXPECT_EQ(q.capacity(4), 12u);
  q.push_all(leases({"a", "b"}));
  EXPECT_EQ(q.capacity(4), 10u);
  auto a = q.take(0);
  EXPECT_EQ(q.capacity(4), 7u);  // 2 free workers × 4 − 1 queued
  q.done(0);
  EXPECT_EQ(q.capacity(4), 11u);
}

TEST(ReadyQueue, ASleepingWorkerIsWokenWhenNobodyElseCanTakeTheJob) {
  ReadyQueue q(1, 500us);
  std::atomic<bool> got{false};
  std::thread worker([&] {
    auto l = q.take(0);
    got = l && l->record.job_id == "x";
  });
  std::this_thread::sleep_for(20ms);  // the worker is asleep in take()
  q.push_all(leases({"x"}));
  worker.join();
  EXPECT_TRUE(got);
}

TEST(ReadyQueue, AJobStuckBehindASlowOneGetsAnotherWorker) {
  ReadyQueue q(2, 1ms);
  std::atomic<bool> helper_ran{false};
  std::thread helper([&] {
    auto l = q.take(1);
    helper_ran = l && l->record.job_id == "next";
  });
  std::this_thread::sleep_for(20ms);  // worker 1 sleeps in take()
  q.push_all(leases({"slow"}));           // worker 0 (this thread) is awake and free: no wake
  auto slow = q.take(0);
  q.push_all(leases({"next"}));           // worker 0 just started: it may be back soon
  std::this_thread::sleep_for(20ms);
  EXPECT_FALSE(helper_ran);
  q.rebalance();  // "next" has waited past stall_after behind a slow job: wake worker 1
  helper.join();
  q.done(0);
  EXPECT_TRUE(helper_ran);
}

TEST(ReadyQueue, EveryStalledJobGetsAWorker) {
  ReadyQueue q(4, 1ms);
  std::atomic<int> started{0};
  std::vector<std::thread> sleepers;
  for (std::size_t i = 1; i < 4; ++i) {
    sleepers.emplace_back([&, i] {
      if (q.take(i)) ++started;
    });
  }
  std::this_thread::sleep_for(20ms);  // workers 1-3 sleep
  q.push_all(leases({"a", "b", "c", "d"}));  // worker 0 (this thread) is awake: no wake
  auto a = q.take(0);                    // ... and "runs" a long job
  std::this_thread::sleep_for(20ms);
  EXPECT_EQ(started, 0);
  q.rebalance();  // b, c and d have all waited too long: three workers at once
  for (auto& t : sleepers) t.join();
  EXPECT_EQ(started, 3);
  q.done(0);
}

TEST(ReadyQueue, MatchingJobsCanBeTakenOut) {
  ReadyQueue q(1, 500us);
  q.push_all(leases({"a", "b", "c"}));
  auto taken = q.take_if([](const Lease& l) { return l.record.job_id == "b"; });
  ASSERT_EQ(taken.size(), 1u);
  EXPECT_EQ(taken[0].record.job_id, "b");
  EXPECT_EQ(q.take(0)->record.job_id, "a");
  q.done(0);
  EXPECT_EQ(q.take(0)->record.job_id, "c");
  q.done(0);
}

TEST(ReadyQueue, OldJobsCanBeTakenBackAndStopReturnsTheRest) {
  ReadyQueue q(1, 500us);
  q.push_all(leases({"old"}));
  std::this_thread::sleep_for(10ms);
  q.push_all(leases({"new"}));
  auto old = q.take_older_than(5ms);
  ASSERT_EQ(old.size(), 1u);
  EXPECT_EQ(old[0].record.job_id, "old");
  auto rest = q.stop();
  ASSERT_EQ(rest.size(), 1u);
  EXPECT_EQ(rest[0].record.job_id, "new");
  EXPECT_FALSE(q.take(0));
  EXPECT_EQ(q.push_all(leases({"late"})).size(), 1u);  // refused after stop
  EXPECT_EQ(q.capacity(4), 0u);
}

}  // namespace
}  // namespace streamer
