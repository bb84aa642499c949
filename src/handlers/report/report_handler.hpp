// The generate_report handler (seed § "1. Generate Report", issue 4).
#pragma once

#include "core/handler.hpp"
#include "handlers/report/report_data.hpp"

namespace streamer {

class GenerateReportHandler : public Handler {
 public:
  // action "generate_report", estimated 120 s (async), permission "read",
  // time limit 600 s, 3 attempts.
  GenerateReportHandler();

  // Cheap payload check; throws HandlerError::validation (see parse_report_request).
  void validate(const boost::json::object& payload) const override;

  // Reads the caller's tenant rows (sales, refunds, targets) from the dataset,
  // aggregates them, writes the file, publishes it to env.artifacts and returns
  // the seed's result {url, records, size_bytes, format, generated_at,
  // expires_at, stats}. Progress: 0-30 querying, 30-60 aggregating, 60-90
  // generating, 90-100 storing. Honours ctx.cancel between chunks of rows.
  HandlerResult run(const boost::json::object& payload, JobContext& ctx) override;
};

namespace report {
// The `stats` object of the result for a summary.
boost::json::object report_stats(const ReportSummary& summary);
}  // namespace report

}  // namespace streamer
