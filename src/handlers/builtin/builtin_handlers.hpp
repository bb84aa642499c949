// The built-in handlers: `health` and `echo` (sync) and the diagnostic `delay`
// (async whatever its duration).
#pragma once

#include "router/handler_registry.hpp"

namespace streamer {

struct BuiltinOptions {
  bool enable_delay = false;       // --enable-delay turns the diagnostic handler on
  bool fault_injection = false;    // --enable-fault-injection: test-only payload fields
};

void register_builtin_handlers(HandlerRegistry& registry, const BuiltinOptions& options);

}  // namespace streamer
