#include "core/waiting_handler.hpp"

#include <gtest/gtest.h>

#include <thread>

namespace streamer {
namespace {
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

struct NoProgress : Progress {
  void report(double, std::string_view, boost::json::object) override {}
};

// Waits payload.ms in one wait; returns {"waited": true} or throws OperationCancelled.
class Napper final : public TypedWaitingHandler<std::chrono::milliseconds> {
 public:
  Napper() : TypedWaitingHandler(HandlerSpec{"nap", 0ms, "", 30s, 1, Execution::kAsync}) {}
  std::chrono::milliseconds parse(const boost::json::object& payload) const override {
    return std::chrono::milliseconds(payload.at("ms").to_number<std::int64_t>());
  }
  boost::asio::awaitable<HandlerResult> run(const std::chrono::milliseconds& ms,
                                            JobContext& ctx) override {
    const bool waited = co_await wait_for(ctx.cancel, ms);
    if (!waited) throw OperationCancelled{};
    HandlerResult result;
    result.data = boost::json::object{{"waited", true}};
    co_return result;
  }
};

struct Fixture {
  Identity identity{"u", "t", {}};
  NoProgress progress;
  CancelToken cancel;
  HandlerEnvironment env;
  JobContext ctx{identity, "r", "", 1, progress, cancel, env};
};

TEST(WaitingHandler, RunsToItsEndOnTheCallingThreadThroughRunParsed) {
  Napper nap;
  Fixture f;
  const auto start = Clock::now();
  auto result = parse_and_run(nap, {{"ms", 30}}, f.ctx);
  EXPECT_GE(Clock::now() - start, 30ms);
  EXPECT_TRUE(result.data.at("waited").as_bool());
}

TEST(WaitingHandler, ACancelFromAnotherThreadEndsTheWaitAtOnce) {
  Napper nap;
  Fixture f;
  std::thread canceller([&] {
    std::this_thread::sleep_for(20ms);
    f.cancel.cancel(CancelToken::Reason::kCancelled);
  });
  const auto start = Clock::now();
  EXPECT_THROW(parse_and_run(nap, {{"ms", 60'000}}, f.ctx), OperationCancelled);
  EXPECT_LT(Clock::now() - start, 2s);
  canceller.join();
}

TEST(WaitingHandler, AnAlreadyCancelledTokenDoesNotWait) {
  Napper nap;
  Fixture f;
  f.cancel.cancel(CancelToken::Reason::kShutdown);
  const auto start = Clock::now();
  EXPECT_THROW(parse_and_run(nap, {{"ms", 60'000}}, f.ctx), OperationCancelled);
  EXPECT_LT(Clock::now() - start, 1s);
}

TEST(CancelToken, SetWakeIsCalledOnceOnCancelAndNeverAfterItIsCleared) {
  CancelToken token;
  int woken = 0;
  token.set_wake([&] { ++woken; });
  token.cancel(CancelToken::Reason::kCancelled);
  token.cancel(CancelToken::Reason::kTimedOut);  // not the first reason: no second wake
  EXPECT_EQ(woken, 1);

  CancelToken cleared;
  cleared.set_wake([&] { ++woken; });
  cleared.set_wake(nullptr);
  cleared.cancel(CancelToken::Reason::kCancelled);
  EXPECT_EQ(woken, 1);

  // Set on a token cancelled already: called at once.
  cleared.set_wake([&] { ++woken; });
  EXPECT_EQ(woken, 2);
}

}  // namespace
}  // namespace streamer
