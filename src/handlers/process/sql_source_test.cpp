#include <gtest/gtest.h>
#include <sqlite3.h>
#include <sys/stat.h>

#include <thread>

#include "handlers/process/sql_function_allowlist.hpp"
#include "handlers/process/sql_source.hpp"
#include "handlers/process/tenant_snapshot.hpp"
#include "handlers/process/test_util.hpp"

using namespace streamer;
using namespace streamer::process;
using namespace std::chrono_literals;

namespace {

// Two tenants in one dataset. Every value of t2 is recognisable: the number 81 or
// 777, or a text containing "secret".
class SqlSource : public ::testing::Test {
 protected:
  void SetUp() override {
    env.data_dir = dir.path;
    std::filesystem::create_directories(dir.path / "datasets");
    dataset(
        "CREATE TABLE sales(tenant_id TEXT, id INTEGER, date TEXT, category TEXT, region TEXT, "
        "product TEXT,"
        " customer_id INTEGER, quantity INTEGER, unit_price REAL, amount REAL);"
        "CREATE TABLE refunds(tenant_id TEXT, id INTEGER, sale_id INTEGER, date TEXT, amount REAL, "
        "reason TEXT);"
        "CREATE TABLE targets(tenant_id TEXT, month TEXT, category TEXT, region TEXT, "
        "target_amount REAL);"
        "INSERT INTO sales VALUES('t1',1,'2024-01-01','A','N','p',1,2,3.0,6.0),"
        "('t1',2,'2024-01-02','B','S','q',2,1,5.0,5.0),"
        "('t2',3,'2024-01-03','secret-cat','N','secret-p',3,9,9.0,81.0);"
        "INSERT INTO refunds "
        "VALUES('t1',1,1,'2024-01-05',1.0,'damaged'),('t2',2,3,'2024-01-06',777.0,'secret');"
        "INSERT INTO targets "
        "VALUES('t1','2024-01','A','N',100.0),('t2','2024-01','secret','N',777.0);");
  }

  // Runs `sql` on the dataset, then dates the file `age` back (a dataset written
  // less than a second ago gets a snapshot that is not reused).
  void dataset(const std::string& sql, std::chrono::seconds age = 10s) {
    const auto file = dir.path / "datasets" / "sales.db";
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(file.c_str(), &db), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr), SQLITE_OK)
        << sqlite3_errmsg(db);
    sqlite3_close(db);
    std::filesystem::last_write_time(file, std::filesystem::file_time_type::clock::now() - age);
  }

  ino_t snapshot_inode(const std::string& tenant) {
    struct stat st {};
    EXPECT_EQ(::stat(tenant_snapshot_path(dir.path, tenant).c_str(), &st), 0);
    return st.st_ino;
  }

  ErrorCode code_of(const std::string& sql, const QueryLimits& limits = {}) {
    try {
      run_tenant_query(env, "t1", sql, nullptr, limits);
    } catch (const HandlerError& e) {
      return e.code();
    }
    return ErrorCode::kCancelled;  // accepted
  }

  std::string message_of(const std::string& sql, const QueryLimits& limits = {}) {
    try {
      run_tenant_query(env, "t1", sql, nullptr, limits);
    } catch (const HandlerError& e) {
      EXPECT_EQ(e.code(), ErrorCode::kValidationError) << sql;
      return e.what();
    }
    ADD_FAILURE() << "accepted: " << sql;
    return {};
  }

  // Whether running `sql` as t1 yields any value of t2 (a refusal yields none).
  bool leaks_t2(const std::string& sql) {
    DataTable t;
    try {
      t = run_tenant_query(env, "t1", sql);
    } catch (const HandlerError& e) {
      EXPECT_EQ(e.code(), ErrorCode::kValidationError) << sql;
      return false;
    }
    for (const auto& c : t.columns)
      for (std::size_t r = 0; r < t.rows; ++r) {
        if (c.numeric() && (c.numbers[r] == 81.0 || c.numbers[r] == 777.0)) return true;
        if (!c.numeric() && (c.text[r].find("secret") != std::string::npos || c.text[r] == "t2"))
          return true;
      }
    return false;
  }

  testutil::TempDir dir;
  HandlerEnvironment env;
};

}  // namespace

