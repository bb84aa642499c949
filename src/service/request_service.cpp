#include "service/request_service.hpp"

#include <future>

#include <spdlog/spdlog.h>

#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <list>

#include "core/json_text.hpp"
#include "core/log_event.hpp"
#include "core/time_util.hpp"
#include "service/stats_requests.hpp"
#include "service/sync_answer.hpp"

namespace streamer {
namespace json = boost::json;
namespace asio = boost::asio;
using SteadyClock = std::chrono::steady_clock;

namespace {

double since(SteadyClock::time_point t) { return seconds_between(t, SteadyClock::now()); }

// details.retry_after_ms of a submit refused by a queued-jobs bound.
constexpr std::int64_t kQueueRetryAfterMs = 1000;

// Reads payload.request_id for subscribe/cancel.
std::optional<std::string> target_id(const protocol::Request& req) {
  auto it = req.payload.find("request_id");
  if (it == req.payload.end() || !it->value().is_string() || it->value().get_string().empty())
    return std::nullopt;
  return std::string(it->value().get_string());
}

json::object snapshot_of(const JobRecord& r) {
  json::object data;
  data["request_id"] = r.key.request_id;
  data["action"] = r.action;
  data["status"] = to_string(r.status);
  data["attempts"] = r.attempts;
  std::error_code ec;
  json::value progress =
      r.progress_json.empty() ? json::value(nullptr) : json::parse(r.progress_json, ec);
  data["progress"] = ec ? json::value(nullptr) : progress;
  data["created_at"] = format_iso8601(r.created_at);
  data["updated_at"] = format_iso8601(r.updated_at);
  if (r.finished_at) data["finished_at"] = format_iso8601(*r.finished_at);
  return data;
}

}  // namespace

// One sync call in flight: whoever answers first (handler or time-limit watchdog) wins.
struct RequestService::SyncCall {
  std::shared_ptr<ServiceSession> conn;
  protocol::Request req;
  ParsedRequest parsed;  // req.payload, parsed once by the handler before acceptance
  const Handler* handler = nullptr;
  CancelToken cancel;
  std::atomic<bool> answered{false};
  SteadyClock::time_point received;
  SteadyClock::time_point deadline;
  std::list<std::shared_ptr<SyncCall>>::iterator position;  // in sync_inflight_
};

RequestService::RequestService(const HandlerRegistry& registry, JobStore& store, EventBus& hub,
                               WorkerPool& workers, const HandlerEnvironment& env, Metrics& metrics,
                               asio::any_io_executor timers, RequestServiceOptions options)
    : registry_(registry),
      store_(store),
      hub_(hub),
      workers_(workers),
      env_(env),
      metrics_(metrics),
      timers_(std::move(timers)),
      options_(options),
      sync_pool_(options.sync_threads, std::chrono::microseconds(500),
                 static_cast<std::size_t>(std::max(1, options.max_sync_per_connection))),
      inline_budget_(kInlineBudget, std::chrono::seconds(10), metrics.inline_overruns),
      sync_log_(options.log_sync_success_every),
      watchdog_(std::make_shared<asio::steady_timer>(asio::make_strand(timers_))) {
  arm_watchdog();
}

RequestService::~RequestService() { drain(); }

std::shared_ptr<ClientSession> RequestService::open_session(Identity who,
                                                            std::weak_ptr<MessageSink> sink) {
  return std::make_shared<ServiceSession>(
      *this, std::move(who), std::move(sink),
      static_cast<int>(std::min<std::int64_t>(options_.max_concurrent_requests, INT32_MAX)));
}

void RequestService::drain() {
  sync_pool_.join();
  store_pool_.join();
  if (watchdog_stopped_->exchange(true)) return;  // drained before
  // Wait until the watchdog's strand has run past any handler in progress (bounded:
  // an io_context that is not running runs none, and the flag stops later ones).
  auto cancelled = std::make_shared<std::promise<void>>();
  auto done = cancelled->get_future();
  asio::post(watchdog_->get_executor(), [timer = watchdog_, cancelled] {
    timer->cancel();
    cancelled->set_value();
  });
  done.wait_for(std::chrono::seconds(5));
}

void RequestService::arm_watchdog() {
  // One periodic timer for every sync call (instead of a timer per request): time
  // limits are seconds, so answering TIMEOUT within 25 ms of the deadline is plenty.
  // The same tick lets the sync pool wake a thread for work stuck behind a slow handler.
  watchdog_->expires_after(std::chrono::milliseconds(25));
  watchdog_->async_wait([this, stopped = watchdog_stopped_](boost::system::error_code ec) {
    if (ec || stopped->load()) return;
    sync_pool_.rebalance();
    std::vector<std::shared_ptr<SyncCall>> late;
    const auto now = SteadyClock::now();
    {
      std::lock_guard lock(sync_mutex_);
      for (auto it = sync_inflight_.begin(); it != sync_inflight_.end();) {
        if ((*it)->deadline <= now) {
          late.push_back(*it);
          it = sync_inflight_.erase(it);
        } else {
          ++it;
        }
      }
    }
    for (const auto& call : late) {
      if (call->answered.exchange(true)) continue;
      call->cancel.cancel(CancelToken::Reason::kTimedOut);
      const auto& spec = call->handler->spec();
      json::object details;
      details["time_limit_ms"] = spec.time_limit.count();
      call->conn->deliver(
          call->req.id, MessageKind::kReply,
          protocol::error_message(call->req.id, ErrorCode::kTimeout,
                                  "Request exceeded its time limit", std::move(details)));
      record_sync(*call->conn, call->req, spec.name, "TIMEOUT", call->received);
    }
    arm_watchdog();
  });
}

void RequestService::record_sync(const ServiceSession& conn, const protocol::Request& req,
                                 std::string_view action, std::string_view outcome,
                                 SteadyClock::time_point received) {
  const double seconds = since(received);
  metrics_.record_request(action, outcome, seconds);
  const Identity& who = conn.identity();
  sync_log_.finished(req.id, who.tenant_id, who.user_id, action, outcome, seconds, req.trace_id);
}

void RequestService::reject(const std::shared_ptr<ServiceSession>& conn, std::string_view action,
                            const std::optional<std::string>& req_id, const std::string& message,
                            std::string_view code, SteadyClock::time_point received) {
  conn->deliver(req_id.value_or(""), MessageKind::kNotice, message);
  metrics_.record_request(action, code, since(received));
}

std::optional<JobKey> RequestService::target_key(const std::shared_ptr<ServiceSession>& conn,
                                                 const protocol::Request& req,
                                                 std::string_view action,
                                                 SteadyClock::time_point received) {
  if (auto target = target_id(req)) {
    return JobKey{conn->identity().tenant_id, conn->identity().user_id, std::move(*target)};
  }
  auto err = HandlerError::validation(
      "request_id", "non-empty string",
      req.payload.contains("request_id") ? req.payload.at("request_id") : nullptr,
      "payload.request_id is required");
  reject(conn, action, req.id, protocol::error_message(req.id, err), "VALIDATION_ERROR", received);
  return std::nullopt;
}

void RequestService::reject_not_found(const std::shared_ptr<ServiceSession>& conn,
                                      std::string_view action, const std::string& req_id,
                                      const JobKey& key, SteadyClock::time_point received) {
  json::object details;
  details["request_id"] = key.request_id;
  reject(
      conn, action, req_id,
      protocol::error_message(req_id, ErrorCode::kNotFound, "No such request", std::move(details)),
      "NOT_FOUND", received);
}

void RequestService::on_frame(const std::shared_ptr<ServiceSession>& conn, std::string_view frame) {
  const auto received = SteadyClock::now();
  auto parsed = protocol::parse_request(frame);
  if (auto* err = std::get_if<protocol::RequestError>(&parsed)) {
    return reject(conn, "_invalid", err->request_id, protocol::error_message(*err),
                  to_string(err->code), received);
  }
  auto& req = std::get<protocol::Request>(parsed);
  if (!req.trace_id.empty()) {
    log_event(spdlog::level::info, "request",
              {{"request_id", req.id},
               {"action", req.action},
               {"trace_id", req.trace_id},
               {"tenant", conn->identity().tenant_id}});
  }
  if (req.action == "subscribe") return subscribe(conn, std::move(req), received);
  if (req.action == "cancel") return cancel(conn, std::move(req), received);
  if (is_stats_action(req.action)) {
    const auto outcome = handle_stats_request(options_.stats_feed, conn, req, since(received));
    return metrics_.record_request(req.action, outcome, since(received));
  }

  Handler* handler = registry_.find(req.action);
  if (!handler) {
    json::object details;
    details["action"] = req.action;
    json::array known;
    for (const auto& n : registry_.names()) known.emplace_back(n);
    details["available"] = std::move(known);
    return reject(conn, "_unknown", req.id,
                  protocol::error_message(req.id, ErrorCode::kInvalidAction,
                                          "Unknown action: " + req.action, std::move(details)),
                  "INVALID_ACTION", received);
  }
  const auto& spec = handler->spec();
  if (!conn->identity().has_permission(spec.permission)) {
    json::object details;
    details["required_permission"] = spec.permission;
    details["reason"] = "missing_permission";
    return reject(
        conn, spec.name, req.id,
        protocol::error_message(req.id, ErrorCode::kUnauthorized,
                                "Permission '" + spec.permission + "' is required for " + spec.name,
                                std::move(details)),
        "UNAUTHORIZED", received);
  }
  // Parsed once, here: a sync request runs on this parse, and an async one hands it to
  // the workers of this process (a worker elsewhere, or after a restart, parses the
  // stored payload).
  ParsedRequest request;
  try {
    request = handler->parse_payload(req.payload);
  } catch (const HandlerError& e) {
    return reject(conn, spec.name, req.id, protocol::error_message(req.id, e), to_string(e.code()),
                  received);
  } catch (const std::exception& e) {  // a handler bug: answer rather than stop the I/O thread
    log_event(spdlog::level::err, "handler_exception",
              {{"action", spec.name}, {"request_id", req.id}, {"error", e.what()}});
    return reject(conn, spec.name, req.id,
                  protocol::error_message(req.id, ErrorCode::kInternalError, "Internal error"),
                  "INTERNAL_ERROR", received);
  }
  if (!conn->begin_request(req.id)) {
    metrics_.record_rate_limited("concurrent_requests");
    return reject(conn, spec.name, req.id,
                  protocol::rate_limited_message(req.id, "concurrent_requests",
                                                 options_.max_concurrent_requests, 1000),
                  "RATE_LIMITED", received);
  }
  if (handler->is_async()) {
    submit_async(conn, *handler, std::move(req), std::move(request), received);
  } else if (handler->runs_inline() && frame.size() <= kInlineMaxFrameBytes) {
    run_inline(conn, *handler, req, request, received);
  } else {
    run_sync(conn, *handler, std::move(req), std::move(request), received);
  }
}

void RequestService::run_sync(const std::shared_ptr<ServiceSession>& conn, Handler& handler,
                              protocol::Request req, ParsedRequest parsed,
                              SteadyClock::time_point received) {
  auto call = std::make_shared<SyncCall>();
  call->conn = conn;
  call->req = std::move(req);
  call->parsed = std::move(parsed);
  call->handler = &handler;
  call->received = received;
  call->deadline = received + handler.spec().time_limit;
  {
    std::lock_guard lock(sync_mutex_);
    call->position = sync_inflight_.insert(sync_inflight_.end(), call);
  }
  // The connection is the owner of its share of the pool: its calls beyond that wait
  // in its own FIFO (still holding their request slots and watched for their time
  // limit), so one connection's burst cannot push other connections' calls back.
  sync_pool_.post(conn.get(), [this, call, &handler] {
    if (call->answered.load()) return;  // timed out while it waited
    auto answer = run_sync_handler(handler, call->req, call->parsed, call->conn->identity(),
                                   call->cancel, env_, call->received);
    if (!answer) return;  // only the time limit cancels a sync call, and it has answered
    if (call->answered.exchange(true)) return;  // the watchdog answered TIMEOUT already
    {
      std::lock_guard lock(sync_mutex_);
      sync_inflight_.erase(call->position);
    }
    call->conn->deliver(call->req.id, MessageKind::kReply, std::move(answer->text));
    record_sync(*call->conn, call->req, handler.spec().name, answer->outcome, call->received);
  });
}

void RequestService::run_inline(const std::shared_ptr<ServiceSession>& conn, Handler& handler,
                                const protocol::Request& req, const ParsedRequest& parsed,
                                SteadyClock::time_point received) {
  // No time limit can interrupt a run on this thread (the declaration promises
  // microseconds); the budget check reports handlers that break the promise.
  static const CancelToken never_cancelled;
  const auto started = SteadyClock::now();
  auto answer =
      run_sync_handler(handler, req, parsed, conn->identity(), never_cancelled, env_, received);
  inline_budget_.check(handler.spec().name, SteadyClock::now() - started);
  if (!answer) {  // cannot happen with a token nobody cancels; answer rather than leak the slot
    answer =
        SyncAnswer{protocol::error_message(req.id, ErrorCode::kInternalError, "Internal error"),
                   "INTERNAL_ERROR"};
  }
  conn->deliver(req.id, MessageKind::kReply, std::move(answer->text));
  record_sync(*conn, req, handler.spec().name, answer->outcome, received);
}

void RequestService::submit_async(const std::shared_ptr<ServiceSession>& conn,
                                  const Handler& handler, protocol::Request req,
                                  ParsedRequest parsed, SteadyClock::time_point received) {
  JobKey key{conn->identity().tenant_id, conn->identity().user_id, req.id};
  conn->expect_queued(req.id);
  hub_.subscribe_for_submit(key, conn);  // before the job exists, so no event can be missed
  NewJob job{key, handler.spec().name, to_json_text(req.payload), req.trace_id,
             handler.spec().max_attempts};
  job.lane = handler.spec().lane;
  auto done = [this, conn, spec = &handler.spec(), key = std::move(key),
               received](const SubmitResult* stored) {
    answer_submit(conn, *spec, key, stored, received);
    if (stored && stored->created && !spec->lane.empty() && options_.on_lane_submitted)
      options_.on_lane_submitted(spec->lane);
  };
  // The workers' commit thread stores it with their other writes (group commit).
  workers_.submit(std::move(job), std::move(done), std::move(parsed));
}

void RequestService::answer_submit(const std::shared_ptr<ServiceSession>& conn,
                                   const HandlerSpec& spec, const JobKey& key,
                                   const SubmitResult* stored, SteadyClock::time_point received) {
  const std::string& id = key.request_id;
  if (!stored) {
    hub_.unsubscribe(key, conn);
    conn->deliver(
        id, MessageKind::kReply,
        protocol::error_message(id, ErrorCode::kInternalError, "Could not store the request"));
    metrics_.record_request(spec.name, "INTERNAL_ERROR", since(received));
    return;
  }
  if (stored->refused != QueueLimit::kNone) {
    // The tenant or user has as many queued jobs as allowed: nothing was stored. A slot
    // frees when one of them starts; a second is a fair first guess for when to retry.
    hub_.unsubscribe(key, conn);
    const auto limit = to_string(stored->refused);
    metrics_.record_rate_limited(limit);
    conn->deliver(
        id, MessageKind::kReply,
        protocol::rate_limited_message(id, limit, static_cast<std::int64_t>(stored->limit_value),
                                       kQueueRetryAfterMs));
    metrics_.record_request(spec.name, "RATE_LIMITED", since(received));
    return;
  }
  const double estimate = std::chrono::duration<double>(spec.estimated_duration).count();
  const JobRecord& rec = stored->record;
  if (stored->created) {
    metrics_.record_job_submitted(rec);
    conn->deliver(id, MessageKind::kQueued, protocol::queued_response(id, estimate));
  } else if (is_terminal(rec.status)) {
    // Finished already: the stored outcome is the answer (a reply, so it is sent even
    // if this connection saw it before, and it frees the request's slot). Nothing
    // will be published for it again, so the subscription taken above goes.
    hub_.unsubscribe(key, conn);
    conn->deliver(id, MessageKind::kReply, rec.outcome_json);
  } else {
    hub_.subscribe(key, conn);  // stored before: registered (and caught up) as any subscribe
    conn->deliver(id, MessageKind::kQueued,
                  protocol::queued_response(id, estimate, "Request already accepted"));
  }
  metrics_.record_request(spec.name, "queued", since(received));
}

void RequestService::subscribe(const std::shared_ptr<ServiceSession>& conn, protocol::Request req,
                               SteadyClock::time_point received) {
  auto target = target_key(conn, req, "subscribe", received);
  if (!target) return;
  JobKey key = std::move(*target);
  conn->watch_again(key.request_id);  // a retried request's next terminal is new
  asio::post(store_pool_, [this, conn, req = std::move(req), key = std::move(key), received] {
    // Registered before the snapshot is read, so no event falls between them; off the
    // I/O thread, since a shared bus may wait for Redis.
    hub_.subscribe_before_snapshot(key, conn);
    std::optional<JobRecord> rec;
    try {
      rec = store_.find(key);
    } catch (const std::exception& e) {
      log_event(spdlog::level::err, "store_error", {{"op", "find"}, {"error", e.what()}});
    }
    if (!rec || is_terminal(rec->status)) hub_.unsubscribe(key, conn);  // no event will come
    if (!rec) return reject_not_found(conn, "subscribe", req.id, key, received);
    conn->deliver(req.id, MessageKind::kNotice,
                  protocol::success_response(req.id, snapshot_of(*rec), since(received)));
    // Asked for explicitly, so sent even if this connection saw it before (kNotice is
    // not de-duplicated like kTerminal).
    if (is_terminal(rec->status))
      conn->deliver(key.request_id, MessageKind::kNotice, rec->outcome_json);
    metrics_.record_request("subscribe", "success", since(received));
  });
}

void RequestService::cancel(const std::shared_ptr<ServiceSession>& conn, protocol::Request req,
                            SteadyClock::time_point received) {
  auto target = target_key(conn, req, "cancel", received);
  if (!target) return;
  JobKey key = std::move(*target);
  asio::post(store_pool_, [this, conn, req = std::move(req), key = std::move(key), received] {
    const std::string cancelled = protocol::error_message(key.request_id, ErrorCode::kCancelled,
                                                          "Request cancelled", {}, false);
    CancelOutcome outcome = CancelOutcome::kNotFound;
    std::optional<JobRecord> rec;
    try {
      outcome = store_.request_cancel(key, cancelled);
      if (outcome == CancelOutcome::kAlreadyFinished) rec = store_.find(key);
    } catch (const std::exception& e) {
      log_event(spdlog::level::err, "store_error", {{"op", "cancel"}, {"error", e.what()}});
    }
    if (outcome == CancelOutcome::kNotFound)
      return reject_not_found(conn, "cancel", req.id, key, received);
    json::object data;
    data["request_id"] = key.request_id;
    switch (outcome) {
      case CancelOutcome::kCancelledNow:
        data["status"] = "cancelled";
        break;
      case CancelOutcome::kCancelRequested:
        data["status"] = "cancelling";
        break;
      default:
        data["status"] = rec ? to_string(rec->status) : "unknown";
        break;
    }
    if (outcome != CancelOutcome::kAlreadyFinished)
      hub_.subscribe(key, conn);  // so it sees CANCELLED
    conn->deliver(req.id, MessageKind::kNotice,
                  protocol::success_response(req.id, data, since(received)));
    metrics_.record_request("cancel", "success", since(received));
    if (outcome == CancelOutcome::kCancelledNow)
      hub_.publish(key, MessageKind::kTerminal, cancelled);
    if (outcome != CancelOutcome::kCancelRequested) return;
    workers_.cancel_local(key);
    if (options_.on_cancel_requested) options_.on_cancel_requested(key);
    hub_.push_cancel(key);  // it may run in another process (a `streamer worker`)
    // The store records CANCELLED for it whoever finishes it; if that happened before the
    // subscription above, the stored outcome is sent here (once: terminals are
    // de-duplicated per connection).
    try {
      if (auto now = store_.find(key); now && is_terminal(now->status)) {
        conn->deliver(key.request_id, MessageKind::kTerminal, now->outcome_json);
      }
    } catch (const std::exception& e) {
      log_event(spdlog::level::err, "store_error", {{"op", "find"}, {"error", e.what()}});
    }
  });
}

}  // namespace streamer
