// Jobs claimed from the store for this process's workers, and which worker runs them,
// waking as few threads as it can.
//
// Handing every claimed job to its own idle worker costs a futex wake and two context
// switches per job, which for jobs that finish in microseconds (the `delay 0` of the
// benchmark) was most of the cost of running them. Instead, a worker that is awake runs
// queued jobs back to back, and a sleeping worker is woken only when a job would
// otherwise wait: when no worker is awake and free, or when every running job has been
// running for longer than `stall_after` (a slow handler must not hold up the jobs
// queued behind it; rebalance() covers a job that got stuck after the last push).
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <vector>

#include "jobs/job_store.hpp"

namespace streamer {

class ReadyQueue {
 public:
  using Clock = std::chrono::steady_clock;

  ReadyQueue(std::size_t workers, std::chrono::microseconds stall_after);
  ReadyQueue(const ReadyQueue&) = delete;
  ReadyQueue& operator=(const ReadyQueue&) = delete;

  // Queues claimed jobs (FIFO). After stop() nothing is queued: the jobs are returned
  // so that the caller gives them back to the store.
  std::vector<Lease> push(std::vector<Lease> leases);

  // Worker `worker` (0 ≤ worker < workers) blocks until it gets a job, which counts as
  // running on it until done(worker). nullopt once stopped.
  std::optional<Lease> take(std::size_t worker);
  // The job that worker `worker` took has ended.
  void done(std::size_t worker);

  // Wakes a worker for each queued job that has waited longer than stall_after behind
  // running jobs. Call periodically.
  void rebalance();

  // Removes and returns queued jobs that have waited longer than `age` (their leases
  // would lapse while they wait: they go back to the store).
  std::vector<Lease> take_older_than(Clock::duration age);

  // Removes and returns the queued jobs for which `pred` holds (e.g. one being cancelled).
  std::vector<Lease> take_if(const std::function<bool(const Lease&)>& pred);

  // How many more jobs are worth claiming now: `per_free_worker` for each worker not
  // running a job, minus those already queued (0 when none, or when stopped).
  std::size_t capacity(std::size_t per_free_worker) const;

  // Stops: every take() returns nullopt, and the jobs never started are returned.
  std::vector<Lease> stop();

 private:
  struct Item {
    Lease lease;
    Clock::time_point since;
  };
  // Whether a worker that is awake now will take the next job soon. Caller holds mutex_.
  bool someone_free_soon(Clock::time_point now) const;
  // Wakes one sleeping worker not already woken. Caller holds mutex_.
  void wake_one();

  const std::chrono::microseconds stall_after_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<Item> queue_;
  std::vector<Clock::time_point> running_since_;  // per worker; time_point{} when not running
  std::size_t running_ = 0;      // workers inside a job
  std::size_t sleeping_ = 0;     // workers waiting in take()
  std::size_t wake_tokens_ = 0;  // wakes granted and not yet consumed
  bool stopped_ = false;
};

}  // namespace streamer
