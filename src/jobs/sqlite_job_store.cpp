#include "jobs/sqlite_job_store.hpp"

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
  fence INTEGER NOT NULL DEFAULT 0,
  lane TEXT NOT NULL DEFAULT '',
  UNIQUE(tenant_id, user_id, request_id)
);
)sql";

// Indexes, created once the columns they cover exist (after the upgrades below).
constexpr const char* kIndexes = R"sql(
CREATE INDEX IF NOT EXISTS jobs_queued ON jobs(available_at, job_id) WHERE status = 0;
CREATE INDEX IF NOT EXISTS jobs_leased ON jobs(lease_until) WHERE status = 1;
-- Fair claims and the per-tenant and per-user bounds: each tenant's queue in claim
-- order, queued jobs per user, leased jobs per tenant.
CREATE INDEX IF NOT EXISTS jobs_queued_by_tenant ON jobs(tenant_id, available_at, job_id) WHERE status = 0;
CREATE INDEX IF NOT EXISTS jobs_queued_by_user ON jobs(tenant_id, user_id) WHERE status = 0;
CREATE INDEX IF NOT EXISTS jobs_leased_by_tenant ON jobs(tenant_id) WHERE status = 1;
CREATE INDEX IF NOT EXISTS jobs_finished ON jobs(finished_at) WHERE finished_at IS NOT NULL;
-- Each job's latest progress steps (seq grows per job), deleted with the job.
CREATE TABLE IF NOT EXISTS job_progress(
  job_id INTEGER NOT NULL REFERENCES jobs(job_id) ON DELETE CASCADE,
  seq INTEGER NOT NULL,
  attempt INTEGER NOT NULL,
  at INTEGER NOT NULL,
  progress TEXT NOT NULL,
  PRIMARY KEY(job_id, seq)
) WITHOUT ROWID;
-- Claims within a lane: each lane's queue per tenant in claim order, its leases by expiry.
CREATE INDEX IF NOT EXISTS jobs_queued_by_lane ON jobs(lane, tenant_id, available_at, job_id) WHERE status = 0;
CREATE INDEX IF NOT EXISTS jobs_leased_by_lane ON jobs(lane, lease_until) WHERE status = 1;
)sql";

sqlite::Database open_database(const std::filesystem::path& path) {
  try {
    return sqlite::Database(path.string(), SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
  } catch (const sqlite::Error& e) {
    throw sqlite::Error("cannot open job store " + path.string(), e.message(), e.code());
  }
}

constexpr const char* kColumns =
    "job_id, tenant_id, user_id, request_id, action, payload, trace_id, status, attempts, "
    "max_attempts, cancel_requested, progress, outcome, last_error, created_at, updated_at, "
    "finished_at, lease_owner, lease_until, fence, lane";
constexpr int kFenceColumn = 19;
constexpr int kLaneColumn = 20;

}  // namespace

// One use of a cached prepared statement: typed binds, steps and columns; it is reset
// and its bindings cleared when this object goes away. Throws sqlite::Error.
class SqliteJobStore::Statement {
 public:
  // Borrows the store's cached prepared statement for `sql` (prepared on first use).
  Statement(SqliteJobStore& store, const std::string& sql)
      : db_(store.db_), stmt_(store.prepared(sql)) {}
  ~Statement() { stmt_.reset(); }
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  Statement& bind(int i, std::string_view v) {
    stmt_.bind(i, v);
    return *this;
  }
  Statement& bind(int i, std::int64_t v) {
    stmt_.bind(i, v);
    return *this;
  }
  Statement& bind_null(int i) {
    stmt_.bind_null(i);
    return *this;
  }
  // Steps once; true when a row is available.
  bool step() { return stmt_.step(); }
  std::string text(int col) const { return std::string(stmt_.text(col)); }
  std::int64_t integer(int col) const { return stmt_.int64(col); }
  bool is_null(int col) const { return stmt_.is_null(col); }
  std::int64_t changes() const { return db_.changes(); }

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
    r.lane = text(kLaneColumn);
    return r;
  }

 private:
  const sqlite::Database& db_;
  sqlite::Statement& stmt_;
};

