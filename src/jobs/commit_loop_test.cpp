#include "jobs/commit_loop.hpp"

#include <gtest/gtest.h>

#include <future>
#include <tuple>

#include "jobs/memory_job_store.hpp"

namespace streamer {
namespace {
using namespace std::chrono_literals;

NewJob job(std::string id) { return NewJob{{"t", "u", std::move(id)}, "delay", "{}", "", 3}; }

// A commit loop whose claims land in `claimed`, with `capacity` free slots.
struct Fixture {
  MemoryJobStore store;
  std::mutex m;
  std::condition_variable cv;
  std::vector<Lease> claimed;
  std::atomic<std::size_t> capacity{0};
  std::vector<Lease> waiting_claimed;
  std::atomic<std::size_t> waiting_room{0};
  CommitLoop loop{store,
                  {"pool", 10s, 1s},
                  {[this] { return capacity.load(); },
                   [this](std::vector<Lease> leases) {
                     std::lock_guard lock(m);
                     for (auto& l : leases) claimed.push_back(std::move(l));
                     capacity -= std::min(capacity.load(), leases.size());
                     cv.notify_all();
                   },
                   [this] { return waiting_room.load(); },
                   [this](std::vector<Lease> leases) {
                     std::lock_guard lock(m);
                     for (auto& l : leases) waiting_claimed.push_back(std::move(l));
                     cv.notify_all();
                   }}};

