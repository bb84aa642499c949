// The thread pool that runs sync handlers off the I/O threads: a fixed set
// of threads taking tasks from a LazyWakeQueue, so that one awake thread drains quick
// handlers back to back and another is woken only when a task would otherwise wait
// (see core/lazy_wake_queue.hpp; asio::thread_pool woke a thread per post, a fifth of
// the server's CPU under `health` load).
//
// Tasks posted for an owner (a client connection) share the pool fairly: at most
// `max_per_owner` of one owner's tasks are in the pool's queue or running at once; the
// rest wait in that owner's own FIFO and enter the pool's queue one at a time as the
// owner's earlier tasks end. A burst from one owner therefore never queues ahead of
// another owner's task by more than `max_per_owner` tasks (owners take turns).
#pragma once

#include <chrono>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <vector>

#include "core/lazy_wake_queue.hpp"

namespace streamer {

class SyncPool {
 public:
  // Starts `threads` threads (at least 1). max_per_owner is at least 1.
  explicit SyncPool(int threads,
                    std::chrono::microseconds stall_after = std::chrono::microseconds(500),
                    std::size_t max_per_owner = 2);
  ~SyncPool();
  SyncPool(const SyncPool&) = delete;
  SyncPool& operator=(const SyncPool&) = delete;

  // Queues `task` (FIFO). Tasks must not throw; one that does is logged and dropped.
  // After join() has begun, tasks are discarded.
  void post(std::function<void()> task);

  // Queues `task` for `owner` (any stable address, e.g. the connection): straight into
  // the pool's queue while fewer than max_per_owner of the owner's tasks are there or
  // running, else at the end of the owner's own FIFO. Tasks of one owner start in the
  // order they were posted.
  void post(const void* owner, std::function<void()> task);

  // Wakes a thread for a task stuck behind a slow one; call periodically.
  void rebalance() { queue_.rebalance(); }

  // Runs every queued task to the end (those waiting in owners' FIFOs included), then
  // stops and joins the threads. Idempotent.
  void join();

  // Tasks in the pool's queue and not yet started (for tests and metrics).
  std::size_t queued() const { return queue_.size(); }
  // Tasks waiting in owners' FIFOs, not yet in the pool's queue.
  std::size_t waiting() const;

 private:
  // One owner's share: tasks in the pool's queue or running, and those waiting.
  struct Lane {
    std::size_t in_pool = 0;
    std::deque<std::function<void()>> waiting;
  };

  void thread_main(std::size_t index);
  // Pushes `task` into the pool's queue, wrapped to call finished(owner) after it
  // ran, and counts it in the lane's in_pool; false (task dropped, not counted) once
  // the queue is closed. Caller holds lanes_mutex_.
  bool admit(const void* owner, Lane& lane, std::function<void()> task);
  // One of `owner`'s tasks ended: its next waiting task (if any) takes the slot.
  void finished(const void* owner);

  const std::size_t max_per_owner_;
  LazyWakeQueue<std::function<void()>> queue_;
  std::vector<std::thread> threads_;

  mutable std::mutex lanes_mutex_;
  std::unordered_map<const void*, Lane> lanes_;  // owners with a task in the pool or waiting
  bool draining_ = false;                        // join() began: no more waiting in lanes
};

}  // namespace streamer