TEST_F(SqlSource, SeesOnlyTheTenantsRowsWithoutTenantColumn) {
  auto t = run_tenant_query(env, "t1", "SELECT * FROM sales ORDER BY id");
  EXPECT_EQ(t.rows, 2u);
  EXPECT_EQ(t.find("tenant_id"), -1);
  EXPECT_EQ(run_tenant_query(env, "t2", "SELECT sum(amount) AS s FROM sales").columns[0].numbers[0],
            81.0);
  EXPECT_EQ(run_tenant_query(env, "t1", "SELECT count(*) AS n FROM refunds").columns[0].numbers[0],
            1.0);
  EXPECT_EQ(run_tenant_query(env, "t1", "SELECT sum(target_amount) AS s FROM targets")
                .columns[0]
                .numbers[0],
            100.0);
  EXPECT_EQ(code_of("SELECT * FROM sales WHERE 0"), ErrorCode::kValidationError);  // no rows
}

TEST_F(SqlSource, NoFormOfNamingReachesAnotherTenantsRows) {
  for (const char* sql : {
           // CTEs and aliases named like the tenant's tables, over the shared dataset
           "WITH sales AS (SELECT * FROM src.sales) SELECT * FROM sales",
           "WITH refunds AS (SELECT * FROM src.refunds) SELECT * FROM refunds",
           "WITH targets AS (SELECT * FROM src.sales WHERE tenant_id = 't2') SELECT * FROM targets",
           "WITH x AS (SELECT * FROM src.sales), sales AS (SELECT * FROM x) SELECT * FROM sales",
           "WITH RECURSIVE sales(a) AS (SELECT amount FROM src.sales UNION ALL SELECT a FROM sales "
           "WHERE 0) "
           "SELECT * FROM sales",
           "WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < 3) "
           "SELECT s.* FROM r JOIN src.sales s ON s.id = r.n",
           "SELECT * FROM src.sales AS sales",
           "SELECT * FROM src.sales sales WHERE sales.tenant_id = 't2'",
           // subqueries and schema qualification
           "SELECT * FROM (SELECT * FROM src.sales)",
           "SELECT (SELECT sum(amount) FROM src.sales) AS s",
           "SELECT id FROM sales WHERE id IN (SELECT id FROM src.sales)",
           "SELECT * FROM sales UNION ALL SELECT * FROM src.sales",
           "SELECT * FROM main.sales",
           "SELECT * FROM temp.sales",
           "SELECT * FROM main.refunds",
           "WITH sales AS (SELECT * FROM main.sales) SELECT * FROM sales",
           // the dataset's schema and the snapshot's own bookkeeping
           "SELECT * FROM src.sqlite_master",
           "SELECT * FROM sqlite_master",
           "SELECT * FROM main.sqlite_schema",
           "SELECT * FROM temp.sqlite_temp_master",
           "SELECT * FROM snapshot_source",
           "SELECT * FROM pragma_table_info('sales')",
           "SELECT * FROM pragma_database_list",
           "SELECT * FROM json_each('[81]')",
           "SELECT * FROM dbstat",
       }) {
    EXPECT_FALSE(leaks_t2(sql)) << sql;
  }
  // The counts a shadowing CTE would have changed are the caller's.
  EXPECT_EQ(
      run_tenant_query(env, "t1", "WITH s AS (SELECT * FROM sales) SELECT count(*) AS n FROM s")
          .columns[0]
          .numbers[0],
      2.0);
  // Nothing else is attached to the query connection.
  EXPECT_NE(message_of("SELECT * FROM src.sales").find("no such table: src.sales"),
            std::string::npos);
  // The reads the authorizer refuses say so.
  EXPECT_NE(
      message_of("SELECT * FROM sqlite_master").find("reading main.sqlite_master is not allowed"),
      std::string::npos);
}

TEST_F(SqlSource, TheSnapshotHoldsOnlyTheTenantsRows) {
  run_tenant_query(env, "t1", "SELECT id FROM sales");
  const auto path = tenant_snapshot_path(dir.path, "t1");
  ASSERT_TRUE(std::filesystem::exists(path));
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr), SQLITE_OK);
  auto count = [&](const char* sql) {
    sqlite3_stmt* s = nullptr;
    EXPECT_EQ(sqlite3_prepare_v2(db, sql, -1, &s, nullptr), SQLITE_OK) << sql;
    sqlite3_step(s);
    auto n = sqlite3_column_int64(s, 0);
    sqlite3_finalize(s);
    return n;
  };
  EXPECT_EQ(count("SELECT count(*) FROM sales"), 2);
  EXPECT_EQ(count("SELECT count(*) FROM refunds"), 1);
  EXPECT_EQ(count("SELECT count(*) FROM targets"), 1);
  EXPECT_EQ(count("SELECT count(*) FROM pragma_table_info('sales') WHERE name = 'tenant_id'"), 0);
  sqlite3_close(db);
}

