#include "jobs/sqlite_job_store.hpp"

#include <sqlite3.h>

#include <algorithm>
#include <limits>
#include <stdexcept>
#include <string>
#include <tuple>

namespace streamer {
namespace {

std::int64_t to_ms(SystemTime t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}
SystemTime from_ms(std::int64_t ms) { return SystemTime(std::chrono::milliseconds(ms)); }
std::int64_t now_ms() { return to_ms(std::chrono::system_clock::now()); }

constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS jobs(
  job_id INTEGER PRIMARY KEY AUTOINCREMENT,
  tenant_id TEXT NOT NULL,
  user_id TEXT NOT NULL,
  request_id TEXT NOT NULL,
  action TEXT NOT NULL,
  payload TEXT NOT NULL,
  trace_id TEXT NOT NULL DEFAULT '',
  status INTEGER NOT NULL DEFAULT 0,
  attempts INTEGER NOT NULL DEFAULT 0,
  max_attempts INTEGER NOT NULL DEFAULT 3,
  cancel_requested INTEGER NOT NULL DEFAULT 0,
  available_at INTEGER NOT NULL,
  lease_owner TEXT,
  lease_until INTEGER,
  progress TEXT NOT NULL DEFAULT '',
  outcome TEXT NOT NULL DEFAULT '',
  last_error TEXT NOT NULL DEFAULT '',
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  finished_at INTEGER,
  UNIQUE(tenant_id, user_id, request_id)
);
CREATE INDEX IF NOT EXISTS jobs_queued ON jobs(available_at, job_id) WHERE status = 0;
CREATE INDEX IF NOT EXISTS jobs_leased ON jobs(lease_until) WHERE status = 1;
-- Fair claims and the per-tenant and per-user bounds: each tenant's queue in claim
-- order, queued jobs per user, leased jobs per tenant.
CREATE INDEX IF NOT EXISTS jobs_queued_by_tenant ON jobs(tenant_id, available_at, job_id) WHERE status = 0;
CREATE INDEX IF NOT EXISTS jobs_queued_by_user ON jobs(tenant_id, user_id) WHERE status = 0;
CREATE INDEX IF NOT EXISTS jobs_leased_by_tenant ON jobs(tenant_id) WHERE status = 1;
CREATE INDEX IF NOT EXISTS jobs_finished ON jobs(finished_at) WHERE finished_at IS NOT NULL;
)sql";

constexpr const char* kColumns =
    "job_id, tenant_id, user_id, request_id, action, payload, trace_id, status, attempts, "
    "max_attempts, cancel_requested, progress, outcome, last_error, created_at, updated_at, "
    "finished_at, lease_owner, lease_until";

}  // namespace

