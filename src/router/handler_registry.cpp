#include "router/handler_registry.hpp"

#include <stdexcept>

namespace streamer {

void HandlerRegistry::add(std::unique_ptr<Handler> handler) {
  if (!handler || handler->spec().name.empty())
    throw std::invalid_argument("handler without a name");
  auto name = handler->spec().name;
  if (!handlers_.emplace(name, std::move(handler)).second) {
    throw std::invalid_argument("handler registered twice: " + name);
  }
}

Handler* HandlerRegistry::find_builtin(std::string_view action) const {
  auto it = handlers_.find(action);
  return it == handlers_.end() ? nullptr : it->second.get();
}

Handler* HandlerRegistry::find(std::string_view action) const {
  // A dynamic handler of a built-in name exists only where taking it over was allowed.
  if (dynamic_) {
    if (Handler* h = dynamic_->find(action)) return h;
  }
  return find_builtin(action);
}

std::vector<std::string> HandlerRegistry::names() const {
  std::vector<std::string> out;
  for (const auto& [name, _] : handlers_) out.push_back(name);
  if (dynamic_) {
    for (auto& name : dynamic_->names()) {
      if (!handlers_.contains(name)) out.push_back(std::move(name));
    }
  }
  return out;
}

}  // namespace streamer
