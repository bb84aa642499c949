// The worker pool with waiting handlers: many jobs wait at once on the waiting lane,
// whatever the number of worker threads, and keep every guarantee of a job.
#include <gtest/gtest.h>

#include <future>

#include "core/waiting_handler.hpp"
#include "jobs/in_process_event_bus.hpp"
#include "jobs/memory_job_store.hpp"
#include "jobs/worker_pool.hpp"

namespace streamer {
namespace {
using namespace std::chrono_literals;
namespace json = boost::json;
using Clock = std::chrono::steady_clock;

struct Sink : MessageSink {
  std::mutex m;
  std::condition_variable cv;
  int progress = 0;
  std::optional<std::string> terminal;
  void deliver(std::string_view, MessageKind kind, std::string message) override {
    std::lock_guard lock(m);
    if (kind == MessageKind::kTerminal) terminal = message;
    if (kind == MessageKind::kProgress) ++progress;
    cv.notify_all();
  }
  json::value wait(std::chrono::milliseconds timeout = 5s) {
    std::unique_lock lock(m);
    if (!cv.wait_for(lock, timeout, [&] { return terminal.has_value(); })) return nullptr;
    return json::parse(*terminal);
  }
  bool ended() {
    std::lock_guard lock(m);
    return terminal.has_value();
  }
};

// Reports 1 %, waits payload.ms in one wait, reports 50 %, returns.
class Napper final : public TypedWaitingHandler<std::int64_t> {
 public:
  explicit Napper(std::chrono::milliseconds time_limit)
      : TypedWaitingHandler(HandlerSpec{"nap", 0ms, "", time_limit, 3, Execution::kAsync}) {}
  std::int64_t parse(const json::object& payload) const override {
    return payload.at("ms").to_number<std::int64_t>();
  }
  boost::asio::awaitable<HandlerResult> run(const std::int64_t& ms, JobContext& ctx) override {
    const Inside inside(*this);
    ctx.progress.report(1, "waiting");
    // Awaited into a variable and a named result (see docs/handlers.md: GCC 12).
    const bool waited = co_await wait_for(ctx.cancel, std::chrono::milliseconds(ms));
    if (!waited) throw OperationCancelled{};
    ctx.progress.report(50, "woke");
    HandlerResult result;
    result.data = json::object{{"attempt", ctx.attempt}};
    co_return result;
  }

  // The most runs that were inside run() at once.
  int most_at_once() const { return most_.load(); }

