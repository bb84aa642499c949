#include <gtest/gtest.h>

#include <regex>
#include <thread>

#include "handlers/builtin/delay_handler.hpp"
#include "handlers/builtin/echo_handler.hpp"
#include "handlers/builtin/health_handler.hpp"

namespace streamer {
namespace {
namespace json = boost::json;
using namespace std::chrono_literals;

struct RecordingProgress : Progress {
  std::vector<double> percents;
  void report(double percent, std::string_view, json::object) override {
    percents.push_back(percent);
  }
};

struct Fixture {
  Identity who{"u", "t", {}};
  RecordingProgress progress;
  CancelToken cancel;
  HandlerEnvironment env;
  JobContext ctx{who, "r1", "", 1, progress, cancel, env};
};

TEST(Health, AnswersTheSeedShapeWhateverThePayload) {
  HealthHandler h;
  Fixture f;
  EXPECT_FALSE(h.is_async());
  EXPECT_EQ(parse_and_run(h, {{"ignored", 1}}, f.ctx).data.at("status"), "healthy");
  auto data = parse_and_run(h, {}, f.ctx).data.as_object();
  EXPECT_EQ(data.at("status").as_string(), "healthy");
  EXPECT_TRUE(std::regex_match(std::string(data.at("timestamp").as_string()),
                               std::regex(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ)")));
  EXPECT_EQ(data.at("version").as_string(), STREAMER_VERSION);
}

TEST(Builtins, HealthAndEchoRunInlineButSpinningEchoTakesThePool) {
  EXPECT_TRUE(HealthHandler().runs_inline());
  EXPECT_TRUE(EchoHandler(false).runs_inline());
  EXPECT_FALSE(DelayHandler(false).runs_inline());
  EXPECT_FALSE(EchoHandler(true).runs_inline());  // spin_ms must not hold an I/O thread
  EXPECT_FALSE(EchoHandler(true).is_async());
}

TEST(Echo, ReturnsThePayload) {
  EchoHandler echo(false);
  Fixture f;
  json::object payload{{"a", 1}, {"b", json::array{1, 2}}, {"spin_ms", 5000}};
  EXPECT_EQ(echo.parse(payload).spin_ms, 0);  // a plain field without fault injection
  EXPECT_EQ(parse_and_run(echo, payload, f.ctx).data, json::value(payload));
}

TEST(Echo, SpinsOnlyWithFaultInjectionAndStopsWhenCancelled) {
  EchoHandler echo(true);
  EXPECT_EQ(echo.parse({{"spin_ms", 1.5}}).spin_ms, 1);
  EXPECT_EQ(echo.parse({{"spin_ms", -3}}).spin_ms, 0);
  EXPECT_EQ(echo.parse({{"spin_ms", "10"}}).spin_ms, 0);
  Fixture f;
  f.cancel.cancel(CancelToken::Reason::kTimedOut);
  auto t0 = std::chrono::steady_clock::now();
  parse_and_run(echo, {{"spin_ms", 10'000}}, f.ctx);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 5s);
}

TEST(Delay, IsDeclaredAsyncWhateverItsEstimate) {
  DelayHandler d(false);
  EXPECT_TRUE(d.is_async());
  EXPECT_LT(d.spec().estimated_duration, 5s);  // durability does not follow the estimate
}

TEST(Delay, ValidatesItsPayload) {
  DelayHandler d(false);
  auto code_of = [&](json::object p) {
    try {
      (void)d.parse(p);
      return std::string("ok");
    } catch (const HandlerError& e) {
      EXPECT_EQ(e.code(), ErrorCode::kValidationError);
      return std::string(e.details().at("field").as_string());
    }
  };
  EXPECT_EQ(code_of({{"duration_ms", 10}}), "ok");
  EXPECT_EQ(code_of({}), "duration_ms");
  EXPECT_EQ(code_of({{"duration_ms", -1}}), "duration_ms");
  EXPECT_EQ(code_of({{"duration_ms", 600001}}), "duration_ms");
  EXPECT_EQ(code_of({{"duration_ms", "10"}}), "duration_ms");
  EXPECT_EQ(code_of({{"duration_ms", 1.5}}), "duration_ms");
  EXPECT_EQ(code_of({{"duration_ms", 10}, {"steps", 0}}), "steps");
  EXPECT_EQ(code_of({{"duration_ms", 10}, {"steps", 1001}}), "steps");
}

TEST(Delay, WaitsInStepsReportingEach) {
  DelayHandler d(false);
  Fixture f;
  auto t0 = std::chrono::steady_clock::now();
  auto data = parse_and_run(d, {{"duration_ms", 40}, {"steps", 4}}, f.ctx).data;
  EXPECT_GE(std::chrono::steady_clock::now() - t0, 40ms);
  EXPECT_EQ(data.at("slept_ms").as_int64(), 40);
  EXPECT_EQ(data.at("steps").as_int64(), 4);
  EXPECT_EQ(f.progress.percents, (std::vector<double>{25, 50, 75, 100}));
}

TEST(Delay, StopsWhenCancelled) {
  DelayHandler d(false);
  Fixture f;
  f.cancel.cancel(CancelToken::Reason::kCancelled);
  EXPECT_THROW(parse_and_run(d, {{"duration_ms", 10000}, {"steps", 2}}, f.ctx), OperationCancelled);
}

TEST(Delay, IsAWaitingHandlerWhoseWaitACancelEndsMidStep) {
  DelayHandler d(false);
  EXPECT_NE(dynamic_cast<WaitingHandler*>(&d), nullptr);  // the pool runs it without a thread
  Fixture f;
  std::thread canceller([&] {
    std::this_thread::sleep_for(30ms);
    f.cancel.cancel(CancelToken::Reason::kCancelled);
  });
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_THROW(parse_and_run(d, {{"duration_ms", 60'000}, {"steps", 1}}, f.ctx),
               OperationCancelled);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 5s);
  canceller.join();
  EXPECT_TRUE(f.progress.percents.empty());
}

TEST(Delay, FaultInjectionFailsEarlyAttempts) {
  DelayHandler d(true);
  Fixture f;
  EXPECT_THROW(parse_and_run(d, {{"duration_ms", 0}, {"fail_attempts", 1}}, f.ctx),
               std::runtime_error);
  f.ctx.attempt = 2;
  EXPECT_NO_THROW(parse_and_run(d, {{"duration_ms", 0}, {"fail_attempts", 1}}, f.ctx));
  Fixture plain;
  EXPECT_EQ(DelayHandler(false).parse({{"duration_ms", 0}, {"fail_attempts", 1}}).fail_attempts, 0);
}

}  // namespace
}  // namespace streamer
