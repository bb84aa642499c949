// What only the Redis store does: refusing an evicting server, partitions, result TTLs,
// the blocking wait for work, replica acknowledgement and the owner a cancel reports.
// The JobStore contract itself is tested for every backend in jobs/job_store_test.cpp.
#include "redis/redis_job_store.hpp"

#include <gtest/gtest.h>

#include <condition_variable>
#include <future>
#include <mutex>
#include <set>
#include <thread>

#include "jobs/work_waiter.hpp"
#include "redis/test_redis_server.hpp"

namespace streamer::redis {
namespace {
using namespace std::chrono_literals;

NewJob job(std::string id, std::string tenant = "t1") {
  return NewJob{{std::move(tenant), "u1", std::move(id)}, "delay", "{}", "", 3};
}

class RedisJobStoreTest : public ::testing::Test {
 protected:
  TestRedisServer server{{"--maxmemory-policy", "noeviction"}};
  RedisJobStoreOptions options(int partitions = 1) {
    RedisJobStoreOptions o;
    o.url = server.url();
    o.partitions = partitions;
    return o;
  }
};

TEST(RedisJobStoreStart, RefusesAServerThatMayEvictKeys) {
  TestRedisServer lru({"--maxmemory-policy", "allkeys-lru"});
  try {
    RedisJobStoreOptions options;
    options.url = lru.url();
    RedisJobStore store(options);
    FAIL() << "started on an evicting server";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("allkeys-lru"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("noeviction"), std::string::npos) << e.what();
  }
}

TEST(RedisJobStoreStart, SaysWhichServerItCannotReach) {
  const int port = free_loopback_port();
  RedisJobStoreOptions o;
  o.url = "redis://:hunter2@127.0.0.1:" + std::to_string(port) + "/0";
  o.client = {200ms, 500ms};
  try {
    RedisJobStore store(o);
    FAIL();
  } catch (const std::runtime_error& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find(std::to_string(port)), std::string::npos) << what;
    EXPECT_EQ(what.find("hunter2"), std::string::npos) << what;  // never the password
  }
}

TEST_F(RedisJobStoreTest, FinishedJobsExpireAfterTheResultTtl) {
  auto o = options();
  o.result_ttl = 300ms;
  RedisJobStore store(o);
  store.submit(job("r1"));
  auto l = store.acquire("w", 10s);
  ASSERT_TRUE(store.finish(l->record.job_id, l->fence, JobStatus::kSucceeded, "ok"));
  ASSERT_TRUE(store.find({"t1", "u1", "r1"}));
  auto ttl = store.client().command({"PTTL", RedisJobStore::prefix(0) + "j:000000000001"}).as_int();
  EXPECT_GT(ttl, 0);
  EXPECT_LE(ttl, 300);
  std::this_thread::sleep_for(400ms);
  EXPECT_FALSE(store.find({"t1", "u1", "r1"}));  // gone without any janitor
  EXPECT_TRUE(store.submit(job("r1")).created);  // and its key is free again
}

TEST_F(RedisJobStoreTest, EveryScriptStaysInOnePartitionsHashSlot) {
  RedisJobStore store(options(8));
  std::set<int> partitions;
  for (int t = 0; t < 40; ++t) {
    const std::string tenant = "tenant" + std::to_string(t);
    partitions.insert(store.partition_of(tenant));
    store.submit(job("r", tenant));
  }
  EXPECT_GT(partitions.size(), 4u);  // tenants are spread
  auto leases = store.acquire_batch("w", 10s, 100);
  EXPECT_EQ(leases.size(), 40u);  // claims visit every partition
  std::vector<JobStore::FinishItem> items;
  for (const auto& l : leases)
    items.push_back({l.record.job_id, l.fence, JobStatus::kSucceeded, "ok", ""});
  for (const auto& f : store.finish_batch(items)) EXPECT_TRUE(f.ended);
  // All keys of one partition share the hash tag {N}, hence one cluster slot.
  auto keys = store.client().command({"KEYS", "*"});
  std::set<std::string> tags;
  for (const auto& k : keys.elements) {
    const auto& name = k.as_string();
    auto open = name.find('{');
    auto close = name.find('}');
    ASSERT_NE(open, std::string::npos) << name;
    tags.insert(name.substr(open + 1, close - open - 1));
  }
  EXPECT_EQ(tags.size(), partitions.size());
}

TEST_F(RedisJobStoreTest, WaitForWorkWakesOnASubmitFromAnotherProcessAndTimesOutOtherwise) {
  RedisJobStore worker(options());
  RedisJobStore gateway(options());
  auto t0 = std::chrono::steady_clock::now();
  EXPECT_FALSE(worker.wait_for_work(std::chrono::steady_clock::now() + 200ms));
  EXPECT_GE(std::chrono::steady_clock::now() - t0, 180ms);
  auto woke = std::async(std::launch::async, [&] {
    return worker.wait_for_work(std::chrono::steady_clock::now() + 5s);
  });
  std::this_thread::sleep_for(50ms);
  t0 = std::chrono::steady_clock::now();
  gateway.submit(job("r1"));
  EXPECT_TRUE(woke.get());
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 200ms);
  EXPECT_TRUE(worker.acquire("w", 10s));
}

