#include "handlers/builtin/echo_handler.hpp"

namespace streamer {

EchoHandler::EchoHandler(bool fault_injection)
    : Handler(HandlerSpec{.name = "echo",
                          .estimated_duration = std::chrono::milliseconds(1),
                          .permission = "",
                          .time_limit = std::chrono::seconds(2),
                          .max_attempts = 1,
                          // spin_ms is busy work: with fault injection on, echo must
                          // not hold an I/O thread, so it takes the pool like any other.
                          .execution = fault_injection ? Execution::kPool : Execution::kInline}),
      fault_injection_(fault_injection) {}

HandlerResult EchoHandler::run(const boost::json::object& payload, JobContext& ctx) {
  if (fault_injection_) {
    if (auto it = payload.find("spin_ms"); it != payload.end() && it->value().is_number()) {
      // Busy work for tests of the sync time limit: it really uses the CPU until the
      // deadline or its token is cancelled.
      auto until = std::chrono::steady_clock::now() +
                   std::chrono::milliseconds(it->value().to_number<std::int64_t>());
      volatile std::uint64_t sink = 0;
      while (std::chrono::steady_clock::now() < until && !ctx.cancel.cancelled()) {
        for (int i = 0; i < 10000; ++i) sink = sink + static_cast<std::uint64_t>(i);
      }
    }
  }
  return {payload};
}

}  // namespace streamer
