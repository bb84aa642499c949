// Contract tests run against every JobStore backend: lease, retry, cancel, cleanup.
#include <gtest/gtest.h>

#include <atomic>
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
  auto results =
      this->store->finish_batch("pool", {{leases[0].record.job_id, JobStatus::kSucceeded, "ra", ""},
                                         {leases[0].record.job_id, JobStatus::kFailed, "again", ""},
                                         {leases[1].record.job_id, JobStatus::kFailed, "rb", "p"}});
  EXPECT_EQ(ended(results), (std::vector<bool>{true, false, true}));
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
  EXPECT_TRUE(this->store->finish(first[0].record.job_id, "pool", JobStatus::kSucceeded, "ok"));
  EXPECT_EQ(ids(this->store->acquire_batch("pool", 10s, 8)), (std::vector<std::string>{"A/a3"}));
  // A given-back job frees its slot too (runnable since before a4, it goes first).
  EXPECT_TRUE(this->store->release(first[1].record.job_id, "pool",
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
  next.finishes = {{r.claimed[0].record.job_id, JobStatus::kSucceeded, "ok", ""}};
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
  auto over_tenant =
      this->store->submit_batch({this->job("r5", "T", "u3"), this->job("x1", "other", "u1")});
  EXPECT_EQ(over_tenant[0].refused, QueueLimit::kQueuedPerTenant);
  EXPECT_EQ(over_tenant[0].limit_value, 3u);
  EXPECT_TRUE(over_tenant[1].created);  // other tenants are not affected
  auto in_round = this->store->commit_round(this->round(0, {this->job("r6", "T", "u4")}));
  EXPECT_EQ(in_round.submitted[0].refused, QueueLimit::kQueuedPerTenant);
  // Running jobs are not queued: once one starts, there is room again.
  ASSERT_TRUE(this->store->acquire("w", 10s));
  EXPECT_TRUE(this->store->submit(this->job("r5", "T", "u3")).created);
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
  auto f = this->store->finish_job(l->record.job_id, "w1", JobStatus::kSucceeded, "result", "p");
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
  auto f = this->store->finish_job(l->record.job_id, "w1", JobStatus::kCancelled, "from-worker");
  EXPECT_TRUE(f.ended);
  EXPECT_FALSE(f.cancelled_instead);
  EXPECT_EQ(this->store->find({"t1", "u1", "r1"})->outcome_json, "from-worker");
}

TYPED_TEST(JobStoreContract, AFinishBeforeTheCancelStandsAndTheCancelSaysSo) {
  this->store->submit(this->job("r1"));
  auto l = this->store->acquire("w1", 10s);
  EXPECT_FALSE(this->store->finish_job(l->record.job_id, "w1", JobStatus::kSucceeded, "result")
                   .cancelled_instead);
  EXPECT_EQ(this->store->request_cancel({"t1", "u1", "r1"}, "x"), CancelOutcome::kAlreadyFinished);
  EXPECT_EQ(this->store->find({"t1", "u1", "r1"})->status, JobStatus::kSucceeded);
}

TYPED_TEST(JobStoreContract, ARoundReportsAFinishTurnedIntoCancelled) {
  this->store->submit(this->job("r1"));
  auto l = this->store->acquire("pool", 10s);
  this->store->request_cancel({"t1", "u1", "r1"}, "cancelled!");
  auto next = this->round(0);
  next.finishes = {{l->record.job_id, JobStatus::kFailed, "error", ""}};
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
  EXPECT_TRUE(this->store->release(l->record.job_id, "w1", std::chrono::system_clock::now() + 1h,
                                   "boom", false));
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
    this->store->finish(l->record.job_id, "w", JobStatus::kSucceeded, "result");
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