 private:
  // Counts a run from its first step to its return or throw (before its outcome is
  // stored, so a bound on leases can never show more runs here than it allows).
  struct Inside {
    Napper& napper;
    explicit Inside(Napper& n) : napper(n) {
      const int now = ++napper.inside_;
      for (int most = napper.most_.load();
           now > most && !napper.most_.compare_exchange_weak(most, now);) {
      }
    }
    ~Inside() { --napper.inside_; }
    Inside(const Inside&) = delete;
    Inside& operator=(const Inside&) = delete;
  };
  std::atomic<int> inside_{0}, most_{0};
};

// A blocking handler, to show both forms share the pool.
class Quick final : public JsonHandler {
 public:
  Quick() : JsonHandler(HandlerSpec{"quick", 0ms, "", 30s, 3, Execution::kAsync}) {}
  HandlerResult run(const json::object&, JobContext&) override { return {json::object{}}; }
};

// The memory store, except that while `cut_off` is set the pool's renewals and claims
// do nothing (as for a pool cut off from its store), so that another process can take
// over its job's lapsed lease.
// While `renewals_cut` is set, only the renewals do nothing: the pool's own claims
// then take back its lapsed jobs. It also counts the pool's renewals: single ones,
// batches, and jobs renewed in batches.
struct CutOffStore : MemoryJobStore {
  std::atomic<bool> cut_off{false};
  std::atomic<bool> renewals_cut{false};
  std::atomic<int> single_renewals{0}, renew_batches{0}, batch_renewals{0};
  LeaseState renew(std::string_view job_id, std::int64_t fence,
                   std::chrono::milliseconds ttl) override {
    ++single_renewals;
    if (cut_off.load() || renewals_cut.load()) return {true, false};
    return MemoryJobStore::renew(job_id, fence, ttl);
  }
  std::vector<LeaseState> renew_batch(const std::vector<RenewItem>& items,
                                      std::chrono::milliseconds ttl) override {
    ++renew_batches;
    batch_renewals += static_cast<int>(items.size());
    if (cut_off.load() || renewals_cut.load())
      return std::vector<LeaseState>(items.size(), LeaseState{true, false});
    return MemoryJobStore::renew_batch(items, ttl);
  }
  std::vector<Lease> acquire_lane(std::string_view lane, std::string_view tenant,
                                  std::string_view worker_id, std::chrono::milliseconds ttl,
                                  std::size_t max) override {
    if (cut_off.load()) return {};
    return MemoryJobStore::acquire_lane(lane, tenant, worker_id, ttl, max);
  }
  LaneClaims claim_lane(std::string_view lane, std::string_view tenant, std::string_view worker_id,
                        std::chrono::milliseconds ttl, std::size_t max) override {
    if (cut_off.load()) return {};
    return MemoryJobStore::claim_lane(lane, tenant, worker_id, ttl, max);
  }
  RoundResult commit_round(const Round& round) override {
    if (!cut_off.load()) return MemoryJobStore::commit_round(round);
    Round without_claims = round;
    without_claims.max_claims = 0;
    without_claims.max_waiting_claims = 0;
    return MemoryJobStore::commit_round(without_claims);
  }
};

class WaitingPoolTest : public ::testing::Test {
 protected:
  void start(std::size_t max_waiting = 20'000, std::chrono::milliseconds lease_ttl = 2s) {
    auto napper = std::make_unique<Napper>(400ms);
    napper_ = napper.get();
    registry.add(std::move(napper));
    registry.add(std::make_unique<Quick>());
    store.set_limits({});
    WorkerPoolOptions opts;
    opts.workers = 1;  // one thread: every waiting job at once must not need one each
    opts.progress_interval = 0ms;
    opts.retry.base = 5ms;
    opts.lease_ttl = lease_ttl;
    opts.idle_poll = 20ms;
    opts.max_waiting_jobs = max_waiting;
    opts.fault_injection = true;  // payload.time_limit_ms
    pool = std::make_unique<WorkerPool>(store, hub, registry, env, opts);
    pool->start();
  }
  void TearDown() override {
    if (pool) pool->stop(2s);
  }

  std::shared_ptr<Sink> submit(const std::string& id, const std::string& action,
                               json::object payload) {
    auto sink = std::make_shared<Sink>();
    JobKey key{"t", "u", id};
    hub.subscribe(key, sink);
    std::promise<bool> stored;
    pool->submit(NewJob{key, action, json::serialize(payload), "", 3},
                 [&](const SubmitResult* r) { stored.set_value(r && r->created); });
    EXPECT_TRUE(stored.get_future().get()) << id;
    return sink;
  }
  // Polls `done` every 2 ms for up to `limit`.
  template <class F>
  bool eventually(F done, std::chrono::milliseconds limit = 5s) {
    for (auto until = Clock::now() + limit; Clock::now() < until;) {
      if (done()) return true;
      std::this_thread::sleep_for(2ms);
    }
    return done();
  }

