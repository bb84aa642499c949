// The registry of handlers, by action name. Filled once at start-up, then read-only
// (so lookups need no lock); actions that appear later come from its DynamicHandlers.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/handler.hpp"

namespace streamer {

// Handlers that appear while the server runs (the actions remote workers register),
// consulted after the built-in ones. Implementations are thread-safe and never remove
// or replace a handler once found, so a returned pointer stays valid.
class DynamicHandlers {
 public:
  virtual ~DynamicHandlers() = default;
  virtual Handler* find(std::string_view action) const = 0;
  virtual std::vector<std::string> names() const = 0;
};

class HandlerRegistry {
 public:
  // Adds a handler; throws std::invalid_argument if its name is taken or empty.
  void add(std::unique_ptr<Handler> handler);
  // nullptr when no handler has this action name.
  // Handlers run concurrently on several threads: run() must be thread-safe.
  Handler* find(std::string_view action) const;
  std::vector<std::string> names() const;
  // Built-in handlers only (find() without the dynamic ones).
  Handler* find_builtin(std::string_view action) const;
  // Consulted by find() (first: one of a built-in name takes it over) and names(); set
  // before the registry is shared.
  void set_dynamic(const DynamicHandlers* dynamic) { dynamic_ = dynamic; }

 private:
  const DynamicHandlers* dynamic_ = nullptr;
  std::map<std::string, std::unique_ptr<Handler>, std::less<>> handlers_;
};

}  // namespace streamer
