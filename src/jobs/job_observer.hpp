// What a worker pool reports about the jobs it runs, for metrics and the live stats
// feed. Called on worker and commit threads: implementations are thread-safe and
// never block.
#pragma once

#include <string_view>
#include <vector>

#include "jobs/job_store.hpp"

namespace streamer {

class JobObserver {
 public:
  virtual ~JobObserver() = default;
  // `job` was stored as a new async request (not a resend of a known id).
  virtual void job_submitted(const JobRecord& job) = 0;
  // An attempt of `job` starts running; queue_wait_seconds is the time since it was
  // submitted when this is its first attempt, else negative (a retry's wait is backoff).
  virtual void job_started(const JobRecord& job, double queue_wait_seconds) = 0;
  // `job` ended with `status` after run_seconds of its last attempt; error_code is the
  // stored error's code (TIMEOUT, CANCELLED, ...) or empty for a success.
  virtual void job_finished(const JobRecord& job, JobStatus status, std::string_view error_code,
                            double run_seconds) = 0;
  // A retryable failure sent `job` back to the queue for another attempt.
  virtual void job_retried(const JobRecord& job) = 0;
  // jobs.retry queued a failed `job` again (a new attempt of the same request).
  virtual void job_requeued(const JobRecord& job) {}
  // A progress message of a job of `action` was published to its subscribers.
  virtual void progress_published(std::string_view action) = 0;
};

// Passes every event on to each of its observers, added before events flow.
class JobObserverFanOut final : public JobObserver {
 public:
  // Not thread-safe: call before the worker pool starts.
  void add(JobObserver* observer) { observers_.push_back(observer); }
  void job_submitted(const JobRecord& job) override {
    for (auto* o : observers_) o->job_submitted(job);
  }
  void job_started(const JobRecord& job, double queue_wait_seconds) override {
    for (auto* o : observers_) o->job_started(job, queue_wait_seconds);
  }
  void job_finished(const JobRecord& job, JobStatus status, std::string_view error_code,
                    double run_seconds) override {
    for (auto* o : observers_) o->job_finished(job, status, error_code, run_seconds);
  }
  void job_retried(const JobRecord& job) override {
    for (auto* o : observers_) o->job_retried(job);
  }
  void job_requeued(const JobRecord& job) override {
    for (auto* o : observers_) o->job_requeued(job);
  }
  void progress_published(std::string_view action) override {
    for (auto* o : observers_) o->progress_published(action);
  }

 private:
  std::vector<JobObserver*> observers_;
};

}  // namespace streamer
