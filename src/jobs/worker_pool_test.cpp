#include "jobs/worker_pool.hpp"

#include <gtest/gtest.h>

#include <future>

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
class ScriptedHandler : public Handler {
 public:
  explicit ScriptedHandler(HandlerSpec spec) : Handler(std::move(spec)) {}
  HandlerResult run(const json::object& payload, JobContext& ctx) override {
    const auto mode = std::string(payload.at("mode").as_string());
    if (mode == "flaky" && ctx.attempt < payload.at("succeed_on").as_int64()) throw std::runtime_error("flaky");
    if (mode == "invalid") throw HandlerError(ErrorCode::kNotFound, "no such thing");
    if (mode == "wait") {
      ctx.cancel.wait_for(10s);
      ctx.cancel.throw_if_cancelled();
    }
    for (int i = 1; i <= 4; ++i) ctx.progress.report(i * 20, "step");
    return {json::object{{"attempt", ctx.attempt}}};
  }
};

class WorkerPoolTest : public ::testing::Test {
 protected:
  void SetUp() override {
    registry.add(std::make_unique<ScriptedHandler>(HandlerSpec{"scripted", 60s, "", 300ms, 3, true}));
    WorkerPoolOptions opts;
    opts.workers = 2;
    opts.progress_interval = 0ms;
    opts.retry.base = 5ms;
    opts.lease_ttl = 2s;
    pool = std::make_unique<WorkerPool>(store, hub, registry, env, opts);
    pool->start();
  }
  void TearDown() override { pool->stop(2s); }

  std::shared_ptr<WaitingSink> submit(const std::string& id, json::object payload) {
    auto sink = std::make_shared<WaitingSink>();
    JobKey key{"t", "u", id};
    hub.subscribe(key, sink);
    store.submit(NewJob{key, "scripted", json::serialize(payload), "", 3});
    pool->notify();
    sinks.push_back(sink);
    return sink;
  }

  MemoryJobStore store;
  EventHub hub;
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
  EXPECT_EQ(json::parse(sink->progress.back()).at("progress").at("progress").to_number<double>(), 100.0);
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

TEST_F(WorkerPoolTest, CancelEndsAJobClaimedButNotStarted) {
  // Three jobs claimed in one round for two free workers: "behind" waits in the ready
  // queue while both workers wait in their handlers.
  auto sink = std::make_shared<WaitingSink>();
  hub.subscribe({"t", "u", "behind"}, sink);
  for (auto id : {"w1", "w2"}) store.submit(NewJob{{"t", "u", id}, "scripted", R"({"mode":"wait"})", "", 3});
  store.submit(NewJob{{"t", "u", "behind"}, "scripted", R"({"mode":"ok"})", "", 3});
  pool->notify();
  for (int i = 0; i < 100 && pool->running() < 2; ++i) std::this_thread::sleep_for(2ms);
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
  std::this_thread::sleep_for(5ms);
  pool->notify();
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

}  // namespace
}  // namespace streamer
