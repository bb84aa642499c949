#include "handlers/report/pdf_writer.hpp"

#include <cairo.h>

#include <array>
#include <vector>

#include "handlers/report/pdf_canvas.hpp"
#include "handlers/report/pdf_charts.hpp"

namespace streamer::report {
namespace {

using Align = PdfCanvas::Align;
constexpr double kRow = 14.0;
constexpr std::array<double, 8> kColumns{78, 45, 50, 77, 65, 77, 77, 46};  // sum = 515

void table_header(PdfCanvas& pdf, const char* key_header) {
  const char* headers[] = {key_header, "Orders", "Quantity", "Gross",
                           "Refunds",  "Net",    "Target",   "Att."};
  cairo_set_source_rgb(pdf.cr(), 0.87, 0.89, 0.93);
  cairo_rectangle(pdf.cr(), PdfCanvas::kMargin, pdf.y() - 1, pdf.content_width(), kRow);
  cairo_fill(pdf.cr());
  double x = PdfCanvas::kMargin;
  for (std::size_t c = 0; c < kColumns.size(); ++c) {
    pdf.text(x + 2, pdf.y(), headers[c], 8, true, c == 0 ? Align::kLeft : Align::kRight,
             kColumns[c] - 4);
    x += kColumns[c];
  }
  pdf.advance(kRow);
}

void table_row(PdfCanvas& pdf, const std::string& key, const Bucket& b, bool bold) {
  const std::string cells[] = {key,
                               format_count(b.orders),
                               format_count(b.quantity),
                               format_money(b.gross()),
                               format_money(b.refunds()),
                               format_money(b.net()),
                               format_money(b.target()),
                               format_percent(b.attainment())};
  double x = PdfCanvas::kMargin;
  for (std::size_t c = 0; c < kColumns.size(); ++c) {
    pdf.text(x + 2, pdf.y(), cells[c], 8, bold, c == 0 ? Align::kLeft : Align::kRight,
             kColumns[c] - 4);
    x += kColumns[c];
  }
  cairo_set_source_rgb(pdf.cr(), 0.9, 0.9, 0.9);
  cairo_set_line_width(pdf.cr(), 0.3);
  cairo_move_to(pdf.cr(), PdfCanvas::kMargin, pdf.y() + kRow - 1.5);
  cairo_line_to(pdf.cr(), PdfCanvas::kMargin + pdf.content_width(), pdf.y() + kRow - 1.5);
  cairo_stroke(pdf.cr());
  pdf.advance(kRow);
}

// A titled table that continues (with its header repeated) on following pages.
void table(PdfCanvas& pdf, const char* title, const char* key_header, const BucketMap& buckets,
           const Bucket& totals, const std::function<void(int)>& on_page) {
  pdf.ensure_space(kRow * 4 + 20);
  pdf.advance(6);
  pdf.text(PdfCanvas::kMargin, pdf.y(), title, 12, true);
  pdf.advance(20);
  table_header(pdf, key_header);
  for (const auto& [key, b] : buckets) {
    if (pdf.ensure_space(kRow)) {
      on_page(pdf.page() - 1);
      pdf.text(PdfCanvas::kMargin, pdf.y(), std::string(title) + " (continued)", 10, true);
      pdf.advance(16);
      table_header(pdf, key_header);
    }
    table_row(pdf, key, b, false);
  }
  if (pdf.ensure_space(kRow)) on_page(pdf.page() - 1);
  table_row(pdf, "Total", totals, true);
  pdf.advance(8);
}

void key_figures(PdfCanvas& pdf, const ReportSummary& s) {
  std::size_t categories = 0, regions = 0;
  for (const auto& [_, b] : s.by_category) categories += b.orders > 0;
  for (const auto& [_, b] : s.by_region) regions += b.orders > 0;
  const std::pair<const char*, std::string> figures[] = {
      {"Records", format_count(s.records)},
      {"Gross sales", format_money(s.totals.gross())},
      {"Refunds", format_money(s.totals.refunds()) + " (" + std::to_string(s.refund_count) + ")"},
      {"Net sales", format_money(s.totals.net())},
      {"Target", format_money(s.totals.target())},
      {"Attainment", format_percent(s.totals.attainment())},
      {"Categories", std::to_string(categories)},
      {"Regions", std::to_string(regions)},
  };
  pdf.text(PdfCanvas::kMargin, pdf.y(), "Key figures", 12, true);
  pdf.advance(20);
  for (std::size_t i = 0; i < std::size(figures); ++i) {
    double x = PdfCanvas::kMargin + (i % 2) * pdf.content_width() / 2;
    pdf.text(x, pdf.y(), figures[i].first, 9, true);
    pdf.text(x + 80, pdf.y(), figures[i].second, 9);
    if (i % 2 == 1) pdf.advance(kRow + 2);
  }
  pdf.advance(10);
}

template <typename Getter>
std::vector<double> values(const BucketMap& m, Getter get) {
  std::vector<double> out;
  for (const auto& [_, b] : m) out.push_back(get(b));
  return out;
}

std::vector<std::string> keys(const BucketMap& m) {
  std::vector<std::string> out;
  for (const auto& [k, _] : m) out.push_back(k);
  return out;
}

void charts(PdfCanvas& pdf, const ReportSummary& s, const std::function<void(int)>& on_page) {
  const double w = pdf.content_width();
  auto place = [&](double height) {
    if (pdf.ensure_space(height)) on_page(pdf.page() - 1);
    ChartBox box{PdfCanvas::kMargin, pdf.y(), w, height};
    pdf.advance(height + 12);
    return box;
  };
  if (!s.by_period.empty()) {
    auto labels = keys(s.by_period);
    draw_column_chart(
        pdf, place(200), "Net sales by period", labels,
        {{"Net", values(s.by_period, [](const Bucket& b) { return b.net(); }), palette(0)}});
    draw_line_chart(
        pdf, place(200), "Gross, net and target by period", labels,
        {{"Gross", values(s.by_period, [](const Bucket& b) { return b.gross(); }), palette(0)},
         {"Net", values(s.by_period, [](const Bucket& b) { return b.net(); }), palette(2)},
         {"Target", values(s.by_period, [](const Bucket& b) { return b.target(); }), palette(1)}});
  }
  if (!s.by_category.empty()) {
    draw_pie_chart(pdf, place(190), "Net sales by category", keys(s.by_category),
                   values(s.by_category, [](const Bucket& b) { return b.net(); }));
  }
  if (!s.by_region.empty()) {
    draw_bar_chart(pdf, place(40 + 22.0 * static_cast<double>(s.by_region.size())),
                   "Net sales by region", keys(s.by_region),
                   values(s.by_region, [](const Bucket& b) { return b.net(); }), palette(4));
  }
}

}  // namespace

int write_pdf_report(const ReportSummary& s, const std::filesystem::path& path,
                     const std::function<void(int page)>& on_page) {
  const auto& req = s.request;
  PdfCanvas pdf(path, "Sales report " + req.start_date + " to " + req.end_date);
  pdf.text(PdfCanvas::kMargin, pdf.y(), "Sales report", 22, true, Align::kLeft, 0,
           {0.12, 0.23, 0.4});
  pdf.advance(32);
  pdf.text(PdfCanvas::kMargin, pdf.y(),
           "Period: " + req.start_date + " to " + req.end_date + "  (" +
               std::string(to_string(req.report_type)) + ", by " +
               std::string(to_string(s.period_kind)) + ")",
           10);
  pdf.advance(15);
  pdf.text(PdfCanvas::kMargin, pdf.y(),
           "Filters: category=" + req.category.value_or("all") +
               ", region=" + req.region.value_or("all"),
           10);
  pdf.advance(15);
  pdf.text(PdfCanvas::kMargin, pdf.y(), "Tenant: " + s.tenant_id, 10);
  pdf.advance(24);

  key_figures(pdf, s);
  if (req.include_charts) charts(pdf, s, on_page);
  table(pdf, "By period", "Period", s.by_period, s.totals, on_page);
  table(pdf, "By category", "Category", s.by_category, s.totals, on_page);
  table(pdf, "By region", "Region", s.by_region, s.totals, on_page);
  pdf.finish();
  on_page(pdf.page());
  return pdf.page();
}

}  // namespace streamer::report
