// The durable store of async requests. One interface, several backends: embedded
// SQLite (the default), Redis (scale-out; streams + hashes fit the same calls) and an
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
};

// Bounds the store enforces on each tenant's and user's async work; 0: no bound.
struct JobLimits {
  std::size_t max_queued_per_tenant = 0;  // jobs waiting to run (status queued), per tenant
  std::size_t max_queued_per_user = 0;    // the same, per (tenant, user)
  std::size_t max_running_per_tenant =
      0;  // jobs leased (running, or claimed to run next), per tenant
};

// Which bound refused a submit.
enum class QueueLimit { kNone, kQueuedPerTenant, kQueuedPerUser };
std::string_view to_string(QueueLimit limit) noexcept;  // "queued_per_tenant", "queued_per_user"

struct JobRecord {
  std::string job_id;  // store-assigned, opaque
  JobKey key;
  std::string action;
  std::string payload_json;
  std::string trace_id;
  JobStatus status = JobStatus::kQueued;
  int attempts = 0;      // leases taken so far
  int max_attempts = 3;
  bool cancel_requested = false;
  std::string progress_json;  // body of the latest `progress` message, "" if none
  // Whole terminal message (`result` or `error`), "" until terminal; while a cancel is
  // requested, the CANCELLED message its finish will record.
  std::string outcome_json;
  std::string last_error;     // last retryable failure, for diagnostics
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
};

struct LeaseState {
  bool owned = false;             // false: the lease expired and was taken over, or the job ended
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

  // submit() for several jobs at once, in one transaction where the backend can
  // (group commit: many clients' requests share one durable write).
  virtual std::vector<SubmitResult> submit_batch(const std::vector<NewJob>& jobs) {
    std::vector<SubmitResult> out;
    out.reserve(jobs.size());
    for (const auto& job : jobs) out.push_back(submit(job));
    return out;
  }

  virtual std::optional<JobRecord> find(const JobKey& key) = 0;

  // Claims a runnable job: queued whose available time has come, or running whose
  // lease has expired (its worker died). Fair between tenants: the oldest runnable job
  // of the tenant with the fewest leased jobs (ties: the oldest job), and never a queued
  // job of a tenant that holds max_running_per_tenant leases already. Lapsed leases come
  // after queued jobs (their tenant's count does not change). The claim sets status
  // running, increments attempts and sets lease_until = now + ttl. The caller checks
  // attempts > max_attempts (a job whose workers keep dying) and cancel_requested
  // before running it.
  virtual std::optional<Lease> acquire(std::string_view worker_id, std::chrono::milliseconds ttl) = 0;

  // acquire() up to `max` times in one transaction (a worker pool claims work for all
  // its idle workers with one durable write), in the order acquire() would give them.
  virtual std::vector<Lease> acquire_batch(std::string_view worker_id, std::chrono::milliseconds ttl,
                                           std::size_t max) {
    std::vector<Lease> out;
    while (out.size() < max) {
      auto lease = acquire(worker_id, ttl);
      if (!lease) break;
      out.push_back(std::move(*lease));
    }
    return out;
  }

  // Extends a lease held by worker_id. Reports whether it is still held and whether
  // a cancel was requested meanwhile.
  virtual LeaseState renew(std::string_view job_id, std::string_view worker_id,
                           std::chrono::milliseconds ttl) = 0;

  // Replaces the latest progress (only while worker_id holds the lease).
  virtual void save_progress(std::string_view job_id, std::string_view worker_id,
                             std::string_view progress_json) = 0;

  // save_progress() for several jobs of one lease holder, in one transaction where the
  // backend can. Items are (job_id, progress_json).
  virtual void save_progress_batch(std::string_view worker_id,
                                   const std::vector<std::pair<std::string, std::string>>& items) {
    for (const auto& [job_id, progress] : items) save_progress(job_id, worker_id, progress);
  }

