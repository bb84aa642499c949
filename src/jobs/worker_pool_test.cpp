#include "jobs/worker_pool.hpp"

#include <gtest/gtest.h>

#include <future>
#include <string>

#include "jobs/in_process_event_bus.hpp"
#include "jobs/memory_job_store.hpp"

namespace streamer {
namespace {
using namespace std::chrono_literals;
namespace json = boost::json;

// Waits for the terminal message of one request.
struct WaitingSink : MessageSink {
  std::mutex m;
  std::condition_variable cv;
  std::vector<std::string> progress;
  std::optional<std::string> terminal;
  void deliver(std::string_view, MessageKind kind, std::string message) override {
    std::lock_guard lock(m);
    if (kind == MessageKind::kTerminal) terminal = message;
    if (kind == MessageKind::kProgress) progress.push_back(message);
    cv.notify_all();
  }
  json::value wait(std::chrono::milliseconds timeout = 5s) {
    std::unique_lock lock(m);
    if (!cv.wait_for(lock, timeout, [&] { return terminal.has_value(); })) return nullptr;
    return json::parse(*terminal);
  }
};

// Fails (retryably) until attempt `succeed_on`, reports progress, honours cancel.
class ScriptedHandler : public JsonHandler {
 public:
  explicit ScriptedHandler(HandlerSpec spec) : JsonHandler(std::move(spec)) {}
  json::object parse(const json::object& payload) const override {
    ++parses;
    return payload;
  }
  mutable std::atomic<int> parses{0};
  HandlerResult run(const json::object& payload, JobContext& ctx) override {
    const auto mode = std::string(payload.at("mode").as_string());
    if (mode == "flaky" && ctx.attempt < payload.at("succeed_on").as_int64())
      throw std::runtime_error("flaky");
    if (mode == "invalid") throw HandlerError(ErrorCode::kNotFound, "no such thing");
    if (mode == "wait") {
      ctx.cancel.wait_for(10s);
      ctx.cancel.throw_if_cancelled();
    }
    for (int i = 1; i <= 4; ++i) ctx.progress.report(i * 20, "step");
    return {json::object{{"attempt", ctx.attempt}}};
  }
};

// The memory store, except that release() throws while `fail_release` is set.
struct ReleaseFailingStore : MemoryJobStore {
  std::atomic<bool> fail_release{false};
  std::atomic<int> failed_releases{0};
  bool release(std::string_view job_id, std::int64_t fence, SystemTime available_at,
               std::string_view last_error, bool refund_attempt) override {
    if (fail_release.load()) {
      ++failed_releases;
      throw std::runtime_error("store unavailable");
    }
    return MemoryJobStore::release(job_id, fence, available_at, last_error, refund_attempt);
  }
};

class WorkerPoolTest : public ::testing::Test {
 protected:
  void SetUp() override {
    registry.add(std::make_unique<ScriptedHandler>(
        HandlerSpec{"scripted", 60s, "", 300ms, 3, Execution::kAsync}));
    WorkerPoolOptions opts;
    opts.workers = 2;
    opts.progress_interval = 0ms;
    opts.retry.base = 5ms;
    opts.lease_ttl = 2s;
    opts.idle_poll = 20ms;  // how soon jobs stored by someone else are seen
    pool = std::make_unique<WorkerPool>(store, hub, registry, env, opts);
    pool->start();
  }
  void TearDown() override { pool->stop(2s); }

  // Submits through the pool (as the request service does) and returns once stored.
  std::shared_ptr<WaitingSink> submit(const std::string& id, json::object payload) {
    auto sink = std::make_shared<WaitingSink>();
    JobKey key{"t", "u", id};
    hub.subscribe(key, sink);
    std::promise<bool> stored;
    pool->submit(NewJob{key, "scripted", json::serialize(payload), "", 3},
                 [&](const SubmitResult* r) { stored.set_value(r && r->created); });
    EXPECT_TRUE(stored.get_future().get()) << id;
    sinks.push_back(sink);
    return sink;
  }

  // Stores the jobs in one store transaction behind the pool's back: its next look at
  // the store (within idle_poll) claims them all in one round while its workers are
  // free, so the ones beyond the free workers wait claimed in its ready queue.
  void store_claimed_together(const std::vector<std::pair<std::string, json::object>>& jobs) {
    JobStore::Round round;
    for (const auto& [id, payload] : jobs) {
      JobKey key{"t", "u", id};
      auto sink = std::make_shared<WaitingSink>();
      hub.subscribe(key, sink);
      sinks.push_back(sink);
      round.submits.push_back(NewJob{key, "scripted", json::serialize(payload), "", 3});
    }
    store.commit_round(round);
  }

