#include "handlers/process/pipeline_common.hpp"

namespace streamer::process {
namespace detail {

cv::Mat select_rows(const cv::Mat& X, const Prepared& d, bool want_test) {
  std::size_t n = 0;
  for (auto r : d.rows) n += (d.is_test[r] != 0) == want_test;
  cv::Mat out(static_cast<int>(n), X.cols, X.type());
  int k = 0;
  for (std::size_t s = 0; s < d.rows.size(); ++s)
    if ((d.is_test[d.rows[s]] != 0) == want_test) X.row(static_cast<int>(s)).copyTo(out.row(k++));
  return out;
}

void add_row_columns(PipelineResult& out, const Prepared& d, std::size_t rows) {
  std::vector<double> index(rows);
  std::vector<std::string> split(rows, "unused");
  for (std::size_t r = 0; r < rows; ++r) index[r] = static_cast<double>(r);
  for (auto r : d.rows) split[r] = d.is_test[r] ? "test" : "train";
  out.columns.push_back(Column::number("row_index", std::move(index), true));
  out.columns.push_back(Column::strings("split", std::move(split)));
}

void add_data_metrics(PipelineResult& out, const Prepared& d) {
  std::size_t test = 0;
  for (auto r : d.rows) test += d.is_test[r];
  out.metrics["train_records"] = d.rows.size() - test;
  out.metrics["test_records"] = test;
  boost::json::array f;
  for (const auto& n : d.feature_names) f.emplace_back(n);
  out.metrics["features"] = std::move(f);
  if (!d.target.empty()) out.metrics["target"] = d.target;
  boost::json::array enc;
  for (const auto& n : d.encoded_columns) enc.emplace_back(n);
  out.metrics["encoded_columns"] = std::move(enc);
  out.metrics["missing_values_imputed"] = d.imputed_values;
  out.metrics["missing_values_kept"] = d.missing_kept;
  out.metrics["rows_dropped"] = d.dropped_rows;
}

std::vector<int> cap_rows(const std::vector<int>& idx, std::size_t limit) {
  if (idx.size() <= limit) return idx;
  std::vector<int> out;
  out.reserve(limit);
  for (std::size_t i = 0; i < limit; ++i) out.push_back(idx[i * idx.size() / limit]);
  return out;
}

}  // namespace detail

PipelineResult run_pipeline(const DataTable& table, const PipelineOptions& options,
                            const StageReport& report, const CancelToken* cancel) {
  try {
    switch (options.kind) {
      case PipelineKind::kClassification:
        return detail::run_classification(table, options, report, cancel);
      case PipelineKind::kRegression:
        return detail::run_regression(table, options, report, cancel);
      case PipelineKind::kClustering:
        return detail::run_clustering(table, options, report, cancel);
      case PipelineKind::kAnomaly:
        return detail::run_anomaly(table, options, report, cancel);
    }
  } catch (const cv::Exception& e) {
    // OpenCV refuses degenerate inputs (e.g. singular covariances); retrying cannot help.
    throw HandlerError(ErrorCode::kValidationError,
                       "the model could not be fitted to this data: " + e.err,
                       {{"field", "data_source"},
                        {"expected", "data the model can be fitted to"},
                        {"received", e.err}},
                       false);
  }
  throw HandlerError(ErrorCode::kValidationError, "unknown pipeline");
}

}  // namespace streamer::process
