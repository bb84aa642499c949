#include "handlers/process/stream_append_handler.hpp"

#include "handlers/process/stream_store.hpp"

namespace streamer::process {
using namespace std::chrono_literals;

StreamAppendHandler::StreamAppendHandler(StreamLimits limits)
    : Handler(HandlerSpec{.name = "stream_append",
                          .estimated_duration = 50ms,
                          .permission = "write",
                          .time_limit = 30s,
                          .max_attempts = 1,
                          .always_async = false}),
      limits_(limits) {}

void StreamAppendHandler::validate(const boost::json::object& payload) const {
  validate_append_payload(payload, limits_);
}

HandlerResult StreamAppendHandler::run(const boost::json::object& payload, JobContext& ctx) {
  validate_append_payload(payload, limits_);
  const auto stream_id = payload.at("stream_id").as_string();
  const auto& records = payload.at("records").as_array();
  StreamStore store(ctx.env.data_dir / "streams.db", limits_);
  std::size_t total = store.append(ctx.identity.tenant_id, stream_id, records);
  boost::json::object data{{"stream_id", stream_id}, {"appended", records.size()}, {"total_records", total}};
  return HandlerResult{std::move(data), true};
}

}  // namespace streamer::process
