#include "handlers/process/tenant_snapshot.hpp"

#include <openssl/evp.h>
#include <sys/stat.h>

#include <chrono>
#include <cstdio>
#include <optional>
#include <random>
#include <string>

namespace streamer::process {
namespace fs = std::filesystem;

namespace {

constexpr const char* kFingerprintTable = kSnapshotBookkeeping;

// INTERNAL_ERROR "query snapshot: <what>[: <SQLite's message>]".
[[noreturn]] void fail(const std::string& what, const std::string& sqlite_message = {}) {
  throw HandlerError(
      ErrorCode::kInternalError,
      "query snapshot: " + what + (sqlite_message.empty() ? std::string() : ": " + sqlite_message));
}

std::string hex(const unsigned char* p, std::size_t n) {
  static const char* digits = "0123456789abcdef";
  std::string out;
  for (std::size_t i = 0; i < n; ++i) {
    out.push_back(digits[p[i] >> 4]);
    out.push_back(digits[p[i] & 15]);
  }
  return out;
}

// A file: URI for `p` (characters with a meaning in URIs percent-encoded) + `query`.
std::string file_uri(const fs::path& p, std::string_view query) {
  std::string out = "file:";
  for (char c : p.string()) {
    if (c == '%' || c == '?' || c == '#') {
      char buf[4];
      std::snprintf(buf, sizeof buf, "%%%02X", static_cast<unsigned char>(c));
      out += buf;
    } else {
      out.push_back(c);
    }
  }
  return out + "?" + std::string(query);
}

// Modification times advance in coarse ticks (a few ms): two writes in one tick, the
// second keeping the size, look alike. A fingerprint is trusted only when every
// modification time it holds is at least this old, so that any later write shows.
constexpr auto kSettled = std::chrono::seconds(1);

struct Fingerprint {
  std::string value;
  bool settled = true;
};

// Identifies one state of the dataset: any write (to the file or its WAL, whose
// checkpoints rewrite the file) or a replacement of the file changes the value; an
// absent and an empty WAL are the same state. The value is empty when the dataset
// does not exist; `settled` is false while a modification time is younger than
// kSettled.
Fingerprint dataset_fingerprint(const fs::path& dataset) {
  std::string out;
  bool settled = true;
  const auto now = std::chrono::system_clock::now();
  for (const fs::path& p : {dataset, fs::path(dataset.string() + "-wal")}) {
    struct stat st {};
    const bool present = ::stat(p.c_str(), &st) == 0;
    if (!present && out.empty()) return {};  // no dataset
    if (!present || st.st_size == 0) {       // an empty WAL adds nothing to the file
      out += ";-";
      continue;
    }
    const auto mtime = std::chrono::system_clock::time_point(
        std::chrono::duration_cast<std::chrono::system_clock::duration>(
            std::chrono::seconds(st.st_mtim.tv_sec) +
            std::chrono::nanoseconds(st.st_mtim.tv_nsec)));
    settled = settled && now - mtime >= kSettled;
    if (!out.empty()) out += ';';
    for (auto v :
         {static_cast<std::uint64_t>(st.st_dev), static_cast<std::uint64_t>(st.st_ino),
          static_cast<std::uint64_t>(st.st_size), static_cast<std::uint64_t>(st.st_mtim.tv_sec),
          static_cast<std::uint64_t>(st.st_mtim.tv_nsec)}) {
      out += std::to_string(v);
      out += ':';
    }
  }
  return {out, settled};
}

// Removes temporary files of builds that never finished (a crash mid-build) once they
// are older than any build can take.
void remove_abandoned_builds(const fs::path& dir, std::chrono::milliseconds older_than) {
  std::error_code ec;
  const auto cutoff = fs::file_time_type::clock::now() - older_than;
  for (auto it = fs::directory_iterator(dir, ec); !ec && it != fs::directory_iterator();
       it.increment(ec)) {
    std::error_code e;
    if (it->path().filename().string().find(".tmp-") != std::string::npos &&
        it->last_write_time(e) < cutoff && !e)
      fs::remove(it->path(), e);
  }
}

// A connection to `name` (a path or a file: URI), or nullopt when it cannot be opened.
// No busy timeout: a locked dataset fails the statement at once, as it always has.
std::optional<sqlite::Database> open_db(const std::string& name, int flags) {
  try {
    return sqlite::Database(name, flags | SQLITE_OPEN_URI, std::chrono::milliseconds(0));
  } catch (const sqlite::Error&) {
    return std::nullopt;
  }
}

sqlite::Statement prepare(const sqlite::Database& db, const std::string& sql) {
  try {
    return sqlite::Statement(db, sql);
  } catch (const sqlite::Error& e) {
    fail("prepare failed", e.message());
  }
}

// Runs a statement without rows; on SQLITE_INTERRUPT throws the interrupt's reason.
void run(sqlite::Statement& stmt, const QueryInterrupt& interrupt, std::string_view field) {
  try {
    stmt.step();
  } catch (const sqlite::Error& e) {
    if (e.code() == SQLITE_INTERRUPT) interrupt.throw_if_stopped(field);
    fail("copy failed", e.message());
  }
}

void exec(sqlite::Database& db, const std::string& sql) {
  try {
    db.exec(sql);
  } catch (const sqlite::Error& e) {
    fail("set-up failed", e.message());
  }
}

// The fingerprint stored in an open snapshot, or "" when it cannot be read.
std::string stored_fingerprint(const sqlite::Database& db) {
  try {
    sqlite::Statement stmt(db, std::string("SELECT fingerprint FROM main.") + kFingerprintTable);
    return stmt.step() ? std::string(stmt.text(0)) : std::string();
  } catch (const sqlite::Error&) {
    return {};
  }
}

// Whether the attached `src` has table `name` (false when that cannot be read).
bool has_source_table(sqlite::Statement& has_table, std::string_view name) {
  bool present = false;
  try {
    present = has_table.bind(1, name).step();
  } catch (const sqlite::Error&) {
  }
  has_table.reset();  // no statement stays active into the COMMIT
  return present;
}

// Copies the tenant's rows of the attached `src` into main's tables and records the
// fingerprint, in one transaction. The tenant id is only ever a bound parameter.
void copy_tenant_rows(sqlite::Database& db, std::string_view tenant_id,
                      const std::string& fingerprint, std::uint64_t max_rows,
                      const QueryInterrupt& interrupt, std::string_view field) {
  exec(db, "BEGIN");
  sqlite::Statement has_table =
      prepare(db, "SELECT 1 FROM src.sqlite_schema WHERE type = 'table' AND name = ?1");
  for (const TenantTable& t : kTenantTables) {
    if (!has_source_table(has_table, t.name)) continue;
    const std::string name(t.name), columns(t.columns);
    exec(db,
         "CREATE TABLE main." + name + " AS SELECT " + columns + " FROM src." + name + " WHERE 0");
    sqlite::Statement copy =
        prepare(db, "INSERT INTO main." + name + " SELECT " + columns + " FROM src." + name +
                        " WHERE tenant_id = ?1 LIMIT ?2");
    copy.bind(1, tenant_id);
    copy.bind(2, static_cast<std::int64_t>(std::min<std::uint64_t>(max_rows, INT64_MAX - 1) + 1));
    run(copy, interrupt, field);
    if (static_cast<std::uint64_t>(db.changes()) > max_rows)
      throw HandlerError::validation(
          field, "a dataset the query source can snapshot", boost::json::string(name),
          "your " + name + " table has more than " + std::to_string(max_rows) +
              " rows, the limit of the query source (--query-max-snapshot-rows)");
  }
  exec(db, std::string("CREATE TABLE main.") + kFingerprintTable + "(fingerprint TEXT)");
  sqlite::Statement mark =
      prepare(db, std::string("INSERT INTO main.") + kFingerprintTable + " VALUES(?1)");
  mark.bind(1, fingerprint);
  run(mark, interrupt, field);
  exec(db, "COMMIT");
}

// Writes the tenant's rows of `dataset` into a new database `out` (a fresh, randomly
// named file). The tenant id is only ever a bound parameter.
void build_snapshot(const fs::path& dataset, const fs::path& out, std::string_view tenant_id,
                    const std::string& fingerprint, std::uint64_t max_rows,
                    const QueryInterrupt& interrupt, std::string_view field) {
  auto db = open_db(out.string(), SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
  if (!db) fail("cannot create " + out.filename().string());
  sqlite3_db_config(db->handle(), SQLITE_DBCONFIG_ENABLE_LOAD_EXTENSION, 0, nullptr);
  interrupt.install(db->handle());
  // A cache: no rollback journal; the one commit is synced before the rename.
  exec(*db, "PRAGMA journal_mode=OFF; PRAGMA synchronous=FULL");
  {
    sqlite::Statement attach = prepare(*db, "ATTACH DATABASE ?1 AS src");
    attach.bind(1, file_uri(dataset, "mode=ro"));
    run(attach, interrupt, field);
  }
  copy_tenant_rows(*db, tenant_id, fingerprint, max_rows, interrupt, field);
  exec(*db, "DETACH DATABASE src");
  try {
    db->close();
  } catch (const sqlite::Error& e) {
    fail("cannot close " + out.filename().string(), e.message());
  }
}

std::string random_suffix() {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  const std::uint64_t v = rng();
  return hex(reinterpret_cast<const unsigned char*>(&v), sizeof v);
}

}  // namespace

fs::path tenant_snapshot_path(const fs::path& data_dir, std::string_view tenant_id) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_Digest(tenant_id.data(), tenant_id.size(), digest, &len, EVP_sha256(), nullptr) != 1)
    throw HandlerError(ErrorCode::kInternalError, "query snapshot: SHA-256 failed");
  return data_dir / "query-snapshots" / (hex(digest, len) + ".db");
}

