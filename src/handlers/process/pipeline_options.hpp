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
  std::optional<std::string> target;     // default: "label", else the last column (supervised)
  std::vector<std::string> features;     // default: numeric columns except the target
  double confidence_threshold = 0.5;     // classification: below -> low_confidence
  int max_iterations = 100;              // trees (random forest), k-means/EM iterations
  int k = 3;                             // clusters (clustering); mixture components (anomaly, default 1)
  std::optional<int> k_given;            // k as sent, if sent
  double test_fraction = 0.2;            // held-out share, (0, 0.9]
  std::uint64_t seed = 42;               // split, k-means initialisation
  double contamination = 0.01;           // anomaly: expected share of outliers, (0, 0.5)
  std::string model;                     // regression: "linear" (default) | "random_forest"
  int max_depth = 12;                    // random forest tree depth
  std::size_t max_train_rows = 200'000;  // random forests train on at most this many rows
};

const char* to_string(PipelineKind kind) noexcept;

}  // namespace streamer::process
