#include "jobs/job_outcomes.hpp"

#include <boost/json.hpp>

#include "core/protocol.hpp"

namespace streamer {
namespace json = boost::json;

StoredError stored_error(std::string_view outcome_json) {
  std::error_code ec;
  json::value outcome = json::parse(outcome_json, ec);
  const auto* obj = ec ? nullptr : outcome.if_object();
  const auto* err = obj ? obj->if_contains("error") : nullptr;
  if (!err || !err->is_object()) return {};
  StoredError out;
  if (const auto* c = err->get_object().if_contains("code"); c && c->is_string())
    out.code = c->get_string();
  if (const auto* m = err->get_object().if_contains("message"); m && m->is_string())
    out.message = m->get_string();
  return out;
}

std::string cancelled_message(const std::string& request_id) {
  return protocol::error_message(request_id, ErrorCode::kCancelled, "Request cancelled", {}, false);
}

std::string timeout_message(const std::string& request_id, std::chrono::milliseconds limit) {
  json::object details;
  details["time_limit_ms"] = limit.count();
  return protocol::error_message(
      request_id, ErrorCode::kTimeout,
      "Request exceeded its time limit of " + std::to_string(limit.count()) + " ms",
      std::move(details));
}

std::string exhausted_message(const std::string& request_id, int attempts,
                              std::string_view last_error) {
  json::object details;
  details["attempts"] = attempts;
  details["last_error"] = last_error;
  return protocol::error_message(request_id, ErrorCode::kInternalError,
                                 "Request failed after " + std::to_string(attempts) + " attempts",
                                 std::move(details));
}

}  // namespace streamer
