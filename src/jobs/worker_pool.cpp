#include "jobs/worker_pool.hpp"

#include <pthread.h>

#include <spdlog/spdlog.h>
#include <utility>

#include "core/json_text.hpp"
#include "core/log_event.hpp"
#include "core/protocol.hpp"
#include "jobs/job_outcomes.hpp"
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
  // What the supervisor is writing now: a finish racing that write must still carry it,
  // since the store refuses a progress write that lands after the job ended.
  std::string saving_progress;

  // For the supervisor's tick: the unsaved progress, now marked as being written.
  std::string take_progress_to_save() {
    std::lock_guard lock(unsaved_mutex);
    saving_progress = std::exchange(unsaved_progress, {});
    return saving_progress;
  }
  // The supervisor's write of take_progress_to_save() has returned (done or refused).
  void progress_saved() {
    std::lock_guard lock(unsaved_mutex);
    saving_progress.clear();
  }
  // For finish: the latest progress the store may not hold yet ("" if it holds it).
  // A write of it that lands first makes the finish's copy a no-op in the store.
  std::string take_final_progress() {
    std::lock_guard lock(unsaved_mutex);
    return unsaved_progress.empty() ? saving_progress : std::exchange(unsaved_progress, {});
  }

  const std::string& id() const { return lease.record.job_id; }
  const JobKey& key() const { return lease.record.key; }
};

WorkerPool::WorkerPool(JobStore& store, EventBus& hub, const HandlerRegistry& registry,
                       const HandlerEnvironment& env, WorkerPoolOptions options)
    : store_(store),
      hub_(hub),
      registry_(registry),
      env_(env),
      options_(std::move(options)),
      handover_(options_.parsed_handover_bytes),
      ready_(static_cast<std::size_t>(std::max(1, options_.workers)), options_.stall_after),
      waiting_(options_.max_waiting_jobs,
               [this](Lease lease) { return run_waiting_job(std::move(lease)); }),
      waiting_feeder_(store, waiting_,
                      {options_.instance_id, options_.lease_ttl, options_.idle_poll,
                       options_.waiting_claim_batch},
                      [this](const std::vector<Lease>& leases) {
                        give_back(leases, "not started before shutdown");
                      }),
      commits_(store, {options_.instance_id, options_.lease_ttl, options_.idle_poll},
               {[this] { return claim_capacity(); },
                [this](std::vector<Lease> leases) { deliver(std::move(leases)); },
                [this] { return waiting_claim_capacity(); },
                [this](std::vector<Lease> leases) {
                  give_back(waiting_.admit(std::move(leases)), "not started before shutdown");
                }}) {}

WorkerPool::~WorkerPool() { stop(std::chrono::milliseconds(0)); }

void WorkerPool::start() {
  for (int i = 0; i < options_.workers; ++i) {
    threads_.emplace_back([this, i] { worker_loop(static_cast<std::size_t>(i)); });
  }
  if (options_.workers > 0 && options_.max_waiting_jobs > 0) {
    waiting_.start();
    waiting_feeder_.start();
  }
  supervisor_ = std::thread([this] { supervisor_loop(); });
  commits_.start();
}

std::size_t WorkerPool::claim_capacity() const {
  // A pool of 0 workers (a gateway-only process) only submits.
  if (stopping_.load() || options_.workers == 0) return 0;
  const std::size_t per_free = options_.claims_per_free_worker;
  // Waiting jobs parked for a slot came in on the worker threads' share of a claim.
  const std::size_t parked = waiting_.parked();
  const std::size_t blocking = ready_.capacity(per_free);
  return blocking > parked ? blocking - parked : 0;
}

std::size_t WorkerPool::waiting_claim_capacity() const {
  // The lane runs only in a pool with workers (start()); room() is 0 once it closed.
  if (stopping_.load() || options_.workers == 0 || options_.max_waiting_jobs == 0) return 0;
  return waiting_.room();
}

bool WorkerPool::runs_waiting(const Lease& lease) const {
  if (options_.max_waiting_jobs == 0) return false;
  return dynamic_cast<const WaitingHandler*>(registry_.find(lease.record.action)) != nullptr;
}

