// The durable store of async requests. One interface, several backends: embedded
// SQLite (the default), Redis (scale-out: Lua scripts over hashes and sorted sets) and an
// in-memory fake for unit tests. The store knows nothing of the wire protocol: the
// outcome and progress it keeps are opaque JSON strings built by the protocol core.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace streamer {

using SystemTime = std::chrono::system_clock::time_point;

enum class JobStatus { kQueued, kRunning, kSucceeded, kFailed, kCancelled };

std::string_view to_string(JobStatus status) noexcept;
std::optional<JobStatus> job_status_from_string(std::string_view text) noexcept;
inline bool is_terminal(JobStatus s) noexcept {
  return s == JobStatus::kSucceeded || s == JobStatus::kFailed || s == JobStatus::kCancelled;
}

// Idempotency and visibility scope: a request id is unique per (tenant, user).
struct JobKey {
  std::string tenant_id;
  std::string user_id;
  std::string request_id;
  bool operator==(const JobKey&) const = default;
};

struct NewJob {
  JobKey key;
  std::string action;
  std::string payload_json;
  std::string trace_id;
  int max_attempts = 3;
  // Who may claim the job: "" (the built-in lane) for the in-process worker pools, or a
  // lane of its own (a remote action's name) that only acquire_lane() claims.
  std::string lane{};
};

// Bounds the store enforces on each tenant's and user's async work; 0: no bound.
struct JobLimits {
  std::size_t max_queued_per_tenant = 0;  // jobs waiting to run (status queued), per tenant
  std::size_t max_queued_per_user = 0;    // the same, per (tenant, user)
  std::size_t max_running_per_tenant =
      0;  // jobs leased (running, or claimed to run next), per tenant
  // Progress steps kept per job (its latest ones; see ProgressStep); 0: no history.
  std::size_t progress_history_steps = 100;
  // Jobs of kWaitingLane leased at once, per tenant (across every process sharing the
  // store); they do not count towards max_running_per_tenant.
  std::size_t max_waiting_per_tenant = 0;
};

// The store lane of jobs whose handler waits without a thread (WaitingHandler): worker
// pools claim it apart from the built-in lane, for their waiting lanes, so that such
// jobs neither take nor count against the worker threads' per-tenant slots. No remote
// action can have this name.
inline constexpr std::string_view kWaitingLane = "~waiting";

// Which bound refused a submit.
enum class QueueLimit { kNone, kQueuedPerTenant, kQueuedPerUser };
std::string_view to_string(QueueLimit limit) noexcept;  // "queued_per_tenant", "queued_per_user"

struct JobRecord {
  std::string job_id;  // store-assigned, opaque
  JobKey key;
  std::string action;
  std::string payload_json;
  std::string trace_id;
  std::string lane{};  // NewJob::lane
  JobStatus status = JobStatus::kQueued;
  int attempts = 0;  // leases taken so far
  int max_attempts = 3;
  bool cancel_requested = false;
  std::string progress_json;  // body of the latest `progress` message, "" if none
  // Whole terminal message (`result` or `error`), "" until terminal; while a cancel is
  // requested, the CANCELLED message its finish will record.
  std::string outcome_json;
  std::string last_error;  // last retryable failure, for diagnostics
  SystemTime created_at{};
  SystemTime updated_at{};
  std::optional<SystemTime> finished_at;
};

struct SubmitResult {
  JobRecord record;
  bool created = false;  // false: the key existed and record is that job, or it was refused
  // Not stored because the tenant or user already has as many queued jobs as its
  // bound allows (limit_value); record is empty then. A known key is never refused.
  QueueLimit refused = QueueLimit::kNone;
  std::size_t limit_value = 0;
};

struct Lease {
  JobRecord record;  // status running, attempts already incremented
  std::string worker_id;
  SystemTime lease_until{};
  // The job's fencing token: a counter the store bumps on every claim of the job. Renew,
  // progress, finish and release are accepted only with the fence of the job's latest
  // claim, so an attempt whose lease lapsed and was claimed again (by any worker, this
  // process included) can no longer write.
  std::int64_t fence = 0;
};

// The latest progress of one claimed job, written only while `fence` is the job's current.
struct ProgressItem {
  std::string job_id;
  std::int64_t fence = 0;
  std::string progress_json;
};

