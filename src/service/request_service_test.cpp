// The request service through its seam: sessions opened with open_session() on a fake
// sink, frames in, messages out. Covers the protocol rules of docs/protocol.md that
// need no socket (ids echoed, errors and their details, slots, ordering of async
// messages, idempotent ids, subscribe, cancel, isolation), and where sync handlers
// run. Async requests go through a real WorkerPool over the memory job store.
#include "service/request_service.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/json.hpp>
#include <condition_variable>
#include <functional>
#include <future>
#include <stdexcept>
#include <thread>

#include "jobs/in_process_event_bus.hpp"
#include "jobs/memory_job_store.hpp"

namespace streamer {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;

// One message as the gateway would have received it.
struct Sent {
  std::string request_id;
  MessageKind kind;
  json::object message;

  std::string type() const { return std::string(message.at("type").as_string()); }
  const json::object& body() const { return message.at(type()).as_object(); }
  // The `error` code, or "" for another message.
  std::string code() const {
    return type() == "error" ? std::string(body().at("code").as_string()) : "";
  }
  const json::object& details() const { return body().at("details").as_object(); }
  std::string status() const {  // response.status
    return type() == "response" ? std::string(body().at("status").as_string()) : "";
  }
};

// The gateway's side of a connection: records what the service delivers.
class RecordingSink final : public MessageSink {
 public:
  void deliver(std::string_view request_id, MessageKind kind, std::string message) override {
    std::lock_guard lock(mutex_);
    sent_.push_back(Sent{std::string(request_id), kind, json::parse(message).as_object()});
    changed_.notify_all();
  }
  // Everything sent so far, once `done` holds for it (or after 10 s).
  std::vector<Sent> wait_until(const std::function<bool(const std::vector<Sent>&)>& done) {
    std::unique_lock lock(mutex_);
    changed_.wait_for(lock, 10s, [&] { return done(sent_); });
    return sent_;
  }
  std::vector<Sent> wait_for(std::size_t n) {
    return wait_until([n](const auto& s) { return s.size() >= n; });
  }
  // The messages of `request_id`, once one of them is a terminal `result`/`error`.
  std::vector<Sent> wait_terminal(const std::string& request_id) {
    auto all = wait_until([&](const auto& s) {
      for (const auto& m : s)
        if (m.request_id == request_id && m.kind == MessageKind::kTerminal) return true;
      return false;
    });
    std::vector<Sent> mine;
    for (auto& m : all)
      if (m.request_id == request_id) mine.push_back(m);
    return mine;
  }
  // The first message of `request_id`, once there is one (throws after 10 s without).
  Sent wait_first(const std::string& request_id) {
    for (auto& m : wait_until([&](const auto& s) {
           return std::any_of(s.begin(), s.end(),
                              [&](const Sent& m) { return m.request_id == request_id; });
         })) {
      if (m.request_id == request_id) return m;
    }
    throw std::runtime_error("no message for " + request_id);
  }
  std::vector<Sent> sent() {
    std::lock_guard lock(mutex_);
    return sent_;
  }
  std::vector<std::string> answered_ids() {
    std::vector<std::string> ids;
    for (const auto& m : sent()) ids.push_back(m.request_id);
    return ids;
  }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<Sent> sent_;
};

// A gate handlers wait at until a test opens it.
class Gate {
 public:
  void open() {
    std::lock_guard lock(mutex_);
    open_ = true;
    changed_.notify_all();
  }
  // Waits until open, or until `cancel` is set (then throws OperationCancelled).
  void pass(const CancelToken& cancel) {
    std::unique_lock lock(mutex_);
    while (!open_) {
      changed_.wait_for(lock, 5ms);
      if (cancel.cancelled()) throw OperationCancelled();
    }
  }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  bool open_ = false;
};

// A sync handler that reports the thread it ran on and can be held until released.
class ProbeHandler final : public JsonHandler {
 public:
  ProbeHandler(std::string name, Execution execution, std::string permission = "",
               std::chrono::milliseconds time_limit = 30s)
      : JsonHandler(HandlerSpec{.name = std::move(name),
                                .estimated_duration = 1ms,
                                .permission = std::move(permission),
                                .time_limit = time_limit,
                                .execution = execution}) {}
  json::object parse(const json::object& payload) const override {
    if (auto* n = payload.if_contains("count"); n && !n->is_int64())
      throw HandlerError::validation("count", "integer", *n, "count must be an integer");
    return payload;
  }
  HandlerResult run(const json::object& payload, JobContext& ctx) override {
    {
      std::lock_guard lock(mutex_);
      last_thread_ = std::this_thread::get_id();
      order_.push_back(ctx.request_id);
    }
    if (payload.contains("hold")) gate_.pass(ctx.cancel);
    if (auto* ms = payload.if_contains("busy_ms")) {  // a misbehaving inline handler
      std::this_thread::sleep_for(std::chrono::milliseconds(ms->to_number<int>()));
    }
    return {json::object{{"ok", true}}};
  }
  void release() { gate_.open(); }
  std::thread::id last_thread() {
    std::lock_guard lock(mutex_);
    return last_thread_;
  }
  std::vector<std::string> order() {  // request ids in the order they started
    std::lock_guard lock(mutex_);
    return order_;
  }