TEST_F(RedisJobStoreTest, AWorkWaiterCallsBackOnAnotherProcesssSubmitAndStopsPromptly) {
  RedisJobStore worker(options());
  RedisJobStore gateway(options());
  std::mutex m;
  std::condition_variable cv;
  int calls = 0;
  WorkWaiter waiter(
      worker,
      [&] {
        std::lock_guard lock(m);
        ++calls;
        cv.notify_all();
      },
      300ms);
  waiter.start();
  std::this_thread::sleep_for(400ms);  // more than one slice: no call without work
  {
    std::lock_guard lock(m);
    EXPECT_EQ(calls, 0);
  }
  const auto t0 = std::chrono::steady_clock::now();
  gateway.submit(job("r1"));
  {
    std::unique_lock lock(m);
    ASSERT_TRUE(cv.wait_for(lock, 2s, [&] { return calls > 0; }));
  }
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 200ms);
  const auto t1 = std::chrono::steady_clock::now();
  waiter.stop();
  EXPECT_LT(std::chrono::steady_clock::now() - t1, 1s);
}

TEST_F(RedisJobStoreTest, AClaimThatLeavesWorkRearmsTheMarkerForTheNextWaiter) {
  RedisJobStore store(options());
  store.submit(job("a"));
  store.submit(job("b"));
  ASSERT_TRUE(store.wait_for_work(std::chrono::steady_clock::now() + 1s));  // consumes the marker
  ASSERT_EQ(store.acquire_batch("w1", 10s, 1).size(), 1u);                  // b is left
  EXPECT_TRUE(store.wait_for_work(std::chrono::steady_clock::now() + 1s));
  ASSERT_EQ(store.acquire_batch("w2", 10s, 1).size(), 1u);  // nothing left: no marker
  EXPECT_FALSE(store.wait_for_work(std::chrono::steady_clock::now() + 100ms));
}

TEST_F(RedisJobStoreTest, ALaneSubmitFromAnotherProcessWakesItsLaneWaiterNotThePools) {
  RedisJobStore dispatcher(options());
  RedisJobStore gateway(options());
  NewJob remote = job("remote");
  remote.lane = "resize";
  // A built-in job wakes the pools, not a lane's waiter.
  gateway.submit(job("local"));
  EXPECT_FALSE(dispatcher.wait_for_lane_work({"resize"}, std::chrono::steady_clock::now() + 150ms));
  ASSERT_TRUE(dispatcher.wait_for_work(std::chrono::steady_clock::now() + 1s));
  auto woke = std::async(std::launch::async, [&] {
    return dispatcher.wait_for_lane_work({"other", "resize"},
                                         std::chrono::steady_clock::now() + 5s);
  });
  std::this_thread::sleep_for(50ms);
  const auto t0 = std::chrono::steady_clock::now();
  gateway.submit(remote);
  EXPECT_TRUE(woke.get());
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 200ms);
  EXPECT_FALSE(dispatcher.wait_for_work(std::chrono::steady_clock::now() + 100ms));
  EXPECT_FALSE(dispatcher.wait_for_lane_work({"other"}, std::chrono::steady_clock::now() + 100ms));
}

