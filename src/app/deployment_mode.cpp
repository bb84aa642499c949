#include "app/deployment_mode.hpp"

#include <stdexcept>

namespace streamer::app {

void check_event_delivery(ProcessRole role, int workers, bool shared_event_bus) {
  if (role == ProcessRole::kWorker && workers < 1) {
    throw std::invalid_argument("streamer worker: --workers must be at least 1");
  }
  if (shared_event_bus) return;
  if (role == ProcessRole::kWorker) {
    throw std::invalid_argument(
        "streamer worker needs --store redis://HOST:PORT (or --event-bus redis://…): without a "
        "shared event bus the progress and results of the jobs it runs cannot reach the clients "
        "connected to a gateway process");
  }
  if (workers == 0) {
    throw std::invalid_argument(
        "streamer serve --workers 0 (a gateway only) needs --store redis://HOST:PORT (or "
        "--event-bus redis://…) shared with `streamer worker` processes: without it no event of an "
        "async request could reach its client");
  }
}

void check_shared_artifacts(bool shared_event_bus, bool artifact_secret_given) {
  if (!shared_event_bus || artifact_secret_given) return;
  throw std::invalid_argument(
      "--artifact-secret is required with a Redis store or --event-bus: every gateway must verify "
      "the download "
      "URLs that any worker signs (give all processes the same secret, and a shared --data-dir "
      "or artifact directory)");
}

}  // namespace streamer::app
