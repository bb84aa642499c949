#include <gtest/gtest.h>

#include <regex>

#include "handlers/builtin/builtin_handlers.hpp"
#include "handlers/builtin/delay_handler.hpp"

namespace streamer {
namespace {
namespace json = boost::json;
using namespace std::chrono_literals;

struct RecordingProgress : Progress {
  std::vector<double> percents;
  void report(double percent, std::string_view, json::object) override { percents.push_back(percent); }
};

struct Fixture {
  Identity who{"u", "t", {}};
  RecordingProgress progress;
  CancelToken cancel;
  HandlerEnvironment env;
  JobContext ctx{who, "r1", "", 1, progress, cancel, env};
};

HandlerRegistry registry_with(BuiltinOptions options) {
  HandlerRegistry r;
  register_builtin_handlers(r, options);
  return r;
}

TEST(Health, AnswersTheSeedShape) {
  auto reg = registry_with({});
  Fixture f;
  auto* h = reg.find("health");
  ASSERT_NE(h, nullptr);
  EXPECT_FALSE(h->is_async());
  auto data = h->run({}, f.ctx).data.as_object();
  EXPECT_EQ(data.at("status").as_string(), "healthy");
  EXPECT_TRUE(std::regex_match(std::string(data.at("timestamp").as_string()),
                               std::regex(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ)")));
  EXPECT_EQ(data.at("version").as_string(), STREAMER_VERSION);
}

TEST(Echo, ReturnsThePayload) {
  auto reg = registry_with({});
  Fixture f;
  json::object payload{{"a", 1}, {"b", json::array{1, 2}}};
  EXPECT_EQ(reg.find("echo")->run(payload, f.ctx).data, json::value(payload));
}

TEST(Delay, IsAsyncAndOffUnlessEnabled) {
  EXPECT_TRUE(registry_with({.enable_delay = true}).find("delay")->is_async());
  EXPECT_EQ(registry_with({}).find("delay"), nullptr);
}

TEST(Delay, ValidatesItsPayload) {
  DelayHandler d(false);
  auto code_of = [&](json::object p) {
    try {
      d.validate(p);
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
  auto data = d.run({{"duration_ms", 40}, {"steps", 4}}, f.ctx).data;
  EXPECT_GE(std::chrono::steady_clock::now() - t0, 40ms);
  EXPECT_EQ(data.at("slept_ms").as_int64(), 40);
  EXPECT_EQ(data.at("steps").as_int64(), 4);
  EXPECT_EQ(f.progress.percents, (std::vector<double>{25, 50, 75, 100}));
}

TEST(Delay, StopsWhenCancelled) {
  DelayHandler d(false);
  Fixture f;
  f.cancel.cancel(CancelToken::Reason::kCancelled);
  EXPECT_THROW(d.run({{"duration_ms", 10000}, {"steps", 2}}, f.ctx), OperationCancelled);
}

TEST(Delay, FaultInjectionFailsEarlyAttempts) {
  DelayHandler d(true);
  Fixture f;
  EXPECT_THROW(d.run({{"duration_ms", 0}, {"fail_attempts", 1}}, f.ctx), std::runtime_error);
  f.ctx.attempt = 2;
  EXPECT_NO_THROW(d.run({{"duration_ms", 0}, {"fail_attempts", 1}}, f.ctx));
}

}  // namespace
}  // namespace streamer