sqlite::Database open_tenant_snapshot(const fs::path& data_dir, std::string_view tenant_id,
                                      std::uint64_t max_rows_per_table,
                                      const QueryInterrupt& interrupt, std::string_view field) {
  const fs::path dataset = data_dir / "datasets" / "sales.db";
  const Fingerprint fingerprint = dataset_fingerprint(dataset);
  if (fingerprint.value.empty()) {
    auto empty = open_db(":memory:", SQLITE_OPEN_READWRITE);
    if (!empty) fail("cannot open an in-memory database");
    return std::move(*empty);
  }
  const fs::path path = tenant_snapshot_path(data_dir, tenant_id);
  const std::string uri = file_uri(path, "mode=ro&immutable=1");
  const int flags = SQLITE_OPEN_READONLY;
  if (auto db = open_db(uri, flags);
      db && fingerprint.settled && stored_fingerprint(*db) == fingerprint.value)
    return std::move(*db);

  std::error_code ec;
  fs::create_directories(path.parent_path(), ec);
  remove_abandoned_builds(path.parent_path(), std::max<std::chrono::milliseconds>(
                                                  interrupt.time_limit(), std::chrono::hours(1)));
  const fs::path tmp = path.string() + ".tmp-" + random_suffix();
  try {
    // An unsettled state is recorded as "" (never equal to a dataset's fingerprint).
    build_snapshot(dataset, tmp, tenant_id, fingerprint.settled ? fingerprint.value : std::string(),
                   max_rows_per_table, interrupt, field);
    fs::rename(tmp, path, ec);
    if (ec) fail("cannot rename the snapshot: " + ec.message());
  } catch (const sqlite::Error& e) {  // a bind refused (a value beyond SQLite's limits)
    fs::remove(tmp, ec);
    fail("build failed", e.message());
  } catch (...) {
    fs::remove(tmp, ec);
    throw;
  }
  auto db = open_db(uri, flags);
  if (!db) fail("cannot open " + path.filename().string());
  return std::move(*db);
}

}  // namespace streamer::process
