#include "handlers/process/register.hpp"

#include "handlers/process/process_data_handler.hpp"
#include "handlers/process/stream_append_handler.hpp"

namespace streamer {

void register_process_handlers(HandlerRegistry& registry,
                               const process::StreamLimits& stream_limits) {
  registry.add(std::make_unique<process::ProcessDataHandler>());
  registry.add(std::make_unique<process::StreamAppendHandler>(stream_limits));
}

}  // namespace streamer
