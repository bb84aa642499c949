#include "handlers/report/sales_dataset.hpp"

#include <array>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <stdexcept>
#include <vector>

#include "core/sqlite_db.hpp"
#include "handlers/report/calendar.hpp"

namespace streamer {
namespace fs = std::filesystem;
using namespace std::chrono;
using sqlite::Database;
using sqlite::Statement;

namespace {

// xoshiro256** seeded by splitmix64: deterministic on every platform (the
// standard distributions are not).
class Rng {
 public:
  explicit Rng(std::uint64_t seed) {
    for (auto& s : state_) {
      seed += 0x9e3779b97f4a7c15ULL;
      std::uint64_t z = seed;
      z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
      z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
      s = z ^ (z >> 31);
    }
  }
  std::uint64_t next() {
    auto rotl = [](std::uint64_t x, int k) { return (x << k) | (x >> (64 - k)); };
    std::uint64_t result = rotl(state_[1] * 5, 7) * 9;
    std::uint64_t t = state_[1] << 17;
    state_[2] ^= state_[0];
    state_[3] ^= state_[1];
    state_[1] ^= state_[2];
    state_[0] ^= state_[3];
    state_[2] ^= t;
    state_[3] = rotl(state_[3], 45);
    return result;
  }
  double uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }  // [0, 1)
  std::int64_t between(std::int64_t lo, std::int64_t hi) {                    // inclusive
    return lo + static_cast<std::int64_t>(uniform() * static_cast<double>(hi - lo + 1));
  }
  // Index drawn with the given (unnormalised) weights.
  template <std::size_t N>
  std::size_t pick(const std::array<double, N>& weights) {
    double total = 0;
    for (double w : weights) total += w;
    double x = uniform() * total;
    for (std::size_t i = 0; i < N; ++i) {
      if ((x -= weights[i]) < 0) return i;
    }
    return N - 1;
  }

 private:
  std::uint64_t state_[4];
};

struct Product {
  const char* name;
  double min_price;
  double max_price;
};

struct Category {
  const char* name;
  double weight;  // share of orders
  int max_quantity;
  std::array<Product, 5> products;
};

constexpr std::array<Category, 5> kCategories{{
    {"electronics",
     0.22,
     2,
     {{{"laptop", 550, 2200},
       {"smartphone", 250, 1200},
       {"headphones", 25, 350},
       {"tablet", 180, 900},
       {"smartwatch", 120, 600}}}},
    {"apparel",
     0.24,
     4,
     {{{"t-shirt", 8, 40},
       {"jeans", 30, 120},
       {"jacket", 60, 320},
       {"sneakers", 40, 180},
       {"dress", 25, 220}}}},
    {"home",
     0.16,
     3,
     {{{"sofa", 400, 2100},
       {"lamp", 18, 150},
       {"cookware set", 45, 400},
       {"bedding", 30, 250},
       {"vacuum cleaner", 80, 650}}}},
    {"grocery",
     0.28,
     12,
     {{{"coffee", 5, 25},
       {"olive oil", 6, 30},
       {"snacks", 2, 12},
       {"tea", 3, 20},
       {"cereal", 3, 10}}}},
    {"toys",
     0.10,
     4,
     {{{"building blocks", 15, 160},
       {"board game", 15, 80},
       {"doll", 10, 60},
       {"puzzle", 8, 40},
       {"rc car", 25, 220}}}},
}};

constexpr std::array<const char*, 5> kRegions{"north-america", "europe", "asia-pacific",
                                              "latin-america", "middle-east-africa"};
constexpr std::array<double, 5> kRegionWeights{0.32, 0.28, 0.22, 0.10, 0.08};
constexpr std::array<const char*, 5> kRefundReasons{"damaged", "wrong item", "not as described",
                                                    "late delivery", "changed mind"};
// Demand by calendar month (Jan..Dec): post-holiday dip, summer lull, Q4 peak.
constexpr std::array<double, 12> kMonthFactor{0.82, 0.85, 0.97, 1.0,  1.02, 0.96,
                                              0.93, 0.98, 1.0,  1.05, 1.32, 1.55};

const sys_days kFirstDay = sys_days{2023y / January / 1};
const sys_days kLastDay = sys_days{2025y / December / 31};

double round_cents(double value) { return std::round(value * 100.0) / 100.0; }

}  // namespace

