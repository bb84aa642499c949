#include "handlers/all_handlers.hpp"

#include "handlers/builtin/delay_handler.hpp"
#include "handlers/builtin/echo_handler.hpp"
#include "handlers/builtin/health_handler.hpp"
#include "handlers/example/word_count_handler.hpp"
#include "handlers/process/process_data_handler.hpp"
#include "handlers/process/stream_append_handler.hpp"
#include "handlers/report/report_handler.hpp"

namespace streamer {

// One line per handler. The registry owns them; they live as long as the server.
void register_all_handlers(HandlerRegistry& registry, const HandlerOptions& options) {
  registry.add(std::make_unique<HealthHandler>());
  registry.add(std::make_unique<EchoHandler>(options.fault_injection));
  if (options.enable_delay) registry.add(std::make_unique<DelayHandler>(options.fault_injection));
  registry.add(std::make_unique<GenerateReportHandler>());
  registry.add(std::make_unique<process::ProcessDataHandler>(options.query));
  registry.add(std::make_unique<process::StreamAppendHandler>(options.stream));
  registry.add(std::make_unique<WordCountHandler>());
}

}  // namespace streamer
