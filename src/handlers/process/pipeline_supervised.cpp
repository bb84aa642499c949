// Classification (RTrees) and regression (least squares / RTrees) pipelines.
#include <opencv2/ml.hpp>

#include "handlers/process/metrics.hpp"
#include "handlers/process/pipeline_common.hpp"

namespace streamer::process::detail {
namespace {

cv::Ptr<cv::ml::RTrees> make_forest(const PipelineOptions& o) {
  auto forest = cv::ml::RTrees::create();
  forest->setMaxDepth(o.max_depth);
  forest->setMinSampleCount(5);
  forest->setRegressionAccuracy(0);
  forest->setUseSurrogates(false);
  forest->setCalculateVarImportance(false);
  forest->setActiveVarCount(0);  // sqrt(#features)
  forest->setTermCriteria(cv::TermCriteria(cv::TermCriteria::MAX_ITER, o.max_iterations, 0));
  return forest;
}

// Training sample indices (into d.rows), capped for forests.
std::vector<int> train_indices(const Prepared& d) {
  std::vector<int> idx;
  for (std::size_t s = 0; s < d.rows.size(); ++s)
    if (!d.is_test[d.rows[s]]) idx.push_back(static_cast<int>(s));
  return idx;
}

cv::Mat gather(const cv::Mat& X, const std::vector<int>& idx) {
  cv::Mat out(static_cast<int>(idx.size()), X.cols, X.type());
  for (std::size_t i = 0; i < idx.size(); ++i) X.row(idx[i]).copyTo(out.row(static_cast<int>(i)));
  return out;
}

}  // namespace

PipelineResult run_classification(const DataTable& table, const PipelineOptions& o, const StageReport& report,
                                  const CancelToken* cancel) {
  report(42, "feature_engineering", "Selecting features and encoding classes");
  Prepared d = prepare_dataset(table, o, TargetUse::kClasses);
  if (cancel) cancel->throw_if_cancelled();
  PipelineResult out;
  out.model_version = kOpenCv + "/ml.RTrees";
  add_row_columns(out, d, table.rows);
  add_data_metrics(out, d);

  auto idx = cap_rows(train_indices(d), o.max_train_rows);
  cv::Mat Xtr = gather(d.X, idx);
  cv::Mat ytr(static_cast<int>(idx.size()), 1, CV_32S);
  for (std::size_t i = 0; i < idx.size(); ++i) ytr.at<int>(static_cast<int>(i)) = static_cast<int>(d.y[idx[i]]);
  report(60, "model_processing", "Training a random forest on " + std::to_string(idx.size()) + " rows");
  auto forest = make_forest(o);
  auto td = cv::ml::TrainData::create(Xtr, cv::ml::ROW_SAMPLE, ytr);
  if (!forest->train(td)) throw HandlerError(ErrorCode::kInternalError, "random forest training failed");
  if (cancel) cancel->throw_if_cancelled();
  report(75, "model_processing", "Predicting " + std::to_string(d.rows.size()) + " rows");

  cv::Mat votes;
  forest->getVotes(d.X, votes, 0);  // row 0: class labels; row 1+i: votes of sample i
  const std::size_t rows = table.rows;
  std::vector<double> conf(rows, kMissing), low(rows, kMissing), pred_num(rows, kMissing);
  std::vector<std::string> pred_text(rows);
  std::vector<int> y_true, y_pred;
  std::size_t low_count = 0;
  for (std::size_t s = 0; s < d.rows.size(); ++s) {
    const int* v = votes.ptr<int>(static_cast<int>(s) + 1);
    int best = 0, total = 0;
    for (int c = 0; c < votes.cols; ++c) {
      total += v[c];
      if (v[c] > v[best]) best = c;
    }
    int cls = votes.at<int>(0, best);
    std::size_t r = d.rows[s];
    conf[r] = total ? static_cast<double>(v[best]) / total : 0.0;
    low[r] = conf[r] < o.confidence_threshold ? 1.0 : 0.0;
    if (d.target_numeric) pred_num[r] = d.class_values[static_cast<std::size_t>(cls)];
    else pred_text[r] = d.classes[static_cast<std::size_t>(cls)];
    if (d.is_test[r]) {
      y_true.push_back(static_cast<int>(d.y[s]));
      y_pred.push_back(cls);
      low_count += low[r] > 0;
    }
  }
  for (auto& [k, v] : classification_metrics(y_true, y_pred, static_cast<int>(d.classes.size()))) out.metrics[k] = v;
  boost::json::array classes;
  for (const auto& c : d.classes) classes.emplace_back(c);
  out.metrics["classes"] = std::move(classes);
  out.metrics["confidence_threshold"] = o.confidence_threshold;
  out.metrics["low_confidence_test_records"] = low_count;
  out.metrics["trees"] = o.max_iterations;
  out.metrics["training_rows_used"] = idx.size();
  if (d.target_numeric) out.columns.push_back(Column::number("prediction", std::move(pred_num), true));
  else out.columns.push_back(Column::strings("prediction", std::move(pred_text)));
  out.columns.push_back(Column::number("confidence", std::move(conf)));
  out.columns.push_back(Column::number("low_confidence", std::move(low), true));
  return out;
}

PipelineResult run_regression(const DataTable& table, const PipelineOptions& o, const StageReport& report,
                              const CancelToken* cancel) {
  report(42, "feature_engineering", "Selecting features and imputing missing values");
  Prepared d = prepare_dataset(table, o, TargetUse::kNumeric);
  if (cancel) cancel->throw_if_cancelled();
  PipelineResult out;
  add_row_columns(out, d, table.rows);
  add_data_metrics(out, d);
  auto idx = train_indices(d);
  std::vector<double> pred(d.rows.size());

  if (o.model == "random_forest") {
    out.model_version = kOpenCv + "/ml.RTrees(regression)";
    idx = cap_rows(idx, o.max_train_rows);
    cv::Mat Xtr = gather(d.X, idx);
    cv::Mat ytr(static_cast<int>(idx.size()), 1, CV_32F);
    for (std::size_t i = 0; i < idx.size(); ++i) ytr.at<float>(static_cast<int>(i)) = static_cast<float>(d.y[idx[i]]);
    report(60, "model_processing", "Training a regression forest on " + std::to_string(idx.size()) + " rows");
    auto forest = make_forest(o);
    if (!forest->train(cv::ml::TrainData::create(Xtr, cv::ml::ROW_SAMPLE, ytr)))
      throw HandlerError(ErrorCode::kInternalError, "regression forest training failed");
    if (cancel) cancel->throw_if_cancelled();
    report(75, "model_processing", "Predicting");
    cv::Mat p;
    forest->predict(d.X, p);
    for (std::size_t s = 0; s < d.rows.size(); ++s) pred[s] = p.at<float>(static_cast<int>(s));
    out.metrics["trees"] = o.max_iterations;
  } else {
    out.model_version = kOpenCv + "/core.solve(least-squares,SVD)";
    report(60, "model_processing", "Fitting least squares on " + std::to_string(idx.size()) + " rows");
    const int f = d.X.cols;
    cv::Mat A(static_cast<int>(idx.size()), f + 1, CV_64F), b(static_cast<int>(idx.size()), 1, CV_64F);
    for (std::size_t i = 0; i < idx.size(); ++i) {
      const float* x = d.X.ptr<float>(idx[i]);
      double* a = A.ptr<double>(static_cast<int>(i));
      for (int c = 0; c < f; ++c) a[c] = x[c];
      a[f] = 1.0;
      b.at<double>(static_cast<int>(i)) = d.y[static_cast<std::size_t>(idx[i])];
    }
    cv::Mat beta;
    if (!cv::solve(A, b, beta, cv::DECOMP_SVD | cv::DECOMP_NORMAL))
      throw HandlerError(ErrorCode::kInternalError, "least squares failed");
    if (cancel) cancel->throw_if_cancelled();
    report(75, "model_processing", "Predicting");
    for (std::size_t s = 0; s < d.rows.size(); ++s) {
      const float* x = d.X.ptr<float>(static_cast<int>(s));
      double y = beta.at<double>(f);
      for (int c = 0; c < f; ++c) y += beta.at<double>(c) * x[c];
      pred[s] = y;
    }
    boost::json::object coef;
    for (int c = 0; c < f; ++c) coef[d.feature_names[static_cast<std::size_t>(c)]] = beta.at<double>(c);
    out.metrics["coefficients"] = std::move(coef);
    out.metrics["intercept"] = beta.at<double>(f);
  }

  std::vector<double> y_true, y_pred, pcol(table.rows, kMissing), resid(table.rows, kMissing);
  for (std::size_t s = 0; s < d.rows.size(); ++s) {
    std::size_t r = d.rows[s];
    pcol[r] = pred[s];
    resid[r] = d.y[s] - pred[s];
    if (d.is_test[r]) y_true.push_back(d.y[s]), y_pred.push_back(pred[s]);
  }
  for (auto& [k, v] : regression_metrics(y_true, y_pred)) out.metrics[k] = v;
  out.metrics["training_rows_used"] = idx.size();
  out.columns.push_back(Column::number("prediction", std::move(pcol)));
  out.columns.push_back(Column::number("residual", std::move(resid)));
  return out;
}

}  // namespace streamer::process::detail
