// The worker pool's lane for waiting handlers (core/waiting_handler.hpp): one thread
// runs an Asio io_context on which each claimed job is a coroutine on its own strand,
// so a job that waits costs its frame and a timer, not a thread. At most `max_running`
// jobs run at once; leases claimed beyond that wait parked, oldest first, for a free
// slot (the pool gives back parked leases that wait too long, as it does for its ready
// queue).
#pragma once

#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "jobs/job_store.hpp"

namespace streamer {

class WaitingLane {
 public:
  using Clock = std::chrono::steady_clock;
  // The whole run of one claimed job, ended exactly once by its own outcome; it must
  // not throw. The lane calls ended() itself when it returns.
  using Run = std::function<boost::asio::awaitable<void>(Lease)>;

  WaitingLane(std::size_t max_running, Run run);
  ~WaitingLane();
  WaitingLane(const WaitingLane&) = delete;
  WaitingLane& operator=(const WaitingLane&) = delete;

  void start();
  // Starts each lease's run while fewer than max_running run and parks the rest. Once
  // closed, hands them all back instead (the caller gives them back to the store).
  std::vector<Lease> admit(std::vector<Lease> leases);
  // Claims this lane can take now: max_running minus running and parked (0 once closed).
  std::size_t room() const;
  std::size_t parked() const;
  std::size_t running() const;
  // Removes and returns the parked leases that have waited longer than `age`.
  std::vector<Lease> take_parked_older_than(Clock::duration age);
  // Removes and returns the parked leases for which `pred` holds.
  std::vector<Lease> take_parked_if(const std::function<bool(const Lease&)>& pred);
  // No more admits or starts; returns the parked leases.
  std::vector<Lease> close();
  // Blocks until no run is in progress, or until `deadline`; true when none is.
  bool wait_idle(Clock::time_point deadline);
  // Ends the thread: suspended runs are destroyed unfinished (their leases lapse). Call
  // after the runs have been asked to stop and had their time to end.
  void stop();

 private:
  struct Parked {
    Lease lease;
    Clock::time_point since;
  };
  struct Io;
  void spawn(Lease lease);
  boost::asio::awaitable<void> run_then_end(Lease lease);
  // A run returned: starts the oldest parked lease in its slot.
  void ended();

  const std::size_t max_running_;
  const Run run_;
  std::unique_ptr<Io> io_;
  mutable std::mutex mutex_;
  std::condition_variable idle_;  // running_ reached 0
  std::deque<Parked> parked_;
  std::size_t running_ = 0;
  bool closed_ = false;
  std::thread thread_;
};

}  // namespace streamer