void WorkerPool::deliver(std::vector<Lease> leases) {
  std::vector<Lease> blocking, waiting;
  for (auto& lease : leases) {
    (runs_waiting(lease) ? waiting : blocking).push_back(std::move(lease));
  }
  give_back(ready_.push_all(std::move(blocking)), "not started before shutdown");
  if (waiting.empty()) return;
  give_back(waiting_.admit(std::move(waiting)), "not started before shutdown");
  // More may be runnable in the store: the next round claims again while there is room.
  if (waiting_.room() > 0) commits_.capacity_changed();
}

void WorkerPool::submit(NewJob job, CommitLoop::SubmitDone done, ParsedRequest parsed) {
  // A waiting handler's job goes to the waiting lane's own store lane. Its round may
  // lease it to this pool's lane at once (CommitLoop::Claims::waiting_capacity);
  // otherwise the lane's feeder looks for it as soon as it is stored.
  if (job.lane.empty() && options_.max_waiting_jobs > 0 &&
      dynamic_cast<const WaitingHandler*>(registry_.find(job.action))) {
    job.lane = std::string(kWaitingLane);
    done = [this, done = std::move(done)](const SubmitResult* stored) {
      done(stored);
      if (stored && stored->created && stored->record.status == JobStatus::kQueued)
        waiting_feeder_.wake();
    };
  }
  if (!parsed) return commits_.submit(std::move(job), std::move(done));
  // Kept once the store has the new job, before the same round hands its claims to
  // the workers; a re-sent id (not created) keeps the first submission's entry.
  auto keep = [this, key = job.key, bytes = job.payload_json.size(), parsed = std::move(parsed),
               done = std::move(done)](const SubmitResult* stored) mutable {
    if (stored && stored->created && stored->refused == QueueLimit::kNone)
      handover_.put(key, std::move(parsed), bytes);
    done(stored);
  };
  commits_.submit(std::move(job), std::move(keep));
}

void WorkerPool::notify() {
  commits_.check_store(std::chrono::system_clock::now());
  waiting_feeder_.wake();
}

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
    release_lease(l.record.job_id, l.fence, std::chrono::system_clock::now(), why,
                  /*refund_attempt=*/true);
  }
}

bool WorkerPool::release_lease(const std::string& job_id, std::int64_t fence,
                               SystemTime available_at, std::string_view why, bool refund_attempt) {
  try {
    return store_.release(job_id, fence, available_at, why, refund_attempt);
  } catch (const std::exception& e) {
    log_event(spdlog::level::warn, "store_error",
              {{"op", "release"}, {"job", job_id}, {"error", e.what()}});
    return false;
  }
}

bool WorkerPool::conclude(const std::shared_ptr<ActiveJob>& job, JobStatus status,
                          std::string message) {
  if (job->concluded.exchange(true)) return false;
  commits_.finish(
      {job->id(), job->lease.fence, status, std::move(message), job->take_final_progress()},
      [this, job](const FinishResult& result, const JobStore::FinishItem& item) {
        on_concluded(*job, result, item);
      });
  return true;
}

void WorkerPool::on_concluded(const ActiveJob& job, const FinishResult& result,
                              const JobStore::FinishItem& item) {
  handover_.drop(
      job.key());  // its outcome is decided (or its lease was lost): no attempt follows here
  if (!result.ended) return;  // not recorded (lease lost, or the write failed): not published
  // Only after it is durable; a store that published it in that write already did.
  if (!result.published) hub_.publish(job.key(), MessageKind::kTerminal, item.outcome_json);
  switch (item.terminal) {
    case JobStatus::kSucceeded:
      ++stats_.succeeded;
      break;
    case JobStatus::kCancelled:
      ++stats_.cancelled;
      break;
    default:
      ++stats_.failed;
      break;
  }
  if (options_.observer) {
    const double ran =
        job.started == SteadyClock::time_point{}
            ? 0.0  // ended without running (cancelled before it started, ...)
            : std::chrono::duration<double>(SteadyClock::now() - job.started).count();
    options_.observer->job_finished(job.lease.record, item.terminal,
                                    item.terminal == JobStatus::kSucceeded
                                        ? std::string()
                                        : stored_error(item.outcome_json).code,
                                    ran);
  }
  // Info (flushed: a write per line) for traced requests and failures; every success
  // at thousands per second would make the log the bottleneck, so those are debug.
  const auto& rec = job.lease.record;
  const auto level = rec.trace_id.empty() && item.terminal == JobStatus::kSucceeded
                         ? spdlog::level::debug
                         : spdlog::level::info;
  if (!spdlog::should_log(level)) return;
  log_event(level, "job_finished",
            {{"job", rec.job_id},
             {"action", rec.action},
             {"status", to_string(item.terminal)},
             {"attempts", rec.attempts},
             {"trace_id", rec.trace_id}});
}

