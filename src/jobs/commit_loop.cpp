#include "jobs/commit_loop.hpp"

#include <pthread.h>

#include <algorithm>

#include "core/log_batch.hpp"
#include "core/log_event.hpp"

namespace streamer {

CommitLoop::CommitLoop(JobStore& store, Options options, Claims claims)
    : store_(store), options_(std::move(options)), claims_(std::move(claims)) {}

CommitLoop::~CommitLoop() { stop(); }

void CommitLoop::start() {
  thread_ = std::thread([this] { run(); });
}

void CommitLoop::stop() {
  {
    std::lock_guard lock(mutex_);
    stop_ = true;
    if (!thread_.joinable()) stopped_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void CommitLoop::submit(NewJob job, SubmitDone done) {
  {
    std::lock_guard lock(mutex_);
    if (!stopped_) {
      submits_.push_back(Submit{std::move(job), std::move(done)});
      done = nullptr;
    }
  }
  if (done) return done(nullptr);
  cv_.notify_one();
}

void CommitLoop::finish(JobStore::FinishItem item, FinishDone done) {
  {
    std::lock_guard lock(mutex_);
    if (!stopped_) {
      finishes_.push_back(Finish{std::move(item), std::move(done)});
      done = nullptr;
    }
  }
  if (done) return done(FinishResult{}, item);
  cv_.notify_one();
}

bool CommitLoop::publish_progress(JobStore::ProgressEvent event) {
  {
    std::lock_guard lock(mutex_);
    if (stopped_) return false;
    progress_.push_back(std::move(event));
  }
  cv_.notify_one();
  return true;
}

void CommitLoop::check_store(SystemTime at) {
  const auto when = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                       at - std::chrono::system_clock::now());
  {
    std::lock_guard lock(mutex_);
    if (when >= look_at_) return;
    look_at_ = when;
  }
  cv_.notify_one();
}

void CommitLoop::capacity_changed() {
  // Called after every job, so no lock unless there is something to claim. Both flags
  // are seq_cst: either this sees store_may_have_work_ set and wakes the loop, or the
  // loop, which sets it before checking its wait condition, sees capacity_grew_.
  capacity_grew_ = true;
  if (!store_may_have_work_) return;
  {
    std::lock_guard lock(mutex_);  // the loop is waiting, or will see capacity_grew_
  }
  cv_.notify_one();
}

void CommitLoop::run() {
  pthread_setname_np(pthread_self(), "jobs-commit");  // for top -H and perf
  std::unique_lock lock(mutex_);
  for (;;) {
    cv_.wait_until(lock, look_at_, [this] {
      return stop_ || !submits_.empty() || !finishes_.empty() || !progress_.empty() ||
             (store_may_have_work_ && capacity_grew_);
    });
    if (const auto now = Clock::now(); now >= look_at_) {  // time for a look, news or not
      store_may_have_work_ = true;
      look_at_ = now + options_.idle_poll;
    }
    if (stop_ && submits_.empty() && finishes_.empty() && progress_.empty()) break;
    std::vector<Submit> submits;
    std::vector<Finish> finishes;
    std::vector<JobStore::ProgressEvent> progress;
    submits.swap(submits_);
    finishes.swap(finishes_);
    progress.swap(progress_);
    // A finish of a capped tenant's job makes its next job claimable.
    const bool look_in_store = store_may_have_work_ || (capped_ && !finishes.empty());
    capacity_grew_ = false;
    lock.unlock();
    const std::size_t want = look_in_store || !submits.empty() ? claims_.capacity() : 0;
    if (!submits.empty() || !finishes.empty() || !progress.empty() || (look_in_store && want > 0)) {
      write_round(progress, submits, finishes, want, look_in_store);
    }
    lock.lock();
  }
  stopped_ = true;
}

void CommitLoop::write_round(std::vector<JobStore::ProgressEvent>& progress,
                             std::vector<Submit>& submits, std::vector<Finish>& finishes,
                             std::size_t want, bool look_in_store) {
  JobStore::Round round;
  round.progress_events = std::move(progress);
  round.worker_id = options_.worker_id;
  round.lease_ttl = options_.lease_ttl;
  round.max_claims = want;
  round.claim_runnable = look_in_store;
  round.finishes.reserve(finishes.size());
  for (auto& f : finishes) round.finishes.push_back(std::move(f.item));
  round.submits.reserve(submits.size());
  for (auto& s : submits) round.submits.push_back(std::move(s.job));
  if (claims_.waiting_capacity && round.waiting_submit_count() > 0) {
    round.max_waiting_claims = claims_.waiting_capacity();
  }

  // The round's log lines (a request_finished line per outcome) go out in one write
  // when it ends, after its answers and outcomes were handed to the sessions.
  LogBatch log_batch;
  JobStore::RoundResult result;
  bool written = true;
  try {
    result = store_.commit_round(round);
  } catch (const std::exception& e) {
    // Nothing of it is stored: submitters are told, unrecorded outcomes' leases lapse
    // and their jobs run again (at-least-once).
    written = false;
    log_event(spdlog::level::err, "store_error",
              {{"op", "commit_round"},
               {"submits", submits.size()},
               {"finishes", finishes.size()},
               {"error", e.what()}});
  }
  for (std::size_t i = 0; i < finishes.size(); ++i) {
    auto& item = round.finishes[i];
    if (written && result.finished[i].cancelled_instead) {
      item.terminal = JobStatus::kCancelled;
      item.outcome_json = std::move(result.finished[i].outcome_json);
    }
    finishes[i].done(written ? result.finished[i] : FinishResult{}, item);
  }
  bool created = false;
  for (std::size_t i = 0; i < submits.size(); ++i) {
    submits[i].done(written ? &result.submitted[i] : nullptr);
    created = created || (written && result.submitted[i].created);
  }
  const std::size_t claimed = result.claimed.size();
  if (claimed > 0) claims_.deliver(std::move(result.claimed));
  if (!result.waiting_claimed.empty()) claims_.deliver_waiting(std::move(result.waiting_claimed));

  std::lock_guard lock(mutex_);
  // What a look in the store found replaces what was known; otherwise it adds to it.
  if (written) capped_ = result.capped || (capped_ && !look_in_store);
  if (!written || (claimed == want && (want > 0 || created))) {
    store_may_have_work_ = true;  // failed, or claims were capped, or new jobs went unclaimed
  } else if (look_in_store && want > 0) {
    // Everything runnable was claimed: look again when the next job becomes runnable.
    store_may_have_work_ = false;
    if (result.next_wakeup) {
      auto in = std::chrono::duration_cast<Clock::duration>(*result.next_wakeup -
                                                            std::chrono::system_clock::now());
      look_at_ = std::min(look_at_, Clock::now() + in + std::chrono::milliseconds(1));
    }
  }  // else only this round's new jobs were claimed, all of them: nothing else changed
}

}  // namespace streamer
