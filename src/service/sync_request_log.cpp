#include "service/sync_request_log.hpp"

#include <spdlog/spdlog.h>

#include "core/log_event.hpp"

namespace streamer {

bool SyncRequestLog::take_success_turn() {
  if (success_every_ == 0) return false;
  return successes_.fetch_add(1, std::memory_order_relaxed) % success_every_ == 0;
}

void SyncRequestLog::finished(std::string_view request_id, std::string_view tenant,
                              std::string_view user, std::string_view action,
                              std::string_view outcome, double seconds, std::string_view trace_id) {
  if (!spdlog::should_log(spdlog::level::info)) return;
  if (outcome == "success" && !take_success_turn()) return;
  const bool ok = outcome == "success";
  log_event(spdlog::level::info, "request_finished",
            {{"request_id", request_id},
             {"tenant", tenant},
             {"user", user},
             {"action", action},
             {"mode", "sync"},
             {"status", ok ? "succeeded" : "failed"},
             {"code", ok ? boost::json::value(nullptr) : boost::json::value(outcome)},
             {"duration_ms", seconds * 1000.0},
             {"trace_id", trace_id}});
}

}  // namespace streamer
