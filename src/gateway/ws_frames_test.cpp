#include "gateway/ws_frames.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace streamer {
namespace {

// Records what the parser reports.
struct Recorder : FrameSink {
  std::vector<std::string> events;
  void on_message(bool text, std::string_view p) override {
    events.push_back((text ? "text:" : "binary:") + std::string(p));
  }
  void on_message_begin() override { events.push_back("begin"); }
  void on_ping(std::string_view p) override { events.push_back("ping:" + std::string(p)); }
  void on_pong() override { events.push_back("pong"); }
  void on_close(unsigned short code) override { events.push_back("close:" + std::to_string(code)); }
  void on_error(unsigned short code) override { events.push_back("error:" + std::to_string(code)); }
};

// A client frame: masked with a fixed key.
std::string client_frame(unsigned char first_byte, std::string_view payload) {
  std::string f(1, static_cast<char>(first_byte));
  const std::size_t n = payload.size();
  if (n < 126) {
    f += static_cast<char>(0x80 | n);
  } else if (n < 65536) {
    f += static_cast<char>(0x80 | 126);
    f += static_cast<char>(n >> 8);
    f += static_cast<char>(n & 0xFF);
  } else {
    f += static_cast<char>(0x80 | 127);
    for (int i = 7; i >= 0; --i) f += static_cast<char>((n >> (8 * i)) & 0xFF);
  }
  const char key[4] = {0x12, 0x34, 0x56, 0x78};
  f.append(key, 4);
  for (std::size_t i = 0; i < n; ++i) f += static_cast<char>(payload[i] ^ key[i % 4]);
  return f;
}

std::vector<std::string> parse(std::string bytes, std::size_t max = 1000, std::size_t step = 0) {
  FrameParser parser(max);
  Recorder r;
  if (step == 0) step = bytes.size();
  for (std::size_t i = 0; i < bytes.size(); i += step) {
    std::string piece = bytes.substr(i, step);
    parser.feed(piece.data(), piece.size(), r);
  }
  return r.events;
}

TEST(FrameParser, WholeAndSplitMessages) {
  const std::string two = client_frame(0x81, "hello") + client_frame(0x82, "bin");
  EXPECT_EQ(parse(two), (std::vector<std::string>{"text:hello", "binary:bin"}));
  for (std::size_t step : {1, 2, 3, 7}) EXPECT_EQ(parse(two, 1000, step), parse(two)) << step;
  const std::string big(70000, 'x');
  EXPECT_EQ(parse(client_frame(0x81, big), 100000, 4096),
            (std::vector<std::string>{"text:" + big}));
  EXPECT_EQ(parse(client_frame(0x81, std::string(300, 'y')), 1000, 100).at(0).size(), 5u + 300);
}

TEST(FrameParser, FragmentsWithControlFramesBetween) {
  const std::string bytes = client_frame(0x01, "ab") + client_frame(0x89, "p") +
                            client_frame(0x00, "cd") + client_frame(0x8A, "") +
                            client_frame(0x80, "ef");
  EXPECT_EQ(parse(bytes), (std::vector<std::string>{"begin", "ping:p", "pong", "text:abcdef"}));
  EXPECT_EQ(parse(bytes, 1000, 3), parse(bytes));
}

TEST(FrameParser, ReportsTheStartOfAFragmentedMessageOnce) {
  FrameParser parser(1000);
  Recorder r;
  std::string first = client_frame(0x01, "ab");
  parser.feed(first.data(), first.size(), r);
  EXPECT_TRUE(parser.in_message());
  std::string middle = client_frame(0x00, "cd");
  parser.feed(middle.data(), middle.size(), r);
  EXPECT_EQ(r.events, (std::vector<std::string>{"begin"}));
  std::string last = client_frame(0x80, "ef");
  parser.feed(last.data(), last.size(), r);
  EXPECT_FALSE(parser.in_message());
  EXPECT_EQ(r.events, (std::vector<std::string>{"begin", "text:abcdef"}));
  // An unfragmented message does not begin anything.
  EXPECT_EQ(parse(client_frame(0x81, "x")), (std::vector<std::string>{"text:x"}));
}

TEST(FrameParser, BuffersNothingWhenIdle) {
  FrameParser parser(1000);
  Recorder r;
  std::string f = client_frame(0x81, std::string(200, 'a'));
  parser.feed(f.data(), 50, r);
  EXPECT_GT(parser.buffered(), 0u);
  parser.feed(f.data() + 50, f.size() - 50, r);
  EXPECT_EQ(r.events.size(), 1u);
  EXPECT_EQ(parser.buffered(), 0u);
}

TEST(FrameParser, MessageSizeLimitAcrossFragments) {
  EXPECT_EQ(parse(client_frame(0x81, std::string(1001, 'a'))),
            (std::vector<std::string>{"error:1009"}));
  EXPECT_EQ(parse(client_frame(0x81, std::string(1000, 'a'))).size(), 1u);
  // Refused on the header alone: the payload need not arrive.
  EXPECT_EQ(parse(client_frame(0x81, std::string(5000, 'a')).substr(0, 8)),
            (std::vector<std::string>{"error:1009"}));
  const std::string frags =
      client_frame(0x01, std::string(600, 'a')) + client_frame(0x00, std::string(600, 'a'));
  EXPECT_EQ(parse(frags), (std::vector<std::string>{"begin", "error:1009"}));
}

TEST(FrameParser, ProtocolErrors) {
  std::string unmasked = client_frame(0x81, "x");
  unmasked[1] = static_cast<char>(unmasked[1] & 0x7F);
  EXPECT_EQ(parse(unmasked), (std::vector<std::string>{"error:1002"}));
  EXPECT_EQ(parse(client_frame(0xC1, "x")), (std::vector<std::string>{"error:1002"}));  // RSV1
  EXPECT_EQ(parse(client_frame(0x83, "x")),
            (std::vector<std::string>{"error:1002"}));  // reserved opcode
  EXPECT_EQ(parse(client_frame(0x80, "x")),
            (std::vector<std::string>{"error:1002"}));  // continuation first
  EXPECT_EQ(parse(client_frame(0x01, "a") + client_frame(0x81, "b")),
            (std::vector<std::string>{"begin", "error:1002"}));
  EXPECT_EQ(parse(client_frame(0x09, "p")),
            (std::vector<std::string>{"error:1002"}));  // fragmented ping
  EXPECT_EQ(parse(client_frame(0x89, std::string(126, 'p'))),
            (std::vector<std::string>{"error:1002"}));
  EXPECT_EQ(parse(client_frame(0x81, "\xC0\xAF")), (std::vector<std::string>{"error:1007"}));
  // A 64-bit length with its most significant bit set is a protocol error, not an
  // over-size message, and is refused on the header alone.
  std::string huge = {static_cast<char>(0x81), static_cast<char>(0xFF)};
  huge += std::string("\x80\x00\x00\x00\x00\x00\x00\x01", 8);
  EXPECT_EQ(parse(huge), (std::vector<std::string>{"error:1002"}));
  huge[2] = 0x7F;  // the largest legal length: over the message limit
  EXPECT_EQ(parse(huge), (std::vector<std::string>{"error:1009"}));
  // Nothing is reported after an error.
  EXPECT_EQ(parse(client_frame(0xC1, "x") + client_frame(0x81, "y")),
            (std::vector<std::string>{"error:1002"}));
}

TEST(FrameParser, CloseFrames) {
  EXPECT_EQ(parse(client_frame(0x88, "")), (std::vector<std::string>{"close:1005"}));
  EXPECT_EQ(parse(client_frame(0x88, std::string("\x03\xE8", 2) + "bye")),
            (std::vector<std::string>{"close:1000"}));
  EXPECT_EQ(parse(client_frame(0x88, std::string("\x0F\xA0", 2))),
            (std::vector<std::string>{"close:4000"}));
  EXPECT_EQ(parse(client_frame(0x88, "x")), (std::vector<std::string>{"error:1002"}));
  EXPECT_EQ(parse(client_frame(0x88, std::string("\x03\xED", 2))),
            (std::vector<std::string>{"error:1002"}));  // 1005
  // Nothing after the close frame.
  EXPECT_EQ(parse(client_frame(0x88, "") + client_frame(0x81, "late")),
            (std::vector<std::string>{"close:1005"}));
}

TEST(FrameHeader, Lengths) {
  std::array<std::uint8_t, 10> h{};
  EXPECT_EQ(frame_header(WsOpcode::kText, 5, h), 2u);
  EXPECT_EQ(h[0], 0x81);
  EXPECT_EQ(h[1], 5);
  EXPECT_EQ(frame_header(WsOpcode::kClose, 300, h), 4u);
  EXPECT_EQ(h[0], 0x88);
  EXPECT_EQ(h[1], 126);
  EXPECT_EQ(h[2] * 256 + h[3], 300);
  EXPECT_EQ(frame_header(WsOpcode::kText, 70000, h), 10u);
  EXPECT_EQ(h[1], 127);
  EXPECT_EQ((h[7] << 16) + (h[8] << 8) + h[9], 70000);
}

TEST(Utf8, Validation) {
  EXPECT_TRUE(valid_utf8(""));
  EXPECT_TRUE(valid_utf8("plain ascii text, long enough for the fast path"));
  EXPECT_TRUE(valid_utf8("\xC3\xA9t\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80"));
  EXPECT_FALSE(valid_utf8("\xC0\xAF"));          // overlong
  EXPECT_FALSE(valid_utf8("\xE0\x80\xAF"));      // overlong
  EXPECT_FALSE(valid_utf8("\xED\xA0\x80"));      // surrogate
  EXPECT_FALSE(valid_utf8("\xF4\x90\x80\x80"));  // above U+10FFFF
  EXPECT_FALSE(valid_utf8("abc\xE2\x82"));       // truncated
  EXPECT_FALSE(valid_utf8("\x80"));
  EXPECT_FALSE(valid_utf8("12345678\xFF"));
}

}  // namespace
}  // namespace streamer
