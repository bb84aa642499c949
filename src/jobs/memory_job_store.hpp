// An in-memory JobStore for unit tests only: same contract as the durable backends,
// nothing survives the process. Not final: a test may override a call to make the
// store fail.
#pragma once

#include <deque>
#include <map>
#include <mutex>

#include "jobs/job_store.hpp"

namespace streamer {

class MemoryJobStore : public JobStore {
 public:
  SubmitResult submit(const NewJob& job) override;
  std::optional<JobRecord> find(const JobKey& key) override;
  std::vector<Lease> acquire_batch(std::string_view worker_id, std::chrono::milliseconds ttl,
                                   std::size_t max) override;
  std::vector<Lease> acquire_lane(std::string_view lane, std::string_view tenant,
                                  std::string_view worker_id, std::chrono::milliseconds ttl,
                                  std::size_t max) override;
  LaneClaims claim_lane(std::string_view lane, std::string_view tenant, std::string_view worker_id,
                        std::chrono::milliseconds ttl, std::size_t max) override;
  RoundResult commit_round(const Round& round) override;
  LeaseState renew(std::string_view job_id, std::int64_t fence,
                   std::chrono::milliseconds ttl) override;
  void save_progress_batch(const std::vector<ProgressItem>& items) override;
  std::vector<FinishResult> finish_batch(const std::vector<FinishItem>& items) override;
  bool release(std::string_view job_id, std::int64_t fence, SystemTime available_at,
               std::string_view last_error, bool refund_attempt) override;
  CancelOutcome request_cancel(const JobKey& key, std::string_view cancelled_outcome_json) override;
  std::size_t purge_finished_before(SystemTime cutoff) override;
  std::optional<SystemTime> next_wakeup() override;

  // Admin API (memory_job_store_queries.cpp).
  JobPage list_jobs(const JobQuery& query) override;
  std::vector<QueueStat> queue_stats(const JobScope& scope) override;
  std::vector<JobRecord> recent_failures(const JobScope& scope, std::size_t limit) override;
  RequeueResult requeue_failed(const JobKey& key, int extra_attempts,
                               std::string_view note) override;
  std::size_t purge_finished(const JobScope& scope, SystemTime cutoff) override;
  std::vector<ProgressStep> progress_history(const JobKey& key) override;

  // One lock (memory) or one script per partition (Redis) for all items.
  std::vector<LeaseState> renew_batch(const std::vector<RenewItem>& items,
                                      std::chrono::milliseconds ttl) override;

 private:
  struct Row {
    JobRecord record;
    SystemTime available_at{};
    std::string lease_owner;
    SystemTime lease_until{};
    std::int64_t fence = 0;            // bumped per claim
    std::deque<ProgressStep> history;  // the latest progress_history_steps steps
  };
  // Adds a step (the row's current attempt, now) to the row's progress history, keeping
  // the latest limits_.progress_history_steps; nothing for an empty progress.
  void append_progress_locked(Row& row, const std::string& progress_json);
  Row* by_key(const JobKey& key);
  // The job if it is running under the claim that got `fence`.
  Row* leased(std::string_view job_id, std::int64_t fence);
  // The *_locked helpers expect mutex_ held.
  // Inserts (queued, or leased to `lease_owner` until `lease_until` when given) unless
  // the key exists or a queued bound refuses it.
  SubmitResult submit_locked(const NewJob& job, const std::string* lease_owner = nullptr,
                             SystemTime lease_until = {});
  // Claims within `lane` ("" is the built-in lane) and `tenant` ("": any); sets *capped
  // when a runnable job was left for its tenant's bound.
  std::vector<Lease> acquire_locked(std::string_view lane, std::string_view worker_id,
                                    std::chrono::milliseconds ttl, std::size_t max,
                                    std::string_view tenant = {}, bool* capped = nullptr);
  Lease lease_locked(Row& row, std::string_view worker_id, SystemTime now,
                     std::chrono::milliseconds ttl);
  FinishResult finish_locked(const FinishItem& item);
  // Running jobs of the built-in lane of `tenant` (what max_running_per_tenant bounds).
  std::size_t running_builtin_locked(std::string_view tenant) const;
  // Leased jobs of the tenant in `lane`.
  std::size_t running_in_lane_locked(std::string_view tenant, std::string_view lane) const;
  // Whether the round's new kWaitingLane jobs are inserted leased (Round::max_waiting_claims):
  // they all fit, and no job of the lane is runnable and unclaimed at `t`.
  bool may_lease_waiting_locked(const Round& round, SystemTime t) const;
  std::size_t count_locked(JobStatus status, std::string_view tenant,
                           const std::string* user = nullptr) const;
  // Some queued job of `lane` (and of `tenant`, unless "") is runnable at `t`. After a
  // claim that left room, such a job waits for its tenant's bound.
  bool runnable_queued_locked(SystemTime t, std::string_view lane,
                              std::string_view tenant = {}) const;
  // The earliest future time a queued job becomes runnable, or a lease expires.
  std::optional<SystemTime> next_wakeup_locked(SystemTime after) const;

  std::mutex mutex_;
  std::map<std::int64_t, Row> rows_;  // by job id, i.e. in submission order
  std::int64_t next_id_ = 1;

 public:
  RemoteActionEntry put_remote_action(const RemoteActionEntry& entry, SystemTime now) override;
  std::vector<RemoteActionEntry> live_remote_actions(SystemTime now) override;

 private:
  std::map<std::string, RemoteActionEntry> remote_actions_;  // by name
};

}  // namespace streamer
