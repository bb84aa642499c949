// The embedded default JobStore: one SQLite database in WAL mode under --data-dir.
// Every call is one short transaction; several processes may share the file
// (SQLite's locking plus busy_timeout), and within a process a mutex serialises
// use of the single connection.
#pragma once

#include <filesystem>
#include <mutex>
#include <string>
#include <unordered_map>

#include "jobs/job_store.hpp"

struct sqlite3;
struct sqlite3_stmt;

namespace streamer {

struct SqliteJobStoreOptions {
  std::filesystem::path path;      // database file (":memory:" for tests)
  bool synchronous_full = false;   // FULL: fsync every commit (power-loss durable); NORMAL: WAL,
                                   // durable across process crashes, fsync at checkpoints
};

class SqliteJobStore final : public JobStore {
 public:
  // Opens (creating if needed) the database and its schema. Throws std::runtime_error.
  explicit SqliteJobStore(SqliteJobStoreOptions options);
  ~SqliteJobStore() override;

  SubmitResult submit(const NewJob& job) override;
  std::vector<SubmitResult> submit_batch(const std::vector<NewJob>& jobs) override;
  std::optional<JobRecord> find(const JobKey& key) override;
  std::optional<Lease> acquire(std::string_view worker_id, std::chrono::milliseconds ttl) override;
  std::vector<Lease> acquire_batch(std::string_view worker_id, std::chrono::milliseconds ttl,
                                   std::size_t max) override;
  std::vector<FinishResult> finish_batch(std::string_view worker_id,
                                         const std::vector<FinishItem>& items) override;
  RoundResult commit_round(const Round& round) override;
  LeaseState renew(std::string_view job_id, std::string_view worker_id,
                   std::chrono::milliseconds ttl) override;
  void save_progress(std::string_view job_id, std::string_view worker_id,
                     std::string_view progress_json) override;
  void save_progress_batch(std::string_view worker_id,
                           const std::vector<std::pair<std::string, std::string>>& items) override;
  FinishResult finish_job(std::string_view job_id, std::string_view worker_id, JobStatus terminal,
                          std::string_view outcome_json,
                          std::string_view final_progress_json) override;
  bool release(std::string_view job_id, std::string_view worker_id, SystemTime available_at,
               std::string_view last_error, bool refund_attempt) override;
  CancelOutcome request_cancel(const JobKey& key, std::string_view cancelled_outcome_json) override;
  std::size_t purge_finished_before(SystemTime cutoff) override;
  std::optional<SystemTime> next_wakeup() override;

 private:
  class Statement;
  // Leased jobs per tenant, read from the store on first use within one transaction
  // and kept up to date by that transaction's claims.
  class TenantLeases;
  std::optional<JobRecord> find_locked(const JobKey& key);
  // Inserts the job unless its key exists; with `lease`, inserted already leased (running,
  // first attempt) to lease->worker_id until lease->lease_until; without, refused when a
  // queued bound is reached.
  SubmitResult submit_locked(const NewJob& job, const std::optional<Lease>& lease = std::nullopt);
  // Queued jobs of the tenant (of the user, when given), counted up to `limit`.
  std::size_t count_queued_locked(const std::string& tenant, const std::string* user,
                                  std::size_t limit);
  std::vector<SubmitResult> submit_all_locked(const std::vector<NewJob>& jobs);
  std::vector<FinishResult> finish_all_locked(std::string_view worker_id,
                                              const std::vector<FinishItem>& items);
  void save_progress_locked(std::string_view job_id, std::string_view worker_id, std::string_view progress_json);
  // Claims up to `max` runnable jobs in the order of JobStore::acquire(): queued ones
  // fairly across tenants within max_running_per_tenant, then lapsed leases. Sets
  // *capped when a runnable job was left for its tenant's bound.
  std::vector<Lease> acquire_locked(std::string_view worker_id, std::chrono::milliseconds ttl,
                                    std::size_t max, TenantLeases& leases, bool* capped = nullptr);
  // Tenants that have queued jobs (runnable or not), by a skip scan of their index.
  std::vector<std::string> queued_tenants_locked();
  // The earliest time a queued job becomes runnable (after `after_ms`, when given) or a
  // lease expires.
  std::optional<SystemTime> next_wakeup_locked(std::optional<std::int64_t> after_ms = std::nullopt);
  FinishResult finish_locked(std::string_view job_id, std::string_view worker_id,
                             JobStatus terminal, std::string_view outcome_json,
                             std::string_view final_progress_json);
  // Runs fn() inside BEGIN IMMEDIATE ... COMMIT (ROLLBACK if it throws).
  template <class Fn>
  auto in_transaction(Fn&& fn);
  // Leases the jobs chosen by `select_sql` (a SELECT of job_ids with ?3 = now, ?4 = limit)
  // and appends them to `out`.
  void claim_locked(const char* select_sql, std::string_view worker_id, std::chrono::milliseconds ttl,
                    std::size_t max, std::vector<Lease>& out);
  void exec(const char* sql);
  // The cached prepared statement for `sql` (caller holds mutex_).
  sqlite3_stmt* prepared(const std::string& sql);

  std::mutex mutex_;
  sqlite3* db_ = nullptr;
  std::unordered_map<std::string, sqlite3_stmt*> statements_;
};

}  // namespace streamer
