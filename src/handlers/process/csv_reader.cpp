#include "handlers/process/csv_reader.hpp"

#include <boost/json.hpp>
#include <cmath>
#include <fstream>
#include <set>

#include "core/handler.hpp"

namespace streamer::process {
namespace {

HandlerError bad_data(const std::string& message, std::string_view expected = "CSV with a header row") {
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
      if (quoted) throw bad_data("unterminated quoted field starting on line " + std::to_string(start_line));
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
    if (!seen.insert(name).second) throw bad_data("the header repeats the column name '" + name + "'");
    header.push_back(std::move(name));
  }
  TableBuilder builder(header);
  while (true) {
    std::size_t record_line = line;
    if (!next_record(text, pos, line, fields)) break;
    if (fields.size() != header.size())
      throw bad_data("line " + std::to_string(record_line) + " has " + std::to_string(fields.size()) +
                     " fields, the header has " + std::to_string(header.size()));
    builder.begin_row();
    for (std::size_t i = 0; i < fields.size(); ++i) builder.set(i, trim(std::move(fields[i])));
    if (progress && builder.rows() % 8192 == 0) progress(pos, builder.rows());
  }
  if (builder.rows() == 0) throw bad_data("the file has a header but no data rows");
  return builder.finish();
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
      throw bad_data("line " + std::to_string(line) + " is not a JSON object", "JSON Lines of objects");
    builder.begin_row();
    for (const auto& [key, v] : value.as_object()) {
      std::size_t col = builder.column(key);
      if (v.is_string()) builder.set(col, std::string(v.as_string()));
      else if (v.is_int64()) builder.set_number(col, static_cast<double>(v.as_int64()));
      else if (v.is_uint64()) builder.set_number(col, static_cast<double>(v.as_uint64()));
      else if (v.is_double() && !std::isfinite(v.as_double()))  // Boost.JSON reads 1e999 as inf
        throw bad_data("line " + std::to_string(line) + ": field '" + std::string(key) +
                           "' is a number outside the range of a double",
                       "JSON Lines of objects with finite numbers");
      else if (v.is_double()) builder.set_number(col, v.as_double());
      else if (v.is_bool()) builder.set_number(col, v.as_bool() ? 1.0 : 0.0);
      else if (v.is_null()) continue;
      else
        throw bad_data("line " + std::to_string(line) + ": field '" + std::string(key) + "' is not a scalar",
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
    throw HandlerError(ErrorCode::kNotFound, "data file not found", {{"field", "data_source.path"}});
  auto size = std::filesystem::file_size(file, ec);
  if (ec) throw HandlerError(ErrorCode::kNotFound, "data file not found", {{"field", "data_source.path"}});
  if (size > max_bytes)
    throw HandlerError::validation("data_source.path", "a file of at most " + std::to_string(max_bytes) + " bytes",
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
