// `delay`: the diagnostic async handler whose work is waiting. Payload
// {"duration_ms": N (0..600000), "steps": K (1..1000, default 1)}; waits N ms in K
// steps, reporting progress after each; returns {"slept_ms": N, "steps": K}.
// Async (declared, whatever N is), and a waiting handler: its waits hold no thread, so
// the pool runs as many at once as --max-waiting-jobs allows, whatever --workers is.
// A cancel, the time limit or a shutdown ends a wait at once. With fault injection on,
// {"fail_attempts": F} makes the first F attempts fail with a retryable error (tests
// of retries).
#pragma once

#include "core/waiting_handler.hpp"

namespace streamer {

struct DelayRequest {
  std::chrono::milliseconds duration{0};
  std::int64_t steps = 1;
  std::int64_t fail_attempts = 0;  // 0 unless fault injection is on
};

class DelayHandler final : public TypedWaitingHandler<DelayRequest> {
 public:
  explicit DelayHandler(bool fault_injection);
  DelayRequest parse(const boost::json::object& payload) const override;
  boost::asio::awaitable<HandlerResult> run(const DelayRequest& request, JobContext& ctx) override;

 private:
  bool fault_injection_;
};

}  // namespace streamer
