// The local half of every EventBus: which connections of this process are subscribed
// to which request, and the last sequence number each connection received for it.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "jobs/event_bus.hpp"

namespace streamer {

class SequencedFanout {
 public:
  // Adds sink to key's subscribers; it will receive events numbered above after_seq
  // only. Idempotent per sink (a second call may raise its floor, never lower it).
  void subscribe(const JobKey& key, const std::shared_ptr<MessageSink>& sink,
                 std::uint64_t after_seq);
  // Removes sink (and the key once nobody is left).
  void unsubscribe(const JobKey& key, const std::shared_ptr<MessageSink>& sink);

  // Delivers an event numbered `seq` by whoever published it (Redis) to the live
  // subscribers of key whose last received number is below seq. A terminal event also
  // ends key's subscriptions. Returns the number of sinks it reached.
  std::size_t deliver(const JobKey& key, MessageKind kind, std::uint64_t seq,
                      const std::string& message);
  // Numbers the event itself (one past the highest number this table has seen for key)
  // and delivers it: the in-process bus, where this table is the only publisher.
  std::size_t publish(const JobKey& key, MessageKind kind, const std::string& message);

  // The keys with at least one subscriber, e.g. to register them again after a
  // reconnect, or to re-read their state.
  std::vector<JobKey> keys() const;
  bool has_subscribers(const JobKey& key) const;
  std::size_t topic_count() const;

 private:
  // One connection's subscription to one request. Its mutex makes check-then-deliver
  // atomic, so two events racing to the same connection arrive in number order or the
  // older one not at all.
  struct Gate {
    std::mutex mutex;
    std::weak_ptr<MessageSink> sink;
    std::uint64_t last = 0;
  };
  struct Topic {
    JobKey key;
    std::uint64_t seq = 0;  // highest number seen
    std::vector<std::shared_ptr<Gate>> gates;
  };
  std::size_t deliver_locked(std::unique_lock<std::mutex>& lock, const std::string& topic,
                             MessageKind kind, std::uint64_t seq, const std::string& message,
                             bool assign);

  mutable std::mutex mutex_;
  std::map<std::string, Topic, std::less<>> topics_;
};

}  // namespace streamer
