// Helpers shared by the pipeline implementations (internal).
#pragma once

#include <opencv2/core.hpp>
#include <string>

#include "handlers/process/dataset.hpp"
#include "handlers/process/pipelines.hpp"

namespace streamer::process::detail {

inline const std::string kOpenCv = std::string("opencv-") + CV_VERSION;

// Rows of `X` that are training (want_test=false) or test samples.
cv::Mat select_rows(const cv::Mat& X, const Prepared& d, bool want_test);
// row_index and split ("train" / "test" / "unused" for dropped rows) columns.
void add_row_columns(PipelineResult& out, const Prepared& d, std::size_t rows);
// Shared counters in metrics: train_records, test_records, features, ...
void add_data_metrics(PipelineResult& out, const Prepared& d);
// Deterministic subsample of at most `limit` row indices from `idx` (even stride).
std::vector<int> cap_rows(const std::vector<int>& idx, std::size_t limit);

PipelineResult run_classification(const DataTable&, const PipelineOptions&, const StageReport&,
                                  const CancelToken*);
PipelineResult run_regression(const DataTable&, const PipelineOptions&, const StageReport&,
                              const CancelToken*);
PipelineResult run_clustering(const DataTable&, const PipelineOptions&, const StageReport&,
                              const CancelToken*);
PipelineResult run_anomaly(const DataTable&, const PipelineOptions&, const StageReport&,
                           const CancelToken*);

}  // namespace streamer::process::detail