// The pools claim the waiting lane themselves (its feeder): a waiting job stored by
// another process wakes them as a built-in job does.
TEST_F(RedisJobStoreTest, AWaitingLaneSubmitFromAnotherProcessWakesThePools) {
  RedisJobStore worker(options());
  RedisJobStore gateway(options());
  auto woke = std::async(std::launch::async, [&] {
    return worker.wait_for_work(std::chrono::steady_clock::now() + 5s);
  });
  std::this_thread::sleep_for(50ms);
  const auto t0 = std::chrono::steady_clock::now();
  NewJob waiting = job("nap");
  waiting.lane = std::string(kWaitingLane);
  gateway.submit(waiting);
  EXPECT_TRUE(woke.get());
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 200ms);
}

TEST_F(RedisJobStoreTest, ALaneClaimThatLeavesWorkRearmsTheLanesMarker) {
  RedisJobStore store(options());
  for (std::string id : {"a", "b"}) {
    NewJob j = job(id);
    j.lane = "resize";
    store.submit(j);
  }
  const auto soon = [] { return std::chrono::steady_clock::now() + 500ms; };
  ASSERT_TRUE(store.wait_for_lane_work({"resize"}, soon()));             // consumes the marker
  ASSERT_EQ(store.acquire_lane("resize", "", "d1", 10s, 1).size(), 1u);  // b is left
  EXPECT_TRUE(store.wait_for_lane_work({"resize"}, soon()));
  ASSERT_EQ(store.acquire_lane("resize", "", "d2", 10s, 1).size(), 1u);  // nothing left
  EXPECT_FALSE(store.wait_for_lane_work({"resize"}, std::chrono::steady_clock::now() + 100ms));
}

TEST_F(RedisJobStoreTest, ACancelOfARunningJobNamesItsLeaseHolder) {
  RedisJobStore store(options());
  store.submit(job("r1"));
  auto l = store.acquire("host:42:beef", 10s);
  ASSERT_TRUE(l);
  auto c = store.cancel({"t1", "u1", "r1"}, "cancelled");
  EXPECT_EQ(c.outcome, CancelOutcome::kCancelRequested);
  EXPECT_EQ(c.owner, "host:42:beef");
}

TEST_F(RedisJobStoreTest, WithoutTheRequiredReplicasASubmitIsNotAcknowledged) {
  auto o = options();
  o.wait_replicas = 1;
  o.wait_timeout = 50ms;
  RedisJobStore store(o);
  try {
    store.submit(job("r1"));
    FAIL() << "acknowledged without a replica";
  } catch (const RedisConnectionError& e) {
    EXPECT_NE(std::string(e.what()).find("0 of 1 replicas"), std::string::npos) << e.what();
  }
}

TEST_F(RedisJobStoreTest, WithAReplicaSubmitsAndFinishesWaitForIt) {
  TestRedisServer replica({"--maxmemory-policy", "noeviction", "--replicaof", "127.0.0.1",
                           std::to_string(server.port())});
  auto o = options();
  o.wait_replicas = 1;
  o.wait_timeout = 2000ms;
  RedisJobStore store(o);
  RedisClient on_replica(parse_redis_url(replica.url()));
  for (int i = 0; i < 200; ++i) {  // until the replica has synced
    auto info = store.client().command({"INFO", "replication"}).as_string();
    if (info.find("connected_slaves:1") != std::string::npos &&
        info.find("state=online") != std::string::npos)
      break;
    std::this_thread::sleep_for(20ms);
  }
  ASSERT_TRUE(store.submit(job("r1")).created);
  // Acknowledged only once the replica had it: it is readable there at once.
  EXPECT_FALSE(on_replica.command({"GET", RedisJobStore::prefix(0) + "k:2:t12:u1r1"}).is_nil());
  auto l = store.acquire("w", 10s);
  ASSERT_TRUE(store.finish(l->record.job_id, l->fence, JobStatus::kSucceeded, "ok"));
  EXPECT_EQ(
      on_replica.command({"HGET", RedisJobStore::prefix(0) + "j:000000000001", "out"}).as_string(),
      "ok");
}

