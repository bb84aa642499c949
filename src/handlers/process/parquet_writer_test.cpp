// write_parquet through the static Rust library: files are well-formed Parquet with
// the table's schema, failures are HandlerError(INTERNAL_ERROR) and leave no file.
// (The values are read back by pyarrow in tests/e2e/test_process.py and by the
// parquet crate's reader in rust/parquet_ffi's tests.)
#include <gtest/gtest.h>

#include <fstream>
#include <iterator>
#include <string>

#include "core/handler.hpp"
#include "handlers/process/output_writer.hpp"
#include "handlers/process/test_util.hpp"

using namespace streamer;
using namespace streamer::process;

namespace {

std::string read_all(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

// A table of every kind the writer maps: int64, double and string, each with nulls.
DataTable mixed(std::size_t rows) {
  std::vector<double> ints(rows), doubles(rows);
  std::vector<std::string> text(rows);
  for (std::size_t r = 0; r < rows; ++r) {
    ints[r] = r % 5 == 1 ? kMissing : static_cast<double>(r) * 3 - 1000;
    doubles[r] = r % 7 == 2 ? kMissing : static_cast<double>(r) / 8;
    text[r] = r % 3 == 0 ? "" : "label-" + std::to_string(r % 11);
  }
  DataTable t;
  t.add(Column::number("count_col", std::move(ints), true));
  t.add(Column::number("ratio_col", std::move(doubles)));
  t.add(Column::strings("label_col", std::move(text)));
  return t;
}

// A Parquet file: "PAR1", pages, footer, footer length (4 bytes LE), "PAR1".
void expect_parquet_file(const std::string& bytes) {
  ASSERT_GT(bytes.size(), 12u);
  EXPECT_EQ(bytes.substr(0, 4), "PAR1");
  EXPECT_EQ(bytes.substr(bytes.size() - 4), "PAR1");
  std::uint32_t footer = 0;
  for (int i = 0; i < 4; ++i)
    footer |= static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[bytes.size() - 8 + i]))
              << (8 * i);
  EXPECT_GT(footer, 0u);
  EXPECT_LT(footer, bytes.size() - 8);
}

}  // namespace

TEST(ParquetWriter, WritesIntsDoublesAndStringsWithNulls) {
  testutil::TempDir dir;
  const auto file = dir.path / "mixed.parquet";
  write_parquet(mixed(1000), file);
  const std::string bytes = read_all(file);
  expect_parquet_file(bytes);
  // The footer's schema names every column.
  for (const char* name : {"count_col", "ratio_col", "label_col"})
    EXPECT_NE(bytes.find(name), std::string::npos);
}

TEST(ParquetWriter, SplitsLargeTablesIntoSeveralRowGroups) {
  testutil::TempDir dir;
  const auto one = dir.path / "one.parquet", many = dir.path / "many.parquet";
  write_parquet(mixed(1000), one);
  write_parquet(mixed(300000), many);
  expect_parquet_file(read_all(many));
  // Row groups of 128 Ki rows at most, so three: a column's name appears once in the
  // schema and a fixed number of times per row group (its column chunk metadata).
  const std::string file_one = read_all(one), file_many = read_all(many);
  auto count = [](const std::string& s, const std::string& what) {
    std::size_t n = 0;
    for (auto p = s.find(what); p != std::string::npos; p = s.find(what, p + 1)) ++n;
    return n;
  };
  const std::size_t per_group = count(file_one, "label_col") - 1;
  EXPECT_GE(per_group, 1u);
  EXPECT_EQ(count(file_many, "label_col"), 1 + 3 * per_group);
}

TEST(ParquetWriter, AnEmptyTableIsAFileWithItsSchema) {
  testutil::TempDir dir;
  const auto file = dir.path / "empty.parquet";
  write_parquet(mixed(0), file);
  const std::string bytes = read_all(file);
  expect_parquet_file(bytes);
  EXPECT_NE(bytes.find("label_col"), std::string::npos);
}

TEST(ParquetWriter, AnUnwritablePathIsAnInternalErrorNamingIt) {
  testutil::TempDir dir;
  const auto file = dir.path / "missing-dir" / "out.parquet";
  try {
    write_parquet(mixed(10), file);
    FAIL() << "expected HandlerError";
  } catch (const HandlerError& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInternalError);
    EXPECT_NE(std::string(e.what()).find("out.parquet"), std::string::npos) << e.what();
  }
  EXPECT_FALSE(std::filesystem::exists(file));
}

TEST(ParquetWriter, AColumnShorterThanTheTableIsRefusedBeforeWriting) {
  testutil::TempDir dir;
  const auto file = dir.path / "bad.parquet";
  DataTable t = mixed(10);
  t.columns[1].numbers.pop_back();
  try {
    write_parquet(t, file);
    FAIL() << "expected HandlerError";
  } catch (const HandlerError& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInternalError);
    EXPECT_NE(std::string(e.what()).find("ratio_col"), std::string::npos) << e.what();
  }
  EXPECT_FALSE(std::filesystem::exists(file));
}
