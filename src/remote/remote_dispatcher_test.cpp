// The dispatcher against the in-memory store and bus, with fake worker connections.
#include "remote/remote_dispatcher.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>

#include "jobs/in_process_event_bus.hpp"
#include "jobs/memory_job_store.hpp"

namespace streamer::remote {
namespace {
namespace json = boost::json;
using namespace std::chrono_literals;

// Collects what the server sends one connection.
class FakeSink final : public MessageSink {
 public:
  void deliver(std::string_view, MessageKind, std::string message) override {
    std::lock_guard lock(mutex_);
    messages_.push_back(json::parse(message).as_object());
    arrived_.notify_all();
  }
  // The next message of `type` (earlier ones of other types are dropped), or an empty
  // object after `timeout`.
  json::object next(std::string_view type, std::chrono::milliseconds timeout = 3s) {
    std::unique_lock lock(mutex_);
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      while (!messages_.empty()) {
        json::object m = std::move(messages_.front());
        messages_.pop_front();
        if (m.at("type").as_string() == type) return m;
      }
      if (arrived_.wait_until(lock, deadline) == std::cv_status::timeout && messages_.empty())
        return {};
    }
  }

 private:
  std::mutex mutex_;
  std::condition_variable arrived_;
  std::deque<json::object> messages_;
};

// The in-memory store, counting the dispatcher's batched writes.
class CountingStore final : public MemoryJobStore {
 public:
  std::vector<FinishResult> finish_batch(const std::vector<FinishItem>& items) override {
    finish_calls += 1;
    finished_items += static_cast<int>(items.size());
    return MemoryJobStore::finish_batch(items);
  }
  std::vector<Lease> acquire_lane(std::string_view lane, std::string_view tenant,
                                  std::string_view worker_id, std::chrono::milliseconds ttl,
                                  std::size_t max) override {
    auto leases = MemoryJobStore::acquire_lane(lane, tenant, worker_id, ttl, max);
    if (!leases.empty()) claims_that_got_jobs += 1;
    return leases;
  }
  std::vector<LeaseState> renew_batch(const std::vector<RenewItem>& items,
                                      std::chrono::milliseconds ttl) override {
    {
      std::lock_guard lock(renew_mutex);
      renew_batch_sizes.push_back(items.size());
    }
    return MemoryJobStore::renew_batch(items, ttl);
  }
  std::vector<std::size_t> renewals() {
    std::lock_guard lock(renew_mutex);
    return renew_batch_sizes;
  }
  std::atomic<int> finish_calls{0}, finished_items{0}, claims_that_got_jobs{0};
  std::mutex renew_mutex;
  std::vector<std::size_t> renew_batch_sizes;  // items of each renew_batch call, in order
};

// A connection whose deliver() blocks the dispatcher thread until open() is called:
// everything posted meanwhile is handled in one run, as one round.
class GateSink final : public MessageSink {
 public:
  void deliver(std::string_view, MessageKind, std::string) override {
    std::unique_lock lock(mutex_);
    entered_ = true;
    changed_.notify_all();
    changed_.wait(lock, [this] { return open_; });
  }
  void wait_closed() {
    std::unique_lock lock(mutex_);
    changed_.wait(lock, [this] { return entered_; });
  }
  void open() {
    std::lock_guard lock(mutex_);
    open_ = true;
    changed_.notify_all();
  }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  bool entered_ = false, open_ = false;
};

// The in-process bus, recording under which fence each progress event was published.
class FenceRecordingBus final : public EventBus {
 public:
  void subscribe(const JobKey& key, const std::shared_ptr<MessageSink>& sink,
                 std::uint64_t after_seq = 0) override {
    inner_.subscribe(key, sink, after_seq);
  }
  void unsubscribe(const JobKey& key, const std::shared_ptr<MessageSink>& sink) override {
    inner_.unsubscribe(key, sink);
  }
  void publish(const JobKey& key, MessageKind kind, const std::string& message) override {
    inner_.publish(key, kind, message);
  }
  void publish_progress(const JobKey& key, std::string_view job_id, std::int64_t fence,
                        const std::string& message) override {
    {
      std::lock_guard lock(mutex_);
      progress_fences_.emplace_back(job_id, fence);
    }
    inner_.publish_progress(key, job_id, fence, message);
  }
  std::vector<std::pair<std::string, std::int64_t>> progress_fences() {
    std::lock_guard lock(mutex_);
    return progress_fences_;
  }

