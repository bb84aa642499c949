// The service behind /{stage}/workers: one WorkerSession per remote worker connection,
// which parses its frames and hands them to the RemoteDispatcher.
#pragma once

#include <memory>

#include "core/service_interface.hpp"
#include "remote/remote_dispatcher.hpp"

namespace streamer::remote {

class WorkerService final : public ServiceInterface {
 public:
  explicit WorkerService(RemoteDispatcher& dispatcher) : dispatcher_(dispatcher) {}
  // A session for a connection the gateway admitted as a worker (permission `worker`,
  // claim `actions`).
  std::shared_ptr<ClientSession> open_session(Identity who,
                                              std::weak_ptr<MessageSink> sink) override;

 private:
  RemoteDispatcher& dispatcher_;
};

}  // namespace streamer::remote
