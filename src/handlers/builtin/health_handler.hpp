// `health`: the seed's health check. Sync and inline (runs on the I/O thread: it
// only reads the clock), no permission needed.
#pragma once

#include "core/handler.hpp"

namespace streamer {

class HealthHandler final : public Handler {
 public:
  HealthHandler();
  // {"status":"healthy","timestamp":"<ISO-8601 Z>","version":"<build version>"}
  HandlerResult run(const boost::json::object& payload, JobContext& ctx) override;
};

}  // namespace streamer
