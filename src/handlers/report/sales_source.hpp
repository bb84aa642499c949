// Reads one tenant's report rows from the sales dataset (sales, refunds, targets),
// inside one read transaction so every pass sees the same snapshot.
#pragma once

#include <filesystem>
#include <functional>
#include <memory>
#include <string>

#include "core/sqlite_db.hpp"
#include "handlers/report/report_data.hpp"

namespace streamer::report {

class SalesSource {
 public:
  // Opens `database` read-only and begins a read transaction. Every query is
  // restricted to `tenant_id`, the request's date range and its filters. Throws
  // std::runtime_error when the file cannot be opened or lacks the schema.
  SalesSource(const std::filesystem::path& database, std::string tenant_id,
              const ReportRequest& request);
  ~SalesSource();

  // Number of sales rows in the report.
  std::int64_t count_sales();
  // Refunds issued in the range for sales matching the filters:
  // fn(date, category, region, amount). Returns the number of rows.
  std::int64_t for_each_refund(
      const std::function<void(std::string_view, std::string_view, std::string_view, double)>& fn);
  // Targets for the months the range touches, matching the filters:
  // fn(month, category, region, target_amount). Returns the number of rows.
  std::int64_t for_each_target(
      const std::function<void(std::string_view, std::string_view, std::string_view, double)>& fn);
  // Streams the sales rows ordered by date, id.
  void for_each_sale(const SaleVisitor& visit);

 private:
  std::string where_sales(const char* alias) const;
  void bind_common(sqlite::Statement& stmt) const;

  std::unique_ptr<sqlite::Database> db_;
  std::string tenant_id_;
  const ReportRequest& request_;
  std::string end_exclusive_;  // the day after end_date: `date < end_exclusive_`
};

}  // namespace streamer::report
