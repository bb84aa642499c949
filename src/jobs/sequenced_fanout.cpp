#include "jobs/sequenced_fanout.hpp"

#include <algorithm>

namespace streamer {

std::string job_topic(const JobKey& key) {
  return std::to_string(key.tenant_id.size()) + ':' + key.tenant_id +
         std::to_string(key.user_id.size()) + ':' + key.user_id + key.request_id;
}

void SequencedFanout::subscribe(const JobKey& key, const std::shared_ptr<MessageSink>& sink,
                                std::uint64_t after_seq) {
  std::lock_guard lock(mutex_);
  auto [it, fresh] = topics_.try_emplace(job_topic(key));
  if (fresh) it->second.key = key;
  auto& gates = it->second.gates;
  std::erase_if(gates, [](const auto& g) { return g->sink.expired(); });
  for (const auto& g : gates) {
    if (g->sink.lock() == sink) {
      std::lock_guard gate_lock(g->mutex);
      g->last = std::max(g->last, after_seq);
      return;
    }
  }
  auto gate = std::make_shared<Gate>();
  gate->sink = sink;
  gate->last = after_seq;
  gates.push_back(std::move(gate));
}

void SequencedFanout::unsubscribe(const JobKey& key, const std::shared_ptr<MessageSink>& sink) {
  std::lock_guard lock(mutex_);
  auto it = topics_.find(job_topic(key));
  if (it == topics_.end()) return;
  std::erase_if(it->second.gates, [&](const auto& g) {
    auto s = g->sink.lock();
    return !s || s == sink;
  });
  if (it->second.gates.empty()) topics_.erase(it);
}

std::size_t SequencedFanout::deliver(const JobKey& key, MessageKind kind, std::uint64_t seq,
                                     const std::string& message) {
  std::unique_lock lock(mutex_);
  return deliver_locked(lock, job_topic(key), kind, seq, message, false);
}

std::size_t SequencedFanout::publish(const JobKey& key, MessageKind kind,
                                     const std::string& message) {
  std::unique_lock lock(mutex_);
  return deliver_locked(lock, job_topic(key), kind, 0, message, true);
}

std::size_t SequencedFanout::deliver_locked(std::unique_lock<std::mutex>& lock,
                                            const std::string& topic, MessageKind kind,
                                            std::uint64_t seq, const std::string& message,
                                            bool assign) {
  auto it = topics_.find(topic);
  if (it == topics_.end()) return 0;
  Topic& t = it->second;
  if (assign) seq = t.seq + 1;
  t.seq = std::max(t.seq, seq);
  std::string request_id = t.key.request_id;
  std::vector<std::pair<std::shared_ptr<Gate>, std::shared_ptr<MessageSink>>> live;
  for (const auto& g : t.gates) {
    if (auto s = g->sink.lock()) live.emplace_back(g, std::move(s));
  }
  if (kind == MessageKind::kTerminal || live.empty()) topics_.erase(it);
  lock.unlock();
  // Outside the table's lock (sinks only queue, but need not be fast); each gate's own
  // lock orders the events racing to one connection.
  std::size_t reached = 0;
  for (auto& [gate, sink] : live) {
    std::lock_guard gate_lock(gate->mutex);
    if (seq <= gate->last) continue;  // older than, or the same as, what it already has
    gate->last = seq;
    sink->deliver(request_id, kind, message);
    ++reached;
  }
  return reached;
}

std::vector<JobKey> SequencedFanout::keys() const {
  std::lock_guard lock(mutex_);
  std::vector<JobKey> out;
  out.reserve(topics_.size());
  for (const auto& [_, t] : topics_) out.push_back(t.key);
  return out;
}

bool SequencedFanout::has_subscribers(const JobKey& key) const {
  std::lock_guard lock(mutex_);
  return topics_.count(job_topic(key)) > 0;
}

std::size_t SequencedFanout::topic_count() const {
  std::lock_guard lock(mutex_);
  return topics_.size();
}

}  // namespace streamer
