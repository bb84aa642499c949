#include "handlers/process/table.hpp"

#include <charconv>
#include <stdexcept>

namespace streamer::process {

Column Column::number(std::string name, std::vector<double> values, bool integral) {
  Column c;
  c.name = std::move(name);
  c.kind = Kind::kNumber;
  c.integral = integral;
  c.numbers = std::move(values);
  return c;
}

Column Column::strings(std::string name, std::vector<std::string> values) {
  Column c;
  c.name = std::move(name);
  c.kind = Kind::kText;
  c.text = std::move(values);
  return c;
}

int DataTable::find(std::string_view name) const {
  for (std::size_t i = 0; i < columns.size(); ++i)
    if (columns[i].name == name) return static_cast<int>(i);
  return -1;
}

void DataTable::add(Column column) {
  if (columns.empty() && rows == 0) rows = column.size();
  if (column.size() != rows) throw std::logic_error("column size mismatch: " + column.name);
  columns.push_back(std::move(column));
}

bool is_missing_token(std::string_view c) noexcept {
  return c.empty() || c == "NA" || c == "N/A" || c == "NaN" || c == "nan" || c == "null" ||
         c == "NULL" || c == "None" || c == "?";
}

bool parse_number(std::string_view cell, double& out) noexcept {
  while (!cell.empty() && (cell.front() == ' ' || cell.front() == '\t')) cell.remove_prefix(1);
  while (!cell.empty() && (cell.back() == ' ' || cell.back() == '\t')) cell.remove_suffix(1);
  if (cell.empty()) return false;
  if (cell.front() == '+') cell.remove_prefix(1);
  auto [ptr, ec] = std::from_chars(cell.data(), cell.data() + cell.size(), out);
  return ec == std::errc() && ptr == cell.data() + cell.size() && std::isfinite(out);
}

TableBuilder::TableBuilder(const std::vector<std::string>& names) {
  for (const auto& n : names) column(n);
}

std::size_t TableBuilder::column(std::string_view name) {
  for (std::size_t i = 0; i < names_.size(); ++i)
    if (names_[i] == name) return i;
  names_.emplace_back(name);
  Raw r;
  r.cells.resize(rows_);
  raw_.push_back(std::move(r));
  return names_.size() - 1;
}

void TableBuilder::begin_row() {
  ++rows_;
  for (auto& r : raw_) r.cells.emplace_back();
}

void TableBuilder::set(std::size_t col, std::string value) {
  auto& r = raw_.at(col);
  if (r.all_numeric && !is_missing_token(value)) {
    double ignored;
    if (!parse_number(value, ignored)) r.all_numeric = false;
  }
  r.cells.back() = std::move(value);
}

void TableBuilder::set_number(std::size_t col, double value) {
  std::string& cell = raw_.at(col).cells.back();
  if (!std::isfinite(value)) {  // NaN, +-inf: stored as missing, never as a number
    cell.clear();
    return;
  }
  char buf[32];
  auto [ptr, ec] = std::to_chars(buf, buf + sizeof buf, value);
  cell.assign(buf, ec == std::errc() ? ptr : buf);
}

DataTable TableBuilder::finish() {
  DataTable t;
  t.rows = rows_;
  for (std::size_t i = 0; i < names_.size(); ++i) {
    auto& r = raw_[i];
    if (r.all_numeric) {
      std::vector<double> v(rows_, kMissing);
      bool integral = true;
      for (std::size_t k = 0; k < rows_; ++k) {
        if (is_missing_token(r.cells[k])) continue;
        parse_number(r.cells[k], v[k]);
        if (v[k] != std::floor(v[k]) || std::fabs(v[k]) > 9e15) integral = false;
      }
      std::vector<std::string>().swap(r.cells);
      t.columns.push_back(Column::number(names_[i], std::move(v), integral));
    } else {
      for (auto& c : r.cells)
        if (is_missing_token(c)) c.clear();
      t.columns.push_back(Column::strings(names_[i], std::move(r.cells)));
    }
  }
  names_.clear();
  raw_.clear();
  rows_ = 0;
  return t;
}

}  // namespace streamer::process
