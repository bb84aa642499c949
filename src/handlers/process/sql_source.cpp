#include "handlers/process/sql_source.hpp"

#include <sqlite3.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstring>
#include <optional>
#include <memory>

#include "handlers/process/csv_reader.hpp"
#include "handlers/process/file_sandbox.hpp"

namespace streamer::process {
namespace fs = std::filesystem;

namespace {

constexpr const char* kField = "data_source.query";
constexpr const char* kExpected = "a single read-only SELECT over sales, refunds, targets or your uploaded files";

HandlerError refuse(std::string_view sql, const std::string& message) {
  return HandlerError::validation(kField, kExpected, boost::json::string(std::string(sql.substr(0, 512))), message);
}

struct DbCloser {
  void operator()(sqlite3* db) const { sqlite3_close_v2(db); }
};
struct StmtFinalizer {
  void operator()(sqlite3_stmt* s) const { sqlite3_finalize(s); }
};
using Db = std::unique_ptr<sqlite3, DbCloser>;
using Stmt = std::unique_ptr<sqlite3_stmt, StmtFinalizer>;

const char* kViews[] = {"sales", "refunds", "targets"};

int authorizer(void*, int action, const char* a3, const char*, const char* db, const char* view) {
  switch (action) {
    case SQLITE_SELECT:
    case SQLITE_FUNCTION:
    case SQLITE_RECURSIVE:
      return SQLITE_OK;
    case SQLITE_READ:
      if (db && std::strcmp(db, "src") == 0) {
        if (!view) return SQLITE_DENY;
        for (const char* v : kViews)
          if (std::strcmp(view, v) == 0) return SQLITE_OK;
        return SQLITE_DENY;
      }
      return SQLITE_OK;
    default:
      return SQLITE_DENY;
  }
}

void exec(sqlite3* db, const std::string& sql) {
  char* err = nullptr;
  if (sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err) != SQLITE_OK) {
    std::string msg = err ? err : "sqlite error";
    sqlite3_free(err);
    throw HandlerError(ErrorCode::kInternalError, "query set-up failed: " + msg);
  }
}

std::string sql_quote(std::string_view s) {
  char* q = sqlite3_mprintf("%Q", std::string(s).c_str());
  std::string out(q);
  sqlite3_free(q);
  return out;
}

// A file: URI for `p` (characters with a meaning in URIs percent-encoded).
std::string file_uri(const fs::path& p) {
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
  return out + "?mode=ro";
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
    out.push_back(std::isalnum(static_cast<unsigned char>(c)) ? static_cast<char>(std::tolower(c)) : '_');
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

// Creates TEMP table `name` from a parsed file (authorizer must be off).
void load_table(sqlite3* db, const std::string& name, const DataTable& t) {
  std::string create = "CREATE TEMP TABLE " + ident(name) + "(";
  std::string insert = "INSERT INTO temp." + ident(name) + " VALUES(";
  for (std::size_t c = 0; c < t.columns.size(); ++c) {
    create += (c ? "," : "") + ident(t.columns[c].name) + (t.columns[c].numeric() ? " REAL" : " TEXT");
    insert += c ? ",?" : "?";
  }
  exec(db, create + ")");
  exec(db, "BEGIN");
  sqlite3_stmt* raw = nullptr;
  if (sqlite3_prepare_v2(db, (insert + ")").c_str(), -1, &raw, nullptr) != SQLITE_OK)
    throw HandlerError(ErrorCode::kInternalError, "could not load table " + name);
  Stmt ins(raw);
  for (std::size_t r = 0; r < t.rows; ++r) {
    for (std::size_t c = 0; c < t.columns.size(); ++c) {
      const Column& col = t.columns[c];
      int i = static_cast<int>(c + 1);
      if (col.missing(r)) sqlite3_bind_null(ins.get(), i);
      else if (col.numeric()) sqlite3_bind_double(ins.get(), i, col.numbers[r]);
      else sqlite3_bind_text(ins.get(), i, col.text[r].data(), static_cast<int>(col.text[r].size()), SQLITE_STATIC);
    }
    sqlite3_step(ins.get());
    sqlite3_reset(ins.get());
  }
  exec(db, "COMMIT");
}

bool only_blanks_or_comments(sqlite3* db, const char* tail) {
  // Preparing the tail yields no statement when it holds only blanks and comments.
  while (tail && *tail) {
    sqlite3_stmt* next = nullptr;
    const char* rest = nullptr;
    int rc = sqlite3_prepare_v2(db, tail, -1, &next, &rest);
    if (next) {
      sqlite3_finalize(next);
      return false;
    }
    if (rc != SQLITE_OK) return false;
    if (rest == tail) break;
    tail = rest;
  }
  return true;
}

}  // namespace

DataTable run_tenant_query(const HandlerEnvironment& env, std::string_view tenant_id, std::string_view sql,
                           const CancelToken* cancel, const QueryLimits& limits) {
  if (sql.find('\0') != std::string_view::npos) throw refuse(sql, "the query contains a NUL character");
  sqlite3* raw = nullptr;
  if (sqlite3_open_v2(":memory:", &raw, SQLITE_OPEN_READWRITE | SQLITE_OPEN_URI | SQLITE_OPEN_NOMUTEX, nullptr) !=
      SQLITE_OK) {
    sqlite3_close_v2(raw);
    throw HandlerError(ErrorCode::kInternalError, "could not open the query engine");
  }
  Db db(raw);
  sqlite3_limit(db.get(), SQLITE_LIMIT_ATTACHED, 1);
  sqlite3_limit(db.get(), SQLITE_LIMIT_SQL_LENGTH, 100'000);
  sqlite3_db_config(db.get(), SQLITE_DBCONFIG_ENABLE_LOAD_EXTENSION, 0, nullptr);
  sqlite3_db_config(db.get(), SQLITE_DBCONFIG_DEFENSIVE, 1, nullptr);

  fs::path dataset = env.data_dir / "datasets" / "sales.db";
  std::error_code ec;
  if (fs::is_regular_file(dataset, ec)) {
    exec(db.get(), "ATTACH DATABASE " + sql_quote(file_uri(dataset)) + " AS src");
    const std::string t = sql_quote(tenant_id);
    exec(db.get(),
         "CREATE TEMP VIEW sales AS SELECT id, date, category, region, product, customer_id, quantity, "
         "unit_price, amount FROM src.sales WHERE tenant_id = " + t);
    exec(db.get(), "CREATE TEMP VIEW refunds AS SELECT id, sale_id, date, amount, reason FROM src.refunds WHERE tenant_id = " + t);
    exec(db.get(), "CREATE TEMP VIEW targets AS SELECT month, category, region, target_amount FROM src.targets WHERE tenant_id = " + t);
  }
  if (cancel) {
    sqlite3_progress_handler(db.get(), 10'000, [](void* c) -> int {
      return static_cast<const CancelToken*>(c)->cancelled() ? 1 : 0;
    }, const_cast<CancelToken*>(cancel));
  }

  const fs::path root = sandbox_root(env, tenant_id);
  const std::string text(sql);
  Stmt stmt;
  const char* tail = nullptr;
  for (int attempt = 0; attempt < 8; ++attempt) {
    sqlite3_set_authorizer(db.get(), authorizer, nullptr);
    sqlite3_stmt* s = nullptr;
    int rc = sqlite3_prepare_v2(db.get(), text.c_str(), static_cast<int>(text.size()), &s, &tail);
    sqlite3_set_authorizer(db.get(), nullptr, nullptr);
    if (rc == SQLITE_OK) {
      stmt.reset(s);
      break;
    }
    sqlite3_finalize(s);
    std::string msg = sqlite3_errmsg(db.get());
    const std::string prefix = "no such table: ";
    if (msg.rfind(prefix, 0) == 0) {
      std::string name = msg.substr(prefix.size());
      if (name.find('.') == std::string::npos) {
        if (auto file = find_table_file(root, name)) {
          load_table(db.get(), name, read_table_file(*file, limits.max_table_file_bytes));
          continue;
        }
      }
    }
    if (rc == SQLITE_AUTH) msg = "only a read-only SELECT over your own data is allowed (" + msg + ")";
    throw refuse(sql, "invalid query: " + msg);
  }
  if (!stmt) throw refuse(sql, "the query is empty");
  if (!only_blanks_or_comments(db.get(), tail)) throw refuse(sql, "only a single statement is allowed");
  if (!sqlite3_stmt_readonly(stmt.get())) throw refuse(sql, "only read-only statements are allowed");

  const int ncols = sqlite3_column_count(stmt.get());
  if (ncols == 0) throw refuse(sql, "the statement returns no columns");
  std::vector<std::string> names;
  for (int c = 0; c < ncols; ++c) {
    std::string n = sqlite3_column_name(stmt.get(), c);
    while (std::find(names.begin(), names.end(), n) != names.end()) n += "_";
    names.push_back(n);
  }
  TableBuilder builder(names);
  sqlite3_set_authorizer(db.get(), authorizer, nullptr);
  while (true) {
    int rc = sqlite3_step(stmt.get());
    if (rc == SQLITE_DONE) break;
    if (rc == SQLITE_INTERRUPT || (cancel && cancel->cancelled())) throw OperationCancelled{};
    if (rc != SQLITE_ROW) throw refuse(sql, std::string("query failed: ") + sqlite3_errmsg(db.get()));
    if (builder.rows() >= limits.max_rows)
      throw refuse(sql, "the query returns more than " + std::to_string(limits.max_rows) + " rows");
    builder.begin_row();
    for (int c = 0; c < ncols; ++c) {
      switch (sqlite3_column_type(stmt.get(), c)) {
        case SQLITE_INTEGER:
        case SQLITE_FLOAT:
          builder.set_number(static_cast<std::size_t>(c), sqlite3_column_double(stmt.get(), c));
          break;
        case SQLITE_NULL:
          break;
        default: {
          auto p = reinterpret_cast<const char*>(sqlite3_column_text(stmt.get(), c));
          builder.set(static_cast<std::size_t>(c), p ? std::string(p, static_cast<std::size_t>(sqlite3_column_bytes(stmt.get(), c))) : std::string());
        }
      }
    }
  }
  if (builder.rows() == 0) throw refuse(sql, "the query returned no rows");
  return builder.finish();
}

}  // namespace streamer::process
