// process_bench: times one process_data run end to end (CSV ingestion, pipeline,
// output, publish) on generated data with a known answer, in-process, and prints
// {pipeline, rows, seconds, peak_rss_mb, metrics} as JSON. Run one pipeline per
// process so peak RSS belongs to that pipeline:
//   process_bench <classification|regression|clustering|anomaly> <rows> <json|csv|parquet> <work
//   dir>
#include <sys/resource.h>

#include <time.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <random>

#include "artifacts/artifact_store.hpp"
#include "handlers/process/process_data_handler.hpp"

using namespace streamer;

namespace {

// CPU seconds of the whole process (every thread) so far.
double process_cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

// Prints each progress message with the wall and CPU seconds since the run started
// (the profile of a run: where the time goes between steps, also on a busy machine).
struct PrintProgress : Progress {
  std::chrono::steady_clock::time_point start = std::chrono::steady_clock::now();
  double cpu_start = process_cpu_seconds();
  void report(double percent, std::string_view message, boost::json::object) override {
    double t = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::fprintf(stderr, "%8.3fs wall %8.3fs cpu %5.1f%% %.*s\n", t,
                 process_cpu_seconds() - cpu_start, percent, static_cast<int>(message.size()),
                 message.data());
  }
};

// Writes a CSV whose answer is known: separable classes, a linear target, three
// blobs, or 1 % injected outliers.
void generate(const std::string& pipeline, std::size_t rows, const std::filesystem::path& file) {
  std::filesystem::create_directories(file.parent_path());
  std::ofstream out(file);
  std::mt19937_64 rng(1);
  std::normal_distribution<double> n01(0, 1);
  out.setf(std::ios::fixed);
  out.precision(4);
  out << "f1,f2,f3,f4,label\n";
  for (std::size_t i = 0; i < rows; ++i) {
    double f[4] = {n01(rng), n01(rng), n01(rng), n01(rng)};
    double label = 0;
    if (pipeline == "classification") {
      label = static_cast<double>(i % 3);
      f[0] += 4 * label;
      f[1] -= 4 * label;
    } else if (pipeline == "regression") {
      label = 3 * f[0] - 2 * f[1] + 0.5 * f[2] + 5 + 0.3 * n01(rng);
    } else if (pipeline == "clustering") {
      label = static_cast<double>(i % 3);
      f[0] += 10 * label;
      f[1] += label == 1 ? 10 : 0;
    } else {
      label = i % 100 == 0;
      if (label) f[0] += 10, f[1] -= 10;
    }
    out << f[0] << ',' << f[1] << ',' << f[2] << ',' << f[3] << ',' << label << '\n';
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 5) {
    std::cerr << "usage: process_bench <pipeline> <rows> <json|csv|parquet> <work dir>\n";
    return 2;
  }
  const std::string pipeline = argv[1], format = argv[3];
  const std::size_t rows = std::stoull(argv[2]);
  const std::filesystem::path dir = argv[4];
  generate(pipeline, rows, dir / "files" / "bench" / "data" / "input.csv");

  ArtifactStore store(
      ArtifactStoreOptions{dir / "artifacts", "http://127.0.0.1:8080", "bench-key"});
  HandlerEnvironment env{dir, &store, {}};
  Identity id{"bench", "bench", {"write"}};
  PrintProgress progress;
  CancelToken cancel;
  JobContext ctx{id, "bench-1", "trace", 1, progress, cancel, env};
  boost::json::object payload{
      {"pipeline", pipeline},
      {"data_source", {{"type", "file"}, {"path", "/data/input.csv"}}},
      {"output", {{"format", format}}},
      {"options", {{"contamination", 0.01}, {"k", pipeline == "anomaly" ? 1 : 3}}}};
  process::ProcessDataHandler handler;
  auto request = handler.parse(payload);
  auto t0 = std::chrono::steady_clock::now();
  progress.start = t0;
  progress.cpu_start = process_cpu_seconds();
  auto result = handler.run(request, ctx);
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  double cpu_seconds = process_cpu_seconds() - progress.cpu_start;
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  auto summary = result.data.at("summary").as_object();
  summary["metrics"].as_object().erase("features");
  boost::json::object report{{"pipeline", pipeline},
                             {"rows", rows},
                             {"format", format},
                             {"seconds", seconds},
                             {"cpu_seconds", cpu_seconds},
                             {"peak_rss_mb", ru.ru_maxrss / 1024.0},
                             {"model_version", summary["model_version"]},
                             {"metrics", summary["metrics"]}};
  std::cout << boost::json::serialize(report) << std::endl;
  return 0;
}
