// The `query` data source: one read-only SELECT over the caller's own data, with the
// read-only guarantee enforced by SQLite itself.
#pragma once

#include <filesystem>
#include <string_view>

#include "core/handler.hpp"
#include "handlers/process/table.hpp"

namespace streamer::process {

struct QueryLimits {
  std::size_t max_rows = 5'000'000;            // more rows -> VALIDATION_ERROR
  std::uint64_t max_table_file_bytes = 256u << 20;  // uploaded file loaded as a table
};

// Runs `sql` for `tenant_id` and returns its rows.
//
// The query runs on a private in-memory connection where:
//  - <data_dir>/datasets/sales.db (if present) is attached read-only (mode=ro), and
//    the tenant sees it only through TEMP views `sales`, `refunds`, `targets` that
//    filter on tenant_id and omit that column;
//  - an uploaded CSV/JSONL file of the tenant's sandbox can be used as a table named
//    after its file stem (lower-cased, non-alphanumerics as '_'; "data/My File.csv"
//    is `my_file`); it is loaded on demand when SQLite reports "no such table";
//  - an authorizer allows only SELECT, READ and FUNCTION (and recursive CTEs), and a
//    READ of the attached dataset only through one of the views above, so neither
//    writes, PRAGMA, ATTACH nor another tenant's rows are reachable;
//  - exactly one statement is accepted (the text after the first must be only
//    blanks/comments) and it must be sqlite3_stmt_readonly.
// Throws HandlerError(VALIDATION_ERROR, field "data_source.query") for anything
// refused or failing to compile; OperationCancelled when `cancel` fires mid-query.
DataTable run_tenant_query(const HandlerEnvironment& env, std::string_view tenant_id, std::string_view sql,
                           const CancelToken* cancel = nullptr, const QueryLimits& limits = {});

}  // namespace streamer::process
