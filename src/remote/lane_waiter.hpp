// A thread that blocks in JobStore::wait_for_lane_work on the lanes a dispatcher serves
// and calls `on_work` with them whenever another process may have made one of their
// jobs claimable (a submit or release there), so a remote job submitted through another
// gateway sharing the store is claimed at once, not at the dispatcher's next poll. A store
// that does not block (one process only) is asked again at each slice's end.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "jobs/job_store.hpp"

namespace streamer::remote {

class LaneWaiter {
 public:
  // `slice` bounds each blocking wait: how long stop() may take, and how late a lane
  // added by set_lanes() is waited on.
  LaneWaiter(JobStore& store, std::function<void(const std::vector<std::string>&)> on_work,
             std::chrono::milliseconds slice = std::chrono::seconds(1));
  ~LaneWaiter();
  LaneWaiter(const LaneWaiter&) = delete;
  LaneWaiter& operator=(const LaneWaiter&) = delete;

  void start();
  // Returns once the thread has ended (within about one slice).
  void stop();
  // The lanes to wait on from the next wait on (none: the thread only sleeps).
  void set_lanes(std::vector<std::string> lanes);

 private:
  void run();

  JobStore& store_;
  std::function<void(const std::vector<std::string>&)> on_work_;
  const std::chrono::milliseconds slice_;
  std::mutex mutex_;
  std::condition_variable cv_;
  std::vector<std::string> lanes_;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace streamer::remote
