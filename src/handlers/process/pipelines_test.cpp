#include <gtest/gtest.h>

#include <algorithm>

#include <random>

#include "handlers/process/dataset.hpp"
#include "handlers/process/output_writer.hpp"
#include "handlers/process/payload.hpp"
#include "handlers/process/pipelines.hpp"
#include "handlers/process/test_util.hpp"

using namespace streamer;
using namespace streamer::process;

namespace {

const StageReport kQuiet = [](double, std::string_view, std::string_view) {};

PipelineOptions options(PipelineKind kind) {
  PipelineOptions o;
  o.kind = kind;
  o.max_iterations = 30;
  return o;
}

double metric(const PipelineResult& r, const char* name) {
  return r.metrics.at(name).to_number<double>();
}

// Two Gaussian blobs per class, far apart: a forest must be (nearly) perfect.
DataTable separable(std::size_t n, std::mt19937& rng) {
  std::normal_distribution<double> noise(0, 0.5);
  std::vector<double> x1, x2;
  std::vector<std::string> label;
  for (std::size_t i = 0; i < n; ++i) {
    int c = static_cast<int>(i % 3);
    x1.push_back(c * 5.0 + noise(rng));
    x2.push_back(-c * 5.0 + noise(rng));
    label.push_back(c == 0 ? "red" : c == 1 ? "green" : "blue");
  }
  DataTable t;
  t.add(Column::number("x1", x1));
  t.add(Column::number("x2", x2));
  t.add(Column::strings("label", label));
  return t;
}

}  // namespace

TEST(Split, IsDeterministicAndNeverEmpty) {
  auto a = split_rows(1000, 0.2, 7), b = split_rows(1000, 0.2, 7), c = split_rows(1000, 0.2, 8);
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
  std::size_t test = 0;
  for (auto f : a) test += f;
  EXPECT_NEAR(static_cast<double>(test), 200.0, 45.0);
  auto tiny = split_rows(2, 0.01, 1);
  EXPECT_EQ(tiny[0] + tiny[1], 1);
  // Reference values for the documented formula (also used by the Python e2e tests).
  EXPECT_EQ(splitmix64(0), 0xE220A8397B1DCDAFULL);
}

TEST(Pipelines, ClassificationOnSeparableClasses) {
  std::mt19937 rng(1);
  auto t = separable(900, rng);
  auto r = run_pipeline(t, options(PipelineKind::kClassification), kQuiet, nullptr);
  EXPECT_GE(metric(r, "accuracy"), 0.99);
  EXPECT_GE(metric(r, "f1_score"), 0.99);
  EXPECT_EQ(r.metrics.at("classes").as_array().size(), 3u);
  EXPECT_EQ(r.model_version.rfind("xgboost-1.", 0), 0u) << r.model_version;
  EXPECT_NE(r.model_version.find("gbtree(hist,multi:softprob)"), std::string::npos);
  EXPECT_EQ(r.metrics.at("boosting_rounds").to_number<int>(), 30);
  const Column& pred = r.columns[2];
  EXPECT_EQ(pred.name, "prediction");
  EXPECT_EQ(pred.text[0], "red");
  // Confidence is the winning class's probability.
  for (double c : r.columns[3].numbers) EXPECT_TRUE(c > 0.33 && c <= 1.0) << c;

  auto o = options(PipelineKind::kClassification);
  o.model = "random_forest";
  auto forest = run_pipeline(t, o, kQuiet, nullptr);
  EXPECT_GE(metric(forest, "accuracy"), 0.99);
  EXPECT_NE(forest.model_version.find("RTrees"), std::string::npos);
}

