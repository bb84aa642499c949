// Where a request's `progress`, `result` and `error` messages go: to every connection
// subscribed to the request, wherever it is held. In one process (InProcessEventBus)
// that is a local table; with Redis (RedisEventBus) an event published by a worker
// process reaches the gateway that holds the connection through pub/sub.
//
// Every event of a request carries a sequence number that grows with each event of
// that request. A connection never receives an event whose number is not above the
// last one it received for that request, nor one at or below the number of the
// snapshot it subscribed after: no event arrives twice or out of order.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "jobs/event_hub.hpp"
#include "jobs/job_store.hpp"

namespace streamer {

class EventBus {
 public:
  virtual ~EventBus() = default;

  // Registers sink for the events of key numbered above after_seq (0: every later
  // event). Idempotent per sink. Never waits for a shared bus (it is called on a
  // connection's I/O thread): an event published afterwards, by any process sharing the
  // bus, reaches sink, either itself or, if it was published before the registration
  // took effect, as the state the store then has (the outcome, or the latest progress).
  virtual void subscribe(const JobKey& key, const std::shared_ptr<MessageSink>& sink,
                         std::uint64_t after_seq = 0) = 0;
  // subscribe() for a caller that reads and sends the request's snapshot itself right
  // after (an explicit `subscribe`): returns only once an event published afterwards
  // reaches sink, and delivers nothing older. May wait for a shared bus, so it is called
  // off the connection's I/O thread.
  virtual void subscribe_before_snapshot(const JobKey& key,
                                         const std::shared_ptr<MessageSink>& sink) {
    subscribe(key, sink);
  }
  // subscribe() for a request this process is about to submit: a bus whose store
  // registers the submitting process in the write that creates the job registers
  // nothing here. That covers a created job only: when the submit finds the request
  // already stored, the caller subscribes again with subscribe().
  virtual void subscribe_for_submit(const JobKey& key, const std::shared_ptr<MessageSink>& sink) {
    subscribe(key, sink);
  }
  // Removes sink from key's subscribers, for subscriptions that will see no event (the
  // request had finished already, or was never stored).
  virtual void unsubscribe(const JobKey& key, const std::shared_ptr<MessageSink>& sink) = 0;
  // Sends one event of key to all its subscribers, numbered after every earlier event of
  // key. A terminal event ends key's subscriptions: nothing follows it.
  virtual void publish(const JobKey& key, MessageKind kind, const std::string& message) = 0;
  // A progress event of the attempt that holds `fence` on job_id: sent like publish(),
  // except that a bus over a shared store sends it only while `fence` is still the
  // job's current fence (the store would accept that attempt's progress write), so a
  // stale attempt's progress never reaches a client. In one process a lease cannot be
  // taken over while its attempt runs, so the default publishes.
  virtual void publish_progress(const JobKey& key, std::string_view /*job_id*/,
                                std::int64_t /*fence*/, const std::string& message) {
    publish(key, MessageKind::kProgress, message);
  }
  // Stops a running request: a cancel recorded in the store is pushed to
  // the process that runs it, wherever that is. In one process the caller already
  // stopped it locally, so the default does nothing.
  virtual void push_cancel(const JobKey& /*key*/) {}
};

// The length-prefixed text of a key, unique per key (no choice of ids makes two keys
// collide); the topic name of in-process tables and the job part of Redis key names.
std::string job_topic(const JobKey& key);

}  // namespace streamer
