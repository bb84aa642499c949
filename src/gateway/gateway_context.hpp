// State shared by every connection of one gateway: options, limits, the service to
// open client sessions with (an abstract ServiceInterface: the gateway knows nothing
// of handlers, jobs or storage), and the registry of live WebSocket sessions (drain,
// heartbeats).
#pragma once

#include <atomic>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "auth/jwt_verifier.hpp"
#include "core/service_interface.hpp"
#include "gateway/client_address.hpp"
#include "gateway/gateway_options.hpp"
#include "gateway/proxy_admission.hpp"
#include "gateway/rate_limiters.hpp"
#include "gateway/session_registry.hpp"
#include "gateway/upload_limiter.hpp"
#include "service/metrics.hpp"

namespace streamer {

// A plain HTTP answer from a hook: either an in-memory body or a file to stream.
struct HttpAnswer {
  unsigned status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::optional<std::filesystem::path> file;
  std::string content_disposition;
  std::vector<std::pair<std::string, std::string>> headers;  // extra fields, written as given

  // An application/json answer with `body`.
  static HttpAnswer json(unsigned status, std::string body) {
    HttpAnswer a;
    a.status = status;
    a.body = std::move(body);
    return a;
  }
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
  // GET /admin/jobs and /admin/jobs/{id}: called on the connection's strand with the
  // verified caller, the path and the raw query string. Must not block (the store work
  // runs elsewhere): it calls `done` once with the answer, from any thread.
  std::function<void(const Identity& who, const std::string& path, const std::string& query,
                     std::function<void(HttpAnswer)> done)>
      admin;
};

struct GatewayContext {
  GatewayContext(const GatewayOptions& o, Metrics& m, const JwtVerifier& v)
      : options(o),
        metrics(m),
        verifier(v),
        connection_limiter(o.max_connections_per_minute),
        trusted_proxies(TrustedProxies::parse(o.trusted_proxies)),
        upload_limiter(o.max_uploads_per_user, o.max_uploads_per_address) {
    if (o.proxy_protocol) expose_proxy_refusals(m, proxy_refusals);
  }

  const GatewayOptions& options;
  Metrics& metrics;
  const JwtVerifier& verifier;
  ServiceInterface* service = nullptr;  // set before listen(); outlives the gateway's sessions
  // Serves /{stage}/workers (remote workers, tokens with permission `worker` and claim
  // `actions`); null: no such endpoint. Set before listen().
  ServiceInterface* worker_service = nullptr;
  HttpHooks hooks;
  ConnectionRateLimiter connection_limiter;
  TrustedProxies trusted_proxies;
  // Counts connections across every gateway (Redis) when set; else connection_limiter.
  ConnectionAdmission* shared_connection_limiter = nullptr;
  UploadLimiter upload_limiter;
  // Connections closed at their PROXY protocol header (--proxy-protocol).
  std::shared_ptr<ProxyRefusalCounts> proxy_refusals = std::make_shared<ProxyRefusalCounts>();
  SessionRegistry sessions;
  std::atomic<bool> accepting{false};
  std::atomic<bool> draining{false};
};

}  // namespace streamer
