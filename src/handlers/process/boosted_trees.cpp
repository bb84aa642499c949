#include "handlers/process/boosted_trees.hpp"

#include <xgboost/c_api.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <optional>
#include <thread>
#include <utility>

namespace streamer::process {
namespace {

// Throws INTERNAL_ERROR with XGBoost's last error when a C API call failed.
void check(int rc, const char* what) {
  if (rc != 0)
    throw HandlerError(ErrorCode::kInternalError,
                       std::string("boosted trees: ") + what + " failed: " + XGBGetLastError());
}

// Histogram bins per feature, for the training matrix and the booster alike.
constexpr int kMaxBin = 256;

// The array interface (version 3) describing a continuous CV_32F matrix in place.
std::string array_interface(const cv::Mat& X) {
  CV_Assert(X.type() == CV_32F && X.isContinuous());
  return R"({"data": [)" + std::to_string(reinterpret_cast<std::uintptr_t>(X.ptr<float>())) +
         R"(, true], "shape": [)" + std::to_string(X.rows) + ", " + std::to_string(X.cols) +
         R"(], "typestr": "<f4", "version": 3})";
}

// The rows of a CV_32F matrix (NaN = missing) as one batch of XGBoost's data iterator,
// described by the array interface (no copy: XGBoost reads the matrix in place).
struct DenseBatches {
  DMatrixHandle proxy = nullptr;
  std::string interface;
  bool served = false;

  static void reset(DataIterHandle self) { static_cast<DenseBatches*>(self)->served = false; }
  // Sets the batch on the proxy and returns 1, or 0 when it was served already.
  static int next(DataIterHandle self) {
    auto* b = static_cast<DenseBatches*>(self);
    if (b->served) return 0;
    b->served = true;
    return XGProxyDMatrixSetDataDense(b->proxy, b->interface.c_str()) == 0 ? 1 : 0;
  }
};

// Owns a DMatrix built from the rows of a CV_32F matrix (NaN = missing).
class Matrix {
 public:
  struct Quantised {};
  // The training matrix: only its histogram bin indices (XGBoost's QuantileDMatrix,
  // sketched straight from `X`), not a copy of the values; training rows are predicted
  // from the booster's cache, never traversed from this matrix.
  Matrix(const cv::Mat& X, int threads, Quantised) {
    CV_Assert(X.type() == CV_32F && X.isContinuous());
    DenseBatches batches;
    check(XGProxyDMatrixCreate(&batches.proxy), "creating the data proxy");
    batches.interface = array_interface(X);
    const std::string config = R"({"missing": NaN, "nthread": )" + std::to_string(threads) +
                               R"(, "max_bin": )" + std::to_string(kMaxBin) + "}";
    const int rc =
        XGQuantileDMatrixCreateFromCallback(&batches, batches.proxy, nullptr, &DenseBatches::reset,
                                            &DenseBatches::next, config.c_str(), &handle_);
    XGDMatrixFree(batches.proxy);
    check(rc, "building the quantised training matrix");
  }
  Matrix(const cv::Mat& X, int threads) {
    CV_Assert(X.type() == CV_32F && X.isContinuous());
    check(XGDMatrixCreateFromMat_omp(X.ptr<float>(), static_cast<bst_ulong>(X.rows),
                                     static_cast<bst_ulong>(X.cols),
                                     std::numeric_limits<float>::quiet_NaN(), &handle_, threads),
          "building the data matrix");
  }
  Matrix(const Matrix&) = delete;
  Matrix& operator=(const Matrix&) = delete;
  ~Matrix() {
    if (handle_) XGDMatrixFree(handle_);
  }
  DMatrixHandle get() const noexcept { return handle_; }
  DMatrixHandle release() noexcept { return std::exchange(handle_, nullptr); }

