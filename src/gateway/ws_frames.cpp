#include "gateway/ws_frames.hpp"

#include <cstring>

namespace streamer {
namespace {

std::uint64_t read_be(const char* p, int bytes) {
  std::uint64_t v = 0;
  for (int i = 0; i < bytes; ++i) v = (v << 8) | static_cast<unsigned char>(p[i]);
  return v;
}

void unmask(char* p, std::size_t n, const char* key) {
  std::uint32_t k4;
  std::memcpy(&k4, key, 4);
  const std::uint64_t k8 = (static_cast<std::uint64_t>(k4) << 32) | k4;
  std::size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    std::uint64_t w;
    std::memcpy(&w, p + i, 8);
    w ^= k8;
    std::memcpy(p + i, &w, 8);
  }
  for (; i < n; ++i) p[i] ^= key[i & 3];
}

// Codes a peer may send in a close frame (RFC 6455 §7.4, IANA registry).
bool valid_close_code(unsigned code) {
  return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) ||
         (code >= 3000 && code <= 4999);
}

// Gives a buffer's memory back (clear() alone keeps the capacity).
void release(std::string& s) { std::string().swap(s); }

}  // namespace

void FrameParser::fail(unsigned short code, FrameSink& sink) {
  stopped_ = true;
  release(partial_);
  release(message_);
  sink.on_error(code);
}

void FrameParser::feed(char* data, std::size_t n, FrameSink& sink) {
  if (stopped_) return;
  char* p = data;
  if (!partial_.empty()) {  // finish the held frame: parse from our own copy
    partial_.append(data, n);
    p = partial_.data();
    n = partial_.size();
  }
  std::size_t off = 0;
  while (!stopped_ && off < n) {
    const std::size_t used = parse_one(p + off, n - off, sink);
    if (used == 0) break;
    off += used;
  }
  if (stopped_) return;  // buffers already released
  if (p == data) {
    if (off < n) partial_.assign(data + off, n - off);
  } else if (off == n) {
    release(partial_);
  } else if (off > 0) {
    partial_.erase(0, off);
  }
}

std::size_t FrameParser::parse_one(char* p, std::size_t n, FrameSink& sink) {
  if (n < 2) return 0;
  const auto b0 = static_cast<unsigned char>(p[0]);
  const auto b1 = static_cast<unsigned char>(p[1]);
  const bool fin = b0 & 0x80;
  const auto op = static_cast<WsOpcode>(b0 & 0x0F);
  std::size_t header = 2;
  std::uint64_t len = b1 & 0x7F;
  if (len == 126) {
    if (n < 4) return 0;
    len = read_be(p + 2, 2);
    header = 4;
  } else if (len == 127) {
    if (n < 10) return 0;
    len = read_be(p + 2, 8);
    header = 10;
    // RFC 6455 §5.2: the most significant bit of a 64-bit length must be 0.
    if (len >> 63) {
      fail(ws_close::kProtocolError, sink);
      return 0;
    }
  }
  header += 4;  // the masking key

  const bool control = (b0 & 0x08) != 0;
  const bool known = op == WsOpcode::kContinuation || op == WsOpcode::kText ||
                     op == WsOpcode::kBinary || op == WsOpcode::kClose || op == WsOpcode::kPing ||
                     op == WsOpcode::kPong;
  if ((b0 & 0x70) != 0 || !(b1 & 0x80) || !known || (control && (!fin || len > 125)) ||
      (op == WsOpcode::kContinuation && !in_message_) ||
      (!control && op != WsOpcode::kContinuation && in_message_)) {
    fail(ws_close::kProtocolError, sink);
    return 0;
  }
  // Refuse an over-size message as soon as its length is known, not after receiving it.
  if (!control && len > max_message_bytes_ - (in_message_ ? message_.size() : 0)) {
    fail(ws_close::kTooBig, sink);
    return 0;
  }
  if (n < header || n - header < len) return 0;

  char* payload = p + header;
  unmask(payload, len, p + header - 4);
  const std::string_view body(payload, len);
  switch (op) {
    case WsOpcode::kPing:
      sink.on_ping(body);
      break;
    case WsOpcode::kPong:
      sink.on_pong();
      break;
    case WsOpcode::kClose: {
      if (len == 1) {
        fail(ws_close::kProtocolError, sink);
        return 0;
      }
      const auto code =
          len == 0 ? ws_close::kNoStatus : static_cast<unsigned short>(read_be(payload, 2));
      if (len >= 2 && !valid_close_code(code)) {
        fail(ws_close::kProtocolError, sink);
        return 0;
      }
      if (len > 2 && !valid_utf8(body.substr(2))) {
        fail(ws_close::kInvalidPayload, sink);
        return 0;
      }
      stopped_ = true;
      release(partial_);
      release(message_);
      sink.on_close(code);
      break;
    }
    default: {  // data
      if (op != WsOpcode::kContinuation) message_text_ = op == WsOpcode::kText;
      if (fin && !in_message_) {  // the common case: a whole message in one frame, no copy
        if (message_text_ && !valid_utf8(body)) {
          fail(ws_close::kInvalidPayload, sink);
          return 0;
        }
        sink.on_message(message_text_, body);
        break;
      }
      if (!in_message_) {
        in_message_ = true;
        sink.on_message_begin();
      }
      message_.append(body);
      if (fin) {
        in_message_ = false;
        if (message_text_ && !valid_utf8(message_)) {
          fail(ws_close::kInvalidPayload, sink);
          return 0;
        }
        sink.on_message(message_text_, message_);
        release(message_);
      }
    }
  }
  return header + len;
}

std::size_t frame_header(WsOpcode opcode, std::uint64_t payload_bytes,
                         std::array<std::uint8_t, 10>& out) {
  out[0] = static_cast<std::uint8_t>(0x80 | static_cast<std::uint8_t>(opcode));
  std::size_t len_bytes = 0;
  if (payload_bytes < 126) {
    out[1] = static_cast<std::uint8_t>(payload_bytes);
  } else if (payload_bytes < 65536) {
    out[1] = 126;
    len_bytes = 2;
  } else {
    out[1] = 127;
    len_bytes = 8;
  }
  for (std::size_t i = 0; i < len_bytes; ++i)
    out[2 + i] = static_cast<std::uint8_t>(payload_bytes >> (8 * (len_bytes - 1 - i)));
  return 2 + len_bytes;
}

bool valid_utf8(std::string_view s) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const auto* end = p + s.size();
  while (p < end) {
    if (end - p >= 8) {  // fast path: eight ASCII bytes at once
      std::uint64_t w;
      std::memcpy(&w, p, 8);
      if ((w & 0x8080808080808080ull) == 0) {
        p += 8;
        continue;
      }
    }
    const unsigned c = *p;
    if (c < 0x80) {
      ++p;
      continue;
    }
    // Length of the sequence and the allowed range of its second byte.
    int more;
    unsigned lo = 0x80, hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF) {
      more = 1;
    } else if (c >= 0xE0 && c <= 0xEF) {
      more = 2;
      if (c == 0xE0) lo = 0xA0;  // overlong
      if (c == 0xED) hi = 0x9F;  // surrogates
    } else if (c >= 0xF0 && c <= 0xF4) {
      more = 3;
      if (c == 0xF0) lo = 0x90;  // overlong
      if (c == 0xF4) hi = 0x8F;  // above U+10FFFF
    } else {
      return false;
    }
    if (end - p <= more || p[1] < lo || p[1] > hi) return false;
    for (int i = 2; i <= more; ++i)
      if ((p[i] & 0xC0) != 0x80) return false;
    p += more + 1;
  }
  return true;
}

}  // namespace streamer
