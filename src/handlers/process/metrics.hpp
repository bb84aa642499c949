// Evaluation metrics computed on the held-out split (same definitions as
// scikit-learn's, so results can be cross-checked).
#pragma once

#include <boost/json.hpp>
#include <opencv2/core.hpp>
#include <vector>

namespace streamer::process {

// accuracy and macro-averaged precision, recall and f1_score over `classes` classes
// (sklearn average="macro", zero_division=0: a class never predicted has precision 0;
// classes absent from both y_true and y_pred are skipped like sklearn's labels=None).
boost::json::object classification_metrics(const std::vector<int>& y_true,
                                           const std::vector<int>& y_pred, int classes);

// r2 (1 - SS_res/SS_tot; 0 when SS_tot is 0), rmse, mae.
boost::json::object regression_metrics(const std::vector<double>& y_true,
                                       const std::vector<double>& y_pred);

// Mean silhouette coefficient (sklearn.metrics.silhouette_score, euclidean) of the
// rows of `X` (CV_32F) with cluster `labels`. 0 when fewer than 2 clusters occur.
double silhouette(const cv::Mat& X, const std::vector<int>& labels);

}  // namespace streamer::process
