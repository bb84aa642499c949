#include "handlers/process/metrics.hpp"

#include <cmath>
#include <set>

namespace streamer::process {

boost::json::object classification_metrics(const std::vector<int>& y_true,
                                           const std::vector<int>& y_pred, int classes) {
  std::vector<double> tp(classes, 0), fp(classes, 0), fn(classes, 0);
  std::vector<bool> present(classes, false);
  std::size_t correct = 0;
  for (std::size_t i = 0; i < y_true.size(); ++i) {
    int t = y_true[i], p = y_pred[i];
    present[t] = present[p] = true;
    if (t == p)
      ++correct, tp[t] += 1;
    else
      fp[p] += 1, fn[t] += 1;
  }
  double P = 0, R = 0, F = 0;
  int n = 0;
  for (int c = 0; c < classes; ++c) {
    if (!present[c]) continue;
    double prec = tp[c] + fp[c] > 0 ? tp[c] / (tp[c] + fp[c]) : 0.0;
    double rec = tp[c] + fn[c] > 0 ? tp[c] / (tp[c] + fn[c]) : 0.0;
    double f1 = prec + rec > 0 ? 2 * prec * rec / (prec + rec) : 0.0;
    P += prec, R += rec, F += f1, ++n;
  }
  boost::json::object m;
  m["accuracy"] =
      y_true.empty() ? 0.0 : static_cast<double>(correct) / static_cast<double>(y_true.size());
  m["precision"] = n ? P / n : 0.0;
  m["recall"] = n ? R / n : 0.0;
  m["f1_score"] = n ? F / n : 0.0;
  m["average"] = "macro";
  return m;
}

boost::json::object regression_metrics(const std::vector<double>& y, const std::vector<double>& p) {
  double mean = 0;
  for (double v : y) mean += v;
  mean /= std::max<std::size_t>(y.size(), 1);
  double ss_res = 0, ss_tot = 0, abs_err = 0;
  for (std::size_t i = 0; i < y.size(); ++i) {
    double e = y[i] - p[i];
    ss_res += e * e;
    ss_tot += (y[i] - mean) * (y[i] - mean);
    abs_err += std::fabs(e);
  }
  const double n = static_cast<double>(std::max<std::size_t>(y.size(), 1));
  boost::json::object m;
  m["r2"] = ss_tot > 0 ? 1.0 - ss_res / ss_tot : 0.0;
  m["rmse"] = std::sqrt(ss_res / n);
  m["mae"] = abs_err / n;
  return m;
}

double silhouette(const cv::Mat& X, const std::vector<int>& labels) {
  std::set<int> distinct(labels.begin(), labels.end());
  if (distinct.size() < 2) return 0.0;
  int maxl = *distinct.rbegin();
  std::vector<std::size_t> size(maxl + 1, 0);
  for (int l : labels) ++size[l];
  const int n = X.rows, d = X.cols;
  double total = 0;
  std::vector<double> sum(maxl + 1);
  for (int i = 0; i < n; ++i) {
    std::fill(sum.begin(), sum.end(), 0.0);
    const float* a = X.ptr<float>(i);
    for (int j = 0; j < n; ++j) {
      if (j == i) continue;
      const float* b = X.ptr<float>(j);
      double s = 0;
      for (int c = 0; c < d; ++c)
        s += (static_cast<double>(a[c]) - b[c]) * (static_cast<double>(a[c]) - b[c]);
      sum[labels[j]] += std::sqrt(s);
    }
    int own = labels[i];
    if (size[own] <= 1) continue;  // sklearn: silhouette 0 for singleton clusters
    double ai = sum[own] / static_cast<double>(size[own] - 1);
    double bi = std::numeric_limits<double>::infinity();
    for (int l = 0; l <= maxl; ++l)
      if (l != own && size[l] > 0) bi = std::min(bi, sum[l] / static_cast<double>(size[l]));
    double m = std::max(ai, bi);
    total += m > 0 ? (bi - ai) / m : 0.0;
  }
  return total / n;
}

}  // namespace streamer::process
