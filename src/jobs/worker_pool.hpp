// In-process workers for async requests. Each worker thread leases a job from the
// store, runs its handler with a ProgressReporter and a CancelToken, and records
// exactly one terminal outcome (or gives the job back for a retry). A supervisor
// thread renews leases, enforces time limits, notices remote cancels and flushes
// coalesced progress.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "core/handler.hpp"
#include "jobs/event_hub.hpp"
#include "jobs/job_store.hpp"
#include "jobs/retry_policy.hpp"
#include "router/handler_registry.hpp"

namespace streamer {

struct WorkerPoolOptions {
  int workers = 2;
  std::string instance_id = "local";              // lease owner: unique per process
  std::chrono::milliseconds lease_ttl{10'000};    // a dead worker's job re-runs after this
  std::chrono::milliseconds progress_interval{100};
  std::chrono::milliseconds idle_poll{1'000};     // upper bound on an idle worker's sleep
  RetryPolicy retry;
  bool fault_injection = false;                   // honour payload.time_limit_ms (tests only)
};

struct WorkerPoolStats {
  std::atomic<std::uint64_t> started{0}, succeeded{0}, failed{0}, cancelled{0}, retried{0}, timed_out{0};
};

class WorkerPool {
 public:
  WorkerPool(JobStore& store, EventHub& hub, const HandlerRegistry& registry, const HandlerEnvironment& env,
             WorkerPoolOptions options);
  ~WorkerPool();

  void start();
  // Wakes an idle worker: a job was just submitted.
  void notify();
  // A cancel was recorded in the store for a job that may be running here: stop it now
  // and record CANCELLED. Returns true if the job was running in this process.
  bool cancel_local(const JobKey& key);
  // Drain: stop leasing, ask running handlers to stop (kShutdown), give their jobs back
  // to the queue, and join the threads (waiting at most `grace` for handlers).
  void stop(std::chrono::milliseconds grace);

  std::size_t running() const;
  const WorkerPoolStats& stats() const { return stats_; }

 private:
  struct ActiveJob;
  struct Completion {
    std::shared_ptr<ActiveJob> job;
    JobStatus status;
    std::string message;
  };
  void worker_loop(int index);
  void supervisor_loop();
  void completer_loop();
  void run_job(Lease lease);
  // Hands the job's one terminal outcome to the completer, which records it (many
  // jobs per transaction) and then publishes it. Returns false if an outcome was
  // already decided for this job in this process.
  bool conclude(const std::shared_ptr<ActiveJob>& job, JobStatus status, std::string message);

  JobStore& store_;
  EventHub& hub_;
  const HandlerRegistry& registry_;
  const HandlerEnvironment& env_;
  WorkerPoolOptions options_;
  WorkerPoolStats stats_;

  std::atomic<bool> stopping_{false};
  // Work claimed from the store but not started yet. One worker at a time fetches a
  // batch (as many jobs as there are idle workers) and shares it through ready_.
  std::mutex wake_mutex_;
  std::condition_variable wake_;
  std::uint64_t wake_seq_ = 0;
  std::deque<Lease> ready_;
  int idle_workers_ = 0;
  bool fetching_ = false;

  // Outcomes waiting to be written (group commit), then published.
  std::mutex done_mutex_;
  std::condition_variable done_cv_;
  std::vector<Completion> done_;
  bool completer_stop_ = false;
  std::thread completer_;

  mutable std::mutex active_mutex_;
  std::map<std::string, std::shared_ptr<ActiveJob>> active_;  // by job_id
  std::condition_variable drained_;                            // active_ shrank

  std::mutex rng_mutex_;
  std::mt19937_64 rng_{std::random_device{}()};

  std::vector<std::thread> threads_;
  std::thread supervisor_;
};

}  // namespace streamer