class SqliteJobStore::TenantLeases {
 public:
  // Counts leases within `lane` (bounded per tenant by JobStore::lane_cap(lane); a lane
  // without a bound uses the count only to rank tenants).
  TenantLeases(SqliteJobStore& store, std::string_view lane) : store_(store), lane_(lane) {}
  // The tenant's leased jobs in the lane; the caller adds its own claims.
  std::size_t& operator[](const std::string& tenant) {
    auto it = counts_.find(tenant);
    if (it == counts_.end()) {
      Statement s(store_, "SELECT COUNT(*) FROM jobs WHERE tenant_id=?1 AND status=1 AND lane=?2");
      s.bind(1, tenant).bind(2, lane_);
      s.step();
      it = counts_.emplace(tenant, static_cast<std::size_t>(s.integer(0))).first;
    }
    return it->second;
  }

 private:
  SqliteJobStore& store_;
  std::string lane_;
  std::unordered_map<std::string, std::size_t> counts_;
};

class SqliteJobStore::QueuedCounts {
 public:
  explicit QueuedCounts(SqliteJobStore& store) : store_(store) {}
  // Queued jobs of the tenant (of the user, when given), up to `limit`: read from the store
  // once per transaction (the limit is the same for every call of one transaction), then
  // counted up by added(). A count that reached `limit` refuses every later queued submit,
  // so it never needs to be exact beyond it.
  std::size_t of(const std::string& tenant, const std::string* user, std::size_t limit) {
    auto& cache = user ? users_ : tenants_;
    auto key = user ? tenant + '\0' + *user : tenant;
    auto it = cache.find(key);
    if (it == cache.end()) {
      it = cache.emplace(std::move(key), store_.count_queued_locked(tenant, user, limit)).first;
    }
    return it->second;
  }
  // A job of `key` was inserted queued in this transaction.
  void added(const JobKey& key) {
    if (auto it = tenants_.find(key.tenant_id); it != tenants_.end()) ++it->second;
    if (auto it = users_.find(key.tenant_id + '\0' + key.user_id); it != users_.end()) {
      ++it->second;
    }
  }

 private:
  SqliteJobStore& store_;
  std::unordered_map<std::string, std::size_t> tenants_;
  std::unordered_map<std::string, std::size_t> users_;  // by tenant '\0' user
};

SqliteJobStore::SqliteJobStore(SqliteJobStoreOptions options) : db_(open_database(options.path)) {
  db_.exec("PRAGMA journal_mode=WAL");
  db_.exec(options.synchronous_full ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL");
  db_.exec("PRAGMA foreign_keys=ON");
  db_.exec(kSchema);
  // Databases created before leases were fenced get the column (every job at fence 0:
  // a lease taken before the upgrade cannot write after it, and its job runs again).
  Statement has_fence(*this, "SELECT COUNT(*) FROM pragma_table_info('jobs') WHERE name='fence'");
  has_fence.step();
  if (has_fence.integer(0) == 0)
    db_.exec("ALTER TABLE jobs ADD COLUMN fence INTEGER NOT NULL DEFAULT 0");
  // Databases created before lanes: every job is in the built-in lane.
  Statement has_lane(*this, "SELECT COUNT(*) FROM pragma_table_info('jobs') WHERE name='lane'");
  has_lane.step();
  if (has_lane.integer(0) == 0)
    db_.exec("ALTER TABLE jobs ADD COLUMN lane TEXT NOT NULL DEFAULT ''");
  db_.exec(kIndexes);
}

SqliteJobStore::~SqliteJobStore() = default;

sqlite::Statement& SqliteJobStore::prepared(const std::string& sql) {
  auto it = statements_.find(sql);
  if (it == statements_.end()) {
    it = statements_.emplace(sql, sqlite::Statement(db_, sql, SQLITE_PREPARE_PERSISTENT)).first;
  }
  return it->second;
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
    db_.rollback();
    throw;
  }
}

SubmitResult SqliteJobStore::submit(const NewJob& job) {
  std::lock_guard lock(mutex_);
  return in_transaction([&] {
    QueuedCounts queued(*this);
    return submit_locked(job, queued);
  });
}

std::vector<Lease> SqliteJobStore::acquire_batch(std::string_view worker_id,
                                                 std::chrono::milliseconds ttl, std::size_t max) {
  std::lock_guard lock(mutex_);
  return in_transaction([&] {
    TenantLeases leases(*this, "");
    return acquire_locked("", worker_id, ttl, max, leases);
  });
}

std::vector<Lease> SqliteJobStore::acquire_lane(std::string_view lane, std::string_view tenant,
                                                std::string_view worker_id,
                                                std::chrono::milliseconds ttl, std::size_t max) {
  return claim_lane(lane, tenant, worker_id, ttl, max).leases;
}