TEST_F(SqlSource, TheSnapshotIsReusedAndRebuiltWhenTheDatasetChanges) {
  EXPECT_EQ(run_tenant_query(env, "t1", "SELECT id FROM sales").rows, 2u);
  const auto built = snapshot_inode("t1");
  EXPECT_EQ(run_tenant_query(env, "t1", "SELECT id FROM sales").rows, 2u);
  EXPECT_EQ(snapshot_inode("t1"), built);  // reused

  dataset("INSERT INTO sales VALUES('t1',4,'2024-02-01','A','N','p',1,1,1.0,1.0)");
  EXPECT_EQ(run_tenant_query(env, "t1", "SELECT id FROM sales").rows, 3u);
  const auto rebuilt = snapshot_inode("t1");
  EXPECT_NE(rebuilt, built);
  // Only finished snapshots stay in the directory.
  for (const auto& e :
       std::filesystem::directory_iterator(tenant_snapshot_path(dir.path, "t1").parent_path()))
    EXPECT_EQ(e.path().extension(), ".db") << e.path();

  // Written just now: used, but not trusted for the next query.
  dataset("UPDATE sales SET amount = 7.0 WHERE id = 4", 0s);
  EXPECT_EQ(
      run_tenant_query(env, "t1", "SELECT amount FROM sales WHERE id = 4").columns[0].numbers[0],
      7.0);
  const auto young = snapshot_inode("t1");
  EXPECT_NE(young, rebuilt);
  run_tenant_query(env, "t1", "SELECT id FROM sales");
  EXPECT_NE(snapshot_inode("t1"), young);
}

TEST_F(SqlSource, AbandonedSnapshotBuildsAreRemoved) {
  const auto dir_of = tenant_snapshot_path(dir.path, "t1").parent_path();
  std::filesystem::create_directories(dir_of);
  testutil::write_file(dir_of / "old.db.tmp-1", "x");
  testutil::write_file(dir_of / "fresh.db.tmp-2", "x");
  std::filesystem::last_write_time(dir_of / "old.db.tmp-1",
                                   std::filesystem::file_time_type::clock::now() - 2h);
  run_tenant_query(env, "t1", "SELECT id FROM sales");
  EXPECT_FALSE(std::filesystem::exists(dir_of / "old.db.tmp-1"));
  EXPECT_TRUE(std::filesystem::exists(dir_of / "fresh.db.tmp-2"));  // may be a build in progress
}

TEST_F(SqlSource, TenantIdsAreComparedByteForByte) {
  dataset(
      "INSERT INTO sales VALUES('t1' || char(0) || 'x',9,'2024-01-01','A','N','p',1,1,42.0,42.0);"
      "INSERT INTO sales VALUES('t1''',10,'2024-01-01','A','N','p',1,1,43.0,43.0);");
  const std::string with_nul("t1\0x", 4);
  auto t = run_tenant_query(env, with_nul, "SELECT id FROM sales");
  ASSERT_EQ(t.rows, 1u);
  EXPECT_EQ(t.columns[0].numbers[0], 9.0);
  // "t1" followed by NUL is neither "t1" nor "t1\0x": no rows.
  EXPECT_THROW(run_tenant_query(env, std::string("t1\0", 3), "SELECT id FROM sales"), HandlerError);
  EXPECT_EQ(run_tenant_query(env, "t1'", "SELECT id FROM sales").columns[0].numbers[0], 10.0);
  EXPECT_THROW(run_tenant_query(env, "t1' OR '1'='1", "SELECT * FROM sales"), HandlerError);
  // Distinct ids, distinct snapshot files.
  EXPECT_NE(tenant_snapshot_path(dir.path, "t1"), tenant_snapshot_path(dir.path, with_nul));
  EXPECT_NE(tenant_snapshot_path(dir.path, "t1"),
            tenant_snapshot_path(dir.path, std::string("t1\0", 3)));
  EXPECT_EQ(tenant_snapshot_path(dir.path, "../..").parent_path(), dir.path / "query-snapshots");
}