void WorkerPool::run_job(Lease lease) {
  auto job = std::make_shared<ActiveJob>();
  job->lease = std::move(lease);
  Handler* handler = registry_.find(job->lease.record.action);
  if (end_without_running(job, handler)) return;

  const json::object payload = payload_of(job->lease.record);
  prepare(job, *handler, payload);
  begin_run(job);
  run_handler(job, *handler, payload);
  end_run(job);
}

boost::asio::awaitable<void> WorkerPool::run_waiting_job(Lease lease) {
  auto job = std::make_shared<ActiveJob>();
  job->lease = std::move(lease);
  auto* handler = dynamic_cast<WaitingHandler*>(registry_.find(job->lease.record.action));
  if (!end_without_running(job, handler)) {
    const json::object payload = payload_of(job->lease.record);
    prepare(job, *handler, payload);
    begin_run(job);
    const JobRecord& rec = job->lease.record;
    std::exception_ptr error;
    HandlerResult result;
    try {
      Identity identity{rec.key.user_id, rec.key.tenant_id, {}};
      JobContext ctx{identity,       rec.key.request_id, rec.trace_id, rec.attempts,
                     *job->progress, job->cancel,        env_};
      ParsedRequest parsed = handover_.find(rec.key);
      if (!parsed) parsed = handler->parse_payload(payload);
      result = co_await handler->run_waiting(parsed, ctx);
    } catch (...) {
      error = std::current_exception();
    }
    route_outcome(job, error, result);
    end_run(job);
  }
  commits_.capacity_changed();
  waiting_feeder_.room_freed();  // its slot is free
}

void WorkerPool::begin_run(const std::shared_ptr<ActiveJob>& job) {
  std::shared_ptr<ActiveJob> superseded;
  {
    std::lock_guard lock(active_mutex_);
    superseded = std::exchange(active_[job->id()], job);
    active_by_key_[job->key()] = job;
  }
  // This process claimed again a job whose earlier attempt here lost its lease (a store
  // outage longer than the lease): the store refuses that attempt's writes, so stop it;
  // from now on the renewals are this attempt's.
  if (superseded) {
    superseded->concluded.store(true);
    superseded->cancel.cancel(CancelToken::Reason::kShutdown);
  }
  // A drain that began after this job was claimed but before it was registered above
  // did not see it: stop it the same way (it goes back to the queue).
  if (stopping_.load()) job->cancel.cancel(CancelToken::Reason::kShutdown);
  ++stats_.started;
  if (options_.observer) {
    const JobRecord& rec = job->lease.record;
    const double waited =
        rec.attempts == 1
            ? std::chrono::duration<double>(std::chrono::system_clock::now() - rec.created_at)
                  .count()
            : -1.0;
    options_.observer->job_started(rec, waited);
  }
}

void WorkerPool::end_run(const std::shared_ptr<ActiveJob>& job) {
  {
    std::lock_guard lock(active_mutex_);
    // Only this run's entries: a later claim of the same job may have replaced them.
    if (auto it = active_.find(job->id()); it != active_.end() && it->second == job) {
      active_.erase(it);
    }
    if (auto it = active_by_key_.find(job->key()); it != active_by_key_.end() && it->second == job)
      active_by_key_.erase(it);
  }
  drained_.notify_all();
}

