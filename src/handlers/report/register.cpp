#include "handlers/report/register.hpp"

#include "handlers/report/report_handler.hpp"

namespace streamer {

void register_report_handlers(HandlerRegistry& registry) {
  registry.add(std::make_unique<GenerateReportHandler>());
}

}  // namespace streamer
