// The embedded default JobStore: one SQLite database in WAL mode under --data-dir.
// Every call is one short transaction; several processes may share the file
// (SQLite's locking plus busy_timeout), and within a process a mutex serialises
// use of the single connection.
#pragma once

#include <filesystem>
#include <mutex>
#include <string>
#include <unordered_map>

#include "core/sqlite_db.hpp"
#include "jobs/job_store.hpp"

namespace streamer {

struct SqliteJobStoreOptions {
  std::filesystem::path path;     // database file (":memory:" for tests)
  bool synchronous_full = false;  // FULL: fsync every commit (power-loss durable); NORMAL: WAL,
                                  // durable across process crashes, fsync at checkpoints
};

class SqliteJobStore final : public JobStore {
 public:
  // Opens (creating if needed) the database and its schema. Throws sqlite::Error (a
  // std::runtime_error).
  explicit SqliteJobStore(SqliteJobStoreOptions options);
  ~SqliteJobStore() override;

  SubmitResult submit(const NewJob& job) override;
  std::optional<JobRecord> find(const JobKey& key) override;
  std::vector<Lease> acquire_batch(std::string_view worker_id, std::chrono::milliseconds ttl,
                                   std::size_t max) override;
  std::vector<Lease> acquire_lane(std::string_view lane, std::string_view tenant,
                                  std::string_view worker_id, std::chrono::milliseconds ttl,
                                  std::size_t max) override;
  LaneClaims claim_lane(std::string_view lane, std::string_view tenant, std::string_view worker_id,
                        std::chrono::milliseconds ttl, std::size_t max) override;
  std::vector<FinishResult> finish_batch(const std::vector<FinishItem>& items) override;
  RoundResult commit_round(const Round& round) override;
  LeaseState renew(std::string_view job_id, std::int64_t fence,
                   std::chrono::milliseconds ttl) override;
  void save_progress_batch(const std::vector<ProgressItem>& items) override;
  bool release(std::string_view job_id, std::int64_t fence, SystemTime available_at,
               std::string_view last_error, bool refund_attempt) override;
  CancelOutcome request_cancel(const JobKey& key, std::string_view cancelled_outcome_json) override;
  std::size_t purge_finished_before(SystemTime cutoff) override;
  std::optional<SystemTime> next_wakeup() override;

  // Admin API reads, retry and scoped purge (sqlite_job_store_queries.cpp).
  JobPage list_jobs(const JobQuery& query) override;
  std::vector<QueueStat> queue_stats(const JobScope& scope) override;
  std::vector<JobRecord> recent_failures(const JobScope& scope, std::size_t limit) override;
  RequeueResult requeue_failed(const JobKey& key, int extra_attempts,
                               std::string_view note) override;
  std::size_t purge_finished(const JobScope& scope, SystemTime cutoff) override;
  std::vector<ProgressStep> progress_history(const JobKey& key) override;

  // One transaction for all items.
  std::vector<LeaseState> renew_batch(const std::vector<RenewItem>& items,
                                      std::chrono::milliseconds ttl) override;

 private:
  class Statement;
  // Leased jobs per tenant, read from the store on first use within one transaction
  // and kept up to date by that transaction's claims.
  class TenantLeases;
  // Queued jobs per tenant and per user, counted on first use within one transaction and
  // kept up to date by that transaction's submits.
  class QueuedCounts;
  std::optional<JobRecord> find_locked(const JobKey& key);
  // Inserts the job unless its key exists; with `lease`, inserted already leased (running,
  // first attempt) to lease->worker_id until lease->lease_until; without, refused when a
  // queued bound is reached. `queued` belongs to the caller's transaction.
  SubmitResult submit_locked(const NewJob& job, QueuedCounts& queued,
                             const std::optional<Lease>& lease = std::nullopt);
  // Queued jobs of the tenant (of the user, when given), counted up to `limit`.
  std::size_t count_queued_locked(const std::string& tenant, const std::string* user,
                                  std::size_t limit);
  std::vector<FinishResult> finish_all_locked(const std::vector<FinishItem>& items);
  // Whether the round's new kWaitingLane jobs are inserted leased (Round::max_waiting_claims):
  // they all fit, and no job of the lane is runnable and unclaimed.
  bool may_lease_waiting_locked(const Round& round);
  // Claims up to `max` runnable jobs of `lane` (and of `tenant`, unless "") in the order of
  // JobStore::acquire(): queued ones fairly across tenants within max_running_per_tenant, then
  // lapsed leases. Sets *capped when a runnable job was left for its tenant's bound.
  std::vector<Lease> acquire_locked(std::string_view lane, std::string_view worker_id,
                                    std::chrono::milliseconds ttl, std::size_t max,
                                    TenantLeases& leases, bool* capped = nullptr,
                                    std::string_view tenant = {});
  // Tenants that have queued jobs of `lane` (runnable or not), by a skip scan of its index.
  std::vector<std::string> queued_tenants_locked(std::string_view lane);
  // The earliest time a queued job becomes runnable (after `after_ms`, when given) or a
  // lease expires.
  std::optional<SystemTime> next_wakeup_locked(std::optional<std::int64_t> after_ms = std::nullopt);
  FinishResult finish_locked(const FinishItem& item);
  // Adds a step to the job's progress history (its current attempt, at `now`) and drops
  // the steps beyond limits_.progress_history_steps; nothing for an empty progress.
  void append_progress_locked(std::int64_t job_id, const std::string& progress_json,
                              std::int64_t now);
  // Runs fn() inside BEGIN IMMEDIATE ... COMMIT (ROLLBACK if it throws).
  template <class Fn>
  auto in_transaction(Fn&& fn);
  // Leases the jobs chosen by `select_sql` (a SELECT of job_ids with ?3 = now, ?4 = limit,
  // ?5 = lane, ?6 = tenant or "") and appends them to `out`.
  void claim_locked(const char* select_sql, std::string_view lane, std::string_view tenant,
                    std::string_view worker_id, std::chrono::milliseconds ttl, std::size_t max,
                    std::vector<Lease>& out);
  // The cached prepared statement for `sql` (caller holds mutex_).
  sqlite::Statement& prepared(const std::string& sql);

  std::mutex mutex_;
  sqlite::Database db_;
  std::unordered_map<std::string, sqlite::Statement> statements_;  // destroyed before db_

 public:
  // A table of its own, remote_actions, created on first use.
  RemoteActionEntry put_remote_action(const RemoteActionEntry& entry, SystemTime now) override;
  std::vector<RemoteActionEntry> live_remote_actions(SystemTime now) override;

 private:
  void ensure_remote_actions_table_locked();
  bool remote_actions_table_ = false;
};

}  // namespace streamer
