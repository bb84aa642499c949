#include "handlers/admin/jobs_handlers.hpp"

#include <cmath>
#include <stdexcept>

#include "core/protocol.hpp"
#include "core/time_util.hpp"
#include "handlers/admin/admin_payload.hpp"
#include "handlers/admin/job_views.hpp"
#include "jobs/worker_pool.hpp"

namespace streamer::admin {
namespace json = boost::json;

namespace {

HandlerSpec admin_spec(std::string name, std::chrono::milliseconds estimate) {
  HandlerSpec spec;
  spec.name = std::move(name);
  spec.estimated_duration = estimate;
  spec.permission = "";  // own requests need none; other tenants need `admin` (checked per call)
  spec.time_limit = std::chrono::seconds(30);
  spec.execution = Execution::kPool;
  return spec;
}

// Validation that needs no identity: a throwaway admin identity accepts every scope,
// so only the shapes of the fields are checked here.
const Identity& shape_checker() {
  static const Identity any{"", "", {std::string(kAdminPermission)}};
  return any;
}

}  // namespace

JobsListHandler::JobsListHandler(AdminServices services)
    : TypedHandler(admin_spec("jobs.list", std::chrono::milliseconds(10))), services_(services) {}

json::object JobsListHandler::parse(const json::object& payload) const {
  (void)list_query(payload, shape_checker());
  return payload;
}

HandlerResult JobsListHandler::run(const json::object& payload, JobContext& ctx) {
  const JobQuery query = list_query(payload, ctx.identity);
  JobPage page;
  try {
    page = services_.store.list_jobs(query);
  } catch (const std::invalid_argument&) {  // a cursor this store cannot have issued
    throw HandlerError::validation("cursor", "the next_cursor of a previous jobs.list page",
                                   payload.at("cursor"), "Invalid cursor");
  }
  json::array jobs;
  for (const auto& job : page.jobs) jobs.push_back(job_summary(job));
  json::object data;
  data["jobs"] = std::move(jobs);
  data["next_cursor"] = page.more && !page.jobs.empty()
                            ? json::value(encode_cursor(page.jobs.back()))
                            : json::value(nullptr);
  return {std::move(data), true};
}

JobsGetHandler::JobsGetHandler(AdminServices services)
    : TypedHandler(admin_spec("jobs.get", std::chrono::milliseconds(10))), services_(services) {}

json::object JobsGetHandler::parse(const json::object& payload) const {
  (void)target_key(payload, shape_checker());
  return payload;
}

HandlerResult JobsGetHandler::run(const json::object& payload, JobContext& ctx) {
  const JobKey key = target_key(payload, ctx.identity);
  auto job = services_.store.find(key);
  if (!job) throw not_found(key);
  return {job_detail(*job, services_.store.progress_history(key)), true};
}

JobsRetryHandler::JobsRetryHandler(AdminServices services)
    : TypedHandler(admin_spec("jobs.retry", std::chrono::milliseconds(10))), services_(services) {}

json::object JobsRetryHandler::parse(const json::object& payload) const {
  (void)target_key(payload, shape_checker());
  return payload;
}

HandlerResult JobsRetryHandler::run(const json::object& payload, JobContext& ctx) {
  const JobKey key = target_key(payload, ctx.identity);
  auto job = services_.store.find(key);
  if (!job) throw not_found(key);
  // The retried attempt gets the handler's usual budget of attempts again.
  const Handler* handler = services_.registry.find(job->action);
  const int extra = handler ? std::max(1, handler->spec().max_attempts) : 1;
  const std::string note = "retry requested by " + ctx.identity.user_id + " (" +
                           ctx.identity.tenant_id + ") after " +
                           std::string(stored_error(*job).code);
  auto requeued = services_.store.requeue_failed(key, extra, note);
  switch (requeued.outcome) {
    case RequeueOutcome::kNotFound:
      throw not_found(key);
    case RequeueOutcome::kNotFailed:
      throw HandlerError::validation("request_id", "a failed request",
                                     json::value(to_string(requeued.record.status)),
                                     "Only a failed request can be retried");
    case RequeueOutcome::kRequeued:
      break;
  }
  if (services_.observer) services_.observer->job_requeued(requeued.record);
  if (services_.workers) services_.workers->notify();
  json::object data;
  data["request_id"] = key.request_id;
  data["status"] = "queued";
  data["attempts"] = requeued.record.attempts;
  data["max_attempts"] = requeued.record.max_attempts;
  return {std::move(data), true};
}

JobsCancelHandler::JobsCancelHandler(AdminServices services)
    : TypedHandler(admin_spec("jobs.cancel", std::chrono::milliseconds(10))), services_(services) {}

json::object JobsCancelHandler::parse(const json::object& payload) const {
  (void)target_key(payload, shape_checker());
  return payload;
}

HandlerResult JobsCancelHandler::run(const json::object& payload, JobContext& ctx) {
  const JobKey key = target_key(payload, ctx.identity);
  const std::string cancelled = protocol::error_message(key.request_id, ErrorCode::kCancelled,
                                                        "Request cancelled", {}, false);
  const CancelOutcome outcome = services_.store.request_cancel(key, cancelled);
  json::object data;
  data["request_id"] = key.request_id;
  switch (outcome) {
    case CancelOutcome::kNotFound:
      throw not_found(key);
    case CancelOutcome::kCancelledNow:
      data["status"] = "cancelled";
      services_.bus.publish(key, MessageKind::kTerminal, cancelled);
      break;
    case CancelOutcome::kCancelRequested:
      data["status"] = "cancelling";
      if (services_.workers) services_.workers->cancel_local(key);
      services_.bus.push_cancel(key);  // it may run in another process (a `streamer worker`)
      break;
    case CancelOutcome::kAlreadyFinished: {
      auto job = services_.store.find(key);
      data["status"] = job ? to_string(job->status) : "unknown";
      break;
    }
  }
  return {std::move(data), true};
}

JobsPurgeHandler::JobsPurgeHandler(AdminServices services)
    : TypedHandler(admin_spec("jobs.purge", std::chrono::milliseconds(50))), services_(services) {}

namespace {
// payload.older_than in seconds: a finite number > 0 (at most 100 years).
std::chrono::milliseconds older_than(const json::object& payload) {
  const json::value* v = payload.if_contains("older_than");
  double seconds = 0;
  if (v && v->is_number()) seconds = v->to_number<double>();
  if (!v || !v->is_number() || !std::isfinite(seconds) || seconds <= 0 || seconds > 3.2e9) {
    throw HandlerError::validation(
        "older_than", "number of seconds > 0", v ? *v : json::value(nullptr),
        "payload.older_than is required: seconds since the request finished");
  }
  return std::chrono::milliseconds(static_cast<std::int64_t>(seconds * 1000));
}
}  // namespace

json::object JobsPurgeHandler::parse(const json::object& payload) const {
  (void)older_than(payload);
  (void)optional_string(payload, "tenant_id");
  return payload;
}

HandlerResult JobsPurgeHandler::run(const json::object& payload, JobContext& ctx) {
  const auto age = older_than(payload);
  if (payload.contains("user_id")) {
    throw HandlerError::validation("user_id", "absent (purges are per tenant)",
                                   payload.at("user_id"), "jobs.purge takes no user_id");
  }
  const JobScope scope = requested_scope(payload, ctx.identity);
  const auto cutoff = std::chrono::system_clock::now() - age;
  const std::size_t purged = services_.store.purge_finished(scope, cutoff);
  json::object data;
  data["purged"] = purged;
  data["finished_before"] = format_ms_timestamp(cutoff);
  return {std::move(data), true};
}

void register_admin_handlers(HandlerRegistry& registry, const AdminServices& services) {
  registry.add(std::make_unique<JobsListHandler>(services));
  registry.add(std::make_unique<JobsGetHandler>(services));
  registry.add(std::make_unique<JobsRetryHandler>(services));
  registry.add(std::make_unique<JobsCancelHandler>(services));
  registry.add(std::make_unique<JobsPurgeHandler>(services));
}

}  // namespace streamer::admin