JobStore::LaneClaims SqliteJobStore::claim_lane(std::string_view lane, std::string_view tenant,
                                                std::string_view worker_id,
                                                std::chrono::milliseconds ttl, std::size_t max) {
  std::lock_guard lock(mutex_);
  return in_transaction([&] {
    TenantLeases leases(*this, lane);
    LaneClaims out;
    out.capped = false;
    out.leases = acquire_locked(lane, worker_id, ttl, max, leases, &out.capped, tenant);
    return out;
  });
}

JobStore::RoundResult SqliteJobStore::commit_round(const Round& round) {
  std::lock_guard lock(mutex_);
  return in_transaction([&] {
    RoundResult out;
    out.finished = finish_all_locked(round.finishes);
    TenantLeases leases(*this, "");
    const std::size_t cap = limits_.max_running_per_tenant;
    // Jobs runnable before this round go first; then new ones, inserted already leased
    // (one write per job instead of an insert and a claim) while claims remain and
    // their tenant is under its bound.
    if (round.claim_runnable) {
      out.claimed = acquire_locked("", round.worker_id, round.lease_ttl, round.max_claims, leases,
                                   &out.capped);
    }
    out.submitted.reserve(round.submits.size());
    const auto lease_until = from_ms(now_ms() + round.lease_ttl.count());
    // After this round's finishes and claims: from here on only its submits change what
    // is queued, so each tenant's queued jobs are counted once, not once per submit.
    QueuedCounts queued(*this);
    const bool lease_waiting = may_lease_waiting_locked(round);
    TenantLeases waiting_leases(*this, kWaitingLane);
    const std::size_t waiting_cap = lane_cap(kWaitingLane);
    for (const auto& job : round.submits) {
      if (lease_waiting && job.lane == kWaitingLane &&
          (waiting_cap == 0 || waiting_leases[job.key.tenant_id] < waiting_cap)) {
        out.submitted.push_back(
            submit_locked(job, queued, Lease{{}, round.worker_id, lease_until, 1}));
        if (out.submitted.back().created) {
          out.waiting_claimed.push_back(
              {out.submitted.back().record, round.worker_id, lease_until, 1});
          ++waiting_leases[job.key.tenant_id];
        }
        continue;
      }
      const bool claims_left = out.claimed.size() < round.max_claims && job.lane.empty();
      if (claims_left && (cap == 0 || leases[job.key.tenant_id] < cap)) {
        out.submitted.push_back(
            submit_locked(job, queued, Lease{{}, round.worker_id, lease_until, 1}));
        if (out.submitted.back().created) {
          out.claimed.push_back({out.submitted.back().record, round.worker_id, lease_until, 1});
          if (cap > 0) ++leases[job.key.tenant_id];
        }
      } else {
        out.submitted.push_back(submit_locked(job, queued));
        if (claims_left && out.submitted.back().created) out.capped = true;
      }
    }
    if (round.claim_runnable && round.max_claims > 0 && out.claimed.size() < round.max_claims) {
      out.next_wakeup = next_wakeup_locked(now_ms());
    }
    return out;
  });
}

bool SqliteJobStore::may_lease_waiting_locked(const Round& round) {
  if (!round.waiting_submits_fit()) return false;
  Statement s(*this, "SELECT 1 FROM jobs WHERE status=0 AND lane=?1 AND available_at<=?2 LIMIT 1");
  s.bind(1, kWaitingLane).bind(2, now_ms());
  return !s.step();
}

std::vector<FinishResult> SqliteJobStore::finish_batch(const std::vector<FinishItem>& items) {
  std::lock_guard lock(mutex_);
  return in_transaction([&] { return finish_all_locked(items); });
}