fs::path sales_database_path(const HandlerEnvironment& env) {
  auto section = env.settings.find("generate_report");
  if (section != env.settings.end() && section->value().is_object()) {
    const auto& object = section->value().get_object();
    auto db = object.find("database");
    if (db != object.end() && db->value().is_string() && !db->value().get_string().empty()) {
      fs::path configured(std::string(db->value().get_string()));
      return configured.is_absolute() ? configured : env.data_dir / configured;
    }
  }
  return env.data_dir / "datasets" / "sales.db";
}

const char* sales_schema_sql() {
  return R"sql(
CREATE TABLE IF NOT EXISTS sales(
  tenant_id TEXT NOT NULL, id INTEGER NOT NULL, date TEXT NOT NULL, category TEXT NOT NULL,
  region TEXT NOT NULL, product TEXT NOT NULL, customer_id INTEGER NOT NULL,
  quantity INTEGER NOT NULL, unit_price REAL NOT NULL, amount REAL NOT NULL);
CREATE INDEX IF NOT EXISTS sales_tenant_date ON sales(tenant_id, date);
CREATE UNIQUE INDEX IF NOT EXISTS sales_tenant_id ON sales(tenant_id, id);
CREATE TABLE IF NOT EXISTS refunds(
  tenant_id TEXT NOT NULL, id INTEGER NOT NULL, sale_id INTEGER NOT NULL, date TEXT NOT NULL,
  amount REAL NOT NULL, reason TEXT);
CREATE INDEX IF NOT EXISTS refunds_tenant_date ON refunds(tenant_id, date);
CREATE TABLE IF NOT EXISTS targets(
  tenant_id TEXT NOT NULL, month TEXT NOT NULL, category TEXT NOT NULL, region TEXT NOT NULL,
  target_amount REAL NOT NULL);
CREATE INDEX IF NOT EXISTS targets_tenant_month ON targets(tenant_id, month);
)sql";
}

