#include <gtest/gtest.h>
#include <sqlite3.h>

#include <fstream>
#include <iterator>
#include <random>
#include <sstream>

#include "artifacts/artifact_store.hpp"
#include "handlers/report/aggregator.hpp"
#include "handlers/report/calendar.hpp"
#include "handlers/report/report_handler.hpp"
#include "handlers/report/report_request.hpp"
#include "handlers/report/sales_dataset.hpp"
#include "handlers/report/sales_source.hpp"

namespace streamer {
namespace {
namespace fs = std::filesystem;
namespace json = boost::json;
using namespace report;

json::object payload(std::string_view text) { return json::parse(text).as_object(); }

// Runs parse_report_request and returns the thrown HandlerError's details.
json::object rejection(std::string_view text, std::string* message = nullptr) {
  try {
    parse_report_request(payload(text));
  } catch (const HandlerError& e) {
    EXPECT_EQ(e.code(), ErrorCode::kValidationError);
    if (message) *message = e.what();
    return e.details();
  }
  ADD_FAILURE() << "accepted: " << text;
  return {};
}

TEST(ReportValidation, SeedExampleIsReproducedExactly) {
  std::string message;
  auto details = rejection(
      R"({"start_date":"01/20/2024","end_date":"2024-01-31","format":"pdf","report_type":"monthly"})",
      &message);
  EXPECT_EQ(message, "Invalid date format");
  EXPECT_EQ(details,
            (json::object{
                {"field", "start_date"}, {"expected", "YYYY-MM-DD"}, {"received", "01/20/2024"}}));
}

TEST(ReportValidation, EveryFieldIsChecked) {
  const std::string ok_tail = R"("format":"pdf","report_type":"monthly")";
  auto field = [](const json::object& d) { return std::string(d.at("field").as_string()); };
  EXPECT_EQ(field(rejection(R"({"end_date":"2024-01-31",)" + ok_tail + "}")), "start_date");
  EXPECT_EQ(field(rejection(R"({"start_date":"2024-01-01",)" + ok_tail + "}")), "end_date");
  EXPECT_EQ(field(rejection(R"({"start_date":20240101,"end_date":"2024-01-31",)" + ok_tail + "}")),
            "start_date");
  std::string message;
  auto d =
      rejection(R"({"start_date":"2023-02-29","end_date":"2024-01-31",)" + ok_tail + "}", &message);
  EXPECT_EQ(field(d), "start_date");
  EXPECT_EQ(message, "Invalid date");
  EXPECT_EQ(
      field(rejection(R"({"start_date":"2024-01-01","end_date":"2024-13-01",)" + ok_tail + "}")),
      "end_date");
  d = rejection(R"({"start_date":"2024-02-01","end_date":"2024-01-31",)" + ok_tail + "}", &message);
  EXPECT_EQ(field(d), "end_date");
  EXPECT_EQ(message, "end_date is before start_date");
  d = rejection(
      R"({"start_date":"2024-01-01","end_date":"2024-01-31","format":"docx","report_type":"monthly"})");
  EXPECT_EQ(field(d), "format");
  EXPECT_EQ(d.at("received"), "docx");
  EXPECT_EQ(
      field(rejection(
          R"({"start_date":"2024-01-01","end_date":"2024-01-31","format":"pdf","report_type":"weekly"})")),
      "report_type");
  EXPECT_EQ(field(rejection(R"({"start_date":"2024-01-01","end_date":"2024-01-31",)" + ok_tail +
                            R"(,"include_charts":"yes"})")),
            "include_charts");
  EXPECT_EQ(field(rejection(R"({"start_date":"2024-01-01","end_date":"2024-01-31",)" + ok_tail +
                            R"(,"filters":[1]})")),
            "filters");
  EXPECT_EQ(field(rejection(R"({"start_date":"2024-01-01","end_date":"2024-01-31",)" + ok_tail +
                            R"(,"filters":{"category":5}})")),
            "filters.category");
  EXPECT_EQ(field(rejection(R"({"start_date":"2024-01-01","end_date":"2024-01-31",)" + ok_tail +
                            R"(,"filters":{"region":""}})")),
            "filters.region");
}

TEST(ReportValidation, ValidPayloadParsesAndUnknownFieldsAreIgnored) {
  auto r = parse_report_request(payload(
      R"({"start_date":"2024-02-29","end_date":"2024-12-31","format":"excel","report_type":"quarterly",
          "include_charts":true,"filters":{"category":"toys","other":1},"unknown":[1,2]})"));
  EXPECT_EQ(r.format, ReportFormat::kExcel);
  EXPECT_EQ(r.report_type, ReportType::kQuarterly);
  EXPECT_TRUE(r.include_charts);
  EXPECT_EQ(r.category, "toys");
  EXPECT_FALSE(r.region.has_value());
  EXPECT_EQ(period_kind_for(r), PeriodKind::kQuarter);
  GenerateReportHandler handler;
  EXPECT_TRUE(handler.is_async());
  EXPECT_EQ(handler.spec().permission, "read");
}

TEST(ReportCalendar, PeriodKeys) {
  EXPECT_EQ(period_key(PeriodKind::kMonth, "2024-03-15"), "2024-03");
  EXPECT_EQ(period_key(PeriodKind::kQuarter, "2024-03-15"), "2024-Q1");
  EXPECT_EQ(period_key(PeriodKind::kQuarter, "2024-10-01"), "2024-Q4");
  EXPECT_EQ(period_key(PeriodKind::kYear, "2024-03-15"), "2024");
  EXPECT_EQ(period_key(PeriodKind::kDay, "2024-03-15"), "2024-03-15");
  EXPECT_EQ(period_key(PeriodKind::kWeek, "2024-03-15"), "2024-03-11");  // a Friday -> Monday
  EXPECT_EQ(period_key(PeriodKind::kWeek, "2024-03-11"), "2024-03-11");
  EXPECT_FALSE(parse_iso_date("2023-02-29"));
  EXPECT_TRUE(parse_iso_date("2024-02-29"));
  EXPECT_EQ(format_money(1234567.891), "1,234,567.89");
  EXPECT_EQ(format_money(-5), "-5.00");
}

// A temporary data dir with a small seeded dataset for two tenants.
class SeededTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = fs::temp_directory_path() / ("report-test-" + std::to_string(std::random_device{}()));
    auto a = seed_sales_data(dir_, "acme", 20000);
    EXPECT_EQ(a.sales_rows, 20000);
    EXPECT_GT(a.refund_rows, 300);
    EXPECT_EQ(a.target_rows, 36 * 25);
    seed_sales_data(dir_, "globex", 5000);
  }
  static void TearDownTestSuite() { fs::remove_all(dir_); }

