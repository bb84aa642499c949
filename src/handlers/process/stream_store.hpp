// Durable, tenant-scoped record streams: clients append JSON records with the
// `stream_append` action; process_data reads them with data_source.type "stream".
// Backed by SQLite (WAL) at <data_dir>/streams.db.
#pragma once

#include <boost/json.hpp>
#include <cstdint>
#include <filesystem>
#include <string_view>

#include "core/handler.hpp"
#include "handlers/process/table.hpp"

namespace streamer::process {

struct StreamLimits {
  std::size_t max_records_per_append = 10'000;
  std::size_t max_fields_per_record = 256;
  std::size_t max_records_per_stream = 10'000'000;
  // Stored bytes (each record's JSON text) across all of one tenant's streams
  // (--max-stream-bytes-per-tenant).
  std::uint64_t max_bytes_per_tenant = 256ULL << 20;
};

// True when `id` is 1-128 characters of [A-Za-z0-9._:-].
bool valid_stream_id(std::string_view id) noexcept;

// Checks a stream_append payload {stream_id, records:[{...}, ...]}: a valid id,
// 1..max_records_per_append records, each a flat object (scalar values only) with at
// most max_fields_per_record keys. Throws HandlerError::validation.
void validate_append_payload(const boost::json::object& payload, const StreamLimits& limits = {});

class StreamStore {
 public:
  // Opens (creating if needed) the database file; throws HandlerError(INTERNAL_ERROR).
  explicit StreamStore(std::filesystem::path file, StreamLimits limits = {});

  // Appends records atomically (one transaction), in order, after the stream's
  // existing records. Returns the stream's record count afterwards. Throws
  // HandlerError(VALIDATION_ERROR) when the stream would exceed its record limit, or
  // the tenant its byte quota (details.limit "stream_bytes_per_tenant", limit_value,
  // used_bytes, append_bytes): nothing of a refused append is stored. The check and the
  // write share one write transaction, so the quota is exact under concurrent appends
  // from any number of threads or processes.
  std::size_t append(std::string_view tenant_id, std::string_view stream_id,
                     const boost::json::array& records);

  // Bytes stored across all of the tenant's streams (what the quota counts).
  std::uint64_t tenant_bytes(std::string_view tenant_id);

  // Number of records in the stream (0 when it does not exist).
  std::size_t count(std::string_view tenant_id, std::string_view stream_id);

  // All records of the stream in append order, as a table whose columns are the
  // union of the records' keys. Throws HandlerError(NOT_FOUND) when the stream is
  // empty or unknown; OperationCancelled when `cancel` fires.
  DataTable read(std::string_view tenant_id, std::string_view stream_id,
                 const CancelToken* cancel = nullptr);

 private:
  std::filesystem::path file_;
  StreamLimits limits_;
};

}  // namespace streamer::process
