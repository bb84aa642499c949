#include "jobs/progress_reporter.hpp"

#include <gtest/gtest.h>

#include <thread>

namespace streamer {
namespace {
using namespace std::chrono_literals;

struct Collector {
  std::vector<double> percents;
  std::vector<std::string> messages;
  ProgressReporter::Emit emit() {
    return [this](const boost::json::object& body) {
      percents.push_back(body.at("progress").to_number<double>());
      messages.emplace_back(body.at("message").as_string());
    };
  }
};

TEST(ProgressReporter, ClampsAndNeverGoesBack) {
  Collector c;
  ProgressReporter p("r", 0ms, c.emit());
  p.report(-5, "start");
  p.report(50, "half");
  p.report(40, "back");
  p.report(50, "same");
  p.report(250, "over");
  EXPECT_EQ(c.percents, (std::vector<double>{0, 50, 100}));
}

TEST(ProgressReporter, CoalescesBurstsKeepingTheNewest) {
  Collector c;
  ProgressReporter p("r", 1h, c.emit());
  for (int i = 1; i <= 99; ++i) p.report(i, "step " + std::to_string(i));
  EXPECT_EQ(c.percents, (std::vector<double>{1}));  // first goes out at once
  p.flush_if_due();
  EXPECT_EQ(c.percents.size(), 1u);  // interval not elapsed
  p.flush();
  EXPECT_EQ(c.percents.back(), 99);
  EXPECT_EQ(c.messages.back(), "step 99");
}

TEST(ProgressReporter, CompleteEndsAtExactlyOneHundredOnce) {
  Collector c;
  ProgressReporter p("r", 0ms, c.emit());
  p.report(30, "a");
  p.complete("Completed");
  p.complete("Completed");
  EXPECT_EQ(c.percents, (std::vector<double>{30, 100}));
}

TEST(ProgressReporter, FlushIfDueEmitsAfterTheInterval) {
  Collector c;
  ProgressReporter p("r", 20ms, c.emit());
  p.report(10, "a");
  p.report(20, "b");
  std::this_thread::sleep_for(30ms);
  p.flush_if_due();
  EXPECT_EQ(c.percents, (std::vector<double>{10, 20}));
}

}  // namespace
}  // namespace streamer
