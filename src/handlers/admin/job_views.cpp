#include "handlers/admin/job_views.hpp"

#include <fmt/chrono.h>
#include <fmt/format.h>

namespace streamer::admin {
namespace json = boost::json;

namespace {

// Stored JSON text, parsed; null when empty or (never expected) unreadable.
json::value parsed(const std::string& text) {
  if (text.empty()) return nullptr;
  std::error_code ec;
  json::value v = json::parse(text, ec);
  return ec ? json::value(nullptr) : v;
}

json::value optional_time(const std::optional<SystemTime>& t) {
  return t ? json::value(format_ms_timestamp(*t)) : json::value(nullptr);
}

// Every {url, expires_at?} object in a result's data, depth-first (handlers put their
// artifact's signed URL under "url", with its "expires_at").
void collect_artifacts(const json::value& v, json::array& out, int depth) {
  if (depth > 8) return;
  if (const auto* obj = v.if_object()) {
    if (auto it = obj->find("url"); it != obj->end() && it->value().is_string()) {
      json::object link;
      link["url"] = it->value();
      if (auto e = obj->find("expires_at"); e != obj->end() && e->value().is_string())
        link["expires_at"] = e->value();
      out.push_back(std::move(link));
    }
    for (const auto& [k, child] : *obj) collect_artifacts(child, out, depth + 1);
  } else if (const auto* arr = v.if_array()) {
    for (const auto& child : *arr) collect_artifacts(child, out, depth + 1);
  }
}

}  // namespace

std::string format_ms_timestamp(SystemTime t) {
  const auto ms = std::chrono::time_point_cast<std::chrono::milliseconds>(t);
  const auto secs = std::chrono::time_point_cast<std::chrono::seconds>(ms);
  return fmt::format("{:%Y-%m-%dT%H:%M:%S}.{:03d}Z",
                     fmt::gmtime(std::chrono::system_clock::to_time_t(secs)),
                     static_cast<int>((ms - secs).count()));
}

StoredError stored_error(const JobRecord& job) { return streamer::stored_error(job.outcome_json); }

namespace {
// The fields every view of a job starts with: who, what, and how far its attempts got.
json::object job_header(const JobRecord& job) {
  json::object o;
  o["tenant_id"] = job.key.tenant_id;
  o["user_id"] = job.key.user_id;
  o["request_id"] = job.key.request_id;
  o["action"] = job.action;
  o["status"] = to_string(job.status);
  o["attempts"] = job.attempts;
  o["max_attempts"] = job.max_attempts;
  return o;
}
}  // namespace

json::object job_summary(const JobRecord& job) {
  json::object o = job_header(job);
  json::value progress = parsed(job.progress_json);
  const auto* p = progress.if_object();
  o["progress"] = p && p->contains("progress") && p->at("progress").is_number()
                      ? p->at("progress")
                      : json::value(nullptr);
  const bool ended_badly = job.status == JobStatus::kFailed || job.status == JobStatus::kCancelled;
  auto err = ended_badly ? stored_error(job) : StoredError{};
  o["error_code"] = err.code.empty() ? json::value(nullptr) : json::value(err.code);
  o["created_at"] = format_ms_timestamp(job.created_at);
  o["updated_at"] = format_ms_timestamp(job.updated_at);
  o["finished_at"] = optional_time(job.finished_at);
  return o;
}

namespace {
// One step of the history: {attempt, at, progress (percent or null), message?}.
json::object history_step(const ProgressStep& step) {
  json::object o;
  o["attempt"] = step.attempt;
  o["at"] = format_ms_timestamp(step.at);
  json::value body = parsed(step.progress_json);
  const auto* b = body.if_object();
  const json::value* percent = b ? b->if_contains("progress") : nullptr;
  o["progress"] = percent && percent->is_number() ? *percent : json::value(nullptr);
  if (const json::value* m = b ? b->if_contains("message") : nullptr; m && m->is_string())
    o["message"] = *m;
  return o;
}
}  // namespace

json::object job_detail(const JobRecord& job, const std::vector<ProgressStep>& history) {
  json::object o = job_header(job);
  o["cancel_requested"] = job.cancel_requested;
  json::value payload = parsed(job.payload_json);
  o["payload"] = payload.is_object() ? payload : json::object{};
  o["trace_id"] = job.trace_id;
  o["progress"] = parsed(job.progress_json);
  json::array steps;
  steps.reserve(history.size());
  for (const auto& step : history) steps.push_back(history_step(step));
  o["progress_history"] = std::move(steps);
  // While a cancel is pending, outcome_json holds the CANCELLED message to come.
  json::value outcome = is_terminal(job.status) ? parsed(job.outcome_json) : json::value(nullptr);
  json::array artifacts;
  if (const auto* obj = outcome.if_object(); obj && obj->contains("result")) {
    if (const auto* result = obj->at("result").if_object(); result && result->contains("data"))
      collect_artifacts(result->at("data"), artifacts, 0);
  }
  o["outcome"] = std::move(outcome);
  o["last_error"] = job.last_error;
  o["artifacts"] = std::move(artifacts);
  o["created_at"] = format_ms_timestamp(job.created_at);
  o["updated_at"] = format_ms_timestamp(job.updated_at);
  o["finished_at"] = optional_time(job.finished_at);
  return o;
}

}  // namespace streamer::admin
