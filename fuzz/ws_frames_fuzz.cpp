// Fuzzes the WebSocket frame parser (gateway/ws_frames) with client byte streams.
//
// Input: byte 0 picks the message limit and byte 1 the chunk size; the rest is the
// stream a client sends after the upgrade. Invariants:
//  - no reported message is larger than the limit, no ping payload over 125 bytes;
//  - nothing is reported after on_error/on_close, and a stopped parser holds no buffer;
//  - a text message is valid UTF-8 (checked by an independent decoder here);
//  - the events do not depend on how the stream is split into reads (one feed of the
//    whole stream and feeds of `chunk` bytes report exactly the same sequence);
//  - valid_utf8() agrees with the independent decoder on the raw input;
//  - frame_header() round-trips: every reported message, framed with it (plus the mask
//    a client adds), parses back to the same single message.
#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "fuzz_check.hpp"
#include "gateway/ws_frames.hpp"

namespace {

using streamer::FrameParser;
using streamer::FrameSink;

// Independent UTF-8 check (RFC 3629): decode each scalar and reject overlongs,
// surrogates and values above U+10FFFF.
bool reference_utf8(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    std::size_t len;
    std::uint32_t cp;
    if (c < 0x80) {
      ++i;
      continue;
    } else if ((c & 0xE0) == 0xC0) {
      len = 2, cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      len = 3, cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      len = 4, cp = c & 0x07;
    } else {
      return false;
    }
    if (s.size() - i < len) return false;
    for (std::size_t k = 1; k < len; ++k) {
      const auto d = static_cast<unsigned char>(s[i + k]);
      if ((d & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (d & 0x3F);
    }
    const std::uint32_t min = len == 2 ? 0x80 : len == 3 ? 0x800 : 0x10000;
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    i += len;
  }
  return true;
}

// Records every event as text and checks the per-event invariants.
class RecordingSink : public FrameSink {
 public:
  explicit RecordingSink(std::size_t limit) : limit_(limit) {}

  void on_message(bool text, std::string_view payload) override {
    event(text ? "text:" : "binary:", payload);
    FUZZ_CHECK(payload.size() <= limit_, "a message is larger than the limit");
    if (text) FUZZ_CHECK(reference_utf8(payload), "a text message is not UTF-8");
  }
  void on_ping(std::string_view payload) override {
    event("ping:", payload);
    FUZZ_CHECK(payload.size() <= 125, "a ping payload is over 125 bytes");
  }
  void on_pong() override { event("pong", {}); }
  void on_close(unsigned short code) override {
    event("close:" + std::to_string(code), {});
    ended_ = true;
  }
  void on_error(unsigned short code) override {
    event("error:" + std::to_string(code), {});
    ended_ = true;
  }

  std::vector<std::string> events;

 private:
  void event(std::string kind, std::string_view payload) {
    FUZZ_CHECK(!ended_, "an event was reported after on_close/on_error");
    events.push_back(std::move(kind).append(payload));
  }

  std::size_t limit_;
  bool ended_ = false;
};

std::vector<std::string> run(std::string stream, std::size_t limit, std::size_t chunk) {
  FrameParser parser(limit);
  RecordingSink sink(limit);
  for (std::size_t off = 0; off < stream.size(); off += chunk) {
    const std::size_t n = std::min(chunk, stream.size() - off);
    parser.feed(stream.data() + off, n, sink);
    if (parser.stopped())
      FUZZ_CHECK(parser.buffered() == 0, "a stopped parser still holds a buffer");
  }
  return std::move(sink.events);
}

// Frames `payload` as a client would (frame_header() with the mask bit and a key) and
// checks the parser reports exactly that message.
void check_frame_header_round_trip(const std::string& event) {
  const bool text = event.rfind("text:", 0) == 0;
  if (!text && event.rfind("binary:", 0) != 0) return;
  const std::string payload = event.substr(text ? 5 : 7);
  std::array<std::uint8_t, 10> header;
  const std::size_t n = streamer::frame_header(
      text ? streamer::WsOpcode::kText : streamer::WsOpcode::kBinary, payload.size(), header);
  std::string frame(reinterpret_cast<const char*>(header.data()), n);
  frame[1] = static_cast<char>(frame[1] | 0x80);
  const char key[4] = {'\x5a', '\x01', '\xff', '\x3c'};
  frame.append(key, 4);
  for (std::size_t i = 0; i < payload.size(); ++i)
    frame.push_back(static_cast<char>(payload[i] ^ key[i & 3]));
  const auto events = run(std::move(frame), payload.size(), 7);
  FUZZ_CHECK(events.size() == 1 && events.front() == event,
             "a frame made by frame_header() does not parse back");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 2) return 0;
  static constexpr std::size_t kLimits[] = {0, 1, 125, 126, 200, 65535, 65536, 1 << 20};
  const std::size_t limit = kLimits[data[0] % 8];
  const std::size_t chunk = 1 + data[1] % 32;
  const std::string stream(reinterpret_cast<const char*>(data) + 2, size - 2);

  FUZZ_CHECK(streamer::valid_utf8(stream) == reference_utf8(stream),
             "valid_utf8 disagrees with the reference decoder");
  const auto whole = run(stream, limit, stream.size() ? stream.size() : 1);
  const auto pieces = run(stream, limit, chunk);
  FUZZ_CHECK(whole == pieces, "events depend on how the stream is split into reads");
  for (const auto& event : whole) check_frame_header_round_trip(event);
  return 0;
}
