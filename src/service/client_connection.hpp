// What the request service sees of one authenticated client connection. The gateway
// implements it; every method is thread-safe and never blocks.
#pragma once

#include <chrono>
#include <optional>
#include <string_view>

#include "core/handler.hpp"
#include "jobs/event_hub.hpp"

namespace streamer {

class ClientConnection : public MessageSink {
 public:
  virtual const Identity& identity() const = 0;

  // Takes one of the connection's concurrent-request slots for request `id`. A request
  // id that already holds a slot (an idempotent resend) takes none. Returns false when
  // all slots are taken. The slot is freed when the request's final answer (a reply
  // or a terminal message) is delivered.
  virtual bool begin_request(std::string_view id) = 0;
  // Frees the slot of `id` without an answer having been delivered (e.g. not accepted).
  virtual void end_request(std::string_view id) = 0;

  // Announces that the `queued` answer for `id` will follow: progress and terminal
  // messages of `id` delivered before it are held back and sent after it, so a client
  // always sees queued → progress → result. Call before subscribing to the job.
  virtual void expect_queued(std::string_view id) = 0;
};

}  // namespace streamer
