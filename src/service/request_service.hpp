// The request service: everything between a client's text frame and the handlers,
// jobs and store. The gateway sees it only as a ServiceInterface: it opens a
// ServiceSession per connection and hands it frames; answers go out through the
// session (which keeps the connection's request state) to the gateway's sink. It
// never blocks the calling (I/O) thread: sync handlers run on their own thread pool
// (each connection holding at most max_sync_per_connection of its places), store
// calls on a store executor; only handlers declared Execution::kInline (microseconds,
// never blocking) run on the caller's thread.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/thread_pool.hpp>
#include <functional>
#include <list>
#include <memory>
#include <mutex>
#include <string_view>

#include "core/protocol.hpp"
#include "core/service_interface.hpp"
#include "jobs/event_bus.hpp"
#include "jobs/job_store.hpp"
#include "jobs/worker_pool.hpp"
#include "router/handler_registry.hpp"
#include "service/inline_budget.hpp"
#include "service/metrics.hpp"
#include "service/service_session.hpp"
#include "service/stats_feed.hpp"
#include "service/sync_pool.hpp"
#include "service/sync_request_log.hpp"

namespace streamer {

struct RequestServiceOptions {
  int sync_threads = 2;
  std::int64_t max_concurrent_requests = 10;  // slots of each session (requests in flight)
  int max_sync_per_connection = 2;  // one connection's sync calls queued or running on the pool
  StatsFeed* stats_feed = nullptr;  // stats.watch / stats.unwatch; null: the feed is off
  // Successful sync requests logged at info: one in this many (0: none); errors always.
  std::uint32_t log_sync_success_every = 1;
  // A job of a lane other than the built-in one was stored (its lane's dispatcher may
  // claim it now). Called on the store's commit thread; must not block.
  std::function<void(const std::string& lane)> on_lane_submitted{};
  // A cancel of a running job was recorded: whoever runs it in this process stops it.
  std::function<void(const JobKey& key)> on_cancel_requested{};
};

class RequestService final : public ServiceInterface {
 public:
  // timers: an executor for sync time limits (the gateway's io_context).
  // Async requests are stored through `workers` (group-committed with the workers'
  // other writes); subscribe and cancel read and write `store` on a store thread.
  RequestService(const HandlerRegistry& registry, JobStore& store, EventBus& hub,
                 WorkerPool& workers, const HandlerEnvironment& env, Metrics& metrics,
                 boost::asio::any_io_executor timers, RequestServiceOptions options);
  ~RequestService() override;

  // ServiceInterface: a session with max_concurrent_requests slots.
  std::shared_ptr<ClientSession> open_session(Identity who,
                                              std::weak_ptr<MessageSink> sink) override;

  // Handles one text frame of `conn` (ServiceSession::on_frame). Cheap work (parse,
  // route, validate) happens on the caller's thread; anything that can block is
  // posted elsewhere.
  void on_frame(const std::shared_ptr<ServiceSession>& conn, std::string_view frame);

  // Runs `task` off the I/O threads on the sync pool, in `owner`'s share of it (at most
  // max_sync_per_connection of one owner's tasks queued or running at once; the rest
  // wait their turn, so an owner never takes the pool from the connections). A task
  // given once drain() has begun is destroyed without running.
  void run_blocking(const void* owner, std::function<void()> task) {
    sync_pool_.post(owner, std::move(task));
  }

  // Drain: waits for sync work in flight (bounded by handler time limits).
  void drain();

 private:
  // Runs `handler` on the sync pool, in `conn`'s share of it, under its time limit.
  void run_sync(const std::shared_ptr<ServiceSession>& conn, Handler& handler,
                protocol::Request req, ParsedRequest parsed,
                std::chrono::steady_clock::time_point received);
  // Runs an Execution::kInline handler on the calling (I/O) thread and answers at once;
  // a run over kInlineBudget is reported by inline_budget_.
  void run_inline(const std::shared_ptr<ServiceSession>& conn, Handler& handler,
                  const protocol::Request& req, const ParsedRequest& parsed,
                  std::chrono::steady_clock::time_point received);
  void submit_async(const std::shared_ptr<ServiceSession>& conn, const Handler& handler,
                    protocol::Request req, ParsedRequest parsed,
                    std::chrono::steady_clock::time_point received);
  // Answers an async submission once the store has it (`stored`; nullptr: it could not
  // be stored): `queued`, the stored outcome of a finished request, RATE_LIMITED when a
  // queued-jobs bound refused it, or INTERNAL_ERROR.
  void answer_submit(const std::shared_ptr<ServiceSession>& conn, const HandlerSpec& spec,
                     const JobKey& key, const SubmitResult* stored,
                     std::chrono::steady_clock::time_point received);
  void subscribe(const std::shared_ptr<ServiceSession>& conn, protocol::Request req,
                 std::chrono::steady_clock::time_point received);
  void cancel(const std::shared_ptr<ServiceSession>& conn, protocol::Request req,
              std::chrono::steady_clock::time_point received);
  // The job key named by payload.request_id of a subscribe/cancel (scoped to the
  // caller's tenant and user); answers VALIDATION_ERROR and returns nullopt without one.
  std::optional<JobKey> target_key(const std::shared_ptr<ServiceSession>& conn,
                                   const protocol::Request& req, std::string_view action,
                                   std::chrono::steady_clock::time_point received);
  void reject_not_found(const std::shared_ptr<ServiceSession>& conn, std::string_view action,
                        const std::string& req_id, const JobKey& key,
                        std::chrono::steady_clock::time_point received);
  // Records a sync request's answer in the metrics and the request log.
  void record_sync(const ServiceSession& conn, const protocol::Request& req,
                   std::string_view action, std::string_view outcome,
                   std::chrono::steady_clock::time_point received);
  // Sends an error answer for `req_id` and records it in the metrics.
  void reject(const std::shared_ptr<ServiceSession>& conn, std::string_view action,
              const std::optional<std::string>& req_id, const std::string& message,
              std::string_view code, std::chrono::steady_clock::time_point received);

  const HandlerRegistry& registry_;
  JobStore& store_;
  EventBus& hub_;
  WorkerPool& workers_;
  const HandlerEnvironment& env_;
  Metrics& metrics_;
  boost::asio::any_io_executor timers_;
  RequestServiceOptions options_;
  SyncPool sync_pool_;
  InlineBudget inline_budget_;
  SyncRequestLog sync_log_;
  boost::asio::thread_pool store_pool_{1};  // subscribe and cancel: store reads and writes

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
