// `echo`: returns its payload as `data`. Sync, no permission needed; inline (on the
// I/O thread: a copy of a payload already bounded by the message size limit) unless
// fault injection is on. With fault injection on, {"spin_ms": N} keeps the handler
// busy for N ms (checking its cancel token) so tests can exercise sync time limits,
// and echo runs on the sync pool.
#pragma once

#include "core/handler.hpp"

namespace streamer {

struct EchoRequest {
  boost::json::object payload;  // answered as it came
  std::int64_t spin_ms = 0;     // busy work before answering (fault injection only)
};

class EchoHandler final : public TypedHandler<EchoRequest> {
 public:
  explicit EchoHandler(bool fault_injection);
  // Accepts any payload; spin_ms is read only with fault injection on, when a number.
  EchoRequest parse(const boost::json::object& payload) const override;
  HandlerResult run(const EchoRequest& request, JobContext& ctx) override;

 private:
  bool fault_injection_;
};

}  // namespace streamer
