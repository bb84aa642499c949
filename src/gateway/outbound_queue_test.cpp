#include "gateway/outbound_queue.hpp"

#include <gtest/gtest.h>

namespace streamer {
namespace {

TEST(OutboundQueue, CoalescesProgressOfTheSameRequest) {
  OutboundQueue q(10, 1 << 20);
  EXPECT_EQ(q.push("a", MessageKind::kProgress, "a1"), OutboundQueue::Push::kQueued);
  EXPECT_EQ(q.push("b", MessageKind::kProgress, "b1"), OutboundQueue::Push::kQueued);
  EXPECT_EQ(q.push("a", MessageKind::kProgress, "a2"), OutboundQueue::Push::kCoalesced);
  ASSERT_EQ(q.size(), 2u);
  EXPECT_EQ(q.pop(), "a2");  // kept its place, newest content
  EXPECT_EQ(q.pop(), "b1");
}

TEST(OutboundQueue, DropsProgressToMakeRoomForResults) {
  OutboundQueue q(3, 1 << 20);
  q.push("a", MessageKind::kProgress, "pa");
  q.push("b", MessageKind::kProgress, "pb");
  q.push("c", MessageKind::kTerminal, "rc");
  EXPECT_EQ(q.push("d", MessageKind::kTerminal, "rd"), OutboundQueue::Push::kQueued);
  EXPECT_EQ(q.dropped_progress(), 1u);
  EXPECT_EQ(q.pop(), "pb");
  EXPECT_EQ(q.pop(), "rc");
  EXPECT_EQ(q.pop(), "rd");
}

TEST(OutboundQueue, ResultsAloneOverflowTheBound) {
  OutboundQueue q(2, 1 << 20);
  EXPECT_EQ(q.push("a", MessageKind::kTerminal, "ra"), OutboundQueue::Push::kQueued);
  EXPECT_EQ(q.push("b", MessageKind::kReply, "rb"), OutboundQueue::Push::kQueued);
  EXPECT_EQ(q.push("c", MessageKind::kProgress, "pc"),
            OutboundQueue::Push::kCoalesced);  // dropped, recoverable
  EXPECT_EQ(q.push("d", MessageKind::kTerminal, "rd"), OutboundQueue::Push::kOverflow);
  EXPECT_EQ(q.size(), 2u);
}

TEST(OutboundQueue, ByteBoundCountsToo) {
  OutboundQueue q(100, 10);
  EXPECT_EQ(q.push("a", MessageKind::kReply, std::string(8, 'x')), OutboundQueue::Push::kQueued);
  EXPECT_EQ(q.push("b", MessageKind::kReply, std::string(8, 'y')), OutboundQueue::Push::kOverflow);
  EXPECT_EQ(q.bytes(), 8u);
  q.pop();
  EXPECT_EQ(q.bytes(), 0u);
}

}  // namespace
}  // namespace streamer
