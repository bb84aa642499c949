// The thread pool that runs sync handlers off the I/O threads (DESIGN §2), built to
// wake as few threads as it can.
//
// A general pool (asio::thread_pool) wakes an idle thread for every task posted while
// its other threads are busy. For sync handlers that finish in microseconds (health,
// echo) that turns every request into a futex wake and two context switches, which was
// a fifth of the server's CPU under load. This pool instead lets one awake thread drain
// the queue, and wakes another only when the work would otherwise wait: when no thread
// is running, or when every running task has been running for longer than
// `stall_after` (a slow handler must not hold up the quick ones behind it).
#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace streamer {

class SyncPool {
 public:
  using Clock = std::chrono::steady_clock;

  // Starts `threads` threads (at least 1).
  explicit SyncPool(int threads, std::chrono::microseconds stall_after = std::chrono::microseconds(500));
  ~SyncPool();
  SyncPool(const SyncPool&) = delete;
  SyncPool& operator=(const SyncPool&) = delete;

  // Queues `task` (FIFO). Tasks must not throw; one that does is logged and dropped.
  // After join() has begun, tasks are discarded.
  void post(std::function<void()> task);

  // Wakes a sleeping thread if the oldest queued task has waited longer than
  // `stall_after` behind running tasks. post() covers this case whenever more work
  // arrives; call this periodically so a task queued just before its thread got stuck
  // in a slow handler is not left waiting for that handler.
  void rebalance();

  // Runs every queued task to the end, then stops and joins the threads. Idempotent.
  void join();

  // Tasks queued and not yet started (for tests and metrics).
  std::size_t queued() const;

 private:
  struct Queued {
    std::function<void()> task;
    Clock::time_point enqueued;
  };
  void thread_main(std::size_t index);
  // Whether a thread that is awake now will take the next task soon. Caller holds mutex_.
  bool someone_free_soon(Clock::time_point now) const;
  // Wakes one sleeping thread that has not already been woken. Caller holds mutex_.
  void wake_one();

  const std::chrono::microseconds stall_after_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<Queued> queue_;
  std::vector<Clock::time_point> running_since_;  // per thread; time_point{} when not running
  std::size_t running_ = 0;    // threads inside a task
  std::size_t sleeping_ = 0;   // threads waiting on wake_
  std::size_t wake_tokens_ = 0;  // wakes granted but not yet taken by a sleeper
  bool stopping_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace streamer
