#include "handlers/process/dataset.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <map>

#include "core/handler.hpp"

namespace streamer::process {
namespace {

HandlerError bad_option(std::string_view field, std::string_view expected,
                        const boost::json::value& got, const std::string& msg) {
  return HandlerError::validation(field, expected, got, msg);
}

std::string format_number(double v) {
  if (v == std::floor(v) && std::fabs(v) < 9e15) return std::to_string(static_cast<long long>(v));
  char buf[32];
  auto [p, ec] = std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, p);
}

boost::json::array column_names(const DataTable& t) {
  boost::json::array a;
  for (const auto& c : t.columns) a.emplace_back(c.name);
  return a;
}

}  // namespace

const char* to_string(PipelineKind kind) noexcept {
  switch (kind) {
    case PipelineKind::kClassification:
      return "classification";
    case PipelineKind::kRegression:
      return "regression";
    case PipelineKind::kClustering:
      return "clustering";
    case PipelineKind::kAnomaly:
      return "anomaly";
  }
  return "?";
}

std::uint64_t splitmix64(std::uint64_t x) noexcept {
  x += 0x9E3779B97F4A7C15ULL;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
  return x ^ (x >> 31);
}

std::vector<std::uint8_t> split_rows(std::size_t rows, double test_fraction, std::uint64_t seed) {
  std::vector<std::uint8_t> test(rows, 0);
  std::size_t ntest = 0, argmin = 0, argmax = 0;
  double umin = 2, umax = -1;
  for (std::size_t i = 0; i < rows; ++i) {
    double u =
        static_cast<double>(
            splitmix64(seed ^ (static_cast<std::uint64_t>(i) * 0xD1B54A32D192ED03ULL)) >> 11) *
        0x1.0p-53;
    if (u < test_fraction) {
      test[i] = 1;
      ++ntest;
    }
    if (u < umin) umin = u, argmin = i;
    if (u > umax) umax = u, argmax = i;
  }
  if (rows >= 2 && ntest == 0) test[argmin] = 1;
  if (rows >= 2 && ntest == rows) test[argmax] = 0;
  return test;
}

