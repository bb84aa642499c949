#include "service/stats_feed.hpp"

#include <gtest/gtest.h>

#include "jobs/memory_job_store.hpp"

namespace streamer {
namespace {
namespace json = boost::json;
using namespace std::chrono_literals;

class FeedConnection final : public MessageSink {
 public:
  void deliver(std::string_view request_id, MessageKind kind, std::string message) override {
    std::lock_guard lock(mutex_);
    got_.emplace_back(kind, std::move(message));
  }
  std::vector<std::pair<MessageKind, std::string>> got() {
    std::lock_guard lock(mutex_);
    return got_;
  }

 private:
  std::mutex mutex_;
  std::vector<std::pair<MessageKind, std::string>> got_;
};

class StatsFeedTest : public ::testing::Test {
 protected:
  MemoryJobStore store;
  Metrics metrics;
  void submit(const std::string& tenant, const std::string& id,
              const std::string& action = "delay") {
    ASSERT_TRUE(store.submit(NewJob{{tenant, "u1", id}, action, "{}", "", 1}).created);
  }
};

std::vector<std::string> field(const json::value& rows, std::string_view name) {
  std::vector<std::string> out;
  for (const auto& r : rows.as_array()) out.push_back(json::serialize(r.at(name)));
  return out;
}

TEST_F(StatsFeedTest, ComputesQueuesRunningAndFailuresWithinTheScope) {
  StatsFeed feed(store, metrics, {});
  submit("t1", "a", "delay");
  submit("t1", "b", "report");
  submit("t2", "c", "delay");
  submit("t1", "d", "delay");
  auto lease = store.acquire("w", 10s);  // a
  ASSERT_TRUE(lease);
  store.save_progress_batch({{lease->record.job_id, lease->fence,
                              R"({"request_id":"a","progress":42,"message":"half"})"}});
  auto failing = store.acquire("w", 10s);  // c (the other tenant's first)
  ASSERT_TRUE(failing);
  store.finish(
      failing->record.job_id, failing->fence, JobStatus::kFailed,
      R"({"type":"error","error":{"request_id":"c","code":"TIMEOUT","message":"slow","details":{}}})");

  auto all = feed.compute({});
  EXPECT_EQ(all.at("connections"), 0);
  EXPECT_EQ(field(all.at("queues"), "action"),
            (std::vector<std::string>{R"("delay")", R"("report")"}));
  EXPECT_EQ(field(all.at("queues"), "queued"), (std::vector<std::string>{"1", "1"}));
  ASSERT_EQ(all.at("running").as_array().size(), 1u);
  EXPECT_EQ(all.at("running").at(0).at("progress"), 42);
  EXPECT_EQ(all.at("running").at(0).at("message"), "half");
  EXPECT_EQ(field(all.at("recent_failures"), "code"), (std::vector<std::string>{R"("TIMEOUT")"}));

  auto t1 = feed.compute({"t1", "u1"});
  EXPECT_TRUE(t1.at("connections").is_null());               // only for the all-tenants scope
  EXPECT_TRUE(t1.at("recent_failures").as_array().empty());  // c is t2's
  EXPECT_EQ(t1.at("running").as_array().size(), 1u);
  auto t2 = feed.compute({"t2", std::nullopt});
  EXPECT_TRUE(t2.at("queues").as_array().empty());
  EXPECT_TRUE(t2.at("running").as_array().empty());
}

TEST_F(StatsFeedTest, PushesToWatchersEachIntervalAfterTheAnswerAndStopsOnUnwatch) {
  StatsFeed feed(store, metrics, {.interval = 20ms, .max_watchers = 1});
  auto conn = std::make_shared<FeedConnection>();
  ASSERT_TRUE(feed.watch(conn, "w1", {"t1", "u1"},
                         [&] { conn->deliver("w1", MessageKind::kNotice, "answer"); }));
  auto other = std::make_shared<FeedConnection>();
  bool ran = false;
  EXPECT_FALSE(feed.watch(other, "w2", {}, [&] { ran = true; }));  // at the bound
  EXPECT_FALSE(ran);
  JobRecord mine, theirs;
  mine.key = {"t1", "u1", "x"};
  mine.action = "delay";
  theirs.key = {"t2", "u1", "y"};
  theirs.action = "delay";
  feed.job_submitted(mine);
  feed.job_submitted(theirs);
  std::this_thread::sleep_for(200ms);
  auto got = conn->got();
  ASSERT_GE(got.size(), 3u);
  EXPECT_EQ(got[0].second, "answer");
  bool saw_queued = false;
  for (std::size_t i = 1; i < got.size(); ++i) {
    EXPECT_EQ(got[i].first, MessageKind::kProgress);  // coalesced for a slow reader
    auto msg = json::parse(got[i].second);
    EXPECT_EQ(msg.at("type"), "stats");
    EXPECT_EQ(msg.at("stats").at("request_id"), "w1");
    for (const auto& row : msg.at("stats").at("requests").as_array()) {
      EXPECT_EQ(row.at("outcome"), "queued");
      EXPECT_EQ(row.at("count"), 1);  // t2's request is not in t1's scope
      saw_queued = true;
    }
  }
  EXPECT_TRUE(saw_queued);
  EXPECT_TRUE(feed.unwatch(conn.get(), "w1"));
  EXPECT_FALSE(feed.unwatch(conn.get(), "w1"));
  std::this_thread::sleep_for(60ms);
  const auto after = conn->got().size();
  std::this_thread::sleep_for(100ms);
  EXPECT_EQ(conn->got().size(), after);
  EXPECT_EQ(feed.watchers(), 0u);
}

TEST_F(StatsFeedTest, AClosedConnectionFreesItsPlace) {
  StatsFeed feed(store, metrics, {.interval = 10ms, .max_watchers = 1});
  auto conn = std::make_shared<FeedConnection>();
  ASSERT_TRUE(feed.watch(conn, "w1", {}, [] {}));
  conn.reset();
  auto next = std::make_shared<FeedConnection>();
  EXPECT_TRUE(feed.watch(next, "w2", {}, [] {}));
}

}  // namespace
}  // namespace streamer
