#include "remote/remote_dispatcher.hpp"

#include <boost/asio/post.hpp>
#include <future>
#include <map>
#include <unordered_set>

#include "core/json_text.hpp"
#include "core/log_event.hpp"
#include "core/protocol.hpp"
#include "jobs/job_outcomes.hpp"
#include "remote/remote_action_registry.hpp"

namespace streamer::remote {
namespace asio = boost::asio;
namespace json = boost::json;

namespace {

// Whether a client may receive `code` from a worker; completes the details the protocol
// defines for it (`expected`, `reason`, `time_limit_ms`). Codes a worker cannot mean
// (RATE_LIMITED, INVALID_ACTION, CANCELLED) are not usable: the caller reports them as
// INTERNAL_ERROR with details.worker_code.
bool usable_worker_error(ErrorCode code, json::object& details,
                         std::chrono::milliseconds time_limit) {
  switch (code) {
    case ErrorCode::kValidationError:
      if (!details.contains("expected")) details["expected"] = "a payload the worker accepts";
      return true;
    case ErrorCode::kUnauthorized:
      if (!details.contains("reason")) details["reason"] = "refused_by_worker";
      return true;
    case ErrorCode::kTimeout:
      if (!details.contains("time_limit_ms")) details["time_limit_ms"] = time_limit.count();
      return true;
    case ErrorCode::kRateLimited:
    case ErrorCode::kInvalidAction:
    case ErrorCode::kCancelled:
      return false;
    default:
      return true;
  }
}

json::object payload_of(const JobRecord& rec) {
  std::error_code ec;
  json::value v = json::parse(rec.payload_json, ec);
  if (ec || !v.is_object()) return {};
  return std::move(v.get_object());
}

const json::string* string_field(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  return v && v->is_string() ? &v->get_string() : nullptr;
}

}  // namespace

RemoteDispatcher::RemoteDispatcher(JobStore& store, EventBus& bus, RemoteActions& actions,
                                   RemoteDispatcherOptions options)
    : store_(store),
      bus_(bus),
      actions_(actions),
      options_(std::move(options)),
      timer_(thread_.get_executor()),
      lane_waiter_(store_, [this](const std::vector<std::string>& lanes) {
        for (const auto& lane : lanes) notify(lane);
      }) {}

RemoteDispatcher::~RemoteDispatcher() {
  stop();
  lane_waiter_.stop();
  thread_.join();
}

void RemoteDispatcher::start() {
  asio::post(thread_, [this] {
    if (started_ || stopped_) return;
    started_ = true;
    arm_tick();
  });
  lane_waiter_.start();
}

void RemoteDispatcher::stop() {
  lane_waiter_.stop();
  std::promise<void> done;
  auto finished = done.get_future();
  asio::post(thread_, [this, &done] {
    if (!stopped_) {
      stopped_ = true;
      timer_.cancel();
      commit_finishes();  // outcomes the workers reported before the drain
      for (auto& [id, job] : jobs_) {
        auto it = conns_.find(job.conn);
        if (it != conns_.end()) {
          send(it->second, {{"type", "cancel"},
                            {"job_id", id},
                            {"fence", job.lease.fence},
                            {"reason", "shutdown"}});
        }
        try {
          store_.release(id, job.lease.fence, std::chrono::system_clock::now(),
                         "interrupted by shutdown", /*refund_attempt=*/true);
        } catch (const std::exception& e) {
          log_event(spdlog::level::err, "store_error", {{"op", "release"}, {"error", e.what()}});
        }
      }
      jobs_.clear();
    }
    done.set_value();
  });
  finished.wait();
}

std::uint64_t RemoteDispatcher::open(Identity who, std::weak_ptr<MessageSink> sink) {
  const std::uint64_t id = conn_ids_.fetch_add(1);
  asio::post(thread_, [this, id, who = std::move(who), sink = std::move(sink)]() mutable {
    Conn conn;
    conn.who = std::move(who);
    conn.sink = std::move(sink);
    conn.last_seen = Clock::now();
    conns_.emplace(id, std::move(conn));
  });
  return id;
}

void RemoteDispatcher::on_message(std::uint64_t conn, json::object message) {
  asio::post(thread_, [this, conn, message = std::move(message)] {
    try {
      handle(conn, message);
    } catch (const std::exception& e) {  // a store error: the lease lapses, the job runs again
      log_event(spdlog::level::err, "remote_worker_error", {{"error", e.what()}});
      auto it = conns_.find(conn);
      if (it != conns_.end())
        send_error(it->second, ErrorCode::kInternalError, "internal error", {});
    }
  });
}

void RemoteDispatcher::close(std::uint64_t conn) {
  asio::post(thread_, [this, conn] {
    bool held = false;
    for (auto it = jobs_.begin(); it != jobs_.end();) {
      held = held || it->second.conn == conn;
      it = it->second.conn == conn ? jobs_.erase(it) : std::next(it);
    }
    if (auto c = conns_.find(conn); c != conns_.end() && options_.registry) {
      for (const auto& action : c->second.actions) options_.registry->detach(action);
    }
    conns_.erase(conn);
    update_waited_lanes();
    // Its leases lapse within lease_ttl; another worker may take the jobs then.
    if (held) look_at(Clock::now() + options_.lease_ttl);
  });
}

void RemoteDispatcher::notify(const std::string& lane) {
  {
    std::lock_guard lock(notified_mutex_);
    notified_lanes_.insert(lane);
    if (notify_posted_) return;  // the posted handler below takes this lane too
    notify_posted_ = true;
  }
  asio::post(thread_, [this] {
    std::set<std::string> lanes;
    {
      std::lock_guard lock(notified_mutex_);
      lanes.swap(notified_lanes_);
      notify_posted_ = false;
    }
    if (stopped_) return;
    wanted_lanes_.merge(lanes);
    schedule_round();
  });
}

void RemoteDispatcher::cancel_local(const JobKey& key) {
  asio::post(thread_, [this, key] {
    for (auto& [id, job] : jobs_) {
      if (job.lease.record.key != key) continue;
      const std::string job_id = id;
      send_cancel(job, "cancelled");
      finish(job_id, JobStatus::kCancelled, cancelled_message(key.request_id), false);
      return;
    }
  });
}

// ------------------------------------------------------------------- worker messages

void RemoteDispatcher::handle(std::uint64_t conn_id, const json::object& message) {
  auto it = conns_.find(conn_id);
  if (it == conns_.end()) return;
  Conn& conn = it->second;
  conn.last_seen = Clock::now();  // any frame is a sign of life
  const json::string* type = string_field(message, "type");
  const std::string_view t = type ? std::string_view(*type) : std::string_view();
  if (t == "heartbeat") return;
  if (t == "register") return on_register(conn_id, conn, message);
  if (!conn.registered) {
    return send_error(conn, ErrorCode::kValidationError, "register first",
                      {{"field", "type"}, {"expected", "register"}, {"received", t}});
  }
  if (t == "credit") {
    const json::value* n = message.if_contains("n");
    if (!n || !n->is_int64() || n->get_int64() < 1 || n->get_int64() > options_.max_credits) {
      return send_error(conn, ErrorCode::kValidationError,
                        "n must be an integer from 1 to max credits",
                        {{"field", "n"},
                         {"expected", "integer from 1 to " + std::to_string(options_.max_credits)},
                         {"received", n ? *n : json::value(nullptr)}});
    }
    conn.credits = std::min(options_.max_credits, conn.credits + n->get_int64());
    return want_claims(conn);
  }
  if (t == "progress") return on_progress(conn_id, conn, message);
  if (t == "complete") return on_complete(conn_id, conn, message);
  if (t == "fail") return on_fail(conn_id, conn, message);
  send_error(conn, ErrorCode::kValidationError, "unknown message type",
             {{"field", "type"},
              {"expected", "register, credit, progress, complete, fail or heartbeat"},
              {"received", type ? json::value(*type) : json::value(nullptr)}});
}

void RemoteDispatcher::on_register(std::uint64_t conn_id, Conn& conn, const json::object& message) {
  const json::value* list = message.if_contains("actions");
  if (!list || !list->is_array() || list->get_array().empty() ||
      list->get_array().size() > options_.max_actions_per_worker) {
    return send_error(
        conn, ErrorCode::kValidationError, "actions must be a non-empty array",
        {{"field", "actions"},
         {"expected",
          "array of 1 to " + std::to_string(options_.max_actions_per_worker) + " action specs"},
         {"received", list ? *list : json::value(nullptr)}});
  }
  std::int64_t concurrency = 1;
  if (const json::value* c = message.if_contains("concurrency")) {
    if (!c->is_int64() || c->get_int64() < 1 || c->get_int64() > options_.max_credits) {
      return send_error(conn, ErrorCode::kValidationError,
                        "concurrency must be an integer from 1 to max credits",
                        {{"field", "concurrency"},
                         {"expected", "integer from 1 to " + std::to_string(options_.max_credits)},
                         {"received", *c}});
    }
    concurrency = c->get_int64();
  }
  // All specs are checked before any is registered: a refused register changes nothing.
  std::vector<RemoteActionSpec> specs;
  try {
    const auto& arr = list->get_array();
    for (std::size_t i = 0; i < arr.size(); ++i) {
      specs.push_back(parse_action_spec(arr[i], i, actions_.options()));
      const std::string& name = specs.back().spec.name;
      bool allowed = false;
      for (const auto& a : conn.who.actions) allowed = allowed || a == name;
      if (!allowed) {
        throw HandlerError(ErrorCode::kUnauthorized,
                           "this worker token may not serve " + name + " (claim actions)",
                           {{"action", name}, {"reason", "action_not_in_token"}});
      }
    }
    const std::string scope =
        conn.who.has_permission(kAllTenantsPermission) ? std::string() : conn.who.tenant_id;
    for (std::size_t i = 0; i < specs.size(); ++i) {
      const std::string name = specs[i].spec.name;
      if (options_.registry && !conn.actions.contains(name)) {
        options_.registry->attach(std::move(specs[i]), scope, i);  // shared with the gateways
      } else {
        actions_.add(std::move(specs[i]), i);
      }
      conn.actions.insert(name);
    }
  } catch (const HandlerError& e) {
    return send_error(conn, e.code(), e.what(), e.details());
  }
  if (!conn.registered) conn.credits = concurrency;
  conn.registered = true;
  json::array names;
  for (const auto& a : conn.actions) names.emplace_back(a);
  send(conn, {{"type", "registered"},
              {"actions", std::move(names)},
              {"lease_ttl_ms", options_.lease_ttl.count()},
              {"heartbeat_ms", heartbeat_interval().count()}});
  log_event(spdlog::level::info, "remote_worker_registered",
            {{"tenant", conn.who.tenant_id},
             {"user", conn.who.user_id},
             {"actions", static_cast<std::int64_t>(list->get_array().size())},
             {"concurrency", concurrency}});
  update_waited_lanes();
  want_claims(conn);
}

RemoteDispatcher::Job* RemoteDispatcher::current_job(std::uint64_t conn_id, Conn& conn,
                                                     const json::object& message, bool ends) {
  const json::string* job_id = string_field(message, "job_id");
  const json::value* fence = message.if_contains("fence");
  if (!job_id || !fence || !fence->is_int64()) {
    send_error(conn, ErrorCode::kValidationError, "job_id (string) and fence (integer) required",
               {{"field", job_id ? "fence" : "job_id"},
                {"expected", job_id ? "integer" : "string"},
                {"received", job_id ? (fence ? *fence : json::value(nullptr))
                                    : (message.contains("job_id") ? message.at("job_id")
                                                                  : json::value(nullptr))}});
    return nullptr;
  }
  auto it = jobs_.find(std::string(*job_id));
  if (it != jobs_.end() && it->second.conn == conn_id &&
      it->second.lease.fence == fence->get_int64()) {
    return &it->second;
  }
  send(conn, {{"type", "stale"}, {"job_id", *job_id}, {"fence", *fence}});
  // The worker is done with a job it was given (whose lease it lost): its slot is free.
  if (ends && conn.given.erase(std::string(*job_id))) {
    conn.credits += 1;
    want_claims(conn);
  }
  return nullptr;
}

void RemoteDispatcher::on_progress(std::uint64_t conn_id, Conn& conn, const json::object& message) {
  Job* job = current_job(conn_id, conn, message, false);
  if (!job) return;
  const json::value* percent = message.if_contains("percent");
  if (!percent || !percent->is_number()) {
    return send_error(conn, ErrorCode::kValidationError, "percent must be a number",
                      {{"field", "percent"},
                       {"expected", "number from 0 to 100"},
                       {"received", percent ? *percent : json::value(nullptr)}});
  }
  const json::string* text = string_field(message, "message");
  json::object metadata;
  if (const json::value* m = message.if_contains("metadata"); m && m->is_object())
    metadata = m->get_object();
  job->progress->report(percent->to_number<double>(), text ? std::string_view(*text) : "",
                        std::move(metadata));
}

void RemoteDispatcher::on_complete(std::uint64_t conn_id, Conn& conn, const json::object& message) {
  Job* job = current_job(conn_id, conn, message, true);
  if (!job) return;
  const JobRecord& rec = job->lease.record;
  job->progress->complete("Completed");
  json::object meta;
  meta["total_processing_time"] =
      std::chrono::duration<double>(std::chrono::system_clock::now() - rec.created_at).count();
  meta["handler"] = rec.action;
  meta["attempts"] = rec.attempts;
  if (!rec.trace_id.empty()) meta["trace_id"] = rec.trace_id;
  const json::value* data = message.if_contains("data");
  const std::string outcome = protocol::result_message(
      rec.key.request_id, true, data ? *data : json::value(json::object{}), meta);
  finish(rec.job_id, JobStatus::kSucceeded, outcome, true);
}

void RemoteDispatcher::on_fail(std::uint64_t conn_id, Conn& conn, const json::object& message) {
  Job* job = current_job(conn_id, conn, message, true);
  if (!job) return;
  const JobRecord rec = job->lease.record;
  const json::value* err = message.if_contains("error");
  const json::object empty;
  const json::object& e = err && err->is_object() ? err->get_object() : empty;
  const json::string* code_text = string_field(e, "code");
  const json::string* text = string_field(e, "message");
  json::object details;
  if (const json::value* d = e.if_contains("details"); d && d->is_object())
    details = d->get_object();
  // The seed's details carry `received` as text (JSON text unless a string).
  if (auto* r = details.if_contains("received"); r && !r->is_string()) *r = json::serialize(*r);
  const std::optional<ErrorCode> parsed =
      code_text ? error_code_from_string(*code_text) : std::optional<ErrorCode>();
  ErrorCode code = ErrorCode::kInternalError;
  if (parsed && usable_worker_error(*parsed, details, job->time_limit)) {
    code = *parsed;
  } else if (code_text) {
    details["worker_code"] = *code_text;  // the client sees a protocol code
  }
  bool retryable = is_retryable(code);
  if (const json::value* r = e.if_contains("retryable"); r && r->is_bool())
    retryable = r->get_bool();
  const std::string what = text ? std::string(*text) : std::string("failed");
  if (retryable && rec.attempts < rec.max_attempts) {
    const auto delay = options_.retry.delay_after(rec.attempts, rng_);
    const auto fence = job->lease.fence;
    const std::string job_id = rec.job_id;
    job->progress->flush();
    const bool released =
        store_.release(job_id, fence, std::chrono::system_clock::now() + delay, what, false);
    conn.credits += 1;
    conn.given.erase(job_id);
    jobs_.erase(job_id);
    if (released) {
      send(conn, {{"type", "ack"}, {"job_id", job_id}});
      if (options_.observer) options_.observer->job_retried(rec);
      log_event(spdlog::level::warn, "job_retry",
                {{"job", job_id},
                 {"attempt", rec.attempts},
                 {"delay_ms", delay.count()},
                 {"error", what},
                 {"trace_id", rec.trace_id}});
    } else {
      send(conn, {{"type", "stale"}, {"job_id", job_id}, {"fence", fence}});
    }
    look_at(Clock::now() + delay);  // runnable again then
    return want_claims(conn);
  }
  job->progress->flush();
  const std::string outcome = retryable ? exhausted_message(rec.key.request_id, rec.attempts, what)
                                        : protocol::error_message(rec.key.request_id, code, what,
                                                                  std::move(details), retryable);
  finish(rec.job_id, JobStatus::kFailed, outcome, true);
}

// ------------------------------------------------------------------- claims and ends

void RemoteDispatcher::want_claims(const Conn& conn) {
  if (conn.credits <= 0) return;
  wanted_lanes_.insert(conn.actions.begin(), conn.actions.end());
  schedule_round();
}

void RemoteDispatcher::update_waited_lanes() {
  std::set<std::string> lanes;
  for (const auto& [id, conn] : conns_)
    if (conn.credits > 0) lanes.insert(conn.actions.begin(), conn.actions.end());
  if (lanes == waited_lanes_) return;
  waited_lanes_ = lanes;
  lane_waiter_.set_lanes({lanes.begin(), lanes.end()});
}

void RemoteDispatcher::look_at(Clock::time_point when) { next_poll_ = std::min(next_poll_, when); }

void RemoteDispatcher::schedule_round() {
  if (round_scheduled_ || stopped_) return;
  round_scheduled_ = true;
  asio::post(thread_, [this] { run_round(); });
}

void RemoteDispatcher::run_round() {
  round_scheduled_ = false;
  if (stopped_) return;
  commit_finishes();
  try {
    claim_wanted();
  } catch (const std::exception& e) {  // the lanes are looked at again at the next poll
    log_event(spdlog::level::err, "store_error", {{"op", "claim"}, {"error", e.what()}});
  }
  update_waited_lanes();
}

void RemoteDispatcher::commit_finishes() {
  if (pending_finishes_.empty()) return;
  std::vector<PendingFinish> batch;
  batch.swap(pending_finishes_);
  std::vector<JobStore::FinishItem> items;
  items.reserve(batch.size());
  for (auto& p : batch) items.push_back(std::move(p.item));
  std::vector<FinishResult> results;
  try {
    results = store_.finish_batch(items);
  } catch (const std::exception& e) {
    // Nothing of the batch is known durable: no terminal is published; each job's lease
    // lapses and the job runs again (its attempt counted).
    log_event(spdlog::level::err, "store_error", {{"op", "finish"}, {"error", e.what()}});
    for (const auto& p : batch) {
      auto conn = conns_.find(p.conn);
      if (p.ack && conn != conns_.end())
        send_error(conn->second, ErrorCode::kInternalError, "internal error", {});
    }
    return;
  }
  for (std::size_t i = 0; i < batch.size(); ++i) {
    const FinishResult& r = results.at(i);
    if (r.ended) {
      const std::string& recorded = r.cancelled_instead ? r.outcome_json : items[i].outcome_json;
      if (!r.published) bus_.publish(batch[i].record.key, MessageKind::kTerminal, recorded);
      if (options_.observer) {
        const JobStatus ended_as = r.cancelled_instead ? JobStatus::kCancelled : items[i].terminal;
        options_.observer->job_finished(
            batch[i].record, ended_as,
            ended_as == JobStatus::kSucceeded ? std::string() : stored_error(recorded).code,
            batch[i].ran);
      }
    }
    if (!batch[i].ack) continue;
    auto conn = conns_.find(batch[i].conn);
    if (conn == conns_.end()) continue;
    if (r.ended) {
      send(conn->second, {{"type", "ack"}, {"job_id", items[i].job_id}});
    } else {
      send(conn->second,
           {{"type", "stale"}, {"job_id", items[i].job_id}, {"fence", items[i].fence}});
    }
  }
}

void RemoteDispatcher::claim_wanted() {
  std::set<std::string> lanes;
  lanes.swap(wanted_lanes_);
  if (all_lanes_wanted_) {
    for (const auto& [id, conn] : conns_)
      if (conn.credits > 0) lanes.insert(conn.actions.begin(), conn.actions.end());
    all_lanes_wanted_ = false;
  }
  for (const auto& lane : lanes) {
    // The credited connections serving `lane`, by the tenant they may take jobs of.
    std::map<std::string, std::vector<std::uint64_t>> scopes;
    for (const auto& [id, conn] : conns_) {
      if (conn.credits <= 0 || !conn.registered || !conn.actions.contains(lane)) continue;
      scopes[conn.who.has_permission(kAllTenantsPermission) ? std::string() : conn.who.tenant_id]
          .push_back(id);
    }
    for (const auto& [tenant, ids] : scopes) {
      std::int64_t credits = 0;
      for (auto id : ids) credits += std::max<std::int64_t>(0, conns_.at(id).credits);
      if (credits <= 0) continue;
      auto leases = store_.acquire_lane(lane, tenant, options_.instance_id, options_.lease_ttl,
                                        static_cast<std::size_t>(credits));
      // Round robin over the connections that still have a credit: there is always one,
      // as no take() uses more than one and there are no more leases than credits.
      std::size_t next = 0;
      for (auto& lease : leases) {
        for (std::size_t k = 0; k < ids.size(); ++k) {
          const std::uint64_t id = ids[(next + k) % ids.size()];
          Conn& conn = conns_.at(id);
          if (conn.credits <= 0) continue;
          next = (next + k + 1) % ids.size();
          take(id, conn, std::move(lease));
          break;
        }
      }
    }
  }
}

void RemoteDispatcher::take(std::uint64_t conn_id, Conn& conn, Lease lease) {
  const JobRecord& rec = lease.record;
  const std::string job_id = rec.job_id;
  Job job;
  job.conn = conn_id;
  job.lease = std::move(lease);
  const Handler* handler = actions_.find(job.lease.record.action);
  job.time_limit = handler ? handler->spec().time_limit : std::chrono::milliseconds(30'000);
  job.started = Clock::now();
  job.deadline = job.started + job.time_limit;
  job.next_renew = job.started + options_.lease_ttl / 3;
  const JobKey key = job.lease.record.key;
  job.progress = std::make_unique<ProgressReporter>(
      key.request_id, options_.progress_interval,
      [this, job_id, key, fence = job.lease.fence,
       action = job.lease.record.action](const json::object& body) {
        // fenced: a bus over a shared store drops it once another claim took the job over
        bus_.publish_progress(key, job_id, fence, protocol::progress_message(body));
        if (options_.observer) options_.observer->progress_published(action);
        if (auto it = jobs_.find(job_id); it != jobs_.end())
          it->second.unsaved_progress = to_json_text(body);
      });
  const JobRecord& r = job.lease.record;
  if (r.cancel_requested || r.attempts > r.max_attempts) {
    // Claimed only to be ended: a cancelled job never runs, nor one whose workers kept
    // dying until its attempts were used up.
    const std::string outcome =
        r.cancel_requested
            ? cancelled_message(key.request_id)
            : exhausted_message(key.request_id, r.attempts - 1,
                                r.last_error.empty() ? "worker lost its lease" : r.last_error);
    const JobStatus status = r.cancel_requested ? JobStatus::kCancelled : JobStatus::kFailed;
    jobs_.insert_or_assign(job_id, std::move(job));
    finish(job_id, status, outcome, false);
    return;
  }
  json::object identity{
      {"user_id", key.user_id}, {"tenant_id", key.tenant_id}, {"permissions", json::array{}}};
  json::object msg{{"type", "job"},
                   {"job_id", job_id},
                   {"fence", job.lease.fence},
                   {"action", r.action},
                   {"request_id", key.request_id},
                   {"payload", payload_of(r)},
                   {"identity", std::move(identity)},
                   {"attempt", r.attempts},
                   {"time_limit_ms", job.time_limit.count()},
                   {"trace_id", r.trace_id}};
  conn.credits -= 1;
  conn.given.insert(job_id);
  job.pushed = true;
  if (options_.observer) {
    const double waited =
        r.attempts == 1
            ? std::chrono::duration<double>(std::chrono::system_clock::now() - r.created_at).count()
            : -1.0;
    options_.observer->job_started(r, waited);
  }
  // An earlier attempt of this job held here lost its lease (it lapsed before a tick
  // noticed): this claim replaces it.
  jobs_.insert_or_assign(job_id, std::move(job));
  send(conn, msg);
}

void RemoteDispatcher::finish(std::string job_id, JobStatus status, const std::string& outcome,
                              bool ack) {
  auto it = jobs_.find(job_id);
  if (it == jobs_.end()) return;
  Job job = std::move(it->second);
  jobs_.erase(it);
  auto conn = conns_.find(job.conn);
  if (conn != conns_.end() && conn->second.given.erase(job_id)) {
    conn->second.credits += 1;
    want_claims(conn->second);
  }
  PendingFinish pending;
  pending.item = JobStore::FinishItem{
      std::move(job_id),      job.lease.fence, status, outcome, std::move(job.unsaved_progress),
      job.lease.record.action};
  pending.ran =
      job.pushed ? std::chrono::duration<double>(Clock::now() - job.started).count() : 0.0;
  pending.record = std::move(job.lease.record);
  pending.conn = job.conn;
  pending.ack = ack;
  pending_finishes_.push_back(std::move(pending));
  schedule_round();
}

void RemoteDispatcher::send_cancel(Job& job, std::string_view reason) {
  auto conn = conns_.find(job.conn);
  if (conn == conns_.end()) return;
  send(conn->second, {{"type", "cancel"},
                      {"job_id", job.lease.record.job_id},
                      {"fence", job.lease.fence},
                      {"reason", reason}});
}

void RemoteDispatcher::drop(const std::string& job_id) { jobs_.erase(job_id); }

void RemoteDispatcher::arm_tick() {
  timer_.expires_after(options_.tick);
  timer_.async_wait([this](boost::system::error_code ec) {
    if (ec || stopped_) return;
    try {
      tick();
    } catch (const std::exception& e) {
      log_event(spdlog::level::err, "store_error", {{"op", "remote_tick"}, {"error", e.what()}});
    }
    arm_tick();
  });
}

void RemoteDispatcher::tick() {
  const auto now = Clock::now();
  std::vector<std::string> timed_out, lost, cancelled;
  std::vector<ProgressItem> progress;
  // Leases due for renewal, by the lease time they get (renew_batch takes one).
  struct DueRenewals {
    std::vector<std::string> ids;
    std::vector<JobStore::RenewItem> items;
  };
  std::map<std::chrono::milliseconds, DueRenewals> due;
  // Connections with a renewal due now: their other jobs due within lease_ttl / 6 go in
  // the same batch (one store call), after which they stay due together. Jobs sent a
  // few milliseconds apart would otherwise fall due in consecutive ticks.
  std::unordered_set<std::uint64_t> conns_due;
  for (const auto& [id, job] : jobs_) {
    if (now >= job.next_renew) conns_due.insert(job.conn);
  }
  const auto early = options_.lease_ttl / 6;
  for (auto& [id, job] : jobs_) {
    if (now >= job.deadline) {
      timed_out.push_back(id);
      continue;
    }
    job.progress->flush_if_due();
    if (!job.unsaved_progress.empty()) {
      progress.push_back({id, job.lease.fence, std::move(job.unsaved_progress)});
      job.unsaved_progress.clear();
    }
    auto conn = conns_.find(job.conn);
    // The lease runs until lease_ttl after the worker's last frame.
    const auto until = conn == conns_.end() ? now : conn->second.last_seen + options_.lease_ttl;
    if (until <= now) {
      lost.push_back(id);
      continue;
    }
    if (now < job.next_renew && !(conns_due.contains(job.conn) && now + early >= job.next_renew))
      continue;
    // The jobs of one worker connection share `until`, hence one batch per connection.
    auto& batch = due[std::chrono::duration_cast<std::chrono::milliseconds>(until - now)];
    batch.ids.push_back(id);
    batch.items.push_back({id, job.lease.fence});
  }
  for (const auto& [ttl, batch] : due) {
    // A batch that throws leaves its jobs due: the next tick renews them again.
    const std::vector<LeaseState> states = store_.renew_batch(batch.items, ttl);
    for (std::size_t i = 0; i < batch.ids.size() && i < states.size(); ++i) {
      jobs_.at(batch.ids[i]).next_renew = now + options_.lease_ttl / 3;
      if (!states[i].owned) {
        lost.push_back(batch.ids[i]);
      } else if (states[i].cancel_requested) {
        cancelled.push_back(batch.ids[i]);
      }
    }
  }
  if (!progress.empty()) store_.save_progress_batch(progress);
  for (const auto& id : timed_out) {
    auto it = jobs_.find(id);
    if (it == jobs_.end()) continue;
    send_cancel(it->second, "timeout");
    finish(id, JobStatus::kFailed,
           timeout_message(it->second.lease.record.key.request_id, it->second.time_limit), false);
  }
  for (const auto& id : cancelled) {
    auto it = jobs_.find(id);
    if (it == jobs_.end()) continue;
    send_cancel(it->second, "cancelled");
    finish(id, JobStatus::kCancelled, cancelled_message(it->second.lease.record.key.request_id),
           false);
  }
  for (const auto& id : lost) {
    log_event(spdlog::level::warn, "remote_lease_lost", {{"job", id}});
    if (auto it = jobs_.find(id); it != jobs_.end())
      wanted_lanes_.insert(it->second.lease.record.action);
    drop(id);
  }
  if (!lost.empty()) schedule_round();  // a lapsed lease is claimable now
  if (now >= next_poll_) {
    next_poll_ = now + options_.poll_interval;
    all_lanes_wanted_ = true;
    schedule_round();
  }
}

void RemoteDispatcher::send(const Conn& conn, const json::object& message) {
  if (auto sink = conn.sink.lock())
    sink->deliver("", MessageKind::kNotice, json::serialize(message));
}

void RemoteDispatcher::send_error(const Conn& conn, ErrorCode code, const std::string& message,
                                  json::object details) {
  // The seed's VALIDATION_ERROR details carry `received` as text (JSON text unless a string).
  if (auto* r = details.if_contains("received"); r && !r->is_string()) *r = json::serialize(*r);
  if (auto sink = conn.sink.lock())
    sink->deliver("", MessageKind::kNotice,
                  protocol::error_message(std::nullopt, code, message, std::move(details)));
}

}  // namespace streamer::remote
