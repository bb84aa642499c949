// In-process workers for async requests. A commit thread (CommitLoop) writes
// submissions, outcomes and claims of runnable jobs for the workers, in one
// transaction per round. Claimed jobs go through a ReadyQueue to the worker threads,
// which run each handler with a ProgressReporter and a CancelToken and hand back
// exactly one terminal outcome, or release the job to the store themselves (a retry
// after its backoff, a drain). A supervisor thread renews leases, enforces time
// limits, notices remote cancels, writes coalesced progress, and releases claimed
// jobs that waited too long to start. Jobs of waiting handlers (WaitingHandler) do
// not take a worker thread: they run as coroutines on the pool's WaitingLane, up to
// max_waiting_jobs at once, with the same leases, time limits, cancels, progress and
// outcomes as the others (the supervisor watches both kinds). Every store error on these paths is
// logged and leaves the job to its lease: when the lease lapses the job runs again.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <exception>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "core/handler.hpp"
#include "core/waiting_handler.hpp"
#include "jobs/commit_loop.hpp"
#include "jobs/event_bus.hpp"
#include "jobs/job_observer.hpp"
#include "jobs/job_store.hpp"
#include "jobs/parsed_handover.hpp"
#include "jobs/ready_queue.hpp"
#include "jobs/retry_policy.hpp"
#include "jobs/waiting_lane.hpp"
#include "jobs/waiting_lane_feeder.hpp"
#include "router/handler_registry.hpp"

