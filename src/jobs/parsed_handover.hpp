// The parsed requests of async jobs submitted in this process, kept from the moment
// their submission is stored until the job ends here, so that a worker of this
// process runs a job on the parse made when its request arrived instead of parsing
// its stored payload again (retries in this process reuse it too).
//
// A job that ends in another process (a `worker` sharing the store took it) leaves
// its entry behind: entries are bounded by `max_bytes`, counted as the size of each
// job's stored payload, and the oldest go first. A job without an entry (dropped, or
// after a restart) is parsed from its stored payload, which gives the same request.
#pragma once

#include <cstddef>
#include <list>
#include <mutex>
#include <string>
#include <unordered_map>

#include "core/handler.hpp"
#include "jobs/job_store.hpp"

namespace streamer {

class ParsedHandover {
 public:
  explicit ParsedHandover(std::size_t max_bytes) : max_bytes_(max_bytes) {}

  // Keeps `parsed` for `key` (replacing an older entry), then drops the oldest
  // entries while more than max_bytes are held. An entry larger than max_bytes is
  // not kept.
  void put(const JobKey& key, ParsedRequest parsed, std::size_t payload_bytes);
  // The entry for `key`, or an empty ParsedRequest; the entry stays.
  ParsedRequest find(const JobKey& key) const;
  // Forgets `key` (the job ended).
  void drop(const JobKey& key);

  std::size_t bytes() const;
  std::size_t size() const;

 private:
  struct Entry {
    std::string key;
    ParsedRequest parsed;
    std::size_t bytes = 0;
  };
  static std::string key_of(const JobKey& key);
  void erase_locked(std::list<Entry>::iterator it);

  const std::size_t max_bytes_;
  mutable std::mutex mutex_;
  std::list<Entry> order_;  // oldest first
  std::unordered_map<std::string, std::list<Entry>::iterator> index_;
  std::size_t bytes_ = 0;
};

}  // namespace streamer
