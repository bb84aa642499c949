// The README's example handler, run through the same API the workers use.
#include <gtest/gtest.h>

#include "handlers/example/word_count_handler.hpp"

namespace streamer {
namespace {

struct NoProgress : Progress {
  int reports = 0;
  void report(double, std::string_view, boost::json::object) override { ++reports; }
};

TEST(WordCountExample, IsAsyncCountsWordsAndValidates) {
  WordCountHandler h;
  EXPECT_TRUE(h.is_async());
  EXPECT_EQ(h.spec().permission, "read");
  Identity who{"u", "t", {"read"}};
  NoProgress progress;
  CancelToken cancel;
  HandlerEnvironment env;
  JobContext ctx{who, "w1", "", 1, progress, cancel, env};
  EXPECT_EQ(h.run({{"text", "a b  c"}}, ctx).data.at("words").to_number<std::int64_t>(), 3);
  EXPECT_EQ(progress.reports, 1);
  EXPECT_THROW(h.validate({}), HandlerError);
  EXPECT_THROW(h.validate({{"text", 5}}), HandlerError);
  cancel.cancel(CancelToken::Reason::kCancelled);
  EXPECT_THROW(h.run({{"text", "x"}}, ctx), OperationCancelled);
}

}  // namespace
}  // namespace streamer