// Early stopping holds out a share of the training rows (the documented split, seed
// splitmix64(seed)), stops when their loss stalls, and reports it; "auto" leaves it off
// for small data.
TEST(Pipelines, BoostedTreesStopEarlyOnValidationRows) {
  std::mt19937 rng(1);
  auto t = separable(3000, rng);
  auto o = options(PipelineKind::kClassification);
  o.max_iterations = 2000;
  o.early_stopping = true;
  o.validation_fraction = 0.2;
  std::string stop_message;
  const StageReport record = [&](double, std::string_view, std::string_view msg) {
    if (msg.rfind("Stopped early", 0) == 0) stop_message = std::string(msg);
  };
  auto r = run_pipeline(t, o, record, nullptr);
  EXPECT_TRUE(r.metrics.at("stopped_early").as_bool());
  const int rounds = r.metrics.at("boosting_rounds").to_number<int>();
  EXPECT_LT(rounds, 2000);
  EXPECT_NE(stop_message.find("after " + std::to_string(rounds) + " rounds"), std::string::npos)
      << stop_message;
  const auto train = r.metrics.at("train_records").to_number<std::size_t>();
  const auto validation = r.metrics.at("validation_rows").to_number<std::size_t>();
  std::size_t expected = 0;
  for (auto held : split_rows(train, 0.2, splitmix64(o.seed))) expected += held;
  EXPECT_EQ(validation, expected);
  EXPECT_EQ(r.metrics.at("training_rows_used").to_number<std::size_t>() + validation, train);
  EXPECT_GT(metric(r, "validation_loss"), 0.0);
  EXPECT_GE(metric(r, "accuracy"), 0.99);

  o.early_stopping.reset();  // auto: 2,400 training rows are too few
  o.max_iterations = 25;
  auto small = run_pipeline(t, o, kQuiet, nullptr);
  EXPECT_FALSE(small.metrics.at("early_stopping").as_bool());
  EXPECT_EQ(small.metrics.at("boosting_rounds").to_number<int>(), 25);
  EXPECT_FALSE(small.metrics.contains("validation_rows"));
}

// Boosted regression stops early the same way, on half the squared error.
TEST(Pipelines, BoostedRegressionStopsEarly) {
  std::mt19937 rng(3);
  std::normal_distribution<double> noise(0, 0.3);
  std::vector<double> a, y;
  for (int i = 0; i < 3000; ++i) {
    a.push_back((i % 300) / 30.0);
    y.push_back(2 * a.back() + noise(rng));
  }
  DataTable t;
  t.add(Column::number("a", a));
  t.add(Column::number("y", y));
  auto o = options(PipelineKind::kRegression);
  o.model = "boosted_trees";
  o.max_iterations = 3000;
  o.early_stopping = true;
  auto r = run_pipeline(t, o, kQuiet, nullptr);
  EXPECT_TRUE(r.metrics.at("stopped_early").as_bool());
  EXPECT_LT(r.metrics.at("boosting_rounds").to_number<int>(), 3000);
  EXPECT_EQ(r.metrics.at("training_rows_used").to_number<std::size_t>() +
                r.metrics.at("validation_rows").to_number<std::size_t>(),
            r.metrics.at("train_records").to_number<std::size_t>());
  EXPECT_LT(metric(r, "validation_loss"), 0.5 * 0.3 * 0.3 * 1.5);  // near the noise floor
  EXPECT_GE(metric(r, "r2"), 0.98);
}

// Missing feature cells stay missing for boosted trees (no imputation) and are counted.
TEST(Pipelines, BoostedTreesKeepMissingValues) {
  std::mt19937 rng(1);
  auto t = separable(900, rng);
  for (std::size_t r = 0; r < 900; r += 9) t.columns[0].numbers[r] = kMissing;
  auto r = run_pipeline(t, options(PipelineKind::kClassification), kQuiet, nullptr);
  EXPECT_EQ(r.metrics.at("missing_values_kept").to_number<int>(), 100);
  EXPECT_EQ(r.metrics.at("missing_values_imputed").to_number<int>(), 0);
  EXPECT_GE(metric(r, "accuracy"), 0.98);
}

// Training progress comes once per boosting round, rising inside model_processing.
TEST(Pipelines, BoostedTreesReportEveryRound) {
  std::mt19937 rng(1);
  auto t = separable(600, rng);
  std::vector<double> rounds;
  const StageReport record = [&](double pct, std::string_view, std::string_view msg) {
    if (msg.rfind("Boosting round", 0) == 0) rounds.push_back(pct);
  };
  auto o = options(PipelineKind::kClassification);
  o.max_iterations = 12;
  run_pipeline(t, o, record, nullptr);
  ASSERT_EQ(rounds.size(), 12u);
  EXPECT_TRUE(std::is_sorted(rounds.begin(), rounds.end()));
  EXPECT_GT(rounds.front(), 60.0);
  EXPECT_DOUBLE_EQ(rounds.back(), 75.0);
}

