// A FIFO work queue for a fixed set of consumer threads that wakes as few of them as
// it can. Used for sync handlers (service/sync_pool) and claimed jobs (jobs/worker_pool).
//
// A general pool wakes an idle thread for every item pushed while the others are busy.
// For work that finishes in microseconds (health, echo, `delay 0`) that turns every item
// into a futex wake and two context switches, which was most of its cost. Here a
// consumer that is awake takes queued items back to back, and a sleeping one is woken
// only when an item would otherwise wait: when no consumer is awake and free, or when
// every running item has been running for longer than `stall_after` (slow work must not
// hold up the quick items behind it). rebalance(), called periodically, covers an item
// queued just before its consumer got stuck in slow work, with nothing pushed since.
#pragma once

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <mutex>
#include <optional>
#include <utility>
#include <vector>

namespace streamer {

template <class T>
class LazyWakeQueue {
 public:
  using Clock = std::chrono::steady_clock;

  // `consumers` threads (at least 1) call take(i)/done(i) with 0 ≤ i < consumers.
  LazyWakeQueue(std::size_t consumers, std::chrono::microseconds stall_after)
      : stall_after_(stall_after), running_since_(std::max<std::size_t>(1, consumers)) {}
  LazyWakeQueue(const LazyWakeQueue&) = delete;
  LazyWakeQueue& operator=(const LazyWakeQueue&) = delete;

  // Queues `item`; false (item dropped) once closed or stopped.
  bool push(T item) {
    const auto now = Clock::now();
    std::lock_guard lock(mutex_);
    if (closed_) return false;
    queue_.push_back(Item{std::move(item), now});
    wake_if_needed(now);
    return true;
  }

  // Queues all `items`; once closed or stopped they are handed back instead.
  std::vector<T> push_all(std::vector<T> items) {
    const auto now = Clock::now();
    std::lock_guard lock(mutex_);
    if (closed_) return items;
    for (auto& item : items) queue_.push_back(Item{std::move(item), now});
    if (!queue_.empty()) wake_if_needed(now);
    return {};
  }

  // Consumer `i` blocks until it gets an item, which counts as running on it until
  // done(i). nullopt once stopped, or once closed and empty.
  std::optional<T> take(std::size_t i) {
    std::unique_lock lock(mutex_);
    for (;;) {
      if (stopped_) return std::nullopt;
      if (!queue_.empty()) {
        T item = std::move(queue_.front().item);
        queue_.pop_front();
        running_since_[i] = Clock::now();
        ++running_;
        return item;
      }
      if (closed_) return std::nullopt;
      ++sleeping_;
      wake_.wait(lock, [this] { return wake_tokens_ > 0 || closed_; });
      --sleeping_;
      if (wake_tokens_ > 0) --wake_tokens_;
    }
  }

  // The item consumer `i` took has ended.
  void done(std::size_t i) {
    std::lock_guard lock(mutex_);
    if (running_since_[i] == Clock::time_point{}) return;
    running_since_[i] = Clock::time_point{};
    --running_;
  }

  // Wakes a consumer for each item that has waited longer than stall_after behind
  // running ones (slow items arriving in a burst must not start one per call; the queue
  // is FIFO, so the stalled ones are the first).
  void rebalance() {
    const auto now = Clock::now();
    std::lock_guard lock(mutex_);
    std::size_t stalled = 0;
    while (stalled < queue_.size() && now - queue_[stalled].since > stall_after_) ++stalled;
    if (stalled > 0 && someone_free_soon(now)) --stalled;  // that one is taken care of
    for (; stalled > 0 && sleeping_ > wake_tokens_; --stalled) {
      ++wake_tokens_;
      wake_.notify_one();
    }
  }

  // Removes and returns the items that have waited longer than `age`.
  std::vector<T> take_older_than(Clock::duration age) {
    const auto cutoff = Clock::now() - age;
    std::vector<T> out;
    std::lock_guard lock(mutex_);
    while (!queue_.empty() && queue_.front().since < cutoff) {
      out.push_back(std::move(queue_.front().item));
      queue_.pop_front();
    }
    return out;
  }

  // Removes and returns the queued items for which `pred` holds.
  template <class Pred>
  std::vector<T> take_if(Pred pred) {
    std::vector<T> out;
    std::lock_guard lock(mutex_);
    for (auto it = queue_.begin(); it != queue_.end();) {
      if (pred(std::as_const(it->item))) {
        out.push_back(std::move(it->item));
        it = queue_.erase(it);
      } else {
        ++it;
      }
    }
    return out;
  }

  // `per_free` for each consumer not running an item, minus the items already queued
  // (0 when that is negative, or once closed).
  std::size_t capacity(std::size_t per_free) const {
    std::lock_guard lock(mutex_);
    if (closed_) return 0;
    const std::size_t room = (running_since_.size() - running_) * per_free;
    return room > queue_.size() ? room - queue_.size() : 0;
  }

  std::size_t size() const {
    std::lock_guard lock(mutex_);
    return queue_.size();
  }

  // Consumers blocked in take() waiting for an item (tests use it to know a consumer
  // is asleep instead of guessing with a sleep).
  std::size_t sleeping() const {
    std::lock_guard lock(mutex_);
    return sleeping_;
  }

  // No more pushes; consumers still take what is queued, then get nullopt.
  void close() {
    {
      std::lock_guard lock(mutex_);
      closed_ = true;
    }
    wake_.notify_all();
  }

  // No more pushes, and take() returns nullopt at once; returns the items never taken.
  std::vector<T> stop() {
    std::vector<T> out;
    {
      std::lock_guard lock(mutex_);
      closed_ = stopped_ = true;
      for (auto& item : queue_) out.push_back(std::move(item.item));
      queue_.clear();
    }
    wake_.notify_all();
    return out;
  }

 private:
  struct Item {
    T item;
    Clock::time_point since;
  };

  // Wakes one sleeping consumer unless one that is awake will take the next item soon.
  // Caller holds mutex_.
  void wake_if_needed(Clock::time_point now) {
    if (someone_free_soon(now) || sleeping_ <= wake_tokens_) return;
    ++wake_tokens_;
    wake_.notify_one();
  }

  // Consumers are awake and not inside an item only transiently (between items, or
  // woken and on their way to take()), so: a wake is already coming, or one is between
  // items, or one started its item less than stall_after ago. Caller holds mutex_.
  bool someone_free_soon(Clock::time_point now) const {
    if (wake_tokens_ > 0) return true;
    if (running_since_.size() - sleeping_ > running_) return true;
    return std::any_of(running_since_.begin(), running_since_.end(), [&](Clock::time_point since) {
      return since != Clock::time_point{} && now - since <= stall_after_;
    });
  }

  const std::chrono::microseconds stall_after_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<Item> queue_;
  std::vector<Clock::time_point> running_since_;  // per consumer; time_point{} when not running
  std::size_t running_ = 0;                       // consumers inside an item
  std::size_t sleeping_ = 0;                      // consumers waiting in take()
  std::size_t wake_tokens_ = 0;                   // wakes granted and not yet consumed
  bool closed_ = false;                           // no more pushes
  bool stopped_ = false;                          // take() returns nullopt at once
};

}  // namespace streamer