// One step of a job's progress history: each progress write the store accepted (the
// workers coalesce a job's progress messages to one write per progress interval) and
// the final progress written with the outcome, with the attempt that reported it and
// when the store wrote it. A job keeps its latest JobLimits::progress_history_steps
// steps, across attempts (a retry adds to them), and loses them with the job.
struct ProgressStep {
  int attempt = 0;
  SystemTime at{};
  std::string progress_json;  // body of the `progress` message, as in JobRecord
};

struct LeaseState {
  bool owned = false;  // false: the lease expired and was taken over, or the job ended
  bool cancel_requested = false;
};

enum class CancelOutcome {
  kNotFound,         // no such job for this key
  kCancelledNow,     // it was queued: now terminal with the given outcome
  kCancelRequested,  // it is running: it will end CANCELLED whatever its worker reports
  kAlreadyFinished,  // terminal already; nothing changed
};

// What a finish recorded.
struct FinishResult {
  bool ended = false;  // this call ended the job (exactly one call ever does)
  // A cancel was requested before this finish, which reported another outcome: the job
  // ended CANCELLED with the outcome given to request_cancel, which is `outcome_json`.
  bool cancelled_instead = false;
  std::string outcome_json;
  // The store also sent the outcome, as the terminal event, to the request's subscribers
  // (in the write that recorded it: RedisJobStore::publish_outcomes): the caller must
  // not publish it again.
  bool published = false;
};

// ---------------------------------------------------------------- reads for the admin API
// Whose jobs a read or purge covers. Callers build it from the caller's identity (an
// admin may leave fields unset), so a query is scoped by its parameters, never by
// filtering rows afterwards.
struct JobScope {
  std::optional<std::string> tenant_id;  // nullopt: every tenant
  std::optional<std::string> user_id;    // nullopt: every user (of tenant_id, when set)
};

// A page of jobs, newest first (created_at, then store order).
struct JobQuery {
  JobScope scope;
  std::optional<std::string> action;
  std::vector<JobStatus> states;             // empty: any status
  std::optional<SystemTime> created_since;   // created_at >= this
  std::optional<SystemTime> created_before;  // created_at < this
  std::size_t limit = 50;
  // Keyset position: only jobs after this one in newest-first order (its created_at
  // and job_id), i.e. the last job of the previous page.
  struct After {
    SystemTime created_at{};
    std::string job_id;
  };
  std::optional<After> after;
};

struct JobPage {
  std::vector<JobRecord> jobs;
  bool more = false;  // another page follows the last job
};

// Waiting jobs of one action.
struct QueueStat {
  std::string action;
  std::size_t queued = 0;
  SystemTime oldest_created_at{};
};

// What jobs.retry did.
enum class RequeueOutcome { kNotFound, kNotFailed, kRequeued };
struct RequeueResult {
  RequeueOutcome outcome = RequeueOutcome::kNotFound;
  JobRecord record;  // after the requeue (or as found, when it was not failed)
};

class JobStore {
 public:
  virtual ~JobStore() = default;

  // The bounds submits and claims obey from now on. Set before the store is shared.
  void set_limits(const JobLimits& limits) { limits_ = limits; }
  const JobLimits& limits() const { return limits_; }

  // Inserts the job unless its key exists, or refuses it (SubmitResult::refused) when its
  // tenant or user has reached a queued bound; the count is taken in the same
  // transaction as the insert, so it is exact. Durable (committed) on return, so a
  // `queued` answer sent after this never refers to a lost request.
  virtual SubmitResult submit(const NewJob& job) = 0;

  virtual std::optional<JobRecord> find(const JobKey& key) = 0;

