// Aggregates sales, refunds and targets on the fly into a ReportSummary, by
// period, category and region. Memory is bounded by the number of groups.
#pragma once

#include <string>
#include <string_view>

#include "handlers/report/report_data.hpp"

namespace streamer::report {

class Aggregator {
 public:
  Aggregator(ReportRequest request, std::string tenant_id);

  // A sale on `date` (YYYY-MM-DD...; anything else lands in period "unknown").
  void add_sale(std::string_view date, std::string_view category, std::string_view region,
                std::int64_t quantity, double amount);
  // A refund issued on `date` for a sale of `category`/`region`.
  void add_refund(std::string_view date, std::string_view category, std::string_view region,
                  double amount);
  // A monthly target (`month` YYYY-MM) pro-rated to the days of that month
  // inside the report range and spread evenly over those days' periods.
  void add_target(std::string_view month, std::string_view category, std::string_view region,
                  double amount);

  const ReportSummary& summary() const noexcept { return summary_; }
  ReportSummary take() { return std::move(summary_); }

 private:
  Bucket& period_bucket(std::string_view date);
  static Bucket& bucket(BucketMap& map, std::string_view key);

  ReportSummary summary_;
  std::string last_date_;
  Bucket* last_period_ = nullptr;
};

}  // namespace streamer::report