 private:
  InProcessEventBus inner_;
  std::mutex mutex_;
  std::vector<std::pair<std::string, std::int64_t>> progress_fences_;
};

class RemoteDispatcherTest : public testing::Test {
 protected:
  RemoteDispatcherTest() {
    RemoteDispatcherOptions o;
    o.lease_ttl = 300ms;
    o.tick = 10ms;
    o.poll_interval = 20ms;
    dispatcher = std::make_unique<RemoteDispatcher>(store, bus, actions, o);
    dispatcher->start();
  }
  ~RemoteDispatcherTest() override { dispatcher->stop(); }

  // A registered connection serving `resize` with `concurrency` credits.
  std::uint64_t worker(const std::shared_ptr<FakeSink>& sink, int concurrency = 1,
                       std::string tenant = "t1") {
    Identity who{"w", std::move(tenant), {"worker"}, {"resize"}};
    auto id = dispatcher->open(who, sink);
    dispatcher->on_message(
        id, json::parse(R"({"type":"register","concurrency":)" + std::to_string(concurrency) +
                        R"(,"actions":[{"name":"resize"}]})")
                .as_object());
    EXPECT_EQ(sink->next("registered").at("actions"), json::array{"resize"});
    return id;
  }
  void submit(std::string id, std::string tenant = "t1") {
    NewJob job{{std::move(tenant), "u1", std::move(id)}, "resize", R"({"w":1})", "", 3};
    job.lane = "resize";
    store.submit(job);
    dispatcher->notify("resize");
  }
  void send(std::uint64_t conn, std::string_view type, const json::object& job,
            json::object extra = {}) {
    extra["type"] = type;
    extra["job_id"] = job.at("job_id");
    extra["fence"] = job.at("fence");
    dispatcher->on_message(conn, std::move(extra));
  }
  JobStatus status(std::string id) { return store.find({"t1", "u1", std::move(id)})->status; }
  // Holds the dispatcher thread until the returned gate is opened.
  std::shared_ptr<GateSink> hold_dispatcher() {
    auto gate = std::make_shared<GateSink>();
    auto id = dispatcher->open({"g", "t1", {"worker"}, {}}, gate);
    dispatcher->on_message(id, json::object{{"type", "credit"}});  // answered: not registered
    gate->wait_closed();
    return gate;
  }

