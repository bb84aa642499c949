// What the report's writers consume: the aggregated summary and a stream of the
// detail rows (re-read from the database, never held in memory).
#pragma once

#include <cmath>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "handlers/report/calendar.hpp"
#include "handlers/report/report_request.hpp"

namespace streamer::report {

// Sums for one group. Money is summed in whole cents (exact); targets are
// pro-rated to the days of the month inside the report range, so fractional.
struct Bucket {
  std::int64_t orders = 0;
  std::int64_t quantity = 0;
  std::int64_t gross_cents = 0;
  std::int64_t refund_cents = 0;
  double target_cents = 0;

  double gross() const { return static_cast<double>(gross_cents) / 100.0; }
  double refunds() const { return static_cast<double>(refund_cents) / 100.0; }
  double net() const { return static_cast<double>(gross_cents - refund_cents) / 100.0; }
  double target() const { return std::round(target_cents) / 100.0; }
  // net / target, or nullopt without a target.
  std::optional<double> attainment() const {
    if (target_cents < 0.5) return std::nullopt;
    return static_cast<double>(gross_cents - refund_cents) / target_cents;
  }
};

using BucketMap = std::map<std::string, Bucket, std::less<>>;

struct ReportSummary {
  ReportRequest request;
  std::string tenant_id;
  PeriodKind period_kind = PeriodKind::kMonth;
  Bucket totals;
  BucketMap by_period;  // keys sort chronologically
  BucketMap by_category;
  BucketMap by_region;
  std::int64_t refund_count = 0;
  std::int64_t records = 0;  // sales rows in the report (== totals.orders)
};

// One sales row; the views are valid only during the visitor call.
struct SaleRow {
  std::int64_t id = 0;
  std::string_view date;
  std::string_view category;
  std::string_view region;
  std::string_view product;
  std::int64_t customer_id = 0;
  std::int64_t quantity = 0;
  double unit_price = 0;
  double amount = 0;
};

using SaleVisitor = std::function<void(const SaleRow&)>;
// Calls the visitor for every sales row of the report, ordered by date then id.
using SaleStream = std::function<void(const SaleVisitor&)>;
// Told how many detail rows a writer has written so far (for progress and
// cancellation; it may throw to abort the writer).
using RowsWritten = std::function<void(std::int64_t rows)>;

// "1,234,567.89" (two decimals, thousands separators, leading '-' if negative).
std::string format_money(double value);
// "1,234" (thousands separators).
std::string format_count(std::int64_t value);
// "97.3 %" or "n/a".
std::string format_percent(std::optional<double> ratio);

}  // namespace streamer::report
