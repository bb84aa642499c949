#include "remote/remote_actions.hpp"

#include <gtest/gtest.h>

namespace streamer::remote {
namespace {
namespace json = boost::json;

class Builtin final : public JsonHandler {
 public:
  Builtin() : JsonHandler(spec()) {}
  static HandlerSpec spec() {
    HandlerSpec s;
    s.name = "echo";
    return s;
  }
  HandlerResult run(const json::object& p, JobContext&) override { return {p}; }
};

struct RemoteActionsTest : testing::Test {
  RemoteActionsTest() { builtin.add(std::make_unique<Builtin>()); }
  RemoteActionSpec spec(std::string_view text) {
    return parse_action_spec(json::parse(text), 0, options);
  }
  // The details of the HandlerError fn throws.
  template <class Fn>
  HandlerError error_of(Fn fn) {
    try {
      fn();
    } catch (const HandlerError& e) {
      return e;
    }
    ADD_FAILURE() << "no error";
    return HandlerError(ErrorCode::kInternalError, "none");
  }
  HandlerRegistry builtin;
  RemoteActionsOptions options;
};

TEST_F(RemoteActionsTest, ParsesASpecWithDefaults) {
  auto s = spec(R"({"name":"resize","schema":{"type":"object"}})");
  EXPECT_EQ(s.spec.name, "resize");
  EXPECT_EQ(s.spec.lane, "resize");
  EXPECT_EQ(s.spec.execution, Execution::kAsync);
  EXPECT_EQ(s.spec.permission, "write");
  EXPECT_EQ(s.spec.time_limit.count(), 30'000);
  EXPECT_EQ(s.spec.max_attempts, 3);
  s = spec(R"({"name":"r","estimated_duration":5000,"permission":"read","time_limit":60000,
               "max_attempts":5})");
  EXPECT_EQ(s.spec.estimated_duration.count(), 5000);
  EXPECT_EQ(s.spec.permission, "read");
  EXPECT_EQ(s.spec.time_limit.count(), 60000);
  EXPECT_EQ(s.spec.max_attempts, 5);
}

TEST_F(RemoteActionsTest, RefusesBadSpecsWithTheField) {
  auto field = [&](std::string_view text) {
    auto e = error_of([&] { spec(text); });
    EXPECT_EQ(e.code(), ErrorCode::kValidationError);
    return std::string(e.details().at("field").as_string());
  };
  EXPECT_EQ(field(R"({"name":"a b"})"), "actions[0].name");
  EXPECT_EQ(field(R"({"name":"a","time_limit":0})"), "actions[0].time_limit");
  EXPECT_EQ(field(R"({"name":"a","max_attempts":1000})"), "actions[0].max_attempts");
  EXPECT_EQ(field(R"({"name":"a","colour":1})"), "actions[0].colour");
  EXPECT_EQ(field(R"({"name":"a","schema":{"anyOf":[]}})"), "actions[0].schema.anyOf");
}

TEST_F(RemoteActionsTest, RegistersOnceAndChecksLaterSpecsAgainstTheFirst) {
  RemoteActions actions(builtin, options);
  builtin.set_dynamic(&actions);
  actions.add(spec(R"({"name":"resize","schema":{"type":"object","required":["w"]}})"), 0);
  Handler* h = builtin.find("resize");
  ASSERT_NE(h, nullptr);
  EXPECT_TRUE(h->is_async());
  EXPECT_NO_THROW(actions.add(spec(R"({"name":"resize","schema":{"type":"object",
                                       "required":["w"]}})"),
                              0));
  auto e = error_of([&] {
    actions.add(spec(R"({"name":"resize","time_limit":5,"schema":{"type":"object",
                                 "required":["w"]}})"),
                0);
  });
  EXPECT_EQ(e.code(), ErrorCode::kValidationError);
  EXPECT_EQ(e.details().at("field"), "actions[0].time_limit");
  EXPECT_EQ(e.details().at("expected"), "30000");
  EXPECT_EQ(e.details().at("received"), "5");
  // Payloads are checked against the schema.
  auto bad = error_of([&] { h->parse_payload(json::object{}); });
  EXPECT_EQ(bad.details().at("field"), "w");
  EXPECT_NO_THROW(h->parse_payload(json::object{{"w", 1}}));
  auto names = builtin.names();
  EXPECT_NE(std::find(names.begin(), names.end(), "resize"), names.end());
}

TEST_F(RemoteActionsTest, BuiltInNamesNeedOverride) {
  RemoteActions actions(builtin, options);
  auto e = error_of([&] { actions.add(spec(R"({"name":"echo"})"), 0); });
  EXPECT_EQ(e.code(), ErrorCode::kUnauthorized);
  options.allow_override = true;
  RemoteActions permissive(builtin, options);
  builtin.set_dynamic(&permissive);
  permissive.add(spec(R"({"name":"echo"})"), 0);
  EXPECT_TRUE(builtin.find("echo")->is_async());
  EXPECT_FALSE(builtin.find_builtin("echo")->is_async());
}

TEST_F(RemoteActionsTest, BoundsTheNumberOfActions) {
  options.max_actions = 1;
  RemoteActions actions(builtin, options);
  actions.add(spec(R"({"name":"a"})"), 0);
  auto e = error_of([&] { actions.add(spec(R"({"name":"b"})"), 0); });
  EXPECT_EQ(e.code(), ErrorCode::kValidationError);
}

}  // namespace
}  // namespace streamer::remote