std::vector<FinishResult> SqliteJobStore::finish_all_locked(const std::vector<FinishItem>& items) {
  std::vector<FinishResult> out;
  out.reserve(items.size());
  for (const auto& i : items) out.push_back(finish_locked(i));
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

SubmitResult SqliteJobStore::submit_locked(const NewJob& job, QueuedCounts& queued,
                                           const std::optional<Lease>& lease) {
  if (!lease) {
    // A job that will wait counts against the queued bounds, in this transaction. The
    // user's jobs are among the tenant's: fewer queued in the tenant than the user bound
    // settles the user's count too.
    const auto& l = limits_;
    QueueLimit over = QueueLimit::kNone;
    std::size_t value = 0;
    const std::size_t tenant_limit = std::max(l.max_queued_per_tenant, l.max_queued_per_user);
    const std::size_t in_tenant =
        tenant_limit > 0 ? queued.of(job.key.tenant_id, nullptr, tenant_limit) : 0;
    if (l.max_queued_per_tenant > 0 && in_tenant >= l.max_queued_per_tenant) {
      over = QueueLimit::kQueuedPerTenant;
      value = l.max_queued_per_tenant;
    } else if (l.max_queued_per_user > 0 && in_tenant >= l.max_queued_per_user &&
               queued.of(job.key.tenant_id, &job.key.user_id, l.max_queued_per_user) >=
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
                "max_attempts, available_at, created_at, updated_at, status, attempts, fence, "
                "lease_owner, lease_until, lane) "
                "VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?8,?8,?9,?9,?9,?10,?11,?12) "
                "ON CONFLICT(tenant_id, user_id, request_id) DO NOTHING");
  ins.bind(1, job.key.tenant_id).bind(2, job.key.user_id).bind(3, job.key.request_id);
  ins.bind(4, job.action).bind(5, job.payload_json).bind(6, job.trace_id);
  ins.bind(7, static_cast<std::int64_t>(job.max_attempts)).bind(8, now).bind(12, job.lane);
  if (lease) {  // status running, first attempt, first claim (?9 = 1 for all three)
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
  if (!lease) queued.added(job.key);
  // Created: the row is exactly what was inserted, no need to read it back.
  SubmitResult out{{}, true};
  JobRecord& r = out.record;
  r.job_id = std::to_string(db_.last_insert_rowid());
  r.key = job.key;
  r.action = job.action;
  r.payload_json = job.payload_json;
  r.trace_id = job.trace_id;
  r.lane = job.lane;
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

void SqliteJobStore::claim_locked(const char* select_sql, std::string_view lane,
                                  std::string_view tenant, std::string_view worker_id,
                                  std::chrono::milliseconds ttl, std::size_t max,
                                  std::vector<Lease>& out) {
  const auto now = now_ms();
  Statement s(*this,
              std::string("UPDATE jobs SET status=1, attempts=attempts+1, fence=fence+1, "
                          "lease_owner=?1, lease_until=?2, updated_at=?3 WHERE job_id IN (") +
                  select_sql + ") RETURNING " + kColumns);
  s.bind(1, worker_id)
      .bind(2, now + ttl.count())
      .bind(3, now)
      .bind(4, static_cast<std::int64_t>(max))
      .bind(5, lane)
      .bind(6, tenant);
  const std::size_t first = out.size();
  while (s.step()) {
    Lease lease;
    lease.record = s.record();
    lease.worker_id = std::string(worker_id);
    lease.lease_until = from_ms(now + ttl.count());
    lease.fence = s.integer(kFenceColumn);
    out.push_back(std::move(lease));
  }
  // RETURNING gives no order; hand them out oldest first.
  std::sort(out.begin() + static_cast<std::ptrdiff_t>(first), out.end(),
            [](const Lease& a, const Lease& b) {
              return std::stoll(a.record.job_id) < std::stoll(b.record.job_id);
            });
}

std::vector<std::string> SqliteJobStore::queued_tenants_locked(std::string_view lane) {
  std::vector<std::string> tenants;
  {
    Statement first(
        *this, "SELECT tenant_id FROM jobs WHERE status=0 AND lane=?1 ORDER BY tenant_id LIMIT 1");
    first.bind(1, lane);
    if (!first.step()) return tenants;
    tenants.push_back(first.text(0));
  }
  for (;;) {
    Statement next(
        *this,
        "SELECT tenant_id FROM jobs WHERE status=0 AND lane=?2 AND tenant_id>?1 ORDER BY "
        "tenant_id LIMIT 1");
    next.bind(1, tenants.back()).bind(2, lane);
    if (!next.step()) return tenants;
    tenants.push_back(next.text(0));
  }
}

std::vector<Lease> SqliteJobStore::acquire_locked(std::string_view lane, std::string_view worker_id,
                                                  std::chrono::milliseconds ttl, std::size_t max,
                                                  TenantLeases& leases, bool* capped,
                                                  std::string_view tenant) {
  std::vector<Lease> out;
  if (max == 0) return out;
  const auto now = now_ms();
  // The lane's per-tenant bound: the worker threads' for the built-in lane, the waiting
  // lane's own, none for a remote action's lane (its workers' credits bound it).
  const std::size_t cap = lane_cap(lane);
  // Each tenant's runnable jobs in claim order, as many as it may take (plus one, to
  // tell whether its bound left some behind).
  struct Candidate {
    std::string tenant;
    std::vector<std::pair<std::int64_t, std::int64_t>> jobs;  // (job_id, available_at)
    std::size_t next = 0;
  };
  std::vector<Candidate> candidates;
  auto tenants =
      tenant.empty() ? queued_tenants_locked(lane) : std::vector<std::string>{std::string(tenant)};
  for (auto& tenant : tenants) {
    const std::size_t held = leases[tenant];
    const std::size_t room = cap == 0 ? max : (held < cap ? std::min(cap - held, max) : 0);
    Statement s(*this,
                "SELECT job_id, available_at FROM jobs WHERE status=0 AND lane=?4 AND "
                "tenant_id=?1 AND available_at<=?2 "
                "ORDER BY available_at, job_id LIMIT ?3");
    s.bind(1, tenant).bind(2, now).bind(3, static_cast<std::int64_t>(room + 1)).bind(4, lane);
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
            "UPDATE jobs SET status=1, attempts=attempts+1, fence=fence+1, lease_owner=?1, "
            "lease_until=?2, updated_at=?3 WHERE job_id=?4 AND status=0 RETURNING ") +
        kColumns;
    Statement claim(*this, kClaimOne);
    claim.bind(1, worker_id)
        .bind(2, lease_until)
        .bind(3, now)
        .bind(4, pick->jobs[pick->next].first);
    ++pick->next;
    if (!claim.step()) continue;
    out.push_back(Lease{claim.record(), std::string(worker_id), from_ms(lease_until),
                        claim.integer(kFenceColumn)});
    while (claim.step()) {
    }
    ++leases[pick->tenant];
  }
  if (capped && out.size() < max) {
    for (const auto& c : candidates) *capped = *capped || c.next < c.jobs.size();
  }
  // Then jobs whose worker stopped renewing its lease (their tenant's count is unchanged).
  if (out.size() < max) {
    claim_locked(
        "SELECT job_id FROM jobs WHERE status=1 AND lane=?5 AND (?6='' OR tenant_id=?6) AND "
        "lease_until<=?3 ORDER BY lease_until LIMIT ?4",
        lane, tenant, worker_id, ttl, max - out.size(), out);
  }
  return out;
}

LeaseState SqliteJobStore::renew(std::string_view job_id, std::int64_t fence,
                                 std::chrono::milliseconds ttl) {
  std::lock_guard lock(mutex_);
  Statement s(*this,
              "UPDATE jobs SET lease_until=?1 WHERE job_id=?2 AND status=1 AND fence=?3 "
              "RETURNING cancel_requested");
  s.bind(1, now_ms() + ttl.count()).bind(2, std::stoll(std::string(job_id))).bind(3, fence);
  LeaseState state;
  if (s.step()) {
    state.owned = true;
    state.cancel_requested = s.integer(0) != 0;
    while (s.step()) {
    }
  }
  return state;
}

void SqliteJobStore::save_progress_batch(const std::vector<ProgressItem>& items) {
  std::lock_guard lock(mutex_);
  in_transaction([&] {
    const auto now = now_ms();
    for (const auto& i : items) {
      Statement s(
          *this,
          "UPDATE jobs SET progress=?1, updated_at=?2 WHERE job_id=?3 AND status=1 AND fence=?4");
      const auto job_id = std::stoll(i.job_id);
      s.bind(1, i.progress_json).bind(2, now).bind(3, job_id).bind(4, i.fence);
      s.step();
      if (s.changes() == 1) append_progress_locked(job_id, i.progress_json, now);
    }
    return true;
  });
}

void SqliteJobStore::append_progress_locked(std::int64_t job_id, const std::string& progress_json,
                                            std::int64_t now) {
  const auto keep = static_cast<std::int64_t>(limits_.progress_history_steps);
  if (keep <= 0 || progress_json.empty()) return;
  // Two single-row statements rather than one INSERT ... SELECT ... RETURNING: that
  // form makes SQLite open a statement journal (a savepoint and its memory) for every
  // step, which was a third of the commit thread's time when every job's last step is
  // kept. The job exists (callers have just updated it).
  std::int64_t seq = 1;
  {
    // The last step, and whether this one repeats it in the same attempt (a finish
    // may carry the progress a racing progress write just stored): then nothing is added.
    Statement last(
        *this,
        "SELECT p.seq, p.progress=?2 AND p.attempt=j.attempts FROM job_progress p "
        "JOIN jobs j ON j.job_id=p.job_id WHERE p.job_id=?1 ORDER BY p.seq DESC LIMIT 1");
    last.bind(1, job_id).bind(2, progress_json);
    if (last.step()) {
      if (last.integer(1) != 0) return;
      seq = last.integer(0) + 1;
    }
  }
  {
    Statement add(*this,
                  "INSERT INTO job_progress(job_id, seq, attempt, at, progress) "
                  "VALUES(?1, ?4, (SELECT attempts FROM jobs WHERE job_id=?1), ?2, ?3)");
    add.bind(1, job_id).bind(2, now).bind(3, progress_json).bind(4, seq);
    add.step();
  }
  if (seq <= keep) return;
  Statement trim(*this, "DELETE FROM job_progress WHERE job_id=?1 AND seq<=?2");
  trim.bind(1, job_id).bind(2, seq - keep);
  trim.step();
}

FinishResult SqliteJobStore::finish_locked(const FinishItem& item) {
  const auto now = now_ms();
  FinishResult out;
  // Most jobs end with no cancel requested: one plain UPDATE records the outcome handed
  // in. (The statement below, with RETURNING, runs as a trigger under a statement
  // journal: it cost about a third of each round's SQLite time.)
  {
    Statement plain(*this,
                    "UPDATE jobs SET status=?1, outcome=?2, updated_at=?3, finished_at=?3, "
                    "lease_owner=NULL, lease_until=NULL, "
                    "progress=CASE WHEN ?6='' THEN progress ELSE ?6 END "
                    "WHERE job_id=?4 AND status=1 AND fence=?5 AND cancel_requested=0");
    plain.bind(1, static_cast<std::int64_t>(item.terminal)).bind(2, item.outcome_json).bind(3, now);
    plain.bind(4, std::stoll(item.job_id)).bind(5, item.fence).bind(6, item.final_progress_json);
    plain.step();
    if (plain.changes() == 1) {
      out.ended = true;
      append_progress_locked(std::stoll(item.job_id), item.final_progress_json, now);
      return out;
    }
  }
  // A cancel was requested (or the lease is lost: nothing matches). A requested cancel (its outcome
  // stored by request_cancel) wins over any other outcome: the job ends CANCELLED and the caller
  // learns which outcome was recorded.
  Statement s(
      *this,
      "UPDATE jobs SET "
      "status=CASE WHEN cancel_requested=1 AND ?1<>4 AND outcome<>'' THEN 4 ELSE ?1 END, "
      "outcome=CASE WHEN cancel_requested=1 AND ?1<>4 AND outcome<>'' THEN outcome ELSE ?2 END, "
      "updated_at=?3, finished_at=?3, lease_owner=NULL, lease_until=NULL, "
      "progress=CASE WHEN ?6='' THEN progress ELSE ?6 END "
      "WHERE job_id=?4 AND status=1 AND fence=?5 "
      "RETURNING status<>?1, CASE WHEN status<>?1 THEN outcome ELSE '' END");
  s.bind(1, static_cast<std::int64_t>(item.terminal)).bind(2, item.outcome_json).bind(3, now);
  s.bind(4, std::stoll(item.job_id)).bind(5, item.fence).bind(6, item.final_progress_json);
  if (s.step()) {
    out.ended = true;
    out.cancelled_instead = s.integer(0) != 0;
    out.outcome_json = s.text(1);
    while (s.step()) {
    }
  }
  if (out.ended) append_progress_locked(std::stoll(item.job_id), item.final_progress_json, now);
  return out;
}

bool SqliteJobStore::release(std::string_view job_id, std::int64_t fence, SystemTime available_at,
                             std::string_view last_error, bool refund_attempt) {
  std::lock_guard lock(mutex_);
  Statement s(
      *this,
      "UPDATE jobs SET status=0, available_at=CASE WHEN cancel_requested=1 THEN ?3 ELSE ?1 END, "
      "last_error=?2, updated_at=?3, lease_owner=NULL, "
      "lease_until=NULL, attempts=attempts-?6 WHERE job_id=?4 AND status=1 AND fence=?5");
  s.bind(1, to_ms(available_at)).bind(2, last_error).bind(3, now_ms());
  s.bind(4, std::stoll(std::string(job_id)))
      .bind(5, fence)
      .bind(6, std::int64_t{refund_attempt ? 1 : 0});
  s.step();
  return s.changes() == 1;
}

CancelOutcome SqliteJobStore::request_cancel(const JobKey& key,
                                             std::string_view cancelled_outcome_json) {
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
              "lane='' AND available_at>?1 "
              "UNION ALL SELECT MIN(lease_until) FROM jobs WHERE status=1 AND lane='')");
  s.bind(1, after_ms.value_or(std::numeric_limits<std::int64_t>::min()));
  if (!s.step() || s.is_null(0)) return std::nullopt;
  return from_ms(s.integer(0));
}

// ------------------------------------------------------------------- remote actions

void SqliteJobStore::ensure_remote_actions_table_locked() {
  if (remote_actions_table_) return;
  db_.exec(
      "CREATE TABLE IF NOT EXISTS remote_actions(name TEXT PRIMARY KEY, spec TEXT NOT NULL, "
      "tenant_scope TEXT NOT NULL, expires_at INTEGER NOT NULL) WITHOUT ROWID");
  remote_actions_table_ = true;
}

JobStore::RemoteActionEntry SqliteJobStore::put_remote_action(const RemoteActionEntry& entry,
                                                              SystemTime now) {
  std::lock_guard lock(mutex_);
  ensure_remote_actions_table_locked();
  return in_transaction([&] {
    Statement live(*this,
                   "SELECT spec, tenant_scope, expires_at FROM remote_actions WHERE name=?1 AND "
                   "expires_at>?2");
    live.bind(1, entry.name).bind(2, to_ms(now));
    if (live.step() && live.text(0) != entry.spec_json) {
      return RemoteActionEntry{entry.name, live.text(0), live.text(1), from_ms(live.integer(2))};
    }
    Statement put(*this,
                  "INSERT INTO remote_actions(name, spec, tenant_scope, expires_at) "
                  "VALUES(?1,?2,?3,?4) ON CONFLICT(name) DO UPDATE SET spec=excluded.spec, "
                  "tenant_scope=excluded.tenant_scope, "
                  "expires_at=MAX(expires_at, excluded.expires_at)");
    put.bind(1, entry.name)
        .bind(2, entry.spec_json)
        .bind(3, entry.tenant_scope)
        .bind(4, to_ms(entry.expires_at));
    put.step();
    return entry;
  });
}

std::vector<JobStore::RemoteActionEntry> SqliteJobStore::live_remote_actions(SystemTime now) {
  std::lock_guard lock(mutex_);
  ensure_remote_actions_table_locked();
  Statement s(*this,
              "SELECT name, spec, tenant_scope, expires_at FROM remote_actions WHERE expires_at>?1 "
              "ORDER BY name");
  s.bind(1, to_ms(now));
  std::vector<RemoteActionEntry> out;
  while (s.step()) out.push_back({s.text(0), s.text(1), s.text(2), from_ms(s.integer(3))});
  return out;
}

std::vector<LeaseState> SqliteJobStore::renew_batch(const std::vector<RenewItem>& items,
                                                    std::chrono::milliseconds ttl) {
  std::vector<LeaseState> out(items.size());
  if (items.empty()) return out;
  std::lock_guard lock(mutex_);
  in_transaction([&] {
    const auto until = now_ms() + ttl.count();
    for (std::size_t i = 0; i < items.size(); ++i) {
      // Read first, then a plain UPDATE: RETURNING would open a statement journal per item.
      const auto job_id = std::stoll(items[i].job_id);
      {
        Statement read(
            *this, "SELECT cancel_requested FROM jobs WHERE job_id=?1 AND status=1 AND fence=?2");
        read.bind(1, job_id).bind(2, items[i].fence);
        if (!read.step()) continue;
        out[i] = {true, read.integer(0) != 0};
      }
      Statement extend(*this, "UPDATE jobs SET lease_until=?1 WHERE job_id=?2");
      extend.bind(1, until).bind(2, job_id);
      extend.step();
    }
    return true;
  });
  return out;
}

}  // namespace streamer
