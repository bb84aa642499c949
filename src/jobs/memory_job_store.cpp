#include "jobs/memory_job_store.hpp"

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

MemoryJobStore::Row* MemoryJobStore::leased(std::string_view job_id, std::string_view worker_id) {
  auto it = rows_.find(std::stoll(std::string(job_id)));
  if (it == rows_.end() || it->second.record.status != JobStatus::kRunning || it->second.lease_owner != worker_id) {
    return nullptr;
  }
  return &it->second;
}

SubmitResult MemoryJobStore::submit(const NewJob& job) {
  std::lock_guard lock(mutex_);
  if (Row* existing = by_key(job.key)) return {existing->record, false};
  Row row;
  row.record.job_id = std::to_string(next_id_);
  row.record.key = job.key;
  row.record.action = job.action;
  row.record.payload_json = job.payload_json;
  row.record.trace_id = job.trace_id;
  row.record.max_attempts = job.max_attempts;
  row.record.created_at = row.record.updated_at = row.available_at = now();
  auto& stored = rows_[next_id_++] = std::move(row);
  return {stored.record, true};
}

std::optional<JobRecord> MemoryJobStore::find(const JobKey& key) {
  std::lock_guard lock(mutex_);
  if (Row* row = by_key(key)) return row->record;
  return std::nullopt;
}

std::optional<Lease> MemoryJobStore::acquire(std::string_view worker_id, std::chrono::milliseconds ttl) {
  std::lock_guard lock(mutex_);
  const auto t = now();
  Row* pick = nullptr;
  for (auto& [id, row] : rows_) {
    if (row.record.status == JobStatus::kQueued && row.available_at <= t &&
        (!pick || row.available_at < pick->available_at)) {
      pick = &row;
    }
  }
  if (!pick) {
    for (auto& [id, row] : rows_) {
      if (row.record.status == JobStatus::kRunning && row.lease_until <= t) {
        pick = &row;
        break;
      }
    }
  }
  if (!pick) return std::nullopt;
  pick->record.status = JobStatus::kRunning;
  pick->record.attempts += 1;
  pick->record.updated_at = t;
  pick->lease_owner = std::string(worker_id);
  pick->lease_until = t + ttl;
  return Lease{pick->record, pick->lease_owner, pick->lease_until};
}

LeaseState MemoryJobStore::renew(std::string_view job_id, std::string_view worker_id,
                                 std::chrono::milliseconds ttl) {
  std::lock_guard lock(mutex_);
  Row* row = leased(job_id, worker_id);
  if (!row) return {};
  row->lease_until = now() + ttl;
  return {true, row->record.cancel_requested};
}

void MemoryJobStore::save_progress(std::string_view job_id, std::string_view worker_id,
                                   std::string_view progress_json) {
  std::lock_guard lock(mutex_);
  if (Row* row = leased(job_id, worker_id)) row->record.progress_json = std::string(progress_json);
}

bool MemoryJobStore::finish(std::string_view job_id, std::string_view worker_id, JobStatus terminal,
                            std::string_view outcome_json, std::string_view final_progress_json) {
  std::lock_guard lock(mutex_);
  Row* row = leased(job_id, worker_id);
  if (!row) return false;
  if (!final_progress_json.empty()) row->record.progress_json = std::string(final_progress_json);
  row->record.status = terminal;
  row->record.outcome_json = std::string(outcome_json);
  row->record.finished_at = row->record.updated_at = now();
  row->lease_owner.clear();
  return true;
}

bool MemoryJobStore::release(std::string_view job_id, std::string_view worker_id, SystemTime available_at,
                             std::string_view last_error, bool refund_attempt) {
  std::lock_guard lock(mutex_);
  Row* row = leased(job_id, worker_id);
  if (!row) return false;
  row->record.status = JobStatus::kQueued;
  row->record.last_error = std::string(last_error);
  if (refund_attempt) row->record.attempts -= 1;
  row->available_at = available_at;
  row->lease_owner.clear();
  return true;
}

CancelOutcome MemoryJobStore::request_cancel(const JobKey& key, std::string_view cancelled_outcome_json) {
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
  std::optional<SystemTime> best;
  for (const auto& [id, row] : rows_) {
    std::optional<SystemTime> t;
    if (row.record.status == JobStatus::kQueued) t = row.available_at;
    if (row.record.status == JobStatus::kRunning) t = row.lease_until;
    if (t && (!best || *t < *best)) best = t;
  }
  return best;
}

}  // namespace streamer
