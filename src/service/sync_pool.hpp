// The thread pool that runs sync handlers off the I/O threads (DESIGN §2): a fixed set
// of threads taking tasks from a LazyWakeQueue, so that one awake thread drains quick
// handlers back to back and another is woken only when a task would otherwise wait
// (see core/lazy_wake_queue.hpp; asio::thread_pool woke a thread per post, a fifth of
// the server's CPU under `health` load).
#pragma once

#include <chrono>
#include <functional>
#include <thread>
#include <vector>

#include "core/lazy_wake_queue.hpp"

namespace streamer {

class SyncPool {
 public:
  // Starts `threads` threads (at least 1).
  explicit SyncPool(int threads, std::chrono::microseconds stall_after = std::chrono::microseconds(500));
  ~SyncPool();
  SyncPool(const SyncPool&) = delete;
  SyncPool& operator=(const SyncPool&) = delete;

  // Queues `task` (FIFO). Tasks must not throw; one that does is logged and dropped.
  // After join() has begun, tasks are discarded.
  void post(std::function<void()> task);

  // Wakes a thread for a task stuck behind a slow one; call periodically.
  void rebalance() { queue_.rebalance(); }

  // Runs every queued task to the end, then stops and joins the threads. Idempotent.
  void join();

  // Tasks queued and not yet started (for tests and metrics).
  std::size_t queued() const { return queue_.size(); }

 private:
  void thread_main(std::size_t index);

  LazyWakeQueue<std::function<void()>> queue_;
  std::vector<std::thread> threads_;
};

}  // namespace streamer