namespace streamer {

struct WorkerPoolOptions {
  int workers = 2;                    // 0: none; the pool only submits (a gateway-only process)
  std::string instance_id = "local";  // lease owner: unique per process
  std::chrono::milliseconds lease_ttl{10'000};  // a dead worker's job re-runs after this
  std::chrono::milliseconds progress_interval{100};
  std::chrono::milliseconds idle_poll{1'000};  // longest time between looks at the store
  std::size_t claims_per_free_worker = 32;  // jobs claimed ahead per free worker (run back to back)
  std::chrono::microseconds stall_after{500};  // then a queued job gets another worker
  RetryPolicy retry;
  bool fault_injection = false;     // honour payload.time_limit_ms (tests only)
  JobObserver* observer = nullptr;  // metrics and the stats feed; may be null
  std::size_t parsed_handover_bytes = 64u
                                      << 20;  // bound of the parsed requests kept (ParsedHandover)
  // Jobs of waiting handlers running at once on the waiting lane (one thread, however
  // many); 0: they run on the worker threads like the others.
  std::size_t max_waiting_jobs = 20'000;
  // Most claims one look at the store takes for the waiting lane. While
  // max_waiting_jobs > 0, jobs of waiting handlers are stored in kWaitingLane, which
  // only the waiting lane claims (WaitingLaneFeeder), so they never take the worker
  // threads' per-tenant slots.
  std::size_t waiting_claim_batch = 512;
};

struct WorkerPoolStats {
  std::atomic<std::uint64_t> started{0}, succeeded{0}, failed{0}, cancelled{0}, retried{0},
      timed_out{0};
};

class WorkerPool {
 public:
  WorkerPool(JobStore& store, EventBus& hub, const HandlerRegistry& registry,
             const HandlerEnvironment& env, WorkerPoolOptions options);
  ~WorkerPool();

  void start();
  // Stores a new job (group-committed with the pool's other writes, and claimed in the
  // same write when a worker is free), then calls `done` on the commit thread; see
  // CommitLoop::submit. Fails (done(nullptr)) once stopped. `parsed`: the handler's
  // parse of job.payload_json, which this process's workers then run the job on
  // instead of parsing the stored payload again (see ParsedHandover).
  void submit(NewJob job, CommitLoop::SubmitDone done, ParsedRequest parsed = {});
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
  // Of those, the jobs running on the waiting lane.
  std::size_t running_waiting() const { return waiting_.running(); }
  const WorkerPoolStats& stats() const { return stats_; }

 private:
  struct ActiveJob;
  void worker_loop(std::size_t index);
  void supervisor_loop();
  // How many jobs the next store round may claim: what the worker threads can start
  // soon (the waiting lane claims its own jobs, from kWaitingLane).
  std::size_t claim_capacity() const;
  // How many new waiting-lane jobs a commit round may lease to the waiting lane at once.
  std::size_t waiting_claim_capacity() const;
  // Claimed jobs: those of waiting handlers to the waiting lane, the rest to the
  // ready queue of the worker threads.
  void deliver(std::vector<Lease> leases);
  // The job's handler runs on the waiting lane.
  bool runs_waiting(const Lease& lease) const;
  // run_job() for a job of a waiting handler, as a coroutine on the waiting lane.
  boost::asio::awaitable<void> run_waiting_job(Lease lease);
  // Runs one claimed job to exactly one end: an outcome handed to the commit thread
  // (conclude), a release for a retry or for a drain, or nothing when the store failed
  // to take the release (the lease lapses and the job runs again). Store errors on this
  // path are logged, never thrown.
  void run_job(Lease lease);
  // Ends a job that must not run (unknown action, cancel requested, attempts used up)
  // with its outcome; false when the handler should run.
  bool end_without_running(const std::shared_ptr<ActiveJob>& job, const Handler* handler);
  // The stored payload as an object; an empty object when it is not one.
  static boost::json::object payload_of(const JobRecord& rec);
  // Sets the job's time limit, deadline, first lease renewal and progress reporter.
  void prepare(const std::shared_ptr<ActiveJob>& job, const Handler& handler,
               const boost::json::object& payload);
  // Makes a prepared job visible to cancels, drains and the supervisor, and counts
  // its start.
  void begin_run(const std::shared_ptr<ActiveJob>& job);
  // The job's handler has returned or thrown: it leaves the running set.
  void end_run(const std::shared_ptr<ActiveJob>& job);
  // Calls the blocking handler and routes how it ended (route_outcome).
  void run_handler(const std::shared_ptr<ActiveJob>& job, Handler& handler,
                   const boost::json::object& payload);
  // Routes how a handler ended (`error` null: it returned `result`) to one of the
  // three steps below.
  void route_outcome(const std::shared_ptr<ActiveJob>& job, std::exception_ptr error,
                     const HandlerResult& result);
  // The handler returned without being stopped: records its result (success or not).
  void on_returned(const std::shared_ptr<ActiveJob>& job, const HandlerResult& result);
  // The handler stopped because its token was cancelled: TIMEOUT, CANCELLED, or (drain)
  // the job goes back to the queue with its attempt refunded.
  void on_stopped(const std::shared_ptr<ActiveJob>& job);
  // A retryable failure: back to the queue after the retry policy's delay while attempts
  // remain, else INTERNAL_ERROR with the attempts made.
  void retry_or_fail(const std::shared_ptr<ActiveJob>& job, std::string_view what);
  // JobStore::release that logs a store error instead of throwing it; true when the
  // store released the lease.
  bool release_lease(const std::string& job_id, std::int64_t fence, SystemTime available_at,
                     std::string_view why, bool refund_attempt);
  // Hands the job's one terminal outcome to the commit thread, which records it (many
  // jobs per transaction) and then publishes it. Returns false if an outcome was
  // already decided for this job in this process.
  bool conclude(const std::shared_ptr<ActiveJob>& job, JobStatus status, std::string message);
  // After the outcome's round: publishes it if this write ended the job (and the store
  // did not publish it in that write).
  void on_concluded(const ActiveJob& job, const FinishResult& result,
                    const JobStore::FinishItem& item);
  // Gives claimed-but-unstarted jobs back to the queue, attempt refunded.
  void give_back(const std::vector<Lease>& leases, std::string_view why);

  JobStore& store_;
  EventBus& hub_;
  const HandlerRegistry& registry_;
  const HandlerEnvironment& env_;
  WorkerPoolOptions options_;
  WorkerPoolStats stats_;
  ParsedHandover handover_;

  std::atomic<bool> stopping_{false};
  ReadyQueue ready_;
  WaitingLane waiting_;
  WaitingLaneFeeder waiting_feeder_;  // claims kWaitingLane's jobs for waiting_
  CommitLoop commits_;

  struct JobKeyHash {
    std::size_t operator()(const JobKey& key) const noexcept;
  };
  // Renews, in one store call, the leases of `due` (jobs whose renewal time came), and
  // ends those whose lease was lost (stopped, nothing recorded) or whose cancel was
  // requested (CANCELLED). A store error is logged; the next tick tries again.
  void renew_leases(const std::vector<std::shared_ptr<ActiveJob>>& due);

  mutable std::mutex active_mutex_;
  std::map<std::string, std::shared_ptr<ActiveJob>> active_;  // by job_id
  // The same jobs by request key, for cancel_local (kept with active_ under active_mutex_).
  std::unordered_map<JobKey, std::shared_ptr<ActiveJob>, JobKeyHash> active_by_key_;
  std::condition_variable drained_;  // active_ shrank

  std::mutex rng_mutex_;
  std::mt19937_64 rng_{std::random_device{}()};

  std::vector<std::thread> threads_;
  std::thread supervisor_;
  std::mutex supervisor_mutex_;
  std::condition_variable supervisor_wake_;  // stop() ends its sleep
};

}  // namespace streamer
