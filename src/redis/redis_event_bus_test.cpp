// RedisEventBus against a real redis-server on loopback: a gateway bus and a worker bus
// in one test process stand for two processes sharing Redis.
#include "redis/redis_event_bus.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <thread>

#include "redis/redis_job_store.hpp"
#include "redis/test_redis_server.hpp"

namespace streamer::redis {
namespace {

using namespace std::chrono_literals;

struct RecordingSink : MessageSink {
  std::mutex mutex;
  std::condition_variable cv;
  std::vector<std::pair<MessageKind, std::string>> got;
  void deliver(std::string_view, MessageKind kind, std::string message) override {
    std::lock_guard lock(mutex);
    got.emplace_back(kind, std::move(message));
    cv.notify_all();
  }
  bool wait_for(std::size_t n, std::chrono::milliseconds limit = 3s) {
    std::unique_lock lock(mutex);
    return cv.wait_for(lock, limit, [&] { return got.size() >= n; });
  }
};

RedisEventBusOptions gateway(std::string id) {
  RedisEventBusOptions o;
  o.process_id = std::move(id);
  o.ping_interval = 100ms;
  o.silence_limit = 1s;
  return o;
}

const JobKey kKey{"tenant", "user", "req-1"};

// A Redis store and the event bus options of a process whose --store and event bus are
// that one Redis: the bus' keys in the jobs' partitions, progress fenced by the jobs'
// hashes, gateways registered by the submits that create the jobs.
struct SharedRedis {
  explicit SharedRedis(int partitions = 1)
      : store(store_options(server, partitions)), url(parse_redis_url(server.url())) {}
  RedisEventBusOptions bus_options(std::string process_id) {
    auto o = gateway(std::move(process_id));
    o.key_prefix = [this](const JobKey& k) { return store.event_key_prefix(k); };
    o.fence_key = [this](std::string_view job_id) { return store.job_hash_key(job_id); };
    o.submit_registers = true;
    return o;
  }
  // Whether any gateway is registered for key's events.
  bool registered(const JobKey& key) {
    return store.client()
               .command({"EXISTS", store.event_key_prefix(key) + "g:" + job_topic(key)})
               .as_int() == 1;
  }
  static RedisJobStoreOptions store_options(const TestRedisServer& s, int partitions) {
    RedisJobStoreOptions o;
    o.url = s.url();
    o.partitions = partitions;
    return o;
  }