 private:
  Gate gate_;
  std::mutex mutex_;
  std::thread::id last_thread_;
  std::vector<std::string> order_;
};

// An async handler: reports progress 50, waits at its gate when payload.hold, answers.
class StepsHandler final : public JsonHandler {
 public:
  StepsHandler()
      : JsonHandler(HandlerSpec{.name = "steps",
                                .estimated_duration = 10s,
                                .permission = "write",
                                .time_limit = 30s,
                                .max_attempts = 1,
                                .execution = Execution::kAsync}) {}
  HandlerResult run(const json::object& payload, JobContext& ctx) override {
    runs_++;
    ctx.progress.report(50, "half way");
    if (payload.contains("hold")) gate_.pass(ctx.cancel);
    return {json::object{{"done", true}}};
  }
  void release() { gate_.open(); }
  std::atomic<int> runs_{0};

 private:
  Gate gate_;
};

struct ServiceFixture : ::testing::Test {
  explicit ServiceFixture(int sync_threads = 1, int per_connection = 1, int max_requests = 10) {
    auto inl = std::make_unique<ProbeHandler>("quick", Execution::kInline);
    auto pooled = std::make_unique<ProbeHandler>("pooled", Execution::kPool);
    auto guarded = std::make_unique<ProbeHandler>("guarded", Execution::kInline, "admin");
    auto slow = std::make_unique<ProbeHandler>("limited", Execution::kPool, "", 100ms);
    auto steps_handler = std::make_unique<StepsHandler>();
    quick = inl.get();
    pool = pooled.get();
    limited = slow.get();
    steps = steps_handler.get();
    registry.add(std::move(inl));
    registry.add(std::move(pooled));
    registry.add(std::move(guarded));
    registry.add(std::move(slow));
    registry.add(std::move(steps_handler));
    io_thread = std::thread([this] { io.run(); });
    WorkerPoolOptions w;
    w.workers = 2;
    w.progress_interval = 0ms;
    w.idle_poll = 50ms;
    workers = std::make_unique<WorkerPool>(store, hub, registry, env, w);
    workers->start();
    service = std::make_unique<RequestService>(
        registry, store, hub, *workers, env, metrics, io.get_executor(),
        RequestServiceOptions{.sync_threads = sync_threads,
                              .max_concurrent_requests = max_requests,
                              .max_sync_per_connection = per_connection});
  }
  ~ServiceFixture() override {
    pool->release();
    limited->release();
    steps->release();
    // The workers' commit thread calls back into the service (a submit's answer), so
    // it stops first, as in `serve`; the service goes after it.
    workers->stop(1s);
    service.reset();
    workers.reset();
    work.reset();
    io.stop();
    io_thread.join();
  }
  static std::string frame(const std::string& id, const std::string& action,
                           const std::string& payload = "{}") {
    return R"({"id":")" + id + R"(","action":")" + action + R"(","payload":)" + payload + "}";
  }
  // A connection of `who`: its sink (which owns nothing) and its session.
  struct Client {
    std::shared_ptr<RecordingSink> sink = std::make_shared<RecordingSink>();
    std::shared_ptr<ClientSession> session;
    void send(const std::string& f) { session->on_frame(f); }
  };
  Client connect(Identity who = Identity{"u", "t", {"read", "write"}}) {
    Client c;
    c.session = service->open_session(std::move(who), c.sink);
    return c;
  }

