// Parquet output through the streamer_parquet_ffi static library (rust/parquet_ffi):
// whole-number columns as optional INT64, other numbers as optional DOUBLE, text as
// optional STRING; missing values are nulls; SNAPPY pages.
#include <streamer_parquet.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/handler.hpp"
#include "handlers/process/output_writer.hpp"

namespace streamer::process {
namespace {

constexpr std::size_t kRowGroupRows = 128 * 1024;

// The C view of one Column: validity flags and values in the layout the library
// reads. Holds pointers into the Column's strings, so it must not outlive it.
struct ColumnBuffers {
  std::vector<std::uint8_t> present;
  std::vector<std::int64_t> ints;
  std::vector<const char*> text_data;
  std::vector<std::size_t> text_lengths;
  streamer_parquet_column view{};

  explicit ColumnBuffers(const Column& c) {
    const std::size_t rows = c.size();
    present.resize(rows);
    view.name = c.name.data();
    view.name_len = c.name.size();
    view.present = present.data();
    if (!c.numeric()) {
      text_data.resize(rows);
      text_lengths.resize(rows);
      for (std::size_t r = 0; r < rows; ++r) {
        present[r] = !c.text[r].empty();
        text_data[r] = c.text[r].data();
        text_lengths[r] = c.text[r].size();
      }
      view.kind = STREAMER_PARQUET_STRING;
      view.string_data = text_data.data();
      view.string_lengths = text_lengths.data();
    } else if (c.integral) {
      ints.resize(rows);
      for (std::size_t r = 0; r < rows; ++r) {
        present[r] = !is_missing(c.numbers[r]);
        ints[r] = present[r] ? static_cast<std::int64_t>(c.numbers[r]) : 0;
      }
      view.kind = STREAMER_PARQUET_INT64;
      view.int64_values = ints.data();
    } else {
      for (std::size_t r = 0; r < rows; ++r) present[r] = !is_missing(c.numbers[r]);
      view.kind = STREAMER_PARQUET_DOUBLE;
      view.double_values = c.numbers.data();
    }
  }
  ColumnBuffers(const ColumnBuffers&) = delete;
  ColumnBuffers& operator=(const ColumnBuffers&) = delete;
};

}  // namespace

void write_parquet(const DataTable& t, const std::filesystem::path& file) {
  std::vector<std::unique_ptr<ColumnBuffers>> buffers;
  std::vector<streamer_parquet_column> columns;
  buffers.reserve(t.columns.size());
  columns.reserve(t.columns.size());
  for (const auto& c : t.columns) {
    if (c.size() != t.rows)
      throw HandlerError(ErrorCode::kInternalError, "parquet output failed: column " + c.name +
                                                        " has " + std::to_string(c.size()) +
                                                        " rows, the table " +
                                                        std::to_string(t.rows));
    buffers.push_back(std::make_unique<ColumnBuffers>(c));
    columns.push_back(buffers.back()->view);
  }
  char error[512] = {};
  if (streamer_parquet_write(file.c_str(), columns.data(), columns.size(), t.rows, kRowGroupRows,
                             error, sizeof error) != 0)
    throw HandlerError(ErrorCode::kInternalError, std::string("parquet output failed: ") + error);
}

}  // namespace streamer::process
