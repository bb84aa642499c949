#include "handlers/process/sql_source.hpp"

#include <sqlite3.h>

#include <algorithm>
#include <cctype>
#include <climits>
#include <cstring>
#include <optional>

#include "core/sqlite_db.hpp"
#include "handlers/process/csv_reader.hpp"
#include "handlers/process/file_sandbox.hpp"
#include "handlers/process/query_interrupt.hpp"
#include "handlers/process/sql_function_allowlist.hpp"
#include "handlers/process/tenant_snapshot.hpp"

namespace streamer::process {
namespace fs = std::filesystem;

namespace {

constexpr const char* kField = "data_source.query";
constexpr const char* kExpected =
    "a single read-only SELECT over sales, refunds, targets or your uploaded files";
constexpr int kCacheKiB = 2000;  // page cache per database of the query connection (SQLite default)

HandlerError refuse(std::string_view sql, const std::string& message) {
  return HandlerError::validation(kField, kExpected,
                                  boost::json::string(std::string(sql.substr(0, 512))), message);
}

// What the authorizer lets a client statement do, and why it last refused.
struct Sandbox {
  std::vector<std::string> temp_tables;  // uploaded files loaded as TEMP tables
  std::string refused;                   // description of the last denied action
};

bool is_tenant_table(const char* name) {
  for (const TenantTable& t : kTenantTables)
    if (std::strcmp(name, t.name) == 0) return true;
  return false;
}

// Names a FROM item may have that are schema tables, not data the tenant owns.
bool is_bookkeeping_table(const char* name) {
  return sqlite3_strnicmp(name, "sqlite_", 7) == 0 ||
         sqlite3_stricmp(name, kSnapshotBookkeeping) == 0;
}

int authorizer(void* ctx, int action, const char* a3, const char* a4, const char* db, const char*) {
  auto& box = *static_cast<Sandbox*>(ctx);
  auto deny = [&](std::string why) {
    if (box.refused.empty())
      box.refused = std::move(why);  // the first refusal explains the failure
    return SQLITE_DENY;
  };
  switch (action) {
    case SQLITE_SELECT:
    case SQLITE_RECURSIVE:
      return SQLITE_OK;
    case SQLITE_FUNCTION:
      if (a4 && is_allowed_sql_function(a4)) return SQLITE_OK;
      return deny(std::string("the function ") + (a4 ? a4 : "?") + "() is not allowed");
    case SQLITE_READ:
      // a3 is the table actually read (never the name of a CTE or alias over it)
      // and db its schema. Without db, a3 is a FROM item (table, CTE or subquery)
      // counted by count(*) without reading a column; its own reads come separately.
      if (a3 && !db && !is_bookkeeping_table(a3)) return SQLITE_OK;
      if (a3 && db) {
        if (std::strcmp(db, "main") == 0 && is_tenant_table(a3)) return SQLITE_OK;
        if (std::strcmp(db, "temp") == 0 &&
            std::find(box.temp_tables.begin(), box.temp_tables.end(), a3) != box.temp_tables.end())
          return SQLITE_OK;
      }
      return deny(std::string("reading ") + (db ? db : "") + (db ? "." : "") + (a3 ? a3 : "?") +
                  " is not allowed");
    default:
      return deny("only SELECT statements are allowed");
  }
}

void exec(sqlite::Database& db, const std::string& sql) {
  try {
    db.exec(sql);
  } catch (const sqlite::Error& e) {
    throw HandlerError(ErrorCode::kInternalError, "query set-up failed: " + e.message());
  }
}

std::string ident(std::string_view s) {
  char* q = sqlite3_mprintf("\"%w\"", std::string(s).c_str());
  std::string out(q);
  sqlite3_free(q);
  return out;
}

std::string table_name_for(const fs::path& file) {
  std::string out;
  for (char c : file.stem().string())
    out.push_back(std::isalnum(static_cast<unsigned char>(c)) ? static_cast<char>(std::tolower(c))
                                                              : '_');
  return out;
}

// Finds the sandbox file whose table name is `name` (first in path order).
std::optional<fs::path> find_table_file(const fs::path& root, const std::string& name) {
  std::error_code ec;
  if (!fs::is_directory(root, ec)) return std::nullopt;
  std::vector<fs::path> hits;
  for (auto it = fs::recursive_directory_iterator(root, fs::directory_options::none, ec);
       !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (!it->is_regular_file(ec) || it->is_symlink(ec)) continue;
    auto ext = it->path().extension().string();
    if (ext != ".csv" && ext != ".jsonl" && ext != ".ndjson") continue;
    if (table_name_for(it->path()) == name) hits.push_back(it->path());
  }
  if (hits.empty()) return std::nullopt;
  std::sort(hits.begin(), hits.end());
  return hits.front();
}

// Creates TEMP table `name` from a parsed file (the authorizer must be off).
void load_table(sqlite::Database& db, std::string_view sql, const std::string& name,
                const DataTable& t) {
  std::string create = "CREATE TEMP TABLE " + ident(name) + "(";
  std::string insert = "INSERT INTO temp." + ident(name) + " VALUES(";
  for (std::size_t c = 0; c < t.columns.size(); ++c) {
    if (c) create += ',';
    create += ident(t.columns[c].name);
    create += t.columns[c].numeric() ? " REAL" : " TEXT";
    insert += c ? ",?" : "?";
  }
  exec(db, create + ")");
  exec(db, "BEGIN");
  sqlite::Statement ins;
  try {
    ins = sqlite::Statement(db, insert + ")");
  } catch (const sqlite::Error&) {
    db.rollback();
    throw HandlerError(ErrorCode::kInternalError, "could not load table " + name);
  }
  for (std::size_t r = 0; r < t.rows; ++r) {
    try {
      for (std::size_t c = 0; c < t.columns.size(); ++c) {
        const Column& col = t.columns[c];
        int i = static_cast<int>(c + 1);
        if (col.missing(r))
          ins.bind_null(i);
        else if (col.numeric())
          ins.bind(i, col.numbers[r]);
        else
          ins.bind(i, std::string_view(col.text[r]));
      }
      ins.run();
    } catch (const sqlite::Error& e) {
      ins = sqlite::Statement();
      db.rollback();
      throw refuse(sql, "could not load table " + name + ": " + e.message());
    }
    ins.reset();
  }
  ins = sqlite::Statement();
  exec(db, "COMMIT");
}

bool only_blanks_or_comments(const sqlite::Database& db, const char* tail) {
  // Preparing the tail yields no statement when it holds only blanks and comments.
  while (tail && *tail) {
    const char* rest = nullptr;
    try {
      if (sqlite::Statement(db, tail, 0, &rest)) return false;
    } catch (const sqlite::Error&) {
      return false;
    }
    if (rest == tail) break;
    tail = rest;
  }
  return true;
}

// Per-connection bounds on what SQLite itself may hold and do.
void restrict_connection(sqlite::Database& connection, const QueryLimits& limits) {
  sqlite3* db = connection.handle();
  sqlite3_limit(db, SQLITE_LIMIT_ATTACHED, 0);
  sqlite3_limit(db, SQLITE_LIMIT_SQL_LENGTH, 100'000);
  sqlite3_limit(db, SQLITE_LIMIT_LENGTH,
                static_cast<int>(std::clamp<std::uint64_t>(limits.max_value_bytes, 1024, INT_MAX)));
  sqlite3_limit(db, SQLITE_LIMIT_WORKER_THREADS, 0);
  sqlite3_db_config(db, SQLITE_DBCONFIG_ENABLE_LOAD_EXTENSION, 0, nullptr);
  sqlite3_db_config(db, SQLITE_DBCONFIG_ENABLE_FTS3_TOKENIZER, 0, nullptr);
  sqlite3_db_config(db, SQLITE_DBCONFIG_DEFENSIVE, 1, nullptr);
  sqlite3_db_config(db, SQLITE_DBCONFIG_TRUSTED_SCHEMA, 0, nullptr);
  sqlite3_db_config(db, SQLITE_DBCONFIG_ENABLE_TRIGGER, 0, nullptr);
  sqlite3_db_config(db, SQLITE_DBCONFIG_ENABLE_VIEW, 0, nullptr);
  const std::string cache = std::to_string(-kCacheKiB);
  exec(connection, "PRAGMA temp_store=FILE; PRAGMA main.cache_size=" + cache +
                       "; PRAGMA temp.cache_size=" + cache);
}

// Collects the statement's rows into a table, refusing past the row and byte caps.
DataTable collect_rows(sqlite::Statement& stmt, std::string_view sql, const QueryLimits& limits,
                       const QueryInterrupt& interrupt) {
  const int ncols = stmt.column_count();
  if (ncols == 0) throw refuse(sql, "the statement returns no columns");
  std::vector<std::string> names;
  for (int c = 0; c < ncols; ++c) {
    std::string n = stmt.column_name(c);
    while (std::find(names.begin(), names.end(), n) != names.end()) n += "_";
    names.push_back(n);
  }
  TableBuilder builder(names);
  std::uint64_t bytes = 0;
  constexpr std::uint64_t kNumberText = 24;  // a double as the builder's text (to_chars)
  while (true) {
    bool has_row = false;
    try {
      has_row = stmt.step();
    } catch (const sqlite::Error& e) {
      if (e.code() == SQLITE_INTERRUPT) interrupt.throw_if_stopped(kField);
      if (interrupt.cancelled()) throw OperationCancelled{};
      throw refuse(sql, "query failed: " + e.message());
    }
    if (!has_row) break;
    if (interrupt.cancelled()) throw OperationCancelled{};
    if (builder.rows() >= limits.max_rows)
      throw refuse(sql, "the query returns more than " + std::to_string(limits.max_rows) +
                            " rows (--query-max-rows)");
    builder.begin_row();
    for (int c = 0; c < ncols; ++c) {
      bytes += sizeof(std::string);
      switch (stmt.type(c)) {
        case SQLITE_INTEGER:
        case SQLITE_FLOAT:
          builder.set_number(static_cast<std::size_t>(c), stmt.real(c));
          bytes += kNumberText;
          break;
        case SQLITE_NULL:
          break;
        default: {
          const std::string_view text = stmt.text(c);
          builder.set(static_cast<std::size_t>(c), std::string(text));
          bytes += text.size();
        }
      }
    }
    if (bytes > limits.max_result_bytes)
      throw refuse(sql, "the query result is larger than " +
                            std::to_string(limits.max_result_bytes) +
                            " bytes (--query-max-result-bytes); select fewer rows or columns");
  }
  if (builder.rows() == 0) throw refuse(sql, "the query returned no rows");
  return builder.finish();
}

}  // namespace

DataTable run_tenant_query(const HandlerEnvironment& env, std::string_view tenant_id,
                           std::string_view sql, const CancelToken* cancel,
                           const QueryLimits& limits) {
  if (sql.find('\0') != std::string_view::npos)
    throw refuse(sql, "the query contains a NUL character");
  const QueryInterrupt interrupt(cancel, limits.time_limit);
  sqlite::Database db =
      open_tenant_snapshot(env.data_dir, tenant_id, limits.max_snapshot_rows, interrupt, kField);
  restrict_connection(db, limits);
  interrupt.install(db.handle());

  Sandbox box;
  const std::string text(sql);
  sqlite::Statement stmt;
  const char* tail = nullptr;
  for (int attempt = 0; attempt < 8; ++attempt) {
    box.refused.clear();
    int rc = SQLITE_OK;
    std::string msg;
    sqlite3_set_authorizer(db.handle(), authorizer, &box);
    try {
      stmt = sqlite::Statement(db, text, 0, &tail);
    } catch (const sqlite::Error& e) {
      rc = e.code();
      msg = e.message();
    }
    sqlite3_set_authorizer(db.handle(), nullptr, nullptr);
    if (rc == SQLITE_OK) break;
    if (rc == SQLITE_INTERRUPT) interrupt.throw_if_stopped(kField);
    const std::string prefix = "no such table: ";
    if (msg.rfind(prefix, 0) == 0) {
      std::string name = msg.substr(prefix.size());
      if (name.find('.') == std::string::npos) {
        // The sandbox is named only when a file table is looked up (an invalid tenant
        // id has none: sandbox_root refuses it).
        if (auto file = find_table_file(sandbox_root(env, tenant_id), name)) {
          load_table(db, sql, name, read_table_file(*file, limits.max_table_file_bytes));
          box.temp_tables.push_back(name);
          continue;
        }
      }
    }
    if (rc == SQLITE_AUTH || !box.refused.empty())
      msg = "only a read-only SELECT over your own data is allowed (" +
            (box.refused.empty() ? msg : box.refused) + ")";
    throw refuse(sql, "invalid query: " + msg);
  }
  if (!stmt) throw refuse(sql, "the query is empty");
  if (!only_blanks_or_comments(db, tail)) throw refuse(sql, "only a single statement is allowed");
  if (!stmt.read_only()) throw refuse(sql, "only read-only statements are allowed");

  // Kept during the steps: SQLite re-runs it if it has to prepare the statement again.
  sqlite3_set_authorizer(db.handle(), authorizer, &box);
  return collect_rows(stmt, sql, limits, interrupt);
}

}  // namespace streamer::process