  HandlerRegistry registry;
  MemoryJobStore store;
  InProcessEventBus hub;
  HandlerEnvironment env;
  Metrics metrics;
  boost::asio::io_context io;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work{io.get_executor()};
  std::thread io_thread;
  ProbeHandler* quick = nullptr;
  ProbeHandler* pool = nullptr;
  ProbeHandler* limited = nullptr;
  StepsHandler* steps = nullptr;
  std::unique_ptr<WorkerPool> workers;
  std::unique_ptr<RequestService> service;
};

// --- where sync handlers run -----------------------------------------------------------

TEST_F(ServiceFixture, InlineHandlerAnswersOnTheCallersThreadEvenWhileThePoolIsBusy) {
  auto c = connect();
  c.send(frame("p1", "pooled", R"({"hold":true})"));  // the only pool thread
  c.send(frame("q1", "quick"));
  // Answered before on_frame returned, on this thread, with the pool still held.
  EXPECT_EQ(c.sink->answered_ids(), std::vector<std::string>{"q1"});
  EXPECT_EQ(quick->last_thread(), std::this_thread::get_id());
  EXPECT_EQ(c.sink->sent()[0].status(), "success");
  pool->release();
  c.sink->wait_for(2);
  EXPECT_EQ(c.sink->answered_ids(), (std::vector<std::string>{"q1", "p1"}));
  EXPECT_NE(pool->last_thread(), std::this_thread::get_id());
}

TEST_F(ServiceFixture, ALargeRequestOfAnInlineHandlerTakesThePool) {
  auto c = connect();
  const std::string big = R"({"blob":")" + std::string(kInlineMaxFrameBytes, 'x') + R"("})";
  c.send(frame("q1", "quick", big));
  EXPECT_EQ(c.sink->wait_for(1).size(), 1U);
  EXPECT_NE(quick->last_thread(), std::this_thread::get_id());
}

TEST_F(ServiceFixture, AConnectionsBurstWaitsInItsOwnQueue) {
  auto burst = connect();
  auto other = connect();
  burst.send(frame("b0", "pooled", R"({"hold":true})"));
  for (int i = 1; i < 6; ++i) burst.send(frame("b" + std::to_string(i), "pooled"));
  other.send(frame("o1", "pooled"));
  pool->release();
  other.sink->wait_for(1);
  burst.sink->wait_for(6);
  EXPECT_EQ(other.sink->answered_ids(), std::vector<std::string>{"o1"});
  EXPECT_EQ(burst.sink->answered_ids(),
            (std::vector<std::string>{"b0", "b1", "b2", "b3", "b4", "b5"}));
  // The other connection's call ran right after the burst's first one, not after all six.
  EXPECT_EQ(pool->order(), (std::vector<std::string>{"b0", "o1", "b1", "b2", "b3", "b4", "b5"}));
}

TEST_F(ServiceFixture, AnInlineRunOverItsBudgetIsCounted) {
  auto c = connect();
  c.send(frame("q1", "quick"));
  EXPECT_EQ(metrics.inline_overruns.load(), 0U);
  c.send(frame("q2", "quick", R"({"busy_ms":20})"));
  EXPECT_EQ(c.sink->wait_for(2).size(), 2U);
  EXPECT_EQ(metrics.inline_overruns.load(), 1U);
  EXPECT_NE(metrics.render().find("streamer_inline_overruns_total 1"), std::string::npos);
}

// --- answers and errors ----------------------------------------------------------------

TEST_F(ServiceFixture, EveryAnswerEchoesTheRequestId) {
  auto c = connect();
  c.send(frame("ok-1", "quick"));
  c.send(frame("bad-2", "no_such_action"));
  c.send(frame("bad-3", "quick", R"({"count":"x"})"));
  const auto sent = c.sink->wait_for(3);
  ASSERT_EQ(sent.size(), 3U);
  EXPECT_EQ(sent[0].body().at("request_id"), "ok-1");
  EXPECT_EQ(sent[1].body().at("request_id"), "bad-2");
  EXPECT_EQ(sent[2].body().at("request_id"), "bad-3");
  for (const auto& m : sent) EXPECT_EQ(m.request_id, m.body().at("request_id").as_string());
}

TEST_F(ServiceFixture, AnUnknownActionAnswersInvalidActionListingTheAvailableOnes) {
  auto c = connect();
  c.send(frame("x1", "no_such_action"));
  const auto sent = c.sink->wait_for(1);
  ASSERT_EQ(sent.size(), 1U);
  EXPECT_EQ(sent[0].code(), "INVALID_ACTION");
  EXPECT_EQ(sent[0].details().at("action"), "no_such_action");
  const auto& available = sent[0].details().at("available").as_array();
  EXPECT_NE(std::find(available.begin(), available.end(), json::value("quick")), available.end());
  EXPECT_EQ(sent[0].details().at("retryable"), false);
}

TEST_F(ServiceFixture, AMissingPermissionAnswersUnauthorizedAndTheConnectionGoesOn) {
  auto c = connect();
  c.send(frame("g1", "guarded"));
  c.send(frame("q1", "quick"));
  const auto sent = c.sink->wait_for(2);
  ASSERT_EQ(sent.size(), 2U);
  EXPECT_EQ(sent[0].code(), "UNAUTHORIZED");
  EXPECT_EQ(sent[0].details().at("required_permission"), "admin");
  EXPECT_EQ(sent[0].details().at("reason"), "missing_permission");
  EXPECT_EQ(sent[1].status(), "success");
  // With the permission, the same request runs.
  auto admin = connect(Identity{"u", "t", {"admin"}});
  admin.send(frame("g2", "guarded"));
  EXPECT_EQ(admin.sink->wait_for(1).at(0).status(), "success");
}

TEST_F(ServiceFixture, AValidationErrorHasTheSeedsDetailsShape) {
  auto c = connect();
  c.send(frame("v1", "quick", R"({"count":"seven"})"));
  const auto sent = c.sink->wait_for(1);
  ASSERT_EQ(sent.size(), 1U);
  EXPECT_EQ(sent[0].code(), "VALIDATION_ERROR");
  EXPECT_EQ(sent[0].details().at("field"), "count");
  EXPECT_EQ(sent[0].details().at("expected"), "integer");
  EXPECT_EQ(sent[0].details().at("received"), "seven");
  EXPECT_EQ(sent[0].details().at("retryable"), false);
  EXPECT_TRUE(quick->order().empty());  // never ran
}

TEST_F(ServiceFixture, AFrameWithoutAReadableIdAnswersWithANullRequestId) {
  auto c = connect();
  c.send("{not json");
  c.send(R"({"action":"quick"})");
  c.send(R"({"id":"", "action":"quick"})");
  c.send(R"({"id":"m1"})");
  const auto sent = c.sink->wait_for(4);
  ASSERT_EQ(sent.size(), 4U);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(sent[i].code(), "VALIDATION_ERROR") << i;
    EXPECT_TRUE(sent[i].body().at("request_id").is_null()) << i;
  }
  EXPECT_EQ(sent[1].details().at("field"), "id");
  EXPECT_EQ(sent[3].body().at("request_id"), "m1");  // readable id, missing action
  EXPECT_EQ(sent[3].details().at("field"), "action");
}

