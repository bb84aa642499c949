// GET /admin/jobs and /admin/jobs/{id} on the gateway's port: the bearer token is
// verified on the connection's strand, then the hook (GatewayContext::hooks.admin)
// does the store work elsewhere and the connection waits for its answer without
// holding its I/O thread.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <optional>
#include <string>
#include <variant>

#include "gateway/gateway_context.hpp"
#include "gateway/request_token.hpp"

namespace streamer {

// An admin request whose caller was verified: what the hook is given.
struct AdminRequest {
  Identity who;
  std::string path;
  std::string query;
};

// nullopt when `req` is not a GET/HEAD of /admin/jobs[/...] or no admin hook is set;
// else the request for the hook, or the 401 answer when its token is missing or bad.
std::optional<std::variant<AdminRequest, HttpAnswer>> admin_route(GatewayContext& ctx,
                                                                  const HttpRequest& req);

// Hands `request` to ctx.hooks.admin and resumes, on the calling coroutine's executor
// (the connection's strand), once the hook has answered. Other connections of the same
// I/O thread are served meanwhile.
boost::asio::awaitable<HttpAnswer> await_admin_answer(GatewayContext& ctx, AdminRequest request);

}  // namespace streamer
