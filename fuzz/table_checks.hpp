// Invariants of a DataTable produced by a reader or a query (process/table.hpp), shared
// by the csv, jsonl and sql fuzz targets.
#pragma once

#include <algorithm>
#include <cmath>
#include <limits>
#include <set>
#include <string>

#include "core/handler.hpp"
#include "fuzz_check.hpp"
#include "handlers/process/table.hpp"

namespace streamer::fuzz {

// Every column has one value per row; column names are distinct; a numeric cell is a
// finite number or missing (NaN); `integral` columns hold whole numbers only; a text
// cell is never one of the missing-value spellings (those are stored as "").
inline void check_table(const process::DataTable& t) {
  std::set<std::string> names;
  for (const auto& c : t.columns) {
    FUZZ_CHECK(names.insert(c.name).second, "two columns share a name");
    FUZZ_CHECK(c.size() == t.rows, "a column's size differs from the row count");
    if (c.numeric()) {
      for (double v : c.numbers) {
        FUZZ_CHECK(process::is_missing(v) || std::isfinite(v), "a numeric cell is infinite");
        if (c.integral && !process::is_missing(v))
          FUZZ_CHECK(v == std::floor(v), "integral column with a fraction");
      }
    } else {
      for (const auto& s : c.text)
        FUZZ_CHECK(s.empty() || !process::is_missing_token(s),
                   "a missing-value token kept as text");
    }
  }
}

// Whether two doubles are equal up to a few units in the last place. Boost.JSON 1.81
// parses some decimal texts one ULP away from the nearest double (its parser is not
// correctly rounded), so a value written and read back may move by that much.
inline bool nearly_equal(double x, double y) {
  if (x == y) return true;
  const double scale = std::max(std::fabs(x), std::fabs(y));
  return std::fabs(x - y) <= 4 * std::numeric_limits<double>::epsilon() * scale ||
         std::fabs(x - y) <= 4 * std::numeric_limits<double>::denorm_min();
}

// Cell-by-cell equality (missing equals missing); numbers compared exactly, or with
// nearly_equal() when `json_numbers` (the values went through Boost.JSON's parser).
inline bool same_table(const process::DataTable& a, const process::DataTable& b,
                       bool json_numbers = false) {
  if (a.rows != b.rows || a.columns.size() != b.columns.size()) return false;
  for (std::size_t i = 0; i < a.columns.size(); ++i) {
    const auto& x = a.columns[i];
    const auto& y = b.columns[i];
    if (x.name != y.name || x.kind != y.kind) return false;
    if (x.integral != y.integral && !json_numbers) return false;
    if (x.numeric()) {
      for (std::size_t r = 0; r < a.rows; ++r) {
        const bool mx = process::is_missing(x.numbers[r]), my = process::is_missing(y.numbers[r]);
        if (mx != my) return false;
        if (!mx && !(json_numbers ? nearly_equal(x.numbers[r], y.numbers[r])
                                  : x.numbers[r] == y.numbers[r]))
          return false;
      }
    } else if (x.text != y.text) {
      return false;
    }
  }
  return true;
}

// `again`, `table` written back in `format` by the target, must be accepted by `parse`
// and give the same table (same_table with `json_numbers`).
template <class Parse>
void check_written_back(const process::DataTable& table, const std::string& again, Parse parse,
                        const std::string& format, bool json_numbers = false) {
  process::DataTable reparsed;
  try {
    reparsed = parse(again);
  } catch (const HandlerError&) {
    FUZZ_CHECK(false, ("a table written back as " + format + " is refused").c_str());
  }
  FUZZ_CHECK(same_table(table, reparsed, json_numbers),
             (format + " written back parses to a different table").c_str());
}

}  // namespace streamer::fuzz