  // Records the job's one terminal outcome (and, when non-empty, its final progress in
  // the same write). Succeeds only if the job is not terminal and worker_id holds the
  // lease. If a cancel was requested first, the job ends CANCELLED instead of
  // `terminal` (see FinishResult), so a request whose cancel was answered `cancelling`
  // never ends in anything else.
  virtual FinishResult finish_job(std::string_view job_id, std::string_view worker_id,
                                  JobStatus terminal, std::string_view outcome_json,
                                  std::string_view final_progress_json = {}) = 0;
  // finish_job(); true if this call ended the job.
  bool finish(std::string_view job_id, std::string_view worker_id, JobStatus terminal,
              std::string_view outcome_json, std::string_view final_progress_json = {}) {
    return finish_job(job_id, worker_id, terminal, outcome_json, final_progress_json).ended;
  }

  struct FinishItem {
    std::string job_id;
    JobStatus terminal = JobStatus::kSucceeded;
    std::string outcome_json;
    std::string final_progress_json;
  };
  // finish_job() for several jobs in one transaction; result[i] answers items[i].
  virtual std::vector<FinishResult> finish_batch(std::string_view worker_id,
                                                 const std::vector<FinishItem>& items) {
    std::vector<FinishResult> out;
    out.reserve(items.size());
    for (const auto& i : items) {
      out.push_back(
          finish_job(i.job_id, worker_id, i.terminal, i.outcome_json, i.final_progress_json));
    }
    return out;
  }

  // One group commit of everything a worker pool's store thread gathered: `finishes`
  // (as finish_batch with `worker_id`), `submits` (as submit_batch) and up to
  // `max_claims` claims (as acquire_batch): jobs runnable before the round first, then
  // this round's new jobs in order (each only while its tenant is under
  // max_running_per_tenant), whose `submitted` record then shows them leased.
  // One transaction where the backend can: all of it or none is durable.
  struct Round {
    std::vector<FinishItem> finishes;
    std::vector<NewJob> submits;
    std::string worker_id;
    std::chrono::milliseconds lease_ttl{};
    std::size_t max_claims = 0;
    // false: the caller knows that nothing in the store was runnable before this round
    // (a hint that saves looking: the backend may then claim only the round's new jobs),
    // and next_wakeup is not computed.
    bool claim_runnable = true;
  };
  struct RoundResult {
    std::vector<FinishResult> finished;   // per finishes[i]
    std::vector<SubmitResult> submitted;  // per submits[i]
    std::vector<Lease> claimed;
    // When claim_runnable and fewer than max_claims (> 0) were claimed: the earliest
    // time a queued job becomes runnable or a lease expires, after the round.
    std::optional<SystemTime> next_wakeup;
    // Runnable jobs were left queued because their tenants hold max_running_per_tenant
    // leases: a finish or release of one of those tenants' jobs makes them claimable.
    bool capped = false;
  };
  virtual RoundResult commit_round(const Round& round);

  // Gives a leased job back to the queue, runnable again at `available_at` (retry
  // with backoff, or shutdown), or at once if a cancel was requested (its next claim
  // ends it CANCELLED without running it). refund_attempt undoes the lease's attempt
  // count (a shutdown is not the job's fault). Returns false if worker_id no longer
  // holds it.
  virtual bool release(std::string_view job_id, std::string_view worker_id, SystemTime available_at,
                       std::string_view last_error, bool refund_attempt = false) = 0;

  // Cancels by key. A queued job ends at once with `cancelled_outcome_json`; a
  // running one is flagged for its worker and keeps `cancelled_outcome_json`, which its
  // finish records whatever the worker reports; a finished one is left alone. The store
  // decides between this and a finish: one of them comes first.
  virtual CancelOutcome request_cancel(const JobKey& key, std::string_view cancelled_outcome_json) = 0;

  // Deletes terminal jobs finished before `cutoff`; returns how many.
  virtual std::size_t purge_finished_before(SystemTime cutoff) = 0;

  // The earliest time a queued job becomes runnable or a lease expires, if any;
  // lets idle workers sleep exactly as long as needed.
  virtual std::optional<SystemTime> next_wakeup() = 0;

 protected:
  JobLimits limits_;
};

}  // namespace streamer
