#include "service/request_tracker.hpp"

#include <algorithm>

namespace streamer {

bool RequestTracker::begin(std::string_view id, int max_slots) {
  if (std::find(inflight_.begin(), inflight_.end(), id) != inflight_.end()) return true;
  if (static_cast<int>(inflight_.size()) >= max_slots) return false;
  inflight_.emplace_back(id);
  return true;
}

void RequestTracker::end(std::string_view id) { std::erase(inflight_, id); }

void RequestTracker::expect_queued(std::string_view id) {
  std::string key(id);
  watch_again(key);
  held_.try_emplace(std::move(key));
}

void RequestTracker::watch_again(const std::string& id) {
  if (recent_terminal_set_.erase(id) == 0) return;
  recent_terminals_.remove(id);
}

// A request's id is copied only to look it up in the maps, and only when they hold
// something (a sync request's reply looks up nothing).
RequestTracker::Route RequestTracker::route(std::string_view request_id, MessageKind kind,
                                            std::string& message) {
  if ((kind == MessageKind::kProgress || kind == MessageKind::kTerminal) && !held_.empty()) {
    if (auto it = held_.find(std::string(request_id)); it != held_.end()) {  // no `queued` yet
      it->second.emplace_back(kind, std::move(message));
      return Route::kHold;
    }
  }
  if (kind == MessageKind::kTerminal) {
    std::string id(request_id);
    if (recent_terminal_set_.contains(id)) return Route::kDrop;  // already sent once
    remember_terminal(id);
  }
  if (kind == MessageKind::kReply || kind == MessageKind::kTerminal) end(request_id);
  if (kind == MessageKind::kReply && !held_.empty())
    held_.erase(std::string(request_id));  // an error instead of `queued`
  return Route::kSend;
}

RequestTracker::Held RequestTracker::take_held(std::string_view request_id) {
  if (held_.empty()) return {};
  auto it = held_.find(std::string(request_id));
  if (it == held_.end()) return {};
  Held held = std::move(it->second);
  held_.erase(it);
  return held;
}

void RequestTracker::remember_terminal(const std::string& request_id) {
  if (recent_terminal_set_.insert(request_id).second) {
    recent_terminals_.push_back(request_id);
    if (recent_terminals_.size() > 256) {
      recent_terminal_set_.erase(recent_terminals_.front());
      recent_terminals_.pop_front();
    }
  }
}

}  // namespace streamer
