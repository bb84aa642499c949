// `echo`: returns its payload as `data`. Sync, no permission needed; inline (on the
// I/O thread: a copy of a payload already bounded by the message size limit) unless
// fault injection is on. With fault injection on, {"spin_ms": N} keeps the handler
// busy for N ms (checking its cancel token) so tests can exercise sync time limits,
// and echo runs on the sync pool.
#pragma once

#include "core/handler.hpp"

namespace streamer {

class EchoHandler final : public Handler {
 public:
  explicit EchoHandler(bool fault_injection);
  HandlerResult run(const boost::json::object& payload, JobContext& ctx) override;

 private:
  bool fault_injection_;
};

}  // namespace streamer
