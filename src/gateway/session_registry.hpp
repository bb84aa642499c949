// The gateway's live WebSocket sessions: for drain (close them all) and for the one
// sweeper that replaces a timer per connection (wake the sessions whose next deadline
// has come: a ping to send, an idle/lifetime/token limit, a close that takes too long).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace streamer {

using SteadyTime = std::chrono::steady_clock::time_point;

// A session as the registry sees it. Its methods are thread-safe.
class LiveSession {
 public:
  virtual ~LiveSession() = default;
  // Flushes what is queued, then closes with `code`.
  virtual void close(unsigned short code, std::string reason) = 0;
  // Runs the session's deadline checks (on its own strand, soon).
  virtual void wake() = 0;

  // The earliest instant the session may have something to do; the sweeper wakes it
  // then. A session sets it from its strand, the sweeper reads it from another thread.
  SteadyTime due() const {
    return SteadyTime(SteadyTime::duration(due_.load(std::memory_order_relaxed)));
  }
  void set_due(SteadyTime t) {
    due_.store(t.time_since_epoch().count(), std::memory_order_relaxed);
  }

 private:
  friend class SessionRegistry;
  std::atomic<SteadyTime::rep> due_{SteadyTime::max().time_since_epoch().count()};
  std::size_t slot_ = 0;  // index in the registry, guarded by its mutex
};

class SessionRegistry {
 public:
  void add(std::shared_ptr<LiveSession> s);
  // Forgets `s` (no-op if it is not registered).
  void remove(LiveSession* s);
  std::size_t size() const;
  // Blocks until no session is registered or `deadline` passes; true when empty.
  // Not to be called from a thread that sessions need in order to finish.
  bool wait_empty(SteadyTime deadline) const;
  // Asks every live session to close with `code`.
  void close_all(unsigned short code, const std::string& reason);
  // Wakes every session whose due() is at or before `now`.
  void wake_due(SteadyTime now);

 private:
  mutable std::mutex mutex_;
  mutable std::condition_variable emptied_;             // notified when the last session leaves
  std::vector<std::shared_ptr<LiveSession>> sessions_;  // unordered; each knows its slot
};

}  // namespace streamer
