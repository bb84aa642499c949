#include "service/job_metrics.hpp"

#include <fmt/format.h>

#include "service/metrics.hpp"

#include <algorithm>

namespace streamer {
namespace {

void header(std::string& out, std::string_view name, std::string_view type, std::string_view help) {
  out += fmt::format("# HELP {0} {1}\n# TYPE {0} {2}\n", name, help, type);
}

}  // namespace

void JobMetrics::Histogram::observe(double seconds) {
  if (seconds < 0) return;
  auto b = std::lower_bound(kBuckets.begin(), kBuckets.end(), seconds) - kBuckets.begin();
  buckets[static_cast<std::size_t>(b)].fetch_add(1, std::memory_order_relaxed);
  sum_us.fetch_add(static_cast<std::uint64_t>(seconds * 1e6), std::memory_order_relaxed);
}

void JobMetrics::Histogram::render(std::string& out, std::string_view name,
                                   std::string_view labels) const {
  std::uint64_t cumulative = 0;
  for (std::size_t i = 0; i < kBuckets.size(); ++i) {
    cumulative += buckets[i].load(std::memory_order_relaxed);
    out += fmt::format("{}_bucket{{{},le=\"{}\"}} {}\n", name, labels, kBuckets[i], cumulative);
  }
  cumulative += buckets[kBuckets.size()].load(std::memory_order_relaxed);
  out += fmt::format("{}_bucket{{{},le=\"+Inf\"}} {}\n", name, labels, cumulative);
  out += fmt::format("{}_sum{{{}}} {}\n", name, labels, sum_us.load() / 1e6);
  out += fmt::format("{}_count{{{}}} {}\n", name, labels, cumulative);
}

JobMetrics::ActionStats& JobMetrics::action(std::string_view name) {
  return find_or_add_label(mutex_, actions_, name);
}

JobMetrics::TenantStats* JobMetrics::tenant(std::string_view name) {
  return per_tenant_ ? &find_or_add_label(mutex_, tenants_, name) : nullptr;
}

void JobMetrics::job_submitted(const JobRecord& job) {
  action(job.action).submitted.fetch_add(1, std::memory_order_relaxed);
  if (auto* t = tenant(job.key.tenant_id)) t->submitted.fetch_add(1, std::memory_order_relaxed);
}

void JobMetrics::job_requeued(const JobRecord& job) {
  action(job.action).requeued.fetch_add(1, std::memory_order_relaxed);
}

void JobMetrics::job_started(const JobRecord& job, double queue_wait_seconds) {
  auto& a = action(job.action);
  a.started.fetch_add(1, std::memory_order_relaxed);
  a.queue_wait.observe(queue_wait_seconds);
}

void JobMetrics::job_finished(const JobRecord& job, JobStatus status, std::string_view error_code,
                              double run_seconds) {
  auto& a = action(job.action);
  a.duration.observe(run_seconds);
  auto* t = tenant(job.key.tenant_id);
  switch (status) {
    case JobStatus::kSucceeded:
      a.succeeded.fetch_add(1, std::memory_order_relaxed);
      if (t) t->succeeded.fetch_add(1, std::memory_order_relaxed);
      return;
    case JobStatus::kCancelled:
      a.cancelled.fetch_add(1, std::memory_order_relaxed);
      if (t) t->cancelled.fetch_add(1, std::memory_order_relaxed);
      return;
    default:
      break;
  }
  if (error_code == "TIMEOUT") a.timed_out.fetch_add(1, std::memory_order_relaxed);
  if (t) t->failed.fetch_add(1, std::memory_order_relaxed);
  std::lock_guard lock(a.codes_mutex);
  a.failed_by_code[std::string(error_code.empty() ? "INTERNAL_ERROR" : error_code)]++;
}

void JobMetrics::job_retried(const JobRecord& job) {
  action(job.action).retried.fetch_add(1, std::memory_order_relaxed);
}

void JobMetrics::progress_published(std::string_view action_name) {
  action(action_name).progress.fetch_add(1, std::memory_order_relaxed);
}

void JobMetrics::render(std::string& out) const {
  std::shared_lock lock(mutex_);
  struct Counter {
    std::string_view name, help;
    std::atomic<std::uint64_t> ActionStats::*field;
  };
  static constexpr Counter kCounters[] = {
      {"streamer_jobs_submitted_total", "Async requests stored, by action.",
       &ActionStats::submitted},
      {"streamer_jobs_started_total", "Job attempts started, by action.", &ActionStats::started},
      {"streamer_jobs_succeeded_total", "Jobs that ended with a result, by action.",
       &ActionStats::succeeded},
      {"streamer_jobs_retried_total",
       "Attempts that failed retryably and were queued again with backoff, by action.",
       &ActionStats::retried},
      {"streamer_jobs_requeued_total", "Failed jobs queued again by jobs.retry, by action.",
       &ActionStats::requeued},
      {"streamer_jobs_cancelled_total", "Jobs that ended CANCELLED, by action.",
       &ActionStats::cancelled},
      {"streamer_jobs_timed_out_total",
       "Jobs that ended with TIMEOUT (also in failed_total), by action.", &ActionStats::timed_out},
      {"streamer_progress_published_total",
       "Progress messages published to subscribers, by action.", &ActionStats::progress},
  };
  for (const auto& c : kCounters) {
    header(out, c.name, "counter", c.help);
    for (const auto& [name, a] : actions_) {
      out += fmt::format("{}{{action=\"{}\"}} {}\n", c.name, escape_label(name),
                         ((*a).*(c.field)).load());
    }
  }
  header(out, "streamer_jobs_failed_total", "counter",
         "Jobs that ended with an error, by action and error code.");
  for (const auto& [name, a] : actions_) {
    std::lock_guard codes(a->codes_mutex);
    for (const auto& [code, n] : a->failed_by_code) {
      out += fmt::format("streamer_jobs_failed_total{{action=\"{}\",code=\"{}\"}} {}\n",
                         escape_label(name), escape_label(code), n);
    }
  }
  header(out, "streamer_job_duration_seconds", "histogram",
         "Run time of a job's last attempt, by action.");
  for (const auto& [name, a] : actions_) {
    a->duration.render(out, "streamer_job_duration_seconds",
                       fmt::format("action=\"{}\"", escape_label(name)));
  }
  header(out, "streamer_job_queue_wait_seconds", "histogram",
         "Time from submission to the start of the first attempt, by action.");
  for (const auto& [name, a] : actions_) {
    a->queue_wait.render(out, "streamer_job_queue_wait_seconds",
                         fmt::format("action=\"{}\"", escape_label(name)));
  }
  if (!per_tenant_) return;
  header(out, "streamer_tenant_jobs_submitted_total", "counter",
         "Async requests stored, by tenant.");
  for (const auto& [name, t] : tenants_) {
    out += fmt::format("streamer_tenant_jobs_submitted_total{{tenant=\"{}\"}} {}\n",
                       escape_label(name), t->submitted.load());
  }
  header(out, "streamer_tenant_jobs_finished_total", "counter",
         "Jobs ended, by tenant and status.");
  for (const auto& [name, t] : tenants_) {
    const auto label = escape_label(name);
    out += fmt::format(
        "streamer_tenant_jobs_finished_total{{tenant=\"{0}\",status=\"succeeded\"}} {1}\n"
        "streamer_tenant_jobs_finished_total{{tenant=\"{0}\",status=\"failed\"}} {2}\n"
        "streamer_tenant_jobs_finished_total{{tenant=\"{0}\",status=\"cancelled\"}} {3}\n",
        label, t->succeeded.load(), t->failed.load(), t->cancelled.load());
  }
}

}  // namespace streamer
