#include "handlers/process/stream_store.hpp"

#include <string>
#include <vector>

#include "core/sqlite_db.hpp"

namespace streamer::process {
namespace {

// Runs fn(); a SQLite failure becomes INTERNAL_ERROR "<what>: <SQLite's message>".
template <class Fn>
auto internal_on_sqlite_error(const char* what, Fn&& fn) {
  try {
    return fn();
  } catch (const sqlite::Error& e) {
    throw HandlerError(ErrorCode::kInternalError, std::string(what) + ": " + e.message());
  }
}

sqlite::Database open(const std::filesystem::path& file) {
  return internal_on_sqlite_error("could not open the stream store", [&] {
    return sqlite::Database(file.string(), SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE,
                            std::chrono::seconds(10));
  });
}

std::size_t count_in(const sqlite::Database& db, std::string_view tenant, std::string_view stream) {
  sqlite::Statement s(db,
                      "SELECT COUNT(*) FROM stream_records WHERE tenant_id = ? AND stream_id = ?");
  s.bind(1, tenant).bind(2, stream);
  s.step();
  return static_cast<std::size_t>(s.int64(0));
}

bool has_usage_table(const sqlite::Database& db) {
  sqlite::Statement s(db,
                      "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'stream_usage'");
  return s.step();
}

// Bytes the tenant's records take, from the usage table kept with every append.
std::uint64_t usage_in(const sqlite::Database& db, std::string_view tenant) {
  sqlite::Statement s(db, "SELECT bytes FROM stream_usage WHERE tenant_id = ?");
  s.bind(1, tenant);
  return s.step() ? static_cast<std::uint64_t>(s.int64(0)) : 0;
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

HandlerError invalid(std::string_view field, std::string_view expected,
                     const boost::json::value& got, const std::string& msg) {
  return HandlerError::validation(field, expected, got, msg);
}

}  // namespace

bool valid_stream_id(std::string_view id) noexcept {
  if (id.empty() || id.size() > 128) return false;
  for (char c : id)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == ':' ||
          c == '-'))
      return false;
  return true;
}

void validate_append_payload(const boost::json::object& payload, const StreamLimits& limits) {
  const auto* id = payload.if_contains("stream_id");
  if (!id || !id->is_string() || !valid_stream_id(id->as_string()))
    throw invalid("stream_id", "1-128 characters of [A-Za-z0-9._:-]",
                  id ? *id : boost::json::value(nullptr), "stream_id is missing or invalid");
  const auto* recs = payload.if_contains("records");
  if (!recs || !recs->is_array())
    throw invalid("records", "an array of objects", recs ? *recs : boost::json::value(nullptr),
                  "records must be an array");
  const auto& arr = recs->as_array();
  if (arr.empty() || arr.size() > limits.max_records_per_append)
    throw invalid(
        "records", "1 to " + std::to_string(limits.max_records_per_append) + " records",
        boost::json::string(std::to_string(arr.size()) + " records"),
        "records must hold 1 to " + std::to_string(limits.max_records_per_append) + " records");
  for (std::size_t i = 0; i < arr.size(); ++i) {
    std::string field = "records[" + std::to_string(i) + "]";
    if (!arr[i].is_object()) throw invalid(field, "an object", arr[i], field + " is not an object");
    const auto& o = arr[i].as_object();
    if (o.empty() || o.size() > limits.max_fields_per_record)
      throw invalid(field, "1 to " + std::to_string(limits.max_fields_per_record) + " fields",
                    boost::json::string(std::to_string(o.size()) + " fields"),
                    field + " has too many or no fields");
    for (const auto& [k, v] : o)
      if (v.is_object() || v.is_array())
        throw invalid(field + "." + std::string(k), "a scalar (string, number, boolean or null)", v,
                      "record fields must be scalars");
  }
}

StreamStore::StreamStore(std::filesystem::path file, StreamLimits limits)
    : file_(std::move(file)), limits_(limits) {
  std::error_code ec;
  std::filesystem::create_directories(file_.parent_path(), ec);
  auto db = open(file_);
  internal_on_sqlite_error("stream store", [&] {
    db.exec("PRAGMA journal_mode=WAL");
    db.exec(
        "CREATE TABLE IF NOT EXISTS stream_records ("
        " seq INTEGER PRIMARY KEY AUTOINCREMENT, tenant_id TEXT NOT NULL, stream_id TEXT NOT NULL,"
        " record TEXT NOT NULL, appended_at TEXT NOT NULL DEFAULT "
        "(strftime('%Y-%m-%dT%H:%M:%fZ','now')));"
        "CREATE INDEX IF NOT EXISTS stream_records_key ON stream_records(tenant_id, stream_id, "
        "seq);");
    // Per-tenant usage, kept in the same transaction as every append. A database from
    // before this table gets it filled from the records once, under the write lock.
    if (has_usage_table(db)) return;
    db.exec("BEGIN IMMEDIATE");
    try {
      if (!has_usage_table(db)) {  // no other process created it meanwhile
        db.exec(
            "CREATE TABLE stream_usage (tenant_id TEXT PRIMARY KEY, bytes INTEGER NOT NULL,"
            " records INTEGER NOT NULL);"
            "INSERT INTO stream_usage(tenant_id, bytes, records)"
            " SELECT tenant_id, SUM(length(CAST(record AS BLOB))), COUNT(*) FROM stream_records "
            "GROUP BY tenant_id;");
      }
      db.exec("COMMIT");
    } catch (...) {
      db.rollback();
      throw;
    }
  });
}