bool WorkerPool::end_without_running(const std::shared_ptr<ActiveJob>& job,
                                     const Handler* handler) {
  const JobRecord& rec = job->lease.record;
  const std::string& request_id = rec.key.request_id;
  if (!handler) {
    conclude(job, JobStatus::kFailed,
             protocol::error_message(request_id, ErrorCode::kInvalidAction,
                                     "Unknown action: " + rec.action));
    return true;
  }
  if (rec.cancel_requested) {  // cancelled while its lease lapsed or while it waited for a retry
    conclude(job, JobStatus::kCancelled, cancelled_message(request_id));
    return true;
  }
  if (rec.attempts > rec.max_attempts) {  // its workers kept dying
    conclude(job, JobStatus::kFailed,
             exhausted_message(request_id, rec.attempts - 1,
                               rec.last_error.empty() ? "worker lost" : rec.last_error));
    return true;
  }
  return false;
}

json::object WorkerPool::payload_of(const JobRecord& rec) {
  std::error_code ec;
  json::value value = json::parse(rec.payload_json, ec);
  if (ec || !value.is_object()) return {};
  return std::move(value.get_object());
}

void WorkerPool::prepare(const std::shared_ptr<ActiveJob>& job, const Handler& handler,
                         const json::object& payload) {
  job->time_limit = handler.spec().time_limit;
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
      job->key().request_id, options_.progress_interval, [this, weak](const json::object& body) {
        auto j = weak.lock();
        if (!j || j->concluded.load()) return;
        std::string message = protocol::progress_message(body);
        // A store that publishes events sends it with the next round, in order with the
        // job's outcome, and the handler does not wait for it.
        if (!store_.publishes_events() ||
            !commits_.publish_progress({j->key(), j->id(), j->lease.fence, message})) {
          hub_.publish_progress(j->key(), j->id(), j->lease.fence, message);
        }
        if (options_.observer) options_.observer->progress_published(j->lease.record.action);
        std::lock_guard lock(j->unsaved_mutex);
        j->unsaved_progress = to_json_text(body);
      });
}

void WorkerPool::run_handler(const std::shared_ptr<ActiveJob>& job, Handler& handler,
                             const json::object& payload) {
  const JobRecord& rec = job->lease.record;
  Identity identity{rec.key.user_id, rec.key.tenant_id, {}};
  JobContext ctx{identity,       rec.key.request_id, rec.trace_id, rec.attempts,
                 *job->progress, job->cancel,        env_};
  std::exception_ptr error;
  HandlerResult result;
  try {
    // The parse made when the request arrived, if it arrived here; else the stored
    // payload's: a HandlerError then (a payload a newer handler refuses) fails the job
    // like any other typed failure.
    ParsedRequest parsed = handover_.find(rec.key);
    if (!parsed) parsed = handler.parse_payload(payload);
    result = handler.run_parsed(parsed, ctx);
  } catch (...) {
    error = std::current_exception();
  }
  route_outcome(job, error, result);
}

void WorkerPool::route_outcome(const std::shared_ptr<ActiveJob>& job, std::exception_ptr error,
                               const HandlerResult& result) {
  const JobRecord& rec = job->lease.record;
  try {
    if (error) std::rethrow_exception(error);
    if (job->cancel.cancelled()) return on_stopped(job);
    on_returned(job, result);
  } catch (const OperationCancelled&) {
    on_stopped(job);
  } catch (const HandlerError& e) {
    if (job->cancel.cancelled()) return on_stopped(job);
    if (e.retryable()) return retry_or_fail(job, e.what());
    conclude(job, JobStatus::kFailed, protocol::error_message(rec.key.request_id, e));
  } catch (const std::exception& e) {
    retry_or_fail(job, e.what());
  } catch (...) {
    retry_or_fail(job, "unknown exception");
  }
}

