#include "jobs/event_hub.hpp"

#include <algorithm>

namespace streamer {

std::string EventHub::topic(const JobKey& key) {
  // Length-prefixed so that no choice of ids can make two keys collide.
  return std::to_string(key.tenant_id.size()) + ':' + key.tenant_id +
         std::to_string(key.user_id.size()) + ':' + key.user_id + key.request_id;
}

void EventHub::subscribe(const JobKey& key, const std::shared_ptr<MessageSink>& sink) {
  std::lock_guard lock(mutex_);
  auto& subs = topics_[topic(key)];
  // Drop dead subscribers while we are here, and do not add the same sink twice.
  std::erase_if(subs, [](const auto& w) { return w.expired(); });
  for (const auto& w : subs) {
    if (w.lock() == sink) return;
  }
  subs.push_back(sink);
}

void EventHub::unsubscribe(const JobKey& key, const std::shared_ptr<MessageSink>& sink) {
  std::lock_guard lock(mutex_);
  auto it = topics_.find(topic(key));
  if (it == topics_.end()) return;
  std::erase_if(it->second, [&](const auto& w) { return w.expired() || w.lock() == sink; });
  if (it->second.empty()) topics_.erase(it);
}

void EventHub::publish(const JobKey& key, MessageKind kind, const std::string& message) {
  std::vector<std::shared_ptr<MessageSink>> live;
  {
    std::lock_guard lock(mutex_);
    auto it = topics_.find(topic(key));
    if (it == topics_.end()) return;
    for (const auto& w : it->second) {
      if (auto s = w.lock()) live.push_back(std::move(s));
    }
    if (kind == MessageKind::kTerminal || live.empty()) topics_.erase(it);
  }
  for (const auto& sink : live) sink->deliver(key.request_id, kind, message);
}

std::size_t EventHub::topic_count() const {
  std::lock_guard lock(mutex_);
  return topics_.size();
}

}  // namespace streamer
