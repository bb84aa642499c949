// Classification (boosted trees / RTrees) and regression (least squares / boosted trees /
// RTrees) pipelines.
#include <opencv2/ml.hpp>

#include <algorithm>

#include "handlers/process/boosted_trees.hpp"
#include "handlers/process/metrics.hpp"
#include "handlers/process/pipeline_common.hpp"

namespace streamer::process::detail {
namespace {

cv::Ptr<cv::ml::RTrees> make_forest(const PipelineOptions& o) {
  auto forest = cv::ml::RTrees::create();
  forest->setMaxDepth(o.max_depth.value_or(12));
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

// Training rows above which early stopping is on unless the payload says otherwise
// (scikit-learn's histogram boosting uses the same threshold for early_stopping="auto").
constexpr std::size_t kAutoEarlyStoppingRows = 10'000;

// A boosted model with the samples it was fitted on and those it watched for early
// stopping (both into d.rows; together the training samples).
struct BoostedFit {
  BoostedTrees model;
  std::vector<int> fit_idx, validation_idx;
};

// Boosted trees on every training row (no cap), reporting each round as progress
// between 60 % and 75 %; cancel is honoured after every round. With early stopping
// (options.early_stopping, or "auto" and more than 10,000 training rows) the training
// samples are split again by the documented split with seed splitmix64(options.seed):
// a validation_fraction share is held out and watched, and training stops when its
// loss has not improved for n_iter_no_change rounds.
BoostedFit train_boosted(const Prepared& d, const std::vector<int>& idx, BoostedTreesParams params,
                         const PipelineOptions& o, const StageReport& report,
                         const CancelToken* cancel) {
  params.rounds = o.max_iterations;
  params.max_depth = o.max_depth.value_or(6);
  params.learning_rate = o.learning_rate;
  params.seed = o.seed;
  params.n_iter_no_change = o.n_iter_no_change;
  std::vector<int> fit_idx, validation_idx;
  const bool early = o.early_stopping.value_or(idx.size() > kAutoEarlyStoppingRows);
  if (early && idx.size() >= 2) {
    const auto held = split_rows(idx.size(), o.validation_fraction, splitmix64(o.seed));
    for (std::size_t i = 0; i < idx.size(); ++i)
      (held[i] ? validation_idx : fit_idx).push_back(idx[i]);
  } else {
    fit_idx = idx;
  }
  auto labels_of = [&](const std::vector<int>& rows) {
    std::vector<float> y(rows.size());
    for (std::size_t i = 0; i < rows.size(); ++i) y[i] = static_cast<float>(d.y[rows[i]]);
    return y;
  };
  cv::Mat Xtr = gather(d.X, fit_idx);
  const std::vector<float> ytr = labels_of(fit_idx);
  cv::Mat Xval = gather(d.X, validation_idx);
  const std::vector<float> yval = labels_of(validation_idx);
  const ValidationSet validation{Xval, yval};
  const std::string rows = std::to_string(fit_idx.size());
  report(60, "model_processing",
         "Training boosted trees on " + rows + " rows" +
             (validation_idx.empty() ? std::string()
                                     : ", watching " + std::to_string(validation_idx.size()) +
                                           " validation rows for early stopping"));
  BoostedTrees model = BoostedTrees::train(
      Xtr, ytr, params,
      [&](int done, int total) {
        report(60 + 15.0 * done / total, "model_processing",
               "Boosting round " + std::to_string(done) + "/" + std::to_string(total) + " on " +
                   rows + " rows");
      },
      cancel, validation_idx.empty() ? nullptr : &validation);
  if (model.stopped_early())
    report(75, "model_processing",
           "Stopped early after " + std::to_string(model.rounds()) +
               " rounds: validation loss no better for " + std::to_string(o.n_iter_no_change) +
               " rounds");
  return BoostedFit{std::move(model), std::move(fit_idx), std::move(validation_idx)};
}

// Per-sample predictions (`width` values each) of a boosted fit: the fitted and the
// validation samples' from the booster's caches, only the other samples traversed.
std::vector<float> predict_samples(const BoostedFit& fit, const Prepared& d, std::size_t width) {
  std::vector<float> out(d.rows.size() * width);
  std::vector<std::uint8_t> known(d.rows.size(), 0);
  auto place = [&](const std::vector<int>& samples, const std::vector<float>& values) {
    for (std::size_t i = 0; i < samples.size(); ++i) {
      const auto s = static_cast<std::size_t>(samples[i]);
      known[s] = 1;
      std::copy_n(&values[i * width], width, &out[s * width]);
    }
  };
  place(fit.fit_idx, fit.model.predict_training());
  if (!fit.validation_idx.empty()) place(fit.validation_idx, fit.model.predict_validation());
  std::vector<int> rest;
  for (std::size_t s = 0; s < d.rows.size(); ++s)
    if (!known[s]) rest.push_back(static_cast<int>(s));
  if (!rest.empty()) place(rest, fit.model.predict(gather(d.X, rest)));
  return out;
}

// Metrics of a boosted fit: rounds trained, rows fitted on, and the early stopping.
void add_boosting_metrics(const BoostedFit& fit, PipelineResult& out) {
  out.metrics["boosting_rounds"] = fit.model.rounds();
  out.metrics["training_rows_used"] = fit.fit_idx.size();
  out.metrics["early_stopping"] = !fit.validation_idx.empty();
  if (fit.validation_idx.empty()) return;
  out.metrics["validation_rows"] = fit.validation_idx.size();
  out.metrics["stopped_early"] = fit.model.stopped_early();
  out.metrics["validation_loss"] = fit.model.validation_losses().back();
}

std::string boosted_version(const char* objective) {
  return BoostedTrees::library_version() + "/gbtree(hist," + objective + ")";
}

// Class votes or probabilities per sample: the predicted class id and its share.
struct ClassChoice {
  std::vector<int> cls;
  std::vector<double> confidence;
};

ClassChoice classify_with_forest(const Prepared& d, const PipelineOptions& o,
                                 const StageReport& report, const CancelToken* cancel,
                                 PipelineResult& out) {
  auto idx = cap_rows(train_indices(d), o.max_train_rows);
  cv::Mat Xtr = gather(d.X, idx);
  cv::Mat ytr(static_cast<int>(idx.size()), 1, CV_32S);
  for (std::size_t i = 0; i < idx.size(); ++i)
    ytr.at<int>(static_cast<int>(i)) = static_cast<int>(d.y[idx[i]]);
  report(60, "model_processing",
         "Training a random forest on " + std::to_string(idx.size()) + " rows");
  auto forest = make_forest(o);
  auto td = cv::ml::TrainData::create(Xtr, cv::ml::ROW_SAMPLE, ytr);
  if (!forest->train(td))
    throw HandlerError(ErrorCode::kInternalError, "random forest training failed");
  if (cancel) cancel->throw_if_cancelled();
  report(75, "model_processing", "Predicting " + std::to_string(d.rows.size()) + " rows");
  cv::Mat votes;
  forest->getVotes(d.X, votes, 0);  // row 0: class labels; row 1+i: votes of sample i
  ClassChoice c{std::vector<int>(d.rows.size()), std::vector<double>(d.rows.size())};
  for (std::size_t s = 0; s < d.rows.size(); ++s) {
    const int* v = votes.ptr<int>(static_cast<int>(s) + 1);
    int best = 0, total = 0;
    for (int k = 0; k < votes.cols; ++k) {
      total += v[k];
      if (v[k] > v[best]) best = k;
    }
    c.cls[s] = votes.at<int>(0, best);
    c.confidence[s] = total ? static_cast<double>(v[best]) / total : 0.0;
  }
  out.model_version = kOpenCv + "/ml.RTrees";
  out.metrics["trees"] = o.max_iterations;
  out.metrics["training_rows_used"] = idx.size();
  return c;
}

ClassChoice classify_with_boosting(const Prepared& d, const PipelineOptions& o,
                                   const StageReport& report, const CancelToken* cancel,
                                   PipelineResult& out) {
  const auto idx = train_indices(d);
  const int classes = static_cast<int>(d.classes.size());
  BoostedTreesParams params;
  params.classes = classes;
  const BoostedFit fit = train_boosted(d, idx, params, o, report, cancel);
  report(75, "model_processing", "Predicting " + std::to_string(d.rows.size()) + " rows");
  const std::vector<float> prob = predict_samples(fit, d, static_cast<std::size_t>(classes));
  ClassChoice c{std::vector<int>(d.rows.size()), std::vector<double>(d.rows.size())};
  for (std::size_t s = 0; s < d.rows.size(); ++s) {
    const float* p = &prob[s * static_cast<std::size_t>(classes)];
    int best = 0;
    for (int k = 1; k < classes; ++k)
      if (p[k] > p[best]) best = k;
    c.cls[s] = best;
    c.confidence[s] = p[best];
  }
  out.model_version = boosted_version("multi:softprob");
  add_boosting_metrics(fit, out);
  return c;
}

}  // namespace

PipelineResult run_classification(const DataTable& table, const PipelineOptions& o,
                                  const StageReport& report, const CancelToken* cancel) {
  const bool forest = o.model == "random_forest";
  report(42, "feature_engineering", "Selecting features and encoding classes");
  Prepared d = prepare_dataset(table, o, TargetUse::kClasses,
                               forest ? MissingValues::kImpute : MissingValues::kKeep);
  if (cancel) cancel->throw_if_cancelled();
  PipelineResult out;
  add_row_columns(out, d, table.rows);
  add_data_metrics(out, d);
  ClassChoice choice = forest ? classify_with_forest(d, o, report, cancel, out)
                              : classify_with_boosting(d, o, report, cancel, out);

  const std::size_t rows = table.rows;
  std::vector<double> conf(rows, kMissing), low(rows, kMissing), pred_num(rows, kMissing);
  std::vector<std::string> pred_text(rows);
  std::vector<int> y_true, y_pred;
  std::size_t low_count = 0;
  for (std::size_t s = 0; s < d.rows.size(); ++s) {
    const int cls = choice.cls[s];
    std::size_t r = d.rows[s];
    conf[r] = choice.confidence[s];
    low[r] = conf[r] < o.confidence_threshold ? 1.0 : 0.0;
    if (d.target_numeric)
      pred_num[r] = d.class_values[static_cast<std::size_t>(cls)];
    else
      pred_text[r] = d.classes[static_cast<std::size_t>(cls)];
    if (d.is_test[r]) {
      y_true.push_back(static_cast<int>(d.y[s]));
      y_pred.push_back(cls);
      low_count += low[r] > 0;
    }
  }
  for (auto& [k, v] : classification_metrics(y_true, y_pred, static_cast<int>(d.classes.size())))
    out.metrics[k] = v;
  boost::json::array classes;
  for (const auto& c : d.classes) classes.emplace_back(c);
  out.metrics["classes"] = std::move(classes);
  out.metrics["confidence_threshold"] = o.confidence_threshold;
  out.metrics["low_confidence_test_records"] = low_count;
  if (d.target_numeric)
    out.columns.push_back(Column::number("prediction", std::move(pred_num), true));
  else
    out.columns.push_back(Column::strings("prediction", std::move(pred_text)));
  out.columns.push_back(Column::number("confidence", std::move(conf)));
  out.columns.push_back(Column::number("low_confidence", std::move(low), true));
  return out;
}

PipelineResult run_regression(const DataTable& table, const PipelineOptions& o,
                              const StageReport& report, const CancelToken* cancel) {
  const bool boosted = o.model == "boosted_trees";
  report(42, "feature_engineering",
         boosted ? "Selecting features" : "Selecting features and imputing missing values");
  Prepared d = prepare_dataset(table, o, TargetUse::kNumeric,
                               boosted ? MissingValues::kKeep : MissingValues::kImpute);
  if (cancel) cancel->throw_if_cancelled();
  PipelineResult out;
  add_row_columns(out, d, table.rows);
  add_data_metrics(out, d);
  auto idx = train_indices(d);
  std::vector<double> pred(d.rows.size());

  if (boosted) {
    BoostedTreesParams params;
    params.objective = BoostedTreesParams::Objective::kSquaredError;
    const BoostedFit fit = train_boosted(d, idx, params, o, report, cancel);
    report(75, "model_processing", "Predicting " + std::to_string(d.rows.size()) + " rows");
    const std::vector<float> p = predict_samples(fit, d, 1);
    for (std::size_t s = 0; s < d.rows.size(); ++s) pred[s] = p[s];
    out.model_version = boosted_version("reg:squarederror");
    add_boosting_metrics(fit, out);
  } else if (o.model == "random_forest") {
    out.model_version = kOpenCv + "/ml.RTrees(regression)";
    idx = cap_rows(idx, o.max_train_rows);
    cv::Mat Xtr = gather(d.X, idx);
    cv::Mat ytr(static_cast<int>(idx.size()), 1, CV_32F);
    for (std::size_t i = 0; i < idx.size(); ++i)
      ytr.at<float>(static_cast<int>(i)) = static_cast<float>(d.y[idx[i]]);
    report(60, "model_processing",
           "Training a regression forest on " + std::to_string(idx.size()) + " rows");
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
    report(60, "model_processing",
           "Fitting least squares on " + std::to_string(idx.size()) + " rows");
    const int f = d.X.cols;
    cv::Mat A(static_cast<int>(idx.size()), f + 1, CV_64F),
        b(static_cast<int>(idx.size()), 1, CV_64F);
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
    for (int c = 0; c < f; ++c)
      coef[d.feature_names[static_cast<std::size_t>(c)]] = beta.at<double>(c);
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
  if (!boosted) out.metrics["training_rows_used"] = idx.size();
  out.columns.push_back(Column::number("prediction", std::move(pcol)));
  out.columns.push_back(Column::number("residual", std::move(resid)));
  return out;
}

}  // namespace streamer::process::detail
