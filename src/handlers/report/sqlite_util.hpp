// Minimal RAII wrappers over the SQLite C API used by the report handler and the
// dataset seeder. Errors become std::runtime_error with SQLite's message.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

namespace streamer::report {

class Database {
 public:
  // Opens `path`; read_only opens an existing file with SQLITE_OPEN_READONLY,
  // otherwise the file is created when missing. Throws on failure.
  Database(const std::filesystem::path& path, bool read_only);
  ~Database();
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;

  sqlite3* handle() const noexcept { return db_; }
  // Runs one or more statements without results; throws on error.
  void exec(const std::string& sql);

 private:
  sqlite3* db_ = nullptr;
};

class Statement {
 public:
  Statement(const Database& db, std::string_view sql);
  ~Statement();
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  // Binds are 1-based, as in SQLite.
  void bind(int index, std::string_view text);
  void bind(int index, std::int64_t value);
  void bind(int index, double value);
  // Advances; true when a row is available, false when done. Throws on error.
  bool step();
  void reset();

  std::int64_t int64(int column) const { return sqlite3_column_int64(stmt_, column); }
  double real(int column) const { return sqlite3_column_double(stmt_, column); }
  // The column as text; valid until the next step()/reset(). Empty for NULL.
  std::string_view text(int column) const;

 private:
  sqlite3* db_;
  sqlite3_stmt* stmt_ = nullptr;
};

}  // namespace streamer::report