// A cancel during training stops it at the end of the current round.
TEST(Pipelines, CancelInterruptsBoostedTraining) {
  std::mt19937 rng(1);
  auto t = separable(600, rng);
  CancelToken cancel;
  int seen = 0;
  const StageReport cancel_at_5 = [&](double, std::string_view, std::string_view msg) {
    if (msg.rfind("Boosting round", 0) == 0 && ++seen == 5)
      cancel.cancel(CancelToken::Reason::kCancelled);
  };
  auto o = options(PipelineKind::kClassification);
  o.max_iterations = 1000;
  EXPECT_THROW(run_pipeline(t, o, cancel_at_5, &cancel), OperationCancelled);
  EXPECT_EQ(seen, 5);
}

TEST(Pipelines, RegressionRecoversALinearTarget) {
  std::mt19937 rng(2);
  std::normal_distribution<double> n01(0, 1), noise(0, 0.1);
  std::vector<double> a, b, y;
  for (int i = 0; i < 2000; ++i) {
    a.push_back(n01(rng));
    b.push_back(n01(rng));
    y.push_back(3 * a.back() - 2 * b.back() + 5 + noise(rng));
  }
  a[10] = kMissing;  // imputed and counted
  DataTable t;
  t.add(Column::number("a", a));
  t.add(Column::number("b", b));
  t.add(Column::number("y", y));
  auto r = run_pipeline(t, options(PipelineKind::kRegression), kQuiet, nullptr);
  EXPECT_GE(metric(r, "r2"), 0.99);
  EXPECT_NEAR(metric(r, "rmse"), 0.1, 0.05);
  EXPECT_NEAR(r.metrics.at("coefficients").at("a").to_number<double>(), 3.0, 0.05);
  EXPECT_NEAR(metric(r, "intercept"), 5.0, 0.05);
  EXPECT_EQ(r.metrics.at("missing_values_imputed").to_number<int>(), 1);
  auto o = options(PipelineKind::kRegression);
  o.model = "random_forest";
  EXPECT_GE(metric(run_pipeline(t, o, kQuiet, nullptr), "r2"), 0.8);
  o.model = "boosted_trees";
  auto boosted = run_pipeline(t, o, kQuiet, nullptr);
  EXPECT_GE(metric(boosted, "r2"), 0.97);
  EXPECT_EQ(boosted.model_version.rfind("xgboost-1.", 0), 0u) << boosted.model_version;
  EXPECT_EQ(boosted.metrics.at("missing_values_kept").to_number<int>(), 1);
}

TEST(Pipelines, ClusteringFindsSeparatedBlobs) {
  std::mt19937 rng(3);
  std::normal_distribution<double> noise(0, 0.3);
  std::vector<double> x, y;
  for (int i = 0; i < 1500; ++i) {
    int c = i % 3;
    x.push_back(c * 10 + noise(rng));
    y.push_back((c == 1 ? 10 : 0) + noise(rng));
  }
  DataTable t;
  t.add(Column::number("x", x));
  t.add(Column::number("y", y));
  auto o = options(PipelineKind::kClustering);
  o.k = 3;
  auto r = run_pipeline(t, o, kQuiet, nullptr);
  EXPECT_GE(metric(r, "silhouette"), 0.85);
  for (const auto& s : r.metrics.at("cluster_sizes").as_array()) EXPECT_EQ(s.to_number<int>(), 500);
  // Points generated from the same blob share a cluster.
  const auto& cl = r.columns[2].numbers;
  for (int i = 3; i < 1500; ++i) EXPECT_EQ(cl[i], cl[i % 3]);
}

