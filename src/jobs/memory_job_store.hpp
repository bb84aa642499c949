// An in-memory JobStore for unit tests only: same contract as the durable backends,
// nothing survives the process.
#pragma once

#include <map>
#include <mutex>

#include "jobs/job_store.hpp"

namespace streamer {

class MemoryJobStore final : public JobStore {
 public:
  SubmitResult submit(const NewJob& job) override;
  std::optional<JobRecord> find(const JobKey& key) override;
  std::optional<Lease> acquire(std::string_view worker_id, std::chrono::milliseconds ttl) override;
  std::vector<Lease> acquire_batch(std::string_view worker_id, std::chrono::milliseconds ttl,
                                   std::size_t max) override;
  RoundResult commit_round(const Round& round) override;
  LeaseState renew(std::string_view job_id, std::string_view worker_id,
                   std::chrono::milliseconds ttl) override;
  void save_progress(std::string_view job_id, std::string_view worker_id,
                     std::string_view progress_json) override;
  FinishResult finish_job(std::string_view job_id, std::string_view worker_id, JobStatus terminal,
                          std::string_view outcome_json,
                          std::string_view final_progress_json) override;
  bool release(std::string_view job_id, std::string_view worker_id, SystemTime available_at,
               std::string_view last_error, bool refund_attempt) override;
  CancelOutcome request_cancel(const JobKey& key, std::string_view cancelled_outcome_json) override;
  std::size_t purge_finished_before(SystemTime cutoff) override;
  std::optional<SystemTime> next_wakeup() override;

 private:
  struct Row {
    JobRecord record;
    SystemTime available_at{};
    std::string lease_owner;
    SystemTime lease_until{};
  };
  Row* by_key(const JobKey& key);
  Row* leased(std::string_view job_id, std::string_view worker_id);
  // The *_locked helpers expect mutex_ held.
  // Inserts (queued, or leased to `lease_owner` until `lease_until` when given) unless
  // the key exists or a queued bound refuses it.
  SubmitResult submit_locked(const NewJob& job, const std::string* lease_owner = nullptr,
                             SystemTime lease_until = {});
  std::vector<Lease> acquire_locked(std::string_view worker_id, std::chrono::milliseconds ttl,
                                    std::size_t max);
  Lease lease_locked(Row& row, std::string_view worker_id, SystemTime now,
                     std::chrono::milliseconds ttl);
  FinishResult finish_locked(std::string_view job_id, std::string_view worker_id,
                             JobStatus terminal, std::string_view outcome_json,
                             std::string_view final_progress_json);
  std::size_t count_locked(JobStatus status, std::string_view tenant,
                           const std::string* user = nullptr) const;
  // Some queued job is runnable now but its tenant is at max_running_per_tenant.
  bool capped_locked(SystemTime now) const;
  // The earliest future time a queued job becomes runnable, or a lease expires.
  std::optional<SystemTime> next_wakeup_locked(SystemTime after) const;

  std::mutex mutex_;
  std::map<std::int64_t, Row> rows_;  // by job id, i.e. in submission order
  std::int64_t next_id_ = 1;
};

}  // namespace streamer
