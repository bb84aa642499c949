// The sales dataset read by generate_report (and by process_data): where it lives,
// its schema, and a deterministic generator of realistic rows.
//
// Schema (exact names; a user's own database may provide them as tables or views):
//   sales(tenant_id TEXT, id INTEGER, date TEXT /*YYYY-MM-DD*/, category TEXT,
//         region TEXT, product TEXT, customer_id INTEGER, quantity INTEGER,
//         unit_price REAL, amount REAL)
//   refunds(tenant_id TEXT, id INTEGER, sale_id INTEGER, date TEXT, amount REAL, reason TEXT)
//   targets(tenant_id TEXT, month TEXT /*YYYY-MM*/, category TEXT, region TEXT, target_amount REAL)
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>

#include "core/handler.hpp"

namespace streamer {

// settings["generate_report"]["database"] when set (relative paths are taken
// below env.data_dir), else <data_dir>/datasets/sales.db.
std::filesystem::path sales_database_path(const HandlerEnvironment& env);

// The SQL that creates the three tables and their indexes (idempotent).
const char* sales_schema_sql();

struct SeedResult {
  std::filesystem::path database;  // the file written
  std::int64_t sales_rows = 0;
  std::int64_t refund_rows = 0;
  std::int64_t target_rows = 0;
  double seconds = 0;  // wall time of the seeding
};

// Writes `rows` deterministic sales rows for `tenant` (2023-01-01..2025-12-31,
// with seasonality, growth, five categories and five regions), ~3 % refunds and
// monthly targets per category and region, into <data_dir>/datasets/sales.db.
// Re-seeding a tenant replaces its rows (other tenants are untouched). Same
// (tenant, rows, seed) => same data. One transaction; 1M rows take a few seconds.
// Throws std::invalid_argument for rows < 0 or > 100,000,000 or an empty tenant,
// std::runtime_error for SQLite failures.
SeedResult seed_sales_data(const std::filesystem::path& data_dir, const std::string& tenant,
                           std::int64_t rows, std::uint64_t seed = 42);

}  // namespace streamer
