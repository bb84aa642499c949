// Calendar helpers: strict YYYY-MM-DD parsing and report period keys.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace streamer::report {

// True when `text` has exactly the shape DDDD-DD-DD (digits and dashes).
bool has_iso_date_shape(std::string_view text) noexcept;

// The date when `text` has the shape and names a real calendar day
// (2024-02-29 yes, 2023-02-29 no); nullopt otherwise.
std::optional<std::chrono::year_month_day> parse_iso_date(std::string_view text) noexcept;

std::string format_iso_date(std::chrono::year_month_day date);

// How rows are grouped over time.
enum class PeriodKind { kDay, kWeek, kMonth, kQuarter, kYear };

std::string_view to_string(PeriodKind kind) noexcept;  // "day", "week", ...

// The period label of a date: 2024-01-15 -> "2024-01-15" (day), "2024-01-15"
// (week: the Monday that starts it), "2024-01" (month), "2024-Q1", "2024".
// `date` must be a valid YYYY-MM-DD string.
std::string period_key(PeriodKind kind, std::string_view date);

}  // namespace streamer::report
