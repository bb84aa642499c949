// Registration of the process handlers: process_data (async) and stream_append (sync).
#pragma once

#include "router/handler_registry.hpp"

namespace streamer {

// Adds ProcessDataHandler and StreamAppendHandler; throws std::invalid_argument if
// either name is already registered.
void register_process_handlers(HandlerRegistry& registry);

}  // namespace streamer
