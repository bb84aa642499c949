#include "service/service_session.hpp"

#include "service/request_service.hpp"

namespace streamer {

ServiceSession::ServiceSession(RequestService& service, Identity who,
                               std::weak_ptr<MessageSink> sink, int max_slots)
    : service_(service), who_(std::move(who)), sink_(std::move(sink)), max_slots_(max_slots) {}

void ServiceSession::on_frame(std::string_view text) {
  if (closed_.load()) return;
  service_.on_frame(shared_from_this(), text);
}

void ServiceSession::on_close() { closed_.store(true); }

RequestTracker& ServiceSession::requests() {
  if (!requests_) requests_ = std::make_unique<RequestTracker>();
  return *requests_;
}

// An idle connection keeps no tracker.
void ServiceSession::drop_idle_requests() {
  if (requests_ && requests_->empty()) requests_.reset();
}

bool ServiceSession::begin_request(std::string_view id) {
  std::lock_guard lock(mutex_);
  const bool ok = requests().begin(id, max_slots_);
  drop_idle_requests();
  return ok;
}

void ServiceSession::expect_queued(std::string_view id) {
  std::lock_guard lock(mutex_);
  requests().expect_queued(id);
}

void ServiceSession::watch_again(std::string_view id) {
  std::lock_guard lock(mutex_);
  if (requests_) requests_->watch_again(std::string(id));
  drop_idle_requests();
}

void ServiceSession::deliver(std::string_view request_id, MessageKind kind, std::string message) {
  if (closed_.load()) return;
  auto sink = sink_.lock();
  if (!sink) return;
  std::lock_guard lock(mutex_);
  send_routed(*sink, request_id, kind, std::move(message));
  drop_idle_requests();
}

// Under mutex_: sends `message` if the tracker says so, and after a `queued` what was
// held back for its request, in order.
void ServiceSession::send_routed(MessageSink& sink, std::string_view request_id, MessageKind kind,
                                 std::string message) {
  if (requests().route(request_id, kind, message) != RequestTracker::Route::kSend) return;
  sink.deliver(request_id, kind, std::move(message));
  if (kind != MessageKind::kQueued) return;
  for (auto& [k, m] : requests().take_held(request_id))
    send_routed(sink, request_id, k, std::move(m));
}

}  // namespace streamer
