#include "handlers/builtin/echo_handler.hpp"

#include <algorithm>

namespace streamer {

EchoHandler::EchoHandler(bool fault_injection)
    : TypedHandler(
          HandlerSpec{.name = "echo",
                      .estimated_duration = std::chrono::milliseconds(1),
                      .permission = "",
                      .time_limit = std::chrono::seconds(2),
                      .max_attempts = 1,
                      // spin_ms is busy work: with fault injection on, echo must
                      // not hold an I/O thread, so it takes the pool like any other.
                      .execution = fault_injection ? Execution::kPool : Execution::kInline}),
      fault_injection_(fault_injection) {}

EchoRequest EchoHandler::parse(const boost::json::object& payload) const {
  EchoRequest request{payload};
  if (fault_injection_) {
    if (auto it = payload.find("spin_ms"); it != payload.end() && it->value().is_number()) {
      const double ms = it->value().to_number<double>();  // exact for every JSON number
      request.spin_ms = ms > 0 ? static_cast<std::int64_t>(std::min(ms, 3'600'000.0)) : 0;
    }
  }
  return request;
}

HandlerResult EchoHandler::run(const EchoRequest& request, JobContext& ctx) {
  if (request.spin_ms > 0) {
    // Busy work for tests of the sync time limit: it really uses the CPU until the
    // deadline or its token is cancelled.
    auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(request.spin_ms);
    volatile std::uint64_t sink = 0;
    while (std::chrono::steady_clock::now() < until && !ctx.cancel.cancelled()) {
      for (int i = 0; i < 10000; ++i) sink = sink + static_cast<std::uint64_t>(i);
    }
  }
  return {request.payload};
}

}  // namespace streamer