  // A single number from SQL on the dataset.
  static double sql(const std::string& query) {
    sqlite3* db = nullptr;
    sqlite3_open((dir_ / "datasets" / "sales.db").c_str(), &db);
    sqlite3_stmt* st = nullptr;
    EXPECT_EQ(sqlite3_prepare_v2(db, query.c_str(), -1, &st, nullptr), SQLITE_OK)
        << sqlite3_errmsg(db);
    double v = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_double(st, 0) : -1;
    sqlite3_finalize(st);
    sqlite3_close(db);
    return v;
  }

  static ReportSummary summarise(const ReportRequest& r, const std::string& tenant) {
    SalesSource source(dir_ / "datasets" / "sales.db", tenant, r);
    Aggregator agg(r, tenant);
    source.for_each_refund([&](auto d, auto c, auto g, double a) { agg.add_refund(d, c, g, a); });
    source.for_each_target([&](auto m, auto c, auto g, double a) { agg.add_target(m, c, g, a); });
    source.for_each_sale([&](const SaleRow& s) {
      agg.add_sale(s.date, s.category, s.region, s.quantity, s.amount);
    });
    return agg.take();
  }

  static fs::path dir_;
};
fs::path SeededTest::dir_;

TEST_F(SeededTest, AggregationMatchesDirectSql) {
  auto r = parse_report_request(payload(
      R"({"start_date":"2024-01-01","end_date":"2024-06-30","format":"csv","report_type":"monthly"})"));
  auto s = summarise(r, "acme");
  const std::string where = "tenant_id='acme' AND date BETWEEN '2024-01-01' AND '2024-06-30'";
  EXPECT_EQ(s.records, static_cast<std::int64_t>(sql("SELECT COUNT(*) FROM sales WHERE " + where)));
  EXPECT_NEAR(s.totals.gross(), sql("SELECT SUM(amount) FROM sales WHERE " + where), 0.005);
  EXPECT_EQ(s.by_period.size(), 6u);
  EXPECT_NEAR(s.by_period.at("2024-03").gross(),
              sql("SELECT SUM(amount) FROM sales WHERE tenant_id='acme' AND date LIKE '2024-03-%'"),
              0.005);
  EXPECT_NEAR(s.by_category.at("toys").gross(),
              sql("SELECT SUM(amount) FROM sales WHERE category='toys' AND " + where), 0.005);
  EXPECT_NEAR(s.totals.refunds(),
              sql("SELECT SUM(r.amount) FROM refunds r JOIN sales s ON s.tenant_id=r.tenant_id AND "
                  "s.id=r.sale_id "
                  "WHERE r.tenant_id='acme' AND r.date BETWEEN '2024-01-01' AND '2024-06-30'"),
              0.005);
  EXPECT_NEAR(s.totals.target(),
              sql("SELECT SUM(target_amount) FROM targets WHERE tenant_id='acme' AND month BETWEEN "
                  "'2024-01' AND "
                  "'2024-06'"),
              0.01);
  EXPECT_EQ(s.by_category.size(), 5u);
  EXPECT_EQ(s.by_region.size(), 5u);
}

