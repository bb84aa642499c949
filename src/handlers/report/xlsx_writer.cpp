#include "handlers/report/xlsx_writer.hpp"

#include <xlsxwriter.h>

#include <charconv>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace streamer::report {
namespace {

constexpr std::int64_t kReportEvery = 16384;
constexpr lxw_row_t kMaxDataRowsPerSheet = 1'048'575;  // 1,048,576 rows minus the header

struct Formats {
  lxw_format* title;
  lxw_format* bold;
  lxw_format* header;
  lxw_format* money;
  lxw_format* money_bold;
  lxw_format* integer;
  lxw_format* percent;
  lxw_format* date;
};

Formats make_formats(lxw_workbook* wb) {
  Formats f{};
  f.title = workbook_add_format(wb);
  format_set_bold(f.title);
  format_set_font_size(f.title, 16);
  f.bold = workbook_add_format(wb);
  format_set_bold(f.bold);
  f.header = workbook_add_format(wb);
  format_set_bold(f.header);
  format_set_bg_color(f.header, 0xDDE4EE);
  format_set_bottom(f.header, LXW_BORDER_THIN);
  f.money = workbook_add_format(wb);
  format_set_num_format(f.money, "#,##0.00");
  f.money_bold = workbook_add_format(wb);
  format_set_num_format(f.money_bold, "#,##0.00");
  format_set_bold(f.money_bold);
  f.integer = workbook_add_format(wb);
  format_set_num_format(f.integer, "#,##0");
  f.percent = workbook_add_format(wb);
  format_set_num_format(f.percent, "0.0%");
  f.date = workbook_add_format(wb);
  format_set_num_format(f.date, "yyyy-mm-dd");
  return f;
}

void check(lxw_error error, const char* what) {
  if (error != LXW_NO_ERROR)
    throw std::runtime_error(std::string(what) + ": " + lxw_strerror(error));
}

struct TableRange {
  lxw_row_t first = 0;  // first data row
  lxw_row_t last = 0;   // last data row (inclusive)
  bool empty = true;
};

// Writes a titled bucket table at `row`; returns the data rows' range and moves
// `row` below the table.
TableRange write_table(lxw_worksheet* ws, const Formats& f, lxw_row_t& row, const char* title,
                       const char* key_header, const BucketMap& buckets) {
  worksheet_write_string(ws, row++, 0, title, f.bold);
  const char* headers[] = {key_header, "Orders", "Quantity", "Gross",
                           "Refunds",  "Net",    "Target",   "Attainment"};
  for (lxw_col_t c = 0; c < 8; ++c) worksheet_write_string(ws, row, c, headers[c], f.header);
  ++row;
  TableRange range;
  range.first = row;
  for (const auto& [key, b] : buckets) {
    worksheet_write_string(ws, row, 0, key.c_str(), nullptr);
    worksheet_write_number(ws, row, 1, static_cast<double>(b.orders), f.integer);
    worksheet_write_number(ws, row, 2, static_cast<double>(b.quantity), f.integer);
    worksheet_write_number(ws, row, 3, b.gross(), f.money);
    worksheet_write_number(ws, row, 4, b.refunds(), f.money);
    worksheet_write_number(ws, row, 5, b.net(), f.money);
    worksheet_write_number(ws, row, 6, b.target(), f.money);
    if (auto a = b.attainment()) worksheet_write_number(ws, row, 7, *a, f.percent);
    ++row;
  }
  range.last = row - 1;
  range.empty = buckets.empty();
  row += 1;
  return range;
}

void add_series(lxw_chart* chart, const char* name, lxw_row_t first, lxw_row_t last,
                lxw_col_t col) {
  lxw_chart_series* s = chart_add_series(chart, nullptr, nullptr);
  chart_series_set_categories(s, "Summary", first, 0, last, 0);
  chart_series_set_values(s, "Summary", first, col, last, col);
  chart_series_set_name(s, name);
}

void insert_charts(lxw_workbook* wb, lxw_worksheet* ws, const TableRange& period,
                   const TableRange& category, const TableRange& region) {
  lxw_row_t at = 1;
  if (!period.empty) {
    lxw_chart* columns = workbook_add_chart(wb, LXW_CHART_COLUMN);
    chart_title_set_name(columns, "Net sales by period");
    add_series(columns, "Net", period.first, period.last, 5);
    chart_axis_set_num_format(columns->y_axis, "#,##0");
    worksheet_insert_chart(ws, at, 10, columns);
    at += 16;

    lxw_chart* lines = workbook_add_chart(wb, LXW_CHART_LINE);
    chart_title_set_name(lines, "Gross, net and target by period");
    add_series(lines, "Gross", period.first, period.last, 3);
    add_series(lines, "Net", period.first, period.last, 5);
    add_series(lines, "Target", period.first, period.last, 6);
    chart_axis_set_num_format(lines->y_axis, "#,##0");
    worksheet_insert_chart(ws, at, 10, lines);
    at += 16;
  }
  if (!category.empty) {
    lxw_chart* pie = workbook_add_chart(wb, LXW_CHART_PIE);
    chart_title_set_name(pie, "Net sales by category");
    add_series(pie, "Net", category.first, category.last, 5);
    worksheet_insert_chart(ws, at, 10, pie);
    at += 16;
  }
  if (!region.empty) {
    lxw_chart* bars = workbook_add_chart(wb, LXW_CHART_BAR);
    chart_title_set_name(bars, "Net sales by region");
    add_series(bars, "Net", region.first, region.last, 5);
    chart_axis_set_num_format(bars->x_axis, "#,##0");
    worksheet_insert_chart(ws, at, 10, bars);
  }
}

void write_summary(lxw_workbook* wb, lxw_worksheet* ws, const Formats& f, const ReportSummary& s) {
  const auto& req = s.request;
  worksheet_set_column(ws, 0, 0, 22, nullptr);
  worksheet_set_column(ws, 1, 7, 14, nullptr);
  lxw_row_t row = 0;
  worksheet_write_string(ws, row++, 0, "Sales report", f.title);
  std::string period = "Period: " + req.start_date + " to " + req.end_date + " (" +
                       std::string(to_string(req.report_type)) + ", by " +
                       std::string(to_string(s.period_kind)) + ")";
  worksheet_write_string(ws, row++, 0, period.c_str(), nullptr);
  std::string filters = "Filters: category=" + req.category.value_or("all") +
                        ", region=" + req.region.value_or("all");
  worksheet_write_string(ws, row++, 0, filters.c_str(), nullptr);
  std::string tenant = "Tenant: " + s.tenant_id;
  worksheet_write_string(ws, row++, 0, tenant.c_str(), nullptr);
  ++row;

  std::size_t categories = 0, regions = 0;
  for (const auto& [_, b] : s.by_category) categories += b.orders > 0;
  for (const auto& [_, b] : s.by_region) regions += b.orders > 0;
  auto figure = [&](const char* label, double value, lxw_format* fmt) {
    worksheet_write_string(ws, row, 0, label, f.bold);
    worksheet_write_number(ws, row++, 1, value, fmt);
  };
  figure("Records", static_cast<double>(s.records), f.integer);
  figure("Gross sales", s.totals.gross(), f.money_bold);
  figure("Refunds", s.totals.refunds(), f.money);
  figure("Net sales", s.totals.net(), f.money_bold);
  figure("Target", s.totals.target(), f.money);
  worksheet_write_string(ws, row, 0, "Attainment", f.bold);
  if (auto a = s.totals.attainment()) worksheet_write_number(ws, row, 1, *a, f.percent);
  ++row;
  figure("Categories", static_cast<double>(categories), f.integer);
  figure("Regions", static_cast<double>(regions), f.integer);
  ++row;

  auto period_range = write_table(ws, f, row, "By period", "Period", s.by_period);
  auto category_range = write_table(ws, f, row, "By category", "Category", s.by_category);
  auto region_range = write_table(ws, f, row, "By region", "Region", s.by_region);
  if (req.include_charts) insert_charts(wb, ws, period_range, category_range, region_range);
}

lxw_worksheet* add_detail_sheet(lxw_workbook* wb, const Formats& f, int index) {
  std::string name = index == 1 ? "Detail" : "Detail " + std::to_string(index);
  lxw_worksheet* ws = workbook_add_worksheet(wb, name.c_str());
  if (ws == nullptr) throw std::runtime_error("cannot add worksheet " + name);
  const char* headers[] = {"Sale ID", "Date",        "Period",   "Category",   "Region",
                           "Product", "Customer ID", "Quantity", "Unit price", "Amount"};
  for (lxw_col_t c = 0; c < 10; ++c) worksheet_write_string(ws, 0, c, headers[c], f.header);
  worksheet_set_column(ws, 1, 1, 11, nullptr);
  worksheet_set_column(ws, 3, 5, 18, nullptr);
  worksheet_freeze_panes(ws, 1, 0);
  return ws;
}

struct WorkbookCloser {
  void operator()(lxw_workbook* wb) const { workbook_close(wb); }
};

}  // namespace