TEST_F(ServiceFixture, ASyncHandlerOverItsTimeLimitAnswersTimeoutOnce) {
  auto c = connect();
  c.send(frame("t1", "limited", R"({"hold":true})"));
  const auto sent = c.sink->wait_for(1);
  ASSERT_EQ(sent.size(), 1U);
  EXPECT_EQ(sent[0].code(), "TIMEOUT");
  EXPECT_EQ(sent[0].details().at("time_limit_ms"), 100);
  EXPECT_EQ(sent[0].details().at("retryable"), true);
  limited->release();
  std::this_thread::sleep_for(100ms);  // a late answer of the handler would arrive now
  EXPECT_EQ(c.sink->sent().size(), 1U);
}

// --- slots -----------------------------------------------------------------------------

struct TwoSlotFixture : ServiceFixture {
  TwoSlotFixture() : ServiceFixture(2, 2, 2) {}
};

TEST_F(TwoSlotFixture, ARequestBeyondTheConnectionsSlotsIsRateLimitedWithItsId) {
  auto c = connect();
  c.send(frame("p1", "pooled", R"({"hold":true})"));
  c.send(frame("p2", "pooled", R"({"hold":true})"));
  c.send(frame("p3", "pooled"));
  auto sent = c.sink->wait_for(1);
  ASSERT_EQ(sent.size(), 1U);
  EXPECT_EQ(sent[0].request_id, "p3");
  EXPECT_EQ(sent[0].code(), "RATE_LIMITED");
  EXPECT_EQ(sent[0].details().at("limit"), "concurrent_requests");
  EXPECT_EQ(sent[0].details().at("limit_value"), 2);
  EXPECT_TRUE(sent[0].details().contains("retry_after_ms"));
  // Another connection has slots of its own.
  auto other = connect();
  other.send(frame("o1", "quick"));
  EXPECT_EQ(other.sink->wait_for(1).at(0).status(), "success");
  // The final answers free the slots.
  pool->release();
  c.sink->wait_for(3);
  c.send(frame("p4", "quick"));
  sent = c.sink->wait_for(4);
  ASSERT_EQ(sent.size(), 4U);
  EXPECT_EQ(sent[3].request_id, "p4");
  EXPECT_EQ(sent[3].status(), "success");
}

