// The EventBus of one process (`streamer serve` with its own workers): events go
// straight from the worker threads to this process's connections, numbered here.
#pragma once

#include "jobs/event_bus.hpp"
#include "jobs/sequenced_fanout.hpp"

namespace streamer {

class InProcessEventBus final : public EventBus {
 public:
  void subscribe(const JobKey& key, const std::shared_ptr<MessageSink>& sink,
                 std::uint64_t after_seq = 0) override {
    fanout_.subscribe(key, sink, after_seq);
  }
  void unsubscribe(const JobKey& key, const std::shared_ptr<MessageSink>& sink) override {
    fanout_.unsubscribe(key, sink);
  }
  void publish(const JobKey& key, MessageKind kind, const std::string& message) override {
    fanout_.publish(key, kind, message);
  }
  std::size_t topic_count() const { return fanout_.topic_count(); }

 private:
  SequencedFanout fanout_;
};

}  // namespace streamer
