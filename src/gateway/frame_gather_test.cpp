#include "gateway/frame_gather.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

namespace streamer {
namespace {

// Splits unmasked server frames back into their text payloads (what a client reads);
// fails the test on anything but complete FIN text frames.
std::vector<std::string> read_frames(const std::string& bytes) {
  std::vector<std::string> out;
  std::size_t i = 0;
  while (i < bytes.size()) {
    EXPECT_EQ(static_cast<std::uint8_t>(bytes[i]), 0x81u) << "FIN + text at " << i;
    std::uint64_t n = static_cast<std::uint8_t>(bytes[i + 1]);
    EXPECT_LT(n, 0x80u) << "server frames are not masked";
    i += 2;
    if (n == 126) {
      n = (std::uint64_t(static_cast<std::uint8_t>(bytes[i])) << 8) |
          static_cast<std::uint8_t>(bytes[i + 1]);
      i += 2;
    } else if (n == 127) {
      n = 0;
      for (int k = 0; k < 8; ++k) n = (n << 8) | static_cast<std::uint8_t>(bytes[i + k]);
      i += 8;
    }
    if (i + n > bytes.size()) {
      ADD_FAILURE() << "truncated frame";
      break;
    }
    out.push_back(bytes.substr(i, n));
    i += n;
  }
  return out;
}

TEST(FrameGather, SeveralReadyMessagesBecomeOneWriteInOrder) {
  OutboundQueue q(100, 1 << 20);
  const std::vector<std::string> sent = {"queued-1", std::string(300, 'p'), "result-1", "x"};
  for (const auto& m : sent) q.push("r", MessageKind::kReply, m);
  std::string out;
  const Gathered g = gather_text_frames(q, out);
  EXPECT_TRUE(g.framed);
  EXPECT_EQ(g.frames, 4u);
  EXPECT_EQ(g.payload_bytes, 8u + 300 + 8 + 1);
  EXPECT_TRUE(q.empty());
  EXPECT_EQ(q.bytes(), 0u);
  EXPECT_EQ(read_frames(out), sent);  // per-message framing kept, order kept
}

TEST(FrameGather, ALoneMessageIsHandedBackUnframedWithoutACopy) {
  OutboundQueue q(100, 1 << 20);
  std::string big(100000, 'b');
  const char* data = big.data();
  q.push("r", MessageKind::kTerminal, std::move(big));
  std::string out;
  const Gathered g = gather_text_frames(q, out);
  EXPECT_FALSE(g.framed);
  EXPECT_EQ(g.frames, 1u);
  EXPECT_EQ(out.size(), 100000u);
  EXPECT_EQ(out.data(), data);  // moved, not copied
}

TEST(FrameGather, TheByteLimitBoundsOneWrite) {
  OutboundQueue q(100, 1 << 20);
  for (int i = 0; i < 10; ++i)
    q.push("r" + std::to_string(i), MessageKind::kReply, std::string(100, 'a' + i));
  std::string out;
  const Gathered g = gather_text_frames(q, out, GatherLimits{.max_bytes = 350, .max_frames = 64});
  EXPECT_TRUE(g.framed);
  EXPECT_EQ(g.frames, 3u);  // 3 × (2 + 100) = 306; a fourth could exceed 350
  EXPECT_LE(out.size(), 350u);
  EXPECT_EQ(q.size(), 7u);
  const auto frames = read_frames(out);
  ASSERT_EQ(frames.size(), 3u);
  EXPECT_EQ(frames[2], std::string(100, 'c'));
  // The rest follows in later writes, still in order.
  std::vector<std::string> rest;
  while (!q.empty()) {
    const Gathered next =
        gather_text_frames(q, out, GatherLimits{.max_bytes = 350, .max_frames = 64});
    if (next.framed) {
      for (auto& f : read_frames(out)) rest.push_back(f);
    } else {
      rest.push_back(out);
    }
  }
  ASSERT_EQ(rest.size(), 7u);
  for (int i = 0; i < 7; ++i) EXPECT_EQ(rest[i], std::string(100, 'd' + i));
}

TEST(FrameGather, TheFrameLimitBoundsOneWrite) {
  OutboundQueue q(100, 1 << 20);
  for (int i = 0; i < 5; ++i) q.push("r" + std::to_string(i), MessageKind::kReply, "m");
  std::string out;
  const Gathered g =
      gather_text_frames(q, out, GatherLimits{.max_bytes = 1 << 20, .max_frames = 2});
  EXPECT_EQ(g.frames, 2u);
  EXPECT_EQ(q.size(), 3u);
}

TEST(FrameGather, ALargeMessageBehindTheFirstWaitsForTheNextWrite) {
  OutboundQueue q(100, 1 << 20);
  q.push("a", MessageKind::kReply, "small");
  q.push("b", MessageKind::kReply, std::string(50000, 'L'));
  std::string out;
  Gathered g = gather_text_frames(q, out);
  EXPECT_FALSE(g.framed);
  EXPECT_EQ(out, "small");
  g = gather_text_frames(q, out);
  EXPECT_FALSE(g.framed);
  EXPECT_EQ(out.size(), 50000u);
}

TEST(FrameGather, HeaderSizesFollowThePayloadLength) {
  OutboundQueue q(100, 1 << 20);
  const std::vector<std::string> sent = {std::string(125, 'a'), std::string(126, 'b'),
                                         std::string(4000, 'c')};
  for (const auto& m : sent) q.push("r", MessageKind::kReply, m);
  std::string out;
  const Gathered g = gather_text_frames(q, out);
  EXPECT_EQ(out.size(), (2 + 125) + (4 + 126) + (4 + 4000u));
  EXPECT_EQ(out.size() - g.payload_bytes, 10u);
  EXPECT_EQ(read_frames(out), sent);
}

}  // namespace
}  // namespace streamer
