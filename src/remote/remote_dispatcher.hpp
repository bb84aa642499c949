// Runs the jobs of remote actions on the workers connected to /{stage}/workers. Event
// driven on one thread of its own (no thread per job or per worker): worker messages,
// submits and cancels are posted to it, and a periodic tick renews leases, enforces
// time limits, saves coalesced progress and looks for runnable jobs. Store calls are
// made on that thread.
//
// Group commit: the work of one round (the messages already queued for the thread when
// the round's first finish or claim was asked for) reaches the store together: every
// terminal outcome of the round in one finish_batch, then one claim per action and tenant
// scope for all the credits of the workers serving it. A client's terminal is published
// and the worker acked only after that batch is durable; each item keeps its own fence,
// so a stale attempt in a batch is refused alone.
//
// Flow control: a worker connection holds credits (its declared concurrency, plus
// `credit` messages); each job pushed to it takes one, each complete/fail of a job it was
// given returns one, and so does a `cancel` the server sends. It never has more jobs in
// flight than credits. A job is claimed from the action's store lane for exactly one
// connection at a time (the store's lease and fence).
//
// Wake-ups: a submit in this process calls notify(); a submit or release in another
// process sharing the store reaches the lane waiter's blocking wait; a retry's backoff and
// a lapsed lease of a connection that closed are looked at when they are due. The poll
// (poll_interval) is the fallback for what none of these sees (a lease that lapsed in a
// process that died).
//
// Liveness: every frame from a worker counts; the leases of its jobs are renewed up to
// lease_ttl after its last frame, so a worker that disconnects or goes silent loses its
// jobs, which the store then lets another claim take (attempt counted). A message
// about a job this connection no longer holds under that fence is answered `stale`
// and changes nothing.
#pragma once

#include <atomic>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/json.hpp>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "core/handler.hpp"
#include "core/message_sink.hpp"
#include "jobs/event_bus.hpp"
#include "jobs/job_observer.hpp"
#include "jobs/job_store.hpp"
#include "jobs/progress_reporter.hpp"
#include "jobs/retry_policy.hpp"
#include "remote/lane_waiter.hpp"
#include "remote/remote_actions.hpp"

