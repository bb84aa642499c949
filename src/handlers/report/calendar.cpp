#include "handlers/report/calendar.hpp"

#include <cctype>
#include <cstdio>

namespace streamer::report {
using namespace std::chrono;

namespace {
int digits(std::string_view text, std::size_t pos, std::size_t count) noexcept {
  int value = 0;
  for (std::size_t i = 0; i < count; ++i) value = value * 10 + (text[pos + i] - '0');
  return value;
}
}  // namespace

bool has_iso_date_shape(std::string_view text) noexcept {
  if (text.size() != 10 || text[4] != '-' || text[7] != '-') return false;
  for (std::size_t i : {0, 1, 2, 3, 5, 6, 8, 9}) {
    if (!std::isdigit(static_cast<unsigned char>(text[i]))) return false;
  }
  return true;
}

std::optional<year_month_day> parse_iso_date(std::string_view text) noexcept {
  if (!has_iso_date_shape(text)) return std::nullopt;
  year_month_day date{year{digits(text, 0, 4)}, month{static_cast<unsigned>(digits(text, 5, 2))},
                      day{static_cast<unsigned>(digits(text, 8, 2))}};
  if (!date.ok()) return std::nullopt;
  return date;
}

std::string format_iso_date(year_month_day date) {
  char buffer[16];
  std::snprintf(buffer, sizeof buffer, "%04d-%02u-%02u", static_cast<int>(date.year()),
                static_cast<unsigned>(date.month()), static_cast<unsigned>(date.day()));
  return buffer;
}

std::string_view to_string(PeriodKind kind) noexcept {
  switch (kind) {
    case PeriodKind::kDay:
      return "day";
    case PeriodKind::kWeek:
      return "week";
    case PeriodKind::kMonth:
      return "month";
    case PeriodKind::kQuarter:
      return "quarter";
    case PeriodKind::kYear:
      return "year";
  }
  return "day";
}

std::string period_key(PeriodKind kind, std::string_view date) {
  switch (kind) {
    case PeriodKind::kDay:
      return std::string(date.substr(0, 10));
    case PeriodKind::kMonth:
      return std::string(date.substr(0, 7));
    case PeriodKind::kYear:
      return std::string(date.substr(0, 4));
    case PeriodKind::kQuarter: {
      int m = digits(date, 5, 2);
      std::string key(date.substr(0, 4));
      key += "-Q";
      key += static_cast<char>('1' + (m - 1) / 3);
      return key;
    }
    case PeriodKind::kWeek: {
      auto parsed = parse_iso_date(date);
      if (!parsed) return std::string(date);
      sys_days d{*parsed};
      weekday wd{d};
      auto monday = d - days{(wd.c_encoding() + 6) % 7};
      return format_iso_date(year_month_day{monday});
    }
  }
  return std::string(date);
}

}  // namespace streamer::report
