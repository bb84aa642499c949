#include "jobs/parsed_handover.hpp"

namespace streamer {

std::string ParsedHandover::key_of(const JobKey& key) {
  // The three parts cannot contain NUL (they come from JSON strings checked by the
  // protocol and token parsers), so the joined key is unambiguous.
  std::string out;
  out.reserve(key.tenant_id.size() + key.user_id.size() + key.request_id.size() + 2);
  out.append(key.tenant_id).push_back('\0');
  out.append(key.user_id).push_back('\0');
  out.append(key.request_id);
  return out;
}

void ParsedHandover::erase_locked(std::list<Entry>::iterator it) {
  bytes_ -= it->bytes;
  index_.erase(it->key);
  order_.erase(it);
}

void ParsedHandover::put(const JobKey& key, ParsedRequest parsed, std::size_t payload_bytes) {
  std::string k = key_of(key);
  std::lock_guard lock(mutex_);
  if (auto it = index_.find(k); it != index_.end()) erase_locked(it->second);
  if (!parsed || payload_bytes > max_bytes_) return;
  order_.push_back(Entry{k, std::move(parsed), payload_bytes});
  index_.emplace(std::move(k), std::prev(order_.end()));
  bytes_ += payload_bytes;
  while (bytes_ > max_bytes_) erase_locked(order_.begin());
}

ParsedRequest ParsedHandover::find(const JobKey& key) const {
  std::lock_guard lock(mutex_);
  auto it = index_.find(key_of(key));
  return it == index_.end() ? ParsedRequest{} : it->second->parsed;
}

void ParsedHandover::drop(const JobKey& key) {
  std::lock_guard lock(mutex_);
  if (auto it = index_.find(key_of(key)); it != index_.end()) erase_locked(it->second);
}

std::size_t ParsedHandover::bytes() const {
  std::lock_guard lock(mutex_);
  return bytes_;
}

std::size_t ParsedHandover::size() const {
  std::lock_guard lock(mutex_);
  return order_.size();
}

}  // namespace streamer