namespace streamer::remote {

class RemoteActionRegistry;

// Permission that lets a worker token take jobs of every tenant; without it a worker
// only gets jobs submitted in its token's tenant.
inline constexpr std::string_view kAllTenantsPermission = "all_tenants";

struct RemoteDispatcherOptions {
  std::string instance_id = "local";  // lease owner
  std::chrono::milliseconds lease_ttl{10'000};
  std::chrono::milliseconds progress_interval{100};
  // Longest time between looks at the store for jobs this process was not told about
  // (a retry's backoff or a lease lapsed in another process sharing the store). Local
  // submits, releases and lapses wake the dispatcher at once or at their known time.
  std::chrono::milliseconds poll_interval{1'000};
  std::chrono::milliseconds tick{50};  // renewals, time limits, progress saves
  RetryPolicy retry;
  std::int64_t max_credits = 256;           // per worker connection
  std::size_t max_actions_per_worker = 64;  // actions one connection may register
  // Told of each remote job's start, progress, retry and end, as the worker pool tells
  // it of built-in jobs (job metrics, the stats feed); may be null.
  JobObserver* observer = nullptr;
  // Where registrations are shared with the other gateways on the store; null: they
  // stay in this process's RemoteActions.
  RemoteActionRegistry* registry = nullptr;
};

class RemoteDispatcher {
 public:
  RemoteDispatcher(JobStore& store, EventBus& bus, RemoteActions& actions,
                   RemoteDispatcherOptions options);
  ~RemoteDispatcher();

  void start();
  // Drain: every job in flight gets `cancel` (reason shutdown) and goes back to the queue
  // with its attempt refunded; then the thread stops. Idempotent.
  void stop();

  // A worker connection authenticated as `who` (permission worker checked by the
  // caller); its messages go to `sink`. Returns the connection's id.
  std::uint64_t open(Identity who, std::weak_ptr<MessageSink> sink);
  // One message (a JSON object with "type") from connection `conn`.
  void on_message(std::uint64_t conn, boost::json::object message);
  // The connection is gone: its leases are left to lapse.
  void close(std::uint64_t conn);

  // A job of `lane` was stored: claim it now if a worker has a credit.
  void notify(const std::string& lane);
  // A cancel of a running job was recorded: if a worker here runs it, tell it and end
  // the job CANCELLED.
  void cancel_local(const JobKey& key);

  std::chrono::milliseconds heartbeat_interval() const { return options_.lease_ttl / 3; }

 private:
  using Clock = std::chrono::steady_clock;
  struct Conn {
    Identity who;
    std::weak_ptr<MessageSink> sink;
    std::set<std::string> actions;
    std::int64_t credits = 0;
    std::set<std::string> given;  // job ids pushed and not yet completed/failed/cancelled
    Clock::time_point last_seen{};
    bool registered = false;
  };
  struct Job {
    Lease lease;
    std::uint64_t conn = 0;
    std::chrono::milliseconds time_limit{};
    Clock::time_point started{}, deadline{}, next_renew{};
    bool pushed = false;  // sent to a worker (else ended at its claim without running)
    std::unique_ptr<ProgressReporter> progress;
    std::string unsaved_progress;  // latest emitted progress body not yet saved
  };

  // Everything below runs on the dispatcher thread.
  void handle(std::uint64_t conn_id, const boost::json::object& message);
  void on_register(std::uint64_t conn_id, Conn& conn, const boost::json::object& message);
  void on_progress(std::uint64_t conn_id, Conn& conn, const boost::json::object& message);
  void on_complete(std::uint64_t conn_id, Conn& conn, const boost::json::object& message);
  void on_fail(std::uint64_t conn_id, Conn& conn, const boost::json::object& message);
  // The job `message` names if `conn_id` holds it under the message's fence; else sends
  // `stale` and returns nullptr (`ends`: a complete/fail, which also returns the credit of
  // a job the connection was given and lost).
  Job* current_job(std::uint64_t conn_id, Conn& conn, const boost::json::object& message,
                   bool ends);
  // A claimed job: ended at once (cancel requested, attempts used up) or pushed.
  void take(std::uint64_t conn_id, Conn& conn, Lease lease);
  // Ends the job here: returns the credit, forgets the job and queues its terminal
  // outcome for this round's group commit (commit_finishes), which records it, publishes
  // it once durable and acks the worker (`ack`) or answers `stale`.
  void finish(std::string job_id, JobStatus status, const std::string& outcome, bool ack);
  // The lanes of `conn` get a claim at this round's end (its credits came back).
  void want_claims(const Conn& conn);
  // Runs run_round() after the messages already queued for this thread, once.
  void schedule_round();
  // One round's end: the queued finishes in one store write, then the wanted claims.
  void run_round();
  // Records every queued terminal outcome with one finish_batch; then publishes each
  // that ended its job and answers each worker that asked (ack or stale).
  void commit_finishes();
  // For each wanted lane: one claim per tenant scope for the credits of all the
  // connections serving it, shared out among them (never more than each one's credits).
  void claim_wanted();
  // The job comes back to the store at `when` (a retry's backoff, a lapsed lease): look
  // at the store then, not only at the next poll.
  void look_at(Clock::time_point when);
  // The lane waiter waits on the lanes of the connections that have credits (a lane whose
  // workers are all busy is claimed from when a credit comes back, with no wake-up).
  void update_waited_lanes();
  // Ends the job's run on its worker: `cancel` with `reason`, credit back, forgotten here.
  void send_cancel(Job& job, std::string_view reason);
  void drop(const std::string& job_id);  // forgets a job (lease lost); no credit returned
  void tick();
  void arm_tick();
  void send(const Conn& conn, const boost::json::object& message);
  void send_error(const Conn& conn, ErrorCode code, const std::string& message,
                  boost::json::object details);

  JobStore& store_;
  EventBus& bus_;
  RemoteActions& actions_;
  RemoteDispatcherOptions options_;
  boost::asio::thread_pool thread_{1};
  boost::asio::steady_timer timer_;
  bool started_ = false;
  bool stopped_ = false;
  std::atomic<std::uint64_t> conn_ids_{1};
  std::map<std::uint64_t, Conn> conns_;
  std::map<std::string, Job> jobs_;  // by job id
  Clock::time_point next_poll_{};
  // This round's terminal outcomes, waiting for commit_finishes().
  struct PendingFinish {
    JobStore::FinishItem item;
    JobRecord record;  // as claimed: its key to publish to, and for the job observer
    double ran = 0;    // seconds since it was pushed to its worker (0: never pushed)
    std::uint64_t conn = 0;
    bool ack = false;
  };
  std::vector<PendingFinish> pending_finishes_;
  std::set<std::string> wanted_lanes_;  // claim from these at the round's end
  bool all_lanes_wanted_ = false;       // ... or from every lane with a credited worker
  bool round_scheduled_ = false;
  // notify() from other threads: lanes gathered until the dispatcher thread takes them.
  std::mutex notified_mutex_;
  std::set<std::string> notified_lanes_;
  bool notify_posted_ = false;
  // Wakes the dispatcher when another process sharing the store submits to its lanes.
  LaneWaiter lane_waiter_;
  std::set<std::string> waited_lanes_;  // what lane_waiter_ was last given
  std::mt19937_64 rng_{std::random_device{}()};
};

}  // namespace streamer::remote
