#include "handlers/report/aggregator.hpp"

#include <chrono>
#include <cmath>
#include <cstdio>

namespace streamer::report {
using namespace std::chrono;

namespace {
std::int64_t to_cents(double amount) { return std::llround(amount * 100.0); }
}  // namespace

std::string format_money(double value) {
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "%.2f", std::fabs(value));
  std::string digits(buffer);
  auto dot = digits.find('.');
  std::string out;
  for (std::size_t i = 0; i < dot; ++i) {
    if (i > 0 && (dot - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  out += digits.substr(dot);
  if (value < 0 && out != "0.00") out.insert(out.begin(), '-');
  return out;
}

std::string format_count(std::int64_t value) {
  std::string money = format_money(static_cast<double>(value));
  return money.substr(0, money.size() - 3);
}

std::string format_percent(std::optional<double> ratio) {
  if (!ratio) return "n/a";
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%.1f %%", *ratio * 100.0);
  return buffer;
}

Aggregator::Aggregator(ReportRequest request, std::string tenant_id) {
  summary_.period_kind = period_kind_for(request);
  summary_.request = std::move(request);
  summary_.tenant_id = std::move(tenant_id);
}

Bucket& Aggregator::bucket(BucketMap& map, std::string_view key) {
  auto it = map.find(key);
  if (it == map.end()) it = map.emplace(std::string(key), Bucket{}).first;
  return it->second;
}

Bucket& Aggregator::period_bucket(std::string_view date) {
  // Rows arrive mostly in date order, so the previous day's bucket is reused.
  if (last_period_ != nullptr && date == last_date_) return *last_period_;
  std::string_view day = date.substr(0, 10);
  std::string key =
      parse_iso_date(day) ? period_key(summary_.period_kind, day) : std::string("unknown");
  last_date_.assign(date);
  last_period_ = &bucket(summary_.by_period, key);  // std::map: stable references
  return *last_period_;
}

void Aggregator::add_sale(std::string_view date, std::string_view category, std::string_view region,
                          std::int64_t quantity, double amount) {
  const std::int64_t cents = to_cents(amount);
  for (Bucket* b : {&summary_.totals, &period_bucket(date), &bucket(summary_.by_category, category),
                    &bucket(summary_.by_region, region)}) {
    b->orders += 1;
    b->quantity += quantity;
    b->gross_cents += cents;
  }
  summary_.records += 1;
}

void Aggregator::add_refund(std::string_view date, std::string_view category,
                            std::string_view region, double amount) {
  const std::int64_t cents = to_cents(amount);
  for (Bucket* b : {&summary_.totals, &period_bucket(date), &bucket(summary_.by_category, category),
                    &bucket(summary_.by_region, region)}) {
    b->refund_cents += cents;
  }
  summary_.refund_count += 1;
}

void Aggregator::add_target(std::string_view month, std::string_view category,
                            std::string_view region, double amount) {
  if (month.size() < 7) return;
  auto first = parse_iso_date(std::string(month.substr(0, 7)) + "-01");
  if (!first) return;
  const sys_days month_start{*first};
  const sys_days month_end{year_month_day_last{first->year(), month_day_last{first->month()}}};
  const sys_days from = std::max(month_start, sys_days{summary_.request.start});
  const sys_days to = std::min(month_end, sys_days{summary_.request.end});
  if (to < from) return;
  const double days_in_month = static_cast<double>((month_end - month_start).count() + 1);
  const double per_day = amount * 100.0 / days_in_month;
  const double covered = per_day * static_cast<double>((to - from).count() + 1);
  for (Bucket* b : {&summary_.totals, &bucket(summary_.by_category, category),
                    &bucket(summary_.by_region, region)}) {
    b->target_cents += covered;
  }
  for (sys_days d = from; d <= to; d += days{1}) {
    auto key = period_key(summary_.period_kind, format_iso_date(year_month_day{d}));
    bucket(summary_.by_period, key).target_cents += per_day;
  }
}

}  // namespace streamer::report
