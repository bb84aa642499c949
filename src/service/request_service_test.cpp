// Where RequestService runs sync handlers: inline ones on the caller's thread before
// on_frame returns, the others on the sync pool in the connection's share of it.
#include "service/request_service.hpp"

#include <gtest/gtest.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <condition_variable>
#include <future>
#include <thread>

#include "jobs/memory_job_store.hpp"

namespace streamer {
namespace {

using namespace std::chrono_literals;

// A connection that records what it is sent; every request gets a slot.
class RecordingConnection final : public ClientConnection {
 public:
  const Identity& identity() const override { return who_; }
  bool begin_request(std::string_view) override { return true; }
  void end_request(std::string_view) override {}
  void expect_queued(std::string_view) override {}
  void deliver(std::string_view request_id, MessageKind, std::string message) override {
    std::lock_guard lock(mutex_);
    answered_.emplace_back(request_id);
    messages_.push_back(std::move(message));
    changed_.notify_all();
  }
  // The ids answered so far, in order, once there are `n` (or after 10 s).
  std::vector<std::string> wait_for(std::size_t n) {
    std::unique_lock lock(mutex_);
    changed_.wait_for(lock, 10s, [&] { return answered_.size() >= n; });
    return answered_;
  }
  std::vector<std::string> messages() {
    std::lock_guard lock(mutex_);
    return messages_;
  }

 private:
  Identity who_{"u", "t", {}};
  std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<std::string> answered_;
  std::vector<std::string> messages_;
};

// A sync handler that reports the thread it ran on and can be held until released.
class ProbeHandler final : public Handler {
 public:
  ProbeHandler(std::string name, Execution execution)
      : Handler(HandlerSpec{.name = std::move(name),
                            .estimated_duration = 1ms,
                            .permission = "",
                            .time_limit = 30s,
                            .execution = execution}) {}
  HandlerResult run(const boost::json::object& payload, JobContext& ctx) override {
    {
      std::unique_lock lock(mutex_);
      last_thread_ = std::this_thread::get_id();
      order_.push_back(ctx.request_id);
      if (payload.contains("hold")) released_.wait(lock, [&] { return open_; });
      if (auto* ms = payload.if_contains("busy_ms")) {  // a misbehaving inline handler
        std::this_thread::sleep_for(std::chrono::milliseconds(ms->to_number<int>()));
      }
    }
    return {boost::json::object{{"ok", true}}};
  }
  void release() {
    std::lock_guard lock(mutex_);
    open_ = true;
    released_.notify_all();
  }
  std::thread::id last_thread() {
    std::lock_guard lock(mutex_);
    return last_thread_;
  }
  std::vector<std::string> order() {  // request ids in the order they started
    std::lock_guard lock(mutex_);
    return order_;
  }

 private:
  std::mutex mutex_;
  std::condition_variable released_;
  bool open_ = false;
  std::thread::id last_thread_;
  std::vector<std::string> order_;
};

struct ServiceFixture : ::testing::Test {
  explicit ServiceFixture(int sync_threads = 1, int per_connection = 1) {
    auto inl = std::make_unique<ProbeHandler>("quick", Execution::kInline);
    auto pooled = std::make_unique<ProbeHandler>("pooled", Execution::kPool);
    quick = inl.get();
    pool = pooled.get();
    registry.add(std::move(inl));
    registry.add(std::move(pooled));
    io_thread = std::thread([this] { io.run(); });
    service = std::make_unique<RequestService>(
        registry, store, hub, nullptr, env, metrics, io.get_executor(),
        RequestServiceOptions{.sync_threads = sync_threads,
                              .max_concurrent_requests = 10,
                              .max_sync_per_connection = per_connection});
  }
  ~ServiceFixture() override {
    pool->release();
    service.reset();
    work.reset();
    io.stop();
    io_thread.join();
  }
  static std::string frame(const std::string& id, const std::string& action,
                           const std::string& payload = "{}") {
    return R"({"id":")" + id + R"(","action":")" + action + R"(","payload":)" + payload + "}";
  }

  HandlerRegistry registry;
  MemoryJobStore store;
  EventHub hub;
  HandlerEnvironment env;
  Metrics metrics;
  boost::asio::io_context io;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work{io.get_executor()};
  std::thread io_thread;
  ProbeHandler* quick = nullptr;
  ProbeHandler* pool = nullptr;
  std::unique_ptr<RequestService> service;
};

TEST_F(ServiceFixture, InlineHandlerAnswersOnTheCallersThreadEvenWhileThePoolIsBusy) {
  auto conn = std::make_shared<RecordingConnection>();
  service->on_frame(conn, frame("p1", "pooled", R"({"hold":true})"));  // the only pool thread
  service->on_frame(conn, frame("q1", "quick"));
  // Answered before on_frame returned, on this thread, with the pool still held.
  EXPECT_EQ(conn->wait_for(1), std::vector<std::string>{"q1"});
  EXPECT_EQ(quick->last_thread(), std::this_thread::get_id());
  EXPECT_NE(conn->messages()[0].find(R"("status":"success")"), std::string::npos);
  pool->release();
  EXPECT_EQ(conn->wait_for(2), (std::vector<std::string>{"q1", "p1"}));
  EXPECT_NE(pool->last_thread(), std::this_thread::get_id());
}

TEST_F(ServiceFixture, ALargeRequestOfAnInlineHandlerTakesThePool) {
  auto conn = std::make_shared<RecordingConnection>();
  const std::string big = R"({"blob":")" + std::string(kInlineMaxFrameBytes, 'x') + R"("})";
  service->on_frame(conn, frame("q1", "quick", big));
  EXPECT_EQ(conn->wait_for(1), std::vector<std::string>{"q1"});
  EXPECT_NE(quick->last_thread(), std::this_thread::get_id());
}

TEST_F(ServiceFixture, AConnectionsBurstWaitsInItsOwnQueue) {
  auto burst = std::make_shared<RecordingConnection>();
  auto other = std::make_shared<RecordingConnection>();
  service->on_frame(burst, frame("b0", "pooled", R"({"hold":true})"));
  for (int i = 1; i < 6; ++i) service->on_frame(burst, frame("b" + std::to_string(i), "pooled"));
  service->on_frame(other, frame("o1", "pooled"));
  pool->release();
  EXPECT_EQ(other->wait_for(1), std::vector<std::string>{"o1"});
  EXPECT_EQ(burst->wait_for(6), (std::vector<std::string>{"b0", "b1", "b2", "b3", "b4", "b5"}));
  // The other connection's call ran right after the burst's first one, not after all six.
  EXPECT_EQ(pool->order(), (std::vector<std::string>{"b0", "o1", "b1", "b2", "b3", "b4", "b5"}));
}

TEST_F(ServiceFixture, AnInlineRunOverItsBudgetIsCounted) {
  auto conn = std::make_shared<RecordingConnection>();
  service->on_frame(conn, frame("q1", "quick"));
  EXPECT_EQ(metrics.inline_overruns.load(), 0U);
  service->on_frame(conn, frame("q2", "quick", R"({"busy_ms":20})"));
  EXPECT_EQ(conn->wait_for(2).size(), 2U);
  EXPECT_EQ(metrics.inline_overruns.load(), 1U);
  EXPECT_NE(metrics.render().find("streamer_inline_overruns_total 1"), std::string::npos);
}

}  // namespace
}  // namespace streamer
