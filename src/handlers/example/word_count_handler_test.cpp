// The README's example handler, run through the same API the service and workers use.
#include <gtest/gtest.h>

#include "handlers/example/word_count_handler.hpp"

namespace streamer {
namespace {

struct CountingProgress : Progress {
  int reports = 0;
  void report(double, std::string_view, boost::json::object) override { ++reports; }
};

struct WordCountTest : ::testing::Test {
  WordCountHandler h;
  Identity who{"u", "t", {"read"}};
  CountingProgress progress;
  CancelToken cancel;
  HandlerEnvironment env;
  JobContext ctx{who, "w1", "", 1, progress, cancel, env};
};

TEST_F(WordCountTest, IsDeclaredAsyncAndNeedsRead) {
  EXPECT_TRUE(h.is_async());
  EXPECT_EQ(h.spec().permission, "read");
}

TEST_F(WordCountTest, CountsWordsOfTheParsedRequest) {
  EXPECT_EQ(parse_and_run(h, {{"text", "a b  c"}}, ctx).data.at("words").to_number<std::int64_t>(),
            3);
  EXPECT_EQ(progress.reports, 1);
  EXPECT_EQ(
      h.run(WordCountRequest{"  one\ttwo\nthree "}, ctx).data.at("words").to_number<std::int64_t>(),
      3);
  EXPECT_EQ(h.run(WordCountRequest{""}, ctx).data.at("words").to_number<std::int64_t>(), 0);
}

TEST_F(WordCountTest, RejectsAMissingOrNonStringTextWithTheSeedDetails) {
  try {
    (void)h.parse({{"text", 5}});
    FAIL();
  } catch (const HandlerError& e) {
    EXPECT_EQ(e.code(), ErrorCode::kValidationError);
    EXPECT_EQ(e.details().at("field"), "text");
    EXPECT_EQ(e.details().at("expected"), "string");
    EXPECT_EQ(e.details().at("received"), "5");
  }
  EXPECT_THROW((void)h.parse({}), HandlerError);
}

TEST_F(WordCountTest, StopsWhenCancelled) {
  cancel.cancel(CancelToken::Reason::kCancelled);
  EXPECT_THROW(parse_and_run(h, {{"text", "x"}}, ctx), OperationCancelled);
}

}  // namespace
}  // namespace streamer