  std::vector<Lease> wait_claims(std::size_t n) {
    std::unique_lock lock(m);
    cv.wait_for(lock, 2s, [&] { return claimed.size() >= n; });
    return claimed;
  }
  SubmitResult submit_and_wait(std::string id) {
    std::promise<SubmitResult> p;
    loop.submit(job(std::move(id)), [&](const SubmitResult* r) { p.set_value(*r); });
    return p.get_future().get();
  }
};

TEST(CommitLoop, ASubmitIsStoredThenAnsweredAndClaimedWhenAWorkerIsFree) {
  Fixture f;
  f.capacity = 1;
  f.loop.start();
  auto r = f.submit_and_wait("a");
  EXPECT_TRUE(r.created);
  EXPECT_TRUE(f.store.find({"t", "u", "a"}));  // stored before the answer
  auto claims = f.wait_claims(1);
  ASSERT_EQ(claims.size(), 1u);
  EXPECT_EQ(claims[0].record.key.request_id, "a");
  EXPECT_EQ(claims[0].worker_id, "pool");
  EXPECT_FALSE(f.submit_and_wait("a").created);  // idempotent
  f.loop.stop();
}

// A waiting handler's new job is leased to the waiting lane by the round that stores
// it while the lane has room, and its submit is answered with the running record;
// without room it is stored queued, for the lane's own claims.
TEST(CommitLoop, NewWaitingJobsAreLeasedToTheWaitingLaneByTheirRoundWhileItHasRoom) {
  Fixture f;
  f.capacity = 4;  // worker threads' room does not matter to the waiting lane
  f.waiting_room = 1;
  f.loop.start();
  auto waiting_job = [](std::string id) {
    NewJob j = job(std::move(id));
    j.lane = std::string(kWaitingLane);
    return j;
  };
  std::promise<SubmitResult> stored;
  f.loop.submit(waiting_job("w1"), [&](const SubmitResult* r) { stored.set_value(*r); });
  EXPECT_EQ(stored.get_future().get().record.status, JobStatus::kRunning);
  {
    std::unique_lock lock(f.m);
    ASSERT_TRUE(f.cv.wait_for(lock, 2s, [&] { return f.waiting_claimed.size() == 1; }));
    EXPECT_EQ(f.waiting_claimed[0].record.key.request_id, "w1");
    EXPECT_EQ(f.waiting_claimed[0].worker_id, "pool");
    EXPECT_EQ(f.waiting_claimed[0].fence, 1);
    EXPECT_TRUE(f.claimed.empty());  // never handed to the worker threads
  }
  f.waiting_room = 0;
  std::promise<SubmitResult> queued;
  f.loop.submit(waiting_job("w2"), [&](const SubmitResult* r) { queued.set_value(*r); });
  EXPECT_EQ(queued.get_future().get().record.status, JobStatus::kQueued);
  EXPECT_EQ(f.store.find({"t", "u", "w2"})->status, JobStatus::kQueued);
  f.loop.stop();
  std::lock_guard lock(f.m);
  EXPECT_EQ(f.waiting_claimed.size(), 1u);
  EXPECT_TRUE(f.claimed.empty());
}

TEST(CommitLoop, WithoutCapacityJobsStayQueuedUntilAWorkerIsFree) {
  Fixture f;
  f.loop.start();
  f.submit_and_wait("a");
  EXPECT_EQ(f.store.find({"t", "u", "a"})->status, JobStatus::kQueued);
  f.capacity = 2;
  f.loop.capacity_changed();
  EXPECT_EQ(f.wait_claims(1).size(), 1u);
  f.loop.stop();
}

TEST(CommitLoop, OutcomesAreWrittenOnceAndReportedAfterTheWrite) {
  Fixture f;
  f.capacity = 1;
  f.loop.start();
  f.submit_and_wait("a");
  auto lease = f.wait_claims(1).at(0);
  std::promise<std::pair<bool, std::string>> first, second;
  f.loop.finish({lease.record.job_id, lease.fence, JobStatus::kSucceeded, "ok", ""},
                [&](const FinishResult& r, JobStore::FinishItem& item) {
                  first.set_value({r.ended, f.store.find({"t", "u", "a"})->outcome_json});
                });
  EXPECT_EQ(first.get_future().get(), std::make_pair(true, std::string("ok")));
  f.loop.finish({lease.record.job_id, lease.fence, JobStatus::kFailed, "again", ""},
                [&](const FinishResult& r, JobStore::FinishItem& item) {
                  second.set_value({r.ended, item.outcome_json});
                });
  EXPECT_EQ(second.get_future().get(), std::make_pair(false, std::string("again")));
  f.loop.stop();
}

TEST(CommitLoop, AnOutcomeAfterACancelRequestIsReportedAsTheStoredCancelled) {
  Fixture f;
  f.capacity = 1;
  f.loop.start();
  f.submit_and_wait("a");
  auto lease = f.wait_claims(1).at(0);
  ASSERT_EQ(f.store.request_cancel({"t", "u", "a"}, "cancelled!"), CancelOutcome::kCancelRequested);
  std::promise<std::tuple<bool, JobStatus, std::string>> done;
  f.loop.finish({lease.record.job_id, lease.fence, JobStatus::kSucceeded, "result", ""},
                [&](const FinishResult& r, JobStore::FinishItem& item) {
                  done.set_value({r.ended, item.terminal, item.outcome_json});
                });
  EXPECT_EQ(done.get_future().get(),
            std::make_tuple(true, JobStatus::kCancelled, std::string("cancelled!")));
  f.loop.stop();
}

TEST(CommitLoop, AJobHeldBackByItsTenantsBoundIsClaimedWithTheNextFinish) {
  Fixture f;
  f.store.set_limits({0, 0, 1});
  f.capacity = 4;
  f.loop.start();
  f.submit_and_wait("a");
  f.submit_and_wait("b");  // same tenant: waits for a's slot
  auto first = f.wait_claims(1);
  ASSERT_EQ(first.size(), 1u);
  EXPECT_EQ(f.store.find({"t", "u", "b"})->status, JobStatus::kQueued);
  const auto t0 = std::chrono::steady_clock::now();
  f.loop.finish({first[0].record.job_id, first[0].fence, JobStatus::kSucceeded, "ok", ""},
                [](const FinishResult&, JobStore::FinishItem&) {});
  auto both = f.wait_claims(2);
  ASSERT_EQ(both.size(), 2u);
  EXPECT_EQ(both[1].record.key.request_id, "b");
  // At once, not at the loop's next idle look at the store (1 s).
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 500ms);
  f.loop.stop();
}

TEST(CommitLoop, CheckStoreFindsJobsAddedBehindItsBack) {
  Fixture f;
  f.capacity = 4;
  f.loop.start();
  std::this_thread::sleep_for(20ms);  // its first look found nothing
  f.store.submit(job("elsewhere"));
  f.loop.check_store(std::chrono::system_clock::now());
  auto claims = f.wait_claims(1);
  ASSERT_EQ(claims.size(), 1u);
  EXPECT_EQ(claims[0].record.key.request_id, "elsewhere");
  f.loop.stop();
}

TEST(CommitLoop, AfterStopSubmitsFailAtOnce) {
  Fixture f;
  f.loop.start();
  f.loop.stop();
  bool failed = false;
  f.loop.submit(job("late"), [&](const SubmitResult* r) { failed = (r == nullptr); });
  EXPECT_TRUE(failed);
  EXPECT_FALSE(f.store.find({"t", "u", "late"}));
}

}  // namespace
}  // namespace streamer
