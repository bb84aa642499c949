// Parquet output through Apache Arrow C++ (the pyarrow wheel's libarrow/libparquet).
#include <arrow/api.h>
#include <arrow/io/file.h>
#include <parquet/arrow/writer.h>

#include "core/handler.hpp"
#include "handlers/process/output_writer.hpp"

namespace streamer::process {
namespace {

void check(const arrow::Status& s) {
  if (!s.ok()) throw HandlerError(ErrorCode::kInternalError, "parquet output failed: " + s.ToString());
}

template <typename T>
T value(arrow::Result<T> r) {
  check(r.status());
  return std::move(r).ValueUnsafe();
}

std::shared_ptr<arrow::Array> build(const Column& c) {
  std::shared_ptr<arrow::Array> out;
  if (!c.numeric()) {
    arrow::StringBuilder b;
    check(b.Reserve(static_cast<int64_t>(c.text.size())));
    for (const auto& s : c.text) check(s.empty() ? b.AppendNull() : b.Append(s));
    check(b.Finish(&out));
  } else if (c.integral) {
    arrow::Int64Builder b;
    check(b.Reserve(static_cast<int64_t>(c.numbers.size())));
    for (double v : c.numbers) is_missing(v) ? b.UnsafeAppendNull() : b.UnsafeAppend(static_cast<int64_t>(v));
    check(b.Finish(&out));
  } else {
    arrow::DoubleBuilder b;
    check(b.Reserve(static_cast<int64_t>(c.numbers.size())));
    for (double v : c.numbers) is_missing(v) ? b.UnsafeAppendNull() : b.UnsafeAppend(v);
    check(b.Finish(&out));
  }
  return out;
}

}  // namespace

void write_parquet(const DataTable& t, const std::filesystem::path& file) {
  std::vector<std::shared_ptr<arrow::Field>> fields;
  std::vector<std::shared_ptr<arrow::Array>> arrays;
  for (const auto& c : t.columns) {
    arrays.push_back(build(c));
    fields.push_back(arrow::field(c.name, arrays.back()->type(), true));
  }
  auto table = arrow::Table::Make(arrow::schema(fields), arrays, static_cast<int64_t>(t.rows));
  auto sink = value(arrow::io::FileOutputStream::Open(file.string()));
  auto props = parquet::WriterProperties::Builder().compression(parquet::Compression::SNAPPY)->build();
  check(parquet::arrow::WriteTable(*table, arrow::default_memory_pool(), sink, 128 * 1024, props));
  check(sink->Close());
}

}  // namespace streamer::process
