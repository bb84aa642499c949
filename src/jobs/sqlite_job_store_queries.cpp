// SqliteJobStore's admin API: paged listing, queue statistics, recent failures,
// retry of a failed job and a scoped purge. Every query is scoped by binding the
// JobScope's tenant and user as parameters.
#include <sqlite3.h>

#include <stdexcept>
#include <string>
#include <variant>

#include "jobs/sqlite_job_store.hpp"

namespace streamer {
namespace {

std::int64_t to_ms(SystemTime t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}
SystemTime from_ms(std::int64_t ms) { return SystemTime(std::chrono::milliseconds(ms)); }

// A WHERE clause built from optional filters, with its positional parameters.
class Where {
 public:
  using Param = std::variant<std::string, std::int64_t>;
  void add(std::string condition, Param value) {
    params_.push_back(std::move(value));
    clauses_ += (clauses_.empty() ? " WHERE " : " AND ") + std::move(condition) + "?" +
                std::to_string(params_.size());
  }
  void add_raw(const std::string& condition) {
    clauses_ += (clauses_.empty() ? " WHERE " : " AND ") + condition;
  }
  // Parameter number for a value used inside an add_raw() condition.
  std::string param(Param value) {
    params_.push_back(std::move(value));
    return "?" + std::to_string(params_.size());
  }
  void scope(const JobScope& scope) {
    if (scope.tenant_id) add("tenant_id=", *scope.tenant_id);
    if (scope.user_id) add("user_id=", *scope.user_id);
  }
  const std::string& sql() const { return clauses_; }
  const std::vector<Param>& params() const { return params_; }

 private:
  std::string clauses_;
  std::vector<Param> params_;
};

}  // namespace

// A prepared statement borrowed from the store's cache, with `where`'s parameters
// bound; reset when it goes away.
class SqliteQuery {
 public:
  SqliteQuery(sqlite::Statement& stmt, const Where& where) : stmt_(stmt) {
    int i = 1;
    for (const auto& p : where.params()) {
      if (const auto* text = std::get_if<std::string>(&p)) {
        stmt_.bind(i, std::string_view(*text));
      } else {
        stmt_.bind(i, std::get<std::int64_t>(p));
      }
      ++i;
    }
  }
  ~SqliteQuery() { stmt_.reset(); }
  SqliteQuery(const SqliteQuery&) = delete;
  SqliteQuery& operator=(const SqliteQuery&) = delete;

  // Steps once; true when a row is available. Throws sqlite::Error.
  bool step() { return stmt_.step(); }
  std::string text(int col) const { return std::string(stmt_.text(col)); }
  std::int64_t integer(int col) const { return stmt_.int64(col); }

