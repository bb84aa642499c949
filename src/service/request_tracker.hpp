// A connection's bookkeeping of its requests, sans-IO: the concurrency slots, the
// messages held back until a request's `queued` is sent, and the terminal messages
// already sent (a result published twice reaches the client once). Terminals are told
// apart by request and watch: each time the client starts watching a request again (a
// new submission or a `subscribe`), the next terminal it gets for it is a new outcome
// (the request may have been retried since), so the one remembered before is forgotten. A session
// creates one only while it has something to track, so an idle connection holds none.
#pragma once

#include <list>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "core/message_sink.hpp"

namespace streamer {

class RequestTracker {
 public:
  using Held = std::vector<std::pair<MessageKind, std::string>>;
  enum class Route { kSend, kHold, kDrop };

  // Takes a slot for `id` (none if it holds one already); false when all
  // `max_slots` are taken.
  bool begin(std::string_view id, int max_slots);
  // Frees the slot of `id`, if it holds one.
  void end(std::string_view id);
  // Messages of `id` are held from now until its `queued` is sent. A new watch of `id`
  // (see watch_again).
  void expect_queued(std::string_view id);
  // The client watches `id` again: the terminal sent for it before is forgotten, so the
  // terminal of a later attempt (after jobs.retry) is sent, once.
  void watch_again(const std::string& id);

  // What to do with a message for `request_id`: send it, or not yet (kHold: moved into
  // the tracker), or never (a duplicate terminal). A reply or terminal to send frees
  // the request's slot.
  Route route(std::string_view request_id, MessageKind kind, std::string& message);
  // Called once the `queued` of `request_id` is out: what was held for it, in order.
  Held take_held(std::string_view request_id);

  // Nothing in flight, held or remembered.
  bool empty() const { return inflight_.empty() && held_.empty() && recent_terminals_.empty(); }

 private:
  void remember_terminal(const std::string& request_id);

  std::vector<std::string> inflight_;           // requests holding a slot (a few)
  std::unordered_map<std::string, Held> held_;  // awaiting `queued`
  std::list<std::string> recent_terminals_;     // oldest first, at most 256
  std::unordered_set<std::string> recent_terminal_set_;
};

}  // namespace streamer
