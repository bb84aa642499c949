#include "handlers/builtin/builtin_handlers.hpp"

#include "handlers/builtin/delay_handler.hpp"
#include "handlers/builtin/echo_handler.hpp"
#include "handlers/builtin/health_handler.hpp"

namespace streamer {

void register_builtin_handlers(HandlerRegistry& registry, const BuiltinOptions& options) {
  registry.add(std::make_unique<HealthHandler>());
  registry.add(std::make_unique<EchoHandler>(options.fault_injection));
  if (options.enable_delay) registry.add(std::make_unique<DelayHandler>(options.fault_injection));
}

}  // namespace streamer
