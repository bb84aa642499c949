#include "router/handler_registry.hpp"

#include <stdexcept>

namespace streamer {

void HandlerRegistry::add(std::unique_ptr<Handler> handler) {
  if (!handler || handler->spec().name.empty()) throw std::invalid_argument("handler without a name");
  auto name = handler->spec().name;
  if (!handlers_.emplace(name, std::move(handler)).second) {
    throw std::invalid_argument("handler registered twice: " + name);
  }
}

Handler* HandlerRegistry::find(std::string_view action) const {
  auto it = handlers_.find(action);
  return it == handlers_.end() ? nullptr : it->second.get();
}

std::vector<std::string> HandlerRegistry::names() const {
  std::vector<std::string> out;
  for (const auto& [name, _] : handlers_) out.push_back(name);
  return out;
}

}  // namespace streamer
