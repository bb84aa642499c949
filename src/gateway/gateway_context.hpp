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
#include "gateway/upload_limiter.hpp"
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

// A file being received for `PUT /files/{path}`: the body's bytes in order, then
// commit() once it is complete. Destroying it without commit() abandons the upload
// (nothing is stored). Used from one connection's strand only.
class UploadSink {
 public:
  virtual ~UploadSink() = default;
  // Appends bytes; false when they could not be stored (the upload is lost).
  virtual bool write(const char* data, std::size_t n) = 0;
  // Stores the file under its name and returns the answer (201, or 500). Once.
  virtual HttpAnswer commit() = 0;
};

// Either an upload ready for the body, or the answer refusing it (e.g. 400 bad path).
struct UploadOpening {
  std::unique_ptr<UploadSink> sink;
  HttpAnswer refusal;
};

// Routes the gateway serves on behalf of other modules (artifacts, file uploads).
struct HttpHooks {
  // GET /artifacts/... (target includes the query string). `caller` is the verified
  // identity when the request carried a valid token (query or Bearer), else null.
  std::function<HttpAnswer(std::string_view target, const Identity* caller)> artifact;
  // PUT /files/{path}: called once the request's header is in, after the bearer token
  // was verified, its `write` permission checked and an upload slot taken, before any
  // byte of the body is read. `path` is the part after "/files/", percent-decoded
  // once. The gateway then streams the body (at most --max-upload-bytes) into the sink.
  std::function<UploadOpening(const Identity& who, std::string_view path)> upload;
};

struct GatewayContext {
  GatewayContext(const GatewayOptions& o, Metrics& m, const JwtVerifier& v)
      : options(o),
        metrics(m),
        verifier(v),
        connection_limiter(o.max_connections_per_minute),
        upload_limiter(o.max_uploads_per_user, o.max_uploads_per_address) {}

  const GatewayOptions& options;
  Metrics& metrics;
  const JwtVerifier& verifier;
  RequestService* service = nullptr;
  HttpHooks hooks;
  ConnectionRateLimiter connection_limiter;
  UploadLimiter upload_limiter;
  SessionRegistry sessions;
  std::atomic<bool> accepting{false};
  std::atomic<bool> draining{false};
};

}  // namespace streamer
