// Process metrics, rendered as Prometheus text at GET /metrics. Counters are atomics;
// labelled series and histograms take a short lock. No I/O here.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <string_view>

namespace streamer {

class Metrics {
 public:
  std::atomic<std::int64_t> connections_open{0};
  std::atomic<std::uint64_t> connections_total{0};
  std::atomic<std::uint64_t> connections_rejected{0};
  std::atomic<std::uint64_t> messages_in{0};
  std::atomic<std::uint64_t> messages_out{0};
  std::atomic<std::uint64_t> bytes_in{0};
  std::atomic<std::uint64_t> bytes_out{0};
  std::atomic<std::uint64_t> progress_coalesced{0};
  std::atomic<std::uint64_t> slow_client_closes{0};

  // One request finished its first answer: `outcome` is success, queued, or an
  // error code; latency is from frame received to answer handed to the connection.
  void record_request(std::string_view action, std::string_view outcome, double latency_seconds);
  // A RATE_LIMITED answer or close; `limit` names which limit.
  void record_rate_limited(std::string_view limit);

  // Extra gauges computed at scrape time (jobs running, queue depth...).
  using GaugeFn = std::function<double()>;
  void add_gauge(std::string name, std::string help, GaugeFn fn);

  std::string render() const;

 private:
  static constexpr std::array<double, 14> kBuckets{0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
                                                   0.025,  0.05,    0.1,    0.25,  0.5,   1.0,  5.0};
  struct Histogram {
    std::array<std::uint64_t, kBuckets.size()> counts{};
    std::uint64_t count = 0;
    double sum = 0;
  };
  mutable std::mutex mutex_;
  std::map<std::pair<std::string, std::string>, std::uint64_t> requests_;  // (action, outcome)
  std::map<std::string, Histogram> latency_;                               // by action
  std::map<std::string, std::uint64_t> rate_limited_;                      // by limit
  struct Gauge {
    std::string help;
    GaugeFn fn;
  };
  std::map<std::string, Gauge> gauges_;
};

}  // namespace streamer