SeedResult seed_sales_data(const fs::path& data_dir, const std::string& tenant, std::int64_t rows,
                           std::uint64_t seed) {
  if (rows < 0 || rows > 100'000'000)
    throw std::invalid_argument("rows must be between 0 and 100000000");
  if (tenant.empty()) throw std::invalid_argument("tenant must not be empty");
  auto started = steady_clock::now();

  SeedResult result;
  fs::create_directories(data_dir / "datasets");
  result.database = data_dir / "datasets" / "sales.db";
  Database db(result.database.string(), SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
  db.exec("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA temp_store=MEMORY;");
  db.exec(sales_schema_sql());
  db.exec("BEGIN IMMEDIATE");
  try {
    for (const char* table : {"sales", "refunds", "targets"}) {
      Statement del(db, std::string("DELETE FROM ") + table + " WHERE tenant_id = ?1");
      del.bind(1, std::string_view(tenant));
      del.step();
    }
    Statement sale(db, "INSERT INTO sales VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10)");
    Statement refund(db, "INSERT INTO refunds VALUES (?1,?2,?3,?4,?5,?6)");
    Statement target(db, "INSERT INTO targets VALUES (?1,?2,?3,?4,?5)");

    // Per-day weights: month seasonality, weekend uplift, ~9 % yearly growth.
    const auto day_count = static_cast<std::size_t>((kLastDay - kFirstDay).count() + 1);
    std::vector<double> cumulative(day_count);
    double total_weight = 0;
    for (std::size_t i = 0; i < day_count; ++i) {
      sys_days d = kFirstDay + days{static_cast<int>(i)};
      year_month_day ymd{d};
      unsigned wd = weekday{d}.c_encoding();
      double w = kMonthFactor[static_cast<unsigned>(ymd.month()) - 1] *
                 ((wd == 0 || wd == 6) ? 1.18 : 1.0) *
                 (1.0 + 0.09 * (static_cast<int>(ymd.year()) - 2023));
      total_weight += w;
      cumulative[i] = total_weight;
    }

    // FNV-1a of the tenant mixed into the seed: tenants differ, runs repeat.
    std::uint64_t tenant_hash = 1469598103934665603ULL;
    for (unsigned char ch : tenant) tenant_hash = (tenant_hash ^ ch) * 1099511628211ULL;
    Rng rng(seed ^ tenant_hash);
    const std::int64_t customers = std::max<std::int64_t>(500, rows / 15);
    std::array<std::array<std::array<double, 5>, 5>, 36> actual{};  // [month][category][region]
    std::int64_t sale_id = 0, refund_id = 0, emitted = 0;
    for (std::size_t i = 0; i < day_count && emitted < rows; ++i) {
      auto upto = static_cast<std::int64_t>(
          std::llround(static_cast<double>(rows) * cumulative[i] / total_weight));
      if (i + 1 == day_count) upto = rows;
      sys_days d = kFirstDay + days{static_cast<int>(i)};
      year_month_day ymd{d};
      const std::string date = report::format_iso_date(ymd);
      const unsigned month_index = static_cast<unsigned>(ymd.month()) - 1;
      const std::size_t month_slot = (static_cast<int>(ymd.year()) - 2023) * 12 + month_index;
      std::array<double, 5> cat_weights;
      for (std::size_t c = 0; c < kCategories.size(); ++c) cat_weights[c] = kCategories[c].weight;
      if (month_index == 11) cat_weights[4] *= 2.6;                     // toys at Christmas
      if (month_index == 2 || month_index == 8) cat_weights[1] *= 1.3;  // apparel seasons
      if (month_index == 10) cat_weights[0] *= 1.4;                     // electronics deals

      for (; emitted < upto; ++emitted) {
        const auto c = rng.pick(cat_weights);
        const auto r = rng.pick(kRegionWeights);
        const Category& cat = kCategories[c];
        const Product& product = cat.products[rng.between(0, 4)];
        double price = round_cents(product.min_price + (product.max_price - product.min_price) *
                                                           std::pow(rng.uniform(), 1.6));
        std::int64_t quantity =
            1 + static_cast<std::int64_t>(std::pow(rng.uniform(), 2.0) * cat.max_quantity);
        double roll = rng.uniform();
        double discount = roll < 0.8    ? 0.0
                          : roll < 0.95 ? 0.05 + 0.10 * rng.uniform()
                                        : 0.2 + 0.1 * rng.uniform();
        double amount = round_cents(static_cast<double>(quantity) * price * (1.0 - discount));
        ++sale_id;
        sale.bind(1, std::string_view(tenant));
        sale.bind(2, sale_id);
        sale.bind(3, std::string_view(date));
        sale.bind(4, std::string_view(cat.name));
        sale.bind(5, std::string_view(kRegions[r]));
        sale.bind(6, std::string_view(product.name));
        sale.bind(7, rng.between(1, customers));
        sale.bind(8, quantity);
        sale.bind(9, price);
        sale.bind(10, amount);
        sale.step();
        sale.reset();
        actual[month_slot][c][r] += amount;

        if (rng.uniform() < 0.03) {
          sys_days refund_day = std::min(kLastDay, d + days{static_cast<int>(rng.between(1, 30))});
          double refund_amount =
              rng.uniform() < 0.7 ? amount : round_cents(amount * (0.2 + 0.6 * rng.uniform()));
          ++refund_id;
          refund.bind(1, std::string_view(tenant));
          refund.bind(2, refund_id);
          refund.bind(3, sale_id);
          refund.bind(4, std::string_view(report::format_iso_date(year_month_day{refund_day})));
          refund.bind(5, refund_amount);
          refund.bind(6, std::string_view(kRefundReasons[rng.between(0, 4)]));
          refund.step();
          refund.reset();
        }
      }
    }

    // Monthly targets: what was planned, i.e. the actual outcome -10 %..+12 %,
    // rounded to 10 (so attainment hovers around 100 %).
    std::int64_t targets_written = 0;
    for (std::size_t m = 0; m < actual.size(); ++m) {
      char month[16];  // "YYYY-MM": room for any int year, so snprintf never truncates
      std::snprintf(month, sizeof month, "%04d-%02d", 2023 + static_cast<int>(m / 12),
                    static_cast<int>(m % 12) + 1);
      for (std::size_t c = 0; c < kCategories.size(); ++c) {
        for (std::size_t r = 0; r < kRegions.size(); ++r) {
          double planned =
              std::round(actual[m][c][r] * (0.90 + 0.22 * rng.uniform()) / 10.0) * 10.0;
          target.bind(1, std::string_view(tenant));
          target.bind(2, std::string_view(month));
          target.bind(3, std::string_view(kCategories[c].name));
          target.bind(4, std::string_view(kRegions[r]));
          target.bind(5, planned);
          target.step();
          target.reset();
          ++targets_written;
        }
      }
    }
    db.exec("COMMIT");
    result.sales_rows = sale_id;
    result.refund_rows = refund_id;
    result.target_rows = targets_written;
  } catch (...) {
    db.rollback();
    throw;
  }
  result.seconds = duration<double>(steady_clock::now() - started).count();
  return result;
}

}  // namespace streamer
