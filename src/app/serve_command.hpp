// `streamer serve` (gateway + in-process workers) and `streamer worker` (workers
// only): wiring of every module, the janitor, signals and drain.
#pragma once

#include "app/server_config.hpp"

namespace streamer::app {

// Runs until SIGTERM/SIGINT, drains, returns the process exit code.
int run_serve(ServerConfig& config);
int run_worker(ServerConfig& config);

}  // namespace streamer::app
