// Gathering a connection's ready messages into one write (sans-IO): the oldest queued
// message, and the ones behind it while they fit, become back-to-back text frames in
// one buffer, so that a burst of answers (`queued`, progress, a result; or the replies
// to several pipelined requests) costs one send instead of one per message. Each
// message keeps its own frame: the client sees exactly the messages it would have seen
// written one by one, in the same order.
#pragma once

#include <cstddef>
#include <string>

#include "gateway/outbound_queue.hpp"

namespace streamer {

struct GatherLimits {
  std::size_t max_bytes = 16 * 1024;  // framed bytes of one gathered write
  std::size_t max_frames = 64;        // messages in one gathered write
};

struct Gathered {
  // true: `out` holds complete frames; false: `out` holds the single message's payload,
  // unframed (moved, not copied), for the caller to send behind its own header.
  bool framed = false;
  std::size_t frames = 0;         // messages taken from the queue (at least one)
  std::size_t payload_bytes = 0;  // their payload bytes, headers not included
};

// Takes the oldest message of `queue` (which must not be empty) and, while the framed
// total stays within `limits`, the messages behind it. A message that would go alone
// (nothing behind it fits) is handed back unframed, so a large message is never copied.
// The memory of one gathered write is therefore at most limits.max_bytes, or one message.
Gathered gather_text_frames(OutboundQueue& queue, std::string& out, GatherLimits limits = {});

}  // namespace streamer
