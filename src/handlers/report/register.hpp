// Registration of the report handlers.
#pragma once

#include "router/handler_registry.hpp"

namespace streamer {

// Adds generate_report to `registry`.
void register_report_handlers(HandlerRegistry& registry);

}  // namespace streamer
