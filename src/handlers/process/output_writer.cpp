#include "handlers/process/output_writer.hpp"

#include <charconv>
#include <cstdio>
#include <memory>

#include "core/handler.hpp"

namespace streamer::process {
namespace {

struct FileCloser {
  void operator()(std::FILE* f) const {
    if (f) std::fclose(f);
  }
};

std::unique_ptr<std::FILE, FileCloser> open_out(const std::filesystem::path& file) {
  std::unique_ptr<std::FILE, FileCloser> f(std::fopen(file.c_str(), "wb"));
  if (!f) throw HandlerError(ErrorCode::kInternalError, "could not create the output file");
  std::setvbuf(f.get(), nullptr, _IOFBF, 1 << 20);
  return f;
}

void put(std::FILE* f, std::string_view s) { std::fwrite(s.data(), 1, s.size(), f); }

void put_number(std::FILE* f, double v, bool integral) {
  char buf[40];
  char* end;
  if (integral)
    end = std::to_chars(buf, buf + sizeof buf, static_cast<long long>(v)).ptr;
  else
    end = std::to_chars(buf, buf + sizeof buf, v).ptr;
  put(f, std::string_view(buf, static_cast<std::size_t>(end - buf)));
}

void put_csv_text(std::FILE* f, const std::string& s) {
  if (s.find_first_of(",\"\r\n") == std::string::npos) return put(f, s);
  put(f, "\"");
  for (char c : s) {
    if (c == '"')
      put(f, "\"\"");
    else
      std::fputc(c, f);
  }
  put(f, "\"");
}

void finish(std::unique_ptr<std::FILE, FileCloser>& f) {
  bool ok = std::fflush(f.get()) == 0 && !std::ferror(f.get());
  ok = (std::fclose(f.release()) == 0) && ok;
  if (!ok) throw HandlerError(ErrorCode::kInternalError, "could not write the output file");
}

}  // namespace

bool parse_output_format(std::string_view t, OutputFormat& out) noexcept {
  if (t == "json")
    out = OutputFormat::kJson;
  else if (t == "csv")
    out = OutputFormat::kCsv;
  else if (t == "parquet")
    out = OutputFormat::kParquet;
  else
    return false;
  return true;
}

const char* extension(OutputFormat f) noexcept {
  switch (f) {
    case OutputFormat::kJson:
      return "json";
    case OutputFormat::kCsv:
      return "csv";
    case OutputFormat::kParquet:
      return "parquet";
  }
  return "bin";
}

boost::json::object row_to_json(const DataTable& t, std::size_t r) {
  boost::json::object o;
  for (const auto& c : t.columns) {
    if (c.missing(r))
      o[c.name] = nullptr;
    else if (!c.numeric())
      o[c.name] = c.text[r];
    else if (c.integral)
      o[c.name] = static_cast<std::int64_t>(c.numbers[r]);
    else
      o[c.name] = c.numbers[r];
  }
  return o;
}

boost::json::array sample_rows(const DataTable& t, std::size_t limit) {
  boost::json::array a;
  for (std::size_t r = 0; r < std::min(limit, t.rows); ++r) a.emplace_back(row_to_json(t, r));
  return a;
}

void write_json(const DataTable& t, const std::filesystem::path& file) {
  auto f = open_out(file);
  std::vector<std::string> keys;
  for (const auto& c : t.columns)
    keys.push_back(boost::json::serialize(boost::json::string(c.name)) + ":");
  put(f.get(), "[");
  for (std::size_t r = 0; r < t.rows; ++r) {
    put(f.get(), r ? ",\n{" : "\n{");
    for (std::size_t i = 0; i < t.columns.size(); ++i) {
      const Column& c = t.columns[i];
      if (i) put(f.get(), ",");
      put(f.get(), keys[i]);
      if (c.missing(r))
        put(f.get(), "null");
      else if (c.numeric())
        put_number(f.get(), c.numbers[r], c.integral);
      else
        put(f.get(), boost::json::serialize(boost::json::string(c.text[r])));
    }
    put(f.get(), "}");
  }
  put(f.get(), "\n]\n");
  finish(f);
}

void write_csv(const DataTable& t, const std::filesystem::path& file) {
  auto f = open_out(file);
  for (std::size_t i = 0; i < t.columns.size(); ++i) {
    if (i) put(f.get(), ",");
    put_csv_text(f.get(), t.columns[i].name);
  }
  put(f.get(), "\n");
  for (std::size_t r = 0; r < t.rows; ++r) {
    for (std::size_t i = 0; i < t.columns.size(); ++i) {
      const Column& c = t.columns[i];
      if (i) put(f.get(), ",");
      if (c.missing(r)) continue;
      if (c.numeric())
        put_number(f.get(), c.numbers[r], c.integral);
      else
        put_csv_text(f.get(), c.text[r]);
    }
    put(f.get(), "\n");
  }
  finish(f);
}

void write_table(const DataTable& t, OutputFormat format, const std::filesystem::path& file) {
  switch (format) {
    case OutputFormat::kJson:
      return write_json(t, file);
    case OutputFormat::kCsv:
      return write_csv(t, file);
    case OutputFormat::kParquet:
      return write_parquet(t, file);
  }
}

}  // namespace streamer::process
