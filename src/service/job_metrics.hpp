// Job-level Prometheus series, fed by the worker pool (JobObserver) and the request
// service (submissions): counters by action, run-time and queue-wait histograms by
// action with buckets up to hours, and, only when enabled (label cardinality), counts
// per tenant. Lock-free after the first event of an action or tenant.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <string_view>

#include "jobs/job_observer.hpp"

namespace streamer {

class JobMetrics final : public JobObserver {
 public:
  explicit JobMetrics(bool per_tenant = false) : per_tenant_(per_tenant) {}

  void job_submitted(const JobRecord& job) override;
  void job_requeued(const JobRecord& job) override;

  void job_started(const JobRecord& job, double queue_wait_seconds) override;
  void job_finished(const JobRecord& job, JobStatus status, std::string_view error_code,
                    double run_seconds) override;
  void job_retried(const JobRecord& job) override;
  void progress_published(std::string_view action) override;

  // Appends the series in Prometheus text format.
  void render(std::string& out) const;

  // Buckets in seconds: 10 ms to 4 h (jobs are long-running).
  static constexpr std::array<double, 16> kBuckets{0.01, 0.05, 0.1, 0.25, 0.5, 1,    2.5,  5,
                                                   10,   30,   60,  300,  900, 1800, 3600, 14400};

 private:
  struct Histogram {
    std::array<std::atomic<std::uint64_t>, kBuckets.size() + 1> buckets{};  // last: +Inf
    std::atomic<std::uint64_t> sum_us{0};
    void observe(double seconds);
    void render(std::string& out, std::string_view name, std::string_view labels) const;
  };
  struct ActionStats {
    std::atomic<std::uint64_t> submitted{0}, started{0}, succeeded{0}, retried{0}, cancelled{0},
        timed_out{0}, requeued{0}, progress{0};
    std::mutex codes_mutex;
    std::map<std::string, std::uint64_t, std::less<>> failed_by_code;
    Histogram duration, queue_wait;
  };
  struct TenantStats {
    std::atomic<std::uint64_t> submitted{0}, succeeded{0}, failed{0}, cancelled{0};
  };
  ActionStats& action(std::string_view name);
  TenantStats* tenant(std::string_view name);  // nullptr unless per-tenant counts are on

  bool per_tenant_;
  mutable std::shared_mutex mutex_;
  std::map<std::string, std::unique_ptr<ActionStats>, std::less<>> actions_;
  std::map<std::string, std::unique_ptr<TenantStats>, std::less<>> tenants_;
};

}  // namespace streamer
