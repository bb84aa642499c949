// Benchmark driver: seeds a dataset and runs generate_report in-process.
//   report_bench DATA_DIR ROWS FORMAT [REPORT_TYPE] [START END] [--charts] [--no-seed]
// Prints seeding time, report time and the result JSON. Run it under
// /usr/bin/time -v for the peak RSS.
#include <chrono>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <string>

#include "artifacts/artifact_store.hpp"
#include "handlers/report/report_handler.hpp"
#include "handlers/report/sales_dataset.hpp"

namespace {
class NullProgress : public streamer::Progress {
 public:
  void report(double percent, std::string_view, boost::json::object) override { last = percent; }
  double last = 0;
};
}  // namespace

int main(int argc, char** argv) {
  using namespace streamer;
  if (argc < 4) {
    std::cerr << "usage: report_bench DATA_DIR ROWS pdf|csv|excel "
                 "[monthly|quarterly|annual|custom] [START END] "
                 "[--charts] [--no-seed]\n";
    return 2;
  }
  try {
    std::filesystem::path dir = argv[1];
    std::int64_t rows = std::stoll(argv[2]);
    std::string format = argv[3];
    std::string type = argc > 4 && argv[4][0] != '-' ? argv[4] : "monthly";
    std::string start = "2023-01-01", end = "2025-12-31";
    if (argc > 6 && argv[5][0] != '-') start = argv[5], end = argv[6];
    bool charts = false, seed = true;
    for (int i = 4; i < argc; ++i) {
      if (!std::strcmp(argv[i], "--charts")) charts = true;
      if (!std::strcmp(argv[i], "--no-seed")) seed = false;
    }
    if (seed) {
      auto r = seed_sales_data(dir, "bench", rows);
      std::printf("seed: %lld sales, %lld refunds, %lld targets in %.2f s\n",
                  static_cast<long long>(r.sales_rows), static_cast<long long>(r.refund_rows),
                  static_cast<long long>(r.target_rows), r.seconds);
    }
    ArtifactStore store(
        {dir / "artifacts", "http://127.0.0.1:8080", "bench-key", std::chrono::hours(1)});
    HandlerEnvironment env{dir, &store, {}};
    Identity identity{"bench", "bench", {"read"}};
    NullProgress progress;
    CancelToken cancel;
    JobContext ctx{identity, "bench-1", "", 1, progress, cancel, env};
    GenerateReportHandler handler;
    boost::json::object payload{{"start_date", start},
                                {"end_date", end},
                                {"format", format},
                                {"report_type", type},
                                {"include_charts", charts}};
    auto request = handler.parse(payload);
    auto t0 = std::chrono::steady_clock::now();
    auto result = handler.run(request, ctx);
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::printf("report: %s %s in %.2f s\n%s\n", format.c_str(), type.c_str(), secs,
                boost::json::serialize(result.data).c_str());
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "report_bench: " << e.what() << "\n";
    return 1;
  }
}
