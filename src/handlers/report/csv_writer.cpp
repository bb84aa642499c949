#include "handlers/report/csv_writer.hpp"

#include <charconv>
#include <cstdio>
#include <memory>
#include <stdexcept>
#include <string>

namespace streamer::report {
namespace {

constexpr std::int64_t kReportEvery = 16384;

// Appends `field`, quoted when it holds a comma, quote, CR or LF.
void append_field(std::string& line, std::string_view field) {
  if (field.find_first_of(",\"\r\n") == std::string_view::npos) {
    line += field;
    return;
  }
  line += '"';
  for (char c : field) {
    if (c == '"') line += '"';
    line += c;
  }
  line += '"';
}

void append_int(std::string& line, std::int64_t value) {
  char buffer[24];
  auto [end, ec] = std::to_chars(buffer, buffer + sizeof buffer, value);
  line.append(buffer, end);
}

void append_money(std::string& line, double value) {
  char buffer[48];
  int n = std::snprintf(buffer, sizeof buffer, "%.2f", value);
  line.append(buffer, static_cast<std::size_t>(n));
}

struct FileCloser {
  void operator()(std::FILE* f) const { std::fclose(f); }
};

}  // namespace

std::int64_t write_csv_report(const ReportSummary& summary, const SaleStream& rows,
                              const std::filesystem::path& path, const RowsWritten& on_rows) {
  std::unique_ptr<std::FILE, FileCloser> file(std::fopen(path.c_str(), "wb"));
  if (!file) throw std::runtime_error("cannot create " + path.string());
  std::setvbuf(file.get(), nullptr, _IOFBF, 1 << 20);

  std::string line =
      "sale_id,date,period,category,region,product,customer_id,quantity,unit_price,amount\r\n";
  std::int64_t written = 0;
  std::string last_date, last_period;
  auto flush_line = [&] {
    if (std::fwrite(line.data(), 1, line.size(), file.get()) != line.size()) {
      throw std::runtime_error("write failed: " + path.string());
    }
    line.clear();
  };
  flush_line();

  rows([&](const SaleRow& row) {
    if (row.date != last_date) {
      last_date.assign(row.date);
      auto day = row.date.substr(0, 10);
      last_period = parse_iso_date(day) ? period_key(summary.period_kind, day) : "unknown";
    }
    append_int(line, row.id);
    line += ',';
    append_field(line, row.date);
    line += ',';
    append_field(line, last_period);
    line += ',';
    append_field(line, row.category);
    line += ',';
    append_field(line, row.region);
    line += ',';
    append_field(line, row.product);
    line += ',';
    append_int(line, row.customer_id);
    line += ',';
    append_int(line, row.quantity);
    line += ',';
    append_money(line, row.unit_price);
    line += ',';
    append_money(line, row.amount);
    line += "\r\n";
    flush_line();
    if (++written % kReportEvery == 0) on_rows(written);
  });

  line = "TOTAL,,,,,,,";  // sale_id=TOTAL; date..customer_id empty
  append_int(line, summary.totals.quantity);
  line += ",,";
  append_money(line, summary.totals.gross());
  line += "\r\n";
  flush_line();
  if (std::fflush(file.get()) != 0) throw std::runtime_error("write failed: " + path.string());
  on_rows(written);
  return written;
}

}  // namespace streamer::report
