// Plain HTTP on the gateway's port: /healthz, /readyz, /metrics, GET /artifacts/...,
// the web console (GET /console/...)
// (through GatewayContext hooks; PUT /files/... is streamed, see http_upload.hpp).
// Also the piece of the upgrade request the WebSocket path needs: the path (the
// token: gateway/request_token.hpp).
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "gateway/gateway_context.hpp"
#include "gateway/request_token.hpp"

namespace streamer {

// Splits a request target into its path (percent-decoded) and raw query.
struct Target {
  std::string path;
  std::string query;
};
std::optional<Target> split_target(std::string_view target);

// Answers a non-upgrade request other than PUT /files/... (see http_upload.hpp) and
// the admin routes (http_admin.hpp) whose body (if any) has been read. Never throws.
HttpAnswer route_http(GatewayContext& ctx, const HttpRequest& req);

}  // namespace streamer
