// MemoryJobStore's admin API, with the same ordering and scoping as the SQLite one.
#include <algorithm>
#include <stdexcept>

#include "jobs/memory_job_store.hpp"

namespace streamer {
namespace {

bool in_scope(const JobScope& scope, const JobKey& key) {
  return (!scope.tenant_id || *scope.tenant_id == key.tenant_id) &&
         (!scope.user_id || *scope.user_id == key.user_id);
}

// Creation times compare at millisecond resolution, as the durable stores keep them
// (and as a cursor carries them).
std::int64_t ms(SystemTime t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

// Newest first: created_at descending, then job id descending.
bool newer(const JobRecord& a, std::int64_t a_id, SystemTime b_created, std::int64_t b_id) {
  return ms(a.created_at) > ms(b_created) || (ms(a.created_at) == ms(b_created) && a_id > b_id);
}

}  // namespace

JobPage MemoryJobStore::list_jobs(const JobQuery& query) {
  std::int64_t after_id = 0;
  if (query.after) {
    try {
      after_id = std::stoll(query.after->job_id);
    } catch (const std::exception&) {
      throw std::invalid_argument("not a job id of this store: " + query.after->job_id);
    }
  }
  std::lock_guard lock(mutex_);
  std::vector<std::pair<std::int64_t, const JobRecord*>> hits;
  for (const auto& [id, row] : rows_) {
    const auto& r = row.record;
    if (!in_scope(query.scope, r.key)) continue;
    if (query.action && *query.action != r.action) continue;
    if (!query.states.empty() &&
        std::find(query.states.begin(), query.states.end(), r.status) == query.states.end())
      continue;
    if (query.created_since && r.created_at < *query.created_since) continue;
    if (query.created_before && r.created_at >= *query.created_before) continue;
    if (query.after && newer(r, id, query.after->created_at, after_id)) continue;
    if (query.after && id == after_id) continue;
    hits.emplace_back(id, &r);
  }
  std::sort(hits.begin(), hits.end(), [](const auto& a, const auto& b) {
    return newer(*a.second, a.first, b.second->created_at, b.first);
  });
  JobPage page;
  page.more = hits.size() > query.limit;
  if (page.more) hits.resize(query.limit);
  for (const auto& [id, r] : hits) page.jobs.push_back(*r);
  return page;
}

std::vector<QueueStat> MemoryJobStore::queue_stats(const JobScope& scope) {
  std::lock_guard lock(mutex_);
  std::map<std::string, QueueStat> by_action;
  for (const auto& [id, row] : rows_) {
    const auto& r = row.record;
    if (r.status != JobStatus::kQueued || !in_scope(scope, r.key)) continue;
    auto [it, created] = by_action.try_emplace(r.action, QueueStat{r.action, 0, r.created_at});
    it->second.queued++;
    it->second.oldest_created_at = std::min(it->second.oldest_created_at, r.created_at);
  }
  std::vector<QueueStat> out;
  for (auto& [action, stat] : by_action) out.push_back(std::move(stat));
  return out;
}

std::vector<JobRecord> MemoryJobStore::recent_failures(const JobScope& scope, std::size_t limit) {
  std::lock_guard lock(mutex_);
  std::vector<std::pair<std::int64_t, const JobRecord*>> hits;
  for (const auto& [id, row] : rows_) {
    if (row.record.status == JobStatus::kFailed && in_scope(scope, row.record.key))
      hits.emplace_back(id, &row.record);
  }
  std::sort(hits.begin(), hits.end(), [](const auto& a, const auto& b) {
    const auto fa = a.second->finished_at.value_or(SystemTime{});
    const auto fb = b.second->finished_at.value_or(SystemTime{});
    return fa > fb || (fa == fb && a.first > b.first);
  });
  if (hits.size() > limit) hits.resize(limit);
  std::vector<JobRecord> out;
  for (const auto& [id, r] : hits) out.push_back(*r);
  return out;
}

RequeueResult MemoryJobStore::requeue_failed(const JobKey& key, int extra_attempts,
                                             std::string_view note) {
  std::lock_guard lock(mutex_);
  Row* row = by_key(key);
  if (!row) return {};
  auto& r = row->record;
  if (r.status != JobStatus::kFailed) return {RequeueOutcome::kNotFailed, r};
  const auto now = std::chrono::system_clock::now();
  r.status = JobStatus::kQueued;
  r.max_attempts = r.attempts + extra_attempts;
  r.last_error = std::string(note);
  r.outcome_json.clear();
  r.progress_json.clear();
  r.finished_at.reset();
  r.cancel_requested = false;
  r.updated_at = now;
  row->available_at = now;
  row->lease_owner.clear();
  return {RequeueOutcome::kRequeued, r};
}

std::vector<ProgressStep> MemoryJobStore::progress_history(const JobKey& key) {
  std::lock_guard lock(mutex_);
  const Row* row = by_key(key);
  if (!row) return {};
  return {row->history.begin(), row->history.end()};
}

std::size_t MemoryJobStore::purge_finished(const JobScope& scope, SystemTime cutoff) {
  std::lock_guard lock(mutex_);
  return std::erase_if(rows_, [&](const auto& kv) {
    const auto& r = kv.second.record;
    return r.finished_at && *r.finished_at < cutoff && in_scope(scope, r.key);
  });
}

}  // namespace streamer
