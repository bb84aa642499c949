// Fuzzes the SQL guard of the `query` data source (process/sql_source run_tenant_query)
// with a differential oracle for tenant isolation.
//
// Two data dirs are made once in a fresh temp directory (removed at exit; nothing is
// written elsewhere): "shared" holds a dataset with the rows of tenants t1 and t2 and
// both tenants' uploaded files; "alone" holds only t1's rows and files. The input is
// run as t1's query against both. Invariants:
//  - a refusal is a HandlerError (never another exception or a crash);
//  - an accepted result passes check_table() and has at most QueryLimits::max_rows rows;
//  - isolation: t2's rows and files cannot change what t1's query returns, so both
//    runs give the same table or both refuse with the same code. (A query whose result
//    changes between two runs on the same data, e.g. random(), is skipped.)
// Each query gets a 2 s budget (cancelled by a watchdog thread), so a runaway recursive
// CTE ends as a skipped input rather than a libFuzzer timeout.
#include <sqlite3.h>
#include <stdlib.h>

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>

#include "core/handler.hpp"
#include "fuzz_check.hpp"
#include "handlers/process/sql_source.hpp"
#include "table_checks.hpp"

namespace fs = std::filesystem;
using namespace streamer;

namespace {

constexpr const char* kSchema =
    "CREATE TABLE sales(tenant_id TEXT, id INTEGER, date TEXT, category TEXT, region TEXT, product "
    "TEXT,"
    " customer_id INTEGER, quantity INTEGER, unit_price REAL, amount REAL);"
    "CREATE TABLE refunds(tenant_id TEXT, id INTEGER, sale_id INTEGER, date TEXT, amount REAL, "
    "reason TEXT);"
    "CREATE TABLE targets(tenant_id TEXT, month TEXT, category TEXT, region TEXT, target_amount "
    "REAL);";
// t1's rows come first, so they have the same rowids in both datasets.
constexpr const char* kTenant1Rows =
    "INSERT INTO sales VALUES('t1',1,'2024-01-01','A','N','p',1,2,3.0,6.0),"
    "('t1',2,'2024-01-02','B','S','q',2,1,5.0,5.0),('t1',3,'2024-02-01','A','S','r',1,4,2.5,10.0);"
    "INSERT INTO refunds VALUES('t1',1,2,'2024-01-05',5.0,'damaged');"
    "INSERT INTO targets VALUES('t1','2024-01','A','N',100.0);";
constexpr const char* kTenant2Rows =
    "INSERT INTO sales VALUES('t2',4,'2024-01-03','A','N','p',3,9,9.0,81.0),"
    "('t2',5,'2024-03-09','C','W','secret',7,1,1234.5,1234.5);"
    "INSERT INTO refunds VALUES('t2',2,4,'2024-01-04',81.0,'fraud');"
    "INSERT INTO targets VALUES('t2','2024-01','A','N',999.0);";

void write_file(const fs::path& p, const std::string& text) {
  fs::create_directories(p.parent_path());
  std::ofstream(p, std::ios::binary) << text;
}

void make_data_dir(const fs::path& dir, bool with_tenant2) {
  fs::create_directories(dir / "datasets");
  sqlite3* db = nullptr;
  const std::string sql = std::string(kSchema) + kTenant1Rows + (with_tenant2 ? kTenant2Rows : "");
  if (sqlite3_open((dir / "datasets" / "sales.db").c_str(), &db) != SQLITE_OK ||
      sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr) != SQLITE_OK) {
    std::fprintf(stderr, "sql fuzz: cannot create the dataset in %s\n", dir.c_str());
    std::abort();
  }
  sqlite3_close(db);
  write_file(dir / "files" / "t1" / "data" / "My Input.csv", "x,y,label\n1,2,a\n3,4,b\n5,,c\n");
  write_file(dir / "files" / "t1" / "events.jsonl",
             "{\"kind\":\"click\",\"n\":1}\n{\"kind\":\"view\",\"n\":2.5}\n");
  if (with_tenant2) {
    write_file(dir / "files" / "t2" / "other.csv", "x,secret\n1,t2-only\n");
    write_file(dir / "files" / "t2" / "data" / "My Input.csv", "x,y,label\n100,200,t2\n");
  }
}

