// Contract tests of the admin API reads, retry, scoped purge and progress history,
// against every JobStore backend (Redis on a redis-server started for the test).
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <set>
#include <thread>

#include "jobs/memory_job_store.hpp"
#include "jobs/sqlite_job_store.hpp"
#include "jobs/test_store_factories.hpp"

namespace streamer {
namespace {
using namespace std::chrono_literals;

using testing_stores::MemoryFactory;
using testing_stores::RedisFactory;
using testing_stores::SqliteFactory;

template <class Factory>
class JobStoreAdmin : public ::testing::Test {
 protected:
  std::unique_ptr<JobStore> store = Factory::make();

  void submit(const std::string& id, const std::string& tenant = "t1",
              const std::string& user = "u1", const std::string& action = "delay") {
    ASSERT_TRUE(store->submit(NewJob{{tenant, user, id}, action, "{}", "", 1}).created);
  }
  // Runs the oldest runnable job to `status`.
  void run_next(JobStatus status, const std::string& outcome = "{}") {
    auto lease = store->acquire("w", 10s);
    ASSERT_TRUE(lease);
    ASSERT_TRUE(store->finish(lease->record.job_id, lease->fence, status, outcome));
  }
  std::vector<std::string> ids(const std::vector<JobRecord>& jobs) {
    std::vector<std::string> out;
    for (const auto& j : jobs) out.push_back(j.key.tenant_id + "/" + j.key.request_id);
    return out;
  }
};
using Backends = ::testing::Types<SqliteFactory, MemoryFactory, RedisFactory>;
TYPED_TEST_SUITE(JobStoreAdmin, Backends);

TYPED_TEST(JobStoreAdmin, ListIsScopedByTenantAndUserAndNewestFirst) {
  this->submit("a", "t1", "u1");
  this->submit("b", "t1", "u2");
  this->submit("c", "t2", "u1");
  this->submit("d", "t1", "u1");
  JobQuery all;
  auto page = this->store->list_jobs(all);
  EXPECT_EQ(this->ids(page.jobs), (std::vector<std::string>{"t1/d", "t2/c", "t1/b", "t1/a"}));
  EXPECT_FALSE(page.more);
  JobQuery own;
  own.scope = {"t1", "u1"};
  EXPECT_EQ(this->ids(this->store->list_jobs(own).jobs),
            (std::vector<std::string>{"t1/d", "t1/a"}));
  JobQuery tenant;
  tenant.scope = {"t1", std::nullopt};
  EXPECT_EQ(this->store->list_jobs(tenant).jobs.size(), 3u);
  JobQuery nobody;
  nobody.scope = {"t3", std::nullopt};
  EXPECT_TRUE(this->store->list_jobs(nobody).jobs.empty());
}

TYPED_TEST(JobStoreAdmin, ListPagesWithAKeysetCursorWithoutGapsOrRepeats) {
  for (char c = '0'; c < '7'; ++c) this->submit(std::string{'r', c});
  JobQuery q;
  q.limit = 3;
  std::vector<std::string> seen;
  int pages = 0;
  for (;;) {
    auto page = this->store->list_jobs(q);
    ++pages;
    for (const auto& j : page.jobs) seen.push_back(j.key.request_id);
    if (!page.more) break;
    q.after = JobQuery::After{page.jobs.back().created_at, page.jobs.back().job_id};
  }
  EXPECT_EQ(pages, 3);
  EXPECT_EQ(seen, (std::vector<std::string>{"r6", "r5", "r4", "r3", "r2", "r1", "r0"}));
}

TYPED_TEST(JobStoreAdmin, ListFiltersByActionStateAndTime) {
  this->submit("a", "t1", "u1", "delay");
  this->submit("b", "t1", "u1", "generate_report");
  this->run_next(JobStatus::kFailed);  // a
  JobQuery by_action;
  by_action.action = "generate_report";
  EXPECT_EQ(this->ids(this->store->list_jobs(by_action).jobs), (std::vector<std::string>{"t1/b"}));
  JobQuery by_state;
  by_state.states = {JobStatus::kFailed, JobStatus::kSucceeded};
  EXPECT_EQ(this->ids(this->store->list_jobs(by_state).jobs), (std::vector<std::string>{"t1/a"}));
  JobQuery future;
  future.created_since = std::chrono::system_clock::now() + 1h;
  EXPECT_TRUE(this->store->list_jobs(future).jobs.empty());
  JobQuery past;
  past.created_before = std::chrono::system_clock::now() - 1h;
  EXPECT_TRUE(this->store->list_jobs(past).jobs.empty());
}

TYPED_TEST(JobStoreAdmin, QueueStatsCountWaitingJobsPerActionInScope) {
  this->submit("a", "t1", "u1", "delay");
  this->submit("b", "t1", "u1", "delay");
  this->submit("c", "t2", "u1", "generate_report");
  auto all = this->store->queue_stats({});
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0].action, "delay");
  EXPECT_EQ(all[0].queued, 2u);
  EXPECT_LE(all[0].oldest_created_at, std::chrono::system_clock::now());
  auto t2 = this->store->queue_stats({"t2", std::nullopt});
  ASSERT_EQ(t2.size(), 1u);
  EXPECT_EQ(t2[0].action, "generate_report");
}