TEST_F(TwoSlotFixture, AResendOfAnIdInFlightTakesNoSecondSlot) {
  auto c = connect();
  c.send(frame("a1", "steps", R"({"hold":true})"));
  c.send(frame("p1", "pooled", R"({"hold":true})"));
  c.send(frame("a1", "steps", R"({"hold":true})"));  // the same async id again
  auto queued = [](const std::vector<Sent>& s) {
    std::vector<Sent> q;
    for (const auto& m : s)
      if (m.status() == "queued") q.push_back(m);
    return q;
  };
  const auto sent = c.sink->wait_until([&](const auto& s) { return queued(s).size() >= 2; });
  const auto answers = queued(sent);
  ASSERT_EQ(answers.size(), 2U);
  for (const auto& m : answers) EXPECT_EQ(m.request_id, "a1");
  EXPECT_EQ(answers[1].body().at("message"), "Request already accepted");
  for (const auto& m : sent) EXPECT_NE(m.code(), "RATE_LIMITED");
  steps->release();
  c.sink->wait_terminal("a1");
  EXPECT_EQ(steps->runs_.load(), 1);  // the resend started nothing
}

TEST_F(TwoSlotFixture, AnAsyncRequestHoldsItsSlotUntilItsTerminal) {
  auto c = connect();
  c.send(frame("a1", "steps", R"({"hold":true})"));
  c.send(frame("a2", "steps", R"({"hold":true})"));
  c.sink->wait_until([](const auto& s) { return s.size() >= 2; });
  // Looked up by id: the running jobs' progress may be sent before or after the answer.
  c.send(frame("q1", "quick"));
  EXPECT_EQ(c.sink->wait_first("q1").code(), "RATE_LIMITED");
  steps->release();
  c.sink->wait_terminal("a1");
  c.sink->wait_terminal("a2");
  c.send(frame("q2", "quick"));
  EXPECT_EQ(c.sink->wait_first("q2").status(), "success");
}

