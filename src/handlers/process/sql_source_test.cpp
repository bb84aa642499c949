#include <gtest/gtest.h>
#include <sqlite3.h>

#include "handlers/process/sql_source.hpp"
#include "handlers/process/test_util.hpp"

using namespace streamer;
using namespace streamer::process;

namespace {

class SqlSource : public ::testing::Test {
 protected:
  void SetUp() override {
    env.data_dir = dir.path;
    std::filesystem::create_directories(dir.path / "datasets");
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open((dir.path / "datasets" / "sales.db").c_str(), &db), SQLITE_OK);
    const char* sql =
        "CREATE TABLE sales(tenant_id TEXT, id INTEGER, date TEXT, category TEXT, region TEXT, product TEXT,"
        " customer_id INTEGER, quantity INTEGER, unit_price REAL, amount REAL);"
        "CREATE TABLE refunds(tenant_id TEXT, id INTEGER, sale_id INTEGER, date TEXT, amount REAL, reason TEXT);"
        "CREATE TABLE targets(tenant_id TEXT, month TEXT, category TEXT, region TEXT, target_amount REAL);"
        "INSERT INTO sales VALUES('t1',1,'2024-01-01','A','N','p',1,2,3.0,6.0),('t1',2,'2024-01-02','B','S','q',2,1,5.0,5.0),"
        "('t2',3,'2024-01-03','A','N','p',3,9,9.0,81.0);";
    ASSERT_EQ(sqlite3_exec(db, sql, nullptr, nullptr, nullptr), SQLITE_OK);
    sqlite3_close(db);
  }

  ErrorCode code_of(const std::string& sql) {
    try {
      run_tenant_query(env, "t1", sql);
    } catch (const HandlerError& e) {
      return e.code();
    }
    return ErrorCode::kCancelled;  // accepted
  }

  testutil::TempDir dir;
  HandlerEnvironment env;
};

}  // namespace

TEST_F(SqlSource, SeesOnlyTheTenantsRowsWithoutTenantColumn) {
  auto t = run_tenant_query(env, "t1", "SELECT * FROM sales ORDER BY id");
  EXPECT_EQ(t.rows, 2u);
  EXPECT_EQ(t.find("tenant_id"), -1);
  EXPECT_EQ(run_tenant_query(env, "t2", "SELECT sum(amount) AS s FROM sales").columns[0].numbers[0], 81.0);
  // A tenant id crafted as SQL is just a value.
  EXPECT_EQ(code_of("SELECT * FROM sales WHERE 0"), ErrorCode::kValidationError);  // no rows
  EXPECT_THROW(run_tenant_query(env, "t1' OR '1'='1", "SELECT * FROM sales"), HandlerError);
}

TEST_F(SqlSource, RefusesAnythingButOneReadOnlySelect) {
  EXPECT_EQ(code_of("SELECT id FROM sales"), ErrorCode::kCancelled);
  EXPECT_EQ(code_of("SELECT id FROM sales; -- trailing comment"), ErrorCode::kCancelled);
  for (const char* bad : {"DELETE FROM sales", "INSERT INTO sales(id) VALUES(1)", "DROP VIEW sales",
                          "SELECT 1; SELECT 2", "SELECT * FROM sales; DELETE FROM sales", "PRAGMA table_info(sales)",
                          "ATTACH DATABASE 'x.db' AS y", "SELECT * FROM src.sales", "SELECT * FROM src.sqlite_master",
                          "CREATE TABLE x(a)", "WITH x AS (SELECT 1) DELETE FROM sales", "", "   ",
                          "SELECT * FROM nosuchtable", "SELEC 1", "SELECT load_extension('x')"}) {
    EXPECT_EQ(code_of(bad), ErrorCode::kValidationError) << bad;
  }
}

TEST_F(SqlSource, UploadedFilesAreTables) {
  testutil::write_file(dir.path / "files" / "t1" / "data" / "My Input.csv", "x,y\n1,2\n3,4\n");
  testutil::write_file(dir.path / "files" / "t2" / "other.csv", "x\n1\n");
  auto t = run_tenant_query(env, "t1", "SELECT x + y AS s FROM my_input ORDER BY s");
  ASSERT_EQ(t.rows, 2u);
  EXPECT_EQ(t.columns[0].numbers[1], 7.0);
  EXPECT_EQ(code_of("SELECT * FROM other"), ErrorCode::kValidationError);  // t2's file
}