TYPED_TEST(JobStoreAdmin, RequeueGivesAFailedJobANewAttemptOfTheSameRequest) {
  this->submit("a");
  this->submit("b");
  this->run_next(JobStatus::kFailed, "failed-outcome");
  auto r = this->store->requeue_failed({"t1", "u1", "a"}, 3, "retried by admin");
  ASSERT_EQ(r.outcome, RequeueOutcome::kRequeued);
  EXPECT_EQ(r.record.status, JobStatus::kQueued);
  EXPECT_EQ(r.record.attempts, 1);
  EXPECT_EQ(r.record.max_attempts, 4);
  EXPECT_EQ(r.record.outcome_json, "");
  EXPECT_FALSE(r.record.finished_at);
  // It runs again as attempt 2, under the same key.
  auto leases = this->store->acquire_batch("w", 10s, 5);
  ASSERT_EQ(leases.size(), 2u);
  const auto& again = leases[0].record.key.request_id == "a" ? leases[0] : leases[1];
  EXPECT_EQ(again.record.key.request_id, "a");
  EXPECT_EQ(again.record.attempts, 2);
  // Only failed jobs are requeued; unknown keys and other scopes are not found.
  EXPECT_EQ(this->store->requeue_failed({"t1", "u1", "b"}, 3, "").outcome,
            RequeueOutcome::kNotFailed);
  EXPECT_EQ(this->store->requeue_failed({"t2", "u1", "a"}, 3, "").outcome,
            RequeueOutcome::kNotFound);
}

TYPED_TEST(JobStoreAdmin, RecentFailuresAreTheLastFinishedFirst) {
  this->submit("a");
  this->submit("b", "t2");
  this->run_next(JobStatus::kFailed);
  std::this_thread::sleep_for(5ms);  // distinct finish times (ms resolution)
  this->run_next(JobStatus::kFailed);
  EXPECT_EQ(this->ids(this->store->recent_failures({}, 10)),
            (std::vector<std::string>{"t2/b", "t1/a"}));
  EXPECT_EQ(this->ids(this->store->recent_failures({}, 1)), (std::vector<std::string>{"t2/b"}));
  EXPECT_EQ(this->ids(this->store->recent_failures({"t1", "u1"}, 10)),
            (std::vector<std::string>{"t1/a"}));
}

TYPED_TEST(JobStoreAdmin, PurgeDeletesOnlyFinishedJobsOfTheScope) {
  this->submit("a", "t1");
  this->submit("b", "t2");
  this->submit("c", "t1");
  this->run_next(JobStatus::kSucceeded);
  this->run_next(JobStatus::kFailed);
  const auto later = std::chrono::system_clock::now() + 1s;
  EXPECT_EQ(this->store->purge_finished({"t1", "u1"}, std::chrono::system_clock::now() - 1h), 0u);
  EXPECT_EQ(this->store->purge_finished({"t1", "u1"}, later), 1u);  // a; c is queued
  EXPECT_TRUE(this->store->find({"t2", "u1", "b"}));
  EXPECT_EQ(this->store->purge_finished({}, later), 1u);  // b
  EXPECT_TRUE(this->store->find({"t1", "u1", "c"}));
}

