#include "handlers/process/stream_store.hpp"

#include <sqlite3.h>

#include <memory>
#include <string>
#include <vector>

#include "handlers/process/sqlite_handles.hpp"

namespace streamer::process {
namespace {

HandlerError db_error(sqlite3* db, const char* what) {
  return HandlerError(ErrorCode::kInternalError, std::string(what) + ": " + (db ? sqlite3_errmsg(db) : "sqlite"));
}

Db open(const std::filesystem::path& file) {
  sqlite3* raw = nullptr;
  if (sqlite3_open_v2(file.c_str(), &raw, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                      nullptr) != SQLITE_OK) {
    Db db(raw);
    throw db_error(raw, "could not open the stream store");
  }
  Db db(raw);
  sqlite3_busy_timeout(raw, 10'000);
  return db;
}

void exec(sqlite3* db, const char* sql) {
  if (sqlite3_exec(db, sql, nullptr, nullptr, nullptr) != SQLITE_OK) throw db_error(db, "stream store");
}

Stmt prepare(sqlite3* db, const char* sql) {
  sqlite3_stmt* s = nullptr;
  if (sqlite3_prepare_v2(db, sql, -1, &s, nullptr) != SQLITE_OK) throw db_error(db, "stream store");
  return Stmt(s);
}

void bind_text(sqlite3_stmt* s, int i, std::string_view v) {
  sqlite3_bind_text(s, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
}

std::size_t count_in(sqlite3* db, std::string_view tenant, std::string_view stream) {
  auto s = prepare(db, "SELECT COUNT(*) FROM stream_records WHERE tenant_id = ? AND stream_id = ?");
  bind_text(s.get(), 1, tenant);
  bind_text(s.get(), 2, stream);
  if (sqlite3_step(s.get()) != SQLITE_ROW) throw db_error(db, "stream count");
  return static_cast<std::size_t>(sqlite3_column_int64(s.get(), 0));
}

bool has_usage_table(sqlite3* db) {
  auto s =
      prepare(db, "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'stream_usage'");
  const int rc = sqlite3_step(s.get());
  if (rc != SQLITE_ROW && rc != SQLITE_DONE) throw db_error(db, "stream store");
  return rc == SQLITE_ROW;
}

// Bytes the tenant's records take, from the usage table kept with every append.
std::uint64_t usage_in(sqlite3* db, std::string_view tenant) {
  auto s = prepare(db, "SELECT bytes FROM stream_usage WHERE tenant_id = ?");
  bind_text(s.get(), 1, tenant);
  const int rc = sqlite3_step(s.get());
  if (rc == SQLITE_DONE) return 0;
  if (rc != SQLITE_ROW) throw db_error(db, "stream usage");
  return static_cast<std::uint64_t>(sqlite3_column_int64(s.get(), 0));
}

HandlerError quota_exceeded(std::uint64_t limit, std::uint64_t used, std::uint64_t adding) {
  boost::json::object details;
  details["field"] = "records";
  details["expected"] =
      "at most " + std::to_string(limit) + " bytes of records across the tenant's streams";
  details["received"] =
      std::to_string(used) + " bytes stored + " + std::to_string(adding) + " bytes appended";
  details["limit"] = "stream_bytes_per_tenant";
  details["limit_value"] = limit;
  details["used_bytes"] = used;
  details["append_bytes"] = adding;
  return HandlerError(ErrorCode::kValidationError,
                      "The tenant's streams are full: this append would exceed their storage quota",
                      std::move(details));
}

HandlerError invalid(std::string_view field, std::string_view expected, const boost::json::value& got,
                     const std::string& msg) {
  return HandlerError::validation(field, expected, got, msg);
}

}  // namespace

bool valid_stream_id(std::string_view id) noexcept {
  if (id.empty() || id.size() > 128) return false;
  for (char c : id)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == ':' || c == '-')) return false;
  return true;
}

void validate_append_payload(const boost::json::object& payload, const StreamLimits& limits) {
  const auto* id = payload.if_contains("stream_id");
  if (!id || !id->is_string() || !valid_stream_id(id->as_string()))
    throw invalid("stream_id", "1-128 characters of [A-Za-z0-9._:-]", id ? *id : boost::json::value(nullptr),
                  "stream_id is missing or invalid");
  const auto* recs = payload.if_contains("records");
  if (!recs || !recs->is_array())
    throw invalid("records", "an array of objects", recs ? *recs : boost::json::value(nullptr),
                  "records must be an array");
  const auto& arr = recs->as_array();
  if (arr.empty() || arr.size() > limits.max_records_per_append)
    throw invalid("records", "1 to " + std::to_string(limits.max_records_per_append) + " records",
                  boost::json::string(std::to_string(arr.size()) + " records"),
                  "records must hold 1 to " + std::to_string(limits.max_records_per_append) + " records");
  for (std::size_t i = 0; i < arr.size(); ++i) {
    std::string field = "records[" + std::to_string(i) + "]";
    if (!arr[i].is_object()) throw invalid(field, "an object", arr[i], field + " is not an object");
    const auto& o = arr[i].as_object();
    if (o.empty() || o.size() > limits.max_fields_per_record)
      throw invalid(field, "1 to " + std::to_string(limits.max_fields_per_record) + " fields",
                    boost::json::string(std::to_string(o.size()) + " fields"), field + " has too many or no fields");
    for (const auto& [k, v] : o)
      if (v.is_object() || v.is_array())
        throw invalid(field + "." + std::string(k), "a scalar (string, number, boolean or null)", v,
                      "record fields must be scalars");
  }
}

StreamStore::StreamStore(std::filesystem::path file, StreamLimits limits) : file_(std::move(file)), limits_(limits) {
  std::error_code ec;
  std::filesystem::create_directories(file_.parent_path(), ec);
  auto db = open(file_);
  exec(db.get(), "PRAGMA journal_mode=WAL");
  exec(db.get(),
       "CREATE TABLE IF NOT EXISTS stream_records ("
       " seq INTEGER PRIMARY KEY AUTOINCREMENT, tenant_id TEXT NOT NULL, stream_id TEXT NOT NULL,"
       " record TEXT NOT NULL, appended_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')));"
       "CREATE INDEX IF NOT EXISTS stream_records_key ON stream_records(tenant_id, stream_id, seq);");
  // Per-tenant usage, kept in the same transaction as every append. A database from
  // before this table gets it filled from the records once, under the write lock.
  if (has_usage_table(db.get())) return;
  exec(db.get(), "BEGIN IMMEDIATE");
  try {
    if (!has_usage_table(db.get())) {  // no other process created it meanwhile
      exec(db.get(),
           "CREATE TABLE stream_usage (tenant_id TEXT PRIMARY KEY, bytes INTEGER NOT NULL,"
           " records INTEGER NOT NULL);"
           "INSERT INTO stream_usage(tenant_id, bytes, records)"
           " SELECT tenant_id, SUM(length(CAST(record AS BLOB))), COUNT(*) FROM stream_records "
           "GROUP BY tenant_id;");
    }
    exec(db.get(), "COMMIT");
  } catch (...) {
    sqlite3_exec(db.get(), "ROLLBACK", nullptr, nullptr, nullptr);
    throw;
  }
}

std::size_t StreamStore::append(std::string_view tenant, std::string_view stream, const boost::json::array& records) {
  auto db = open(file_);
  exec(db.get(), "PRAGMA synchronous=FULL");
  std::vector<std::string> texts;
  texts.reserve(records.size());
  std::uint64_t adding = 0;
  for (const auto& r : records) {
    texts.push_back(boost::json::serialize(r));
    adding += texts.back().size();
  }
  // The write lock is taken before anything is read, so the counts checked below are
  // the ones the insert extends: no other append can interleave.
  exec(db.get(), "BEGIN IMMEDIATE");
  try {
    std::size_t before = count_in(db.get(), tenant, stream);
    if (before + records.size() > limits_.max_records_per_stream)
      throw HandlerError::validation("records", "at most " + std::to_string(limits_.max_records_per_stream) +
                                     " records per stream", boost::json::string(std::to_string(before + records.size())),
                                     "the stream is full");
    const std::uint64_t used = usage_in(db.get(), tenant);
    if (used + adding > limits_.max_bytes_per_tenant)
      throw quota_exceeded(limits_.max_bytes_per_tenant, used, adding);
    auto ins = prepare(db.get(), "INSERT INTO stream_records(tenant_id, stream_id, record) VALUES(?,?,?)");
    for (const auto& text : texts) {
      bind_text(ins.get(), 1, tenant);
      bind_text(ins.get(), 2, stream);
      bind_text(ins.get(), 3, text);
      if (sqlite3_step(ins.get()) != SQLITE_DONE) throw db_error(db.get(), "stream append");
      sqlite3_reset(ins.get());
    }
    auto usage = prepare(db.get(),
                         "INSERT INTO stream_usage(tenant_id, bytes, records) VALUES(?, ?, ?)"
                         " ON CONFLICT(tenant_id) DO UPDATE SET bytes = bytes + excluded.bytes,"
                         " records = records + excluded.records");
    bind_text(usage.get(), 1, tenant);
    sqlite3_bind_int64(usage.get(), 2, static_cast<sqlite3_int64>(adding));
    sqlite3_bind_int64(usage.get(), 3, static_cast<sqlite3_int64>(records.size()));
    if (sqlite3_step(usage.get()) != SQLITE_DONE) throw db_error(db.get(), "stream usage");
    usage.reset();
    ins.reset();
    exec(db.get(), "COMMIT");
    return before + records.size();
  } catch (...) {
    sqlite3_exec(db.get(), "ROLLBACK", nullptr, nullptr, nullptr);
    throw;
  }
}

std::uint64_t StreamStore::tenant_bytes(std::string_view tenant) {
  auto db = open(file_);
  return usage_in(db.get(), tenant);
}

std::size_t StreamStore::count(std::string_view tenant, std::string_view stream) {
  auto db = open(file_);
  return count_in(db.get(), tenant, stream);
}

DataTable StreamStore::read(std::string_view tenant, std::string_view stream, const CancelToken* cancel) {
  auto db = open(file_);
  auto s = prepare(db.get(), "SELECT record FROM stream_records WHERE tenant_id = ? AND stream_id = ? ORDER BY seq");
  bind_text(s.get(), 1, tenant);
  bind_text(s.get(), 2, stream);
  TableBuilder builder;
  int rc;
  while ((rc = sqlite3_step(s.get())) == SQLITE_ROW) {
    if (cancel && builder.rows() % 4096 == 0) cancel->throw_if_cancelled();
    std::string_view text(reinterpret_cast<const char*>(sqlite3_column_text(s.get(), 0)),
                          static_cast<std::size_t>(sqlite3_column_bytes(s.get(), 0)));
    boost::system::error_code ec;
    auto v = boost::json::parse(text, ec);
    if (ec || !v.is_object()) continue;
    builder.begin_row();
    for (const auto& [k, val] : v.as_object()) {
      std::size_t col = builder.column(k);
      if (val.is_string()) builder.set(col, std::string(val.as_string()));
      else if (val.is_int64()) builder.set_number(col, static_cast<double>(val.as_int64()));
      else if (val.is_uint64()) builder.set_number(col, static_cast<double>(val.as_uint64()));
      else if (val.is_double()) builder.set_number(col, val.as_double());
      else if (val.is_bool()) builder.set_number(col, val.as_bool() ? 1.0 : 0.0);
    }
  }
  if (rc != SQLITE_DONE) throw db_error(db.get(), "stream read");
  if (builder.rows() == 0)
    throw HandlerError(ErrorCode::kNotFound, "stream '" + std::string(stream) + "' has no records",
                       {{"field", "data_source.stream_id"}, {"received", stream}});
  return builder.finish();
}

}  // namespace streamer::process
