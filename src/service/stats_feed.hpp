// The live stats feed of the admin console: after `stats.watch`, a connection gets a
// `stats` message every interval (connections, requests by action and outcome, queue
// depth and oldest age per action, running jobs with progress, recent failures),
// scoped like the admin API (an admin: every or one tenant; anyone else: their own
// requests). Pushed as progress-kind messages, so a slow reader keeps only the newest.
// One thread computes each distinct scope once per tick; the store is read there,
// never on an I/O thread.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <boost/json.hpp>
#include "jobs/job_observer.hpp"
#include "jobs/job_store.hpp"

#include "core/message_sink.hpp"
#include "service/metrics.hpp"

namespace streamer {

struct StatsFeedOptions {
  std::chrono::milliseconds interval{1000};
  std::size_t max_watchers = 64;  // feeds running at once on this server
  std::size_t max_running = 50;   // running jobs listed per message
  std::size_t max_failures = 10;  // recent failures listed per message
};

class StatsFeed final : public JobObserver {
 public:
  StatsFeed(JobStore& store, const Metrics& metrics, StatsFeedOptions options);
  ~StatsFeed() override;
  StatsFeed(const StatsFeed&) = delete;
  StatsFeed& operator=(const StatsFeed&) = delete;

  const StatsFeedOptions& options() const { return options_; }

  // Starts pushing `scope`'s stats to `conn` under `request_id`, replacing the
  // connection's earlier feed; `started` runs first (under the feed's lock, so the
  // answer it delivers precedes every stats message). False (nothing started, nothing
  // run) when max_watchers feeds run.
  bool watch(const std::shared_ptr<MessageSink>& conn, std::string request_id, JobScope scope,
             const std::function<void()>& started);
  // Stops `conn`'s feed named `request_id`; false if there is none.
  bool unwatch(const MessageSink* conn, std::string_view request_id);
  std::size_t watchers() const;
  // Stops the thread; no message is pushed afterwards.
  void stop();

  // The body of one `stats` message for `scope` (without request_id), as of now.
  // requests_by_scope: async requests accepted or ended in the last interval within
  // scope (for scopes narrower than all tenants).
  boost::json::object compute(const JobScope& scope);

  // JobObserver: counts accepted and ended requests per (tenant, user) for the
  // `requests` of scoped feeds.
  void job_submitted(const JobRecord& job) override;
  void job_started(const JobRecord&, double) override {}
  void job_finished(const JobRecord& job, JobStatus status, std::string_view error_code,
                    double run_seconds) override;
  void job_retried(const JobRecord&) override {}
  void progress_published(std::string_view) override {}

 private:
  struct Watcher {
    std::weak_ptr<MessageSink> conn;
    const MessageSink* key = nullptr;
    std::string request_id;
    JobScope scope;
  };
  // (tenant, user, action, outcome) -> count, for the current and the last interval.
  using Activity =
      std::map<std::tuple<std::string, std::string, std::string, std::string>, std::uint64_t>;
  void run();
  void tick();
  void count(const JobRecord& job, std::string_view outcome);
  boost::json::array requests_in(const JobScope& scope) const;  // caller holds activity_mutex_

  JobStore& store_;
  const Metrics& metrics_;
  StatsFeedOptions options_;

  mutable std::mutex mutex_;
  std::vector<Watcher> watchers_;

  mutable std::mutex activity_mutex_;
  Activity current_, last_;
  Metrics::RequestCounts counts_before_, counts_delta_;

  std::mutex stop_mutex_;
  std::condition_variable stop_cv_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace streamer
