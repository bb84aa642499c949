// Registration of the process handlers: process_data (async) and stream_append (sync).
#pragma once

#include "handlers/process/stream_store.hpp"
#include "router/handler_registry.hpp"

namespace streamer {

// Adds ProcessDataHandler and StreamAppendHandler (with `stream_limits`); throws
// std::invalid_argument if either name is already registered.
void register_process_handlers(HandlerRegistry& registry,
                               const process::StreamLimits& stream_limits = {});

}  // namespace streamer
