#include "handlers/process/stream_append_handler.hpp"

#include "handlers/process/stream_store.hpp"

namespace streamer::process {
using namespace std::chrono_literals;

StreamAppendHandler::StreamAppendHandler(StreamLimits limits)
    : TypedHandler(HandlerSpec{.name = "stream_append",
                               .estimated_duration = 50ms,
                               .permission = "write",
                               .time_limit = 30s,
                               .max_attempts = 1,
                               .execution = Execution::kPool}),
      limits_(limits) {}

StreamAppendRequest StreamAppendHandler::parse(const boost::json::object& payload) const {
  validate_append_payload(payload, limits_);
  return {std::string(payload.at("stream_id").as_string()), payload.at("records").as_array()};
}

HandlerResult StreamAppendHandler::run(const StreamAppendRequest& request, JobContext& ctx) {
  StreamStore store(ctx.env.data_dir / "streams.db", limits_);
  std::size_t total = store.append(ctx.identity.tenant_id, request.stream_id, request.records);
  boost::json::object data{{"stream_id", request.stream_id},
                           {"appended", request.records.size()},
                           {"total_records", total}};
  return HandlerResult{std::move(data), true};
}

}  // namespace streamer::process