 private:
  DMatrixHandle handle_ = nullptr;
};

// Rows below which another thread costs more than it saves: XGBoost's OpenMP barriers
// (several per round) dominate small data, and on a busy machine each waits for a
// descheduled thread (measured: 900 rows x 30 rounds, 2 threads 5 s, 1 thread 0.1 s).
constexpr int kRowsPerThread = 50'000;

// `requested`, else one thread per kRowsPerThread training rows, up to every core.
int thread_count(int requested, int rows) {
  if (requested > 0) return requested;
  unsigned n = std::thread::hardware_concurrency();
  const int cores = n ? static_cast<int>(n) : 1;
  return std::clamp(rows / kRowsPerThread, 1, cores);
}

void set(BoosterHandle b, const char* name, const std::string& value) {
  check(XGBoosterSetParam(b, name, value.c_str()), "setting a parameter");
}

// True when the last `patience` losses all fail to beat, by more than `tol`, the loss
// just before them (needs patience + 1 losses).
bool no_recent_improvement(const std::vector<double>& losses, int patience, double tol) {
  const auto n = static_cast<std::size_t>(patience);
  if (losses.size() < n + 1) return false;
  const double reference = losses[losses.size() - n - 1];
  return std::none_of(losses.end() - static_cast<std::ptrdiff_t>(n), losses.end(),
                      [&](double loss) { return loss < reference - tol; });
}

}  // namespace

double validation_loss(BoostedTreesParams::Objective objective, int classes,
                       const float* predictions, const std::vector<float>& labels) {
  if (labels.empty()) return 0.0;
  double sum = 0;
  if (objective == BoostedTreesParams::Objective::kSoftmax) {
    const auto k = static_cast<std::size_t>(classes);
    for (std::size_t i = 0; i < labels.size(); ++i) {
      const double p = predictions[i * k + static_cast<std::size_t>(labels[i])];
      sum -= std::log(std::clamp(p, 1e-15, 1.0));
    }
  } else {
    for (std::size_t i = 0; i < labels.size(); ++i) {
      const double e = static_cast<double>(predictions[i]) - labels[i];
      sum += 0.5 * e * e;
    }
  }
  return sum / static_cast<double>(labels.size());
}

std::string BoostedTrees::library_version() {
  int major = 0, minor = 0, patch = 0;
  XGBoostVersion(&major, &minor, &patch);
  return "xgboost-" + std::to_string(major) + "." + std::to_string(minor) + "." +
         std::to_string(patch);
}

BoostedTrees BoostedTrees::train(const cv::Mat& X, const std::vector<float>& labels,
                                 const BoostedTreesParams& params, const RoundReport& on_round,
                                 const CancelToken* cancel, const ValidationSet* validation) {
  CV_Assert(labels.size() == static_cast<std::size_t>(X.rows));
  CV_Assert(!validation ||
            (validation->labels.size() == static_cast<std::size_t>(validation->X.rows) &&
             validation->X.cols == X.cols));
  const int threads = thread_count(params.threads, X.rows);
  Matrix train(X, threads, Matrix::Quantised{});
  check(XGDMatrixSetFloatInfo(train.get(), "label", labels.data(),
                              static_cast<bst_ulong>(labels.size())),
        "setting the labels");
  std::optional<Matrix> watched;
  if (validation) watched.emplace(validation->X, threads);
  BoosterHandle handle = nullptr;
  DMatrixHandle cache[] = {train.get(), watched ? watched->get() : nullptr};
  check(XGBoosterCreate(cache, watched ? 2 : 1, &handle), "creating the booster");
  BoostedTrees model(handle, params);
  model.params_.threads = threads;
  set(handle, "verbosity", "0");
  set(handle, "tree_method", "hist");
  set(handle, "max_bin", std::to_string(kMaxBin));
  set(handle, "nthread", std::to_string(threads));
  set(handle, "max_depth", std::to_string(params.max_depth));
  set(handle, "eta", std::to_string(params.learning_rate));
  set(handle, "seed", std::to_string(params.seed % 2147483648ULL));
  if (params.objective == BoostedTreesParams::Objective::kSoftmax) {
    set(handle, "objective", "multi:softprob");
    set(handle, "num_class", std::to_string(params.classes));
  } else {
    set(handle, "objective", "reg:squarederror");
  }
  // The validation loss of the model so far (cached predictions plus the new trees).
  auto score = [&] {
    const std::vector<float> p = model.predict_matrix(watched->get());
    model.losses_.push_back(
        validation_loss(params.objective, params.classes, p.data(), validation->labels));
  };
  if (watched) score();
  for (int round = 0; round < params.rounds; ++round) {
    check(XGBoosterUpdateOneIter(handle, round, train.get()), "a boosting round");
    model.rounds_ = round + 1;
    if (on_round) on_round(round + 1, params.rounds);
    if (cancel) cancel->throw_if_cancelled();
    if (!watched) continue;
    score();
    if (no_recent_improvement(model.losses_, params.n_iter_no_change, params.tol)) {
      model.stopped_early_ = round + 1 < params.rounds;
      break;
    }
  }
  model.train_matrix_ = train.release();
  if (watched) model.validation_matrix_ = watched->release();
  return model;
}

std::vector<float> BoostedTrees::predict(const cv::Mat& X) const {
  if (X.rows == 0) return {};
  const bst_ulong* shape = nullptr;
  bst_ulong dims = 0;
  const float* values = nullptr;
  check(
      XGBoosterPredictFromDense(
          booster_, array_interface(X).c_str(),
          R"({"type": 0, "training": false, "iteration_begin": 0, "iteration_end": 0, "strict_shape": false, "cache_id": 0, "missing": NaN})",
          nullptr, &shape, &dims, &values),
      "prediction");
  std::size_t n = 1;
  for (bst_ulong d = 0; d < dims; ++d) n *= static_cast<std::size_t>(shape[d]);
  return std::vector<float>(values, values + n);
}

std::vector<float> BoostedTrees::predict_training() const { return predict_matrix(train_matrix_); }

std::vector<float> BoostedTrees::predict_validation() const {
  return validation_matrix_ ? predict_matrix(validation_matrix_) : std::vector<float>{};
}

std::vector<float> BoostedTrees::predict_matrix(void* matrix) const {
  const bst_ulong* shape = nullptr;
  bst_ulong dims = 0;
  const float* values = nullptr;
  check(
      XGBoosterPredictFromDMatrix(
          booster_, matrix,
          R"({"type": 0, "training": false, "iteration_begin": 0, "iteration_end": 0, "strict_shape": false})",
          &shape, &dims, &values),
      "prediction");
  std::size_t n = 1;
  for (bst_ulong d = 0; d < dims; ++d) n *= static_cast<std::size_t>(shape[d]);
  return std::vector<float>(values, values + n);
}

BoostedTrees::BoostedTrees(BoostedTrees&& other) noexcept
    : booster_(std::exchange(other.booster_, nullptr)),
      train_matrix_(std::exchange(other.train_matrix_, nullptr)),
      validation_matrix_(std::exchange(other.validation_matrix_, nullptr)),
      params_(other.params_),
      rounds_(other.rounds_),
      stopped_early_(other.stopped_early_),
      losses_(std::move(other.losses_)) {}

BoostedTrees& BoostedTrees::operator=(BoostedTrees&& other) noexcept {
  if (this != &other) {
    free_handles();
    booster_ = std::exchange(other.booster_, nullptr);
    train_matrix_ = std::exchange(other.train_matrix_, nullptr);
    validation_matrix_ = std::exchange(other.validation_matrix_, nullptr);
    params_ = other.params_;
    rounds_ = other.rounds_;
    stopped_early_ = other.stopped_early_;
    losses_ = std::move(other.losses_);
  }
  return *this;
}

BoostedTrees::~BoostedTrees() { free_handles(); }

void BoostedTrees::free_handles() noexcept {
  if (booster_) XGBoosterFree(booster_);
  if (train_matrix_) XGDMatrixFree(train_matrix_);
  if (validation_matrix_) XGDMatrixFree(validation_matrix_);
}

}  // namespace streamer::process
