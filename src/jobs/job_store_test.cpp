// Contract tests run against every JobStore backend (SQLite, memory, and Redis on a
// redis-server started for the test): lease, fencing, retry, cancel, cleanup.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <thread>

#include <sqlite3.h>

#include "jobs/memory_job_store.hpp"
#include "jobs/sqlite_job_store.hpp"
#include "jobs/test_store_factories.hpp"
#include "redis/redis_job_store.hpp"
#include "redis/test_redis_server.hpp"

namespace streamer {
namespace {
using namespace std::chrono_literals;

using testing_stores::MemoryFactory;
using testing_stores::RedisFactory;
using testing_stores::SqliteFactory;

template <class Factory>
class JobStoreContract : public ::testing::Test {
 protected:
  std::unique_ptr<JobStore> store = Factory::make();
  NewJob job(std::string id, std::string tenant = "t1", std::string user = "u1") {
    return NewJob{{std::move(tenant), std::move(user), std::move(id)},
                  "delay",
                  R"({"duration_ms":0})",
                  "trace",
                  3};
  }
  JobStore::Round round(std::size_t max_claims, std::vector<NewJob> submits = {}) {
    JobStore::Round r;
    r.worker_id = "pool";
    r.lease_ttl = std::chrono::seconds(10);
    r.max_claims = max_claims;
    r.submits = std::move(submits);
    return r;
  }
};

std::vector<bool> ended(const std::vector<FinishResult>& results) {
  std::vector<bool> out;
  for (const auto& r : results) out.push_back(r.ended);
  return out;
}
std::vector<std::string> ids(const std::vector<Lease>& leases) {
  std::vector<std::string> out;
  for (const auto& l : leases)
    out.push_back(l.record.key.tenant_id + "/" + l.record.key.request_id);
  return out;
}
using Backends = ::testing::Types<SqliteFactory, MemoryFactory, RedisFactory>;
TYPED_TEST_SUITE(JobStoreContract, Backends);

TYPED_TEST(JobStoreContract, SubmitIsIdempotentPerTenantUserAndId) {
  auto a = this->store->submit(this->job("r1"));
  EXPECT_TRUE(a.created);
  EXPECT_EQ(a.record.status, JobStatus::kQueued);
  auto b = this->store->submit(this->job("r1"));
  EXPECT_FALSE(b.created);
  EXPECT_EQ(a.record.job_id, b.record.job_id);
  EXPECT_TRUE(this->store->submit(this->job("r1", "t2")).created);        // other tenant, same id
  EXPECT_TRUE(this->store->submit(this->job("r1", "t1", "u2")).created);  // other user
}

TYPED_TEST(JobStoreContract, RoundSubmitsAreLikeSubmitsInOrder) {
  this->store->submit(this->job("old"));
  auto results =
      this->store->commit_round(this->round(0, {this->job("a"), this->job("old"), this->job("b")}))
          .submitted;
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
  EXPECT_TRUE(this->store->finish(l->record.job_id, l->fence, JobStatus::kSucceeded, "ok",
                                  R"({"progress":100})"));
  EXPECT_EQ(this->store->find({"t1", "u1", "r1"})->progress_json, R"({"progress":100})");
}

TYPED_TEST(JobStoreContract, BatchAcquireAndFinish) {
  for (auto id : {"a", "b", "c"}) this->store->submit(this->job(id));
  auto leases = this->store->acquire_batch("pool", 10s, 2);
  ASSERT_EQ(leases.size(), 2u);
  EXPECT_EQ(leases[0].record.key.request_id, "a");
  EXPECT_EQ(leases[1].record.key.request_id, "b");
  EXPECT_EQ(this->store->acquire_batch("pool", 10s, 5).size(), 1u);  // only "c" left
  auto results = this->store->finish_batch(
      {{leases[0].record.job_id, leases[0].fence, JobStatus::kSucceeded, "ra", ""},
       {leases[0].record.job_id, leases[0].fence, JobStatus::kFailed, "again", ""},
       {leases[1].record.job_id, leases[1].fence, JobStatus::kFailed, "rb", "p"}});
  EXPECT_EQ(ended(results), (std::vector<bool>{true, false, true}));
  EXPECT_EQ(this->store->find({"t1", "u1", "a"})->outcome_json, "ra");
  EXPECT_EQ(this->store->find({"t1", "u1", "b"})->progress_json, "p");
}

TYPED_TEST(JobStoreContract, RoundFinishesThenSubmitsThenClaimsOldestFirst) {
  for (auto id : {"old", "running"}) this->store->submit(this->job(id));
  auto running = this->store->acquire_batch("pool", 10s, 2);
  ASSERT_EQ(running.size(), 2u);
  EXPECT_TRUE(this->store->release(running[0].record.job_id, running[0].fence,
                                   std::chrono::system_clock::now(), "", true));

  JobStore::Round round;
  round.worker_id = "pool";
  round.lease_ttl = 10s;
  round.max_claims = 2;
  round.finishes = {
      {running[1].record.job_id, running[1].fence, JobStatus::kSucceeded, "done", "p"},
      {running[1].record.job_id, running[1].fence, JobStatus::kFailed, "again", ""}};
  round.submits = {this->job("new1"), this->job("old"), this->job("new2")};
  auto r = this->store->commit_round(round);

  EXPECT_EQ(ended(r.finished), (std::vector<bool>{true, false}));
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
  EXPECT_TRUE(this->store->finish(r.claimed[1].record.job_id, r.claimed[1].fence,
                                  JobStatus::kSucceeded, "ok"));
}

TYPED_TEST(JobStoreContract, RoundWithShortClaimsReportsTheNextWakeup) {
  this->store->submit(this->job("later"));
  auto l = this->store->acquire("pool", 10s);
  auto retry_at = std::chrono::system_clock::now() + 1h;
  this->store->release(l->record.job_id, l->fence, retry_at, "boom", false);
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
  EXPECT_FALSE(this->store->renew(a->record.job_id, a->fence, 10s).owned);
  EXPECT_FALSE(this->store->finish(a->record.job_id, a->fence, JobStatus::kSucceeded, "late"));
  EXPECT_TRUE(this->store->finish(b->record.job_id, b->fence, JobStatus::kSucceeded, "ok"));
  EXPECT_EQ(this->store->find({"t1", "u1", "r1"})->outcome_json, "ok");
}

// The lease holder used to be the whole process: when a process re-claimed its own lapsed
// job, its stale attempt could still renew, save progress, release or finish it. Writes
// are now fenced by the claim, whoever made it.
TYPED_TEST(JobStoreContract, AStaleAttemptOfTheSameWorkerCannotWriteAfterItsJobIsReclaimed) {
  this->store->submit(this->job("r1"));
  auto stale = this->store->acquire("same-process", 20ms);
  ASSERT_TRUE(stale);
  std::this_thread::sleep_for(40ms);
  auto current = this->store->acquire("same-process", 10s);
  ASSERT_TRUE(current);
  EXPECT_EQ(current->record.job_id, stale->record.job_id);
  EXPECT_GT(current->fence, stale->fence);
  EXPECT_FALSE(this->store->renew(stale->record.job_id, stale->fence, 10s).owned);
  this->store->save_progress_batch({{stale->record.job_id, stale->fence, "stale-progress"}});
  EXPECT_EQ(this->store->find({"t1", "u1", "r1"})->progress_json, "");
  EXPECT_FALSE(this->store->release(stale->record.job_id, stale->fence,
                                    std::chrono::system_clock::now(), "stale", true));
  EXPECT_FALSE(
      this->store->finish(stale->record.job_id, stale->fence, JobStatus::kFailed, "stale"));
  auto rec = this->store->find({"t1", "u1", "r1"});
  EXPECT_EQ(rec->status, JobStatus::kRunning);
  EXPECT_EQ(rec->attempts, 2);
  // The current claim is untouched by all of that and ends the job.
  EXPECT_TRUE(this->store->renew(current->record.job_id, current->fence, 10s).owned);
  EXPECT_TRUE(
      this->store->finish(current->record.job_id, current->fence, JobStatus::kSucceeded, "ok"));
  EXPECT_EQ(this->store->find({"t1", "u1", "r1"})->outcome_json, "ok");
}

TYPED_TEST(JobStoreContract, ARoundsFirstClaimOfANewJobIsFencedToo) {
  auto r = this->store->commit_round(this->round(1, {this->job("r1")}));
  ASSERT_EQ(r.claimed.size(), 1u);
  const auto& lease = r.claimed[0];
  EXPECT_FALSE(this->store->renew(lease.record.job_id, lease.fence + 1, 10s).owned);
  EXPECT_FALSE(this->store->renew(lease.record.job_id, lease.fence - 1, 10s).owned);
  EXPECT_TRUE(this->store->renew(lease.record.job_id, lease.fence, 10s).owned);
}

TYPED_TEST(JobStoreContract, FinishHappensExactlyOnce) {
  this->store->submit(this->job("r1"));
  auto l = this->store->acquire("w1", 10s);
  EXPECT_TRUE(this->store->finish(l->record.job_id, l->fence, JobStatus::kFailed, "first"));
  EXPECT_FALSE(this->store->finish(l->record.job_id, l->fence, JobStatus::kSucceeded, "second"));
  auto rec = this->store->find({"t1", "u1", "r1"});
  EXPECT_EQ(rec->status, JobStatus::kFailed);
  EXPECT_EQ(rec->outcome_json, "first");
  ASSERT_TRUE(rec->finished_at);
}

TYPED_TEST(JobStoreContract, ReleaseSchedulesARetryLater) {
  this->store->submit(this->job("r1"));
  auto l = this->store->acquire("w1", 10s);
  auto later = std::chrono::system_clock::now() + 60ms;
  EXPECT_TRUE(this->store->release(l->record.job_id, l->fence, later, "boom", false));
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
  EXPECT_TRUE(this->store->release(l->record.job_id, l->fence, std::chrono::system_clock::now(),
                                   "shutdown", true));
  EXPECT_EQ(this->store->acquire("w2", 10s)->record.attempts, 1);
}

TYPED_TEST(JobStoreContract, CancelQueuedEndsItRunningFlagsIt) {
  this->store->submit(this->job("queued"));
  this->store->submit(this->job("running"));
  auto l = this->store->acquire("w1", 10s);  // takes "queued" (oldest)
  ASSERT_EQ(l->record.key.request_id, "queued");
  EXPECT_EQ(this->store->request_cancel({"t1", "u1", "running"}, "cancelled!"),
            CancelOutcome::kCancelledNow);
  EXPECT_EQ(this->store->find({"t1", "u1", "running"})->status, JobStatus::kCancelled);
  EXPECT_EQ(this->store->find({"t1", "u1", "running"})->outcome_json, "cancelled!");
  EXPECT_EQ(this->store->request_cancel({"t1", "u1", "queued"}, "x"),
            CancelOutcome::kCancelRequested);
  EXPECT_TRUE(this->store->renew(l->record.job_id, l->fence, 10s).cancel_requested);
  EXPECT_EQ(this->store->request_cancel({"t1", "u1", "nope"}, "x"), CancelOutcome::kNotFound);
  EXPECT_EQ(this->store->request_cancel({"t9", "u1", "queued"}, "x"), CancelOutcome::kNotFound);
  this->store->finish(l->record.job_id, l->fence, JobStatus::kCancelled, "c");
  EXPECT_EQ(this->store->request_cancel({"t1", "u1", "queued"}, "x"),
            CancelOutcome::kAlreadyFinished);
}

TYPED_TEST(JobStoreContract, ProgressIsKeptOnlyForTheLeaseHolder) {
  this->store->submit(this->job("r1"));
  auto l = this->store->acquire("w1", 10s);
  this->store->save_progress_batch({{l->record.job_id, l->fence, R"({"progress":50})"}});
  this->store->save_progress_batch({{l->record.job_id, l->fence + 1, R"({"progress":99})"}});
  EXPECT_EQ(this->store->find({"t1", "u1", "r1"})->progress_json, R"({"progress":50})");
}

TYPED_TEST(JobStoreContract, ProgressBatchWritesEveryHeldJob) {
  this->store->submit(this->job("a"));
  this->store->submit(this->job("b"));
  auto leases = this->store->acquire_batch("pool", 10s, 2);
  this->store->save_progress_batch({{leases[0].record.job_id, leases[0].fence, "pa"},
                                    {leases[1].record.job_id, leases[1].fence, "pb"}});
  EXPECT_EQ(this->store->find({"t1", "u1", "a"})->progress_json, "pa");
  EXPECT_EQ(this->store->find({"t1", "u1", "b"})->progress_json, "pb");
}

TYPED_TEST(JobStoreContract, PurgeRemovesOnlyOldFinishedJobs) {
  this->store->submit(this->job("done"));
  this->store->submit(this->job("pending"));
  auto l = this->store->acquire("w1", 10s);
  this->store->finish(l->record.job_id, l->fence, JobStatus::kSucceeded, "ok");
  EXPECT_EQ(this->store->purge_finished_before(std::chrono::system_clock::now() - 1h), 0u);
  EXPECT_EQ(this->store->purge_finished_before(std::chrono::system_clock::now() + 1s), 1u);
  EXPECT_FALSE(this->store->find({"t1", "u1", "done"}));
  EXPECT_TRUE(this->store->find({"t1", "u1", "pending"}));
}

// -- fairness and bounds -------------------------------------------------------------------

TYPED_TEST(JobStoreContract, ClaimsGoToTheTenantWithTheFewestLeasesOldestFirst) {
  for (auto id : {"a1", "a2", "a3", "a4"}) this->store->submit(this->job(id, "A"));
  this->store->submit(this->job("b1", "B"));
  this->store->submit(this->job("c1", "C"));
  // A's backlog is older, but after its first job B and C (no leases) go first.
  EXPECT_EQ(ids(this->store->acquire_batch("pool", 10s, 4)),
            (std::vector<std::string>{"A/a1", "B/b1", "C/c1", "A/a2"}));
  this->store->submit(this->job("b2", "B"));
  // A holds 2, B 1: B's new job goes before A's older ones.
  EXPECT_EQ(this->store->acquire("w", 10s)->record.key.request_id, "b2");
  EXPECT_EQ(this->store->acquire("w", 10s)->record.key.request_id, "a3");
}

TYPED_TEST(JobStoreContract, ATenantNeverHoldsMoreLeasesThanItsBound) {
  this->store->set_limits({0, 0, 2});
  for (auto id : {"a1", "a2", "a3", "a4"}) this->store->submit(this->job(id, "A"));
  auto first = this->store->acquire_batch("pool", 10s, 8);
  EXPECT_EQ(ids(first), (std::vector<std::string>{"A/a1", "A/a2"}));
  EXPECT_FALSE(this->store->acquire("pool", 10s));  // A is at its bound, nobody else waits
  this->store->submit(this->job("b1", "B"));
  EXPECT_EQ(this->store->acquire("pool", 10s)->record.key.request_id, "b1");  // B is not held up
  EXPECT_TRUE(
      this->store->finish(first[0].record.job_id, first[0].fence, JobStatus::kSucceeded, "ok"));
  EXPECT_EQ(ids(this->store->acquire_batch("pool", 10s, 8)), (std::vector<std::string>{"A/a3"}));
  // A given-back job frees its slot too (runnable since before a4, it goes first).
  EXPECT_TRUE(this->store->release(first[1].record.job_id, first[1].fence,
                                   std::chrono::system_clock::now() - 1h, "", true));
  EXPECT_EQ(ids(this->store->acquire_batch("pool", 10s, 8)), (std::vector<std::string>{"A/a2"}));
}

TYPED_TEST(JobStoreContract, ARoundLeasesNewJobsOnlyWithinTheBoundAndSaysSo) {
  this->store->set_limits({0, 0, 1});
  auto round = this->round(4, {this->job("a1", "A"), this->job("a2", "A"), this->job("b1", "B")});
  round.claim_runnable = false;
  auto r = this->store->commit_round(round);
  EXPECT_EQ(ids(r.claimed), (std::vector<std::string>{"A/a1", "B/b1"}));
  EXPECT_EQ(r.submitted[1].record.status, JobStatus::kQueued);
  EXPECT_TRUE(r.capped);  // a2 is runnable but waits for A's bound
  // Looking again claims nothing while A is at its bound, and the next wakeup is not
  // "now" (that would make the loop spin) but the earliest lease expiry.
  auto look = this->store->commit_round(this->round(4));
  EXPECT_TRUE(look.claimed.empty());
  EXPECT_TRUE(look.capped);
  ASSERT_TRUE(look.next_wakeup);
  EXPECT_GT(*look.next_wakeup, std::chrono::system_clock::now() + 5s);
  // A's finish in a round frees the slot for a2 in the same round.
  auto next = this->round(4);
  next.finishes = {
      {r.claimed[0].record.job_id, r.claimed[0].fence, JobStatus::kSucceeded, "ok", ""}};
  auto after = this->store->commit_round(next);
  EXPECT_EQ(ids(after.claimed), (std::vector<std::string>{"A/a2"}));
  EXPECT_FALSE(after.capped);
}

TYPED_TEST(JobStoreContract, QueuedBoundsRefuseNewJobsButNeverAResend) {
  this->store->set_limits({3, 2, 0});
  EXPECT_TRUE(this->store->submit(this->job("r1", "T", "u1")).created);
  EXPECT_TRUE(this->store->submit(this->job("r2", "T", "u1")).created);
  auto over_user = this->store->submit(this->job("r3", "T", "u1"));
  EXPECT_FALSE(over_user.created);
  EXPECT_EQ(over_user.refused, QueueLimit::kQueuedPerUser);
  EXPECT_EQ(over_user.limit_value, 2u);
  EXPECT_FALSE(this->store->find({"T", "u1", "r3"}));
  auto resend = this->store->submit(this->job("r1", "T", "u1"));
  EXPECT_EQ(resend.refused, QueueLimit::kNone);
  EXPECT_EQ(resend.record.key.request_id, "r1");
  EXPECT_TRUE(this->store->submit(this->job("r4", "T", "u2")).created);  // 3 queued in T now
  auto over_tenant = this->store
                         ->commit_round(this->round(
                             0, {this->job("r5", "T", "u3"), this->job("x1", "other", "u1")}))
                         .submitted;
  EXPECT_EQ(over_tenant[0].refused, QueueLimit::kQueuedPerTenant);
  EXPECT_EQ(over_tenant[0].limit_value, 3u);
  EXPECT_TRUE(over_tenant[1].created);  // other tenants are not affected
  auto in_round = this->store->commit_round(this->round(0, {this->job("r6", "T", "u4")}));
  EXPECT_EQ(in_round.submitted[0].refused, QueueLimit::kQueuedPerTenant);
  // Running jobs are not queued: once one starts, there is room again.
  ASSERT_TRUE(this->store->acquire("w", 10s));
  EXPECT_TRUE(this->store->submit(this->job("r5", "T", "u3")).created);
}

TYPED_TEST(JobStoreContract, QueuedBoundsCountEachJobOfOneRound) {
  // A round's own queued jobs count against the bounds of its later submits.
  this->store->set_limits({10, 2, 0});
  ASSERT_TRUE(this->store->submit(this->job("before", "T", "u1")).created);
  auto first =
      this->store
          ->commit_round(this->round(
              0, {this->job("a", "T", "u1"), this->job("b", "T", "u1"), this->job("c", "T", "u2"),
                  this->job("d", "T", "u2"), this->job("e", "T", "u2"), this->job("a", "T", "u1")}))
          .submitted;
  ASSERT_EQ(first.size(), 6u);
  EXPECT_TRUE(first[0].created);
  EXPECT_EQ(first[1].refused, QueueLimit::kQueuedPerUser);  // u1: "before" and "a"
  EXPECT_TRUE(first[2].created);
  EXPECT_TRUE(first[3].created);
  EXPECT_EQ(first[4].refused, QueueLimit::kQueuedPerUser);  // u2: "c" and "d"
  EXPECT_FALSE(first[5].created);                           // a resend is answered, not refused
  EXPECT_EQ(first[5].refused, QueueLimit::kNone);
  EXPECT_EQ(first[5].record.key.request_id, "a");
  // 4 queued in T: a bound of 5 admits one more of this round, then refuses.
  this->store->set_limits({5, 2, 0});
  auto second =
      this->store
          ->commit_round(this->round(0, {this->job("f", "T", "u3"), this->job("g", "T", "u4")}))
          .submitted;
  EXPECT_TRUE(second[0].created);
  EXPECT_EQ(second[1].refused, QueueLimit::kQueuedPerTenant);
  EXPECT_EQ(this->store->acquire_batch("w", 10s, 20).size(), 5u);
}

TYPED_TEST(JobStoreContract, ConcurrentSubmitsNeverExceedTheQueuedBound) {
  this->store->set_limits({0, 100, 0});
  std::atomic<int> created{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 40; ++i) {
        created +=
            this->store->submit(this->job(std::to_string(t) + "-" + std::to_string(i))).created;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(created.load(), 100);
}

// -- cancel against finish: the store decides ------------------------------------------------

TYPED_TEST(JobStoreContract, AFinishAfterACancelRequestRecordsCancelled) {
  this->store->submit(this->job("r1"));
  auto l = this->store->acquire("w1", 10s);
  ASSERT_EQ(this->store->request_cancel({"t1", "u1", "r1"}, "cancelled!"),
            CancelOutcome::kCancelRequested);
  auto f =
      this->store->finish_job(l->record.job_id, l->fence, JobStatus::kSucceeded, "result", "p");
  EXPECT_TRUE(f.ended);
  EXPECT_TRUE(f.cancelled_instead);
  EXPECT_EQ(f.outcome_json, "cancelled!");
  auto rec = this->store->find({"t1", "u1", "r1"});
  EXPECT_EQ(rec->status, JobStatus::kCancelled);
  EXPECT_EQ(rec->outcome_json, "cancelled!");
  EXPECT_EQ(this->store->request_cancel({"t1", "u1", "r1"}, "x"), CancelOutcome::kAlreadyFinished);
}

TYPED_TEST(JobStoreContract, AWorkersOwnCancelledOutcomeIsKept) {
  this->store->submit(this->job("r1"));
  auto l = this->store->acquire("w1", 10s);
  this->store->request_cancel({"t1", "u1", "r1"}, "from-cancel");
  auto f =
      this->store->finish_job(l->record.job_id, l->fence, JobStatus::kCancelled, "from-worker");
  EXPECT_TRUE(f.ended);
  EXPECT_FALSE(f.cancelled_instead);
  EXPECT_EQ(this->store->find({"t1", "u1", "r1"})->outcome_json, "from-worker");
}

TYPED_TEST(JobStoreContract, AFinishBeforeTheCancelStandsAndTheCancelSaysSo) {
  this->store->submit(this->job("r1"));
  auto l = this->store->acquire("w1", 10s);
  EXPECT_FALSE(this->store->finish_job(l->record.job_id, l->fence, JobStatus::kSucceeded, "result")
                   .cancelled_instead);
  EXPECT_EQ(this->store->request_cancel({"t1", "u1", "r1"}, "x"), CancelOutcome::kAlreadyFinished);
  EXPECT_EQ(this->store->find({"t1", "u1", "r1"})->status, JobStatus::kSucceeded);
}

TYPED_TEST(JobStoreContract, ARoundReportsAFinishTurnedIntoCancelled) {
  this->store->submit(this->job("r1"));
  auto l = this->store->acquire("pool", 10s);
  this->store->request_cancel({"t1", "u1", "r1"}, "cancelled!");
  auto next = this->round(0);
  next.finishes = {{l->record.job_id, l->fence, JobStatus::kFailed, "error", ""}};
  auto r = this->store->commit_round(next);
  ASSERT_EQ(r.finished.size(), 1u);
  EXPECT_TRUE(r.finished[0].ended);
  EXPECT_TRUE(r.finished[0].cancelled_instead);
  EXPECT_EQ(r.finished[0].outcome_json, "cancelled!");
}

TYPED_TEST(JobStoreContract, AReleasedJobWhoseCancelWasRequestedIsRunnableAtOnceAndFlagged) {
  this->store->submit(this->job("r1"));
  auto l = this->store->acquire("w1", 10s);
  this->store->request_cancel({"t1", "u1", "r1"}, "cancelled!");
  EXPECT_TRUE(this->store->release(l->record.job_id, l->fence,
                                   std::chrono::system_clock::now() + 1h, "boom", false));
  auto again = this->store->acquire("w2", 10s);  // not an hour later
  ASSERT_TRUE(again);
  EXPECT_TRUE(again->record.cancel_requested);
}

TYPED_TEST(JobStoreContract, CancelRacingFinishNeverEndsACancellingRequestInSuccess) {
  for (int i = 0; i < 100; ++i) {
    const std::string id = "race" + std::to_string(i);
    this->store->submit(this->job(id));
    auto l = this->store->acquire("w", 10s);
    ASSERT_TRUE(l);
    CancelOutcome answer{};
    std::thread canceller([&] {
      answer = this->store->request_cancel({"t1", "u1", id}, "cancelled");
    });
    this->store->finish(l->record.job_id, l->fence, JobStatus::kSucceeded, "result");
    canceller.join();
    auto rec = this->store->find({"t1", "u1", id});
    if (answer == CancelOutcome::kCancelRequested) {
      EXPECT_EQ(rec->status, JobStatus::kCancelled) << id;
      EXPECT_EQ(rec->outcome_json, "cancelled") << id;
    } else {
      EXPECT_EQ(answer, CancelOutcome::kAlreadyFinished) << id;
      EXPECT_EQ(rec->status, JobStatus::kSucceeded) << id;
    }
  }
}

TEST(SqliteJobStore, SurvivesReopen) {
  auto path = std::filesystem::temp_directory_path() /
              ("streamer-reopen-" + std::to_string(::getpid()) + ".db");
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

TEST(SqliteJobStore, ADatabaseFromBeforeFencingIsUpgradedAndItsOldLeasesCannotWrite) {
  auto path = std::filesystem::temp_directory_path() /
              ("streamer-prefence-" + std::to_string(::getpid()) + ".db");
  std::filesystem::remove(path);
  {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
    // The schema as it was, with one job leased to a process that is gone.
    ASSERT_EQ(
        sqlite3_exec(db,
                     "CREATE TABLE jobs(job_id INTEGER PRIMARY KEY AUTOINCREMENT, tenant_id "
                     "TEXT NOT NULL, user_id TEXT NOT NULL, request_id TEXT NOT NULL, action "
                     "TEXT NOT NULL, payload TEXT NOT NULL, trace_id TEXT NOT NULL DEFAULT '', "
                     "status INTEGER NOT NULL DEFAULT 0, attempts INTEGER NOT NULL DEFAULT 0, "
                     "max_attempts INTEGER NOT NULL DEFAULT 3, cancel_requested INTEGER NOT "
                     "NULL DEFAULT 0, available_at INTEGER NOT NULL, lease_owner TEXT, "
                     "lease_until INTEGER, progress TEXT NOT NULL DEFAULT '', outcome TEXT NOT "
                     "NULL DEFAULT '', last_error TEXT NOT NULL DEFAULT '', created_at INTEGER "
                     "NOT NULL, updated_at INTEGER NOT NULL, finished_at INTEGER, "
                     "UNIQUE(tenant_id, user_id, request_id));"
                     "INSERT INTO jobs(tenant_id,user_id,request_id,action,payload,status,"
                     "attempts,available_at,lease_owner,lease_until,created_at,updated_at) "
                     "VALUES('t','u','r','delay','{}',1,1,0,'old-process',0,0,0);",
                     nullptr, nullptr, nullptr),
        SQLITE_OK);
    sqlite3_close(db);
  }
  SqliteJobStore store({path});
  auto lease = store.acquire("new-process", 10s);  // the old lease had lapsed
  ASSERT_TRUE(lease);
  EXPECT_EQ(lease->fence, 1);
  EXPECT_FALSE(store.finish("1", 0, JobStatus::kSucceeded, "from the old process"));
  EXPECT_TRUE(store.finish(lease->record.job_id, lease->fence, JobStatus::kSucceeded, "ok"));
  std::filesystem::remove(path);
}

// ------------------------------------------------------------------ lanes
// Jobs of a lane other than the built-in one ("") are claimed only by acquire_lane for
// that lane: never by a worker pool's claims, rounds or wake-ups.
template <class Factory>
class JobStoreLanes : public JobStoreContract<Factory> {
 protected:
  NewJob in_lane(std::string id, std::string lane, std::string tenant = "t1") {
    NewJob j = this->job(std::move(id), std::move(tenant));
    j.action = lane;
    j.lane = std::move(lane);
    return j;
  }
};
using LaneBackends = ::testing::Types<SqliteFactory, MemoryFactory, RedisFactory>;
TYPED_TEST_SUITE(JobStoreLanes, LaneBackends);

TYPED_TEST(JobStoreLanes, BuiltInClaimsNeverTakeAJobOfAnotherLane) {
  this->store->submit(this->in_lane("remote", "resize"));
  this->store->submit(this->job("local"));
  EXPECT_EQ(ids(this->store->acquire_batch("pool", 10s, 5)),
            (std::vector<std::string>{"t1/local"}));
  auto r = this->store->commit_round(this->round(5, {this->in_lane("remote2", "resize")}));
  EXPECT_TRUE(r.claimed.empty());
  ASSERT_EQ(r.submitted.size(), 1u);
  EXPECT_EQ(r.submitted[0].record.status, JobStatus::kQueued);
  EXPECT_EQ(r.submitted[0].record.lane, "resize");
  EXPECT_FALSE(r.capped);
  EXPECT_EQ(this->store->find({"t1", "u1", "remote"})->lane, "resize");
}

// A round's new waiting-lane jobs are inserted leased for the caller's waiting lane
// only when they all fit its room and no job of the lane was runnable before them;
// Redis leaves them to acquire_lane, which the interface allows.
TYPED_TEST(JobStoreLanes, ARoundLeasesItsNewWaitingJobsOnlyWhenAllFitAndNoneWasRunnableBefore) {
  auto waiting = [&](std::string id) {
    return this->in_lane(std::move(id), std::string(kWaitingLane));
  };
  auto round = [&](std::vector<NewJob> submits, std::size_t room) {
    auto r = this->round(0, std::move(submits));
    r.max_waiting_claims = room;
    return this->store->commit_round(r);
  };
  auto first = round({waiting("a"), waiting("b"), this->job("local")}, 2);
  if (!TypeParam::kLeasesWaitingInRounds) {
    EXPECT_TRUE(first.waiting_claimed.empty());
    EXPECT_EQ(first.submitted[0].record.status, JobStatus::kQueued);
    EXPECT_EQ(ids(this->store->acquire_lane(kWaitingLane, "", "w", 10s, 5)),
              (std::vector<std::string>{"t1/a", "t1/b"}));
    return;
  }
  ASSERT_EQ(ids(first.waiting_claimed), (std::vector<std::string>{"t1/a", "t1/b"}));
  EXPECT_EQ(first.submitted[0].record.status, JobStatus::kRunning);
  EXPECT_EQ(first.waiting_claimed[0].record.attempts, 1);
  EXPECT_EQ(first.waiting_claimed[0].worker_id, "pool");
  EXPECT_EQ(first.submitted[2].record.status, JobStatus::kQueued);  // built-in lane: no claims
  EXPECT_TRUE(first.claimed.empty());
  // Three new ones do not fit a room of two: none is leased.
  auto crowded = round({waiting("c"), waiting("d"), waiting("e")}, 2);
  EXPECT_TRUE(crowded.waiting_claimed.empty());
  EXPECT_EQ(this->store->find({"t1", "u1", "d"})->status, JobStatus::kQueued);
  // They are runnable now, so a later one is not leased ahead of them ...
  EXPECT_TRUE(round({waiting("f")}, 10).waiting_claimed.empty());
  EXPECT_EQ(ids(this->store->acquire_lane(kWaitingLane, "", "w", 10s, 10)),
            (std::vector<std::string>{"t1/c", "t1/d", "t1/e", "t1/f"}));
  // ... and once the lane's queue is empty, new ones are leased again, with a fence that
  // finishes them; a re-sent id is answered with its job and not leased twice.
  auto again = round({waiting("g"), waiting("a")}, 10);
  ASSERT_EQ(ids(again.waiting_claimed), (std::vector<std::string>{"t1/g"}));
  EXPECT_FALSE(again.submitted[1].created);
  const auto& g = again.waiting_claimed[0];
  EXPECT_TRUE(this->store->finish(g.record.job_id, g.fence, JobStatus::kSucceeded, "ok"));
}

TYPED_TEST(JobStoreLanes, ARoundLeasesWaitingJobsWithinEachTenantsWaitingBound) {
  JobLimits limits;
  limits.max_waiting_per_tenant = 1;
  this->store->set_limits(limits);
  auto waiting = [&](std::string id, std::string tenant) {
    return this->in_lane(std::move(id), std::string(kWaitingLane), std::move(tenant));
  };
  auto r = this->round(0, {waiting("a", "t1"), waiting("b", "t1"), waiting("c", "t2")});
  r.max_waiting_claims = 10;
  auto out = this->store->commit_round(r);
  if (!TypeParam::kLeasesWaitingInRounds) {
    EXPECT_TRUE(out.waiting_claimed.empty());
    return;
  }
  EXPECT_EQ(ids(out.waiting_claimed), (std::vector<std::string>{"t1/a", "t2/c"}));
  EXPECT_EQ(this->store->find({"t1", "u1", "b"})->status, JobStatus::kQueued);
  EXPECT_TRUE(this->store->acquire_lane(kWaitingLane, "", "w", 10s, 10).empty());  // t1 at bound
}

// claim_lane says whether it left a runnable job for its tenant's bound (what tells a
// waiting lane's feeder that a run ending may make a job claimable); Redis does not
// know and always says so.
TYPED_TEST(JobStoreLanes, ClaimLaneSaysWhenItLeftAJobForItsTenantsBound) {
  JobLimits limits;
  limits.max_waiting_per_tenant = 1;
  this->store->set_limits(limits);
  const std::string lane(kWaitingLane);
  this->store->submit(this->in_lane("a", lane));
  this->store->submit(this->in_lane("b", lane));
  auto first = this->store->claim_lane(lane, "", "w", 10s, 5);
  ASSERT_EQ(ids(first.leases), (std::vector<std::string>{"t1/a"}));
  EXPECT_TRUE(first.capped);  // b waits for a's lease
  const auto& a = first.leases[0];
  ASSERT_TRUE(this->store->finish(a.record.job_id, a.fence, JobStatus::kSucceeded, "ok"));
  auto second = this->store->claim_lane(lane, "", "w", 10s, 5);
  EXPECT_EQ(ids(second.leases), (std::vector<std::string>{"t1/b"}));
  auto third = this->store->claim_lane(lane, "", "w", 10s, 5);
  EXPECT_TRUE(third.leases.empty());
  if (TypeParam::kReportsLaneCapped) {
    EXPECT_FALSE(second.capped);
    EXPECT_FALSE(third.capped);
  }
}

TYPED_TEST(JobStoreLanes, AcquireLaneTakesOnlyItsLaneOldestFirst) {
  this->store->submit(this->in_lane("a", "resize"));
  this->store->submit(this->job("local"));
  this->store->submit(this->in_lane("b", "transcode"));
  this->store->submit(this->in_lane("c", "resize"));
  auto leases = this->store->acquire_lane("resize", "", "remote", 10s, 5);
  EXPECT_EQ(ids(leases), (std::vector<std::string>{"t1/a", "t1/c"}));
  EXPECT_EQ(leases[0].record.status, JobStatus::kRunning);
  EXPECT_EQ(leases[0].record.attempts, 1);
  EXPECT_EQ(ids(this->store->acquire_lane("transcode", "", "remote", 10s, 5)),
            (std::vector<std::string>{"t1/b"}));
  EXPECT_TRUE(this->store->acquire_lane("nothing", "", "remote", 10s, 5).empty());
  EXPECT_EQ(ids(this->store->acquire_batch("pool", 10s, 5)),
            (std::vector<std::string>{"t1/local"}));
}

TYPED_TEST(JobStoreLanes, AcquireLaneCanBeLimitedToOneTenant) {
  this->store->submit(this->in_lane("x", "resize", "t2"));
  this->store->submit(this->in_lane("y", "resize", "t1"));
  EXPECT_EQ(ids(this->store->acquire_lane("resize", "t1", "remote", 10s, 5)),
            (std::vector<std::string>{"t1/y"}));
  EXPECT_TRUE(this->store->acquire_lane("resize", "t1", "remote", 10s, 5).empty());
  EXPECT_EQ(ids(this->store->acquire_lane("resize", "", "remote", 10s, 5)),
            (std::vector<std::string>{"t2/x"}));
}

TYPED_TEST(JobStoreLanes, ALapsedLeaseInALaneIsTakenAgainOnlyInThatLane) {
  this->store->submit(this->in_lane("a", "resize"));
  auto first = this->store->acquire_lane("resize", "", "w1", 1ms, 1);
  ASSERT_EQ(first.size(), 1u);
  std::this_thread::sleep_for(20ms);
  EXPECT_TRUE(this->store->acquire_batch("pool", 10s, 5).empty());
  EXPECT_TRUE(this->store->acquire_lane("resize", "t2", "w2", 10s, 5).empty());
  auto again = this->store->acquire_lane("resize", "t1", "w2", 10s, 5);
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(again[0].record.attempts, 2);
  EXPECT_GT(again[0].fence, first[0].fence);
  EXPECT_FALSE(
      this->store->finish(first[0].record.job_id, first[0].fence, JobStatus::kSucceeded, "stale"));
  EXPECT_TRUE(
      this->store->finish(again[0].record.job_id, again[0].fence, JobStatus::kSucceeded, "ok"));
}

TYPED_TEST(JobStoreLanes, ALanesLapsedLeaseDoesNotWakeThePool) {
  this->store->submit(this->in_lane("a", "resize"));
  ASSERT_EQ(this->store->acquire_lane("resize", "", "w1", 1ms, 1).size(), 1u);
  std::this_thread::sleep_for(5ms);
  EXPECT_EQ(this->store->next_wakeup(), std::nullopt);
}

TYPED_TEST(JobStoreLanes, TheRunningBoundIsTheBuiltInLanesAndLanesCountApart) {
  this->store->set_limits({0, 0, 1});
  this->store->submit(this->in_lane("r1", "resize"));
  this->store->submit(this->in_lane("r2", "resize"));
  this->store->submit(this->job("b1"));
  this->store->submit(this->job("b2"));
  // A lane's claims are not bounded by max_running_per_tenant ...
  EXPECT_EQ(this->store->acquire_lane("resize", "", "remote", 10s, 5).size(), 2u);
  // ... nor do its leases use up the tenant's built-in bound.
  EXPECT_EQ(ids(this->store->acquire_batch("pool", 10s, 5)), (std::vector<std::string>{"t1/b1"}));
  EXPECT_TRUE(this->store->acquire_batch("pool", 10s, 5).empty());
}

TYPED_TEST(JobStoreLanes, TheWaitingLaneHasItsOwnPerTenantBoundApartFromTheRunningOne) {
  JobLimits limits;
  limits.max_running_per_tenant = 1;
  limits.max_waiting_per_tenant = 3;
  this->store->set_limits(limits);
  const std::string waiting(kWaitingLane);
  for (int i = 0; i < 5; ++i) this->store->submit(this->in_lane("w" + std::to_string(i), waiting));
  this->store->submit(this->in_lane("o1", waiting, "t2"));
  this->store->submit(this->job("b1"));
  this->store->submit(this->job("b2"));
  // The built-in lane's bound neither limits nor is used up by waiting jobs ...
  auto first = this->store->acquire_lane(waiting, "", "pool", 10s, 10);
  EXPECT_EQ(first.size(), 4u);  // t1 up to its 3, and t2's one: fair between tenants
  EXPECT_EQ(std::count_if(first.begin(), first.end(),
                          [](const Lease& l) { return l.record.key.tenant_id == "t2"; }),
            1);
  EXPECT_EQ(ids(this->store->acquire_batch("pool", 10s, 5)), (std::vector<std::string>{"t1/b1"}));
  // ... and t1 gets its next waiting job once one of its three ends.
  EXPECT_TRUE(this->store->acquire_lane(waiting, "", "pool", 10s, 10).empty());
  const Lease& done = first.front().record.key.tenant_id == "t1" ? first.front() : first.back();
  ASSERT_TRUE(this->store->finish(done.record.job_id, done.fence, JobStatus::kSucceeded, "ok"));
  EXPECT_EQ(this->store->acquire_lane(waiting, "", "pool", 10s, 10).size(), 1u);
}

// Renewing many leases at once answers each as renew() would, in order: a stale fence
// (lapsed and claimed again), an ended job and an unknown id are refused without
// affecting the others, which are extended and report a requested cancel.
TYPED_TEST(JobStoreContract, RenewBatchAnswersEachLeaseAndRefusesOnlyTheStaleOnes) {
  EXPECT_TRUE(this->store->renew_batch({}, 10s).empty());
  this->store->submit(this->job("lapsed"));
  auto stale = this->store->acquire("w1", 20ms);
  ASSERT_TRUE(stale);
  std::this_thread::sleep_for(40ms);
  auto current = this->store->acquire("w1", 10s);  // the same job, a newer fence
  ASSERT_TRUE(current);
  ASSERT_EQ(current->record.job_id, stale->record.job_id);
  this->store->submit(this->job("short"));
  this->store->submit(this->job("cancelled"));
  this->store->submit(this->job("ended"));
  auto short_lease = this->store->acquire("w1", 30ms);
  auto cancelled = this->store->acquire("w1", 10s);
  auto ended = this->store->acquire("w1", 10s);
  ASSERT_TRUE(short_lease && cancelled && ended);
  ASSERT_EQ(short_lease->record.key.request_id, "short");
  EXPECT_EQ(this->store->request_cancel({"t1", "u1", "cancelled"}, "c"),
            CancelOutcome::kCancelRequested);
  ASSERT_TRUE(this->store->finish(ended->record.job_id, ended->fence, JobStatus::kSucceeded, "ok"));

  const auto states = this->store->renew_batch({{short_lease->record.job_id, short_lease->fence},
                                                {stale->record.job_id, stale->fence},
                                                {cancelled->record.job_id, cancelled->fence},
                                                {ended->record.job_id, ended->fence},
                                                {current->record.job_id, current->fence}},
                                               10s);
  ASSERT_EQ(states.size(), 5u);
  EXPECT_TRUE(states[0].owned);
  EXPECT_FALSE(states[0].cancel_requested);
  EXPECT_FALSE(states[1].owned);  // the stale fence
  EXPECT_TRUE(states[2].owned);
  EXPECT_TRUE(states[2].cancel_requested);
  EXPECT_FALSE(states[3].owned);  // already ended
  EXPECT_TRUE(states[4].owned);   // the stale item did not touch the current claim

  // The short lease was extended to 10 s: it does not lapse and nobody takes it over.
  std::this_thread::sleep_for(60ms);
  EXPECT_FALSE(this->store->acquire("w2", 10s));
  EXPECT_TRUE(
      this->store->finish(current->record.job_id, current->fence, JobStatus::kSucceeded, "ok"));
  EXPECT_TRUE(this->store->finish(short_lease->record.job_id, short_lease->fence,
                                  JobStatus::kSucceeded, "ok"));
}

}  // namespace
}  // namespace streamer
