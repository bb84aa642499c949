// Every handler the server offers, registered in one place (all_handlers.cpp).
#pragma once

#include "handlers/process/sql_source.hpp"
#include "handlers/process/stream_store.hpp"
#include "router/handler_registry.hpp"

namespace streamer {

// What the handlers take from the server's configuration.
struct HandlerOptions {
  bool enable_delay = false;     // --enable-delay turns the diagnostic `delay` on
  bool fault_injection = false;  // --enable-fault-injection: test-only payload fields
  process::QueryLimits query;    // bounds of process_data's `query` source
  process::StreamLimits stream;  // stream_append's bounds (the per-tenant quota)
};

// Adds every handler (and `delay` when enabled) to `registry`; throws
// std::invalid_argument if a name is already registered.
void register_all_handlers(HandlerRegistry& registry, const HandlerOptions& options);

}  // namespace streamer
