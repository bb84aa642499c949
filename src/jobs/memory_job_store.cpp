#include "jobs/memory_job_store.hpp"

#include <tuple>
#include <unordered_map>

namespace streamer {
namespace {
SystemTime now() { return std::chrono::system_clock::now(); }
}  // namespace

MemoryJobStore::Row* MemoryJobStore::by_key(const JobKey& key) {
  for (auto& [id, row] : rows_) {
    if (row.record.key == key) return &row;
  }
  return nullptr;
}

MemoryJobStore::Row* MemoryJobStore::leased(std::string_view job_id, std::int64_t fence) {
  auto it = rows_.find(std::stoll(std::string(job_id)));
  if (it == rows_.end() || it->second.record.status != JobStatus::kRunning ||
      it->second.fence != fence) {
    return nullptr;
  }
  return &it->second;
}

std::size_t MemoryJobStore::count_locked(JobStatus status, std::string_view tenant,
                                         const std::string* user) const {
  std::size_t n = 0;
  for (const auto& [id, row] : rows_) {
    n += row.record.status == status && row.record.key.tenant_id == tenant &&
         (!user || row.record.key.user_id == *user);
  }
  return n;
}

SubmitResult MemoryJobStore::submit(const NewJob& job) {
  std::lock_guard lock(mutex_);
  return submit_locked(job);
}

SubmitResult MemoryJobStore::submit_locked(const NewJob& job, const std::string* lease_owner,
                                           SystemTime lease_until) {
  if (Row* existing = by_key(job.key)) return {existing->record, false};
  if (!lease_owner) {
    const auto& l = limits_;
    if (l.max_queued_per_tenant > 0 &&
        count_locked(JobStatus::kQueued, job.key.tenant_id) >= l.max_queued_per_tenant) {
      return {{}, false, QueueLimit::kQueuedPerTenant, l.max_queued_per_tenant};
    }
    if (l.max_queued_per_user > 0 && count_locked(JobStatus::kQueued, job.key.tenant_id,
                                                  &job.key.user_id) >= l.max_queued_per_user) {
      return {{}, false, QueueLimit::kQueuedPerUser, l.max_queued_per_user};
    }
  }
  Row row;
  row.record.job_id = std::to_string(next_id_);
  row.record.key = job.key;
  row.record.action = job.action;
  row.record.payload_json = job.payload_json;
  row.record.trace_id = job.trace_id;
  row.record.lane = job.lane;
  row.record.max_attempts = job.max_attempts;
  row.record.created_at = row.record.updated_at = row.available_at = now();
  if (lease_owner) {
    row.record.status = JobStatus::kRunning;
    row.record.attempts = 1;
    row.lease_owner = *lease_owner;
    row.lease_until = lease_until;
    row.fence = 1;
  }
  auto& stored = rows_[next_id_++] = std::move(row);
  return {stored.record, true};
}

std::size_t MemoryJobStore::running_builtin_locked(std::string_view tenant) const {
  return running_in_lane_locked(tenant, "");
}

std::size_t MemoryJobStore::running_in_lane_locked(std::string_view tenant,
                                                   std::string_view lane) const {
  std::size_t n = 0;
  for (const auto& [id, row] : rows_) {
    n += row.record.status == JobStatus::kRunning && row.record.lane == lane &&
         row.record.key.tenant_id == tenant;
  }
  return n;
}

bool MemoryJobStore::may_lease_waiting_locked(const Round& round, SystemTime t) const {
  return round.waiting_submits_fit() && !runnable_queued_locked(t, kWaitingLane);
}

std::optional<JobRecord> MemoryJobStore::find(const JobKey& key) {
  std::lock_guard lock(mutex_);
  if (Row* row = by_key(key)) return row->record;
  return std::nullopt;
}

Lease MemoryJobStore::lease_locked(Row& row, std::string_view worker_id, SystemTime t,
                                   std::chrono::milliseconds ttl) {
  row.record.status = JobStatus::kRunning;
  row.record.attempts += 1;
  row.record.updated_at = t;
  row.lease_owner = std::string(worker_id);
  row.lease_until = t + ttl;
  row.fence += 1;
  return Lease{row.record, row.lease_owner, row.lease_until, row.fence};
}

std::vector<Lease> MemoryJobStore::acquire_batch(std::string_view worker_id,
                                                 std::chrono::milliseconds ttl, std::size_t max) {
  std::lock_guard lock(mutex_);
  return acquire_locked("", worker_id, ttl, max);
}

std::vector<Lease> MemoryJobStore::acquire_lane(std::string_view lane, std::string_view tenant,
                                                std::string_view worker_id,
                                                std::chrono::milliseconds ttl, std::size_t max) {
  std::lock_guard lock(mutex_);
  return acquire_locked(lane, worker_id, ttl, max, tenant);
}

JobStore::LaneClaims MemoryJobStore::claim_lane(std::string_view lane, std::string_view tenant,
                                                std::string_view worker_id,
                                                std::chrono::milliseconds ttl, std::size_t max) {
  std::lock_guard lock(mutex_);
  LaneClaims out;
  out.capped = false;
  out.leases = acquire_locked(lane, worker_id, ttl, max, tenant, &out.capped);
  return out;
}

std::vector<Lease> MemoryJobStore::acquire_locked(std::string_view lane, std::string_view worker_id,
                                                  std::chrono::milliseconds ttl, std::size_t max,
                                                  std::string_view tenant, bool* capped) {
  const auto t = now();
  // The lane's per-tenant bound: the worker threads' for the built-in lane, the waiting
  // lane's own, none for a remote action's lane (its workers' credits bound it). Leases are counted
  // within the lane.
  const std::size_t cap = lane_cap(lane);
  std::unordered_map<std::string, std::size_t> running;
  for (const auto& [id, row] : rows_) {
    if (row.record.status == JobStatus::kRunning && row.record.lane == lane)
      ++running[row.record.key.tenant_id];
  }
  std::vector<Lease> out;
  // Queued: each pick is the oldest runnable job of the tenant with the fewest leases.
  while (out.size() < max) {
    Row* pick = nullptr;
    std::tuple<std::size_t, SystemTime, std::int64_t> best{};
    for (auto& [id, row] : rows_) {
      if (row.record.status != JobStatus::kQueued || row.available_at > t ||
          row.record.lane != lane || (!tenant.empty() && row.record.key.tenant_id != tenant))
        continue;
      const std::size_t r = running[row.record.key.tenant_id];
      if (cap > 0 && r >= cap) continue;
      std::tuple<std::size_t, SystemTime, std::int64_t> rank{r, row.available_at, id};
      if (!pick || rank < best) {
        pick = &row;
        best = rank;
      }
    }
    if (!pick) break;
    ++running[pick->record.key.tenant_id];
    out.push_back(lease_locked(*pick, worker_id, t, ttl));
  }
  // Room was left, so a runnable job still queued was left for its tenant's bound.
  if (capped && out.size() < max && runnable_queued_locked(t, lane, tenant)) *capped = true;
  // Then jobs whose worker stopped renewing its lease (already counted as leased).
  for (auto& [id, row] : rows_) {
    if (out.size() >= max) break;
    if (row.record.status == JobStatus::kRunning && row.lease_until <= t &&
        row.record.lane == lane && (tenant.empty() || row.record.key.tenant_id == tenant))
      out.push_back(lease_locked(row, worker_id, t, ttl));
  }
  return out;
}

bool MemoryJobStore::runnable_queued_locked(SystemTime t, std::string_view lane,
                                            std::string_view tenant) const {
  for (const auto& [id, row] : rows_) {
    if (row.record.status == JobStatus::kQueued && row.available_at <= t &&
        row.record.lane == lane && (tenant.empty() || row.record.key.tenant_id == tenant))
      return true;
  }
  return false;
}

JobStore::RoundResult MemoryJobStore::commit_round(const Round& round) {
  std::lock_guard lock(mutex_);
  RoundResult out;
  out.finished.reserve(round.finishes.size());
  for (const auto& f : round.finishes) out.finished.push_back(finish_locked(f));
  if (round.claim_runnable)
    out.claimed = acquire_locked("", round.worker_id, round.lease_ttl, round.max_claims);
  const auto t = now();
  const auto lease_until = t + round.lease_ttl;
  const std::size_t cap = limits_.max_running_per_tenant;
  const bool lease_waiting = may_lease_waiting_locked(round, t);
  const std::size_t waiting_cap = lane_cap(kWaitingLane);
  for (const auto& job : round.submits) {
    if (lease_waiting && job.lane == kWaitingLane &&
        (waiting_cap == 0 ||
         running_in_lane_locked(job.key.tenant_id, kWaitingLane) < waiting_cap)) {
      out.submitted.push_back(submit_locked(job, &round.worker_id, lease_until));
      const auto& s = out.submitted.back();
      if (s.created) out.waiting_claimed.push_back({s.record, round.worker_id, lease_until, 1});
      continue;
    }
    const bool lease = out.claimed.size() < round.max_claims && job.lane.empty() &&
                       (cap == 0 || running_builtin_locked(job.key.tenant_id) < cap);
    out.submitted.push_back(submit_locked(job, lease ? &round.worker_id : nullptr, lease_until));
    const auto& s = out.submitted.back();
    if (s.created && s.record.status == JobStatus::kRunning)
      out.claimed.push_back({s.record, round.worker_id, lease_until, 1});
  }
  const auto after = now();
  if (round.claim_runnable && round.max_claims > 0 && out.claimed.size() < round.max_claims) {
    out.next_wakeup = next_wakeup_locked(after);
  }
  // A short claim left every runnable queued job for its tenant's bound.
  if (out.claimed.size() < round.max_claims) out.capped = runnable_queued_locked(after, "");
  return out;
}

LeaseState MemoryJobStore::renew(std::string_view job_id, std::int64_t fence,
                                 std::chrono::milliseconds ttl) {
  std::lock_guard lock(mutex_);
  Row* row = leased(job_id, fence);
  if (!row) return {};
  row->lease_until = now() + ttl;
  return {true, row->record.cancel_requested};
}

void MemoryJobStore::save_progress_batch(const std::vector<ProgressItem>& items) {
  std::lock_guard lock(mutex_);
  for (const auto& i : items) {
    if (Row* row = leased(i.job_id, i.fence)) {
      row->record.progress_json = i.progress_json;
      append_progress_locked(*row, i.progress_json);
    }
  }
}

void MemoryJobStore::append_progress_locked(Row& row, const std::string& progress_json) {
  const std::size_t keep = limits_.progress_history_steps;
  if (keep == 0 || progress_json.empty()) return;
  if (!row.history.empty() && row.history.back().attempt == row.record.attempts &&
      row.history.back().progress_json == progress_json) {
    return;  // a repeat of the attempt's last step (a finish racing a progress write)
  }
  row.history.push_back({row.record.attempts, now(), progress_json});
  while (row.history.size() > keep) row.history.pop_front();
}

std::vector<FinishResult> MemoryJobStore::finish_batch(const std::vector<FinishItem>& items) {
  std::lock_guard lock(mutex_);
  std::vector<FinishResult> out;
  out.reserve(items.size());
  for (const auto& i : items) out.push_back(finish_locked(i));
  return out;
}

FinishResult MemoryJobStore::finish_locked(const FinishItem& item) {
  const JobStatus terminal = item.terminal;
  Row* row = leased(item.job_id, item.fence);
  if (!row) return {};
  const auto& final_progress_json = item.final_progress_json;
  const auto& outcome_json = item.outcome_json;
  FinishResult out;
  out.ended = true;
  if (!final_progress_json.empty()) row->record.progress_json = std::string(final_progress_json);
  append_progress_locked(*row, final_progress_json);
  if (row->record.cancel_requested && terminal != JobStatus::kCancelled &&
      !row->record.outcome_json.empty()) {
    out.cancelled_instead = true;
    out.outcome_json = row->record.outcome_json;
    row->record.status = JobStatus::kCancelled;
  } else {
    row->record.status = terminal;
    row->record.outcome_json = std::string(outcome_json);
  }
  row->record.finished_at = row->record.updated_at = now();
  row->lease_owner.clear();
  return out;
}

bool MemoryJobStore::release(std::string_view job_id, std::int64_t fence, SystemTime available_at,
                             std::string_view last_error, bool refund_attempt) {
  std::lock_guard lock(mutex_);
  Row* row = leased(job_id, fence);
  if (!row) return false;
  row->record.status = JobStatus::kQueued;
  row->record.last_error = std::string(last_error);
  if (refund_attempt) row->record.attempts -= 1;
  row->available_at = row->record.cancel_requested ? now() : available_at;
  row->lease_owner.clear();
  return true;
}

CancelOutcome MemoryJobStore::request_cancel(const JobKey& key,
                                             std::string_view cancelled_outcome_json) {
  std::lock_guard lock(mutex_);
  Row* row = by_key(key);
  if (!row) return CancelOutcome::kNotFound;
  switch (row->record.status) {
    case JobStatus::kQueued:
      row->record.status = JobStatus::kCancelled;
      row->record.outcome_json = std::string(cancelled_outcome_json);
      row->record.finished_at = now();
      return CancelOutcome::kCancelledNow;
    case JobStatus::kRunning:
      row->record.cancel_requested = true;
      row->record.outcome_json = std::string(cancelled_outcome_json);
      return CancelOutcome::kCancelRequested;
    default:
      return CancelOutcome::kAlreadyFinished;
  }
}

std::size_t MemoryJobStore::purge_finished_before(SystemTime cutoff) {
  std::lock_guard lock(mutex_);
  return std::erase_if(rows_, [&](const auto& kv) {
    return kv.second.record.finished_at && *kv.second.record.finished_at < cutoff;
  });
}

std::optional<SystemTime> MemoryJobStore::next_wakeup() {
  std::lock_guard lock(mutex_);
  return next_wakeup_locked(SystemTime::min());
}

std::optional<SystemTime> MemoryJobStore::next_wakeup_locked(SystemTime after) const {
  std::optional<SystemTime> best;
  for (const auto& [id, row] : rows_) {
    if (!row.record.lane.empty()) continue;
    std::optional<SystemTime> t;
    if (row.record.status == JobStatus::kQueued && row.available_at > after) t = row.available_at;
    if (row.record.status == JobStatus::kRunning) t = row.lease_until;
    if (t && (!best || *t < *best)) best = t;
  }
  return best;
}

JobStore::RemoteActionEntry MemoryJobStore::put_remote_action(const RemoteActionEntry& entry,
                                                              SystemTime now) {
  std::lock_guard lock(mutex_);
  auto it = remote_actions_.find(entry.name);
  if (it != remote_actions_.end() && it->second.expires_at > now &&
      it->second.spec_json != entry.spec_json)
    return it->second;
  remote_actions_[entry.name] = entry;
  return entry;
}

std::vector<JobStore::RemoteActionEntry> MemoryJobStore::live_remote_actions(SystemTime now) {
  std::lock_guard lock(mutex_);
  std::vector<RemoteActionEntry> out;
  for (const auto& [name, e] : remote_actions_)
    if (e.expires_at > now) out.push_back(e);
  return out;
}

std::vector<LeaseState> MemoryJobStore::renew_batch(const std::vector<RenewItem>& items,
                                                    std::chrono::milliseconds ttl) {
  std::lock_guard lock(mutex_);
  const auto until = now() + ttl;
  std::vector<LeaseState> out(items.size());
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (Row* row = leased(items[i].job_id, items[i].fence)) {
      row->lease_until = until;
      out[i] = {true, row->record.cancel_requested};
    }
  }
  return out;
}

}  // namespace streamer
