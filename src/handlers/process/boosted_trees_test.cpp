#include "handlers/process/boosted_trees.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>

using namespace streamer;
using namespace streamer::process;

namespace {

// Three classes around (0,0), (4,-4), (8,-8) with noise; every 10th x1 missing.
struct Data {
  cv::Mat X;
  std::vector<float> y;
};

Data separable(int n, unsigned seed = 5) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> noise(0, 0.7f);
  Data d{cv::Mat(n, 2, CV_32F), {}};
  for (int i = 0; i < n; ++i) {
    int c = i % 3;
    d.X.at<float>(i, 0) = i % 10 == 0 ? NAN : 4.0f * c + noise(rng);
    d.X.at<float>(i, 1) = -4.0f * c + noise(rng);
    d.y.push_back(static_cast<float>(c));
  }
  return d;
}

BoostedTreesParams three_classes(int rounds) {
  BoostedTreesParams p;
  p.classes = 3;
  p.rounds = rounds;
  p.threads = 1;
  return p;
}

}  // namespace

TEST(BoostedTrees, LearnsSeparableClassesWithMissingValues) {
  Data d = separable(1500);
  auto model = BoostedTrees::train(d.X, d.y, three_classes(20), {}, nullptr);
  std::vector<float> prob = model.predict(d.X);
  ASSERT_EQ(prob.size(), 1500u * 3);
  int right = 0;
  for (int i = 0; i < 1500; ++i) {
    const float* p = &prob[static_cast<std::size_t>(i) * 3];
    EXPECT_NEAR(p[0] + p[1] + p[2], 1.0f, 1e-4f);
    int best = static_cast<int>(std::max_element(p, p + 3) - p);
    right += best == static_cast<int>(d.y[static_cast<std::size_t>(i)]);
  }
  EXPECT_GE(right, 1480);
  // The cached predictions of the training rows are the ones a new pass computes.
  std::vector<float> cached = model.predict_training();
  ASSERT_EQ(cached.size(), prob.size());
  for (std::size_t i = 0; i < prob.size(); ++i) EXPECT_NEAR(cached[i], prob[i], 1e-6f) << i;
  EXPECT_EQ(BoostedTrees::library_version().rfind("xgboost-1.", 0), 0u);
}

TEST(BoostedTrees, RegressionFitsASmoothTarget) {
  cv::Mat X(2000, 1, CV_32F);
  std::vector<float> y;
  for (int i = 0; i < 2000; ++i) {
    float x = static_cast<float>(i) / 200.0f;
    X.at<float>(i) = x;
    y.push_back(3 * x + 1);
  }
  BoostedTreesParams p;
  p.objective = BoostedTreesParams::Objective::kSquaredError;
  p.rounds = 60;
  auto pred = BoostedTrees::train(X, y, p, {}, nullptr).predict(X);
  ASSERT_EQ(pred.size(), 2000u);
  float worst = 0;
  for (int i = 0; i < 2000; ++i) worst = std::max(worst, std::fabs(pred[i] - y[i]));
  EXPECT_LT(worst, 0.5);
}

TEST(BoostedTrees, ReportsEveryRoundInOrder) {
  Data d = separable(300);
  std::vector<int> seen;
  BoostedTrees::train(
      d.X, d.y, three_classes(7),
      [&](int done, int total) {
        EXPECT_EQ(total, 7);
        seen.push_back(done);
      },
      nullptr);
  EXPECT_EQ(seen, (std::vector<int>{1, 2, 3, 4, 5, 6, 7}));
}

TEST(BoostedTrees, CancelStopsTrainingAfterTheCurrentRound) {
  Data d = separable(300);
  CancelToken cancel;
  int rounds = 0;
  EXPECT_THROW(BoostedTrees::train(
                   d.X, d.y, three_classes(500),
                   [&](int done, int) {
                     rounds = done;
                     if (done == 3) cancel.cancel(CancelToken::Reason::kCancelled);
                   },
                   &cancel),
               OperationCancelled);
  EXPECT_EQ(rounds, 3);
}

