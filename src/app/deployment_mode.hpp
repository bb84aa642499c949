// Which process layouts can deliver every event to its client, checked before a process
// starts. A process that runs jobs for connections another process holds (`streamer
// worker`), or that holds connections whose jobs run elsewhere (`serve --workers 0`),
// needs an event bus shared between processes (Redis); without one its clients would
// wait forever, so it refuses to start and says why.
#pragma once

#include <string_view>

namespace streamer::app {

enum class ProcessRole { kServe, kWorker };

// Throws std::invalid_argument with a message for the operator when `role` with
// `workers` async worker threads cannot deliver events over the configured bus
// (`shared_event_bus`: Redis). Returns normally otherwise.
void check_event_delivery(ProcessRole role, int workers, bool shared_event_bus);

// Throws std::invalid_argument when processes share work (`shared_event_bus`) but the
// artifact signing key would be generated per data dir: a URL signed by the worker that
// made the file must verify on every gateway, so the key is required configuration.
void check_shared_artifacts(bool shared_event_bus, bool artifact_secret_given);

}  // namespace streamer::app
