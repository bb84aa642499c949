#include "handlers/admin/jobs_handlers.hpp"

#include <gtest/gtest.h>

#include "jobs/in_process_event_bus.hpp"
#include "jobs/memory_job_store.hpp"

namespace streamer::admin {
namespace {
namespace json = boost::json;
using namespace std::chrono_literals;

class RecordingSink final : public MessageSink {
 public:
  void deliver(std::string_view request_id, MessageKind kind, std::string message) override {
    got.emplace_back(std::string(request_id), kind, std::move(message));
  }
  std::vector<std::tuple<std::string, MessageKind, std::string>> got;
};

class AdminHandlers : public ::testing::Test {
 protected:
  MemoryJobStore store;
  InProcessEventBus hub;
  HandlerRegistry registry;
  HandlerEnvironment env;
  CancelToken cancel;

  AdminHandlers() {
    register_admin_handlers(registry, AdminServices{store, hub, nullptr, registry});
  }

  void submit(const std::string& tenant, const std::string& user, const std::string& id) {
    ASSERT_TRUE(
        store.submit(NewJob{{tenant, user, id}, "delay", R"({"duration_ms":5})", "", 1}).created);
  }
  void fail_next() {
    auto lease = store.acquire("w", 10s);
    ASSERT_TRUE(lease);
    store.finish(
        lease->record.job_id, lease->fence, JobStatus::kFailed,
        R"({"type":"error","error":{"request_id":"x","code":"TIMEOUT","message":"too slow",)"
        R"("details":{"retryable":true}}})");
  }
  // Runs `action` as `who`; the handler's data, or the HandlerError's code.
  std::variant<json::value, ErrorCode> call(const std::string& action, std::string_view payload,
                                            const Identity& who) {
    struct NoProgress : Progress {
      void report(double, std::string_view, json::object) override {}
    } progress;
    JobContext ctx{who, "req", "", 1, progress, cancel, env};
    auto p = json::parse(payload).as_object();
    try {
      Handler* h = registry.find(action);
      return parse_and_run(*h, p, ctx).data;
    } catch (const HandlerError& e) {
      return e.code();
    }
  }
  static std::vector<std::string> ids(const json::value& list) {
    std::vector<std::string> out;
    for (const auto& j : list.at("jobs").as_array())
      out.push_back(std::string(j.at("tenant_id").as_string()) + "/" +
                    std::string(j.at("request_id").as_string()));
    return out;
  }
};

const Identity kAlice{"alice", "t1", {}};
const Identity kBob{"bob", "t2", {}};
const Identity kAdmin{"root", "ops", {"admin"}};

TEST_F(AdminHandlers, ListShowsOnlyTheCallersOwnRequestsUnlessAdmin) {
  submit("t1", "alice", "a1");
  submit("t2", "bob", "b1");
  submit("t1", "alice", "a2");
  EXPECT_EQ(ids(std::get<json::value>(call("jobs.list", "{}", kAlice))),
            (std::vector<std::string>{"t1/a2", "t1/a1"}));
  EXPECT_EQ(ids(std::get<json::value>(call("jobs.list", "{}", kBob))),
            (std::vector<std::string>{"t2/b1"}));
  EXPECT_EQ(std::get<ErrorCode>(call("jobs.list", R"({"tenant_id":"t2"})", kAlice)),
            ErrorCode::kUnauthorized);
  EXPECT_EQ(ids(std::get<json::value>(call("jobs.list", "{}", kAdmin))).size(), 3u);
  EXPECT_EQ(ids(std::get<json::value>(call("jobs.list", R"({"tenant_id":"t2"})", kAdmin))),
            (std::vector<std::string>{"t2/b1"}));
}

TEST_F(AdminHandlers, ListPagesWithAnOpaqueCursor) {
  for (char c = 'a'; c < 'f'; ++c) submit("t1", "alice", std::string(1, c));
  auto first = std::get<json::value>(call("jobs.list", R"({"limit":2})", kAlice));
  EXPECT_EQ(ids(first), (std::vector<std::string>{"t1/e", "t1/d"}));
  ASSERT_TRUE(first.at("next_cursor").is_string());
  auto cursor = std::string(first.at("next_cursor").as_string());
  auto second = std::get<json::value>(
      call("jobs.list", R"({"limit":2,"cursor":")" + cursor + R"("})", kAlice));
  EXPECT_EQ(ids(second), (std::vector<std::string>{"t1/c", "t1/b"}));
  auto last_cursor = std::string(second.at("next_cursor").as_string());
  auto third = std::get<json::value>(
      call("jobs.list", R"({"limit":2,"cursor":")" + last_cursor + R"("})", kAlice));
  EXPECT_EQ(ids(third), (std::vector<std::string>{"t1/a"}));
  EXPECT_TRUE(third.at("next_cursor").is_null());
}

TEST_F(AdminHandlers, GetAnswersNotFoundForAnotherTenantsRequestExactlyAsForAnUnknownOne) {
  submit("t2", "bob", "b1");
  EXPECT_EQ(std::get<ErrorCode>(call(
                "jobs.get", R"({"request_id":"b1","tenant_id":"t2","user_id":"bob"})", kAlice)),
            ErrorCode::kNotFound);
  EXPECT_EQ(std::get<ErrorCode>(call("jobs.get", R"({"request_id":"b1"})", kAlice)),
            ErrorCode::kNotFound);
  auto got = std::get<json::value>(call("jobs.get", R"({"request_id":"b1"})", kBob));
  EXPECT_EQ(got.at("status"), "queued");
  EXPECT_EQ(got.at("payload").at("duration_ms"), 5);
  auto as_admin = std::get<json::value>(
      call("jobs.get", R"({"request_id":"b1","tenant_id":"t2","user_id":"bob"})", kAdmin));
  EXPECT_EQ(as_admin.at("request_id"), "b1");
}

TEST_F(AdminHandlers, RetryQueuesAFailedRequestAgainAndRefusesOthers) {
  submit("t1", "alice", "a1");
  EXPECT_EQ(std::get<ErrorCode>(call("jobs.retry", R"({"request_id":"a1"})", kAlice)),
            ErrorCode::kValidationError);
  fail_next();
  auto summary = std::get<json::value>(call("jobs.list", "{}", kAlice)).at("jobs").at(0);
  EXPECT_EQ(summary.at("error_code"), "TIMEOUT");
  EXPECT_EQ(std::get<ErrorCode>(call("jobs.retry", R"({"request_id":"a1"})", kBob)),
            ErrorCode::kNotFound);
  auto r = std::get<json::value>(call("jobs.retry", R"({"request_id":"a1"})", kAlice));
  EXPECT_EQ(r.at("status"), "queued");
  EXPECT_EQ(r.at("attempts"), 1);
  EXPECT_EQ(r.at("max_attempts"), 2);  // delay is not registered here: one more attempt
  EXPECT_EQ(store.find({"t1", "alice", "a1"})->status, JobStatus::kQueued);
}

TEST_F(AdminHandlers, AdminCancelsAnotherTenantsQueuedRequestAndItsSubscribersHear) {
  submit("t2", "bob", "b1");
  auto sink = std::make_shared<RecordingSink>();
  hub.subscribe({"t2", "bob", "b1"}, sink);
  EXPECT_EQ(std::get<ErrorCode>(call(
                "jobs.cancel", R"({"request_id":"b1","tenant_id":"t2","user_id":"bob"})", kAlice)),
            ErrorCode::kNotFound);
  auto r = std::get<json::value>(
      call("jobs.cancel", R"({"request_id":"b1","tenant_id":"t2","user_id":"bob"})", kAdmin));
  EXPECT_EQ(r.at("status"), "cancelled");
  ASSERT_EQ(sink->got.size(), 1u);
  EXPECT_NE(std::get<2>(sink->got[0]).find("CANCELLED"), std::string::npos);
}

TEST_F(AdminHandlers, PurgeIsScopedAndValidated) {
  submit("t1", "alice", "a1");
  submit("t2", "bob", "b1");
  fail_next();
  fail_next();
  EXPECT_EQ(std::get<ErrorCode>(call("jobs.purge", "{}", kAlice)), ErrorCode::kValidationError);
  EXPECT_EQ(std::get<ErrorCode>(call("jobs.purge", R"({"older_than":-1})", kAlice)),
            ErrorCode::kValidationError);
  std::this_thread::sleep_for(5ms);
  auto mine = std::get<json::value>(call("jobs.purge", R"({"older_than":0.001})", kAlice));
  EXPECT_EQ(mine.at("purged"), 1);
  EXPECT_TRUE(store.find({"t2", "bob", "b1"}));
  auto all = std::get<json::value>(call("jobs.purge", R"({"older_than":0.001})", kAdmin));
  EXPECT_EQ(all.at("purged"), 1);
}

}  // namespace
}  // namespace streamer::admin