TEST_F(RedisJobStoreTest, ScriptsAreReloadedAfterTheServerForgetsThem) {
  RedisJobStore store(options());
  store.submit(job("r1"));
  store.client().command({"SCRIPT", "FLUSH"});  // as after a failover to a fresh primary
  EXPECT_TRUE(store.find({"t1", "u1", "r1"}));
  EXPECT_TRUE(store.acquire("w", 10s));
}

TEST_F(RedisJobStoreTest, AJobIdOfAnotherStoreIsRejectedClearly) {
  RedisJobStore store(options(2));
  EXPECT_THROW(store.renew("17", 1, 10s), std::invalid_argument);
  EXPECT_THROW(store.renew("5-000000000001", 1, 10s), std::invalid_argument);  // no partition 5
  EXPECT_FALSE(store.renew("1-000000000001", 1, 10s).owned);
}

// Calls of `command` the server has run so far (INFO commandstats).
long long calls_of(RedisClient& client, const std::string& command) {
  const std::string info = client.command({"INFO", "commandstats"}).as_string();
  const std::string field = "cmdstat_" + command + ":calls=";
  const auto at = info.find(field);
  if (at == std::string::npos) return 0;
  return std::stoll(info.substr(at + field.size()));
}

TEST_F(RedisJobStoreTest, ARoundOfFiftySubmitsIsStoredWithOneWaitForTheReplica) {
  TestRedisServer replica({"--maxmemory-policy", "noeviction", "--replicaof", "127.0.0.1",
                           std::to_string(server.port())});
  auto o = options(2);
  o.wait_replicas = 1;
  o.wait_timeout = 2000ms;
  RedisJobStore store(o);
  JobLimits limits;
  limits.max_queued_per_tenant = 12;
  store.set_limits(limits);
  for (int i = 0; i < 200; ++i) {  // until the replica has synced
    auto info = store.client().command({"INFO", "replication"}).as_string();
    if (info.find("connected_slaves:1") != std::string::npos &&
        info.find("state=online") != std::string::npos)
      break;
    std::this_thread::sleep_for(20ms);
  }
  const auto old = store.submit(job("old", "t0")).record;
  for (int i = 0; i < 12; ++i) store.submit(job("f" + std::to_string(i), "full"));
  store.submit(job("ends", "t1"));
  auto running = store.acquire_batch("w", 10s, 20);  // "old", the 12 of "full", "ends"
  ASSERT_EQ(running.size(), 14u);
  for (int i = 0; i < 12; ++i) store.submit(job("q" + std::to_string(i), "full"));  // at bound
  const Lease* ends = nullptr;
  for (const auto& l : running) {
    if (l.record.key.request_id == "ends") ends = &l;
  }
  ASSERT_TRUE(ends);

  JobStore::Round round;
  round.worker_id = "w2";
  round.lease_ttl = 10s;
  round.max_claims = 7;
  round.claim_runnable = false;
  JobStore::FinishItem finish;
  finish.job_id = ends->record.job_id;
  finish.fence = ends->fence;
  finish.outcome_json = "done";
  round.finishes.push_back(finish);
  for (int i = 0; i < 50; ++i) {
    round.submits.push_back(job("n" + std::to_string(i), "t" + std::to_string(i % 5)));
  }
  round.submits.push_back(job("old", "t0"));     // a re-submit: the job it names
  round.submits.push_back(job("over", "full"));  // refused: 12 queued
  const auto waits = calls_of(store.client(), "wait");
  const auto r = store.commit_round(round);
  EXPECT_EQ(calls_of(store.client(), "wait"), waits + 1);  // one for the whole round

  ASSERT_EQ(r.finished.size(), 1u);
  EXPECT_TRUE(r.finished[0].ended);
  ASSERT_EQ(r.submitted.size(), 52u);
  std::set<std::string> ids;
  for (int i = 0; i < 50; ++i) {
    const auto& s = r.submitted[i];
    ASSERT_TRUE(s.created) << i;
    EXPECT_EQ(s.record.key.request_id, "n" + std::to_string(i));
    EXPECT_EQ(s.record.key.tenant_id, "t" + std::to_string(i % 5));
    ids.insert(s.record.job_id);
    // The record answered is the one stored, leased (the first 7 only) or queued.
    auto stored = store.find(s.record.key);
    ASSERT_TRUE(stored) << i;
    EXPECT_EQ(stored->job_id, s.record.job_id);
    EXPECT_EQ(stored->status, i < 7 ? JobStatus::kRunning : JobStatus::kQueued) << i;
    EXPECT_EQ(s.record.status, stored->status) << i;
  }
  EXPECT_EQ(ids.size(), 50u);
  EXPECT_FALSE(r.submitted[50].created);
  EXPECT_EQ(r.submitted[50].record.job_id, old.job_id);
  EXPECT_FALSE(r.submitted[51].created);
  EXPECT_EQ(r.submitted[51].refused, QueueLimit::kQueuedPerTenant);
  EXPECT_EQ(r.submitted[51].limit_value, 12u);
  ASSERT_EQ(r.claimed.size(), 7u);
  for (int i = 0; i < 7; ++i) {
    EXPECT_EQ(r.claimed[i].record.job_id, r.submitted[i].record.job_id);
    EXPECT_EQ(r.claimed[i].fence, 1);
  }
  // Acknowledged only once the replica had the round: its last write is readable there.
  RedisClient on_replica(parse_redis_url(replica.url()));
  const auto last = store.job_hash_key(r.submitted[49].record.job_id);
  EXPECT_FALSE(on_replica.command({"HGET", last, "st"}).is_nil());
}

