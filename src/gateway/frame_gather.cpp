#include "gateway/frame_gather.hpp"

#include <algorithm>
#include <array>
#include <cstdint>

#include "gateway/ws_frames.hpp"

namespace streamer {
namespace {

constexpr std::size_t kMaxHeader = 10;

void append_text_frame(std::string& out, const std::string& payload) {
  std::array<std::uint8_t, kMaxHeader> header{};
  const std::size_t n = frame_header(WsOpcode::kText, payload.size(), header);
  out.append(reinterpret_cast<const char*>(header.data()), n);
  out.append(payload);
}

// Framed size of the next message, with the largest header (an upper bound).
std::size_t framed_bound(const OutboundQueue& queue) { return queue.front_bytes() + kMaxHeader; }

}  // namespace

Gathered gather_text_frames(OutboundQueue& queue, std::string& out, GatherLimits limits) {
  Gathered g;
  std::string first = queue.pop();
  g.frames = 1;
  g.payload_bytes = first.size();
  const std::size_t first_framed = first.size() + kMaxHeader;
  if (queue.empty() || limits.max_frames < 2 ||
      first_framed + framed_bound(queue) > limits.max_bytes) {
    out = std::move(first);
    return g;
  }
  // At most the whole queue, framed, within the limit (no walk over the queue).
  const std::size_t reserve =
      std::min(limits.max_bytes, first_framed + queue.bytes() + queue.size() * kMaxHeader);
  out.clear();
  out.reserve(reserve);
  append_text_frame(out, first);
  g.framed = true;
  while (!queue.empty() && g.frames < limits.max_frames &&
         out.size() + framed_bound(queue) <= limits.max_bytes) {
    std::string next = queue.pop();
    g.payload_bytes += next.size();
    ++g.frames;
    append_text_frame(out, next);
  }
  return g;
}

}  // namespace streamer
