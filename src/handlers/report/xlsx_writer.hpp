// Excel report writer (libxlsxwriter, constant-memory mode).
#pragma once

#include <filesystem>

#include "handlers/report/report_data.hpp"

namespace streamer::report {

// Writes an .xlsx workbook to `path`:
//  - "Summary": title, range, filters, key figures (Records, Gross sales, Refunds,
//    Net sales, Target, Attainment, Categories, Regions), then the tables
//    "By period", "By category", "By region" (Orders, Quantity, Gross, Refunds,
//    Net, Target, Attainment); with include_charts, native charts (column chart
//    of net sales by period, line chart gross/net/target, pie of net by
//    category, bar chart of net by region).
//  - "Detail" (and "Detail 2", ... past 1,048,575 rows per sheet): one row per
//    sale with a real date cell and money formats.
// Returns the number of detail rows written.
std::int64_t write_xlsx_report(const ReportSummary& summary, const SaleStream& rows,
                               const std::filesystem::path& path, const RowsWritten& on_rows);

}  // namespace streamer::report