TEST(Pipelines, AnomalyFindsInjectedOutliers) {
  std::mt19937 rng(4);
  std::normal_distribution<double> n01(0, 1);
  std::vector<double> a, b, label;
  for (int i = 0; i < 5000; ++i) {
    bool out = i % 50 == 0;  // 2 %
    a.push_back(out ? 12 + n01(rng) : n01(rng));
    b.push_back(out ? -12 + n01(rng) : n01(rng));
    label.push_back(out);
  }
  DataTable t;
  t.add(Column::number("a", a));
  t.add(Column::number("b", b));
  t.add(Column::number("label", label, true));
  auto o = options(PipelineKind::kAnomaly);
  o.contamination = 0.02;
  auto r = run_pipeline(t, o, kQuiet, nullptr);
  EXPECT_GE(metric(r, "recall"), 0.95);
  EXPECT_GE(metric(r, "precision"), 0.8);
  EXPECT_NEAR(metric(r, "anomaly_rate"), 0.02, 0.01);
  EXPECT_EQ(r.metrics.at("features").as_array().size(), 2u);  // label excluded
}

TEST(Pipelines, RefusesUnusableData) {
  DataTable text;
  text.add(Column::strings("name", {"a", "b", "c", "d"}));
  text.add(Column::strings("label", {"x", "y", "x", "y"}));
  EXPECT_THROW(run_pipeline(text, options(PipelineKind::kClassification), kQuiet, nullptr),
               HandlerError);
  auto o = options(PipelineKind::kRegression);
  o.target = "nope";
  DataTable nums;
  nums.add(Column::number("a", {1, 2, 3, 4}));
  nums.add(Column::number("b", {1, 2, 3, 4}));
  EXPECT_THROW(run_pipeline(nums, o, kQuiet, nullptr), HandlerError);
  o.target = "name";
  EXPECT_THROW(run_pipeline(text, o, kQuiet, nullptr), HandlerError);  // text target
}

TEST(Pipelines, OneHotEncodesListedTextFeatures) {
  std::vector<std::string> color;
  std::vector<double> label;
  for (int i = 0; i < 600; ++i) {
    color.push_back(i % 2 ? "red" : "blue");
    label.push_back(i % 2);
  }
  DataTable t;
  t.add(Column::strings("color", color));
  t.add(Column::number("label", label, true));
  auto o = options(PipelineKind::kClassification);
  o.features = {"color"};
  auto r = run_pipeline(t, o, kQuiet, nullptr);
  EXPECT_DOUBLE_EQ(metric(r, "accuracy"), 1.0);
  EXPECT_EQ(r.metrics.at("encoded_columns").as_array().size(), 1u);
}

TEST(Payload, ValidatesFieldsAndDestinations) {
  auto ok = boost::json::parse(
                R"({"pipeline":"clustering","data_source":{"type":"file","path":"/data/x.csv"},
      "output":{"format":"parquet","destination":"/results/"},"options":{"k":4,"seed":1}})")
                .as_object();
  auto req = parse_process_payload(ok);
  EXPECT_EQ(req.options.k, 4);
  EXPECT_FALSE(req.options.early_stopping.has_value());  // "auto"
  auto early = boost::json::parse(
                   R"({"pipeline":"classification","data_source":{"type":"file","path":"a"},
      "output":{"format":"json"},"options":{"early_stopping":false,"validation_fraction":0.25,"n_iter_no_change":3}})")
                   .as_object();
  auto req2 = parse_process_payload(early);
  EXPECT_EQ(req2.options.early_stopping, std::optional<bool>(false));
  EXPECT_DOUBLE_EQ(req2.options.validation_fraction, 0.25);
  EXPECT_EQ(req2.options.n_iter_no_change, 3);
  EXPECT_EQ(req.format, OutputFormat::kParquet);
  for (
      const char* bad :
      {R"({"pipeline":"x","data_source":{"type":"file","path":"a"},"output":{"format":"json"}})",
       R"({"pipeline":"anomaly","data_source":{"type":"file","path":"../a"},"output":{"format":"json"}})",
       R"({"pipeline":"anomaly","data_source":{"type":"file","path":"a"},"output":{"format":"xml"}})",
       R"({"pipeline":"anomaly","data_source":{"type":"file","path":"a"},"output":{"format":"json","destination":"s3://b/p/"}})",
       R"({"pipeline":"anomaly","data_source":{"type":"query"},"output":{"format":"json"}})",
       R"({"pipeline":"anomaly","data_source":{"type":"file","path":"a"},"output":{"format":"json"},"options":{"test_fraction":0}})",
       R"({"pipeline":"clustering","data_source":{"type":"file","path":"a"},"output":{"format":"json"},"options":{"k":1}})",
       R"({"pipeline":"classification","data_source":{"type":"file","path":"a"},"output":{"format":"json"},"options":{"model":"linear"}})",
       R"({"pipeline":"clustering","data_source":{"type":"file","path":"a"},"output":{"format":"json"},"options":{"model":"boosted_trees"}})",
       R"({"pipeline":"regression","data_source":{"type":"file","path":"a"},"output":{"format":"json"},"options":{"learning_rate":0}})",
       R"({"pipeline":"classification","data_source":{"type":"file","path":"a"},"output":{"format":"json"},"options":{"early_stopping":"yes"}})",
       R"({"pipeline":"classification","data_source":{"type":"file","path":"a"},"output":{"format":"json"},"options":{"validation_fraction":0.6}})",
       R"({"pipeline":"classification","data_source":{"type":"file","path":"a"},"output":{"format":"json"},"options":{"n_iter_no_change":0}})"}) {
    try {
      parse_process_payload(boost::json::parse(bad).as_object());
      ADD_FAILURE() << bad;
    } catch (const HandlerError& e) {
      EXPECT_EQ(e.code(), ErrorCode::kValidationError);
    }
  }
}

