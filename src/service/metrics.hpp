// Process metrics, rendered as Prometheus text at GET /metrics. Recording is on the
// hot path of every request, so it is lock-free after the first request of an
// action: per-action counters and histogram buckets are atomics, found through a map
// under a shared (read) lock. No I/O here.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "jobs/job_observer.hpp"

namespace streamer {

// `v` as a Prometheus label value: backslash, double quote and newline escaped.
std::string escape_label(std::string_view v);

// The counters of one label value in `map`, created once on first use. Readers share
// `mutex`; only the first use of a value takes it exclusively. The reference stays valid
// as long as the map (entries are never removed).
template <class Stats>
Stats& find_or_add_label(std::shared_mutex& mutex,
                         std::map<std::string, std::unique_ptr<Stats>, std::less<>>& map,
                         std::string_view key) {
  {
    std::shared_lock lock(mutex);
    if (auto it = map.find(key); it != map.end()) return *it->second;
  }
  std::unique_lock lock(mutex);
  auto& p = map[std::string(key)];
  if (!p) p = std::make_unique<Stats>();
  return *p;
}

class Metrics {
 public:
  std::atomic<std::int64_t> connections_open{0};
  std::atomic<std::uint64_t> connections_total{0};
  std::atomic<std::uint64_t> connections_rejected{0};
  std::atomic<std::uint64_t> messages_in{0};
  std::atomic<std::uint64_t> messages_out{0};
  std::atomic<std::uint64_t> message_writes{0};  // writes carrying messages (several gathered)
  std::atomic<std::uint64_t> bytes_in{0};
  std::atomic<std::uint64_t> bytes_out{0};
  std::atomic<std::uint64_t> progress_coalesced{0};
  std::atomic<std::uint64_t> slow_client_closes{0};
  std::atomic<std::uint64_t> inline_overruns{0};  // inline handler runs over their budget

  // One request got its first answer: `outcome` is success, queued, or an error
  // code; latency is from frame received to answer handed to the connection.
  void record_request(std::string_view action, std::string_view outcome, double latency_seconds);
  // A RATE_LIMITED answer or close; `limit` names which limit.
  void record_rate_limited(std::string_view limit);

  // Where new async requests are reported (job metrics, stats feed); set before use.
  void set_job_observer(JobObserver* observer) { job_observer_ = observer; }
  // A new async request was stored.
  void record_job_submitted(const JobRecord& job) {
    if (job_observer_) job_observer_->job_submitted(job);
  }

  // Extra gauges computed at scrape time (jobs running, ...).
  using GaugeFn = std::function<double()>;
  void add_gauge(std::string name, std::string help, GaugeFn fn);
  // Extra series appended at scrape time by their owner (job metrics, queue gauges),
  // each complete with its HELP and TYPE lines.
  using RenderFn = std::function<void(std::string&)>;
  void add_renderer(RenderFn fn);

  // Requests answered so far by action and outcome (the live stats feed takes
  // differences of two snapshots).
  using RequestCounts = std::map<std::pair<std::string, std::string>, std::uint64_t>;
  RequestCounts request_counts() const;

  std::string render() const;

 private:
  static constexpr std::array<double, 14> kBuckets{
      0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0};
  static constexpr std::array<std::string_view, 11> kOutcomes{
      "success", "queued",       "VALIDATION_ERROR", "NOT_FOUND", "UNAUTHORIZED", "INTERNAL_ERROR",
      "TIMEOUT", "RATE_LIMITED", "INVALID_ACTION",   "CANCELLED", "other"};

  struct ActionStats {
    std::array<std::atomic<std::uint64_t>, kOutcomes.size()> outcomes{};
    std::array<std::atomic<std::uint64_t>, kBuckets.size() + 1>
        buckets{};  // not cumulative; last is +Inf
    std::atomic<std::uint64_t> sum_ns{0};
  };
  mutable std::shared_mutex actions_mutex_;
  std::map<std::string, std::unique_ptr<ActionStats>, std::less<>> actions_;
  mutable std::shared_mutex limits_mutex_;
  std::map<std::string, std::unique_ptr<std::atomic<std::uint64_t>>, std::less<>> rate_limited_;
  struct Gauge {
    std::string help;
    GaugeFn fn;
  };
  mutable std::mutex gauges_mutex_;
  std::map<std::string, Gauge> gauges_;
  std::vector<RenderFn> renderers_;
  JobObserver* job_observer_ = nullptr;
};

}  // namespace streamer
