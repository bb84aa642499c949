#include "core/sqlite_db.hpp"

#include <utility>

namespace streamer::sqlite {

Database::Database(const std::string& name, int flags, std::chrono::milliseconds busy_timeout) {
  const int rc = sqlite3_open_v2(name.c_str(), &db_, flags | SQLITE_OPEN_NOMUTEX, nullptr);
  if (rc != SQLITE_OK) {
    // Even a failed open may allocate a handle, which holds the message.
    std::string message = db_ ? sqlite3_errmsg(db_) : sqlite3_errstr(rc);
    sqlite3_close_v2(db_);
    db_ = nullptr;
    throw Error("cannot open " + name, message, rc);
  }
  sqlite3_busy_timeout(db_, static_cast<int>(busy_timeout.count()));
}

Database::~Database() { sqlite3_close_v2(db_); }

Database::Database(Database&& other) noexcept : db_(std::exchange(other.db_, nullptr)) {}

Database& Database::operator=(Database&& other) noexcept {
  if (this != &other) {
    sqlite3_close_v2(db_);
    db_ = std::exchange(other.db_, nullptr);
  }
  return *this;
}

void Database::exec(const std::string& sql) {
  char* message = nullptr;
  const int rc = sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &message);
  if (rc != SQLITE_OK) {
    std::string text = message ? message : sqlite3_errstr(rc);
    sqlite3_free(message);
    throw Error("sqlite exec", text, rc);
  }
}

void Database::rollback() noexcept { sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr); }

void Database::close() {
  const int rc = sqlite3_close(db_);
  if (rc != SQLITE_OK) throw error("sqlite close", rc);
  db_ = nullptr;
}

Error Database::error(std::string_view what, int code) const {
  return Error(what, db_ ? sqlite3_errmsg(db_) : sqlite3_errstr(code), code);
}

Statement::Statement(const Database& db, std::string_view sql, unsigned prepare_flags,
                     const char** tail) {
  const int rc = sqlite3_prepare_v3(db.handle(), sql.data(), static_cast<int>(sql.size()),
                                    prepare_flags, &stmt_, tail);
  if (rc != SQLITE_OK) {
    sqlite3_finalize(stmt_);
    stmt_ = nullptr;
    throw db.error("sqlite prepare", rc);
  }
}

Statement::~Statement() { sqlite3_finalize(stmt_); }

Statement::Statement(Statement&& other) noexcept : stmt_(std::exchange(other.stmt_, nullptr)) {}

Statement& Statement::operator=(Statement&& other) noexcept {
  if (this != &other) {
    sqlite3_finalize(stmt_);
    stmt_ = std::exchange(other.stmt_, nullptr);
  }
  return *this;
}

namespace {
// The error of a bind call, which fails only on a wrong index or a too-large value.
void check_bind(sqlite3_stmt* stmt, int rc) {
  if (rc != SQLITE_OK) {
    throw Error("sqlite bind", sqlite3_errmsg(sqlite3_db_handle(stmt)), rc);
  }
}
}  // namespace

Statement& Statement::bind(int index, std::string_view text) {
  // An empty view may have a null data(); SQLite would bind NULL for it.
  check_bind(stmt_, sqlite3_bind_text64(stmt_, index, text.data() ? text.data() : "", text.size(),
                                        SQLITE_TRANSIENT, SQLITE_UTF8));
  return *this;
}

Statement& Statement::bind(int index, std::int64_t value) {
  check_bind(stmt_, sqlite3_bind_int64(stmt_, index, value));
  return *this;
}

Statement& Statement::bind(int index, double value) {
  check_bind(stmt_, sqlite3_bind_double(stmt_, index, value));
  return *this;
}

Statement& Statement::bind_null(int index) {
  check_bind(stmt_, sqlite3_bind_null(stmt_, index));
  return *this;
}

bool Statement::step() {
  const int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  throw Error("sqlite step", sqlite3_errmsg(sqlite3_db_handle(stmt_)), rc);
}

void Statement::run() {
  if (step()) throw Error("sqlite step", "the statement returned a row", SQLITE_MISUSE);
}

void Statement::reset() noexcept {
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
}

std::string_view Statement::text(int column) const noexcept {
  const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, column));
  if (p == nullptr) return {};
  return {p, static_cast<std::size_t>(sqlite3_column_bytes(stmt_, column))};
}

}  // namespace streamer::sqlite
