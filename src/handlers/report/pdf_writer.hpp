// PDF report writer (cairo + pango).
#pragma once

#include <filesystem>
#include <functional>

#include "handlers/report/report_data.hpp"

namespace streamer::report {

// Writes an A4 PDF to `path`: title, period, filters, tenant; key figures
// (records, gross, refunds, net, target, attainment); with include_charts a
// column chart (net by period), a line chart (gross/net/target by period), a pie
// (net by category) and a bar chart (net by region); then the tables by period,
// by category and by region, flowing over as many pages as needed. Detail rows
// are not printed (they are in the CSV/Excel formats). `on_page(page)` is
// called after each finished page (it may throw to abort). Returns the number
// of pages.
int write_pdf_report(const ReportSummary& summary, const std::filesystem::path& path,
                     const std::function<void(int page)>& on_page);

}  // namespace streamer::report