  TestRedisServer server;
  RedisJobStore store;
  RedisUrl url;
};

TEST(BusEvent, RoundTripsKeysWithAnyBytesAndRefusesMalformedPayloads) {
  JobKey odd{"t:1", "u 2", "r\n3:"};
  const std::string payload = "p17 " + encode_key(odd) + R"({"type":"progress"})";
  auto e = parse_bus_event(payload);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->key, odd);
  EXPECT_EQ(e->kind, MessageKind::kProgress);
  EXPECT_EQ(e->seq, 17u);
  EXPECT_EQ(e->message, R"({"type":"progress"})");
  for (std::string_view bad :
       {"", "x1 1:a1:b1:c", "p 1:a1:b1:c", "p0 1:a1:b1:c", "p1 9:a1:b1:c", "p1 1:a1:b"})
    EXPECT_FALSE(parse_bus_event(bad)) << bad;
}

TEST(RedisEventBus, AnEventPublishedByAWorkerReachesOnlyTheGatewaysSubscribed) {
  TestRedisServer server;
  auto url = parse_redis_url(server.url());
  RedisEventBus gw_a(url, gateway("gw-a")), gw_b(url, gateway("gw-b"));
  RedisEventBusOptions w;
  w.process_id = "worker-1";
  RedisEventBus worker(url, w);
  gw_a.start();
  gw_b.start();
  worker.start();
  auto on_a = std::make_shared<RecordingSink>();
  auto on_b = std::make_shared<RecordingSink>();
  gw_a.subscribe(kKey, on_a);
  gw_b.subscribe({"tenant", "user", "other"}, on_b);
  ASSERT_TRUE(gw_a.wait_registered(2s));
  ASSERT_TRUE(gw_b.wait_registered(2s));

  worker.publish(kKey, MessageKind::kProgress, "p1");
  worker.publish(kKey, MessageKind::kProgress, "p2");
  worker.publish(kKey, MessageKind::kTerminal, "done");
  ASSERT_TRUE(on_a->wait_for(3));
  EXPECT_EQ(on_a->got[0], std::make_pair(MessageKind::kProgress, std::string("p1")));
  EXPECT_EQ(on_a->got[1].second, "p2");
  EXPECT_EQ(on_a->got[2], std::make_pair(MessageKind::kTerminal, std::string("done")));
  std::this_thread::sleep_for(200ms);  // nothing else arrives, on either gateway
  EXPECT_EQ(on_a->got.size(), 3u);
  EXPECT_TRUE(on_b->got.empty());
  EXPECT_EQ(gw_a.topic_count(), 0u);  // the terminal ended the subscription
}

TEST(RedisEventBus, SubscribeReturnsAtOnceWhileRedisIsStalled) {
  TestRedisServer server;
  auto url = parse_redis_url(server.url());
  RedisEventBus gw(url, gateway("gw-a"));
  RedisEventBus worker(url, gateway("worker-1"));
  gw.start();
  worker.start();
  RedisClient(url).command({"CLIENT", "PAUSE", "600", "ALL"});  // every command waits 600 ms
  auto sink = std::make_shared<RecordingSink>();
  const auto started = std::chrono::steady_clock::now();
  gw.subscribe(kKey, sink);  // on a gateway's I/O thread: must not wait for Redis
  EXPECT_LT(std::chrono::steady_clock::now() - started, 50ms);
  ASSERT_TRUE(gw.wait_registered(3s));
  worker.publish(kKey, MessageKind::kTerminal, "done");
  ASSERT_TRUE(sink->wait_for(1));
  EXPECT_EQ(sink->got[0].second, "done");
}

TEST(RedisEventBus, EventsPublishedBeforeTheRegistrationLandedAreCaughtUpFromTheStore) {
  TestRedisServer server;
  auto url = parse_redis_url(server.url());
  const JobKey running{"tenant", "user", "running"};
  const JobKey ended{"tenant", "user", "ended"};
  auto opts = gateway("gw-a");
  opts.find = [&](const JobKey& k) -> std::optional<JobRecord> {
    JobRecord r;
    r.key = k;
    r.status = k == ended ? JobStatus::kSucceeded : JobStatus::kRunning;
    r.outcome_json = k == ended ? "stored outcome" : "";
    r.progress_json = k == running ? R"({"request_id":"running","progress":40})" : "";
    return r;
  };
  RedisEventBus gw(url, opts);
  RedisEventBus worker(url, gateway("worker-1"));
  gw.start();
  worker.start();
  // Published while this gateway's registration had not landed yet: nobody heard them.
  worker.publish(running, MessageKind::kProgress, "p1 (lost)");
  worker.publish(running, MessageKind::kProgress, "p2 (lost)");
  worker.publish(ended, MessageKind::kTerminal, "published outcome (lost)");
  auto on_running = std::make_shared<RecordingSink>();
  auto on_ended = std::make_shared<RecordingSink>();
  gw.subscribe(running, on_running);
  gw.subscribe(ended, on_ended);
  ASSERT_TRUE(gw.wait_registered(2s));
  // The stored state stands in for what was missed, numbered as the last event missed...
  ASSERT_TRUE(on_running->wait_for(1));
  ASSERT_TRUE(on_ended->wait_for(1));
  EXPECT_EQ(on_running->got[0].first, MessageKind::kProgress);
  EXPECT_NE(on_running->got[0].second.find(R"("progress":40)"), std::string::npos);
  EXPECT_EQ(on_ended->got[0],
            std::make_pair(MessageKind::kTerminal, std::string("stored outcome")));
  // ...so the next live event follows it, once, with no gap and no repeat.
  worker.publish(running, MessageKind::kProgress, "p3");
  worker.publish(running, MessageKind::kTerminal, "done");
  ASSERT_TRUE(on_running->wait_for(3));
  std::this_thread::sleep_for(100ms);
  ASSERT_EQ(on_running->got.size(), 3u);
  EXPECT_EQ(on_running->got[1].second, "p3");
  EXPECT_EQ(on_running->got[2], std::make_pair(MessageKind::kTerminal, std::string("done")));
  EXPECT_EQ(on_ended->got.size(), 1u);
}

TEST(RedisEventBus, SubscribeBeforeSnapshotIsRegisteredOnReturnAndCatchesNothingUp) {
  TestRedisServer server;
  auto url = parse_redis_url(server.url());
  const JobKey ended{"tenant", "user", "ended"};
  auto opts = gateway("gw-a");
  opts.find = [&](const JobKey& k) -> std::optional<JobRecord> {
    JobRecord r;
    r.key = k;
    r.status = JobStatus::kSucceeded;
    r.outcome_json = "stored outcome";
    return r;
  };
  RedisEventBus gw(url, opts);
  RedisEventBus worker(url, gateway("worker-1"));
  gw.start();
  worker.start();
  worker.publish(ended, MessageKind::kTerminal, "published before");
  auto snapshot_taker = std::make_shared<RecordingSink>();
  gw.subscribe_before_snapshot(ended, snapshot_taker);  // the caller sends the snapshot
  gw.subscribe_before_snapshot(kKey, snapshot_taker);
  worker.publish(kKey, MessageKind::kProgress, "right after");  // no wait: registered already
  ASSERT_TRUE(snapshot_taker->wait_for(1));
  std::this_thread::sleep_for(200ms);
  ASSERT_EQ(snapshot_taker->got.size(), 1u);  // nothing of `ended` was caught up
  EXPECT_EQ(snapshot_taker->got[0].second, "right after");
}

TEST(RedisEventBus, ACancelPushedByAGatewayReachesTheWorkerAtOnce) {
  TestRedisServer server;
  auto url = parse_redis_url(server.url());
  std::mutex m;
  std::condition_variable cv;
  std::optional<JobKey> cancelled;
  RedisEventBusOptions w;
  w.process_id = "worker-1";
  w.receive_cancels = true;
  w.on_cancel = [&](const JobKey& k) {
    std::lock_guard lock(m);
    cancelled = k;
    cv.notify_all();
  };
  RedisEventBus worker(url, w), gw(url, gateway("gw-a"));
  worker.start();
  gw.start();
  const auto sent = std::chrono::steady_clock::now();
  gw.push_cancel(kKey);
  std::unique_lock lock(m);
  ASSERT_TRUE(cv.wait_for(lock, 2s, [&] { return cancelled.has_value(); }));
  EXPECT_EQ(*cancelled, kKey);
  EXPECT_LT(std::chrono::steady_clock::now() - sent, 250ms);
}

TEST(RedisEventBus, AfterItsSubscriberIsKilledAGatewayResubscribesAndResyncsFromTheStore) {
  TestRedisServer server;
  auto url = parse_redis_url(server.url());
  const JobKey ended{"tenant", "user", "ended-while-away"};
  const JobKey lost{"tenant", "user", "lost-by-failover"};
  const JobKey running{"tenant", "user", "still-running"};
  auto opts = gateway("gw-a");
  opts.find = [&](const JobKey& k) -> std::optional<JobRecord> {
    if (k == lost) return std::nullopt;
    JobRecord r;
    r.key = k;
    r.status = k == ended ? JobStatus::kSucceeded : JobStatus::kRunning;
    r.outcome_json = k == ended ? "stored outcome" : "";
    return r;
  };
  RedisEventBus gw(url, opts);
  RedisEventBus worker(url, gateway("worker-1"));
  gw.start();
  worker.start();
  auto s_ended = std::make_shared<RecordingSink>();
  auto s_lost = std::make_shared<RecordingSink>();
  auto s_running = std::make_shared<RecordingSink>();
  gw.subscribe(ended, s_ended);
  gw.subscribe(lost, s_lost);
  gw.subscribe(running, s_running);
  ASSERT_TRUE(gw.wait_registered(2s));

  RedisClient admin(url);
  admin.command({"CLIENT", "KILL", "TYPE", "pubsub"});
  ASSERT_TRUE(s_ended->wait_for(1));
  ASSERT_TRUE(s_lost->wait_for(1));
  EXPECT_EQ(s_ended->got[0], std::make_pair(MessageKind::kTerminal, std::string("stored outcome")));
  EXPECT_EQ(s_lost->got[0].first, MessageKind::kTerminal);
  EXPECT_NE(s_lost->got[0].second.find("INTERNAL_ERROR"), std::string::npos);
  EXPECT_NE(s_lost->got[0].second.find("lost_in_failover"), std::string::npos);
  EXPECT_GE(gw.connections(), 2u);
  EXPECT_TRUE(s_running->got.empty());
  // Registered again: live events of the running request still arrive.
  worker.publish(running, MessageKind::kTerminal, "live outcome");
  ASSERT_TRUE(s_running->wait_for(1));
  EXPECT_EQ(s_running->got[0].second, "live outcome");
}

TEST(RedisEventBus, ANewReplicationIdWithoutAReconnectStillResyncsAndReportsLostRequests) {
  TestRedisServer server;
  TestRedisServer empty;  // stands for a replica that never received the request
  auto url = parse_redis_url(server.url());
  const JobKey lost{"tenant", "user", "lost-in-failover"};
  std::atomic<bool> promoted{false};
  auto opts = gateway("gw-a");
  opts.silence_limit = 30s;  // only the replication id can start this resync
  opts.find = [&](const JobKey& k) -> std::optional<JobRecord> {
    if (promoted.load()) return std::nullopt;
    JobRecord r;
    r.key = k;
    r.status = JobStatus::kRunning;
    return r;
  };
  RedisEventBus gw(url, opts);
  gw.start();
  auto sink = std::make_shared<RecordingSink>();
  gw.subscribe(lost, sink);
  ASSERT_TRUE(gw.wait_registered(2s));
  std::this_thread::sleep_for(300ms);  // a few pings with the first replication id
  EXPECT_TRUE(sink->got.empty());

  // The server syncs from `empty` (its data is replaced), then is promoted: a new
  // master_replid, as when Sentinel promotes a lagging replica.
  RedisClient admin(url);
  promoted = true;
  admin.command({"REPLICAOF", "127.0.0.1", std::to_string(empty.port())});
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  while (admin.command({"INFO", "replication"}).as_string().find("master_link_status:up") ==
             std::string::npos &&
         std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(20ms);
  admin.command({"REPLICAOF", "NO", "ONE"});
  ASSERT_TRUE(sink->wait_for(1, 5s));
  EXPECT_EQ(sink->got[0].first, MessageKind::kTerminal);
  EXPECT_NE(sink->got[0].second.find("INTERNAL_ERROR"), std::string::npos);
  EXPECT_NE(sink->got[0].second.find(R"("reason":"lost_in_failover")"), std::string::npos);
  EXPECT_NE(sink->got[0].second.find(R"("retryable":true)"), std::string::npos);
  EXPECT_EQ(gw.connections(), 1u);  // found by the replication id, not by a reconnect
}

TEST(RedisEventBus, ProgressOfAnAttemptWhoseLeaseWasTakenOverNeverReachesTheGateway) {
  TestRedisServer server({"--maxmemory-policy", "noeviction"});
  RedisJobStoreOptions so;
  so.url = server.url();
  RedisJobStore store(so);
  const JobKey key{"tenant", "user", "taken-over"};
  store.submit(NewJob{key, "delay", "{}", "", 3});
  auto first = store.acquire_batch("worker-a", 50ms, 1);
  ASSERT_EQ(first.size(), 1u);
  std::this_thread::sleep_for(120ms);  // worker-a is frozen past its lease
  auto second = store.acquire_batch("worker-b", 10s, 1);
  ASSERT_EQ(second.size(), 1u);
  const std::string job_id = first[0].record.job_id;
  ASSERT_EQ(second[0].record.job_id, job_id);

  auto url = parse_redis_url(server.url());
  RedisEventBus gw(url, gateway("gw-a"));
  auto w = gateway("worker-a");
  w.receive_events = false;
  w.fence_key = [&](std::string_view id) { return store.job_hash_key(id); };
  RedisEventBus worker(url, w);
  gw.start();
  worker.start();
  auto sink = std::make_shared<RecordingSink>();
  gw.subscribe(key, sink);
  ASSERT_TRUE(gw.wait_registered(2s));

  worker.publish_progress(key, job_id, first[0].fence, "stale progress");
  worker.publish_progress(key, job_id, second[0].fence, "current progress");
  ASSERT_TRUE(sink->wait_for(1));
  std::this_thread::sleep_for(100ms);
  ASSERT_EQ(sink->got.size(), 1u);
  EXPECT_EQ(sink->got[0], std::make_pair(MessageKind::kProgress, std::string("current progress")));
  EXPECT_EQ(worker.stale_progress_dropped(), 1u);
  // The store refuses and counts the stale attempt's writes too.
  store.save_progress_batch({{job_id, first[0].fence, R"({"percent":90})"}});
  EXPECT_FALSE(store.renew(job_id, first[0].fence, 10s).owned);
  EXPECT_FALSE(store.finish(job_id, first[0].fence, JobStatus::kSucceeded, "stale outcome", ""));
  EXPECT_EQ(store.stale_writes_refused(), 3u);
  EXPECT_TRUE(store.renew(job_id, second[0].fence, 10s).owned);
}

TEST(RedisEventBus, StartRefusesWhenRedisIsUnreachable) {
  RedisEventBus gw(parse_redis_url("redis://127.0.0.1:" + std::to_string(free_loopback_port())),
                   gateway("gw"));
  EXPECT_THROW(gw.start(300ms), RedisConnectionError);
}

TEST(RedisEventBus, ASubmitRegistersItsGatewaySoTheFirstEventArrivesWithoutACatchUpRead) {
  SharedRedis redis(4);
  auto& store = redis.store;
  std::atomic<int> finds{0};
  auto shared = [&](std::string id) {
    auto o = redis.bus_options(std::move(id));
    o.find = [&](const JobKey& k) {
      ++finds;
      return store.find(k);
    };
    return o;
  };
  RedisEventBus gw(redis.url, shared("gw-a"));
  auto w = shared("worker-a");
  w.receive_events = false;
  RedisEventBus worker(redis.url, w);
  store.register_submitter("gw-a", 60s);
  gw.start();
  worker.start();

  auto sink = std::make_shared<RecordingSink>();
  const JobKey key{"tenant", "user", "at-once"};
  gw.subscribe_for_submit(key, sink);  // nothing is registered here...
  ASSERT_TRUE(gw.wait_registered(2s));
  EXPECT_FALSE(redis.registered(key));
  ASSERT_TRUE(store.submit(NewJob{key, "delay", "{}", "", 3}).created);  // ...but by the submit
  auto leases = store.acquire_batch("worker-a", 10s, 1);
  ASSERT_EQ(leases.size(), 1u);
  worker.publish_progress(key, leases[0].record.job_id, leases[0].fence, "p1");
  worker.publish(key, MessageKind::kTerminal, "done");
  ASSERT_TRUE(sink->wait_for(2));
  EXPECT_EQ(sink->got[0], std::make_pair(MessageKind::kProgress, std::string("p1")));
  EXPECT_EQ(sink->got[1], std::make_pair(MessageKind::kTerminal, std::string("done")));
  EXPECT_EQ(finds.load(), 0);  // delivered by pub/sub, not re-read from the store
  // The request's keys are in its job's partition (one hash slot for a script).
  auto keys = store.client().command({"KEYS", "*"});
  const std::string tag = store.event_key_prefix(key);
  for (const auto& k : keys.elements) {
    if (k.as_string().find(job_topic(key)) == std::string::npos) continue;
    EXPECT_EQ(k.as_string().rfind(tag, 0), 0u) << k.as_string();
  }
}

TEST(RedisEventBus, AStorePublishingOutcomesSendsEachOnceAfterItsProgressInTheWriteThatRecordsIt) {
  SharedRedis redis(4);
  auto& store = redis.store;
  RedisEventBus gw(redis.url, redis.bus_options("gw-a"));
  store.register_submitter("gw-a", 60s);
  ASSERT_TRUE(store.publish_outcomes(60s));
  gw.start();

  auto sink = std::make_shared<RecordingSink>();
  const JobKey done{"tenant", "user", "done"};
  const JobKey cancelled{"tenant", "user", "cancelled"};
  for (const auto& key : {done, cancelled}) {
    gw.subscribe_for_submit(key, sink);
    ASSERT_TRUE(store.submit(NewJob{key, "delay", "{}", "", 3}).created);
  }
  auto leases = store.acquire_batch("worker-a", 10s, 2);
  ASSERT_EQ(leases.size(), 2u);
  gw.publish_progress(done, leases[0].record.job_id, leases[0].fence, "p1");
  ASSERT_TRUE(sink->wait_for(1));
  ASSERT_EQ(store.request_cancel(cancelled, "stopped"), CancelOutcome::kCancelRequested);
  auto results = store.finish_batch(
      {{leases[0].record.job_id, leases[0].fence, JobStatus::kSucceeded, "result", ""},
       {leases[1].record.job_id, leases[1].fence, JobStatus::kSucceeded, "ignored", ""},
       {leases[0].record.job_id, leases[0].fence, JobStatus::kFailed, "again", ""}});
  EXPECT_TRUE(results[0].ended && results[0].published);
  EXPECT_TRUE(results[1].ended && results[1].published && results[1].cancelled_instead);
  EXPECT_FALSE(results[2].ended || results[2].published);  // the job had ended: not sent

  ASSERT_TRUE(sink->wait_for(3));
  std::this_thread::sleep_for(100ms);  // nothing else arrives
  const std::vector<std::pair<MessageKind, std::string>> expected{
      {MessageKind::kProgress, "p1"},
      {MessageKind::kTerminal, "result"},
      {MessageKind::kTerminal, "stopped"}};
  EXPECT_EQ(sink->got, expected);
  // The terminal ended the registrations, as the bus' own publish does.
  EXPECT_FALSE(redis.registered(done));
}

TEST(RedisEventBus, ARoundSendsItsProgressEventsBeforeItsOutcomesAndOnlyForCurrentFences) {
  SharedRedis redis;
  auto& store = redis.store;
  RedisEventBus gw(redis.url, redis.bus_options("gw-a"));
  store.register_submitter("gw-a", 60s);
  EXPECT_FALSE(store.publishes_events());
  ASSERT_TRUE(store.publish_outcomes(60s));
  EXPECT_TRUE(store.publishes_events());
  gw.start();

  auto sink = std::make_shared<RecordingSink>();
  const JobKey key{"tenant", "user", "in-one-round"};
  gw.subscribe_for_submit(key, sink);
  ASSERT_TRUE(store.submit(NewJob{key, "delay", "{}", "", 3}).created);
  auto leases = store.acquire_batch("worker-a", 10s, 1);
  ASSERT_EQ(leases.size(), 1u);
  const auto& lease = leases[0];

  JobStore::Round round;
  round.worker_id = "worker-a";
  round.lease_ttl = 10s;
  round.max_claims = 4;
  round.progress_events = {{key, lease.record.job_id, lease.fence, "p1"},
                           {key, lease.record.job_id, lease.fence + 7, "from a stale attempt"},
                           {key, lease.record.job_id, lease.fence, "p2"}};
  round.finishes = {{lease.record.job_id, lease.fence, JobStatus::kSucceeded, "result", ""}};
  auto result = store.commit_round(round);
  ASSERT_EQ(result.finished.size(), 1u);
  EXPECT_TRUE(result.finished[0].ended && result.finished[0].published);
  EXPECT_TRUE(result.claimed.empty());

  ASSERT_TRUE(sink->wait_for(3));
  std::this_thread::sleep_for(100ms);  // nothing else arrives
  const std::vector<std::pair<MessageKind, std::string>> expected{
      {MessageKind::kProgress, "p1"},
      {MessageKind::kProgress, "p2"},
      {MessageKind::kTerminal, "result"}};
  EXPECT_EQ(sink->got, expected);
  EXPECT_EQ(store.stale_writes_refused(), 1u);
}

TEST(RedisEventBus, AStoreThatWaitsForReplicasLeavesOutcomesToTheBus) {
  TestRedisServer server;
  RedisJobStoreOptions so;
  so.url = server.url();
  so.wait_replicas = 1;  // an outcome must not be visible before WAIT confirmed it
  RedisJobStore store(so);
  EXPECT_FALSE(store.publish_outcomes(60s));
  EXPECT_FALSE(store.publishes_events());
}

}  // namespace
}  // namespace streamer::redis
