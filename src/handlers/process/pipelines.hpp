// The four ML pipelines, built on XGBoost (boosted trees) and OpenCV (core + ml modules).
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
using StageReport =
    std::function<void(double percent, std::string_view step, std::string_view message)>;

struct PipelineResult {
  boost::json::object metrics;  // held-out metrics plus row/feature counts
  std::string model_version;    // e.g. "xgboost-1.7.4/gbtree(hist,multi:softprob)"
  std::vector<Column> columns;  // row_index, split, then per-row outputs; each table.rows long
};

// Runs options.kind on `table`:
//  - classification: XGBoost gradient-boosted trees (hist, multi:softprob,
//    max_iterations rounds, every training row, missing values routed natively,
//    one thread per 50,000 training rows up to every core), progress per round;
//    or, with options.model "random_forest",
//    cv::ml::RTrees on at most max_train_rows rows. Per row prediction, confidence
//    (class probability / share of tree votes), low_confidence (< threshold).
//  - regression: least squares through cv::solve (DECOMP_SVD on the normal
//    equations, with intercept); with options.model "boosted_trees", XGBoost
//    (reg:squarederror) as above; with "random_forest", RTrees regression. Per row
//    prediction, residual.
//  - clustering: cv::kmeans (k-means++, 3 attempts, seeded) on standardised
//    features fitted on the training rows; per row cluster, distance.
//  - anomaly: cv::ml::EM Gaussian mixture on standardised features, fitted on the
//    training rows, refitted once without the most unlikely `contamination` share;
//    score = -log likelihood; threshold = the (1 - contamination) quantile of the
//    training scores; per row anomaly_score, is_anomaly.
// Throws HandlerError(VALIDATION_ERROR) for unusable data, OperationCancelled when
// `cancel` fires between steps or between boosting rounds.
PipelineResult run_pipeline(const DataTable& table, const PipelineOptions& options,
                            const StageReport& report, const CancelToken* cancel);

}  // namespace streamer::process
