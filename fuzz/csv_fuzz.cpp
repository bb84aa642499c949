// Fuzzes the CSV reader (process/csv_reader parse_csv).
//
// Invariants: parse_csv either throws HandlerError(VALIDATION_ERROR) or returns a
// table that passes check_table() with at least one row and one column; the table
// written back as CSV (every field quoted, numbers in shortest round-trip form) parses
// to the same table.
#include <charconv>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/handler.hpp"
#include "fuzz_check.hpp"
#include "handlers/process/csv_reader.hpp"
#include "table_checks.hpp"

using namespace streamer;

namespace {

void quoted(std::string& out, std::string_view s) {
  out.push_back('"');
  for (char c : s) {
    if (c == '"') out.push_back('"');
    out.push_back(c);
  }
  out.push_back('"');
}

std::string to_csv(const process::DataTable& t) {
  std::string out;
  for (std::size_t c = 0; c < t.columns.size(); ++c) {
    if (c) out.push_back(',');
    quoted(out, t.columns[c].name);
  }
  out.push_back('\n');
  for (std::size_t r = 0; r < t.rows; ++r) {
    for (std::size_t c = 0; c < t.columns.size(); ++c) {
      if (c) out.push_back(',');
      const auto& col = t.columns[c];
      if (!col.numeric()) {
        quoted(out, col.text[r]);
      } else if (process::is_missing(col.numbers[r])) {
        out += "\"\"";  // not an empty line, which would be skipped as blank
      } else {
        char buf[32];
        auto res = std::to_chars(buf, buf + sizeof buf, col.numbers[r]);
        out.append(buf, res.ptr);
      }
    }
    out.push_back('\n');
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  process::DataTable table;
  try {
    table = process::parse_csv(text);
  } catch (const HandlerError& e) {
    FUZZ_CHECK(e.code() == ErrorCode::kValidationError, "refused CSV is not VALIDATION_ERROR");
    return 0;
  }
  FUZZ_CHECK(table.rows > 0 && !table.columns.empty(), "accepted CSV without rows or columns");
  fuzz::check_table(table);
  for (const auto& c : table.columns) FUZZ_CHECK(!c.name.empty(), "empty column name accepted");

  fuzz::check_written_back(
      table, to_csv(table), [](std::string_view t) { return process::parse_csv(t); }, "CSV");
  return 0;
}
