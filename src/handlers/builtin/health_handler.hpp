// `health`: the seed's health check. Sync and inline (runs on the I/O thread: it
// only reads the clock), no permission needed; any payload is accepted and ignored.
#pragma once

#include "core/handler.hpp"

namespace streamer {

struct HealthRequest {};

class HealthHandler final : public TypedHandler<HealthRequest> {
 public:
  HealthHandler();
  HealthRequest parse(const boost::json::object& payload) const override;
  // {"status":"healthy","timestamp":"<ISO-8601 Z>","version":"<build version>"}
  HandlerResult run(const HealthRequest& request, JobContext& ctx) override;
};

}  // namespace streamer