std::size_t StreamStore::append(std::string_view tenant, std::string_view stream,
                                const boost::json::array& records) {
  auto db = open(file_);
  std::vector<std::string> texts;
  texts.reserve(records.size());
  std::uint64_t adding = 0;
  for (const auto& r : records) {
    texts.push_back(boost::json::serialize(r));
    adding += texts.back().size();
  }
  return internal_on_sqlite_error("stream append", [&] {
    db.exec("PRAGMA synchronous=FULL");
    // The write lock is taken before anything is read, so the counts checked below are
    // the ones the insert extends: no other append can interleave.
    db.exec("BEGIN IMMEDIATE");
    try {
      std::size_t before = count_in(db, tenant, stream);
      if (before + records.size() > limits_.max_records_per_stream)
        throw HandlerError::validation(
            "records",
            "at most " + std::to_string(limits_.max_records_per_stream) + " records per stream",
            boost::json::string(std::to_string(before + records.size())), "the stream is full");
      const std::uint64_t used = usage_in(db, tenant);
      if (used + adding > limits_.max_bytes_per_tenant)
        throw quota_exceeded(limits_.max_bytes_per_tenant, used, adding);
      {
        sqlite::Statement ins(
            db, "INSERT INTO stream_records(tenant_id, stream_id, record) VALUES(?,?,?)");
        for (const auto& text : texts) {
          ins.bind(1, tenant).bind(2, stream).bind(3, text).run();
          ins.reset();
        }
        sqlite::Statement usage(
            db,
            "INSERT INTO stream_usage(tenant_id, bytes, records) VALUES(?, ?, ?)"
            " ON CONFLICT(tenant_id) DO UPDATE SET bytes = bytes + excluded.bytes,"
            " records = records + excluded.records");
        usage.bind(1, tenant)
            .bind(2, static_cast<std::int64_t>(adding))
            .bind(3, static_cast<std::int64_t>(records.size()))
            .run();
      }  // statements finalized before the COMMIT
      db.exec("COMMIT");
      return before + records.size();
    } catch (...) {
      db.rollback();
      throw;
    }
  });
}

std::uint64_t StreamStore::tenant_bytes(std::string_view tenant) {
  auto db = open(file_);
  return internal_on_sqlite_error("stream usage", [&] { return usage_in(db, tenant); });
}

std::size_t StreamStore::count(std::string_view tenant, std::string_view stream) {
  auto db = open(file_);
  return internal_on_sqlite_error("stream count", [&] { return count_in(db, tenant, stream); });
}

DataTable StreamStore::read(std::string_view tenant, std::string_view stream,
                            const CancelToken* cancel) {
  auto db = open(file_);
  TableBuilder builder;
  internal_on_sqlite_error("stream read", [&] {
    sqlite::Statement s(
        db, "SELECT record FROM stream_records WHERE tenant_id = ? AND stream_id = ? ORDER BY seq");
    s.bind(1, tenant).bind(2, stream);
    while (s.step()) {
      if (cancel && builder.rows() % 4096 == 0) cancel->throw_if_cancelled();
      boost::system::error_code ec;
      auto v = boost::json::parse(s.text(0), ec);
      if (ec || !v.is_object()) continue;
      builder.begin_row();
      for (const auto& [k, val] : v.as_object()) {
        std::size_t col = builder.column(k);
        if (val.is_string())
          builder.set(col, std::string(val.as_string()));
        else if (val.is_int64())
          builder.set_number(col, static_cast<double>(val.as_int64()));
        else if (val.is_uint64())
          builder.set_number(col, static_cast<double>(val.as_uint64()));
        else if (val.is_double())
          builder.set_number(col, val.as_double());
        else if (val.is_bool())
          builder.set_number(col, val.as_bool() ? 1.0 : 0.0);
      }
    }
  });
  if (builder.rows() == 0)
    throw HandlerError(ErrorCode::kNotFound, "stream '" + std::string(stream) + "' has no records",
                       {{"field", "data_source.stream_id"}, {"received", stream}});
  return builder.finish();
}

}  // namespace streamer::process
