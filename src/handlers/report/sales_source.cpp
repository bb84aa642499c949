#include "handlers/report/sales_source.hpp"

#include <chrono>

namespace streamer::report {
using namespace std::chrono;

// Parameters: ?1 tenant, ?2 start date, ?3 day after end date, ?4 category, ?5 region.
// Dates compare as text, so 'YYYY-MM-DD' and 'YYYY-MM-DD HH:MM:SS' both work.

SalesSource::SalesSource(const std::filesystem::path& database, std::string tenant_id,
                         const ReportRequest& request)
    : db_(std::make_unique<sqlite::Database>(database.string(), SQLITE_OPEN_READONLY)),
      tenant_id_(std::move(tenant_id)),
      request_(request),
      end_exclusive_(format_iso_date(year_month_day{sys_days{request.end} + days{1}})) {
  db_->exec("BEGIN");
}

SalesSource::~SalesSource() {
  try {
    db_->exec("COMMIT");
  } catch (...) {
  }
}

std::string SalesSource::where_sales(const char* alias) const {
  std::string a(alias);
  std::string sql = a + ".tenant_id = ?1";
  if (request_.category) sql += " AND " + a + ".category = ?4";
  if (request_.region) sql += " AND " + a + ".region = ?5";
  return sql;
}

void SalesSource::bind_common(sqlite::Statement& stmt) const {
  stmt.bind(1, std::string_view(tenant_id_));
  stmt.bind(2, std::string_view(request_.start_date));
  stmt.bind(3, std::string_view(end_exclusive_));
  if (request_.category) stmt.bind(4, std::string_view(*request_.category));
  if (request_.region) stmt.bind(5, std::string_view(*request_.region));
}

std::int64_t SalesSource::count_sales() {
  sqlite::Statement stmt(*db_, "SELECT COUNT(*) FROM sales s WHERE " + where_sales("s") +
                                   " AND s.date >= ?2 AND s.date < ?3");
  bind_common(stmt);
  return stmt.step() ? stmt.int64(0) : 0;
}

std::int64_t SalesSource::for_each_refund(
    const std::function<void(std::string_view, std::string_view, std::string_view, double)>& fn) {
  sqlite::Statement stmt(*db_,
                         "SELECT r.date, s.category, s.region, r.amount FROM refunds r "
                         "JOIN sales s ON s.tenant_id = r.tenant_id AND s.id = r.sale_id "
                         "WHERE r.tenant_id = ?1 AND r.date >= ?2 AND r.date < ?3 AND " +
                             where_sales("s"));
  bind_common(stmt);
  std::int64_t n = 0;
  while (stmt.step()) {
    fn(stmt.text(0), stmt.text(1), stmt.text(2), stmt.real(3));
    ++n;
  }
  return n;
}

std::int64_t SalesSource::for_each_target(
    const std::function<void(std::string_view, std::string_view, std::string_view, double)>& fn) {
  std::string sql =
      "SELECT t.month, t.category, t.region, t.target_amount FROM targets t "
      "WHERE t.tenant_id = ?1 AND t.month >= substr(?2, 1, 7) AND t.month <= ?6";
  if (request_.category) sql += " AND t.category = ?4";
  if (request_.region) sql += " AND t.region = ?5";
  sqlite::Statement stmt(*db_, sql);
  bind_common(stmt);
  stmt.bind(6, std::string_view(request_.end_date).substr(0, 7));
  std::int64_t n = 0;
  while (stmt.step()) {
    fn(stmt.text(0), stmt.text(1), stmt.text(2), stmt.real(3));
    ++n;
  }
  return n;
}

void SalesSource::for_each_sale(const SaleVisitor& visit) {
  sqlite::Statement stmt(
      *db_,
      "SELECT s.id, s.date, s.category, s.region, s.product, s.customer_id, s.quantity, "
      "s.unit_price, s.amount FROM sales s WHERE " +
          where_sales("s") + " AND s.date >= ?2 AND s.date < ?3 ORDER BY s.date, s.id");
  bind_common(stmt);
  SaleRow row;
  while (stmt.step()) {
    row.id = stmt.int64(0);
    row.date = stmt.text(1);
    row.category = stmt.text(2);
    row.region = stmt.text(3);
    row.product = stmt.text(4);
    row.customer_id = stmt.int64(5);
    row.quantity = stmt.int64(6);
    row.unit_price = stmt.real(7);
    row.amount = stmt.real(8);
    visit(row);
  }
}

}  // namespace streamer::report