// --- async requests ------------------------------------------------------------------

TEST_F(ServiceFixture, AnAsyncRequestIsQueuedThenProgressesThenEndsWithOneResult) {
  auto c = connect();
  c.send(frame("a1", "steps"));
  const auto mine = c.sink->wait_terminal("a1");
  ASSERT_GE(mine.size(), 3U);
  EXPECT_EQ(mine.front().kind, MessageKind::kQueued);
  EXPECT_EQ(mine.front().status(), "queued");
  EXPECT_EQ(mine.front().body().at("estimated_duration"), 10);
  double last = -1;
  for (std::size_t i = 1; i + 1 < mine.size(); ++i) {
    ASSERT_EQ(mine[i].type(), "progress");
    const double p = mine[i].body().at("progress").to_number<double>();
    EXPECT_GE(p, last);
    last = p;
  }
  EXPECT_EQ(last, 100);  // progress ends at 100 before the result
  EXPECT_EQ(mine.back().type(), "result");
  EXPECT_EQ(mine.back().body().at("success"), true);
  std::this_thread::sleep_for(50ms);
  int terminals = 0;
  for (const auto& m : c.sink->sent()) terminals += m.kind == MessageKind::kTerminal;
  EXPECT_EQ(terminals, 1);
}

TEST_F(ServiceFixture, AResendOfAFinishedIdAnswersItsStoredResultAndRunsNothing) {
  auto c = connect();
  c.send(frame("a1", "steps"));
  const auto first = c.sink->wait_terminal("a1");
  c.send(frame("a1", "steps"));
  const auto sent = c.sink->wait_for(first.size() + 1);
  EXPECT_EQ(sent.back().type(), "result");
  EXPECT_EQ(sent.back().kind, MessageKind::kReply);
  EXPECT_EQ(sent.back().body(), first.back().body());
  EXPECT_EQ(steps->runs_.load(), 1);
}

TEST_F(ServiceFixture, AnotherUserMayUseTheSameIdForTheirOwnRequest) {
  auto a = connect(Identity{"alice", "t", {"write"}});
  auto b = connect(Identity{"bob", "t", {"write"}});
  a.send(frame("same", "steps"));
  a.sink->wait_terminal("same");
  b.send(frame("same", "steps"));
  const auto mine = b.sink->wait_terminal("same");
  EXPECT_EQ(mine.front().status(), "queued");
  EXPECT_EQ(steps->runs_.load(), 2);
}

// --- subscribe -------------------------------------------------------------------------

TEST_F(ServiceFixture, SubscribeAfterAReconnectGetsTheSnapshotThenTheResult) {
  auto first = connect();
  first.send(frame("a1", "steps", R"({"hold":true})"));
  first.sink->wait_for(1);
  first.session->on_close();
  first.session.reset();  // the connection is gone
  auto second = connect();
  second.send(frame("s1", "subscribe", R"({"request_id":"a1"})"));
  // The answer (a1's progress may come first: the subscription starts before the snapshot).
  const auto sent = second.sink->wait_until([](const auto& s) {
    for (const auto& m : s)
      if (m.request_id == "s1") return true;
    return false;
  });
  const auto answer =
      std::find_if(sent.begin(), sent.end(), [](const Sent& m) { return m.request_id == "s1"; });
  ASSERT_NE(answer, sent.end());
  EXPECT_EQ(answer->status(), "success");
  const auto& data = answer->body().at("data").as_object();
  EXPECT_EQ(data.at("request_id"), "a1");
  EXPECT_EQ(data.at("action"), "steps");
  EXPECT_TRUE(data.at("status") == "queued" || data.at("status") == "running");
  steps->release();
  const auto mine = second.sink->wait_terminal("a1");
  EXPECT_EQ(mine.back().type(), "result");
}

