#include "handlers/report/report_request.hpp"

#include <array>

#include "core/handler.hpp"

namespace streamer::report {
namespace json = boost::json;
using namespace std::chrono;

namespace {

constexpr std::size_t kMaxFilterLength = 200;

const json::value& field_or_null(const json::object& object, std::string_view key) {
  static const json::value kNull;
  auto it = object.find(key);
  return it == object.end() ? kNull : it->value();
}

// Parses a required date field; `name` is its wire name.
std::pair<std::string, year_month_day> require_date(const json::object& payload,
                                                    std::string_view name) {
  const auto& value = field_or_null(payload, name);
  if (value.is_null()) {
    throw HandlerError::validation(name, "YYYY-MM-DD", value,
                                   std::string("Missing required field: ") + std::string(name));
  }
  if (!value.is_string() || !has_iso_date_shape(value.get_string())) {
    throw HandlerError::validation(name, "YYYY-MM-DD", value, "Invalid date format");
  }
  std::string text(value.get_string());
  auto date = parse_iso_date(text);
  if (!date) {
    throw HandlerError::validation(name, "a real calendar date in YYYY-MM-DD", value,
                                   "Invalid date");
  }
  return {text, *date};
}

// Looks up a required enum field among `names`; returns the index.
template <std::size_t N>
std::size_t require_enum(const json::object& payload, std::string_view name,
                         const std::array<std::string_view, N>& names, std::string_view expected) {
  const auto& value = field_or_null(payload, name);
  if (value.is_null()) {
    throw HandlerError::validation(name, expected, value,
                                   std::string("Missing required field: ") + std::string(name));
  }
  if (value.is_string()) {
    for (std::size_t i = 0; i < N; ++i) {
      if (value.get_string() == names[i]) return i;
    }
  }
  throw HandlerError::validation(name, expected, value,
                                 std::string("Invalid ") + std::string(name));
}

std::optional<std::string> optional_filter(const json::object& filters, std::string_view key) {
  auto it = filters.find(key);
  if (it == filters.end() || it->value().is_null()) return std::nullopt;
  const auto& value = it->value();
  std::string field = "filters." + std::string(key);
  if (!value.is_string() || value.get_string().empty() ||
      value.get_string().size() > kMaxFilterLength) {
    throw HandlerError::validation(field, "a non-empty string of at most 200 characters", value,
                                   "Invalid filter: " + std::string(key));
  }
  return std::string(value.get_string());
}

}  // namespace

ReportRequest parse_report_request(const json::object& payload) {
  ReportRequest request;
  std::tie(request.start_date, request.start) = require_date(payload, "start_date");
  std::tie(request.end_date, request.end) = require_date(payload, "end_date");

  static constexpr std::array<std::string_view, 3> kFormats{"pdf", "csv", "excel"};
  request.format = static_cast<ReportFormat>(
      require_enum(payload, "format", kFormats, "one of: pdf, csv, excel"));

  static constexpr std::array<std::string_view, 4> kTypes{"monthly", "quarterly", "annual",
                                                          "custom"};
  request.report_type = static_cast<ReportType>(
      require_enum(payload, "report_type", kTypes, "one of: monthly, quarterly, annual, custom"));

  const auto& charts = field_or_null(payload, "include_charts");
  if (!charts.is_null()) {
    if (!charts.is_bool()) {
      throw HandlerError::validation("include_charts", "boolean", charts, "Invalid include_charts");
    }
    request.include_charts = charts.get_bool();
  }

  const auto& filters = field_or_null(payload, "filters");
  if (!filters.is_null()) {
    if (!filters.is_object()) {
      throw HandlerError::validation("filters",
                                     "object with optional string fields category, region", filters,
                                     "Invalid filters");
    }
    request.category = optional_filter(filters.get_object(), "category");
    request.region = optional_filter(filters.get_object(), "region");
  }

  if (sys_days{request.end} < sys_days{request.start}) {
    throw HandlerError::validation("end_date",
                                   "a date on or after start_date (" + request.start_date + ")",
                                   json::value(request.end_date), "end_date is before start_date");
  }
  return request;
}

std::string_view to_string(ReportFormat format) noexcept {
  switch (format) {
    case ReportFormat::kPdf:
      return "pdf";
    case ReportFormat::kCsv:
      return "csv";
    case ReportFormat::kExcel:
      return "excel";
  }
  return "pdf";
}

std::string_view file_extension(ReportFormat format) noexcept {
  return format == ReportFormat::kExcel ? "xlsx" : to_string(format);
}

std::string_view to_string(ReportType type) noexcept {
  switch (type) {
    case ReportType::kMonthly:
      return "monthly";
    case ReportType::kQuarterly:
      return "quarterly";
    case ReportType::kAnnual:
      return "annual";
    case ReportType::kCustom:
      return "custom";
  }
  return "monthly";
}

PeriodKind period_kind_for(const ReportRequest& request) noexcept {
  switch (request.report_type) {
    case ReportType::kMonthly:
      return PeriodKind::kMonth;
    case ReportType::kQuarterly:
      return PeriodKind::kQuarter;
    case ReportType::kAnnual:
      return PeriodKind::kYear;
    case ReportType::kCustom: {
      auto span = sys_days{request.end} - sys_days{request.start};
      return span.count() <= 92 ? PeriodKind::kDay : PeriodKind::kWeek;
    }
  }
  return PeriodKind::kMonth;
}

}  // namespace streamer::report
