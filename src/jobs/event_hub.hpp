// Routes a request's `progress`, `result` and `error` messages to every connection
// subscribed to it. In-process implementation; with Redis the same calls map to
// pub/sub channels so the event reaches whichever gateway holds the connection.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "core/message_sink.hpp"
#include "jobs/job_store.hpp"

namespace streamer {

class EventHub {
 public:
  // Adds sink as a subscriber of key (idempotent per sink).
  void subscribe(const JobKey& key, const std::shared_ptr<MessageSink>& sink);
  // Removes sink from key's subscribers (and the key once nobody is left). For
  // subscriptions taken before learning that the request had already finished: no
  // event will ever come to clear them.
  void unsubscribe(const JobKey& key, const std::shared_ptr<MessageSink>& sink);
  // Delivers message to the live subscribers of key. A terminal message also ends the
  // subscription list (nothing follows a terminal event).
  void publish(const JobKey& key, MessageKind kind, const std::string& message);
  // Number of keys with at least one subscriber (for metrics and tests).
  std::size_t topic_count() const;

 private:
  static std::string topic(const JobKey& key);
  mutable std::mutex mutex_;
  std::map<std::string, std::vector<std::weak_ptr<MessageSink>>, std::less<>> topics_;
};

}  // namespace streamer
