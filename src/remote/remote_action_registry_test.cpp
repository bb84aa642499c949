#include "remote/remote_action_registry.hpp"

#include <gtest/gtest.h>

#include <thread>

#include "jobs/memory_job_store.hpp"

namespace streamer::remote {
namespace {
namespace json = boost::json;
using namespace std::chrono_literals;

// Two gateways (each its RemoteActions and registry) on one store.
struct RemoteActionRegistryTest : testing::Test {
  RemoteActionSpec spec(std::string_view text) {
    return parse_action_spec(json::parse(text), 0, RemoteActionsOptions{});
  }
  HandlerRegistry builtin;
  MemoryJobStore store;
  RemoteActions actions_a{builtin, {}}, actions_b{builtin, {}};
  RemoteActionRegistry a{store, actions_a, {100ms, 10ms}}, b{store, actions_b, {100ms, 10ms}};
  const char* resize = R"({"name":"resize","schema":{"type":"object","required":["w"]}})";
};

TEST_F(RemoteActionRegistryTest, AnActionRegisteredAtOneGatewayIsKnownAndValidatedAtAnother) {
  a.attach(spec(resize), "t1", 0);
  ASSERT_NE(actions_a.find("resize"), nullptr);
  EXPECT_EQ(actions_b.find("resize"), nullptr);  // until b's next refresh
  b.refresh();
  Handler* at_b = actions_b.find("resize");
  ASSERT_NE(at_b, nullptr);
  EXPECT_THROW(at_b->parse_payload(json::object{}), HandlerError);  // w is required
  EXPECT_NO_THROW(at_b->parse_payload(json::object{{"w", 1}}));
  const auto entries = store.live_remote_actions(std::chrono::system_clock::now());
  ASSERT_EQ(entries.size(), 1u);
  EXPECT_EQ(entries[0].tenant_scope, "t1");
}

TEST_F(RemoteActionRegistryTest, AnotherSpecForALiveNameIsRefusedAtAnyGateway) {
  a.attach(spec(resize), "", 0);
  try {
    b.attach(spec(R"({"name":"resize","time_limit":5})"), "", 0);
    FAIL() << "a second spec was accepted";
  } catch (const HandlerError& e) {
    EXPECT_EQ(e.code(), ErrorCode::kValidationError);
    EXPECT_EQ(e.details().at("field").as_string(), "actions[0].time_limit");
  }
  EXPECT_EQ(actions_b.find("resize"), nullptr);
  b.attach(spec(resize), "", 0);  // the same spec is another worker of the action
  EXPECT_NE(actions_b.find("resize"), nullptr);
}

TEST_F(RemoteActionRegistryTest, AnActionExpiresTtlAfterItsLastWorkerLeftAndComesBack) {
  a.attach(spec(resize), "", 0);
  b.refresh();
  a.detach("resize");
  std::this_thread::sleep_for(150ms);  // past the ttl, with no refresh of the entry
  a.refresh();
  b.refresh();
  EXPECT_EQ(actions_a.find("resize"), nullptr);
  EXPECT_EQ(actions_b.find("resize"), nullptr);
  // Once expired, the name is free: a new worker may register it with another spec.
  b.attach(spec(R"({"name":"resize","time_limit":5})"), "", 0);
  a.refresh();
  ASSERT_NE(actions_a.find("resize"), nullptr);
  EXPECT_EQ(actions_a.find("resize")->spec().time_limit, 5ms);
}

TEST_F(RemoteActionRegistryTest, AnAttachedActionIsKeptAliveByRefreshes) {
  a.attach(spec(resize), "", 0);
  for (int i = 0; i < 4; ++i) {
    std::this_thread::sleep_for(50ms);
    a.refresh();
  }
  b.refresh();
  EXPECT_NE(actions_b.find("resize"), nullptr);
}

}  // namespace
}  // namespace streamer::remote
