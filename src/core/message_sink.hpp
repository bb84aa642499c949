// The vocabulary of outgoing messages shared by the gateway (which writes them) and the
// service and jobs (which produce them): what kind of message it is, and something
// that takes messages.
#pragma once

#include <string>
#include <string_view>

namespace streamer {

enum class MessageKind {
  kReply,     // an answer that ends a sync request (response or error)
  kQueued,    // `queued` (the request goes on)
  kProgress,  // may be coalesced or dropped in favour of a newer one
  kTerminal,  // an async request's `result` or `error`: never dropped
  kNotice,    // anything else (subscribe/cancel answers, connection errors)
};

// Something that can take outgoing messages: a client connection. `request_id` names
// the request the message belongs to ("" for none); a taker may use it to coalesce
// progress. deliver() is thread-safe and never blocks (implementations queue).
class MessageSink {
 public:
  virtual ~MessageSink() = default;
  virtual void deliver(std::string_view request_id, MessageKind kind, std::string message) = 0;
};

}  // namespace streamer
