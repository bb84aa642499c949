// The server side of RFC 6455 framing, sans-IO: what a WebSocket session needs after
// the HTTP upgrade. FrameParser takes bytes as they arrive and reports whole messages
// and control frames; frame_header() builds the header of an outgoing (unmasked)
// frame. Written for memory: an idle connection's parser holds no buffer at all.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace streamer {

enum class WsOpcode : std::uint8_t {
  kContinuation = 0,
  kText = 1,
  kBinary = 2,
  kClose = 8,
  kPing = 9,
  kPong = 10
};

// Close codes used by the framing layer (RFC 6455 §7.4.1).
namespace ws_close {
constexpr unsigned short kNormal = 1000;
constexpr unsigned short kNoStatus = 1005;  // a close frame without a code (never sent)
constexpr unsigned short kProtocolError = 1002;
constexpr unsigned short kInvalidPayload = 1007;  // text that is not UTF-8
constexpr unsigned short kPolicyViolation = 1008;
constexpr unsigned short kTooBig = 1009;
}  // namespace ws_close

// What the parser reports; the views point into the parser's or the caller's buffer
// and are valid only during the callback.
class FrameSink {
 public:
  virtual ~FrameSink() = default;
  // A complete data message (fragments reassembled, text already UTF-8 checked).
  virtual void on_message(bool text, std::string_view payload) = 0;
  // The first fragment of a fragmented message arrived; on_message() (or on_error())
  // follows once the last one does. Lets the session bound how long that may take.
  virtual void on_message_begin() {}
  virtual void on_ping(std::string_view payload) = 0;
  virtual void on_pong() = 0;
  // The peer's close frame; `code` is ws_close::kNoStatus when it carried none.
  virtual void on_close(unsigned short code) = 0;
  // The peer broke the protocol: the connection must be closed with `code`. The
  // parser reports nothing after this.
  virtual void on_error(unsigned short code) = 0;
};

// Parses frames from a client (masked, as RFC 6455 requires of clients).
class FrameParser {
 public:
  explicit FrameParser(std::size_t max_message_bytes) : max_message_bytes_(max_message_bytes) {}

  // Consumes `n` received bytes (unmasked in place, so the buffer must be writable)
  // and reports every complete frame to `sink`. Incomplete frames are kept, in a
  // buffer that is released again once a frame completes.
  void feed(char* data, std::size_t n, FrameSink& sink);

  // True after on_error() or on_close(): later bytes are ignored.
  bool stopped() const { return stopped_; }
  // True between the first and the last fragment of a fragmented message.
  bool in_message() const { return in_message_; }
  // Heap bytes held for an incomplete frame or message (0 while idle).
  std::size_t buffered() const { return heap_bytes(partial_) + heap_bytes(message_); }

 private:
  // Parses one frame at the start of [p, p + n); returns the bytes it used, or 0 when
  // the frame is not complete yet.
  std::size_t parse_one(char* p, std::size_t n, FrameSink& sink);
  void fail(unsigned short code, FrameSink& sink);
  static std::size_t heap_bytes(const std::string& s) {
    return s.capacity() > std::string().capacity() ? s.capacity() : 0;  // not the inline buffer
  }

  std::size_t max_message_bytes_;
  std::string partial_;  // bytes of an incomplete frame
  std::string message_;  // payload of the fragments received so far
  bool in_message_ = false;
  bool message_text_ = false;
  bool stopped_ = false;
};

// Header of an unmasked server frame with FIN set; returns its length (2, 4 or 10).
std::size_t frame_header(WsOpcode opcode, std::uint64_t payload_bytes,
                         std::array<std::uint8_t, 10>& out);

// True when `s` is well-formed UTF-8 (no overlongs, no surrogates, at most U+10FFFF).
bool valid_utf8(std::string_view s);

}  // namespace streamer
