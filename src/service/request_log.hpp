// One info log line per async request's outcome (request id, tenant, user, action,
// status and error code, run and total durations, attempt, trace id), fed by the
// worker pool. Never the token or the payload.
#pragma once

#include "jobs/job_observer.hpp"

namespace streamer {

class RequestLog final : public JobObserver {
 public:
  void job_submitted(const JobRecord&) override {}
  void job_started(const JobRecord&, double) override {}
  void job_finished(const JobRecord& job, JobStatus status, std::string_view error_code,
                    double run_seconds) override;
  void job_retried(const JobRecord&) override {}
  void progress_published(std::string_view) override {}
};

}  // namespace streamer
