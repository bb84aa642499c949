// Clustering (cv::kmeans) and anomaly detection (cv::ml::EM) pipelines.
#include <opencv2/ml.hpp>

#include <algorithm>
#include <cmath>

#include "handlers/process/metrics.hpp"
#include "handlers/process/pipeline_common.hpp"

namespace streamer::process::detail {
namespace {

constexpr std::size_t kSilhouetteSample = 2000;

// Squared distance of row `x` to its nearest center; sets `best`.
double nearest(const float* x, const cv::Mat& centers, int& best) {
  double bd = std::numeric_limits<double>::infinity();
  for (int c = 0; c < centers.rows; ++c) {
    const float* m = centers.ptr<float>(c);
    double s = 0;
    for (int j = 0; j < centers.cols; ++j)
      s += (static_cast<double>(x[j]) - m[j]) * (static_cast<double>(x[j]) - m[j]);
    if (s < bd) bd = s, best = c;
  }
  return bd;
}

// Quantile q of `v` (linear interpolation, numpy's default).
double quantile(std::vector<double> v, double q) {
  std::sort(v.begin(), v.end());
  double pos = q * static_cast<double>(v.size() - 1);
  std::size_t lo = static_cast<std::size_t>(std::floor(pos));
  std::size_t hi = std::min(lo + 1, v.size() - 1);
  return v[lo] + (v[hi] - v[lo]) * (pos - static_cast<double>(lo));
}

cv::Ptr<cv::ml::EM> fit_em(const cv::Mat& X, int components, int iterations) {
  auto em = cv::ml::EM::create();
  em->setClustersNumber(components);
  em->setCovarianceMatrixType(components == 1 ? cv::ml::EM::COV_MAT_GENERIC
                                              : cv::ml::EM::COV_MAT_DIAGONAL);
  em->setTermCriteria(
      cv::TermCriteria(cv::TermCriteria::COUNT + cv::TermCriteria::EPS, iterations, 1e-6));
  if (!em->trainEM(X)) throw HandlerError(ErrorCode::kInternalError, "EM training failed");
  return em;
}

std::vector<double> em_scores(const cv::ml::EM& em, const cv::Mat& X) {
  std::vector<double> s(static_cast<std::size_t>(X.rows));
  for (int i = 0; i < X.rows; ++i)
    s[static_cast<std::size_t>(i)] = -em.predict2(X.row(i), cv::noArray())[0];
  return s;
}

// The shared start of the unsupervised pipelines: features selected and
// standardised into `d`, and a result carrying the model name, the rows and the data
// metrics.
PipelineResult start_unsupervised(const DataTable& table, const PipelineOptions& o,
                                  const StageReport& report, const CancelToken* cancel,
                                  const char* model, Prepared& d) {
  report(42, "feature_engineering", "Selecting and standardising features");
  d = prepare_dataset(table, o, TargetUse::kNone);
  standardize(d);
  if (cancel) cancel->throw_if_cancelled();
  PipelineResult out;
  out.model_version = kOpenCv + model;
  add_row_columns(out, d, table.rows);
  add_data_metrics(out, d);
  return out;
}

}  // namespace

PipelineResult run_clustering(const DataTable& table, const PipelineOptions& o,
                              const StageReport& report, const CancelToken* cancel) {
  Prepared d;
  PipelineResult out = start_unsupervised(table, o, report, cancel, "/core.kmeans", d);
  cv::Mat train = select_rows(d.X, d, false);
  if (train.rows < o.k)
    throw HandlerError::validation("options.k", "at most the number of training rows", o.k,
                                   "k is larger than the number of training rows");
  report(60, "model_processing", "Running k-means with k=" + std::to_string(o.k));
  cv::theRNG().state = o.seed ? o.seed : 0xffffffffULL;
  cv::Mat labels, centers;
  double inertia = cv::kmeans(
      train, o.k, labels,
      cv::TermCriteria(cv::TermCriteria::COUNT + cv::TermCriteria::EPS, o.max_iterations, 1e-6), 3,
      cv::KMEANS_PP_CENTERS, centers);
  if (cancel) cancel->throw_if_cancelled();
  report(75, "model_processing", "Assigning rows to clusters");
  std::vector<double> cluster(table.rows, kMissing), dist(table.rows, kMissing);
  std::vector<std::size_t> sizes(static_cast<std::size_t>(o.k), 0);
  std::vector<int> test_labels;
  std::vector<int> test_rows;
  double test_inertia = 0;
  for (std::size_t s = 0; s < d.rows.size(); ++s) {
    int best = 0;
    double sq = nearest(d.X.ptr<float>(static_cast<int>(s)), centers, best);
    std::size_t r = d.rows[s];
    cluster[r] = best;
    dist[r] = std::sqrt(sq);
    ++sizes[static_cast<std::size_t>(best)];
    if (d.is_test[r]) {
      test_inertia += sq;
      if (test_rows.size() < kSilhouetteSample)
        test_rows.push_back(static_cast<int>(s)), test_labels.push_back(best);
    }
  }
  cv::Mat sample(static_cast<int>(test_rows.size()), d.X.cols, CV_32F);
  for (std::size_t i = 0; i < test_rows.size(); ++i)
    d.X.row(test_rows[i]).copyTo(sample.row(static_cast<int>(i)));
  out.metrics["silhouette"] = silhouette(sample, test_labels);
  out.metrics["silhouette_sample"] = test_rows.size();
  out.metrics["inertia"] = inertia;
  out.metrics["test_inertia"] = test_inertia;
  boost::json::array sz;
  for (auto s : sizes) sz.emplace_back(s);
  out.metrics["cluster_sizes"] = std::move(sz);
  out.metrics["k"] = o.k;
  out.columns.push_back(Column::number("cluster", std::move(cluster), true));
  out.columns.push_back(Column::number("distance", std::move(dist)));
  return out;
}

PipelineResult run_anomaly(const DataTable& table, const PipelineOptions& o,
                           const StageReport& report, const CancelToken* cancel) {
  Prepared d;
  PipelineResult out = start_unsupervised(table, o, report, cancel, "/ml.EM", d);
  const int components = o.k_given ? *o.k_given : 1;
  cv::Mat train = select_rows(d.X, d, false);
  if (train.rows < std::max(components * 2, d.X.cols + 2))
    throw HandlerError(ErrorCode::kValidationError,
                       "not enough training rows for the anomaly model",
                       {{"field", "data_source"},
                        {"expected", "more training rows than features"},
                        {"received", std::to_string(train.rows) + " rows"}});
  report(60, "model_processing", "Fitting a Gaussian mixture (EM)");
  cv::theRNG().state = o.seed ? o.seed : 0xffffffffULL;
  auto em = fit_em(train, components, o.max_iterations);
  if (cancel) cancel->throw_if_cancelled();
  // Refit without the most unlikely training rows so outliers do not widen the model.
  auto first = em_scores(*em, train);
  double cut = quantile(first, 1.0 - o.contamination);
  cv::Mat clean;
  for (int i = 0; i < train.rows; ++i)
    if (first[static_cast<std::size_t>(i)] <= cut) clean.push_back(train.row(i));
  report(70, "model_processing", "Refitting on " + std::to_string(clean.rows) + " inliers");
  em = fit_em(clean, components, o.max_iterations);
  if (cancel) cancel->throw_if_cancelled();
  double threshold = quantile(em_scores(*em, train), 1.0 - o.contamination);
  report(78, "model_processing", "Scoring rows");
  auto scores = em_scores(*em, d.X);
  std::vector<double> score(table.rows, kMissing), flag(table.rows, kMissing);
  std::size_t count = 0, test_count = 0, tests = 0;
  for (std::size_t s = 0; s < d.rows.size(); ++s) {
    std::size_t r = d.rows[s];
    score[r] = scores[s];
    flag[r] = scores[s] > threshold ? 1.0 : 0.0;
    count += flag[r] > 0;
    if (d.is_test[r]) ++tests, test_count += flag[r] > 0;
  }
  out.metrics["anomaly_count"] = count;
  out.metrics["anomaly_rate"] =
      d.rows.empty() ? 0.0 : static_cast<double>(count) / static_cast<double>(d.rows.size());
  out.metrics["test_anomaly_count"] = test_count;
  out.metrics["test_anomaly_rate"] =
      tests ? static_cast<double>(test_count) / static_cast<double>(tests) : 0.0;
  out.metrics["score_threshold"] = threshold;
  out.metrics["contamination"] = o.contamination;
  out.metrics["components"] = components;
  // A 0/1 label column (options.target or "label") scores the detector on the test rows.
  int label = o.target ? table.find(*o.target) : table.find("label");
  if (label >= 0 && table.columns[static_cast<std::size_t>(label)].numeric()) {
    const auto& lab = table.columns[static_cast<std::size_t>(label)].numbers;
    std::vector<int> yt, yp;
    for (auto r : d.rows)
      if (d.is_test[r] && !is_missing(lab[r])) yt.push_back(lab[r] != 0), yp.push_back(flag[r] > 0);
    auto m = classification_metrics(yt, yp, 2);
    double tp = 0, fp = 0, fn = 0;
    for (std::size_t i = 0; i < yt.size(); ++i)
      tp += yt[i] && yp[i], fp += !yt[i] && yp[i], fn += yt[i] && !yp[i];
    out.metrics["precision"] = tp + fp > 0 ? tp / (tp + fp) : 0.0;
    out.metrics["recall"] = tp + fn > 0 ? tp / (tp + fn) : 0.0;
    out.metrics["accuracy"] = m["accuracy"];
  }
  out.columns.push_back(Column::number("anomaly_score", std::move(score)));
  out.columns.push_back(Column::number("is_anomaly", std::move(flag), true));
  return out;
}

}  // namespace streamer::process::detail
