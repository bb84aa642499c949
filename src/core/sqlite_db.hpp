// The one wrapper of the SQLite C API that the job store, the stream store, the `query`
// data source and the report's sales database use: an owning connection and an owning
// prepared statement, with bind/step/column helpers. Every failure throws
// sqlite::Error: what() is "<what was being done>: <SQLite's message>", message() is
// SQLite's message alone and code() SQLite's (extended) result code. Both classes are move-only and
// used by one thread at a time (connections are opened SQLITE_OPEN_NOMUTEX). handle() gives the raw
// pointer for the calls this wrapper does not cover (authorizers, limits, db_config).
#pragma once

#include <sqlite3.h>

#include <chrono>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>

namespace streamer::sqlite {

class Error : public std::runtime_error {
 public:
  Error(std::string_view context, std::string message, int code)
      : std::runtime_error(std::string(context) + ": " + message),
        message_(std::move(message)),
        code_(code) {}
  const std::string& message() const noexcept { return message_; }
  int code() const noexcept { return code_; }

 private:
  std::string message_;
  int code_;
};

class Database {
 public:
  // Opens `name` (a path, ":memory:", or a file: URI when flags include
  // SQLITE_OPEN_URI) with `flags` | SQLITE_OPEN_NOMUTEX, and waits up to
  // `busy_timeout` for another connection's lock before a statement fails with BUSY.
  Database(const std::string& name, int flags,
           std::chrono::milliseconds busy_timeout = std::chrono::seconds(5));
  ~Database();
  Database(Database&& other) noexcept;
  Database& operator=(Database&& other) noexcept;
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;

  sqlite3* handle() const noexcept { return db_; }
  // Runs one or more statements that return no rows.
  void exec(const std::string& sql);
  // ROLLBACK, ignoring errors (for a catch block: no transaction, or one SQLite already
  // rolled back, is not a failure there).
  void rollback() noexcept;
  // Closes now and reports a failure to close (unfinalized statements, a failed
  // checkpoint); afterwards the object is empty. The destructor closes silently.
  void close();
  // Rows changed by the last INSERT/UPDATE/DELETE, and the rowid of the last INSERT.
  std::int64_t changes() const noexcept { return sqlite3_changes64(db_); }
  std::int64_t last_insert_rowid() const noexcept { return sqlite3_last_insert_rowid(db_); }
  // `what` and this connection's latest error message, as an Error.
  Error error(std::string_view what, int code) const;

 private:
  sqlite3* db_ = nullptr;
};

class Statement {
 public:
  Statement() = default;
  // Prepares the first statement of `sql`; `tail`, when given, receives the rest of
  // the text. `prepare_flags` are sqlite3_prepare_v3's (e.g. SQLITE_PREPARE_PERSISTENT).
  Statement(const Database& db, std::string_view sql, unsigned prepare_flags = 0,
            const char** tail = nullptr);
  ~Statement();
  Statement(Statement&& other) noexcept;
  Statement& operator=(Statement&& other) noexcept;
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  sqlite3_stmt* handle() const noexcept { return stmt_; }
  explicit operator bool() const noexcept { return stmt_ != nullptr; }

  // Binds are 1-based, as in SQLite. Text is copied; an empty view binds "" (not NULL).
  Statement& bind(int index, std::string_view text);
  Statement& bind(int index, std::int64_t value);
  Statement& bind(int index, double value);
  Statement& bind_null(int index);
  // Advances: true when a row is available, false when the statement is done.
  bool step();
  // Steps a statement that returns no rows (fails if it returns one).
  void run();
  // Back to before the first step, with every binding cleared.
  void reset() noexcept;

  int column_count() const noexcept { return sqlite3_column_count(stmt_); }
  std::string column_name(int column) const { return sqlite3_column_name(stmt_, column); }
  int type(int column) const noexcept { return sqlite3_column_type(stmt_, column); }
  bool is_null(int column) const noexcept { return type(column) == SQLITE_NULL; }
  std::int64_t int64(int column) const noexcept { return sqlite3_column_int64(stmt_, column); }
  double real(int column) const noexcept { return sqlite3_column_double(stmt_, column); }
  // The column as text, valid until the next step() or reset(); empty for NULL.
  std::string_view text(int column) const noexcept;
  bool read_only() const noexcept { return sqlite3_stmt_readonly(stmt_) != 0; }

 private:
  sqlite3_stmt* stmt_ = nullptr;
};

}  // namespace streamer::sqlite
