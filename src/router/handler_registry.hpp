// The registry of handlers, by action name. Filled once at start-up, then read-only
// (so lookups need no lock).
#pragma once

#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/handler.hpp"

namespace streamer {

class HandlerRegistry {
 public:
  // Adds a handler; throws std::invalid_argument if its name is taken or empty.
  void add(std::unique_ptr<Handler> handler);
  // nullptr when no handler has this action name.
  // Handlers run concurrently on several threads: run() must be thread-safe.
  Handler* find(std::string_view action) const;
  std::vector<std::string> names() const;

 private:
  std::map<std::string, std::unique_ptr<Handler>, std::less<>> handlers_;
};

}  // namespace streamer
