// Structured logs: one JSON object per line on stderr. Messages passed to spdlog are
// JSON object bodies (`"event":"...",...`) so every line parses.
#pragma once

#include <string>

namespace streamer::app {

void setup_logging(const std::string& level);

}  // namespace streamer::app
