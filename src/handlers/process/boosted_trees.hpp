// Gradient-boosted trees through XGBoost's C API (libxgboost, `hist` tree method):
// training one boosting round at a time so that progress and cancellation are per
// round, and prediction of every row.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include <opencv2/core.hpp>

#include "core/handler.hpp"

namespace streamer::process {

struct BoostedTreesParams {
  enum class Objective { kSoftmax, kSquaredError };
  Objective objective = Objective::kSoftmax;
  int classes = 2;             // kSoftmax: number of classes (labels 0..classes-1)
  int rounds = 100;            // boosting rounds (trees per class)
  int max_depth = 6;           // depth of each tree
  double learning_rate = 0.3;  // shrinkage (XGBoost's eta)
  std::uint64_t seed = 42;
  int threads = 0;  // 0: one per 50,000 training rows, at most the machine's cores
  // Early stopping (only with a validation set): training stops once none of the last
  // `n_iter_no_change` validation scores beats the one before them by more than `tol`.
  int n_iter_no_change = 10;
  double tol = 1e-7;
};

// Held-out rows watched during training for early stopping (same features as X).
struct ValidationSet {
  const cv::Mat& X;
  const std::vector<float>& labels;
};

// The validation loss of predictions (as `predict` returns them) against labels:
// kSoftmax the mean negative log-probability of the true class (probabilities clipped
// at 1e-15), kSquaredError half the mean squared error. Lower is better.
double validation_loss(BoostedTreesParams::Objective objective, int classes,
                       const float* predictions, const std::vector<float>& labels);

// Called after each boosting round with (rounds done, rounds in total).
using RoundReport = std::function<void(int done, int total)>;

// A trained model. Move-only; owns its XGBoost booster handle.
class BoostedTrees {
 public:
  // Trains on the rows of `X` (CV_32F, samples x features; NaN = missing, routed by
  // the learnt default direction) with one label per row (class id or value).
  // Runs params.rounds rounds; after each round calls `on_round`, then throws
  // OperationCancelled if `cancel` has fired, so training stops within one round.
  // With `validation`, its loss is scored before the first round and after each one
  // (its predictions come from the booster's cache: only the new round's trees are
  // traversed), and training stops early as scikit-learn's histogram boosting does:
  // once the scores s_0..s_n (s = -loss) have n >= n_iter_no_change and none of the
  // last n_iter_no_change beats s_{n-n_iter_no_change} + tol. Every round trained is
  // kept. Throws HandlerError(INTERNAL_ERROR) with XGBoost's message when the library
  // fails.
  static BoostedTrees train(const cv::Mat& X, const std::vector<float>& labels,
                            const BoostedTreesParams& params, const RoundReport& on_round,
                            const CancelToken* cancel, const ValidationSet* validation = nullptr);

  // Predictions for every row of `X` (same features as in training): kSoftmax gives
  // rows x classes probabilities (row-major), kSquaredError one value per row. The
  // rows are read in place (XGBoost's in-place prediction: no DMatrix is built).
  std::vector<float> predict(const cv::Mat& X) const;
  // The same for the training rows, in training order, read from the booster's cache
  // of them (kept up to date round by round): no tree is traversed again.
  std::vector<float> predict_training() const;
  // The same for the validation rows given to `train` (empty without them).
  std::vector<float> predict_validation() const;

  int rounds() const noexcept { return rounds_; }  // rounds trained
  bool stopped_early() const noexcept { return stopped_early_; }
  // Validation loss before the first round and after each round (empty without them).
  const std::vector<double>& validation_losses() const noexcept { return losses_; }

  // "xgboost-<major.minor.patch>" of the linked library.
  static std::string library_version();

  BoostedTrees(BoostedTrees&& other) noexcept;
  BoostedTrees& operator=(BoostedTrees&& other) noexcept;
  BoostedTrees(const BoostedTrees&) = delete;
  BoostedTrees& operator=(const BoostedTrees&) = delete;
  ~BoostedTrees();

 private:
  explicit BoostedTrees(void* booster, BoostedTreesParams params) noexcept
      : booster_(booster), params_(params) {}
  std::vector<float> predict_matrix(void* matrix) const;
  void free_handles() noexcept;
  void* booster_ = nullptr;
  void* train_matrix_ = nullptr;       // the training DMatrix (its predictions are cached)
  void* validation_matrix_ = nullptr;  // the validation DMatrix, if any (cached the same way)
  BoostedTreesParams params_;
  int rounds_ = 0;
  bool stopped_early_ = false;
  std::vector<double> losses_;
};

}  // namespace streamer::process