TEST_F(SeededTest, FiltersTenantsAndPeriodsChangeTheNumbers) {
  auto r = parse_report_request(payload(
      R"({"start_date":"2023-01-01","end_date":"2025-12-31","format":"csv","report_type":"quarterly",
          "filters":{"category":"electronics","region":"europe"}})"));
  auto s = summarise(r, "acme");
  EXPECT_EQ(s.records,
            static_cast<std::int64_t>(sql(
                "SELECT COUNT(*) FROM sales WHERE tenant_id='acme' AND category='electronics' AND "
                "region='europe'")));
  EXPECT_EQ(s.by_category.size(), 1u);
  EXPECT_EQ(s.by_region.size(), 1u);
  EXPECT_EQ(s.by_period.size(), 12u);
  auto other = summarise(r, "globex");
  EXPECT_LT(other.records, s.records);
  EXPECT_EQ(
      other.records,
      static_cast<std::int64_t>(
          sql("SELECT COUNT(*) FROM sales WHERE tenant_id='globex' AND category='electronics' AND "
              "region='europe'")));
  auto unknown = summarise(r, "nobody");
  EXPECT_EQ(unknown.records, 0);

  // A half month gets half of the month's target (pro-rated).
  auto half = summarise(
      parse_report_request(payload(
          R"({"start_date":"2024-04-01","end_date":"2024-04-15","format":"csv","report_type":"custom"})")),
      "acme");
  EXPECT_NEAR(
      half.totals.target(),
      sql("SELECT SUM(target_amount) FROM targets WHERE tenant_id='acme' AND month='2024-04'") / 2,
      0.02);
  EXPECT_EQ(half.period_kind, PeriodKind::kDay);
  EXPECT_EQ(half.by_period.size(), 15u);
}

TEST_F(SeededTest, ReseedingReplacesOnlyThatTenant) {
  double before = sql("SELECT SUM(amount) FROM sales WHERE tenant_id='globex'");
  double acme = sql("SELECT COUNT(*) FROM sales WHERE tenant_id='acme'");
  auto again = seed_sales_data(dir_, "globex", 5000);
  EXPECT_EQ(again.sales_rows, 5000);
  EXPECT_EQ(sql("SELECT COUNT(*) FROM sales WHERE tenant_id='globex'"), 5000);
  EXPECT_DOUBLE_EQ(sql("SELECT SUM(amount) FROM sales WHERE tenant_id='globex'"),
                   before);  // deterministic
  EXPECT_EQ(sql("SELECT COUNT(*) FROM sales WHERE tenant_id='acme'"), acme);
  EXPECT_EQ(sql("SELECT MIN(date) >= '2023-01-01' AND MAX(date) <= '2025-12-31' FROM sales"), 1);
  EXPECT_THROW(seed_sales_data(dir_, "x", -1), std::invalid_argument);
}

class RecordingProgress : public Progress {
 public:
  void report(double percent, std::string_view message, json::object metadata) override {
    percents.push_back(percent);
    messages.emplace_back(message);
    metas.push_back(std::move(metadata));
  }
  std::vector<double> percents;
  std::vector<std::string> messages;
  std::vector<json::object> metas;
};

std::string read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

class HandlerRunTest : public SeededTest {
 protected:
  json::object run(const std::string& body, const std::string& tenant = "acme") {
    ArtifactStore store(
        {dir_ / "artifacts", "http://127.0.0.1:9", "k", std::chrono::seconds(3600)});
    HandlerEnvironment env{dir_, &store, {}};
    Identity id{"u", tenant, {"read"}};
    RecordingProgress progress;
    CancelToken cancel;
    JobContext ctx{id, "r1", "", 1, progress, cancel, env};
    GenerateReportHandler handler;
    auto result = parse_and_run(handler, payload(body), ctx);
    EXPECT_TRUE(result.success);
    for (std::size_t i = 1; i < progress.percents.size(); ++i)
      EXPECT_GE(progress.percents[i], progress.percents[i - 1]);
    EXPECT_EQ(progress.percents.back(), 100);
    EXPECT_NE(std::find(progress.messages.begin(), progress.messages.end(), "Querying refunds"),
              progress.messages.end());
    auto data = result.data.as_object();
    auto url = std::string(data.at("url").as_string());
    auto resolved = store.resolve(url.substr(std::string("http://127.0.0.1:9").size()),
                                  std::chrono::system_clock::now());
    EXPECT_TRUE(resolved.artifact.has_value()) << url;
    if (resolved.artifact) {
      EXPECT_EQ(data.at("size_bytes").to_number<std::uint64_t>(),
                fs::file_size(resolved.artifact->file));
      file_ = read_file(resolved.artifact->file);
    }
    return data;
  }
  std::string file_;
};