  // Claims a runnable job: queued whose available time has come, or running whose
  // lease has expired (its worker died). Fair between tenants: the oldest runnable job
  // of the tenant with the fewest leased jobs (ties: the oldest job), and never a queued
  // job of a tenant that holds max_running_per_tenant leases already. Lapsed leases come
  // after queued jobs (their tenant's count does not change). The claim sets status
  // running, increments attempts and sets lease_until = now + ttl. The caller checks
  // attempts > max_attempts (a job whose workers keep dying) and cancel_requested
  // before running it. Each claim bumps the job's fence (Lease::fence).
  //
  // Up to `max` claims in one transaction (a worker pool claims work for all its idle
  // workers with one durable write), in the order single claims would give them.
  virtual std::vector<Lease> acquire_batch(std::string_view worker_id,
                                           std::chrono::milliseconds ttl, std::size_t max) = 0;
  //
  // acquire_batch, commit_round and next_wakeup see only the built-in lane (jobs whose
  // NewJob::lane is ""): a job of another lane is never claimed by a worker pool.
  //
  // acquire_lane: the same claims (fairness, bounds, lapsed leases after queued jobs)
  // among the jobs of `lane` only (a non-empty lane: a remote action's dispatcher), and
  // of `tenant` only unless it is "".
  virtual std::vector<Lease> acquire_lane(std::string_view lane, std::string_view tenant,
                                          std::string_view worker_id, std::chrono::milliseconds ttl,
                                          std::size_t max) = 0;
  // acquire_lane(), also telling whether a runnable job of the lane may have been left
  // queued for its tenant's bound (lane_cap): only then can a lease of the lane that
  // ends make a job claimable that this call did not take. A backend that does not
  // know says true (the default).
  struct LaneClaims {
    std::vector<Lease> leases;
    bool capped = true;
  };
  virtual LaneClaims claim_lane(std::string_view lane, std::string_view tenant,
                                std::string_view worker_id, std::chrono::milliseconds ttl,
                                std::size_t max) {
    return {acquire_lane(lane, tenant, worker_id, ttl, max), true};
  }
  // acquire_batch() of one.
  std::optional<Lease> acquire(std::string_view worker_id, std::chrono::milliseconds ttl) {
    auto leases = acquire_batch(worker_id, ttl, 1);
    if (leases.empty()) return std::nullopt;
    return std::move(leases.front());
  }

  // Extends the lease of the claim that got `fence`. Reports whether that claim still
  // holds the job (running, and not claimed since) and whether a cancel was requested.
  virtual LeaseState renew(std::string_view job_id, std::int64_t fence,
                           std::chrono::milliseconds ttl) = 0;

  // Replaces the latest progress of each job whose fence is still current (others are
  // ignored), in one transaction where the backend can.
  virtual void save_progress_batch(const std::vector<ProgressItem>& items) = 0;

  struct FinishItem {
    std::string job_id;
    std::int64_t fence = 0;  // of the claim that ran the job
    JobStatus terminal = JobStatus::kSucceeded;
    std::string outcome_json;
    std::string final_progress_json;  // written with the outcome when non-empty
    // The job's lane (NewJob::lane). A batch of lane jobs only (a remote dispatcher's)
    // may go to the store on a connection of its own, not queued behind the pools' writes.
    std::string lane{};
  };
  // Records each job's one terminal outcome (and its final progress in the same write),
  // in one transaction where the backend can; result[i] answers items[i]. An item is
  // recorded only if its job is running and `fence` is its current fence. If a cancel
  // was requested first, the job ends CANCELLED instead of `terminal` (see FinishResult),
  // so a request whose cancel was answered `cancelling` never ends in anything else.
  virtual std::vector<FinishResult> finish_batch(const std::vector<FinishItem>& items) = 0;
  // finish_batch() of one.
  FinishResult finish_job(std::string_view job_id, std::int64_t fence, JobStatus terminal,
                          std::string_view outcome_json,
                          std::string_view final_progress_json = {}) {
    return finish_batch({FinishItem{std::string(job_id), fence, terminal, std::string(outcome_json),
                                    std::string(final_progress_json)}})
        .front();
  }
  // finish_job(); true if this call ended the job.
  bool finish(std::string_view job_id, std::int64_t fence, JobStatus terminal,
              std::string_view outcome_json, std::string_view final_progress_json = {}) {
    return finish_job(job_id, fence, terminal, outcome_json, final_progress_json).ended;
  }

  // A progress event of the attempt holding `fence` on job_id, sent to the request's
  // subscribers only while that fence is current (EventBus::publish_progress).
  struct ProgressEvent {
    JobKey key;
    std::string job_id;
    std::int64_t fence = 0;
    std::string message;
  };

