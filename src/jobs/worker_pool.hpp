// In-process workers for async requests. A commit thread (CommitLoop) writes the
// store: submissions, outcomes, and claims of runnable jobs for the workers, in one
// transaction per round. Claimed jobs go through a ReadyQueue to the worker threads,
// which run each handler with a ProgressReporter and a CancelToken and hand back
// exactly one terminal outcome (or give the job back for a retry). A supervisor
// thread renews leases, enforces time limits, notices remote cancels and flushes
// coalesced progress.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "core/handler.hpp"
#include "jobs/commit_loop.hpp"
#include "jobs/event_hub.hpp"
#include "jobs/job_store.hpp"
#include "jobs/ready_queue.hpp"
#include "jobs/retry_policy.hpp"
#include "router/handler_registry.hpp"

namespace streamer {

struct WorkerPoolOptions {
  int workers = 2;
  std::string instance_id = "local";              // lease owner: unique per process
  std::chrono::milliseconds lease_ttl{10'000};    // a dead worker's job re-runs after this
  std::chrono::milliseconds progress_interval{100};
  std::chrono::milliseconds idle_poll{1'000};     // longest time between looks at the store
  std::size_t claims_per_free_worker = 32;        // jobs claimed ahead per free worker (run back to back)
  std::chrono::microseconds stall_after{500};     // then a queued job gets another worker
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
  // Stores a new job (group-committed with the pool's other writes, and claimed in the
  // same write when a worker is free), then calls `done` on the commit thread; see
  // CommitLoop::submit. Fails (done(nullptr)) once stopped.
  void submit(NewJob job, CommitLoop::SubmitDone done);
  // Jobs may have been added to the store by someone else: look for runnable ones now.
  void notify();
  // A cancel was recorded in the store for a job that may be running (or claimed and
  // waiting to start) here: stop it now and record CANCELLED. Returns true if the job
  // was found in this process. Best effort: a job between its claim and its worker is
  // missed, but the store records CANCELLED for it whatever its handler returns.
  bool cancel_local(const JobKey& key);
  // Drain: stop leasing, ask running handlers to stop (kShutdown), give their jobs back
  // to the queue, and join the threads (waiting at most `grace` for handlers).
  void stop(std::chrono::milliseconds grace);

  std::size_t running() const;
  const WorkerPoolStats& stats() const { return stats_; }

 private:
  struct ActiveJob;
  void worker_loop(std::size_t index);
  void supervisor_loop();
  void run_job(Lease lease);
  // Hands the job's one terminal outcome to the commit thread, which records it (many
  // jobs per transaction) and then publishes it. Returns false if an outcome was
  // already decided for this job in this process.
  bool conclude(const std::shared_ptr<ActiveJob>& job, JobStatus status, std::string message);
  // After the outcome's round: publishes it if this write ended the job.
  void on_concluded(const ActiveJob& job, bool ended, const JobStore::FinishItem& item);
  // Gives claimed-but-unstarted jobs back to the queue, attempt refunded.
  void give_back(const std::vector<Lease>& leases, std::string_view why);

  JobStore& store_;
  EventHub& hub_;
  const HandlerRegistry& registry_;
  const HandlerEnvironment& env_;
  WorkerPoolOptions options_;
  WorkerPoolStats stats_;

  std::atomic<bool> stopping_{false};
  ReadyQueue ready_;
  CommitLoop commits_;

  mutable std::mutex active_mutex_;
  std::map<std::string, std::shared_ptr<ActiveJob>> active_;  // by job_id
  std::condition_variable drained_;                            // active_ shrank

  std::mutex rng_mutex_;
  std::mt19937_64 rng_{std::random_device{}()};

  std::vector<std::thread> threads_;
  std::thread supervisor_;
  std::mutex supervisor_mutex_;
  std::condition_variable supervisor_wake_;  // stop() ends its sleep
};

}  // namespace streamer
