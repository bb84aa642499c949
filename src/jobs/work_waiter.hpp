// A thread that blocks in JobStore::wait_for_work and calls `on_work` whenever another
// process may have made work claimable (for a worker pool: notify(), so it claims at once
// instead of at its next periodic look). For stores shared across processes (Redis);
// a store that does not block is simply asked again at each slice's end.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>

#include "jobs/job_store.hpp"

namespace streamer {

class WorkWaiter {
 public:
  // `slice` bounds each blocking wait, hence how long stop() may take.
  WorkWaiter(JobStore& store, std::function<void()> on_work,
             std::chrono::milliseconds slice = std::chrono::seconds(1));
  ~WorkWaiter();
  WorkWaiter(const WorkWaiter&) = delete;
  WorkWaiter& operator=(const WorkWaiter&) = delete;

  void start();
  // Returns once the thread has ended (within about one slice).
  void stop();

 private:
  void run();

  JobStore& store_;
  std::function<void()> on_work_;
  const std::chrono::milliseconds slice_;
  std::mutex mutex_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace streamer
