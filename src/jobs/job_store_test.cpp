// Contract tests run against every JobStore backend: lease, retry, cancel, cleanup.
#include <gtest/gtest.h>

#include <filesystem>
#include <thread>

#include "jobs/memory_job_store.hpp"
#include "jobs/sqlite_job_store.hpp"

namespace streamer {
namespace {
using namespace std::chrono_literals;

struct SqliteFactory {
  static std::unique_ptr<JobStore> make() {
    static int n = 0;
    auto path = std::filesystem::temp_directory_path() /
                ("streamer-store-test-" + std::to_string(::getpid()) + "-" + std::to_string(n++) + ".db");
    std::filesystem::remove(path);
    return std::make_unique<SqliteJobStore>(SqliteJobStoreOptions{path});
  }
};
struct MemoryFactory {
  static std::unique_ptr<JobStore> make() { return std::make_unique<MemoryJobStore>(); }
};

template <class Factory>
class JobStoreContract : public ::testing::Test {
 protected:
  std::unique_ptr<JobStore> store = Factory::make();
  NewJob job(std::string id, std::string tenant = "t1", std::string user = "u1") {
    return NewJob{{std::move(tenant), std::move(user), std::move(id)}, "delay", R"({"duration_ms":0})", "trace", 3};
  }
};
using Backends = ::testing::Types<SqliteFactory, MemoryFactory>;
TYPED_TEST_SUITE(JobStoreContract, Backends);

TYPED_TEST(JobStoreContract, SubmitIsIdempotentPerTenantUserAndId) {
  auto a = this->store->submit(this->job("r1"));
  EXPECT_TRUE(a.created);
  EXPECT_EQ(a.record.status, JobStatus::kQueued);
  auto b = this->store->submit(this->job("r1"));
  EXPECT_FALSE(b.created);
  EXPECT_EQ(a.record.job_id, b.record.job_id);
  EXPECT_TRUE(this->store->submit(this->job("r1", "t2")).created);  // other tenant, same id
  EXPECT_TRUE(this->store->submit(this->job("r1", "t1", "u2")).created);  // other user
}

TYPED_TEST(JobStoreContract, SubmitBatchIsLikeSubmitsInOrder) {
  this->store->submit(this->job("old"));
  auto results = this->store->submit_batch({this->job("a"), this->job("old"), this->job("b")});
  ASSERT_EQ(results.size(), 3u);
  EXPECT_TRUE(results[0].created);
  EXPECT_FALSE(results[1].created);
  EXPECT_TRUE(results[2].created);
  EXPECT_EQ(this->store->acquire("w", 10s)->record.key.request_id, "old");
  EXPECT_EQ(this->store->acquire("w", 10s)->record.key.request_id, "a");
}

TYPED_TEST(JobStoreContract, FinishCanStoreTheFinalProgress) {
  this->store->submit(this->job("r1"));
  auto l = this->store->acquire("w1", 10s);
  EXPECT_TRUE(this->store->finish(l->record.job_id, "w1", JobStatus::kSucceeded, "ok", R"({"progress":100})"));
  EXPECT_EQ(this->store->find({"t1", "u1", "r1"})->progress_json, R"({"progress":100})");
}

TYPED_TEST(JobStoreContract, BatchAcquireAndFinish) {
  for (auto id : {"a", "b", "c"}) this->store->submit(this->job(id));
  auto leases = this->store->acquire_batch("pool", 10s, 2);
  ASSERT_EQ(leases.size(), 2u);
  EXPECT_EQ(leases[0].record.key.request_id, "a");
  EXPECT_EQ(leases[1].record.key.request_id, "b");
  EXPECT_EQ(this->store->acquire_batch("pool", 10s, 5).size(), 1u);  // only "c" left
  auto ended = this->store->finish_batch(
      "pool", {{leases[0].record.job_id, JobStatus::kSucceeded, "ra", ""},
               {leases[0].record.job_id, JobStatus::kFailed, "again", ""},
               {leases[1].record.job_id, JobStatus::kFailed, "rb", "p"}});
  EXPECT_EQ(ended, (std::vector<bool>{true, false, true}));
  EXPECT_EQ(this->store->find({"t1", "u1", "a"})->outcome_json, "ra");
  EXPECT_EQ(this->store->find({"t1", "u1", "b"})->progress_json, "p");
}

TYPED_TEST(JobStoreContract, RoundFinishesThenSubmitsThenClaimsOldestFirst) {
  for (auto id : {"old", "running"}) this->store->submit(this->job(id));
  auto running = this->store->acquire_batch("pool", 10s, 2);
  ASSERT_EQ(running.size(), 2u);
  EXPECT_TRUE(this->store->release(running[0].record.job_id, "pool", std::chrono::system_clock::now(), "", true));

  JobStore::Round round;
  round.worker_id = "pool";
  round.lease_ttl = 10s;
  round.max_claims = 2;
  round.finishes = {{running[1].record.job_id, JobStatus::kSucceeded, "done", "p"},
                    {running[1].record.job_id, JobStatus::kFailed, "again", ""}};
  round.submits = {this->job("new1"), this->job("old"), this->job("new2")};
  auto r = this->store->commit_round(round);

  EXPECT_EQ(r.finished, (std::vector<bool>{true, false}));
  ASSERT_EQ(r.submitted.size(), 3u);
  EXPECT_TRUE(r.submitted[0].created);
  EXPECT_EQ(r.submitted[0].record.status, JobStatus::kRunning);  // claimed in the same round
  EXPECT_EQ(r.submitted[0].record.attempts, 1);
  EXPECT_EQ(r.submitted[0].record.key.request_id, "new1");
  EXPECT_EQ(r.submitted[2].record.status, JobStatus::kQueued);  // no claims left for it
  EXPECT_FALSE(r.submitted[1].created);
  EXPECT_EQ(r.submitted[1].record.key.request_id, "old");
  ASSERT_EQ(r.claimed.size(), 2u);  // the released one first, then the oldest new one
  EXPECT_EQ(r.claimed[0].record.key.request_id, "old");
  EXPECT_EQ(r.claimed[0].record.attempts, 1);  // refunded, then taken again
  EXPECT_EQ(r.claimed[1].record.key.request_id, "new1");
  EXPECT_EQ(r.claimed[1].record.status, JobStatus::kRunning);
  EXPECT_EQ(r.claimed[1].record.payload_json, R"({"duration_ms":0})");
  EXPECT_FALSE(r.next_wakeup);  // claims were capped: more may be runnable
  EXPECT_EQ(this->store->find({"t1", "u1", "running"})->outcome_json, "done");
  EXPECT_EQ(this->store->find({"t1", "u1", "new2"})->status, JobStatus::kQueued);
  EXPECT_EQ(this->store->find({"t1", "u1", "new1"})->status, JobStatus::kRunning);
  // The round's leases are real: the lease holder can finish, nobody else can take it.
  EXPECT_FALSE(this->store->acquire_batch("other", 10s, 5).empty());  // only new2
  EXPECT_TRUE(this->store->finish(r.claimed[1].record.job_id, "pool", JobStatus::kSucceeded, "ok"));
}

TYPED_TEST(JobStoreContract, RoundWithShortClaimsReportsTheNextWakeup) {
  this->store->submit(this->job("later"));
  auto l = this->store->acquire("pool", 10s);
  auto retry_at = std::chrono::system_clock::now() + 1h;
  this->store->release(l->record.job_id, "pool", retry_at, "boom", false);
  JobStore::Round round;
  round.worker_id = "pool";
  round.lease_ttl = 10s;
  round.max_claims = 4;
  round.submits = {this->job("now")};
  auto r = this->store->commit_round(round);
  ASSERT_EQ(r.claimed.size(), 1u);
  EXPECT_EQ(r.claimed[0].record.key.request_id, "now");
  ASSERT_TRUE(r.next_wakeup);  // the claimed one's lease expiry (the retry is later)
  EXPECT_LE(*r.next_wakeup, r.claimed[0].lease_until + 1ms);
  EXPECT_GT(*r.next_wakeup, std::chrono::system_clock::now());
  round.submits.clear();
  round.max_claims = 0;  // nothing asked: nothing claimed, no wakeup computed
  auto none = this->store->commit_round(round);
  EXPECT_TRUE(none.claimed.empty());
  EXPECT_FALSE(none.next_wakeup);
}

TYPED_TEST(JobStoreContract, RoundThatNeedNotLookClaimsItsNewJobs) {
  JobStore::Round round;
  round.worker_id = "pool";
  round.lease_ttl = 10s;
  round.max_claims = 1;
  round.claim_runnable = false;  // nothing was runnable
  round.submits = {this->job("a"), this->job("b")};
  auto r = this->store->commit_round(round);
  ASSERT_EQ(r.claimed.size(), 1u);
  EXPECT_EQ(r.claimed[0].record.key.request_id, "a");
  EXPECT_FALSE(r.next_wakeup);
  EXPECT_EQ(this->store->find({"t1", "u1", "b"})->status, JobStatus::kQueued);
}

TYPED_TEST(JobStoreContract, FindIsScopedToTheKey) {
  this->store->submit(this->job("r1"));
  EXPECT_TRUE(this->store->find({"t1", "u1", "r1"}));
  EXPECT_FALSE(this->store->find({"t2", "u1", "r1"}));
  EXPECT_FALSE(this->store->find({"t1", "u2", "r1"}));
}

TYPED_TEST(JobStoreContract, AcquireLeasesOldestFirstAndOnlyOnce) {
  this->store->submit(this->job("first"));
  this->store->submit(this->job("second"));
  auto a = this->store->acquire("w1", 10s);
  auto b = this->store->acquire("w2", 10s);
  ASSERT_TRUE(a && b);
  EXPECT_EQ(a->record.key.request_id, "first");
  EXPECT_EQ(b->record.key.request_id, "second");
  EXPECT_EQ(a->record.status, JobStatus::kRunning);
  EXPECT_EQ(a->record.attempts, 1);
  EXPECT_FALSE(this->store->acquire("w3", 10s));
}

TYPED_TEST(JobStoreContract, ExpiredLeaseIsTakenOverAndOldOwnerLosesIt) {
  this->store->submit(this->job("r1"));
  auto a = this->store->acquire("dead", 20ms);
  ASSERT_TRUE(a);
  EXPECT_FALSE(this->store->acquire("w2", 10s));  // still leased
  std::this_thread::sleep_for(40ms);
  auto b = this->store->acquire("w2", 10s);
  ASSERT_TRUE(b);
  EXPECT_EQ(b->record.attempts, 2);
  EXPECT_FALSE(this->store->renew(a->record.job_id, "dead", 10s).owned);
  EXPECT_FALSE(this->store->finish(a->record.job_id, "dead", JobStatus::kSucceeded, "late"));
  EXPECT_TRUE(this->store->finish(b->record.job_id, "w2", JobStatus::kSucceeded, "ok"));
  EXPECT_EQ(this->store->find({"t1", "u1", "r1"})->outcome_json, "ok");
}

TYPED_TEST(JobStoreContract, FinishHappensExactlyOnce) {
  this->store->submit(this->job("r1"));
  auto l = this->store->acquire("w1", 10s);
  EXPECT_TRUE(this->store->finish(l->record.job_id, "w1", JobStatus::kFailed, "first"));
  EXPECT_FALSE(this->store->finish(l->record.job_id, "w1", JobStatus::kSucceeded, "second"));
  auto rec = this->store->find({"t1", "u1", "r1"});
  EXPECT_EQ(rec->status, JobStatus::kFailed);
  EXPECT_EQ(rec->outcome_json, "first");
  ASSERT_TRUE(rec->finished_at);
}

TYPED_TEST(JobStoreContract, ReleaseSchedulesARetryLater) {
  this->store->submit(this->job("r1"));
  auto l = this->store->acquire("w1", 10s);
  auto later = std::chrono::system_clock::now() + 60ms;
  EXPECT_TRUE(this->store->release(l->record.job_id, "w1", later, "boom", false));
  EXPECT_FALSE(this->store->acquire("w1", 10s));  // not yet
  auto wake = this->store->next_wakeup();
  ASSERT_TRUE(wake);
  EXPECT_GE(*wake + 1ms, later);
  std::this_thread::sleep_for(80ms);
  auto again = this->store->acquire("w1", 10s);
  ASSERT_TRUE(again);
  EXPECT_EQ(again->record.attempts, 2);
  EXPECT_EQ(again->record.last_error, "boom");
}

TYPED_TEST(JobStoreContract, RefundedReleaseDoesNotCountAnAttempt) {
  this->store->submit(this->job("r1"));
  auto l = this->store->acquire("w1", 10s);
  EXPECT_TRUE(this->store->release(l->record.job_id, "w1", std::chrono::system_clock::now(), "shutdown", true));
  EXPECT_EQ(this->store->acquire("w2", 10s)->record.attempts, 1);
}

TYPED_TEST(JobStoreContract, CancelQueuedEndsItRunningFlagsIt) {
  this->store->submit(this->job("queued"));
  this->store->submit(this->job("running"));
  auto l = this->store->acquire("w1", 10s);  // takes "queued" (oldest)
  ASSERT_EQ(l->record.key.request_id, "queued");
  EXPECT_EQ(this->store->request_cancel({"t1", "u1", "running"}, "cancelled!"), CancelOutcome::kCancelledNow);
  EXPECT_EQ(this->store->find({"t1", "u1", "running"})->status, JobStatus::kCancelled);
  EXPECT_EQ(this->store->find({"t1", "u1", "running"})->outcome_json, "cancelled!");
  EXPECT_EQ(this->store->request_cancel({"t1", "u1", "queued"}, "x"), CancelOutcome::kCancelRequested);
  EXPECT_TRUE(this->store->renew(l->record.job_id, "w1", 10s).cancel_requested);
  EXPECT_EQ(this->store->request_cancel({"t1", "u1", "nope"}, "x"), CancelOutcome::kNotFound);
  EXPECT_EQ(this->store->request_cancel({"t9", "u1", "queued"}, "x"), CancelOutcome::kNotFound);
  this->store->finish(l->record.job_id, "w1", JobStatus::kCancelled, "c");
  EXPECT_EQ(this->store->request_cancel({"t1", "u1", "queued"}, "x"), CancelOutcome::kAlreadyFinished);
}

TYPED_TEST(JobStoreContract, ProgressIsKeptOnlyForTheLeaseHolder) {
  this->store->submit(this->job("r1"));
  auto l = this->store->acquire("w1", 10s);
  this->store->save_progress(l->record.job_id, "w1", R"({"progress":50})");
  this->store->save_progress(l->record.job_id, "intruder", R"({"progress":99})");
  EXPECT_EQ(this->store->find({"t1", "u1", "r1"})->progress_json, R"({"progress":50})");
}

TYPED_TEST(JobStoreContract, ProgressBatchWritesEveryHeldJob) {
  this->store->submit(this->job("a"));
  this->store->submit(this->job("b"));
  auto leases = this->store->acquire_batch("pool", 10s, 2);
  this->store->save_progress_batch("pool", {{leases[0].record.job_id, "pa"}, {leases[1].record.job_id, "pb"}});
  EXPECT_EQ(this->store->find({"t1", "u1", "a"})->progress_json, "pa");
  EXPECT_EQ(this->store->find({"t1", "u1", "b"})->progress_json, "pb");
}

TYPED_TEST(JobStoreContract, PurgeRemovesOnlyOldFinishedJobs) {
  this->store->submit(this->job("done"));
  this->store->submit(this->job("pending"));
  auto l = this->store->acquire("w1", 10s);
  this->store->finish(l->record.job_id, "w1", JobStatus::kSucceeded, "ok");
  EXPECT_EQ(this->store->purge_finished_before(std::chrono::system_clock::now() - 1h), 0u);
  EXPECT_EQ(this->store->purge_finished_before(std::chrono::system_clock::now() + 1s), 1u);
  EXPECT_FALSE(this->store->find({"t1", "u1", "done"}));
  EXPECT_TRUE(this->store->find({"t1", "u1", "pending"}));
}

TEST(SqliteJobStore, SurvivesReopen) {
  auto path = std::filesystem::temp_directory_path() / ("streamer-reopen-" + std::to_string(::getpid()) + ".db");
  std::filesystem::remove(path);
  {
    SqliteJobStore s({path});
    s.submit(NewJob{{"t", "u", "r"}, "delay", "{}", "", 3});
    s.acquire("crashed-worker", 1ms);
  }
  SqliteJobStore reopened({path});
  std::this_thread::sleep_for(5ms);
  auto lease = reopened.acquire("new-worker", 10s);
  ASSERT_TRUE(lease);
  EXPECT_EQ(lease->record.key.request_id, "r");
  EXPECT_EQ(lease->record.attempts, 2);
  std::filesystem::remove(path);
}

}  // namespace
}  // namespace streamer
