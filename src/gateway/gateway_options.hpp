// Settings of the WebSocket/HTTP gateway (from the config: flags, env, TOML).
#pragma once

#include <chrono>
#include <cstddef>
#include <string>
#include <vector>

namespace streamer {

struct GatewayOptions {
  std::string address = "127.0.0.1";
  unsigned short port = 8080;
  std::string stage = "production";  // WebSocket path is /{stage}
  std::string tls_cert_file;         // both set: serve wss:// and https://
  std::string tls_key_file;
  int io_threads = 2;
  std::vector<std::string> allowed_tenants;  // empty: every tenant; else others get 4403

  int max_connections_per_minute = 100;  // per client IP
  // Comma-separated addresses/networks whose X-Forwarded-For names the client address
  // the per-IP connection rate counts; empty: the TCP peer always.
  std::string trusted_proxies;
  // Trusted proxies must open each connection with a PROXY protocol header (v1 or v2)
  // naming the client; other peers are served as direct clients, and one that sends
  // such a header is closed.
  bool proxy_protocol = false;
  int max_messages_per_second = 100;  // per connection
  // The same, per remote worker connection (/{stage}/workers): a busy worker sends a
  // progress, heartbeat and outcome frame per job, so it gets its own, larger bound.
  int worker_max_messages_per_second = 10'000;
  int max_concurrent_requests = 10;         // per connection
  std::size_t max_message_bytes = 1 << 20;  // larger frames close with 1009
  std::size_t max_upload_bytes = 100u << 20;
  int max_uploads_per_user = 4;     // concurrent PUT /files per tenant+user (429)
  int max_uploads_per_address = 8;  // concurrent PUT /files per client IP (429)

  std::chrono::seconds header_timeout{30};  // an HTTP request's header must arrive within this
  std::chrono::seconds upload_idle_timeout{
      30};                                // a request body may pause this long, no total bound
  std::chrono::seconds send_timeout{30};  // output pending and none written for this: close
  std::chrono::seconds fragment_timeout{
      30};  // a fragmented message must complete within this (1008)

  std::chrono::seconds ping_interval{30};
  std::chrono::seconds idle_timeout{120};
  std::chrono::seconds max_connection_lifetime{2 * 3600};
  std::chrono::seconds drain_timeout{30};

  std::size_t outbound_max_messages = 1024;  // per-connection queue bound
  std::size_t outbound_max_bytes = 16u << 20;

  std::string metrics_token;  // non-empty: GET /metrics needs `Authorization: Bearer <it>`
};

}  // namespace streamer