TEST_F(ServiceFixture, SubscribeToAFinishedRequestSendsItsStoredOutcomeAgain) {
  auto c = connect();
  c.send(frame("a1", "steps"));
  const auto first = c.sink->wait_terminal("a1");
  const auto before = c.sink->sent().size();
  c.send(frame("s1", "subscribe", R"({"request_id":"a1"})"));
  const auto sent = c.sink->wait_for(before + 2);
  ASSERT_EQ(sent.size(), before + 2);
  EXPECT_EQ(sent[before].body().at("data").at("status"), "succeeded");
  EXPECT_EQ(sent[before + 1].type(), "result");  // sent again although this connection saw it
  EXPECT_EQ(sent[before + 1].body(), first.back().body());
}

TEST_F(ServiceFixture, SubscribeToAnUnknownOrForeignRequestAnswersNotFound) {
  auto owner = connect(Identity{"alice", "t1", {"write"}});
  owner.send(frame("a1", "steps"));
  owner.sink->wait_terminal("a1");
  auto other_user = connect(Identity{"bob", "t1", {"write"}});
  auto other_tenant = connect(Identity{"alice", "t2", {"write"}});
  for (auto* c : {&other_user, &other_tenant}) {
    c->send(frame("s1", "subscribe", R"({"request_id":"a1"})"));
    c->send(frame("s2", "subscribe", R"({"request_id":"never"})"));
    const auto sent = c->sink->wait_for(2);
    ASSERT_EQ(sent.size(), 2U);
    for (const auto& m : sent) EXPECT_EQ(m.code(), "NOT_FOUND");
    EXPECT_EQ(sent[0].details().at("request_id"), "a1");
  }
}

TEST_F(ServiceFixture, SubscribeOrCancelWithoutARequestIdIsAValidationError) {
  auto c = connect();
  c.send(frame("s1", "subscribe", "{}"));
  c.send(frame("c1", "cancel", R"({"request_id":7})"));
  const auto sent = c.sink->wait_for(2);
  ASSERT_EQ(sent.size(), 2U);
  for (const auto& m : sent) {
    EXPECT_EQ(m.code(), "VALIDATION_ERROR");
    EXPECT_EQ(m.details().at("field"), "request_id");
  }
}

// --- cancel ----------------------------------------------------------------------------

TEST_F(ServiceFixture, CancelOfARunningRequestEndsItWithOneCancelledError) {
  auto c = connect();
  c.send(frame("a1", "steps", R"({"hold":true})"));
  c.sink->wait_until([](const auto& s) {
    for (const auto& m : s)
      if (m.type() == "progress") return true;  // it runs
    return false;
  });
  c.send(frame("c1", "cancel", R"({"request_id":"a1"})"));
  const auto mine = c.sink->wait_terminal("a1");
  EXPECT_EQ(mine.back().code(), "CANCELLED");
  std::vector<Sent> answers;
  for (const auto& m : c.sink->sent())
    if (m.request_id == "c1") answers.push_back(m);
  ASSERT_EQ(answers.size(), 1U);
  EXPECT_EQ(answers[0].body().at("data").at("status"), "cancelling");
  std::this_thread::sleep_for(50ms);
  int terminals = 0;
  for (const auto& m : c.sink->sent()) terminals += m.kind == MessageKind::kTerminal;
  EXPECT_EQ(terminals, 1);
}

TEST_F(ServiceFixture, CancelOfAFinishedRequestAnswersItsFinalStatusAndNothingElse) {
  auto c = connect();
  c.send(frame("a1", "steps"));
  c.sink->wait_terminal("a1");
  const auto before = c.sink->sent().size();
  c.send(frame("c1", "cancel", R"({"request_id":"a1"})"));
  c.sink->wait_for(before + 1);
  std::this_thread::sleep_for(50ms);
  const auto sent = c.sink->sent();
  ASSERT_EQ(sent.size(), before + 1);
  EXPECT_EQ(sent.back().body().at("data").at("status"), "succeeded");
}

