#include "service/request_tracker.hpp"

#include <gtest/gtest.h>

namespace streamer {
namespace {
using Route = RequestTracker::Route;

TEST(RequestTracker, SlotsFreedByTheFinalAnswer) {
  RequestTracker t;
  EXPECT_TRUE(t.begin("a", 2));
  EXPECT_TRUE(t.begin("a", 2));  // a resend takes no slot
  EXPECT_TRUE(t.begin("b", 2));
  EXPECT_FALSE(t.begin("c", 2));
  std::string m = "reply";
  EXPECT_EQ(t.route("a", MessageKind::kReply, m), Route::kSend);
  EXPECT_TRUE(t.begin("c", 2));
  t.end("b");
  t.end("c");
  EXPECT_TRUE(t.empty());
}

TEST(RequestTracker, HoldsUntilQueuedAndDropsDuplicateTerminals) {
  RequestTracker t;
  t.expect_queued("j");
  std::string p = "progress", r = "result";
  EXPECT_EQ(t.route("j", MessageKind::kProgress, p), Route::kHold);
  EXPECT_EQ(t.route("j", MessageKind::kTerminal, r), Route::kHold);
  std::string q = "queued";
  EXPECT_EQ(t.route("j", MessageKind::kQueued, q), Route::kSend);
  auto held = t.take_held("j");
  ASSERT_EQ(held.size(), 2u);
  EXPECT_EQ(held[0].second, "progress");
  EXPECT_EQ(t.route("j", held[1].first, held[1].second), Route::kSend);
  std::string again = "result";
  EXPECT_EQ(t.route("j", MessageKind::kTerminal, again), Route::kDrop);
  EXPECT_FALSE(t.empty());  // the terminal is remembered
}

TEST(RequestTracker, AnErrorInsteadOfQueuedEndsTheHold) {
  RequestTracker t;
  EXPECT_TRUE(t.begin("x", 1));
  t.expect_queued("x");
  std::string e = "error";
  EXPECT_EQ(t.route("x", MessageKind::kReply, e), Route::kSend);
  EXPECT_TRUE(t.empty());
}

TEST(RequestTracker, WatchingAgainLetsTheNextTerminalThrough) {
  RequestTracker t;
  std::string first = "error";
  EXPECT_EQ(t.route("j", MessageKind::kTerminal, first), Route::kSend);
  std::string dup = "error";
  EXPECT_EQ(t.route("j", MessageKind::kTerminal, dup), Route::kDrop);
  t.watch_again("j");  // a subscribe after jobs.retry
  std::string retried = "result";
  EXPECT_EQ(t.route("j", MessageKind::kTerminal, retried), Route::kSend);
  std::string dup2 = "result";
  EXPECT_EQ(t.route("j", MessageKind::kTerminal, dup2), Route::kDrop);
  t.watch_again("other");  // nothing remembered: no effect
  t.expect_queued("j");    // a resubmission is a new watch too
  std::string q = "queued";
  EXPECT_EQ(t.route("j", MessageKind::kQueued, q), Route::kSend);
  EXPECT_TRUE(t.take_held("j").empty());
  std::string third = "result";
  EXPECT_EQ(t.route("j", MessageKind::kTerminal, third), Route::kSend);
}

}  // namespace
}  // namespace streamer
