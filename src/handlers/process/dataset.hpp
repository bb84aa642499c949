// Turns a DataTable into model inputs: the deterministic train/test split, target
// and feature selection, imputation of missing values and one-hot encoding.
#pragma once

#include <opencv2/core.hpp>
#include <string>
#include <vector>

#include "handlers/process/pipeline_options.hpp"
#include "handlers/process/table.hpp"

namespace streamer::process {

// The documented split: row i (0-based, in source order) is held out for testing iff
//   u(i) = (splitmix64(seed XOR (i * 0xD1B54A32D192ED03)) >> 11) * 2^-53  <  test_fraction
// (splitmix64 as in Vigna's reference: x += 0x9E3779B97F4A7C15, then two
// xor-shift-multiply rounds). If that leaves no test row, the row with the smallest
// u is held out; if it leaves no training row, the one with the largest u trains.
// Returns one flag per row (1 = test).
std::vector<std::uint8_t> split_rows(std::size_t rows, double test_fraction, std::uint64_t seed);
std::uint64_t splitmix64(std::uint64_t x) noexcept;

enum class TargetUse { kNumeric, kClasses, kNone };
// kImpute: missing numeric cells get the training mean. kKeep: they stay NaN in X, for
// models that handle missing values themselves (boosted trees).
enum class MissingValues { kImpute, kKeep };

struct Prepared {
  std::vector<std::size_t> rows;      // source row of each sample
  std::vector<std::uint8_t> is_test;  // per source row (all rows)
  cv::Mat X;                          // samples x features, CV_32F, imputed and encoded
  std::vector<std::string> feature_names;
  std::vector<std::string> encoded_columns;  // text columns that were one-hot encoded
  std::string target;                        // target column name, empty when none
  std::vector<double> y;                     // per sample: value (kNumeric) or class id (kClasses)
  std::vector<std::string> classes;          // class id -> label text
  std::vector<double> class_values;          // class id -> numeric label (numeric targets)
  bool target_numeric = true;
  std::size_t imputed_values = 0;  // missing feature cells filled in
  std::size_t missing_kept = 0;    // missing numeric cells left as NaN (MissingValues::kKeep)
  std::size_t dropped_rows = 0;    // rows without a target value (not used)
};

// Selects target and features per `options` and builds the matrices.
// Target: options.target, else a column named "label", else (kNumeric/kClasses) the
// last column. With kNone the target is only excluded from the features.
// Features: options.features, else every numeric column except the target. Listed
// text columns are one-hot encoded (at most 64 distinct values, learnt on training
// rows; a missing value is its own category). Missing numeric cells get the training
// mean (or stay NaN with MissingValues::kKeep). Rows without a target are dropped and
// counted.
// Throws HandlerError::validation for an unknown target/feature column, a text target
// for regression, more than 100 classes, fewer than two classes, or no usable
// numeric feature (non-numeric data).
Prepared prepare_dataset(const DataTable& table, const PipelineOptions& options, TargetUse use,
                         MissingValues missing = MissingValues::kImpute);

// Feature standardisation learnt on the training samples (population std; a
// constant column keeps std 1). Applied in place to all samples.
void standardize(Prepared& data);

}  // namespace streamer::process
