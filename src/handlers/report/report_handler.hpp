// The generate_report handler (docs/reports.md): a sales report over the caller's
// tenant's data as CSV, Excel or PDF, delivered as a signed artifact URL.
#pragma once

#include "core/handler.hpp"
#include "handlers/report/report_data.hpp"
#include "handlers/report/report_request.hpp"

namespace streamer {

class GenerateReportHandler : public TypedHandler<report::ReportRequest> {
 public:
  // action "generate_report", async, estimated 120 s, permission "read",
  // time limit 600 s, 3 attempts.
  GenerateReportHandler();

  // The payload as a request; throws HandlerError::validation (see parse_report_request).
  report::ReportRequest parse(const boost::json::object& payload) const override;

  // Reads the caller's tenant rows (sales, refunds, targets) from the dataset,
  // aggregates them, writes the file, publishes it to env.artifacts and returns
  // the seed's result {url, records, size_bytes, format, generated_at,
  // expires_at, stats}. Progress: 0-30 querying, 30-60 aggregating, 60-90
  // generating, 90-100 storing. Honours ctx.cancel between chunks of rows.
  HandlerResult run(const report::ReportRequest& request, JobContext& ctx) override;
};

namespace report {
// The `stats` object of the result for a summary.
boost::json::object report_stats(const ReportSummary& summary);
}  // namespace report

}  // namespace streamer
