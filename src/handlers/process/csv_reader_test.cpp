#include <gtest/gtest.h>

#include "core/handler.hpp"
#include "handlers/process/csv_reader.hpp"
#include "handlers/process/test_util.hpp"

using namespace streamer;
using namespace streamer::process;

TEST(Csv, ParsesQuotedFieldsAndInfersTypes) {
  auto t = parse_csv(
      "id,name,score\r\n1,\"Smith, J\",2.5\n2,\"say \"\"hi\"\"\",NA\n\n3,\"multi\nline\",4\n");
  ASSERT_EQ(t.rows, 3u);
  ASSERT_EQ(t.columns.size(), 3u);
  EXPECT_TRUE(t.columns[0].numeric());
  EXPECT_TRUE(t.columns[0].integral);
  EXPECT_FALSE(t.columns[1].numeric());
  EXPECT_EQ(t.columns[1].text[0], "Smith, J");
  EXPECT_EQ(t.columns[1].text[1], "say \"hi\"");
  EXPECT_EQ(t.columns[1].text[2], "multi\nline");
  EXPECT_TRUE(t.columns[2].numeric());
  EXPECT_FALSE(t.columns[2].integral);
  EXPECT_TRUE(t.columns[2].missing(1));
  EXPECT_DOUBLE_EQ(t.columns[2].numbers[2], 4.0);
}

TEST(Csv, RefusesMalformedInput) {
  for (const char* bad :
       {"", "\n\n", "a,b\n", "a,b\n1\n", "a,a\n1,2\n", "a,\n1,2\n", "a\n\"open\n"}) {
    try {
      parse_csv(bad);
      ADD_FAILURE() << "accepted: " << bad;
    } catch (const HandlerError& e) {
      EXPECT_EQ(e.code(), ErrorCode::kValidationError) << bad;
    }
  }
}

// A column read as numbers turns to text at its first non-number; the cells before
// it keep their exact text (re-read from the input, not printed from the numbers).
TEST(Csv, ColumnTurningToTextKeepsTheOriginalCells) {
  auto t = parse_csv("code,v,w\n007, 1e3 ,1.50\nNA,2,2\n\"12\",3,\"x\"\nx-1,4,4\n,5,?\n");
  ASSERT_EQ(t.rows, 5u);
  ASSERT_FALSE(t.columns[0].numeric());
  EXPECT_EQ(t.columns[0].text, (std::vector<std::string>{"007", "", "12", "x-1", ""}));
  ASSERT_FALSE(t.columns[2].numeric());  // turns to text at a later row than `code`
  EXPECT_EQ(t.columns[2].text, (std::vector<std::string>{"1.50", "2", "x", "4", ""}));
  ASSERT_TRUE(t.columns[1].numeric());
  EXPECT_TRUE(t.columns[1].integral);
  EXPECT_DOUBLE_EQ(t.columns[1].numbers[0], 1000.0);
}

TEST(Csv, TypesColumnsWhileReading) {
  auto t = parse_csv("a,b,c\r\n1.5,+2,\r\n-3,1e2,NaN\r\n4,5,?");  // no final line end
  ASSERT_EQ(t.rows, 3u);
  EXPECT_FALSE(t.columns[0].integral);
  EXPECT_TRUE(t.columns[1].integral);
  EXPECT_EQ(t.columns[1].numbers, (std::vector<double>{2, 100, 5}));
  ASSERT_TRUE(t.columns[2].numeric());  // only missing cells: a numeric column of NaN
  for (std::size_t r = 0; r < 3; ++r) EXPECT_TRUE(t.columns[2].missing(r));
}

TEST(Csv, FieldCountErrorsNameTheLineAndCounts) {
  for (auto [text, expected] :
       {std::pair{"a,b\n1,2\n\n3\n", "line 4 has 1 fields, the header has 2"},
        std::pair{"a,b\n1,2,3\n", "line 2 has 3 fields, the header has 2"},
        std::pair{"a,b\n\"x\ny\",1\n1,2,\"3\"\n", "line 4 has 3 fields, the header has 2"}}) {
    try {
      parse_csv(text);
      ADD_FAILURE() << "accepted: " << text;
    } catch (const HandlerError& e) {
      EXPECT_NE(std::string(e.what()).find(expected), std::string::npos) << e.what();
    }
  }
}

TEST(Csv, ParsesJsonLines) {
  auto t = parse_jsonl("{\"a\":1,\"b\":\"x\"}\n\n{\"a\":2.5,\"c\":true}\n");
  ASSERT_EQ(t.rows, 2u);
  ASSERT_EQ(t.columns.size(), 3u);
  EXPECT_TRUE(t.columns[0].numeric());
  EXPECT_TRUE(t.columns[1].missing(1));
  EXPECT_TRUE(t.columns[2].missing(0));
  EXPECT_DOUBLE_EQ(t.columns[2].numbers[1], 1.0);
  EXPECT_THROW(parse_jsonl("{\"a\":[1]}\n"), HandlerError);
  EXPECT_THROW(parse_jsonl("not json\n"), HandlerError);
}

TEST(Csv, ReadsFilesAndReportsMissingOnes) {
  testutil::TempDir dir;
  testutil::write_file(dir.path / "x.csv", "a,b\n1,2\n");
  EXPECT_EQ(read_table_file(dir.path / "x.csv", 1000).rows, 1u);
  try {
    read_table_file(dir.path / "missing.csv", 1000);
    ADD_FAILURE();
  } catch (const HandlerError& e) {
    EXPECT_EQ(e.code(), ErrorCode::kNotFound);
  }
  try {
    read_table_file(dir.path / "x.csv", 3);
    ADD_FAILURE();
  } catch (const HandlerError& e) {
    EXPECT_EQ(e.code(), ErrorCode::kValidationError);
  }
}

TEST(Csv, JsonLinesRefuseNumbersBeyondTheDoubleRange) {
  // Boost.JSON parses 1e999 as infinity; a table must never hold it.
  for (const char* bad : {"{\"a\":1e999}\n", "{\"a\":1}\n{\"b\":-1e400}\n"}) {
    try {
      parse_jsonl(bad);
      ADD_FAILURE() << "accepted: " << bad;
    } catch (const HandlerError& e) {
      EXPECT_EQ(e.code(), ErrorCode::kValidationError) << bad;
      EXPECT_NE(std::string(e.what()).find("outside the range of a double"), std::string::npos)
          << e.what();
    }
  }
  EXPECT_DOUBLE_EQ(parse_jsonl("{\"a\":1e308}\n").columns[0].numbers[0], 1e308);
}

TEST(Csv, TableBuilderStoresNonFiniteNumbersAsMissing) {
  TableBuilder builder({"x"});
  for (double v :
       {1.5, std::numeric_limits<double>::infinity(), -std::numeric_limits<double>::infinity(),
        std::numeric_limits<double>::quiet_NaN()}) {
    builder.begin_row();
    builder.set_number(0, v);
  }
  DataTable t = builder.finish();
  ASSERT_EQ(t.rows, 4u);
  ASSERT_TRUE(t.columns[0].numeric());
  EXPECT_DOUBLE_EQ(t.columns[0].numbers[0], 1.5);
  for (std::size_t r = 1; r < 4; ++r) EXPECT_TRUE(t.columns[0].missing(r)) << r;
}
