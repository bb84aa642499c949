// `delay`: the diagnostic async handler whose work is waiting. Payload
// {"duration_ms": N (0..600000), "steps": K (1..1000, default 1)}; waits N ms in K
// steps, reporting progress after each; returns {"slept_ms": N, "steps": K}.
// Async whatever N is; honours cancel. With fault injection on, {"fail_attempts": F}
// makes the first F attempts fail with a retryable error (tests of retries).
#pragma once

#include "core/handler.hpp"

namespace streamer {

class DelayHandler final : public Handler {
 public:
  explicit DelayHandler(bool fault_injection);
  void validate(const boost::json::object& payload) const override;
  HandlerResult run(const boost::json::object& payload, JobContext& ctx) override;

 private:
  bool fault_injection_;
};

}  // namespace streamer
