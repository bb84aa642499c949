// Fuzzes the JSON Lines reader (process/csv_reader parse_jsonl).
//
// Invariants: parse_jsonl either throws HandlerError(VALIDATION_ERROR) or returns a
// table that passes check_table() with at least one row; the table written back as
// JSON Lines (one object per row, every column in order, missing cells as null) parses
// to the same table (numbers up to a few ULPs: Boost.JSON 1.81 does not round every
// decimal text to the nearest double).
#include <boost/json.hpp>
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

std::string to_jsonl(const process::DataTable& t) {
  std::string out;
  for (std::size_t r = 0; r < t.rows; ++r) {
    boost::json::object row;
    for (const auto& col : t.columns) {
      if (col.missing(r)) {
        row[col.name] = nullptr;
      } else if (col.numeric()) {
        row[col.name] = col.numbers[r];
      } else {
        row[col.name] = col.text[r];
      }
    }
    out += boost::json::serialize(row);
    out.push_back('\n');
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  process::DataTable table;
  try {
    table = process::parse_jsonl(text);
  } catch (const HandlerError& e) {
    FUZZ_CHECK(e.code() == ErrorCode::kValidationError,
               "refused JSON Lines is not VALIDATION_ERROR");
    return 0;
  }
  FUZZ_CHECK(table.rows > 0, "accepted JSON Lines without rows");
  fuzz::check_table(table);

  fuzz::check_written_back(
      table, to_jsonl(table), [](std::string_view t) { return process::parse_jsonl(t); },
      "JSON Lines", /*json_numbers=*/true);
  return 0;
}