TEST_F(RedisJobStoreTest, AnAdminListingOfEveryTenantReadsTheTenantIndexNotTheKeyspace) {
  RedisJobStore store(options(4));
  for (int t = 0; t < 6; ++t) store.submit(job("r", "tenant" + std::to_string(t)));
  // Keys that are not the store's: an admin request must not step through them.
  std::vector<std::string> mset{"MSET"};
  for (int i = 0; i < 5000; ++i) {
    mset.push_back("other:" + std::to_string(i));
    mset.push_back("x");
  }
  store.client().command(mset);
  const auto scans = calls_of(store.client(), "scan");
  JobQuery all;
  all.limit = 100;
  EXPECT_EQ(store.list_jobs(all).jobs.size(), 6u);
  EXPECT_EQ(calls_of(store.client(), "scan"), scans);
}

TEST_F(RedisJobStoreTest, ATenantLeavesTheIndexWhenItsLastJobIsPurged) {
  RedisJobStore store(options());
  store.submit(job("r1", "gone"));
  store.submit(job("r2", "stays"));
  auto l = store.acquire_batch("w", 10s, 10);
  ASSERT_EQ(l.size(), 2u);
  for (const auto& lease : l) {
    if (lease.record.key.tenant_id != "gone") continue;
    ASSERT_TRUE(store.finish(lease.record.job_id, lease.fence, JobStatus::kSucceeded, "ok"));
  }
  auto members = [&] {
    std::set<std::string> out;
    for (const auto& m :
         store.client().command({"SMEMBERS", RedisJobStore::prefix(0) + "tn"}).elements)
      out.insert(m.as_string());
    return out;
  };
  EXPECT_EQ(members(), (std::set<std::string>{"gone", "stays"}));
  EXPECT_EQ(store.purge_finished_before(std::chrono::system_clock::now() + 1s), 1u);
  EXPECT_EQ(members(), (std::set<std::string>{"stays"}));
  JobQuery all;
  auto page = store.list_jobs(all);
  ASSERT_EQ(page.jobs.size(), 1u);
  EXPECT_EQ(page.jobs[0].key.tenant_id, "stays");
}

}  // namespace
}  // namespace streamer::redis
