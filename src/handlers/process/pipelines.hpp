// The four ML pipelines, each built on OpenCV (core + ml modules).
#pragma once

#include <boost/json.hpp>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "core/handler.hpp"
#include "handlers/process/pipeline_options.hpp"
#include "handlers/process/table.hpp"

namespace streamer::process {

// Reports progress inside the pipeline's share (40-85 %): percent, current_step
// ("feature_engineering" or "model_processing"), message.
using StageReport = std::function<void(double percent, std::string_view step, std::string_view message)>;

struct PipelineResult {
  boost::json::object metrics;       // held-out metrics plus row/feature counts
  std::string model_version;         // e.g. "opencv-4.6.0/ml.RTrees"
  std::vector<Column> columns;       // row_index, split, then per-row outputs; each table.rows long
};

// Runs options.kind on `table`:
//  - classification: cv::ml::RTrees (random forest, max_iterations trees); per row
//    prediction, confidence (share of tree votes), low_confidence (< threshold).
//  - regression: least squares through cv::solve (DECOMP_SVD on the normal
//    equations, with intercept) or, with options.model "random_forest", RTrees
//    regression; per row prediction, residual.
//  - clustering: cv::kmeans (k-means++, 3 attempts, seeded) on standardised
//    features fitted on the training rows; per row cluster, distance.
//  - anomaly: cv::ml::EM Gaussian mixture on standardised features, fitted on the
//    training rows, refitted once without the most unlikely `contamination` share;
//    score = -log likelihood; threshold = the (1 - contamination) quantile of the
//    training scores; per row anomaly_score, is_anomaly.
// Throws HandlerError(VALIDATION_ERROR) for unusable data, OperationCancelled when
// `cancel` fires between steps.
PipelineResult run_pipeline(const DataTable& table, const PipelineOptions& options, const StageReport& report,
                            const CancelToken* cancel);

}  // namespace streamer::process
