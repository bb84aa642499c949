// The generate_report payload (seed § "1. Generate Report"), parsed and validated.
#pragma once

#include <boost/json.hpp>
#include <chrono>
#include <optional>
#include <string>

#include "handlers/report/calendar.hpp"

namespace streamer::report {

enum class ReportFormat { kPdf, kCsv, kExcel };
enum class ReportType { kMonthly, kQuarterly, kAnnual, kCustom };

struct ReportRequest {
  std::string start_date;  // YYYY-MM-DD, a real date
  std::string end_date;    // YYYY-MM-DD, >= start_date
  std::chrono::year_month_day start;
  std::chrono::year_month_day end;
  ReportFormat format = ReportFormat::kPdf;
  ReportType report_type = ReportType::kMonthly;
  bool include_charts = false;
  std::optional<std::string> category;  // filters.category
  std::optional<std::string> region;    // filters.region
};

// Validates `payload` and returns the request. Throws HandlerError
// (VALIDATION_ERROR, details {field, expected, received}) for the first problem
// found, in field order start_date, end_date, format, report_type,
// include_charts, filters; then start <= end. Unknown fields are ignored. Cheap.
ReportRequest parse_report_request(const boost::json::object& payload);

std::string_view to_string(ReportFormat format) noexcept;       // "pdf", "csv", "excel"
std::string_view file_extension(ReportFormat format) noexcept;  // "pdf", "csv", "xlsx"
std::string_view to_string(ReportType type) noexcept;           // "monthly", ...

// The grouping used for a request: monthly -> months, quarterly -> quarters,
// annual -> years, custom -> days for spans up to 92 days, weeks beyond.
PeriodKind period_kind_for(const ReportRequest& request) noexcept;

}  // namespace streamer::report
