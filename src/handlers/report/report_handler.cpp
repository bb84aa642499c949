#include "handlers/report/report_handler.hpp"

#include <cmath>
#include <filesystem>

#include "artifacts/artifact_store.hpp"
#include "core/time_util.hpp"
#include "handlers/report/aggregator.hpp"
#include "handlers/report/csv_writer.hpp"
#include "handlers/report/pdf_writer.hpp"
#include "handlers/report/sales_dataset.hpp"
#include "handlers/report/sales_source.hpp"
#include "handlers/report/xlsx_writer.hpp"

namespace streamer {
namespace json = boost::json;
namespace fs = std::filesystem;
using namespace std::chrono_literals;
using namespace report;

namespace {

constexpr std::int64_t kChunk = 16384;  // rows between progress reports / cancel checks

// Removes a staged file unless it was published.
struct StagedFile {
  fs::path path;
  bool keep = false;
  ~StagedFile() {
    std::error_code ec;
    if (!keep && !path.empty()) fs::remove(path, ec);
  }
};

json::object step(std::string_view name, std::int64_t processed, std::int64_t total) {
  return json::object{
      {"current_step", name}, {"records_processed", processed}, {"records_total", total}};
}

double round_to(double value, double unit) { return std::round(value / unit) * unit; }

std::string top_key(const BucketMap& m) {
  std::string best;
  std::int64_t best_net = 0;
  bool any = false;
  for (const auto& [k, b] : m) {
    std::int64_t net = b.gross_cents - b.refund_cents;
    if (b.orders > 0 && (!any || net > best_net)) {
      best = k, best_net = net, any = true;
    }
  }
  return best;
}

}  // namespace

namespace report {

json::object report_stats(const ReportSummary& s) {
  std::int64_t categories = 0, regions = 0;
  for (const auto& [_, b] : s.by_category) categories += b.orders > 0;
  for (const auto& [_, b] : s.by_region) regions += b.orders > 0;
  json::object stats;
  stats["total_value"] = s.totals.gross();
  stats["categories_count"] = categories;
  stats["regions_count"] = regions;
  stats["refunds_total"] = s.totals.refunds();
  stats["refunds_count"] = s.refund_count;
  stats["net_value"] = s.totals.net();
  stats["target_total"] = s.totals.target();
  if (auto a = s.totals.attainment()) {
    stats["target_attainment"] = round_to(*a, 0.0001);
  } else {
    stats["target_attainment"] = nullptr;
  }
  stats["quantity_total"] = s.totals.quantity;
  stats["average_order_value"] =
      s.records > 0 ? round_to(s.totals.gross() / static_cast<double>(s.records), 0.01) : 0.0;
  stats["periods_count"] = static_cast<std::int64_t>(s.by_period.size());
  stats["period"] = to_string(s.period_kind);
  stats["top_category"] =
      categories > 0 ? json::value(top_key(s.by_category)) : json::value(nullptr);
  stats["top_region"] = regions > 0 ? json::value(top_key(s.by_region)) : json::value(nullptr);
  return stats;
}

}  // namespace report

GenerateReportHandler::GenerateReportHandler()
    : TypedHandler(HandlerSpec{.name = "generate_report",
                               .estimated_duration = 120s,
                               .permission = "read",
                               .time_limit = 600s,
                               .max_attempts = 3,
                               .execution = Execution::kAsync}) {}

ReportRequest GenerateReportHandler::parse(const json::object& payload) const {
  return parse_report_request(payload);
}

HandlerResult GenerateReportHandler::run(const ReportRequest& request, JobContext& ctx) {
  if (ctx.env.artifacts == nullptr)
    throw HandlerError(ErrorCode::kInternalError, "artifact store is not configured");
  const std::string& tenant = ctx.identity.tenant_id;
  const fs::path database = sales_database_path(ctx.env);
  if (!fs::is_regular_file(database)) {
    throw HandlerError(
        ErrorCode::kNotFound, "Sales dataset not found",
        json::object{
            {"reason", "dataset_missing"},
            {"hint",
             "seed it with `streamer seed-data` or configure handlers.generate_report.database"}},
        false);
  }

  // 0-30 %: query each source.
  ctx.progress.report(0, "Querying sales", step("querying_sales", 0, 0));
  std::unique_ptr<SalesSource> source;
  std::int64_t total = 0;
  try {
    source = std::make_unique<SalesSource>(database, tenant, request);
    total = source->count_sales();
  } catch (const std::runtime_error& e) {
    throw HandlerError(ErrorCode::kInternalError,
                       std::string("Sales dataset is not usable: ") + e.what(),
                       json::object{{"reason", "dataset_unusable"}}, false);
  }
  ctx.cancel.throw_if_cancelled();
  Aggregator aggregator(request, tenant);

  ctx.progress.report(10, "Querying refunds", step("querying_refunds", 0, total));
  source->for_each_refund([&](auto date, auto category, auto region, double amount) {
    aggregator.add_refund(date, category, region, amount);
  });
  ctx.cancel.throw_if_cancelled();

  ctx.progress.report(20, "Querying targets", step("querying_targets", 0, total));
  source->for_each_target([&](auto month, auto category, auto region, double amount) {
    aggregator.add_target(month, category, region, amount);
  });
  ctx.cancel.throw_if_cancelled();

  // 30-60 %: stream the sales rows once, aggregating on the fly.
  ctx.progress.report(30, "Aggregating sales", step("aggregating", 0, total));
  std::int64_t processed = 0;
  source->for_each_sale([&](const SaleRow& row) {
    aggregator.add_sale(row.date, row.category, row.region, row.quantity, row.amount);
    if (++processed % kChunk == 0) {
      ctx.cancel.throw_if_cancelled();
      double share = total > 0 ? static_cast<double>(processed) / static_cast<double>(total) : 1.0;
      ctx.progress.report(30 + 30 * std::min(share, 1.0), "Aggregating sales",
                          step("aggregating", processed, total));
    }
  });
  ReportSummary summary = aggregator.take();
  total = summary.records;  // exact, from the same snapshot
  ctx.progress.report(60, "Aggregated " + std::to_string(total) + " sales",
                      step("aggregating", total, total));

  // 60-90 %: write the file (detail rows are streamed again from the snapshot).
  const std::string format_label(to_string(request.format));
  ctx.progress.report(60, "Generating " + format_label + " file",
                      step("generating_file", 0, total));
  StagedFile staged{ctx.env.artifacts->staging_path(file_extension(request.format))};
  auto rows = [&](const SaleVisitor& visit) { source->for_each_sale(visit); };
  auto on_rows = [&](std::int64_t written) {
    ctx.cancel.throw_if_cancelled();
    double share = total > 0 ? static_cast<double>(written) / static_cast<double>(total) : 1.0;
    ctx.progress.report(60 + 30 * std::min(share, 1.0), "Generating " + format_label + " file",
                        step("generating_file", written, total));
  };
  switch (request.format) {
    case ReportFormat::kCsv:
      write_csv_report(summary, rows, staged.path, on_rows);
      break;
    case ReportFormat::kExcel:
      write_xlsx_report(summary, rows, staged.path, on_rows);
      break;
    case ReportFormat::kPdf:
      write_pdf_report(summary, staged.path, [&](int page) {
        ctx.cancel.throw_if_cancelled();
        ctx.progress.report(75, "Generating pdf file (page " + std::to_string(page) + ")",
                            step("generating_file", total, total));
      });
      break;
  }
  source.reset();  // ends the read transaction

  // 90-100 %: store and finalise.
  ctx.cancel.throw_if_cancelled();
  ctx.progress.report(90, "Storing report", step("storing", total, total));
  const std::string name = "sales-report_" + request.start_date + "_" + request.end_date + "_" +
                           std::string(to_string(request.report_type)) + "." +
                           std::string(file_extension(request.format));
  ArtifactInfo info = ctx.env.artifacts->publish(tenant, staged.path, name);
  staged.keep = true;

  json::object data;
  data["url"] = info.url;
  data["records"] = summary.records;
  data["size_bytes"] = info.size_bytes;
  data["format"] = format_label;
  data["generated_at"] = format_iso8601(info.generated_at);
  data["expires_at"] = format_iso8601(info.expires_at);
  data["stats"] = report_stats(summary);
  ctx.progress.report(100, "Report ready", step("finalising", total, total));
  return HandlerResult{std::move(data), true};
}

}  // namespace streamer
