#include "handlers/process/csv_reader.hpp"

#include <algorithm>
#include <boost/json.hpp>
#include <cmath>
#include <fstream>
#include <iterator>
#include <set>

#include "core/handler.hpp"

namespace streamer::process {
namespace {

HandlerError bad_data(const std::string& message,
                      std::string_view expected = "CSV with a header row") {
  return HandlerError::validation("data_source.path", expected, boost::json::string(""), message);
}

// Reads one CSV record starting at `pos`; returns false at end of input.
bool next_record(std::string_view text, std::size_t& pos, std::size_t& line,
                 std::vector<std::string>& fields) {
  fields.clear();
  // skip blank lines
  while (pos < text.size() && (text[pos] == '\n' || text[pos] == '\r')) {
    if (text[pos] == '\n') ++line;
    ++pos;
  }
  if (pos >= text.size()) return false;
  const std::size_t start_line = line;
  std::string field;
  bool quoted = false;
  while (true) {
    if (pos >= text.size()) {
      if (quoted)
        throw bad_data("unterminated quoted field starting on line " + std::to_string(start_line));
      fields.push_back(std::move(field));
      return true;
    }
    char ch = text[pos];
    if (quoted) {
      if (ch == '"') {
        if (pos + 1 < text.size() && text[pos + 1] == '"') {
          field.push_back('"');
          pos += 2;
          continue;
        }
        quoted = false;
        ++pos;
        continue;
      }
      if (ch == '\n') ++line;
      field.push_back(ch);
      ++pos;
      continue;
    }
    if (ch == '"' && field.empty()) {
      quoted = true;
      ++pos;
    } else if (ch == ',') {
      fields.push_back(std::move(field));
      field.clear();
      ++pos;
    } else if (ch == '\n' || ch == '\r') {
      fields.push_back(std::move(field));
      if (ch == '\r' && pos + 1 < text.size() && text[pos + 1] == '\n') ++pos;
      ++pos;
      ++line;
      return true;
    } else {
      field.push_back(ch);
      ++pos;
    }
  }
}

std::string trim(std::string s) {
  auto b = s.find_first_not_of(" \t");
  auto e = s.find_last_not_of(" \t");
  return b == std::string::npos ? std::string() : s.substr(b, e - b + 1);
}

std::string_view trim_view(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// Reads one field of a record at `pos` with the quoting rules of next_record, trimmed.
// An unquoted field is a view into `text` (no copy); a quoted one is unescaped into
// `scratch`. Sets `last` when the field ends its record (line end or end of input).
std::string_view next_field(std::string_view text, std::size_t& pos, std::size_t& line,
                            std::string& scratch, bool& last) {
  const std::size_t start = pos, n = text.size();
  if (pos < n && text[pos] != '"') {
    const char* p = text.data() + pos;
    const char* end = text.data() + n;
    while (p < end && *p != ',' && *p != '\n' && *p != '\r') ++p;
    pos = static_cast<std::size_t>(p - text.data());
    std::string_view field = text.substr(start, pos - start);
    last = pos >= n || text[pos] != ',';
    if (pos < n) {
      if (text[pos] == '\r' && pos + 1 < n && text[pos + 1] == '\n') ++pos;
      if (text[pos] != ',') ++line;
      ++pos;
    }
    return trim_view(field);
  }
  // Quoted (or empty at the end of input): the character loop of next_record.
  const std::size_t start_line = line;
  scratch.clear();
  bool quoted = false;
  while (true) {
    if (pos >= n) {
      if (quoted)
        throw bad_data("unterminated quoted field starting on line " + std::to_string(start_line));
      last = true;
      break;
    }
    char ch = text[pos];
    if (quoted) {
      if (ch == '"') {
        if (pos + 1 < n && text[pos + 1] == '"') {
          scratch.push_back('"');
          pos += 2;
          continue;
        }
        quoted = false;
        ++pos;
        continue;
      }
      if (ch == '\n') ++line;
      scratch.push_back(ch);
      ++pos;
    } else if (ch == '"' && scratch.empty()) {
      quoted = true;
      ++pos;
    } else if (ch == ',') {
      ++pos;
      last = false;
      break;
    } else if (ch == '\n' || ch == '\r') {
      if (ch == '\r' && pos + 1 < n && text[pos + 1] == '\n') ++pos;
      ++pos;
      ++line;
      last = true;
      break;
    } else {
      scratch.push_back(ch);
      ++pos;
    }
  }
  return trim_view(scratch);
}

// Skips blank lines before a record; false at the end of input.
bool skip_blank_lines(std::string_view text, std::size_t& pos, std::size_t& line) {
  while (pos < text.size() && (text[pos] == '\n' || text[pos] == '\r')) {
    if (text[pos] == '\n') ++line;
    ++pos;
  }
  return pos < text.size();
}

// One column being filled while the records are read: numbers while every present
// cell is a number; from the first cell that is not (row `text_from`), text. The text
// of the rows before `text_from` is recovered from the input after the last record.
struct TypedColumn {
  static constexpr std::size_t kNumeric = static_cast<std::size_t>(-1);
  std::vector<double> numbers;
  std::vector<std::string> text;  // rows text_from.. while reading; every row after
  std::size_t text_from = kNumeric;
  bool integral = true;

  void add_text(std::string_view cell) {
    text.emplace_back(is_missing_token(cell) ? std::string_view() : cell);
  }
};

// Stores one cell of row `row`; a column turns to text at its first present
// non-number.
void store_cell(std::size_t row, std::string_view cell, TypedColumn& column) {
  if (column.text_from != TypedColumn::kNumeric) {
    column.add_text(cell);
    return;
  }
  if (is_missing_token(cell)) {
    column.numbers.push_back(kMissing);
    return;
  }
  double v;
  if (parse_number(cell, v)) {
    column.numbers.push_back(v);
    if (v != std::floor(v) || std::fabs(v) > 9e15) column.integral = false;
    return;
  }
  column.text_from = row;
  std::vector<double>().swap(column.numbers);
  column.add_text(cell);
}

// Fills in the text of the rows before each column's `text_from`, in one pass over
// the records from `data_start` (however many columns turned to text).
void recover_text_prefixes(std::string_view text, std::size_t data_start,
                           std::vector<TypedColumn>& columns) {
  std::size_t rows = 0;
  for (const auto& c : columns)
    if (c.text_from != TypedColumn::kNumeric) rows = std::max(rows, c.text_from);
  if (rows == 0) return;
  std::vector<std::vector<std::string>> prefix(columns.size());
  for (std::size_t c = 0; c < columns.size(); ++c)
    if (columns[c].text_from != TypedColumn::kNumeric) prefix[c].reserve(columns[c].text_from);
  std::size_t pos = data_start, line = 0;
  std::string scratch;
  for (std::size_t r = 0; r < rows; ++r) {
    skip_blank_lines(text, pos, line);
    bool last = false;
    for (std::size_t c = 0; !last; ++c) {
      std::string_view cell = next_field(text, pos, line, scratch, last);
      if (r < columns[c].text_from && columns[c].text_from != TypedColumn::kNumeric)
        prefix[c].emplace_back(is_missing_token(cell) ? std::string_view() : cell);
    }
  }
  for (std::size_t c = 0; c < columns.size(); ++c) {
    if (columns[c].text_from == TypedColumn::kNumeric || columns[c].text_from == 0) continue;
    auto& whole = prefix[c];
    whole.reserve(whole.size() + columns[c].text.size());
    std::move(columns[c].text.begin(), columns[c].text.end(), std::back_inserter(whole));
    columns[c].text = std::move(whole);
  }
}

std::size_t estimated_rows(std::string_view text, std::size_t data_start) {
  // From the length of the first records; a guess, vectors still grow past it.
  std::size_t sample_end = std::min(text.size(), data_start + 64 * 1024), lines = 0;
  for (std::size_t i = data_start; i < sample_end; ++i) lines += text[i] == '\n';
  if (lines == 0) return 16;
  const double per_row = static_cast<double>(sample_end - data_start) / lines;
  return static_cast<std::size_t>(static_cast<double>(text.size() - data_start) / per_row * 1.02) +
         16;
}

}  // namespace

DataTable parse_csv(std::string_view text, const ReadProgress& progress) {
  if (text.size() >= 3 && text.substr(0, 3) == "\xEF\xBB\xBF") text.remove_prefix(3);  // BOM
  std::size_t pos = 0, line = 1;
  std::vector<std::string> fields;
  if (!next_record(text, pos, line, fields)) throw bad_data("the file is empty");
  std::vector<std::string> header;
  std::set<std::string> seen;
  for (auto& f : fields) {
    std::string name = trim(f);
    if (name.empty()) throw bad_data("the header has an empty column name");
    if (!seen.insert(name).second)
      throw bad_data("the header repeats the column name '" + name + "'");
    header.push_back(std::move(name));
  }
  const std::size_t width = header.size(), data_start = pos;
  std::vector<TypedColumn> columns(width);
  const std::size_t guess = estimated_rows(text, data_start);
  for (auto& c : columns) c.numbers.reserve(guess);
  std::string scratch;
  std::size_t rows = 0;
  while (skip_blank_lines(text, pos, line)) {
    const std::size_t record_start = pos, record_line = line;
    bool last = false;
    std::size_t c = 0;
    for (; !last && c < width; ++c)
      store_cell(rows, next_field(text, pos, line, scratch, last), columns[c]);
    if (!last || c != width) {
      // Count the record's fields for the message.
      std::size_t p = record_start, l = record_line;
      next_record(text, p, l, fields);
      throw bad_data("line " + std::to_string(record_line) + " has " +
                     std::to_string(fields.size()) + " fields, the header has " +
                     std::to_string(width));
    }
    ++rows;
    if (progress && rows % 8192 == 0) progress(pos, rows);
  }
  if (rows == 0) throw bad_data("the file has a header but no data rows");
  recover_text_prefixes(text, data_start, columns);
  DataTable table;
  table.rows = rows;
  for (std::size_t c = 0; c < width; ++c) {
    auto& col = columns[c];
    if (col.text_from != TypedColumn::kNumeric)
      table.columns.push_back(Column::strings(std::move(header[c]), std::move(col.text)));
    else
      table.columns.push_back(
          Column::number(std::move(header[c]), std::move(col.numbers), col.integral));
  }
  return table;
}

DataTable parse_jsonl(std::string_view text, const ReadProgress& progress) {
  TableBuilder builder;
  std::size_t pos = 0, line = 0;
  while (pos < text.size()) {
    std::size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    std::string_view row = text.substr(pos, end - pos);
    pos = end + 1;
    ++line;
    if (row.find_first_not_of(" \t\r") == std::string_view::npos) continue;
    boost::system::error_code ec;
    auto value = boost::json::parse(row, ec);
    if (ec || !value.is_object())
      throw bad_data("line " + std::to_string(line) + " is not a JSON object",
                     "JSON Lines of objects");
    builder.begin_row();
    for (const auto& [key, v] : value.as_object()) {
      std::size_t col = builder.column(key);
      if (v.is_string())
        builder.set(col, std::string(v.as_string()));
      else if (v.is_int64())
        builder.set_number(col, static_cast<double>(v.as_int64()));
      else if (v.is_uint64())
        builder.set_number(col, static_cast<double>(v.as_uint64()));
      else if (v.is_double() && !std::isfinite(v.as_double()))  // Boost.JSON reads 1e999 as inf
        throw bad_data("line " + std::to_string(line) + ": field '" + std::string(key) +
                           "' is a number outside the range of a double",
                       "JSON Lines of objects with finite numbers");
      else if (v.is_double())
        builder.set_number(col, v.as_double());
      else if (v.is_bool())
        builder.set_number(col, v.as_bool() ? 1.0 : 0.0);
      else if (v.is_null())
        continue;
      else
        throw bad_data(
            "line " + std::to_string(line) + ": field '" + std::string(key) + "' is not a scalar",
            "JSON Lines of flat objects");
    }
    if (progress && builder.rows() % 8192 == 0) progress(pos, builder.rows());
  }
  if (builder.rows() == 0) throw bad_data("the file has no records", "JSON Lines of objects");
  return builder.finish();
}

DataTable read_table_file(const std::filesystem::path& file, std::uint64_t max_bytes,
                          const ReadProgress& progress) {
  std::error_code ec;
  auto status = std::filesystem::status(file, ec);
  if (ec || !std::filesystem::is_regular_file(status))
    throw HandlerError(ErrorCode::kNotFound, "data file not found",
                       {{"field", "data_source.path"}});
  auto size = std::filesystem::file_size(file, ec);
  if (ec)
    throw HandlerError(ErrorCode::kNotFound, "data file not found",
                       {{"field", "data_source.path"}});
  if (size > max_bytes)
    throw HandlerError::validation(
        "data_source.path", "a file of at most " + std::to_string(max_bytes) + " bytes",
        boost::json::string(std::to_string(size) + " bytes"), "data file too large");
  std::string text(size, '\0');
  std::ifstream in(file, std::ios::binary);
  if (!in.read(text.data(), static_cast<std::streamsize>(size)))
    throw HandlerError(ErrorCode::kInternalError, "could not read the data file");
  auto ext = file.extension().string();
  if (ext == ".jsonl" || ext == ".ndjson") return parse_jsonl(text, progress);
  return parse_csv(text, progress);
}

}  // namespace streamer::process
