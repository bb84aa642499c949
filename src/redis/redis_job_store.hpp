// The JobStore on Redis 7, shared by any number of gateway and worker processes on any
// machines. Each call is one Lua script (EVALSHA) on one partition's keys (see
// job_scripts.hpp); tenants are spread over `partitions` by a hash of the tenant id, so a
// tenant's bounds, fairness and listing stay within one script. Finished jobs expire
// after result_ttl (PEXPIRE), so no process needs a janitor for them.
//
// Durability: a script's writes are acknowledged by the primary. With wait_replicas > 0
// submit, finish and cancel also wait (WAIT) until that many replicas have them, and fail
// (nothing is acknowledged to a client) when they do not within wait_timeout. What an
// asynchronous failover can still lose is described in docs/scaling.md.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "jobs/job_store.hpp"
#include "redis/redis_client.hpp"

namespace streamer::redis {

struct RedisJobStoreOptions {
  std::string url;     // redis://HOST:PORT/DB or redis-sentinel://H1:P1,H2:P2/MASTER
  int partitions = 1;  // hash slots the jobs are spread over (1..1024); the same in every process
  std::chrono::milliseconds result_ttl{std::chrono::hours(24)};  // 0: kept until purged
  int wait_replicas = 0;  // replicas that must have submits and outcomes before they count
  std::chrono::milliseconds wait_timeout{100};
  RedisClientOptions client;
};

// What a cancel did, and who runs the job when it was running (its lease holder, to which
// the cancel can be pushed).
struct RedisCancelResult {
  CancelOutcome outcome = CancelOutcome::kNotFound;
  std::string owner;
};

class RedisJobStore final : public JobStore {
 public:
  // Connects and checks the server: throws std::runtime_error with a clear message when it
  // cannot be reached, or when its maxmemory-policy would evict keys (anything but
  // noeviction), since an evicted job would be lost silently.
  explicit RedisJobStore(RedisJobStoreOptions options);
  ~RedisJobStore() override;

  SubmitResult submit(const NewJob& job) override;
  std::optional<JobRecord> find(const JobKey& key) override;
  std::vector<Lease> acquire_batch(std::string_view worker_id, std::chrono::milliseconds ttl,
                                   std::size_t max) override;
  // Each lane has its own queue indexes in every partition (prefix `s:{N}:L<len>:<lane>:`).
  std::vector<Lease> acquire_lane(std::string_view lane, std::string_view tenant,
                                  std::string_view worker_id, std::chrono::milliseconds ttl,
                                  std::size_t max) override;
  RoundResult commit_round(const Round& round) override;
  LeaseState renew(std::string_view job_id, std::int64_t fence,
                   std::chrono::milliseconds ttl) override;
  void save_progress_batch(const std::vector<ProgressItem>& items) override;
  std::vector<FinishResult> finish_batch(const std::vector<FinishItem>& items) override;
  bool release(std::string_view job_id, std::int64_t fence, SystemTime available_at,
               std::string_view last_error, bool refund_attempt) override;
  CancelOutcome request_cancel(const JobKey& key, std::string_view cancelled_outcome_json) override;
  // request_cancel(), also naming the lease holder of a running job.
  RedisCancelResult cancel(const JobKey& key, std::string_view cancelled_outcome_json);
  std::size_t purge_finished_before(SystemTime cutoff) override;
  std::optional<SystemTime> next_wakeup() override;
  // Blocks on the partitions' wake markers (BZPOPMIN) on a connection of its own.
  bool wait_for_work(std::chrono::steady_clock::time_point deadline) override;
  // Blocks on the lanes' wake markers in every partition (BZPOPMIN) on another
  // connection of its own.
  bool wait_for_lane_work(const std::vector<std::string>& lanes,
                          std::chrono::steady_clock::time_point deadline) override;

  // Admin API (redis_job_store_admin.cpp).
  JobPage list_jobs(const JobQuery& query) override;
  std::vector<QueueStat> queue_stats(const JobScope& scope) override;
  std::vector<JobRecord> recent_failures(const JobScope& scope, std::size_t limit) override;
  RequeueResult requeue_failed(const JobKey& key, int extra_attempts,
                               std::string_view note) override;
  std::size_t purge_finished(const JobScope& scope, SystemTime cutoff) override;
  std::vector<ProgressStep> progress_history(const JobKey& key) override;

