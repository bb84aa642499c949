// An in-memory, column-major table: what every data source (file, query, stream)
// produces and what every pipeline and output writer consumes.
#pragma once

#include <cmath>
#include <cstddef>
#include <limits>
#include <string>
#include <string_view>
#include <vector>

namespace streamer::process {

inline constexpr double kMissing = std::numeric_limits<double>::quiet_NaN();
inline bool is_missing(double v) noexcept { return std::isnan(v); }

struct Column {
  enum class Kind { kNumber, kText };
  std::string name;
  Kind kind = Kind::kNumber;
  bool integral = false;          // kNumber and every present value is a whole number
  std::vector<double> numbers;    // kNumber: one per row, NaN = missing
  std::vector<std::string> text;  // kText: one per row, "" = missing

  bool numeric() const noexcept { return kind == Kind::kNumber; }
  std::size_t size() const noexcept { return numeric() ? numbers.size() : text.size(); }
  bool missing(std::size_t row) const {
    return numeric() ? is_missing(numbers[row]) : text[row].empty();
  }

  static Column number(std::string name, std::vector<double> values, bool integral = false);
  static Column strings(std::string name, std::vector<std::string> values);
};

struct DataTable {
  std::vector<Column> columns;
  std::size_t rows = 0;

  // Index of the column called `name`, or -1.
  int find(std::string_view name) const;
  // Appends a column; its size must equal `rows` (or set rows when the table is empty).
  void add(Column column);
};

// True for the spellings treated as a missing value in text sources: "", NA, N/A,
// NaN, null, NULL, None, ? (case-sensitive, exact).
bool is_missing_token(std::string_view cell) noexcept;

// Parses a whole cell as a finite double (leading/trailing blanks allowed).
bool parse_number(std::string_view cell, double& out) noexcept;

// Collects rows cell by cell as text, then decides each column's kind: a column is
// numeric when every non-missing cell parses as a number, otherwise text. Columns
// can be added while rows arrive (JSON records with new keys); earlier rows get a
// missing value there.
class TableBuilder {
 public:
  TableBuilder() = default;
  explicit TableBuilder(const std::vector<std::string>& names);

  std::size_t column_count() const noexcept { return names_.size(); }
  // Index of `name`, adding the column if it is new.
  std::size_t column(std::string_view name);
  void begin_row();
  // Sets a cell of the current row; `missing` cells keep the column's kind open.
  void set(std::size_t column, std::string value);
  // A number cell; a non-finite value (NaN, +-inf, e.g. SQL's 1e999) is stored as
  // missing, so every number a table holds is finite.
  void set_number(std::size_t column, double value);
  std::size_t rows() const noexcept { return rows_; }
  // Builds the typed table and empties the builder.
  DataTable finish();

 private:
  struct Raw {
    std::vector<std::string> cells;
    bool all_numeric = true;
  };
  std::vector<std::string> names_;
  std::vector<Raw> raw_;
  std::size_t rows_ = 0;
};

}  // namespace streamer::process
