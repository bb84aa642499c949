#include "gateway/outbound_queue.hpp"

namespace streamer {

OutboundQueue::Push OutboundQueue::push(std::string_view request_id, MessageKind kind,
                                        std::string message) {
  if (kind == MessageKind::kProgress) {
    // Newest progress wins: replace a queued one of the same request in place.
    for (auto it = items_.rbegin(); it != items_.rend(); ++it) {
      if (it->kind == MessageKind::kProgress && it->request_id == request_id) {
        bytes_ = bytes_ - it->message.size() + message.size();
        it->message = std::move(message);
        return Push::kCoalesced;
      }
    }
  }
  // Make room by dropping the oldest queued progress messages.
  for (auto it = items_.begin(); it != items_.end() && over(message.size());) {
    if (it->kind == MessageKind::kProgress) {
      bytes_ -= it->message.size();
      it = items_.erase(it);
      ++dropped_progress_;
    } else {
      ++it;
    }
  }
  if (over(message.size())) {
    if (kind == MessageKind::kProgress) {
      ++dropped_progress_;
      return Push::kCoalesced;  // nothing lost that subscribe cannot recover
    }
    return Push::kOverflow;
  }
  bytes_ += message.size();
  // Only progress is ever looked up by its request (to coalesce it).
  items_.push_back(Item{kind == MessageKind::kProgress ? std::string(request_id) : std::string(),
                        kind, std::move(message)});
  return Push::kQueued;
}

std::string OutboundQueue::pop() {
  std::string m = std::move(items_.front().message);
  bytes_ -= m.size();
  items_.pop_front();
  return m;
}

}  // namespace streamer
