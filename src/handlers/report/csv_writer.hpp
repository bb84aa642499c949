// CSV report writer (RFC 4180).
#pragma once

#include <filesystem>

#include "handlers/report/report_data.hpp"

namespace streamer::report {

// Writes one RFC 4180 table (CRLF line ends, quoted where needed) to `path`:
// header sale_id,date,period,category,region,product,customer_id,quantity,unit_price,amount,
// one line per sales row of `rows`, then a last line
// TOTAL,,,,,,,<quantity>,,<gross amount>. Returns the number of sales rows.
std::int64_t write_csv_report(const ReportSummary& summary, const SaleStream& rows,
                              const std::filesystem::path& path, const RowsWritten& on_rows);

}  // namespace streamer::report
