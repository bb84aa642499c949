// State shared by every connection of one gateway: options, limits, the service to
// hand frames to, and the registry of live WebSocket sessions (drain, heartbeats).
#pragma once

#include <atomic>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "auth/jwt_verifier.hpp"
#include "gateway/gateway_options.hpp"
#include "gateway/rate_limiters.hpp"
#include "gateway/session_registry.hpp"
#include "service/metrics.hpp"
#include "service/request_service.hpp"

namespace streamer {

// A plain HTTP answer from a hook: either an in-memory body or a file to stream.
struct HttpAnswer {
  unsigned status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::optional<std::filesystem::path> file;
  std::string content_disposition;
};

// Routes the gateway serves on behalf of other modules (artifacts, file uploads).
struct HttpHooks {
  // GET /artifacts/... (target includes the query string). `caller` is the verified
  // identity when the request carried a valid token (query or Bearer), else null.
  std::function<HttpAnswer(std::string_view target, const Identity* caller)> artifact;
  // PUT /files/{path}: called after the bearer token was verified and its `write`
  // permission checked; body size is already within --max-upload-bytes.
  std::function<HttpAnswer(const Identity& who, std::string_view path, std::string body)> upload;
};

struct GatewayContext {
  GatewayContext(const GatewayOptions& o, Metrics& m, const JwtVerifier& v)
      : options(o), metrics(m), verifier(v), connection_limiter(o.max_connections_per_minute) {}

  const GatewayOptions& options;
  Metrics& metrics;
  const JwtVerifier& verifier;
  RequestService* service = nullptr;
  HttpHooks hooks;
  ConnectionRateLimiter connection_limiter;
  SessionRegistry sessions;
  std::atomic<bool> accepting{false};
  std::atomic<bool> draining{false};
};

}  // namespace streamer
