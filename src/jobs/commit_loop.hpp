// The thread that writes a worker pool's group-committed work: new jobs from the
// request service, outcomes from the workers, and claims of runnable jobs for the
// workers, all gathered while the previous write was in progress and written together
// as one JobStore::Round (one transaction). A job submitted while a worker is free is
// committed and claimed in the same write, and its outcome shares a later write with
// other jobs' submissions and outcomes. The pool's other writes do not pass through
// here: lease renewals, coalesced progress and releases (retries, jobs given back on
// drain) go from the pool's own threads to the store directly. With a store that
// publishes events itself (Redis), progress events pass here too, sent with the round.
//
// Durability order: callbacks run on this thread only after their round committed, so
// `queued` and published outcomes always describe stored state.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "jobs/job_store.hpp"

namespace streamer {

class CommitLoop {
 public:
  using Clock = std::chrono::steady_clock;
  // Called after the round that stored the job; nullptr when it could not be stored.
  using SubmitDone = std::function<void(const SubmitResult* result)>;
  // Called after the round that wrote the outcome: `result` is the store's answer
  // (result.ended false also when the write failed: the lease lapses and the job runs
  // again; result.published: the store already sent the terminal event). `item` is what
  // was recorded: when a cancel had been requested first, the store's CANCELLED outcome
  // replaces the one handed in.
  using FinishDone = std::function<void(const FinishResult& result, JobStore::FinishItem& item)>;
  struct Claims {
    std::function<std::size_t()> capacity;            // how many jobs to claim now
    std::function<void(std::vector<Lease>)> deliver;  // jobs claimed, after their round
    // Optional: room for new kWaitingLane jobs leased in their own round
    // (Round::max_waiting_claims), and where those leases go after it.
    std::function<std::size_t()> waiting_capacity;
    std::function<void(std::vector<Lease>)> deliver_waiting;
  };
  struct Options {
    std::string worker_id;  // lease holder of claims and finishes
    std::chrono::milliseconds lease_ttl{10'000};
    std::chrono::milliseconds idle_poll{1'000};  // longest time between looks at the store
  };

  CommitLoop(JobStore& store, Options options, Claims claims);
  ~CommitLoop();
  CommitLoop(const CommitLoop&) = delete;
  CommitLoop& operator=(const CommitLoop&) = delete;

  void start();
  // Writes everything already handed in (claiming nothing more unless capacity() says
  // so), then joins the thread. Later submit()/finish() calls fail at once.
  void stop();

  void submit(NewJob job, SubmitDone done);
  void finish(JobStore::FinishItem item, FinishDone done);
  // For a store that publishes_events(): sends the event in the next round, before that
  // round's finishes (so before the outcome of its job). Returns false, sending nothing,
  // once stopped. At most once: an event of a round that fails is lost, as a dropped
  // pub/sub message would be (subscribe's snapshot still has the latest progress).
  bool publish_progress(JobStore::ProgressEvent event);
  // The store may hold jobs runnable from `at` on that were not handed in here (a
  // retry's backoff, a release, another process's submit): look then.
  void check_store(SystemTime at);
  // Workers became free: claim more if the store may hold runnable jobs.
  void capacity_changed();

 private:
  struct Submit {
    NewJob job;
    SubmitDone done;
  };
  struct Finish {
    JobStore::FinishItem item;
    FinishDone done;
  };
  void run();
  // Writes one round claiming up to `want` jobs (among those already in the store too
  // if `look_in_store`, else only new ones), runs its callbacks, and notes what the store
  // said about what else is runnable (a short claim: nothing until next_wakeup).
  void write_round(std::vector<JobStore::ProgressEvent>& progress, std::vector<Submit>& submits,
                   std::vector<Finish>& finishes, std::size_t want, bool look_in_store);

  JobStore& store_;
  const Options options_;
  const Claims claims_;

  std::mutex mutex_;
  std::condition_variable cv_;
  std::vector<Submit> submits_;
  std::vector<Finish> finishes_;
  std::vector<JobStore::ProgressEvent> progress_;
  // Written under mutex_; read without it by capacity_changed() (see there).
  std::atomic<bool> store_may_have_work_{true};  // runnable jobs may be in the store, unclaimed
  std::atomic<bool> capacity_grew_{false};
  // Runnable jobs wait for their tenant's bound: the next finish may free them.
  bool capped_ = false;
  Clock::time_point look_at_{};  // look at the store then, whatever happens
  bool stop_ = false;
  bool stopped_ = false;
  std::thread thread_;
};

}  // namespace streamer
