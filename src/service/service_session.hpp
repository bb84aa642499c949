// The service's side of one client connection: the identity it authenticated as, the
// connection's requests (concurrency slots, messages held until a request's `queued`
// is out, terminals already sent once) and the way out to the connection's sink.
// Frames come in on the connection's thread; messages for it come from any thread
// (sync pool, commit thread, workers, event hub), so the request state is guarded by
// a mutex, and a message is routed and handed to the sink under it: the sink sees
// messages in the order they were routed.
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <string_view>

#include "core/service_interface.hpp"
#include "service/request_tracker.hpp"

namespace streamer {

class RequestService;

class ServiceSession final : public ClientSession,
                             public MessageSink,
                             public std::enable_shared_from_this<ServiceSession> {
 public:
  ServiceSession(RequestService& service, Identity who, std::weak_ptr<MessageSink> sink,
                 int max_slots);

  // ClientSession
  const Identity& identity() const override { return who_; }
  void on_frame(std::string_view text) override;
  void on_close() override;

  // Takes one of the connection's concurrent-request slots for request `id`. A request
  // id that already holds a slot (an idempotent resend) takes none. Returns false when
  // all slots are taken. The slot is freed when the request's final answer (a reply
  // or a terminal message) is delivered.
  bool begin_request(std::string_view id);
  // Announces that the `queued` answer for `id` will follow: progress and terminal
  // messages of `id` delivered before it are held back and sent after it, so a client
  // always sees queued → progress → result. Call before subscribing to the job.
  void expect_queued(std::string_view id);
  // The client watches `id` again (a `subscribe`): a terminal of `id` sent before does
  // not stop the next one (a retried request's new outcome) from going out.
  void watch_again(std::string_view id);

  // MessageSink: a message for this connection. A duplicate terminal is dropped, a
  // message waiting for its request's `queued` is held, the rest go to the sink.
  // Nothing goes out once the connection is closed.
  void deliver(std::string_view request_id, MessageKind kind, std::string message) override;

 private:
  RequestTracker& requests();
  void send_routed(MessageSink& sink, std::string_view request_id, MessageKind kind,
                   std::string message);
  void drop_idle_requests();

  RequestService& service_;
  const Identity who_;
  const std::weak_ptr<MessageSink> sink_;
  const int max_slots_;
  std::atomic<bool> closed_{false};
  std::mutex mutex_;
  std::unique_ptr<RequestTracker> requests_;  // only while there is something to track
};

}  // namespace streamer