  // The partition (0..partitions-1) of a tenant's jobs, and its key prefix `s:{N}:`.
  int partition_of(std::string_view tenant) const;
  static std::string prefix(int partition);
  // The wake marker of a lane's claimers (set by its submits and releases, re-set by a
  // claim that left work): `s:{N}:L<length>:<lane>:wake`.
  static std::string lane_wake_key(int partition, std::string_view lane);
  // The hash of a job (fields `st` and `fence` among others): what a fenced publish
  // checks. Throws std::invalid_argument for an id not of this store.
  std::string job_hash_key(std::string_view job_id) const;
  // Renewals, progress, finishes and releases refused so far because their fence was no
  // longer the job's current one (or the job no longer ran); each is also logged as
  // `stale_write_refused`.
  std::uint64_t stale_writes_refused() const { return stale_writes_refused_.load(); }
  RedisClient& client() { return *client_; }
  // From now on every created job registers `gateway` for its events (the event bus'
  // set under event_key_prefix, kept for `ttl`) in the script that creates it. Called
  // once, before the first submit, by a process whose event bus is this Redis.
  void register_submitter(std::string gateway, std::chrono::milliseconds ttl);
  // From now on the finish script publishes each outcome it records to the request's
  // registered gateways (keys under event_key_prefix, counter kept for `ttl`), as the
  // event bus' publish of the terminal event would: one script call fewer per job, and
  // FinishResult::published tells the caller not to publish it again. Only without
  // wait_replicas (an outcome must not be visible before WAIT confirmed it): returns
  // whether outcomes are now published here. Called once, before the first finish, by a
  // process whose event bus is this Redis.
  bool publish_outcomes(std::chrono::milliseconds ttl);
  // True once publish_outcomes() took: a round's progress events are then sent by
  // commit_round too (fenced, before the round's finishes).
  bool publishes_events() const override { return outcome_event_ttl_ms_ != "0"; }
  // The prefix of a request's event-bus keys when the bus shares this Redis: its
  // partition's, so a submit can register its gateway and a fenced publish reads the
  // job in one hash slot.
  std::string event_key_prefix(const JobKey& key) const {
    return prefix(partition_of(key.tenant_id));
  }

  // One lock (memory) or one script per partition (Redis) for all items.
  std::vector<LeaseState> renew_batch(const std::vector<RenewItem>& items,
                                      std::chrono::milliseconds ttl) override;

 private:
  struct Claimed {
    std::vector<Lease> leases;
    bool capped = false;
    std::optional<SystemTime> next_wakeup;
  };
  // Claims within `lane` ("" built-in) and `tenant` ("" any), partition by partition;
  // `first`: partition 0's claim script reply, when the caller already sent its call.
  Claimed claim(std::string_view worker_id, std::chrono::milliseconds ttl, std::size_t max,
                std::string_view lane = {}, std::string_view tenant = {},
                const Reply* first = nullptr);
  // The claim script's call for partition p, and the parse of its reply into `out`.
  ScriptCall claim_call(int p, std::string_view worker_id, std::chrono::milliseconds ttl,
                        std::size_t max, std::string_view lane, std::string_view tenant) const;
  static void take_claimed(const Reply& r, int p, Claimed& out);
  // The submit script's call for `job` (leased at once to `lease_worker` unless empty,
  // when claimable and its tenant is under its running bound), and what its reply means
  // (`leased` set when it was leased). Neither waits for replicas.
  ScriptCall submit_call(const NewJob& job, std::string_view lease_worker,
                         std::chrono::milliseconds ttl) const;
  SubmitResult submit_result(const NewJob& job, const Reply& reply, bool* leased) const;
  // Script calls sent in the finishes' pipeline: `before` them and `after` them, and
  // their replies.
  struct PipelineExtras {
    std::vector<ScriptCall> before;
    std::optional<ScriptCall> after;
    std::vector<Reply> before_replies;
    std::optional<Reply> after_reply;
  };
  // finish_batch() without its WAIT; sets `wrote` when a job ended. `extras`: calls to
  // send in the same pipeline (any items may be empty then).
  std::vector<FinishResult> finish_unawaited(const std::vector<FinishItem>& items, bool* wrote,
                                             PipelineExtras* extras = nullptr);
  // The progress_events script calls of `events` (one per partition, events in order).
  std::vector<ScriptCall> progress_event_calls(const std::vector<ProgressEvent>& events) const;
  // The tenants a read of `scope` covers, per partition: the scope's tenant, or every
  // tenant with a job index (`ti:`) in each partition.
  std::vector<std::pair<int, std::vector<std::string>>> tenants_in(const JobScope& scope);
  // WAIT for wait_replicas after this connection's writes; throws when they lack them.
  void await_replicas();
  void refused_stale_write(std::string_view op, std::string_view job_id, std::int64_t fence);

  RedisJobStoreOptions options_;
  std::unique_ptr<RedisClient> client_;         // scripts
  std::unique_ptr<RedisClient> waiter_;         // wait_for_work's blocking pops
  std::unique_ptr<RedisClient> lane_waiter_;    // wait_for_lane_work's blocking pops
  std::unique_ptr<RedisClient> lane_client_;    // acquire_lane's claims
  std::atomic<std::size_t> next_partition_{0};  // where the next claim starts looking
  std::string submitter_;                       // register_submitter's gateway ('' none)
  std::string submitter_ttl_ms_ = "0";
  std::string outcome_event_ttl_ms_ = "0";  // publish_outcomes' TTL ("0": not published here)
  std::atomic<std::uint64_t> stale_writes_refused_{0};

 public:
  // The registry of remote actions: one hash, `s:{0}:remote_actions` (name -> JSON of
  // spec, tenant_scope, expires_at in ms), changed by one script.
  RemoteActionEntry put_remote_action(const RemoteActionEntry& entry, SystemTime now) override;
  std::vector<RemoteActionEntry> live_remote_actions(SystemTime now) override;
};

}  // namespace streamer::redis
