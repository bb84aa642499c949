// Registration of the process handlers: process_data (async) and stream_append (sync).
#pragma once

#include "handlers/process/sql_source.hpp"
#include "router/handler_registry.hpp"

namespace streamer {

struct ProcessHandlerOptions {
  process::QueryLimits query;  // bounds of process_data's `query` source
};

// Adds ProcessDataHandler and StreamAppendHandler; throws std::invalid_argument if
// either name is already registered.
void register_process_handlers(HandlerRegistry& registry, const ProcessHandlerOptions& options = {});

}  // namespace streamer