  CutOffStore store;
  Napper* napper_ = nullptr;  // owned by `registry`
  InProcessEventBus hub;
  HandlerRegistry registry;
  HandlerEnvironment env;
  std::unique_ptr<WorkerPool> pool;
};

TEST_F(WaitingPoolTest, ManyWaitingJobsRunAtOnceOnOneWorkerThreadAndStillLeaveItFree) {
  start();
  std::vector<std::shared_ptr<Sink>> sinks;
  for (int i = 0; i < 300; ++i) {
    sinks.push_back(
        submit("n" + std::to_string(i), "nap", {{"ms", 300}, {"time_limit_ms", 60'000}}));
  }
  ASSERT_TRUE(eventually([&] { return pool->running_waiting() == 300; }));
  // The only worker thread is free for blocking work meanwhile.
  EXPECT_EQ(submit("q", "quick", {})->wait(2s).at("type").as_string(), "result");
  for (auto& sink : sinks) {
    auto msg = sink->wait();
    ASSERT_TRUE(msg.is_object());
    EXPECT_EQ(msg.at("type").as_string(), "result");
    EXPECT_EQ(sink->progress, 2 + 1);  // 1 %, 50 %, then 100 % on success
  }
  EXPECT_EQ(store.find({"t", "u", "n0"})->status, JobStatus::kSucceeded);
}

TEST_F(WaitingPoolTest, ACancelInterruptsTheWaitAtOnce) {
  start();
  auto sink = submit("c", "nap", {{"ms", 60'000}, {"time_limit_ms", 120'000}});
  // Started (registered), not only admitted: cancel_local is best effort between a
  // claim and the start, as for the worker threads.
  ASSERT_TRUE(eventually([&] { return pool->running() == 1; }));
  const auto start_cancel = Clock::now();
  ASSERT_EQ(store.request_cancel({"t", "u", "c"}, "unused"), CancelOutcome::kCancelRequested);
  EXPECT_TRUE(pool->cancel_local({"t", "u", "c"}));
  EXPECT_EQ(sink->wait(2s).at("error").at("code").as_string(), "CANCELLED");
  ASSERT_TRUE(eventually([&] { return pool->running_waiting() == 0; }, 1s));
  EXPECT_LT(Clock::now() - start_cancel, 1s);
  EXPECT_EQ(store.find({"t", "u", "c"})->status, JobStatus::kCancelled);
}

TEST_F(WaitingPoolTest, TheTimeLimitEndsTheWaitWithTimeout) {
  start();
  const auto began = Clock::now();
  auto sink = submit("slow", "nap", {{"ms", 60'000}});  // the handler's limit: 400 ms
  auto msg = sink->wait(3s);
  ASSERT_TRUE(msg.is_object());
  EXPECT_EQ(msg.at("error").at("code").as_string(), "TIMEOUT");
  EXPECT_LT(Clock::now() - began, 2s);
  EXPECT_TRUE(eventually([&] { return pool->running_waiting() == 0; }, 1s));
  EXPECT_EQ(store.find({"t", "u", "slow"})->status, JobStatus::kFailed);
}

TEST_F(WaitingPoolTest, ShutdownGivesWaitingJobsBackWithTheirAttemptRefunded) {
  start();
  for (int i = 0; i < 20; ++i)
    submit("s" + std::to_string(i), "nap", {{"ms", 60'000}, {"time_limit_ms", 120'000}});
  ASSERT_TRUE(eventually([&] { return pool->running_waiting() == 20; }));
  const auto began = Clock::now();
  pool->stop(2s);
  EXPECT_LT(Clock::now() - began, 1s);  // the waits ended at once, no grace spent
  for (int i = 0; i < 20; ++i) {
    auto rec = store.find({"t", "u", "s" + std::to_string(i)});
    EXPECT_EQ(rec->status, JobStatus::kQueued);
    EXPECT_EQ(rec->attempts, 0);
  }
}

TEST_F(WaitingPoolTest, AJobWhoseLeaseWasTakenOverStopsWaitingAndRecordsNothing) {
  start(20'000, 300ms);
  auto sink = submit("stolen", "nap", {{"ms", 60'000}, {"time_limit_ms", 120'000}});
  ASSERT_TRUE(eventually([&] { return pool->running_waiting() == 1; }));
  store.cut_off = true;  // its lease lapses...
  std::this_thread::sleep_for(400ms);
  // ...and another process claims it (from the waiting handlers' own store lane).
  auto stolen = store.MemoryJobStore::acquire_lane(kWaitingLane, "", "other-process", 10s, 1);
  ASSERT_EQ(stolen.size(), 1u);
  auto thief = std::optional<Lease>(std::move(stolen.front()));
  store.cut_off = false;  // the pool's next renew finds its fence stale
  ASSERT_TRUE(eventually([&] { return pool->running_waiting() == 0; }, 2s));
  std::this_thread::sleep_for(100ms);
  EXPECT_FALSE(sink->ended());  // no outcome published for the stale attempt
  auto rec = store.find({"t", "u", "stolen"});
  EXPECT_EQ(rec->status, JobStatus::kRunning);  // nor recorded nor released
  EXPECT_TRUE(store.finish(rec->job_id, thief->fence, JobStatus::kSucceeded, R"({"t":1})"));
}

// A store outage longer than the lease: this same pool claims its lapsed job again.
// The new attempt is the one renewed and recorded, even after the stale one ends.
TEST_F(WaitingPoolTest, AJobThisPoolClaimsAgainAfterItsLeaseLapsedEndsOnceOnTheNewAttempt) {
  start(20'000, 300ms);
  auto sink = submit("again", "nap", {{"ms", 1'000}, {"time_limit_ms", 120'000}});
  ASSERT_TRUE(eventually([&] { return pool->running_waiting() == 1; }));
  store.renewals_cut = true;
  ASSERT_TRUE(eventually([&] { return store.find({"t", "u", "again"})->attempts == 2; }, 3s));
  store.renewals_cut = false;
  auto msg = sink->wait(5s);
  ASSERT_TRUE(msg.is_object());
  ASSERT_EQ(msg.at("type").as_string(), "result") << msg;
  EXPECT_EQ(msg.at("result").at("data").at("attempt").as_int64(), 2);
  EXPECT_EQ(store.find({"t", "u", "again"})->attempts, 2);
}

TEST_F(WaitingPoolTest, WaitingJobsDoNotTakeTheWorkerThreadsPerTenantSlots) {
  start();
  JobLimits limits;
  limits.max_running_per_tenant = 1;  // the worker threads' share of one tenant
  store.set_limits(limits);
  std::vector<std::shared_ptr<Sink>> sinks;
  for (int i = 0; i < 5; ++i)
    sinks.push_back(
        submit("w" + std::to_string(i), "nap", {{"ms", 600}, {"time_limit_ms", 60'000}}));
  ASSERT_TRUE(eventually([&] { return pool->running_waiting() == 5; }, 2s));
  // The same tenant's blocking job still finds its worker thread.
  EXPECT_EQ(submit("q", "quick", {})->wait(2s).at("type").as_string(), "result");
  EXPECT_EQ(store.find({"t", "u", "w0"})->lane, kWaitingLane);
  for (auto& sink : sinks) EXPECT_EQ(sink->wait().at("type").as_string(), "result");
}

TEST_F(WaitingPoolTest, ATenantsWaitingJobsAreBoundedByTheirOwnPerTenantBound) {
  start();
  JobLimits limits;
  limits.max_waiting_per_tenant = 2;
  store.set_limits(limits);
  std::vector<std::shared_ptr<Sink>> sinks;
  for (int i = 0; i < 5; ++i)
    sinks.push_back(
        submit("b" + std::to_string(i), "nap", {{"ms", 200}, {"time_limit_ms", 60'000}}));
  ASSERT_TRUE(eventually([&] { return pool->running_waiting() == 2; }, 2s));
  for (auto& sink : sinks) EXPECT_EQ(sink->wait().at("type").as_string(), "result");
  // Counted inside the handler: the lane's own count of runs can briefly see a third
  // one, started on the lease a finished run just gave back before that run's
  // coroutine has returned to the lane.
  EXPECT_EQ(napper_->most_at_once(), 2);
}

TEST_F(WaitingPoolTest, NoMoreThanMaxWaitingJobsRunAtOnceAndTheRestRunAfter) {
  start(3);
  std::vector<std::shared_ptr<Sink>> sinks;
  for (int i = 0; i < 8; ++i)
    sinks.push_back(
        submit("b" + std::to_string(i), "nap", {{"ms", 50}, {"time_limit_ms", 60'000}}));
  std::size_t most = 0;
  eventually([&] {
    most = std::max(most, pool->running_waiting());
    return std::all_of(sinks.begin(), sinks.end(), [](auto& s) { return s->ended(); });
  });
  EXPECT_LE(most, 3u);
  EXPECT_GE(most, 2u);
  for (auto& sink : sinks) EXPECT_EQ(sink->wait(1s).at("type").as_string(), "result");
}

// The supervisor renews the leases that are due in one store call per tick, not one
// call per job; cancel_local finds a running job by its key, and no longer once it ended.
TEST_F(WaitingPoolTest, DueLeasesAreRenewedInOneStoreCallPerTick) {
  start(20'000, 300ms);  // a renewal every 100 ms per job
  std::vector<std::shared_ptr<Sink>> sinks;
  for (int i = 0; i < 40; ++i) {
    sinks.push_back(
        submit("b" + std::to_string(i), "nap", {{"ms", 700}, {"time_limit_ms", 60'000}}));
  }
  for (auto& sink : sinks) EXPECT_EQ(sink->wait(5s).at("type").as_string(), "result");
  EXPECT_EQ(store.single_renewals.load(), 0);
  EXPECT_GE(store.batch_renewals.load(), 40);  // every job was renewed at least once
  EXPECT_GE(store.batch_renewals.load(), 2 * store.renew_batches.load());  // in groups
  EXPECT_FALSE(pool->cancel_local({"t", "u", "b0"}));  // ended: no longer running here
  EXPECT_FALSE(pool->cancel_local({"t", "u", "unknown"}));
}

}  // namespace
}  // namespace streamer