  ReleaseFailingStore store;
  InProcessEventBus hub;
  HandlerRegistry registry;
  HandlerEnvironment env;
  std::unique_ptr<WorkerPool> pool;
  std::vector<std::shared_ptr<WaitingSink>> sinks;
};

TEST_F(WorkerPoolTest, SuccessEndsWithProgressAtOneHundredThenResult) {
  auto sink = submit("ok", {{"mode", "ok"}});
  auto msg = sink->wait();
  ASSERT_TRUE(msg.is_object());
  EXPECT_EQ(msg.at("type").as_string(), "result");
  EXPECT_TRUE(msg.at("result").at("success").as_bool());
  EXPECT_EQ(msg.at("result").at("metadata").at("handler").as_string(), "scripted");
  ASSERT_FALSE(sink->progress.empty());
  EXPECT_EQ(json::parse(sink->progress.back()).at("progress").at("progress").to_number<double>(),
            100.0);
  EXPECT_EQ(store.find({"t", "u", "ok"})->status, JobStatus::kSucceeded);
}

TEST_F(WorkerPoolTest, RetryableFailureIsRetriedThenSucceeds) {
  auto msg = submit("flaky", {{"mode", "flaky"}, {"succeed_on", 3}})->wait();
  EXPECT_EQ(msg.at("type").as_string(), "result");
  EXPECT_EQ(msg.at("result").at("data").at("attempt").as_int64(), 3);
}

TEST_F(WorkerPoolTest, RetriesExhaustedGiveInternalErrorWithAttempts) {
  auto msg = submit("hopeless", {{"mode", "flaky"}, {"succeed_on", 99}})->wait();
  EXPECT_EQ(msg.at("error").at("code").as_string(), "INTERNAL_ERROR");
  EXPECT_EQ(msg.at("error").at("details").at("attempts").as_int64(), 3);
  EXPECT_EQ(msg.at("error").at("request_id").as_string(), "hopeless");
}

TEST_F(WorkerPoolTest, NonRetryableErrorEndsAtOnceWithItsOwnCode) {
  auto msg = submit("nf", {{"mode", "invalid"}})->wait();
  EXPECT_EQ(msg.at("error").at("code").as_string(), "NOT_FOUND");
  EXPECT_EQ(store.find({"t", "u", "nf"})->attempts, 1);
}

TEST_F(WorkerPoolTest, TimeLimitGivesTimeout) {
  auto msg = submit("slow", {{"mode", "wait"}})->wait();
  EXPECT_EQ(msg.at("error").at("code").as_string(), "TIMEOUT");
  EXPECT_EQ(store.find({"t", "u", "slow"})->status, JobStatus::kFailed);
}

TEST_F(WorkerPoolTest, CancelStopsARunningJob) {
  auto sink = submit("c", {{"mode", "wait"}});
  for (int i = 0; i < 100 && pool->running() == 0; ++i) std::this_thread::sleep_for(5ms);
  ASSERT_EQ(store.request_cancel({"t", "u", "c"}, "unused"), CancelOutcome::kCancelRequested);
  EXPECT_TRUE(pool->cancel_local({"t", "u", "c"}));
  auto msg = sink->wait();
  EXPECT_EQ(msg.at("error").at("code").as_string(), "CANCELLED");
  EXPECT_EQ(store.find({"t", "u", "c"})->status, JobStatus::kCancelled);
}

TEST_F(WorkerPoolTest, SubmitThroughThePoolIsStoredBeforeItIsAnsweredThenRuns) {
  auto sink = std::make_shared<WaitingSink>();
  JobKey key{"t", "u", "via-pool"};
  hub.subscribe(key, sink);
  std::promise<bool> stored_first;
  pool->submit(NewJob{key, "scripted", R"({"mode":"ok"})", "", 3}, [&](const SubmitResult* r) {
    stored_first.set_value(r && r->created && store.find(key).has_value());
  });
  EXPECT_TRUE(stored_first.get_future().get());
  EXPECT_EQ(sink->wait().at("type").as_string(), "result");
  EXPECT_EQ(store.find(key)->status, JobStatus::kSucceeded);
}

TEST_F(WorkerPoolTest, AJobSubmittedWithItsParseRunsOnItWithoutParsingAgainEvenWhenRetried) {
  auto* handler = static_cast<ScriptedHandler*>(registry.find("scripted"));
  json::object payload{{"mode", "flaky"}, {"succeed_on", 2}};
  ParsedRequest parsed = handler->parse_payload(payload);
  ASSERT_EQ(handler->parses.load(), 1);
  auto sink = std::make_shared<WaitingSink>();
  JobKey key{"t", "u", "handed-over"};
  hub.subscribe(key, sink);
  pool->submit(
      NewJob{key, "scripted", json::serialize(payload), "", 3}, [](const SubmitResult*) {}, parsed);
  auto msg = sink->wait();
  EXPECT_EQ(msg.at("result").at("data").at("attempt").as_int64(), 2);
  EXPECT_EQ(handler->parses.load(), 1);  // both attempts ran on the parse made at submission
  // A job that reaches the workers without one (stored by someone else) is parsed from the store.
  EXPECT_EQ(submit("stored", {{"mode", "ok"}})->wait().at("type").as_string(), "result");
  EXPECT_EQ(handler->parses.load(), 2);
}

TEST_F(WorkerPoolTest, CancelEndsAJobClaimedButNotStarted) {
  // Three jobs claimed for two free workers: "behind" waits in the ready queue while
  // both workers wait in their handlers.
  store_claimed_together(
      {{"w1", {{"mode", "wait"}}}, {"w2", {{"mode", "wait"}}}, {"behind", {{"mode", "ok"}}}});
  auto sink = sinks.back();
  for (int i = 0; i < 250 && pool->running() < 2; ++i) std::this_thread::sleep_for(2ms);
  ASSERT_EQ(pool->running(), 2u);
  ASSERT_EQ(store.request_cancel({"t", "u", "behind"}, "unused"), CancelOutcome::kCancelRequested);
  EXPECT_TRUE(pool->cancel_local({"t", "u", "behind"}));
  EXPECT_EQ(sink->wait(1s).at("error").at("code").as_string(), "CANCELLED");
  EXPECT_EQ(store.find({"t", "u", "behind"})->status, JobStatus::kCancelled);
  EXPECT_TRUE(sink->progress.empty());  // it never ran
}

TEST_F(WorkerPoolTest, AJobCancelledWhileItsLeaseLapsedEndsCancelledWithoutRunning) {
  auto sink = std::make_shared<WaitingSink>();
  JobKey key{"t", "u", "orphan"};
  hub.subscribe(key, sink);
  store.submit(NewJob{key, "scripted", R"({"mode":"ok"})", "", 3});
  ASSERT_TRUE(store.acquire("dead-worker", 1ms));  // its worker died right away
  ASSERT_EQ(store.request_cancel(key, "unused"), CancelOutcome::kCancelRequested);
  // The pool finds it on its next look at the store, once the dead worker's lease lapsed.
  auto msg = sink->wait();
  ASSERT_TRUE(msg.is_object());
  EXPECT_EQ(msg.at("error").at("code").as_string(), "CANCELLED");
  EXPECT_TRUE(sink->progress.empty());  // the handler never ran
  EXPECT_EQ(store.find(key)->status, JobStatus::kCancelled);
}

TEST_F(WorkerPoolTest, DrainGivesRunningAndUnstartedJobsBackWithTheirAttemptRefunded) {
  for (auto id : {"w1", "w2", "w3"}) submit(id, {{"mode", "wait"}});  // 2 workers: one waits
  for (int i = 0; i < 100 && pool->running() < 2; ++i) std::this_thread::sleep_for(5ms);
  ASSERT_EQ(pool->running(), 2u);
  pool->stop(2s);
  for (auto id : {"w1", "w2", "w3"}) {
    auto rec = store.find({"t", "u", id});
    EXPECT_EQ(rec->status, JobStatus::kQueued) << id;
    EXPECT_EQ(rec->attempts, 0) << id;
  }
}

TEST_F(WorkerPoolTest, AStoreErrorReleasingARetryIsSurvivedAndTheJobRunsAgainWhenItsLeaseLapses) {
  store.fail_release = true;
  auto sink = submit("flaky", {{"mode", "flaky"}, {"succeed_on", 2}});
  for (int i = 0; i < 200 && store.failed_releases.load() == 0; ++i)
    std::this_thread::sleep_for(5ms);
  ASSERT_EQ(store.failed_releases.load(), 1);
  store.fail_release = false;
  // Attempt 1 failed and could not be released: its lease (2 s) lapses, attempt 2 runs.
  auto msg = sink->wait(6s);
  ASSERT_TRUE(msg.is_object());
  EXPECT_EQ(msg.at("type").as_string(), "result");
  EXPECT_EQ(msg.at("result").at("data").at("attempt").as_int64(), 2);
  EXPECT_EQ(pool->stats().retried.load(), 0u);  // no retry was recorded by the pool
}

TEST_F(WorkerPoolTest, AStoreErrorGivingJobsBackOnDrainIsSurvivedAndTheJobsKeepTheirLeases) {
  // 2 workers: two run, the third waits claimed in the ready queue.
  store_claimed_together(
      {{"w1", {{"mode", "wait"}}}, {"w2", {{"mode", "wait"}}}, {"w3", {{"mode", "wait"}}}});
  for (int i = 0; i < 100 && pool->running() < 2; ++i) std::this_thread::sleep_for(5ms);
  ASSERT_EQ(pool->running(), 2u);
  store.fail_release = true;
  pool->stop(2s);
  EXPECT_EQ(store.failed_releases.load(), 3);  // two interrupted, one never started
  for (auto id : {"w1", "w2", "w3"}) {
    // Still leased: they run again when the leases lapse, as after a crash.
    EXPECT_EQ(store.find({"t", "u", id})->status, JobStatus::kRunning) << id;
  }
}

}  // namespace
}  // namespace streamer
