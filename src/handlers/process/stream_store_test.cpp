#include <gtest/gtest.h>

#include "handlers/process/stream_store.hpp"
#include "handlers/process/test_util.hpp"

using namespace streamer;
using namespace streamer::process;

TEST(StreamStore, AppendsAndReadsPerTenant) {
  testutil::TempDir dir;
  StreamStore store(dir.path / "streams.db");
  auto recs = boost::json::parse(R"([{"a":1,"b":"x"},{"a":2,"c":3.5}])").as_array();
  EXPECT_EQ(store.append("t1", "s", recs), 2u);
  EXPECT_EQ(store.append("t1", "s", recs), 4u);
  EXPECT_EQ(store.count("t2", "s"), 0u);
  auto t = store.read("t1", "s");
  EXPECT_EQ(t.rows, 4u);
  EXPECT_EQ(t.columns.size(), 3u);
  EXPECT_DOUBLE_EQ(t.columns[0].numbers[3], 2.0);
  try {
    store.read("t2", "s");
    ADD_FAILURE();
  } catch (const HandlerError& e) {
    EXPECT_EQ(e.code(), ErrorCode::kNotFound);
  }
}

TEST(StreamStore, ValidatesAppendPayloads) {
  auto ok = boost::json::parse(R"({"stream_id":"s-1","records":[{"a":1}]})").as_object();
  EXPECT_NO_THROW(validate_append_payload(ok));
  for (const char* bad : {R"({"records":[{"a":1}]})", R"({"stream_id":"../x","records":[{"a":1}]})",
                          R"({"stream_id":"s","records":[]})", R"({"stream_id":"s","records":[1]})",
                          R"({"stream_id":"s","records":[{"a":{"b":1}}]})", R"({"stream_id":"s"})"}) {
    EXPECT_THROW(validate_append_payload(boost::json::parse(bad).as_object()), HandlerError) << bad;
  }
  StreamLimits small;
  small.max_records_per_append = 1;
  auto two = boost::json::parse(R"({"stream_id":"s","records":[{"a":1},{"a":2}]})").as_object();
  EXPECT_THROW(validate_append_payload(two, small), HandlerError);
}