  HandlerRegistry builtin;
  RemoteActions actions{builtin, {}};
  CountingStore store;
  FenceRecordingBus bus;
  std::unique_ptr<RemoteDispatcher> dispatcher;
};

// Progress included, published under the fence of the attempt that reported it (so a
// bus over a shared store can drop it once another claim took the job over).
TEST_F(RemoteDispatcherTest, PushesAJobAndRecordsItsCompletion) {
  auto sink = std::make_shared<FakeSink>();
  auto conn = worker(sink);
  auto client = std::make_shared<FakeSink>();
  bus.subscribe({"t1", "u1", "r1"}, client);
  submit("r1");
  auto job = sink->next("job");
  ASSERT_FALSE(job.empty());
  EXPECT_EQ(job.at("request_id"), "r1");
  EXPECT_EQ(job.at("payload"), (json::object{{"w", 1}}));
  EXPECT_EQ(job.at("attempt"), 1);
  send(conn, "progress", job, {{"percent", 40}});
  EXPECT_EQ(client->next("progress").at("progress").at("progress"), 40);
  const auto fences = bus.progress_fences();
  ASSERT_EQ(fences.size(), 1u);
  EXPECT_EQ(fences[0].first, json::value_to<std::string>(job.at("job_id")));
  EXPECT_EQ(fences[0].second, job.at("fence").to_number<std::int64_t>());
  send(conn, "complete", job, {{"data", {{"ok", true}}}});
  EXPECT_EQ(sink->next("ack").at("job_id"), job.at("job_id"));
  EXPECT_EQ(status("r1"), JobStatus::kSucceeded);
  auto result = client->next("result");
  EXPECT_EQ(result.at("result").at("metadata").at("handler"), "resize");
}

TEST_F(RemoteDispatcherTest, NeverMoreJobsInFlightThanCredits) {
  auto sink = std::make_shared<FakeSink>();
  auto conn = worker(sink, 1);
  submit("a");
  submit("b");
  auto first = sink->next("job");
  ASSERT_FALSE(first.empty());
  EXPECT_TRUE(sink->next("job", 150ms).empty());
  send(conn, "complete", first);
  auto second = sink->next("job");
  ASSERT_FALSE(second.empty());
  EXPECT_EQ(second.at("request_id"), "b");
}

TEST_F(RemoteDispatcherTest, AMessageWithAnOldFenceIsStale) {
  auto sink = std::make_shared<FakeSink>();
  auto conn = worker(sink);
  submit("a");
  auto job = sink->next("job");
  json::object wrong = job;
  wrong["fence"] = job.at("fence").as_int64() + 1;
  send(conn, "complete", wrong);
  EXPECT_EQ(sink->next("stale").at("fence"), wrong.at("fence"));
  EXPECT_EQ(status("a"), JobStatus::kRunning);
}

TEST_F(RemoteDispatcherTest, ASilentWorkerLosesItsJobToAnother) {
  auto silent = std::make_shared<FakeSink>();
  worker(silent);
  submit("a");
  auto first = silent->next("job");
  ASSERT_FALSE(first.empty());
  auto other = std::make_shared<FakeSink>();
  auto conn = worker(other);
  // The lease lapses 300 ms after the silent worker's last frame; then `other` gets it.
  auto again = other->next("job", 2s);
  ASSERT_FALSE(again.empty());
  EXPECT_EQ(again.at("attempt"), 2);
  send(conn, "complete", again);
  EXPECT_FALSE(other->next("ack").empty());
  EXPECT_EQ(status("a"), JobStatus::kSucceeded);
}

TEST_F(RemoteDispatcherTest, CancelReachesTheWorkerAndEndsTheJob) {
  auto sink = std::make_shared<FakeSink>();
  worker(sink);
  submit("a");
  auto job = sink->next("job");
  store.request_cancel({"t1", "u1", "a"}, R"({"cancelled":true})");
  dispatcher->cancel_local({"t1", "u1", "a"});
  auto cancel = sink->next("cancel");
  EXPECT_EQ(cancel.at("reason"), "cancelled");
  EXPECT_EQ(cancel.at("job_id"), job.at("job_id"));
  // The cancel goes to the worker first; the outcome is recorded right after.
  for (int i = 0; i < 100 && status("a") != JobStatus::kCancelled; ++i)
    std::this_thread::sleep_for(10ms);
  EXPECT_EQ(status("a"), JobStatus::kCancelled);
}

TEST_F(RemoteDispatcherTest, AWorkerGetsOnlyItsTenantsJobs) {
  auto sink = std::make_shared<FakeSink>();
  worker(sink, 1, "t1");
  submit("other", "t2");
  EXPECT_TRUE(sink->next("job", 150ms).empty());
  submit("own", "t1");
  EXPECT_EQ(sink->next("job").at("request_id"), "own");
}

TEST_F(RemoteDispatcherTest, RefusesARegisterForAnActionNotInTheToken) {
  auto sink = std::make_shared<FakeSink>();
  Identity who{"w", "t1", {"worker"}, {"other"}};
  auto id = dispatcher->open(who, sink);
  dispatcher->on_message(
      id, json::parse(R"({"type":"register","actions":[{"name":"resize"}]})").as_object());
  auto err = sink->next("error");
  EXPECT_EQ(err.at("error").at("code"), "UNAUTHORIZED");
  EXPECT_EQ(actions.find("resize"), nullptr);
}

TEST_F(RemoteDispatcherTest, CompletesOfOneRoundAreOneStoreWriteAndEachClientGetsItsResultOnce) {
  auto sink = std::make_shared<FakeSink>();
  auto conn = worker(sink, 5);
  std::vector<std::shared_ptr<FakeSink>> clients;
  std::vector<json::object> jobs;
  for (int i = 0; i < 5; ++i) {
    clients.push_back(std::make_shared<FakeSink>());
    bus.subscribe({"t1", "u1", "r" + std::to_string(i)}, clients.back());
    submit("r" + std::to_string(i));
  }
  for (int i = 0; i < 5; ++i) {
    jobs.push_back(sink->next("job"));
    ASSERT_FALSE(jobs.back().empty());
  }
  const int calls_before = store.finish_calls;
  auto gate = hold_dispatcher();
  for (const auto& job : jobs) send(conn, "complete", job, {{"data", job.at("request_id")}});
  gate->open();
  for (int i = 0; i < 5; ++i) EXPECT_FALSE(sink->next("ack").empty());
  EXPECT_EQ(store.finish_calls - calls_before, 1);
  EXPECT_EQ(store.finished_items, 5);
  for (int i = 0; i < 5; ++i) {
    auto result = clients[i]->next("result");
    ASSERT_FALSE(result.empty());
    EXPECT_EQ(result.at("result").at("data"),
              json::value("r" + std::to_string(i)));         // its own outcome
    EXPECT_TRUE(clients[i]->next("result", 100ms).empty());  // once
    EXPECT_EQ(status("r" + std::to_string(i)), JobStatus::kSucceeded);
  }
}

TEST_F(RemoteDispatcherTest, AStaleAttemptInABatchIsRefusedWithoutFailingTheOthers) {
  auto sink = std::make_shared<FakeSink>();
  auto conn = worker(sink, 3);
  auto client_b = std::make_shared<FakeSink>();
  bus.subscribe({"t1", "u1", "b"}, client_b);
  std::vector<json::object> jobs;
  for (std::string id : {"a", "b", "c"}) submit(id);
  for (int i = 0; i < 3; ++i) jobs.push_back(sink->next("job"));
  std::sort(jobs.begin(), jobs.end(), [](const auto& x, const auto& y) {
    return x.at("request_id").as_string() < y.at("request_id").as_string();
  });
  ASSERT_EQ(jobs[1].at("request_id"), "b");
  auto gate = hold_dispatcher();
  // Meanwhile b's attempt loses the job: it goes back and another holder claims it.
  const std::string b_id(jobs[1].at("job_id").as_string());
  ASSERT_TRUE(store.release(b_id, jobs[1].at("fence").as_int64(), std::chrono::system_clock::now(),
                            "lost", false));
  ASSERT_EQ(store.acquire_lane("resize", "t1", "elsewhere", 10s, 1).size(), 1u);
  const int calls_before = store.finish_calls;
  for (const auto& job : jobs) send(conn, "complete", job);
  gate->open();
  EXPECT_EQ(sink->next("stale").at("job_id"), jobs[1].at("job_id"));
  EXPECT_EQ(store.finish_calls - calls_before, 1);
  EXPECT_EQ(status("a"), JobStatus::kSucceeded);
  EXPECT_EQ(status("c"), JobStatus::kSucceeded);
  EXPECT_EQ(status("b"), JobStatus::kRunning);  // still the other holder's
  EXPECT_TRUE(client_b->next("result", 150ms).empty());
}

TEST_F(RemoteDispatcherTest, OneClaimServesEveryCreditedWorkerOfTheAction) {
  auto first = std::make_shared<FakeSink>();
  auto second = std::make_shared<FakeSink>();
  worker(first, 3);
  worker(second, 3);
  auto gate = hold_dispatcher();
  for (int i = 0; i < 6; ++i) submit("j" + std::to_string(i));
  const int claims_before = store.claims_that_got_jobs;
  gate->open();
  for (int i = 0; i < 3; ++i) {
    EXPECT_FALSE(first->next("job").empty());
    EXPECT_FALSE(second->next("job").empty());
  }
  EXPECT_TRUE(first->next("job", 100ms).empty());  // never more than its credits
  EXPECT_EQ(store.claims_that_got_jobs - claims_before, 1);
}

TEST_F(RemoteDispatcherTest, TheDueLeasesOfAWorkerAreRenewedInOneStoreCall) {
  auto sink = std::make_shared<FakeSink>();
  worker(sink, 3);
  auto gate = hold_dispatcher();
  for (std::string id : {"a", "b", "c"}) submit(id);
  gate->open();  // one round claims all three: their renewals fall due together
  for (int i = 0; i < 3; ++i) ASSERT_FALSE(sink->next("job").empty());
  // Renewals are due lease_ttl / 3 (100 ms) after the start; jobs of one worker sent
  // within lease_ttl / 6 of each other are renewed together.
  for (int i = 0; i < 100 && store.renewals().empty(); ++i) std::this_thread::sleep_for(5ms);
  const auto sizes = store.renewals();
  ASSERT_FALSE(sizes.empty());
  EXPECT_EQ(sizes.front(), 3u);
}

TEST_F(RemoteDispatcherTest, ABatchedRenewalFindsACancelAndALostLease) {
  auto sink = std::make_shared<FakeSink>();
  worker(sink, 3);
  auto gate = hold_dispatcher();
  for (std::string id : {"a", "b", "c"}) submit(id);
  gate->open();
  std::vector<json::object> jobs;
  for (int i = 0; i < 3; ++i) jobs.push_back(sink->next("job"));
  std::sort(jobs.begin(), jobs.end(), [](const auto& x, const auto& y) {
    return x.at("request_id").as_string() < y.at("request_id").as_string();
  });
  ASSERT_EQ(jobs[2].at("request_id"), "c");
  // Recorded in the store only (no cancel_local): the renewal is what notices it.
  store.request_cancel({"t1", "u1", "a"}, R"({"cancelled":true})");
  // b's claim lapses and another holder takes the job.
  const std::string b_id(jobs[1].at("job_id").as_string());
  ASSERT_TRUE(store.release(b_id, jobs[1].at("fence").as_int64(), std::chrono::system_clock::now(),
                            "lost", false));
  ASSERT_EQ(store.acquire_lane("resize", "t1", "elsewhere", 10s, 1).size(), 1u);
  auto cancel = sink->next("cancel");
  EXPECT_EQ(cancel.at("job_id"), jobs[0].at("job_id"));
  EXPECT_EQ(cancel.at("reason"), "cancelled");
  for (int i = 0; i < 100 && status("a") != JobStatus::kCancelled; ++i)
    std::this_thread::sleep_for(10ms);
  EXPECT_EQ(status("a"), JobStatus::kCancelled);
  EXPECT_TRUE(sink->next("cancel", 100ms).empty());  // b is dropped silently, c still runs
  EXPECT_EQ(status("b"), JobStatus::kRunning);       // the other holder's
  EXPECT_EQ(status("c"), JobStatus::kRunning);
  ASSERT_FALSE(store.renewals().empty());
  EXPECT_EQ(store.renewals().front(), 3u);
}

}  // namespace
}  // namespace streamer::remote