TEST_F(SqlSource, RefusesAnythingButOneReadOnlySelect) {
  EXPECT_EQ(code_of("SELECT id FROM sales"), ErrorCode::kCancelled);
  EXPECT_EQ(code_of("SELECT id FROM sales; -- trailing comment"), ErrorCode::kCancelled);
  for (const char* bad : {"DELETE FROM sales",
                          "INSERT INTO sales(id) VALUES(1)",
                          "DROP TABLE sales",
                          "SELECT 1; SELECT 2",
                          "SELECT * FROM sales; DELETE FROM sales",
                          "PRAGMA table_info(sales)",
                          "ATTACH DATABASE 'x.db' AS y",
                          "DETACH DATABASE main",
                          "SELECT * FROM src.sales",
                          "SELECT * FROM src.sqlite_master",
                          "CREATE TABLE x(a)",
                          "CREATE TEMP VIEW v AS SELECT 1",
                          "WITH x AS (SELECT 1) DELETE FROM sales",
                          "BEGIN",
                          "VACUUM",
                          "ANALYZE",
                          "",
                          "   ",
                          "SELECT * FROM nosuchtable",
                          "SELEC 1",
                          "SELECT load_extension('x')"}) {
    EXPECT_EQ(code_of(bad), ErrorCode::kValidationError) << bad;
  }
}

TEST_F(SqlSource, OnlyAllowListedFunctionsAreCallable) {
  auto t = run_tenant_query(
      env, "t1",
      "SELECT abs(-amount) AS a, round(unit_price, 1) AS r, lower(category) AS lc, upper(region) "
      "AS ur,"
      " length(product) AS l, substr(date, 1, 4) AS y, trim(' x ') AS tr, coalesce(NULL, 1) AS c,"
      " ifnull(NULL, 2) AS i, nullif(1, 1) AS nn, iif(id > 1, 'big', 'small') AS b, instr(date, "
      "'-') AS ins,"
      " replace(date, '-', '/') AS rep, printf('%05d', id) AS p, typeof(id) AS ty, CAST(id AS "
      "TEXT) AS ct,"
      " date(date, '+1 day') AS d, strftime('%m', date) AS m, julianday(date) AS jd,"
      " count(*) OVER () AS n, sum(amount) OVER (ORDER BY id) AS run, row_number() OVER (ORDER BY "
      "id) AS rn,"
      " rank() OVER (ORDER BY amount) AS rk, dense_rank() OVER (ORDER BY amount) AS drk,"
      " lag(amount) OVER (ORDER BY id) AS lg, lead(amount) OVER (ORDER BY id) AS ld,"
      " ntile(2) OVER (ORDER BY id) AS nt, first_value(amount) OVER (ORDER BY id) AS fv,"
      " json_extract('{\"a\": 5}', '$.a') AS je, '{\"a\": 6}' ->> '$.a' AS arrow, sqrt(4) AS sq,"
      " category LIKE 'a%' AS lk, group_concat(id) OVER () AS gc"
      " FROM sales ORDER BY id");
  EXPECT_EQ(t.rows, 2u);
  EXPECT_EQ(t.columns[static_cast<std::size_t>(t.find("je"))].numbers[0], 5.0);
  EXPECT_EQ(run_tenant_query(env, "t1",
                             "SELECT category, count(*) AS n, avg(amount) AS a, total(amount) AS t,"
                             " min(amount) AS lo, max(amount) AS hi FROM sales GROUP BY category")
                .rows,
            2u);

  for (const char* fn :
       {"fts3_tokenizer('simple')", "load_extension('x')", "sqlite_compileoption_get(0)",
        "sqlite_compileoption_used('SECURE_DELETE')", "zeroblob(10)", "randomblob(10)",
        "sqlite_version()", "sqlite_source_id()", "last_insert_rowid()", "changes()",
        "total_changes()", "FTS3_TOKENIZER('simple')"}) {
    const std::string sql = std::string("SELECT id, ") + fn + " AS x FROM sales";
    std::string name = std::string(fn).substr(0, std::string(fn).find('('));
    for (auto& ch : name) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    std::string msg = message_of(sql);
    for (auto& ch : msg) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    EXPECT_NE(msg.find("the function " + name + "() is not allowed"), std::string::npos)
        << sql << ": " << msg;
  }
  EXPECT_NE(message_of("SELECT fts3_tokenizer('simple') AS p").find("fts3_tokenizer"),
            std::string::npos);
  EXPECT_EQ(code_of("SELECT no_such_function(1) AS x"), ErrorCode::kValidationError);

  EXPECT_TRUE(is_allowed_sql_function("ABS"));
  EXPECT_TRUE(is_allowed_sql_function("row_number"));
  EXPECT_FALSE(is_allowed_sql_function(""));
  EXPECT_FALSE(is_allowed_sql_function("abs "));
  EXPECT_FALSE(is_allowed_sql_function("fts3_tokenizer"));
}