TYPED_TEST(JobStoreAdmin, ProgressHistoryKeepsTheLatestStepsOfEveryAttempt) {
  auto& store = *this->store;
  store.set_limits({.progress_history_steps = 3});
  this->submit("a");
  this->submit("other");
  auto lease = store.acquire("w", 10s);
  ASSERT_TRUE(lease);
  ASSERT_EQ(lease->record.key.request_id, "a");
  const auto before = std::chrono::system_clock::now() - 1s;
  store.save_progress_batch({{lease->record.job_id, lease->fence, R"({"progress":10})"},
                             {lease->record.job_id, lease->fence + 1, R"({"progress":99})"}});
  store.save_progress_batch({{lease->record.job_id, lease->fence, R"({"progress":20})"}});
  ASSERT_TRUE(store.finish(lease->record.job_id, lease->fence, JobStatus::kFailed, "failed",
                           R"({"progress":30})"));
  auto steps = store.progress_history({"t1", "u1", "a"});
  ASSERT_EQ(steps.size(), 3u);  // a stale fence's write is not a step
  EXPECT_EQ(steps[0].progress_json, R"({"progress":10})");
  EXPECT_EQ(steps[2].progress_json, R"({"progress":30})");
  EXPECT_EQ(steps[0].attempt, 1);
  EXPECT_GE(steps[0].at, before);
  EXPECT_LE(steps[0].at, steps[2].at);
  // A retry adds the new attempt's steps; only the latest three are kept.
  ASSERT_EQ(store.requeue_failed({"t1", "u1", "a"}, 1, "again").outcome, RequeueOutcome::kRequeued);
  auto leases = store.acquire_batch("w", 10s, 5);
  auto again = std::find_if(leases.begin(), leases.end(),
                            [](const Lease& l) { return l.record.key.request_id == "a"; });
  ASSERT_NE(again, leases.end());
  store.save_progress_batch({{again->record.job_id, again->fence, R"({"progress":50})"}});
  steps = store.progress_history({"t1", "u1", "a"});
  ASSERT_EQ(steps.size(), 3u);
  EXPECT_EQ(steps[0].progress_json, R"({"progress":20})");
  EXPECT_EQ(steps[2].progress_json, R"({"progress":50})");
  EXPECT_EQ(steps[2].attempt, 2);
  // Scoped by key: another user's or an unknown request has none.
  EXPECT_TRUE(store.progress_history({"t1", "u2", "a"}).empty());
  EXPECT_TRUE(store.progress_history({"t1", "u1", "other"}).empty());
  // Purged with its job.
  ASSERT_TRUE(store.finish(again->record.job_id, again->fence, JobStatus::kSucceeded, "{}"));
  EXPECT_EQ(store.purge_finished({"t1", "u1"}, std::chrono::system_clock::now() + 1s), 1u);
  EXPECT_TRUE(store.progress_history({"t1", "u1", "a"}).empty());
}

// The worker pool's finish carries the progress a racing write may have just stored (a
// write that lands after the finish is refused, so the finish must carry it): the job
// ends with that progress, and the history records it once.
TYPED_TEST(JobStoreAdmin, AFinishCarryingTheAlreadyStoredProgressRecordsItOnce) {
  auto& store = *this->store;
  store.set_limits({.progress_history_steps = 5});
  this->submit("a");
  auto lease = store.acquire("w", 10s);
  ASSERT_TRUE(lease);
  store.save_progress_batch({{lease->record.job_id, lease->fence, R"({"progress":100})"}});
  ASSERT_TRUE(store.finish(lease->record.job_id, lease->fence, JobStatus::kFailed, "failed",
                           R"({"progress":100})"));
  EXPECT_EQ(store.find({"t1", "u1", "a"})->progress_json, R"({"progress":100})");
  ASSERT_EQ(store.progress_history({"t1", "u1", "a"}).size(), 1u);
  // The same progress in a new attempt is that attempt's own step.
  ASSERT_EQ(store.requeue_failed({"t1", "u1", "a"}, 1, "again").outcome, RequeueOutcome::kRequeued);
  auto again = store.acquire("w", 10s);
  ASSERT_TRUE(again);
  ASSERT_TRUE(store.finish(again->record.job_id, again->fence, JobStatus::kSucceeded, "{}",
                           R"({"progress":100})"));
  auto steps = store.progress_history({"t1", "u1", "a"});
  ASSERT_EQ(steps.size(), 2u);
  EXPECT_EQ(steps[0].attempt, 1);
  EXPECT_EQ(steps[1].attempt, 2);
}

TYPED_TEST(JobStoreAdmin, NoProgressHistoryWhenItsBoundIsZero) {
  this->store->set_limits({.progress_history_steps = 0});
  this->submit("a");
  auto lease = this->store->acquire("w", 10s);
  ASSERT_TRUE(lease);
  this->store->save_progress_batch({{lease->record.job_id, lease->fence, R"({"progress":10})"}});
  EXPECT_TRUE(this->store->progress_history({"t1", "u1", "a"}).empty());
  EXPECT_EQ(this->store->find({"t1", "u1", "a"})->progress_json, R"({"progress":10})");
}

TYPED_TEST(JobStoreAdmin, ListPagesAcrossTenantsAndRefusesAForeignCursor) {
  for (int i = 0; i < 5; ++i) {
    this->submit("x" + std::to_string(i), i % 2 ? "t1" : "t2");
    std::this_thread::sleep_for(2ms);
  }
  JobQuery q;
  q.limit = 2;
  std::vector<std::string> seen;
  for (;;) {
    auto page = this->store->list_jobs(q);
    for (const auto& j : page.jobs) seen.push_back(j.key.request_id);
    if (!page.more) break;
    q.after = JobQuery::After{page.jobs.back().created_at, page.jobs.back().job_id};
  }
  EXPECT_EQ(seen, (std::vector<std::string>{"x4", "x3", "x2", "x1", "x0"}));
  JobQuery forged;
  forged.after = JobQuery::After{std::chrono::system_clock::now(), "not-an-id"};
  EXPECT_THROW(this->store->list_jobs(forged), std::invalid_argument);
}

}  // namespace
}  // namespace streamer
