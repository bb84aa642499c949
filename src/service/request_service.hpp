// The request service: everything between a decoded frame and the handlers, jobs and
// store (Dragonfly's ServiceInterface seam). The gateway hands it frames; it answers
// through ClientConnection::deliver. It never blocks the calling (I/O) thread: sync
// handlers run on their own thread pool (each connection holding at most
// max_sync_per_connection of its places), store calls on a store executor; only
// handlers declared Execution::kInline (microseconds, never blocking) run on the
// caller's thread.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/thread_pool.hpp>
#include <list>
#include <memory>
#include <mutex>
#include <string_view>

#include "core/protocol.hpp"
#include "jobs/event_hub.hpp"
#include "jobs/job_store.hpp"
#include "jobs/worker_pool.hpp"
#include "router/handler_registry.hpp"
#include "service/client_connection.hpp"
#include "service/inline_budget.hpp"
#include "service/metrics.hpp"
#include "service/sync_pool.hpp"

namespace streamer {

struct RequestServiceOptions {
  int sync_threads = 2;
  std::int64_t max_concurrent_requests = 10;  // for the RATE_LIMITED details
  int max_sync_per_connection = 2;  // one connection's sync calls queued or running on the pool
};

class RequestService {
 public:
  // timers: an executor for sync time limits (the gateway's io_context).
  RequestService(const HandlerRegistry& registry, JobStore& store, EventHub& hub,
                 WorkerPool* workers, const HandlerEnvironment& env, Metrics& metrics,
                 boost::asio::any_io_executor timers, RequestServiceOptions options);
  ~RequestService();

  // Handles one text frame from `conn`. Cheap work (parse, route, validate) happens
  // on the caller's thread; anything that can block is posted elsewhere.
  void on_frame(const std::shared_ptr<ClientConnection>& conn, std::string_view frame);

  // Drain: waits for sync work in flight (bounded by handler time limits).
  void drain();

 private:
  // Runs `handler` on the sync pool, in `conn`'s share of it, under its time limit.
  void run_sync(const std::shared_ptr<ClientConnection>& conn, Handler& handler,
                protocol::Request req, std::chrono::steady_clock::time_point received);
  // Runs an Execution::kInline handler on the calling (I/O) thread and answers at once;
  // a run over kInlineBudget is reported by inline_budget_.
  void run_inline(const std::shared_ptr<ClientConnection>& conn, Handler& handler,
                  const protocol::Request& req, std::chrono::steady_clock::time_point received);
  void submit_async(const std::shared_ptr<ClientConnection>& conn, const Handler& handler,
                    protocol::Request req, std::chrono::steady_clock::time_point received);
  // Answers an async submission once the store has it (`stored`; nullptr: it could not
  // be stored): `queued`, the stored outcome of a finished request, RATE_LIMITED when a
  // queued-jobs bound refused it, or INTERNAL_ERROR.
  void answer_submit(const std::shared_ptr<ClientConnection>& conn, const HandlerSpec& spec,
                     const JobKey& key, const SubmitResult* stored,
                     std::chrono::steady_clock::time_point received);
  void subscribe(const std::shared_ptr<ClientConnection>& conn, protocol::Request req,
                 std::chrono::steady_clock::time_point received);
  void cancel(const std::shared_ptr<ClientConnection>& conn, protocol::Request req,
              std::chrono::steady_clock::time_point received);
  // The job key named by payload.request_id of a subscribe/cancel (scoped to the
  // caller's tenant and user); answers VALIDATION_ERROR and returns nullopt without one.
  std::optional<JobKey> target_key(const std::shared_ptr<ClientConnection>& conn,
                                   const protocol::Request& req, std::string_view action,
                                   std::chrono::steady_clock::time_point received);
  void reject_not_found(const std::shared_ptr<ClientConnection>& conn, std::string_view action,
                        const std::string& req_id, const JobKey& key,
                        std::chrono::steady_clock::time_point received);
  // Sends an error answer for `req_id` and records it in the metrics.
  void reject(const std::shared_ptr<ClientConnection>& conn, std::string_view action,
              const std::optional<std::string>& req_id, const std::string& message,
              std::string_view code, std::chrono::steady_clock::time_point received);

  const HandlerRegistry& registry_;
  JobStore& store_;
  EventHub& hub_;
  WorkerPool* workers_;
  const HandlerEnvironment& env_;
  Metrics& metrics_;
  boost::asio::any_io_executor timers_;
  RequestServiceOptions options_;
  SyncPool sync_pool_;
  InlineBudget inline_budget_;
  boost::asio::thread_pool store_pool_{1};

  // Sync calls in flight, watched for their time limit by one periodic timer.
  struct SyncCall;
  void arm_watchdog();
  std::mutex sync_mutex_;
  std::list<std::shared_ptr<SyncCall>> sync_inflight_;
  // The watchdog timer runs on its own strand. drain() sets `watchdog_stopped_` and
  // waits for a cancel posted on that strand, so no watchdog handler runs on this
  // object once drain() has returned; both live in shared_ptrs so a handler or the
  // cancel that is still queued (an io_context not running) never touches a
  // destroyed service.
  std::shared_ptr<boost::asio::steady_timer> watchdog_;
  std::shared_ptr<std::atomic<bool>> watchdog_stopped_ = std::make_shared<std::atomic<bool>>(false);
};

}  // namespace streamer
