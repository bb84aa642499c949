#include "service/job_metrics.hpp"

#include <gtest/gtest.h>

namespace streamer {
namespace {

JobRecord job(std::string tenant, std::string action) {
  JobRecord r;
  r.key = {std::move(tenant), "u", "r"};
  r.action = std::move(action);
  return r;
}

bool has(const std::string& text, const std::string& line) {
  return text.find(line + "\n") != std::string::npos;
}

TEST(JobMetrics, CountsOutcomesByActionAndFailuresByCode) {
  JobMetrics m;
  m.job_submitted(job("t1", "report"));
  m.job_started(job("t1", "report"), 2.0);
  m.job_finished(job("t1", "report"), JobStatus::kSucceeded, "", 30.0);
  m.job_finished(job("t1", "report"), JobStatus::kFailed, "TIMEOUT", 7200.0);
  m.job_finished(job("t1", "report"), JobStatus::kFailed, "VALIDATION_ERROR", 0.1);
  m.job_finished(job("t1", "report"), JobStatus::kCancelled, "CANCELLED", 1.0);
  m.job_retried(job("t1", "report"));
  std::string text;
  m.render(text);
  EXPECT_TRUE(has(text, R"(streamer_jobs_submitted_total{action="report"} 1)"));
  EXPECT_TRUE(has(text, R"(streamer_jobs_succeeded_total{action="report"} 1)"));
  EXPECT_TRUE(has(text, R"(streamer_jobs_failed_total{action="report",code="TIMEOUT"} 1)"));
  EXPECT_TRUE(
      has(text, R"(streamer_jobs_failed_total{action="report",code="VALIDATION_ERROR"} 1)"));
  EXPECT_TRUE(has(text, R"(streamer_jobs_timed_out_total{action="report"} 1)"));
  EXPECT_TRUE(has(text, R"(streamer_jobs_cancelled_total{action="report"} 1)"));
  EXPECT_TRUE(has(text, R"(streamer_jobs_retried_total{action="report"} 1)"));
  // Hours-long runs land below the 4 h bucket; the histogram is cumulative.
  EXPECT_TRUE(has(text, R"(streamer_job_duration_seconds_bucket{action="report",le="3600"} 3)"));
  EXPECT_TRUE(has(text, R"(streamer_job_duration_seconds_bucket{action="report",le="14400"} 4)"));
  EXPECT_TRUE(has(text, R"(streamer_job_queue_wait_seconds_count{action="report"} 1)"));
  EXPECT_EQ(text.find("streamer_tenant_"), std::string::npos);  // off by default
}

TEST(JobMetrics, PerTenantCountsOnlyWhenEnabled) {
  JobMetrics m(/*per_tenant=*/true);
  m.job_submitted(job("acme", "report"));
  m.job_finished(job("acme", "report"), JobStatus::kFailed, "INTERNAL_ERROR", 1.0);
  std::string text;
  m.render(text);
  EXPECT_TRUE(has(text, R"(streamer_tenant_jobs_submitted_total{tenant="acme"} 1)"));
  EXPECT_TRUE(has(text, R"(streamer_tenant_jobs_finished_total{tenant="acme",status="failed"} 1)"));
}

}  // namespace
}  // namespace streamer