  // One group commit of everything a worker pool's store thread gathered: `finishes`
  // (as finish_batch), `submits` (as submit, in order) and up to
  // `max_claims` claims (as acquire_batch): jobs runnable before the round first, then
  // this round's new jobs in order (each only while its tenant is under
  // max_running_per_tenant), whose `submitted` record then shows them leased.
  // One transaction where the backend can: all of it or none is durable.
  struct Round {
    // Sent before the round's finishes, in order; only to a store that publishes_events().
    std::vector<ProgressEvent> progress_events;
    std::vector<FinishItem> finishes;
    std::vector<NewJob> submits;
    std::string worker_id;  // holder of the claims
    std::chrono::milliseconds lease_ttl{};
    std::size_t max_claims = 0;
    // false: the caller knows that nothing in the store was runnable before this round
    // (a hint that saves looking: the backend may then claim only the round's new jobs),
    // and next_wakeup is not computed.
    bool claim_runnable = true;
    // The round's new kWaitingLane jobs may be inserted already leased to worker_id (for
    // the caller's waiting lane, which has room for this many), saving the lane's own
    // claim: only when they all fit (no more of them than this) and no job of the lane
    // was runnable and unclaimed before the round, so none overtakes an older one; each
    // only within its tenant's max_waiting_per_tenant. 0: none. A backend may lease
    // none (they then wait for acquire_lane, as with 0).
    std::size_t max_waiting_claims = 0;

    // How many of `submits` are kWaitingLane jobs.
    std::size_t waiting_submit_count() const {
      std::size_t n = 0;
      for (const auto& job : submits) n += job.lane == kWaitingLane;
      return n;
    }
    // Whether its waiting jobs may be leased as max_waiting_claims allows: some, all fitting.
    bool waiting_submits_fit() const {
      const std::size_t n = waiting_submit_count();
      return n > 0 && n <= max_waiting_claims;
    }
  };
  struct RoundResult {
    std::vector<FinishResult> finished;   // per finishes[i]
    std::vector<SubmitResult> submitted;  // per submits[i]
    std::vector<Lease> claimed;
    std::vector<Lease> waiting_claimed;  // new kWaitingLane jobs leased (max_waiting_claims)
    // When claim_runnable and fewer than max_claims (> 0) were claimed: the earliest
    // time a queued job becomes runnable or a lease expires, after the round.
    std::optional<SystemTime> next_wakeup;
    // Runnable jobs were left queued because their tenants hold max_running_per_tenant
    // leases: a finish or release of one of those tenants' jobs makes them claimable.
    bool capped = false;
  };
  virtual RoundResult commit_round(const Round& round) = 0;
  // Whether this store sends request events itself, in the writes of commit_round (a
  // round's progress events, and each outcome it records: FinishResult::published), so
  // they reach subscribers wherever they are held, in order with the outcome.
  virtual bool publishes_events() const { return false; }

  // Gives a leased job back to the queue, runnable again at `available_at` (retry
  // with backoff, or shutdown), or at once if a cancel was requested (its next claim
  // ends it CANCELLED without running it). refund_attempt undoes the lease's attempt
  // count (a shutdown is not the job's fault). Returns false if the claim that got
  // `fence` no longer holds it.
  virtual bool release(std::string_view job_id, std::int64_t fence, SystemTime available_at,
                       std::string_view last_error, bool refund_attempt = false) = 0;

  // Cancels by key. A queued job ends at once with `cancelled_outcome_json`; a
  // running one is flagged for its worker and keeps `cancelled_outcome_json`, which its
  // finish records whatever the worker reports; a finished one is left alone. The store
  // decides between this and a finish: one of them comes first.
  virtual CancelOutcome request_cancel(const JobKey& key,
                                       std::string_view cancelled_outcome_json) = 0;

  // Deletes terminal jobs finished before `cutoff`; returns how many.
  virtual std::size_t purge_finished_before(SystemTime cutoff) = 0;

  // The earliest time a queued job becomes runnable or a lease expires, if any;
  // lets idle workers sleep exactly as long as needed.
  virtual std::optional<SystemTime> next_wakeup() = 0;

