// Per-tenant snapshots of the shared dataset: the only database a client's `query`
// connection can see, so that it holds nothing but the caller's rows by construction.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string_view>

#include "core/sqlite_db.hpp"
#include "handlers/process/query_interrupt.hpp"

namespace streamer::process {

// A table of the shared dataset as a query sees it: its columns without tenant_id.
struct TenantTable {
  const char* name;
  const char* columns;
};
inline constexpr TenantTable kTenantTables[] = {
    {"sales", "id, date, category, region, product, customer_id, quantity, unit_price, amount"},
    {"refunds", "id, sale_id, date, amount, reason"},
    {"targets", "month, category, region, target_amount"},
};

// The snapshot's own table (the dataset fingerprint it was built from).
inline constexpr const char* kSnapshotBookkeeping = "snapshot_source";

// <data_dir>/query-snapshots/<lower-case hex SHA-256 of tenant_id>.db (one file per
// distinct id, whatever bytes the id holds).
std::filesystem::path tenant_snapshot_path(const std::filesystem::path& data_dir,
                                           std::string_view tenant_id);

// Opens a read-only connection whose main database holds exactly the rows of
// <data_dir>/datasets/sales.db whose tenant_id equals `tenant_id` (compared as a bound
// parameter, byte for byte), in tables named and shaped as kTenantTables (only those
// the dataset has). Without a dataset, the connection is an empty in-memory database.
//
// The snapshot file is reused while the dataset's fingerprint (inode, size and
// modification time of sales.db and sales.db-wal) is the one it was built from, and
// rebuilt otherwise: into a temporary file that is renamed over the old one, so
// concurrent readers (which open it immutable) see a whole snapshot, old or new. A
// snapshot built less than a second after a dataset write is used once and rebuilt
// next time (two writes within one file-time tick could otherwise look alike).
// Temporary files of builds that never finished are removed once older than
// max(time limit, 1 h). The build honours `interrupt`.
// Throws HandlerError VALIDATION_ERROR (field `field`) when one of the tenant's
// tables has more than `max_rows_per_table` rows or the time budget is spent,
// OperationCancelled when cancelled, HandlerError INTERNAL_ERROR when the snapshot
// cannot be written or read.
sqlite::Database open_tenant_snapshot(const std::filesystem::path& data_dir,
                                      std::string_view tenant_id, std::uint64_t max_rows_per_table,
                                      const QueryInterrupt& interrupt, std::string_view field);

}  // namespace streamer::process
