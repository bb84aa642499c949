// The seam between a transport (the gateway) and what serves requests (the request
// service). The transport knows framing, byte and message limits, heartbeats and how
// to write a message; it opens one session per authenticated connection, hands it
// every text frame, and closes it. Everything about requests (parsing, slots,
// ordering, subscriptions) lives behind this interface.
#pragma once

#include <memory>
#include <string_view>

#include "core/handler.hpp"
#include "core/message_sink.hpp"

namespace streamer {

// One authenticated client connection as the service sees it. Called from the
// connection's own thread (strand), one call at a time; never blocks.
class ClientSession {
 public:
  virtual ~ClientSession() = default;
  // Who the connection authenticated as (fixed for the session's life).
  virtual const Identity& identity() const = 0;
  // One complete text message from the client. Answers go to the session's sink.
  virtual void on_frame(std::string_view text) = 0;
  // The connection is gone: nothing more is delivered to its sink. Idempotent.
  virtual void on_close() = 0;
};

class ServiceInterface {
 public:
  virtual ~ServiceInterface() = default;
  // Opens the session of a connection authenticated as `who`, whose outgoing messages
  // go to `sink`. The service keeps only a weak reference to the sink, so a sink that
  // holds its session forms no cycle.
  virtual std::shared_ptr<ClientSession> open_session(Identity who,
                                                      std::weak_ptr<MessageSink> sink) = 0;
};

}  // namespace streamer
