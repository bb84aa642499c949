#include "handlers/process/register.hpp"

#include "handlers/process/process_data_handler.hpp"
#include "handlers/process/stream_append_handler.hpp"

namespace streamer {

void register_process_handlers(HandlerRegistry& registry, const ProcessHandlerOptions& options) {
  registry.add(std::make_unique<process::ProcessDataHandler>(options.query));
  registry.add(std::make_unique<process::StreamAppendHandler>());
}

}  // namespace streamer
