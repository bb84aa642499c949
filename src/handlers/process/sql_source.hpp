// The `query` data source: one read-only SELECT over the caller's own data, with the
// isolation and read-only guarantees enforced by SQLite itself.
#pragma once

#include <chrono>
#include <filesystem>
#include <string_view>

#include "core/handler.hpp"
#include "handlers/process/table.hpp"

namespace streamer::process {

struct QueryLimits {
  std::size_t max_rows = 5'000'000;  // result rows; more -> VALIDATION_ERROR
  std::uint64_t max_result_bytes = 256ull
                                   << 20;  // bytes the result table holds; more -> VALIDATION_ERROR
  std::uint64_t max_value_bytes = 16ull
                                  << 20;  // one string/blob/row inside SQLite (SQLITE_LIMIT_LENGTH)
  std::chrono::milliseconds time_limit{
      300'000};  // snapshot build + query; longer -> VALIDATION_ERROR
  std::uint64_t max_snapshot_rows =
      10'000'000;  // tenant rows per dataset table; more -> VALIDATION_ERROR
  std::uint64_t max_table_file_bytes = 256ull << 20;  // uploaded file loaded as a table
};

// Runs `sql` for `tenant_id` and returns its rows.
//
// The query runs on a private connection that can reach nothing but the tenant's data:
//  - its main database is the tenant's snapshot of <data_dir>/datasets/sales.db
//    (open_tenant_snapshot: tables `sales`, `refunds`, `targets` holding only rows
//    whose tenant_id equals `tenant_id`, without that column), opened read-only;
//    nothing else is attached, and no other tenant's row exists in the connection;
//  - an uploaded CSV/JSONL file of the tenant's sandbox can be used as a table named
//    after its file stem (lower-cased, non-alphanumerics as '_'; "data/My File.csv"
//    is `my_file`); it is loaded on demand, as a TEMP table, when SQLite reports
//    "no such table";
//  - an authorizer, the second wall, allows only SELECT, recursive CTEs, reads of the
//    main tables above and of the TEMP tables loaded here, and the functions of
//    is_allowed_sql_function; it refuses everything else (writes, PRAGMA, ATTACH,
//    DETACH, schema tables, table-valued functions);
//  - exactly one statement is accepted (the text after the first must be only
//    blanks/comments) and it must be sqlite3_stmt_readonly;
//  - SQLite's memory is bounded per connection: values and rows of at most
//    limits.max_value_bytes, a 2000 KiB page cache per database, temporary tables and
//    sort runs spilled to temporary files; the result is refused past
//    limits.max_rows rows or limits.max_result_bytes bytes (each cell counted as a
//    std::string plus its text), and the whole run (snapshot build included) past
//    limits.time_limit.
// Throws HandlerError(VALIDATION_ERROR, field "data_source.query") for anything
// refused, failing to compile or over a limit; OperationCancelled when `cancel` fires.
DataTable run_tenant_query(const HandlerEnvironment& env, std::string_view tenant_id,
                           std::string_view sql, const CancelToken* cancel = nullptr,
                           const QueryLimits& limits = {});

}  // namespace streamer::process
