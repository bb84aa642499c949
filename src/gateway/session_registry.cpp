#include "gateway/session_registry.hpp"

namespace streamer {

void SessionRegistry::add(std::shared_ptr<LiveSession> s) {
  std::lock_guard lock(mutex_);
  s->slot_ = sessions_.size();
  sessions_.push_back(std::move(s));
}

void SessionRegistry::remove(LiveSession* s) {
  std::shared_ptr<LiveSession> removed;  // released after the lock
  std::lock_guard lock(mutex_);
  const std::size_t slot = s->slot_;
  if (slot >= sessions_.size() || sessions_[slot].get() != s) return;
  // Move the last one into the hole: O(1), and the vector stays dense for the sweeper.
  removed = std::move(sessions_[slot]);
  if (slot + 1 != sessions_.size()) {
    sessions_[slot] = std::move(sessions_.back());
    sessions_[slot]->slot_ = slot;
  }
  sessions_.pop_back();
  if (sessions_.empty()) {
    std::vector<std::shared_ptr<LiveSession>>().swap(sessions_);
    emptied_.notify_all();
  }
}

std::size_t SessionRegistry::size() const {
  std::lock_guard lock(mutex_);
  return sessions_.size();
}

bool SessionRegistry::wait_empty(SteadyTime deadline) const {
  std::unique_lock lock(mutex_);
  return emptied_.wait_until(lock, deadline, [this] { return sessions_.empty(); });
}

void SessionRegistry::close_all(unsigned short code, const std::string& reason) {
  std::vector<std::shared_ptr<LiveSession>> copy;
  {
    std::lock_guard lock(mutex_);
    copy = sessions_;
  }
  for (const auto& s : copy) s->close(code, reason);
}

void SessionRegistry::wake_due(SteadyTime now) {
  std::lock_guard lock(mutex_);
  for (const auto& s : sessions_)
    if (s->due() <= now) s->wake();
}

}  // namespace streamer