std::int64_t write_xlsx_report(const ReportSummary& summary, const SaleStream& rows,
                               const std::filesystem::path& path, const RowsWritten& on_rows) {
  lxw_workbook_options options{};
  options.constant_memory = LXW_TRUE;
  options.use_zip64 = LXW_TRUE;
  std::string tmpdir = path.parent_path().string();
  options.tmpdir = tmpdir.data();
  std::unique_ptr<lxw_workbook, WorkbookCloser> guard(workbook_new_opt(path.c_str(), &options));
  if (!guard) throw std::runtime_error("cannot create workbook " + path.string());
  lxw_workbook* wb = guard.get();
  const Formats f = make_formats(wb);

  lxw_worksheet* summary_sheet = workbook_add_worksheet(wb, "Summary");
  write_summary(wb, summary_sheet, f, summary);

  int sheet_index = 1;
  lxw_worksheet* detail = add_detail_sheet(wb, f, sheet_index);
  lxw_row_t row = 1;
  std::int64_t written = 0;
  std::string last_date, last_period;
  lxw_datetime date{};
  rows([&](const SaleRow& r) {
    if (row > kMaxDataRowsPerSheet) {
      detail = add_detail_sheet(wb, f, ++sheet_index);
      row = 1;
    }
    if (r.date != last_date) {
      last_date.assign(r.date);
      auto day = r.date.substr(0, 10);
      auto parsed = parse_iso_date(day);
      last_period = parsed ? period_key(summary.period_kind, day) : "unknown";
      date = parsed ? lxw_datetime{static_cast<int>(parsed->year()),
                                   static_cast<int>(unsigned(parsed->month())),
                                   static_cast<int>(unsigned(parsed->day())),
                                   0,
                                   0,
                                   0}
                    : lxw_datetime{};
    }
    worksheet_write_number(detail, row, 0, static_cast<double>(r.id), nullptr);
    if (date.year != 0) {
      worksheet_write_datetime(detail, row, 1, &date, f.date);
    } else {
      worksheet_write_string(detail, row, 1, std::string(r.date).c_str(), nullptr);
    }
    worksheet_write_string(detail, row, 2, last_period.c_str(), nullptr);
    worksheet_write_string(detail, row, 3, std::string(r.category).c_str(), nullptr);
    worksheet_write_string(detail, row, 4, std::string(r.region).c_str(), nullptr);
    worksheet_write_string(detail, row, 5, std::string(r.product).c_str(), nullptr);
    worksheet_write_number(detail, row, 6, static_cast<double>(r.customer_id), nullptr);
    worksheet_write_number(detail, row, 7, static_cast<double>(r.quantity), nullptr);
    worksheet_write_number(detail, row, 8, r.unit_price, f.money);
    worksheet_write_number(detail, row, 9, r.amount, f.money);
    ++row;
    if (++written % kReportEvery == 0) on_rows(written);
  });
  on_rows(written);
  check(workbook_close(guard.release()), "cannot write workbook");
  return written;
}

}  // namespace streamer::report