// RAII prepared statement with typed binds; throws on errors other than BUSY-after-timeout.
class SqliteJobStore::Statement {
 public:
  // Borrows the store's cached prepared statement for `sql` (prepared on first use);
  // it is reset and its bindings cleared when this object goes away.
  Statement(SqliteJobStore& store, const std::string& sql) : db_(store.db_), stmt_(store.prepared(sql)) {}
  ~Statement() {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
  }
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  Statement& bind(int i, std::string_view v) {
    // An empty view may have a null data(); SQLite would bind NULL, we mean "".
    sqlite3_bind_text(stmt_, i, v.data() ? v.data() : "", static_cast<int>(v.size()), SQLITE_TRANSIENT);
    return *this;
  }
  Statement& bind(int i, std::int64_t v) {
    sqlite3_bind_int64(stmt_, i, v);
    return *this;
  }
  Statement& bind_null(int i) {
    sqlite3_bind_null(stmt_, i);
    return *this;
  }
  // Steps once; true when a row is available.
  bool step() {
    int rc = sqlite3_step(stmt_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    throw std::runtime_error(std::string("sqlite step: ") + sqlite3_errmsg(db_));
  }
  std::string text(int col) const {
    auto* p = sqlite3_column_text(stmt_, col);
    return p ? std::string(reinterpret_cast<const char*>(p), sqlite3_column_bytes(stmt_, col)) : std::string();
  }
  std::int64_t integer(int col) const { return sqlite3_column_int64(stmt_, col); }
  bool is_null(int col) const { return sqlite3_column_type(stmt_, col) == SQLITE_NULL; }
  int changes() const { return sqlite3_changes(db_); }

  // Reads a row selected with kColumns.
  JobRecord record() const {
    JobRecord r;
    r.job_id = std::to_string(integer(0));
    r.key = {text(1), text(2), text(3)};
    r.action = text(4);
    r.payload_json = text(5);
    r.trace_id = text(6);
    r.status = static_cast<JobStatus>(integer(7));
    r.attempts = static_cast<int>(integer(8));
    r.max_attempts = static_cast<int>(integer(9));
    r.cancel_requested = integer(10) != 0;
    r.progress_json = text(11);
    r.outcome_json = text(12);
    r.last_error = text(13);
    r.created_at = from_ms(integer(14));
    r.updated_at = from_ms(integer(15));
    if (!is_null(16)) r.finished_at = from_ms(integer(16));
    return r;
  }

 private:
  sqlite3* db_;
  sqlite3_stmt* stmt_ = nullptr;
};

class SqliteJobStore::TenantLeases {
 public:
  explicit TenantLeases(SqliteJobStore& store) : store_(store) {}
  // The tenant's leased jobs; the caller adds its own claims.
  std::size_t& operator[](const std::string& tenant) {
    auto it = counts_.find(tenant);
    if (it == counts_.end()) {
      Statement s(store_, "SELECT COUNT(*) FROM jobs WHERE tenant_id=?1 AND status=1");
      s.bind(1, tenant);
      s.step();
      it = counts_.emplace(tenant, static_cast<std::size_t>(s.integer(0))).first;
    }
    return it->second;
  }