 private:
  sqlite::Statement& stmt_;
};

namespace {

// Reads the keys a query selected (tenant_id, user_id, request_id as its first columns).
std::vector<JobKey> keys_of(SqliteQuery& q, std::size_t max) {
  std::vector<JobKey> keys;
  while (keys.size() < max && q.step()) keys.push_back({q.text(0), q.text(1), q.text(2)});
  return keys;
}

}  // namespace

JobPage SqliteJobStore::list_jobs(const JobQuery& query) {
  Where where;
  where.scope(query.scope);
  if (query.action) where.add("action=", *query.action);
  if (!query.states.empty()) {
    std::string in = "status IN (";
    for (std::size_t i = 0; i < query.states.size(); ++i) {
      in += (i ? "," : "") + where.param(static_cast<std::int64_t>(query.states[i]));
    }
    where.add_raw(in + ")");
  }
  if (query.created_since) where.add("created_at>=", to_ms(*query.created_since));
  if (query.created_before) where.add("created_at<", to_ms(*query.created_before));
  if (query.after) {
    std::int64_t after_id = 0;
    try {
      after_id = std::stoll(query.after->job_id);
    } catch (const std::exception&) {
      throw std::invalid_argument("not a job id of this store: " + query.after->job_id);
    }
    const auto t = where.param(to_ms(query.after->created_at));
    const auto id = where.param(after_id);
    where.add_raw("(created_at<" + t + " OR (created_at=" + t + " AND job_id<" + id + "))");
  }
  const auto limit = where.param(static_cast<std::int64_t>(query.limit + 1));
  std::lock_guard lock(mutex_);
  std::vector<JobKey> keys;
  {
    SqliteQuery q(prepared("SELECT tenant_id, user_id, request_id FROM jobs" + where.sql() +
                           " ORDER BY created_at DESC, job_id DESC LIMIT " + limit),
                  where);
    keys = keys_of(q, query.limit + 1);
  }
  JobPage page;
  page.more = keys.size() > query.limit;
  if (page.more) keys.pop_back();
  page.jobs.reserve(keys.size());
  for (const auto& key : keys) {
    if (auto rec = find_locked(key)) page.jobs.push_back(std::move(*rec));
  }
  return page;
}

std::vector<QueueStat> SqliteJobStore::queue_stats(const JobScope& scope) {
  Where where;
  where.add_raw("status=0");
  where.scope(scope);
  std::lock_guard lock(mutex_);
  SqliteQuery q(prepared("SELECT action, COUNT(*), MIN(created_at) FROM jobs" + where.sql() +
                         " GROUP BY action ORDER BY action"),
                where);
  std::vector<QueueStat> out;
  while (q.step()) {
    out.push_back({q.text(0), static_cast<std::size_t>(q.integer(1)), from_ms(q.integer(2))});
  }
  return out;
}

std::vector<JobRecord> SqliteJobStore::recent_failures(const JobScope& scope, std::size_t limit) {
  Where where;
  where.add("status=", static_cast<std::int64_t>(JobStatus::kFailed));
  where.scope(scope);
  const auto max = where.param(static_cast<std::int64_t>(limit));
  std::lock_guard lock(mutex_);
  std::vector<JobKey> keys;
  {
    SqliteQuery q(prepared("SELECT tenant_id, user_id, request_id FROM jobs" + where.sql() +
                           " ORDER BY finished_at DESC, job_id DESC LIMIT " + max),
                  where);
    keys = keys_of(q, limit);
  }
  std::vector<JobRecord> out;
  for (const auto& key : keys) {
    if (auto rec = find_locked(key)) out.push_back(std::move(*rec));
  }
  return out;
}

RequeueResult SqliteJobStore::requeue_failed(const JobKey& key, int extra_attempts,
                                             std::string_view note) {
  const auto now = to_ms(std::chrono::system_clock::now());
  Where where;
  where.add("tenant_id=", key.tenant_id);
  where.add("user_id=", key.user_id);
  where.add("request_id=", key.request_id);
  where.add("status=", static_cast<std::int64_t>(JobStatus::kFailed));
  const auto now_param = where.param(now);
  const auto extra = where.param(static_cast<std::int64_t>(extra_attempts));
  const auto note_param = where.param(std::string(note));
  std::lock_guard lock(mutex_);
  bool changed = false;
  {
    SqliteQuery q(prepared("UPDATE jobs SET status=0, available_at=" + now_param +
                           ", updated_at=" + now_param + ", max_attempts=attempts+" + extra +
                           ", last_error=" + note_param +
                           ", outcome='', progress='', finished_at=NULL, cancel_requested=0, "
                           "lease_owner=NULL, lease_until=NULL" +
                           where.sql()),
                  where);
    q.step();
    changed = db_.changes() > 0;
  }
  auto rec = find_locked(key);
  if (!rec) return {};
  return {changed ? RequeueOutcome::kRequeued : RequeueOutcome::kNotFailed, std::move(*rec)};
}

std::vector<ProgressStep> SqliteJobStore::progress_history(const JobKey& key) {
  Where where;
  where.add("j.tenant_id=", key.tenant_id);
  where.add("j.user_id=", key.user_id);
  where.add("j.request_id=", key.request_id);
  std::lock_guard lock(mutex_);
  SqliteQuery q(prepared("SELECT p.attempt, p.at, p.progress FROM job_progress p JOIN jobs j "
                         "ON j.job_id=p.job_id" +
                         where.sql() + " ORDER BY p.seq"),
                where);
  std::vector<ProgressStep> out;
  while (q.step()) {
    out.push_back({static_cast<int>(q.integer(0)), from_ms(q.integer(1)), q.text(2)});
  }
  return out;
}

std::size_t SqliteJobStore::purge_finished(const JobScope& scope, SystemTime cutoff) {
  Where where;
  where.add_raw("finished_at IS NOT NULL");
  where.add("finished_at<", to_ms(cutoff));
  where.scope(scope);
  std::lock_guard lock(mutex_);
  SqliteQuery q(prepared("DELETE FROM jobs" + where.sql()), where);
  q.step();
  return static_cast<std::size_t>(db_.changes());
}

}  // namespace streamer
