#include "jobs/worker_pool.hpp"

#include <pthread.h>
#include <spdlog/spdlog.h>

#include "core/json_text.hpp"
#include "core/protocol.hpp"
#include "jobs/progress_reporter.hpp"

namespace streamer {
namespace json = boost::json;
using SteadyClock = std::chrono::steady_clock;

struct WorkerPool::ActiveJob {
  Lease lease;
  CancelToken cancel;
  SteadyClock::time_point started{};
  SteadyClock::time_point deadline{};
  SteadyClock::time_point next_renew{};
  std::chrono::milliseconds time_limit{};
  std::unique_ptr<ProgressReporter> progress;
  std::atomic<bool> concluded{false};
  // Latest progress published but not yet written to the store (write-behind: the
  // supervisor persists it within a tick, finish() writes it with the outcome).
  std::mutex unsaved_mutex;
  std::string unsaved_progress;

  std::string take_unsaved_progress() {
    std::lock_guard lock(unsaved_mutex);
    return std::exchange(unsaved_progress, {});
  }

  const std::string& id() const { return lease.record.job_id; }
  const JobKey& key() const { return lease.record.key; }
};

namespace {

std::string timeout_message(const std::string& request_id, std::chrono::milliseconds limit) {
  json::object details;
  details["time_limit_ms"] = limit.count();
  return protocol::error_message(request_id, ErrorCode::kTimeout,
                                 "Request exceeded its time limit of " + std::to_string(limit.count()) + " ms",
                                 std::move(details));
}

std::string cancelled_message(const std::string& request_id) {
  return protocol::error_message(request_id, ErrorCode::kCancelled, "Request cancelled", {}, false);
}

std::string exhausted_message(const std::string& request_id, int attempts, std::string_view last_error) {
  json::object details;
  details["attempts"] = attempts;
  details["last_error"] = last_error;
  return protocol::error_message(request_id, ErrorCode::kInternalError,
                                 "Request failed after " + std::to_string(attempts) + " attempts",
                                 std::move(details));  // retryable, as the seed's table says
}

}  // namespace

WorkerPool::WorkerPool(JobStore& store, EventHub& hub, const HandlerRegistry& registry,
                       const HandlerEnvironment& env, WorkerPoolOptions options)
    : store_(store),
      hub_(hub),
      registry_(registry),
      env_(env),
      options_(std::move(options)),
      ready_(static_cast<std::size_t>(std::max(1, options_.workers)), options_.stall_after),
      commits_(store, {options_.instance_id, options_.lease_ttl, options_.idle_poll},
               {[this] { return stopping_.load() ? 0 : ready_.capacity(options_.claims_per_free_worker); },
                [this](std::vector<Lease> leases) {
                  give_back(ready_.push_all(std::move(leases)), "not started before shutdown");
                }}) {}

WorkerPool::~WorkerPool() { stop(std::chrono::milliseconds(0)); }

void WorkerPool::start() {
  for (int i = 0; i < std::max(1, options_.workers); ++i) {
    threads_.emplace_back([this, i] { worker_loop(static_cast<std::size_t>(i)); });
  }
  supervisor_ = std::thread([this] { supervisor_loop(); });
  commits_.start();
}

void WorkerPool::submit(NewJob job, CommitLoop::SubmitDone done) { commits_.submit(std::move(job), std::move(done)); }

void WorkerPool::notify() { commits_.check_store(std::chrono::system_clock::now()); }

std::size_t WorkerPool::running() const {
  std::lock_guard lock(active_mutex_);
  return active_.size();
}

void WorkerPool::worker_loop(std::size_t index) {
  pthread_setname_np(pthread_self(), "jobs-worker");  // for top -H and perf
  while (auto lease = ready_.take(index)) {
    run_job(std::move(*lease));
    ready_.done(index);
    commits_.capacity_changed();
  }
}

void WorkerPool::give_back(const std::vector<Lease>& leases, std::string_view why) {
  for (const auto& l : leases) {
    try {
      store_.release(l.record.job_id, l.worker_id, std::chrono::system_clock::now(), why, /*refund_attempt=*/true);
    } catch (const std::exception& e) {
      spdlog::warn(R"({{"event":"store_error","op":"release","job":"{}","error":{}}})", l.record.job_id,
                   json_quoted(e.what()));
    }
  }
}

bool WorkerPool::conclude(const std::shared_ptr<ActiveJob>& job, JobStatus status, std::string message) {
  if (job->concluded.exchange(true)) return false;
  commits_.finish({job->id(), status, std::move(message), job->take_unsaved_progress()},
                  [this, job](bool ended, const JobStore::FinishItem& item) { on_concluded(*job, ended, item); });
  return true;
}

void WorkerPool::on_concluded(const ActiveJob& job, bool ended, const JobStore::FinishItem& item) {
  if (!ended) return;  // not recorded (lease lost, or the write failed): nothing is published
  hub_.publish(job.key(), MessageKind::kTerminal, item.outcome_json);  // only after it is durable
  switch (item.terminal) {
    case JobStatus::kSucceeded: ++stats_.succeeded; break;
    case JobStatus::kCancelled: ++stats_.cancelled; break;
    default: ++stats_.failed; break;
  }
  // Info (flushed: a write per line) for traced requests and failures; every success
  // at thousands per second would make the log the bottleneck, so those are debug.
  const auto& rec = job.lease.record;
  const auto level = rec.trace_id.empty() && item.terminal == JobStatus::kSucceeded ? spdlog::level::debug
                                                                                    : spdlog::level::info;
  spdlog::log(level, R"({{"event":"job_finished","job":"{}","action":{},"status":"{}","attempts":{},"trace_id":{}}})",
              rec.job_id, json_quoted(rec.action), to_string(item.terminal), rec.attempts, json_quoted(rec.trace_id));
}

void WorkerPool::run_job(Lease lease) {
  auto job = std::make_shared<ActiveJob>();
  job->lease = std::move(lease);
  const JobRecord& rec = job->lease.record;
  const std::string& request_id = rec.key.request_id;

  Handler* handler = registry_.find(rec.action);
  if (!handler) {
    conclude(job, JobStatus::kFailed,
             protocol::error_message(request_id, ErrorCode::kInvalidAction, "Unknown action: " + rec.action));
    return;
  }
  if (rec.cancel_requested) {  // cancelled while its lease lapsed or while it waited for a retry
    conclude(job, JobStatus::kCancelled, cancelled_message(request_id));
    return;
  }
  if (rec.attempts > rec.max_attempts) {  // its workers kept dying
    conclude(job, JobStatus::kFailed,
             exhausted_message(request_id, rec.attempts - 1,
                               rec.last_error.empty() ? "worker lost" : rec.last_error));
    return;
  }
  std::error_code ec;
  json::value payload_value = json::parse(rec.payload_json, ec);
  json::object payload = (!ec && payload_value.is_object()) ? payload_value.get_object() : json::object{};

  job->time_limit = handler->spec().time_limit;
  if (options_.fault_injection) {
    if (auto it = payload.find("time_limit_ms"); it != payload.end() && it->value().is_number()) {
      job->time_limit = std::chrono::milliseconds(it->value().to_number<std::int64_t>());
    }
  }
  job->started = SteadyClock::now();
  job->deadline = job->started + job->time_limit;
  job->next_renew = job->started + options_.lease_ttl / 3;
  std::weak_ptr<ActiveJob> weak = job;
  job->progress = std::make_unique<ProgressReporter>(
      request_id, options_.progress_interval, [this, weak](const json::object& body) {
        auto j = weak.lock();
        if (!j || j->concluded.load()) return;
        hub_.publish(j->key(), MessageKind::kProgress, protocol::progress_message(body));
        std::lock_guard lock(j->unsaved_mutex);
        j->unsaved_progress = to_json_text(body);
      });
  {
    std::lock_guard lock(active_mutex_);
    active_[job->id()] = job;
  }
  // A drain that began after this job was claimed but before it was registered above
  // did not see it: stop it the same way (it goes back to the queue).
  if (stopping_.load()) job->cancel.cancel(CancelToken::Reason::kShutdown);
  ++stats_.started;

  Identity identity{rec.key.user_id, rec.key.tenant_id, {}};
  JobContext ctx{identity, request_id, rec.trace_id, rec.attempts, *job->progress, job->cancel, env_};

  // What happens when the handler stopped because its token was cancelled.
  auto on_cancelled = [&] {
    switch (job->cancel.reason()) {
      case CancelToken::Reason::kTimedOut:
        if (conclude(job, JobStatus::kFailed, timeout_message(request_id, job->time_limit))) ++stats_.timed_out;
        break;
      case CancelToken::Reason::kShutdown:
        if (!job->concluded.exchange(true)) {
          store_.release(job->id(), job->lease.worker_id, std::chrono::system_clock::now(), "interrupted by shutdown",
                         /*refund_attempt=*/true);
        }
        break;
      default:
        conclude(job, JobStatus::kCancelled, cancelled_message(request_id));
    }
  };
  // A retryable failure: back to the queue with backoff, or give up.
  auto on_retryable = [&](std::string_view what) {
    if (job->cancel.cancelled()) return on_cancelled();
    if (rec.attempts < rec.max_attempts) {
      if (job->concluded.exchange(true)) return;
      std::chrono::milliseconds delay;
      {
        std::lock_guard lock(rng_mutex_);
        delay = options_.retry.delay_after(rec.attempts, rng_);
      }
      const auto retry_at = std::chrono::system_clock::now() + delay;
      store_.release(job->id(), job->lease.worker_id, retry_at, what, false);
      commits_.check_store(retry_at);
      ++stats_.retried;
      spdlog::warn(R"({{"event":"job_retry","job":"{}","attempt":{},"delay_ms":{},"error":{},"trace_id":{}}})",
                   job->id(), rec.attempts, delay.count(), json_quoted(what), json_quoted(rec.trace_id));
    } else {
      conclude(job, JobStatus::kFailed, exhausted_message(request_id, rec.attempts, what));
    }
  };

  try {
    HandlerResult result = handler->run(payload, ctx);
    if (job->cancel.cancelled()) {
      on_cancelled();
    } else {
      if (result.success) {
        job->progress->complete("Completed");
      } else {
        job->progress->flush();
      }
      json::object meta;
      meta["total_processing_time"] = std::chrono::duration<double>(std::chrono::system_clock::now() - rec.created_at).count();
      meta["handler"] = rec.action;
      meta["attempts"] = rec.attempts;
      if (!rec.trace_id.empty()) meta["trace_id"] = rec.trace_id;
      conclude(job, JobStatus::kSucceeded,
               protocol::result_message(request_id, result.success, result.data, meta));
    }
  } catch (const OperationCancelled&) {
    on_cancelled();
  } catch (const HandlerError& e) {
    if (job->cancel.cancelled()) {
      on_cancelled();
    } else if (e.retryable()) {
      on_retryable(e.what());
    } else {
      conclude(job, JobStatus::kFailed, protocol::error_message(request_id, e));
    }
  } catch (const std::exception& e) {
    on_retryable(e.what());
  } catch (...) {
    on_retryable("unknown exception");
  }

  {
    std::lock_guard lock(active_mutex_);
    active_.erase(job->id());
  }
  drained_.notify_all();
}

bool WorkerPool::cancel_local(const JobKey& key) {
  // Claimed but not started yet: it ends here without running.
  bool found = false;
  for (auto& lease : ready_.take_if([&](const Lease& l) { return l.record.key == key; })) {
    auto unstarted = std::make_shared<ActiveJob>();
    unstarted->lease = std::move(lease);
    conclude(unstarted, JobStatus::kCancelled, cancelled_message(key.request_id));
    found = true;
  }
  std::shared_ptr<ActiveJob> job;
  {
    std::lock_guard lock(active_mutex_);
    for (const auto& [id, j] : active_) {
      if (j->key() == key) job = j;
    }
  }
  if (!job) return found;
  job->cancel.cancel(CancelToken::Reason::kCancelled);
  conclude(job, JobStatus::kCancelled, cancelled_message(key.request_id));
  return true;
}

void WorkerPool::supervisor_loop() {
  pthread_setname_np(pthread_self(), "jobs-supervisor");
  while (!stopping_.load()) {
    std::vector<std::shared_ptr<ActiveJob>> jobs;
    {
      std::lock_guard lock(active_mutex_);
      for (const auto& [id, j] : active_) jobs.push_back(j);
    }
    const auto now = SteadyClock::now();
    std::vector<std::pair<std::string, std::string>> unsaved_progress;
    for (const auto& job : jobs) {
      if (job->concluded.load()) continue;
      if (now >= job->deadline) {
        job->cancel.cancel(CancelToken::Reason::kTimedOut);
        if (conclude(job, JobStatus::kFailed, timeout_message(job->key().request_id, job->time_limit))) {
          ++stats_.timed_out;
        }
        continue;
      }
      if (now >= job->next_renew) {
        job->next_renew = now + options_.lease_ttl / 3;
        try {
          LeaseState state = store_.renew(job->id(), job->lease.worker_id, options_.lease_ttl);
          if (!state.owned) {
            // Someone else owns it now (our lease lapsed) or it ended elsewhere.
            job->concluded.store(true);
            job->cancel.cancel(CancelToken::Reason::kShutdown);
            continue;
          }
          if (state.cancel_requested) {
            job->cancel.cancel(CancelToken::Reason::kCancelled);
            conclude(job, JobStatus::kCancelled, cancelled_message(job->key().request_id));
            continue;
          }
        } catch (const std::exception& e) {
          spdlog::warn(R"({{"event":"store_error","op":"renew","job":"{}","error":{}}})", job->id(), json_quoted(e.what()));
        }
      }
      job->progress->flush_if_due();
      if (auto unsaved = job->take_unsaved_progress(); !unsaved.empty()) {
        unsaved_progress.emplace_back(job->id(), std::move(unsaved));
      }
    }
    // Latest progress of every running job, persisted in one transaction per tick.
    if (!unsaved_progress.empty()) {
      try {
        store_.save_progress_batch(options_.instance_id, unsaved_progress);
      } catch (const std::exception& e) {
        spdlog::warn(R"({{"event":"store_error","op":"save_progress","jobs":{},"error":{}}})", unsaved_progress.size(),
                     json_quoted(e.what()));
      }
    }
    // A job queued behind one that turned out slow gets another worker; one that would
    // wait so long that its lease lapses goes back to the store.
    ready_.rebalance();
    if (auto stale = ready_.take_older_than(options_.lease_ttl / 3); !stale.empty()) {
      give_back(stale, "not started in time");
      commits_.check_store(std::chrono::system_clock::now());
    }
    std::unique_lock lock(supervisor_mutex_);
    supervisor_wake_.wait_for(lock, std::chrono::milliseconds(25), [this] { return stopping_.load(); });
  }
}

void WorkerPool::stop(std::chrono::milliseconds grace) {
  if (stopping_.exchange(true)) return;  // from now on nothing more is claimed
  {
    std::lock_guard lock(supervisor_mutex_);  // the supervisor waits, or will see stopping_
  }
  supervisor_wake_.notify_all();
  // Claimed but never started: straight back to the queue, attempt refunded.
  give_back(ready_.stop(), "not started before shutdown");
  {
    std::lock_guard lock(active_mutex_);
    for (const auto& [id, job] : active_) job->cancel.cancel(CancelToken::Reason::kShutdown);
  }
  const auto until = SteadyClock::now() + grace;
  bool drained;
  {
    std::unique_lock lock(active_mutex_);
    drained = drained_.wait_until(lock, until, [this] { return active_.empty(); });
  }
  for (auto& t : threads_) {
    // A handler that ignores cancellation keeps its thread; its lease lapses and the
    // job runs again elsewhere or after restart.
    if (drained) {
      t.join();
    } else {
      t.detach();
    }
  }
  threads_.clear();
  if (supervisor_.joinable()) supervisor_.join();
  commits_.stop();  // writes the outcomes handed in so far, then exits
}

}  // namespace streamer
