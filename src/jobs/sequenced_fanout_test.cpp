#include "jobs/sequenced_fanout.hpp"

#include <gtest/gtest.h>

#include <thread>

#include "jobs/in_process_event_bus.hpp"

namespace streamer {
namespace {

struct RecordingSink : MessageSink {
  std::mutex mutex;
  std::vector<std::pair<MessageKind, std::string>> got;
  void deliver(std::string_view, MessageKind kind, std::string message) override {
    std::lock_guard lock(mutex);
    got.emplace_back(kind, std::move(message));
  }
};

const JobKey kKey{"t", "u", "r"};

TEST(SequencedFanout, DropsEventsAtOrBelowTheLastNumberAConnectionReceived) {
  SequencedFanout f;
  auto a = std::make_shared<RecordingSink>();
  f.subscribe(kKey, a, 0);
  EXPECT_EQ(f.deliver(kKey, MessageKind::kProgress, 2, "p2"), 1u);
  EXPECT_EQ(f.deliver(kKey, MessageKind::kProgress, 1, "p1 late"), 0u);
  EXPECT_EQ(f.deliver(kKey, MessageKind::kProgress, 2, "p2 again"), 0u);
  EXPECT_EQ(f.deliver(kKey, MessageKind::kTerminal, 3, "done"), 1u);
  ASSERT_EQ(a->got.size(), 2u);
  EXPECT_EQ(a->got[0].second, "p2");
  EXPECT_EQ(a->got[1].second, "done");
  EXPECT_EQ(f.topic_count(), 0u);  // nothing follows a terminal
}

TEST(SequencedFanout, SubscribingAfterASnapshotSkipsWhatTheSnapshotShowed) {
  SequencedFanout f;
  auto a = std::make_shared<RecordingSink>();
  f.subscribe(kKey, a, 5);  // the snapshot was taken at number 5
  f.deliver(kKey, MessageKind::kProgress, 5, "in the snapshot");
  f.deliver(kKey, MessageKind::kProgress, 6, "after it");
  ASSERT_EQ(a->got.size(), 1u);
  EXPECT_EQ(a->got[0].second, "after it");
}

TEST(SequencedFanout, ResubscribingNeverLowersTheFloor) {
  SequencedFanout f;
  auto a = std::make_shared<RecordingSink>();
  f.subscribe(kKey, a, 0);
  f.deliver(kKey, MessageKind::kProgress, 4, "p4");
  f.subscribe(kKey, a, 1);
  f.deliver(kKey, MessageKind::kProgress, 3, "p3");
  EXPECT_EQ(a->got.size(), 1u);
}

TEST(SequencedFanout, EachConnectionHasItsOwnFloorAndOtherKeysAreApart) {
  SequencedFanout f;
  auto a = std::make_shared<RecordingSink>();
  auto b = std::make_shared<RecordingSink>();
  f.subscribe(kKey, a, 0);
  f.subscribe(kKey, b, 7);
  f.subscribe({"t", "u", "other"}, b, 0);
  f.deliver(kKey, MessageKind::kProgress, 5, "p5");
  f.deliver({"t2", "u", "r"}, MessageKind::kProgress, 9, "other tenant");
  EXPECT_EQ(a->got.size(), 1u);
  EXPECT_TRUE(b->got.empty());
  EXPECT_EQ(f.keys().size(), 2u);
  EXPECT_TRUE(f.has_subscribers({"t", "u", "other"}));
}

TEST(SequencedFanout, DeadAndUnsubscribedSinksGetNothing) {
  SequencedFanout f;
  auto a = std::make_shared<RecordingSink>();
  {
    auto gone = std::make_shared<RecordingSink>();
    f.subscribe(kKey, gone, 0);
  }
  f.subscribe(kKey, a, 0);
  f.unsubscribe(kKey, a);
  EXPECT_EQ(f.deliver(kKey, MessageKind::kProgress, 1, "p"), 0u);
  EXPECT_TRUE(a->got.empty());
  EXPECT_EQ(f.topic_count(), 0u);
}

TEST(InProcessEventBus, NumbersEventsSoARacingOlderProgressNeverFollowsTheTerminal) {
  // Progress and the terminal are published from different threads; whichever way they
  // race, the connection never sees progress after the terminal.
  for (int round = 0; round < 200; ++round) {
    InProcessEventBus bus;
    auto a = std::make_shared<RecordingSink>();
    bus.subscribe(kKey, a);
    std::thread progress([&] {
      for (int i = 0; i < 20; ++i) bus.publish(kKey, MessageKind::kProgress, "p");
    });
    bus.publish(kKey, MessageKind::kTerminal, "done");
    progress.join();
    std::lock_guard lock(a->mutex);
    ASSERT_FALSE(a->got.empty());
    EXPECT_EQ(a->got.back().first, MessageKind::kTerminal) << "round " << round;
    EXPECT_EQ(bus.topic_count(), 0u);
  }
}

TEST(JobTopic, LengthPrefixesKeepKeysApart) {
  EXPECT_NE(job_topic({"ab", "c", "r"}), job_topic({"a", "bc", "r"}));
  EXPECT_EQ(job_topic({"t", "u", "r"}), "1:t1:ur");
}

}  // namespace
}  // namespace streamer
