// The HTTP form of the admin API: GET /admin/jobs?... runs jobs.list and
// GET /admin/jobs/{request_id}?tenant_id=&user_id= runs jobs.get, through the same
// handlers as the WebSocket actions, for an already verified caller.
#pragma once

#include <string>
#include <string_view>

#include "core/handler.hpp"
#include "router/handler_registry.hpp"

namespace streamer::admin {

struct AdminHttpAnswer {
  unsigned status = 200;
  std::string body;  // JSON: the handler's data, or {"error":{code, message, details}}
};

// Query parameters become the payload's fields (`limit` a number, `state` repeated an
// array); a handler error maps to 400 (VALIDATION_ERROR), 403 (UNAUTHORIZED), 404
// (NOT_FOUND) or 500.
AdminHttpAnswer answer_admin_http(const HandlerRegistry& registry, const HandlerEnvironment& env,
                                  const Identity& caller, std::string_view path,
                                  std::string_view query);

}  // namespace streamer::admin
