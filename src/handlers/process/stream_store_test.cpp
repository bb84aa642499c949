#include <gtest/gtest.h>
#include <sqlite3.h>

#include <atomic>
#include <thread>

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
  for (const char* bad :
       {R"({"records":[{"a":1}]})", R"({"stream_id":"../x","records":[{"a":1}]})",
        R"({"stream_id":"s","records":[]})", R"({"stream_id":"s","records":[1]})",
        R"({"stream_id":"s","records":[{"a":{"b":1}}]})", R"({"stream_id":"s"})"}) {
    EXPECT_THROW(validate_append_payload(boost::json::parse(bad).as_object()), HandlerError) << bad;
  }
  StreamLimits small;
  small.max_records_per_append = 1;
  auto two = boost::json::parse(R"({"stream_id":"s","records":[{"a":1},{"a":2}]})").as_object();
  EXPECT_THROW(validate_append_payload(two, small), HandlerError);
}

// {"p":"xx…"} with a 40-character value: 48 bytes of stored JSON text.
boost::json::array one_record() {
  return boost::json::array{boost::json::object{{"p", std::string(40, 'x')}}};
}

TEST(StreamStore, TenantQuotaCountsEveryStreamAndRefusesWithoutStoring) {
  testutil::TempDir dir;
  StreamLimits limits;
  limits.max_bytes_per_tenant = 3 * 48;
  StreamStore store(dir.path / "streams.db", limits);
  EXPECT_EQ(store.append("t1", "a", one_record()), 1U);
  EXPECT_EQ(store.append("t1", "b", one_record()), 1U);
  EXPECT_EQ(store.append("t1", "a", one_record()), 2U);
  EXPECT_EQ(store.tenant_bytes("t1"), 3U * 48);
  try {
    store.append("t1", "c", one_record());  // a new stream counts against the same quota
    ADD_FAILURE() << "append past the quota was accepted";
  } catch (const HandlerError& e) {
    EXPECT_EQ(e.code(), ErrorCode::kValidationError);
    EXPECT_FALSE(e.retryable());
    EXPECT_EQ(e.details().at("field").as_string(), "records");
    EXPECT_EQ(e.details().at("limit").as_string(), "stream_bytes_per_tenant");
    EXPECT_EQ(e.details().at("limit_value").to_number<std::uint64_t>(), 3U * 48);
    EXPECT_EQ(e.details().at("used_bytes").to_number<std::uint64_t>(), 3U * 48);
    EXPECT_EQ(e.details().at("append_bytes").to_number<std::uint64_t>(), 48U);
  }
  EXPECT_EQ(store.count("t1", "c"), 0U);
  EXPECT_EQ(store.tenant_bytes("t1"), 3U * 48);
  EXPECT_EQ(store.append("t2", "a", one_record()), 1U);  // another tenant has its own quota
}

TEST(StreamStore, TenantQuotaIsExactUnderConcurrentAppends) {
  testutil::TempDir dir;
  StreamLimits limits;
  limits.max_bytes_per_tenant = 50 * 48;
  StreamStore(dir.path / "streams.db", limits);  // creates the tables once
  std::atomic<int> accepted{0}, refused{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      StreamStore store(dir.path / "streams.db", limits);  // own connections, like handler runs
      for (int i = 0; i < 20; ++i) {
        try {
          store.append("t1", "s" + std::to_string(t), one_record());
          accepted.fetch_add(1);
        } catch (const HandlerError&) {
          refused.fetch_add(1);
        }
      }
    });
  for (auto& th : threads) th.join();
  EXPECT_EQ(accepted.load(), 50);
  EXPECT_EQ(refused.load(), 30);
  StreamStore store(dir.path / "streams.db", limits);
  std::size_t stored = 0;
  for (int t = 0; t < 4; ++t) stored += store.count("t1", "s" + std::to_string(t));
  EXPECT_EQ(stored, 50U);
  EXPECT_EQ(store.tenant_bytes("t1"), 50U * 48);
}

TEST(StreamStore, UsageOfADatabaseFromBeforeTheQuotaIsCountedFromItsRecords) {
  testutil::TempDir dir;
  const auto file = dir.path / "streams.db";
  {
    StreamStore store(file);
    store.append("t1", "s", one_record());
    store.append("t1", "s", one_record());
  }
  // Drop the usage table, as in a database written before it existed.
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(file.c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, "DROP TABLE stream_usage", nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(db);
  StreamLimits limits;
  limits.max_bytes_per_tenant = 2 * 48;
  StreamStore store(file, limits);
  EXPECT_EQ(store.tenant_bytes("t1"), 2U * 48);
  EXPECT_THROW(store.append("t1", "s", one_record()), HandlerError);
}
