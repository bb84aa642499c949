// State shared by every connection of one gateway: options, limits, the service to
// hand frames to, and the registry of live WebSocket sessions (for drain).
#pragma once

#include <atomic>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>

#include "auth/jwt_verifier.hpp"
#include "gateway/gateway_options.hpp"
#include "gateway/rate_limiters.hpp"
#include "service/metrics.hpp"
#include "service/request_service.hpp"

namespace streamer {

// Something the gateway can close on drain (a live WebSocket session).
class Closable {
 public:
  virtual ~Closable() = default;
  virtual void close(unsigned short code, std::string reason) = 0;
};

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

class SessionRegistry {
 public:
  void add(const std::shared_ptr<Closable>& s) {
    std::lock_guard lock(mutex_);
    sessions_.insert(s);
  }
  void remove(const std::shared_ptr<Closable>& s) {
    std::lock_guard lock(mutex_);
    sessions_.erase(s);
  }
  std::size_t size() const {
    std::lock_guard lock(mutex_);
    return sessions_.size();
  }
  // Asks every live session to close with `code`.
  void close_all(unsigned short code, const std::string& reason) {
    std::set<std::shared_ptr<Closable>> copy;
    {
      std::lock_guard lock(mutex_);
      copy = sessions_;
    }
    for (const auto& s : copy) s->close(code, reason);
  }

 private:
  mutable std::mutex mutex_;
  std::set<std::shared_ptr<Closable>> sessions_;
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