  // Blocks until work may have become runnable for a claim (a submit, release or
  // cancel by any process sharing the store) or until `deadline`; true when woken by
  // such a change. For stores shared only within one process it returns false at once:
  // their writers notify the pool directly.
  virtual bool wait_for_work(std::chrono::steady_clock::time_point deadline) {
    (void)deadline;
    return false;
  }

  // wait_for_work() for the jobs of `lanes` (remote actions' lanes): blocks until a
  // submit or release of one of their jobs, by any process sharing the store, or a claim
  // that left work in one, or until `deadline`; true when so woken. Stores shared only
  // within one process return false at once (their submits notify the dispatcher).
  virtual bool wait_for_lane_work(const std::vector<std::string>& lanes,
                                  std::chrono::steady_clock::time_point deadline) {
    (void)lanes;
    (void)deadline;
    return false;
  }

  // ---------------------------------------------------------------- admin API (reads,
  // retry, scoped purge). Backends that do not implement them throw std::runtime_error.

  // Up to query.limit jobs within query.scope matching every filter, newest first.
  virtual JobPage list_jobs(const JobQuery& query);
  // Queued jobs within `scope`, per action, with the oldest one's creation time.
  virtual std::vector<QueueStat> queue_stats(const JobScope& scope);
  // Up to `limit` jobs of `scope` that ended failed, the most recently finished first.
  virtual std::vector<JobRecord> recent_failures(const JobScope& scope, std::size_t limit);
  // Puts a failed job back in the queue, runnable now, as a new attempt of the same
  // request: attempts keep counting, max_attempts becomes attempts + extra_attempts, the
  // outcome, finish time and progress are cleared and last_error records `note`.
  // A job in any other status is left alone (kNotFailed).
  virtual RequeueResult requeue_failed(const JobKey& key, int extra_attempts,
                                       std::string_view note);
  // Deletes the jobs of `scope` that finished before `cutoff`; returns how many.
  virtual std::size_t purge_finished(const JobScope& scope, SystemTime cutoff);
  // The job's progress history, oldest step first (empty for an unknown key).
  virtual std::vector<ProgressStep> progress_history(const JobKey& key);

  // ---------------------------------------------------------------- remote actions
  // The registry of remote actions shared by every gateway on the store: an entry names
  // an action, its spec as registered (JSON text) and the tenant its registering worker
  // serves ("": every tenant), and lives until expires_at, which the gateways holding a
  // worker of the action keep pushing forward. Backends that do not share it throw
  // std::runtime_error.
  struct RemoteActionEntry {
    std::string name;
    std::string spec_json;
    std::string tenant_scope;
    SystemTime expires_at{};
  };
  // Records `entry` live until entry.expires_at (a later expiry of the same entry
  // refreshes it), unless another entry of that name with a different spec_json is
  // live at `now`: then that one is left as it is. Returns the entry live afterwards.
  virtual RemoteActionEntry put_remote_action(const RemoteActionEntry& entry, SystemTime now);
  // The entries live at `now` (expires_at > now), by name.
  virtual std::vector<RemoteActionEntry> live_remote_actions(SystemTime now);

  // The per-tenant bound on leases within `lane`: max_running_per_tenant for the
  // built-in lane, max_waiting_per_tenant for kWaitingLane, none (0) for a remote
  // action's lane (its workers' credits bound it); the leases of other lanes never count.
  std::size_t lane_cap(std::string_view lane) const {
    if (lane.empty()) return limits_.max_running_per_tenant;
    if (lane == kWaitingLane) return limits_.max_waiting_per_tenant;
    return 0;
  }

  // ---------------------------------------------------------------- batched renewals.
  struct RenewItem {
    std::string job_id;
    std::int64_t fence = 0;  // of the claim whose lease is extended
  };
  // renew() of each item with the same `ttl`, in one transaction (or one round trip)
  // where the backend can; result[i] answers items[i]. An item whose claim no longer
  // holds its job (lapsed and claimed again, ended, unknown) answers owned=false and
  // changes nothing; the other items are renewed all the same. This default renews one
  // item at a time.
  virtual std::vector<LeaseState> renew_batch(const std::vector<RenewItem>& items,
                                              std::chrono::milliseconds ttl);

 protected:
  JobLimits limits_;
};

}  // namespace streamer
