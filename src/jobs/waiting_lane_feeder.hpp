// Claims the jobs of the store's waiting lane (kWaitingLane) for a worker pool's
// WaitingLane, on a thread of its own: at once when woken (a waiting job was stored, a
// run ended and left room, another process changed the store) and at least every poll
// interval (a retry whose backoff ended, a lease that lapsed). Each look claims at most
// min(room on the lane, batch) jobs in one store call, which is fair between tenants
// and keeps each tenant within max_waiting_per_tenant; it looks again at once while a
// look fills its whole request. Worker threads and their per-tenant slots
// (max_running_per_tenant) take no part: those are the built-in lane's.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "jobs/job_store.hpp"
#include "jobs/waiting_lane.hpp"

namespace streamer {

struct WaitingLaneFeederOptions {
  std::string worker_id;  // holder of the leases
  std::chrono::milliseconds lease_ttl{10'000};
  std::chrono::milliseconds poll{1'000};  // longest time between looks at the store
  std::size_t batch = 512;                // most claims per look
};

class WaitingLaneFeeder {
 public:
  // Leases the lane refused (it was closed) go to give_back, which returns them to
  // the store.
  using GiveBack = std::function<void(const std::vector<Lease>&)>;

  WaitingLaneFeeder(JobStore& store, WaitingLane& lane, WaitingLaneFeederOptions options,
                    GiveBack give_back);
  ~WaitingLaneFeeder();
  WaitingLaneFeeder(const WaitingLaneFeeder&) = delete;
  WaitingLaneFeeder& operator=(const WaitingLaneFeeder&) = delete;

  void start();
  // Look at the store soon (without waiting for the poll interval): something may have
  // become claimable (a waiting job stored queued, another process's change). Thread-safe,
  // cheap.
  void wake();
  // A run on the lane ended and left room: look soon, unless the last look took
  // everything runnable, left nothing for a tenant's bound, and nothing woke it since
  // (then the room waits for the next wake() or poll).
  void room_freed();
  // No look starts after this returns (a look in progress finishes first). Idempotent.
  void stop();
  std::uint64_t claimed() const { return claimed_; }

 private:
  void run();
  // One look: claims and admits; returns whether it filled its whole request.
  bool claim_once();

  JobStore& store_;
  WaitingLane& lane_;
  const WaitingLaneFeederOptions options_;
  const GiveBack give_back_;
  std::mutex mutex_;
  std::condition_variable cv_;
  bool woken_ = true;  // the first look is at start
  bool stopping_ = false;
  std::uint64_t wakes_ = 0;        // wake() calls, to tell whether one came during a look
  bool nothing_runnable_ = false;  // the last look found all it could take (see room_freed)
  std::atomic<std::uint64_t> claimed_{0};
  std::thread thread_;
};

}  // namespace streamer