void WorkerPool::on_returned(const std::shared_ptr<ActiveJob>& job, const HandlerResult& result) {
  const JobRecord& rec = job->lease.record;
  if (result.success) {
    job->progress->complete("Completed");
  } else {
    job->progress->flush();
  }
  json::object meta;
  meta["total_processing_time"] =
      std::chrono::duration<double>(std::chrono::system_clock::now() - rec.created_at).count();
  meta["handler"] = rec.action;
  meta["attempts"] = rec.attempts;
  if (!rec.trace_id.empty()) meta["trace_id"] = rec.trace_id;
  conclude(job, JobStatus::kSucceeded,
           protocol::result_message(rec.key.request_id, result.success, result.data, meta));
}

void WorkerPool::on_stopped(const std::shared_ptr<ActiveJob>& job) {
  const std::string& request_id = job->key().request_id;
  switch (job->cancel.reason()) {
    case CancelToken::Reason::kTimedOut:
      if (conclude(job, JobStatus::kFailed, timeout_message(request_id, job->time_limit)))
        ++stats_.timed_out;
      break;
    case CancelToken::Reason::kShutdown:
      if (!job->concluded.exchange(true)) {
        release_lease(job->id(), job->lease.fence, std::chrono::system_clock::now(),
                      "interrupted by shutdown",
                      /*refund_attempt=*/true);
      }
      break;
    default:
      conclude(job, JobStatus::kCancelled, cancelled_message(request_id));
  }
}

void WorkerPool::retry_or_fail(const std::shared_ptr<ActiveJob>& job, std::string_view what) {
  if (job->cancel.cancelled()) return on_stopped(job);
  const JobRecord& rec = job->lease.record;
  if (rec.attempts >= rec.max_attempts) {
    conclude(job, JobStatus::kFailed, exhausted_message(rec.key.request_id, rec.attempts, what));
    return;
  }
  if (job->concluded.exchange(true)) return;
  std::chrono::milliseconds delay;
  {
    std::lock_guard lock(rng_mutex_);
    delay = options_.retry.delay_after(rec.attempts, rng_);
  }
  const auto retry_at = std::chrono::system_clock::now() + delay;
  // Not released (the store failed): the job stays leased here until its lease lapses,
  // then runs again like one whose worker died.
  if (!release_lease(job->id(), job->lease.fence, retry_at, what, /*refund_attempt=*/false)) return;
  commits_.check_store(retry_at);
  ++stats_.retried;
  if (options_.observer) options_.observer->job_retried(rec);
  log_event(spdlog::level::warn, "job_retry",
            {{"job", job->id()},
             {"attempt", rec.attempts},
             {"delay_ms", delay.count()},
             {"error", what},
             {"trace_id", rec.trace_id}});
}

bool WorkerPool::cancel_local(const JobKey& key) {
  // Claimed but not started yet: it ends here without running.
  bool found = false;
  auto unstarted = ready_.take_if([&](const Lease& l) { return l.record.key == key; });
  for (auto& lease : waiting_.take_parked_if([&](const Lease& l) { return l.record.key == key; }))
    unstarted.push_back(std::move(lease));
  for (auto& lease : unstarted) {
    auto never_started = std::make_shared<ActiveJob>();
    never_started->lease = std::move(lease);
    conclude(never_started, JobStatus::kCancelled, cancelled_message(key.request_id));
    found = true;
  }
  std::shared_ptr<ActiveJob> job;
  {
    std::lock_guard lock(active_mutex_);
    if (auto it = active_by_key_.find(key); it != active_by_key_.end()) job = it->second;
  }
  if (!job) return found;
  job->cancel.cancel(CancelToken::Reason::kCancelled);
  conclude(job, JobStatus::kCancelled, cancelled_message(key.request_id));
  return true;
}

std::size_t WorkerPool::JobKeyHash::operator()(const JobKey& key) const noexcept {
  const std::hash<std::string> h;
  std::size_t seed = h(key.tenant_id);
  seed ^= h(key.user_id) + 0x9e3779b97f4a7c15ULL + (seed << 6) + (seed >> 2);
  seed ^= h(key.request_id) + 0x9e3779b97f4a7c15ULL + (seed << 6) + (seed >> 2);
  return seed;
}

