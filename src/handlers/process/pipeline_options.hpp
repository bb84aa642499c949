// Options shared by every pipeline (payload `options`, validated in payload.cpp).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace streamer::process {

enum class PipelineKind { kClassification, kRegression, kClustering, kAnomaly };

struct PipelineOptions {
  PipelineKind kind = PipelineKind::kClassification;
  std::optional<std::string> target;  // default: "label", else the last column (supervised)
  std::vector<std::string> features;  // default: numeric columns except the target
  double confidence_threshold = 0.5;  // classification: below -> low_confidence
  int max_iterations = 100;           // boosting rounds / forest trees, k-means/EM iterations
  int k = 3;                    // clusters (clustering); mixture components (anomaly, default 1)
  std::optional<int> k_given;   // k as sent, if sent
  double test_fraction = 0.2;   // held-out share, (0, 0.9]
  std::uint64_t seed = 42;      // split, k-means initialisation, boosting
  double contamination = 0.01;  // anomaly: expected share of outliers, (0, 0.5)
  // classification: "boosted_trees" (default) | "random_forest";
  // regression: "linear" (default) | "boosted_trees" | "random_forest".
  std::string model;
  std::optional<int> max_depth;  // tree depth; default 6 (boosted trees), 12 (random forest)
  double learning_rate = 0.3;    // boosted trees: shrinkage per round, (0, 1]
  // Boosted trees: stop when the loss on validation rows (held out of the training
  // rows) stops improving. Unset ("auto"): on when there are more than 10,000 training rows.
  std::optional<bool> early_stopping;
  double validation_fraction = 0.1;      // share of training rows held out for it, (0, 0.5]
  int n_iter_no_change = 10;             // rounds without improvement before it stops
  std::size_t max_train_rows = 200'000;  // random forests train on at most this many rows
};

const char* to_string(PipelineKind kind) noexcept;

}  // namespace streamer::process