TEST_F(ServiceFixture, CancelOfAnUnknownOrAnotherUsersRequestAnswersNotFound) {
  auto owner = connect(Identity{"alice", "t", {"write"}});
  owner.send(frame("a1", "steps", R"({"hold":true})"));
  owner.sink->wait_for(1);
  auto thief = connect(Identity{"mallory", "t", {"write"}});
  thief.send(frame("c1", "cancel", R"({"request_id":"a1"})"));
  thief.send(frame("c2", "cancel", R"({"request_id":"never"})"));
  const auto sent = thief.sink->wait_for(2);
  ASSERT_EQ(sent.size(), 2U);
  EXPECT_EQ(sent[0].code(), "NOT_FOUND");
  EXPECT_EQ(sent[1].code(), "NOT_FOUND");
  steps->release();
  const auto mine = owner.sink->wait_terminal("a1");
  EXPECT_EQ(mine.back().type(), "result");  // untouched by the other user's cancel
}

// --- the session's bookkeeping -----------------------------------------------------------

TEST_F(ServiceFixture, MessagesBeforeQueuedAreHeldAndFollowItInOrder) {
  auto sink = std::make_shared<RecordingSink>();
  auto session = std::make_shared<ServiceSession>(*service, Identity{"u", "t", {}}, sink, 10);
  ASSERT_TRUE(session->begin_request("a1"));
  session->expect_queued("a1");
  session->deliver("a1", MessageKind::kProgress, R"({"type":"progress","progress":{"p":1}})");
  session->deliver("a1", MessageKind::kTerminal, R"({"type":"result","result":{"r":1}})");
  session->deliver("b1", MessageKind::kNotice, R"({"type":"response","response":{}})");
  EXPECT_EQ(sink->answered_ids(), std::vector<std::string>{"b1"});  // a1's wait
  session->deliver("a1", MessageKind::kQueued, R"({"type":"response","response":{"q":1}})");
  const auto sent = sink->sent();
  ASSERT_EQ(sent.size(), 4U);
  EXPECT_EQ(sent[1].kind, MessageKind::kQueued);
  EXPECT_EQ(sent[2].kind, MessageKind::kProgress);
  EXPECT_EQ(sent[3].kind, MessageKind::kTerminal);
}

TEST_F(ServiceFixture, ATerminalPublishedTwiceReachesTheConnectionOnce) {
  auto sink = std::make_shared<RecordingSink>();
  auto session = std::make_shared<ServiceSession>(*service, Identity{"u", "t", {}}, sink, 1);
  ASSERT_TRUE(session->begin_request("a1"));
  EXPECT_FALSE(session->begin_request("a2"));  // the one slot is a1's
  session->deliver("a1", MessageKind::kTerminal, R"({"type":"result","result":{}})");
  session->deliver("a1", MessageKind::kTerminal, R"({"type":"result","result":{}})");
  EXPECT_EQ(sink->sent().size(), 1U);
  EXPECT_TRUE(session->begin_request("a2"));  // the terminal freed the slot
}

TEST_F(ServiceFixture, NothingIsDeliveredAfterTheConnectionClosed) {
  auto c = connect();
  c.send(frame("p1", "pooled", R"({"hold":true})"));
  c.session->on_close();
  c.send(frame("q1", "quick"));  // a frame after the close is not served
  pool->release();
  std::this_thread::sleep_for(100ms);
  EXPECT_TRUE(c.sink->sent().empty());
  EXPECT_TRUE(quick->order().empty());
}

TEST_F(ServiceFixture, TheServiceHoldsItsSinkWeakly) {
  auto sink = std::make_shared<RecordingSink>();
  std::weak_ptr<RecordingSink> watch = sink;
  auto session = service->open_session(Identity{"u", "t", {}}, sink);
  sink.reset();
  EXPECT_TRUE(watch.expired());             // the session did not keep the gateway's side alive
  session->on_frame(frame("q1", "quick"));  // and answering into the void is harmless
  EXPECT_EQ(quick->order(), std::vector<std::string>{"q1"});
}

}  // namespace
}  // namespace streamer