TEST(BoostedTrees, LibraryErrorsBecomeHandlerErrors) {
  Data d = separable(30);
  BoostedTreesParams p = three_classes(2);
  p.classes = 2;  // labels go up to 2: XGBoost refuses a label >= num_class
  try {
    BoostedTrees::train(d.X, d.y, p, {}, nullptr);
    FAIL() << "expected an error";
  } catch (const HandlerError& e) {
    EXPECT_NE(std::string(e.what()).find("boosted trees"), std::string::npos) << e.what();
  }
}

TEST(BoostedTrees, ValidationLossIsLogLossOrHalfSquaredError) {
  const std::vector<float> uniform(6, 1.0f / 3), labels{0, 2};
  EXPECT_NEAR(validation_loss(BoostedTreesParams::Objective::kSoftmax, 3, uniform.data(), labels),
              std::log(3.0), 1e-6);
  const std::vector<float> sure{1, 0, 0, 1, 0, 0};  // class 0 for both: the second is wrong
  EXPECT_NEAR(validation_loss(BoostedTreesParams::Objective::kSoftmax, 3, sure.data(), labels),
              -std::log(1e-15) / 2, 1e-6);  // clipped, not infinite
  const std::vector<float> pred{1, 5};
  EXPECT_NEAR(validation_loss(BoostedTreesParams::Objective::kSquaredError, 1, pred.data(), {0, 2}),
              (0.5 * 1 + 0.5 * 9) / 2, 1e-9);
}

TEST(BoostedTrees, StopsEarlyWhenTheValidationLossStallsAndKeepsEveryRound) {
  Data d = separable(3000), v = separable(600, 6);
  BoostedTreesParams p = three_classes(1000);
  const ValidationSet validation{v.X, v.y};
  int reported = 0;
  auto model = BoostedTrees::train(
      d.X, d.y, p, [&](int done, int) { reported = done; }, nullptr, &validation);
  ASSERT_TRUE(model.stopped_early());
  EXPECT_LT(model.rounds(), 1000);
  EXPECT_EQ(reported, model.rounds());
  const std::vector<double>& loss = model.validation_losses();
  ASSERT_EQ(loss.size(), static_cast<std::size_t>(model.rounds()) + 1);  // before round 1 too
  EXPECT_NEAR(loss[0], std::log(3.0), 1e-6);  // no tree yet: uniform probabilities
  // The rule holds at the last round and at no earlier one: none of the last 10 losses
  // beats the one before them by more than tol.
  auto stalled = [&](std::size_t end) {
    const double reference = loss[end - 11];
    for (std::size_t i = end - 10; i < end; ++i)
      if (loss[i] < reference - p.tol) return false;
    return true;
  };
  EXPECT_TRUE(stalled(loss.size()));
  for (std::size_t end = 11; end < loss.size(); ++end) EXPECT_FALSE(stalled(end)) << end;
  // The last loss is that of the final model, whose validation predictions the cache holds.
  const std::vector<float> cached = model.predict_validation(), fresh = model.predict(v.X);
  ASSERT_EQ(cached.size(), fresh.size());
  for (std::size_t i = 0; i < fresh.size(); ++i) EXPECT_NEAR(cached[i], fresh[i], 1e-6f) << i;
  EXPECT_NEAR(validation_loss(p.objective, 3, fresh.data(), v.y), loss.back(), 1e-6);
}

TEST(BoostedTrees, WithoutValidationRowsEveryRoundRuns) {
  Data d = separable(600);
  auto model = BoostedTrees::train(d.X, d.y, three_classes(40), {}, nullptr);
  EXPECT_EQ(model.rounds(), 40);
  EXPECT_FALSE(model.stopped_early());
  EXPECT_TRUE(model.validation_losses().empty());
  EXPECT_TRUE(model.predict_validation().empty());
}
