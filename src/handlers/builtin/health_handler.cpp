#include "handlers/builtin/health_handler.hpp"

#include "core/time_util.hpp"

namespace streamer {

HealthHandler::HealthHandler()
    : TypedHandler(HandlerSpec{.name = "health",
                               .estimated_duration = std::chrono::milliseconds(10),
                               .permission = "",
                               .time_limit = std::chrono::seconds(5),
                               .max_attempts = 1,
                               .execution = Execution::kInline}) {}

HealthRequest HealthHandler::parse(const boost::json::object&) const { return {}; }

HandlerResult HealthHandler::run(const HealthRequest&, JobContext&) {
  boost::json::object data;
  data["status"] = "healthy";
  data["timestamp"] = format_iso8601(std::chrono::system_clock::now());
  data["version"] = STREAMER_VERSION;
  return {std::move(data)};
}

}  // namespace streamer