 private:
  SqliteJobStore& store_;
  std::unordered_map<std::string, std::size_t> counts_;
};

SqliteJobStore::SqliteJobStore(SqliteJobStoreOptions options) {
  int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
  if (sqlite3_open_v2(options.path.c_str(), &db_, flags, nullptr) != SQLITE_OK) {
    std::string msg = db_ ? sqlite3_errmsg(db_) : "out of memory";
    sqlite3_close(db_);
    throw std::runtime_error("cannot open job store " + options.path.string() + ": " + msg);
  }
  sqlite3_busy_timeout(db_, 5000);
  exec("PRAGMA journal_mode=WAL");
  exec(options.synchronous_full ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL");
  exec("PRAGMA foreign_keys=ON");
  exec(kSchema);
}

SqliteJobStore::~SqliteJobStore() {
  for (auto& [sql, stmt] : statements_) sqlite3_finalize(stmt);
  sqlite3_close(db_);
}

sqlite3_stmt* SqliteJobStore::prepared(const std::string& sql) {
  auto it = statements_.find(sql);
  if (it != statements_.end()) return it->second;
  sqlite3_stmt* stmt = nullptr;
  if (sqlite3_prepare_v3(db_, sql.c_str(), -1, SQLITE_PREPARE_PERSISTENT, &stmt, nullptr) != SQLITE_OK) {
    throw std::runtime_error(std::string("sqlite prepare: ") + sqlite3_errmsg(db_));
  }
  statements_.emplace(sql, stmt);
  return stmt;
}

void SqliteJobStore::exec(const char* sql) {
  char* err = nullptr;
  if (sqlite3_exec(db_, sql, nullptr, nullptr, &err) != SQLITE_OK) {
    std::string msg = err ? err : "unknown";
    sqlite3_free(err);
    throw std::runtime_error("sqlite: " + msg);
  }
}

std::optional<JobRecord> SqliteJobStore::find_locked(const JobKey& key) {
  Statement s(*this, std::string("SELECT ") + kColumns +
                       " FROM jobs WHERE tenant_id=?1 AND user_id=?2 AND request_id=?3");
  s.bind(1, key.tenant_id).bind(2, key.user_id).bind(3, key.request_id);
  if (!s.step()) return std::nullopt;
  return s.record();
}

template <class Fn>
auto SqliteJobStore::in_transaction(Fn&& fn) {
  Statement(*this, "BEGIN IMMEDIATE").step();
  try {
    auto result = fn();
    Statement(*this, "COMMIT").step();
    return result;
  } catch (...) {
    sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
    throw;
  }
}

SubmitResult SqliteJobStore::submit(const NewJob& job) {
  std::lock_guard lock(mutex_);
  return in_transaction([&] { return submit_locked(job); });
}

std::vector<SubmitResult> SqliteJobStore::submit_batch(const std::vector<NewJob>& jobs) {
  std::lock_guard lock(mutex_);
  return in_transaction([&] { return submit_all_locked(jobs); });
}

std::vector<SubmitResult> SqliteJobStore::submit_all_locked(const std::vector<NewJob>& jobs) {
  std::vector<SubmitResult> out;
  out.reserve(jobs.size());
  for (const auto& job : jobs) out.push_back(submit_locked(job));
  return out;
}

std::vector<Lease> SqliteJobStore::acquire_batch(std::string_view worker_id, std::chrono::milliseconds ttl,
                                                 std::size_t max) {
  std::lock_guard lock(mutex_);
  return in_transaction([&] {
    TenantLeases leases(*this);
    return acquire_locked(worker_id, ttl, max, leases);
  });
}

JobStore::RoundResult SqliteJobStore::commit_round(const Round& round) {
  std::lock_guard lock(mutex_);
  return in_transaction([&] {
    RoundResult out;
    out.finished = finish_all_locked(round.worker_id, round.finishes);
    TenantLeases leases(*this);
    const std::size_t cap = limits_.max_running_per_tenant;
    // Jobs runnable before this round go first; then new ones, inserted already leased
    // (one write per job instead of an insert and a claim) while claims remain and
    // their tenant is under its bound.
    if (round.claim_runnable) {
      out.claimed =
          acquire_locked(round.worker_id, round.lease_ttl, round.max_claims, leases, &out.capped);
    }
    out.submitted.reserve(round.submits.size());
    const auto lease_until = from_ms(now_ms() + round.lease_ttl.count());
    for (const auto& job : round.submits) {
      const bool claims_left = out.claimed.size() < round.max_claims;
      if (claims_left && (cap == 0 || leases[job.key.tenant_id] < cap)) {
        out.submitted.push_back(submit_locked(job, Lease{{}, round.worker_id, lease_until}));
        if (out.submitted.back().created) {
          out.claimed.push_back({out.submitted.back().record, round.worker_id, lease_until});
          if (cap > 0) ++leases[job.key.tenant_id];
        }
      } else {
        out.submitted.push_back(submit_locked(job));
        if (claims_left && out.submitted.back().created) out.capped = true;
      }
    }
    if (round.claim_runnable && round.max_claims > 0 && out.claimed.size() < round.max_claims) {
      out.next_wakeup = next_wakeup_locked(now_ms());
    }
    return out;
  });
}

std::vector<FinishResult> SqliteJobStore::finish_batch(std::string_view worker_id,
                                                       const std::vector<FinishItem>& items) {
  std::lock_guard lock(mutex_);
  return in_transaction([&] { return finish_all_locked(worker_id, items); });
}

std::vector<FinishResult> SqliteJobStore::finish_all_locked(std::string_view worker_id,
                                                            const std::vector<FinishItem>& items) {
  std::vector<FinishResult> out;
  out.reserve(items.size());
  for (const auto& i : items) {
    out.push_back(finish_locked(i.job_id, worker_id, i.terminal, i.outcome_json, i.final_progress_json));
  }
  return out;
}

std::size_t SqliteJobStore::count_queued_locked(const std::string& tenant, const std::string* user,
                                                std::size_t limit) {
  Statement s(
      *this,
      user ? "SELECT COUNT(*) FROM (SELECT 1 FROM jobs WHERE tenant_id=?1 AND user_id=?3 AND "
             "status=0 "
             "LIMIT ?2)"
           : "SELECT COUNT(*) FROM (SELECT 1 FROM jobs WHERE tenant_id=?1 AND status=0 LIMIT ?2)");
  s.bind(1, tenant).bind(2, static_cast<std::int64_t>(limit));
  if (user) s.bind(3, *user);
  s.step();
  return static_cast<std::size_t>(s.integer(0));
}

SubmitResult SqliteJobStore::submit_locked(const NewJob& job, const std::optional<Lease>& lease) {
  if (!lease) {
    // A job that will wait counts against the queued bounds, in this transaction. The
    // user's jobs are among the tenant's: fewer queued in the tenant than the user bound
    // settles the user's count too.
    const auto& l = limits_;
    QueueLimit over = QueueLimit::kNone;
    std::size_t value = 0;
    const std::size_t tenant_limit = std::max(l.max_queued_per_tenant, l.max_queued_per_user);
    const std::size_t in_tenant =
        tenant_limit > 0 ? count_queued_locked(job.key.tenant_id, nullptr, tenant_limit) : 0;
    if (l.max_queued_per_tenant > 0 && in_tenant >= l.max_queued_per_tenant) {
      over = QueueLimit::kQueuedPerTenant;
      value = l.max_queued_per_tenant;
    } else if (l.max_queued_per_user > 0 && in_tenant >= l.max_queued_per_user &&
               count_queued_locked(job.key.tenant_id, &job.key.user_id, l.max_queued_per_user) >=
                   l.max_queued_per_user) {
      over = QueueLimit::kQueuedPerUser;
      value = l.max_queued_per_user;
    }
    if (over != QueueLimit::kNone) {
      // A resend is never refused.
      if (auto existing = find_locked(job.key)) return {std::move(*existing), false};
      return {{}, false, over, value};
    }
  }
  const auto now = now_ms();
  Statement ins(*this,
                "INSERT INTO jobs(tenant_id, user_id, request_id, action, payload, trace_id, "
                "max_attempts, available_at, created_at, updated_at, status, attempts, lease_owner, lease_until) "
                "VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?8,?8,?9,?9,?10,?11) "
                "ON CONFLICT(tenant_id, user_id, request_id) DO NOTHING");
  ins.bind(1, job.key.tenant_id).bind(2, job.key.user_id).bind(3, job.key.request_id);
  ins.bind(4, job.action).bind(5, job.payload_json).bind(6, job.trace_id);
  ins.bind(7, static_cast<std::int64_t>(job.max_attempts)).bind(8, now);
  if (lease) {  // status running, first attempt (?9 = 1 for both)
    ins.bind(9, std::int64_t{1}).bind(10, lease->worker_id).bind(11, to_ms(lease->lease_until));
  } else {
    ins.bind(9, std::int64_t{0}).bind_null(10).bind_null(11);
  }
  ins.step();
  if (ins.changes() == 0) {  // the key exists: answer with that job
    auto existing = find_locked(job.key);
    if (!existing) throw std::runtime_error("job vanished after insert");
    return {std::move(*existing), false};
  }
  // Created: the row is exactly what was inserted, no need to read it back.
  SubmitResult out{{}, true};
  JobRecord& r = out.record;
  r.job_id = std::to_string(sqlite3_last_insert_rowid(db_));
  r.key = job.key;
  r.action = job.action;
  r.payload_json = job.payload_json;
  r.trace_id = job.trace_id;
  r.max_attempts = job.max_attempts;
  r.created_at = r.updated_at = from_ms(now);
  if (lease) {
    r.status = JobStatus::kRunning;
    r.attempts = 1;
  }
  return out;
}

std::optional<JobRecord> SqliteJobStore::find(const JobKey& key) {
  std::lock_guard lock(mutex_);
  return find_locked(key);
}

void SqliteJobStore::claim_locked(const char* select_sql, std::string_view worker_id,
                                  std::chrono::milliseconds ttl, std::size_t max, std::vector<Lease>& out) {
  const auto now = now_ms();
  Statement s(*this, std::string("UPDATE jobs SET status=1, attempts=attempts+1, lease_owner=?1, "
                               "lease_until=?2, updated_at=?3 WHERE job_id IN (") +
                       select_sql + ") RETURNING " + kColumns);
  s.bind(1, worker_id).bind(2, now + ttl.count()).bind(3, now).bind(4, static_cast<std::int64_t>(max));
  const std::size_t first = out.size();
  while (s.step()) {
    Lease lease;
    lease.record = s.record();
    lease.worker_id = std::string(worker_id);
    lease.lease_until = from_ms(now + ttl.count());
    out.push_back(std::move(lease));
  }
  // RETURNING gives no order; hand them out oldest first.
  std::sort(out.begin() + static_cast<std::ptrdiff_t>(first), out.end(), [](const Lease& a, const Lease& b) {
    return std::stoll(a.record.job_id) < std::stoll(b.record.job_id);
  });
}

std::optional<Lease> SqliteJobStore::acquire(std::string_view worker_id, std::chrono::milliseconds ttl) {
  std::lock_guard lock(mutex_);
  auto out = in_transaction([&] {
    TenantLeases leases(*this);
    return acquire_locked(worker_id, ttl, 1, leases);
  });
  if (out.empty()) return std::nullopt;
  return std::move(out.front());
}

std::vector<std::string> SqliteJobStore::queued_tenants_locked() {
  std::vector<std::string> tenants;
  {
    Statement first(*this, "SELECT tenant_id FROM jobs WHERE status=0 ORDER BY tenant_id LIMIT 1");
    if (!first.step()) return tenants;
    tenants.push_back(first.text(0));
  }
  for (;;) {
    Statement next(
        *this,
        "SELECT tenant_id FROM jobs WHERE status=0 AND tenant_id>?1 ORDER BY tenant_id LIMIT 1");
    next.bind(1, tenants.back());
    if (!next.step()) return tenants;
    tenants.push_back(next.text(0));
  }
}

std::vector<Lease> SqliteJobStore::acquire_locked(std::string_view worker_id,
                                                  std::chrono::milliseconds ttl, std::size_t max,
                                                  TenantLeases& leases, bool* capped) {
  std::vector<Lease> out;
  if (max == 0) return out;
  const auto now = now_ms();
  const std::size_t cap = limits_.max_running_per_tenant;
  // Each tenant's runnable jobs in claim order, as many as it may take (plus one, to
  // tell whether its bound left some behind).
  struct Candidate {
    std::string tenant;
    std::vector<std::pair<std::int64_t, std::int64_t>> jobs;  // (job_id, available_at)
    std::size_t next = 0;
  };
  std::vector<Candidate> candidates;
  for (auto& tenant : queued_tenants_locked()) {
    const std::size_t held = leases[tenant];
    const std::size_t room = cap == 0 ? max : (held < cap ? std::min(cap - held, max) : 0);
    Statement s(*this,
                "SELECT job_id, available_at FROM jobs WHERE status=0 AND tenant_id=?1 AND "
                "available_at<=?2 "
                "ORDER BY available_at, job_id LIMIT ?3");
    s.bind(1, tenant).bind(2, now).bind(3, static_cast<std::int64_t>(room + 1));
    Candidate c{std::move(tenant), {}, 0};
    while (s.step()) c.jobs.emplace_back(s.integer(0), s.integer(1));
    if (!c.jobs.empty()) candidates.push_back(std::move(c));
  }
  // Each pick: the oldest runnable job of the tenant with the fewest leases.
  const auto lease_until = now + ttl.count();
  while (out.size() < max) {
    Candidate* pick = nullptr;
    std::tuple<std::size_t, std::int64_t, std::int64_t> best{};
    for (auto& c : candidates) {
      if (c.next >= c.jobs.size()) continue;
      const std::size_t held = leases[c.tenant];
      if (cap > 0 && held >= cap) continue;
      std::tuple<std::size_t, std::int64_t, std::int64_t> rank{held, c.jobs[c.next].second,
                                                               c.jobs[c.next].first};
      if (!pick || rank < best) {
        pick = &c;
        best = rank;
      }
    }
    if (!pick) break;
    static const std::string kClaimOne =
        std::string(
            "UPDATE jobs SET status=1, attempts=attempts+1, lease_owner=?1, "
            "lease_until=?2, updated_at=?3 WHERE job_id=?4 AND status=0 RETURNING ") +
        kColumns;
    Statement claim(*this, kClaimOne);
    claim.bind(1, worker_id)
        .bind(2, lease_until)
        .bind(3, now)
        .bind(4, pick->jobs[pick->next].first);
    ++pick->next;
    if (!claim.step()) continue;
    out.push_back(Lease{claim.record(), std::string(worker_id), from_ms(lease_until)});
    while (claim.step()) {
    }
    ++leases[pick->tenant];
  }
  if (capped && out.size() < max) {
    for (const auto& c : candidates) *capped = *capped || c.next < c.jobs.size();
  }
  // Then jobs whose worker stopped renewing its lease (their tenant's count is unchanged).
  if (out.size() < max) {
    claim_locked("SELECT job_id FROM jobs WHERE status=1 AND lease_until<=?3 ORDER BY lease_until LIMIT ?4",
                 worker_id, ttl, max - out.size(), out);
  }
  return out;
}

LeaseState SqliteJobStore::renew(std::string_view job_id, std::string_view worker_id,
                                 std::chrono::milliseconds ttl) {
  std::lock_guard lock(mutex_);
  Statement s(*this,
              "UPDATE jobs SET lease_until=?1 WHERE job_id=?2 AND status=1 AND lease_owner=?3 "
              "RETURNING cancel_requested");
  s.bind(1, now_ms() + ttl.count()).bind(2, std::stoll(std::string(job_id))).bind(3, worker_id);
  LeaseState state;
  if (s.step()) {
    state.owned = true;
    state.cancel_requested = s.integer(0) != 0;
    while (s.step()) {
    }
  }
  return state;
}

void SqliteJobStore::save_progress(std::string_view job_id, std::string_view worker_id,
                                   std::string_view progress_json) {
  std::lock_guard lock(mutex_);
  save_progress_locked(job_id, worker_id, progress_json);
}

void SqliteJobStore::save_progress_batch(std::string_view worker_id,
                                         const std::vector<std::pair<std::string, std::string>>& items) {
  std::lock_guard lock(mutex_);
  in_transaction([&] {
    for (const auto& [job_id, progress] : items) save_progress_locked(job_id, worker_id, progress);
    return true;
  });
}

void SqliteJobStore::save_progress_locked(std::string_view job_id, std::string_view worker_id,
                                          std::string_view progress_json) {
  Statement s(*this,
              "UPDATE jobs SET progress=?1, updated_at=?2 WHERE job_id=?3 AND status=1 AND lease_owner=?4");
  s.bind(1, progress_json).bind(2, now_ms()).bind(3, std::stoll(std::string(job_id))).bind(4, worker_id);
  s.step();
}

FinishResult SqliteJobStore::finish_job(std::string_view job_id, std::string_view worker_id,
                                        JobStatus terminal, std::string_view outcome_json,
                                        std::string_view final_progress_json) {
  std::lock_guard lock(mutex_);
  return finish_locked(job_id, worker_id, terminal, outcome_json, final_progress_json);
}

FinishResult SqliteJobStore::finish_locked(std::string_view job_id, std::string_view worker_id,
                                           JobStatus terminal, std::string_view outcome_json,
                                           std::string_view final_progress_json) {
  const auto now = now_ms();
  // A requested cancel (its outcome stored by request_cancel) wins over any other
  // outcome: the job ends CANCELLED and the caller learns which outcome was recorded.
  Statement s(
      *this,
      "UPDATE jobs SET "
      "status=CASE WHEN cancel_requested=1 AND ?1<>4 AND outcome<>'' THEN 4 ELSE ?1 END, "
      "outcome=CASE WHEN cancel_requested=1 AND ?1<>4 AND outcome<>'' THEN outcome ELSE ?2 END, "
      "updated_at=?3, finished_at=?3, lease_owner=NULL, lease_until=NULL, "
      "progress=CASE WHEN ?6='' THEN progress ELSE ?6 END "
      "WHERE job_id=?4 AND status=1 AND lease_owner=?5 "
      "RETURNING status<>?1, CASE WHEN status<>?1 THEN outcome ELSE '' END");
  s.bind(1, static_cast<std::int64_t>(terminal)).bind(2, outcome_json).bind(3, now);
  s.bind(4, std::stoll(std::string(job_id))).bind(5, worker_id).bind(6, final_progress_json);
  FinishResult out;
  if (s.step()) {
    out.ended = true;
    out.cancelled_instead = s.integer(0) != 0;
    out.outcome_json = s.text(1);
    while (s.step()) {
    }
  }
  return out;
}

bool SqliteJobStore::release(std::string_view job_id, std::string_view worker_id, SystemTime available_at,
                             std::string_view last_error, bool refund_attempt) {
  std::lock_guard lock(mutex_);
  Statement s(
      *this,
      "UPDATE jobs SET status=0, available_at=CASE WHEN cancel_requested=1 THEN ?3 ELSE ?1 END, "
      "last_error=?2, updated_at=?3, lease_owner=NULL, "
      "lease_until=NULL, attempts=attempts-?6 WHERE job_id=?4 AND status=1 AND lease_owner=?5");
  s.bind(1, to_ms(available_at)).bind(2, last_error).bind(3, now_ms());
  s.bind(4, std::stoll(std::string(job_id))).bind(5, worker_id).bind(6, std::int64_t{refund_attempt ? 1 : 0});
  s.step();
  return s.changes() == 1;
}

CancelOutcome SqliteJobStore::request_cancel(const JobKey& key, std::string_view cancelled_outcome_json) {
  std::lock_guard lock(mutex_);
  return in_transaction([&] {
    const auto now = now_ms();
    {
      Statement q(*this,
                  "UPDATE jobs SET status=4, outcome=?1, updated_at=?2, finished_at=?2 "
                  "WHERE tenant_id=?3 AND user_id=?4 AND request_id=?5 AND status=0");
      q.bind(1, cancelled_outcome_json).bind(2, now).bind(3, key.tenant_id).bind(4, key.user_id);
      q.bind(5, key.request_id);
      q.step();
      if (q.changes() == 1) return CancelOutcome::kCancelledNow;
    }
    {
      // Running: flagged, and the outcome its finish will record is kept with it.
      Statement r(*this,
                  "UPDATE jobs SET cancel_requested=1, outcome=?5, updated_at=?1 "
                  "WHERE tenant_id=?2 AND user_id=?3 AND request_id=?4 AND status=1");
      r.bind(1, now).bind(2, key.tenant_id).bind(3, key.user_id).bind(4, key.request_id);
      r.bind(5, cancelled_outcome_json);
      r.step();
      if (r.changes() == 1) return CancelOutcome::kCancelRequested;
    }
    return find_locked(key) ? CancelOutcome::kAlreadyFinished : CancelOutcome::kNotFound;
  });
}

std::size_t SqliteJobStore::purge_finished_before(SystemTime cutoff) {
  std::lock_guard lock(mutex_);
  Statement s(*this, "DELETE FROM jobs WHERE finished_at IS NOT NULL AND finished_at < ?1");
  s.bind(1, to_ms(cutoff));
  s.step();
  return static_cast<std::size_t>(s.changes());
}

std::optional<SystemTime> SqliteJobStore::next_wakeup() {
  std::lock_guard lock(mutex_);
  return next_wakeup_locked();
}

std::optional<SystemTime> SqliteJobStore::next_wakeup_locked(std::optional<std::int64_t> after_ms) {
  Statement s(*this,
              "SELECT MIN(t) FROM (SELECT MIN(available_at) AS t FROM jobs WHERE status=0 AND "
              "available_at>?1 "
              "UNION ALL SELECT MIN(lease_until) FROM jobs WHERE status=1)");
  s.bind(1, after_ms.value_or(std::numeric_limits<std::int64_t>::min()));
  if (!s.step() || s.is_null(0)) return std::nullopt;
  return from_ms(s.integer(0));
}

}  // namespace streamer