namespace {

// The target column per the options (options.target, else "label", else the last
// column unless no target is used); nullptr when there is none.
const Column* select_target(const DataTable& table, const PipelineOptions& o, TargetUse use,
                            int& index) {
  index = -1;
  if (o.target) {
    index = table.find(*o.target);
    if (index < 0)
      throw bad_option("options.target", "one of the data's columns",
                       boost::json::string(*o.target),
                       "target column '" + *o.target + "' is not in the data (columns: " +
                           boost::json::serialize(column_names(table)) + ")");
  } else if ((index = table.find("label")) < 0 && use != TargetUse::kNone) {
    index = static_cast<int>(table.columns.size()) - 1;
  }
  const Column* target = index >= 0 ? &table.columns[static_cast<std::size_t>(index)] : nullptr;
  if (use == TargetUse::kNumeric && target && !target->numeric())
    throw bad_option("options.target", "a numeric column", boost::json::string(target->name),
                     "regression needs a numeric target; '" + target->name + "' holds text");
  return target;
}

// The listed feature columns, else every numeric column but the target.
std::vector<const Column*> select_features(const DataTable& table, const PipelineOptions& o,
                                           int target) {
  std::vector<const Column*> feats;
  if (!o.features.empty()) {
    for (const auto& name : o.features) {
      int idx = table.find(name);
      if (idx < 0)
        throw bad_option("options.features", "names of the data's columns",
                         boost::json::string(name),
                         "feature column '" + name + "' is not in the data");
      if (idx == target)
        throw bad_option("options.features", "columns other than the target",
                         boost::json::string(name), "the target cannot also be a feature");
      feats.push_back(&table.columns[static_cast<std::size_t>(idx)]);
    }
    return feats;
  }
  boost::json::array text_cols;
  for (std::size_t i = 0; i < table.columns.size(); ++i) {
    if (static_cast<int>(i) == target) continue;
    if (table.columns[i].numeric()) {
      feats.push_back(&table.columns[i]);
    } else {
      text_cols.emplace_back(table.columns[i].name);
    }
  }
  if (feats.empty())
    throw HandlerError(
        ErrorCode::kValidationError,
        "non-numeric data: no numeric feature column; list text columns in options.features to "
        "one-hot encode them",
        {{"field", "data_source"},
         {"expected", "at least one numeric feature column"},
         {"received", boost::json::serialize(text_cols)}});
  return feats;
}

// Keeps the rows that have a target value (all rows when no target is used) and checks
// that the split leaves at least one training and one test row among them.
void select_samples(const DataTable& table, const Column* target, TargetUse use, Prepared& p) {
  for (std::size_t r = 0; r < table.rows; ++r) {
    if (use != TargetUse::kNone && target && target->missing(r)) {
      ++p.dropped_rows;
      continue;
    }
    p.rows.push_back(r);
  }
  std::size_t ntrain = 0;
  for (auto r : p.rows) ntrain += p.is_test[r] ? 0 : 1;
  if (p.rows.size() < 2 || ntrain == 0 || ntrain == p.rows.size())
    throw HandlerError(ErrorCode::kValidationError,
                       "not enough usable rows: need at least one training and one test row",
                       {{"field", "data_source"},
                        {"expected", "at least 2 rows with a target value"},
                        {"received", std::to_string(p.rows.size()) + " usable rows"}});
}

// Fills p.y with class ids (ordered: numeric labels by value, then text labels), and
// p.classes / p.class_values with what each id stands for.
void encode_classes(const Column& target, Prepared& p) {
  p.target_numeric = target.numeric();
  std::map<double, int> num_ids;
  std::map<std::string, int> text_ids;
  for (auto r : p.rows) {
    if (p.target_numeric) {
      num_ids.emplace(target.numbers[r], 0);
    } else {
      text_ids.emplace(target.text[r], 0);
    }
    if (num_ids.size() + text_ids.size() > 100)
      throw bad_option("options.target", "a column with at most 100 distinct classes",
                       boost::json::string(target.name),
                       "the target has more than 100 distinct values; use the regression pipeline");
  }
  int id = 0;
  for (auto& [v, i] : num_ids) {
    i = id++;
    p.classes.push_back(format_number(v));
    p.class_values.push_back(v);
  }
  for (auto& [v, i] : text_ids) {
    i = id++;
    p.classes.push_back(v);
  }
  if (id < 2)
    throw bad_option("options.target", "a column with at least two classes",
                     boost::json::string(target.name), "the target has a single class");
  for (auto r : p.rows)
    p.y.push_back(p.target_numeric ? num_ids[target.numbers[r]] : text_ids[target.text[r]]);
}

// How one feature column becomes matrix columns: a numeric column is one column with
// missing cells filled by the training mean; a text column is one-hot encoded over the
// categories seen in training rows.
struct FeaturePlan {
  const Column* col;
  double fill = 0;
  std::vector<std::string> categories;
};

FeaturePlan plan_feature(const Column& c, Prepared& p) {
  FeaturePlan plan{&c, 0, {}};
  if (c.numeric()) {
    double sum = 0;
    std::size_t n = 0;
    for (auto r : p.rows) {
      if (p.is_test[r] || is_missing(c.numbers[r])) continue;
      sum += c.numbers[r];
      ++n;
    }
    plan.fill = n ? sum / static_cast<double>(n) : 0.0;
    p.feature_names.push_back(c.name);
    return plan;
  }
  std::map<std::string, int> seen;
  for (auto r : p.rows)
    if (!p.is_test[r]) seen.emplace(c.text[r], 0);
  if (seen.size() > 64)
    throw bad_option("options.features", "text columns with at most 64 distinct values",
                     boost::json::string(c.name),
                     "non-numeric feature '" + c.name + "' has " + std::to_string(seen.size()) +
                         " distinct values; too many to one-hot encode");
  for (auto& [v, i] : seen) {
    plan.categories.push_back(v);
    p.feature_names.push_back(c.name + "=" + (v.empty() ? "<missing>" : v));
  }
  p.encoded_columns.push_back(c.name);
  return plan;
}

// Builds p.X (one row per sample) from the plans, counting imputed cells.
void build_matrix(const std::vector<FeaturePlan>& plans, MissingValues missing, Prepared& p) {
  std::size_t width = 0;
  for (const auto& plan : plans) width += plan.col->numeric() ? 1 : plan.categories.size();
  p.X.create(static_cast<int>(p.rows.size()), static_cast<int>(width), CV_32F);
  for (std::size_t s = 0; s < p.rows.size(); ++s) {
    float* out = p.X.ptr<float>(static_cast<int>(s));
    std::size_t r = p.rows[s], k = 0;
    for (const FeaturePlan& plan : plans) {
      if (plan.col->numeric()) {
        double v = plan.col->numbers[r];
        if (is_missing(v) && missing == MissingValues::kKeep) {
          ++p.missing_kept;
        } else if (is_missing(v)) {
          v = plan.fill;
          ++p.imputed_values;
        }
        out[k++] = static_cast<float>(v);
      } else {
        const std::string& v = plan.col->text[r];
        if (v.empty()) ++p.imputed_values;
        for (const auto& cat : plan.categories) out[k++] = (cat == v) ? 1.0f : 0.0f;
      }
    }
  }
}

}  // namespace

Prepared prepare_dataset(const DataTable& table, const PipelineOptions& o, TargetUse use,
                         MissingValues missing) {
  Prepared p;
  p.is_test = split_rows(table.rows, o.test_fraction, o.seed);
  int target_index = -1;
  const Column* target = select_target(table, o, use, target_index);
  if (target) p.target = target->name;
  const std::vector<const Column*> features = select_features(table, o, target_index);
  select_samples(table, target, use, p);
  if (use == TargetUse::kNumeric) {
    for (auto r : p.rows) p.y.push_back(target->numbers[r]);
  } else if (use == TargetUse::kClasses) {
    encode_classes(*target, p);
  }
  std::vector<FeaturePlan> plans;
  plans.reserve(features.size());
  for (const Column* c : features) plans.push_back(plan_feature(*c, p));
  build_matrix(plans, missing, p);
  return p;
}

void standardize(Prepared& d) {
  const int cols = d.X.cols;
  std::vector<double> mean(static_cast<std::size_t>(cols), 0),
      sq(static_cast<std::size_t>(cols), 0);
  std::size_t n = 0;
  for (std::size_t s = 0; s < d.rows.size(); ++s) {
    if (d.is_test[d.rows[s]]) continue;
    const float* x = d.X.ptr<float>(static_cast<int>(s));
    for (int c = 0; c < cols; ++c) mean[c] += x[c], sq[c] += static_cast<double>(x[c]) * x[c];
    ++n;
  }
  for (int c = 0; c < cols; ++c) {
    mean[c] /= static_cast<double>(n);
    double var = sq[c] / static_cast<double>(n) - mean[c] * mean[c];
    sq[c] = var > 1e-12 ? std::sqrt(var) : 1.0;
  }
  for (int s = 0; s < d.X.rows; ++s) {
    float* x = d.X.ptr<float>(s);
    for (int c = 0; c < cols; ++c) x[c] = static_cast<float>((x[c] - mean[c]) / sq[c]);
  }
}

}  // namespace streamer::process
