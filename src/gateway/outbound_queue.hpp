// A connection's bounded outgoing queue (sans-IO). Progress for a request that is
// still waiting to be written is replaced by newer progress (coalescing); when the
// bound is reached, queued progress is dropped first (a client recovers it with
// `subscribe`); replies and results are never dropped: if they alone overflow the
// bound, push() says so and the connection must be closed with 1013.
#pragma once

#include <cstddef>
#include <list>
#include <string>
#include <string_view>

#include "core/message_sink.hpp"

namespace streamer {

class OutboundQueue {
 public:
  enum class Push { kQueued, kCoalesced, kOverflow };

  OutboundQueue(std::size_t max_messages, std::size_t max_bytes)
      : max_messages_(max_messages), max_bytes_(max_bytes) {}

  Push push(std::string_view request_id, MessageKind kind, std::string message);
  bool empty() const { return items_.empty(); }
  std::size_t size() const { return items_.size(); }
  std::size_t bytes() const { return bytes_; }
  // Removes and returns the oldest message.
  std::string pop();
  // Size of the oldest message (the queue must not be empty).
  std::size_t front_bytes() const { return items_.front().message.size(); }
  // Progress messages dropped to make room, since construction.
  std::size_t dropped_progress() const { return dropped_progress_; }

 private:
  struct Item {
    std::string request_id;  // progress only: what it is coalesced by
    MessageKind kind;
    std::string message;
  };
  bool over(std::size_t extra_bytes) const {
    return items_.size() + 1 > max_messages_ || bytes_ + extra_bytes > max_bytes_;
  }

  std::size_t max_messages_;
  std::size_t max_bytes_;
  std::size_t bytes_ = 0;
  std::size_t dropped_progress_ = 0;
  std::list<Item> items_;  // a list holds no memory while empty (idle connections)
};

}  // namespace streamer
