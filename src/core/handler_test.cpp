#include "core/handler.hpp"

#include <gtest/gtest.h>

#include <thread>

namespace streamer {
namespace {

TEST(Identity, PermissionCheck) {
  Identity id{"u", "t", {"read"}};
  EXPECT_TRUE(id.has_permission(""));
  EXPECT_TRUE(id.has_permission("read"));
  EXPECT_FALSE(id.has_permission("write"));
}

TEST(CancelToken, FirstReasonWinsAndWakesWaiters) {
  CancelToken token;
  EXPECT_FALSE(token.cancelled());
  std::thread t([&] { token.cancel(CancelToken::Reason::kTimedOut); });
  EXPECT_FALSE(token.wait_for(std::chrono::seconds(10)));  // woken early by cancel
  t.join();
  EXPECT_FALSE(token.cancel(CancelToken::Reason::kCancelled));
  EXPECT_EQ(token.reason(), CancelToken::Reason::kTimedOut);
  EXPECT_THROW(token.throw_if_cancelled(), OperationCancelled);
}

TEST(CancelToken, WaitForElapsesWhenNotCancelled) {
  CancelToken token;
  EXPECT_TRUE(token.wait_for(std::chrono::milliseconds(5)));
}

HandlerSpec spec_named(std::string name) {
  HandlerSpec spec;
  spec.name = std::move(name);
  return spec;
}

struct SumRequest {
  std::int64_t a = 0;
  std::int64_t b = 0;
};

// Counts its parses, so tests can tell a request is parsed once.
class SumHandler final : public TypedHandler<SumRequest> {
 public:
  explicit SumHandler(Execution execution = Execution::kPool)
      : TypedHandler(HandlerSpec{.name = "sum",
                                 .estimated_duration = std::chrono::hours(1),
                                 .permission = "",
                                 .time_limit = std::chrono::seconds(1),
                                 .max_attempts = 1,
                                 .execution = execution}) {}
  SumRequest parse(const boost::json::object& payload) const override {
    ++parses;
    auto* a = payload.if_contains("a");
    if (!a || !a->is_int64())
      throw HandlerError::validation("a", "integer", a ? *a : nullptr, "a is required");
    return {a->get_int64(), payload.contains("b") ? payload.at("b").to_number<std::int64_t>() : 0};
  }
  HandlerResult run(const SumRequest& request, JobContext&) override {
    return {request.a + request.b};
  }
  mutable int parses = 0;
};

struct NullProgress final : Progress {
  void report(double, std::string_view, boost::json::object) override {}
};

struct ContextFixture {
  Identity who{"u", "t", {}};
  NullProgress progress;
  CancelToken cancel;
  HandlerEnvironment env;
  JobContext ctx{who, "r", "", 1, progress, cancel, env};
};

TEST(TypedHandler, RunsTheRequestItParsedWithoutParsingAgain) {
  SumHandler h;
  ContextFixture f;
  ParsedRequest parsed = h.parse_payload({{"a", 2}, {"b", 3}});
  ASSERT_TRUE(parsed);
  EXPECT_EQ(h.parses, 1);
  EXPECT_EQ(h.run_parsed(parsed, f.ctx).data, 5);
  EXPECT_EQ(h.run_parsed(parsed, f.ctx).data, 5);  // a retry reuses it
  EXPECT_EQ(h.parses, 1);
}

TEST(TypedHandler, ParseErrorsCarryTheSeedDetails) {
  SumHandler h;
  try {
    (void)h.parse_payload({{"a", "2"}});
    FAIL();
  } catch (const HandlerError& e) {
    EXPECT_EQ(e.code(), ErrorCode::kValidationError);
    EXPECT_EQ(e.details().at("field"), "a");
    EXPECT_EQ(e.details().at("expected"), "integer");
    EXPECT_EQ(e.details().at("received"), "2");
  }
}

TEST(TypedHandler, RefusesARequestParsedByAnotherHandlerOrNone) {
  SumHandler one, other;
  ContextFixture f;
  ParsedRequest parsed = one.parse_payload({{"a", 1}});
  EXPECT_THROW(other.run_parsed(parsed, f.ctx), std::logic_error);
  EXPECT_THROW(one.run_parsed(ParsedRequest{}, f.ctx), std::logic_error);
}

TEST(Handler, ModeIsDeclaredNeverInferredFromTheEstimate) {
  EXPECT_FALSE(SumHandler(Execution::kPool).is_async());  // estimated at an hour, still sync
  EXPECT_FALSE(SumHandler(Execution::kPool).runs_inline());
  EXPECT_TRUE(SumHandler(Execution::kInline).runs_inline());
  EXPECT_FALSE(SumHandler(Execution::kInline).is_async());
  EXPECT_TRUE(SumHandler(Execution::kAsync).is_async());
  EXPECT_FALSE(SumHandler(Execution::kAsync).runs_inline());
}

TEST(JsonHandler, TheRequestIsThePayload) {
  struct Echo final : JsonHandler {
    Echo() : JsonHandler(spec_named("e")) {}
    HandlerResult run(const boost::json::object& payload, JobContext&) override {
      return {payload};
    }
  } h;
  ContextFixture f;
  EXPECT_EQ(parse_and_run(h, {{"x", 1}}, f.ctx).data, (boost::json::object{{"x", 1}}));
}

TEST(HandlerError, DefaultsRetryableFromCode) {
  EXPECT_FALSE(HandlerError(ErrorCode::kNotFound, "x").retryable());
  EXPECT_TRUE(HandlerError(ErrorCode::kInternalError, "x").retryable());
  EXPECT_FALSE(HandlerError(ErrorCode::kInternalError, "x", {}, false).retryable());
}

}  // namespace
}  // namespace streamer
