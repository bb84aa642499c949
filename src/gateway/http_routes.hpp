// Plain HTTP on the gateway's port: /healthz, /readyz, /metrics, GET /artifacts/...
// (through GatewayContext hooks; PUT /files/... is streamed, see http_upload.hpp). Also the pieces
// of the upgrade request the WebSocket path needs: the token and the path.
#pragma once

#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "gateway/gateway_context.hpp"

namespace streamer {

using HttpRequest = boost::beast::http::request<boost::beast::http::string_body>;

// Splits a request target into its path (percent-decoded) and raw query.
struct Target {
  std::string path;
  std::string query;
};
std::optional<Target> split_target(std::string_view target);

// The JWT from the `Authorization` query parameter or an `Authorization: Bearer`
// header; empty when neither is present.
std::string extract_token(const HttpRequest& req, std::string_view query);

// Answers a non-upgrade request other than PUT /files/... (see http_upload.hpp) whose
// body (if any) has been read. Never throws.
HttpAnswer route_http(GatewayContext& ctx, const HttpRequest& req);

}  // namespace streamer
