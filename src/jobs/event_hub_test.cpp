#include "jobs/event_hub.hpp"

#include <gtest/gtest.h>

namespace streamer {
namespace {

struct RecordingSink : MessageSink {
  std::vector<std::pair<MessageKind, std::string>> got;
  void deliver(std::string_view, MessageKind kind, std::string message) override {
    got.emplace_back(kind, message);
  }
};

TEST(EventHub, DeliversToSubscribersOfTheKeyOnly) {
  EventHub hub;
  auto a = std::make_shared<RecordingSink>();
  auto b = std::make_shared<RecordingSink>();
  hub.subscribe({"t", "u", "r1"}, a);
  hub.subscribe({"t", "u", "r1"}, a);  // idempotent
  hub.subscribe({"t", "u", "r2"}, b);
  hub.publish({"t", "u", "r1"}, MessageKind::kProgress, "p");
  EXPECT_EQ(a->got.size(), 1u);
  EXPECT_TRUE(b->got.empty());
  hub.publish({"t2", "u", "r1"}, MessageKind::kProgress, "other tenant");
  EXPECT_EQ(a->got.size(), 1u);
}

TEST(EventHub, TerminalEndsTheTopicAndDeadSinksAreSkipped) {
  EventHub hub;
  auto a = std::make_shared<RecordingSink>();
  {
    auto gone = std::make_shared<RecordingSink>();
    hub.subscribe({"t", "u", "r"}, gone);
  }
  hub.subscribe({"t", "u", "r"}, a);
  hub.publish({"t", "u", "r"}, MessageKind::kTerminal, "done");
  ASSERT_EQ(a->got.size(), 1u);
  EXPECT_EQ(hub.topic_count(), 0u);
  hub.publish({"t", "u", "r"}, MessageKind::kProgress, "late");
  EXPECT_EQ(a->got.size(), 1u);
}

TEST(EventHub, UnsubscribeForgetsTheTopicWhenNobodyIsLeft) {
  EventHub hub;
  auto a = std::make_shared<RecordingSink>();
  auto b = std::make_shared<RecordingSink>();
  hub.subscribe({"t", "u", "r"}, a);
  hub.subscribe({"t", "u", "r"}, b);
  hub.unsubscribe({"t", "u", "r"}, a);
  EXPECT_EQ(hub.topic_count(), 1u);
  hub.publish({"t", "u", "r"}, MessageKind::kProgress, "p");
  EXPECT_TRUE(a->got.empty());
  EXPECT_EQ(b->got.size(), 1u);
  hub.unsubscribe({"t", "u", "r"}, b);
  EXPECT_EQ(hub.topic_count(), 0u);
}

}  // namespace
}  // namespace streamer