TEST_F(HandlerRunTest, CsvReportIsRfc4180WithTotals) {
  auto data = run(
      R"({"start_date":"2024-01-01","end_date":"2024-03-31","format":"csv","report_type":"monthly"})");
  auto lines = std::count(file_.begin(), file_.end(), '\n');
  EXPECT_EQ(lines, data.at("records").as_int64() + 2);
  EXPECT_EQ(
      file_.rfind(
          "sale_id,date,period,category,region,product,customer_id,quantity,unit_price,amount\r\n",
          0),
      0u);
  EXPECT_NE(file_.find("\r\nTOTAL,"), std::string::npos);
  EXPECT_EQ(data.at("format"), "csv");
  auto stats = data.at("stats").as_object();
  EXPECT_NEAR(stats.at("total_value").to_number<double>(),
              sql("SELECT SUM(amount) FROM sales WHERE tenant_id='acme' AND date BETWEEN "
                  "'2024-01-01' AND '2024-03-31'"),
              0.005);
  EXPECT_EQ(stats.at("categories_count").as_int64(), 5);
  EXPECT_TRUE(std::string(data.at("generated_at").as_string()).ends_with("Z"));
}

TEST_F(HandlerRunTest, ExcelReportIsAZipWorkbook) {
  auto data = run(
      R"({"start_date":"2024-01-01","end_date":"2024-12-31","format":"excel","report_type":"quarterly",
                      "include_charts":true})");
  EXPECT_EQ(file_.substr(0, 4), std::string("PK\x03\x04", 4));
  EXPECT_NE(file_.find("xl/charts/chart1.xml"), std::string::npos);
  EXPECT_EQ(data.at("format"), "excel");
}

TEST_F(HandlerRunTest, PdfReportHasHeaderAndTrailer) {
  auto data = run(
      R"({"start_date":"2023-01-01","end_date":"2025-12-31","format":"pdf","report_type":"custom",
                      "include_charts":true,"filters":{"region":"europe"}})");
  EXPECT_EQ(file_.rfind("%PDF-", 0), 0u);
  EXPECT_NE(file_.find("%%EOF", file_.size() - 16), std::string::npos);
  EXPECT_GT(data.at("stats").as_object().at("periods_count").as_int64(),
            150);  // weeks over 3 years
}

TEST_F(HandlerRunTest, MissingDatasetAndCancellation) {
  ArtifactStore store({dir_ / "artifacts", "http://x", "k", std::chrono::seconds(60)});
  HandlerEnvironment env{dir_ / "nowhere", &store, {}};
  Identity id{"u", "acme", {"read"}};
  RecordingProgress progress;
  CancelToken cancel;
  JobContext ctx{id, "r1", "", 1, progress, cancel, env};
  GenerateReportHandler handler;
  auto p = payload(
      R"({"start_date":"2024-01-01","end_date":"2024-01-31","format":"csv","report_type":"monthly"})");
  try {
    parse_and_run(handler, p, ctx);
    FAIL();
  } catch (const HandlerError& e) {
    EXPECT_EQ(e.code(), ErrorCode::kNotFound);
  }
  HandlerEnvironment good{dir_, &store, {}};
  JobContext ctx2{id, "r2", "", 1, progress, cancel, good};
  cancel.cancel(CancelToken::Reason::kCancelled);
  EXPECT_THROW(parse_and_run(handler, p, ctx2), OperationCancelled);
  // Nothing is left in staging by the cancelled run.
  EXPECT_TRUE(fs::is_empty(dir_ / "artifacts" / ".staging"));
}

TEST(ReportDataset, ConfiguredDatabasePath) {
  HandlerEnvironment env{"/data", nullptr, {}};
  EXPECT_EQ(sales_database_path(env), fs::path("/data/datasets/sales.db"));
  env.settings["generate_report"] = json::object{{"database", "mine.db"}};
  EXPECT_EQ(sales_database_path(env), fs::path("/data/mine.db"));
  env.settings["generate_report"] = json::object{{"database", "/abs/x.db"}};
  EXPECT_EQ(sales_database_path(env), fs::path("/abs/x.db"));
}

}  // namespace
}  // namespace streamer
