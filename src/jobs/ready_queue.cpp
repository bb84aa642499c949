#include "jobs/ready_queue.hpp"

#include <algorithm>

namespace streamer {

ReadyQueue::ReadyQueue(std::size_t workers, std::chrono::microseconds stall_after)
    : stall_after_(stall_after), running_since_(std::max<std::size_t>(1, workers)) {}

std::vector<Lease> ReadyQueue::push(std::vector<Lease> leases) {
  const auto now = Clock::now();
  std::lock_guard lock(mutex_);
  if (stopped_) return leases;
  for (auto& l : leases) queue_.push_back(Item{std::move(l), now});
  if (!queue_.empty() && !someone_free_soon(now)) wake_one();
  return {};
}

std::optional<Lease> ReadyQueue::take(std::size_t worker) {
  std::unique_lock lock(mutex_);
  for (;;) {
    if (stopped_) return std::nullopt;
    if (!queue_.empty()) {
      Lease lease = std::move(queue_.front().lease);
      queue_.pop_front();
      running_since_[worker] = Clock::now();
      ++running_;
      return lease;
    }
    ++sleeping_;
    wake_.wait(lock, [this] { return wake_tokens_ > 0 || stopped_; });
    --sleeping_;
    if (wake_tokens_ > 0) --wake_tokens_;
  }
}

void ReadyQueue::done(std::size_t worker) {
  std::lock_guard lock(mutex_);
  if (running_since_[worker] == Clock::time_point{}) return;
  running_since_[worker] = Clock::time_point{};
  --running_;
}

void ReadyQueue::rebalance() {
  const auto now = Clock::now();
  std::lock_guard lock(mutex_);
  // Every job that has waited past stall_after gets a worker of its own (long jobs
  // arriving in a burst must not start one per call): the queue is FIFO, so they are
  // the first ones.
  std::size_t stalled = 0;
  while (stalled < queue_.size() && now - queue_[stalled].since > stall_after_) ++stalled;
  if (stalled > 0 && someone_free_soon(now)) --stalled;  // that one is taken care of
  for (; stalled > 0 && sleeping_ > wake_tokens_; --stalled) wake_one();
}

std::vector<Lease> ReadyQueue::take_older_than(Clock::duration age) {
  const auto cutoff = Clock::now() - age;
  std::vector<Lease> out;
  std::lock_guard lock(mutex_);
  while (!queue_.empty() && queue_.front().since < cutoff) {
    out.push_back(std::move(queue_.front().lease));
    queue_.pop_front();
  }
  return out;
}

std::vector<Lease> ReadyQueue::take_if(const std::function<bool(const Lease&)>& pred) {
  std::vector<Lease> out;
  std::lock_guard lock(mutex_);
  for (auto it = queue_.begin(); it != queue_.end();) {
    if (pred(it->lease)) {
      out.push_back(std::move(it->lease));
      it = queue_.erase(it);
    } else {
      ++it;
    }
  }
  return out;
}

std::size_t ReadyQueue::capacity(std::size_t per_free_worker) const {
  std::lock_guard lock(mutex_);
  if (stopped_) return 0;
  const std::size_t room = (running_since_.size() - running_) * per_free_worker;
  return room > queue_.size() ? room - queue_.size() : 0;
}

std::vector<Lease> ReadyQueue::stop() {
  std::vector<Lease> out;
  {
    std::lock_guard lock(mutex_);
    stopped_ = true;
    for (auto& item : queue_) out.push_back(std::move(item.lease));
    queue_.clear();
  }
  wake_.notify_all();
  return out;
}

bool ReadyQueue::someone_free_soon(Clock::time_point now) const {
  // Workers are awake and not inside a job only transiently (between jobs, or woken
  // and on their way to take()).
  if (wake_tokens_ > 0) return true;
  const std::size_t awake = running_since_.size() - sleeping_;
  if (awake > running_) return true;
  return std::any_of(running_since_.begin(), running_since_.end(), [&](Clock::time_point since) {
    return since != Clock::time_point{} && now - since <= stall_after_;
  });
}

void ReadyQueue::wake_one() {
  if (sleeping_ <= wake_tokens_) return;  // every sleeper already has a wake coming
  ++wake_tokens_;
  wake_.notify_one();
}

}  // namespace streamer
