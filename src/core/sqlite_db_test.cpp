#include "core/sqlite_db.hpp"

#include <gtest/gtest.h>

#include <filesystem>

namespace streamer::sqlite {
namespace {

Database memory() { return Database(":memory:", SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE); }

TEST(SqliteDb, BindsStepsAndReadsEveryColumnType) {
  Database db = memory();
  db.exec("CREATE TABLE t(s TEXT, i INTEGER, r REAL, n TEXT)");
  Statement ins(db, "INSERT INTO t VALUES(?1, ?2, ?3, ?4)");
  ins.bind(1, std::string_view("it's"))
      .bind(2, std::int64_t{1} << 40)
      .bind(3, 2.5)
      .bind_null(4)
      .run();
  EXPECT_EQ(db.changes(), 1);
  EXPECT_EQ(db.last_insert_rowid(), 1);
  ins.reset();
  ins.bind(1, std::string_view())
      .bind(2, std::int64_t{-1})
      .bind(3, 0.0)
      .bind(4, std::string_view("x"))
      .run();

  Statement sel(db, "SELECT s, i, r, n FROM t ORDER BY rowid");
  ASSERT_EQ(sel.column_count(), 4);
  EXPECT_EQ(sel.column_name(1), "i");
  ASSERT_TRUE(sel.step());
  EXPECT_EQ(sel.text(0), "it's");
  EXPECT_EQ(sel.int64(1), std::int64_t{1} << 40);
  EXPECT_EQ(sel.real(2), 2.5);
  EXPECT_TRUE(sel.is_null(3));
  EXPECT_EQ(sel.text(3), "");
  ASSERT_TRUE(sel.step());
  EXPECT_FALSE(sel.is_null(0));  // an empty view binds "", not NULL
  EXPECT_EQ(sel.type(0), SQLITE_TEXT);
  EXPECT_FALSE(sel.step());
  EXPECT_TRUE(sel.read_only());
  EXPECT_FALSE(ins.read_only());
}

TEST(SqliteDb, ErrorsCarrySqlitesMessageAndCode) {
  Database db = memory();
  db.exec("CREATE TABLE t(k INTEGER PRIMARY KEY)");
  try {
    Statement(db, "SELECT nope FROM t");
    FAIL() << "prepared a query of a missing column";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), SQLITE_ERROR);
    EXPECT_NE(std::string(e.what()).find("no such column: nope"), std::string::npos) << e.what();
  }
  Statement ins(db, "INSERT INTO t VALUES(1)");
  ins.run();
  ins.reset();
  try {
    ins.run();
    FAIL() << "inserted a duplicate key";
  } catch (const Error& e) {
    EXPECT_EQ(e.code() & 0xff, SQLITE_CONSTRAINT);
    EXPECT_NE(std::string(e.what()).find("UNIQUE constraint failed"), std::string::npos)
        << e.what();
  }
  EXPECT_THROW(db.exec("NOT SQL"), Error);
  EXPECT_THROW(Statement(db, "SELECT ?1").bind(2, std::int64_t{1}), Error);  // no such parameter
  EXPECT_THROW(Statement(db, "SELECT 1").run(), Error);                      // returned a row
}

TEST(SqliteDb, OpeningAMissingFileReadOnlyFailsWithThePath) {
  const auto path = std::filesystem::temp_directory_path() / "streamer-sqlite-db-test-missing.db";
  std::filesystem::remove(path);
  try {
    Database db(path.string(), SQLITE_OPEN_READONLY);
    FAIL() << "opened a missing file";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), SQLITE_CANTOPEN);
    EXPECT_NE(std::string(e.what()).find(path.string()), std::string::npos) << e.what();
  }
}

TEST(SqliteDb, RollbackUndoesAnOpenTransactionAndIsHarmlessWithoutOne) {
  Database db = memory();
  db.exec("CREATE TABLE t(k INTEGER)");
  db.exec("BEGIN; INSERT INTO t VALUES(1)");
  db.rollback();
  db.rollback();  // nothing open: ignored
  Statement count(db, "SELECT COUNT(*) FROM t");
  ASSERT_TRUE(count.step());
  EXPECT_EQ(count.int64(0), 0);
}

TEST(SqliteDb, MovedFromObjectsOwnNothing) {
  Database a = memory();
  Database b = std::move(a);
  EXPECT_EQ(a.handle(), nullptr);
  Statement s(b, "SELECT 1");
  Statement t = std::move(s);
  EXPECT_FALSE(s);
  ASSERT_TRUE(t.step());
  EXPECT_EQ(t.int64(0), 1);
  t = Statement();
  b.close();  // every statement finalized: closes cleanly
  EXPECT_EQ(b.handle(), nullptr);
}

}  // namespace
}  // namespace streamer::sqlite