TEST(Output, WritesCsvJsonAndParquet) {
  testutil::TempDir dir;
  DataTable t;
  t.add(Column::number("n", {1, kMissing}, true));
  t.add(Column::strings("s", {"a,\"b\"", ""}));
  write_csv(t, dir.path / "o.csv");
  write_json(t, dir.path / "o.json");
  write_parquet(t, dir.path / "o.parquet");
  std::ifstream csv(dir.path / "o.csv");
  std::string all((std::istreambuf_iterator<char>(csv)), {});
  EXPECT_EQ(all, "n,s\n1,\"a,\"\"b\"\"\"\n,\n");
  std::ifstream js(dir.path / "o.json");
  std::string jtext((std::istreambuf_iterator<char>(js)), {});
  auto v = boost::json::parse(jtext);
  EXPECT_EQ(v.as_array()[0].at("n").as_int64(), 1);
  EXPECT_TRUE(v.as_array()[1].at("s").is_null());
  EXPECT_GT(std::filesystem::file_size(dir.path / "o.parquet"), 100u);
}

// Constant columns: a classifier has a single class to learn (a typed refusal); the
// other pipelines have a well-defined answer (an exact fit, one cluster, no outlier).
TEST(Pipelines, ConstantDataIsRefusedForClassificationAndExactForTheOthers) {
  DataTable t;
  t.add(Column::number("a", std::vector<double>(200, 1.0)));
  t.add(Column::number("b", std::vector<double>(200, 2.0)));
  try {
    run_pipeline(t, options(PipelineKind::kClassification), kQuiet, nullptr);
    ADD_FAILURE() << "a single-class target was accepted";
  } catch (const HandlerError& e) {
    EXPECT_EQ(e.code(), ErrorCode::kValidationError);
    EXPECT_NE(std::string(e.what()).find("single class"), std::string::npos) << e.what();
  }
  auto regression = run_pipeline(t, options(PipelineKind::kRegression), kQuiet, nullptr);
  EXPECT_LT(regression.metrics.at("rmse").to_number<double>(), 1e-9);
  auto clustering = run_pipeline(t, options(PipelineKind::kClustering), kQuiet, nullptr);
  std::int64_t largest = 0;
  for (const auto& size : clustering.metrics.at("cluster_sizes").as_array())
    largest = std::max(largest, size.to_number<std::int64_t>());
  EXPECT_EQ(largest, 200);
  auto anomaly = run_pipeline(t, options(PipelineKind::kAnomaly), kQuiet, nullptr);
  EXPECT_EQ(anomaly.metrics.at("anomaly_count").to_number<std::int64_t>(), 0);
}