struct Fixture {
  fs::path root;
  HandlerEnvironment shared, alone;

  Fixture() {
    std::string tmpl = (fs::temp_directory_path() / "streamer-fuzz-sql-XXXXXX").string();
    if (!::mkdtemp(tmpl.data())) std::abort();
    root = tmpl;
    shared.data_dir = root / "shared";
    alone.data_dir = root / "alone";
    make_data_dir(shared.data_dir, true);
    make_data_dir(alone.data_dir, false);
  }
  ~Fixture() {
    std::error_code ec;
    fs::remove_all(root, ec);
  }
};

// Cancels the current query's token once its deadline passes.
class Watchdog {
 public:
  Watchdog() : thread_([this] { loop(); }) { thread_.detach(); }

  void arm(CancelToken* token, std::chrono::milliseconds budget) {
    std::lock_guard lock(mutex_);
    token_ = token;
    deadline_ = std::chrono::steady_clock::now() + budget;
    changed_.notify_one();
  }
  void disarm() {
    std::lock_guard lock(mutex_);
    token_ = nullptr;
  }

 private:
  void loop() {
    std::unique_lock lock(mutex_);
    while (true) {
      if (!token_) {
        changed_.wait(lock);
      } else if (changed_.wait_until(lock, deadline_) == std::cv_status::timeout && token_ &&
                 std::chrono::steady_clock::now() >= deadline_) {
        token_->cancel(CancelToken::Reason::kTimedOut);
        token_ = nullptr;
      }
    }
  }

  std::mutex mutex_;
  std::condition_variable changed_;
  CancelToken* token_ = nullptr;
  std::chrono::steady_clock::time_point deadline_;
  std::thread thread_;
};

struct Outcome {
  bool timed_out = false;
  std::optional<process::DataTable> table;  // empty: refused
  ErrorCode code = ErrorCode::kValidationError;
};

bool same(const Outcome& a, const Outcome& b) {
  if (a.table.has_value() != b.table.has_value()) return false;
  return a.table ? fuzz::same_table(*a.table, *b.table) : a.code == b.code;
}

Outcome run(const HandlerEnvironment& env, std::string_view sql) {
  static Watchdog& watchdog = *new Watchdog;  // never destroyed: its thread outlives main
  process::QueryLimits limits;
  limits.max_rows = 10'000;
  limits.max_table_file_bytes = 1 << 20;
  CancelToken cancel;
  Outcome out;
  watchdog.arm(&cancel, std::chrono::milliseconds(2000));
  try {
    out.table = process::run_tenant_query(env, "t1", sql, &cancel, limits);
  } catch (const HandlerError& e) {
    out.code = e.code();
  } catch (const OperationCancelled&) {
    out.timed_out = true;
  }
  watchdog.disarm();
  if (cancel.cancelled()) out.timed_out = true;
  if (out.table) {
    fuzz::check_table(*out.table);
    FUZZ_CHECK(out.table->rows <= limits.max_rows, "more rows than QueryLimits::max_rows");
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static Fixture fixture;
  if (size > 4096) return 0;
  const std::string_view sql(reinterpret_cast<const char*>(data), size);

  const Outcome shared = run(fixture.shared, sql);
  if (shared.timed_out) return 0;
  const Outcome alone = run(fixture.alone, sql);
  if (alone.timed_out || same(shared, alone)) return 0;
  // Different answers: isolation is broken unless the query is not deterministic.
  const Outcome again = run(fixture.shared, sql);
  if (again.timed_out || !same(shared, again)) return 0;
  std::fprintf(stderr, "t1's query gives %s with t2's data present and %s without it\n",
               shared.table ? "rows" : "a refusal", alone.table ? "rows" : "a refusal");
  FUZZ_CHECK(false, "another tenant's data changes a tenant's query result");
  return 0;
}