void WorkerPool::renew_leases(const std::vector<std::shared_ptr<ActiveJob>>& due) {
  std::vector<JobStore::RenewItem> items;
  items.reserve(due.size());
  for (const auto& job : due) items.push_back({job->id(), job->lease.fence});
  std::vector<LeaseState> states;
  try {
    states = store_.renew_batch(items, options_.lease_ttl);
  } catch (const std::exception& e) {
    log_event(spdlog::level::warn, "store_error",
              {{"op", "renew"}, {"jobs", items.size()}, {"error", e.what()}});
    return;
  }
  for (std::size_t i = 0; i < due.size() && i < states.size(); ++i) {
    const auto& job = due[i];
    if (!states[i].owned) {
      // Someone else owns it now (our lease lapsed) or it ended elsewhere.
      job->concluded.store(true);
      job->cancel.cancel(CancelToken::Reason::kShutdown);
    } else if (states[i].cancel_requested) {
      job->cancel.cancel(CancelToken::Reason::kCancelled);
      conclude(job, JobStatus::kCancelled, cancelled_message(job->key().request_id));
    }
  }
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
    std::vector<std::shared_ptr<ActiveJob>> renewal_due;
    for (const auto& job : jobs) {
      if (job->concluded.load()) continue;
      if (now >= job->deadline) {
        job->cancel.cancel(CancelToken::Reason::kTimedOut);
        if (conclude(job, JobStatus::kFailed,
                     timeout_message(job->key().request_id, job->time_limit))) {
          ++stats_.timed_out;
        }
        continue;
      }
      if (now >= job->next_renew) {
        job->next_renew = now + options_.lease_ttl / 3;
        renewal_due.push_back(job);
      }
    }
    if (!renewal_due.empty()) renew_leases(renewal_due);
    std::vector<ProgressItem> unsaved_progress;
    std::vector<std::shared_ptr<ActiveJob>> saving;
    for (const auto& job : jobs) {
      if (job->concluded.load()) continue;
      job->progress->flush_if_due();
      if (auto unsaved = job->take_progress_to_save(); !unsaved.empty()) {
        unsaved_progress.push_back({job->id(), job->lease.fence, std::move(unsaved)});
        saving.push_back(job);
      }
    }
    // Latest progress of every running job, persisted in one transaction per tick.
    if (!unsaved_progress.empty()) {
      try {
        store_.save_progress_batch(unsaved_progress);
      } catch (const std::exception& e) {
        log_event(
            spdlog::level::warn, "store_error",
            {{"op", "save_progress"}, {"jobs", unsaved_progress.size()}, {"error", e.what()}});
      }
      for (const auto& job : saving) job->progress_saved();
    }
    // A job queued behind one that turned out slow gets another worker; one that would
    // wait so long that its lease lapses goes back to the store.
    ready_.rebalance();
    auto stale = ready_.take_older_than(options_.lease_ttl / 3);
    for (auto& lease : waiting_.take_parked_older_than(options_.lease_ttl / 3))
      stale.push_back(std::move(lease));
    if (!stale.empty()) {
      give_back(stale, "not started in time");
      commits_.check_store(std::chrono::system_clock::now());
    }
    std::unique_lock lock(supervisor_mutex_);
    supervisor_wake_.wait_for(lock, std::chrono::milliseconds(25),
                              [this] { return stopping_.load(); });
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
  waiting_feeder_.stop();  // no more claims for the waiting lane
  give_back(waiting_.close(), "not started before shutdown");
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
  // Waiting jobs claimed before the drain may not have registered yet: they stop
  // themselves when they do (begin_run), so their runs are what to wait for. Runs still
  // going after the grace are dropped by waiting_.stop() below (their leases lapse).
  waiting_.wait_idle(until);
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
  // Its runs have ended (or, past the grace, are dropped unfinished: their leases lapse).
  waiting_.stop();
  if (supervisor_.joinable()) supervisor_.join();
  commits_.stop();  // writes the outcomes handed in so far, then exits
}

}  // namespace streamer