TEST_F(SqlSource, ResultsAreCappedByRowsAndBytes) {
  const std::string wide = "SELECT id, printf('%.1000c', 'x') AS pad FROM sales";
  QueryLimits limits;
  limits.max_result_bytes = 1500;
  EXPECT_NE(message_of(wide, limits).find("larger than 1500 bytes (--query-max-result-bytes)"),
            std::string::npos);
  limits.max_result_bytes = 4000;
  EXPECT_EQ(code_of(wide, limits), ErrorCode::kCancelled);  // 2 rows x ~1 KB fit

  limits.max_rows = 1;
  EXPECT_NE(message_of("SELECT id FROM sales", limits).find("more than 1 rows (--query-max-rows)"),
            std::string::npos);
}

TEST_F(SqlSource, SqliteValuesAreBoundedInsideTheConnection) {
  QueryLimits limits;
  limits.max_value_bytes = 4096;
  EXPECT_NE(
      message_of("SELECT replace(printf('%.3000c', 'x'), 'x', 'xy') AS p", limits).find("too big"),
      std::string::npos);
  EXPECT_NE(message_of("SELECT group_concat(printf('%.3000c', 'x')) AS p FROM sales", limits)
                .find("too big"),
            std::string::npos);
  // printf stops at the limit (SQLite answers NULL rather than a larger string).
  EXPECT_EQ(
      run_tenant_query(env, "t1", "SELECT printf('%.5000c', 'x') IS NULL AS n", nullptr, limits)
          .columns[0]
          .numbers[0],
      1.0);
  EXPECT_EQ(code_of("SELECT printf('%.3000c', 'x') AS p", limits), ErrorCode::kCancelled);
}

TEST_F(SqlSource, LongQueriesStopAtTheTimeLimitAndOnCancel) {
  const std::string endless =
      "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) AS n FROM c";
  QueryLimits limits;
  limits.time_limit = 100ms;
  const auto started = std::chrono::steady_clock::now();
  EXPECT_NE(message_of(endless, limits).find("time limit of 100 ms (--query-time-limit)"),
            std::string::npos);
  EXPECT_LT(std::chrono::steady_clock::now() - started, 5s);

  CancelToken cancel;
  std::thread canceller([&] {
    std::this_thread::sleep_for(50ms);
    cancel.cancel(CancelToken::Reason::kCancelled);
  });
  EXPECT_THROW(run_tenant_query(env, "t1", endless, &cancel), OperationCancelled);
  canceller.join();
}

TEST_F(SqlSource, SnapshotRowsAreBounded) {
  QueryLimits limits;
  limits.max_snapshot_rows = 1;  // t1 has 2 sales rows
  EXPECT_NE(message_of("SELECT id FROM sales", limits).find("--query-max-snapshot-rows"),
            std::string::npos);
  EXPECT_FALSE(std::filesystem::exists(tenant_snapshot_path(dir.path, "t1")));
  for (const auto& e : std::filesystem::directory_iterator(dir.path / "query-snapshots"))
    ADD_FAILURE() << "left behind: " << e.path();
  limits.max_snapshot_rows = 2;
  EXPECT_EQ(code_of("SELECT id FROM sales", limits), ErrorCode::kCancelled);
}

TEST_F(SqlSource, WithoutADatasetOnlyUploadedFilesAreTables) {
  std::filesystem::remove(dir.path / "datasets" / "sales.db");
  EXPECT_EQ(code_of("SELECT * FROM sales"), ErrorCode::kValidationError);
  testutil::write_file(dir.path / "files" / "t1" / "sales.csv", "x\n5\n");
  EXPECT_EQ(run_tenant_query(env, "t1", "SELECT x FROM sales").columns[0].numbers[0], 5.0);
}

TEST_F(SqlSource, UploadedFilesAreTables) {
  testutil::write_file(dir.path / "files" / "t1" / "data" / "My Input.csv", "x,y\n1,2\n3,4\n");
  testutil::write_file(dir.path / "files" / "t2" / "other.csv", "x\n1\n");
  auto t = run_tenant_query(env, "t1", "SELECT x + y AS s FROM my_input ORDER BY s");
  ASSERT_EQ(t.rows, 2u);
  EXPECT_EQ(t.columns[0].numbers[1], 7.0);
  // Joined with the tenant's dataset tables.
  EXPECT_EQ(
      run_tenant_query(env, "t1", "SELECT s.id FROM sales s JOIN my_input m ON m.x = s.id").rows,
      1u);
  EXPECT_EQ(code_of("SELECT * FROM other"), ErrorCode::kValidationError);  // t2's file
}
