#include "jobs/worker_pool.hpp"

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
    : store_(store), hub_(hub), registry_(registry), env_(env), options_(std::move(options)) {}

WorkerPool::~WorkerPool() { stop(std::chrono::milliseconds(0)); }

void WorkerPool::start() {
  for (int i = 0; i < options_.workers; ++i) threads_.emplace_back([this, i] { worker_loop(i); });
  supervisor_ = std::thread([this] { supervisor_loop(); });
  completer_ = std::thread([this] { completer_loop(); });
}

void WorkerPool::notify() {
  {
    std::lock_guard lock(wake_mutex_);
    ++wake_seq_;
  }
  wake_.notify_one();
}

std::size_t WorkerPool::running() const {
  std::lock_guard lock(active_mutex_);
  return active_.size();
}

void WorkerPool::worker_loop(int /*index*/) {
  for (;;) {
    std::optional<Lease> lease;
    std::uint64_t seen = 0;
    {
      std::unique_lock lock(wake_mutex_);
      for (;;) {
        if (stopping_.load()) return;
        if (!ready_.empty()) {
          lease = std::move(ready_.front());
          ready_.pop_front();
          break;
        }
        if (!fetching_) {  // nobody is asking the store: this worker does
          fetching_ = true;
          seen = wake_seq_;
          break;
        }
        ++idle_workers_;
        wake_.wait_for(lock, options_.idle_poll);
        --idle_workers_;
      }
    }
    if (lease) {
      run_job(std::move(*lease));
      continue;
    }

    // Fetch: claim work for this worker and every idle one in one transaction.
    std::vector<Lease> got;
    std::optional<SystemTime> next;
    std::size_t want;
    {
      std::lock_guard lock(wake_mutex_);
      want = static_cast<std::size_t>(std::min(idle_workers_ + 1, 64));
    }
    try {
      got = store_.acquire_batch(options_.instance_id, options_.lease_ttl, want);
      if (got.empty()) next = store_.next_wakeup();
    } catch (const std::exception& e) {
      spdlog::error(R"({{"event":"store_error","op":"acquire","error":{}}})", json_quoted(e.what()));
    }
    std::unique_lock lock(wake_mutex_);
    fetching_ = false;
    if (stopping_.load()) {  // a drain began while we were fetching: give it all back
      lock.unlock();
      for (const auto& l : got) {
        store_.release(l.record.job_id, l.worker_id, std::chrono::system_clock::now(), "not started before shutdown",
                       /*refund_attempt=*/true);
      }
      return;
    }
    if (!got.empty()) {
      for (std::size_t i = 1; i < got.size(); ++i) ready_.push_back(std::move(got[i]));
      lock.unlock();
      // Idle workers take what was shared, or one of them becomes the next fetcher
      // (workers that went idle during this fetch were not counted in `want`).
      // Measured: notify_all beats one notify_one per job here (the woken fetcher
      // keeps more workers busy than the switches it costs).
      wake_.notify_all();
      run_job(std::move(got.front()));
      continue;
    }
    // Nothing runnable: sleep until a submit, the next retry/lease expiry, or a poll.
    auto until = SteadyClock::now() + options_.idle_poll;
    if (next) {
      auto in = *next - std::chrono::system_clock::now();
      until = std::min(until, SteadyClock::now() + std::chrono::duration_cast<SteadyClock::duration>(in) +
                                  std::chrono::milliseconds(1));
    }
    ++idle_workers_;
    wake_.wait_until(lock, until, [&] { return stopping_.load() || wake_seq_ != seen || !ready_.empty(); });
    --idle_workers_;
  }
}

bool WorkerPool::conclude(const std::shared_ptr<ActiveJob>& job, JobStatus status, std::string message) {
  if (job->concluded.exchange(true)) return false;
  {
    std::lock_guard lock(done_mutex_);
    done_.push_back(Completion{job, status, std::move(message)});
  }
  done_cv_.notify_one();
  return true;
}

void WorkerPool::completer_loop() {
  for (;;) {
    std::vector<Completion> batch;
    {
      std::unique_lock lock(done_mutex_);
      done_cv_.wait(lock, [this] { return completer_stop_ || !done_.empty(); });
      if (done_.empty()) return;  // stopping, and everything was written
      batch.swap(done_);
    }
    std::vector<JobStore::FinishItem> items;
    items.reserve(batch.size());
    for (auto& c : batch) {
      items.push_back({c.job->id(), c.status, c.message, c.job->take_unsaved_progress()});
    }
    std::vector<bool> ended(batch.size(), false);
    try {
      ended = store_.finish_batch(options_.instance_id, items);
    } catch (const std::exception& e) {
      // Not recorded: the leases lapse and the jobs run again (at-least-once).
      spdlog::error(R"({{"event":"store_error","op":"finish","jobs":{},"error":{}}})", batch.size(),
                    json_quoted(e.what()));
    }
    for (std::size_t i = 0; i < batch.size(); ++i) {
      if (!ended[i]) continue;
      const auto& c = batch[i];
      hub_.publish(c.job->key(), MessageKind::kTerminal, c.message);  // only after it is durable
      switch (c.status) {
        case JobStatus::kSucceeded: ++stats_.succeeded; break;
        case JobStatus::kCancelled: ++stats_.cancelled; break;
        default: ++stats_.failed; break;
      }
      const auto& rec = c.job->lease.record;
      spdlog::info(R"({{"event":"job_finished","job":"{}","action":{},"status":"{}","attempts":{},"trace_id":{}}})",
                   rec.job_id, json_quoted(rec.action), to_string(c.status), rec.attempts, json_quoted(rec.trace_id));
    }
  }
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
      store_.release(job->id(), job->lease.worker_id, std::chrono::system_clock::now() + delay, what, false);
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
  std::shared_ptr<ActiveJob> job;
  {
    std::lock_guard lock(active_mutex_);
    for (const auto& [id, j] : active_) {
      if (j->key() == key) job = j;
    }
  }
  if (!job) return false;
  job->cancel.cancel(CancelToken::Reason::kCancelled);
  conclude(job, JobStatus::kCancelled, cancelled_message(key.request_id));
  return true;
}

void WorkerPool::supervisor_loop() {
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
    std::unique_lock lock(wake_mutex_);
    wake_.wait_for(lock, std::chrono::milliseconds(25), [this] { return stopping_.load(); });
  }
}

void WorkerPool::stop(std::chrono::milliseconds grace) {
  if (stopping_.exchange(true)) return;
  {
    std::lock_guard lock(wake_mutex_);
    ++wake_seq_;
  }
  wake_.notify_all();
  {
    std::lock_guard lock(active_mutex_);
    for (const auto& [id, job] : active_) job->cancel.cancel(CancelToken::Reason::kShutdown);
  }
  // Claimed but never started: straight back to the queue, attempt refunded.
  std::deque<Lease> unstarted;
  {
    std::lock_guard lock(wake_mutex_);
    unstarted.swap(ready_);
  }
  for (const auto& lease : unstarted) {
    try {
      store_.release(lease.record.job_id, lease.worker_id, std::chrono::system_clock::now(), "not started before shutdown",
                     /*refund_attempt=*/true);
    } catch (const std::exception& e) {
      spdlog::warn(R"({{"event":"store_error","op":"release","error":{}}})", json_quoted(e.what()));
    }
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
  {
    std::lock_guard lock(done_mutex_);
    completer_stop_ = true;  // it writes what is pending, then exits
  }
  done_cv_.notify_all();
  if (completer_.joinable()) completer_.join();
}

}  // namespace streamer
